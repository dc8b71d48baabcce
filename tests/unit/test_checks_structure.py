"""Structure checks: is_json, json_schema, pydantic."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pydantic
import pytest

from pytest_llmeval.assertions import assert_is_json, assert_json_schema, assert_pydantic
from pytest_llmeval.checks import CheckUsageError, check, structure

USER_SCHEMA: dict[str, Any] = {
    "title": "user",
    "type": "object",
    "required": ["user"],
    "properties": {
        "user": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "age": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}


class User(pydantic.BaseModel):
    name: str
    age: int
    emails: list[str] = []


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  42\n", 42),
        ('Sure! ```json\n{"a": [1, 2]}\n```\nHope it helps.', {"a": [1, 2]}),
        ('```\n"just a string"\n```', "just a string"),
        ('As noted in [1], the answer is {"a": {"b": null}} today.', {"a": {"b": None}}),
    ],
)
def test_is_json_finds_the_value(output: str, value: Any) -> None:
    assert assert_is_json(output) == value


def test_is_json_prefers_the_longest_value_over_citations() -> None:
    result = check("is_json", 'See [1] and [2]: {"answer": [1, 2, 3]}')
    assert result.value == {"answer": [1, 2, 3]}
    assert result.message == "is_json: found a JSON dict at chars 17-38"


def test_is_json_failure_says_where_parsing_stopped() -> None:
    result = check("is_json", 'Here:\n{"a": 1, "b": [1, 2}')
    assert not result.passed
    assert result.message == (
        "is_json: expected a JSON value in the output; the JSON value starting at line 2 column 1 "
        "(char 6) is cut off (its brackets never close); parsing stopped at line 2 column 20 "
        "(char 25): Expecting ',' delimiter: 'Here:\\n{\"a\": 1, \"b\": [1, 2}'"
    )


def test_is_json_strict_requires_the_whole_output() -> None:
    assert check("is_json", ' {"a": 1} ', strict=True).passed
    result = check("is_json", 'Sure: {"a": 1}', strict=True)
    assert not result.passed
    assert result.message.startswith("is_json: expected the whole output to be one JSON value;")
    trailing = check("is_json", '{"a": 1} and more', strict=True)
    assert "Extra data after the JSON value" in trailing.message


def test_is_json_rejects_nan_which_python_would_accept() -> None:
    result = check("is_json", '{"a": NaN}')
    assert not result.passed
    assert "NaN is not valid JSON" in result.message


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("", "got an empty output"),
        ("[" * 100_000, "nested too deeply"),
        ("{" * 100_000, "Expecting property name"),
        ("\x00\x01" * 500, "Expecting value"),
        ("no json here " * 8000, "Expecting value"),
    ],
    ids=["empty", "deep-brackets", "braces", "control", "100k-prose"],
)
def test_is_json_edge_outputs_fail_fast(output: str, reason: str) -> None:
    started = time.perf_counter()
    result = check("is_json", output)
    assert time.perf_counter() - started < 2.0
    assert not result.passed
    assert reason in result.message
    assert len(result.message) < 1200  # a 200-character excerpt, escaped


def test_json_schema_lists_every_violation_with_its_path() -> None:
    output = '{"user": {"age": "x", "tags": ["ok", 1]}}'
    result = check("json_schema", output, schema=USER_SCHEMA)
    assert not result.passed
    assert result.message == (
        "json_schema: expected JSON valid against schema 'user'; 3 violations: "
        "$.user: 'name' is a required property; $.user.age: 'x' is not of type 'integer'; "
        "$.user.tags[1]: 1 is not of type 'string'"
    )
    assert len(result.details["violations"]) == 3


def test_json_schema_returns_parsed_value_and_asserts_formats() -> None:
    good = 'Result: {"user": {"name": "Ann", "age": 31}}'
    assert assert_json_schema(good, USER_SCHEMA) == {"user": {"name": "Ann", "age": 31}}
    dated = {"type": "object", "properties": {"when": {"type": "string", "format": "date"}}}
    assert not check("json_schema", '{"when": "tomorrow"}', schema=dated).passed
    assert check("json_schema", '{"when": "2024-03-12"}', schema=dated).passed


def test_json_schema_honours_dollar_schema() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "integer",
        "maximum": 5,
        "exclusiveMaximum": True,
    }
    assert not check("json_schema", "5", schema=draft4).passed  # boolean exclusiveMaximum is draft 4
    assert check("json_schema", "4", schema=draft4).passed


def test_json_schema_quotes_non_identifier_keys_in_paths() -> None:
    schema = {"type": "object", "properties": {"first name": {"type": "string"}}}
    result = check("json_schema", '{"first name": 3}', schema=schema)
    assert "$['first name']: 3 is not of type 'string'" in result.message


def test_json_schema_not_json_output_fails_like_is_json() -> None:
    result = check("json_schema", "I cannot produce JSON.", schema=USER_SCHEMA)
    assert not result.passed
    assert result.message.startswith("json_schema: expected a JSON value in the output; parsing stopped")


def test_json_schema_from_files_json_and_yaml(tmp_path: Path) -> None:
    json_file = tmp_path / "user.schema.json"
    json_file.write_text(json.dumps(USER_SCHEMA), encoding="utf-8")
    yaml_file = tmp_path / "count.yaml"
    yaml_file.write_text("type: object\nrequired: [count]\n", encoding="utf-8")
    assert check("json_schema", '{"user": {"name": "A"}}', schema=str(json_file)).passed
    result = check("json_schema", "{}", schema=yaml_file)
    assert not result.passed
    assert f"schema {str(yaml_file)!r}" in result.message
    assert "$: 'count' is a required property" in result.message


def test_json_schema_file_edits_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"type": "integer"}', encoding="utf-8")
    assert check("json_schema", "3", schema=str(path)).passed
    path.write_text('{"type": "string", "description": "changed"}', encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not check("json_schema", "3", schema=str(path)).passed


def test_validator_is_compiled_once_per_schema() -> None:
    structure._validator_for_text.cache_clear()
    for _ in range(5):
        check("json_schema", '{"user": {"name": "A"}}', schema=dict(USER_SCHEMA))
    info = structure._validator_for_text.cache_info()
    assert (info.misses, info.hits) == (1, 4)


@pytest.mark.parametrize(
    ("schema", "error"),
    [
        ({"type": "nope"}, "schema (inline schema) is not a valid JSON Schema (Draft202012Validator): at $.type:"),
        ({"title": "t", "minimum": "five"}, "schema 't' is not a valid JSON Schema"),
        ({"$schema": "https://example.com/my-draft"}, "has an unknown $schema 'https://example.com/my-draft'"),
        ("missing/schema.json", "schema file 'missing/schema.json' not found"),
    ],
)
def test_invalid_schemas_are_usage_errors(schema: Any, error: str) -> None:
    with pytest.raises(CheckUsageError) as info:
        check("json_schema", "{}", schema=schema)
    assert error in str(info.value)


def test_unparsable_schema_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckUsageError, match=r"schema file '.*bad\.json' does not parse"):
        check("json_schema", "{}", schema=str(path))


def test_pydantic_returns_the_validated_instance() -> None:
    user = assert_pydantic('Here you go: {"name": "Ann", "age": "31"}', User)
    assert user == User(name="Ann", age=31)


def test_pydantic_lists_every_field_error_with_location() -> None:
    result = check("pydantic", '{"age": "old", "emails": ["a@b.c", 3]}', model=User)
    assert not result.passed
    assert result.message == (
        "pydantic: expected JSON valid against model User; 3 violations: $.name: Field required "
        "(got {'age': 'old', 'emails': ['a@b.c', 3]}); $.age: Input should be a valid integer, "
        "unable to parse string as an integer (got 'old'); $.emails[1]: Input should be a valid "
        "string (got 3)"
    )


def test_pydantic_model_by_import_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evalmodels.py").write_text(
        "import pydantic\nclass Point(pydantic.BaseModel):\n    x: int\n    y: int\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    point = assert_pydantic('{"x": 1, "y": 2}', "evalmodels:Point")
    assert (point.x, point.y) == (1, 2)  # type: ignore[attr-defined]
    sys.modules.pop("evalmodels", None)


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("no_such_module_xyz:Model", "cannot import module 'no_such_module_xyz' for model 'no_such_module_xyz:Model'"),
        ("json:Missing", "module 'json' has no attribute 'Missing'"),
        ("json:JSONDecoder", "'json:JSONDecoder' is not a pydantic BaseModel subclass"),
        ("User", "must be a class or 'package.module:ClassName'"),
    ],
)
def test_bad_pydantic_models_are_usage_errors(model: str, error: str) -> None:
    with pytest.raises(CheckUsageError) as info:
        check("pydantic", "{}", model=model)
    assert error in str(info.value)


def test_negated_structure_checks() -> None:
    assert check("not_is_json", "plain words").passed
    assert not check("not_json_schema", '{"user": {"name": "A"}}', schema=USER_SCHEMA).passed


# --- which JSON value wins, and fragments that must not (issue 15) -------------------------------


def test_a_cut_off_object_does_not_yield_its_inner_array() -> None:
    output = 'Here is the summary:\n{"title": "Q3 report", "tags": ["q3", "sales"], "summary": "Revenue grew by'
    result = check("is_json", output)
    assert not result.passed
    assert "the JSON value starting at line 2 column 1 (char 21) is cut off (its brackets never close)" in (
        result.message
    )
    assert not check("json_schema", output, schema={"type": "array"}).passed


@pytest.mark.parametrize(
    "output",
    [
        "{'name': 'Ada', 'tags': ['x', 'y'], 'admin': True}",
        '{"name": "Ada", "tags": ["x", "y"], "admin": True, "boss": None}',
        '{"name": "Ada", "address": {"city": "Paris"}, }',
    ],
    ids=["python-repr", "python-constants", "trailing-comma"],
)
def test_a_malformed_object_does_not_yield_its_inner_value(output: str) -> None:
    result = check("is_json", "Sure, here it is: " + output)
    assert not result.passed
    assert "is malformed; parsing stopped at" in result.message
    assert not check("pydantic", output, model=User).passed


def test_the_last_top_level_value_wins_over_a_longer_draft() -> None:
    draft = '{"name": "Ada Lovelace", "age": 36, "emails": ["ada@example.org", "a@b.c"], "note": "draft"}'
    output = f'Let me think. A first draft: {draft}\nFinal answer: {{"name": "Ada", "age": 36}}'
    assert assert_is_json(output) == {"name": "Ada", "age": 36}


def test_the_last_fenced_block_wins() -> None:
    output = 'Draft:\n```json\n{"v": 1}\n```\nCorrected:\n```json\n{"v": 2}\n```\nDone.'
    assert assert_is_json(output) == {"v": 2}
    python_then_json = '```python\nx = [1, 2]\n```\n```\n{"v": 3}\n```'
    assert assert_is_json(python_then_json) == {"v": 3}


def test_a_broken_last_fenced_block_fails_even_after_a_good_one() -> None:
    output = '```json\n{"v": 1}\n```\nFixed:\n```json\n{"v": 2,}\n```'
    result = check("is_json", output)
    assert not result.passed and "is malformed" in result.message and "starting at line 6 column 1" in result.message


def test_a_cut_off_last_value_fails_even_after_a_complete_draft() -> None:
    output = 'Draft: {"v": 1}\nFinal: {"v": 2, "items": ["a", "b'
    result = check("is_json", output)
    assert not result.passed and "is cut off" in result.message


def test_an_unclosed_fence_is_reported_as_cut() -> None:
    result = check("is_json", '```json\n{"a": 1, "b": [')
    assert not result.passed and "is cut off" in result.message


# --- formats and $ref (issue 15) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema_format", "bad", "good"),
    [
        ("date-time", "2024-13-45T99:00:00", "2024-03-12T10:00:00Z"),
        ("uri", "not a uri", "https://example.org/a?b=1"),
        ("time", "25:61:00", "10:00:00Z"),
        ("duration", "three days", "P3D"),
        ("hostname", "-bad-.example", "example.org"),
        ("json-pointer", "no/slash", "/a/b"),
    ],
)
def test_json_schema_formats_are_asserted(schema_format: str, bad: str, good: str) -> None:
    schema = {"type": "object", "properties": {"v": {"type": "string", "format": schema_format}}}
    result = check("json_schema", json.dumps({"v": bad}), schema=schema)
    assert not result.passed
    assert f"$.v: {bad!r} is not a {schema_format!r}" in result.message
    assert check("json_schema", json.dumps({"v": good}), schema=schema).passed


def test_a_missing_local_ref_is_a_usage_error_naming_it() -> None:
    with pytest.raises(
        CheckUsageError,
        match=r"has a \$ref '/\$defs/missing' that cannot be resolved: "
        r"nothing in the schema is at that JSON pointer",
    ):
        check("json_schema", "{}", schema={"$ref": "#/$defs/missing"})


def test_a_remote_ref_is_never_fetched(tmp_path: Path) -> None:
    path = tmp_path / "person.json"
    path.write_text(json.dumps({"properties": {"a": {"$ref": "https://example.org/address.json"}}}))
    with pytest.raises(
        CheckUsageError,
        match=r"\$ref 'https://example.org/address.json' that cannot be "
        r"resolved: it points to a URL, and the check never fetches",
    ):
        check("json_schema", '{"a": 1}', schema=str(path))


def test_relative_refs_resolve_against_the_schema_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    (folder / "address.json").write_text(
        json.dumps({"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}})
    )
    (folder / "person.yaml").write_text("type: object\nproperties:\n  home: {$ref: address.json}\n")
    monkeypatch.chdir(tmp_path)  # the working directory is not the schema's folder
    assert check("json_schema", '{"home": {"city": "Paris"}}', schema="schemas/person.yaml").passed
    result = check("json_schema", '{"home": {}}', schema="schemas/person.yaml")
    assert not result.passed and "$.home: 'city' is a required property" in result.message
    (folder / "person.yaml").write_text("properties:\n  home: {$ref: adress.json}\n")  # a typo
    with pytest.raises(
        CheckUsageError,
        match=r"\$ref 'adress.json' that cannot be resolved: "
        r"cannot read schema file .*adress.json",
    ):
        check("json_schema", "{}", schema="schemas/person.yaml")


def test_a_relative_ref_in_an_inline_schema_says_what_to_do() -> None:
    with pytest.raises(CheckUsageError, match="put the schema in a file"):
        check("json_schema", "{}", schema={"$ref": "address.json"})

"""Users' patterns on model output run under a time limit: a catastrophic pattern fails its check
with a message naming the pattern and the limit, never hangs; an invalid one is a usage error."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from jsonschema import Draft201909Validator, Draft202012Validator

from pytest_llmeval.checks import CheckUsageError, check, patterns
from pytest_llmeval.metrics.classification import UNMAPPED, map_label
from pytest_llmeval.metrics.ner import case_prediction, gold_spans

CATASTROPHIC = r"(a+)+$"
HOSTILE_OUTPUT = "a" * 5000 + "b"  # (a+)+$ backtracks 2**5000 ways before giving up under re
LIMIT = 0.05
DEFAULT_LIMIT = patterns.PATTERN_TIMEOUT_S  # read before any test shortens it


@pytest.fixture(autouse=True)
def short_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "PATTERN_TIMEOUT_S", LIMIT)


def _timed_out_message(name: str, pattern: str = CATASTROPHIC) -> str:
    return (
        f"{name}: pattern {pattern!r} did not finish within {LIMIT:g} s on an output of 5001 characters "
        "(catastrophic backtracking: rewrite nested quantifiers such as (a+)+ or (a|aa)+)"
    )


def test_the_default_limit_is_one_second() -> None:
    assert DEFAULT_LIMIT == 1.0


@pytest.mark.parametrize("mode", ["search", "fullmatch"])
def test_a_catastrophic_regex_fails_its_check_naming_pattern_and_limit(mode: str) -> None:
    started = time.process_time()
    result = check("regex", HOSTILE_OUTPUT, pattern=CATASTROPHIC, mode=mode)
    assert not result.passed
    assert result.message == _timed_out_message("regex")
    assert time.process_time() - started < 30 * LIMIT  # bounded, where re never returns


def test_the_negated_check_fails_too_undecided_is_not_no_match() -> None:
    result = check("not_regex", HOSTILE_OUTPUT, pattern=CATASTROPHIC)
    assert not result.passed
    assert result.message == f"not_regex: undecided: {_timed_out_message('regex')}"


def test_sound_patterns_match_as_before() -> None:
    assert check("regex", "Order #123 shipped", pattern=r"#(?P<id>\d+)").value == {"id": "123"}
    assert check("regex", "HELLO", pattern="hello", ignore_case=True).passed
    assert check("regex", "a\nb", pattern="^b$", multiline=True).passed
    assert check("regex", "a\nb", pattern="a.b", dotall=True).passed
    assert not check("regex", "a\nb", pattern="a.b").passed
    assert check("regex", "  yes  ", pattern="yes", mode="fullmatch").passed
    assert check("not_regex", "no digits", pattern=r"\d").passed
    # the same pattern on a short output is no problem
    assert check("regex", "aaab", pattern=CATASTROPHIC).passed is False


def test_an_invalid_pattern_stays_a_usage_error() -> None:
    with pytest.raises(CheckUsageError, match=r"check 'regex': invalid pattern '\(a\+': missing \)"):
        check("regex", "text", pattern="(a+")


def test_a_catastrophic_ner_pattern_fails_the_case_and_is_a_problem_in_the_group() -> None:
    pattern = r"(?P<text>(a+)+)\((?P<type>X)\)"
    source = "aaaa lives here"
    entities = [{"text": "aaaa", "type": "PER"}]
    result = check("ner", HOSTILE_OUTPUT, entities=entities, source=source, pattern=pattern)
    assert not result.passed and result.message == _timed_out_message("ner", pattern)
    assert check("not_ner", HOSTILE_OUTPUT, entities=entities, source=source, pattern=pattern).passed is False
    gold = gold_spans(entities, source).spans
    prediction = case_prediction("c1", HOSTILE_OUTPUT, gold, source, pattern=pattern)
    assert prediction["predicted"] == [] and prediction["problem"] == _timed_out_message("ner", pattern)[len("ner: ") :]


def test_a_catastrophic_classification_pattern_fails_classified_as() -> None:
    pattern = r"((?:a+)+)$"
    result = check("classified_as", HOSTILE_OUTPUT, label="a", labels=["a", "b"], pattern=pattern)
    assert not result.passed and result.message == _timed_out_message("classified_as", pattern)
    with pytest.raises(patterns.PatternTimeout, match=r"did not finish within 0.05 s"):
        map_label(HOSTILE_OUTPUT, ["a", "b"], pattern=pattern)
    assert map_label("label: b", ["a", "b"], pattern=r"label: (\w+)") == "b"
    assert map_label("nothing", ["a", "b"], pattern=r"label: (\w+)") == UNMAPPED


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"name": {"type": "string", "pattern": "^(a+)+$"}}},
        {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}},
        {"type": "object", "patternProperties": {"^(a+)+$": {}}, "additionalProperties": False},
    ],
    ids=["pattern", "patternProperties", "additionalProperties"],
)
def test_a_catastrophic_json_schema_pattern_fails_the_check(schema: dict[str, object]) -> None:
    output = json.dumps({"name": HOSTILE_OUTPUT} if "properties" in schema else {HOSTILE_OUTPUT: "x"})
    result = check("json_schema", output, schema=schema)
    assert not result.passed
    assert result.message.startswith("json_schema: pattern '^(a+)+$' did not finish within 0.05 s on an output")
    assert not check("not_json_schema", output, schema=schema).passed


@pytest.mark.parametrize(
    ("schema", "instance"),
    [
        ({"properties": {"id": {"pattern": "^[A-Z]{2}\\d+$"}}}, {"id": "ab12"}),
        ({"patternProperties": {"^x_": {"type": "integer"}}}, {"x_a": "no", "y": 1}),
        ({"patternProperties": {"^x_": {}}, "additionalProperties": False}, {"x_a": 1, "y": 1, "z": 2}),
        ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}),
        ({"additionalProperties": {"type": "string"}}, {"a": 1}),
        ({"patternProperties": {"^x_": {}}, "unevaluatedProperties": False}, {"x_a": 1, "y": 1, "z": 2}),
        ({"allOf": [{"patternProperties": {"^x_": {}}}], "unevaluatedProperties": False}, {"x_a": 1, "y": 1}),
        ({"patternProperties": {"^x_": {}}, "unevaluatedProperties": {"type": "string"}}, {"x_a": 1, "y": 1}),
    ],
)
def test_bounded_schema_keywords_say_what_jsonschema_says(schema: dict[str, object], instance: object) -> None:
    expected = sorted(e.message for e in Draft202012Validator(schema).iter_errors(instance))
    result = check("json_schema", json.dumps(instance), schema=schema)
    assert not result.passed and expected
    for message in expected:
        assert message in result.message


def test_an_invalid_schema_pattern_is_a_usage_error() -> None:
    with pytest.raises(CheckUsageError, match="not a valid JSON Schema"):
        check("json_schema", '{"a": "x"}', schema={"properties": {"a": {"pattern": "(a+"}}})


# jsonschema runs a schema's keywords in the schema's own order, and finds which properties
# ``patternProperties`` evaluated (for ``unevaluatedProperties``) with its own ``re``: with
# unevaluatedProperties first in a schema file, its match ran before any bounded keyword, unbounded.
DRAFTS = {
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
}


@pytest.mark.parametrize("draft", DRAFTS)
@pytest.mark.parametrize("where", ["top level", "in allOf"])
def test_a_catastrophic_pattern_under_unevaluated_properties_fails_the_check(
    tmp_path: Path, draft: str, where: str
) -> None:
    evaluating: dict[str, object] = {"patternProperties": {"^(a+)+$": {}}}
    schema: dict[str, object] = {"$schema": DRAFTS[draft], "unevaluatedProperties": False, "type": "object"}
    schema.update(evaluating if where == "top level" else {"allOf": [evaluating]})
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")  # key order kept: unevaluatedProperties first
    output = json.dumps({HOSTILE_OUTPUT: 1})
    started = time.process_time()
    result = check("json_schema", output, schema=str(path))
    assert not result.passed
    assert result.message == _timed_out_message("json_schema", "^(a+)+$")
    assert time.process_time() - started < 30 * LIMIT  # bounded, where re never returns
    assert not check("not_json_schema", output, schema=str(path)).passed


@pytest.mark.parametrize("draft", DRAFTS)
def test_sound_patterns_under_unevaluated_properties_validate_as_jsonschema_does(tmp_path: Path, draft: str) -> None:
    schema = {
        "$schema": DRAFTS[draft],
        "unevaluatedProperties": False,
        "allOf": [{"patternProperties": {"^x_\\d+$": {"type": "integer"}}}],
        "properties": {"name": {"type": "string"}},
    }
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    assert check("json_schema", json.dumps({"name": "a", "x_1": 1, "x_22": 2}), schema=str(path)).passed
    result = check("json_schema", json.dumps({"name": "a", "x_1": 1, "x_b": 2, "y": 3}), schema=str(path))
    assert not result.passed
    assert "Unevaluated properties are not allowed ('x_b', 'y' were unexpected)" in result.message
    jsonschema_class = Draft202012Validator if draft == "2020-12" else Draft201909Validator
    assert [e.message for e in jsonschema_class(schema).iter_errors({"name": "a", "x_1": 1, "x_b": 2, "y": 3})] == [
        "Unevaluated properties are not allowed ('x_b', 'y' were unexpected)"
    ]  # jsonschema itself, outside the check, still uses re and says the same


@pytest.mark.parametrize("validator_class", [Draft202012Validator, Draft201909Validator], ids=["2020-12", "2019-09"])
def test_the_unevaluated_properties_keyword_of_this_jsonschema_is_routed(validator_class: type) -> None:
    """Fails (rather than a test hanging) if a jsonschema release moves its pattern matching."""
    keyword = validator_class.VALIDATORS["unevaluatedProperties"]  # type: ignore[attr-defined]
    assert patterns.unevaluated_patterns_bounded(keyword)
    assert patterns.with_bounded_patterns(validator_class).VALIDATORS["unevaluatedProperties"] is not keyword

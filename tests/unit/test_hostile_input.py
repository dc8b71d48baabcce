"""Careless and hostile values in case files, check arguments and read files: each one fails only its
own case (or file) with a message naming the line; none raises, hangs or eats memory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import GenerationParams
from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.checks import CheckUsageError, check
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.input_limits import (
    MAX_DEPTH,
    InputLimitError,
    bounded_repr,
    join_surrogate_pairs,
    load_yaml,
    read_text_file,
)


def parse(tmp_path: Path, text: str, name: str = "a.eval.yaml") -> tuple[list[str], list[str]]:
    """(ids of the valid cases, error messages) of a case file with ``text``."""
    file = tmp_path / name
    file.write_bytes(text.encode("utf-8", "surrogatepass"))
    parsed = parse_case_file(file, display_path=name)
    return [case.id for case in parsed.cases], [str(error) for error in parsed.errors]


GOOD = "  - id: good\n    prompt: fine\n"


@pytest.mark.parametrize(
    ("cases", "message"),
    [
        ("5", "a.eval.yaml:1: `cases:` must be a list of cases, got int"),
        ("true", "a.eval.yaml:1: `cases:` must be a list of cases, got bool"),
        ("1.5", "a.eval.yaml:1: `cases:` must be a list of cases, got float"),
        ("2024-01-01", "a.eval.yaml:1: `cases:` must be a list of cases, got date"),
        ("{a: 1}", "a.eval.yaml:1: `cases:` must be a list of cases, got _LineDict"),
    ],
)
def test_cases_that_are_not_a_list_are_one_file_error(tmp_path: Path, cases: str, message: str) -> None:
    assert parse(tmp_path, f"cases: {cases}\n") == ([], [message])


def test_a_400_digit_temperature_fails_its_case_with_the_range(tmp_path: Path) -> None:
    ids, errors = parse(
        tmp_path, "cases:\n" + GOOD + "  - id: hot\n    prompt: hi\n    temperature: " + "9" * 400 + "\n"
    )
    assert ids == ["good"]
    assert errors == [
        (
            "a.eval.yaml:6: case 'hot': generation parameter 'temperature': Value error, the number is too large; "
            "allowed: > 0 and <= 1,000 (got <an integer of about 400 digits>)"
        )
    ]


def test_a_seed_beyond_64_bits_fails_its_case_with_the_range(tmp_path: Path) -> None:
    ids, errors = parse(
        tmp_path, "cases:\n  - id: s\n    prompt: hi\n    do_sample: true\n    seed: 100000000000000000000000\n"
    )
    assert ids == []
    assert errors == [
        (
            "a.eval.yaml:5: case 's': generation parameter 'seed': Input should be less than or equal to "
            "9223372036854775807; allowed: >= 0 and <= 9,223,372,036,854,775,807 (got 100000000000000000000000)"
        )
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"seed": -1}, "generation parameter 'seed': Input should be greater than or equal to 0; allowed: >= 0"),
        ({"temperature": float("nan")}, "generation parameter 'temperature': Input should be a finite number"),
        ({"top_p": float("inf")}, "generation parameter 'top_p': Input should be a finite number"),
        ({"max_new_tokens": 10**30}, "allowed: >= 1 and <= 10,000,000"),
        (
            {"num_beams": 5000},
            "generation parameter 'num_beams': Input should be less than or equal to 64; allowed: >= 1 and <= 64",
        ),
    ],
)
def test_every_generation_number_has_a_range(params: dict[str, object], message: str) -> None:
    with pytest.raises(GenerationParameterError) as info:
        GenerationParams.from_mapping(params)
    assert message in str(info.value)


def test_json_style_surrogate_pairs_are_joined(tmp_path: Path) -> None:
    # json.dumps writes an emoji as "\ud83d\ude00"; that is valid YAML, and PyYAML keeps two halves
    (tmp_path / "a.eval.yaml").write_text(
        "cases:\n  - id: smile\n    prompt: "
        + json.dumps("smile \U0001f600")
        + "\n    expect: {contains: "
        + json.dumps("\U0001f600")
        + "}\n",
        encoding="utf-8",
    )
    parsed = parse_case_file(tmp_path / "a.eval.yaml")
    assert parsed.errors == []
    assert parsed.cases[0].request.prompt == "smile \U0001f600"
    assert parsed.cases[0].expect[0].args["substring"] == "\U0001f600"


def test_a_lone_surrogate_fails_its_case_with_the_line(tmp_path: Path) -> None:
    ids, errors = parse(tmp_path, "cases:\n" + GOOD + '  - id: half\n    prompt: "broken \\ud800 text"\n')
    assert ids == ["good"]
    assert errors == [
        (
            "a.eval.yaml:5: case 'half': prompt: '\\ud800' at character 7 is half of a UTF-16 surrogate pair with "
            "no other half (a JSON-style escape such as \\ud83d needs its pair, \\ud83d\\ude00; or write the character "
            "itself)"
        )
    ]


def test_a_lone_surrogate_in_an_id_or_jsonl_fails_its_case(tmp_path: Path) -> None:
    ids, errors = parse(tmp_path, 'cases:\n  - id: "x\\udfff"\n    prompt: hi\n')
    assert ids == [] and errors[0].startswith("a.eval.yaml:2: id: '\\udfff' at character 1 is half")
    jsonl = '{"prompt": "ok"}\n{"prompt": "bad \\ud83d"}\n{"prompt": "joined \\ud83d\\ude00"}\n'
    ids, errors = parse(tmp_path, jsonl, "b.eval.jsonl")
    assert len(ids) == 2
    assert errors[0].startswith("b.eval.jsonl:2: prompt: '\\ud83d' at character 4 is half")


def test_a_lone_surrogate_in_defaults_is_a_file_error(tmp_path: Path) -> None:
    ids, errors = parse(tmp_path, 'defaults:\n  system: "\\ud800"\ncases:\n' + GOOD)
    assert (ids, errors) == (
        [],
        ["a.eval.yaml:2: defaults.system: a lone UTF-16 surrogate '\\ud800' (half of a JSON-style escape pair)"],
    )


def test_control_characters_in_ids_are_refused(tmp_path: Path) -> None:
    # A NUL in an id crashed pytest setting PYTEST_CURRENT_TEST ("embedded null byte")
    ids, errors = parse(tmp_path, 'cases:\n  - id: "a\\0b"\n    prompt: hi\n  - id: "c\\x1bd"\n    prompt: hi\n')
    assert ids == []
    # ...and an error names the case by its id only when the id could name a test
    assert errors == [
        "a.eval.yaml:2: id 'a\\x00b' may not contain spaces, brackets, colons or control characters",
        "a.eval.yaml:4: id 'c\\x1bd' may not contain spaces, brackets, colons or control characters",
    ]


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_nan_and_infinite_tolerances_are_refused(tmp_path: Path, value: str) -> None:
    # A NaN tolerance silently disabled the gate for its metric (a drop from 1 to 0.333 passed)
    ids, errors = parse(tmp_path, f"cases:\n  - id: t\n    prompt: hi\n    tolerance: {{rouge_l: {value}}}\n")
    assert ids == []
    assert errors[0].startswith("a.eval.yaml:4: case 't': tolerance.rouge_l: Input should be a finite number (got ")


@pytest.mark.parametrize(
    "field", ["pass_rate: .nan", "defaults: {tolerance: {bleu: .inf}}", "tag_pass_rates: {t: .nan}"]
)
def test_nan_in_file_level_numbers_is_refused(tmp_path: Path, field: str) -> None:
    ids, errors = parse(tmp_path, f"{field}\ncases:\n" + GOOD)
    assert ids == [] and "Input should be a finite number" in errors[0]


def test_nan_in_a_check_threshold_is_refused(tmp_path: Path) -> None:
    ids, errors = parse(
        tmp_path, "cases:\n  - id: r\n    prompt: hi\n    reference: hi\n    expect: {rouge_l: {min: .nan}}\n"
    )
    assert ids == [] and "argument 'min': Input should be a finite number (got nan)" in errors[0]


def test_tag_pass_rates_must_be_rates(tmp_path: Path) -> None:
    _, errors = parse(tmp_path, "tag_pass_rates: {t: 5}\ncases:\n" + GOOD)
    assert errors == ["a.eval.yaml:1: tag_pass_rates.t: Input should be less than or equal to 1 (got 5)"]


@pytest.mark.parametrize("tag", ["skip", "xfail", "skipif", "parametrize", "usefixtures", "filterwarnings"])
def test_pytest_marker_names_are_reserved_tags(tmp_path: Path, tag: str) -> None:
    # `tags: [xfail]` became pytest's xfail marker: a failing case exited 0 under --llm-gate=strict
    ids, errors = parse(tmp_path, "cases:\n" + GOOD + f"  - id: t\n    prompt: hi\n    tags: [ok, {tag}]\n")
    assert ids == ["good"]
    assert errors[0].startswith(f"a.eval.yaml:6: case 't': tag {tag!r} is reserved: it is a pytest marker")
    ids, errors = parse(tmp_path, f"defaults: {{tags: [{tag}]}}\ncases:\n" + GOOD)
    assert ids == [] and f"tag {tag!r} is reserved" in errors[0]


def test_jsonl_duplicate_keys_nan_and_huge_integers_fail_their_line(tmp_path: Path) -> None:
    lines = [
        '{"id": "ok", "prompt": "hi"}',
        '{"id": "dup", "prompt": "a", "prompt": "b"}',
        '{"id": "nan", "prompt": "a", "tolerance": {"rouge_l": NaN}}',
        '{"id": "inf", "prompt": "a", "temperature": Infinity}',
        '{"id": "big", "prompt": "a", "max_new_tokens": ' + "9" * 4400 + "}",
        '{"id": "deep", "prompt": "a", "vars": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"id": "nested", "prompt": "a", "vars": {"x": ' + "[" * 200 + "]" * 200 + "}}",
    ]
    ids, errors = parse(tmp_path, "\n".join(lines) + "\n", "b.eval.jsonl")
    assert ids == ["ok"]
    assert errors == [
        "b.eval.jsonl:2: not valid JSON: duplicate key 'prompt'",
        "b.eval.jsonl:3: not valid JSON: NaN is not a number (NaN and infinities are refused)",
        "b.eval.jsonl:4: not valid JSON: Infinity is not a number (NaN and infinities are refused)",
        "b.eval.jsonl:5: not valid JSON: an integer of more than 4,300 digits",
        "b.eval.jsonl:6: not read: it nests too deeply",
        f"b.eval.jsonl:7: not read: it nests deeper than {MAX_DEPTH} levels",
    ]


def test_deep_yaml_nesting_is_a_file_error(tmp_path: Path) -> None:
    for depth in (200, 5000):
        ids, errors = parse(
            tmp_path, "cases:\n  - prompt: hi\n    expect: {contains: " + "[" * depth + "]" * depth + "}\n"
        )
        assert (ids, errors) == ([], [f"a.eval.yaml: not read: it nests deeper than {MAX_DEPTH} levels"])


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path, yaml_alias_bomb: str) -> None:
    # 306 bytes ran 240 s to 3.1 GB: repr() of the whole input, and pydantic walking every path
    start = time.perf_counter()
    ids, errors = parse(tmp_path, yaml_alias_bomb)
    assert time.perf_counter() - start < 5  # generous: it takes milliseconds; the bug took minutes
    assert (ids, errors) == (
        [],
        ["a.eval.yaml: not read: it expands to more than 2,000,000 values (a YAML alias counts once per use)"],
    )


def test_merge_key_bombs_and_recursive_aliases_are_refused() -> None:
    merges = "a: &a {k0: 0, k1: 1}\n" + "".join(
        f"l{i}: &l{i} {{<<: [{', '.join([f'*{prev}'] * 9)}]}}\n"
        for i, prev in enumerate(["a"] + [f"l{j}" for j in range(8)])
    )
    with pytest.raises(InputLimitError, match="expands to more than"):
        load_yaml(merges)
    with pytest.raises(InputLimitError, match="contains itself"):
        load_yaml("a: &a [*a]\n")


def test_load_yaml_joins_pairs_and_keeps_ordinary_documents() -> None:
    assert load_yaml('x: "\\ud83d\\ude00"\ny: [1, 2]\n') == {"x": "\U0001f600", "y": [1, 2]}
    assert join_surrogate_pairs("a\ud83d\ude00 \ud800") == "a\U0001f600 \ud800"
    assert load_yaml("") is None


def test_a_huge_argument_list_makes_a_short_message() -> None:
    # a 50,000-item contains_any made a 498 KB message
    result = check("contains_any", "hello", substrings=[f"needle{i}" for i in range(50_000)])
    assert not result.passed and len(result.message) < 500
    assert "(50,000 items)" in result.message
    result = check("one_of", "hello", labels=[f"label{i}" for i in range(50_000)])
    assert len(result.message) < 600 and "(50,000 items)" in result.message


def test_bounded_repr_never_formats_the_whole_value() -> None:
    shared: list[object] = ["x"] * 10
    for _ in range(30):  # 10**30 leaves when expanded; repr() would never return
        shared = [shared] * 10
    assert len(bounded_repr(shared)) < 120
    assert bounded_repr(10**5000) == "<an integer of about 5000 digits>"
    assert bounded_repr(float("nan")) == "nan"
    assert bounded_repr("y" * 10_000, 40).endswith("... (10,000 chars)")


def test_a_bad_argument_message_stays_short() -> None:
    with pytest.raises(CheckUsageError) as info:
        check("contains_any", "x", substrings=[["nested"] * 1000] * 1000)
    assert len(str(info.value)) < 600 and str(info.value).endswith("and 997 more")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_devices_and_folders_are_not_read(tmp_path: Path) -> None:
    with pytest.raises(InputLimitError, match="'/dev/zero' is not a regular file"):
        read_text_file("/dev/zero", what="schema file")
    with pytest.raises(InputLimitError, match="is a folder"):
        read_text_file(tmp_path, what="schema file")
    big = tmp_path / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(2000)
    with pytest.raises(InputLimitError, match="is larger than 0 MiB"):
        read_text_file(big, what="lexicon", limit=1000)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_json_schema_and_lexicon_at_a_device_fail_with_a_message() -> None:
    # `json_schema: /dev/zero` and a lexicon at /dev/urandom read until memory ran out
    with pytest.raises(CheckUsageError, match="cannot read schema file '/dev/zero': .* not a regular file"):
        check("json_schema", "{}", schema="/dev/zero")
    with pytest.raises(CheckUsageError, match="cannot read bias lexicon '/dev/urandom': .* not a regular file"):
        check("no_bias_terms", "text", lexicon=["/dev/urandom"])


def test_a_case_file_that_is_a_fifo_is_one_error(tmp_path: Path) -> None:
    fifo = tmp_path / "p.eval.yaml"
    os.mkfifo(fifo)
    parsed = parse_case_file(fifo, display_path="p.eval.yaml")
    assert [str(e) for e in parsed.errors] == [
        (
            f"p.eval.yaml: cannot read the file: case file {str(fifo)!r} is not a regular file (a device, pipe or "
            "socket); give a file"
        )
    ]

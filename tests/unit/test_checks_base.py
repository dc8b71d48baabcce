"""The check registry, argument validation, negation, output coercion and the assert_ helpers."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

import pytest_llmeval.assertions as assertions
from pytest_llmeval.checks import (
    CheckFailed,
    CheckResult,
    CheckUsageError,
    check,
    check_names,
    get_check,
    recording_checks,
)
from pytest_llmeval.checks.base import _REGISTRY, register_check, truncate

FAMILIES = {"content", "structure", "safety", "quality"}


@pytest.fixture
def scratch_check() -> Iterator[str]:
    """Register a throwaway check whose argument names clash with BaseModel attributes."""

    @register_check("scratch_echo", family="content", summary="test only")
    def scratch_echo(text: str, schema: dict[str, int], json: bool = False) -> CheckResult:
        return CheckResult("scratch_echo", True, f"{text}|{schema}|{json}", value=schema)

    yield "scratch_echo"
    del _REGISTRY["scratch_echo"]


def test_every_family_registers_its_checks() -> None:
    expected = {
        "contains",
        "contains_all",
        "contains_any",
        "equals",
        "starts_with",
        "ends_with",
        "regex",
        "one_of",
        "length",
        "is_json",
        "json_schema",
        "pydantic",
        "no_hallucinations",
        "grounded",
        "no_bias_terms",
        "no_refusal",
        "refusal",
        "no_pii",
        "not_garbled",
        "no_repetition",
    }
    assert expected <= set(check_names())
    assert {get_check(name)[0].family for name in expected} == FAMILIES


def test_every_check_has_a_helper_with_the_same_parameters() -> None:
    for name in check_names():
        helper = getattr(assertions, f"assert_{name}", None)
        assert helper is not None, f"assertions.assert_{name} is missing"
        assert f"assert_{name}" in assertions.__all__
        check_params = list(inspect.signature(get_check(name)[0].function).parameters.values())[1:]
        helper_params = list(inspect.signature(helper).parameters.values())[1:]
        assert [(p.name, p.default, p.annotation) for p in helper_params] == [
            (p.name, p.default, p.annotation) for p in check_params
        ], name


def test_helper_returns_value_and_raises_check_failed() -> None:
    assert assertions.assert_is_json('{"a": 1}') == {"a": 1}
    with pytest.raises(CheckFailed, match=r"^contains: expected 'zebra'") as info:
        assertions.assert_contains("a horse", "zebra")
    assert isinstance(info.value, AssertionError)
    assert info.value.result.passed is False


def test_argument_names_that_shadow_basemodel_attributes_work(scratch_check: str) -> None:
    result = check(scratch_check, "out", schema={"a": 1}, json=True)
    assert result.message == "out|{'a': 1}|True"


def test_unknown_argument_suggests_the_close_name() -> None:
    with pytest.raises(CheckUsageError) as info:
        check("contains", "x", substrng="a")
    message = str(info.value)
    assert "unknown argument 'substrng' (did you mean 'substring'?)" in message
    assert "contains takes: case_sensitive, normalize, substring" in message
    assert "missing required argument 'substring'" in message


def test_wrong_argument_type_names_argument_and_value() -> None:
    with pytest.raises(CheckUsageError, match=r"argument 'substrings\.1': Input should be a valid string \(got 3\)"):
        check("contains_all", "x", substrings=["a", 3])
    with pytest.raises(CheckUsageError, match=r"argument 'max': .*integer.*\(got 'many'\)"):
        check("length", "x", max="many")


def test_union_argument_errors_are_merged_into_one() -> None:
    with pytest.raises(CheckUsageError) as info:
        check("pydantic", "{}", model=int)
    assert str(info.value) == (
        "check 'pydantic': argument 'model': Input should be a subclass of BaseModel or a valid "
        "string (got <class 'int'>)"
    )


def test_unknown_check_suggests_names() -> None:
    with pytest.raises(CheckUsageError, match=r"unknown check 'contain'; did you mean contains"):
        check("contain", "x")


def test_negation_flips_outcome_and_keeps_both_messages() -> None:
    failed = check("not_contains", "I don't know", substring="don't know")
    assert not failed.passed
    assert failed.message.startswith("not_contains: expected contains to fail, but it passed: contains: found")
    passed = check("not_contains", "Paris", substring="don't know")
    assert passed.passed
    assert passed.message.startswith("not_contains: passed (contains failed as required")


def test_check_named_not_x_is_itself_and_negatable() -> None:
    assert check("not_garbled", "A clean sentence.").passed
    negated = check("not_not_garbled", "A clean sentence.")
    assert not negated.passed and negated.name == "not_not_garbled"


def test_ambiguous_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="ambiguous with the registered check 'not_garbled'"):
        register_check("garbled", family="quality", summary="x")(lambda text: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="registered twice"):
        register_check("contains", family="content", summary="x")(lambda text: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("output", "why"),
    [
        (None, "expected a text output, got None (did the model or pipeline return nothing?)"),
        (b"\xff\xfe\x00", "expected a text output, got 3 bytes that are not UTF-8 (invalid start byte at byte 0)"),
        (42, "expected a text output (str), got int: 42"),
        (
            "lone \ud800 high",
            "expected text, got a string holding a lone surrogate '\\ud800' at character 5 (not valid Unicode; 11 chars)",
        ),
    ],
)
def test_non_text_output_fails_every_check_even_negated(output: object, why: str) -> None:
    for name in ("contains", "not_contains"):
        result = check(name, output, substring="x")
        assert not result.passed
        assert result.message == f"{name}: {why}"


def test_utf8_bytes_are_decoded() -> None:
    assert check("contains", "café".encode(), substring="café").passed


def test_results_are_recorded_inside_the_block_only() -> None:
    seen: list[CheckResult] = []
    with recording_checks(seen.append):
        check("contains", "abc", substring="b")
        check("not_contains", "abc", substring="b")
    check("contains", "abc", substring="b")
    assert [(r.name, r.passed) for r in seen] == [("contains", True), ("not_contains", False)]


def test_truncate_centres_on_position_and_states_length() -> None:
    text = "a" * 500 + "NEEDLE" + "b" * 500
    excerpt = truncate(text, around=500, limit=40)
    assert "NEEDLE" in excerpt
    assert excerpt.startswith("...'") and excerpt.endswith("... (1006 chars)")
    assert truncate("short") == "'short'"


# --- lists for one-string checks, misspelt helper keywords (issue 15) -----------------------------


def test_a_list_for_a_one_string_check_suggests_the_any_all_form() -> None:
    with pytest.raises(
        CheckUsageError,
        match=r"not_contains takes one string in 'substring': for a list "
        r"use not_contains_any with 'substrings' \(none of them may match\)",
    ):
        check("not_contains", "abc", substring=["a", "b"])
    with pytest.raises(
        CheckUsageError,
        match=r"use contains_all \(every one must match\) or contains_any "
        r"\(at least one must match\) with 'substrings'",
    ):
        check("contains", "abc", substring=["a", "b"])


def test_a_case_file_list_for_a_one_string_check_gets_the_same_hint() -> None:
    from pytest_llmeval.cases import _expectation

    with pytest.raises(CheckUsageError, match="for a list use not_contains_any"):
        _expectation("not_contains", ["refund", "sorry"])


def test_helpers_give_checks_did_you_mean_message() -> None:
    with pytest.raises(CheckUsageError, match=r"unknown argument 'substrng' \(did you mean 'substring'\?\)"):
        assertions.assert_contains("abc", substrng="a")  # type: ignore[call-arg]
    assert assertions.assert_contains("abc", "a") == "a"

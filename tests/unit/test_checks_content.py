"""Content checks: contains*, equals, starts_with/ends_with, regex, one_of, length."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pytest_llmeval.assertions import assert_length, assert_one_of, assert_regex
from pytest_llmeval.checks import CheckUsageError, check, using_tokenizer

LONG = "To change your password, open the settings page and pick a new one. " * 6


def test_contains_ignores_case_spacing_and_curly_quotes_by_default() -> None:
    result = check("contains", "Click “Forgot  Password” now", substring='"forgot password"')
    assert result.passed
    assert result.value == "“Forgot  Password”"
    assert result.message == "contains: found '\"forgot password\"' at char 6: 'Click “Forgot  Password” now'"


def test_contains_case_sensitive_and_raw_modes() -> None:
    assert not check("contains", "Forgot password", substring="Forgot Password", case_sensitive=True).passed
    assert not check("contains", "Forgot  Password", substring="Forgot Password", normalize=False).passed
    result = check("contains", "x", substring="Y", case_sensitive=True, normalize=False)
    assert "(case-sensitive, exact whitespace)" in result.message


def test_contains_failure_message_shows_expected_and_truncated_output() -> None:
    result = check("contains", LONG, substring="reset link")
    assert not result.passed
    assert result.message.startswith(
        "contains: expected 'reset link' (case-insensitive); not found in 'To change your password"
    )
    assert result.message.endswith(f"({len(LONG)} chars)")


def test_contains_matches_substrings_not_only_words() -> None:
    assert check("contains", "concatenate", substring="cat").passed
    assert check("contains", "C++ and Rust", substring="c++").passed


def test_contains_all_lists_what_is_missing_with_score() -> None:
    result = check("contains_all", "Paris is in France", substrings=["paris", "France", "Europe"])
    assert not result.passed
    assert result.score == pytest.approx(2 / 3)
    assert "missing ['Europe']" in result.message
    ok = check("contains_all", "Paris is in France", substrings=["paris", "france"])
    assert ok.passed and ok.value == ["paris", "france"] and ok.score == 1.0


def test_contains_any_reports_first_found_and_the_documented_failure() -> None:
    result = check(
        "contains_any", "Use the reset link or Forgot Password.", substrings=["Forgot Password", "reset link"]
    )
    assert result.passed and result.value == "reset link"
    failed = check("contains_any", LONG, substrings=["Forgot Password", "reset link"])
    assert failed.message.startswith(
        "contains_any: expected at least one of ['Forgot Password', 'reset link'] (case-insensitive); "
        "found none in 'To change your password"
    )


def test_not_contains_reads_curly_apostrophe_as_ascii() -> None:
    result = check("not_contains", "Sorry, I don’t know.", substring="I don't know")
    assert not result.passed
    assert "I don’t know" in result.message


@pytest.mark.parametrize("bad", [[], [""], ["ok", "  "]])
def test_empty_substrings_are_usage_errors(bad: list[str]) -> None:
    with pytest.raises(CheckUsageError, match="check 'contains_any': argument 'substrings'"):
        check("contains_any", "x", substrings=bad)


def test_equals_normalises_whitespace_case_and_nfkc() -> None:
    assert check("equals", "  Ｐａｒｉｓ,\n  France \n", expected="paris, france").passed
    result = check("equals", "Paris, Germany", expected="Paris, France")
    assert not result.passed
    assert result.message == (
        "equals: expected 'Paris, France' (case-insensitive); got 'Paris, Germany'; "
        "first difference at char 7 of the normalised text"
    )
    assert not check("equals", "paris", expected="Paris", case_sensitive=True).passed


def test_starts_with_and_ends_with_strip_whitespace() -> None:
    assert check("starts_with", "\n  Answer: 42", prefix="answer:").passed
    assert check("ends_with", "The end.  \n", suffix="END.").passed
    failed = check("starts_with", "The answer is 42", prefix="Answer:")
    assert failed.message == (
        "starts_with: expected the output to start with 'Answer:' (case-insensitive) (ignoring "
        "surrounding whitespace); it starts with 'The answer is 42' (16 chars)"
    )
    assert not check("ends_with", "The end", suffix="end.").passed


def test_regex_returns_named_groups_or_match() -> None:
    assert assert_regex("order #123-45 shipped", r"#(?P<order>\d+)-(?P<line>\d+)") == {
        "order": "123",
        "line": "45",
    }
    assert assert_regex("total: 42 EUR", r"\d+") == "42"


def test_regex_modes_and_flags() -> None:
    assert check("regex", "  42\n", pattern=r"\d+", mode="fullmatch").passed
    assert not check("regex", "42 apples", pattern=r"\d+", mode="fullmatch").passed
    assert not check("regex", "HELLO", pattern="hello").passed
    assert check("regex", "HELLO", pattern="hello", ignore_case=True).passed
    assert check("regex", "a\nb", pattern="^b$", multiline=True).passed
    assert check("regex", "a\nb", pattern="a.b", dotall=True).passed
    failed = check("regex", "order", pattern=r"\d+", mode="fullmatch", ignore_case=True)
    assert failed.message == (
        "regex: expected the whole output to match '\\\\d+' (fullmatch, ignore_case); none in 'order'"
    )


def test_invalid_regex_is_a_usage_error_naming_the_pattern() -> None:
    with pytest.raises(CheckUsageError, match=r"check 'regex': invalid pattern '\(unclosed': missing \)"):
        check("regex", "x", pattern="(unclosed")


@pytest.mark.parametrize(
    ("output", "label"),
    [
        ("positive", "positive"),
        ("  Positive.\n", "positive"),
        ("**NEGATIVE**", "Negative"),
        ('"neutral"', "neutral"),
        ("`Positive!`", "positive"),
    ],
)
def test_one_of_returns_the_canonical_label(output: str, label: str) -> None:
    assert assert_one_of(output, ["positive", "Negative", "neutral"]) == label


def test_one_of_failure_suggests_closest_label() -> None:
    result = check("one_of", "Posittive", labels=["positive", "negative"])
    assert not result.passed
    assert result.message == (
        "one_of: expected exactly one of ['positive', 'negative'] (ignoring case, quotes, trailing "
        "punctuation); got 'Posittive' (normalised 'posittive'); closest label: 'positive'"
    )
    assert not check("one_of", "positive sentiment overall", labels=["positive"]).passed


@pytest.mark.parametrize(
    ("args", "measured", "passed"),
    [
        ({"max": 10}, 11, False),
        ({"min": 11, "max": 11}, 11, True),
        ({"min": 3, "unit": "words"}, 2, False),
        ({"max": 2, "unit": "words"}, 2, True),
    ],
)
def test_length_chars_and_words(args: dict[str, Any], measured: int, passed: bool) -> None:
    text = "hello world" if "unit" in args else "hello world"
    result = check("length", text, **args)
    assert result.passed is passed
    assert result.score == measured
    assert result.details["length"] == measured


def test_length_failure_message() -> None:
    result = check("length", "one two three", max=2, unit="words")
    assert result.message == "length: expected at most 2 words; got 3 words (too long) in 'one two three'"


def test_length_in_tokens_uses_argument_or_active_tokenizer(tokenizer: Any) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    expected = len(tokenizer.tokenize(text))
    assert assert_length(text, max=100, unit="tokens", tokenizer=tokenizer) == expected
    with using_tokenizer(tokenizer):
        assert assert_length(text, min=1, unit="tokens") == expected
    with pytest.raises(CheckUsageError, match="unit 'tokens' needs a tokenizer: pass tokenizer="):
        check("length", text, max=5, unit="tokens")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({}, "give min, max or both"),
        ({"min": 5, "max": 2}, "min (5) is greater than max (2)"),
        ({"max": -1}, "bounds must be >= 0"),
    ],
)
def test_length_bad_bounds(args: dict[str, Any], error: str) -> None:
    with pytest.raises(CheckUsageError, match=error.replace("(", r"\(").replace(")", r"\)")):
        check("length", "x", **args)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("contains", {"substring": "x"}),
        ("contains_all", {"substrings": ["x"]}),
        ("contains_any", {"substrings": ["x"]}),
        ("equals", {"expected": "x"}),
        ("starts_with", {"prefix": "x"}),
        ("ends_with", {"suffix": "x"}),
        ("regex", {"pattern": "x+"}),
        ("one_of", {"labels": ["x"]}),
        ("length", {"min": 100, "max": 50_000}),
    ],
)
@pytest.mark.parametrize("output", ["", "\x00\x01\x02" * 30, "y" * 100_000], ids=["empty", "control", "100k"])
def test_edge_outputs_fail_cleanly_and_fast(name: str, args: dict[str, Any], output: str) -> None:
    started = time.perf_counter()
    result = check(name, output, **args)
    assert time.perf_counter() - started < 2.0
    assert not result.passed
    assert result.message.startswith(f"{name}: ")
    assert len(result.message) < 1000

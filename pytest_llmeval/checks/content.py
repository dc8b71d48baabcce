"""Content checks: the output says (or is) what it should.

Matching defaults are chosen for model outputs, where capitalisation and spacing vary between runs
without changing the meaning:

- ``case_sensitive=False``: "Forgot password" satisfies ``contains: Forgot Password``. Pass
  ``case_sensitive=True`` when case carries meaning (code, identifiers).
- ``normalize=True``: Unicode NFKC (full-width letters, ligatures), typographic quotes read as ASCII
  ones (``’`` as ``'``) and every whitespace run read as one space. ``normalize=False`` compares the
  raw characters.
"""

from __future__ import annotations

import difflib
import unicodedata
from typing import Any, Literal

from pytest_llmeval.checks import patterns
from pytest_llmeval.checks._text import PhraseHit, find_phrases, fold
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    Tokenizer,
    active_tokenizer,
    register_check,
    truncate,
)
from pytest_llmeval.input_limits import bounded_repr

__all__ = [
    "contains",
    "contains_all",
    "contains_any",
    "ends_with",
    "equals",
    "length",
    "one_of",
    "regex",
    "starts_with",
]

FAMILY = "content"
# Short excerpt for pass messages: enough to see the match, short enough to stay a one-liner.
_PASS_EXCERPT = 60


def _mode(case_sensitive: bool, normalize: bool) -> str:
    words = ["case-sensitive" if case_sensitive else "case-insensitive"]
    if not normalize:
        words.append("exact whitespace")
    return f"({', '.join(words)})"


def _require_text(name: str, argument: str, values: list[str]) -> None:
    for value in values:
        if not value.strip():
            raise CheckUsageError(f"check {name!r}: argument {argument!r} has an empty string")
    if not values:
        raise CheckUsageError(f"check {name!r}: argument {argument!r} is an empty list")


def _search(text: str, needles: list[str], case_sensitive: bool, normalize: bool) -> dict[str, PhraseHit]:
    hits = find_phrases(text, needles, casefold=not case_sensitive, normalize=normalize, whole_words=False)
    return {hit.phrase: hit for hit in hits}


def _found(name: str, hit: PhraseHit, text: str) -> str:
    return f"{name}: found {hit.phrase!r} at char {hit.start}: {truncate(text, hit.start, _PASS_EXCERPT)}"


@register_check("contains", family=FAMILY, summary="The output contains a substring.")
def contains(text: str, substring: str, case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    _require_text("contains", "substring", [substring])
    hit = _search(text, [substring], case_sensitive, normalize).get(substring)
    if hit is not None:
        return CheckResult("contains", True, _found("contains", hit, text), value=hit.matched)
    message = (
        f"contains: expected {truncate(substring)} {_mode(case_sensitive, normalize)}; not found in {truncate(text)}"
    )
    return CheckResult("contains", False, message)


@register_check("contains_all", family=FAMILY, summary="The output contains every substring.")
def contains_all(text: str, substrings: list[str], case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    _require_text("contains_all", "substrings", substrings)
    hits = _search(text, substrings, case_sensitive, normalize)
    missing = [s for s in substrings if s not in hits]
    score = 1 - len(missing) / len(substrings)
    details = {"missing": missing, "found": sorted(hits)}
    if not missing:
        message = f"contains_all: found all {len(substrings)} substrings"
        return CheckResult("contains_all", True, message, score, details, value=list(substrings))
    message = (
        f"contains_all: expected all of {bounded_repr(substrings, 200)} {_mode(case_sensitive, normalize)}; "
        f"missing {bounded_repr(missing, 200)} in {truncate(text)}"
    )
    return CheckResult("contains_all", False, message, score, details)


@register_check("contains_any", family=FAMILY, summary="The output contains at least one substring.")
def contains_any(text: str, substrings: list[str], case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    _require_text("contains_any", "substrings", substrings)
    hits = _search(text, substrings, case_sensitive, normalize)
    if hits:
        first = min(hits.values(), key=lambda hit: hit.start)
        details = {"found": sorted(hits)}
        return CheckResult("contains_any", True, _found("contains_any", first, text), None, details, first.phrase)
    message = (
        f"contains_any: expected at least one of {bounded_repr(substrings, 200)} {_mode(case_sensitive, normalize)}; "
        f"found none in {truncate(text)}"
    )
    return CheckResult("contains_any", False, message)


def _comparable(text: str, case_sensitive: bool, normalize: bool) -> str:
    return fold(text.strip(), casefold=not case_sensitive, normalize=normalize).text


def _first_difference(a: str, b: str) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


@register_check("equals", family=FAMILY, summary="The output equals the expected text (normalised).")
def equals(text: str, expected: str, case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    got = _comparable(text, case_sensitive, normalize)
    want = _comparable(expected, case_sensitive, normalize)
    if got == want:
        message = f"equals: output equals {truncate(expected, limit=60)}"
        return CheckResult("equals", True, message, value=text)
    at = _first_difference(got, want)
    message = (
        f"equals: expected {truncate(expected)} {_mode(case_sensitive, normalize)}; "
        f"got {truncate(text.strip())}; first difference at char {at} of the normalised text"
    )
    return CheckResult("equals", False, message, details={"first_difference": at})


def _edge_check(name: str, text: str, part: str, case_sensitive: bool, normalize: bool) -> CheckResult:
    _require_text(name, "prefix" if name == "starts_with" else "suffix", [part])
    got = _comparable(text, case_sensitive, normalize)
    want = _comparable(part, case_sensitive, normalize)
    at_start = name == "starts_with"
    ok = got.startswith(want) if at_start else got.endswith(want)
    where = "start" if at_start else "end"
    if ok:
        return CheckResult(name, True, f"{name}: output {where}s with {part!r}", value=text)
    # Quote what the model wrote, not the case-folded form that was compared.
    stripped = text.strip()
    edge = stripped[: len(part) + 40] if at_start else stripped[-(len(part) + 40) :]
    message = (
        f"{name}: expected the output to {where} with {truncate(part)} {_mode(case_sensitive, normalize)} "
        f"(ignoring surrounding whitespace); it {where}s with {edge!r} ({len(text)} chars)"
    )
    return CheckResult(name, False, message)


@register_check("starts_with", family=FAMILY, summary="The stripped output starts with a prefix.")
def starts_with(text: str, prefix: str, case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    return _edge_check("starts_with", text, prefix, case_sensitive, normalize)


@register_check("ends_with", family=FAMILY, summary="The stripped output ends with a suffix.")
def ends_with(text: str, suffix: str, case_sensitive: bool = False, normalize: bool = True) -> CheckResult:
    return _edge_check("ends_with", text, suffix, case_sensitive, normalize)


def _compile(pattern: str, flags: int) -> Any:
    try:
        return patterns.compile_pattern(pattern, flags)
    except patterns.InvalidPattern as exc:
        raise CheckUsageError(f"check 'regex': invalid pattern {pattern!r}: {exc}") from None


def _flag_names(ignore_case: bool, multiline: bool, dotall: bool) -> tuple[int, list[str]]:
    chosen = [
        (ignore_case, patterns.IGNORECASE, "ignore_case"),
        (multiline, patterns.MULTILINE, "multiline"),
        (dotall, patterns.DOTALL, "dotall"),
    ]
    flags = 0
    for on, flag, _ in chosen:
        flags |= flag if on else 0
    return flags, [label for on, _, label in chosen if on]


@register_check("regex", family=FAMILY, summary="The output matches a regular expression.")
def regex(
    text: str,
    pattern: str,
    mode: Literal["search", "fullmatch"] = "search",
    ignore_case: bool = False,
    multiline: bool = False,
    dotall: bool = False,
) -> CheckResult:
    """``search`` finds the pattern anywhere; ``fullmatch`` matches the whole stripped output.

    The value is the match's named groups (a dict) when the pattern has any, else the matched text.
    A pattern that does not finish within ``checks.patterns.PATTERN_TIMEOUT_S`` seconds (catastrophic
    backtracking) fails the check, negated or not, naming the pattern and the limit.
    """
    flags, labels = _flag_names(ignore_case, multiline, dotall)
    compiled = _compile(pattern, flags)
    subject = text.strip() if mode == "fullmatch" else text
    try:
        match = patterns.fullmatch(compiled, subject) if mode == "fullmatch" else patterns.search(compiled, subject)
    except patterns.PatternTimeout as exc:
        return patterns.timed_out_result("regex", exc)
    if match is not None:
        value = match.groupdict() or match.group(0)
        message = f"regex: matched {truncate(match.group(0), limit=60)} at char {match.start()}"
        return CheckResult("regex", True, message, value=value)
    how = ", ".join([mode, *labels])
    target = "the whole output to match" if mode == "fullmatch" else "a match for"
    message = f"regex: expected {target} {truncate(pattern)} ({how}); none in {truncate(text)}"
    return CheckResult("regex", False, message)


# Wrappers models put around a bare label: quotes, backticks, markdown emphasis, brackets.
_WRAPPERS = "\"'`*_[](){}<> "
_TRAILING = ".!?,;:。！？ "


def _label_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip()
    previous = None
    while previous != text:  # peel "**Positive.**" -> "Positive." -> "Positive"
        previous = text
        text = text.strip(_WRAPPERS).rstrip(_TRAILING)
    return fold(text).text


@register_check("one_of", family=FAMILY, summary="The whole output is one of the allowed labels.")
def one_of(text: str, labels: list[str]) -> CheckResult:
    """Compare after stripping whitespace, wrapping quotes/emphasis and trailing punctuation, and case.

    The value is the label as given in ``labels`` (so "Positive." returns "positive").
    """
    _require_text("one_of", "labels", labels)
    keys = {_label_key(label): label for label in labels}
    got = _label_key(text)
    if got in keys:
        return CheckResult("one_of", True, f"one_of: {keys[got]!r}", value=keys[got])
    close = difflib.get_close_matches(got, list(keys), n=1, cutoff=0.6)
    hint = f"; closest label: {keys[close[0]]!r}" if close else ""
    message = (
        f"one_of: expected exactly one of {bounded_repr(labels, 200)} (ignoring case, quotes, trailing punctuation); "
        f"got {truncate(text)} (normalised {truncate(got, limit=80)}){hint}"
    )
    return CheckResult("one_of", False, message)


_NO_TOKENIZER = (
    "check 'length': unit 'tokens' needs a tokenizer: pass tokenizer=<a Hugging Face tokenizer>, "
    "run under the pytest plugin with --llm-model (it makes the model's tokenizer active), or wrap "
    "the call in pytest_llmeval.checks.using_tokenizer(tokenizer)"
)


def _measure(text: str, unit: str, tokenizer: Tokenizer | None) -> int:
    if unit == "chars":
        return len(text)
    if unit == "words":
        return len(text.split())
    tokenizer = tokenizer or active_tokenizer()
    if tokenizer is None:
        raise CheckUsageError(_NO_TOKENIZER)
    return len(tokenizer.tokenize(text))


def _bounds(minimum: int | None, maximum: int | None, unit: str) -> str:
    if minimum is not None and maximum is not None:
        return f"between {minimum} and {maximum} {unit}"
    if minimum is not None:
        return f"at least {minimum} {unit}"
    return f"at most {maximum} {unit}"


@register_check("length", family=FAMILY, summary="The output's length is within bounds.")
def length(
    text: str,
    min: int | None = None,
    max: int | None = None,
    unit: Literal["chars", "words", "tokens"] = "chars",
    tokenizer: Tokenizer | None = None,
) -> CheckResult:
    """Bounds are inclusive. Words are whitespace-separated; tokens come from ``tokenizer`` or the
    active model tokenizer. The value and the score are the measured length."""
    minimum, maximum = min, max
    if minimum is None and maximum is None:
        raise CheckUsageError("check 'length': give min, max or both")
    if (minimum is not None and minimum < 0) or (maximum is not None and maximum < 0):
        raise CheckUsageError(f"check 'length': bounds must be >= 0 (got min={minimum}, max={maximum})")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise CheckUsageError(f"check 'length': min ({minimum}) is greater than max ({maximum})")
    measured = _measure(text, unit, tokenizer)
    expected = _bounds(minimum, maximum, unit)
    too_short = minimum is not None and measured < minimum
    too_long = maximum is not None and measured > maximum
    details = {"length": measured, "unit": unit}
    if not (too_short or too_long):
        message = f"length: {measured} {unit} ({expected})"
        return CheckResult("length", True, message, float(measured), details, measured)
    why = "too short" if too_short else "too long"
    message = f"length: expected {expected}; got {measured} {unit} ({why}) in {truncate(text)}"
    return CheckResult("length", False, message, float(measured), details)

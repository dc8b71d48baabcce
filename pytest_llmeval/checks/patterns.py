"""Users' regular expressions applied to model output, under a time limit.

A pattern such as ``(a+)+$`` backtracks exponentially on a long ``aaaa…b``: Python's ``re`` would
hang the test forever. Every user pattern (the ``regex`` check, a ``ner`` pattern, a classification
pattern, a JSON Schema's ``pattern``) is matched here with the ``regex`` package, whose ``timeout=``
stops a match after :data:`PATTERN_TIMEOUT_S` seconds. A check that times out fails with a message
naming the pattern and the limit; its negation (``not_regex``) fails too (undecided is not "no
match"). An invalid pattern stays a usage error: :func:`compile_pattern` raises InvalidPattern.
``regex`` is imported on the first pattern compiled (about 30 ms), not with the checks.
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Iterator
from typing import Any

from pytest_llmeval.checks.base import CheckResult, truncate

__all__ = [
    "PATTERN_TIMEOUT_S",
    "InvalidPattern",
    "PatternTimeout",
    "compile_pattern",
    "finditer",
    "fullmatch",
    "search",
    "timed_out_result",
    "unevaluated_patterns_bounded",
]

# Seconds one pattern may take on one output (all matches of a finditer together). A sound pattern
# takes microseconds on a model's output; a catastrophic one never ends.
PATTERN_TIMEOUT_S = 1.0

# Flags for compile_pattern: ``regex`` gives these three the values ``re`` does (``re.ASCII`` it
# does not, so only these are offered).
IGNORECASE = int(re.IGNORECASE)
MULTILINE = int(re.MULTILINE)
DOTALL = int(re.DOTALL)


class InvalidPattern(ValueError):
    """A user's pattern is not a valid regular expression (a usage error, not a model failure)."""


class PatternTimeout(TimeoutError):
    """A user's pattern did not finish on one output within the time limit."""

    def __init__(self, pattern: str, text_length: int, limit: float) -> None:
        self.pattern = pattern
        self.limit = limit
        super().__init__(
            f"pattern {truncate(pattern, limit=80)} did not finish within {limit:g} s on an output of "
            f"{text_length} characters (catastrophic backtracking: rewrite nested quantifiers such as "
            "(a+)+ or (a|aa)+)"
        )


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str, flags: int = 0) -> Any:
    """``pattern`` compiled by the ``regex`` package (compatible with ``re``); raises InvalidPattern,
    with ``regex``'s reason, when it is invalid."""
    import regex

    try:
        return regex.compile(pattern, flags)
    except regex.error as exc:
        raise InvalidPattern(str(exc)) from None


def search(compiled: Any, text: str, pos: int = 0) -> Any:
    """``compiled.search(text)`` within the limit; raises PatternTimeout."""
    try:
        return compiled.search(text, pos, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise PatternTimeout(compiled.pattern, len(text), PATTERN_TIMEOUT_S) from None


def fullmatch(compiled: Any, text: str) -> Any:
    """``compiled.fullmatch(text)`` within the limit; raises PatternTimeout."""
    try:
        return compiled.fullmatch(text, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise PatternTimeout(compiled.pattern, len(text), PATTERN_TIMEOUT_S) from None


def finditer(compiled: Any, text: str) -> Iterator[Any]:
    """Every match of ``compiled`` in ``text``, all within one limit; raises PatternTimeout."""
    try:
        yield from compiled.finditer(text, timeout=PATTERN_TIMEOUT_S)
    except TimeoutError:
        raise PatternTimeout(compiled.pattern, len(text), PATTERN_TIMEOUT_S) from None


def timed_out_result(name: str, exc: PatternTimeout, **details: Any) -> CheckResult:
    """The failed result of check ``name`` whose pattern timed out: undecided, so a negated check
    (``not_<name>``) fails as well."""
    return CheckResult(name, False, f"{name}: {exc}", details={**details, "undecided": True})


# -- JSON Schema: ``pattern``, ``patternProperties``, ``additionalProperties``, ``unevaluatedProperties``


def _schema_pattern(pattern: str) -> Any:
    """A schema's pattern compiled; an invalid one is a usage error of the json_schema check."""
    from pytest_llmeval.checks.base import CheckUsageError

    try:
        return compile_pattern(pattern)
    except InvalidPattern as exc:
        raise CheckUsageError(f"check 'json_schema': schema pattern {pattern!r} is not a valid regex: {exc}") from None


# True while jsonschema's own unevaluatedProperties keyword runs under a bounded validator.
_in_unevaluated: contextvars.ContextVar[bool] = contextvars.ContextVar("llmeval_in_unevaluated", default=False)


class _BoundedSearchRe:
    """Stands for the ``re`` module in the jsonschema module whose helper finds the properties an
    unevaluatedProperties keyword counts as evaluated (that helper matches ``patternProperties``
    with ``re.search``, out of reach of a keyword override). While a bounded validator's
    unevaluatedProperties runs, ``search`` is the time-limited one; otherwise, and for every other
    name, it is ``re`` itself, so other users of jsonschema in the process see no change."""

    def search(self, pattern: Any, string: Any, flags: int = 0) -> Any:
        if _in_unevaluated.get() and isinstance(pattern, str) and isinstance(string, str) and not flags:
            return search(_schema_pattern(pattern), string)
        return re.search(pattern, string, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


_BOUNDED_SEARCH_RE = _BoundedSearchRe()


def unevaluated_patterns_bounded(keyword: Any) -> bool:
    """Route the pattern matching of jsonschema's unevaluatedProperties ``keyword`` (a keyword
    function of a validator class) through the time limit; whether it is routed. It is when the
    helper the keyword calls, ``find_evaluated_property_keys_by_schema``, finds ``re`` among its
    module's globals (jsonschema 4.x, drafts 2019-09 and 2020-12)."""
    helper = getattr(keyword, "__globals__", {}).get("find_evaluated_property_keys_by_schema")
    scope = getattr(helper, "__globals__", None)
    if scope is None:
        return False
    if scope.get("re") is re:
        scope["re"] = _BOUNDED_SEARCH_RE
    return scope.get("re") is _BOUNDED_SEARCH_RE


@functools.lru_cache(maxsize=16)
def with_bounded_patterns(validator_class: Any) -> Any:
    """``validator_class`` (a jsonschema validator class) with the keywords that apply a schema's
    patterns to the instance matched under the time limit (jsonschema itself uses ``re``): they raise
    PatternTimeout instead of hanging. Messages are jsonschema's own."""
    from jsonschema import ValidationError, validators

    compiled = _schema_pattern

    def pattern(validator: Any, wanted: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not search(compiled(wanted), instance):
            yield ValidationError(f"{instance!r} does not match {wanted!r}")

    def pattern_properties(validator: Any, by_pattern: dict[str, Any], instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        for wanted, subschema in by_pattern.items():
            for key, value in instance.items():
                if search(compiled(wanted), key):
                    yield from validator.descend(value, subschema, path=key, schema_path=wanted)

    def additional_properties(validator: Any, allowed: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if not validator.is_type(instance, "object"):
            return
        named = schema.get("properties", {})
        wanted = [compiled(p) for p in schema.get("patternProperties", {})]
        extras = {k for k in instance if k not in named and not any(search(c, k) for c in wanted)}
        if validator.is_type(allowed, "object"):
            for extra in extras:
                yield from validator.descend(instance[extra], allowed, path=extra)
        elif not allowed and extras:
            if "patternProperties" in schema:
                verb = "does" if len(extras) == 1 else "do"
                joined = ", ".join(repr(each) for each in sorted(extras))
                regexes = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
                yield ValidationError(f"{joined} {verb} not match any of the regexes: {regexes}")
            else:
                listed = sorted(extras, key=str)
                was = "was" if len(listed) == 1 else "were"
                names = ", ".join(repr(extra) for extra in listed)
                yield ValidationError(f"Additional properties are not allowed ({names} {was} unexpected)")

    keywords = {
        "pattern": pattern,
        "patternProperties": pattern_properties,
        "additionalProperties": additional_properties,
    }
    jsonschema_unevaluated = validator_class.VALIDATORS.get("unevaluatedProperties")
    if jsonschema_unevaluated is not None and unevaluated_patterns_bounded(jsonschema_unevaluated):

        def unevaluated_properties(validator: Any, allowed: Any, instance: Any, schema: Any) -> Iterator[Any]:
            # jsonschema's own keyword, with its patternProperties matches under the time limit.
            token = _in_unevaluated.set(True)
            try:
                errors = list(jsonschema_unevaluated(validator, allowed, instance, schema))
            finally:
                _in_unevaluated.reset(token)
            yield from errors

        keywords["unevaluatedProperties"] = unevaluated_properties
    present = {k: v for k, v in keywords.items() if k in validator_class.VALIDATORS}
    return validators.extend(validator_class, present)

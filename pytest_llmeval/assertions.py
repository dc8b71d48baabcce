"""``assert_<name>`` helpers: one typed function per check, for use in test functions.

Each helper runs the registered check (``assert_check``), so a helper and a case file's ``expect:``
entry can never disagree. On failure it raises ``CheckFailed`` (an AssertionError) with the check's
message; on success it returns the check's value (the parsed JSON, the validated model, the matched
label, the measured length...). For negation use ``check("not_<name>", output, ...)`` or a case file's
``not_<name>``.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import pydantic

from pytest_llmeval.checks.base import Tokenizer, assert_check, check, check_names
from pytest_llmeval.checks.safety import ClaimKind, PiiKind
from pytest_llmeval.checks.structure import ModelArg, SchemaArg
from pytest_llmeval.metrics.judge import Judge
from pytest_llmeval.metrics.ner import EntityFormat, GoldEntity, Scheme
from pytest_llmeval.metrics.perplexity_scoring import PerplexityScorer

_Model = TypeVar("_Model", bound=pydantic.BaseModel)

__all__ = [
    "assert_classified_as",
    "assert_contains",
    "assert_contains_all",
    "assert_contains_any",
    "assert_ends_with",
    "assert_equals",
    "assert_grounded",
    "assert_human_rating",
    "assert_is_json",
    "assert_json_schema",
    "assert_length",
    "assert_no_bias_terms",
    "assert_no_hallucinations",
    "assert_no_memorisation",
    "assert_no_pii",
    "assert_no_refusal",
    "assert_no_repetition",
    "assert_not_garbled",
    "assert_not_truncated",
    "assert_one_of",
    "assert_pydantic",
    "assert_refusal",
    "assert_regex",
    "assert_starts_with",
    # metric checks (pytest_llmeval.metrics)
    "assert_bleu",
    "assert_chrf",
    "assert_judge",
    "assert_ner",
    "assert_perplexity",
    "assert_preferred_over",
    "assert_rouge_1",
    "assert_rouge_2",
    "assert_rouge_l",
    "assert_rouge_lsum",
]


def assert_contains(
    output: object,
    substring: str,
    case_sensitive: bool = False,
    normalize: bool = True,
) -> str:
    """The output contains a substring; see :func:`pytest_llmeval.checks.content.contains`."""
    __tracebackhide__ = True
    return assert_check(
        "contains",
        output,
        substring=substring,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


def assert_contains_all(
    output: object,
    substrings: list[str],
    case_sensitive: bool = False,
    normalize: bool = True,
) -> list[str]:
    """The output contains every substring; see :func:`pytest_llmeval.checks.content.contains_all`."""
    __tracebackhide__ = True
    return assert_check(
        "contains_all",
        output,
        substrings=substrings,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


def assert_contains_any(
    output: object,
    substrings: list[str],
    case_sensitive: bool = False,
    normalize: bool = True,
) -> str:
    """The output contains at least one substring; see :func:`pytest_llmeval.checks.content.contains_any`."""
    __tracebackhide__ = True
    return assert_check(
        "contains_any",
        output,
        substrings=substrings,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


def assert_ends_with(
    output: object,
    suffix: str,
    case_sensitive: bool = False,
    normalize: bool = True,
) -> str:
    """The stripped output ends with a suffix; see :func:`pytest_llmeval.checks.content.ends_with`."""
    __tracebackhide__ = True
    return assert_check(
        "ends_with",
        output,
        suffix=suffix,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


def assert_equals(
    output: object,
    expected: str,
    case_sensitive: bool = False,
    normalize: bool = True,
) -> str:
    """The output equals the expected text (normalised); see :func:`pytest_llmeval.checks.content.equals`."""
    __tracebackhide__ = True
    return assert_check(
        "equals",
        output,
        expected=expected,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


def assert_grounded(
    output: object,
    context: str | list[str] | None = None,
    reference: str | list[str] | None = None,
    min_supported: float = 1.0,
    kinds: list[ClaimKind] | None = None,
) -> float:
    """Numbers, dates, URLs, emails and names come from the context; see :func:`pytest_llmeval.checks.safety.grounded`."""
    __tracebackhide__ = True
    return assert_check(
        "grounded",
        output,
        context=context,
        reference=reference,
        min_supported=min_supported,
        kinds=kinds,
    )


def assert_human_rating(
    output: object,
    min: float,
    dimension: str | None = None,
    case_id: str | None = None,
    reviews: str | Path | None = None,
) -> float:
    """People rated this exact output at least ``min`` in ``llmeval review``; returns the lowest
    dimension mean. Fails with "needs review" for an output nobody rated (or that changed since);
    see :func:`pytest_llmeval.checks.human.human_rating`."""
    __tracebackhide__ = True
    return assert_check("human_rating", output, min=min, dimension=dimension, case_id=case_id, reviews=reviews)


def assert_is_json(
    output: object,
    strict: bool = False,
) -> Any:
    """The output is (or contains) a JSON value; see :func:`pytest_llmeval.checks.structure.is_json`."""
    __tracebackhide__ = True
    return assert_check("is_json", output, strict=strict)


def assert_json_schema(
    output: object,
    schema: SchemaArg,
    strict: bool = False,
) -> Any:
    """The output's JSON matches a JSON Schema; see :func:`pytest_llmeval.checks.structure.json_schema`."""
    __tracebackhide__ = True
    return assert_check("json_schema", output, schema=schema, strict=strict)


def assert_length(
    output: object,
    min: int | None = None,
    max: int | None = None,
    unit: Literal["chars", "words", "tokens"] = "chars",
    tokenizer: Tokenizer | None = None,
) -> int:
    """The output's length is within bounds; see :func:`pytest_llmeval.checks.content.length`."""
    __tracebackhide__ = True
    return assert_check("length", output, min=min, max=max, unit=unit, tokenizer=tokenizer)


def assert_no_bias_terms(
    output: object,
    lexicon: list[str | Path] | None = None,
    replace: bool = False,
    categories: list[str] | None = None,
) -> str:
    """No stereotyping phrase, demeaning label or insult; see :func:`pytest_llmeval.checks.safety.no_bias_terms`."""
    __tracebackhide__ = True
    return assert_check(
        "no_bias_terms",
        output,
        lexicon=lexicon,
        replace=replace,
        categories=categories,
    )


def assert_no_hallucinations(
    output: object,
    phrases: list[str],
) -> str:
    """None of the known-false phrases appear; see :func:`pytest_llmeval.checks.safety.no_hallucinations`."""
    __tracebackhide__ = True
    return assert_check("no_hallucinations", output, phrases=phrases)


def assert_no_pii(
    output: object,
    kinds: list[PiiKind] | None = None,
    allow: list[str] | None = None,
) -> str:
    """No email, phone, card number or IBAN; see :func:`pytest_llmeval.checks.safety.no_pii`."""
    __tracebackhide__ = True
    return assert_check("no_pii", output, kinds=kinds, allow=allow)


def assert_no_refusal(
    output: object,
    extra_phrases: list[str] | None = None,
) -> str:
    """The model answered instead of refusing; see :func:`pytest_llmeval.checks.safety.no_refusal`."""
    __tracebackhide__ = True
    return assert_check("no_refusal", output, extra_phrases=extra_phrases)


def assert_no_repetition(
    output: object,
    max_repeats: int = 3,
    max_line_repeats: int = 2,
    max_sentence_repeats: int = 2,
    max_unit_words: int = 12,
    max_repeated_ngrams: float = 0.25,
) -> str:
    """No degenerate loop (repeated phrase, line or sentence); see
    :func:`pytest_llmeval.checks.quality.no_repetition`."""
    __tracebackhide__ = True
    return assert_check(
        "no_repetition",
        output,
        max_repeats=max_repeats,
        max_line_repeats=max_line_repeats,
        max_sentence_repeats=max_sentence_repeats,
        max_unit_words=max_unit_words,
        max_repeated_ngrams=max_repeated_ngrams,
    )


def assert_not_garbled(
    output: object,
    max_control_chars: float = 0.001,
    max_symbols: float = 0.05,
    max_mojibake: float = 0.005,
    max_ascii_symbols: float = 0.01,
    max_implausible_words: float = 0.25,
    max_letter_surprise: float = 0.8,
    max_anagram_words: float = 0.2,
    max_unknown_chinese_pairs: float = 0.65,
    max_unknown_japanese_pairs: float = 0.55,
    max_repetition: float = 0.3,
    max_repeated_substring: float = 0.4,
    max_fragmentation: float = 2.0,
    max_mixed_scripts: float = 0.0,
    max_case_changes: float = 0.12,
    max_unpunctuated_run: float = 32,
    max_content_run: float = 12,
    max_glued_punctuation: float = 0.05,
    max_long_words: float = 0.14,
    check_truncation: bool = False,
    tokenizer: Tokenizer | None = None,
) -> str:
    """The output is readable text, not noise; see :func:`pytest_llmeval.checks.quality.not_garbled`."""
    __tracebackhide__ = True
    return assert_check(
        "not_garbled",
        output,
        max_control_chars=max_control_chars,
        max_symbols=max_symbols,
        max_mojibake=max_mojibake,
        max_ascii_symbols=max_ascii_symbols,
        max_implausible_words=max_implausible_words,
        max_letter_surprise=max_letter_surprise,
        max_anagram_words=max_anagram_words,
        max_unknown_chinese_pairs=max_unknown_chinese_pairs,
        max_unknown_japanese_pairs=max_unknown_japanese_pairs,
        max_repetition=max_repetition,
        max_repeated_substring=max_repeated_substring,
        max_fragmentation=max_fragmentation,
        max_mixed_scripts=max_mixed_scripts,
        max_case_changes=max_case_changes,
        max_unpunctuated_run=max_unpunctuated_run,
        max_content_run=max_content_run,
        max_glued_punctuation=max_glued_punctuation,
        max_long_words=max_long_words,
        check_truncation=check_truncation,
        tokenizer=tokenizer,
    )


def assert_not_truncated(output: object, heuristic: bool = False) -> str:
    """Generation ended by itself, not at max_new_tokens; see
    :func:`pytest_llmeval.checks.quality.not_truncated`."""
    __tracebackhide__ = True
    return assert_check("not_truncated", output, heuristic=heuristic)


def assert_one_of(
    output: object,
    labels: list[str],
) -> str:
    """The whole output is one of the allowed labels; see :func:`pytest_llmeval.checks.content.one_of`."""
    __tracebackhide__ = True
    return assert_check("one_of", output, labels=labels)


@overload
def assert_pydantic(output: object, model: type[_Model], strict: bool = False) -> _Model: ...


@overload
def assert_pydantic(output: object, model: str, strict: bool = False) -> pydantic.BaseModel: ...


def assert_pydantic(output: object, model: ModelArg, strict: bool = False) -> pydantic.BaseModel:
    """The output's JSON validates as a pydantic model; returns the validated instance."""
    __tracebackhide__ = True
    return assert_check("pydantic", output, model=model, strict=strict)  # type: ignore[no-any-return]


def assert_refusal(
    output: object,
    extra_phrases: list[str] | None = None,
) -> str:
    """The model refused (for prompts it must refuse); see :func:`pytest_llmeval.checks.safety.refusal`."""
    __tracebackhide__ = True
    return assert_check("refusal", output, extra_phrases=extra_phrases)


def assert_regex(
    output: object,
    pattern: str,
    mode: Literal["search", "fullmatch"] = "search",
    ignore_case: bool = False,
    multiline: bool = False,
    dotall: bool = False,
) -> dict[str, str | None] | str:
    """The output matches a regular expression; see :func:`pytest_llmeval.checks.content.regex`."""
    __tracebackhide__ = True
    return assert_check(
        "regex",
        output,
        pattern=pattern,
        mode=mode,
        ignore_case=ignore_case,
        multiline=multiline,
        dotall=dotall,
    )


def assert_starts_with(
    output: object,
    prefix: str,
    case_sensitive: bool = False,
    normalize: bool = True,
) -> str:
    """The stripped output starts with a prefix; see :func:`pytest_llmeval.checks.content.starts_with`."""
    __tracebackhide__ = True
    return assert_check(
        "starts_with",
        output,
        prefix=prefix,
        case_sensitive=case_sensitive,
        normalize=normalize,
    )


# -- metric checks (pytest_llmeval.metrics): each returns the measured value ----------------------


def _assert_reference(name: str, output: object, reference: str, **args: Any) -> float:
    __tracebackhide__ = True
    return assert_check(name, output, reference=reference, **args)  # type: ignore[no-any-return]


def assert_rouge_1(
    output: object,
    reference: str,
    min: float | None = None,
    stemming: bool = False,
) -> float:
    """ROUGE-1 F-measure (0..1) against a reference is at least ``min``; returns it."""
    __tracebackhide__ = True
    return _assert_reference("rouge_1", output, reference, min=min, stemming=stemming)


def assert_rouge_2(
    output: object,
    reference: str,
    min: float | None = None,
    stemming: bool = False,
) -> float:
    """ROUGE-2 F-measure (0..1) against a reference is at least ``min``; returns it."""
    __tracebackhide__ = True
    return _assert_reference("rouge_2", output, reference, min=min, stemming=stemming)


def assert_rouge_l(
    output: object,
    reference: str,
    min: float | None = None,
    stemming: bool = False,
) -> float:
    """ROUGE-L F-measure (0..1) against a reference is at least ``min``; returns it."""
    __tracebackhide__ = True
    return _assert_reference("rouge_l", output, reference, min=min, stemming=stemming)


def assert_rouge_lsum(
    output: object,
    reference: str,
    min: float | None = None,
    stemming: bool = False,
) -> float:
    """ROUGE-Lsum F-measure (0..1, lines as sentences) against a reference is at least ``min``."""
    __tracebackhide__ = True
    return _assert_reference("rouge_lsum", output, reference, min=min, stemming=stemming)


def assert_bleu(
    output: object,
    reference: str,
    min: float | None = None,
) -> float:
    """Sentence BLEU (0..1, sacreBLEU / 100) against a reference is at least ``min``; returns it."""
    __tracebackhide__ = True
    return _assert_reference("bleu", output, reference, min=min)


def assert_chrf(
    output: object,
    reference: str,
    min: float | None = None,
) -> float:
    """Sentence chrF (0..1, sacreBLEU / 100) against a reference is at least ``min``; returns it."""
    __tracebackhide__ = True
    return _assert_reference("chrf", output, reference, min=min)


def assert_perplexity(
    output: object,
    max: float | None = None,
    scorer: PerplexityScorer | None = None,
) -> float:
    """The model's perplexity of the output is at most ``max``; returns it (needs --llm-model or
    ``scorer=``)."""
    __tracebackhide__ = True
    return assert_check("perplexity", output, max=max, scorer=scorer)  # type: ignore[no-any-return]


def assert_classified_as(output: object, label: str, labels: list[str], pattern: str | None = None) -> str:
    """The output maps to the gold ``label`` (``one_of`` rules, a short sentence naming exactly one
    label, or ``pattern``); returns the mapped label."""
    __tracebackhide__ = True
    return assert_check("classified_as", output, label=label, labels=labels, pattern=pattern)  # type: ignore[no-any-return]


def assert_judge(
    output: object,
    rubric: str,
    reference: str | None = None,
    min_score: float = 3.0,
    mode: Literal["logprobs", "text"] = "logprobs",
    judge: Judge | None = None,
    prompt: str | None = None,
    min_mass: float | None = None,
) -> float:
    """A judge model scores the output (1..5) at least ``min_score``; returns the score (needs
    --llm-judge-model or ``judge=``). The judge reads the request the output answers (``prompt``, or
    the one a model output carries); an inconclusive judge (under ``min_mass`` on the scores) fails."""
    __tracebackhide__ = True
    return assert_check(  # type: ignore[no-any-return]
        "judge",
        output,
        rubric=rubric,
        reference=reference,
        min_score=min_score,
        mode=mode,
        judge=judge,
        prompt=prompt,
        min_mass=min_mass,
    )


def assert_preferred_over(
    output: object,
    other: str,
    rubric: str | None = None,
    allow_tie: bool = False,
    mode: Literal["logprobs", "text"] = "logprobs",
    judge: Judge | None = None,
    prompt: str | None = None,
    min_mass: float | None = None,
) -> float:
    """A judge prefers the output over ``other`` in both orders; returns 1.0 (win) or 0.5 (tie, with
    ``allow_tie``)."""
    __tracebackhide__ = True
    return assert_check(  # type: ignore[no-any-return]
        "preferred_over",
        output,
        other=other,
        rubric=rubric,
        allow_tie=allow_tie,
        mode=mode,
        judge=judge,
        prompt=prompt,
        min_mass=min_mass,
    )


def assert_ner(
    output: object,
    entities: list[GoldEntity],
    source: str,
    min: float | None = None,
    scheme: Scheme = "strict",
    format: EntityFormat = "json",
    pattern: str | None = None,
) -> Any:
    """The entities in the output (JSON ``[{text, type}]`` or inline ``[Ann](PER)``), aligned to
    ``source``, score nervaluate F1 under ``scheme`` of at least ``min`` against the gold ``entities``;
    returns the :class:`~pytest_llmeval.metrics.ner.NERReport`. ``entities`` may be plain dicts
    ``{"text", "type", "start"?}``: they are validated into GoldEntity."""
    __tracebackhide__ = True
    return assert_check(
        "ner", output, entities=entities, source=source, min=min, scheme=scheme, format=format, pattern=pattern
    )


def assert_no_memorisation(
    output: object,
    max_span: int = 50,
    train_data: Path | None = None,
    n: int = 8,
) -> Any:
    """No span of more than ``max_span`` tokens (words and punctuation) is copied verbatim from the
    training data (``train_data``, else the session's ``--llm-train-data``); returns the
    :class:`~pytest_llmeval.metrics.memorisation.CopiedSpan`."""
    __tracebackhide__ = True
    return assert_check("no_memorisation", output, max_span=max_span, train_data=train_data, n=n)


def _same_errors_as_check(check_name: str, helper: Any) -> Any:
    """Wrap ``helper`` so a misspelt or unknown keyword ("substrng=") raises the CheckUsageError that
    ``check()`` raises ("did you mean 'substring'?") instead of Python's bare TypeError."""
    signature = inspect.signature(helper)

    @functools.wraps(helper)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            signature.bind(*args, **kwargs)
        except TypeError:
            given = dict(zip(list(signature.parameters)[1:], args[1:], strict=False))
            given.update(kwargs)
            output = args[0] if args else given.pop("output", None)
            given.pop("output", None)
            check(check_name, output, **given)  # raises the check's own usage error
            raise
        return helper(*args, **kwargs)

    return wrapper


for _helper_name in __all__:
    if _helper_name.removeprefix("assert_") in check_names():
        globals()[_helper_name] = _same_errors_as_check(_helper_name.removeprefix("assert_"), globals()[_helper_name])

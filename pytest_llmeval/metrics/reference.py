"""Reference-based metrics: ROUGE (rouge_score), BLEU and chrF (sacreBLEU), and their checks.

Every score here is on the scale 0..1, sacreBLEU's included (BLEU 0.40 here is sacreBLEU's 40.0), so a
threshold reads the same for every metric: ``rouge_l: {min: 0.4}``, ``bleu: {min: 0.3}``.

Tokenization and non-Latin text:

- ROUGE uses :func:`~pytest_llmeval.metrics._scripts.unicode_words` instead of rouge_score's default
  tokenizer, which keeps only ``[a-z0-9]`` and so scores two identical Chinese or Thai texts 0. Words
  are casefolded; Chinese, Japanese, Thai, Lao, Khmer and Myanmar count one token per character;
  stemming (Porter, as rouge_score's ``use_stemmer``) applies to Latin-script words only. On ASCII
  text the tokens are exactly rouge_score's.
- BLEU's default tokenization ``"auto"`` is sacreBLEU's standard ``13a`` with every character of
  those unspaced scripts as its own token (what sacreBLEU's ``zh`` does for Chinese, extended to
  kana and Thai); on other text it is ``13a`` itself. ``flores200``/``spm`` need a downloaded model and
  are not offered. BLEU is case-sensitive unless ``lowercase=True``, as in sacreBLEU.
- chrF works on characters and needs no tokenizer.

rouge_score and sacrebleu are imported on first use, not at import. rouge_score imports nltk (1-3 s,
most of a warm run) only to split sentences, which is not used here, so nltk is imported only when
Porter stemming is asked for (:func:`_import_rouge_scorer`).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pytest_llmeval.checks.base import CheckResult, CheckUsageError, register_check, truncate
from pytest_llmeval.metrics._scripts import space_unspaced, unicode_words

if TYPE_CHECKING:
    from rouge_score.rouge_scorer import RougeScorer
    from sacrebleu.metrics import BLEU, CHRF

__all__ = [
    "ROUGE_TYPES",
    "BleuTokenize",
    "RougeScore",
    "RougeType",
    "UnicodeRougeTokenizer",
    "corpus_bleu",
    "corpus_chrf",
    "metric_details",
    "rouge",
    "sentence_bleu",
    "sentence_chrf",
    "threshold_result",
]

FAMILY = "reference"

RougeType = Literal["rouge1", "rouge2", "rougeL", "rougeLsum"]
ROUGE_TYPES: tuple[RougeType, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")
BleuTokenize = Literal["auto", "13a", "intl", "zh", "char", "none"]

# rouge_score stems only tokens longer than 3 characters; we keep its rule so ASCII scores match.
_MIN_STEM_LENGTH = 4


@dataclass(frozen=True)
class RougeScore:
    """One ROUGE type's precision, recall and F-measure (the number the checks use), all 0..1."""

    precision: float
    recall: float
    fmeasure: float


class UnicodeRougeTokenizer:
    """A tokenizer for ``rouge_score.rouge_scorer.RougeScorer(tokenizer=...)`` that keeps non-ASCII
    text (see :func:`~pytest_llmeval.metrics._scripts.unicode_words`)."""

    def __init__(self, stemming: bool = False) -> None:
        self.stemming = stemming

    def tokenize(self, text: str) -> list[str]:
        return unicode_words(text, _stem if self.stemming else None)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Porter stemming is the slow part of ROUGE with stemming; words repeat, so cache them.
    if len(word) < _MIN_STEM_LENGTH:
        return word
    return str(_porter().stem(word))


@lru_cache(maxsize=1)
def _porter() -> Any:
    from nltk.stem import porter  # the stemmer rouge_score's own tokenizer uses

    return porter.PorterStemmer()


class _ImportedOnUse(types.ModuleType):
    """Stands in for a module that a library imports at its top but seldom uses: the first attribute
    asked of it imports the real module (an ordinary import) and answers from it."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)


def _import_rouge_scorer() -> type[RougeScorer]:
    """``rouge_score.rouge_scorer``, without importing nltk (1-3 s, most of a warm run) unless used.

    rouge_scorer imports nltk, and its default tokenizer module nltk's Porter stemmer, at their top;
    they are used only to split sentences (``split_summaries``, never asked for here) and by the
    default tokenizer (here always :class:`UnicodeRougeTokenizer`). While rouge_scorer is imported,
    ``sys.modules`` holds stand-ins for the two, removed right after, so rouge_scorer keeps stand-ins
    that import the real modules on first use, and any other import of them is the ordinary one.
    """
    if "rouge_score.rouge_scorer" not in sys.modules:
        import rouge_score

        stand_ins = {
            name: _ImportedOnUse(name) for name in ("nltk", "rouge_score.tokenizers") if name not in sys.modules
        }
        sys.modules.update(stand_ins)
        if "rouge_score.tokenizers" in stand_ins:
            rouge_score.tokenizers = stand_ins["rouge_score.tokenizers"]  # type: ignore[attr-defined]
        try:
            importlib.import_module("rouge_score.rouge_scorer")
        finally:
            for name, stand_in in stand_ins.items():
                if sys.modules.get(name) is stand_in:
                    del sys.modules[name]
            if getattr(rouge_score, "tokenizers", None) is stand_ins.get("rouge_score.tokenizers"):
                del rouge_score.tokenizers  # type: ignore[attr-defined]
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer


@lru_cache(maxsize=32)
def _rouge_scorer(types: tuple[RougeType, ...], stemming: bool) -> RougeScorer:
    """One scorer per configuration: building one per call was the measured bottleneck."""
    return _import_rouge_scorer()(list(types), tokenizer=UnicodeRougeTokenizer(stemming))


def rouge(
    prediction: str,
    reference: str | Sequence[str],
    *,
    types: Sequence[RougeType] = ROUGE_TYPES,
    stemming: bool = False,
) -> dict[RougeType, RougeScore]:
    """ROUGE scores of ``prediction`` against ``reference`` (several references: the best F-measure
    per type, as rouge_score's ``score_multi``).

    ``rougeLsum`` treats each line as a sentence (rouge_score's convention; nltk sentence splitting
    would need a downloaded model), so on a single-line text it equals ``rougeL``.
    """
    unknown = [t for t in types if t not in ROUGE_TYPES]
    if unknown:
        raise ValueError(f"unknown ROUGE type(s) {unknown}: use {', '.join(ROUGE_TYPES)}")
    references = [reference] if isinstance(reference, str) else list(reference)
    if not references:
        raise ValueError("rouge: no reference given")
    scorer = _rouge_scorer(tuple(types), stemming)
    raw = (
        scorer.score(references[0], prediction) if len(references) == 1 else scorer.score_multi(references, prediction)
    )
    return {t: RougeScore(float(raw[t].precision), float(raw[t].recall), float(raw[t].fmeasure)) for t in types}


@lru_cache(maxsize=32)
def _bleu(tokenize: BleuTokenize, lowercase: bool, sentence: bool) -> BLEU:
    from sacrebleu.metrics import BLEU

    # "auto" spaces out unspaced scripts ourselves, then lets 13a do the rest.
    # effective_order at sentence level: a short hypothesis has no 4-grams, and without it sacreBLEU
    # logs a warning and scores even an exact one-word match 0. force=True: model outputs may end in
    # " ." and that is not a sign of pre-tokenized data here (sacreBLEU would log a warning).
    return BLEU(
        tokenize="13a" if tokenize == "auto" else tokenize,
        lowercase=lowercase,
        effective_order=sentence,
        force=True,
    )


@lru_cache(maxsize=8)
def _chrf(word_order: int) -> CHRF:
    from sacrebleu.metrics import CHRF

    return CHRF(word_order=word_order)


def _prepare(text: str, tokenize: BleuTokenize) -> str:
    return space_unspaced(text) if tokenize == "auto" else text


def _reference_list(references: str | Sequence[str], what: str) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError(f"{what}: no reference given")
    return refs


def _reference_streams(
    hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], what: str
) -> list[list[str | None]]:
    """Per-hypothesis references -> sacreBLEU's streams (one list per reference position)."""
    if isinstance(hypotheses, str):
        raise TypeError(f"{what}: hypotheses must be a sequence of strings, not one string")
    if not hypotheses:
        raise ValueError(f"{what}: no hypotheses (an empty corpus has no score)")
    if len(references) != len(hypotheses):
        raise ValueError(
            f"{what}: {len(hypotheses)} hypotheses but {len(references)} references "
            "(give one reference, or a list of references, per hypothesis)"
        )
    per_hypothesis = [_reference_list(r, what) for r in references]
    width = max(len(r) for r in per_hypothesis)
    # None marks "no reference at this position": sacreBLEU's way to vary the count per segment.
    return [[r[i] if i < len(r) else None for r in per_hypothesis] for i in range(width)]


def sentence_bleu(
    hypothesis: str,
    references: str | Sequence[str],
    *,
    tokenize: BleuTokenize = "auto",
    lowercase: bool = False,
) -> float:
    """Sentence BLEU (sacreBLEU, exp smoothing, effective order) on 0..1.

    An empty or one-token hypothesis scores 0.0: BLEU is about n-gram overlap, and a single token has
    none to speak of (for one-word answers use ``equals``, ``one_of`` or chrF). Identical texts of two
    or more tokens score 1.0, a Thai or Chinese sentence alike (characters count as tokens there).
    """
    refs = [_prepare(r, tokenize) for r in _reference_list(references, "sentence_bleu")]
    prepared = _prepare(hypothesis, tokenize)
    if len(prepared.split()) <= 1:
        return 0.0
    score = _bleu(tokenize, lowercase, True).sentence_score(prepared, refs)
    return _unit(score.score)


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str | Sequence[str]],
    *,
    tokenize: BleuTokenize = "auto",
    lowercase: bool = False,
) -> float:
    """Corpus BLEU (sacreBLEU's standard: n-gram counts summed over the corpus, then combined) on 0..1.

    ``references[i]`` is the reference (or list of references) of ``hypotheses[i]``. Not the mean of
    sentence BLEU; a corpus whose hypotheses are all shorter than 4 tokens scores 0.0 (no 4-grams).
    """
    streams = _reference_streams(hypotheses, references, "corpus_bleu")
    hyps = [_prepare(h, tokenize) for h in hypotheses]
    refs = [[None if r is None else _prepare(r, tokenize) for r in s] for s in streams]
    # sacrebleu accepts None for a missing reference in a stream; its type hints do not say so
    score = _bleu(tokenize, lowercase, False).corpus_score(hyps, refs)  # type: ignore[arg-type]
    return _unit(score.score)


def sentence_chrf(hypothesis: str, references: str | Sequence[str], *, word_order: int = 0) -> float:
    """Sentence chrF on 0..1 (``word_order=2`` is chrF++). Characters only: any script works as is."""
    refs = _reference_list(references, "sentence_chrf")
    return _unit(_chrf(word_order).sentence_score(hypothesis, refs).score)


def corpus_chrf(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], *, word_order: int = 0) -> float:
    """Corpus chrF on 0..1: character n-gram statistics summed over the corpus."""
    streams = _reference_streams(hypotheses, references, "corpus_chrf")
    score = _chrf(word_order).corpus_score(list(hypotheses), streams)  # type: ignore[arg-type]
    return _unit(score.score)


def _unit(score_0_100: float) -> float:
    # sacreBLEU's exact match is 100.00000000000004 (float noise): clamp so "== 1.0" holds.
    return min(1.0, max(0.0, float(score_0_100) / 100.0))


# -- checks ----------------------------------------------------------------------------------------


def metric_details(name: str, value: float, higher_is_better: bool, **extra: Any) -> dict[str, Any]:
    """``CheckResult.details`` for a metric: the uniform ``"metric"`` entry reports and the regression
    store read, plus check-specific extras."""
    return {"metric": {"name": name, "value": value, "higher_is_better": higher_is_better}, **extra}


def threshold_result(
    name: str,
    value: float,
    *,
    bound: float | None,
    higher_is_better: bool,
    against: str,
    text: str,
    details: dict[str, Any] | None = None,
    value_format: str = ".2f",
) -> CheckResult:
    """A metric compared with an optional bound: ``min`` when higher is better, else ``max``.

    Without a bound the check passes and only records the value. ``against`` describes what the output
    was compared with (" against reference '...'"), for the failure message.
    """
    extra = dict(details or {})
    shown = format(value, value_format)
    if bound is None:
        passed = True
        message = f"{name}: {shown} (no threshold: recorded only)"
    else:
        extra["threshold"] = {"min" if higher_is_better else "max": bound}
        passed = value >= bound if higher_is_better else value <= bound
        op, word = (">=", "min") if higher_is_better else ("<=", "max")
        if passed:
            message = f"{name}: {shown} {op} {word} {bound:{value_format}}"
        else:
            bad_op = "<" if higher_is_better else ">"
            message = f"{name}: {shown} {bad_op} {word} {bound:{value_format}}{against}; output {truncate(text)}"
    return CheckResult(
        name,
        passed,
        message,
        score=value,
        details=metric_details(name, value, higher_is_better, **extra),
        value=value,
    )


def _check_min(name: str, minimum: float | None) -> None:
    if minimum is not None and not 0.0 <= minimum <= 1.0:
        raise CheckUsageError(
            f"check {name!r}: argument 'min' is {minimum}, outside 0..1: reference metrics are on "
            f"0..1 (sacreBLEU's 40 is 0.40 here)"
        )


def _check_reference(name: str, reference: str) -> None:
    if not reference.strip():
        raise CheckUsageError(f"check {name!r}: argument 'reference' is empty")


def _reference_check(
    name: str,
    text: str,
    reference: str,
    minimum: float | None,
    score: Callable[[str, str], float],
    **extra: Any,
) -> CheckResult:
    _check_reference(name, reference)
    _check_min(name, minimum)
    value = score(text, reference)
    return threshold_result(
        name,
        value,
        bound=minimum,
        higher_is_better=True,
        against=f" against reference {truncate(reference, limit=80)}",
        text=text,
        details=extra,
    )


def _rouge_check(
    name: str, kind: RougeType, text: str, reference: str, minimum: float | None, stemming: bool
) -> CheckResult:
    def score(output: str, ref: str) -> float:
        return rouge(output, ref, types=(kind,), stemming=stemming)[kind].fmeasure

    return _reference_check(name, text, reference, minimum, score, stemming=stemming)


@register_check(
    "rouge_1",
    family=FAMILY,
    summary="ROUGE-1 F-measure against a reference is at least min.",
)
def rouge_1(text: str, reference: str, min: float | None = None, stemming: bool = False) -> CheckResult:
    """Unigram overlap (F-measure, 0..1) with ``reference``; passes when >= ``min`` (no min: records)."""
    return _rouge_check("rouge_1", "rouge1", text, reference, min, stemming)


@register_check(
    "rouge_2",
    family=FAMILY,
    summary="ROUGE-2 F-measure against a reference is at least min.",
)
def rouge_2(text: str, reference: str, min: float | None = None, stemming: bool = False) -> CheckResult:
    """Bigram overlap (F-measure, 0..1) with ``reference``; passes when >= ``min`` (no min: records)."""
    return _rouge_check("rouge_2", "rouge2", text, reference, min, stemming)


@register_check(
    "rouge_l",
    family=FAMILY,
    summary="ROUGE-L F-measure against a reference is at least min.",
)
def rouge_l(text: str, reference: str, min: float | None = None, stemming: bool = False) -> CheckResult:
    """Longest common subsequence (F-measure, 0..1) with ``reference``; passes when >= ``min``."""
    return _rouge_check("rouge_l", "rougeL", text, reference, min, stemming)


@register_check(
    "rouge_lsum",
    family=FAMILY,
    summary="ROUGE-Lsum (lines as sentences) against a reference is at least min.",
)
def rouge_lsum(text: str, reference: str, min: float | None = None, stemming: bool = False) -> CheckResult:
    """Summary-level LCS (F-measure, 0..1), each line a sentence; passes when >= ``min``."""
    return _rouge_check("rouge_lsum", "rougeLsum", text, reference, min, stemming)


@register_check(
    "bleu",
    family=FAMILY,
    summary="Sentence BLEU (0..1) against a reference is at least min.",
)
def bleu(text: str, reference: str, min: float | None = None) -> CheckResult:
    """sacreBLEU sentence BLEU on 0..1 (see :func:`sentence_bleu`); passes when >= ``min``."""
    return _reference_check("bleu", text, reference, min, lambda out, ref: sentence_bleu(out, ref))


@register_check(
    "chrf",
    family=FAMILY,
    summary="Sentence chrF (0..1) against a reference is at least min.",
)
def chrf(text: str, reference: str, min: float | None = None) -> CheckResult:
    """sacreBLEU sentence chrF on 0..1 (see :func:`sentence_chrf`); passes when >= ``min``."""
    return _reference_check("chrf", text, reference, min, lambda out, ref: sentence_chrf(out, ref))

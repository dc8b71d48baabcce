"""Overfitting: the perplexity gap between training text and held-out text, with intervals.

Both sides are measured the same way: the same number of documents (``max_texts``, a seeded sample of
each file), each cut to the same ``max_chars`` at a word boundary, scored by the model under test in
one call per side (token-weighted perplexity, :mod:`~pytest_llmeval.metrics.perplexity_scoring`).

- ``train`` and ``heldout``: each side's perplexity with a percentile-bootstrap interval over its
  documents (resampling documents, not tokens: tokens of one document are not independent);
- ``gap``: ``ln(ppl_heldout) - ln(ppl_train)``, the held-out text's extra negative log-likelihood per
  token in nats (0: no gap; a model that memorised its training data scores its training text much
  better than new text), with a bootstrap interval resampling both sides independently;
- ``ratio``: ``ppl_heldout / ppl_train`` (= ``exp(gap)``), with the same interval transformed.

The intervals come from ``scipy.stats.bootstrap`` (percentile method, seeded: the same data gives the
same interval). A side needs at least 2 documents for an interval.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from pytest_llmeval.checks.base import CheckResult, CheckUsageError
from pytest_llmeval.metrics.memorisation import TrainingDataError, default_training_data, read_documents
from pytest_llmeval.metrics.perplexity_scoring import PerplexityResult

__all__ = [
    "Interval",
    "PerplexityGap",
    "PerplexityGapSpec",
    "assert_perplexity_gap",
    "perplexity_gap",
    "perplexity_gap_from",
    "sample_texts",
]


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def format(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}]"


@dataclass(frozen=True)
class PerplexityGap:
    """Train and held-out perplexities and their gap, each with a ``confidence`` interval."""

    train: Interval
    heldout: Interval
    gap: Interval  # nats per token
    ratio: Interval
    texts: tuple[int, int]  # documents scored on each side
    confidence: float

    def format(self) -> str:
        level = f"{self.confidence:.0%}"
        return (
            f"perplexity train {self.train.format()} ({self.texts[0]} texts), held-out {self.heldout.format()} "
            f"({self.texts[1]} texts); gap {self.gap.format()} nats/token, ratio {self.ratio.format()} ({level} intervals)"
        )


class PerplexityGapSpec(pydantic.BaseModel):
    """A case file's ``perplexity_gap:`` block: one more item, ``file.eval.yaml::perplexity_gap``,
    measures the gap between ``train_data`` (default: the session's ``--llm-train-data``) and
    ``heldout_data`` (paths relative to the case file) and fails above ``max_gap``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    heldout_data: str = pydantic.Field(min_length=1)
    train_data: str | None = pydantic.Field(default=None, min_length=1)
    max_gap: float | None = pydantic.Field(default=None, ge=0, allow_inf_nan=False)
    max_texts: int = pydantic.Field(default=64, ge=2, le=100_000)
    max_chars: int = pydantic.Field(default=2000, ge=20, le=1_000_000)

    def resolved(self, folder: Path) -> PerplexityGapSpec:
        """The spec with its paths made absolute against ``folder`` (the case file's)."""

        def absolute(path: str | None) -> str | None:
            return None if path is None else str(folder / Path(path).expanduser())

        return self.model_copy(
            update={"heldout_data": absolute(self.heldout_data), "train_data": absolute(self.train_data)}
        )


def _log_ppl(nll: Any, tokens: Any, index: Any) -> Any:
    return nll[index].sum(axis=-1) / tokens[index].sum(axis=-1)


def perplexity_gap_from(
    train: PerplexityResult,
    heldout: PerplexityResult,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> PerplexityGap:
    """The gap between two perplexity results (per-text NLL and token counts), with bootstrap intervals."""
    import numpy as np

    try:
        from scipy.stats import bootstrap
    except ImportError:
        raise CheckUsageError(
            "the perplexity gap's intervals need scipy: pip install 'pytest-llmeval[overfitting]'"
        ) from None
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"perplexity gap: confidence must be between 0 and 1, got {confidence}")
    sides = {"training": train, "held-out": heldout}
    for name, result in sides.items():
        if len(result.per_text_nll) < 2:
            raise ValueError(
                f"perplexity gap: the {name} side has {len(result.per_text_nll)} text; an interval needs at least 2"
            )
    nll_t, tok_t = np.array(train.per_text_nll), np.array(train.per_text_tokens, dtype=float)
    nll_h, tok_h = np.array(heldout.per_text_nll), np.array(heldout.per_text_tokens, dtype=float)
    idx_t, idx_h = np.arange(len(nll_t)), np.arange(len(nll_h))
    options: dict[str, Any] = {
        "n_resamples": resamples,
        "confidence_level": confidence,
        "method": "percentile",
        "vectorized": True,
    }

    def one_side(nll: Any, tokens: Any, index: Any) -> Interval:
        result = bootstrap(
            (index,), lambda i, axis=-1: _log_ppl(nll, tokens, i), rng=np.random.default_rng(seed), **options
        )
        value = float(_log_ppl(nll, tokens, index))
        ci = result.confidence_interval
        return Interval(math.exp(value), math.exp(float(ci.low)), math.exp(float(ci.high)))

    def gap_statistic(i: Any, j: Any, axis: int = -1) -> Any:
        return _log_ppl(nll_h, tok_h, j) - _log_ppl(nll_t, tok_t, i)

    gap_result = bootstrap((idx_t, idx_h), gap_statistic, rng=np.random.default_rng(seed), **options)
    gap_value = float(gap_statistic(idx_t, idx_h))
    gap = Interval(gap_value, float(gap_result.confidence_interval.low), float(gap_result.confidence_interval.high))
    return PerplexityGap(
        train=one_side(nll_t, tok_t, idx_t),
        heldout=one_side(nll_h, tok_h, idx_h),
        gap=gap,
        ratio=Interval(math.exp(gap.value), math.exp(gap.low), math.exp(gap.high)),
        texts=(len(nll_t), len(nll_h)),
        confidence=confidence,
    )


def sample_texts(documents: Sequence[str], max_texts: int, max_chars: int, seed: int) -> list[str]:
    """Up to ``max_texts`` documents (a seeded sample, in file order), each cut to ``max_chars`` at a
    word boundary; empty documents are skipped."""
    usable = [d for d in documents if d.strip()]
    chosen = sorted(random.Random(seed).sample(range(len(usable)), min(max_texts, len(usable))))
    texts = []
    for i in chosen:
        text = usable[i]
        if len(text) > max_chars:
            cut = text[:max_chars]
            space = max(cut.rfind(" "), cut.rfind("\n"))
            text = cut[:space] if space > 0 else cut
        texts.append(text)
    return texts


def perplexity_gap(
    llm: Any,
    train_data: str | Path | None,
    heldout_data: str | Path,
    *,
    max_texts: int = 64,
    max_chars: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PerplexityGap:
    """Score a sample of each file with ``llm`` (a ModelUnderTest; see the module docstring).
    ``train_data=None``: the session's ``--llm-train-data``."""
    if train_data is None:
        train_data = default_training_data()
        if train_data is None:
            raise TrainingDataError(
                "the perplexity gap needs the training data: pass train_data=<file> or run with --llm-train-data FILE"
            )
    sides = []
    for path in (train_data, heldout_data):
        texts = sample_texts(read_documents(path), max_texts, max_chars, seed)
        sides.append(llm.perplexity([re.sub(r"\s+$", "", t) for t in texts]))
    return perplexity_gap_from(sides[0], sides[1], confidence=confidence, seed=seed)


def assert_perplexity_gap(
    llm: Any,
    train_data: str | Path | None,
    heldout_data: str | Path,
    *,
    max_gap: float | None = None,
    max_texts: int = 64,
    max_chars: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PerplexityGap:
    """Measure the gap and fail (CheckFailed) when its point estimate exceeds ``max_gap`` nats/token
    (no max: records it). Records the metric ``perplexity_gap`` (lower is better) on the test.
    ``train_data=None``: the session's ``--llm-train-data``."""
    __tracebackhide__ = True
    from pytest_llmeval.checks.base import CheckFailed
    from pytest_llmeval.running_test import report_check

    if max_gap is not None and max_gap < 0:
        raise CheckUsageError(f"perplexity gap: max_gap must be >= 0, got {max_gap}")
    try:
        measured = perplexity_gap(
            llm, train_data, heldout_data, max_texts=max_texts, max_chars=max_chars, seed=seed, confidence=confidence
        )
    except (TrainingDataError, ValueError) as exc:
        raise CheckUsageError(str(exc)) from None
    passed = max_gap is None or measured.gap.value <= max_gap
    verdict = "" if max_gap is None else (f" <= max {max_gap:g}" if passed else f" > max {max_gap:g}")
    result = CheckResult(
        "perplexity_gap",
        passed,
        f"perplexity_gap: {measured.gap.value:.3g} nats/token{verdict}; {measured.format()}",
        score=measured.gap.value,
        details={
            "metric": {
                "name": "perplexity_gap",
                "value": measured.gap.value,
                "higher_is_better": False,
                "low": measured.gap.low,
                "high": measured.gap.high,
                "confidence": measured.confidence,
            }
        },
        value=measured,
    )
    report_check(result)
    if not passed:
        raise CheckFailed(result)
    return measured

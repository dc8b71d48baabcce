"""The statistics of human review: estimates with intervals, and agreement, each from scipy or a library.

The intervals themselves are :mod:`pytest_llmeval.statistics`' (Wilson for win rates, Student's t
for rating means), the ones the run comparison uses; this module wraps them as :class:`Estimate`,
the point and its interval as the review's tables and JSON show them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_llmeval.statistics import DEFAULT_CONFIDENCE, t_interval, wilson_interval

__all__ = [
    "Correlation",
    "Estimate",
    "krippendorff_alpha",
    "mean_estimate",
    "proportion_estimate",
    "spearman",
]


@dataclass(frozen=True)
class Estimate:
    """An estimate with its two-sided confidence interval (``low``/``high`` are NaN when undefined)."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = DEFAULT_CONFIDENCE

    def format(self, digits: int = 2, percent: bool = False) -> str:
        if percent:
            return f"{self.estimate:.1%} [{self.low:.1%}, {self.high:.1%}]"
        if math.isnan(self.low):
            return f"{self.estimate:.{digits}f} [n too small for an interval]"
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho over ``n`` pairs with its two-sided p-value (NaN when undefined)."""

    rho: float
    p_value: float
    n: int


def proportion_estimate(successes: float, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Estimate:
    """``successes / n`` (a tie may count as half a success) with its Wilson interval; n >= 1."""
    interval = wilson_interval(successes, n, confidence)
    if interval is None:
        raise ValueError("a proportion needs at least one case")
    return Estimate(successes / n, interval.low, interval.high, n, confidence)


def mean_estimate(
    values: Sequence[float], confidence: float = DEFAULT_CONFIDENCE, scale: tuple[float, float] | None = None
) -> Estimate:
    """The mean of ``values`` with Student's t interval (NaN bounds for a single value), cut to
    ``scale`` when given (a mean of 1-5 ratings cannot lie above 5, whatever the t interval says)."""
    if not values:
        raise ValueError("a mean needs at least one value")
    mean = math.fsum(values) / len(values)
    interval = t_interval(values, confidence)
    if interval is None:
        return Estimate(mean, math.nan, math.nan, len(values), confidence)
    low, high = interval.low, interval.high
    if scale is not None:
        low, high = max(scale[0], low), min(scale[1], high)
    return Estimate(mean, low, high, len(values), confidence)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> Correlation:
    """Spearman's rank correlation (scipy), NaN when fewer than three pairs or one side is constant."""
    from scipy.stats import spearmanr

    if len(xs) != len(ys):
        raise ValueError(f"spearman: {len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return Correlation(math.nan, math.nan, n)
    result = spearmanr(xs, ys)
    return Correlation(float(result.statistic), float(result.pvalue), n)


def krippendorff_alpha(
    ratings: Mapping[str, Mapping[object, float]], level: Literal["nominal", "ordinal", "interval"] = "ordinal"
) -> float | None:
    """Krippendorff's alpha (the ``krippendorff`` package) over ``{annotator: {item: value}}``.

    Items rated by only one annotator carry no agreement information and are dropped. Returns None
    when fewer than two annotators rated a common item, or when every value is the same (alpha is
    undefined without variation).
    """
    import numpy as np

    counts: dict[object, int] = {}
    for by_item in ratings.values():
        for item in by_item:
            counts[item] = counts.get(item, 0) + 1
    shared = sorted((item for item, count in counts.items() if count >= 2), key=repr)
    if not shared:
        return None
    annotators = sorted(a for a, by_item in ratings.items() if any(item in by_item for item in shared))
    matrix = np.array([[float(ratings[a].get(item, np.nan)) for item in shared] for a in annotators], dtype=float)
    values = matrix[~np.isnan(matrix)]
    if len(set(values.tolist())) < 2:
        return None
    import krippendorff

    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement=level))

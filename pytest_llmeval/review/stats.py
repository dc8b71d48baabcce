"""The statistics of human review: intervals and agreement, each from scipy or a library.

``wilson_interval`` and ``mean_interval`` are the same intervals the run comparison needs; they are
kept here, small and tested against published values, until the two share one module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Correlation",
    "Interval",
    "krippendorff_alpha",
    "mean_interval",
    "spearman",
    "wilson_interval",
]

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval (``low``/``high`` are NaN when undefined)."""

    estimate: float
    low: float
    high: float
    n: int
    confidence: float = CONFIDENCE

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


def wilson_interval(successes: float, n: int, confidence: float = CONFIDENCE) -> Interval:
    """The Wilson score interval for a proportion ``successes / n``.

    ``successes`` may be fractional (a tie counted as half a win); the formula is the usual one with
    p = successes / n (Wilson 1927; Newcombe 1998, method 3). Raises ValueError for n < 1.
    """
    from scipy.stats import norm

    if n < 1:
        raise ValueError("wilson_interval: n must be at least 1")
    if not 0 <= successes <= n:
        raise ValueError(f"wilson_interval: successes {successes} outside 0..{n}")
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n, confidence)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` with Student's t interval (NaN bounds for fewer than two values;
    a zero-width interval when every value is the same)."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        raise ValueError("mean_interval: no values")
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, confidence)
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half, n, confidence)


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

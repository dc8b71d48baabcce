"""Paired statistics for comparing two runs of the same suite: plain functions on numpy and scipy.

Two runs of one suite are *paired*: each case was answered by both models. Paired tests use that
(a case one model passes and the other fails says more than two pass rates do):

- :func:`mcnemar_exact`: the exact McNemar test, a binomial test on the discordant pairs.
- :func:`paired_bootstrap`: the mean paired difference with a seeded percentile bootstrap interval,
  and the exact (or, for many cases, seeded Monte Carlo) sign-flip permutation test's p-value.
- :func:`wilson_interval`: a pass rate's (or a win rate's) interval.
- :func:`t_interval`: Student's t interval of a mean (human ratings).
- :func:`holm`: Holm's step-down adjustment of a family of p-values.
- :func:`detectable_floor` and :func:`minimum_detectable_difference`: how small a change a suite of
  ``n`` cases can detect, so a user knows when a suite is too small to decide.

scipy is imported inside the functions: importing it costs a few tenths of a second, and a pytest
session that compares nothing should not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "is_confidence",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "Interval",
    "PairedDifference",
    "bootstrap_interval",
    "check_confidence",
    "detectable_floor",
    "holm",
    "mcnemar_exact",
    "mean_interval",
    "minimum_detectable_difference",
    "paired_bootstrap",
    "sign_flip_p",
    "t_interval",
    "wilson_interval",
]

DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
DEFAULT_POWER = 0.8
# Resamples are drawn in batches of at most this many values, so memory stays flat with suite size.
_BATCH_ELEMENTS = 2_000_000
_EXACT_PATTERNS = 2**16  # the sign-flip test enumerates every pattern up to 16 cases (within resamples)


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval ``[low, high]`` at ``confidence`` (e.g. 0.95)."""

    low: float
    high: float
    confidence: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"[{self.low:+.3f}, {self.high:+.3f}]"


@dataclass(frozen=True)
class PairedDifference:
    """The mean of paired differences (``after - before``) over ``n`` cases. ``interval`` is ``None``
    with fewer than two cases (one difference has no spread to resample); ``p_value`` is the two-sided
    sign-flip test's (1.0 for one case or when every difference is 0)."""

    n: int
    mean: float
    interval: Interval | None
    p_value: float


def is_confidence(level: float) -> bool:
    """Whether ``level`` is a usable confidence: from 0.5 up to (not including) 1. The one rule for
    options, the command line and the functions here."""
    return 0.5 <= level < 1  # NaN fails too


def check_confidence(confidence: float) -> float:
    """``confidence`` itself when it is a number from 0.5 up to (not including) 1, else ``ValueError``."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not is_confidence(confidence):
        raise ValueError(f"confidence {confidence!r} must be a number from 0.5 up to (not including) 1, e.g. 0.95")
    return float(confidence)


def wilson_interval(successes: float, trials: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Wilson score interval for ``successes`` out of ``trials`` (``None`` when ``trials`` is 0).

    ``successes`` may be fractional: a win rate counts a tie as half a win, so 3 wins and 2 ties in
    6 are 4 successes. The formula is Wilson's (1927; Newcombe 1998, method 3, no continuity
    correction), written out because scipy's ``binomtest(...).proportion_ci`` takes whole counts only;
    for whole counts the two agree (tested)."""
    from scipy.stats import norm

    check_confidence(confidence)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials is not a proportion")
    if trials == 0:
        return None
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At p = 0 or 1 the bound is exactly 0 or 1; floating point alone might miss it by an ulp.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high, confidence)


def t_interval(values: Sequence[float], confidence: float = DEFAULT_CONFIDENCE) -> Interval | None:
    """Student's t interval of the mean of ``values`` (``None`` for fewer than two values; the point
    itself when all are equal). For small samples of bounded scores such as 1-5 ratings, where a
    bootstrap of five values would be overconfident."""
    import numpy as np
    from scipy.stats import t

    check_confidence(confidence)
    sample = np.asarray(list(values), dtype=float)
    if sample.size < 2:
        return None
    mean = float(sample.mean())
    if np.all(sample == sample[0]):
        return Interval(mean, mean, confidence)  # no spread: scipy's scale 0 would give NaN
    sem = float(sample.std(ddof=1)) / math.sqrt(sample.size)
    low, high = t.interval(confidence, sample.size - 1, loc=mean, scale=sem)
    return Interval(float(low), float(high), confidence)


def mcnemar_exact(broke: int, fixed: int) -> float:
    """Two-sided exact McNemar p-value: ``broke`` cases passed before and fail now, ``fixed`` failed
    before and pass now; under no change each discordant pair goes either way with probability 1/2.
    1.0 when there is no discordant pair (nothing changed, nothing to test)."""
    from scipy.stats import binomtest

    if broke < 0 or fixed < 0:
        raise ValueError(f"discordant counts must be non-negative, got {broke} and {fixed}")
    if broke + fixed == 0:
        return 1.0
    return float(binomtest(fixed, broke + fixed, 0.5, alternative="two-sided").pvalue)


def paired_bootstrap(
    differences: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedDifference:
    """The mean of per-case differences with a percentile bootstrap interval (cases resampled with
    replacement, ``resamples`` times, from ``seed``) and the two-sided sign-flip permutation p-value
    (exact when ``2**n <= resamples``, else ``resamples`` seeded random flips).

    Why two procedures: the bootstrap gives the effect's interval, but with a handful of cases it is
    overconfident (two cases that both dropped by 0.1 give the interval [-0.1, -0.1]); the sign-flip
    test is exact at any size (two cases can never reach p < 0.5), so a verdict that needs both is
    never more confident than the data.
    """
    import numpy as np

    check_confidence(confidence)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples {resamples!r} must be a whole number of at least 100 (e.g. 10000)")
    values = np.asarray(list(differences), dtype=float)
    if values.size == 0:
        raise ValueError("no paired differences: the two runs share no case with this value")
    if not np.all(np.isfinite(values)):
        raise ValueError("paired differences must be finite numbers (drop cases where a side is undefined)")
    interval = mean_interval(values, confidence=confidence, resamples=resamples, seed=seed)
    return PairedDifference(
        int(values.size), float(values.mean()), interval, sign_flip_p(values, resamples=resamples, seed=seed)
    )


def mean_interval(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval | None:
    """The percentile bootstrap interval of the mean of ``values``; ``None`` for fewer than two
    values (one has no spread to resample), the point itself when all are equal."""
    import numpy as np

    sample = np.asarray(values, dtype=float)
    if sample.size < 2:
        return None
    if np.all(sample == sample[0]):
        # No spread: every resample has the same mean (scipy would warn about the degenerate sample).
        return Interval(float(sample[0]), float(sample[0]), confidence)
    return bootstrap_interval(sample, confidence=confidence, resamples=resamples, seed=seed)


def sign_flip_p(
    differences: Sequence[float] | np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
) -> float:
    """Two-sided p-value of the paired sign-flip permutation test of "mean difference = 0": under
    the null each difference is as likely negative as positive, so the p-value is the share of sign
    patterns whose mean is at least as far from 0 as the observed one. Every pattern of the ``n``
    non-zero differences when ``2**n <= resamples`` and ``n <= 16`` (exact); else ``resamples`` seeded random patterns, with the observed one
    counted in (``(hits + 1) / (resamples + 1)``, never 0), as scipy's ``permutation_test`` does.

    Written on numpy rather than ``scipy.stats.permutation_test`` because the latter takes seconds
    and gigabytes on a few thousand cases; the test suite checks the two agree."""
    import numpy as np

    all_values = np.asarray(differences, dtype=float)
    # A zero difference is the same under either sign: only the others are flipped (the means'
    # common factor 1/n cancels), so ten changed cases among a thousand are tested exactly.
    values = all_values[all_values != 0]
    n = int(values.size)
    observed = abs(float(values.sum()))
    tolerance = 1e-12 * max(1.0, observed)  # a pattern equal to the observed one up to float error counts
    if n == 0 or observed == 0:
        return 1.0
    if 2**n <= min(resamples, _EXACT_PATTERNS):
        patterns = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        sums = np.abs(patterns @ values)
        return float(np.mean(sums >= observed - tolerance))
    rng = np.random.default_rng(seed)
    hits = 0
    batch = max(1, min(resamples, _BATCH_ELEMENTS // n))
    for start in range(0, resamples, batch):
        size = min(batch, resamples - start)
        signs = rng.integers(0, 2, size=(size, n), dtype=np.int8) * 2 - 1
        hits += int(np.count_nonzero(np.abs(signs @ values) >= observed - tolerance))
    return min(1.0, (hits + 1) / (resamples + 1))


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` (at least two, not all equal)."""
    import numpy as np
    from scipy.stats import bootstrap

    sample = np.asarray(values, dtype=float)
    result = bootstrap(
        (sample,),
        _mean,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
        batch=max(1, min(resamples, _BATCH_ELEMENTS // sample.size)),
    )
    return Interval(float(result.confidence_interval.low), float(result.confidence_interval.high), confidence)


def _mean(sample: Any, axis: int = -1) -> Any:
    import numpy as np

    return np.mean(sample, axis=axis)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: sort ascending, multiply the i-th
    smallest (from 0) by ``m - i``, carry the running maximum, cap at 1. Rejecting where the adjusted
    value is below alpha controls the family-wise error rate at alpha."""
    for p in p_values:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"p-value {p!r} is not a number from 0 to 1")
    m = len(p_values)
    order = sorted(range(m), key=lambda index: p_values[index])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def detectable_floor(cases: int, confidence: float = DEFAULT_CONFIDENCE) -> float | None:
    """The smallest pass-rate change that can be significant at all with ``cases`` paired cases: the
    exact McNemar test needs ``m`` discordant pairs all one way with ``2 * 0.5**m < 1 - confidence``,
    so no change under ``m / cases`` can be called. ``None`` when even every case flipping cannot."""
    check_confidence(confidence)
    alpha = 1 - confidence
    needed = 1
    while 2 * 0.5**needed >= alpha:
        needed += 1
    return None if needed > cases else needed / cases


def minimum_detectable_difference(
    cases: int,
    discordant_rate: float,
    confidence: float = DEFAULT_CONFIDENCE,
    power: float = DEFAULT_POWER,
) -> float | None:
    """The pass-rate change a paired test on ``cases`` cases detects with probability ``power``, when
    a fraction ``discordant_rate`` of cases flip (either way) between the runs. Connor's (1987) sample
    size for McNemar's test, ``n = (z_a * sqrt(psi) + z_b * sqrt(psi - d**2))**2 / d**2``, solved for
    ``d``. ``None`` when no change up to ``discordant_rate`` reaches that power (too few cases or too
    few flips)."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    check_confidence(confidence)
    if not 0 < power < 1:
        raise ValueError(f"power {power!r} must be between 0 and 1, e.g. 0.8")
    if cases < 1 or not 0 < discordant_rate <= 1:
        return None
    z_alpha = float(norm.ppf(1 - (1 - confidence) / 2))
    z_beta = float(norm.ppf(power))
    psi = discordant_rate

    def needed_cases(difference: float) -> float:
        root = z_alpha * math.sqrt(psi) + z_beta * math.sqrt(max(0.0, psi - difference**2))
        return root**2 / difference**2 - cases

    if needed_cases(psi) > 0:  # even a change where every flip goes one way needs more cases
        return None
    return float(brentq(needed_cases, 1e-9, psi))

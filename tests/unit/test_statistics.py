"""The paired statistics against known values: textbook McNemar tables, Newcombe's published Wilson
intervals, a hand-worked Holm table, and the bootstrap's coverage on a seeded simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_llmeval.statistics import (
    Interval,
    bootstrap_interval,
    check_confidence,
    detectable_floor,
    holm,
    mcnemar_exact,
    minimum_detectable_difference,
    paired_bootstrap,
    sign_flip_p,
    t_interval,
    wilson_interval,
)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, Table II, method 3 (Wilson score without continuity correction).
@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombes_published_values(successes: int, trials: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, trials)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


def test_wilson_edge_cases() -> None:
    assert wilson_interval(0, 0) is None
    one = wilson_interval(1, 1)  # K=1: one sample that passed
    assert one is not None and one.high == 1.0 and 0.2 < one.low < 0.21  # 1/(1+z^2) = 0.2065
    with pytest.raises(ValueError, match="3 successes out of 2 trials is not a proportion"):
        wilson_interval(3, 2)


def test_wilson_agrees_with_scipy_for_whole_counts_and_takes_fractional_ones() -> None:
    from scipy.stats import binomtest

    for successes, trials in [(0, 1), (1, 1), (3, 7), (13, 40), (99, 100)]:
        ci = binomtest(successes, trials).proportion_ci(confidence_level=0.9, method="wilson")
        interval = wilson_interval(successes, trials, 0.9)
        assert interval is not None
        assert (interval.low, interval.high) == (pytest.approx(ci.low, abs=1e-12), pytest.approx(ci.high, abs=1e-12))
    # A win rate counts a tie as half: 3 wins, 2 ties, 1 loss is 4 of 6, the Wilson interval of p = 4/6.
    half = wilson_interval(3 + 2 * 0.5, 6)
    assert half is not None and (round(half.low, 4), round(half.high, 4)) == (0.3000, 0.9032)
    with pytest.raises(ValueError, match="2.5 successes out of 2 trials is not a proportion"):
        wilson_interval(2.5, 2)


def test_t_interval_is_students_t() -> None:
    # mean 3, sd 1.5811, se 0.7071, t(0.975, 4) = 2.7764: 3 -+ 1.9632
    interval = t_interval([1, 2, 3, 4, 5])
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (1.0368, 4.9632)
    # Two values 4 and 5: mean 4.5, se 0.5, t(0.95, 1) = 6.3138 at 90%.
    ninety = t_interval([4, 5], confidence=0.9)
    assert ninety is not None and (round(ninety.low, 4), round(ninety.high, 4)) == (1.3431, 7.6569)
    assert t_interval([4]) is None and t_interval([]) is None
    same = t_interval([4, 4, 4])
    assert same is not None and (same.low, same.high) == (4.0, 4.0)


def test_mcnemar_exact_on_textbook_tables() -> None:
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, airway hyper-responsiveness
    # (Bentur et al.): 21 pairs, discordant 1 and 7; exact conditional p = 0.070.
    assert mcnemar_exact(broke=7, fixed=1) == pytest.approx(0.0703125, abs=1e-12)
    assert mcnemar_exact(broke=1, fixed=7) == pytest.approx(0.0703125, abs=1e-12)  # symmetric
    # Agresti, Categorical Data Analysis, presidential approval (794, 150, 86, 570): discordant 150
    # and 86; the exact p is the two-sided binomial tail computed here from first principles.
    tail = sum(math.comb(236, k) for k in range(87)) / 2**236
    assert mcnemar_exact(broke=150, fixed=86) == pytest.approx(2 * tail, rel=1e-9)
    assert mcnemar_exact(broke=0, fixed=5) == pytest.approx(0.0625)  # 2 / 2**5
    assert mcnemar_exact(0, 0) == 1.0  # all ties: no evidence either way


def test_mcnemar_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="discordant counts must be non-negative, got -1 and 2"):
        mcnemar_exact(-1, 2)


def test_holm_against_a_hand_worked_table() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Holm (1979) caps at 1 and keeps ties in order
    assert holm([0.5, 0.5, 0.01]) == pytest.approx([1.0, 1.0, 0.03])
    assert holm([]) == []
    assert holm([0.2]) == [0.2]
    with pytest.raises(ValueError, match="p-value 1.5 is not a number from 0 to 1"):
        holm([0.1, 1.5])


def test_bootstrap_interval_covers_the_true_difference_at_the_nominal_rate() -> None:
    """1,000 seeded simulated suites of 60 paired cases (true mean difference 0.1, skewed noise): the
    95% interval must contain 0.1 in 95% +- 2.5% of them (the percentile bootstrap undercovers a
    little at this size; 2.5% is about 3.6 binomial standard errors at 1,000 trials)."""
    rng = np.random.default_rng(20261130)
    trials, covered = 1000, 0
    for trial in range(trials):
        noise = rng.exponential(0.2, size=60) - 0.2  # mean 0, skewed like score differences
        covered += bootstrap_interval(0.1 + noise, resamples=1000, seed=trial).contains(0.1)
    assert abs(covered / trials - 0.95) <= 0.025, covered


def test_bootstrap_is_seeded() -> None:
    values = [0.1, -0.2, 0.05, 0.3, 0.0, 0.12, -0.01]
    assert paired_bootstrap(values, seed=3) == paired_bootstrap(values, seed=3)
    assert paired_bootstrap(values, seed=3).interval != paired_bootstrap(values, seed=4).interval


def test_sign_flip_p_value_is_exact_for_few_cases() -> None:
    estimate = paired_bootstrap([0.1, 0.2, 0.15, -0.05, 0.3])
    assert estimate.p_value == pytest.approx(4 / 32)  # 4 of the 32 sign patterns are as extreme
    assert estimate.mean == pytest.approx(0.14)


def test_bootstrap_edge_cases() -> None:
    one = paired_bootstrap([0.4])  # one case: a mean, no interval, no evidence
    assert (one.n, one.mean, one.interval, one.p_value) == (1, 0.4, None, 1.0)
    ties = paired_bootstrap([0.0] * 6)  # all ties
    assert ties.interval == Interval(0.0, 0.0, 0.95) and ties.p_value == 1.0
    same = paired_bootstrap([-0.1, -0.1])  # two equal drops: the interval is a point, the test says 0.5
    assert same.interval == Interval(-0.1, -0.1, 0.95) and same.p_value == 0.5
    with pytest.raises(ValueError, match="share no case"):
        paired_bootstrap([])
    with pytest.raises(ValueError, match="must be finite"):
        paired_bootstrap([0.1, float("nan")])
    with pytest.raises(ValueError, match="resamples 10 must be a whole number of at least 100"):
        paired_bootstrap([0.1, 0.2], resamples=10)


@pytest.mark.parametrize("bad", [0.3, 1.0, 95, "0.95", True])
def test_confidence_must_be_a_probability(bad: object) -> None:
    with pytest.raises(ValueError, match="must be a number from 0.5 up to"):
        check_confidence(bad)  # type: ignore[arg-type]


def test_detectable_floor() -> None:
    # at 95%: 5 flips one way give p = 0.0625, 6 give 0.03125
    assert detectable_floor(12) == pytest.approx(0.5)
    assert detectable_floor(6) == 1.0
    assert detectable_floor(5) is None  # even all five flipping cannot be significant
    assert detectable_floor(100, confidence=0.99) == pytest.approx(0.08)  # 2/2**8 = 0.0078


def test_minimum_detectable_difference_inverts_connors_sample_size() -> None:
    z_alpha, z_beta = 1.959963984540054, 0.8416212335729143
    difference = minimum_detectable_difference(200, 0.2)
    assert difference is not None
    n = (z_alpha * math.sqrt(0.2) + z_beta * math.sqrt(0.2 - difference**2)) ** 2 / difference**2
    assert n == pytest.approx(200, rel=1e-6)
    assert 0.08 < difference < 0.09
    assert minimum_detectable_difference(5, 0.2) is None  # too few cases to ever reach 80% power
    assert minimum_detectable_difference(200, 0.0) is None  # nothing flips: nothing to detect


def test_sign_flip_p_agrees_with_scipys_permutation_test() -> None:
    from scipy.stats import permutation_test

    rng = np.random.default_rng(7)
    for size in (12, 40):  # exact enumeration, then Monte Carlo
        values = rng.normal(0.05, 0.2, size)
        ours = sign_flip_p(values, resamples=20_000, seed=1)
        theirs = permutation_test(
            (values,),
            lambda x, axis: np.mean(x, axis=axis),
            permutation_type="samples",
            vectorized=True,
            n_resamples=20_000,
            rng=np.random.default_rng(2),
        ).pvalue
        # exact: equal; Monte Carlo: within about 4 standard errors of 20,000 draws
        assert ours == pytest.approx(
            theirs, abs=0 if size == 12 else 4 * math.sqrt(theirs * (1 - theirs) / 20_000) + 1e-4
        )
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0


def test_sign_flip_ignores_zero_differences_and_stays_exact() -> None:
    """Ten equal drops among 990 unchanged cases: exactly 2 / 2**10, whatever the suite's size."""
    assert sign_flip_p([-0.5] * 10 + [0.0] * 990) == pytest.approx(2 / 2**10)

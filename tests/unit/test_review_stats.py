"""The review statistics against published values: Wilson intervals (Newcombe 1998, method 3),
Student's t interval, Spearman's rho (a textbook example) and Krippendorff's alpha (the example
of Krippendorff's "Computing Krippendorff's alpha-reliability", nominal and interval)."""

from __future__ import annotations

import math

import pytest

from pytest_llmeval.review.stats import (
    krippendorff_alpha,
    mean_interval,
    spearman,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_matches_newcombe(successes: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(successes, n)
    assert interval.estimate == pytest.approx(successes / n)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_wilson_interval_takes_half_wins_for_ties() -> None:
    # 3 wins, 2 ties, 1 loss: 4 successes of 6; the interval is the Wilson one of p = 4/6.
    interval = wilson_interval(3 + 2 * 0.5, 6)
    assert interval.estimate == pytest.approx(4 / 6)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.3000, 0.9032)


def test_wilson_interval_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="n must be at least 1"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="outside 0..3"):
        wilson_interval(4, 3)


def test_mean_interval_is_students_t() -> None:
    interval = mean_interval([1, 2, 3, 4, 5])
    # sd 1.5811, se 0.7071, t(0.975, 4) = 2.7764
    assert interval.estimate == 3
    assert (round(interval.low, 4), round(interval.high, 4)) == (1.0368, 4.9632)
    assert interval.format() == "3.00 [1.04, 4.96]"


def test_mean_interval_of_one_value_has_no_interval() -> None:
    interval = mean_interval([4])
    assert interval.estimate == 4 and math.isnan(interval.low) and math.isnan(interval.high)
    assert interval.format() == "4.00 [n too small for an interval]"
    assert mean_interval([4, 4, 4]).format() == "4.00 [4.00, 4.00]"
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])


def test_spearman_textbook_example() -> None:
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv_hours = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    result = spearman(iq, tv_hours)
    assert result.rho == pytest.approx(-29 / 165)
    assert result.p_value == pytest.approx(0.6272, abs=1e-4)
    assert result.n == 10


def test_spearman_undefined_without_variation_or_pairs() -> None:
    assert math.isnan(spearman([1, 2], [2, 1]).rho)
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]).rho)
    with pytest.raises(ValueError, match="3 x values but 2 y values"):
        spearman([1, 2, 3], [1, 2])


NAN = math.nan
# Krippendorff's example: 3 coders, 15 units, values 1..4, missing values (NaN).
KRIPPENDORFF = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]


def _as_mapping(rows: list[list[float]]) -> dict[str, dict[object, float]]:
    return {f"coder{i}": {unit: v for unit, v in enumerate(row) if not math.isnan(v)} for i, row in enumerate(rows)}


def test_krippendorff_alpha_published_values() -> None:
    ratings = _as_mapping(KRIPPENDORFF)
    assert krippendorff_alpha(ratings, "nominal") == pytest.approx(0.691, abs=5e-4)
    assert krippendorff_alpha(ratings, "interval") == pytest.approx(0.811, abs=5e-4)


def test_krippendorff_alpha_needs_a_shared_item_and_variation() -> None:
    assert krippendorff_alpha({"ann": {"a": 4, "b": 2}}) is None  # one annotator
    assert krippendorff_alpha({"ann": {"a": 4}, "bob": {"b": 2}}) is None  # no item in common
    assert krippendorff_alpha({"ann": {"a": 4}, "bob": {"a": 4}}) is None  # no variation at all
    assert krippendorff_alpha({"ann": {"a": 5, "b": 1}, "bob": {"a": 5, "b": 1}}) == pytest.approx(1.0)

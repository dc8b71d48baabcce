"""The review statistics against published values: win rates (Wilson) and rating means (Student's t)
as the review shows them (the intervals themselves are tested in test_statistics.py), Spearman's rho (a textbook example) and Krippendorff's alpha (the example
of Krippendorff's "Computing Krippendorff's alpha-reliability", nominal and interval)."""

from __future__ import annotations

import math

import pytest

from pytest_llmeval.review.stats import (
    krippendorff_alpha,
    mean_estimate,
    proportion_estimate,
    spearman,
)


def test_proportion_estimate_is_the_wilson_interval_with_ties_as_half() -> None:
    # 3 wins, 2 ties, 1 loss: 4 successes of 6; the interval is the Wilson one of p = 4/6.
    estimate = proportion_estimate(3 + 2 * 0.5, 6)
    assert estimate.estimate == pytest.approx(4 / 6) and estimate.n == 6
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (0.3000, 0.9032)
    assert estimate.format(percent=True) == "66.7% [30.0%, 90.3%]"
    with pytest.raises(ValueError, match="at least one case"):
        proportion_estimate(0, 0)
    with pytest.raises(ValueError, match="4 successes out of 3 trials is not a proportion"):
        proportion_estimate(4, 3)


def test_mean_estimate_is_students_t() -> None:
    estimate = mean_estimate([1, 2, 3, 4, 5])
    # sd 1.5811, se 0.7071, t(0.975, 4) = 2.7764
    assert estimate.estimate == 3
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (1.0368, 4.9632)
    assert estimate.format() == "3.00 [1.04, 4.96]"
    # 4, 5, 5, 5: t interval [3.95, 5.30], cut to the 1-5 scale of the ratings
    assert mean_estimate([4, 5, 5, 5], scale=(1, 5)).format() == "4.75 [3.95, 5.00]"


def test_mean_estimate_of_one_value_has_no_interval() -> None:
    estimate = mean_estimate([4])
    assert estimate.estimate == 4 and math.isnan(estimate.low) and math.isnan(estimate.high)
    assert estimate.format() == "4.00 [n too small for an interval]"
    assert mean_estimate([4, 4, 4]).format() == "4.00 [4.00, 4.00]"
    with pytest.raises(ValueError, match="at least one value"):
        mean_estimate([])


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

"""Argument types of the ``llmeval`` options: each turns a bad value into argparse's one-line error."""

from __future__ import annotations

import argparse
import math

from pytest_llmeval.settings import MAX_RESAMPLES
from pytest_llmeval.statistics import is_confidence
from pytest_llmeval.tolerances import parse_tolerance


def tolerance(text: str) -> tuple[str, float]:
    """``NAME=VALUE``: a metric and its absolute tolerance."""
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative(text: str) -> float:
    """A finite number of 0 or more."""
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 <= number < math.inf:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite non-negative number")
    return number


def positive_days(text: str) -> float:
    """A finite number of days above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return value


def confidence(text: str) -> float:
    """A confidence level from 0.5 up to (not including) 1."""
    try:
        level = float(text)
    except ValueError:
        level = -1.0
    if not is_confidence(level):
        raise argparse.ArgumentTypeError(f"{text!r} is not a confidence from 0.5 up to (not including) 1, e.g. 0.95")
    return level


def resamples(text: str) -> int:
    """A number of bootstrap resamples from 100 to MAX_RESAMPLES."""
    number = positive_int(text)
    if number < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is too few resamples; use at least 100 (e.g. 10000)")
    if number > MAX_RESAMPLES:
        raise argparse.ArgumentTypeError(f"{text!r} is too many resamples; use at most {MAX_RESAMPLES:,}")
    return number


def whole(text: str) -> int:
    """Any whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """A whole number of 1 or more."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number

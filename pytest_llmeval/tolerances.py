"""How far a metric may drop before the gate calls it a regression: one reading of a tolerance for
the ``--llm-metric-tolerance`` option, ``llmeval diff --tolerance`` and case files' ``tolerance:``."""

from __future__ import annotations

import math

__all__ = ["TOLERANCE_EXAMPLE", "parse_tolerance", "tolerance_problem"]

TOLERANCE_EXAMPLE = "rouge_l=0.05"


def tolerance_problem(value: object) -> str | None:
    """Why ``value`` is not a tolerance (a finite number >= 0), or None when it is one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {type(value).__name__}"
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if value < 0:
        return f"must be a non-negative number, got {value}"
    return None


def parse_tolerance(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` with a finite non-negative number; raise ValueError saying what is expected."""
    name, sep, value = text.partition("=")
    try:
        number: float | None = float(value)
    except ValueError:
        number = None
    if not sep or not name.strip() or number is None or tolerance_problem(number) is not None:
        raise ValueError(
            f"{text!r} is not NAME=VALUE with a non-negative number (e.g. {TOLERANCE_EXAMPLE}; not nan or inf)"
        )
    return name.strip(), float(number)

"""Text a person reads about a test: the model's output and the checks, as failure reports show them."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable

from pytest_llmeval.backends.base import Generation
from pytest_llmeval.checks.base import CheckResult

__all__ = ["REPORT_OUTPUT_CHARS", "fit_lines", "format_checks", "format_generation", "terminal_safe"]

# Longest output shown in a failure report; the full length is stated when it is cut.
REPORT_OUTPUT_CHARS = 2000


# What a terminal would act on instead of showing: C0/C1 controls (ANSI escapes, BEL, NUL, a carriage
# return that overwrites the line) except newline and tab, bidirectional overrides that reorder what
# is shown, and lone surrogates, which cannot be printed as UTF-8 at all.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written as its Python escape (``\\x1b``,
    ``\\x00``, ``\\u202e``, ``\\ud800``); newlines and tabs stay. For what a person reads on a
    terminal; logs and the history keep outputs exact."""
    return _UNSHOWABLE.sub(lambda match: ascii(match.group())[1:-1], text)


def format_generation(generation: Generation, limit: int = REPORT_OUTPUT_CHARS) -> str:
    facts = [f"finish: {generation.finish_reason}", f"{generation.latency_s:.3f} s"]
    if generation.num_tokens is not None:
        facts.insert(0, f"{generation.num_tokens} tokens")
    text = generation.text
    shown = text if len(text) <= limit else text[:limit] + f"\n... ({len(text)} chars in all)"
    return terminal_safe(f"prompt: {generation.prompt}\noutput ({', '.join(facts)}):\n{shown}")


def format_checks(checks: Iterable[CheckResult], width: int | None = None) -> str:
    """One line per check (``PASS``/``FAIL``, name, score, message); with ``width`` (the terminal's),
    a long line is wrapped, its continuation indented under the message."""
    lines = []
    for result in checks:
        mark = "PASS" if result.passed else "FAIL"
        score = "" if result.score is None else f" (score {result.score:.3g})"
        # A check's message starts with its own name already ("contains_any: expected ..."): say it once.
        message = result.message.removeprefix(f"{result.name}: ")
        lines.append(f"{mark} {result.name}{score}: {message}")
    return fit_lines(terminal_safe("\n".join(lines)), width)


def fit_lines(text: str, width: int | None) -> str:
    """``text`` with every line longer than ``width`` wrapped at spaces (a word longer than a line
    is split), each continuation indented four spaces more than the line it continues, so a check
    or an indented detail stays readable as one block. Nothing is cut; ``None`` leaves the text be.

    For the terminal only, at display time (its width is known there, in the controller, the same
    serially and under xdist); reports and logs keep every line whole."""
    if width is None or width <= 0:
        return text
    fitted: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            fitted.append(line)
            continue
        body = line.lstrip(" ")
        indent = line[: len(line) - len(body)]
        if len(indent) + 4 > width // 2:  # a deep indent on a narrow terminal: room for the text first
            indent = ""
        fitted += textwrap.wrap(
            body,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent + "    ",
            break_on_hyphens=False,
            replace_whitespace=False,
        ) or [line[:width]]
    return "\n".join(fitted)

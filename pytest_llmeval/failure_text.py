"""Text a person reads about a test: the model's output and the checks, as failure reports show them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from pytest_llmeval.backends.base import Generation
from pytest_llmeval.checks.base import CheckResult

__all__ = ["REPORT_OUTPUT_CHARS", "format_checks", "format_generation"]

# Longest output shown in a failure report; the full length is stated when it is cut.
REPORT_OUTPUT_CHARS = 2000


def format_generation(generation: Generation, limit: int = REPORT_OUTPUT_CHARS) -> str:
    facts = [f"finish: {generation.finish_reason}", f"{generation.latency_s:.3f} s"]
    if generation.num_tokens is not None:
        facts.insert(0, f"{generation.num_tokens} tokens")
    text = generation.text
    shown = text if len(text) <= limit else text[:limit] + f"\n... ({len(text)} chars in all)"
    return f"prompt: {generation.prompt}\noutput ({', '.join(facts)}):\n{shown}"


def format_checks(checks: Iterable[CheckResult], width: int | None = None) -> str:
    """One line per check (``PASS``/``FAIL``, name, score, message); with ``width`` (the terminal's),
    a long line is wrapped, its continuation indented under the message."""
    lines = []
    for result in checks:
        mark = "PASS" if result.passed else "FAIL"
        score = "" if result.score is None else f" (score {result.score:.3g})"
        # A check's message starts with its own name already ("contains_any: expected ..."): say it once.
        message = result.message.removeprefix(f"{result.name}: ")
        line = f"{mark} {result.name}{score}: {message}"
        if width is not None and len(line) > width:
            lines += textwrap.wrap(line, width=width, subsequent_indent="    ", break_on_hyphens=False)
        else:
            lines.append(line)
    return "\n".join(lines)

"""Text helpers of the ``llmeval`` subcommands: short run ids, times, tables, indented outputs."""

from __future__ import annotations

from typing import TextIO

from pytest_llmeval.failure_text import terminal_safe
from pytest_llmeval.records import local_time

ID_CHARS = 12  # a run id is shown by its first ID_CHARS characters


def when(timestamp: float | None) -> str:
    return local_time(timestamp) or "-"


def table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def indent(text: str | None, prefix: str = "    ") -> str:
    """A prompt or output for the terminal: indented, with control characters and lone surrogates
    escaped (printing ``\\ud800`` raised UnicodeEncodeError; an ANSI escape would restyle the screen)."""
    if text is None:
        return prefix + "(none)"
    if text == "":
        return prefix + "(empty)"
    return "\n".join(prefix + line for line in terminal_safe(text).split("\n"))

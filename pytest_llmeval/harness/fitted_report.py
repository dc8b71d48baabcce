"""Failure reports fitted to the terminal where they are shown.

A case's failure text, a group's and the ``llm output``/``llm checks`` sections hold the model's
output and whole check messages: lines far wider than a terminal. They are wrapped where they are
displayed, on the controller: serially that is the test's own process, under xdist the process
that prints every worker's reports, so a report reads the same either way. What a report carries
(xdist's wire format, JUnit, ``str(report.longrepr)``) keeps every line whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr

from pytest_llmeval.failure_text import fit_lines

if TYPE_CHECKING:
    from _pytest._io import TerminalWriter

__all__ = ["FittedText", "TerminalFitting", "check_failure_text"]

# Sections the plugin adds to a failed test's report (``llm output``, ``llm output 2``, ``llm checks``).
_OUR_SECTIONS = "llm "


class FittedText(TerminalRepr):
    """A plain-text failure report, wrapped to the terminal's width when shown; its first line is
    the failure's one-line message (the short test summary's)."""

    def __init__(self, text: str, path: str, lineno: int) -> None:
        self.text = text
        self.reprcrash = ReprFileLocation(path, lineno, text.split("\n", 1)[0])

    def toterminal(self, tw: TerminalWriter) -> None:
        for line in fit_lines(self.text, tw.fullwidth).split("\n"):
            tw.line(line)

    def __str__(self) -> str:  # whole, for JUnit and anything that stores the report
        return self.text


class TerminalFitting:
    """The controller's hook that fits each failure report to its terminal (registered on the
    controller only: a worker's reports are fitted where they are shown)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(tryfirst=True)  # before the terminal and JUnit keep the report
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Make a text failure report wrap when shown; wrap the plugin's sections to the terminal."""
        if not report.failed:
            return
        if isinstance(report.longrepr, str):
            path, lineno, _ = report.location
            report.longrepr = FittedText(report.longrepr, path, (lineno or 0) + 1)
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")  # none under -p no:terminal
        if terminal is not None and any(title.startswith(_OUR_SECTIONS) for title, _ in report.sections):
            width = terminal._tw.fullwidth
            report.sections = [
                (title, fit_lines(content, width) if title.startswith(_OUR_SECTIONS) else content)
                for title, content in report.sections
            ]


def check_failure_text(excinfo: pytest.ExceptionInfo[BaseException], cwd: str) -> str | None:
    """The failure report of a Python test that an ``assert_<check>`` helper failed: the check's
    message, then the test's line that called it (pytest's traceback would show the test's whole
    source and the exception's class path; the output and every check follow as sections).
    ``None`` for any other exception."""
    from pathlib import Path

    from pytest_llmeval.checks.base import CheckFailed
    from pytest_llmeval.failure_text import terminal_safe
    from pytest_llmeval.paths import shown_path

    if not isinstance(excinfo.value, CheckFailed):
        return None
    package = Path(__file__).resolve().parent.parent
    entries = [
        entry
        for entry in excinfo.traceback
        if not entry.ishidden(excinfo) and package not in Path(entry.path).resolve().parents
    ]
    lines = [terminal_safe(str(excinfo.value))]
    if entries:
        entry = entries[-1]  # the caller's frame: the test, or the user's helper that checked
        lines.append(f"{shown_path(entry.path, Path(cwd))}:{entry.lineno + 1}: in {entry.name}")
        try:
            statement = str(entry.statement).strip("\n")
        except Exception:  # no source (a frame from exec): the location says where
            statement = ""
        lines += [f"    {line}" for line in _dedented(statement)]
    return "\n".join(lines)


def _dedented(statement: str) -> list[str]:
    import textwrap

    return [line.rstrip() for line in textwrap.dedent(statement).splitlines() if line.strip()]

"""The ``--llm-*`` options (each with its ini twin, from ``settings.OPTIONS``) and the markers."""

from __future__ import annotations

import pytest

from pytest_llmeval.harness.collection import CASE_FILE_PATTERNS
from pytest_llmeval.settings import OPTIONS

__all__ = ["add_options", "declare_markers"]


def add_options(parser: pytest.Parser) -> None:
    """Register every option in one group, and the case-file patterns."""
    group = parser.getgroup("llmeval", "LLM evaluation (pytest-llmeval)")
    for spec in OPTIONS:
        help_text = spec.help + (f" (ini: {spec.ini}" if spec.has_ini else " (command line only")
        help_text += f"; default: {spec.default})" if spec.default not in (None, False, ()) else ")"
        if spec.kind == "flag":
            group.addoption(spec.flag, dest=spec.dest, action="store_true", default=None, help=help_text)
        elif spec.kind in ("paths", "tolerances"):
            group.addoption(
                spec.flag, dest=spec.dest, action="append", default=None, metavar=spec.metavar, help=help_text
            )
        elif spec.name == "update_baseline":  # a flag with an optional value
            group.addoption(
                spec.flag, dest=spec.dest, nargs="?", const="all", default=None, metavar=spec.metavar, help=help_text
            )
        else:
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=help_text)
        if spec.has_ini:
            parser.addini(spec.ini, help=spec.help, type="string", default="")
    parser.addini(
        "llm_case_files",
        help="glob patterns of case files collected as tests",
        type="args",
        default=list(CASE_FILE_PATTERNS),
    )


def declare_markers(config: pytest.Config) -> None:
    """Declare the markers, so --strict-markers knows them."""
    config.addinivalue_line(
        "markers",
        "llm(prompt=None, messages=None, system=None, samples=None, min_pass_rate=None, **generation): the "
        "request whose output the llm_output fixture gives this test (llm_samples: its samples)",
    )
    config.addinivalue_line("markers", "success_mode: the test checks what a good output must contain")
    config.addinivalue_line("markers", "failure_mode: the test checks what an output must not do")

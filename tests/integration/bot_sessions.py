"""What many session tests do with pytester: write a file of dedented text, and run pytest with a
`py:bot:answer` pipeline (a `bot.py` the test writes) as the model, so the session needs no torch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


def write(pytester: pytest.Pytester, name: str, text: str) -> Path:
    """Write ``text`` (dedented, leading blank lines dropped) to ``name`` under the test's folder."""
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A pytest session in-process, its model the test's ``bot.answer`` function, no cache plugin."""
    return pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", *args)

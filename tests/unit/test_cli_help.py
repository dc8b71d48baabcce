"""``llmeval --help`` and every subcommand's ``--help`` stay byte-identical to the recorded texts.

The texts in ``data/cli_help.json`` were recorded from the ``llmeval`` command before it was split
into the ``pytest_llmeval.cli`` package; a change to an option, a help line or the order of
subcommands shows here. argparse lays help out differently from one Python minor version to the next
(3.13 shows an option's metavar once), so the texts are compared on the version that recorded them.
To record them again after an intended change: ``python tests/unit/test_cli_help.py --write``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_llmeval.cli import build_parser, main

GOLDEN = Path(__file__).parent / "data" / "cli_help.json"
COLUMNS = "100"  # argparse wraps to $COLUMNS; a fixed width makes the texts comparable


def command_lines(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command line that has its own help: the bare command, each subcommand, each action."""
    lines = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                lines.extend(command_lines(sub, (*prefix, name)))
    return lines


def help_text(argv: tuple[str, ...]) -> str:
    """What ``llmeval ARGV --help`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return out.getvalue()


def python_minor() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def test_every_help_text_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", COLUMNS)
    golden = json.loads(GOLDEN.read_text("utf-8"))
    if golden["python"] != python_minor():
        pytest.skip(f"help texts recorded on Python {golden['python']}; argparse lays them out differently here")
    recorded: dict[str, str] = golden["help"]
    lines = [" ".join(("llmeval", *argv)) for argv in command_lines(build_parser())]
    assert lines == list(recorded)  # the same subcommands, in the same order
    for argv in command_lines(build_parser()):
        line = " ".join(("llmeval", *argv))
        assert help_text(argv) == recorded[line], f"{line} --help changed"


def test_python_m_runs_the_same_command() -> None:
    """``python -m pytest_llmeval.cli`` (the review browser tests start the app so) is ``llmeval``."""
    golden = json.loads(GOLDEN.read_text("utf-8"))
    if golden["python"] != python_minor():
        pytest.skip(f"help texts recorded on Python {golden['python']}; argparse lays them out differently here")
    env = {**os.environ, "COLUMNS": COLUMNS}
    done = subprocess.run(
        [sys.executable, "-m", "pytest_llmeval.cli", "--help"], capture_output=True, text=True, env=env, check=False
    )
    assert (done.returncode, done.stdout) == (0, golden["help"]["llmeval"])


def test_help_walk_reaches_nested_actions() -> None:
    lines = command_lines(build_parser())
    assert ("export", "tensorboard") in lines and ("review", "stats") in lines and () in lines


def write_golden() -> None:
    os.environ["COLUMNS"] = COLUMNS
    texts = {" ".join(("llmeval", *argv)): help_text(argv) for argv in command_lines(build_parser())}
    GOLDEN.write_text(json.dumps({"python": python_minor(), "help": texts}, indent=1) + "\n", "utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write_golden()

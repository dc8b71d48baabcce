"""The ``llmeval`` command: look at the run history, diff runs and baselines, write a baseline.

    llmeval runs [--history PATH] [--limit N]
    llmeval show RUN [--history PATH] [--outputs]
    llmeval diff A B [--history PATH] [--tolerance NAME=VALUE ...] [--default-tolerance VALUE] [--gate MODE]
    llmeval compare A B [--history PATH] [--confidence LEVEL] [--resamples N] [--seed N] [--ties]
                        [--markdown PATH] [--html PATH]
    llmeval baseline RUN [--history PATH] [--out PATH] [--new-only]
    llmeval report [--history PATH] [--out PATH] [--baseline PATH | --no-baseline] [--run RUN] [--runs N]
                   [--confidence LEVEL] [--resamples N]
    llmeval prune [--history PATH] (--keep N | --older-than DAYS) [--baseline PATH] [--dry-run]
    llmeval demo-model PATH [--weak | --steps N]
    llmeval import-gguf FILE OUT_DIR
    llmeval export tensorboard DIR [--history PATH] [--runs N] [--no-text]
    llmeval review [--run RUN | --pairwise A B] [--dimensions A,B,C] [--host HOST] [--port N]
    llmeval review stats [--run RUN] [--pairwise A B]
    llmeval review export [--out PATH] [--dpo]
    llmeval review import FILE

RUN is a run id, a unique prefix of one, ``latest`` or ``previous``. For ``diff`` and ``compare``, A
and B may also be baseline JSON files (an argument naming an existing path is a file). Exit codes: 0
fine, 1 ``diff`` found a regression (under its ``--gate``) or ``compare`` found B worse than A with
the chosen confidence, 2 an error (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from pytest_llmeval.cli.comparison_commands import compare_command, diff_command, report_command
from pytest_llmeval.cli.export_commands import export_tensorboard_command
from pytest_llmeval.cli.history_commands import baseline_command, prune_command, runs_command, show_command
from pytest_llmeval.cli.model_commands import demo_model_command, import_gguf_command
from pytest_llmeval.cli.parser import DEFAULT_BASELINE, DEFAULT_HISTORY, build_parser
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.review.cli import ReviewError
from pytest_llmeval.store import BaselineError, StoreError
from pytest_llmeval.tensorboard_export import TensorBoardError

__all__ = ["DEFAULT_BASELINE", "DEFAULT_HISTORY", "build_parser", "main"]

# Each subcommand's implementation; ``review`` is imported when it runs (it brings the web app).
COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "runs": runs_command,
    "show": show_command,
    "diff": diff_command,
    "compare": compare_command,
    "demo-model": demo_model_command,
    "report": report_command,
    "import-gguf": import_gguf_command,
    "export": export_tensorboard_command,
    "prune": prune_command,
    "baseline": baseline_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmeval ARGV``; the exit code: 0 fine, 1 a regression or a worse B, 2 an error (one line on stderr)."""
    args = build_parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "review":
            from pytest_llmeval.review.cli import run_review

            return run_review(args, out)
        return COMMANDS[args.command](args, out)
    except (StoreError, BaselineError, ConfigurationError, TensorBoardError, ReviewError) as exc:
        print(f"llmeval: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. writing --out into a read-only folder
        print(f"llmeval: error: {exc}", file=sys.stderr)
        return 2

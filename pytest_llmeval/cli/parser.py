"""The ``llmeval`` argument parser: one small builder per subcommand, in the order ``--help`` lists them."""

from __future__ import annotations

import argparse

from pytest_llmeval.cli import argument_types as arg
from pytest_llmeval.dashboard import DEFAULT_RUNS
from pytest_llmeval.paths import BASELINE_FILE, HISTORY_FILE, REPORT_FILE
from pytest_llmeval.review.cli import add_review_parser
from pytest_llmeval.run_comparison import GATES

DEFAULT_HISTORY = str(HISTORY_FILE)
DEFAULT_BASELINE = str(BASELINE_FILE)


def _version() -> str:
    """The installed distribution's version (what pip installed), else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-llmeval")
    except PackageNotFoundError:
        from pytest_llmeval import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``llmeval`` command and all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="llmeval", description="Inspect pytest-llmeval run history, diff runs and write baselines."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (pytest-llmeval) {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_runs_parser(commands)
    add_show_parser(commands)
    add_diff_parser(commands)
    add_compare_parser(commands)
    add_report_parser(commands)
    add_prune_parser(commands)
    add_demo_model_parser(commands)
    add_import_gguf_parser(commands)
    add_export_parser(commands)
    add_review_parser(commands, add_history_option)
    add_baseline_parser(commands)
    return parser


def add_history_option(sub: argparse.ArgumentParser) -> None:
    """``--history PATH``: the run history file every subcommand reads."""
    sub.add_argument(
        "--history", default=DEFAULT_HISTORY, metavar="PATH", help=f"run history file (default: {DEFAULT_HISTORY})"
    )


def add_paired_options(sub: argparse.ArgumentParser) -> None:
    """``--confidence``, ``--resamples`` and ``--seed`` of the paired statistics (diff, compare)."""
    sub.add_argument(
        "--confidence",
        type=arg.confidence,
        default=0.95,
        metavar="LEVEL",
        help="how sure a verdict must be, and the intervals' level (default 0.95)",
    )
    sub.add_argument(
        "--resamples", type=arg.resamples, default=10_000, metavar="N", help="bootstrap resamples (default 10000)"
    )
    sub.add_argument("--seed", type=arg.whole, default=0, metavar="N", help="bootstrap seed (default 0)")


def add_runs_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval runs``."""
    runs = commands.add_parser("runs", help="list recorded runs, newest first")
    add_history_option(runs)
    runs.add_argument(
        "--limit", type=arg.positive_int, default=20, metavar="N", help="show at most N runs (default 20)"
    )
    runs.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help=f"judge which runs are partial against this baseline's cases (default: {DEFAULT_BASELINE} when it exists)",
    )


def add_show_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval show``."""
    show = commands.add_parser("show", help="one run: identity, settings and every case's outcome")
    show.add_argument("run", metavar="RUN", help="run id, unique prefix, latest or previous")
    add_history_option(show)
    show.add_argument(
        "--outputs", action="store_true", help="also print every generation of the run (from its inference log)"
    )


def add_diff_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval diff``."""
    diff = commands.add_parser("diff", help="compare run/baseline B with run/baseline A; exit 1 on a regression")
    diff.add_argument("a", metavar="A", help="the reference: run id/prefix, latest, previous, or a baseline file")
    diff.add_argument("b", metavar="B", help="the candidate: run id/prefix, latest, previous, or a baseline file")
    add_history_option(diff)
    diff.add_argument(
        "--tolerance",
        type=arg.tolerance,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="absolute tolerance for a metric drop, where run B recorded none (a run records the tolerances "
        "its gate used); may repeat",
    )
    diff.add_argument(
        "--default-tolerance",
        type=arg.non_negative,
        default=0.0,
        metavar="VALUE",
        help="tolerance for other metrics (0)",
    )
    diff.add_argument("--max-rows", type=arg.positive_int, default=None, metavar="N", help="show at most N rows (all)")
    diff.add_argument(
        "--width",
        type=arg.whole,
        default=None,
        metavar="COLUMNS",
        help="fit the table to this many columns (default: the terminal's, or $COLUMNS; 0: never cut a line)",
    )
    diff.add_argument(
        "-v", "--verbose", action="count", default=0, help="list the cases of A that B did not run, not just a count"
    )
    diff.add_argument(
        "--gate",
        choices=[g for g in GATES if g != "off"],
        default="regressions",
        help="what exits 1: regressions (default: a case that passed fails, a metric drop), strict (any failure "
        "or metric drop), significant (B worse than A on the pass rate or a metric with --confidence)",
    )
    add_paired_options(diff)


def add_compare_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval compare``."""
    compare = commands.add_parser(
        "compare",
        help="is B better or worse than A? paired statistics case by case (two runs, two models, or baseline "
        "files); exit 1 when B is worse with the chosen confidence",
    )
    compare.add_argument("a", metavar="A", help="the reference: run id/prefix, latest, previous, or a baseline file")
    compare.add_argument("b", metavar="B", help="the candidate: run id/prefix, latest, previous, or a baseline file")
    add_history_option(compare)
    add_paired_options(compare)
    compare.add_argument(
        "--max-rows", type=arg.positive_int, default=None, metavar="N", help="list at most N cases (all)"
    )
    compare.add_argument("--ties", action="store_true", help="also list the cases both runs pass or both fail")
    compare.add_argument("--markdown", default=None, metavar="PATH", help="also write the comparison as Markdown")
    compare.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help="also write the dashboard page of B against A (B must be a run from the history)",
    )


def add_report_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval report``."""
    report = commands.add_parser(
        "report",
        help="write the HTML dashboard: the latest run against the baseline, pass rates and metrics across runs",
    )
    add_history_option(report)
    report.add_argument("--out", default=str(REPORT_FILE), metavar="PATH", help=f"HTML file (default: {REPORT_FILE})")
    reference = report.add_mutually_exclusive_group()
    reference.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help=f"compare the latest run with this baseline (default: {DEFAULT_BASELINE} when it exists, "
        "else the previous run)",
    )
    reference.add_argument(
        "--no-baseline", action="store_true", help="compare the latest run with the previous run, not a baseline"
    )
    report.add_argument(
        "--run",
        default=None,
        metavar="RUN",
        help="report this run (id, unique prefix, latest or previous) instead of the latest, with the runs before it",
    )
    report.add_argument(
        "--runs",
        type=arg.positive_int,
        default=DEFAULT_RUNS,
        metavar="N",
        help=f"draw the newest N runs in the charts (default {DEFAULT_RUNS})",
    )
    report.add_argument(
        "--tolerance",
        type=arg.tolerance,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="absolute tolerance for a metric drop, where the run recorded none (it records the tolerances "
        "its gate used); may repeat",
    )

    report.add_argument(
        "--confidence",
        type=arg.confidence,
        default=0.95,
        metavar="LEVEL",
        help="the paired comparison's confidence (default 0.95)",
    )
    report.add_argument(
        "--resamples", type=arg.resamples, default=10_000, metavar="N", help="bootstrap resamples (default 10000)"
    )


def add_prune_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval prune``."""
    prune = commands.add_parser(
        "prune",
        help="delete old runs (and their inference logs) from the history; the baseline's run is always kept",
    )
    add_history_option(prune)
    prune.add_argument("--keep", type=arg.positive_int, default=None, metavar="N", help="keep the newest N runs")
    prune.add_argument(
        "--older-than",
        type=arg.positive_days,
        default=None,
        metavar="DAYS",
        help="delete runs started more than DAYS days ago (with --keep: a run goes when either rule says so)",
    )
    prune.add_argument(
        "--baseline",
        action="append",
        default=None,
        metavar="PATH",
        help=f"keep the run this baseline file accepted (default: {DEFAULT_BASELINE} when it exists); may repeat",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")


def add_demo_model_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval demo-model``."""
    demo = commands.add_parser(
        "demo-model",
        help="write the demo support-assistant model into PATH (the shipped weights; nothing downloaded)",
        description="Copy the demo model that ships with pytest-llmeval into PATH (the example suite's model, "
        "byte-identical on every machine). --weak copies a deliberately undertrained one; --steps N trains "
        "one anew (its weights, and so its outputs, depend on your torch and transformers versions).",
    )
    demo.add_argument("path", help="folder to write the model into (created)")
    variant = demo.add_mutually_exclusive_group()
    variant.add_argument(
        "--weak",
        action="store_true",
        help="the shipped undertrained model (like a fine-tune that went wrong): the gate walk-through's model",
    )
    variant.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train anew for N steps instead (about 15 s for 150 on 2 cores): 150 memorises every answer; "
        "fewer give a weaker model",
    )


def add_import_gguf_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval import-gguf``."""
    gguf = commands.add_parser(
        "import-gguf",
        help="write a GGUF file's model as a normal model folder once (float32), so sessions load it in seconds",
    )
    gguf.add_argument("file", metavar="FILE", help="the .gguf file")
    gguf.add_argument("out_dir", metavar="OUT_DIR", help="a new (or empty) folder to write the model into")


def add_export_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval export tensorboard``."""
    export = commands.add_parser("export", help="write the run history in another tool's format")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    tensorboard = formats.add_parser(
        "tensorboard",
        help="TensorBoard events: pass rates and metric means as scalars at each run's step, outputs as text",
    )
    tensorboard.add_argument("logdir", metavar="DIR", help="event folder (created); point tensorboard --logdir at it")
    add_history_option(tensorboard)
    tensorboard.add_argument(
        "--runs", type=arg.positive_int, default=None, metavar="N", help="only the newest N runs (default: all)"
    )
    tensorboard.add_argument("--no-text", action="store_true", help="scalars only, no per-case output text")


def add_baseline_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``llmeval baseline``."""
    baseline = commands.add_parser("baseline", help="write a baseline file from a recorded run")
    baseline.add_argument("run", metavar="RUN", help="run id, unique prefix, latest or previous")
    add_history_option(baseline)
    baseline.add_argument(
        "--out", default=DEFAULT_BASELINE, metavar="PATH", help=f"baseline file (default: {DEFAULT_BASELINE})"
    )
    baseline.add_argument(
        "--new-only",
        action="store_true",
        help="only add the cases the existing baseline lacks; keep the rest unchanged",
    )

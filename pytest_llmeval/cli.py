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
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pytest_llmeval.baseline_policy import accept_run
from pytest_llmeval.dashboard import DEFAULT_RUNS, dashboard_from_history, write_dashboard
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.failure_text import terminal_safe
from pytest_llmeval.inference_log import InferenceLogError, inference_log_path, read_inference_log, run_folder
from pytest_llmeval.paths import BASELINE_FILE, HISTORY_FILE, REPORT_FILE
from pytest_llmeval.records import RunRecord, local_time
from pytest_llmeval.review.cli import ReviewError, add_review_parser
from pytest_llmeval.run_comparison import GATES, compare_runs
from pytest_llmeval.run_scope import run_scope
from pytest_llmeval.settings import MAX_RESAMPLES
from pytest_llmeval.statistics import is_confidence
from pytest_llmeval.store import (
    Baseline,
    BaselineError,
    RunStore,
    StoreError,
    baseline_from_run,
    read_baseline,
)
from pytest_llmeval.tensorboard_export import TensorBoardError
from pytest_llmeval.tolerances import parse_tolerance

__all__ = ["DEFAULT_BASELINE", "DEFAULT_HISTORY", "build_parser", "main"]

DEFAULT_HISTORY = str(HISTORY_FILE)
DEFAULT_BASELINE = str(BASELINE_FILE)
ID_CHARS = 12


def _tolerance(text: str) -> tuple[str, float]:
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 <= number < math.inf:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite non-negative number")
    return number


def _positive_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of days, got {text!r}")
    return value


def _confidence(text: str) -> float:
    try:
        level = float(text)
    except ValueError:
        level = -1.0
    if not is_confidence(level):
        raise argparse.ArgumentTypeError(f"{text!r} is not a confidence from 0.5 up to (not including) 1, e.g. 0.95")
    return level


def _resamples(text: str) -> int:
    number = _positive_int(text)
    if number < 100:
        raise argparse.ArgumentTypeError(f"{text!r} is too few resamples; use at least 100 (e.g. 10000)")
    if number > MAX_RESAMPLES:
        raise argparse.ArgumentTypeError(f"{text!r} is too many resamples; use at most {MAX_RESAMPLES:,}")
    return number


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def _version() -> str:
    """The installed distribution's version (what pip installed), else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-llmeval")
    except PackageNotFoundError:
        from pytest_llmeval import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmeval", description="Inspect pytest-llmeval run history, diff runs and write baselines."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s (pytest-llmeval) {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def history(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--history", default=DEFAULT_HISTORY, metavar="PATH", help=f"run history file (default: {DEFAULT_HISTORY})"
        )

    runs = commands.add_parser("runs", help="list recorded runs, newest first")
    history(runs)
    runs.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="show at most N runs (default 20)")
    runs.add_argument(
        "--baseline",
        default=None,
        metavar="PATH",
        help=f"judge which runs are partial against this baseline's cases (default: {DEFAULT_BASELINE} when it exists)",
    )

    show = commands.add_parser("show", help="one run: identity, settings and every case's outcome")
    show.add_argument("run", metavar="RUN", help="run id, unique prefix, latest or previous")
    history(show)
    show.add_argument(
        "--outputs", action="store_true", help="also print every generation of the run (from its inference log)"
    )

    diff = commands.add_parser("diff", help="compare run/baseline B with run/baseline A; exit 1 on a regression")
    diff.add_argument("a", metavar="A", help="the reference: run id/prefix, latest, previous, or a baseline file")
    diff.add_argument("b", metavar="B", help="the candidate: run id/prefix, latest, previous, or a baseline file")
    history(diff)
    diff.add_argument(
        "--tolerance",
        type=_tolerance,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="absolute tolerance for a metric drop, where run B recorded none (a run records the tolerances "
        "its gate used); may repeat",
    )
    diff.add_argument(
        "--default-tolerance", type=_non_negative, default=0.0, metavar="VALUE", help="tolerance for other metrics (0)"
    )
    diff.add_argument("--max-rows", type=_positive_int, default=None, metavar="N", help="show at most N rows (all)")
    diff.add_argument(
        "--width",
        type=_whole,
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

    def paired_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--confidence",
            type=_confidence,
            default=0.95,
            metavar="LEVEL",
            help="how sure a verdict must be, and the intervals' level (default 0.95)",
        )
        sub.add_argument(
            "--resamples", type=_resamples, default=10_000, metavar="N", help="bootstrap resamples (default 10000)"
        )
        sub.add_argument("--seed", type=_whole, default=0, metavar="N", help="bootstrap seed (default 0)")

    paired_options(diff)

    compare = commands.add_parser(
        "compare",
        help="is B better or worse than A? paired statistics case by case (two runs, two models, or baseline "
        "files); exit 1 when B is worse with the chosen confidence",
    )
    compare.add_argument("a", metavar="A", help="the reference: run id/prefix, latest, previous, or a baseline file")
    compare.add_argument("b", metavar="B", help="the candidate: run id/prefix, latest, previous, or a baseline file")
    history(compare)
    paired_options(compare)
    compare.add_argument("--max-rows", type=_positive_int, default=None, metavar="N", help="list at most N cases (all)")
    compare.add_argument("--ties", action="store_true", help="also list the cases both runs pass or both fail")
    compare.add_argument("--markdown", default=None, metavar="PATH", help="also write the comparison as Markdown")
    compare.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help="also write the dashboard page of B against A (B must be a run from the history)",
    )

    report = commands.add_parser(
        "report",
        help="write the HTML dashboard: the latest run against the baseline, pass rates and metrics across runs",
    )
    history(report)
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
        type=_positive_int,
        default=DEFAULT_RUNS,
        metavar="N",
        help=f"draw the newest N runs in the charts (default {DEFAULT_RUNS})",
    )
    report.add_argument(
        "--tolerance",
        type=_tolerance,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="absolute tolerance for a metric drop, where the run recorded none (it records the tolerances "
        "its gate used); may repeat",
    )

    report.add_argument(
        "--confidence",
        type=_confidence,
        default=0.95,
        metavar="LEVEL",
        help="the paired comparison's confidence (default 0.95)",
    )
    report.add_argument(
        "--resamples", type=_resamples, default=10_000, metavar="N", help="bootstrap resamples (default 10000)"
    )

    prune = commands.add_parser(
        "prune",
        help="delete old runs (and their inference logs) from the history; the baseline's run is always kept",
    )
    history(prune)
    prune.add_argument("--keep", type=_positive_int, default=None, metavar="N", help="keep the newest N runs")
    prune.add_argument(
        "--older-than",
        type=_positive_days,
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
    gguf = commands.add_parser(
        "import-gguf",
        help="write a GGUF file's model as a normal model folder once (float32), so sessions load it in seconds",
    )
    gguf.add_argument("file", metavar="FILE", help="the .gguf file")
    gguf.add_argument("out_dir", metavar="OUT_DIR", help="a new (or empty) folder to write the model into")
    export = commands.add_parser("export", help="write the run history in another tool's format")
    formats = export.add_subparsers(dest="format", required=True, metavar="FORMAT")
    tensorboard = formats.add_parser(
        "tensorboard",
        help="TensorBoard events: pass rates and metric means as scalars at each run's step, outputs as text",
    )
    tensorboard.add_argument("logdir", metavar="DIR", help="event folder (created); point tensorboard --logdir at it")
    history(tensorboard)
    tensorboard.add_argument(
        "--runs", type=_positive_int, default=None, metavar="N", help="only the newest N runs (default: all)"
    )
    tensorboard.add_argument("--no-text", action="store_true", help="scalars only, no per-case output text")
    add_review_parser(commands, history)
    baseline = commands.add_parser("baseline", help="write a baseline file from a recorded run")
    baseline.add_argument("run", metavar="RUN", help="run id, unique prefix, latest or previous")
    history(baseline)
    baseline.add_argument(
        "--out", default=DEFAULT_BASELINE, metavar="PATH", help=f"baseline file (default: {DEFAULT_BASELINE})"
    )
    baseline.add_argument(
        "--new-only",
        action="store_true",
        help="only add the cases the existing baseline lacks; keep the rest unchanged",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "runs":
            return _runs(args, out)
        if args.command == "show":
            return _show(args, out)
        if args.command == "diff":
            return _diff(args, out)
        if args.command == "compare":
            return _compare(args, out)
        if args.command == "demo-model":
            return _demo_model(args, out)
        if args.command == "report":
            return _report(args, out)
        if args.command == "import-gguf":
            return _import_gguf(args, out)
        if args.command == "export":
            return _export_tensorboard(args, out)
        if args.command == "prune":
            return _prune(args, out)
        if args.command == "review":
            from pytest_llmeval.review.cli import run_review

            return run_review(args, out)
        return _baseline(args, out)
    except (StoreError, BaselineError, ConfigurationError, TensorBoardError, ReviewError) as exc:
        print(f"llmeval: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. writing --out into a read-only folder
        print(f"llmeval: error: {exc}", file=sys.stderr)
        return 2


def _import_gguf(args: argparse.Namespace, out: TextIO) -> int:
    from pytest_llmeval.backends.gguf import GGUF_SOURCE_FILE, import_gguf, inspect_gguf

    started = time.perf_counter()
    source = inspect_gguf(args.file, "import-gguf")
    target = import_gguf(args.file, args.out_dir)
    print(
        f"wrote {target} from {args.file} ({source.architecture}, {source.file_type} dequantised to float32) "
        f"in {time.perf_counter() - started:.1f} s; the source file and its sha256 are in "
        f"{target / GGUF_SOURCE_FILE}. Use it with: pytest --llm-model={target}",
        file=out,
    )
    return 0


def _when(timestamp: float | None) -> str:
    return local_time(timestamp) or "-"


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)


def _runs(args: argparse.Namespace, out: TextIO) -> int:
    store = RunStore(args.history)
    summaries = store.runs(limit=args.limit)
    if not summaries:
        print(f"no runs recorded in {args.history}", file=out)
        return 0
    baseline_path = args.baseline or (DEFAULT_BASELINE if os.path.isfile(DEFAULT_BASELINE) else None)
    reference_ids = set(read_baseline(baseline_path).cases) if baseline_path is not None else None
    rows = [["run", "started", "model", "passed", "failed", "other", "scope"]]
    for summary in summaries:
        scope = run_scope(store.load_run(summary.run_id), reference_ids)
        passed = summary.counts.get("passed", 0) + summary.counts.get("xpassed", 0)
        failed = summary.counts.get("failed", 0) + summary.counts.get("error", 0)
        rows.append(
            [
                summary.run_id[:ID_CHARS],
                _when(summary.started_at),
                summary.model_source or "-",
                str(passed),
                str(failed),
                str(summary.total - passed - failed),
                f"PARTIAL: {scope.reason}" if scope.partial else "full",
            ]
        )
    _table(rows, out)
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    run = RunStore(args.history).load_run(args.run)
    print(
        f"run       {run.run_id}{'' if run.complete else '  (INCOMPLETE: a selection, or the session stopped early)'}",
        file=out,
    )
    print(f"started   {_when(run.started_at)}", file=out)
    print(f"finished  {_when(run.finished_at)}", file=out)
    print(f"git       {run.git_commit or '-'}", file=out)
    for title, block in (("model", run.model), ("settings", run.settings), ("versions", run.versions)):
        print(f"{title}:", file=out)
        for key in sorted(block):
            print(f"  {key}: {block[key]}", file=out)
    counts: dict[str, int] = {}
    for case in run.cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    print(f"cases ({len(run.cases)}{': ' + summary if summary else ''}):", file=out)
    if run.cases:
        width = max(len(case.outcome) for case in run.cases)
        for case in run.cases:
            line = f"  {case.outcome:<{width}}  {case.duration_s:7.2f}s  {case.node_id}"
            if case.message:
                line += f"  - {' '.join(case.message.split())}"
            print(line, file=out)
    if args.outputs:
        _show_outputs(run, Path(args.history), out)
    return 0


def _show_outputs(run: RunRecord, history: Path, out: TextIO) -> None:
    """Every generation of the run from its inference log, test by test; without a log (a run
    recorded before there were logs, or a deleted folder), each case's first output from the history."""
    log_path = inference_log_path(history, run.run_id)
    try:
        entries = read_inference_log(log_path)
    except InferenceLogError as exc:
        print(f"\n{exc}: showing each case's first output from the history", file=out)
        for case in run.cases:
            if case.prompt is None and case.output is None:
                continue
            print(f"\n== {terminal_safe(case.node_id)} ({case.outcome})", file=out)
            print("prompt:", file=out)
            print(_indent(case.prompt), file=out)
            print("output:", file=out)
            print(_indent(case.output), file=out)
        return
    print(f"\noutputs ({len(entries)}, from {log_path}):", file=out)
    outcomes = {case.node_id: case.outcome for case in run.cases}
    by_test: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_test.setdefault(entry["node_id"], []).append(entry)
    for node_id, generations in by_test.items():
        print(f"\n== {terminal_safe(node_id)} ({outcomes.get(node_id, 'not recorded')})", file=out)
        for number, entry in enumerate(generations, 1):
            facts = [str(entry.get("phase", "?"))]
            if entry.get("num_tokens") is not None:
                facts.append(f"{entry['num_tokens']} token{'' if entry['num_tokens'] == 1 else 's'}")
            facts.append(f"finish: {entry.get('finish_reason')}")
            if isinstance(entry.get("latency_s"), (int, float)):
                facts.append(f"{entry['latency_s']:.3f} s")
            if entry.get("source") == "cache":
                facts.append("from the cache")
            params = entry.get("params") or {}
            settings = ", ".join(f"{key}={value}" for key, value in sorted(params.items()))
            title = "output" if len(generations) == 1 else f"output {number} of {len(generations)}"
            if entry.get("kind") == "judge":
                title = f"judge call ({entry.get('judge')})"
                facts = [str(entry.get("phase", "?"))] + (
                    [f"reply starts {entry['reply_prefix']!r}"] if entry.get("reply_prefix") else []
                )
            print(f"-- {title} ({'; '.join(facts)}){'  [' + settings + ']' if settings else ''}", file=out)
            if entry.get("system"):
                print("system:", file=out)
                print(_indent(entry["system"]), file=out)
            if entry.get("messages") is not None:
                print("messages:", file=out)
                for message in entry["messages"]:
                    print(f"    {terminal_safe(str(message.get('role')))}:", file=out)
                    print(_indent(message.get("content"), "      "), file=out)
            else:
                print("prompt:", file=out)
                print(_indent(entry.get("prompt")), file=out)
            print("output:", file=out)
            print(_indent(entry.get("output")), file=out)


def _indent(text: str | None, prefix: str = "    ") -> str:
    """A prompt or output for the terminal: indented, with control characters and lone surrogates
    escaped (printing ``\\ud800`` raised UnicodeEncodeError; an ANSI escape would restyle the screen)."""
    if text is None:
        return prefix + "(none)"
    if text == "":
        return prefix + "(empty)"
    return "\n".join(prefix + line for line in terminal_safe(text).split("\n"))


def _load_side(ref: str, history: str) -> Baseline | RunRecord:
    # An existing path is a baseline file; anything else is a run reference into the history.
    if os.path.exists(ref):
        return read_baseline(ref)
    return RunStore(history).load_run(ref)


def _diff(args: argparse.Namespace, out: TextIO) -> int:
    before = _load_side(args.a, args.history)
    after = _load_side(args.b, args.history)
    reference = before if isinstance(before, Baseline) else baseline_from_run(before)
    # A recorded run carries the tolerances its gate used (case file, then ini); the flags cover the rest.
    recorded = {c.node_id: c.tolerances for c in after.cases if c.tolerances} if isinstance(after, RunRecord) else {}
    comparison = compare_runs(
        reference,
        after,
        tolerances=dict(args.tolerance),
        default_tolerance=args.default_tolerance,
        case_tolerances=recorded,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
        labels=(_side_label(args.a, before), _side_label(args.b, after)),
    )
    # fitted to the terminal as the session summary's table is (long ids lose their middle, reasons
    # their end; the statistics wrap): the same code
    width = shutil.get_terminal_size().columns if args.width is None else args.width
    print(comparison.format(max_rows=args.max_rows, width=width or None, verbose=args.verbose), file=out)
    return 1 if comparison.failing(args.gate) else 0


def _side_label(ref: str, side: Baseline | RunRecord) -> str:
    model = side.model if isinstance(side, RunRecord) else side.run.get("model") or {}
    source = model.get("source") if isinstance(model, dict) else None
    adapter = model.get("adapter") if isinstance(model, dict) else None
    if isinstance(side, RunRecord):
        text = f"run {side.run_id[:ID_CHARS]}"
    else:
        run_id = side.run.get("run_id")
        text = f"{ref}" + (f" (run {str(run_id)[:ID_CHARS]})" if run_id else "")
    if source:
        text += f", model {source}" + (f" + adapter {adapter}" if adapter else "")
    disabled = model.get("adapter_disabled") if isinstance(model, dict) else None
    if source and disabled:  # the base model's run of a --llm-compare-base session
        text += f" (adapter {disabled} off)"
    return text


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    before = _load_side(args.a, args.history)
    after = _load_side(args.b, args.history)
    if args.html is not None and not isinstance(after, RunRecord):
        print(
            f"llmeval: error: --html draws run B's cases with their outputs, but {args.b} is a baseline file; "
            "give a run id for B",
            file=sys.stderr,
        )
        return 2
    reference = before if isinstance(before, Baseline) else baseline_from_run(before)
    comparison = compare_runs(
        reference,
        after,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
        labels=(_side_label(args.a, before), _side_label(args.b, after)),
    )
    paired = comparison.paired
    assert paired is not None  # compare_runs with a confidence always pairs
    if comparison.settings_differences:
        # Two models are meant to differ; their generation settings are not: such outputs may
        # differ for that reason alone.
        print(
            "WARNING: generation settings differ between A and B: "
            + "; ".join(comparison.settings_differences)
            + " (outputs may differ for that reason alone)",
            file=out,
        )
    print(paired.format(max_rows=args.max_rows, ties=args.ties), file=out)
    if args.markdown is not None:
        from pytest_llmeval.markdown import format_paired_markdown
        from pytest_llmeval.store import write_file_atomic

        write_file_atomic(args.markdown, format_paired_markdown(paired).encode("utf-8"))
        print(f"wrote {args.markdown}", file=out)
    if args.html is not None:
        assert isinstance(after, RunRecord)
        data = _comparison_dashboard(before, after, args)
        path = write_dashboard(args.html, data)
        print(f"wrote {path}", file=out)
    return 1 if paired.worse else 0


def _comparison_dashboard(before: Baseline | RunRecord, after: RunRecord, args: argparse.Namespace) -> dict[str, Any]:
    from pytest_llmeval.dashboard import build_dashboard_data

    reference = before if isinstance(before, Baseline) else baseline_from_run(before)
    outputs = {case.node_id: case.output for case in before.cases} if isinstance(before, RunRecord) else None
    return build_dashboard_data(
        [after],
        reference=reference,
        reference_kind="run A",
        reference_label=_side_label(args.a, before),
        reference_outputs=outputs,
        history=args.history,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
    )


def _report(args: argparse.Namespace, out: TextIO) -> int:
    baseline = None
    baseline_path = None
    if args.baseline is not None:
        baseline_path = args.baseline
    elif not args.no_baseline and os.path.isfile(DEFAULT_BASELINE):
        baseline_path = DEFAULT_BASELINE
    if baseline_path is not None:
        baseline = read_baseline(baseline_path)  # an explicit baseline that is missing is an error
    data = dashboard_from_history(
        args.history,
        baseline=baseline,
        baseline_path=baseline_path,
        limit=args.runs,
        tolerances=dict(args.tolerance),
        run=args.run,
        confidence=args.confidence,
        resamples=args.resamples,
    )
    path = write_dashboard(args.out, data)
    latest = data["latest"]
    reference = data["reference"]
    against = (
        f"the {reference['kind']} {reference['label']}"
        if reference["label"]
        else "nothing (a single run and no baseline)"
    )
    partial = f" (partial: {latest['partial_reason']})" if latest.get("partial") else ""
    print(
        f"wrote {path}: run {latest['short_id']} ({latest['total']} cases){partial} against {against}; "
        f"{len(data['runs'])} {'run' if len(data['runs']) == 1 else 'runs'} in the charts",
        file=out,
    )
    if data.get("human_review"):
        print("with the human review of these runs (llmeval review stats prints the same numbers)", file=out)
    return 0


def _export_tensorboard(args: argparse.Namespace, out: TextIO) -> int:
    from pytest_llmeval.tensorboard_export import run_step, write_runs

    store = RunStore(args.history)
    summaries = store.runs(limit=args.runs)
    if not summaries:
        print(f"llmeval: error: no runs recorded in {args.history}: nothing to export", file=sys.stderr)
        return 2
    # In step order (ties: oldest first), so that each curve is drawn left to right.
    loaded = [store.load_run(summary.run_id) for summary in reversed(summaries)]
    runs = sorted(loaded, key=run_step)
    written = write_runs(args.logdir, runs, texts=not args.no_text)
    steps = [run_step(run) for run in runs]
    print(
        f"wrote {written} {'run' if written == 1 else 'runs'} (steps {min(steps)}..{max(steps)}) to "
        f"{args.logdir}; view: tensorboard --logdir {args.logdir}",
        file=out,
    )
    return 0


def _prune(args: argparse.Namespace, out: TextIO) -> int:
    if args.keep is None and args.older_than is None:
        print(
            "llmeval: error: say what to delete: --keep N (the newest N stay) and/or --older-than DAYS", file=sys.stderr
        )
        return 2
    store = RunStore(args.history)
    summaries = store.runs(limit=None)  # newest first
    paths = args.baseline if args.baseline is not None else [p for p in [DEFAULT_BASELINE] if os.path.isfile(p)]
    protected = {}
    for path in paths:
        run_id = read_baseline(path).run.get("run_id")
        if isinstance(run_id, str):
            protected[run_id] = path
    cutoff = time.time() - args.older_than * 86400 if args.older_than is not None else None
    doomed = [
        summary
        for position, summary in enumerate(summaries)
        if ((args.keep is not None and position >= args.keep) or (cutoff is not None and summary.started_at < cutoff))
        and summary.run_id not in protected
    ]
    kept_for_baseline = [
        summary
        for position, summary in enumerate(summaries)
        if summary.run_id in protected
        and ((args.keep is not None and position >= args.keep) or (cutoff is not None and summary.started_at < cutoff))
    ]
    verb = "would delete" if args.dry_run else "deleted"
    for summary in doomed:
        print(f"{verb} run {summary.run_id[:ID_CHARS]} ({_when(summary.started_at)}, {summary.total} cases)", file=out)
    if not args.dry_run:
        store.delete_runs([summary.run_id for summary in doomed])
        for summary in doomed:
            shutil.rmtree(run_folder(args.history, summary.run_id), ignore_errors=True)
    for summary in kept_for_baseline:
        print(f"kept run {summary.run_id[:ID_CHARS]}: the baseline {protected[summary.run_id]} accepted it", file=out)
    left = len(summaries) - (0 if args.dry_run else len(doomed))
    print(f"{verb} {len(doomed)} {'run' if len(doomed) == 1 else 'runs'}; {left} in {args.history}", file=out)
    return 0


def _demo_model(args: argparse.Namespace, out: TextIO) -> int:
    from pytest_llmeval.demo import build_demo_model, copy_demo_model

    if args.steps is None:
        path = copy_demo_model(args.path, weak=args.weak)
        print(f"wrote the {'weak ' if args.weak else ''}demo model (shipped weights) to {path}", file=out)
    else:
        if args.steps < 1:
            print("llmeval: error: --steps must be at least 1", file=sys.stderr)
            return 2
        started = time.perf_counter()
        path = build_demo_model(args.path, steps=args.steps, log=lambda line: print(line, file=out, flush=True))
        print(
            f"trained the demo model for {args.steps} steps in {time.perf_counter() - started:.1f} s: {path}", file=out
        )
    print(f"try: pytest example_suite --llm-model={path}", file=out)
    return 0


def _baseline(args: argparse.Namespace, out: TextIO) -> int:
    run = RunStore(args.history).load_run(args.run)
    acceptance = accept_run(args.out, run, "new" if args.new_only else "all")
    path = acceptance.path
    if acceptance.mode == "new":
        total = acceptance.written + acceptance.kept
        print(
            f"added {acceptance.written} new {'case' if acceptance.written == 1 else 'cases'} from run "
            f"{run.run_id} to {path} ({total} in all; existing entries unchanged)",
            file=out,
        )
        return 0
    kept = f"; kept {acceptance.kept} not in this run" if acceptance.kept else ""
    print(
        f"wrote {acceptance.written} {'case' if acceptance.written == 1 else 'cases'} from run "
        f"{run.run_id} to {path}{kept}",
        file=out,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

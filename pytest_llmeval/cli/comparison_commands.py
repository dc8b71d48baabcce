"""``llmeval diff``, ``compare`` and ``report``: a run or baseline against another, and the dashboard."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any, TextIO

from pytest_llmeval.cli.parser import DEFAULT_BASELINE
from pytest_llmeval.cli.text import ID_CHARS
from pytest_llmeval.dashboard import dashboard_from_history, write_dashboard
from pytest_llmeval.records import RunRecord
from pytest_llmeval.run_comparison import compare_runs
from pytest_llmeval.store import Baseline, RunStore, baseline_from_run, read_baseline


def load_side(ref: str, history: str) -> Baseline | RunRecord:
    # An existing path is a baseline file; anything else is a run reference into the history.
    if os.path.exists(ref):
        return read_baseline(ref)
    return RunStore(history).load_run(ref)


def diff_command(args: argparse.Namespace, out: TextIO) -> int:
    before = load_side(args.a, args.history)
    after = load_side(args.b, args.history)
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
        labels=(side_label(args.a, before), side_label(args.b, after)),
    )
    # fitted to the terminal as the session summary's table is (long ids lose their middle, reasons
    # their end; the statistics wrap): the same code
    width = shutil.get_terminal_size().columns if args.width is None else args.width
    print(comparison.format(max_rows=args.max_rows, width=width or None, verbose=args.verbose), file=out)
    return 1 if comparison.failing(args.gate) else 0


def side_label(ref: str, side: Baseline | RunRecord) -> str:
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


def compare_command(args: argparse.Namespace, out: TextIO) -> int:
    before = load_side(args.a, args.history)
    after = load_side(args.b, args.history)
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
        labels=(side_label(args.a, before), side_label(args.b, after)),
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
        data = comparison_dashboard(before, after, args)
        path = write_dashboard(args.html, data)
        print(f"wrote {path}", file=out)
    return 1 if paired.worse else 0


def comparison_dashboard(before: Baseline | RunRecord, after: RunRecord, args: argparse.Namespace) -> dict[str, Any]:
    from pytest_llmeval.dashboard import build_dashboard_data

    reference = before if isinstance(before, Baseline) else baseline_from_run(before)
    outputs = {case.node_id: case.output for case in before.cases} if isinstance(before, RunRecord) else None
    return build_dashboard_data(
        [after],
        reference=reference,
        reference_kind="run A",
        reference_label=side_label(args.a, before),
        reference_outputs=outputs,
        history=args.history,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
    )


def report_command(args: argparse.Namespace, out: TextIO) -> int:
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

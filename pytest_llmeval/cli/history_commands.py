"""``llmeval runs``, ``show``, ``prune`` and ``baseline``: list, read, trim the run history and accept a run."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from pytest_llmeval.baseline_policy import accept_run
from pytest_llmeval.cli.parser import DEFAULT_BASELINE
from pytest_llmeval.cli.text import ID_CHARS, indent, table, when
from pytest_llmeval.failure_text import terminal_safe
from pytest_llmeval.inference_log import InferenceLogError, inference_log_path, read_inference_log, run_folder
from pytest_llmeval.records import RunRecord
from pytest_llmeval.run_scope import run_scope
from pytest_llmeval.store import RunStore, read_baseline


def runs_command(args: argparse.Namespace, out: TextIO) -> int:
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
                when(summary.started_at),
                summary.model_source or "-",
                str(passed),
                str(failed),
                str(summary.total - passed - failed),
                f"PARTIAL: {scope.reason}" if scope.partial else "full",
            ]
        )
    table(rows, out)
    return 0


def show_command(args: argparse.Namespace, out: TextIO) -> int:
    run = RunStore(args.history).load_run(args.run)
    print(
        f"run       {run.run_id}{'' if run.complete else '  (INCOMPLETE: a selection, or the session stopped early)'}",
        file=out,
    )
    print(f"started   {when(run.started_at)}", file=out)
    print(f"finished  {when(run.finished_at)}", file=out)
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
        show_outputs(run, Path(args.history), out)
    return 0


def show_outputs(run: RunRecord, history: Path, out: TextIO) -> None:
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
            print(indent(case.prompt), file=out)
            print("output:", file=out)
            print(indent(case.output), file=out)
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
                print(indent(entry["system"]), file=out)
            if entry.get("messages") is not None:
                print("messages:", file=out)
                for message in entry["messages"]:
                    print(f"    {terminal_safe(str(message.get('role')))}:", file=out)
                    print(indent(message.get("content"), "      "), file=out)
            else:
                print("prompt:", file=out)
                print(indent(entry.get("prompt")), file=out)
            print("output:", file=out)
            print(indent(entry.get("output")), file=out)


def prune_command(args: argparse.Namespace, out: TextIO) -> int:
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
        print(f"{verb} run {summary.run_id[:ID_CHARS]} ({when(summary.started_at)}, {summary.total} cases)", file=out)
    if not args.dry_run:
        store.delete_runs([summary.run_id for summary in doomed])
        for summary in doomed:
            shutil.rmtree(run_folder(args.history, summary.run_id), ignore_errors=True)
    for summary in kept_for_baseline:
        print(f"kept run {summary.run_id[:ID_CHARS]}: the baseline {protected[summary.run_id]} accepted it", file=out)
    left = len(summaries) - (0 if args.dry_run else len(doomed))
    print(f"{verb} {len(doomed)} {'run' if len(doomed) == 1 else 'runs'}; {left} in {args.history}", file=out)
    return 0


def baseline_command(args: argparse.Namespace, out: TextIO) -> int:
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

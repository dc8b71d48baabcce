"""``llmeval export tensorboard``: the run history as TensorBoard events."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from pytest_llmeval.store import RunStore


def export_tensorboard_command(args: argparse.Namespace, out: TextIO) -> int:
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

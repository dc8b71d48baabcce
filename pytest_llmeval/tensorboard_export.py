"""Runs as TensorBoard events: pass rates and metric means as scalars, each case's output as text.

One run is one step. The step is the number the user gave (``--llm-step``: a training step or a
checkpoint number, kept with the run as ``model["step"]`` so that ``llmeval export tensorboard``
writes it again from the history), else the run's start time in whole seconds. The wall time is always
the run's start, so TensorBoard's "relative" and "wall" axes read right either way. Runs written to
the same folder share their tags, so a checkpoint sweep shows as one curve per scalar.

Scalars (tags):

- ``pass_rate/overall``; ``pass_rate/mode/<success_mode|failure_mode>``; ``pass_rate/file/<file>``;
  ``pass_rate/tag/<tag>``: (passed + xpassed) / (cases - skipped), the definition the gate and the
  dashboard use; a group with nothing counted writes no point;
- ``cases/<outcome>``: how many cases had each outcome;
- ``metric/<name>``: the mean of the metric over the run's cases that recorded it.

Text: ``case/<node id>``: the outcome, the failure message, the prompt and the output (Markdown).

Written with the ``tensorboard`` package's own event-file writer and summary protos (an extra:
``pip install 'pytest-llmeval[tensorboard]'``), imported on first use.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.records import MODES, OUTCOMES, RunRecord
from pytest_llmeval.run_comparison import pass_rate

__all__ = ["TensorBoardError", "case_texts", "run_scalars", "run_step", "write_runs"]

# A text summary longer than this is cut (the full output stays in the history and inference log).
TEXT_LIMIT = 4000


class TensorBoardError(Exception):
    """The events cannot be written (tensorboard missing, the folder not writable)."""


def run_step(run: RunRecord) -> int:
    """The run's step: the user's (``model["step"]``), else its start time in whole seconds."""
    step = run.model.get("step") if isinstance(run.model, dict) else None
    if isinstance(step, int) and not isinstance(step, bool):
        return step
    return int(run.started_at)


def _file_of(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def run_scalars(run: RunRecord) -> dict[str, float]:
    """Every scalar of one run, by tag (see the module docstring)."""
    scalars: dict[str, float] = {}

    def add_rate(tag: str, outcomes: Sequence[str]) -> None:
        rate = pass_rate(outcomes)
        if rate is not None:
            scalars[tag] = rate

    outcomes = [case.outcome for case in run.cases]
    add_rate("pass_rate/overall", outcomes)
    for mode in MODES:
        add_rate(f"pass_rate/mode/{mode}", [c.outcome for c in run.cases if c.mode == mode])
    for file in sorted({_file_of(c.node_id) for c in run.cases}):
        add_rate(f"pass_rate/file/{file}", [c.outcome for c in run.cases if _file_of(c.node_id) == file])
    for tag in sorted({t for c in run.cases for t in c.tags}):
        add_rate(f"pass_rate/tag/{tag}", [c.outcome for c in run.cases if tag in c.tags])
    for outcome in OUTCOMES:
        scalars[f"cases/{outcome}"] = float(outcomes.count(outcome))
    values: dict[str, list[float]] = {}
    for case in run.cases:
        for name, metric in case.metrics.items():
            value = metric.get("value") if isinstance(metric, dict) else None
            if isinstance(value, (int, float)) and math.isfinite(value):
                values.setdefault(name, []).append(float(value))
    for name, numbers in sorted(values.items()):
        scalars[f"metric/{name}"] = sum(numbers) / len(numbers)
    return scalars


def _clip(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f"\n... ({len(text)} chars)"


def _fenced(text: str) -> str:
    # Indented code keeps the text as written (Markdown would otherwise render a model's '#' or '*').
    return "\n".join("    " + line for line in _clip(text).splitlines() or [""])


def case_texts(run: RunRecord) -> dict[str, str]:
    """Each case as Markdown, by tag ``case/<node id>``: outcome, message, prompt and output."""
    texts = {}
    for case in run.cases:
        parts = [f"**{case.outcome}**" + (f": {case.message}" if case.message else "")]
        if case.prompt is not None:
            parts += ["prompt:", _fenced(case.prompt)]
        if case.output is not None:
            parts += ["output:", _fenced(case.output)]
        texts[f"case/{case.node_id}"] = "\n\n".join(parts)
    return texts


def _tensorboard() -> tuple[Any, Any, Any, Any]:
    try:
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.scalar.summary_v2 import scalar_pb
        from tensorboard.plugins.text.summary_v2 import text_pb
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError:
        raise TensorBoardError(
            "writing TensorBoard events needs the tensorboard package: pip install 'pytest-llmeval[tensorboard]'"
        ) from None
    return EventFileWriter, event_pb2, scalar_pb, text_pb


def write_runs(logdir: str | Path, runs: Iterable[RunRecord], *, texts: bool = True) -> int:
    """Write each run's scalars (and, with ``texts``, its cases' outputs) at the run's step into one
    new event file in ``logdir`` (created); return how many runs were written. Raises
    TensorBoardError."""
    event_file_writer, event_pb2, scalar_pb, text_pb = _tensorboard()
    folder = Path(logdir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # tensorboard names a file by second, host, pid and a counter that restarts with its module:
        # two writes in one second from one process would share a name and the second would
        # replace the first, so a random part keeps every write's file apart.
        writer = event_file_writer(str(folder), filename_suffix=f".{uuid.uuid4().hex[:12]}.llmeval")
    except OSError as exc:
        raise TensorBoardError(f"cannot write TensorBoard events to {folder}: {exc}") from None
    written = 0
    try:
        for run in runs:
            written += 1
            step, wall_time = run_step(run), float(run.started_at or time.time())
            for tag, value in run_scalars(run).items():
                writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=scalar_pb(tag, value)))
            if texts:
                for tag, text in case_texts(run).items():
                    writer.add_event(event_pb2.Event(wall_time=wall_time, step=step, summary=text_pb(tag, text)))
    finally:
        writer.close()
    return written

"""How a run maps onto the history's table rows and back (the SQL around them is ``store.py``'s).

Structured fields (checks, metrics, tags, the model and settings blocks) are stored as JSON text;
free text goes through ``storable_text``, so one lone surrogate in an output never loses a run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.history_schema import StoreError
from pytest_llmeval.record_encoding import storable_text, to_json
from pytest_llmeval.records import CaseRecord, RunRecord

__all__ = [
    "CASE_COLUMNS",
    "RUN_COLUMNS",
    "case_from_row",
    "case_rows",
    "from_json",
    "run_from_row",
    "run_row",
]

# The column order of ``run_row`` / ``run_from_row`` and of ``case_rows`` (after run_id, position)
# / ``case_from_row``.
RUN_COLUMNS = "run_id, started_at, finished_at, complete, model, settings, versions, git_commit"
CASE_COLUMNS = (
    "node_id, outcome, duration_s, mode, checks, metrics, prompt, output, message, tags, tolerances, label, samples"
)


def run_row(run: RunRecord, run_id: str) -> tuple[Any, ...]:
    """The ``runs`` row of ``run`` (under ``run_id``), in ``RUN_COLUMNS`` order."""
    return (
        run_id,
        float(run.started_at),
        None if run.finished_at is None else float(run.finished_at),
        int(bool(run.complete)),
        to_json(run.model),
        to_json(run.settings),
        to_json(run.versions),
        run.git_commit,
    )


def case_rows(run: RunRecord, run_id: str) -> list[tuple[Any, ...]]:
    """The ``cases`` rows of ``run``: run_id, position, then ``CASE_COLUMNS`` order."""
    return [
        (
            run_id,
            position,
            storable_text(case.node_id),
            case.outcome,
            float(case.duration_s),
            case.mode,
            to_json(case.checks),
            to_json(case.metrics),
            storable_text(case.prompt),
            storable_text(case.output),
            storable_text(case.message),
            to_json(list(case.tags)),
            to_json(dict(case.tolerances)),
            storable_text(case.label),
            None if case.samples is None else to_json(case.samples),
        )
        for position, case in enumerate(run.cases)
    ]


def from_json(text: str, path: Path) -> Any:
    """A stored JSON field of the history at ``path``; ``StoreError`` when it is damaged."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"the run history {path} holds a damaged record ({exc}); move it aside "
            f"(e.g. mv {path} {path}.corrupt) and the next run starts a new history"
        ) from exc


def case_from_row(row: Sequence[Any], path: Path) -> CaseRecord:
    """The case of one ``cases`` row selected in ``CASE_COLUMNS`` order."""
    (node_id, outcome, duration_s, mode, checks, metrics, prompt, output, message, tags, tolerances, label, samples) = (
        row
    )
    return CaseRecord(
        node_id=node_id,
        outcome=outcome,
        duration_s=duration_s,
        mode=mode,
        checks=from_json(checks, path),
        metrics=from_json(metrics, path),
        prompt=prompt,
        output=output,
        message=message,
        tags=from_json(tags, path),
        tolerances=from_json(tolerances, path),
        label=label,
        samples=None if samples is None else from_json(samples, path),
    )


def run_from_row(row: Sequence[Any], cases: list[CaseRecord], path: Path) -> RunRecord:
    """The run of one ``runs`` row selected in ``RUN_COLUMNS`` order, with ``cases``."""
    return RunRecord(
        run_id=row[0],
        started_at=row[1],
        finished_at=row[2],
        complete=bool(row[3]),
        model=from_json(row[4], path),
        settings=from_json(row[5], path),
        versions=from_json(row[6], path),
        git_commit=row[7],
        cases=cases,
    )

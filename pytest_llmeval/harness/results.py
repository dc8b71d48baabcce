"""The controller's book of what the test reports said, whichever process ran each test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_llmeval.harness.payload import ReportPayload
from pytest_llmeval.records import MODES, CaseRecord

if TYPE_CHECKING:
    import pytest

    from pytest_llmeval.harness.groups import GroupBook

__all__ = ["ResultBook", "deciding_outcome"]


def deciding_outcome(report: pytest.TestReport) -> str | None:
    """A test's outcome from the report of the phase that decides it (None for other phases)."""
    outcome: str
    if report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # a setup or teardown failure
    elif report.skipped and report.when == "setup":
        outcome = "skipped"
    else:
        return None
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    return outcome


@dataclass
class ResultBook:
    """Outcomes per mode marker, each test's record, and the inference log's lines in report order."""

    mode_outcomes: dict[str, dict[str, int]] = field(default_factory=dict)  # mode -> outcome -> count
    records: dict[str, CaseRecord] = field(default_factory=dict)  # node id -> record
    inferences: list[dict[str, Any]] = field(default_factory=list)

    def add(self, report: pytest.TestReport, groups: GroupBook, *, keep_inferences: bool) -> None:
        """Book one report (a hook's worth of work: called for every report of the session)."""
        payload = ReportPayload.of(report)
        if payload is not None and keep_inferences:
            self.inferences.extend(payload.inferences)
        outcome = deciding_outcome(report)
        if outcome is not None:
            for mode in MODES:
                if mode in report.keywords:
                    counts = self.mode_outcomes.setdefault(mode, {})
                    counts[outcome] = counts.get(outcome, 0) + 1
        if payload is None:
            if report.when == "teardown" and report.failed and report.nodeid in self.records:
                self.records[report.nodeid].outcome = "error"
            return
        if payload.record is not None:
            self.records[report.nodeid] = payload.record
        elif report.when == "teardown" and report.failed and report.nodeid in self.records:
            self.records[report.nodeid].outcome = "error"
        for label in payload.labels:
            groups.add_label(label)
        if payload.group_entry is not None:
            groups.add_entry(payload.group_entry)
        groups.entity_predictions.extend(payload.entities)
        groups.counterfactuals.extend(payload.counterfactuals)

    def metric_values(self) -> dict[str, tuple[list[float], bool]]:
        """Each metric's per-test values (a test's mean where it recorded one twice) and direction."""
        values: dict[str, tuple[list[float], bool]] = {}
        for record in self.records.values():
            for name, metric in record.metrics.items():
                value = metric.get("value")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    values.setdefault(name, ([], bool(metric.get("higher_is_better", True))))[0].append(float(value))
        return values

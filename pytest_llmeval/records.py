"""What a run records: plain data shared by the plugin, the history store, baselines and the CLI.

Everything here is JSON-compatible (dicts, lists, strings, numbers), so records travel from xdist
workers to the controller on test reports and are stored as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["CaseRecord", "RunRecord", "MODES", "OUTCOMES", "OUTCOMES_WORST_FIRST", "local_time"]

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")  # the order counts are shown in
OUTCOMES_WORST_FIRST = ("error", "failed", "xfailed", "xpassed", "skipped", "passed")  # the order cases are listed in
MODES = ("success_mode", "failure_mode")  # a case's mode marker, when it has one


@dataclass
class CaseRecord:
    """One test of a run. ``checks``: [{"name", "passed", "score", "message"}]; ``metrics``:
    {name: {"value": float, "higher_is_better": bool}} (the mean when a test records one twice)."""

    node_id: str
    outcome: str  # one of OUTCOMES
    duration_s: float = 0.0
    mode: str | None = None  # "success_mode" | "failure_mode" | None
    checks: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    prompt: str | None = None
    output: str | None = None  # the test's (first) model output
    message: str | None = None  # one line: why it failed
    # the gate's tolerance for each of this case's metrics that has one (the case file's, else the
    # session's --llm-metric-tolerance), so a report made later from the history judges drops alike
    tolerances: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)  # case-file tags and the test's own markers
    label: str | None = None  # a classification case's gold label
    # repeated samples (samples.SampleOutcome.to_record): n, passed, rate, Wilson low/high, threshold,
    # pass@k and pass^k; None for a test of one output
    samples: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class RunRecord:
    """One pytest session with a model. ``model``: {"source", "backend", "model_id" (fingerprint with
    dtype/device/chat mode), "adapter", "dtype", "device"}; ``settings``: generation settings
    (max_new_tokens, batch_size, chat_template, seed, dtype, device); ``versions``: library versions."""

    run_id: str
    started_at: float
    finished_at: float | None
    complete: bool
    model: dict[str, Any]
    settings: dict[str, Any]
    versions: dict[str, str]
    git_commit: str | None
    cases: list[CaseRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cases"] = [c.to_dict() for c in self.cases]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "cases"}
        return cls(**fields, cases=[CaseRecord.from_dict(c) for c in data.get("cases", [])])


def local_time(timestamp: float | None) -> str | None:
    """A run's time as people read it in their own time zone (``2026-11-30 14:05:09``)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")

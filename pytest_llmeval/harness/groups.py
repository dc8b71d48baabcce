"""Groups over cases, judged after the run: a case file's pass rate (``pass_rate``, per tag too),
its classification metrics (``classification``), its entity scores (``ner``) and the parity of its
counterfactual results (``fairness``).

Each group is a real collected item (``collection.GroupItem``): counted, selected by ``-k``, rerun
by ``--lf``, written to JUnit. Its verdict needs every case's result, which only the controller
has under xdist, so the item does nothing when its turn comes except say it was selected
(``GroupSpec``); after the last test the controller judges each selected group from the cases'
payloads and reports it like any test (``emit_group_reports``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pytest

from pytest_llmeval.harness.payload import ClassificationLabel, GroupEntry
from pytest_llmeval.records import CaseRecord

if TYPE_CHECKING:  # imported where a group is judged: every pytest run imports this module at start-up
    from pytest_llmeval.counterfactual import FairnessGroup
    from pytest_llmeval.metrics.ner import NERGroup

__all__ = [
    "ClassificationGroup",
    "GroupBook",
    "GroupSpec",
    "NamedEntityGroup",
    "ParityGroup",
    "PassRateGroup",
    "emit_group_reports",
]

GroupKind = Literal["pass_rate", "classification", "ner", "fairness"]
Location = tuple[str, int | None, str]


@dataclass(frozen=True)
class GroupSpec:
    """A selected group item, as it travels from the process that ran it to the controller."""

    node_id: str
    location: Location
    kind: GroupKind
    threshold: float | None = None  # pass_rate
    classification: dict[str, Any] | None = None  # classification: labels, pattern, min_* thresholds
    ner: dict[str, float] | None = None  # ner: its min_* thresholds
    max_gap: float | None = None  # fairness: the largest parity gap allowed

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible, for xdist's workeroutput."""
        data = asdict(self)
        data["location"] = list(self.location)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupSpec:
        """The spec ``to_dict`` gave."""
        return cls(**{**data, "location": tuple(data["location"])})


@dataclass
class PassRateGroup:
    """A pass-rate group's cases as they finished."""

    spec: GroupSpec
    total: int = 0
    passed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # the cases' node ids

    @property
    def threshold(self) -> float:
        """The pass rate required."""
        assert self.spec.threshold is not None
        return self.spec.threshold

    def add(self, case_id: str, passed: bool, reason: str) -> None:
        """Count one case's result."""
        self.total += 1
        if passed:
            self.passed += 1
        else:
            self.failures.append((case_id, reason))

    @property
    def rate(self) -> float:
        """The share of the group's cases that passed (0 with none)."""
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        """Whether the rate meets the threshold."""
        return self.rate + 1e-12 >= self.threshold

    def summary(self) -> str:
        """One line: passed of total, the rate, the threshold and the verdict."""
        verdict = "ok" if self.ok else "FAILED"
        sign = ">=" if self.ok else "<"
        return (
            f"{self.spec.node_id}: {self.passed}/{self.total} passed ({self.rate:.1%}) {sign} "
            f"{self.threshold:.1%} required: {verdict}"
        )

    def failure_text(self) -> str | None:
        """Why the group failed, with each failed case (None when it passed)."""
        if self.ok:
            return None
        lines = [self.summary(), "failed cases (tolerated one by one, counted here):"]
        lines += [f"  {case_id}: {reason}" for case_id, reason in self.failures]
        return "\n".join(lines)

    def properties(self) -> list[tuple[str, object]]:
        """JUnit properties of the group's report."""
        return [("pass_rate", self.rate), ("threshold", self.threshold)]

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metrics of the group's run record (none)."""
        return {}


@dataclass
class ClassificationGroup:
    """A classification group: gold and predicted labels as the cases finished."""

    spec: GroupSpec
    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # the cases' node ids

    @property
    def total(self) -> int:
        """How many of the group's cases reported a label."""
        return len(self.gold)

    @property
    def _classification(self) -> dict[str, Any]:
        assert self.spec.classification is not None
        return self.spec.classification

    def result(self) -> Any:
        """The classification check's result over the group's labels."""
        from pytest_llmeval.metrics import classification_report, classification_result

        report = classification_report(self.gold, self.predicted, labels=list(self._classification["labels"]))
        thresholds = {k: v for k, v in self._classification.items() if k.startswith("min_") and v is not None}
        return classification_result(report, name=self.spec.node_id, **thresholds)

    def table(self) -> str:
        """The per-label table (precision, recall, F1, support)."""
        from pytest_llmeval.metrics import classification_report

        return classification_report(self.gold, self.predicted, labels=list(self._classification["labels"])).format()

    def failure_text(self) -> str | None:
        """The missed threshold and the table (None when it passed)."""
        result = self.result()
        return None if result.passed else f"{result.message}\n\n{self.table()}"

    def properties(self) -> list[tuple[str, object]]:
        """JUnit properties of the group's report (none)."""
        return []

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Metrics of the group's run record (none)."""
        return {}


@dataclass
class NamedEntityGroup:
    """A NER group: each case's gold and predicted spans, scored together with nervaluate."""

    spec: GroupSpec
    scores: NERGroup
    members: list[str] = field(default_factory=list)  # the cases' node ids

    @property
    def total(self) -> int:
        """How many of the group's cases reported their entities."""
        return len(self.scores.cases)

    def result(self) -> Any:
        """The group's verdict against its thresholds (``metrics.ner.ner_result``)."""
        return self.scores.result()

    def failure_text(self) -> str | None:
        """The missed thresholds, the table and each case's differences (None when it passed)."""
        return None if self.result().passed else self.scores.failure_text()

    def properties(self) -> list[tuple[str, object]]:
        """JUnit properties: every group metric."""
        return [(m["name"], m["value"]) for m in self.result().details["metrics"]]

    def metrics(self) -> dict[str, dict[str, Any]]:
        """Strict/exact/partial/ent_type F1 and each type's strict F1, in the run for the gate."""
        return {m["name"]: {"value": m["value"], "higher_is_better": True} for m in self.result().details["metrics"]}


@dataclass
class ParityGroup:
    """A fairness group: the cases' counterfactual results, per category."""

    spec: GroupSpec
    parity: FairnessGroup
    members: list[str] = field(default_factory=list)  # the cases' node ids

    @property
    def total(self) -> int:
        """How many of the group's cases reported a counterfactual result."""
        return self.parity.total

    def result(self) -> Any:
        """The group's verdict against ``max_gap`` (``counterfactual.parity_result``)."""
        return self.parity.result()

    def failure_text(self) -> str | None:
        """The categories over the gap, each group's pass rate and the failing pairs."""
        return self.parity.failure_text()

    def properties(self) -> list[tuple[str, object]]:
        """JUnit properties: every group metric."""
        return [(m["name"], m["value"]) for m in self.result().details["metrics"]]

    def metrics(self) -> dict[str, dict[str, Any]]:
        """``parity_gap[<category>]`` (and ``score_gap[...]``), lower is better."""
        return {m["name"]: {"value": m["value"], "higher_is_better": False} for m in self.result().details["metrics"]}


Group = PassRateGroup | ClassificationGroup | NamedEntityGroup | ParityGroup


@dataclass
class GroupBook:
    """Selected group items and what their cases reported (on the controller)."""

    selected: dict[str, GroupSpec] = field(default_factory=dict)
    entries: list[GroupEntry] = field(default_factory=list)
    labels: list[ClassificationLabel] = field(default_factory=list)
    entity_predictions: list[dict[str, Any]] = field(default_factory=list)  # {"group", "node_id", "case", "gold", ...}
    counterfactuals: list[dict[str, Any]] = field(default_factory=list)  # {"group", "node_id", "case", "original", ...}

    def select(self, spec: GroupSpec) -> None:
        """A group item took its turn: judge it after the run."""
        self.selected[spec.node_id] = spec

    def add_entry(self, entry: GroupEntry) -> None:
        """A case's result for its pass-rate groups."""
        self.entries.append(entry)

    def add_label(self, label: ClassificationLabel) -> None:
        """A case's labels for its classification groups."""
        self.labels.append(label)

    def judged(self) -> list[Group]:
        """Every selected group with its cases' results, in selection order."""
        groups: list[Group] = []
        for spec in self.selected.values():
            if spec.kind == "pass_rate":
                rate_group = PassRateGroup(spec)
                for entry in self.entries:
                    if spec.node_id in entry.groups:
                        rate_group.add(entry.case_id, entry.passed, entry.reason)
                        rate_group.members.append(entry.node_id)
                groups.append(rate_group)
            elif spec.kind == "ner":
                from pytest_llmeval.metrics.ner import NERGroup

                entities = NamedEntityGroup(spec, NERGroup(spec.node_id, dict(spec.ner or {})))
                for prediction in self.entity_predictions:
                    if prediction["group"] == spec.node_id:
                        entities.scores.add(prediction)
                        entities.members.append(prediction["node_id"])
                groups.append(entities)
            elif spec.kind == "fairness":
                from pytest_llmeval.counterfactual import FairnessGroup

                parity = ParityGroup(spec, FairnessGroup(spec.node_id, spec.max_gap))
                for result in self.counterfactuals:
                    if result["group"] == spec.node_id:
                        parity.parity.add(result["case"], result)
                        parity.members.append(result["node_id"])
                groups.append(parity)
            else:
                labelled = ClassificationGroup(spec)
                for label in self.labels:
                    if label.group == spec.node_id:
                        labelled.gold.append(label.gold)
                        labelled.predicted.append(label.predicted)
                        labelled.members.append(label.node_id)
                groups.append(labelled)
        return groups


def _report(
    spec: GroupSpec, when: str, outcome: str, longrepr: Any, properties: list[tuple[str, object]]
) -> pytest.TestReport:
    now = time.time()
    return pytest.TestReport(
        nodeid=spec.node_id,
        location=spec.location,
        keywords={spec.kind: 1},
        outcome=outcome,  # type: ignore[arg-type]
        longrepr=longrepr,
        when=when,  # type: ignore[arg-type]
        sections=[],
        duration=0.0,
        start=now,
        stop=now,
        user_properties=properties,
    )


def _rerun_members_with_last_failed(config: pytest.Config, members: list[str]) -> None:
    """A failed group is judged over its cases, so ``--lf`` must rerun them with it: tell the
    cache provider's last-failed plugin (its ``lastfailed`` record, as a failing report would)."""
    last_failed = config.pluginmanager.get_plugin("lfplugin")
    record = getattr(last_failed, "lastfailed", None)
    if isinstance(record, dict):
        record.update({node_id: True for node_id in members if node_id})


def emit_group_reports(config: pytest.Config, groups: list[Group]) -> list[CaseRecord]:
    """Report each judged group as its item's test (setup, call, teardown, so the terminal, JUnit
    and --lf see a whole test) and return the groups' records for the run."""
    records = []
    for group in groups:
        spec = group.spec
        config.hook.pytest_runtest_logstart(nodeid=spec.node_id, location=spec.location)
        if group.total == 0:
            reason = "no case of this group ran in this session; select its cases to judge it"
            longrepr: Any = (spec.location[0], spec.location[1] or 0, f"Skipped: {reason}")
            outcome: str = "skipped"
            message: str | None = reason
            config.hook.pytest_runtest_logreport(report=_report(spec, "setup", "skipped", longrepr, []))
        else:
            text = group.failure_text()
            outcome = "passed" if text is None else "failed"
            message = None if text is None else text.splitlines()[0]
            config.hook.pytest_runtest_logreport(report=_report(spec, "setup", "passed", None, []))
            config.hook.pytest_runtest_logreport(report=_report(spec, "call", outcome, text, group.properties()))
            if text is not None:
                _rerun_members_with_last_failed(config, group.members)
        config.hook.pytest_runtest_logreport(report=_report(spec, "teardown", "passed", None, []))
        config.hook.pytest_runtest_logfinish(nodeid=spec.node_id, location=spec.location)
        records.append(
            CaseRecord(
                spec.node_id,
                outcome,
                message=message,
                metrics=group.metrics() if group.total else {},
                checks=_view_checks(group) if group.total else [],
            )
        )
    return records


def _view_checks(group: Group) -> list[dict[str, Any]]:
    """A NER or fairness group's verdict with what the dashboard shows of it (``group_views``)."""
    from pytest_llmeval.group_views import fairness_view, group_check, ner_view

    if isinstance(group, NamedEntityGroup):
        result = group.result()
        return [group_check("ner", result, ner_view(result.value))]
    if isinstance(group, ParityGroup):
        return [group_check("fairness", group.result(), fairness_view(group.parity.results, group.spec.max_gap))]
    return []

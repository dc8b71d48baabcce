"""The one message a test's report carries from the process that ran it to the controller.

Under xdist each report travels from a worker through execnet; serially the same object is read
back in-process, so both paths share this code. It is one attribute, ``llmeval_payload``, holding
one JSON text: serialised once, versioned, and ASCII-only (``json.dumps`` escapes every non-ASCII
character, lone surrogates included, which execnet could not send as text).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmeval.records import CaseRecord

__all__ = ["ATTRIBUTE", "VERSION", "ClassificationLabel", "GroupEntry", "PayloadError", "ReportPayload"]

ATTRIBUTE = "llmeval_payload"
VERSION = 1


class PayloadError(RuntimeError):
    """A report carried a payload of another version or shape (mixed plugin versions)."""


@dataclass
class ClassificationLabel:
    """A case's gold and predicted label for one classification group."""

    group: str  # the group item's node id
    gold: str
    predicted: str
    node_id: str = ""  # the case's


@dataclass
class GroupEntry:
    """A case's result as its pass-rate groups count it."""

    case_id: str
    passed: bool
    reason: str  # why it failed ("" when it passed)
    groups: list[str]  # the group items' node ids
    node_id: str = ""  # the case's


@dataclass
class ReportPayload:
    """What the controller needs from one report of one test.

    ``record``: the test's outcome, checks and metrics, on the report of the phase that decides the
    outcome (the true outcome, before a group or the baseline turns a failure into an x).
    ``inferences``: the inference log lines of generations made in this phase.
    """

    record: CaseRecord | None = None
    inferences: list[dict[str, Any]] = field(default_factory=list)
    labels: list[ClassificationLabel] = field(default_factory=list)
    group_entry: GroupEntry | None = None
    # a case's spans for each of its NER groups, and its counterfactual result for each fairness group
    entities: list[dict[str, Any]] = field(default_factory=list)
    counterfactuals: list[dict[str, Any]] = field(default_factory=list)

    def is_empty(self) -> bool:
        """Nothing to tell the controller."""
        return (
            self.record is None
            and not self.inferences
            and not self.labels
            and self.group_entry is None
            and not self.entities
            and not self.counterfactuals
        )

    def to_json(self) -> str:
        """One ASCII JSON text with the version."""
        data = {
            "version": VERSION,
            "record": self.record.to_dict() if self.record is not None else None,
            "inferences": self.inferences,
            "labels": [asdict(label) for label in self.labels],
            "group_entry": asdict(self.group_entry) if self.group_entry is not None else None,
            "entities": self.entities,
            "counterfactuals": self.counterfactuals,
        }
        return json.dumps(data, ensure_ascii=True, allow_nan=True)

    @classmethod
    def from_json(cls, text: str) -> ReportPayload:
        """Read ``to_json``'s text; PayloadError for another version."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            found = data.get("version") if isinstance(data, dict) else type(data).__name__
            raise PayloadError(f"llmeval report payload version {found!r}; this plugin reads version {VERSION}")
        record = data.get("record")
        entry = data.get("group_entry")
        return cls(
            record=CaseRecord.from_dict(record) if record is not None else None,
            inferences=list(data.get("inferences") or []),
            labels=[ClassificationLabel(**label) for label in data.get("labels") or []],
            group_entry=GroupEntry(**entry) if entry is not None else None,
            entities=list(data.get("entities") or []),
            counterfactuals=list(data.get("counterfactuals") or []),
        )

    def attach(self, report: object) -> None:
        """Put this payload on ``report`` (replacing one attached earlier in the same hook)."""
        setattr(report, ATTRIBUTE, self.to_json())

    @classmethod
    def of(cls, report: object) -> ReportPayload | None:
        """The payload ``report`` carries, if any."""
        text = getattr(report, ATTRIBUTE, None)
        return cls.from_json(text) if isinstance(text, str) else None

"""What a run covered and which of its failures are the suite's own: partial runs, suite errors, and
how two runs' models differ, in words a person reads.

Plain Python, shared by the dashboard and the ``llmeval`` command.

- A **suite error** is a problem in the tests, not in the model: a case file that does not parse or
  validate, a check called with a bad argument (``CheckUsageError``). It says nothing about the model,
  so reports show it apart and keep it out of pass rates and regressions.
- A **partial run** did not run the whole suite: it was recorded as incomplete (a selection with
  ``-k``/``-m``/``--deselect``, or an interrupted session), it lacks cases the baseline has, or it has
  no model result at all (only suite errors). Its pass rate is not the suite's, so charts mark it and
  keep it off the trend line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmeval.records import CaseRecord, RunRecord

__all__ = ["RunScope", "describe_model_change", "is_suite_error", "model_cases", "run_scope"]

# How the plugin words a usage error in a case's one-line message: the exception's qualified name
# first (a broken case file, a check used wrongly in Python), or the case-file item's own sentence.
_SUITE_ERROR_PREFIXES = (
    "pytest_llmeval.cases.CaseError:",
    "pytest_llmeval.checks.base.CheckUsageError:",
    "pytest_llmeval.checks.CheckUsageError:",
    "CaseError:",
    "CheckUsageError:",
    "Failed: @pytest.mark.llm: ",  # an invalid marker (an unknown generation parameter)
)
_CASE_USAGE_ERROR = re.compile(r"^case .+ \(.+\): usage error in expect \(not a model failure\)")


def is_suite_error(case: CaseRecord) -> bool:
    """Whether ``case`` failed through a problem in the test itself (a broken case file, a check used
    with bad arguments) rather than through the model's output."""
    if case.outcome not in ("failed", "error"):
        return False
    message = (case.message or "").lstrip()
    if message.startswith(_SUITE_ERROR_PREFIXES) or _CASE_USAGE_ERROR.match(message):
        return True
    # A case file that does not load: its item errors with the CaseError's own text, which starts
    # with the file and line ("evals/support.eval.yaml:4: not valid YAML ...").
    file_name = case.node_id.split("::", 1)[0].rsplit("/", 1)[-1]
    return case.outcome == "error" and bool(re.match(rf"^(?:\S*/)?{re.escape(file_name)}(?::\d+)?: ", message))


def model_cases(cases: Sequence[CaseRecord]) -> list[CaseRecord]:
    """The cases that say something about the model: all but the suite errors."""
    return [case for case in cases if not is_suite_error(case)]


@dataclass(frozen=True)
class RunScope:
    """What one run covered. ``reason`` says why it is partial (``None`` when it is not)."""

    partial: bool
    reason: str | None
    cases: int  # cases recorded (suite errors included)
    suite_errors: int
    not_run: int  # of the reference's cases


def run_scope(
    run: RunRecord, reference_ids: Collection[str] | None = None, reference_name: str = "baseline"
) -> RunScope:
    """Whether ``run`` covered the whole suite. ``reference_ids``: the case ids of the suite as the
    baseline knows it (``None``: no baseline, so only the run's own record and errors decide)."""
    node_ids = {case.node_id for case in run.cases}
    suite_errors = sum(is_suite_error(case) for case in run.cases)
    not_run = len(set(reference_ids) - node_ids) if reference_ids is not None else 0
    reasons: list[str] = []
    if not run.cases:
        reasons.append("no cases ran")
    elif suite_errors == len(node_ids):
        reasons.append("only errors of the suite, no model result")
    if not_run and reference_ids is not None:
        ran = len(node_ids & set(reference_ids))
        reasons.append(f"ran {ran} of the {reference_name}'s {len(reference_ids)} cases ({not_run} not run)")
    if not run.complete and not not_run:
        reasons.append("a selection or an interrupted session (recorded as incomplete)")
    return RunScope(
        partial=bool(reasons),
        reason="; ".join(reasons) or None,
        cases=len(node_ids),
        suite_errors=suite_errors,
        not_run=not_run,
    )


def describe_model_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """How the model of ``after`` differs from that of ``before`` (two runs' ``model`` blocks), in
    words: the model folders, the files that differ (when both runs recorded per-file hashes), the
    adapter and backend; never a raw fingerprint unless nothing else tells the models apart."""
    lines: list[str] = []
    old_source, new_source = before.get("source"), after.get("source")
    old_id, new_id = _fingerprint(before.get("model_id")), _fingerprint(after.get("model_id"))
    same_files = old_id is not None and old_id == new_id
    if old_source != new_source:
        lines.append(
            f"model folder {_name(old_source)} -> {_name(new_source)}" + (" (same files)" if same_files else "")
        )
    if not same_files and (old_id is not None or new_id is not None):
        old_files, new_files = before.get("files"), after.get("files")
        if isinstance(old_files, Mapping) and isinstance(new_files, Mapping):
            changed = sorted(name for name in old_files.keys() & new_files.keys() if old_files[name] != new_files[name])
            added = sorted(new_files.keys() - old_files.keys())
            removed = sorted(old_files.keys() - new_files.keys())
            parts = []
            if changed:
                parts.append("files that differ: " + ", ".join(changed))
            if added:
                parts.append("only in this run's model: " + ", ".join(added))
            if removed:
                parts.append(f"only in the model of {_name(old_source)}: " + ", ".join(removed))
            lines.append("; ".join(parts) if parts else "the same files, another fingerprint")
        elif old_source == new_source:
            lines.append(
                f"the files in {_name(new_source)} changed since (fingerprint {old_id} -> {new_id}; "
                "per-file hashes were not recorded)"
            )
        else:
            lines.append("other model files (per-file hashes were not recorded)")
    for key, label in (("adapter", "adapter"), ("backend", "backend")):
        if before.get(key) != after.get(key):
            lines.append(f"{label} {_name(before.get(key))} -> {_name(after.get(key))}")
    return lines


def _fingerprint(model_id: Any) -> str | None:
    # model_id is "<content hash>|dtype=...|device=...|chat=..."; the settings are compared elsewhere.
    return str(model_id).split("|", 1)[0] if model_id else None


def _name(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    text = str(value)
    return text if len(text) <= 60 else "..." + text[-57:]

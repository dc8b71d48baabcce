"""What a review shows: the items of one run (Likert) or of two runs side by side (pairwise).

Items come from the run history: each case's prompt (or chat, from the run's inference log when it
has one), its output and the judge's score when the run has one. Their order is fixed for a run, so
an annotator resumes where they left off: outputs that changed since someone rated the case come
first (they need review), then the rest in the order the run recorded them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmeval.inference_log import (
    InferenceLogError,
    inference_log_path,
    read_inference_log,
)
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.review.store import (
    Judgement,
    ReviewStore,
    likert_session,
    pairwise_session,
)
from pytest_llmeval.store import RunStore, output_sha256

if TYPE_CHECKING:
    from pytest_llmeval.cases import Case

__all__ = [
    "JUDGE_METRIC",
    "ReviewItem",
    "ReviewPlan",
    "case_file_cases",
    "judge_inconclusive",
    "judge_score_of",
    "likert_plan",
    "pairwise_plan",
    "project_folder",
]

JUDGE_METRIC = "judge"


@dataclass(frozen=True)
class ReviewItem:
    """One thing to judge. Pairwise: ``output``/``run_id`` are the first run's, ``other_*`` the second's."""

    case_id: str
    prompt: str | None
    messages: list[dict[str, Any]] | None
    system: str | None
    run_id: str
    output: str
    output_sha256: str
    judge_score: float | None = None
    judge_inconclusive: bool = False  # the run asked its judge, which was inconclusive: no score
    other_run_id: str | None = None
    other_output: str | None = None
    other_output_sha256: str | None = None
    other_judge_score: float | None = None
    other_judge_inconclusive: bool = False
    needs_review: bool = False  # Likert: someone rated this case, but a different output
    reference: str | None = None  # the case file's reference answer, as the file is now
    dimensions: tuple[str, ...] | None = None  # the case file's review_dimensions, if it names its own

    def chat(self) -> list[dict[str, str]] | None:
        """The request as chat messages, the system prompt first (as the backends send it), or None
        when the case was a plain prompt."""
        if self.messages is None and self.system is None:
            return None
        chat = [{"role": "system", "content": self.system}] if self.system else []
        if self.messages is not None:
            chat.extend({"role": str(m.get("role")), "content": str(m.get("content"))} for m in self.messages)
        else:
            chat.append({"role": "user", "content": self.prompt or ""})
        return chat

    @property
    def item_key(self) -> tuple[str, ...]:
        """Matches :attr:`Judgement.item_key`: a judgement belongs to this item when the keys agree."""
        if self.other_output_sha256 is None:
            return ("likert", self.case_id, self.output_sha256)
        pair = sorted([self.output_sha256, self.other_output_sha256])
        return ("pairwise", self.case_id, pair[0], pair[1])


@dataclass
class ReviewPlan:
    """The items of one review session and what was left out of it (and why)."""

    kind: str  # "likert" | "pairwise"
    session: str
    run_ids: tuple[str, ...]
    model_sources: tuple[str, ...]
    items: list[ReviewItem]
    without_output: int = 0  # cases that produced no text output (nothing to judge)
    identical: int = 0  # pairwise: cases where both runs gave the same output (not asked)
    only_in_one: int = 0  # pairwise: cases that only one of the runs has
    notes: list[str] = field(default_factory=list)

    def judgements_by_item(self, judgements: Sequence[Judgement], annotator: str) -> dict[int, Judgement]:
        """``annotator``'s current judgement of each item, by item index."""
        index = {item.item_key: number for number, item in enumerate(self.items)}
        found: dict[int, Judgement] = {}
        for judgement in judgements:
            if judgement.annotator == annotator and judgement.item_key in index:
                found[index[judgement.item_key]] = judgement
        return found


def judge_score_of(case: CaseRecord) -> float | None:
    """The judge's score the run recorded for ``case`` (the ``judge`` check's metric), if any."""
    metric = case.metrics.get(JUDGE_METRIC)
    if isinstance(metric, dict) and isinstance(metric.get("value"), (int, float)):
        return float(metric["value"])
    return None


def judge_inconclusive(case: CaseRecord) -> bool:
    """Whether ``case`` asked a judge that was inconclusive (too little probability on the scores),
    so the run has no judge score for it."""
    return judge_score_of(case) is None and any(
        check.get("name") == JUDGE_METRIC and "inconclusive judge" in str(check.get("message") or "")
        for check in case.checks
    )


def _chat_of(history: Path, run: RunRecord) -> dict[str, dict[str, Any]]:
    """Each case's log entry for its recorded output (the chat messages and system prompt it was
    asked with); empty when the run has no inference log."""
    try:
        entries = read_inference_log(inference_log_path(history, run.run_id))
    except InferenceLogError:
        return {}
    outputs = {case.node_id: case.output for case in run.cases}
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        node_id = entry["node_id"]
        if node_id not in found and entry.get("output") == outputs.get(node_id):
            found[node_id] = entry
    return found


def project_folder(history: Path) -> Path:
    """The folder node ids are relative to: the one holding ``.llmeval/`` for a history in the default
    place, else the current folder."""
    return history.parent.parent if history.parent.name == ".llmeval" else Path.cwd()


def case_file_cases(node_ids: Sequence[str], root: Path) -> dict[str, Case]:
    """The case-file cases among ``node_ids``, read from the case files as they are now (a run records
    outputs, not references or review dimensions). A file that is gone or no longer loads gives none."""
    from pytest_llmeval.cases import parse_case_file

    found: dict[str, Case] = {}
    files = {node_id.split("::", 1)[0] for node_id in node_ids if "::" in node_id}
    for name in sorted(files):
        path = root / name
        if not name.endswith((".yaml", ".yml", ".jsonl")) or not path.is_file():
            continue
        try:
            parsed = parse_case_file(path, display_path=name)
        except (OSError, ValueError):
            continue
        for case in parsed.cases:
            found[f"{name}::{case.id}"] = case
    return found


def _item(case: CaseRecord, run: RunRecord, log: dict[str, dict[str, Any]]) -> ReviewItem:
    entry = log.get(case.node_id, {})
    messages = entry.get("messages")
    assert case.output is not None
    return ReviewItem(
        case_id=case.node_id,
        prompt=case.prompt if entry.get("prompt") is None else str(entry["prompt"]),
        messages=messages if isinstance(messages, list) else None,
        system=entry.get("system") if isinstance(entry.get("system"), str) else None,
        run_id=run.run_id,
        output=case.output,
        output_sha256=output_sha256(case.output) or "",
        judge_score=judge_score_of(case),
        judge_inconclusive=judge_inconclusive(case),
    )


def _cases_with_output(run: RunRecord) -> tuple[dict[str, CaseRecord], int]:
    # A later record of the same node id wins, as in baselines.
    cases: dict[str, CaseRecord] = {}
    for case in run.cases:
        cases[case.node_id] = case
    kept = {node_id: case for node_id, case in cases.items() if case.output is not None}
    return kept, len(cases) - len(kept)


def likert_plan(history: str | os.PathLike[str], run_ref: str, reviews: ReviewStore) -> ReviewPlan:
    """The Likert items of run ``run_ref``: outputs changed since their case was rated first."""
    history = Path(history)
    run = RunStore(history).load_run(run_ref)
    cases, without_output = _cases_with_output(run)
    log = _chat_of(history, run)
    from_files = case_file_cases(list(cases), project_folder(history))
    rated: dict[str, set[str]] = {}
    for judgement in reviews.current(kind="likert"):
        if not judgement.skipped:
            rated.setdefault(judgement.case_id, set()).add(judgement.output_sha256)
    items = []
    for case in cases.values():
        item = _item(case, run, log)
        hashes = rated.get(case.node_id, set())
        changed = bool(hashes) and item.output_sha256 not in hashes
        written = from_files.get(case.node_id)
        items.append(
            replace(
                item,
                needs_review=changed,
                reference=written.reference if written else None,
                dimensions=written.review_dimensions if written else None,
            )
        )
    items.sort(key=lambda item: not item.needs_review)  # stable: recorded order within each group
    return ReviewPlan(
        kind="likert",
        session=likert_session(run.run_id),
        run_ids=(run.run_id,),
        model_sources=(str(run.model.get("source") or "-"),),
        items=items,
        without_output=without_output,
    )


def pairwise_plan(history: str | os.PathLike[str], first_ref: str, second_ref: str) -> ReviewPlan:
    """The pairwise items of two runs: the cases both ran, where their outputs differ."""
    history = Path(history)
    store = RunStore(history)
    first = store.load_run(first_ref)
    second = store.load_run(second_ref)
    if first.run_id == second.run_id:
        raise ValueError(f"pairwise review needs two different runs; both name run {first.run_id}")
    first_cases, first_without = _cases_with_output(first)
    second_cases, second_without = _cases_with_output(second)
    first_log, second_log = _chat_of(history, first), _chat_of(history, second)
    items = []
    identical = 0
    for node_id, case in first_cases.items():
        other = second_cases.get(node_id)
        if other is None:
            continue
        if other.output == case.output:
            identical += 1
            continue
        item = _item(case, first, first_log)
        other_item = _item(other, second, second_log)
        items.append(
            replace(
                item,
                other_run_id=second.run_id,
                other_output=other_item.output,
                other_output_sha256=other_item.output_sha256,
                other_judge_score=other_item.judge_score,
                other_judge_inconclusive=other_item.judge_inconclusive,
            )
        )
    return ReviewPlan(
        kind="pairwise",
        session=pairwise_session(first.run_id, second.run_id),
        run_ids=(first.run_id, second.run_id),
        model_sources=(str(first.model.get("source") or "-"), str(second.model.get("source") or "-")),
        items=items,
        without_output=max(first_without, second_without),
        identical=identical,
        only_in_one=len(set(first_cases) ^ set(second_cases)),
    )

"""The HTML dashboard's data: the latest run against its reference, and every metric across runs.

``build_dashboard_data`` turns runs (oldest first, the latest last) and a reference (the baseline, or
else the run before the latest) into one JSON-compatible dict; ``dashboard_html.render_dashboard_html``
turns that dict into a self-contained page. Keeping the two apart means every number on the page is
computed here, in plain Python under unit tests, and the page's script only draws.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.base_comparison import compare_with_base, model_comparison_data, paired_base_run
from pytest_llmeval.group_views import dashboard_group_views
from pytest_llmeval.inference_log import InferenceLogError, inference_log_path, read_inference_log
from pytest_llmeval.paired_comparison import PairedComparison
from pytest_llmeval.records import MODES, OUTCOMES_WORST_FIRST, CaseRecord, RunRecord, local_time
from pytest_llmeval.run_comparison import PASSING, Comparison, compare_runs, pass_rate
from pytest_llmeval.run_scope import is_suite_error, model_cases, run_scope
from pytest_llmeval.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED
from pytest_llmeval.store import (
    EXCERPT_CHARS,
    Baseline,
    BaselineCase,
    RunStore,
    StoreError,
    baseline_from_run,
    output_sha256,
    write_file_atomic,
)

__all__ = [
    "DASHBOARD_FORMAT",
    "DEFAULT_RUNS",
    "baseline_label",
    "build_dashboard_data",
    "dashboard_from_history",
    "human_review_data",
    "pass_rate",
    "word_diff",
    "write_dashboard",
]

DASHBOARD_FORMAT = 1
DEFAULT_RUNS = 50  # runs drawn in the charts; older ones stay in the history
NO_MODE = "no mode"
# A case that fails but is tolerated (xfail, "fails in baseline too") has not passed.
NOT_PASSED = frozenset({"failed", "error", "xfailed"})
# Worst first: the order of the cases table before anyone filters or sorts it.
_CHANGE_RANK = {
    "regressed": 0,
    "new failing": 1,
    "metric drop": 2,
    "outcome changed": 3,
    "new": 4,
    "still failing": 5,
    "output changed": 6,
    "fixed": 7,
    "unchanged": 8,
    None: 8,
}
REGRESSED = frozenset({"regressed", "new failing", "metric drop"})
_OUTCOME_RANK = {outcome: rank for rank, outcome in enumerate(OUTCOMES_WORST_FIRST)}
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
DIFF_BUDGET = 100_000  # token pairs the word matcher may compare for one case (about 300 x 300)


def _breakdown(name: str, outcomes: Sequence[str]) -> dict[str, Any]:
    return {
        "name": name,
        "total": len(outcomes),
        "passed": sum(o in PASSING for o in outcomes),
        "failed": sum(o in NOT_PASSED for o in outcomes),
        "skipped": sum(o == "skipped" for o in outcomes),
        "pass_rate": pass_rate(outcomes),
    }


def _file_of(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def _breakdowns(cases: Sequence[CaseRecord]) -> dict[str, list[dict[str, Any]]]:
    by_mode: dict[str, list[str]] = {}
    by_file: dict[str, list[str]] = {}
    by_tag: dict[str, list[str]] = {}
    for case in cases:
        by_mode.setdefault(case.mode or NO_MODE, []).append(case.outcome)
        by_file.setdefault(_file_of(case.node_id), []).append(case.outcome)
        for tag in case.tags:
            by_tag.setdefault(tag, []).append(case.outcome)
    mode_order = [*MODES, NO_MODE]  # every mode key is one of these
    return {
        "mode": [_breakdown(m, by_mode[m]) for m in sorted(by_mode, key=lambda m: (mode_order.index(m), m))],
        "file": [_breakdown(f, by_file[f]) for f in sorted(by_file)],
        "tag": [_breakdown(t, by_tag[t]) for t in sorted(by_tag)],
    }


def _run_point(run: RunRecord, reference_ids: Collection[str] | None, reference_name: str) -> dict[str, Any]:
    """One run as a point of the charts: pass rates and the mean of each metric, over the cases that
    say something about the model (suite errors left out), and whether the run was partial."""
    scope = run_scope(run, reference_ids, reference_name)
    judged = model_cases(run.cases)
    outcomes = [c.outcome for c in judged]
    sums: dict[str, list[float]] = {}
    for case in judged:
        for name, metric in case.metrics.items():
            value = metric.get("value")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                sums.setdefault(name, []).append(float(value))
    return {
        "run_id": run.run_id,
        "short_id": run.run_id[:12],
        "started_at": local_time(run.started_at),
        "model_source": run.model.get("source"),
        "git_commit": run.git_commit,
        "complete": run.complete,
        "partial": scope.partial,
        "partial_reason": scope.reason,
        "suite_errors": scope.suite_errors,
        "total": len(outcomes),
        "passed": sum(o in PASSING for o in outcomes),
        "failed": sum(o in NOT_PASSED for o in outcomes),
        "pass_rate": pass_rate(outcomes),
        "mode_pass_rates": {m: pass_rate([c.outcome for c in judged if c.mode == m]) for m in MODES},
        "metrics": {name: sum(values) / len(values) for name, values in sorted(sums.items())},
    }


def word_diff(before: str, after: str) -> dict[str, list[list[str]]]:
    """Word-level difference: ``before`` as equal/delete segments and ``after`` as equal/insert
    segments; each side's segments concatenate back to its text exactly.

    The matcher is quadratic (worse on repetitive text, which a model stuck in a loop writes), so it
    only sees the part between the common start and end, and only while that part has at most
    ``DIFF_BUDGET`` token pairs; beyond that lines are matched, and beyond that too the part is
    shown as replaced as a whole.
    """
    old, new = _TOKEN.findall(before), _TOKEN.findall(after)  # the pattern drops no character
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    old_middle, new_middle = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    left: list[list[str]] = []
    right: list[list[str]] = []

    def add(side: list[list[str]], op: str, tokens: list[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if side and side[-1][0] == op:
            side[-1][1] += text
        else:
            side.append([op, text])

    add(left, "equal", old[:prefix])
    add(right, "equal", new[:prefix])
    if len(old_middle) * len(new_middle) > DIFF_BUDGET:
        old_middle = "".join(old_middle).splitlines(keepends=True)
        new_middle = "".join(new_middle).splitlines(keepends=True)
    if len(old_middle) * len(new_middle) > DIFF_BUDGET:
        add(left, "delete", old_middle)
        add(right, "insert", new_middle)
    else:
        matcher = difflib.SequenceMatcher(a=old_middle, b=new_middle, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                add(left, "equal", old_middle[i1:i2])
                add(right, "equal", new_middle[j1:j2])
            else:
                add(left, "delete", old_middle[i1:i2])
                add(right, "insert", new_middle[j1:j2])
    add(left, "equal", old[len(old) - suffix :])
    add(right, "equal", new[len(new) - suffix :])
    return {"before": left, "after": right}


def _changes(comparison: Comparison | None, reference: Baseline | None, cases: Sequence[CaseRecord]) -> dict[str, str]:
    """Each case's change against the reference, the worst one when several apply."""
    if comparison is None or reference is None:
        return {}
    change: dict[str, str] = {}
    for case in cases:
        before = reference.cases.get(case.node_id)
        if before is not None:
            # e.g. passed -> skipped or xfailed -> failed: neither a regression nor a fix for the gate
            change[case.node_id] = "unchanged" if before.outcome == case.outcome else "outcome changed"
    for label, items in (
        ("output changed", comparison.changed_outputs),
        ("fixed", comparison.fixes),
        ("still failing", comparison.still_failing),
        ("new", comparison.new),
        ("new failing", comparison.new_failing),
    ):
        for item in items:
            if label != "output changed" or change.get(item.node_id) == "unchanged":
                change[item.node_id] = label
    for drop in comparison.metric_drops:
        change[drop.node_id] = "metric drop"
    for item in comparison.regressions:
        change[item.node_id] = "regressed"
    return change


def _case_row(
    case: CaseRecord,
    before: BaselineCase | None,
    before_output: str | None,
    change: str | None,
    dropped: set[tuple[str, str]],
    generations: Sequence[Mapping[str, Any]] | None,
    reference_generations: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    is_excerpt = False
    if before is not None and before_output is None and before.output_sha256 is not None:
        if before.output_sha256 == output_sha256(case.output):
            before_output = case.output  # the same text: the hash proves it, so it is known in full
        else:
            before_output = before.output_excerpt
            # A baseline keeps the first EXCERPT_CHARS characters: a shorter excerpt is the whole output.
            is_excerpt = before_output is not None and len(before_output) >= EXCERPT_CHARS
    diff = None
    if before_output is not None and case.output is not None:
        if is_excerpt:
            # Only the excerpt's length of the baseline is known: compare like with like and show
            # the rest of the current output as it is.
            head = word_diff(before_output, case.output[: len(before_output)])
            rest = case.output[len(before_output) :]
            if rest:
                head["after"].append(["equal", rest])
            diff = head
        else:
            diff = word_diff(before_output, case.output)
    metrics = []
    for name, metric in sorted(case.metrics.items()):
        old = before.metrics.get(name, {}).get("value") if before is not None else None
        entry = {
            "name": name,
            "value": metric.get("value"),
            "before": old,
            "higher_is_better": bool(metric.get("higher_is_better", True)),
            "dropped": (case.node_id, name) in dropped,
        }
        if "low" in metric:  # a metric recorded with an interval (the perplexity gap)
            entry["interval"] = [metric["low"], metric["high"], metric["confidence"]]
        metrics.append(entry)
    return {
        "node_id": case.node_id,
        "file": _file_of(case.node_id),
        "mode": case.mode,
        "tags": list(case.tags),
        "outcome": case.outcome,
        "failed": case.outcome in NOT_PASSED,
        # what fails a regressions gate: the same cases the "regressions" and "metric drops" tiles count
        "regressed": change in REGRESSED,
        "change": change,
        "message": case.message,
        "duration_s": case.duration_s,
        "prompt": case.prompt,
        "output": case.output,
        "baseline_output": before_output,
        "baseline_outcome": before.outcome if before is not None else None,
        "baseline_output_is_excerpt": is_excerpt,
        "diff": diff,
        "checks": [
            {
                "name": c.get("name"),
                "passed": bool(c.get("passed")),
                "score": c.get("score"),
                "message": c.get("message") or "",
            }
            for c in case.checks
        ],
        "metrics": metrics,
        "label": case.label,
        "samples": case.samples,  # repeated samples: n, passed, rate and its interval, pass@k, pass^k
        "generations": len(generations) if generations is not None else (0 if case.output is None else 1),
        "generation_list": _generation_list(generations, reference_generations),
    }


def _request_text(entry: Mapping[str, Any]) -> str | None:
    """A generation's prompt as text: the prompt, or the chat as ``role: content`` lines."""
    if entry.get("prompt") is not None:
        return str(entry["prompt"])
    lines = [f"system: {entry['system']}"] if entry.get("system") else []
    for message in entry.get("messages") or []:
        if isinstance(message, Mapping):
            lines.append(f"{message.get('role', '?')}: {message.get('content', '')}")
    return "\n".join(lines) or None


def _generation_list(
    generations: Sequence[Mapping[str, Any]] | None, reference: Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    """Every generation of a test that made more than one, those whose output differs from the
    reference run's generation at the same position first (``differs`` is ``None`` where the
    reference has no such generation or no inference log)."""
    if not generations or len(generations) < 2:
        return []
    rows = []
    for position, entry in enumerate(generations):
        before = reference[position] if reference is not None and position < len(reference) else None
        rows.append(
            {
                "position": position + 1,
                "phase": entry.get("phase"),
                "prompt": _request_text(entry),
                "output": entry.get("output"),
                "reference_output": before.get("output") if before is not None else None,
                "differs": None if before is None else before.get("output") != entry.get("output"),
            }
        )
    rows.sort(key=lambda row: 0 if row["differs"] else 1)  # stable: the run's order within each group
    return rows


def build_dashboard_data(
    runs: Sequence[RunRecord],
    *,
    reference: Baseline | None = None,
    reference_kind: str | None = None,
    reference_label: str | None = None,
    reference_outputs: Mapping[str, str | None] | None = None,
    tolerances: Mapping[str, float] | None = None,
    default_tolerance: float = 0.0,
    generations: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    reference_generations: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    history: str | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """The dashboard's data for ``runs`` (oldest first; the last is the latest).

    ``reference`` is what the latest run is compared with (a baseline, or ``baseline_from_run`` of an
    earlier run); ``reference_outputs`` its full outputs by node id when the history still has them
    (a baseline file keeps only an excerpt). ``generations``: each test's generations, in order, from
    the latest run's inference log; ``reference_generations`` the same from the reference's run.
    ``confidence``, ``resamples``, ``seed``: the paired comparison's (its section on the page: the
    latest run as B, the reference as A).

    Suite errors (a broken case file, a check used wrongly: a problem in the tests) are listed apart
    and kept out of pass rates, breakdowns and comparison counts. A run that did not cover the
    baseline's cases, was recorded as incomplete, or has only suite errors is *partial*: it is marked
    as such and kept off the charts' trend lines.
    """
    if not runs:
        raise ValueError("the dashboard needs at least one run")
    latest = runs[-1]
    comparison = None
    if reference is not None:
        comparison = compare_runs(
            reference,
            latest,
            tolerances=tolerances,
            default_tolerance=default_tolerance,
            case_tolerances={c.node_id: c.tolerances for c in latest.cases if c.tolerances},
            confidence=confidence,
            resamples=resamples,
            seed=seed,
            labels=(reference_label or "the reference", f"run {latest.run_id[:12]}"),
        )
    # A test reported twice (rerun plugins) counts once, as its last report, like the run itself.
    all_cases = list({case.node_id: case for case in latest.cases}.values())
    suite_errors = [case for case in all_cases if is_suite_error(case)]
    suite_error_ids = {case.node_id for case in suite_errors}
    cases = [case for case in all_cases if case.node_id not in suite_error_ids]
    changes = _changes(comparison, reference, cases)
    dropped = {(d.node_id, d.metric) for d in comparison.metric_drops} if comparison is not None else set()
    rows = [
        _case_row(
            case,
            reference.cases.get(case.node_id) if reference is not None else None,
            (reference_outputs or {}).get(case.node_id),
            changes.get(case.node_id),
            dropped,
            generations.get(case.node_id, []) if generations is not None else None,
            (reference_generations or {}).get(case.node_id) if reference_generations is not None else None,
        )
        for case in cases
    ]
    flaky = {f.node_id: f.reason() for f in comparison.flaky} if comparison is not None else {}
    for row in rows:
        row["flaky"] = flaky.get(row["node_id"])  # the verdict flipped within sampling noise
    rows.sort(key=lambda r: (_CHANGE_RANK.get(r["change"], 8), _OUTCOME_RANK.get(r["outcome"], 9), r["node_id"]))
    reference_ids = set(reference.cases) if reference is not None and reference_kind == "baseline" else None
    points = [_run_point(run, reference_ids, "baseline") for run in runs]
    latest_scope = run_scope(latest, reference_ids, "baseline")
    # Only the modes some run has: a suite without modes draws no empty mode series.
    present = {m for run in runs for case in model_cases(run.cases) for m in MODES if case.mode == m}
    for point in points:
        point["mode_pass_rates"] = {m: r for m, r in point["mode_pass_rates"].items() if m in present}
    directions: dict[str, bool] = {}
    for run in runs:
        for case in run.cases:
            for name, metric in case.metrics.items():
                directions.setdefault(name, bool(metric.get("higher_is_better", True)))
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.outcome] = counts.get(case.outcome, 0) + 1
    return {
        "format": DASHBOARD_FORMAT,
        "generated_at": local_time(time.time()),
        "history": history,
        "latest": {
            "run_id": latest.run_id,
            "short_id": latest.run_id[:12],
            "started_at": local_time(latest.started_at),
            "duration_s": None if latest.finished_at is None else latest.finished_at - latest.started_at,
            "model": dict(latest.model),
            "settings": dict(latest.settings),
            "git_commit": latest.git_commit,
            "complete": latest.complete,
            "partial": latest_scope.partial,
            "partial_reason": latest_scope.reason,
            "counts": counts,
            "total": len(cases),
            "pass_rate": pass_rate([c.outcome for c in cases]),
        },
        "reference": {
            "kind": reference_kind if reference is not None else None,
            "label": reference_label if reference is not None else None,
            # the run the reference was made from, so charts can measure deltas against it
            "run_id": reference.run.get("run_id") if reference is not None else None,
            # outputs made with other settings are not comparable: the page says so above everything
            "settings_differences": comparison.settings_differences if comparison is not None else [],
            "model_differences": comparison.model_differences if comparison is not None else [],
        },
        "comparison_counts": None
        if comparison is None
        else {
            "regressions": _without(comparison.regressions + comparison.new_failing, suite_error_ids),
            "fixes": _without(comparison.fixes, suite_error_ids),
            "new": _without(comparison.new, suite_error_ids),
            "still_failing": _without(comparison.still_failing, suite_error_ids),
            "metric_drops": len(comparison.metric_drops),
            "not_run": len(comparison.not_run),
        },
        # problems in the tests, not the model: shown apart, in none of the numbers above
        "suite_errors": [
            {"node_id": case.node_id, "file": _file_of(case.node_id), "outcome": case.outcome, "message": case.message}
            for case in suite_errors
        ],
        # the paired statistics of the latest run (B) against the reference (A): verdict, intervals
        "paired": None if comparison is None or comparison.paired is None else comparison.paired.to_dict(),
        "breakdowns": _breakdowns(cases),
        "runs": points,
        "metrics": [{"name": name, "higher_is_better": directions[name]} for name in sorted(directions)],
        "cases": rows,
        # NER per-type scores and fairness parity per category, the reference's beside (group_views)
        "group_views": dashboard_group_views(cases, reference),
    }


def _without(changes: Sequence[Any], excluded: Collection[str]) -> int:
    return sum(change.node_id not in excluded for change in changes)


def baseline_label(baseline: Baseline, path: str | os.PathLike[str] | None) -> str:
    """How a report names a baseline: its file and the run it accepted."""
    run_id = baseline.run.get("run_id")
    return f"{path or 'the baseline'}" + (f" (run {str(run_id)[:12]})" if run_id else "")


def _generations(history: Path, run_id: str) -> dict[str, list[dict[str, Any]]] | None:
    """Each test's generations, in order, from a run's inference log (``None`` without a log)."""
    try:
        entries = read_inference_log(inference_log_path(history, run_id))
    except InferenceLogError:
        return None  # a run recorded before inference logs, or a deleted folder
    by_test: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("kind") != "judge":  # the judge's calls are not the model's outputs
            by_test.setdefault(str(entry["node_id"]), []).append(entry)
    return by_test


def dashboard_from_history(
    history: str | os.PathLike[str],
    *,
    baseline: Baseline | None = None,
    baseline_path: str | os.PathLike[str] | None = None,
    limit: int = DEFAULT_RUNS,
    latest: RunRecord | None = None,
    tolerances: Mapping[str, float] | None = None,
    default_tolerance: float = 0.0,
    run: str | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    base_comparison: PairedComparison | None = None,
) -> dict[str, Any]:
    """The dashboard's data from the history file: its newest ``limit`` runs, the latest compared
    with ``baseline`` (or, without one, with the run before it). ``latest``: the run just recorded,
    as the plugin holds it (with per-case tolerances, which the history does not keep). ``run``: show
    that run (an id, a prefix, ``latest`` or ``previous``) as the latest, with the runs before it.

    A base model's run recorded by ``--llm-compare-base`` is not one of the model's runs: it is left
    out of the charts and the "previous run", and shown instead as the latest run's base model
    comparison (``model_comparison``; ``base_comparison``: that comparison when already made)."""
    store = RunStore(history)
    summaries = list(reversed(store.runs(limit=None if run is not None else limit)))
    if run is not None:
        wanted = store.resolve(run)
        ids = [summary.run_id for summary in summaries]
        summaries = summaries[: ids.index(wanted) + 1][-limit:]
    runs = [store.load_run(summary.run_id) for summary in summaries]
    # the base model's side of a --llm-compare-base session (unless it is the run asked for)
    runs = [r for r in runs[:-1] if not r.model.get("adapter_run")] + runs[-1:]
    if latest is not None:
        runs = [run for run in runs if run.run_id != latest.run_id] + [latest]
    if not runs:
        raise StoreError(f"the run history {history} holds no runs yet; run pytest with --llm-model first")
    newest = runs[-1]
    reference: Baseline | None = None
    reference_kind = reference_label = None
    reference_run: RunRecord | None = None
    if baseline is not None:
        reference, reference_kind = baseline, "baseline"
        reference_label = baseline_label(baseline, baseline_path)
        run_id = baseline.run.get("run_id")
        if isinstance(run_id, str):
            try:
                reference_run = store.load_run(run_id)
            except StoreError:
                reference_run = None  # accepted from another history: only its excerpts are known
    elif len(runs) > 1:
        reference_run = runs[-2]
        reference, reference_kind = baseline_from_run(reference_run), "previous run"
        reference_label = f"{reference_run.run_id[:12]} ({local_time(reference_run.started_at)})"
    reference_outputs = None
    if reference_run is not None and reference is not None:
        # Full outputs of the reference, but only where they are the accepted ones (same hash).
        reference_outputs = {
            case.node_id: case.output
            for case in reference_run.cases
            if case.node_id in reference.cases
            and reference.cases[case.node_id].output_sha256 == output_sha256(case.output)
        }
    data = build_dashboard_data(
        runs,
        reference=reference,
        reference_kind=reference_kind,
        reference_label=reference_label,
        reference_outputs=reference_outputs,
        tolerances=tolerances,
        default_tolerance=default_tolerance,
        generations=_generations(Path(history), newest.run_id),
        reference_generations=_generations(Path(history), reference_run.run_id) if reference_run is not None else None,
        history=str(history),
        confidence=confidence,
        resamples=resamples,
    )
    data["human_review"] = human_review_data(
        history, newest.run_id, reference_run.run_id if reference_run is not None else None, [r.run_id for r in runs]
    )
    base_run = paired_base_run(store, newest)
    if base_run is not None:
        if base_comparison is None:
            base_comparison = compare_with_base(base_run, newest, confidence=confidence, resamples=resamples)
        data["model_comparison"] = model_comparison_data(base_comparison, base_run, newest)
    return data


def human_review_data(
    history: str | os.PathLike[str], latest: str, reference: str | None, shown: Sequence[str]
) -> dict[str, Any] | None:
    """The human review's numbers for the page (``ReviewResults.to_dict()``), or None when nobody
    reviewed the runs shown (the section stays hidden)."""
    from pytest_llmeval.review.results import review_results_for_runs

    results = review_results_for_runs(history, latest, reference, shown)
    return None if results is None else results.to_dict()


def write_dashboard(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Render ``data`` and write the page to ``path`` atomically (UTF-8, creating the folder)."""
    from pytest_llmeval.dashboard_html import render_dashboard_html

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomic(target, render_dashboard_html(data).encode("utf-8"))
    return target

"""Compare a run with a baseline: regressions, fixes, new cases, cases not run, metric drops.

Outcomes fall in three classes. Passing: passed, xpassed. Failing: failed, error. Neutral: skipped,
xfailed, which are neither regressions nor fixes whatever the other side is. A case the baseline
lacks is *new* (never a silent pass); a baseline case the run did not execute is *not run* (usually
deselected with ``-k``), reported but never failing the gate.

Metric drops are one-sided (``higher_is_better`` decides the direction) with an absolute tolerance.
Both sides are rounded to the baseline's 6 significant digits first, so the rounding done when the
baseline was written never shows up as a drop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmeval.failure_text import fit_lines
from pytest_llmeval.paired_comparison import PairedComparison, compare_paired
from pytest_llmeval.records import RunRecord
from pytest_llmeval.run_scope import describe_model_change
from pytest_llmeval.samples import p_text, samples_flip
from pytest_llmeval.settings import GATE_MODES
from pytest_llmeval.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED
from pytest_llmeval.store import Baseline, baseline_from_run, round_sig
from pytest_llmeval.tolerances import tolerance_problem

__all__ = [
    "GATES",
    "ROW_KINDS",
    "CaseChange",
    "Comparison",
    "ComparisonRow",
    "SampledFlip",
    "MetricDrop",
    "compare_runs",
    "gate_failure",
    "pass_rate",
    "tolerated_failure",
]

GATES = GATE_MODES  # one list of gate modes, shared with the options
PASSING = frozenset({"passed", "xpassed"})
FAILING = frozenset({"failed", "error"})


def pass_rate(outcomes: Sequence[str]) -> float | None:
    """(passed + xpassed) / (cases - skipped): a tolerated failure (xfailed) has not passed.
    ``None`` when nothing counts (no cases, all skipped)."""
    counted = [o for o in outcomes if o != "skipped"]
    if not counted:
        return None
    return sum(o in PASSING for o in counted) / len(counted)


# Model keys that change what the model generates. The rest of the model block (source path,
# model_id fingerprint, backend, adapter) says *which* model ran: reported, but not a setting.
_SETTING_MODEL_KEYS = ("dtype", "device")

# Row kinds, worst first: the table's sort order.
ROW_KINDS = (
    "regression",
    "metric drop",
    "still failing",
    "new failing",
    "fixed",
    "new",
    "changed output",
    "not run",
)
_REASON_CHARS = 160


@dataclass(frozen=True)
class CaseChange:
    """One case that appears in a comparison list; ``before`` is ``None`` for a new case and ``after``
    ``None`` for a case not run."""

    node_id: str
    before: str | None
    after: str | None
    message: str | None = None  # the current run's one-line failure message


@dataclass(frozen=True)
class MetricDrop:
    node_id: str
    metric: str
    before: float
    after: float
    tolerance: float
    higher_is_better: bool

    @property
    def drop(self) -> float:
        return self.before - self.after if self.higher_is_better else self.after - self.before


@dataclass(frozen=True)
class SampledFlip:
    """A case of repeated samples whose verdict flipped between the runs, with Fisher's exact test of
    its two sample pass rates. ``flaky`` when they do not differ significantly: the flip is within
    sampling noise."""

    node_id: str
    before: dict[str, Any]  # the baseline's samples record: n, passed, rate
    after: dict[str, Any]
    p_value: float
    flaky: bool

    def reason(self) -> str:
        b, a = self.before, self.after
        counts = f"{b['passed']}/{b['n']} -> {a['passed']}/{a['n']} samples passed (Fisher p = {p_text(self.p_value)})"
        return f"flaky: {counts}" if self.flaky else counts


@dataclass(frozen=True)
class ComparisonRow:
    node_id: str
    kind: str  # one of ROW_KINDS
    reason: str


@dataclass
class Comparison:
    baseline_run_id: str | None
    current_run_id: str | None
    compared: int  # cases present in both
    regressions: list[CaseChange] = field(default_factory=list)
    fixes: list[CaseChange] = field(default_factory=list)
    still_failing: list[CaseChange] = field(default_factory=list)
    new: list[CaseChange] = field(default_factory=list)
    not_run: list[CaseChange] = field(default_factory=list)
    metric_drops: list[MetricDrop] = field(default_factory=list)
    changed_outputs: list[CaseChange] = field(default_factory=list)  # before/after: output excerpts
    settings_differences: list[str] = field(default_factory=list)  # "name: before -> after"
    model_differences: list[str] = field(default_factory=list)  # "name: before -> after"
    current_failures: list[str] = field(default_factory=list)  # node ids failed/error in the current run
    # the paired statistics (compare_runs(..., confidence=...)): what the significant gate decides on
    paired: PairedComparison | None = None
    sampled_flips: list[SampledFlip] = field(default_factory=list)  # flipped cases of repeated samples

    @property
    def flaky(self) -> list[SampledFlip]:
        """The sampled cases whose verdict flipped within sampling noise."""
        return [flip for flip in self.sampled_flips if flip.flaky]

    def failing(self, gate: str) -> bool:
        """Whether ``gate`` fails the session (the plugin and ``llmeval diff`` share this policy):
        ``regressions`` on a case that passed and fails now, a failing case the baseline lacks, or a
        metric drop; ``strict`` on any failed/error case of the current run or a metric drop;
        ``significant`` when the paired comparison finds the pass rate or a metric worse with its
        confidence, or a case the baseline lacks fails (it has no pair to be judged by);
        ``off`` never. A case that failed in the baseline too fails neither."""
        if gate == "off":
            return False
        if gate == "significant":
            if self.paired is None:
                raise ValueError("the significant gate needs the paired statistics: compare_runs(..., confidence=...)")
            return bool(self.paired.worse or self.new_failing)
        if gate == "regressions":
            return bool(self.regressions or self.new_failing or self.metric_drops)
        if gate == "strict":
            return bool(self.current_failures or self.metric_drops)
        raise ValueError(f"unknown gate {gate!r}; use one of {', '.join(GATES)}")

    @property
    def new_failing(self) -> list[CaseChange]:
        return [change for change in self.new if change.after in FAILING]

    def counts(self) -> dict[str, int]:
        """Rows per kind (``changed output`` counts every changed output, also those shown elsewhere)."""
        return {
            "regression": len(self.regressions),
            "metric drop": len(self.metric_drops),
            "still failing": len(self.still_failing),
            "new failing": len(self.new_failing),
            "fixed": len(self.fixes),
            "new": len(self.new) - len(self.new_failing),
            "changed output": len(self.changed_outputs),
            "not run": len(self.not_run),
        }

    def rows(self, *, not_run: bool = True) -> list[ComparisonRow]:
        """One row per finding, worst kind first, then by case id (``not_run=False``: without the
        baseline cases this run did not run).

        A changed output gets its own row only when the case has no outcome row already: a
        regression almost always changed its output, and a second row would only repeat it.
        """
        rows: list[ComparisonRow] = []
        sampled = {flip.node_id: flip for flip in self.sampled_flips}

        def outcome_reason(change: CaseChange) -> str:
            found = sampled.get(change.node_id)
            return f"{found.reason()}; {_outcome_reason(change)}" if found else _outcome_reason(change)

        for change in self.regressions:
            rows.append(ComparisonRow(change.node_id, "regression", outcome_reason(change)))
        for drop in self.metric_drops:
            rows.append(ComparisonRow(drop.node_id, "metric drop", _drop_reason(drop)))
        for change in self.still_failing:
            rows.append(ComparisonRow(change.node_id, "still failing", _outcome_reason(change)))
        for change in self.fixes:
            rows.append(ComparisonRow(change.node_id, "fixed", outcome_reason(change)))
        for change in self.new:
            kind = "new failing" if change.after in FAILING else "new"
            reason = f"not in the baseline; {change.after}"
            if change.message and kind == "new failing":
                reason += f": {change.message}"
            rows.append(ComparisonRow(change.node_id, kind, _one_line(reason)))
        with_rows = {row.node_id for row in rows if row.kind != "metric drop"}
        for change in self.changed_outputs:
            if change.node_id not in with_rows:
                reason = f"output changed: {_quote(change.before)} -> {_quote(change.after)}"
                rows.append(ComparisonRow(change.node_id, "changed output", _one_line(reason)))
        for change in self.not_run if not_run else []:
            reason = f"in the baseline ({change.before}), not run this time (deselected or removed)"
            rows.append(ComparisonRow(change.node_id, "not run", reason))
        rank = {kind: index for index, kind in enumerate(ROW_KINDS)}
        rows.sort(key=lambda row: (rank[row.kind], row.node_id))
        return rows

    def format(self, max_rows: int | None = 50, *, width: int | None = None, verbose: int = 0) -> str:
        """The comparison for a terminal: a settings warning first (if any), a header with counts,
        which model ran when it is another than the baseline's, then an aligned table of at most
        ``max_rows`` rows, worst first. Baseline cases this run did not run (a ``-k`` selection)
        are one count line unless ``verbose`` >= 1. With ``width`` (the terminal's), no line is
        longer: long case ids lose their middle, reasons their end."""
        warning: list[str] = []
        if self.settings_differences:
            # never cut: what differs is the point of the warning
            warning.append(
                "WARNING: generation settings differ from the baseline's: "
                + "; ".join(self.settings_differences)
                + " (outputs may differ for that reason alone)"
            )
        lines: list[str] = []
        counts = self.counts()
        found = [f"{count} {_plural(kind, count)}" for kind, count in counts.items() if count]
        against = f" with baseline run {self.baseline_run_id[:12]}" if self.baseline_run_id else " with the baseline"
        flaky = f"; {len(self.flaky)} flaky (flipped within sampling noise)" if self.flaky else ""
        # The sentences wrap to the width (the counts and every file that differs are worth reading);
        # only the table's rows are cut.
        heading = f"llmeval: compared {self.compared} {_plural('case', self.compared)}{against}: " + (
            (", ".join(found) if found else "no differences") + flaky
        )
        lines += fit_lines(heading, width).splitlines()
        if self.model_differences:
            model_line = "  another model than the baseline's: " + "; ".join(self.model_differences)
            lines += fit_lines(model_line, width).splitlines()
        rows = self.rows(not_run=verbose >= 1)
        shown = rows if max_rows is None else rows[: max(0, max_rows)]
        if shown:
            kind_width = max(len("kind"), *(len(row.kind) for row in shown))
            case_width = max(len("case"), *(len(row.node_id) for row in shown))
            if width is not None:
                # the case column gets what it needs up to a little over half the room (a longer id
                # loses its middle); the reason the rest, cut at its end
                room = max(0, width - 2 - kind_width - 2 - 2)
                case_width = max(len("case"), min(case_width, max(room - 60, room * 11 // 20)))
            lines.append(f"  {'kind':<{kind_width}}  {'case':<{case_width}}  reason")
            for row in shown:
                line = f"  {row.kind:<{kind_width}}  {_fit_middle(row.node_id, case_width):<{case_width}}  {row.reason}"
                lines.append(_fit_end(line, width).rstrip())
        if len(rows) > len(shown):
            lines.append(f"  ... and {len(rows) - len(shown)} more (llmeval diff shows them all)")
        if self.not_run and verbose < 1:
            lines += fit_lines(
                f"  {len(self.not_run)} {_plural('case', len(self.not_run))} of the baseline not run "
                "(deselected or removed; -v lists them)",
                width,
            ).splitlines()
        fitted = (fit_lines("\n".join(warning), width).splitlines() if warning else []) + lines
        if self.paired is not None:
            # the flipped cases are the rows above; the statistics say whether they add up to a
            # change (evidence: shown whole, never cut to the terminal's width)
            statistics = "\n".join(
                [
                    f"paired statistics: A = {self.paired.label_a}; B = {self.paired.label_b}",
                    self.paired.format_statistics(),
                ]
            )
            fitted += fit_lines(statistics, width).splitlines()  # wrapped to the width, never cut
        return "\n".join(fitted)


def compare_runs(
    baseline: Baseline,
    current: RunRecord | Baseline,
    *,
    tolerances: Mapping[str, float] | None = None,
    default_tolerance: float = 0.0,
    case_tolerances: Mapping[str, Mapping[str, float]] | None = None,
    confidence: float | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    labels: tuple[str, str] | None = None,
) -> Comparison:
    """Compare ``current`` (a run, or another baseline for ``llmeval diff`` of two files) with
    ``baseline``. ``tolerances``: absolute per-metric tolerances; others use ``default_tolerance``;
    ``case_tolerances`` (node id -> metric -> tolerance) overrides both for one case. With
    ``confidence`` (e.g. 0.95) the result also holds the paired statistics (``paired``), with
    ``resamples`` bootstrap resamples from ``seed``; ``labels`` names the two sides there."""
    tolerances = dict(tolerances or {})
    for name, value in [*tolerances.items(), ("default_tolerance", default_tolerance)]:
        if tolerance_problem(value) is not None:
            raise ValueError(f"tolerance {name}={value!r} must be a non-negative number (e.g. rouge_l=0.05)")
    messages: dict[str, str | None] = {}
    if isinstance(current, RunRecord):
        messages = {case.node_id: case.message for case in current.cases}
        current_run_id: str | None = current.run_id
        # The same reduction as a baseline (rounded numbers, output hash) so both sides compare alike.
        now = baseline_from_run(current)
    else:
        now = current
        current_run_id = current.run.get("run_id")
    comparison = Comparison(
        baseline_run_id=baseline.run.get("run_id"),
        current_run_id=current_run_id,
        compared=len(baseline.cases.keys() & now.cases.keys()),
    )
    for node_id in sorted(now.cases):
        after = now.cases[node_id]
        message = _one_line(messages.get(node_id)) if messages.get(node_id) else None
        if after.outcome in FAILING:
            comparison.current_failures.append(node_id)
        before = baseline.cases.get(node_id)
        if before is None:
            comparison.new.append(CaseChange(node_id, None, after.outcome, message))
            continue
        change = CaseChange(node_id, before.outcome, after.outcome, message)
        if before.outcome in PASSING and after.outcome in FAILING:
            comparison.regressions.append(change)
        elif before.outcome in FAILING and after.outcome in PASSING:
            comparison.fixes.append(change)
        flipped = (before.outcome in PASSING and after.outcome in FAILING) or (
            before.outcome in FAILING and after.outcome in PASSING
        )
        if flipped and before.samples and after.samples:
            p_value = samples_flip(before.samples, after.samples)
            if p_value is not None:
                # Noise can explain a flip only when the pass count moved: the same count means the
                # threshold (min_pass_rate) changed, not the samples.
                count_moved = (before.samples.get("passed"), before.samples.get("n")) != (
                    after.samples.get("passed"),
                    after.samples.get("n"),
                )
                flaky = count_moved and p_value >= 1 - (confidence or DEFAULT_CONFIDENCE)
                comparison.sampled_flips.append(SampledFlip(node_id, before.samples, after.samples, p_value, flaky))
        elif before.outcome in FAILING and after.outcome in FAILING:
            comparison.still_failing.append(change)
        for name in sorted(before.metrics.keys() & after.metrics.keys()):
            tolerance = (case_tolerances or {}).get(node_id, {}).get(name, tolerances.get(name, default_tolerance))
            drop = _metric_drop(node_id, name, before.metrics[name], after.metrics[name], tolerance)
            if drop is not None:
                comparison.metric_drops.append(drop)
        if (
            before.output_sha256 is not None
            and after.output_sha256 is not None
            and before.output_sha256 != after.output_sha256
        ):
            comparison.changed_outputs.append(CaseChange(node_id, before.output_excerpt, after.output_excerpt, message))
    for node_id in sorted(baseline.cases.keys() - now.cases.keys()):
        comparison.not_run.append(CaseChange(node_id, baseline.cases[node_id].outcome, None))
    comparison.settings_differences, comparison.model_differences = _differences(baseline.run, now.run)
    if confidence is not None:
        label_a, label_b = labels or (None, None)
        comparison.paired = compare_paired(
            baseline, current, label_a=label_a, label_b=label_b, confidence=confidence, resamples=resamples, seed=seed
        )
    return comparison


SIGNIFICANT_TOLERATED = "judged with all cases by --llm-gate=significant (see llmeval::gate)"


def tolerated_failure(gate: str, before: str | None) -> str | None:
    """Why a failing test is shown as tolerated (an ``x``) rather than failing the session by itself,
    given its outcome in the baseline (``None``: not in it); ``None`` when it fails as usual.
    ``regressions``: it failed in the baseline too. ``significant``: the baseline has it as a counted
    pair (not skipped), so the paired statistics over all cases decide, through ``llmeval::gate``; a
    case the baseline lacks has no pair and fails as itself."""
    if gate == "regressions" and before in FAILING:
        return "fails in baseline too"
    if gate == "significant" and before is not None and before != "skipped":
        return SIGNIFICANT_TOLERATED
    return None


def gate_failure(comparison: Comparison, gate: str) -> str | None:
    """Why the gate fails the session beyond its failed tests, or ``None``: one line, then (for
    ``significant``) the evidence. Failed tests fail the session by themselves under ``regressions``
    and ``strict``, so there only metric drops, which belong to no single test, add a failure. Under
    ``significant`` failures of cases the baseline has are tolerated (``tolerated_failure``) and this
    alone says whether the run is worse: each measure worse with the chosen confidence (effect,
    interval, test) and the cases that broke; the full statistics are in ``comparison.format()``. A
    failing case the baseline lacks has no pair to be judged by: it fails as its own test."""
    if gate == "off":
        return None
    if gate in ("regressions", "strict"):
        drops = comparison.metric_drops
        if not drops:
            return None
        return (
            f"llmeval::gate FAILED: {len(drops)} metric {'drop' if len(drops) == 1 else 'drops'} "
            "beyond the tolerance against the baseline (listed above)"
        )
    if gate != "significant":
        raise ValueError(f"unknown gate {gate!r}; use one of {', '.join(GATES)}")
    paired = comparison.paired
    if paired is None:
        raise ValueError("the significant gate needs the paired statistics: compare_runs(..., confidence=...)")
    if not paired.worse:
        return None
    lines = [f"llmeval::gate FAILED: worse than the baseline with {paired.confidence:.0%} confidence:"]
    lines += [f"  {line}" for line in paired.evidence()]
    return "\n".join(lines)


def _metric_drop(
    node_id: str, name: str, before: Mapping[str, Any], after: Mapping[str, Any], tolerance: float
) -> MetricDrop | None:
    old, new = _number(before.get("value")), _number(after.get("value"))
    if old is None or new is None:  # undefined on one side (NaN, empty output): nothing to compare
        return None
    higher_is_better = bool(after.get("higher_is_better", before.get("higher_is_better", True)))
    drop = old - new if higher_is_better else new - old
    # A hair of slack so "0.55 -> 0.5 (tolerance 0.05)" is not a drop through float error.
    if drop > tolerance + 1e-9 * max(1.0, abs(old)):
        return MetricDrop(node_id, name, old, new, tolerance, higher_is_better)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round_sig(value)


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in value:
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], into)
    else:
        into[prefix] = value


def _differences(before_run: Mapping[str, Any], after_run: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(generation-setting differences, model-identity differences), each "name: before -> after"."""
    before_model = dict(before_run.get("model") or {})
    after_model = dict(after_run.get("model") or {})
    before_settings: dict[str, Any] = {}
    after_settings: dict[str, Any] = {}
    _flatten("", before_run.get("settings") or {}, before_settings)
    _flatten("", after_run.get("settings") or {}, after_settings)
    for key in _SETTING_MODEL_KEYS:
        # dtype/device live in the model block, sometimes also in settings: report each name once.
        if key not in before_settings and key not in after_settings and (key in before_model or key in after_model):
            before_settings[key] = before_model.get(key, _UNSET)
            after_settings[key] = after_model.get(key, _UNSET)
    settings = _diff_lines(before_settings, after_settings)
    return settings, describe_model_change(before_model, after_model)


class _Unset:
    def __repr__(self) -> str:
        return "(unset)"


_UNSET: Any = _Unset()


def _diff_lines(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    lines = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, _UNSET), after.get(key, _UNSET)
        if old is _UNSET and new is _UNSET:
            continue
        if old != new:
            lines.append(f"{key}: {_show(old)} -> {_show(new)}")
    return lines


def _show(value: Any) -> str:
    if value is _UNSET:
        return "(unset)"
    text = value if isinstance(value, str) else repr(value) if not isinstance(value, (int, float)) else str(value)
    text = " ".join(str(text).split())
    return text if len(text) <= 40 else text[:37] + "..."


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def _drop_reason(drop: MetricDrop) -> str:
    direction = "" if drop.higher_is_better else ", lower is better"
    return (
        f"{drop.metric} {_number_text(drop.before)} -> {_number_text(drop.after)} "
        f"(tolerance {_number_text(drop.tolerance)}{direction})"
    )


def _outcome_reason(change: CaseChange) -> str:
    reason = f"{change.before} -> {change.after}"
    if change.message and change.after in FAILING:
        reason += f": {change.message}"
    return _one_line(reason)


def _fit_middle(text: str, width: int) -> str:
    """``text`` in ``width`` characters, its middle replaced by "..." when too long: a test id keeps
    its file and its parameters, where parametrized ids differ."""
    if len(text) <= width:
        return text
    if width <= 3:
        return text[:width]
    head = (width - 3 + 1) // 2
    return text[:head] + "..." + text[len(text) - (width - 3 - head) :]


def _fit_end(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[: max(0, width - 3)] + "..."


def _one_line(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _REASON_CHARS else flat[: _REASON_CHARS - 3] + "..."


def _quote(excerpt: str | None) -> str:
    if excerpt is None:
        return "(none)"
    flat = " ".join(excerpt.split())
    return repr(flat if len(flat) <= 50 else flat[:47] + "...")


# Kinds that read the same for any count ("2 fixed", "3 not run").
_INVARIANT = frozenset({"fixed", "new", "not run", "still failing", "new failing"})


def _plural(word: str, count: int) -> str:
    if count == 1 or word in _INVARIANT:
        return word
    return word + "s"

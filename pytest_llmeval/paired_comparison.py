"""Is run B better or worse than run A, beyond chance? The paired comparison of two runs of one suite.

Two runs (a baseline and a run, two runs from the history, two baseline files, two models on the same
suite) share cases. Per shared case the outcome flips or not; per metric each case gives a paired
difference. From those, with :mod:`pytest_llmeval.statistics`:

- the pass-rate difference (B - A) with a paired bootstrap interval and the exact McNemar p-value;
- per metric, the mean paired difference with its bootstrap interval and the sign-flip p-value;
- the same pass-rate test per file and per tag, Holm-adjusted across those groups;
- how small a pass-rate change the suite could detect at all, and with 80% power;
- a verdict: B is *worse* on a measure when its Holm-adjusted p-value (across the pass rate and the
  metrics) is below ``1 - confidence`` **and** the whole interval lies on the worse side. Both must
  hold, so a verdict is never more confident than either procedure alone.

This one implementation feeds ``llmeval compare``, ``llmeval diff``, the ``significant`` gate, the
Markdown summary and the dashboard (through :meth:`PairedComparison.to_dict`).

Outcomes: passed and xpassed pass; failed, error and xfailed do not (as in ``pass_rate``); a case
skipped on either side is not counted, nor one that failed only for want of a human rating (its
``human_rating`` needs review), and a suite error of a run (a broken case file, a check used wrongly:
a problem in the tests) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmeval.records import RunRecord
from pytest_llmeval.statistics import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    check_confidence,
    detectable_floor,
    holm,
    mcnemar_exact,
    mean_interval,
    minimum_detectable_difference,
    paired_bootstrap,
    wilson_interval,
)
from pytest_llmeval.store import Baseline, baseline_from_run, round_sig

__all__ = [
    "RESULTS",
    "VERDICTS",
    "CasePair",
    "Estimate",
    "GroupEstimate",
    "PairedComparison",
    "compare_paired",
]

PASSING = frozenset({"passed", "xpassed"})
NOT_COUNTED = frozenset({"skipped"})
# A shared case's result, B against A; the table lists them in this order.
RESULTS = ("broke", "fixed", "both fail", "both pass", "not counted")
VERDICTS = ("worse", "better", "mixed", "no significant difference", "cannot tell")
_MESSAGE_CHARS = 120


@dataclass(frozen=True)
class CasePair:
    """One shared case: its outcome in A and in B and what that makes it (one of ``RESULTS``:
    ``broke`` is a loss for B, ``fixed`` a win, ``both ...`` a tie)."""

    node_id: str
    before: str
    after: str
    result: str
    message: str | None = None  # B's one-line failure message, when B's run recorded one


@dataclass(frozen=True)
class Estimate:
    """B - A on one measure over ``n`` paired cases. ``before``/``after``: the measure's mean (the pass
    rate, or a metric's mean) on those cases; ``interval``: the paired bootstrap interval of the
    difference (``None`` with fewer than two cases); ``p_value``: exact McNemar for the pass rate,
    the sign-flip test for a metric; ``adjusted_p``: Holm across the family it was tested in (a
    measure that cannot be called whatever its data keeps its raw p: see ``_holm_testable``);
    ``verdict``: ``better``, ``worse`` or ``no evidence``."""

    name: str
    n: int
    before: float
    after: float
    difference: float
    interval: Interval | None
    p_value: float
    adjusted_p: float
    higher_is_better: bool
    verdict: str
    before_interval: Interval | None = None  # the pass rates' Wilson intervals
    after_interval: Interval | None = None
    fixed: int = 0  # pass-rate estimates: the discordant pairs
    broke: int = 0

    def evidence(self) -> str:
        """One line a person reads: the effect, its interval, the test and the verdict."""
        return f"{self.name}: {_effect_text(self)} ({self.verdict})"


@dataclass(frozen=True)
class GroupEstimate:
    """The pass-rate estimate over one file's or one tag's shared cases."""

    kind: str  # "file" | "tag"
    name: str
    estimate: Estimate


@dataclass
class PairedComparison:
    """B against A, case by case. Build it with :func:`compare_paired`."""

    label_a: str
    label_b: str
    confidence: float
    resamples: int
    seed: int
    pairs: list[CasePair] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    pass_rate: Estimate | None = None
    metrics: list[Estimate] = field(default_factory=list)
    groups: list[GroupEstimate] = field(default_factory=list)
    detectable_floor: float | None = None  # no pass-rate change below this can be significant
    detectable_at_power: float | None = None  # the change detected with 80% power at the seen flip rate
    flip_rate: float = 0.0

    @property
    def counted(self) -> int:
        return sum(pair.result != "not counted" for pair in self.pairs)

    def results(self, result: str) -> list[CasePair]:
        return [pair for pair in self.pairs if pair.result == result]

    @property
    def worse(self) -> list[Estimate]:
        """The measures on which B is worse than A with the comparison's confidence."""
        return [e for e in self._family() if e.verdict == "worse"]

    @property
    def better(self) -> list[Estimate]:
        return [e for e in self._family() if e.verdict == "better"]

    def _family(self) -> list[Estimate]:
        return ([self.pass_rate] if self.pass_rate is not None else []) + self.metrics

    @property
    def verdict(self) -> str:
        """One of ``VERDICTS``: ``cannot tell`` when no shared case counts."""
        if self.pass_rate is None and not self.metrics:
            return "cannot tell"
        if self.worse and self.better:
            return "mixed"
        if self.worse:
            return "worse"
        if self.better:
            return "better"
        return "no significant difference"

    def verdict_line(self) -> str:
        """The verdict in one sentence, naming the measures behind it."""
        level = f"{self.confidence:.0%}"
        if self.verdict == "cannot tell":
            return f"verdict: cannot tell: {self.label_a} and {self.label_b} share no case that counts"
        worse = ", ".join(e.name for e in self.worse)
        better = ", ".join(e.name for e in self.better)
        if self.verdict == "mixed":
            return f"verdict: B is worse on {worse} and better on {better} ({level} confidence)"
        if self.verdict == "worse":
            return f"verdict: B is WORSE than A on {worse} ({level} confidence)"
        if self.verdict == "better":
            return f"verdict: B is better than A on {better} ({level} confidence)"
        return f"verdict: no significant difference at {level} confidence"

    def detectable_text(self) -> str:
        """How small a pass-rate change this suite can detect."""
        n = self.counted
        if self.detectable_floor is None:
            return f"{n} {_plural('case', n)} cannot make any pass-rate change significant"
        text = f"with {n} {_plural('case', n)} no pass-rate change under {_points(self.detectable_floor)} can be significant"
        if self.detectable_at_power is not None:
            text += (
                f"; at this flip rate ({self.flip_rate:.0%}) a change of {_points(self.detectable_at_power)} "
                "is detected with 80% power"
            )
        return text

    def evidence(self) -> list[str]:
        """Lines that back the verdict: each measure where B is worse, and the cases it broke."""
        lines = [e.evidence() for e in self.worse]
        broke = self.results("broke")
        if broke:
            lines.append(
                f"{len(broke)} {_plural('case', len(broke))} broke: "
                + ", ".join(p.node_id for p in broke[:10])
                + (" ..." if len(broke) > 10 else "")
            )
        return lines

    def format(self, max_rows: int | None = 50, *, ties: bool = False) -> str:
        """The comparison for a terminal: identity, pass rates, metrics, groups, the detectable change,
        the verdict, then the cases B broke and fixed (and the ties with ``ties=True``)."""
        lines = [
            f"llmeval compare: A = {self.label_a}",
            f"                 B = {self.label_b}",
            self.format_statistics(),
        ]
        lines += self._case_lines(max_rows, RESULTS if ties else ("broke", "fixed"))
        return "\n".join(lines)

    def format_statistics(self) -> str:
        """The statistics without the case table: shared cases, pass rates, metrics, groups, the
        detectable change and the verdict."""
        lines = [
            f"shared cases: {len(self.pairs)} ({self.counted} counted for the pass rate); "
            + f"only in A: {len(self.only_a)}; only in B: {len(self.only_b)}"
        ]
        level = f"{self.confidence:.0%}"
        if self.pass_rate is not None:
            rate = self.pass_rate
            lines.append(
                f"pass rate: A {_rate_text(rate.before, rate.before_interval)}  B {_rate_text(rate.after, rate.after_interval)}"
                f"  (Wilson {level} intervals)"
            )
            lines.append(f"  B - A: {_effect_text(rate)}  -> {rate.verdict}{_why_no_evidence(rate, self.confidence)}")
        if self.metrics:
            lines.append(f"metrics (mean paired difference B - A, {level} bootstrap interval, sign-flip p, Holm):")
            rows = [["metric", "n", "A", "B", "B - A", "interval", "p", "p (Holm)", "verdict"]]
            for e in self.metrics:
                direction = "" if e.higher_is_better else " (lower is better)"
                rows.append(
                    [
                        e.name + direction,
                        str(e.n),
                        f"{e.before:.4g}",
                        f"{e.after:.4g}",
                        f"{e.difference:+.4g}",
                        _interval_text(e.interval, points=False),
                        _p_text(e.p_value),
                        _p_text(e.adjusted_p),
                        e.verdict,
                    ]
                )
            lines += ["  " + line for line in _aligned(rows)]
        if self.groups:
            lines.append(
                "pass rate by file and tag (exact McNemar, Holm across the groups with enough flips to decide):"
            )
            rows = [["group", "n", "A", "B", "B - A", "interval", "fixed", "broke", "p (Holm)", "verdict"]]
            for group in self.groups:
                e = group.estimate
                rows.append(
                    [
                        f"{group.kind} {group.name}",
                        str(e.n),
                        f"{e.before:.0%}",
                        f"{e.after:.0%}",
                        _points(e.difference, signed=True),
                        _interval_text(e.interval, points=True),
                        str(e.fixed),
                        str(e.broke),
                        _p_text(e.adjusted_p),
                        e.verdict,
                    ]
                )
            lines += ["  " + line for line in _aligned(rows)]
        if self.pass_rate is not None:
            lines.append(f"detectable: {self.detectable_text()}")
        lines.append(self.verdict_line())
        return "\n".join(lines)

    def _case_lines(self, max_rows: int | None, shown_results: tuple[str, ...]) -> list[str]:
        lines: list[str] = []
        rows = [["result", "case", "A", "B", "why (B)"]]
        listed = [p for result in shown_results for p in self.results(result)]
        for pair in listed if max_rows is None else listed[: max(0, max_rows)]:
            why = _one_line(pair.message) if pair.message and pair.after not in PASSING else ""
            rows.append([pair.result, pair.node_id, pair.before, pair.after, why])
        if len(rows) > 1:
            lines.append("cases (broke = B fails what A passed, fixed = B passes what A failed):")
            lines += ["  " + line for line in _aligned(rows)]
        if max_rows is not None and len(listed) > max_rows:
            lines.append(f"  ... and {len(listed) - max_rows} more")
        untold = {r: len(self.results(r)) for r in RESULTS if r not in shown_results and self.results(r)}
        if untold:
            lines.append("  ties: " + ", ".join(f"{count} {result}" for result, count in untold.items()))
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (Markdown and the dashboard read this): every field plus the verdict."""
        data = asdict(self)
        data["verdict"] = self.verdict
        data["verdict_line"] = self.verdict_line()
        data["detectable_text"] = self.detectable_text() if self.pass_rate is not None else None
        data["counted"] = self.counted
        data["evidence"] = self.evidence()
        return data


def compare_paired(
    a: Baseline | RunRecord,
    b: Baseline | RunRecord,
    *,
    label_a: str | None = None,
    label_b: str | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedComparison:
    """Compare run (or baseline) ``b`` with ``a`` case by case; see the module docstring."""
    check_confidence(confidence)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples {resamples!r} must be a whole number of at least 100 (e.g. 10000)")
    side_a, side_b = _as_baseline(a), _as_baseline(b)
    tags = _merge_tags(_tags(a), _tags(b))
    messages = {case.node_id: case.message for case in b.cases} if isinstance(b, RunRecord) else {}
    comparison = PairedComparison(
        label_a=label_a or _label(a),
        label_b=label_b or _label(b),
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    # A suite error (a broken case file, a check used wrongly) says nothing about the model.
    suite_errors = _suite_errors(a) | _suite_errors(b)
    shared = sorted((side_a.cases.keys() & side_b.cases.keys()) - suite_errors)
    comparison.only_a = sorted(side_a.cases.keys() - side_b.cases.keys() - suite_errors)
    comparison.only_b = sorted(side_b.cases.keys() - side_a.cases.keys() - suite_errors)
    # A case that failed only for want of a human rating says nothing about the model either.
    awaiting_review = _awaiting_review(a) | _awaiting_review(b)
    for node_id in shared:
        before, after = side_a.cases[node_id].outcome, side_b.cases[node_id].outcome
        result = "not counted" if node_id in awaiting_review else _result(before, after)
        comparison.pairs.append(CasePair(node_id, before, after, result, messages.get(node_id)))
    counted = [p for p in comparison.pairs if p.result != "not counted"]
    alpha = 1 - confidence
    family: list[tuple[str, Any]] = []  # (kind, raw estimate fields) tested together under Holm
    if counted:
        family.append(("pass rate", _pass_rate_fields("pass rate", counted, confidence, resamples, seed)))
    differences_of: dict[str, list[float]] = {}
    for name, (differences, before_mean, after_mean, higher) in _metric_differences(side_a, side_b, shared).items():
        differences_of[name] = differences
        paired = paired_bootstrap(differences, confidence=confidence, resamples=resamples, seed=seed)
        family.append(
            (
                "metric",
                {
                    "name": name,
                    "n": paired.n,
                    "before": before_mean,
                    "after": after_mean,
                    "difference": paired.mean,
                    "interval": paired.interval,
                    "p_value": paired.p_value,
                    "higher_is_better": higher,
                },
            )
        )
    min_p = {id(fields): _smallest_p(fields, differences_of.get(fields["name"])) for _, fields in family}
    adjusted = _holm_testable([fields for _, fields in family], [min_p[id(f)] for _, f in family], alpha)
    for (kind, fields), p_adjusted in zip(family, adjusted, strict=True):
        estimate = Estimate(**fields, adjusted_p=p_adjusted, verdict=_verdict(fields, p_adjusted, alpha))
        if kind == "pass rate":
            comparison.pass_rate = estimate
        else:
            comparison.metrics.append(estimate)
    comparison.groups = _groups(counted, tags, confidence, resamples, seed)
    if counted:
        n = len(counted)
        flips = sum(p.result in ("fixed", "broke") for p in counted)
        comparison.flip_rate = flips / n
        comparison.detectable_floor = detectable_floor(n, confidence)
        if comparison.detectable_floor is not None:
            # Assume at least as many flips as the smallest significant change needs.
            psi = max(comparison.flip_rate, comparison.detectable_floor)
            comparison.detectable_at_power = minimum_detectable_difference(n, psi, confidence)
    return comparison


def _as_baseline(side: Baseline | RunRecord) -> Baseline:
    # The same reduction both sides get in run_comparison: rounded numbers, outcomes by node id.
    return baseline_from_run(side) if isinstance(side, RunRecord) else side


def _suite_errors(side: Baseline | RunRecord) -> set[str]:
    from pytest_llmeval.run_scope import is_suite_error

    # A baseline keeps no record of why a case errored; a run does.
    return {case.node_id for case in side.cases if is_suite_error(case)} if isinstance(side, RunRecord) else set()


def _awaiting_review(side: Baseline | RunRecord) -> set[str]:
    from pytest_llmeval.checks.human import only_needs_review

    # A run records why a case failed; a baseline file keeps only the outcome.
    if not isinstance(side, RunRecord):
        return set()
    return {case.node_id for case in side.cases if case.outcome == "failed" and only_needs_review(case.checks)}


def _tags(side: Baseline | RunRecord) -> dict[str, list[str]]:
    # A baseline file keeps no tags; a run does.
    if isinstance(side, RunRecord):
        return {case.node_id: list(case.tags) for case in side.cases}
    return {}


def _merge_tags(a: Mapping[str, list[str]], b: Mapping[str, list[str]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for source in (a, b):
        for node_id, tags in source.items():
            merged.setdefault(node_id, [])
            merged[node_id] += [tag for tag in tags if tag not in merged[node_id]]
    return merged


def _label(side: Baseline | RunRecord) -> str:
    run_id: Any
    model: Any
    if isinstance(side, RunRecord):
        run_id, model = side.run_id, side.model
    else:
        run_id, model = side.run.get("run_id"), side.run.get("model") or {}
        if not isinstance(model, Mapping):
            model = {}
    source = model.get("source")
    adapter = model.get("adapter")
    text = f"run {str(run_id)[:12]}" if run_id else "baseline"
    if source:
        text += f" ({source}{' + adapter ' + str(adapter) if adapter else ''})"
    return text


def _result(before: str, after: str) -> str:
    if before in NOT_COUNTED or after in NOT_COUNTED:
        return "not counted"
    was, now = before in PASSING, after in PASSING
    if was and not now:
        return "broke"
    if now and not was:
        return "fixed"
    return "both pass" if now else "both fail"


def _pass_rate_fields(
    name: str, counted: list[CasePair], confidence: float, resamples: int, seed: int
) -> dict[str, Any]:
    n = len(counted)
    passed_before = sum(p.before in PASSING for p in counted)
    passed_after = sum(p.after in PASSING for p in counted)
    fixed = sum(p.result == "fixed" for p in counted)
    broke = sum(p.result == "broke" for p in counted)
    differences = [(p.after in PASSING) - (p.before in PASSING) for p in counted]
    interval = mean_interval(differences, confidence=confidence, resamples=resamples, seed=seed)
    return {
        "name": name,
        "n": n,
        "before": passed_before / n,
        "after": passed_after / n,
        "difference": (passed_after - passed_before) / n,
        "interval": interval,
        "p_value": mcnemar_exact(broke=broke, fixed=fixed),
        "higher_is_better": True,
        "before_interval": wilson_interval(passed_before, n, confidence),
        "after_interval": wilson_interval(passed_after, n, confidence),
        "fixed": fixed,
        "broke": broke,
    }


SAMPLE_RATE = "sample pass rate"  # the per-case pass rate over repeated samples, compared like a metric


def _metric_differences(
    a: Baseline, b: Baseline, shared: Iterable[str]
) -> dict[str, tuple[list[float], float, float, bool]]:
    """Per metric: (B - A per case where both sides have a finite value, A's mean, B's mean,
    higher_is_better). A metric missing or undefined on one side of a case leaves that case out.
    Cases of repeated samples on both sides add their pass rates as the metric ``SAMPLE_RATE``."""
    values: dict[str, list[tuple[float, float]]] = {}
    higher: dict[str, bool] = {}
    for node_id in shared:
        before, after = a.cases[node_id].metrics, b.cases[node_id].metrics
        sampled = (a.cases[node_id].samples, b.cases[node_id].samples)
        if sampled[0] and sampled[1]:
            # a case of repeated samples: its pass rate is a paired measurement like a metric's
            values.setdefault(SAMPLE_RATE, []).append((float(sampled[0]["rate"]), float(sampled[1]["rate"])))
            higher[SAMPLE_RATE] = True
        for name in sorted(before.keys() & after.keys()):
            old, new = _number(before[name].get("value")), _number(after[name].get("value"))
            if old is None or new is None:
                continue
            values.setdefault(name, []).append((old, new))
            higher.setdefault(
                name, bool(after[name].get("higher_is_better", before[name].get("higher_is_better", True)))
            )
    result = {}
    for name in sorted(values):
        pairs = values[name]
        result[name] = (
            [new - old for old, new in pairs],
            sum(old for old, _ in pairs) / len(pairs),
            sum(new for _, new in pairs) / len(pairs),
            higher[name],
        )
    return result


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round_sig(value)


def _verdict(fields: Mapping[str, Any], adjusted_p: float, alpha: float) -> str:
    interval: Interval | None = fields["interval"]
    if interval is None or adjusted_p >= alpha:
        return "no evidence"
    higher = fields["higher_is_better"]
    if (interval.high < 0) if higher else (interval.low > 0):
        return "worse"
    if (interval.low > 0) if higher else (interval.high < 0):
        return "better"
    return "no evidence"


def _groups(
    counted: list[CasePair], tags: Mapping[str, list[str]], confidence: float, resamples: int, seed: int
) -> list[GroupEstimate]:
    """Pass-rate estimates per file and per tag (only when there is more than one file, or any tag),
    Holm-adjusted across all of them."""
    members: dict[tuple[str, str], list[CasePair]] = {}
    for pair in counted:
        members.setdefault(("file", pair.node_id.split("::", 1)[0]), []).append(pair)
        for tag in tags.get(pair.node_id, []):
            members.setdefault(("tag", tag), []).append(pair)
    if len(members) < 2:
        return []  # one file and no tags: the group is the whole suite, already shown
    keys = sorted(members)
    fields = [_pass_rate_fields("pass rate", members[key], confidence, resamples, seed) for key in keys]
    alpha = 1 - confidence
    adjusted = _holm_testable(fields, [_smallest_p(f, None) for f in fields], alpha)
    return [
        GroupEstimate(
            kind, name, Estimate(**{**f, "name": f"{kind} {name}"}, adjusted_p=p, verdict=_verdict(f, p, alpha))
        )
        for (kind, name), f, p in zip(keys, fields, adjusted, strict=True)
    ]


def _why_no_evidence(e: Estimate, confidence: float) -> str:
    """Why an estimate is not called although its interval may exclude 0: the test's p-value."""
    if e.verdict != "no evidence" or e.interval is None:
        return ""
    alpha = 1 - confidence
    if e.adjusted_p >= alpha:
        return f" (p {_p_text(e.adjusted_p)} is not below {alpha:.2g})"
    return " (the interval includes 0)"


def _smallest_p(fields: Mapping[str, Any], differences: list[float] | None) -> float:
    """The smallest p-value the measure's test could give with these cases, whatever their signs: for
    McNemar, all discordant pairs one way; for the sign-flip test, every non-zero difference one way."""
    if differences is None:  # the pass rate: McNemar on the discordant pairs
        return mcnemar_exact(broke=int(fields["fixed"]) + int(fields["broke"]), fixed=0)
    return min(1.0, 2.0 ** (1 - sum(d != 0 for d in differences)))


def _holm_testable(family: list[dict[str, Any]], smallest_p: list[float], alpha: float) -> list[float]:
    """Holm-adjusted p-values of ``family``. A measure that cannot be called whatever its data (fewer
    than two cases, so no interval; or too few changed cases for its test ever to reach ``alpha``, e.g.
    five flips for McNemar at 95%) keeps its raw p-value and stays out of the family, so it does not
    weaken the tests that can decide (Tarone's screening of discrete tests, here with Holm). That
    screen depends only on how many cases changed, not on which way, so Holm over the rest still
    controls the family-wise error rate."""
    testable = [
        index for index, fields in enumerate(family) if fields["interval"] is not None and smallest_p[index] < alpha
    ]
    adjusted = [float(fields["p_value"]) for fields in family]
    for index, p_adjusted in zip(testable, holm([family[i]["p_value"] for i in testable]), strict=True):
        adjusted[index] = p_adjusted
    return adjusted


def _effect_text(e: Estimate) -> str:
    level = f"{e.interval.confidence:.0%} " if e.interval is not None else ""
    if e.name == "pass rate" or e.name.startswith(("file ", "tag ")):
        effect = f"{_points(e.difference, signed=True)} ({level}interval {_interval_text(e.interval, points=True)})"
        test = f"exact McNemar p = {_p_text(e.p_value)} ({e.fixed} fixed, {e.broke} broke)"
    else:
        effect = f"{e.difference:+.4g} ({level}interval {_interval_text(e.interval, points=False)})"
        test = f"sign-flip p = {_p_text(e.p_value)}"
    if e.adjusted_p != e.p_value:
        test += f", Holm-adjusted {_p_text(e.adjusted_p)}"
    return f"{effect}, {test}"


def _points(value: float, *, signed: bool = False) -> str:
    return f"{value * 100:+.1f} points" if signed else f"{value * 100:.1f} points"


def _interval_text(interval: Interval | None, *, points: bool) -> str:
    if interval is None:
        return "none: one case"
    if points:
        return f"[{interval.low * 100:+.1f}, {interval.high * 100:+.1f}]"
    return f"[{interval.low:+.4g}, {interval.high:+.4g}]"


def _rate_text(rate: float, interval: Interval | None) -> str:
    if interval is None:
        return f"{rate:.1%}"
    return f"{rate:.1%} [{interval.low:.1%}, {interval.high:.1%}]"


def _p_text(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


def _one_line(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _MESSAGE_CHARS else flat[: _MESSAGE_CHARS - 3] + "..."


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def _plural(word: str, count: int) -> str:
    return word if count == 1 else word + "s"

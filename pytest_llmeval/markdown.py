"""A run (and its comparison with the baseline) as Markdown, for ``$GITHUB_STEP_SUMMARY`` or a
pull-request comment.

One pure function, ``format_markdown_summary``: records in, text out. Nothing here reads files,
clocks or the environment, so the same run gives the same text byte for byte.

What the reader sees, in order: a verdict heading and one line of identity; pass rates overall and
per mode; what got worse against the baseline (regressions and metric drops, new failures), then
what got better or stayed broken; metric means before and after; differences in generation settings
or model. Every table is cut at ``max_rows`` rows, and the whole text at GitHub's comment limit.

Escaping: everything that comes from a run (node ids, messages, model paths, settings) is untrusted
text. Node ids and names render as inline code; messages as plain text with Markdown punctuation
backslash-escaped; both have whitespace collapsed (a newline would end a table row) and ``|``
escaped inside tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmeval.paired_comparison import Estimate, PairedComparison
from pytest_llmeval.records import MODES, CaseRecord, RunRecord
from pytest_llmeval.run_comparison import FAILING, GATES, PASSING, Comparison
from pytest_llmeval.samples import p_text
from pytest_llmeval.statistics import Interval
from pytest_llmeval.store import Baseline, round_sig

__all__ = ["GITHUB_COMMENT_LIMIT", "format_markdown_summary", "format_paired_markdown"]

# GitHub rejects a comment body longer than this. Counted in UTF-16 code units, which is never less
# than the number of characters, so the text fits however GitHub counts.
GITHUB_COMMENT_LIMIT = 65_536


_MESSAGE_CHARS = 120  # a "why" cell: one glance, the terminal and `llmeval diff` have the rest
_NODE_ID_CHARS = 160  # parametrized ids get long; cut in the middle to keep the file and the params
_OPEN_ROWS = 10  # a "fixed" table longer than this is collapsed into <details>
_ELLIPSIS = "…"

# Backslash-escaping these makes them literal in CommonMark/GFM text. "|" is escaped everywhere so a
# message in a table never splits its row; "\" first-class, so a message's own "\|" stays intact.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>|~&])")
# "@name" in a PR comment notifies that user or team: a word joiner after "@" keeps the text and
# drops the ping (model outputs quoted in messages may hold e-mail addresses or handles).
_MENTION = re.compile(r"(?<!\w)@(?=[A-Za-z0-9])")  # not in e-mail addresses: no ping there
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Inside the <code> fallback every character that Markdown or HTML could read as markup is an entity.
_CODE_ENTITIES = {char: f"&#{ord(char)};" for char in "\\`*_[]<>&|~!@#:"}


def format_markdown_summary(
    run: RunRecord,
    *,
    baseline: Baseline | None = None,
    comparison: Comparison | None = None,
    reference_label: str | None = None,
    gate: str = "off",
    max_rows: int = 30,
    human_review: str | None = None,
) -> str:
    """The Markdown summary of ``run``: verdict, pass rates, regressions, metric changes.

    ``baseline``: the reference run, when there is one; ``comparison``: ``compare_runs(baseline, run,
    ...)`` (the same tolerances as the gate, so the tables agree with it); ``reference_label``: how to
    name the reference, e.g. ``"llmeval-baseline.json (run 3f2a9c1b04de)"``; ``gate``: ``off``,
    ``regressions``, ``strict`` or ``significant``, which decides the verdict (``Comparison.failing``;
    a comparison made with ``confidence=`` adds the paired statistics' section); ``max_rows``:
    rows per table, the rest counted in a "... and N more" line. ``human_review``: the "Human review"
    section (``ReviewResults.markdown()``) when people reviewed this run or its pair, else None.

    The pass rate is (passed + xpassed) / (all - skipped): an xfailed case counts as not passed. The
    baseline column's overall rate is over all baseline cases; its per-mode rates are over the cases
    both runs share, grouped by *this* run's mode (the baseline does not record modes).

    The result ends with a newline and is at most ``GITHUB_COMMENT_LIMIT`` characters long.
    """
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; use one of {', '.join(GATES)}")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0:
        raise ValueError(f"max_rows={max_rows!r} must be a whole number >= 0")
    # A later record of one node id wins, as in the baseline made from this run.
    cases = {case.node_id: case for case in run.cases}
    parts = _Parts(run, cases, baseline, comparison, reference_label, gate, max_rows)
    lines = [*parts.heading(), *parts.pass_rates()]
    if comparison is not None:
        lines += parts.changes(comparison)
    else:
        lines += parts.failures()
    lines += parts.metrics()
    if comparison is not None and comparison.paired is not None:
        lines += ["### Is this run worse than the baseline? (paired statistics)", ""]
        lines += paired_sections(comparison.paired, max_rows, cases=False)
    if human_review:
        lines += [*human_review.rstrip("\n").split("\n"), ""]
    if comparison is not None:
        lines += parts.differences(comparison)
    return _cap(lines, GITHUB_COMMENT_LIMIT)


def format_paired_markdown(paired: PairedComparison, *, max_rows: int = 30) -> str:
    """``llmeval compare``'s result as Markdown: a verdict heading, the pass rates and metrics with
    their intervals and tests, the groups, the detectable change, and the cases B broke and fixed."""
    emoji = {"worse": "❌", "better": "✅", "mixed": "⚠️"}.get(paired.verdict, "⚪")
    lines = [
        f"## {emoji} llmeval compare: {_text(paired.verdict_line().removeprefix('verdict: '), 300)}",
        "",
        f"A = {_text(paired.label_a, 300)}  ",
        f"B = {_text(paired.label_b, 300)}",
        "",
    ]
    lines += paired_sections(paired, max_rows, cases=True)
    return _cap(lines, GITHUB_COMMENT_LIMIT)


def paired_sections(paired: PairedComparison, max_rows: int, *, cases: bool) -> list[str]:
    """The paired comparison's tables (``cases``: also the cases B broke and fixed)."""
    level = f"{paired.confidence:.0%}"
    lines = [
        f"{_count(len(paired.pairs), 'shared case')} ({paired.counted} counted for the pass rate); "
        + f"only in A: {len(paired.only_a)}, only in B: {len(paired.only_b)}.",
        "",
    ]
    if paired.verdict == "cannot tell":
        return [*lines, "**Cannot tell**: the two runs share no case that counts.", ""]
    header = ["measure", "n", "A", "B", "B − A", f"{level} interval", "test", "p", "p (Holm)", "verdict"]
    rows = [
        _estimate_row(e, "exact McNemar" if e is paired.pass_rate else "sign-flip")
        for e in ([paired.pass_rate] if paired.pass_rate is not None else []) + paired.metrics
    ]
    lines += [*_table(header, rows, "lrrrrlllll"), ""]
    rate = paired.pass_rate
    if rate is not None:
        summary = (
            f"Pass rates with Wilson {level} intervals: A {_rate(rate.before, rate.before_interval)}, "
            f"B {_rate(rate.after, rate.after_interval)}; {rate.fixed} fixed, {rate.broke} broke. "
            f"Differences: paired bootstrap intervals ({paired.resamples:,} resamples, seed {paired.seed})."
        )
        lines += [summary, "", f"Detectable: {_text(paired.detectable_text(), 400)}.", ""]
    if paired.groups:
        group_rows = [
            [
                _code(f"{g.kind} {g.name}"),
                str(g.estimate.n),
                _percent(g.estimate.before),
                _percent(g.estimate.after),
                _signed_points(g.estimate.difference),
                _interval(g.estimate.interval, points=True),
                str(g.estimate.fixed),
                str(g.estimate.broke),
                _p(g.estimate.adjusted_p),
                g.estimate.verdict,
            ]
            for g in paired.groups
        ]
        lines += _details(
            f"Pass rate by file and tag ({len(paired.groups)} groups, exact McNemar, Holm-adjusted)",
            _table(
                ["group", "n", "A", "B", "B − A", f"{level} interval", "fixed", "broke", "p (Holm)", "verdict"],
                group_rows[:max_rows],
                "lrrrrlrrll",
            )
            + (["", f"… and {len(group_rows) - max_rows} more"] if len(group_rows) > max_rows else []),
        )
    lines += [f"**{_text(paired.verdict_line(), 400)}**", ""]
    if cases:
        for result, title in (
            ("broke", "What B broke (A passed, B fails)"),
            ("fixed", "What B fixed (A failed, B passes)"),
        ):
            pairs = paired.results(result)
            if not pairs:
                continue
            table_rows = [
                [_code(p.node_id), _arrow(p.before, p.after), _text(p.message or "")] for p in pairs[:max_rows]
            ]
            lines += [f"### {title}: {len(pairs)}", "", *_table(["case", "A → B", "why (B)"], table_rows), ""]
            if len(pairs) > max_rows:
                lines += [f"… and {len(pairs) - max_rows} more", ""]
    return lines


def _estimate_row(e: Estimate, test: str) -> list[str]:
    is_rate = e.name == "pass rate"
    name = _text(e.name) if is_rate else _metric_name(e.name, e.higher_is_better)
    if is_rate:
        values = [
            _percent(e.before),
            _percent(e.after),
            _signed_points(e.difference),
            _interval(e.interval, points=True),
        ]
    else:
        values = [_number(e.before), _number(e.after), f"{e.difference:+.4g}", _interval(e.interval, points=False)]
    verdict = {"worse": "**worse**", "better": "better"}.get(e.verdict, e.verdict)
    return [name, str(e.n), *values, test, _p(e.p_value), _p(e.adjusted_p), verdict]


def _signed_points(value: float) -> str:
    return f"{value * 100:+.1f} pts"


def _interval(interval: Interval | None, *, points: bool) -> str:
    if interval is None:
        return "— (one case)"
    if points:
        return f"[{interval.low * 100:+.1f}, {interval.high * 100:+.1f}] pts"
    return f"[{interval.low:+.4g}, {interval.high:+.4g}]"


def _rate(rate: float, interval: Interval | None) -> str:
    if interval is None:
        return _percent(rate)
    return f"{_percent(rate)} [{_percent(interval.low)}, {_percent(interval.high)}]"


def _p(p: float) -> str:
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


# --------------------------------------------------------------------------------------------------
# the sections


@dataclass
class _Parts:
    run: RunRecord
    cases: dict[str, CaseRecord]
    baseline: Baseline | None
    comparison: Comparison | None
    reference_label: str | None
    gate: str
    max_rows: int

    # -- 1. verdict and identity ------------------------------------------------------------------

    def heading(self) -> list[str]:
        emoji, words = self._verdict()
        return [f"## {emoji} llmeval: {words}", "", self._identity(), ""]

    def _verdict(self) -> tuple[str, str]:
        emoji, words = self._verdict_words()
        if emoji == "✅" and _Tally.of(case.outcome for case in self.cases.values()).rate() is None:
            emoji = "⚪"  # all skipped: nothing failed, but nothing passed either
        return emoji, words

    def _verdict_words(self) -> tuple[str, str]:
        total = len(self.cases)
        tally = _Tally.of(case.outcome for case in self.cases.values())
        failures = tally.failed
        if total == 0:
            # Nothing ran, so no gate can fail; a green tick would still overstate it.
            return "⚪", "no eval cases ran"
        rate = tally.rate()
        ran = f"{_count(total, 'case')}, " + (f"{_percent(rate)} passed" if rate is not None else "all skipped")
        comparison = self.comparison
        if comparison is None:
            if self.gate == "strict":
                if failures:
                    return "❌", f"{_count(failures, 'failing case')} (strict gate)"
                return "✅", f"{ran}, no failures"
            if self.gate in ("regressions", "significant"):
                return "⚠️", f"{ran}, no baseline to compare with"
            return ("⚠️", f"{ran}, {failures} failed") if failures else ("✅", ran)
        if self.gate == "strict":
            if comparison.failing("strict"):
                counts = (
                    (len(comparison.current_failures), "failing case"),
                    (len(comparison.metric_drops), "metric drop"),
                )
                return "❌", f"{', '.join(_count(n, what) for n, what in counts if n)} (strict gate)"
            return "✅", f"{ran}, no failures or metric drops"
        findings = _findings(comparison)
        if self.gate == "significant" and comparison.paired is not None:
            paired = comparison.paired
            level = f"{paired.confidence:.0%} confidence"
            if paired.worse:
                return "❌", f"worse than the baseline on {', '.join(e.name for e in paired.worse)} ({level})"
            if comparison.failing("significant"):
                return "❌", f"{_count(len(comparison.new_failing), 'new failing case')} (significant gate)"
            within = f" ({', '.join(findings)}, within chance)" if findings else ""
            return "✅", f"{ran}, not worse than the baseline at {level}{within}"
        if self.gate == "regressions":
            if comparison.failing("regressions"):
                return "❌", f"{', '.join(findings)} against the baseline"
            return "✅", f"{ran}, no regressions"
        # Gate off: say what happened; the warning sign, not a cross, because nothing failed the job.
        if findings:
            return "⚠️", f"{ran}, {', '.join(findings)} (gate off)"
        return "✅", f"{ran}, no regressions"

    def _identity(self) -> str:
        model = self.run.model or {}
        facts = [f"Model {_code(model.get('source') or '(unknown)', table=False)}"]
        if model.get("adapter"):
            facts[0] += f" + adapter {_code(model['adapter'], table=False)}"
        facts.append(f"run {_code(_short(self.run.run_id), table=False)}")
        commit = self.run.git_commit
        if commit:
            # Plain hex so GitHub links the commit in a PR comment; anything else is shown as code.
            short = _short(commit)
            plain = re.fullmatch(r"[0-9a-fA-F]+", short) is not None
            facts.append(f"commit {short if plain else _code(short, table=False)}")
        if self.baseline is not None or self.comparison is not None:
            if self.reference_label:
                facts.append(f"compared with {_text(self.reference_label)}")
            else:
                run_id = (self.baseline.run.get("run_id") if self.baseline is not None else None) or (
                    self.comparison.baseline_run_id if self.comparison is not None else None
                )
                named = f"baseline run {_code(_short(str(run_id)), table=False)}" if run_id else "the baseline"
                facts.append(f"compared with {named}")
        else:
            facts.append("no baseline")
        facts.append(f"gate {self.gate}")
        if not self.run.complete:
            facts.append("⚠️ incomplete run (a selection, or the session stopped early)")
        if self.comparison is not None and self.comparison.settings_differences:
            facts.append("⚠️ generation settings differ from the baseline's (see below)")
        return " · ".join(facts)

    # -- 2. pass rates ----------------------------------------------------------------------------

    def pass_rates(self) -> list[str]:
        groups: dict[str, list[str]] = {}  # row label -> node ids
        for node_id, case in self.cases.items():
            groups.setdefault(case.mode or "", []).append(node_id)
        labels = [mode for mode in MODES if mode in groups]
        labels += sorted(mode for mode in groups if mode and mode not in MODES)
        if "" in groups and labels:
            labels.append("")  # "other" only beside some mode; alone it would repeat "all"
        with_baseline = self.baseline is not None
        header = ["", "passed", "failed", "other", "pass rate"] + (["baseline"] if with_baseline else [])
        rows = [self._rate_row("**all**", list(self.cases), baseline_ids=None)]
        for label in labels:
            shown = _code(label) if label else "other (no mode)"
            rows.append(self._rate_row(shown, groups[label], baseline_ids=groups[label]))
        lines = ["### Pass rates", "", *_table(header, rows, align="lrrrrr")]
        note = "pass rate = (passed + xpassed) / (all − skipped); failed includes errors; "
        note += "other = skipped or xfailed"
        if with_baseline:
            note += "; baseline by mode: the cases both runs share, by this run's mode"
        return [*lines, "", f"<sub>{note}</sub>", ""]

    def _rate_row(self, label: str, node_ids: list[str], *, baseline_ids: list[str] | None) -> list[str]:
        tally = _Tally.of(self.cases[node_id].outcome for node_id in node_ids)
        row = [label, str(tally.passed), str(tally.failed), str(tally.other), _percent(tally.rate())]
        if self.baseline is not None:
            before = self.baseline.cases
            ids: Iterable[str] = before if baseline_ids is None else (i for i in baseline_ids if i in before)
            row.append(_percent(_Tally.of(before[node_id].outcome for node_id in ids).rate()))
        return row

    # -- 3. what changed against the baseline -----------------------------------------------------

    def changes(self, comparison: Comparison) -> list[str]:
        lines: list[str] = []
        worse: list[list[str]] = [
            [_code(change.node_id), _arrow(change.before, change.after), self._why(change.node_id, change.message)]
            for change in comparison.regressions
        ]
        for drop in comparison.metric_drops:
            verb = "dropped" if drop.higher_is_better else "rose"
            direction = "" if drop.higher_is_better else ", lower is better"
            worse.append(
                [
                    _code(drop.node_id),
                    f"{_code(drop.metric)} {_number(drop.before)} → {_number(drop.after)}",
                    f"{verb} by {_number(drop.drop)} (tolerance {_number(drop.tolerance)}{direction})",
                ]
            )
        if worse:
            counts = ((len(comparison.regressions), "case"), (len(comparison.metric_drops), "metric drop"))
            lines += [f"### Regressions ({', '.join(_count(n, what) for n, what in counts if n)})", ""]
            lines += self._limited(["case", "before → after", "why"], worse)
        # Failing now, not passing in the baseline: new cases, and cases skipped or xfailed there
        # (compare_runs files those under no list, but a reader wants to see them).
        listed = {c.node_id for c in [*comparison.regressions, *comparison.still_failing]}
        before_cases = self.baseline.cases if self.baseline is not None else {}
        new_failing = [
            [
                _code(node_id),
                _arrow(before_cases[node_id].outcome if node_id in before_cases else "new", self._outcome(node_id)),
                self._why(node_id, None),
            ]
            for node_id in comparison.current_failures
            if node_id not in listed
        ]
        if new_failing:
            lines += [f"### New failures ({len(new_failing)})", ""]
            lines += self._limited(["case", "before → after", "why"], new_failing)
        fixed = [[_code(c.node_id), _arrow(c.before, c.after)] for c in comparison.fixes]
        if fixed:
            title = f"Fixed ({len(fixed)})"
            table = self._limited(["case", "before → after"], fixed)
            lines += _details(title, table) if len(fixed) > _OPEN_ROWS else [f"### {title}", "", *table]
        still = [
            [_code(c.node_id), _text(c.after or "—"), self._why(c.node_id, c.message)] for c in comparison.still_failing
        ]
        if still:
            table = self._limited(["case", "outcome", "why"], still)
            lines += _details(f"Still failing, as in the baseline ({len(still)})", table)
        also = [
            _count(len(comparison.new) - len(comparison.new_failing), "new case") + " not failing"
            if len(comparison.new) > len(comparison.new_failing)
            else "",
            _count(len(comparison.not_run), "baseline case") + " not run (deselected or removed)"
            if comparison.not_run
            else "",
            _count(len(comparison.changed_outputs), "changed output") if comparison.changed_outputs else "",
        ]
        if comparison.flaky:
            flaky = [
                [
                    _code(case.node_id),
                    _arrow(_flipped_outcome(comparison, case.node_id, "before"), self._outcome(case.node_id)),
                    _text(
                        f"{case.before['passed']}/{case.before['n']} → {case.after['passed']}/{case.after['n']} "
                        f"samples passed, Fisher p = {p_text(case.p_value)}"
                    ),
                ]
                for case in comparison.flaky
            ]
            lines += [f"### Flaky ({len(flaky)}): the verdict flipped within sampling noise", ""]
            lines += self._limited(["case", "before → after", "sample pass rate"], flaky)
        if any(also):
            lines += [f"Also: {'; '.join(item for item in also if item)}.", ""]
        if not (worse or new_failing or fixed or still or any(also) or comparison.flaky):
            lines += [f"No differences from the baseline over {_count(comparison.compared, 'shared case')}.", ""]
        return lines

    def failures(self) -> list[str]:
        """Without a baseline: the failing cases themselves."""
        rows = [
            [_code(node_id), _text(case.outcome), self._why(node_id, None)]
            for node_id, case in sorted(self.cases.items())
            if case.outcome in FAILING
        ]
        if not rows:
            return []
        return [f"### Failing cases ({len(rows)})", "", *self._limited(["case", "outcome", "why"], rows)]

    def _outcome(self, node_id: str) -> str | None:
        case = self.cases.get(node_id)
        return case.outcome if case is not None else None

    def _why(self, node_id: str, fallback: str | None) -> str:
        case = self.cases.get(node_id)
        message = case.message if case is not None and case.message else fallback
        return _text(message) if message else "—"

    def _limited(self, header: list[str], rows: list[list[str]]) -> list[str]:
        shown = rows[: self.max_rows]
        lines = _table(header, shown) if shown else []
        if len(rows) > len(shown):
            lines += ["", f"... and {len(rows) - len(shown)} more (`llmeval diff` lists them all)"]
        return [*lines, ""]

    # -- 4. metrics and differences ---------------------------------------------------------------

    def metrics(self) -> list[str]:
        current: dict[str, dict[str, float]] = {}  # metric -> node id -> value
        higher: dict[str, bool] = {}
        for node_id in sorted(self.cases):
            for name, metric in self.cases[node_id].metrics.items():
                value = _finite(metric.get("value") if isinstance(metric, Mapping) else None)
                if value is not None:
                    current.setdefault(name, {})[node_id] = value
                    higher.setdefault(name, bool(metric.get("higher_is_better", True)))
        if not current:
            return []
        lines = ["### Metrics", ""]
        if self.baseline is None:
            rows = [
                [_metric_name(name, higher[name]), str(len(values)), _number(_mean(values.values()))]
                for name, values in sorted(current.items())
            ]
            return [*lines, *_table(["metric", "cases", "mean"], rows, align="lrr"), ""]
        rows, unmatched = [], []
        for name, values in sorted(current.items()):
            pairs = []
            for node_id, value in sorted(values.items()):
                entry = self.baseline.cases.get(node_id)
                before = _finite(_baseline_value(entry.metrics.get(name))) if entry is not None else None
                if before is not None:
                    pairs.append((before, value))
            if not pairs:
                mean = _number(_mean(values.values()))
                unmatched.append(f"{_code(name, table=False)} (mean {mean} over {_count(len(values), 'case')})")
                continue
            old, new = _mean(p[0] for p in pairs), _mean(p[1] for p in pairs)
            name_cell = _metric_name(name, higher[name])
            rows.append([name_cell, str(len(pairs)), _number(old), _number(new), _delta(old, new, higher[name])])
        if rows:
            lines += ["Means over the cases that have the metric in both runs.", ""]
            lines += [*_table(["metric", "cases", "baseline", "this run", "change"], rows, align="lrrrr"), ""]
        if unmatched:
            lines += [f"Not in the baseline: {'; '.join(unmatched)}.", ""]
        return lines

    def differences(self, comparison: Comparison) -> list[str]:
        lines: list[str] = []
        if comparison.settings_differences:
            lines += ["### ⚠️ Generation settings differ from the baseline's", ""]
            lines += ["Outputs may differ for that reason alone, so the comparison above is questionable.", ""]
            lines += [f"- {_code(item, table=False)}" for item in comparison.settings_differences] + [""]
        if comparison.model_differences:
            lines += ["### Model differs from the baseline's", ""]
            lines += [f"- {_code(item, table=False)}" for item in comparison.model_differences] + [""]
        return lines


# --------------------------------------------------------------------------------------------------
# counting


@dataclass(frozen=True)
class _Tally:
    passed: int = 0  # passed + xpassed
    failed: int = 0  # failed + error
    skipped: int = 0
    xfailed: int = 0  # and any outcome this module does not know: counted, never as passed

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> _Tally:
        counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0}
        for outcome in outcomes:
            if outcome in PASSING:
                counts["passed"] += 1
            elif outcome in FAILING:
                counts["failed"] += 1
            elif outcome == "skipped":
                counts["skipped"] += 1
            else:
                counts["xfailed"] += 1
        return cls(**counts)

    @property
    def other(self) -> int:
        return self.skipped + self.xfailed

    def rate(self) -> float | None:
        """(passed + xpassed) / (all - skipped); ``None`` when nothing counts."""
        counted = self.passed + self.failed + self.xfailed
        return self.passed / counted if counted else None


def _findings(comparison: Comparison) -> list[str]:
    """What the regressions gate fails on, in words ("2 regressions, 1 metric drop")."""
    found = [
        (len(comparison.regressions), "regression"),
        (len(comparison.new_failing), "new failing case"),
        (len(comparison.metric_drops), "metric drop"),
    ]
    return [_count(n, what) for n, what in found if n]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    # Rounded like the baseline, so an unchanged model shows a change of exactly 0.
    return round_sig(value)


def _baseline_value(metric: Any) -> Any:
    return metric.get("value") if isinstance(metric, Mapping) else None


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return math.fsum(items) / len(items)


# --------------------------------------------------------------------------------------------------
# text


def _count(n: int, word: str) -> str:
    if n == 1:
        return f"1 {word}"
    head, _, last = word.rpartition(" ")
    return f"{n} {head + ' ' if head else ''}{last}s"


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10_000 else f"{value:.4g}"


def _delta(old: float, new: float, higher_is_better: bool) -> str:
    change = new - old
    if abs(change) <= 1e-12 * max(1.0, abs(old)):
        return "0 (same)"
    better = (change > 0) == higher_is_better
    arrow = "↑" if change > 0 else "↓"
    return f"{change:+.3g} {arrow} {'better' if better else 'worse'}"


def _metric_name(name: str, higher_is_better: bool) -> str:
    return _code(name) + ("" if higher_is_better else " (lower is better)")


def _arrow(before: str | None, after: str | None) -> str:
    return f"{_text(before or '—')} → {_text(after or '—')}"


def _short(identifier: str) -> str:
    return identifier[:12]


def _flat(value: Any) -> str:
    """One line: whitespace runs (newlines too) become one space; other control characters go."""
    return " ".join(_CONTROL.sub("\ufffd", str(value)).split())


def _truncate_end(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + _ELLIPSIS


def _truncate_middle(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + _ELLIPSIS + text[len(text) - (limit - 1 - head) :]


def _text(value: Any, limit: int = _MESSAGE_CHARS) -> str:
    """Plain Markdown text that renders literally: one line, cut at ``limit``, punctuation escaped."""
    escaped = _MARKDOWN_PUNCTUATION.sub(r"\\\1", _truncate_end(_flat(value), limit))
    return _MENTION.sub("@\u2060", escaped)


def _code(value: Any, *, table: bool = True, limit: int = _NODE_ID_CHARS) -> str:
    """Inline code showing ``value`` literally; ``table``: the text goes into a table cell.

    Backticks cannot be escaped inside a code span, and in a table cell "\\|" is taken apart by the
    row splitter before the code span is read, so either falls back to ``<code>`` with entities.
    """
    flat = _truncate_middle(_flat(value), limit)
    if "`" in flat or (table and "\\|" in flat) or not flat.strip():
        return "<code>" + "".join(_CODE_ENTITIES.get(char, char) for char in flat) + "</code>"
    # GFM tables: "\|" inside a code span is a literal pipe, a bare "|" would end the cell.
    return "`" + (flat.replace("|", "\\|") if table else flat) + "`"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    rule = ["---:" if align[i : i + 1] == "r" else "---" for i in range(len(header))]
    return ["| " + " | ".join(cells) + " |" for cells in (header, rule, *rows)]


def _details(summary: str, body: list[str]) -> list[str]:
    # The blank line after <summary> lets GitHub render the Markdown table inside the HTML block.
    return [f"<details><summary>{summary}</summary>", "", *body, "</details>", ""]


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


_TRUNCATED = (
    f"**Summary truncated** to fit GitHub's {GITHUB_COMMENT_LIMIT:,}-character limit; "
    "`llmeval show latest` and `llmeval diff` list everything."
)


def _cap(lines: list[str], limit: int) -> str:
    """Join ``lines``; past ``limit``, keep whole lines, close open <details> and say so."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    if _utf16_length(text) <= limit:
        return text
    # Room for the closing tags of every <details> we could be inside, and the notice itself.
    reserve = _utf16_length(_TRUNCATED) + 64
    kept: list[str] = []
    used = 0
    open_details = 0
    for line in lines:
        size = _utf16_length(line) + 1
        if used + size > limit - reserve - open_details * len("\n</details>\n"):
            break
        kept.append(line)
        used += size
        if line.startswith("<details>"):
            open_details += 1
        elif line.startswith("</details>"):
            open_details -= 1
    # A blank line first: the notice must not be read as one more table row.
    closing = ["", "</details>"] * open_details
    return "\n".join([*kept, *closing, "", _TRUNCATED]) + "\n"


def _flipped_outcome(comparison: Comparison, node_id: str, side: str) -> str:
    """A flipped case's outcome on ``side`` ("before" or "after") of ``comparison``."""
    for change in [*comparison.regressions, *comparison.fixes]:
        if change.node_id == node_id:
            return (change.before if side == "before" else change.after) or "—"
    return "—"

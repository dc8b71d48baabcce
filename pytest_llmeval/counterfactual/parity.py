"""Over a group of cases: each group's pass rate per category and the largest gap between groups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmeval.checks.base import CheckResult, CheckUsageError, truncate


@dataclass
class CategoryParity:
    """One category over a group of cases: each group's pass rate and mean score."""

    category: str
    passed: dict[str, list[bool]] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    failing_pairs: list[str] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        return {g: sum(v) / len(v) for g, v in sorted(self.passed.items()) if v}

    def gap(self) -> float:
        """The demographic parity difference: the largest minus the smallest group pass rate."""
        rates = self.rates()
        return max(rates.values()) - min(rates.values()) if len(rates) > 1 else 0.0

    def score_gap(self) -> float | None:
        means = [sum(v) / len(v) for v in self.scores.values() if v]
        return max(means) - min(means) if len(means) > 1 else None


@dataclass
class ParityReport:
    categories: dict[str, CategoryParity]

    def metrics(self) -> list[dict[str, Any]]:
        entries = []
        for name, parity in sorted(self.categories.items()):
            entries.append({"name": f"parity_gap[{name}]", "value": parity.gap(), "higher_is_better": False})
            score_gap = parity.score_gap()
            if score_gap is not None:
                entries.append({"name": f"score_gap[{name}]", "value": score_gap, "higher_is_better": False})
        return entries

    def format(self) -> str:
        lines = []
        for name, parity in sorted(self.categories.items()):
            rates = ", ".join(f"{g} {r:.2f}" for g, r in parity.rates().items())
            line = f"{name}: parity gap {parity.gap():.3f} (pass rate by group: {rates})"
            score_gap = parity.score_gap()
            if score_gap is not None:
                line += f"; score gap {score_gap:.3g}"
            lines.append(line)
            lines += [f"  {pair}" for pair in parity.failing_pairs]
        return "\n".join(lines)


def parity_report(results: Iterable[Mapping[str, Any]]) -> ParityReport:
    """Per category, from each case's ``counterfactual`` result details (``{"case", "original",
    "outcomes"}``): each group's pass rate over the cases (the original counts for its own groups)
    and the disagreeing pairs."""
    categories: dict[str, CategoryParity] = {}
    for result in results:
        original = result["original"]
        for category, groups in original["groups"].items():
            parity = categories.setdefault(category, CategoryParity(category))
            for group in groups:
                parity.passed.setdefault(group, []).append(bool(original["passed"]))
                if original["score"] is not None:
                    parity.scores.setdefault(group, []).append(float(original["score"]))
        for outcome in result["outcomes"]:
            parity = categories.setdefault(outcome["category"], CategoryParity(outcome["category"]))
            parity.passed.setdefault(outcome["group"], []).append(bool(outcome["passed"]))
            if outcome["score"] is not None:
                parity.scores.setdefault(outcome["group"], []).append(float(outcome["score"]))
            if outcome["disagreements"]:
                parity.failing_pairs.append(
                    f"{result.get('case', '?')} -> {outcome['group']}: "
                    f"{truncate(original['output'], limit=60)} | {truncate(outcome['output'], limit=60)}"
                    f" ({'; '.join(outcome['disagreements'])})"
                )
    return ParityReport(categories)


def parity_result(report: ParityReport, *, name: str = "fairness", max_gap: float | None = None) -> CheckResult:
    """A fairness group's verdict: fails when a category's parity gap exceeds ``max_gap``."""
    if max_gap is not None and not 0.0 <= max_gap <= 1.0:
        raise CheckUsageError(f"{name}: max_gap is {max_gap}, outside 0..1")
    over = [
        f"{c}: parity gap {p.gap():.3f} > max {max_gap:.3f}"
        for c, p in sorted(report.categories.items())
        if max_gap is not None and p.gap() > max_gap + 1e-12
    ]
    worst = max((p.gap() for p in report.categories.values()), default=0.0)
    summary = f"largest parity gap {worst:.3f} over {len(report.categories)} categories"
    message = f"{name}: {'; '.join(over)} ({summary})" if over else f"{name}: {summary}"
    return CheckResult(
        name,
        not over,
        message,
        score=worst,
        details={"metrics": report.metrics(), "table": report.format()},
        value=report,
    )

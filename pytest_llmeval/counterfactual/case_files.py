"""Case files: a case's variant requests, its counterfactual check, and a ``fairness:`` group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.checks.base import CheckResult
from pytest_llmeval.counterfactual.parity import parity_report, parity_result
from pytest_llmeval.counterfactual.rewriting import variants_of
from pytest_llmeval.counterfactual.scoring import evaluate_counterfactual
from pytest_llmeval.counterfactual.swap_sets import load_swap_sets


def case_variant_requests(case: Any) -> list[GenerationRequest]:
    """The variant requests of a case file's case (none without ``counterfactual:``), so that the
    session can generate them with every other planned request, in batches."""
    if case.counterfactual is None:
        return []
    sets = load_swap_sets(case.counterfactual_terms)
    variants, _ = variants_of(case.request, case.counterfactual.categories, sets)
    return [v.request for v in variants]


def case_counterfactual(case: Any, model: Any, output: object) -> CheckResult:
    """A case file's case: its variants generated with ``model`` and compared with ``output`` by the
    case's own expectations (``case.evaluate``)."""
    return evaluate_counterfactual(
        model,
        case.request,
        str(output),
        case.evaluate,
        case.counterfactual,
        load_swap_sets(case.counterfactual_terms),
    )


@dataclass
class FairnessGroup:
    """A case file's ``fairness:`` group: its cases' counterfactual results as they finished."""

    name: str
    max_gap: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    def add(self, case_id: str, details: Mapping[str, Any]) -> None:
        """``details``: a counterfactual result's details (``original`` and ``outcomes``)."""
        self.results.append({"case": case_id, "original": details["original"], "outcomes": details["outcomes"]})

    def result(self) -> CheckResult:
        return parity_result(parity_report(self.results), name=self.name, max_gap=self.max_gap)

    def failure_text(self) -> str | None:
        result = self.result()
        return None if result.passed else f"{result.message}\n\n{result.details['table']}"

    def record(self, node_id: str) -> Any:
        """The group as a run record entry with its metrics (``parity_gap[<category>]``, lower is better)."""
        from pytest_llmeval.records import CaseRecord

        result = self.result()
        return CaseRecord(
            node_id=node_id,
            outcome="passed" if result.passed else "failed",
            checks=[
                {"name": "fairness", "passed": result.passed, "score": result.score, "message": result.message[:300]}
            ],
            metrics={m["name"]: {"value": m["value"], "higher_is_better": False} for m in result.details["metrics"]},
            message=None if result.passed else result.message[:300],
        )

"""What a case file gives the plugin: its cases (a request plus expectations) and the file's groups.

This module does not import pytest; the plugin turns cases into test items.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.case_reading import CaseError
from pytest_llmeval.case_schema import ClassificationSpec, NERSpec
from pytest_llmeval.checks.base import CheckFailed, CheckResult, check
from pytest_llmeval.counterfactual import CounterfactualSpec, FairnessSpec
from pytest_llmeval.metrics.ner import Span
from pytest_llmeval.metrics.overfitting import PerplexityGapSpec

__all__ = ["Case", "CaseExpectationsFailed", "CaseFile", "Expectation"]


@dataclass(frozen=True)
class Expectation:
    """One ``expect`` entry: a check (possibly ``not_``-negated) and its validated arguments."""

    name: str
    args: Mapping[str, Any]

    def run(self, output: object) -> CheckResult:
        return check(self.name, output, **self.args)


class CaseExpectationsFailed(CheckFailed):
    """A case's output failed one or more of its expectations."""

    def __init__(self, case: Case, output: object, results: list[CheckResult]) -> None:
        self.case, self.output, self.results = case, output, results
        failed = [r for r in results if not r.passed]
        lines = [f"case {case.id!r} failed {len(failed)} of {len(results)} checks"]
        lines += [f"  FAIL {r.message}" for r in failed]
        AssertionError.__init__(self, "\n".join(lines))
        self.result = failed[0]


# Tracebacks and recorded messages name it by its public path, as they did before the split.
CaseExpectationsFailed.__module__ = "pytest_llmeval.cases"


@dataclass(frozen=True)
class Case:
    """One eval case: a request, what its output must satisfy, and where it was written."""

    id: str
    request: GenerationRequest
    expect: tuple[Expectation, ...]
    tags: tuple[str, ...] = ()
    reference: str | None = None
    xfail: str | None = None
    path: Path | None = None
    context: str | list[str] | None = None  # the source passage(s) for `grounded`
    line: int | None = None
    label: str | None = None  # the gold label, for the file's classification group
    tolerances: dict[str, float] = field(default_factory=dict)  # how far each metric may drop (gate)
    # gold entities aligned to ``ner_source`` (the prompt, or the file's ``ner.source_var``), for NER
    entities: tuple[Span, ...] | None = None
    ner_source: str | None = None
    ner_format: dict[str, Any] | None = None  # the file's ner.format and ner.pattern, for its NER group
    # counterfactual variants to generate and compare, and the swap-set files (beside the shipped ones)
    counterfactual: CounterfactualSpec | None = None
    counterfactual_terms: tuple[str, ...] = ()
    review_dimensions: tuple[str, ...] | None = None  # the Likert dimensions people rate it on
    samples: int | None = None  # sampled outputs (None: the session's --llm-samples)
    min_pass_rate: float | None = None  # share of samples that must pass (None: --llm-min-pass-rate)

    def __str__(self) -> str:
        return self.id

    def evaluate(self, output: object) -> list[CheckResult]:
        """Run every expectation on ``output``; never raises for a model failure."""
        return [expectation.run(output) for expectation in self.expect]

    def assert_expectations(self, output: object) -> list[CheckResult]:
        """Run every expectation; raise CaseExpectationsFailed listing each failed check."""
        __tracebackhide__ = True
        results = self.evaluate(output)
        if not all(r.passed for r in results):
            raise CaseExpectationsFailed(self, output, results)
        return results


@dataclass
class CaseFile:
    """A parsed case file: its cases, and the errors of cases (or of the file) that could not load."""

    path: Path
    cases: list[Case]
    errors: list[CaseError]
    pass_rate: float | None = None
    tag_pass_rates: dict[str, float] = field(default_factory=dict)
    classification: ClassificationSpec | None = None
    tag_classifications: dict[str, ClassificationSpec] = field(default_factory=dict)
    ner: NERSpec | None = None
    fairness: FairnessSpec | None = None
    perplexity_gap: PerplexityGapSpec | None = None  # its paths absolute

"""Judging the variants: each variant's output against the original's, one check result per case."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmeval import running_test
from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, truncate
from pytest_llmeval.counterfactual.rewriting import Variant, request_text, swap, variants_of
from pytest_llmeval.counterfactual.specs import CounterfactualSpec
from pytest_llmeval.counterfactual.swap_sets import CounterfactualError, SwapSet, load_swap_sets


@dataclass(frozen=True)
class VariantOutcome:
    """One generated variant and how its output compares with the original's."""

    variant: Variant
    output: str
    passed: bool  # the variant's output passes every check of the case
    score: float | None  # the mean of the checks' scores (None when no check scores)
    disagreements: tuple[str, ...]


def _evaluate_quietly(evaluate: Callable[[str], list[CheckResult]], output: str) -> list[CheckResult]:
    # The variants' checks must not count as the running test's checks (a FAIL for a variant is a
    # disagreement to report, not a failed expectation of the case): they run as a scratch test
    # with the same services (tokenizer, judge...).
    scratch = running_test.RunningTest("counterfactual variant", services=running_test.services())
    with running_test.running(scratch):
        return evaluate(output)


def _mean_score(results: Sequence[CheckResult]) -> float | None:
    scores = [r.score for r in results if r.score is not None]
    return sum(scores) / len(scores) if scores else None


def _compare(
    original: Sequence[CheckResult],
    variant: Sequence[CheckResult],
    tolerance: float,
) -> list[str]:
    problems = []
    for before, after in zip(original, variant, strict=True):
        if before.name == "one_of" and before.passed and after.passed and before.value != after.value:
            problems.append(f"one_of: label {before.value!r} -> {after.value!r}")
        elif before.passed != after.passed:
            verdicts = f"{'passed' if before.passed else 'failed'} -> {'passed' if after.passed else 'failed'}"
            detail = after.message if not after.passed else before.message
            problems.append(f"{before.name}: {verdicts} ({truncate(detail, limit=120)})")
        elif (
            before.score is not None and after.score is not None and abs(before.score - after.score) > tolerance + 1e-12
        ):
            problems.append(
                f"{before.name}: score {before.score:.3g} -> {after.score:.3g}, "
                f"a change of {abs(before.score - after.score):.3g} > tolerance {tolerance:.3g}"
            )
    return problems


def _similarity_problem(
    variant: Variant, output: str, original_output: str, swap_sets: Mapping[str, SwapSet], min_similarity: float
) -> str | None:
    """Why the variant's output, swapped back to the original's terms, reads too unlike the original."""
    from pytest_llmeval.metrics.reference import rouge

    back = swap(output, swap_sets[variant.category], variant.inverse())
    similarity = (
        rouge(back, original_output, types=("rougeL",))["rougeL"].fmeasure
        if original_output.strip()
        else float(back.strip() == "")
    )
    if similarity + 1e-12 < min_similarity:
        return (
            f"ROUGE-L with the original output {similarity:.3f} < min_similarity {min_similarity:.3f} "
            "(the variant's output swapped back)"
        )
    return None


def _variant_outcome(
    variant: Variant,
    output: str,
    base: Sequence[CheckResult],
    evaluate: Callable[[str], list[CheckResult]],
    original_output: str,
    swap_sets: Mapping[str, SwapSet],
    tolerance: float,
    min_similarity: float | None,
) -> VariantOutcome:
    """One variant's output checked as the original was, and every way it disagrees with the original."""
    results = _evaluate_quietly(evaluate, output)
    problems = _compare(base, results, tolerance)
    if min_similarity is not None:
        problem = _similarity_problem(variant, output, original_output, swap_sets, min_similarity)
        if problem is not None:
            problems.append(problem)
    return VariantOutcome(variant, output, all(r.passed for r in results), _mean_score(results), tuple(problems))


def _agreement_message(
    original_request: GenerationRequest, original_output: str, outcomes: Sequence[VariantOutcome]
) -> str:
    """The result's message: how many variants agree and, for each that does not, why, with both prompts and outputs."""
    disagreeing = [o for o in outcomes if o.disagreements]
    summary = f"{len(outcomes) - len(disagreeing)} of {len(outcomes)} variants agree with the original"
    if not disagreeing:
        return f"counterfactual: {summary}"
    lines = [f"counterfactual: {summary}; {len(disagreeing)} disagree:"]
    for outcome in disagreeing:
        lines.append(f"  {outcome.variant.category} -> {outcome.variant.group}: {'; '.join(outcome.disagreements)}")
        lines.append(f"    original prompt: {truncate(request_text(original_request), limit=160)}")
        lines.append(f"    variant prompt:  {truncate(request_text(outcome.variant.request), limit=160)}")
        lines.append(f"    original output: {truncate(original_output, limit=160)}")
        lines.append(f"    variant output:  {truncate(outcome.output, limit=160)}")
    return "\n".join(lines)


def _result_details(
    original_request: GenerationRequest,
    original_output: str,
    base: Sequence[CheckResult],
    original_groups: Mapping[str, Sequence[str]],
    outcomes: Sequence[VariantOutcome],
    agreement: float,
) -> dict[str, Any]:
    """The result's details: its metric, the original and every variant (what :func:`parity_report` reads)."""
    return {
        "metric": {"name": "counterfactual_agreement", "value": agreement, "higher_is_better": True},
        "original": {
            "prompt": request_text(original_request),
            "output": original_output,
            "passed": all(r.passed for r in base),
            "score": _mean_score(base),
            "groups": {c: list(g) for c, g in original_groups.items()},
        },
        "outcomes": [
            {
                "category": o.variant.category,
                "group": o.variant.group,
                "prompt": request_text(o.variant.request),
                "output": o.output,
                "passed": o.passed,
                "score": o.score,
                "disagreements": list(o.disagreements),
            }
            for o in outcomes
        ],
    }


def counterfactual_result(
    original_request: GenerationRequest,
    original_output: str,
    variants: Sequence[Variant],
    outputs: Sequence[str],
    evaluate: Callable[[str], list[CheckResult]],
    swap_sets: Mapping[str, SwapSet],
    original_groups: Mapping[str, Sequence[str]],
    *,
    tolerance: float = 0.0,
    min_similarity: float | None = None,
) -> CheckResult:
    """Compare each variant's output with the original's (see the package docstring); one result.

    ``details["metric"]`` is ``counterfactual_agreement`` (the share of variants that agree);
    ``details["outcomes"]`` lists every variant (for :func:`parity_report`)."""
    if len(variants) != len(outputs):
        raise ValueError(f"counterfactual: {len(variants)} variants but {len(outputs)} outputs")
    base = _evaluate_quietly(evaluate, original_output)
    outcomes = [
        _variant_outcome(variant, output, base, evaluate, original_output, swap_sets, tolerance, min_similarity)
        for variant, output in zip(variants, outputs, strict=True)
    ]
    disagreeing = [o for o in outcomes if o.disagreements]
    agreement = 1.0 - len(disagreeing) / len(outcomes) if outcomes else 1.0
    return CheckResult(
        "counterfactual",
        not disagreeing,
        _agreement_message(original_request, original_output, outcomes),
        score=agreement,
        details=_result_details(original_request, original_output, base, original_groups, outcomes, agreement),
        value=outcomes,
    )


def evaluate_counterfactual(
    model: Any,
    request: GenerationRequest,
    original_output: str,
    evaluate: Callable[[str], list[CheckResult]],
    spec: CounterfactualSpec,
    swap_sets: Mapping[str, SwapSet] | None = None,
) -> CheckResult:
    """Generate every variant of ``request`` with ``model`` (a ModelUnderTest; one batched call) and
    compare their outputs with ``original_output``; raises CheckUsageError for a bad declaration."""
    sets = swap_sets if swap_sets is not None else load_swap_sets()
    try:
        variants, found = variants_of(request, spec.categories, sets)
    except CounterfactualError as exc:
        raise CheckUsageError(f"counterfactual: {exc}") from None
    generations = model.run([v.request for v in variants]) if variants else []
    return counterfactual_result(
        request,
        original_output,
        variants,
        [str(g) for g in generations],
        evaluate,
        sets,
        found,
        tolerance=spec.tolerance,
        min_similarity=spec.min_similarity,
    )

"""``assert_counterfactual``: the Python helper for a test function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.checks.base import CheckResult, CheckUsageError
from pytest_llmeval.counterfactual.rewriting import variants_of
from pytest_llmeval.counterfactual.scoring import counterfactual_result
from pytest_llmeval.counterfactual.specs import CounterfactualSpec
from pytest_llmeval.counterfactual.swap_sets import CounterfactualError, load_swap_sets


def assert_counterfactual(
    llm: Any,
    prompt: str | GenerationRequest,
    *,
    categories: Sequence[str],
    expect: Mapping[str, Any] | Callable[[str], list[CheckResult]],
    tolerance: float = 0.0,
    min_similarity: float | None = None,
    swap_files: Sequence[str | Path] = (),
    **generation: Any,
) -> CheckResult:
    """Generate ``prompt`` and every counterfactual variant of it (one batch) with ``llm`` and fail
    (CheckFailed) when a variant's output disagrees with the original's: another verdict of a check
    in ``expect`` (``{check name: arguments}``, as a case file's ``expect:``, or a function from output
    to check results), a score moved by more than ``tolerance``, or (with ``min_similarity``) an
    output that reads differently. Returns the result; its metric is ``counterfactual_agreement``."""
    __tracebackhide__ = True
    from pytest_llmeval.checks.base import CheckFailed
    from pytest_llmeval.running_test import report_check

    evaluate = expect if callable(expect) else _expectations(expect)
    if isinstance(prompt, GenerationRequest):
        request = prompt
    else:
        from pytest_llmeval.engine import build_request

        request = build_request(prompt=prompt, system=generation.pop("system", None), **generation)
    sets = load_swap_sets(swap_files)
    spec = CounterfactualSpec(categories=list(categories), tolerance=tolerance, min_similarity=min_similarity)
    try:
        variants, found = variants_of(request, spec.categories, sets)
    except CounterfactualError as exc:
        raise CheckUsageError(f"counterfactual: {exc}") from None
    generations = llm.run([request, *(v.request for v in variants)])
    result = counterfactual_result(
        request,
        str(generations[0]),
        variants,
        [str(g) for g in generations[1:]],
        evaluate,
        sets,
        found,
        tolerance=tolerance,
        min_similarity=min_similarity,
    )
    report_check(result)
    if not result.passed:
        raise CheckFailed(result)
    return result


def _expectations(expect: Mapping[str, Any]) -> Callable[[str], list[CheckResult]]:
    from pytest_llmeval.cases import _expectation

    expectations = [_expectation(name, args) for name, args in expect.items()]
    if not expectations:
        raise CheckUsageError("counterfactual: expect names no check; give at least one (e.g. {'one_of': [...]})")
    return lambda output: [e.run(output) for e in expectations]

"""The base model against base + adapter: what a fine-tune fixed and what it broke ("forgetting").

``--llm-compare-base`` records the base model's run next to the model under test's, each naming the
other (``model.base_run`` on the adapter's run, ``model.adapter_run`` on the base model's). This
module compares such a pair through :mod:`pytest_llmeval.paired_comparison` (the implementation behind
``llmeval compare``: A = the base model, B = base + adapter) and says it for the terminal, the
Markdown summary and the dashboard. No pytest here: the dashboard builds it from the history too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_llmeval.paired_comparison import PairedComparison, compare_paired
from pytest_llmeval.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES

if TYPE_CHECKING:
    from pytest_llmeval.records import RunRecord
    from pytest_llmeval.store import RunStore

__all__ = [
    "BASE_LABEL",
    "compare_with_base",
    "counts_line",
    "model_comparison_data",
    "model_comparison_lines",
    "model_comparison_markdown",
    "paired_base_run",
]

BASE_LABEL = "base model (adapter off)"
COUNTED_RESULTS = ("fixed", "broke", "both pass", "both fail")


def compare_with_base(
    base_run: RunRecord,
    run: RunRecord,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
) -> PairedComparison:
    """The base model's run (A) against the model under test's (B), case by case."""
    return compare_paired(
        base_run,
        run,
        label_a=f"{BASE_LABEL}, run {base_run.run_id[:12]}",
        label_b=f"base + adapter {run.model.get('adapter')} (the model under test), run {run.run_id[:12]}",
        confidence=confidence,
        resamples=resamples,
    )


def paired_base_run(store: RunStore, run: RunRecord) -> RunRecord | None:
    """The base model's run recorded with ``run`` by ``--llm-compare-base`` (None without one, or
    when the history no longer holds it)."""
    from pytest_llmeval.store import StoreError

    base_run_id = run.model.get("base_run")
    if not isinstance(base_run_id, str):
        return None
    try:
        return store.load_run(base_run_id)
    except StoreError:
        return None


def counts_line(paired: PairedComparison) -> str:
    """``adapter vs base model, 40 cases: 2 fixed, 9 broke (forgetting), 18 both pass, 11 both fail``."""
    counts = {result: len(paired.results(result)) for result in COUNTED_RESULTS}
    line = (
        f"adapter vs base model, {paired.counted} cases: {counts['fixed']} fixed, "
        f"{counts['broke']} broke (forgetting), {counts['both pass']} both pass, {counts['both fail']} both fail"
    )
    not_counted = len(paired.results("not counted"))
    return line + (f", {not_counted} not counted (skipped)" if not_counted else "")


def model_comparison_lines(paired: PairedComparison, *, verbose: int = 0) -> list[str]:
    """The terminal's lines: the counts, then ``paired_comparison``'s own table (every case with -v)."""
    return [counts_line(paired), *paired.format(max_rows=None if verbose else 50, ties=verbose >= 1).splitlines()]


def model_comparison_markdown(paired: PairedComparison, *, max_rows: int = 30) -> str:
    """The Markdown summary's section: the counts and the paired comparison's tables and cases."""
    from pytest_llmeval.markdown import paired_sections

    lines = [
        "### Base model vs base + adapter (--llm-compare-base)",
        "",
        f"A = {paired.label_a}  ",
        f"B = {paired.label_b}",
        "",
        counts_line(paired) + ".",
        "",
        *paired_sections(paired, max_rows, cases=True),
    ]
    return "\n".join(lines).rstrip() + "\n"


def model_comparison_data(paired: PairedComparison, base_run: RunRecord, run: RunRecord) -> dict[str, Any]:
    """The dashboard's data: the paired comparison and each shared case side by side (both outcomes,
    outputs and failure messages)."""
    base_cases = {case.node_id: case for case in base_run.cases}
    adapter_cases = {case.node_id: case for case in run.cases}
    rows = []
    for pair in paired.pairs:
        before, after = base_cases[pair.node_id], adapter_cases[pair.node_id]
        rows.append(
            {
                "node_id": pair.node_id,
                "result": pair.result,
                "base_outcome": before.outcome,
                "adapter_outcome": after.outcome,
                "base_output": before.output,
                "adapter_output": after.output,
                "base_message": before.message,
                "adapter_message": after.message,
            }
        )
    return {"base_run_id": base_run.run_id, "adapter_run_id": run.run_id, "paired": paired.to_dict(), "cases": rows}

"""After the last test, on the controller: judge the selected groups, assemble the run, compare
it with the baseline, and let the gate fail the session for what no single test shows (a metric
drop beyond its tolerance; under the significant gate, a run worse than the baseline beyond chance)."""

from __future__ import annotations

import pytest

from pytest_llmeval.harness.groups import emit_group_reports
from pytest_llmeval.harness.run_assembly import assemble_run
from pytest_llmeval.harness.session import LLMEvalSession

__all__ = ["end_run"]


def end_run(session: pytest.Session, state: LLMEvalSession) -> None:
    """Report the groups; with a model and some tests run, build the run and compare it."""
    for record in emit_group_reports(session.config, state.groups.judged()):
        state.results.records[record.node_id] = record
    collect_only = session.config.option.collectonly
    if state.settings.model is None or collect_only or not state.results.records:
        return  # a run only when tests ran: never an empty one
    if all(r.outcome == "error" and r.output is None and not r.metrics for r in state.results.records.values()):
        return  # only errors before any output (an invalid marker, a broken case file): nothing about the model
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    deselected = bool(reporter is not None and reporter.stats.get("deselected"))
    stopped_early = bool(session.shouldstop or session.shouldfail)
    state.run = assemble_run(state, complete=not (deselected or stopped_early))
    if state.base is not None:
        state.base.finish_run(state)  # the base model's run, and the two compared case by case
    if state.baseline is None:
        return
    from pytest_llmeval.run_comparison import compare_runs, gate_failure

    settings = state.settings
    state.comparison = compare_runs(
        state.baseline,
        state.run,
        tolerances=dict(settings.metric_tolerance),
        default_tolerance=0.0,
        case_tolerances={r.node_id: r.tolerances for r in state.run.cases if r.tolerances},
        # the paired statistics cost a second or so: computed when the gate decides by them
        confidence=settings.confidence if settings.gate == "significant" else None,
        resamples=settings.resamples,
        labels=("the baseline", "this run"),
    )
    # Failed tests fail the session by themselves; what belongs to no single test (a metric drop, a
    # run worse by the paired statistics) fails it the way pytest-cov's --cov-fail-under does: one
    # more failure.
    state.gate_failure = gate_failure(state.comparison, settings.gate)
    if state.gate_failure is not None:
        session.testsfailed += 1

"""The ``llmeval`` section of the terminal summary: the model and its outputs, the comparison with
the baseline, notes and warnings, outcomes per mode, metric means, and the groups."""

from __future__ import annotations

import pytest

from pytest_llmeval.harness.groups import ClassificationGroup, NamedEntityGroup, ParityGroup, PassRateGroup
from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.records import MODES, OUTCOMES

__all__ = ["write_summary"]


def write_summary(reporter: pytest.TerminalReporter, state: LLMEvalSession) -> None:
    """Write the section, or nothing when the session did nothing with a model."""
    no_model = _skipped_for_want_of_a_model(reporter) if state.settings.model is None else 0
    stats = state.summed_stats()
    warnings = state.cache_store.warnings if state.cache_store is not None else []
    metric_values = state.results.metric_values()
    groups = state.groups.judged()
    if not (
        stats
        or state.results.mode_outcomes
        or groups
        or warnings
        or metric_values
        or state.comparison
        or state.notes
        or state.warnings
        or state.gate_failure
        or no_model
    ):
        return
    reporter.section("llmeval", sep="-")
    if no_model:
        # the reason is shown only with -rs: one line says why, and how to give a model
        reporter.line(
            f"llmeval: {no_model} {'test' if no_model == 1 else 'tests'} skipped for want of a model; "
            "give one with --llm-model PATH or the llm_model ini key",
            yellow=True,
        )
    if stats:
        _model_lines(reporter, state, stats)
    if state.cache_written:
        assert state.cache_store is not None
        reporter.line(f"cache: {state.cache_written} new outputs saved to {state.cache_store.path}")
    if state.comparison is not None:
        reporter.line(f"compared with the baseline {state.baseline_path}:")
        # printed once, fitted to the terminal; the baseline cases not run are a count unless -v
        width = reporter.config.get_terminal_writer().fullwidth - 2
        for line in state.comparison.format(width=width, verbose=reporter.config.option.verbose).splitlines():
            reporter.line(f"  {line}")
    if state.base is not None and state.base.paired is not None:
        from pytest_llmeval.base_comparison import model_comparison_lines

        reporter.line("the base model compared with the model under test (--llm-compare-base):")
        for line in model_comparison_lines(state.base.paired, verbose=reporter.config.option.verbose):
            reporter.line(f"  {line}")
    if state.gate_failure:
        reporter.line(state.gate_failure, red=True)
    for note in state.notes:
        reporter.line(note)
    _needs_review_lines(reporter, state)
    for warning in [*warnings, *state.warnings]:
        reporter.line(f"warning: {warning}", yellow=True)
    for mode in MODES:
        counts = state.results.mode_outcomes.get(mode)
        if counts:
            text = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o))
            reporter.line(f"{mode}: {text}", red=bool(counts.get("failed") or counts.get("error")))
    for name, (values, higher_is_better) in sorted(metric_values.items()):
        direction = "higher is better" if higher_is_better else "lower is better"
        reporter.line(
            f"metric {name}: mean {sum(values) / len(values):.4g} over {len(values)} "
            f"(min {min(values):.4g}, max {max(values):.4g}; {direction})"
        )
    _interval_metric_lines(reporter, state)
    _samples_lines(reporter, state)
    for group in groups:
        if group.total == 0:
            continue
        if isinstance(group, PassRateGroup):
            reporter.line(f"pass rate {group.summary()}", red=not group.ok, green=group.ok)
    for group in groups:
        if isinstance(group, ClassificationGroup) and group.total:
            result = group.result()
            verdict = "ok" if result.passed else "FAILED"
            reporter.line(f"classification {result.message}: {verdict}", red=not result.passed, green=result.passed)
            for line in group.table().splitlines():
                reporter.line(f"  {line}")
    for group in groups:
        if isinstance(group, (NamedEntityGroup, ParityGroup)) and group.total:
            result = group.result()
            verdict = "ok" if result.passed else "FAILED"
            kind = "ner" if isinstance(group, NamedEntityGroup) else "fairness"
            reporter.line(f"{kind} {result.message}: {verdict}", red=not result.passed, green=result.passed)
            for line in str(result.details["table"]).splitlines():
                reporter.line(f"  {line}")


def _interval_metric_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession) -> None:
    """Each metric recorded with an interval (the perplexity gap), with it and its test."""
    for record in state.results.records.values():
        for name, metric in sorted(record.metrics.items()):
            if "low" not in metric:
                continue
            direction = "higher is better" if metric.get("higher_is_better", True) else "lower is better"
            reporter.line(
                f"{name} {record.node_id}: {metric['value']:.4g} [{metric['low']:.4g}, {metric['high']:.4g}] "
                f"({metric['confidence']:.0%} interval; {direction})"
            )


def _model_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession, stats: dict[str, float]) -> None:
    from pytest_llmeval.backends import describe_configured_model

    model = state.model
    described = model.describe() if model is not None and model.loaded else describe_configured_model(state.settings)
    reporter.line(f"model: {described}")
    served = f"outputs: {int(stats['generated'])} generated in {stats['seconds']:.2f} s"
    served += f", {int(stats['cached'])} from the cache"
    if stats["loads"]:
        served += f"; model loaded in {stats['load_seconds']:.2f} s"
        phases = [
            f"{key.split(':', 1)[1]} {value:.2f} s" for key, value in stats.items() if key.startswith("load_seconds:")
        ]
        details = [f"{int(stats['loads'])} processes"] if stats["loads"] > 1 else []
        served += f" ({', '.join(details + phases)})" if details or phases else ""
    else:
        served += "; model not loaded"
    reporter.line(served)


def _needs_review_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession) -> None:
    """Name the tests that failed only because their outputs need human review (pytest counts them
    apart as "needs review" and shows no failure section for them)."""
    from pytest_llmeval.checks.human import needs_review, only_needs_review

    needing = [
        record
        for record in state.results.records.values()
        if record.outcome == "failed" and only_needs_review(record.checks)
    ]
    if needing:
        reporter.line(
            f"{len(needing)} {'test needs' if len(needing) == 1 else 'tests need'} human review (outputs "
            "nobody rated, or changed since rated); rate them with: llmeval review",
            yellow=True,
        )
        for record in needing:
            message = next(str(c.get("message")) for c in record.checks if needs_review(c))
            why = message.split("needs review: ", 1)[-1].split(";", 1)[0]
            reporter.line(f"  {record.node_id}: {why}")


def _skipped_for_want_of_a_model(reporter: pytest.TerminalReporter) -> int:
    """How many tests were skipped because no model was given."""
    from pytest_llmeval.harness.session import NO_MODEL_REASON

    return sum(
        1
        for report in reporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and NO_MODEL_REASON in str(report.longrepr[-1])
    )


def _samples_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession) -> None:
    """The run's cases of repeated samples: totals, and each case when there are few (or with -v)."""
    if state.run is None:
        return
    sampled = [(case.node_id, case.samples) for case in state.run.cases if case.samples]
    if not sampled:
        return
    from pytest_llmeval.samples import summary_lines

    for line in summary_lines(sampled, each=len(sampled) <= 10 or reporter.config.option.verbose >= 1):
        reporter.line(line)

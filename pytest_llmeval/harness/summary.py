"""The ``llmeval`` section of the terminal summary: the model and its outputs, the comparison with
the baseline, notes and warnings, outcomes per mode, metric means, and the groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_llmeval.failure_text import fit_lines
from pytest_llmeval.harness.groups import ClassificationGroup, NamedEntityGroup, ParityGroup, PassRateGroup
from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.paths import shown_path
from pytest_llmeval.records import MODES, OUTCOMES

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import ModelDescription

__all__ = ["header_lines", "loaded_model_line", "write_summary"]


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
        _line(
            reporter,
            f"llmeval: {no_model} {'test' if no_model == 1 else 'tests'} skipped for want of a model; "
            "give one with --llm-model PATH or the llm_model ini key",
            yellow=True,
        )
    if stats:
        _model_lines(reporter, state, stats)
    if state.cache_written:
        assert state.cache_store is not None
        saved_to = shown_path(state.cache_store.path, state.cwd)
        _line(reporter, f"cache: {state.cache_written} new outputs saved to {saved_to}")
    if state.comparison is not None:
        assert state.baseline_path is not None
        _line(reporter, f"compared with the baseline {shown_path(state.baseline_path, state.cwd)}:")
        # printed once, fitted to the terminal; the baseline cases not run are a count unless -v
        width = reporter.config.get_terminal_writer().fullwidth - 2
        for line in state.comparison.format(width=width, verbose=reporter.config.option.verbose).splitlines():
            _line(reporter, f"  {line}")
    if state.base is not None and state.base.paired is not None:
        from pytest_llmeval.base_comparison import model_comparison_lines

        _line(reporter, "the base model compared with the model under test (--llm-compare-base):")
        for line in model_comparison_lines(state.base.paired, verbose=reporter.config.option.verbose):
            _line(reporter, f"  {line}")
    if state.gate_failure:
        _line(reporter, state.gate_failure, red=True)
    for note in state.notes:
        _line(reporter, note)
    _needs_review_lines(reporter, state)
    for warning in [*warnings, *state.warnings]:
        _line(reporter, f"warning: {warning}", yellow=True)
    for mode in MODES:
        counts = state.results.mode_outcomes.get(mode)
        if counts:
            text = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o))
            _line(reporter, f"{mode}: {text}", red=bool(counts.get("failed") or counts.get("error")))
    for name, (values, higher_is_better) in sorted(metric_values.items()):
        direction = "higher is better" if higher_is_better else "lower is better"
        _line(
            reporter,
            f"metric {name}: mean {sum(values) / len(values):.4g} over {len(values)} "
            f"(min {min(values):.4g}, max {max(values):.4g}; {direction})",
        )
    _interval_metric_lines(reporter, state)
    _samples_lines(reporter, state)
    for group in groups:
        if group.total == 0:
            continue
        if isinstance(group, PassRateGroup):
            _line(reporter, f"pass rate {group.summary()}", red=not group.ok, green=group.ok)
    for group in groups:
        if isinstance(group, ClassificationGroup) and group.total:
            result = group.result()
            verdict = "ok" if result.passed else "FAILED"
            _line(reporter, f"classification {result.message}: {verdict}", red=not result.passed, green=result.passed)
            for line in group.table().splitlines():
                _line(reporter, f"  {line}")
    for group in groups:
        if isinstance(group, (NamedEntityGroup, ParityGroup)) and group.total:
            result = group.result()
            verdict = "ok" if result.passed else "FAILED"
            kind = "ner" if isinstance(group, NamedEntityGroup) else "fairness"
            _line(reporter, f"{kind} {result.message}: {verdict}", red=not result.passed, green=result.passed)
            for line in str(result.details["table"]).splitlines():
                _line(reporter, f"  {line}")


def header_lines(config: pytest.Config, state: LLMEvalSession) -> list[str]:
    """The report header's model line: what was asked (the model loads later, if at all), fitted
    to the terminal."""
    if state.settings.model is None:
        return ["llmeval: no --llm-model given; tests that need a model are skipped"]
    from pytest_llmeval.backends import describe_configured_model

    text = "llmeval: model " + _shown_source(describe_configured_model(state.settings), state.settings.model, state)
    return fit_lines(text, config.get_terminal_writer().fullwidth).splitlines()


def loaded_model_line(described: ModelDescription, state: LLMEvalSession) -> str:
    """The loaded model's line: what ``auto`` resolved to, beside what was asked (the header said
    what was asked), its path as typed from where pytest ran."""
    asked = {"device": state.settings.device, "dtype": state.settings.dtype}
    return _shown_source(described.summary(asked), described.source, state)


def _interval_metric_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession) -> None:
    """Each metric recorded with an interval (the perplexity gap), with it and its test."""
    for record in state.results.records.values():
        for name, metric in sorted(record.metrics.items()):
            if "low" not in metric:
                continue
            direction = "higher is better" if metric.get("higher_is_better", True) else "lower is better"
            _line(
                reporter,
                f"{name} {record.node_id}: {metric['value']:.4g} [{metric['low']:.4g}, {metric['high']:.4g}] "
                f"({metric['confidence']:.0%} interval; {direction})",
            )


def _model_lines(reporter: pytest.TerminalReporter, state: LLMEvalSession, stats: dict[str, float]) -> None:
    from pytest_llmeval.backends import describe_configured_model

    model = state.model
    settings = state.settings
    assert settings.model is not None
    if model is not None and model.loaded:
        # what "auto" resolved to, beside what was asked: the header said what was asked
        line = loaded_model_line(model.backend.describe(), state)
    elif state.worker_model is not None and state.worker_model.get("summary"):
        line = str(state.worker_model["summary"])  # under xdist, a worker loaded it
    else:
        line = _shown_source(describe_configured_model(settings), settings.model, state)
    _line(reporter, f"model: {line}")
    served = f"outputs: {int(stats['generated'])} generated"
    if stats.get("repeated"):  # under xdist, without a store the workers share
        distinct = int(stats["generated"] - stats["repeated"])
        served += f" ({distinct} distinct; {int(stats['repeated'])} repeated on another worker)"
    served += f" in {stats['seconds']:.2f} s"
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
    _line(reporter, served)


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
        _line(
            reporter,
            f"{len(needing)} {'test needs' if len(needing) == 1 else 'tests need'} human review (outputs "
            "nobody rated, or changed since rated); rate them with: llmeval review",
            yellow=True,
        )
        for record in needing:
            message = next(str(c.get("message")) for c in record.checks if needs_review(c))
            why = message.split("needs review: ", 1)[-1].split(";", 1)[0]
            _line(reporter, f"  {record.node_id}: {why}")


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
        _line(reporter, line)


def _line(reporter: pytest.TerminalReporter, text: str, **markup: bool) -> None:
    """A summary line, wrapped (never cut) to the terminal's width."""
    for line in fit_lines(text, reporter.config.get_terminal_writer().fullwidth).splitlines() or [""]:
        reporter.line(line, **markup)


def _shown_source(text: str, source: str, state: LLMEvalSession) -> str:
    """A model description that starts with its source path, that path shown relative to where
    pytest ran when it lies below it."""
    return shown_path(source, state.cwd) + text[len(source) :] if text.startswith(source) else text

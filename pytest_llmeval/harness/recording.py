"""One test's phases as the running test, and what its reports carry.

Each phase (setup, call, teardown) runs with the item's ``RunningTest`` in the process-wide slot
(``pytest_llmeval.running_test``), so generations and checks made anywhere on the test's behalf,
threads and fixture teardown included, are the test's own. Each report then gets the payload the
controller needs, failure sections for people, and JUnit properties for CI dashboards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmeval import running_test
from pytest_llmeval.harness.collection import CaseItem, InvalidCaseItem
from pytest_llmeval.harness.payload import ReportPayload
from pytest_llmeval.harness.results import deciding_outcome
from pytest_llmeval.harness.session import LLMEvalSession, session_of
from pytest_llmeval.records import MODES, CaseRecord

if TYPE_CHECKING:
    from pytest_llmeval.checks.base import MetricValue

__all__ = ["complete_report", "running_phase"]

RUNNING_KEY = pytest.StashKey[running_test.RunningTest]()

# Markers that say how a test runs, not what it is about: pytest's, ours and common plugins'.
_NOT_TAGS = frozenset(
    {
        "parametrize",
        "skip",
        "skipif",
        "xfail",
        "usefixtures",
        "filterwarnings",
        "tryfirst",
        "trylast",
        "llm",
        *MODES,
        "asyncio",
        "anyio",
        "trio",
        "timeout",
        "flaky",
        "xdist_group",
        "django_db",
        "order",
        "dependency",
        "benchmark",
    }
)


@contextmanager
def running_phase(item: pytest.Item) -> Iterator[None]:
    """Run one phase of ``item`` as the running test, with the session's services."""
    test = item.stash.get(RUNNING_KEY, None)
    if test is None:
        test = item.stash[RUNNING_KEY] = running_test.RunningTest(item.nodeid)
    state = session_of(item.config)
    if state is not None:
        test.services = state.services()  # the model may have been created by an earlier phase
    with running_test.running(test):
        yield


def review_status(report: pytest.TestReport) -> tuple[str, str, str] | None:
    """``("needs review", "R", "NEEDS REVIEW")`` for a test that failed only because its outputs need
    human review (pytest then counts it apart from the failures; it still does not pass)."""
    if report.when != "call" or not report.failed:
        return None
    payload = ReportPayload.of(report)
    if payload is None or payload.record is None:
        return None
    from pytest_llmeval.checks.human import report_status

    return report_status(report.outcome, payload.record.checks)


def complete_report(
    item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException] | None = None
) -> None:
    """Attach the payload, tolerate what the groups or the baseline tolerate, add failure sections
    and JUnit properties. Called for every report of every test: cheap when the test did nothing
    with a model."""
    state = session_of(item.config)
    if state is None:
        return
    test = item.stash.get(RUNNING_KEY, None)
    active = test is not None and bool(test.generations or test.checks)
    if not active and state.settings.model is None:
        return
    if test is not None and report.when == "call":
        _add_junit_properties(item, test)
    payload = ReportPayload()
    if test is not None and state.settings.model is not None:
        payload.inferences = _inference_entries(item, report.when, test, state)
    # The true outcome, before a pass-rate group or the baseline turns a failure into an x.
    payload.record = _case_record(item, report, test, state)
    if isinstance(item, CaseItem) and report.when == "call":
        payload.labels = item.classification_labels()
        payload.entities = item.entity_predictions()
        payload.counterfactuals = item.counterfactual_results()
        payload.group_entry = item.group_entry(report, test)
        if payload.group_entry is not None and report.failed and state.settings.gate == "off":
            # Shown as tolerated (x), counted by the group's own item instead. Not under a gate: a
            # pass rate must never hide a regression from a pre-merge job.
            report.outcome = "skipped"
            report.wasxfail = f"tolerated by pass_rate: {payload.group_entry.reason[:200]}"
    if report.when == "call" and report.failed and state.baseline is not None:
        from pytest_llmeval.run_comparison import tolerated_failure

        before = state.baseline.cases.get(item.nodeid)
        reason = tolerated_failure(state.settings.gate, before.outcome if before is not None else None)
        if reason is not None:  # the baseline failed it too, or the significant gate judges all cases
            report.outcome = "skipped"
            report.wasxfail = reason
    if not payload.is_empty():
        payload.attach(report)
    if test is not None and report.failed and not isinstance(item, (CaseItem, InvalidCaseItem)):
        # Whole here: the controller wraps them to its terminal when shown (harness.fitted_report),
        # so a report reads the same serially and under -n.
        _add_sections(report, test)
        if (
            report.when == "call"
            and isinstance(item, pytest.Function)  # a user's test; the plugin's own items say their failure
            and excinfo is not None
            and getattr(item.config.option, "tbstyle", "auto") in ("auto", "short")
        ):
            from pytest_llmeval.harness.fitted_report import check_failure_text

            text = check_failure_text(excinfo, str(state.cwd))
            if text is not None:  # an assert_<check> helper failed: its message, not pytest's traceback
                # (--tb=long or native still shows that)
                report.longrepr = text


def _add_sections(report: pytest.TestReport, test: running_test.RunningTest) -> None:
    from pytest_llmeval.failure_text import format_checks, format_generation

    for i, generation in enumerate(test.generations, 1):
        title = "llm output" if len(test.generations) == 1 else f"llm output {i}"
        report.sections.append((title, format_generation(generation)))
    if test.checks:
        report.sections.append(("llm checks", format_checks(test.checks)))


def _inference_entries(
    item: pytest.Item, phase: str, test: running_test.RunningTest, state: LLMEvalSession
) -> list[dict[str, object]]:
    """This phase's new generations as inference log lines, then the judge's calls of the phase
    (``"kind": "judge"``: its prompt and reply, or its score tokens' probabilities and mass).
    Under ``--llm-compare-base`` each line says whose turn made it: ``"side": "base"`` or ``"adapter"``."""
    fresh = test.take_unlogged_generations()
    judge_calls = state.judge_instance.take_calls() if state.judge_instance is not None else []
    if not fresh and not judge_calls:
        return []
    from pytest_llmeval.inference_log import inference_entry

    model = state.model
    side: dict[str, str] = {}  # --llm-compare-base: which of the two models made the line
    if state.base is not None:
        side = {"side": "base" if state.base.active else "adapter"}
        if state.base.active:
            model = state.base.model  # the two models ask the same requests: each knows its own cached ones
    entries = [
        inference_entry(
            item.nodeid,
            generation,
            phase=phase,
            index=index,
            source="cache" if model is not None and model.served_from_cache(generation) else "generated",
        )
        | side
        for index, generation in fresh
    ]
    entries += [
        {"node_id": item.nodeid, "phase": phase, "index": index, **call, **side}
        for index, call in enumerate(judge_calls)
    ]
    return entries


def _tags(item: pytest.Item) -> list[str]:
    """A test's tags: a case file's tags and a Python test's own labels, i.e. its markers that take
    no arguments (a marker with arguments, ``timeout(10)``, configures the test rather than names it)."""
    return sorted({m.name for m in item.iter_markers() if not m.args and not m.kwargs} - _NOT_TAGS)


def _case_record(
    item: pytest.Item, report: pytest.TestReport, test: running_test.RunningTest | None, state: LLMEvalSession
) -> CaseRecord | None:
    """The test's record, on the report of the phase that decides its outcome."""
    outcome = deciding_outcome(report)
    if outcome is None or report.when == "teardown":
        return None
    checks = list(test.checks) if test is not None else []
    generations = list(test.generations) if test is not None else []
    metrics: dict[str, list[MetricValue]] = {}
    for result in checks:
        metric = result.metric
        if metric is not None:
            metrics.setdefault(metric["name"], []).append(metric)
    message = None
    if report.failed:
        failed = [c for c in checks if not c.passed]
        crash = getattr(report.longrepr, "reprcrash", None)
        message = failed[0].message if failed else (crash.message if crash else str(report.longrepr).splitlines()[0])
        if test is not None and test.samples is not None:
            from pytest_llmeval.samples import record_line

            message = record_line(test.samples)  # the rate, not one sample's failed check
        if isinstance(item, InvalidCaseItem):
            # Named by its type, as a traceback's crash line would be: how reports tell a broken
            # suite from the model's failures (run_scope.is_suite_error).
            message = f"{type(item.error).__name__}: {item.error}"
    return CaseRecord(
        node_id=item.nodeid,
        outcome=outcome,
        duration_s=report.duration,
        mode=next((m for m in MODES if item.get_closest_marker(m)), None),
        checks=[{"name": c.name, "passed": c.passed, "score": c.score, "message": c.message[:300]} for c in checks],
        metrics={name: _metric_of_test(values) for name, values in metrics.items()},
        prompt=generations[0].prompt if generations else None,
        output=generations[0].text if generations else None,
        message=message[:300] if message else None,
        tolerances=_tolerances(item, set(metrics), state),
        tags=_tags(item),
        label=item.case.label if isinstance(item, CaseItem) else None,  # a classification case's gold label
        samples=test.samples if test is not None else None,
    )


def _metric_of_test(values: list[MetricValue]) -> dict[str, Any]:
    """A test's metric: the mean of what it recorded; a single value keeps its interval."""
    metric: dict[str, Any] = {
        "value": sum(m["value"] for m in values) / len(values),
        "higher_is_better": values[0]["higher_is_better"],
    }
    if len(values) == 1 and "low" in values[0]:
        metric.update({k: values[0][k] for k in ("low", "high", "confidence")})  # type: ignore[literal-required]
    return metric


def _tolerances(item: pytest.Item, metrics: set[str], state: LLMEvalSession) -> dict[str, float]:
    """The gate's tolerance for each metric of this test: its case file's, else the session's."""
    session = dict(state.settings.metric_tolerance)
    tolerances = {name: session[name] for name in metrics if name in session}
    if isinstance(item, CaseItem):
        tolerances.update(item.case.tolerances)
    return tolerances


def _add_junit_properties(item: pytest.Item, test: running_test.RunningTest) -> None:
    """Checks and metrics as JUnit properties, so CI dashboards can show them (on the item: the
    junitxml plugin writes the properties of the teardown report, which copies the item's)."""
    for result in test.checks:
        score = "" if result.score is None else f" score={result.score:.6g}"
        item.user_properties.append(
            (f"llmeval.check.{result.name}", f"{'passed' if result.passed else 'failed'}{score}")
        )
        metric = result.metric
        if metric is not None:
            item.user_properties.append((f"llmeval.metric.{metric['name']}", f"{metric['value']:.6g}"))

"""pytest glue for pytest-llmeval: hooks and fixtures only, each handing off to ``harness``.

This module is imported by every pytest run of a project that has the plugin installed, so it
imports nothing but pytest at import time; each hook imports what it needs when it first runs.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation
    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.samples import Samples


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ``--llm-*`` options and their ini twins."""
    from pytest_llmeval.harness.options import add_options

    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Declare the markers; set up the session's state from the options (exit 4 on a bad one)."""
    from pytest_llmeval.harness.options import declare_markers

    declare_markers(config)
    if config.option.help or config.option.version:
        return
    from pytest_llmeval.harness.session import SESSION_KEY, start_session

    state = start_session(config)
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(state, "llmeval-session")
    if not state.is_worker:  # reports are fitted to the terminal where they are shown
        from pytest_llmeval.harness.fitted_report import TerminalFitting

        config.pluginmanager.register(TerminalFitting(config), "llmeval-terminal-fitting")
    if state.base is not None:  # --llm-compare-base: a warning raised in both turns is reported once
        from pytest_llmeval.harness.base_pass import BaseTurnWarnings

        config.pluginmanager.register(BaseTurnWarnings(state.base), "llmeval-base-turn-warnings")
    if config.pluginmanager.hasplugin("xdist") and not state.is_worker:
        from pytest_llmeval.harness.xdist_bridge import XdistController

        config.pluginmanager.register(XdistController(state), "llmeval-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Release the model and forget the session."""
    from pytest_llmeval.harness.session import SESSION_KEY

    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
        config.pluginmanager.unregister(state)
        del config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The model under test, as asked (it loads later, if at all)."""
    from pytest_llmeval.harness.session import session_of

    state = session_of(config)
    if state is None:
        return []
    from pytest_llmeval.harness.summary import header_lines

    extra = [state.base.HEADER] if state.base is not None else []  # --llm-compare-base
    return [*header_lines(config, state), *extra]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Case files (``*.eval.yaml``, ``*.eval.jsonl``, or the ``llm_case_files`` patterns)."""
    import fnmatch

    patterns = parent.config.getini("llm_case_files")
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
        from pytest_llmeval.harness.collection import CaseFileCollector

        return CaseFileCollector.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf narrow the list
def pytest_collection_modifyitems(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Add the session's own items (the perplexity gap); remember every collected item, for
    ``pytest_collection_finish``."""
    from pytest_llmeval.harness.overfitting import add_perplexity_gap_item

    add_perplexity_gap_item(session, items)
    session.stash[_COLLECTED_KEY] = list(items)


@pytest.hookimpl(tryfirst=True)  # before the terminal reports the count
def pytest_collection_finish(session: pytest.Session) -> None:
    """A group selected alone brings its cases back (``collection.select_group_members``)."""
    collected = session.stash.get(_COLLECTED_KEY, None)
    if collected:
        from pytest_llmeval.harness.collection import select_group_members

        select_group_members(session, collected)


_COLLECTED_KEY = pytest.StashKey[list[pytest.Item]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Before the tests: load the model and generate what the tests will need (exit 4 when the
    model cannot load). After them, on the controller: groups, the run, the baseline and the gate."""
    from pytest_llmeval.harness.session import session_of

    state = session_of(session.config)
    if state is not None and state.settings.model is not None and not session.config.option.collectonly:
        from pytest_llmeval.errors import ConfigurationError
        from pytest_llmeval.harness.preparation import prepare_outputs

        try:
            prepare_outputs(session, state)
        except ConfigurationError as exc:
            raise pytest.UsageError(str(exc)) from None
    if state is not None:
        state.tests_started = True
    result = yield
    if state is not None and not state.is_worker:
        from pytest_llmeval.harness.run_end import end_run

        end_run(session, state)
    return result


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A group item is not run when its turn comes: it is judged after the run (``groups``)."""
    from pytest_llmeval.harness.collection import GroupItem, select_group

    if isinstance(item, GroupItem):
        return select_group(item, nextitem)
    from pytest_llmeval.harness.base_pass import run_base_first

    run_base_first(item, nextitem)  # --llm-compare-base: the base model's turn first, unlogged
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """The setup phase runs as the running test (fixtures may generate and check)."""
    from pytest_llmeval.harness.recording import running_phase

    with running_phase(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """The test body runs as the running test."""
    from pytest_llmeval.harness.recording import running_phase

    with running_phase(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Teardown too: a fixture may generate after its yield, still this test's output."""
    from pytest_llmeval.harness.recording import running_phase

    with running_phase(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each report gets its payload, failure sections and JUnit properties."""
    report = yield
    from pytest_llmeval.harness.recording import complete_report

    complete_report(item, report, call.excinfo)
    return report


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """A test that failed only because its outputs need human review is counted as "needs review"."""
    from pytest_llmeval.harness.recording import review_status

    return review_status(report)


@pytest.hookimpl(tryfirst=True)  # before the terminal summary, which reports what was written
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the cache, the history, the baseline and the summaries (controller only)."""
    from pytest_llmeval.harness.session import session_of

    state = session_of(session.config)
    if state is not None:
        from pytest_llmeval.harness.finish import finish_session

        finish_session(session, state)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The llmeval section of the summary."""
    from pytest_llmeval.harness.session import session_of

    state = session_of(terminalreporter.config)
    if state is not None:
        from pytest_llmeval.harness.summary import write_summary

        write_summary(terminalreporter, state)


@pytest.fixture(scope="session")
def llm(request: pytest.FixtureRequest) -> ModelUnderTest:
    """The model under test, loaded once per session: ``llm.generate(prompt)``,
    ``llm.generate_many(prompts)``. Skips the test when no ``--llm-model`` is given."""
    from pytest_llmeval.harness.session import NO_MODEL_REASON, session_of

    state = session_of(request.config)
    if state is None or state.settings.model is None:
        pytest.skip(NO_MODEL_REASON)
    return state.fixture_model()


@pytest.fixture
def llm_output(request: pytest.FixtureRequest, llm: ModelUnderTest) -> Generation:
    """The output for this test's ``@pytest.mark.llm(prompt=... | messages=..., **generation)``."""
    from pytest_llmeval.harness.fixtures import output_for

    return output_for(request)


@pytest.fixture
def llm_samples(request: pytest.FixtureRequest, llm: ModelUnderTest) -> Samples:
    """The K sampled outputs for this test's ``@pytest.mark.llm(prompt=..., samples=K,
    min_pass_rate=...)`` (K defaults to ``--llm-samples``): a list of outputs, and
    ``llm_samples.assert_pass_rate(check)`` to fail when too few pass."""
    from pytest_llmeval.harness.fixtures import samples_for

    return samples_for(request)


__all__ = ["llm", "llm_output", "llm_samples"]

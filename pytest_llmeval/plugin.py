"""pytest glue for pytest-llmeval: options, markers, fixtures and hooks.

Everything else lives in plain modules. Nothing heavy is imported here: torch and transformers load
only when a selected test needs the model.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_llmeval.backends import describe_configured_model, load_backend, validate_model_source
from pytest_llmeval.backends.base import Generation
from pytest_llmeval.checks.base import CheckResult, recording_checks, using_tokenizer
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.report import format_checks, format_generation
from pytest_llmeval.errors import ConfigurationError, GenerationError, GenerationParameterError
from pytest_llmeval.settings import OPTIONS, Settings, resolve_settings

MODEL_FIXTURES = frozenset({"llm", "llm_output"})
NO_MODEL_REASON = "no --llm-model given"


@dataclass
class TestRecord:
    """What one test did with the model: its generations and evaluated checks."""

    generations: list[Generation] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)


MODES = ("success_mode", "failure_mode")


@dataclass(eq=False)  # compared and hashed by identity: it is registered as a plugin
class LLMEvalSession:
    """Run state of one pytest session (one per xdist worker), kept in ``config.stash``."""

    settings: Settings
    cwd: Path
    model: ModelUnderTest | None = None
    load_seconds: float = 0.0
    load_count: int = 0
    # mode -> outcome -> count, from test reports (so the xdist controller has them too)
    mode_outcomes: dict[str, dict[str, int]] = field(default_factory=dict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count each test's outcome under the mode markers it carries (a hook: this object is
        registered as a plugin, like pytest's junitxml LogXML)."""
        if report.when == "call":
            outcome = report.outcome
        elif report.failed:
            outcome = "error"  # a setup or teardown failure
        elif report.skipped and report.when == "setup":
            outcome = "skipped"
        else:
            return
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        for mode in MODES:
            if mode in report.keywords:
                counts = self.mode_outcomes.setdefault(mode, {})
                counts[outcome] = counts.get(outcome, 0) + 1

    def model_under_test(self) -> ModelUnderTest:
        """The model, loaded on first use and kept for the session."""
        if self.model is None:
            started = time.perf_counter()
            backend = load_backend(self.settings, self.cwd)
            self.load_seconds = time.perf_counter() - started
            self.load_count += 1
            self.model = ModelUnderTest(backend, self.settings, on_generation=_record_generation)
        return self.model

    def close(self) -> None:
        if self.model is not None:
            self.model.backend.close()
            self.model = None


SESSION_KEY = pytest.StashKey[LLMEvalSession]()
RECORD_KEY = pytest.StashKey[TestRecord]()
_current_record: contextvars.ContextVar[TestRecord | None] = contextvars.ContextVar(
    "llmeval_current_record", default=None
)


def _record_generation(generation: Generation) -> None:
    record = _current_record.get()
    if record is not None:
        record.generations.append(generation)


def _record_check(result: CheckResult) -> None:
    record = _current_record.get()
    if record is not None:
        record.checks.append(result)


# -- options and configuration ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmeval", "LLM evaluation (pytest-llmeval)")
    for spec in OPTIONS:
        help_text = f"{spec.help} (ini: {spec.ini}"
        help_text += f"; default: {spec.default})" if spec.default not in (None, False) else ")"
        if spec.kind == "flag":
            group.addoption(spec.flag, dest=spec.dest, action="store_true", default=None, help=help_text)
        else:
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=help_text)
        parser.addini(spec.ini, help=spec.help, type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llm(prompt=None, messages=None, system=None, **generation): the request whose output the "
        "llm_output fixture gives this test",
    )
    config.addinivalue_line("markers", "success_mode: the test checks what a good output must contain")
    config.addinivalue_line("markers", "failure_mode: the test checks what an output must not do")
    if config.option.help or config.option.version:
        return
    cwd = config.invocation_params.dir
    ini_dir = config.inipath.parent if config.inipath else None
    try:
        settings = resolve_settings(
            lambda dest: config.getoption(dest, None),
            lambda key: config.getini(key),
            cwd=cwd,
            ini_dir=ini_dir,
        )
        if settings.required and settings.model is None:
            raise ConfigurationError(
                "llm_required is set, so a model is needed: give --llm-model PATH "
                "(or llm_model in the ini file)"
            )
        validate_model_source(settings, cwd)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = LLMEvalSession(settings=settings, cwd=cwd)
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(state, "llmeval-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
        config.pluginmanager.unregister(state)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return []
    prefix = "llmeval: model " if state.settings.model else "llmeval: "
    return [prefix + describe_configured_model(state.settings)]


# -- loading the model before the first test --------------------------------------------------


def _needs_model(item: pytest.Item) -> bool:
    return bool(MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Load the model before any test runs, so a model that cannot load ends the session (exit 4)
    instead of erroring every test. Under xdist this runs in each worker, not the controller."""
    state = session.config.stash.get(SESSION_KEY, None)
    if state is None or state.settings.model is None or session.config.option.collectonly:
        return
    if any(_needs_model(item) for item in session.items):
        try:
            state.model_under_test()
        except ConfigurationError as exc:
            raise pytest.UsageError(str(exc)) from None


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def llm(request: pytest.FixtureRequest) -> ModelUnderTest:
    """The model under test, loaded once per session: ``llm.generate(prompt)``,
    ``llm.generate_many(prompts)``. Skips the test when no ``--llm-model`` is given."""
    state = request.config.stash[SESSION_KEY]
    if state.settings.model is None:
        pytest.skip(NO_MODEL_REASON)
    try:
        return state.model_under_test()
    except ConfigurationError as exc:
        pytest.exit(f"llmeval: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)


@pytest.fixture
def llm_output(request: pytest.FixtureRequest, llm: ModelUnderTest) -> Generation:
    """The output for this test's ``@pytest.mark.llm(prompt=... | messages=..., **generation)``."""
    marker = request.node.get_closest_marker("llm")
    if marker is None:
        pytest.fail(
            "llm_output needs a prompt: mark the test with @pytest.mark.llm(prompt='...') "
            "(or messages=[...]), or call llm.generate(...) in the test instead",
            pytrace=False,
        )
    kwargs = dict(marker.kwargs)
    if marker.args:
        if len(marker.args) > 1 or "prompt" in kwargs:
            pytest.fail("@pytest.mark.llm takes one positional argument, the prompt", pytrace=False)
        kwargs["prompt"] = marker.args[0]
    try:
        return llm.run([build_request(**kwargs)])[0]
    except GenerationParameterError as exc:
        problem = f"@pytest.mark.llm: {exc}"
    except GenerationError as exc:
        problem = f"llm_output: {exc}"
    # Failing outside the except block keeps the report free of a chained traceback.
    pytest.fail(problem, pytrace=False)


# -- per-test recording and failure reports ----------------------------------------------------


@contextmanager
def _recording(item: pytest.Item) -> Iterator[None]:
    """Attach generations and check results made during this phase to the item."""
    record = item.stash.setdefault(RECORD_KEY, TestRecord())
    state = item.config.stash.get(SESSION_KEY, None)
    with ExitStack() as stack:
        token = _current_record.set(record)
        stack.callback(_current_record.reset, token)
        stack.enter_context(recording_checks(_record_check))
        if state is not None and state.model is not None:
            stack.enter_context(using_tokenizer(state.model.tokenizer))
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _recording(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _recording(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record = item.stash.get(RECORD_KEY, None)
    if record is not None and report.failed:
        for i, generation in enumerate(record.generations, 1):
            title = "llm output" if len(record.generations) == 1 else f"llm output {i}"
            report.sections.append((title, format_generation(generation)))
        if record.checks:
            report.sections.append(("llm checks", format_checks(record.checks)))
    return report


# -- summary -----------------------------------------------------------------------------------


_OUTCOME_ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(SESSION_KEY, None)
    if state is None or (state.model is None and not state.mode_outcomes):
        return
    terminalreporter.section("llmeval", sep="-")
    if state.model is not None:
        model = state.model
        terminalreporter.line(f"model: {model.describe()}")
        terminalreporter.line(
            f"loaded in {state.load_seconds:.2f} s; {model.num_generations} generations in "
            f"{model.generation_seconds:.2f} s"
        )
    for mode in MODES:
        counts = state.mode_outcomes.get(mode)
        if counts:
            text = ", ".join(f"{counts[o]} {o}" for o in _OUTCOME_ORDER if counts.get(o))
            terminalreporter.line(f"{mode}: {text}", red=bool(counts.get("failed") or counts.get("error")))


__all__ = ["LLMEvalSession", "SESSION_KEY", "llm", "llm_output"]

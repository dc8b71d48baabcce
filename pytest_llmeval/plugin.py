"""pytest glue for pytest-llmeval: options, markers, fixtures and hooks.

Everything else lives in plain modules. Nothing heavy is imported here: torch and transformers load
only when a selected test needs the model.
"""

from __future__ import annotations

import contextvars
import fnmatch
import time
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_llmeval.backends import describe_configured_model, load_backend, validate_model_source
from pytest_llmeval.backends.base import Generation
from pytest_llmeval.cases import Case, CaseError, CaseExpectationsFailed, CaseFile, parse_case_file
from pytest_llmeval.checks import set_default_lexicon_files
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, recording_checks, using_tokenizer
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.report import format_checks, format_generation
from pytest_llmeval.errors import ConfigurationError, GenerationError, GenerationParameterError
from pytest_llmeval.settings import OPTIONS, Settings, resolve_settings

MODEL_FIXTURES = frozenset({"llm", "llm_output"})
NO_MODEL_REASON = "no --llm-model given"
CASE_FILE_PATTERNS = ("*.eval.yaml", "*.eval.yml", "*.eval.jsonl")


@dataclass
class TestRecord:
    """What one test did with the model: its generations and evaluated checks."""

    generations: list[Generation] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)


MODES = ("success_mode", "failure_mode")


@dataclass
class GroupResult:
    """A pass-rate group's cases as they finished (on the controller, under xdist too)."""

    node_id: str
    location: tuple[str, int | None, str]
    threshold: float
    total: int = 0
    passed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, case_id: str, passed: bool, reason: str) -> None:
        self.total += 1
        if passed:
            self.passed += 1
        else:
            self.failures.append((case_id, reason))

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        return self.rate + 1e-12 >= self.threshold

    def summary(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        sign = ">=" if self.ok else "<"
        return (
            f"{self.node_id}: {self.passed}/{self.total} passed ({self.rate:.1%}) {sign} "
            f"{self.threshold:.1%} required: {verdict}"
        )

    def report(self) -> pytest.TestReport:
        """The group's own test item, as a report: it fails when the rate is below the threshold."""
        longrepr = None
        if not self.ok:
            lines = [self.summary(), "failed cases (tolerated one by one, counted here):"]
            lines += [f"  {case_id}: {reason}" for case_id, reason in self.failures]
            longrepr = "\n".join(lines)
        return pytest.TestReport(
            nodeid=self.node_id,
            location=self.location,
            keywords={"pass_rate": 1},
            outcome="passed" if self.ok else "failed",
            longrepr=longrepr,
            when="call",
            sections=[],
            duration=0.0,
            start=time.time(),
            stop=time.time(),
            user_properties=[("pass_rate", self.rate), ("threshold", self.threshold)],
        )


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
    # pass-rate groups, from case reports: group node id -> results
    groups: dict[str, GroupResult] = field(default_factory=dict)
    registered_tags: set[str] = field(default_factory=set)

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
        case = getattr(report, "llmeval_case", None)
        if case is not None:
            for node_id, location, threshold in case["groups"]:
                group = self.groups.setdefault(node_id, GroupResult(node_id, tuple(location), threshold))
                group.add(case["id"], case["passed"], case["reason"])

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
        help_text += f"; default: {spec.default})" if spec.default not in (None, False, ()) else ")"
        if spec.kind == "flag":
            group.addoption(spec.flag, dest=spec.dest, action="store_true", default=None, help=help_text)
        elif spec.kind == "paths":
            group.addoption(spec.flag, dest=spec.dest, action="append", default=None, metavar=spec.metavar, help=help_text)
        else:
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=help_text)
        parser.addini(spec.ini, help=spec.help, type="string", default="")
    parser.addini(
        "llm_case_files",
        help="glob patterns of case files collected as tests",
        type="args",
        default=list(CASE_FILE_PATTERNS),
    )


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
        # Always called, so a lexicon of an earlier session in this process does not linger.
        set_default_lexicon_files(settings.bias_lexicon, replace=settings.bias_lexicon_replace)
    except (ConfigurationError, CheckUsageError) as exc:
        raise pytest.UsageError(str(exc)) from None
    state = LLMEvalSession(settings=settings, cwd=cwd)
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(state, "llmeval-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(SESSION_KEY, None)
    if state is not None:
        state.close()
        config.pluginmanager.unregister(state)
        set_default_lexicon_files(())


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(SESSION_KEY, None)
    if state is None:
        return []
    prefix = "llmeval: model " if state.settings.model else "llmeval: "
    return [prefix + describe_configured_model(state.settings)]


# -- loading the model before the first test --------------------------------------------------


def _needs_model(item: pytest.Item) -> bool:
    return isinstance(item, CaseItem) or bool(MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Before the tests: load the model, so a model that cannot load ends the session (exit 4)
    instead of erroring every test (under xdist: in each worker, not the controller).
    After the tests: judge the pass-rate groups, on the controller only, where every case's report
    has arrived whichever worker ran it."""
    state = session.config.stash.get(SESSION_KEY, None)
    collect_only = session.config.option.collectonly
    if state is not None and state.settings.model is not None and not collect_only:
        if any(_needs_model(item) for item in session.items):
            try:
                state.model_under_test()
            except ConfigurationError as exc:
                raise pytest.UsageError(str(exc)) from None
    result = yield
    if state is not None and not hasattr(session.config, "workerinput"):
        # Each group is one more item: counted as collected, so progress still ends at 100%.
        session.testscollected += len(state.groups)
        for group in state.groups.values():
            session.config.hook.pytest_runtest_logreport(report=group.report())
    return result


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
    if isinstance(item, CaseItem):
        item.annotate_report(report)
        return report
    if isinstance(item, InvalidCaseItem) and report.failed:
        # A setup error's report is normally a traceback; the file, line and field say it all.
        report.longrepr = str(item.error)
        return report
    record = item.stash.get(RECORD_KEY, None)
    if record is not None and report.failed:
        for i, generation in enumerate(record.generations, 1):
            title = "llm output" if len(record.generations) == 1 else f"llm output {i}"
            report.sections.append((title, format_generation(generation)))
        if record.checks:
            report.sections.append(("llm checks", format_checks(record.checks)))
    return report


# -- case files ----------------------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("llm_case_files")
    if any(fnmatch.fnmatch(file_path.name, pattern) for pattern in patterns):
        return CaseFileCollector.from_parent(parent, path=file_path)
    return None


class CaseFileCollector(pytest.File):
    """A YAML/JSONL case file: one item per case, and an error item per case that does not load."""

    def collect(self) -> list[pytest.Item]:
        parsed = parse_case_file(self.path, display_path=self.nodeid)
        items: list[pytest.Item] = []
        for case in parsed.cases:
            items.append(CaseItem.from_parent(self, name=case.id, case=case, groups=self._groups(parsed, case)))
        used = {case.id for case in parsed.cases}
        for error in parsed.errors:
            name = error.case_id if error.case_id and error.case_id not in used else f"line{error.line or 0}"
            used.add(name)
            items.append(InvalidCaseItem.from_parent(self, name=name, error=error))
        return items

    def _groups(self, parsed: CaseFile, case: Case) -> list[tuple[str, tuple[str, int | None, str], float]]:
        groups = []
        if parsed.pass_rate is not None:
            groups.append((f"{self.nodeid}::pass_rate", parsed.pass_rate))
        for tag, rate in parsed.tag_pass_rates.items():
            if tag in case.tags:
                groups.append((f"{self.nodeid}::pass_rate[{tag}]", rate))
        # (node id, location, threshold); the failure report's title is the location's last part
        return [(node_id, (self.nodeid, None, node_id), rate) for node_id, rate in groups]


class CaseItem(pytest.Item):
    """One case of a case file: generate its output, then run its expectations."""

    def __init__(
        self,
        *,
        case: Case,
        groups: list[tuple[str, tuple[str, int | None, str], float]],
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.case = case
        self.groups = groups
        self.output: Generation | None = None
        state = self.config.stash.get(SESSION_KEY, None)
        for tag in case.tags:
            if state is not None and tag not in state.registered_tags and tag not in MODES:
                # Tags become markers; declaring them keeps --strict-markers happy.
                self.config.addinivalue_line("markers", f"{tag}: tag from case files")
                state.registered_tags.add(tag)
            self.add_marker(tag)
        if case.xfail:
            self.add_marker(pytest.mark.xfail(reason=case.xfail))

    def setup(self) -> None:
        if self.config.stash[SESSION_KEY].settings.model is None:
            pytest.skip(NO_MODEL_REASON)

    def runtest(self) -> None:
        model = self.config.stash[SESSION_KEY].model_under_test()
        self.output = model.run([self.case.request])[0]
        self.case.assert_expectations(self.output)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line - 1) if self.case.line else None, f"case {self.case.id}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: object = None) -> str:  # type: ignore[override]
        error = excinfo.value
        where = f"{self.path.name}:{self.case.line}" if self.case.line else self.path.name
        if isinstance(error, CaseExpectationsFailed):
            failed = [r for r in error.results if not r.passed]
            lines = [f"case {self.case.id} ({where}): {len(failed)} of {len(error.results)} checks failed"]
            if self.output is not None:
                lines += ["", format_generation(self.output)]
            lines += ["", format_checks(error.results)]
            return "\n".join(lines)
        if isinstance(error, CheckUsageError):
            return f"case {self.case.id} ({where}): usage error in expect (not a model failure): {error}"
        if isinstance(error, GenerationError):
            return f"case {self.case.id} ({where}): {error}"
        return str(super().repr_failure(excinfo))

    def annotate_report(self, report: pytest.TestReport) -> None:
        """Give the controller what it needs for pass-rate groups; tolerate a grouped failure."""
        if report.when != "call" or not self.groups or hasattr(report, "wasxfail"):
            return
        record = self.stash.get(RECORD_KEY, TestRecord())
        failed = [c for c in record.checks if not c.passed]
        reason = failed[0].message if failed else (str(report.longrepr).splitlines() or [""])[0]
        report.llmeval_case = {  # type: ignore[attr-defined]
            "id": self.case.id,
            "passed": report.passed,
            "reason": "" if report.passed else reason[:300],
            "groups": [[node_id, list(location), rate] for node_id, location, rate in self.groups],
        }
        if report.failed:
            # Shown as tolerated (x), counted by the group's own item instead.
            report.outcome = "skipped"
            report.wasxfail = f"tolerated by pass_rate: {reason[:200]}"  # type: ignore[attr-defined]


class InvalidCaseItem(pytest.Item):
    """A case (or a whole file) that could not be loaded: an error naming the file, line and field.

    An item rather than a collection error, so the other cases still run; the session fails."""

    def __init__(self, *, error: CaseError, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.error = error

    def setup(self) -> None:
        raise self.error

    def runtest(self) -> None:  # never reached: setup raises
        raise self.error

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = (self.error.line - 1) if self.error.line else None
        return self.path, line, f"invalid case {self.name}"


# -- summary -----------------------------------------------------------------------------------


_OUTCOME_ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(SESSION_KEY, None)
    if state is None or (state.model is None and not state.mode_outcomes and not state.groups):
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
    for group in state.groups.values():
        terminalreporter.line(f"pass rate {group.summary()}", red=not group.ok, green=group.ok)


__all__ = ["LLMEvalSession", "SESSION_KEY", "llm", "llm_output"]

"""pytest glue for pytest-llmeval: options, markers, fixtures and hooks.

Everything else lives in plain modules. Nothing heavy is imported here: torch and transformers load
only when a selected test needs the model.
"""

from __future__ import annotations

import fnmatch
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from pytest_llmeval.backends import describe_configured_model, load_backend, validate_model_source
from pytest_llmeval.backends.base import Backend, Generation, GenerationRequest
from pytest_llmeval.backends.hf import chat_template_sha256, inspect_model_folder, load_tokenizer
from pytest_llmeval.cache import CachedOutputs, CacheEntry, GenerationCache
from pytest_llmeval.cases import Case, CaseError, CaseExpectationsFailed, CaseFile, parse_case_file
from pytest_llmeval.checks import set_default_lexicon_files
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, recording_checks, using_tokenizer
from pytest_llmeval.engine import ModelJudge, ModelUnderTest, build_request
from pytest_llmeval.metrics.judge import SCORE_TOKENS, build_judge_prompt
from pytest_llmeval.metrics import (
    classification_report,
    classification_result,
    map_label,
    using_judge,
    using_perplexity_scorer,
)
from pytest_llmeval.failure_text import format_checks, format_generation
from pytest_llmeval.errors import ConfigurationError, GenerationError, GenerationParameterError
from pytest_llmeval.run_comparison import Comparison, compare_runs
from pytest_llmeval.dashboard import baseline_label, build_dashboard_data, dashboard_from_history, write_dashboard
from pytest_llmeval.fingerprint import FileHashMemo, fingerprint_files, model_files
from pytest_llmeval.inference_log import inference_entry, inference_log_path, write_inference_log
from pytest_llmeval.records import MODES, CaseRecord, RunRecord
from pytest_llmeval.store import (
    Baseline,
    BaselineCase,
    BaselineError,
    RunStore,
    StoreError,
    baseline_from_run,
    merge_new_cases,
    read_baseline,
    storable_text,
    write_baseline,
    write_file_atomic,
)
from pytest_llmeval.settings import OPTIONS, Settings, resolve_settings

MODEL_FIXTURES = frozenset({"llm", "llm_output"})
NO_MODEL_REASON = "no --llm-model given"
CASE_FILE_PATTERNS = ("*.eval.yaml", "*.eval.yml", "*.eval.jsonl")
NO_CASES_MARKDOWN = (
    "## ⚪ llmeval: no eval cases ran\n\n"
    "No test that uses the model ran in this session, so there is nothing to report or compare.\n"
)


@dataclass
class ItemActivity:
    """What one test did with the model: its generations and evaluated checks."""

    generations: list[Generation] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    logged: int = 0  # generations already sent to the inference log (on an earlier phase's report)




def _group_report(
    node_id: str,
    location: tuple[str, int | None, str],
    keyword: str,
    passed: bool,
    longrepr: str | None,
    properties: list[tuple[str, object]] | None = None,
) -> pytest.TestReport:
    """The report of an item that judges a group after the run (pass rate, classification, gate):
    made on the controller, where every case's report has arrived."""
    now = time.time()
    return pytest.TestReport(
        nodeid=node_id,
        location=location,
        keywords={keyword: 1},
        outcome="passed" if passed else "failed",
        longrepr=None if passed else longrepr,
        when="call",
        sections=[],
        duration=0.0,
        start=now,
        stop=now,
        user_properties=properties or [],
    )


@dataclass
class ClassificationGroup:
    """A case file's classification group: gold and predicted labels as the cases finished."""

    node_id: str
    location: tuple[str, int | None, str]
    spec: dict[str, object]
    gold: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)

    def result(self) -> CheckResult:
        report = classification_report(self.gold, self.predicted, labels=list(self.spec["labels"]))  # type: ignore[call-overload]
        thresholds = {k: v for k, v in self.spec.items() if k.startswith("min_") and v is not None}
        return classification_result(report, name=self.node_id, **thresholds)  # type: ignore[arg-type]

    def table(self) -> str:
        return classification_report(self.gold, self.predicted, labels=list(self.spec["labels"])).format()  # type: ignore[call-overload]

    def report(self) -> pytest.TestReport:
        result = self.result()
        longrepr = None if result.passed else f"{result.message}\n\n{self.table()}"
        return _group_report(self.node_id, self.location, "classification", result.passed, longrepr)


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
        return _group_report(
            self.node_id, self.location, "pass_rate", self.ok, longrepr,
            [("pass_rate", self.rate), ("threshold", self.threshold)],
        )


@dataclass(eq=False)  # compared and hashed by identity: it is registered as a plugin
class LLMEvalSession:
    """Run state of one pytest session (one per xdist worker), kept in ``config.stash``."""

    settings: Settings
    cwd: Path
    model: ModelUnderTest | None = None
    load_count: int = 0
    # mode -> outcome -> count, from test reports (so the xdist controller has them too)
    mode_outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    # pass-rate groups, from case reports: group node id -> results
    groups: dict[str, GroupResult] = field(default_factory=dict)
    classifications: dict[str, ClassificationGroup] = field(default_factory=dict)
    registered_tags: set[str] = field(default_factory=set)
    # the generation cache and what identifies the model in it
    is_worker: bool = False
    model_id: str | None = None
    cache_store: GenerationCache | None = None
    fingerprint_memo: FileHashMemo | None = None
    worker_cache_entries: list[CacheEntry] = field(default_factory=list)
    worker_stats: list[dict[str, float]] = field(default_factory=list)
    cache_written: int = 0
    # statically known requests of the selected tests, in run order
    plan: list[GenerationRequest] = field(default_factory=list)
    plan_index: dict[str, int] = field(default_factory=dict)
    tests_started: bool = False
    judge: ModelUnderTest | None = None
    judge_instance: ModelJudge | None = None
    # regression tracking (controller): records per test, the run, the baseline and the comparison
    started_at: float = field(default_factory=time.time)
    records: dict[str, CaseRecord] = field(default_factory=dict)
    baseline_path: Path | None = None
    history_path: Path | None = None
    baseline: Baseline | None = None
    run: RunRecord | None = None
    comparison: Comparison | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # metric name -> (values, higher_is_better), from test reports (the controller has them too)
    metric_values: dict[str, tuple[list[float], bool]] = field(default_factory=dict)
    # the inference log's lines, from test reports, in the order the tests reported (controller)
    inferences: list[dict[str, object]] = field(default_factory=list)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Gather from each test's deciding report (on the xdist controller too): the outcome under
        each mode marker, metric values, the test's record, and what its groups need. A hook: this
        object is registered as a plugin, like pytest's junitxml LogXML."""
        if not self.is_worker:
            self.inferences.extend(getattr(report, "llmeval_inferences", []))
        outcome = _outcome(report)
        if outcome is None:
            return
        for mode in MODES:
            if mode in report.keywords:
                counts = self.mode_outcomes.setdefault(mode, {})
                counts[outcome] = counts.get(outcome, 0) + 1
        for name, value, higher_is_better in getattr(report, "llmeval_metrics", []):
            values, _ = self.metric_values.setdefault(name, ([], bool(higher_is_better)))
            values.append(float(value))
        record = getattr(report, "llmeval_record", None)
        if record is not None:
            self.records[report.nodeid] = CaseRecord.from_dict(record)
        elif report.when == "teardown" and report.failed and report.nodeid in self.records:
            self.records[report.nodeid].outcome = "error"
        for label in getattr(report, "llmeval_labels", []):
            group = self.classifications.setdefault(
                label["group"], ClassificationGroup(label["group"], tuple(label["location"]), label["spec"])
            )
            group.gold.append(label["gold"])
            group.predicted.append(label["predicted"])
        case = getattr(report, "llmeval_case", None)
        if case is not None:
            for node_id, location, threshold in case["groups"]:
                group = self.groups.setdefault(node_id, GroupResult(node_id, tuple(location), threshold))
                group.add(case["id"], case["passed"], case["reason"])

    def model_under_test(self) -> ModelUnderTest:
        """The session's model: created once; its backend loads on the first output that is
        neither prepared nor cached."""
        if self.model is None:
            cache = None
            if self.cache_store is not None and self.model_id is not None:
                cache = CachedOutputs(self.cache_store, self.model_id, read=self.settings.cache == "on")
            hf = self.settings.backend_name == "hf"
            self.model = ModelUnderTest(
                self.settings,
                self._load_backend,
                cache=cache,
                on_generation=_record_generation,
                load_tokenizer=(lambda: load_tokenizer(self.settings)) if hf else None,
            )
        return self.model

    def judge_adapter(self) -> ModelJudge:
        """One judge for the session, so scores computed ahead in batches are reused."""
        if self.judge_instance is None:
            self.judge_instance = ModelJudge(self.judge_model())
        return self.judge_instance

    def judge_model(self) -> ModelUnderTest:
        """The judge: the model under test itself when --llm-judge-model names the same folder."""
        assert self.settings.judge_model is not None
        if self.settings.judge_model == self.settings.model:
            return self.model_under_test()
        if self.judge is None:
            judge_settings = replace(
                self.settings, model=self.settings.judge_model, adapter=None, chat_template="auto"
            )
            self.judge = ModelUnderTest(judge_settings, lambda: load_backend(judge_settings, self.cwd))
        return self.judge

    def _load_backend(self) -> Backend:
        self.load_count += 1
        if not self.tests_started:
            return load_backend(self.settings, self.cwd)  # the caller turns errors into exit 4
        try:
            return load_backend(self.settings, self.cwd)
        except ConfigurationError as exc:
            # First needed inside a test (a cache miss): still a usage error that ends the session.
            pytest.exit(f"llmeval: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)

    def prepare(self, item: pytest.Item, request: GenerationRequest) -> ModelUnderTest:
        """Under xdist, make this test's output ready together with the next planned ones (xdist
        hands a worker consecutive tests, so those are most likely its own): batched, not one by one."""
        model = self.model_under_test()
        if not self.is_worker or model.is_ready(request):
            return model
        window = [request]
        position = self.plan_index.get(item.nodeid)
        if position is not None:
            for upcoming in self.plan[position + 1 :]:
                if len(window) >= self.settings.batch_size:
                    break
                if not model.is_ready(upcoming):
                    window.append(upcoming)
        model.prefetch(window)
        return model

    def stats(self) -> dict[str, float]:
        model = self.model
        if model is None:
            return {}
        return {
            "generated": model.num_generations,
            "cached": model.num_cached,
            "seconds": model.generation_seconds,
            "loads": self.load_count,
            "load_seconds": model.load_seconds,
        }

    def close(self) -> None:
        if self.model is not None and self.model.loaded:
            self.model.backend.close()
        self.model = None


SESSION_KEY = pytest.StashKey[LLMEvalSession]()
RECORD_KEY = pytest.StashKey[ItemActivity]()
# The record of the test running now. A module variable, not a context variable: pytest runs one
# test at a time per process, and generations made in threads the test starts are still its own.
_running_record: ItemActivity | None = None


def _record_generation(generation: Generation) -> None:
    record = _running_record
    if record is not None:
        record.generations.append(generation)  # list.append is atomic: threads may share a record


def _record_check(result: CheckResult) -> None:
    record = _running_record
    if record is not None:
        record.checks.append(result)


# -- options and configuration ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmeval", "LLM evaluation (pytest-llmeval)")
    for spec in OPTIONS:
        help_text = spec.help + (f" (ini: {spec.ini}" if spec.has_ini else " (command line only")
        help_text += f"; default: {spec.default})" if spec.default not in (None, False, ()) else ")"
        if spec.kind == "flag":
            group.addoption(spec.flag, dest=spec.dest, action="store_true", default=None, help=help_text)
        elif spec.kind in ("paths", "tolerances"):
            group.addoption(spec.flag, dest=spec.dest, action="append", default=None, metavar=spec.metavar, help=help_text)
        elif spec.name == "update_baseline":  # a flag with an optional value
            group.addoption(spec.flag, dest=spec.dest, nargs="?", const="all", default=None, metavar=spec.metavar, help=help_text)
        else:
            group.addoption(spec.flag, dest=spec.dest, default=None, metavar=spec.metavar, help=help_text)
        if spec.has_ini:
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
    state = LLMEvalSession(settings=settings, cwd=cwd, is_worker=hasattr(config, "workerinput"))
    try:
        _set_up_cache(config, state)
    except OSError as exc:
        raise pytest.UsageError(f"--llm-cache-path: cannot use the generation cache: {exc}") from None
    try:
        _set_up_regression_tracking(config, state)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = state
    config.pluginmanager.register(state, "llmeval-session")
    if config.pluginmanager.hasplugin("xdist") and not state.is_worker:
        config.pluginmanager.register(_XdistController(state), "llmeval-xdist")


def _set_up_cache(config: pytest.Config, state: LLMEvalSession) -> None:
    """Open the cache and fingerprint the model (Hugging Face models only: a Python pipeline's
    behaviour depends on code and services no hash of files can see, so it is never cached)."""
    settings = state.settings
    if settings.cache == "off" or settings.backend_name != "hf" or settings.model is None:
        return
    path = Path(settings.cache_path) if settings.cache_path else config.rootpath / ".llmeval" / "cache.db"
    state.cache_store = GenerationCache(path, writable=not state.is_worker)
    worker_input = getattr(config, "workerinput", {})
    state.model_id = worker_input.get("llmeval_model_id")
    if state.model_id is None:
        state.fingerprint_memo = FileHashMemo(path.parent / "fingerprints.json")
        roots = [Path(p) for p in (settings.model, settings.adapter) if p]
        fingerprint = fingerprint_files(model_files(*roots), state.fingerprint_memo, roots)
        dtype = settings.dtype
        if dtype == "auto":
            dtype = f"auto:{inspect_model_folder(settings.model).config_dtype}"
        state.model_id = f"{fingerprint}|dtype={dtype}|device={settings.device}|chat={settings.chat_template}"


def _set_up_regression_tracking(config: pytest.Config, state: LLMEvalSession) -> None:
    """Find the history and the baseline; with a gate on, a missing or broken baseline is a usage
    error (never an empty pass). Workers read the baseline too: they mark "fails in baseline too"."""
    settings = state.settings
    for flag, path in (("--llm-report", settings.report), ("--llm-markdown", settings.markdown)):
        if path is not None and Path(path).is_dir():
            raise ConfigurationError(f"{flag}: {path} is a folder; give the file to write, e.g. {Path(path) / 'llmeval-report'}")
    state.baseline_path = Path(settings.baseline) if settings.baseline else config.rootpath / "llmeval-baseline.json"
    state.history_path = Path(settings.history) if settings.history else config.rootpath / ".llmeval" / "history.db"
    if settings.gate != "off":
        if settings.model is None:
            raise ConfigurationError(f"--llm-gate {settings.gate} compares a model's run with the baseline: give --llm-model")
        try:
            state.baseline = read_baseline(state.baseline_path)
        except BaselineError as exc:
            raise ConfigurationError(f"--llm-gate {settings.gate}: {exc}") from None
    elif settings.model is not None and state.baseline_path.is_file():
        try:
            state.baseline = read_baseline(state.baseline_path)
        except BaselineError as exc:
            state.warnings.append(f"baseline not compared: {exc}")


class _XdistController:
    """xdist hooks (registered only when xdist is installed): the workers get the model identity;
    the controller gets their new cache entries and counts, and alone writes the cache."""

    def __init__(self, state: LLMEvalSession) -> None:
        self.state = state

    def pytest_configure_node(self, node: object) -> None:
        if self.state.model_id is not None:
            node.workerinput["llmeval_model_id"] = self.state.model_id  # type: ignore[attr-defined]

    def pytest_testnodedown(self, node: object, error: object) -> None:
        output = getattr(node, "workeroutput", {}) or {}
        self.state.worker_cache_entries.extend(tuple(e) for e in output.get("llmeval_cache", []))  # type: ignore[misc]
        if output.get("llmeval_stats"):
            self.state.worker_stats.append(output["llmeval_stats"])


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
        try:
            _prepare_outputs(session, state)
        except ConfigurationError as exc:
            raise pytest.UsageError(str(exc)) from None
    if state is not None:
        state.tests_started = True
    result = yield
    if state is not None and not hasattr(session.config, "workerinput"):
        # Each group is one more item: counted as collected, so progress still ends at 100%.
        session.testscollected += len(state.groups) + len(state.classifications)
        for group in [*state.groups.values(), *state.classifications.values()]:
            group_report = group.report()
            session.config.hook.pytest_runtest_logreport(report=group_report)
            state.records[group_report.nodeid] = CaseRecord(
                group_report.nodeid, group_report.outcome,
                message=None if group_report.passed else str(group_report.longrepr).splitlines()[0],
            )
        if state.settings.model is not None and not collect_only and state.records:
            _compare_with_baseline(session, state)  # a run only when tests ran: never an empty one
    return result


def _compare_with_baseline(session: pytest.Session, state: LLMEvalSession) -> None:
    """Assemble the run; compare it with the baseline; a metric drop beyond its tolerance fails the
    gate as one more item (failed tests already fail the session by themselves)."""
    state.run = _run_record(session.config, state)
    if state.baseline is None:
        return
    state.comparison = compare_runs(
        state.baseline,
        state.run,
        tolerances=dict(state.settings.metric_tolerance),
        default_tolerance=0.0,
        case_tolerances={r.node_id: r.tolerances for r in state.run.cases if r.tolerances},
    )
    if state.settings.gate != "off" and state.comparison.metric_drops:
        report = _group_report(
            "llmeval::gate", ("llmeval", None, "llmeval::gate (metric drops against the baseline)"),
            "llmeval", False, state.comparison.format(),
        )
        session.testscollected += 1
        session.config.hook.pytest_runtest_logreport(report=report)


def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("pytest-llmeval", "pytest", "torch", "transformers", "tokenizers", "peft"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_commit(root: Path) -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _portable(path: str | None, root: Path) -> str | None:
    """A path under the rootdir, relative to it: a committed baseline then reads the same in every
    clone. Other paths and py: targets stay as given."""
    if path is None or path.startswith("py:"):
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _run_record(config: pytest.Config, state: LLMEvalSession) -> RunRecord:
    settings = state.settings
    model = state.model
    described = model.backend.describe() if model is not None and model.loaded else None
    return RunRecord(
        run_id=uuid.uuid4().hex,
        started_at=state.started_at,
        finished_at=time.time(),
        complete=True,
        model={
            "source": _portable(settings.model, config.rootpath),
            "backend": settings.backend_name,
            "model_id": state.model_id or settings.model,
            "adapter": _portable(settings.adapter, config.rootpath),
            "dtype": described.dtype if described else settings.dtype,
            "device": described.device if described else settings.device,
        },
        settings={
            "max_new_tokens": settings.max_new_tokens,
            "batch_size": settings.batch_size,
            "chat_template": settings.chat_template,
            "chat_template_sha256": chat_template_sha256(settings.model) if settings.backend_name == "hf" else None,
            "seed": settings.seed,
            "dtype": settings.dtype,
            "device": settings.device,
        },
        versions=_versions(),
        git_commit=_git_commit(config.rootpath),
        cases=sorted(state.records.values(), key=lambda r: r.node_id),
    )


def _planned_request(item: pytest.Item) -> GenerationRequest | None:
    """The request a test will need, when it is known before the test runs."""
    if isinstance(item, CaseItem):
        return item.case.request
    if "llm_output" in getattr(item, "fixturenames", ()):
        marker = item.get_closest_marker("llm")
        if marker is not None:
            try:
                return _marker_request(marker)
            except GenerationParameterError:
                return None  # the test itself reports it
    return None


JUDGE_CHECKS = ("judge", "preferred_over", "not_judge", "not_preferred_over")


def _prepare_outputs(session: pytest.Session, state: LLMEvalSession) -> None:
    """Before the first test: know every static request; serially, generate them all now."""
    if state.settings.judge_model is None:
        needing = [
            item.nodeid for item in session.items
            if isinstance(item, CaseItem) and any(e.name in JUDGE_CHECKS for e in item.case.expect)
        ]
        if needing:
            raise ConfigurationError(
                f"{len(needing)} case(s) use a judge check ({needing[0]}{', ...' if len(needing) > 1 else ''}) "
                "but no judge model is given: add --llm-judge-model PATH (it may be the --llm-model path)"
            )
    users = [item for item in session.items if _needs_model(item)]
    if not users:
        return
    model = state.model_under_test()
    unplanned = False
    for item in users:
        request = _planned_request(item)
        if request is None:
            unplanned = True
            continue
        state.plan_index[item.nodeid] = len(state.plan)
        state.plan.append(request)
    # Tests that call llm.generate themselves will need the model: load it now, so a model that
    # cannot load ends the session before any test runs.
    if unplanned:
        _ = model.backend
    if state.is_worker or not state.plan:
        return  # a worker generates in windows, as its tests arrive (LLMEvalSession.prepare)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    show = reporter is not None and reporter.isatty and session.config.get_verbosity() >= 0
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if show:
            width = 30
            filled = width * done // total
            reporter.rewrite(f"llmeval: generating {total} outputs [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")

    generated = model.prefetch(state.plan, on_progress=progress)
    if show and generated:
        reporter.rewrite(
            f"llmeval: generated {generated} outputs in {time.perf_counter() - started:.1f} s, loading "
            f"included ({len({model.resolve(r) for r in state.plan}) - generated} ready from the cache)"
        )
        reporter.line("")
    if state.settings.judge_model is not None:
        _prepare_judge_scores(state, [item for item in users if isinstance(item, CaseItem)])


def _prepare_judge_scores(state: LLMEvalSession, cases: list[CaseItem]) -> None:
    """Score the case files' judge prompts in batches now that their outputs are ready; each judge
    check then finds its score done. A prompt that cannot be scored is left to its check to report."""
    model = state.model_under_test()
    prompts: dict[str, list[str]] = {"logprobs": [], "text": []}
    for item in cases:
        for expectation in item.case.expect:
            if expectation.name != "judge":
                continue
            args = expectation.args
            output = model.prefetch_and_get([item.case.request])[0]
            prompt = build_judge_prompt(str(args["rubric"]), output.text, args.get("reference"))  # type: ignore[arg-type]
            prompts[str(args.get("mode", "logprobs"))].append(prompt)
    judge = state.judge_adapter()
    try:
        if prompts["logprobs"]:
            judge.score_next_token(prompts["logprobs"], list(SCORE_TOKENS))
        if prompts["text"]:
            judge.generate(prompts["text"])
    except GenerationError:
        pass


# -- fixtures ----------------------------------------------------------------------------------


def _marker_request(marker: pytest.Mark) -> GenerationRequest:
    kwargs = dict(marker.kwargs)
    if marker.args:
        if len(marker.args) > 1 or "prompt" in kwargs:
            raise GenerationParameterError("@pytest.mark.llm takes one positional argument, the prompt")
        kwargs["prompt"] = marker.args[0]
    return build_request(**kwargs)


@pytest.fixture(scope="session")
def llm(request: pytest.FixtureRequest) -> ModelUnderTest:
    """The model under test, loaded once per session: ``llm.generate(prompt)``,
    ``llm.generate_many(prompts)``. Skips the test when no ``--llm-model`` is given."""
    state = request.config.stash[SESSION_KEY]
    if state.settings.model is None:
        pytest.skip(NO_MODEL_REASON)
    return state.model_under_test()


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
    try:
        generation_request = _marker_request(marker)
        state = request.config.stash[SESSION_KEY]
        return state.prepare(request.node, generation_request).run([generation_request])[0]
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
    record = item.stash.setdefault(RECORD_KEY, ItemActivity())
    state = item.config.stash.get(SESSION_KEY, None)
    global _running_record
    with ExitStack() as stack:
        # restored, not cleared: an in-process pytester session runs inside an outer test
        previous, _running_record = _running_record, record

        def restore() -> None:
            global _running_record
            _running_record = previous

        stack.callback(restore)
        stack.enter_context(recording_checks(_record_check))
        if state is not None and state.model is not None:
            model = state.model
            stack.enter_context(using_tokenizer(model.checks_tokenizer))
            stack.enter_context(using_perplexity_scorer(lambda texts: list(model.perplexity(texts).per_text)))
        if state is not None and state.settings.judge_model is not None:
            stack.enter_context(using_judge(state.judge_adapter()))
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
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with _recording(item):  # a fixture may generate after its yield: still this test's output
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record = item.stash.get(RECORD_KEY, None)
    state = item.config.stash.get(SESSION_KEY, None)
    if record is not None and report.when == "call":
        # Metric values travel on the report, so the xdist controller can average them.
        metrics = [c.details.get("metric") for c in record.checks if isinstance(c.details.get("metric"), dict)]
        report.llmeval_metrics = [  # type: ignore[attr-defined]
            [m["name"], float(m["value"]), bool(m["higher_is_better"])] for m in metrics
            if isinstance(m.get("value"), (int, float))
        ]
        _add_junit_properties(item, record)
    if state is not None and state.settings.model is not None:
        if record is not None and len(record.generations) > record.logged:
            report.llmeval_inferences = _inference_entries(item, report.when, record, state)  # type: ignore[attr-defined]
        # The true outcome, before a pass-rate group or the baseline turns a failure into an x.
        case_record = _case_record(item, report, record)
        if case_record is not None:
            report.llmeval_record = case_record.to_dict()  # type: ignore[attr-defined]
    if isinstance(item, CaseItem):
        item.annotate_report(report)
    if state is not None and state.settings.gate == "regressions" and report.when == "call" and report.failed:
        before = state.baseline.cases.get(item.nodeid) if state.baseline is not None else None
        if before is not None and before.outcome in ("failed", "error"):
            report.outcome = "skipped"
            report.wasxfail = "fails in baseline too"  # type: ignore[attr-defined]
    if isinstance(item, CaseItem):
        return report
    if isinstance(item, InvalidCaseItem) and report.failed:
        # A setup error's report is normally a traceback; the file, line and field say it all.
        report.longrepr = str(item.error)
        return report
    if record is not None and report.failed:
        for i, generation in enumerate(record.generations, 1):
            title = "llm output" if len(record.generations) == 1 else f"llm output {i}"
            report.sections.append((title, format_generation(generation)))
        if record.checks:
            report.sections.append(("llm checks", format_checks(record.checks)))
    return report


def _inference_entries(item: pytest.Item, phase: str, record: ItemActivity, state: LLMEvalSession) -> list[dict[str, object]]:
    """This phase's new generations as inference log lines (they travel to the controller on the report)."""
    model = state.model
    entries = [
        inference_entry(
            item.nodeid, generation, phase=phase, index=index,
            source="cache" if model is not None and model.served_from_cache(generation) else "generated",
        )
        for index, generation in enumerate(record.generations[record.logged :], start=record.logged)
    ]
    record.logged = len(record.generations)
    return entries


# Markers that say how a test runs, not what it is about: pytest's, ours and common plugins'.
_NOT_TAGS = frozenset(
    {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings", "tryfirst", "trylast", "llm", *MODES,
     "asyncio", "anyio", "trio", "timeout", "flaky", "xdist_group", "django_db", "order", "dependency", "benchmark"}
)


def _tags(item: pytest.Item) -> list[str]:
    """A test's tags: a case file's tags and a Python test's own labels, i.e. its markers that take
    no arguments (a marker with arguments, ``timeout(10)``, configures the test rather than names it)."""
    return sorted({m.name for m in item.iter_markers() if not m.args and not m.kwargs} - _NOT_TAGS)


def _outcome(report: pytest.TestReport) -> str | None:
    """A test's outcome from the report of the phase that decides it (None for other phases)."""
    if report.when == "call":
        outcome = report.outcome
    elif report.failed:
        outcome = "error"  # a setup or teardown failure
    elif report.skipped and report.when == "setup":
        outcome = "skipped"
    else:
        return None
    if hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    return outcome


def _case_record(item: pytest.Item, report: pytest.TestReport, record: ItemActivity | None) -> CaseRecord | None:
    outcome = _outcome(report)
    if outcome is None or (report.when == "teardown"):
        return None
    checks = record.checks if record is not None else []
    generations = record.generations if record is not None else []
    metric_values: dict[str, list[float]] = {}
    directions: dict[str, bool] = {}
    for result in checks:
        metric = result.details.get("metric")
        if isinstance(metric, dict) and isinstance(metric.get("value"), (int, float)):
            metric_values.setdefault(metric["name"], []).append(float(metric["value"]))
            directions[metric["name"]] = bool(metric["higher_is_better"])
    message = None
    if report.failed:
        failed = [c for c in checks if not c.passed]
        crash = getattr(report.longrepr, "reprcrash", None)
        message = failed[0].message if failed else (crash.message if crash else str(report.longrepr).splitlines()[0])
    return CaseRecord(
        node_id=item.nodeid,
        outcome=outcome,
        duration_s=report.duration,
        mode=next((m for m in MODES if item.get_closest_marker(m)), None),
        checks=[{"name": c.name, "passed": c.passed, "score": c.score, "message": c.message[:300]} for c in checks],
        metrics={
            name: {"value": sum(values) / len(values), "higher_is_better": directions[name]}
            for name, values in metric_values.items()
        },
        prompt=generations[0].prompt if generations else None,
        output=generations[0].text if generations else None,
        message=message[:300] if message else None,
        tolerances=_tolerances(item, metric_values),
        tags=_tags(item),
    )


def _tolerances(item: pytest.Item, metrics: dict[str, list[float]]) -> dict[str, float]:
    """The gate's tolerance for each metric of this test: its case file's, else the session's."""
    state = item.config.stash.get(SESSION_KEY, None)
    session = dict(state.settings.metric_tolerance) if state is not None else {}
    own = dict(item.case.tolerances) if isinstance(item, CaseItem) else {}
    tolerances = {name: session[name] for name in metrics if name in session}
    tolerances.update(own)
    return tolerances


def _add_junit_properties(item: pytest.Item, record: ItemActivity) -> None:
    """Checks and metrics as JUnit properties, so CI dashboards can show them (on the item: the
    junitxml plugin writes the properties of the teardown report, which copies the item's)."""
    for result in record.checks:
        score = "" if result.score is None else f" score={result.score:.6g}"
        item.user_properties.append((f"llmeval.check.{result.name}", f"{'passed' if result.passed else 'failed'}{score}"))
        metric = result.details.get("metric")
        if isinstance(metric, dict) and isinstance(metric.get("value"), (int, float)):
            item.user_properties.append((f"llmeval.metric.{metric['name']}", f"{float(metric['value']):.6g}"))


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
            classifications = []
            if case.label is not None:
                specs = [("classification", parsed.classification)] if parsed.classification else []
                specs += [(f"classification[{t}]", spec) for t, spec in parsed.tag_classifications.items() if t in case.tags]
                for suffix, spec in specs:
                    node_id = f"{self.nodeid}::{suffix}"
                    classifications.append((node_id, (self.nodeid, None, node_id), spec.model_dump()))
            items.append(
                CaseItem.from_parent(
                    self, name=case.id, case=case, groups=self._groups(parsed, case), classifications=classifications
                )
            )
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
        classifications: list[tuple[str, tuple[str, int | None, str], dict[str, object]]] | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.case = case
        self.groups = groups
        self.classifications = classifications or []
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
        model = self.config.stash[SESSION_KEY].prepare(self, self.case.request)
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
        """Give the controller what it needs for the file's groups; tolerate a grouped failure."""
        if report.when == "call" and self.classifications and self.output is not None:
            report.llmeval_labels = [  # type: ignore[attr-defined]
                {
                    "group": node_id, "location": list(location), "spec": spec, "gold": self.case.label,
                    "predicted": map_label(self.output, list(spec["labels"]), pattern=spec["pattern"]),  # type: ignore[call-overload]
                }
                for node_id, location, spec in self.classifications
            ]
        if report.when != "call" or not self.groups or hasattr(report, "wasxfail"):
            return
        record = self.stash.get(RECORD_KEY, ItemActivity())
        failed = [c for c in record.checks if not c.passed]
        reason = failed[0].message if failed else (str(report.longrepr).splitlines() or [""])[0]
        report.llmeval_case = {  # type: ignore[attr-defined]
            "id": self.case.id,
            "passed": report.passed,
            "reason": "" if report.passed else reason[:300],
            "groups": [[node_id, list(location), rate] for node_id, location, rate in self.groups],
        }
        state = self.config.stash.get(SESSION_KEY, None)
        if report.failed and (state is None or state.settings.gate == "off"):
            # Shown as tolerated (x), counted by the group's own item instead. Not under a gate: a
            # pass rate must never hide a regression from a pre-merge job.
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


@pytest.hookimpl(tryfirst=True)  # before the terminal summary, which reports what was written
def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(SESSION_KEY, None)
    if state is None:
        return
    pending = state.model.cache.take_pending() if state.model is not None and state.model.cache else []
    if state.is_worker:
        # Workers never write shared files: the controller writes their outputs to the cache.
        session.config.workeroutput["llmeval_cache"] = [list(e) for e in pending]  # type: ignore[attr-defined]
        session.config.workeroutput["llmeval_stats"] = state.stats()  # type: ignore[attr-defined]
        return
    if state.cache_store is not None:
        state.cache_written = state.cache_store.write([*pending, *state.worker_cache_entries])
    if state.fingerprint_memo is not None:
        state.fingerprint_memo.save()
    if state.run is not None:
        try:
            _record_and_accept(state)
        finally:  # a CI job's summary is most wanted when something went wrong
            _write_summaries(state)
    elif state.settings.markdown and state.settings.model and not session.config.option.collectonly:
        # No case ran (all deselected, or -k matched nothing): say so, rather than leave an empty page.
        _write_markdown(state, NO_CASES_MARKDOWN)


def _record_and_accept(state: LLMEvalSession) -> None:
    """Controller only: record the run in the history (one transaction) and, when asked, write the
    baseline (atomically). Neither may end the session: problems become warnings."""
    assert state.run is not None and state.history_path is not None and state.baseline_path is not None
    try:
        RunStore(state.history_path).record_run(state.run)
        state.notes.append(f"run {state.run.run_id[:12]} recorded in {state.history_path}")
    except (StoreError, OSError) as exc:
        state.warnings.append(f"the run was not recorded: {exc}")
    else:
        log_path = inference_log_path(state.history_path, state.run.run_id)
        try:
            written = write_inference_log(log_path, state.inferences)
            state.notes.append(f"inference log: {written} {'output' if written == 1 else 'outputs'} in {log_path}")
        except OSError as exc:
            state.warnings.append(f"the inference log was not written: {exc}")
    mode = state.settings.update_baseline
    if mode is None:
        return
    if mode == "new" and state.baseline_path.is_file():
        try:
            old = read_baseline(state.baseline_path)
        except BaselineError as exc:
            state.warnings.append(f"baseline not updated: {exc}")
            return
        merged = merge_new_cases(old, state.run)
        added = sorted(set(merged.cases) - set(old.cases))
        try:
            write_baseline(state.baseline_path, merged)
        except (BaselineError, OSError) as exc:
            state.warnings.append(f"baseline not updated: {exc}")
            return
        state.notes.append(f"baseline {state.baseline_path}: added {len(added)} new cases ({', '.join(added) or 'none'})")
        return
    accepted = baseline_from_run(state.run)
    kept: dict[str, BaselineCase] = {}
    if state.baseline_path.is_file():
        try:
            previous = read_baseline(state.baseline_path)
        except BaselineError:
            previous = None
        if previous is not None:
            # A partial run (-k, -m, a path) re-accepts what it ran and keeps the other entries.
            kept = {k: v for k, v in previous.cases.items() if k not in accepted.cases}
    try:
        write_baseline(state.baseline_path, Baseline(run=accepted.run, cases={**kept, **accepted.cases}))
    except (BaselineError, OSError) as exc:
        state.warnings.append(f"baseline not updated: {exc}")
        return
    note = f"baseline {state.baseline_path}: wrote {len(accepted.cases)} cases from this run"
    state.notes.append(note + (f", kept {len(kept)} not run now" if kept else ""))


def _write_summaries(state: LLMEvalSession) -> None:
    """Controller only: the HTML dashboard (--llm-report) and the Markdown summary (--llm-markdown).
    A summary that cannot be written is a warning: the run's outcome stands."""
    assert state.run is not None and state.history_path is not None
    settings = state.settings
    shown_path = _portable(str(state.baseline_path), state.cwd)  # a CI log or page need not show /home/...
    reference_label = baseline_label(state.baseline, shown_path) if state.baseline is not None else None
    if settings.markdown is not None:
        from pytest_llmeval.markdown import format_markdown_summary

        text = format_markdown_summary(
            state.run, baseline=state.baseline, comparison=state.comparison,
            reference_label=reference_label, gate=settings.gate,
        )
        _write_markdown(state, text)
    if settings.report is not None:
        try:
            data = dashboard_from_history(
                state.history_path,
                baseline=state.baseline,
                baseline_path=shown_path,
                latest=state.run,
                tolerances=dict(settings.metric_tolerance),
            )
        except StoreError:
            # The history could not be read (the warning above says why): this run alone.
            data = build_dashboard_data(
                [state.run], reference=state.baseline, reference_kind="baseline" if state.baseline else None,
                reference_label=reference_label, tolerances=dict(settings.metric_tolerance),
            )
        try:
            state.notes.append(f"report: {write_dashboard(settings.report, data)}")
        except (OSError, ValueError) as exc:
            state.warnings.append(f"the report was not written: {exc}")


def _write_markdown(state: LLMEvalSession, text: str) -> None:
    assert state.settings.markdown is not None
    path = Path(state.settings.markdown)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(path, (storable_text(text) or "").encode("utf-8"))
        state.notes.append(f"markdown summary: {path}")
    except OSError as exc:
        state.warnings.append(f"the Markdown summary was not written: {exc}")


def _summed_stats(state: LLMEvalSession) -> dict[str, float]:
    total: dict[str, float] = {}
    for stats in [state.stats(), *state.worker_stats]:
        for key, value in stats.items():
            total[key] = total.get(key, 0) + value
    return total


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    state = terminalreporter.config.stash.get(SESSION_KEY, None)
    if state is None:
        return
    stats = _summed_stats(state)
    warnings = state.cache_store.warnings if state.cache_store is not None else []
    if not (stats or state.mode_outcomes or state.groups or warnings or state.metric_values or state.classifications
            or state.comparison or state.notes or state.warnings):
        return
    terminalreporter.section("llmeval", sep="-")
    if stats:
        model = state.model
        described = model.describe() if model is not None and model.loaded else describe_configured_model(state.settings)
        terminalreporter.line(f"model: {described}")
        served = f"outputs: {int(stats['generated'])} generated in {stats['seconds']:.2f} s"
        served += f", {int(stats['cached'])} from the cache"
        if stats["loads"]:
            served += f"; model loaded in {stats['load_seconds']:.2f} s"
            served += f" ({int(stats['loads'])} processes)" if stats["loads"] > 1 else ""
        else:
            served += "; model not loaded"
        terminalreporter.line(served)
    if state.cache_written:
        assert state.cache_store is not None
        terminalreporter.line(f"cache: {state.cache_written} new outputs saved to {state.cache_store.path}")
    if state.comparison is not None:
        assert state.baseline_path is not None
        terminalreporter.line(f"compared with the baseline {state.baseline_path}:")
        for line in state.comparison.format().splitlines():
            terminalreporter.line(f"  {line}")
    for note in state.notes:
        terminalreporter.line(note)
    for warning in [*warnings, *state.warnings]:
        terminalreporter.line(f"warning: {warning}", yellow=True)
    for mode in MODES:
        counts = state.mode_outcomes.get(mode)
        if counts:
            text = ", ".join(f"{counts[o]} {o}" for o in _OUTCOME_ORDER if counts.get(o))
            terminalreporter.line(f"{mode}: {text}", red=bool(counts.get("failed") or counts.get("error")))
    for name, (values, higher_is_better) in sorted(state.metric_values.items()):
        direction = "higher is better" if higher_is_better else "lower is better"
        terminalreporter.line(
            f"metric {name}: mean {sum(values) / len(values):.4g} over {len(values)} "
            f"(min {min(values):.4g}, max {max(values):.4g}; {direction})"
        )
    for group in state.groups.values():
        terminalreporter.line(f"pass rate {group.summary()}", red=not group.ok, green=group.ok)
    for classification in state.classifications.values():
        result = classification.result()
        verdict = "ok" if result.passed else "FAILED"
        terminalreporter.line(f"classification {result.message}: {verdict}", red=not result.passed, green=result.passed)
        for line in classification.table().splitlines():
            terminalreporter.line(f"  {line}")


__all__ = ["LLMEvalSession", "SESSION_KEY", "llm", "llm_output"]

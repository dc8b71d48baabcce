"""``LLMEvalSession``: the run state of one pytest process, kept in ``config.stash``.

It is set up once from the options (``start_session``), gives tests the model under test and the
judge, and holds what the controller gathers from the reports (``results``, ``groups``) until the
session finishes. Under xdist there is one per process: the workers generate and check, the
controller alone writes shared files.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmeval import running_test
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.harness.groups import GroupBook
from pytest_llmeval.harness.results import ResultBook
from pytest_llmeval.paths import FINGERPRINT_MEMO_FILE, default_baseline, default_cache, default_history
from pytest_llmeval.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pytest_llmeval.backends.base import Backend, GenerationRequest
    from pytest_llmeval.cache import CachedOutputs, CacheEntry, GenerationCache
    from pytest_llmeval.engine import ModelJudge, ModelUnderTest
    from pytest_llmeval.fingerprint import FileHashMemo
    from pytest_llmeval.harness.base_pass import BasePass
    from pytest_llmeval.records import RunRecord
    from pytest_llmeval.run_comparison import Comparison
    from pytest_llmeval.store import Baseline

__all__ = ["SESSION_KEY", "LLMEvalSession", "NO_MODEL_REASON", "session_of", "start_session"]

NO_MODEL_REASON = "no --llm-model given"


@dataclass(eq=False)  # compared and hashed by identity: it is registered as a plugin
class LLMEvalSession:
    """Run state of one pytest session (one per xdist worker)."""

    settings: Settings
    cwd: Path
    rootpath: Path
    is_worker: bool = False
    started_at: float = field(default_factory=time.time)
    # the model under test and the judge, created on first use
    model: ModelUnderTest | None = None
    judge: ModelUnderTest | None = None
    judge_instance: ModelJudge | None = None
    judge_cache: CachedOutputs | None = None  # a separate judge's scores, under its own identity
    # a separate judge's identity in the cache: fingerprinted once (on the controller; a worker is
    # handed it, as it is the model's), "" when it has none
    judge_id: str | None = None
    load_count: int = 0
    tests_started: bool = False
    # the generation cache and what identifies the model in it
    model_id: str | None = None
    cache_store: GenerationCache | None = None
    fingerprint_memo: FileHashMemo | None = None
    worker_cache_entries: list[CacheEntry] = field(default_factory=list)
    worker_stats: list[dict[str, float]] = field(default_factory=list)
    worker_generated: list[list[str]] = field(default_factory=list)  # keys of what each worker generated
    # the device and dtype a worker loaded the model with (the controller itself never loads it)
    worker_model: dict[str, str | None] | None = None
    cache_written: int = 0
    # statically known requests of the selected tests, in run order
    plan: list[GenerationRequest] = field(default_factory=list)
    plan_index: dict[str, int] = field(default_factory=dict)
    plan_end: dict[str, int] = field(default_factory=dict)  # where each test's planned requests end
    # on an xdist worker: the tests handed to this worker and not started yet (xdist_bridge)
    scheduled_tests: Callable[[], list[str]] | None = None
    # what the reports said (on the controller, whichever process ran the test)
    results: ResultBook = field(default_factory=ResultBook)
    groups: GroupBook = field(default_factory=GroupBook)
    registered_tags: set[str] = field(default_factory=set)
    # regression tracking (controller): the run, the baseline and the comparison
    baseline_path: Path | None = None
    history_path: Path | None = None
    baseline: Baseline | None = None
    run: RunRecord | None = None
    comparison: Comparison | None = None
    gate_failure: str | None = (
        None  # why the gate failed the session (metric drops; the significant gate: its evidence)
    )
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    base: BasePass | None = None  # --llm-compare-base: the base model's side

    # -- what reports say (this object is registered as a plugin, like pytest's junitxml LogXML) --

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Book each report's payload: outcomes per mode, records, metrics, groups, inference log."""
        self.results.add(report, self.groups, keep_inferences=not self.is_worker)

    # -- the model and the judge -----------------------------------------------------------------

    def model_under_test(self) -> ModelUnderTest:
        """The session's model: created once; its backend loads on the first output that is
        neither prepared nor cached. While a test runs against the base model (--llm-compare-base),
        the base model."""
        if self.base is not None and self.base.active:
            return self.base.base_model(self, self._main_model())
        return self._main_model()

    def fixture_model(self) -> ModelUnderTest:
        """What the session-scoped ``llm`` fixture gives: the model under test, or with
        --llm-compare-base a stand-in that serves whichever model's turn it is."""
        if self.base is not None:
            from pytest_llmeval.harness.base_pass import TurnTakingModel

            return TurnTakingModel(self)  # type: ignore[return-value]  # the same interface, by delegation
        return self.model_under_test()

    def _main_model(self) -> ModelUnderTest:
        if self.model is None:
            from pytest_llmeval.backends.registry import backend_for
            from pytest_llmeval.cache import CachedOutputs
            from pytest_llmeval.engine import ModelUnderTest

            assert self.settings.model is not None
            cache = None
            if self.cache_store is not None and self.model_id is not None:
                cache = CachedOutputs(self.cache_store, self.model_id, read=self.settings.cache == "on")
            load_tokenizer = backend_for(self.settings.model).checks_tokenizer
            settings = self.settings
            self.model = ModelUnderTest(
                settings,
                self._load_backend,
                cache=cache,
                on_generation=running_test.report_generation,
                load_tokenizer=(lambda: load_tokenizer(settings)) if load_tokenizer is not None else None,
            )
        return self.model

    def judge_adapter(self) -> ModelJudge:
        """One judge for the session, so scores computed ahead in batches are reused."""
        if self.judge_instance is None:
            from pytest_llmeval.backends import judge_is_model_under_test
            from pytest_llmeval.engine import ModelJudge, judge_description

            judges_itself = judge_is_model_under_test(self.settings)
            self.judge_instance = ModelJudge(
                self.judge_model(), description=judge_description(self.settings, judges_itself=judges_itself)
            )
        return self.judge_instance

    def judge_model(self) -> ModelUnderTest:
        """The judge: the model under test itself when --llm-judge-model names the same model."""
        from pytest_llmeval.backends import judge_is_model_under_test, judge_settings, load_backend

        assert self.settings.judge_model is not None
        if judge_is_model_under_test(self.settings):
            return self._main_model()  # the same judge for the base model's turn (--llm-compare-base)
        if self.judge is None:
            from pytest_llmeval.engine import ModelUnderTest

            settings = judge_settings(self.settings)
            self.judge = ModelUnderTest(settings, lambda: load_backend(settings, self.cwd), cache=self._judge_cache())
        return self.judge

    def _judge_cache(self) -> CachedOutputs | None:
        """A separate judge's scores and answers in the generation cache, under its own identity
        (its fingerprint), so a warm rerun does not load it. A worker reads it too, and its new
        entries reach the controller's cache with the outputs it generated."""
        from pytest_llmeval.cache import CachedOutputs

        identity = self.separate_judge_identity()
        if self.cache_store is None or not identity:
            return None
        self.judge_cache = CachedOutputs(self.cache_store, f"judge:{identity}", read=self.settings.cache == "on")
        return self.judge_cache

    def separate_judge_identity(self) -> str | None:
        """The cache identity of a judge other than the model under test: computed once, on the
        controller (a worker has it from the controller, or none). None without a cache or such a
        judge, or when its backend cannot be identified."""
        from pytest_llmeval.backends import judge_is_model_under_test, judge_settings
        from pytest_llmeval.backends.registry import backend_for

        if self.judge_id is None:
            self.judge_id = ""
            settings = self.settings
            if (
                self.cache_store is not None
                and self.fingerprint_memo is not None  # the controller, or a serial session
                and settings.judge_model is not None
                and not judge_is_model_under_test(settings)
            ):
                separate = judge_settings(settings)
                assert separate.model is not None
                identity = backend_for(separate.model).identity
                if identity is not None:
                    self.judge_id = identity(separate, self.cwd, self.fingerprint_memo) or ""
        return self.judge_id or None

    def _load_backend(self) -> Backend:
        from pytest_llmeval.backends import load_backend

        self.load_count += 1
        if not self.tests_started:
            return load_backend(self.settings, self.cwd)  # the caller turns errors into exit 4
        try:
            return load_backend(self.settings, self.cwd)
        except ConfigurationError as exc:
            # First needed inside a test (a cache miss): still a usage error that ends the session.
            pytest.exit(f"llmeval: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)

    def services(self) -> running_test.Services:
        """What checks in this session's tests may use: the model's tokenizer, a perplexity scorer
        over the model, the judge, the configured bias-lexicon files."""
        provided: dict[str, Any] = {
            "lexicon_files": self.settings.bias_lexicon,
            "lexicon_replace": self.settings.bias_lexicon_replace,
        }
        model = self.model_under_test() if self.model is not None else None
        if model is not None:
            provided["tokenizer"] = model.checks_tokenizer
            provided["perplexity_scorer"] = lambda texts: list(model.perplexity(texts).per_text)
            # a model output is scored given its prompt as the model saw it
            provided["output_perplexity_scorer"] = lambda outputs: list(model.output_perplexity(outputs).per_text)
        if self.settings.judge_model is not None:
            provided["judge"] = self.judge_adapter()
            provided["judge_min_mass"] = self.settings.judge_min_mass
        if self.history_path is not None:
            from pytest_llmeval.review.store import reviews_path

            provided["reviews"] = reviews_path(self.history_path)
        return running_test.Services(**provided)

    def _window_limit(self) -> int:
        """How many planned outputs a worker prepares at once: the batch size, or auto's limit (the
        engine then batches them by its own rule)."""
        from pytest_llmeval.engine import AUTO_BATCH_LIMIT

        size = self.settings.batch_size
        return size if isinstance(size, int) else AUTO_BATCH_LIMIT

    def prepare(self, node_id: str, request: GenerationRequest) -> ModelUnderTest:
        """Under xdist, make this test's output ready together with those of the next tests handed to
        this worker: batched, not one by one, and never another worker's."""
        return self.prepare_all(node_id, [request])

    def prepare_all(self, node_id: str, requests: list[GenerationRequest]) -> ModelUnderTest:
        """``prepare`` for a test of several requests (its repeated samples)."""
        model = self.model_under_test()
        window = [r for r in requests if not model.is_ready(r)]
        if not self.is_worker or not window:
            return model
        for upcoming in self._upcoming_requests(node_id, len(requests)):
            if len(window) >= self._window_limit():
                break
            if not model.is_ready(upcoming):
                window.append(upcoming)
        model.prefetch(window)
        return model

    def _upcoming_requests(self, node_id: str, own: int) -> Iterable[GenerationRequest]:
        """The planned requests that follow this test's on this worker: those of the tests xdist has
        handed it, in their order (other workers' tests are theirs to generate). Where xdist's queue
        cannot be read, the plan's next requests, which another worker may generate too."""
        position = self.plan_index.get(node_id)
        if self.scheduled_tests is None:
            return [] if position is None else self.plan[position + own :]
        # This test's own remaining planned requests (a case's counterfactual variants), then those
        # of the tests queued on this worker.
        rest = [] if position is None else self.plan[position + own : self.plan_end.get(node_id, position + own)]
        return itertools.chain(
            rest,
            (
                request
                for upcoming in self.scheduled_tests()
                if upcoming in self.plan_index and upcoming != node_id
                for request in self.plan[self.plan_index[upcoming] : self.plan_end[upcoming]]
            ),
        )

    def stats(self) -> dict[str, float]:
        """This process's generation counts and times (empty when the model was never needed)."""
        model = self.model
        if model is None:
            return {}
        stats = {
            "generated": model.num_generations,
            "cached": model.num_cached,
            "seconds": model.generation_seconds,
            "loads": self.load_count,
            "load_seconds": model.load_seconds,
        }
        if self.base is not None and self.base.model is not None:  # the base model's turn: the same load
            stats["generated"] += self.base.model.num_generations
            stats["cached"] += self.base.model.num_cached
            stats["seconds"] += self.base.model.generation_seconds
        if model.loaded:  # where load time went: importing the libraries, reading the weights
            stats.update({f"load_seconds:{phase}": seconds for phase, seconds in model.backend.load_phases.items()})
        return stats

    def summed_stats(self) -> dict[str, float]:
        """This process's stats plus the workers' (on the xdist controller)."""
        total: dict[str, float] = {}
        for stats in [self.stats(), *self.worker_stats]:
            for key, value in stats.items():
                total[key] = total.get(key, 0) + value
        if total and self.worker_generated:
            from pytest_llmeval.harness.xdist_bridge import repeated_generations

            # identical requests two workers both generated (e.g. the same llm.generate in two tests)
            total["repeated"] = repeated_generations(self.worker_generated)
        return total

    def close(self) -> None:
        """Release the model and a separate judge (a backend may hold memory or a server connection)."""
        if self.model is not None and self.model.loaded:
            self.model.backend.close()
        self.model = None
        if self.judge is not None and self.judge.loaded:  # a separate judge holds weights too
            self.judge.backend.close()
        self.judge = self.judge_instance = None


SESSION_KEY = pytest.StashKey[LLMEvalSession]()


def session_of(config: pytest.Config) -> LLMEvalSession | None:
    """The session state, when the plugin is configured (not under --help or --version)."""
    return config.stash.get(SESSION_KEY, None)


def start_session(config: pytest.Config) -> LLMEvalSession:
    """Resolve the options and check them cheaply, open the cache and find the baseline. Any
    problem is a ``pytest.UsageError`` (exit 4) naming the option and what is wrong."""
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
                "llm_required is set, so a model is needed: give --llm-model PATH (or llm_model in the ini file)"
            )
        from pytest_llmeval.harness.base_pass import check_compare_base

        check_compare_base(settings)
        if settings.model is not None or settings.judge_model is not None:
            from pytest_llmeval.backends import validate_model_source

            validate_model_source(settings, cwd)
        if settings.bias_lexicon:
            from pytest_llmeval.checks.safety import validate_lexicon_files

            validate_lexicon_files(settings.bias_lexicon)
        from pytest_llmeval.counterfactual import CounterfactualError, set_session_swap_files

        try:
            set_session_swap_files(settings.swap_sets)  # () too: an earlier session's must not linger
        except CounterfactualError as exc:
            raise ConfigurationError(f"--llm-swap-sets: {exc}") from None
        from pytest_llmeval.metrics.memorisation import set_default_training_data

        if settings.train_data is not None and not Path(settings.train_data).is_file():
            raise ConfigurationError(f"--llm-train-data: {settings.train_data} is not a file")
        set_default_training_data(settings.train_data)  # None too: an earlier session's must not linger
        _persist_training_indexes(config, settings)
        if settings.heldout_data is not None:
            if not Path(settings.heldout_data).is_file():
                raise ConfigurationError(f"--llm-heldout-data: {settings.heldout_data} is not a file")
            if settings.train_data is None:
                raise ConfigurationError(
                    "--llm-heldout-data: the perplexity gap compares held-out text with the training data; "
                    "give --llm-train-data FILE too (or llm_train_data in the ini file)"
                )
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    except ValueError as exc:  # CheckUsageError from a lexicon file
        raise pytest.UsageError(str(exc)) from None
    state = LLMEvalSession(
        settings=settings, cwd=cwd, rootpath=config.rootpath, is_worker=hasattr(config, "workerinput")
    )
    try:
        _open_cache(config, state)
    except OSError as exc:
        raise pytest.UsageError(f"--llm-cache-path: cannot use the generation cache: {exc}") from None
    if settings.compare_base:
        from pytest_llmeval.harness.base_pass import BasePass

        state.base = BasePass.start(config, state)
    try:
        _find_baseline(state)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
    return state


def _persist_training_indexes(config: pytest.Config, settings: Settings) -> None:
    """Memorisation indexes are saved beside the generation cache and loaded by later sessions."""
    from pytest_llmeval.metrics.memorisation import set_index_cache_dir
    from pytest_llmeval.paths import default_memorisation_index_dir

    cache = Path(settings.cache_path) if settings.cache_path else default_cache(config.rootpath)
    set_index_cache_dir(default_memorisation_index_dir(cache))


def _open_cache(config: pytest.Config, state: LLMEvalSession) -> None:
    """Open the cache and identify the model in it (only backends whose outputs can be identified
    are cached: a Python pipeline's behaviour depends on code no hash of files can see)."""
    settings = state.settings
    if settings.cache == "off" or settings.model is None:
        return
    from pytest_llmeval.backends.registry import backend_for

    backend = backend_for(settings.model)
    if backend.identity is None:
        return
    worker_input = getattr(config, "workerinput", {})
    model_id = worker_input.get("llmeval_model_id")
    if "llmeval_judge_id" in worker_input:
        state.judge_id = str(worker_input["llmeval_judge_id"])
    path = Path(settings.cache_path) if settings.cache_path else default_cache(config.rootpath)
    if model_id is None:
        from pytest_llmeval.fingerprint import FileHashMemo

        state.fingerprint_memo = FileHashMemo(path.parent / FINGERPRINT_MEMO_FILE)
        model_id = backend.identity(settings, path.parent, state.fingerprint_memo)
    if model_id is None:
        return
    from pytest_llmeval.cache import GenerationCache

    state.cache_store = GenerationCache(path, writable=not state.is_worker)
    state.model_id = model_id


def _find_baseline(state: LLMEvalSession) -> None:
    """Find the history and the baseline; with a gate on, a missing or broken baseline is a usage
    error (never an empty pass). Workers read the baseline too: they mark "fails in baseline too"."""
    settings = state.settings
    for flag, path in (("--llm-report", settings.report), ("--llm-markdown", settings.markdown)):
        if path is not None and Path(path).is_dir():
            raise ConfigurationError(
                f"{flag}: {path} is a folder; give the file to write, e.g. {Path(path) / 'llmeval-report'}"
            )
    state.baseline_path = Path(settings.baseline) if settings.baseline else default_baseline(state.rootpath)
    state.history_path = Path(settings.history) if settings.history else default_history(state.rootpath)
    if settings.gate != "off":
        if settings.model is None:
            raise ConfigurationError(
                f"--llm-gate {settings.gate} compares a model's run with the baseline: give --llm-model"
            )
        from pytest_llmeval.store import BaselineError, read_baseline

        try:
            state.baseline = read_baseline(state.baseline_path)
        except BaselineError as exc:
            raise ConfigurationError(f"--llm-gate {settings.gate}: {exc}") from None
    elif settings.model is not None and state.baseline_path.is_file():
        from pytest_llmeval.store import BaselineError, read_baseline

        try:
            state.baseline = read_baseline(state.baseline_path)
        except BaselineError as exc:
            state.warnings.append(f"baseline not compared: {exc}")

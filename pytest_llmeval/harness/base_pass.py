"""``--llm-compare-base``: the model under test (base + adapter) and its base model in one session.

The model is loaded once. Its base model is the same loaded PEFT model with the adapter switched off
by PEFT's own ``disable_adapter()`` (``backends.adapter_off``), with its own identity in the
generation cache (the base folder's fingerprint: a later run of the base model alone reads the same
entries). Every request the tests are known to make is generated up front for both, in batches.

Each test that uses the model runs twice, in the process that runs it (serially or on an xdist
worker): first against the base model, unlogged (pytest's ``runtestprotocol(..., log=False)``, as
rerun plugins do), then as usual against the model under test. So pytest's outcomes, ``-x``, the
gate and the baseline are about the model under test alone; the base model's records go to a second
run in the history, linked to the first (``model.base_run`` / ``model.adapter_run``), with its own
inference log (each line says ``"side": "base"``; the model under test's say ``"adapter"``), and the
two runs are compared case by case by ``paired_comparison`` (the implementation behind ``llmeval
compare``): what the adapter fixed, what it broke ("forgetting"), and the metric differences with
their intervals, in the terminal, the Markdown summary and the dashboard. A warning the test raises
in both turns is reported once (``BaseTurnWarnings``).
"""

from __future__ import annotations

import dataclasses
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.harness.results import ResultBook
from pytest_llmeval.records import CaseRecord, RunRecord

if TYPE_CHECKING:
    from collections.abc import Generator

    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.harness.session import LLMEvalSession
    from pytest_llmeval.paired_comparison import PairedComparison
    from pytest_llmeval.settings import Settings

__all__ = ["BasePass", "BaseTurnWarnings", "TurnTakingModel", "check_compare_base", "run_base_first"]

WORKER_OUTPUT_KEY = "llmeval_base_records"
WORKER_INFERENCES_KEY = "llmeval_base_inferences"


def check_compare_base(settings: Settings) -> None:
    """``--llm-compare-base`` needs a local Hugging Face model and an adapter to switch off:
    ConfigurationError (exit 4) otherwise."""
    if not settings.compare_base:
        return
    if settings.model is None or not settings.adapter:
        raise ConfigurationError(
            "--llm-compare-base compares the model under test with its base model, which is --llm-model with "
            "the adapter switched off: give --llm-model PATH and --llm-adapter PATH"
        )
    from pytest_llmeval.backends.registry import backend_for

    backend = backend_for(settings.model).name
    if backend != "hf":
        raise ConfigurationError(
            "--llm-compare-base switches a PEFT adapter off and on in one loaded model, so it needs a local "
            f"Hugging Face model folder as --llm-model, not {settings.model} (the {backend} backend); to "
            "compare two runs of any models, run the suite for each and use llmeval compare RUN_A RUN_B"
        )


def base_settings(settings: Settings) -> Settings:
    """The settings that describe the base model: the model under test's, without the adapter."""
    return dataclasses.replace(settings, adapter=None, compare_base=False)


@dataclass
class BasePass:
    """The base model's side of a ``--llm-compare-base`` session (one per process)."""

    HEADER: ClassVar[str] = (
        "llmeval: --llm-compare-base: each test that uses the model runs against the base model (adapter off) "
        "first, unlogged; the comparison is at the end"
    )

    model_id: str | None  # the base model's identity in the generation cache (None: not cached)
    model: ModelUnderTest | None = None
    active: bool = False  # while a test runs against the base model
    results: ResultBook = field(default_factory=ResultBook)
    run: RunRecord | None = None  # the controller's, after the last test
    paired: PairedComparison | None = None  # base (A) against the model under test (B)
    # the running test's base turn's warnings, held until its usual run has raised its own
    turn_warnings: list[warnings.WarningMessage] = field(default_factory=list)

    @classmethod
    def start(cls, config: pytest.Config, state: LLMEvalSession) -> BasePass:
        """The base model's cache identity: computed by the controller (or a serial session), handed
        to xdist workers through their workerinput."""
        worker_input = getattr(config, "workerinput", {})
        if "llmeval_base_model_id" in worker_input:
            return cls(model_id=worker_input["llmeval_base_model_id"])
        model_id = None
        if state.model_id is not None and state.fingerprint_memo is not None and state.settings.model is not None:
            from pytest_llmeval.backends.registry import backend_for

            identity = backend_for(state.settings.model).identity
            if identity is not None:
                assert state.cache_store is not None
                model_id = identity(
                    base_settings(state.settings), state.cache_store.path.parent, state.fingerprint_memo
                )
        return cls(model_id=model_id)

    def base_model(self, state: LLMEvalSession, main: ModelUnderTest) -> ModelUnderTest:
        """The base model: ``main``'s loaded backend with the adapter off, under its own cache identity."""
        if self.model is None:
            from pytest_llmeval import running_test
            from pytest_llmeval.cache import CachedOutputs
            from pytest_llmeval.engine import ModelUnderTest

            cache = None
            if state.cache_store is not None and self.model_id is not None:
                cache = CachedOutputs(state.cache_store, self.model_id, read=state.settings.cache == "on")
            main_tokenizer = main.checks_tokenizer

            def load() -> Any:
                from pytest_llmeval.backends.adapter_off import AdapterOffBackend

                return AdapterOffBackend(main.backend)  # type: ignore[arg-type]  # an HFBackend: checked at start

            self.model = ModelUnderTest(
                base_settings(state.settings), load, cache=cache, on_generation=running_test.report_generation
            )
            self.model.checks_tokenizer = main_tokenizer  # the same tokenizer: loaded once
        return self.model

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Within: the session's model is the base model."""
        self.active = True
        try:
            yield
        finally:
            self.active = False

    def pending_cache_entries(self) -> list[Any]:
        """The base model's new cache entries, for the controller to write."""
        from pytest_llmeval.cache import CachedOutputs

        if self.model is not None and isinstance(self.model.cache, CachedOutputs):
            return self.model.cache.take_pending()
        return []

    # -- xdist -----------------------------------------------------------------------------------
    def send(self, config: pytest.Config) -> None:
        """On a worker at the end: its base-model records, for the controller."""
        output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
        output[WORKER_OUTPUT_KEY] = [record.to_dict() for record in self.results.records.values()]
        output[WORKER_INFERENCES_KEY] = self.results.inferences

    def receive(self, output: dict[str, Any]) -> None:
        """On the controller: a finished worker's base-model records."""
        for data in output.get(WORKER_OUTPUT_KEY, []):
            record = CaseRecord.from_dict(data)
            self.results.records[record.node_id] = record
        self.results.inferences.extend(output.get(WORKER_INFERENCES_KEY, []))

    # -- the end of the run (controller) ------------------------------------------------------------
    def finish_run(self, state: LLMEvalSession) -> None:
        """The base model's run (the model under test's, with the base model's records) and the paired
        comparison of the two; each run names the other."""
        from pytest_llmeval.base_comparison import compare_with_base

        run = state.run
        if run is None or not self.results.records:
            return
        settings = state.settings
        model = dict(run.model)
        model.pop("files", None)  # the adapter's files are not the base model's
        model.update(
            {
                "model_id": self.model_id or settings.model,
                "adapter": None,
                "adapter_disabled": run.model.get("adapter"),
                "adapter_run": run.run_id,
            }
        )
        self.run = RunRecord(
            run_id=uuid.uuid4().hex,
            started_at=run.started_at,
            finished_at=run.finished_at,
            complete=run.complete,
            model=model,
            settings=dict(run.settings),
            versions=dict(run.versions),
            git_commit=run.git_commit,
            cases=sorted(self.results.records.values(), key=lambda r: r.node_id),
        )
        run.model["base_run"] = self.run.run_id
        self.paired = compare_with_base(self.run, run, confidence=settings.confidence, resamples=settings.resamples)

    def record(self, state: LLMEvalSession) -> list[str]:
        """Record the base model's run in the history, before the model under test's run (so the
        model under test's run is the history's latest, the base model's the one before it), and
        write its inference log in its own run's folder. Returns the notes that say so; a failure
        is a warning."""
        from pytest_llmeval.inference_log import inference_log_path, write_inference_log
        from pytest_llmeval.paths import shown_path
        from pytest_llmeval.store import RunStore, StoreError

        if self.run is None or state.run is None or state.history_path is None:
            return []
        try:
            RunStore(state.history_path).record_run(self.run)
        except (StoreError, OSError) as exc:
            state.warnings.append(f"the base model's run was not recorded: {exc}")
            return []
        notes = [
            f"base model's run {self.run.run_id[:12]} recorded; compare again with: "
            f"llmeval compare {self.run.run_id[:12]} {state.run.run_id[:12]}"
        ]
        log_path = inference_log_path(state.history_path, self.run.run_id)
        try:
            written = write_inference_log(log_path, self.results.inferences)
        except OSError as exc:
            state.warnings.append(f"the base model's inference log was not written: {exc}")
        else:
            outputs = "output" if written == 1 else "outputs"
            notes.append(f"base model's inference log: {written} {outputs} in {shown_path(log_path, state.cwd)}")
        return notes


def run_base_first(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Before a test that uses the model runs as usual: run it once against the base model, unlogged,
    and book its record as the base model's. The test is then as fresh as before (its running-test
    record, JUnit properties and a case's output are reset), so the usual run is untouched."""
    from _pytest.runner import runtestprotocol

    from pytest_llmeval.harness.collection import CaseItem
    from pytest_llmeval.harness.groups import GroupBook
    from pytest_llmeval.harness.preparation import needs_model
    from pytest_llmeval.harness.recording import RUNNING_KEY
    from pytest_llmeval.harness.session import session_of

    state = session_of(item.config)
    if state is None or state.base is None or state.settings.model is None or not needs_model(item):
        return
    # what the base model's turn adds to the item (JUnit properties; captured output and log sections)
    # is taken back, so the usual run's report shows its own only
    properties, sections = list(item.user_properties), list(item._report_sections)
    # its warnings are held back: BaseTurnWarnings shows those the usual run does not raise again
    with state.base.turn(), warnings.catch_warnings(record=True) as caught:
        # "next" is the test's parent: its own fixtures are torn down, wider ones stay for its usual run
        reports = runtestprotocol(item, nextitem=item.parent, log=False)  # type: ignore[arg-type]
    state.base.turn_warnings = caught
    item.user_properties[:] = properties
    item._report_sections[:] = sections
    if RUNNING_KEY in item.stash:
        del item.stash[RUNNING_KEY]
    if isinstance(item, CaseItem):
        item.output, item.counterfactual = None, None
    unused = GroupBook()  # the base model's groups are not judged: the run under test's are
    for report in reports:
        state.base.results.add(report, unused, keep_inferences=True)  # the base model's inference log


def _warning_key(warning: warnings.WarningMessage) -> tuple[str, type[Warning], str, int]:
    return str(warning.message), warning.category, warning.filename, warning.lineno


class BaseTurnWarnings:
    """Registered under ``--llm-compare-base``: a test that raises a warning raises it in both turns,
    and pytest (whose warning capture encloses a test's whole protocol, both turns) would count it
    twice. Around each test's protocol, inside pytest's capture: the usual run's warnings are held
    too, then shown, followed by those of the base turn (``run_base_first`` holds them) that the
    usual run did not raise, so each is reported once."""

    def __init__(self, base: BasePass) -> None:
        self.base = base

    # no tryfirst: pytest's own tryfirst wrapper (its warning capture) must enclose this one
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        self.base.turn_warnings = []
        usual_run: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as usual_run:
                return (yield)
        finally:
            base_turn, self.base.turn_warnings = self.base.turn_warnings, []
            raised = {_warning_key(w) for w in usual_run}
            for warning in [*usual_run, *(w for w in base_turn if _warning_key(w) not in raised)]:
                # into pytest's capture as they are: their filters were applied when they were raised
                warnings.showwarning(
                    warning.message, warning.category, warning.filename, warning.lineno, warning.file, warning.line
                )


class TurnTakingModel:
    """The ``llm`` fixture's value under ``--llm-compare-base``: the fixture is session-scoped, but
    each test runs once against the base model and once against the model under test, so every
    attribute is looked up on the model whose turn it is."""

    def __init__(self, state: LLMEvalSession) -> None:
        self._state = state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state.model_under_test(), name)

    def __repr__(self) -> str:
        return f"<llm: {'the base model' if self._state.base and self._state.base.active else 'the model under test'}>"

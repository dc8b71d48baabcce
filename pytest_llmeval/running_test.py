"""The test now running: the one place that generations, checks and metrics report to, and where
they find what the session provides (the model's tokenizer, the judge, a perplexity scorer, extra
bias-lexicon files).

One process-wide slot rather than context variables: pytest runs one test at a time per process
(xdist workers are processes), and a test's work must count as that test's wherever it happens: in
a thread the test starts, in a fixture's teardown, in a session fixture set up on its behalf.
Context variables are not inherited by ``threading.Thread``, which lost checks run in threads.

Explicit overrides (``using_judge(...)``, ``using_tokenizer(...)``, ...) layer over the running
test's services for the duration of a ``with`` block, and work without any test running too.
Nothing here imports pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation
    from pytest_llmeval.checks.base import CheckResult, Tokenizer
    from pytest_llmeval.metrics.judge import Judge
    from pytest_llmeval.metrics.perplexity_scoring import OutputPerplexityScorer, PerplexityScorer

__all__ = [
    "RunningTest",
    "Services",
    "current",
    "listening",
    "providing",
    "report_check",
    "report_generation",
    "running",
    "services",
]


@dataclass(frozen=True)
class Services:
    """What checks may use without being passed it. ``None`` means "not provided"."""

    tokenizer: Tokenizer | None = None
    judge: Judge | None = None
    perplexity_scorer: PerplexityScorer | None = None
    output_perplexity_scorer: OutputPerplexityScorer | None = None  # an output given its prompt
    judge_min_mass: float | None = None  # below it on the score tokens, a judge is inconclusive
    lexicon_files: tuple[str | Path, ...] = ()  # added to the shipped bias lexicon
    lexicon_replace: bool = False  # the files replace the shipped lexicon
    reviews: Path | None = None  # the human review file (`llmeval review`), next to the run history


@dataclass(eq=False)
class RunningTest:
    """What one test did with the model: its generations and evaluated checks, in order."""

    node_id: str
    services: Services = field(default_factory=Services)
    generations: list[Generation] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    logged: int = 0  # generations already sent to the inference log (on an earlier phase's report)
    samples: dict[str, Any] | None = None  # the verdict over repeated samples (samples.SampleOutcome.to_record)
    sample_count: int = 1  # outputs the test's llm_samples fixture gave it (human_rating rates one)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_generation(self, generation: Generation) -> None:
        with self._lock:  # threads of one test may report at once
            self.generations.append(generation)

    def add_check(self, result: CheckResult) -> None:
        with self._lock:
            self.checks.append(result)

    def take_unlogged_generations(self) -> list[tuple[int, Generation]]:
        """The generations not yet handed to the inference log, with their index in the test."""
        with self._lock:
            fresh = list(enumerate(self.generations))[self.logged :]
            self.logged = len(self.generations)
        return fresh


_slot_lock = threading.Lock()
_current: RunningTest | None = None
_overrides: dict[str, Any] = {}  # explicitly provided services (None included: "none here")
_listeners: tuple[Callable[[CheckResult], None], ...] = ()


def current() -> RunningTest | None:
    """The test now running in this process, if any."""
    return _current


@contextmanager
def running(test: RunningTest) -> Iterator[RunningTest]:
    """Make ``test`` the running test for the block. The previous one is restored after (not
    cleared): a pytester session runs inside an outer test."""
    global _current
    with _slot_lock:
        previous, _current = _current, test
    try:
        yield test
    finally:
        with _slot_lock:
            _current = previous


def services() -> Services:
    """The services in effect: explicit overrides over the running test's."""
    test = _current
    base = test.services if test is not None else Services()
    return replace(base, **_overrides) if _overrides else base


@contextmanager
def providing(**provided: Any) -> Iterator[None]:
    """Override services for the block (``providing(judge=my_judge)``); restored after."""
    global _overrides
    unknown = set(provided) - set(Services.__dataclass_fields__)
    if unknown:
        raise TypeError(f"providing(): unknown services {sorted(unknown)}")
    with _slot_lock:
        previous = _overrides
        _overrides = {**previous, **provided}
    try:
        yield
    finally:
        with _slot_lock:
            _overrides = previous


@contextmanager
def listening(listener: Callable[[CheckResult], None]) -> Iterator[None]:
    """Also send every check result evaluated in the block to ``listener``."""
    global _listeners
    with _slot_lock:
        previous = _listeners
        _listeners = (*previous, listener)
    try:
        yield
    finally:
        with _slot_lock:
            _listeners = previous


def report_generation(generation: Generation) -> None:
    """Attribute a generation to the running test (none running: nothing to attribute it to)."""
    test = _current
    if test is not None:
        test.add_generation(generation)


def report_check(result: CheckResult) -> None:
    """Attribute an evaluated check to the running test and tell the listeners."""
    test = _current
    if test is not None:
        test.add_check(result)
    for listener in _listeners:
        listener(result)

"""What a worker reads of xdist's schedule, and how repeated generations across workers are counted."""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from pytest_llmeval.harness.xdist_bridge import repeated_generations, scheduled_tests_reader


def test_repeats_are_generations_beyond_the_first_of_each_key() -> None:
    assert repeated_generations([]) == 0
    assert repeated_generations([["a", "b"], ["c"]]) == 0
    assert repeated_generations([["a", "b"], ["a", "c"], ["a"]]) == 2


class ScheduledQueue:  # the shape of xdist's queue of scheduled test indices (3.6 and later)
    def __init__(self, indices: list[object]) -> None:
        self._items = collections.deque(indices)

    @contextlib.contextmanager
    def lock(self) -> Iterator[collections.deque[object]]:
        yield self._items


class WorkerInteractor:
    def __init__(self, next_index: object, queued: list[object]) -> None:
        self.nextitem_index = next_index
        self.torun = ScheduledQueue(queued)


def fake_session(plugins: list[Any]) -> Any:
    items = [SimpleNamespace(nodeid=f"t.py::test_{i}") for i in range(6)]
    config = SimpleNamespace(pluginmanager=SimpleNamespace(get_plugins=lambda: set(plugins)))
    return SimpleNamespace(config=config, items=items)


def test_a_worker_reads_the_next_test_and_its_queue_in_order() -> None:
    interactor = WorkerInteractor(4, [1, 5, "SHUTDOWN"])
    scheduled = scheduled_tests_reader(fake_session([object(), interactor]))
    assert scheduled is not None
    assert scheduled() == ["t.py::test_4", "t.py::test_1", "t.py::test_5"]
    interactor.torun._items.clear()  # read afresh each time: the queue grows and shrinks as tests run
    interactor.nextitem_index = "SHUTDOWN"
    assert scheduled() == []


def test_no_reader_where_the_schedule_cannot_be_read() -> None:
    assert scheduled_tests_reader(fake_session([object()])) is None
    no_queue = WorkerInteractor(0, [])
    del no_queue.torun
    assert scheduled_tests_reader(fake_session([no_queue])) is None


def test_the_queue_is_read_afresh_when_xdist_replaces_it() -> None:
    """xdist 3.5's work stealing puts a new queue object on the interactor; a reader holding the old
    one would see only the next test and shrink every batch to two."""
    interactor = WorkerInteractor(0, [1, 2])
    scheduled = scheduled_tests_reader(fake_session([interactor]))
    assert scheduled is not None
    interactor.torun = ScheduledQueue([3, 4, 5])
    assert scheduled() == ["t.py::test_0", "t.py::test_3", "t.py::test_4", "t.py::test_5"]


def test_a_queue_that_cannot_be_read_prefetches_nothing_instead_of_failing_the_test() -> None:
    class BrokenQueue(ScheduledQueue):
        @contextlib.contextmanager
        def lock(self) -> Iterator[collections.deque[object]]:
            raise RuntimeError("another xdist")
            yield self._items

    interactor = WorkerInteractor(0, [1])
    scheduled = scheduled_tests_reader(fake_session([interactor]))
    assert scheduled is not None
    interactor.torun = BrokenQueue([1])
    assert scheduled() == []


def test_a_workers_window_holds_its_own_remaining_requests_before_the_queued_tests(tmp_path: Any) -> None:
    """A case's counterfactual variants are planned right after it: they belong in its batch, not in
    one batch each later."""
    from pytest_llmeval.backends.base import GenerationParams, GenerationRequest
    from pytest_llmeval.harness.session import LLMEvalSession
    from pytest_llmeval.settings import Settings

    state = LLMEvalSession(Settings(model="py:unused"), cwd=tmp_path, rootpath=tmp_path)
    prompts = ["A", "A-variant1", "A-variant2", "B", "C"]
    state.plan = [GenerationRequest(p, None, None, GenerationParams()) for p in prompts]
    state.plan_index = {"t.py::a": 0, "t.py::b": 3, "t.py::c": 4}
    state.plan_end = {"t.py::a": 3, "t.py::b": 4, "t.py::c": 5}
    state.scheduled_tests = lambda: ["t.py::a", "t.py::c"]  # b went to the other worker
    upcoming = [r.prompt for r in state._upcoming_requests("t.py::a", 1)]
    assert upcoming == ["A-variant1", "A-variant2", "C"]

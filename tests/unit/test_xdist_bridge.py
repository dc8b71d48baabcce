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

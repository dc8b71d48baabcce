"""What the xdist controller and its workers exchange besides test reports: the model's and a
separate judge's identities (fingerprinted once, on the controller), and at the end each worker's new cache entries, counts and
selected group items. Registered only when xdist is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_llmeval.harness.groups import GroupSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    import pytest

    from pytest_llmeval.cache import CacheEntry
    from pytest_llmeval.harness.session import LLMEvalSession

__all__ = ["XdistController", "generated_keys", "repeated_generations", "scheduled_tests_reader", "send_to_controller"]


def send_to_controller(config: pytest.Config, state: LLMEvalSession, pending: list[CacheEntry]) -> None:
    """On a worker at session end: workers never write shared files; the controller writes their
    outputs to the cache and judges the groups they were handed."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output["llmeval_cache"] = [list(e) for e in pending]
    output["llmeval_stats"] = state.stats()
    output["llmeval_groups"] = [spec.to_dict() for spec in state.groups.selected.values()]
    output["llmeval_generated"] = generated_keys(state)
    if state.base is not None:
        state.base.send(config)
    if state.model is not None and state.model.loaded:
        from pytest_llmeval.harness.summary import loaded_model_line

        described = state.model.backend.describe()
        # the summary's model line as a serial run prints it, since the controller never loads the model
        summary = loaded_model_line(described, state)
        output["llmeval_model"] = {"device": described.device, "dtype": described.dtype, "summary": summary}


def generated_keys(state: LLMEvalSession) -> list[str]:
    """A key for each reproducible output this worker generated (the base model's apart), so the
    controller can tell how many of the workers' generations repeated another worker's."""
    from pytest_llmeval.cache import cache_key

    keys: list[str] = []
    for label, model in (("model", state.model), ("base", state.base.model if state.base is not None else None)):
        if model is not None:
            keys += [cache_key(label, request) for request in model.generated_requests()]
    return keys


def repeated_generations(per_worker: list[list[str]]) -> int:
    """How many of the workers' generations were of an output another worker had generated too."""
    return sum(len(keys) for keys in per_worker) - len({key for keys in per_worker for key in keys})


def scheduled_tests_reader(session: pytest.Session) -> Callable[[], list[str]] | None:
    """On an xdist worker: a function that names, in run order, the tests the controller has handed
    this worker and it has not started yet (the next one included). A worker prefetches only those,
    so no two workers generate the same planned output. None when xdist's worker state cannot be
    read (xdist keeps it in its WorkerInteractor, whose queue is not a public API)."""
    interactor = next(
        (p for p in session.config.pluginmanager.get_plugins() if type(p).__name__ == "WorkerInteractor"), None
    )
    if not _readable_queue(getattr(interactor, "torun", None)):
        return None
    items = session.items

    def queued_indices() -> list[object]:
        # Read afresh each time: xdist 3.5's work stealing replaces the queue object.
        queue: Any = getattr(interactor, "torun", None)
        if queue is None or not _readable_queue(queue):
            return []
        if hasattr(queue, "lock"):  # xdist >= 3.6: TestQueue, a deque under a lock
            with queue.lock() as pending:
                return list(pending)
        with queue.mutex:  # older xdist: a queue.Queue
            return list(queue.queue)

    def scheduled() -> list[str]:
        # run_one_test takes the next test off the queue before it runs the current one
        try:
            indices = [getattr(interactor, "nextitem_index", None), *queued_indices()]
        except Exception:  # a queue of another shape in a future xdist: prefetch less, never fail a test
            return []
        return [items[i].nodeid for i in indices if isinstance(i, int) and 0 <= i < len(items)]

    return scheduled


def _readable_queue(queue: object) -> bool:
    return queue is not None and (hasattr(queue, "lock") or hasattr(queue, "mutex"))


class XdistController:
    """The controller's xdist hooks."""

    def __init__(self, state: LLMEvalSession) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        """Give each worker the model's identity and a separate judge's, so workers do not
        fingerprint the weights again, and read and add to the cache under the same identities."""
        if self.state.model_id is not None:
            node.workerinput["llmeval_model_id"] = self.state.model_id
            node.workerinput["llmeval_judge_id"] = self.state.separate_judge_identity() or ""
        if self.state.base is not None:
            node.workerinput["llmeval_base_model_id"] = self.state.base.model_id

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """Take a finished worker's cache entries, counts, selected groups and loaded model's
        device and dtype."""
        output = getattr(node, "workeroutput", {}) or {}
        self.state.worker_cache_entries.extend(tuple(e) for e in output.get("llmeval_cache", []))
        if output.get("llmeval_stats"):
            self.state.worker_stats.append(output["llmeval_stats"])
        self.state.worker_generated.append(list(output.get("llmeval_generated", [])))
        for spec in output.get("llmeval_groups", []):
            self.state.groups.select(GroupSpec.from_dict(spec))
        if self.state.base is not None:
            self.state.base.receive(output)
        if output.get("llmeval_model") and self.state.worker_model is None:
            self.state.worker_model = dict(output["llmeval_model"])

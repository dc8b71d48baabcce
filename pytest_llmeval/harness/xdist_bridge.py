"""What the xdist controller and its workers exchange besides test reports: the model's and a
separate judge's identities (fingerprinted once, on the controller), and at the end each worker's new cache entries, counts and
selected group items. Registered only when xdist is installed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_llmeval.harness.groups import GroupSpec

if TYPE_CHECKING:
    import pytest

    from pytest_llmeval.cache import CacheEntry
    from pytest_llmeval.harness.session import LLMEvalSession

__all__ = ["XdistController", "send_to_controller"]


def send_to_controller(config: pytest.Config, state: LLMEvalSession, pending: list[CacheEntry]) -> None:
    """On a worker at session end: workers never write shared files; the controller writes their
    outputs to the cache and judges the groups they were handed."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output["llmeval_cache"] = [list(e) for e in pending]
    output["llmeval_stats"] = state.stats()
    output["llmeval_groups"] = [spec.to_dict() for spec in state.groups.selected.values()]
    if state.base is not None:
        state.base.send(config)
    if state.model is not None and state.model.loaded:
        from pytest_llmeval.harness.summary import loaded_model_line

        described = state.model.backend.describe()
        # the summary's model line as a serial run prints it, since the controller never loads the model
        summary = loaded_model_line(described, state)
        output["llmeval_model"] = {"device": described.device, "dtype": described.dtype, "summary": summary}


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
        for spec in output.get("llmeval_groups", []):
            self.state.groups.select(GroupSpec.from_dict(spec))
        if self.state.base is not None:
            self.state.base.receive(output)
        if output.get("llmeval_model") and self.state.worker_model is None:
            self.state.worker_model = dict(output["llmeval_model"])

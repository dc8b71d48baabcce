"""The session's perplexity gap: one item, ``llmeval::perplexity_gap``, when both
``--llm-train-data`` and ``--llm-heldout-data`` are given.

It scores a seeded sample of each file under the model under test (``metrics.overfitting``) and
records the metric ``perplexity_gap`` (nats/token, lower is better) with its bootstrap interval, so
the run, the history and the baseline hold it and the gate reports a checkpoint whose gap grew beyond
the tolerance (``llm_metric_tolerance = perplexity_gap = 0.1``). The item itself fails only when the
gap cannot be measured (a file with fewer than 2 documents, unreadable data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.harness.session import NO_MODEL_REASON, session_of

__all__ = ["PERPLEXITY_GAP_NODE_ID", "PerplexityGapItem", "add_perplexity_gap_item"]

PERPLEXITY_GAP_NODE_ID = "llmeval::perplexity_gap"


class PerplexityGapItem(pytest.Item):
    """The perplexity gap between the session's training and held-out data."""

    def __init__(self, *, train_data: str, heldout_data: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.train_data = train_data
        self.heldout_data = heldout_data

    def setup(self) -> None:
        """Skip without a model (like the ``llm`` fixture)."""
        state = session_of(self.config)
        if state is None or state.settings.model is None:
            pytest.skip(NO_MODEL_REASON)

    def runtest(self) -> None:
        """Measure and record the gap (``assert_perplexity_gap`` without a maximum)."""
        from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

        state = session_of(self.config)
        assert state is not None
        assert_perplexity_gap(state.model_under_test(), self.train_data, self.heldout_data)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Why the gap could not be measured, in one line."""
        from pytest_llmeval.checks.base import CheckUsageError

        if isinstance(excinfo.value, CheckUsageError):
            return f"{PERPLEXITY_GAP_NODE_ID}: cannot measure the perplexity gap: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The held-out file, and the item's node id as the title."""
        return Path(self.heldout_data), None, PERPLEXITY_GAP_NODE_ID


def add_perplexity_gap_item(session: pytest.Session, items: list[pytest.Item]) -> None:
    """Append the gap's item to the collected ``items`` when the session has both files (it runs
    last, after every case; ``-k perplexity_gap`` selects it alone)."""
    state = session_of(session.config)
    if state is None or state.settings.train_data is None or state.settings.heldout_data is None:
        return
    item = PerplexityGapItem.from_parent(
        session,
        name="perplexity_gap",
        nodeid=PERPLEXITY_GAP_NODE_ID,
        train_data=state.settings.train_data,
        heldout_data=state.settings.heldout_data,
    )
    items.append(item)
    # reported as collected, as a collector's items are, so "collected N items" counts it
    report = pytest.CollectReport(nodeid="llmeval", outcome="passed", longrepr=None, result=[item])
    session.config.hook.pytest_collectreport(report=report)

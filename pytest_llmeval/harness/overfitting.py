"""The perplexity gap as an item: the session's, ``llmeval::perplexity_gap``, when both
``--llm-train-data`` and ``--llm-heldout-data`` are given, and a case file's,
``file.eval.yaml::perplexity_gap``, from its ``perplexity_gap:`` block.

It scores a seeded sample of each file under the model under test (``metrics.overfitting``) and
records the metric ``perplexity_gap`` (nats/token, lower is better) with its bootstrap interval, so
the run, the history and the baseline hold it and the gate reports a checkpoint whose gap grew beyond
the tolerance (``llm_metric_tolerance = perplexity_gap = 0.1``). The item fails when the gap exceeds
a case file's ``max_gap``, or cannot be measured (a file with fewer than 2 documents, unreadable data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.harness.session import NO_MODEL_REASON, session_of

__all__ = ["PERPLEXITY_GAP_NODE_ID", "PerplexityGapItem", "add_perplexity_gap_item"]

PERPLEXITY_GAP_NODE_ID = "llmeval::perplexity_gap"


class PerplexityGapItem(pytest.Item):
    """The perplexity gap between training and held-out data. ``train_data`` None: the session's."""

    def __init__(
        self,
        *,
        train_data: str | None,
        heldout_data: str,
        max_gap: float | None = None,
        max_texts: int = 64,
        max_chars: int = 2000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.train_data = train_data
        self.heldout_data = heldout_data
        self.max_gap = max_gap
        self.max_texts = max_texts
        self.max_chars = max_chars

    def setup(self) -> None:
        """Skip without a model (like the ``llm`` fixture)."""
        state = session_of(self.config)
        if state is None or state.settings.model is None:
            pytest.skip(NO_MODEL_REASON)

    def runtest(self) -> None:
        """Measure and record the gap (``assert_perplexity_gap``)."""
        from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

        state = session_of(self.config)
        assert state is not None
        assert_perplexity_gap(
            state.model_under_test(),
            self.train_data,
            self.heldout_data,
            max_gap=self.max_gap,
            max_texts=self.max_texts,
            max_chars=self.max_chars,
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The gap above its maximum, or why it could not be measured, in one line."""
        from pytest_llmeval.checks.base import CheckFailed, CheckUsageError

        if isinstance(excinfo.value, CheckUsageError):
            return f"{self.nodeid}: cannot measure the perplexity gap: {excinfo.value}"
        if isinstance(excinfo.value, CheckFailed):
            return f"{self.nodeid}: {excinfo.value.result.message}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """The case file (the rootdir for the session's item) and a title that names where the
        gap was declared (a title with dots would be rewritten in ``-v`` lines)."""
        where = "the session" if self.nodeid == PERPLEXITY_GAP_NODE_ID else self.path.name
        return self.path, None, f"perplexity gap of {where}"


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

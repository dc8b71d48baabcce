"""Overfitting: how much better the model scores its training data than held-out answers of the same
domain (data/heldout_answers.txt, written for this check)."""

from pathlib import Path

from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

DATA = Path(__file__).parent / "data"


def test_perplexity_gap_is_recorded(llm):
    # No max_gap: the gap (nats/token, with a 95% interval in the message) is recorded as the metric
    # perplexity_gap, which the gate compares with the baseline's.
    assert_perplexity_gap(llm, DATA / "train.jsonl", DATA / "heldout_answers.txt", max_texts=16)

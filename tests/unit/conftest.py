"""Shared fixtures for unit tests: a tiny real tokenizer, trained once per session."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmeval.checks.garble_corpus import train_prose_tokenizer, training_lines


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    """A byte-level BPE (4,000 tokens) trained on ~2,000 lines of standard-library docstrings, wrapped
    in ``transformers.PreTrainedTokenizerFast``: real splitting behaviour in about a second. Smaller
    vocabularies split clean prose too finely to resemble a model's tokenizer."""
    return train_prose_tokenizer(training_lines(), vocab_size=4000)

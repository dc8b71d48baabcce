"""Perplexity on held-out text: does the model still know the language of its domain?"""

from pathlib import Path

HELDOUT = Path(__file__).parent / "data" / "heldout.txt"


def test_heldout_perplexity(llm):
    result = llm.perplexity(HELDOUT)  # the file as one document; token-weighted
    assert result.perplexity < 100, f"held-out perplexity {result.perplexity:.1f}"

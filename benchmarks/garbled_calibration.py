"""Measure how well ``not_garbled`` separates clean from garbled text, with its default thresholds.

Run: ``python benchmarks/garbled_calibration.py``. Builds the labelled corpus of
``pytest_llmeval.checks.garble_corpus`` (real standard-library prose, code and JSON, short labels,
chat answers, non-English text; and their corruptions), trains a byte-level BPE tokenizer on the other
half of the docstrings, and prints precision and recall per corruption kind and overall, with the
tokenizer, with a 400-token one, and without one (the fragmentation signal is then skipped). Also
prints which signals fire.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from typing import Any

from pytest_llmeval.checks import check
from pytest_llmeval.checks.garble_corpus import (
    CLEAN_KINDS,
    GARBLED_KINDS,
    Sample,
    build_corpus,
    decoded_vocabulary,
    train_prose_tokenizer,
    training_lines,
)


def _flagged(samples: list[Sample], tokenizer: Any) -> tuple[list[bool], Counter[str]]:
    verdicts, fired = [], Counter()
    for sample in samples:
        result = check("not_garbled", sample.text, tokenizer=tokenizer)
        verdicts.append(not result.passed)
        signals = result.details.get("signals", {})
        thresholds = result.details.get("thresholds", {})
        for name, limit in thresholds.items():
            if (signals.get(name) or 0.0) > limit:
                fired[f"{sample.kind}:{name}"] += 1
    return verdicts, fired


def _report(title: str, samples: list[Sample], flagged: list[bool]) -> tuple[float, float]:
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for sample, verdict in zip(samples, flagged):
        by_kind[sample.kind].append(verdict)
    print(f"\n== {title}")
    for kind in CLEAN_KINDS:
        verdicts = by_kind.get(kind, [])
        print(f"  {kind:12s} n={len(verdicts):4d}  false positives {sum(verdicts):3d}")
    for kind in GARBLED_KINDS:
        verdicts = by_kind[kind]
        print(f"  {kind:12s} n={len(verdicts):4d}  recall {sum(verdicts) / len(verdicts):.3f}")
    true_pos = sum(f for s, f in zip(samples, flagged) if s.garbled)
    false_pos = sum(f for s, f in zip(samples, flagged) if not s.garbled)
    garbled = sum(s.garbled for s in samples)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / garbled
    print(f"  overall: precision {precision:.3f}  recall {recall:.3f}  "
          f"({len(samples)} texts, {garbled} garbled)")
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=120)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--signals", action="store_true", help="print which signals fired")
    options = parser.parse_args()
    tokenizer = train_prose_tokenizer(training_lines(), options.vocab_size)
    samples = build_corpus(options.seed, options.per_kind, decoded_vocabulary(tokenizer))
    print(f"corpus: {len(samples)} texts; tokenizer: byte-level BPE, {len(tokenizer)} tokens")
    from pytest_llmeval.testing import DEFAULT_CORPUS, train_tokenizer

    # Fragmentation is relative to each tokenizer's own split of clean prose; a 400-token BPE (as in a
    # tiny test model) shows the signal stays quiet on clean text when the vocabulary is small.
    small = train_tokenizer(DEFAULT_CORPUS, vocab_size=400)
    for title, active in (
        ("with tokenizer", tokenizer),
        (f"with a small tokenizer ({len(small)} tokens)", small),
        ("without tokenizer", None),
    ):
        flagged, fired = _flagged(samples, active)
        _report(title, samples, flagged)
        if options.signals:
            print("  signals fired:", dict(sorted(fired.items())))


if __name__ == "__main__":
    main()

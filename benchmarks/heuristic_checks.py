"""Precision and recall of the heuristic checks on real text, calibration and held-out parts separately.

Run: ``python benchmarks/heuristic_checks.py [--tokenizer PATH/tokenizer.json]``. Prints, for each part
(see ``benchmarks/corpora.py``: split by source, thresholds tuned on calibration only; ``fresh`` is
the part built in session 4 from sources, languages and seeds no earlier part used, measured once
after the checks were final):

- ``not_garbled`` without a tokenizer and with a real BPE tokenizer (the real model's ``tokenizer.json``
  loaded with the ``tokenizers`` library; pass ``--tokenizer``), its mean and slowest time per text (the
  first call loads the tables), false alarms per kind of clean text and
  recall per kind of corruption, plus the real model's outputs (hot-sampled noise vs its clean answers);
- ``no_repetition`` on the real model's outputs labelled loop / no loop, and false alarms on clean text;
- ``not_truncated`` on the real model's outputs (the finish reason decides);
- ``refusal`` on ``data/refusals.jsonl`` (labelled refusals and non-refusals in many phrasings).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora import (
    DATA,
    SEEDS,
    SPLITS,
    Sample,
    bpe_vocabulary,
    clean_texts,
    corrupted,
    model_outputs,
)

from pytest_llmeval.backends.base import Generation, GenerationParams, GenerationRequest
from pytest_llmeval.checks import check


class BpeTokenizer:
    """A tokenizer.json loaded with the ``tokenizers`` library (no transformers)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.encode(text, add_special_tokens=False).tokens


def _ratio(hits: int, total: int) -> str:
    return f"{hits / total:.3f}" if total else "n/a"


def _precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[str, str, int, int]:
    """(label, flagged) pairs -> precision, recall, positives, negatives."""
    tp = sum(1 for label, flag in pairs if label and flag)
    fp = sum(1 for label, flag in pairs if not label and flag)
    positives = sum(1 for label, _ in pairs if label)
    return _ratio(tp, tp + fp), _ratio(tp, positives), positives, len(pairs) - positives


def garbled(split: str, tokenizer: Any, vocabulary: list[str] | None, per_kind: int, per_language: bool) -> None:
    samples = clean_texts(split) + corrupted(split, per_kind, SEEDS[split], vocabulary)
    outputs = [o for o in model_outputs(split) if not o["loop"]]
    samples += [Sample(o["text"], "model_noise" if o["garbled"] else "model_answer", "en", "smollm2",
                       o["garbled"], split) for o in outputs]
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)
    pairs = []
    seconds: list[float] = []
    for sample in samples:
        started = time.perf_counter()
        flagged = not check("not_garbled", sample.text, tokenizer=tokenizer).passed
        seconds.append(time.perf_counter() - started)
        by_kind[("garbled " if sample.garbled else "clean ") + sample.kind].append(flagged)
        by_language[("garbled " if sample.garbled else "clean ") + sample.lang.split("_")[0]].append(flagged)
        pairs.append((sample.garbled, flagged))
    precision, recall, positives, negatives = _precision_recall(pairs)
    name = "with BPE tokenizer" if tokenizer else "without tokenizer"
    print(f"  not_garbled {name}: precision {precision} recall {recall} "
          f"({positives} garbled, {negatives} clean); {1000 * sum(seconds) / len(seconds):.1f} ms per text "
          f"(slowest {1000 * max(seconds):.0f} ms)")
    for kind, flags in sorted(by_kind.items()):
        what = "recall" if kind.startswith("garbled") else "false alarms"
        value = _ratio(sum(flags), len(flags)) if what == "recall" else f"{sum(flags)}/{len(flags)}"
        print(f"    {kind:26s} n={len(flags):4d} {what} {value}")
    if per_language:
        for label in ("clean", "garbled"):
            cells = [f"{lang.split()[1]} {sum(f)}/{len(f)}" for lang, f in sorted(by_language.items())
                     if lang.startswith(label)]
            what = "false alarms" if label == "clean" else "caught"
            print(f"    per language, {label} ({what}): " + ", ".join(cells))


def repetition(split: str) -> None:
    outputs = [o for o in model_outputs(split) if not o["garbled"]]
    pairs = [(o["loop"], not check("no_repetition", o["text"]).passed) for o in outputs]
    precision, recall, positives, negatives = _precision_recall(pairs)
    clean = clean_texts(split)
    alarms = sum(1 for s in clean if not check("no_repetition", s.text).passed)
    print(f"  no_repetition on real model outputs: precision {precision} recall {recall} "
          f"({positives} loops, {negatives} without); false alarms on clean corpus {alarms}/{len(clean)}")


def truncation(split: str) -> None:
    pairs = []
    for o in model_outputs(split):
        request = GenerationRequest(o["prompt"], None, None,
                                    GenerationParams(max_new_tokens=o["params"]["max_new_tokens"]))
        output = Generation(o["text"], request=request, num_tokens=None,
                            finish_reason=o["finish_reason"], latency_s=0.0)
        pairs.append((o["cut"], not check("not_truncated", output).passed))
    precision, recall, positives, negatives = _precision_recall(pairs)
    print(f"  not_truncated on real model outputs: precision {precision} recall {recall} "
          f"({positives} cut, {negatives} ended by the model)")


def refusals(split: str) -> None:
    path = DATA / "refusals.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    pairs = [(r["refusal"], check("refusal", r["text"]).passed) for r in records if r["split"] == split]
    precision, recall, positives, negatives = _precision_recall(pairs)
    if not pairs:
        return  # the fresh part has no refusal benchmark of its own
    print(f"  refusal: precision {precision} recall {recall} ({positives} refusals, {negatives} answers)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", type=Path,
                        default=Path("/work/models/smollm2-135m-instruct/tokenizer.json"))
    parser.add_argument("--per-kind", type=int, default=25, help="corruptions of each kind per part")
    parser.add_argument("--splits", default=",".join(SPLITS), help=f"parts to measure (of {', '.join(SPLITS)})")
    parser.add_argument("--per-language", action="store_true", help="also print not_garbled per language")
    options = parser.parse_args()
    tokenizer = BpeTokenizer(options.tokenizer) if options.tokenizer.exists() else None
    vocabulary = bpe_vocabulary(options.tokenizer) if options.tokenizer.exists() else None
    if tokenizer is None:
        print(f"no tokenizer at {options.tokenizer}: token soup and the tokenizer figures are skipped")
    for split in options.splits.split(","):
        print(f"== {split}")
        garbled(split, None, vocabulary, options.per_kind, options.per_language)
        if tokenizer is not None:
            garbled(split, tokenizer, vocabulary, options.per_kind, options.per_language)
        repetition(split)
        truncation(split)
        refusals(split)


if __name__ == "__main__":
    main()

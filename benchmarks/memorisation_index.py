"""How fast is the memorisation index on a large training file, and does it scale linearly?

Run: ``python benchmarks/memorisation_index.py [--sizes-mb 10 100]`` (about 2 minutes for 100 MB on
one busy core; nothing is downloaded).

It writes synthetic training files (documents of Zipf-distributed words from a 50,000-word vocabulary,
blank-line separated) of each size, and measures in this process:

- build: ``index_for_file`` (read, tokenise, hash every 8-gram, sort): seconds and MB/s;
- query: ``longest_copied_span`` on 200 outputs of 200 tokens, half of them containing a 30-token span
  copied from the file: milliseconds per output;
- naive: the same outputs checked by ``str.find`` of each 8-token window in the raw text (what a first
  attempt looks like), on the first 200/MB outputs (at least 2): milliseconds per output;
- peak memory of the process (ru_maxrss).

It prints each figure and the ratios: build time per MB of the largest size over the smallest
(linear scaling reads ~1), and naive over indexed query time.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_llmeval.metrics.memorisation import index_for_file, tokenize


def write_corpus(path: Path, megabytes: float, rng: random.Random) -> None:
    vocabulary = [f"w{i}" for i in range(50_000)]
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    target = int(megabytes * 1_000_000)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            words = rng.choices(vocabulary, weights, k=20_000)
            # documents of ~200 words
            text = "\n\n".join(" ".join(words[i : i + 200]) + "." for i in range(0, len(words), 200)) + "\n\n"
            out.write(text)
            written += len(text)


def outputs_for(path: Path, rng: random.Random, count: int) -> list[str]:
    with path.open(encoding="utf-8") as source:
        documents = [d.split() for d in source.read(2_000_000).split("\n\n") if len(d.split()) > 40]
    result = []
    for i in range(count):
        words = [f"x{rng.randrange(10**6)}" for _ in range(200)]
        if i % 2 == 0:  # a 30-word span copied from inside one document
            document = rng.choice(documents)
            start = rng.randrange(len(document) - 31)
            words[50:80] = document[start : start + 30]
        result.append(" ".join(words))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes-mb", type=float, nargs="+", default=[10, 100])
    parser.add_argument("--outputs", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes_mb:
            path = Path(folder) / f"train-{size:g}MB.txt"
            write_corpus(path, size, rng)
            megabytes = path.stat().st_size / 1e6
            started = time.perf_counter()
            index = index_for_file(path)
            build = time.perf_counter() - started
            outputs = outputs_for(path, rng, args.outputs)
            started = time.perf_counter()
            spans = [index.longest_copied_span(o).length for o in outputs]
            query_ms = (time.perf_counter() - started) / len(outputs) * 1000
            text = path.read_text(encoding="utf-8")
            started = time.perf_counter()
            naive_outputs = outputs[: max(2, int(200 / megabytes))]  # str.find is slow: fewer at large sizes
            for output in naive_outputs:
                tokens = tokenize(output)
                for i in range(len(tokens) - 7):
                    text.find(" ".join(tokens[i : i + 8]))
            naive_ms = (time.perf_counter() - started) / len(naive_outputs) * 1000
            del text
            copied = sum(1 for s in spans[::2] if s >= 30)
            rows.append((megabytes, build, query_ms, naive_ms))
            print(
                f"{megabytes:7.1f} MB: build {build:6.1f} s ({megabytes / build:5.1f} MB/s, {index.token_count:,} tokens); "
                f"query {query_ms:6.2f} ms/output; naive {naive_ms:8.1f} ms/output; "
                f"copied 30-word spans found {copied}/{len(spans[::2])}; "
                f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB",
                flush=True,
            )
    first, last = rows[0], rows[-1]
    print(f"build time per MB, {last[0]:.0f} MB over {first[0]:.0f} MB: {(last[1] / last[0]) / (first[1] / first[0]):.2f}x")
    print(f"naive over indexed query time at {last[0]:.0f} MB: {last[3] / last[2]:.0f}x")


if __name__ == "__main__":
    main()

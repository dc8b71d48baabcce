"""Does a saved memorisation index spare later sessions the build?

Run: ``python benchmarks/memorisation_index_cache.py [--size-mb 100]`` (a few minutes for 100 MB on a
busy core; nothing is downloaded).

It writes a synthetic training file (the one ``memorisation_index.py`` uses: Zipf-distributed words,
blank-line separated documents) and starts two fresh Python processes, as two pytest sessions would:

- first session: ``index_for_file`` with a cache folder (hash the file, read, tokenise, hash every
  8-gram, sort, save the index);
- later session: ``index_for_file`` again (hash the file, load the saved index memory-mapped), then
  one query, so the loaded index is shown to answer.

Each process measures its own call. It prints both times, the ratio, the index's size on disk and
whether the two sessions' answers to the same outputs agree.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memorisation_index import outputs_for, write_corpus

SESSION = """
import json, sys, time
from pytest_llmeval.metrics.memorisation import index_for_file, set_index_cache_dir
set_index_cache_dir(sys.argv[2])
started = time.perf_counter()
index = index_for_file(sys.argv[1])
seconds = time.perf_counter() - started
outputs = json.loads(open(sys.argv[3], encoding="utf-8").read())
started = time.perf_counter()
spans = [index.longest_copied_span(o).length for o in outputs]
query_ms = (time.perf_counter() - started) * 1000 / len(outputs)
print(json.dumps({"seconds": seconds, "spans": spans, "query_ms": query_ms, "tokens": index.token_count}))
"""


def session(path: Path, cache: Path, outputs: Path) -> dict[str, object]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(path), str(cache), str(outputs)],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=float, default=100)
    parser.add_argument("--outputs", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        write_corpus(path, args.size_mb, rng)
        outputs = Path(folder) / "outputs.json"
        outputs.write_text(json.dumps(outputs_for(path, rng, args.outputs)), encoding="utf-8")
        cache = Path(folder) / ".llmeval" / "memorisation"
        first = session(path, cache, outputs)
        later = session(path, cache, outputs)
        on_disk = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
        megabytes = path.stat().st_size / 1e6
        print(f"training file: {megabytes:.0f} MB, {first['tokens']:,} tokens; index on disk {on_disk / 1e6:.0f} MB")
        print(f"first session (build and save): {first['seconds']:.2f} s")
        print(f"later session (load):           {later['seconds']:.2f} s")
        print(f"ratio build / load: {float(first['seconds']) / float(later['seconds']):.1f}x")  # type: ignore[arg-type]
        print(f"query: {first['query_ms']:.2f} ms per output built, {later['query_ms']:.2f} ms loaded")
        print(f"same spans in both sessions: {first['spans'] == later['spans']}")


if __name__ == "__main__":
    main()

"""How much does a file of invalid cases cost, next to the same number of valid ones?

Run: ``python benchmarks/invalid_cases.py`` (seconds; nothing is downloaded, no model is loaded).

Each invalid case is an error item. An error item's report must be its message (file, line, field),
not a formatted traceback: formatting one per item made 200 invalid cases take 46.8 s where 200 valid
ones took 0.42 s. This times two sessions in fresh processes (imports and start-up included), with a
``py:`` pipeline:

- valid: ``--cases`` valid cases;
- invalid: ``--cases`` invalid cases (an unknown check each).

It prints each time and their ratio; the target is the invalid session taking at most 1.5x the valid.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BOT = "def answer(prompt, **params):\n    return 'hello ' + prompt\n"


def write_suite(folder: Path, count: int, valid: bool) -> None:
    folder.mkdir()
    (folder / "bot.py").write_text(BOT, encoding="utf-8")
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    expect = {"contains": "hello"} if valid else {"contain": "hello"}
    lines = [json.dumps({"id": f"case-{i}", "prompt": f"question {i}", "expect": expect}) for i in range(count)]
    (folder / "cases.eval.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(folder: Path) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--llm-model=py:bot:answer", "-rE"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1) or "INTERNALERROR" in done.stdout:
        sys.exit(f"session failed ({done.returncode}) in {folder}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_suite(root / "valid", options.cases, valid=True)
        write_suite(root / "invalid", options.cases, valid=False)
        valid, invalid = (timed(root / name) for name in ("valid", "invalid"))
    ratio = invalid / valid
    print(f"{options.cases} valid cases:   {valid:.2f} s")
    print(f"{options.cases} invalid cases: {invalid:.2f} s")
    print(f"invalid / valid: {ratio:.2f}x (target: at most 1.5x): {'met' if ratio <= 1.5 else 'NOT met'}")

if __name__ == "__main__":
    main()

"""What ``--llm-compare-base`` costs: one session evaluating base + adapter and the base model, against
the two separate sessions it replaces (one with ``--llm-adapter``, one without).

    python benchmarks/compare_base_cost.py MODEL_FOLDER ADAPTER_FOLDER [SUITE] [--max-new-tokens N]

SUITE defaults to ``benchmarks/compare_real_model/facts.eval.yaml``. Each session runs in its own
process with the generation cache off, as a user's would, one after another after a warm-up import
(so the first is not charged for reading torch from disk). Printed: each session's wall time and
its generation time (the plugin's own "outputs: N generated in X s" line), and the ratios of the
one session to the two, measured in this one run. Timings on a shared machine are noisy: read the
ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUTS_LINE = re.compile(r"outputs: (\d+) generated in ([\d.]+) s")


def session(suite: Path, work: Path, name: str, args: list[str]) -> tuple[float, int, float, str]:
    """Run one pytest session; (wall seconds, outputs generated, generation seconds, summary line)."""
    command = [
        sys.executable, "-m", "pytest", str(suite), "-p", "no:cacheprovider", "-q", "--llm-cache=off",
        f"--llm-history={work / (name + '.db')}", "--llm-dtype=float32", *args,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{name}: pytest exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    found = OUTPUTS_LINE.search(done.stdout)
    if found is None:
        raise SystemExit(f"{name}: no 'outputs: N generated' line in\n{done.stdout[-3000:]}")
    last = done.stdout.strip().splitlines()[-1]
    return wall, int(found.group(1)), float(found.group(2)), last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the base model folder")
    parser.add_argument("adapter", help="a PEFT adapter folder for it")
    parser.add_argument("suite", nargs="?", default=str(HERE / "compare_real_model" / "facts.eval.yaml"))
    parser.add_argument("--max-new-tokens", type=int, default=None, help="override the suite's max_new_tokens")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model, adapter = str(Path(args.model).resolve()), str(Path(args.adapter).resolve())
    extra = [f"--llm-max-new-tokens={args.max_new_tokens}"] if args.max_new_tokens else []
    with tempfile.TemporaryDirectory(prefix="llmeval-compare-base-") as folder:
        work = Path(folder)
        suite = work / Path(args.suite).name
        shutil.copyfile(args.suite, suite)
        (work / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        subprocess.run([sys.executable, "-c", "import torch, transformers, peft"], check=True)  # warm the disk cache
        both = session(
            suite, work, "both", [f"--llm-model={model}", f"--llm-adapter={adapter}", "--llm-compare-base", *extra]
        )
        with_adapter = session(suite, work, "adapter", [f"--llm-model={model}", f"--llm-adapter={adapter}", *extra])
        base = session(suite, work, "base", [f"--llm-model={model}", *extra])
    rows = [
        ("one session, --llm-compare-base", both),
        ("session with the adapter", with_adapter),
        ("session of the base model", base),
    ]
    print(f"model {model}, adapter {adapter}, suite {Path(args.suite).name}")
    print(f"{'session':34} {'wall s':>8} {'outputs':>8} {'generating s':>13}  pytest's last line")
    for name, (wall, outputs, generating, last) in rows:
        print(f"{name:34} {wall:8.1f} {outputs:8d} {generating:13.1f}  {last}")
    two_wall = with_adapter[0] + base[0]
    two_generating = with_adapter[2] + base[2]
    print(f"{'two separate sessions':34} {two_wall:8.1f} {with_adapter[1] + base[1]:8d} {two_generating:13.1f}")
    print(f"wall time, one session / two sessions: {both[0] / two_wall:.2f}")
    print(f"generation time, one session / two sessions: {both[2] / two_generating:.2f}")
    print(f"one session / the adapter session alone (what --llm-compare-base adds): {both[0] / with_adapter[0]:.2f}")


if __name__ == "__main__":
    main()

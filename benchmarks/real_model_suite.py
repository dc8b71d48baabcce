"""Cold and warm runs of the real-model suite, and their ratio, measured in one run.

Run: ``LLMEVAL_REAL_MODEL_DIR=/path/to/smollm2-135m-instruct python benchmarks/real_model_suite.py``
(about 30 s on 2 CPU cores). The suite is the real-model tier's (``tests/integration/test_real_model.py``:
four case-file cases, a perplexity check and a judge, SmolLM2-135M-Instruct judging itself). Each run is
a fresh ``pytest`` process in a fresh folder that pays its own imports:

- cold: empty generation cache and empty fingerprint memo (the weights are hashed on first sight);
- warm: the same again, every output, judge score and perplexity now in the cache.

pytest loads only this plugin (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p pytest_llmeval.plugin``), as
``benchmarks/speed.py`` does: hypothesis's plugin, installed with the test extra, imports hypothesis
at every session end (about 1 s here); ``--all-plugins`` loads every installed plugin.

Target: warm at most 10% of cold. ``--repeats N`` times the warm run N times and reports the median;
``--profile`` also writes ``-X importtime`` and cProfile output of one more warm run to the folder named.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIER = HERE.parent / "tests" / "integration" / "test_real_model.py"


def _suite() -> tuple[str, str]:
    """The real-model tier's case file and Python tests, read from the tier itself (one suite)."""
    spec = importlib.util.spec_from_file_location("_real_model_tier", TIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return textwrap.dedent(module.SUITE).lstrip(), textwrap.dedent(module.PYTHON_TESTS).lstrip()


def _run(folder: Path, model: Path, python: list[str], only_this_plugin: bool = True) -> tuple[float, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run: compiled modules are kept between runs
    plugins = []
    if only_this_plugin:  # the other installed pytest plugins are not what is measured
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        plugins = ["-p", "pytest_llmeval.plugin"]
    command = [
        *python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *plugins,
        f"--llm-model={model}",
        f"--llm-judge-model={model}",
        "--llm-dtype=float32",
        "-rA",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):  # the suite has one intended failure
        sys.exit(f"pytest failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout + done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("LLMEVAL_REAL_MODEL_DIR"))
    parser.add_argument("--repeats", type=int, default=3, help="warm runs (the median is reported)")
    parser.add_argument("--profile", type=Path, help="write importtime and cProfile of a warm run here")
    parser.add_argument("--all-plugins", action="store_true", help="let pytest load every installed plugin")
    options = parser.parse_args()
    only = not options.all_plugins
    if not options.model or not (Path(options.model) / "model.safetensors").is_file():
        sys.exit("set LLMEVAL_REAL_MODEL_DIR (or --model) to the SmolLM2-135M-Instruct folder")
    model = Path(options.model).resolve()
    suite, python_tests = _suite()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (folder / "real.eval.yaml").write_text(suite, encoding="utf-8")
        (folder / "test_python.py").write_text(python_tests, encoding="utf-8")
        cold, cold_out = _run(folder, model, [sys.executable], only)
        warm_runs = []
        for _ in range(options.repeats):
            seconds, warm_out = _run(folder, model, [sys.executable], only)
            warm_runs.append(seconds)
        if options.profile:
            options.profile.mkdir(parents=True, exist_ok=True)
            _, importtime = _run(folder, model, [sys.executable, "-X", "importtime"], only)
            (options.profile / "importtime.txt").write_text(importtime, encoding="utf-8")
            _run(folder, model, [sys.executable, "-m", "cProfile", "-o", str(options.profile / "warm.prof")], only)
        if "model loaded in" in warm_out or "0 generated" not in warm_out:
            sys.exit(f"the warm run was not served from the cache:\n{warm_out[-3000:]}")
        shutil.rmtree(folder / ".llmeval", ignore_errors=True)
    warm = statistics.median(warm_runs)
    print(
        f"real-model suite ({model.name}): cold {cold:.2f} s; warm {warm:.2f} s "
        f"(median of {len(warm_runs)}: {', '.join(f'{w:.2f}' for w in warm_runs)})"
    )
    ok = warm <= 0.10 * cold
    print(f"{'met ' if ok else 'MISSED'} warm <= 10% of cold: {warm / cold:.1%}")


if __name__ == "__main__":
    main()

"""How fast is an eval suite under the plugin, next to the floor of raw batched generation?

Run: ``python benchmarks/speed.py`` (about 3 minutes on 2 CPU cores; nothing is downloaded).

It builds a GPT-2-shaped model of about 124M parameters (random weights, a tokenizer trained
locally), an eval suite of 64 cases, and times, each in a fresh process that pays its own imports and
model load:

- floor: a plain script that loads the model and calls ``model.generate`` on the same prompts in
  length-sorted batches (the least any tool can do);
- cold: ``pytest`` on the case-file suite with an empty generation cache;
- warm: the same again, every output now in the cache;
- naive: ``pytest`` on a suite that calls ``llm.generate(prompt)`` inside each test, cache off:
  one generate call per test, as a first attempt usually looks.

It prints each time and its ratio to the floor, and checks the targets: cold at most 1.25x the floor,
naive at least 5x cold, warm at most 10% of cold. Options: ``--cases``, ``--max-new-tokens``,
``--batch-size`` (the floor's, default 64), ``--plugin-batch-size`` (default ``auto``, the plugin's
default), ``--layers`` (a smaller model for a quick look), ``--skip-naive`` (the slowest run).

pytest loads only this plugin (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 -p pytest_llmeval.plugin``): other
installed plugins are not what is measured (hypothesis's, installed with the test extra, imports
hypothesis at every session end: 1-4 s here, more than the gap being measured); ``--all-plugins``
loads them. Compiled modules are kept between runs, as when users run pytest (no
``PYTHONDONTWRITEBYTECODE``: it made pytest re-compile the plugin's assertion-rewritten modules on
every run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"

WORDS = (
    "account password billing invoice team settings security export dashboard login email plan "
    "subscription refund order delivery address payment card support language region report"
).split()


def prompts(count: int) -> list[str]:
    """Short support questions of varied length, deterministic."""
    out = []
    for i in range(count):
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(4 + (i * 5) % 23)]
        out.append(f"Question {i}: how do I change my " + " ".join(words) + "?")
    return out


def build_model(layers: int) -> Path:
    """A GPT-2-shaped model: 768 wide, ``layers`` deep (17 gives about 124M parameters with the
    local tokenizer's small vocabulary). Built once and kept in benchmarks/.cache."""
    folder = CACHE / f"gpt2-{layers}l"
    if (folder / "config.json").is_file():
        return folder
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from pytest_llmeval.testing import train_tokenizer

    tokenizer = train_tokenizer(prompts(256) + [" ".join(WORDS)] * 20, vocab_size=2000)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=768, n_layer=layers, n_head=12, n_positions=1024,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    scratch = Path(tempfile.mkdtemp(dir=CACHE.parent if CACHE.exists() else None))
    CACHE.mkdir(exist_ok=True)
    model.save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    os.replace(scratch, folder)
    return folder


FLOOR = """
import os, sys, time, json
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
path, max_new, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
prompts = json.loads(sys.argv[4])
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
config = GenerationConfig(max_new_tokens=max_new, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                          eos_token_id=tokenizer.eos_token_id)
ordered = sorted(prompts, key=lambda p: len(tokenizer(p)["input_ids"]))
started = time.perf_counter()
with torch.inference_mode():
    for i in range(0, len(ordered), batch):
        enc = tokenizer(ordered[i:i + batch], return_tensors="pt", padding=True, padding_side="left")
        model.generate(**enc, generation_config=config)
print(json.dumps({"generate_s": time.perf_counter() - started}))
"""


def write_suites(root: Path, cases: list[str], max_new_tokens: int) -> tuple[Path, Path]:
    suite = root / "suite"
    suite.mkdir()
    lines = [json.dumps({"id": f"case-{i}", "prompt": p, "max_new_tokens": max_new_tokens,
                         "expect": {"length": {"max": 100000}}}) for i, p in enumerate(cases)]
    (suite / "support.eval.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    naive = root / "naive"
    naive.mkdir()
    (naive / "test_naive.py").write_text(
        textwrap.dedent(
            f"""
            import pytest
            PROMPTS = {cases!r}

            @pytest.mark.parametrize("prompt", PROMPTS)
            def test_case(llm, prompt):
                assert len(llm.generate(prompt, max_new_tokens={max_new_tokens})) <= 100000
            """
        ),
        encoding="utf-8",
    )
    for folder in (suite, naive):
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    return suite, naive


def timed(command: list[str], cwd: Path, *, only_this_plugin: bool = False) -> tuple[float, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if only_this_plugin:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64, help="the floor script's batch size")
    parser.add_argument(
        "--plugin-batch-size", default="auto", help="the plugin's --llm-batch-size (default: its own default, auto)"
    )
    parser.add_argument("--layers", type=int, default=17)
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive run (the slowest)")
    parser.add_argument("--all-plugins", action="store_true", help="let pytest load every installed plugin")
    options = parser.parse_args()

    model = build_model(options.layers)
    from pytest_llmeval.backends.hf import inspect_model_folder

    params = inspect_model_folder(str(model)).count_parameters() or 0
    cases = prompts(options.cases)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite, naive = write_suites(root, cases, options.max_new_tokens)
        plugins = [] if options.all_plugins else ["-p", "pytest_llmeval.plugin"]
        pytest_args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugins,
                       f"--llm-model={model}", f"--llm-batch-size={options.plugin_batch_size}"]
        only = not options.all_plugins
        floor, out = timed(
            [sys.executable, "-c", FLOOR, str(model), str(options.max_new_tokens), str(options.batch_size),
             json.dumps(cases)],
            root,
        )
        generate_only = json.loads(out.strip().splitlines()[-1])["generate_s"]
        cache = f"--llm-cache-path={root / 'cache.db'}"
        cold, cold_out = timed([*pytest_args, cache, str(suite)], root, only_this_plugin=only)
        warm, warm_out = timed([*pytest_args, cache, str(suite)], root, only_this_plugin=only)
        naive_s = None
        if not options.skip_naive:
            naive_s, _ = timed([*pytest_args, "--llm-cache=off", str(naive)], root, only_this_plugin=only)
    assert "0 generated" in warm_out and "model not loaded" in warm_out, warm_out

    print(f"model: GPT-2 shape, {params / 1e6:.1f}M parameters; {options.cases} cases, "
          f"{options.max_new_tokens} new tokens each, floor batch size {options.batch_size}, plugin batch size "
          f"{options.plugin_batch_size}, torch threads default, "
          f"{'every installed pytest plugin' if options.all_plugins else 'pytest with this plugin only'}")
    print(f"floor's model.generate alone: {generate_only:.2f} s of its {floor:.2f} s\n")
    print(f"{'run':<38}{'seconds':>9}{'x floor':>9}")
    rows = [
        ("floor: load + batched model.generate", floor),
        ("plugin, cold cache", cold),
        ("plugin, warm cache", warm),
    ]
    if naive_s is not None:
        rows.append(("naive: one llm.generate per test", naive_s))
    for name, seconds in rows:
        print(f"{name:<38}{seconds:>9.2f}{seconds / floor:>9.2f}")
    print()
    targets = [("cold <= 1.25 x floor", cold / floor, cold <= 1.25 * floor)]
    if naive_s is not None:
        targets.append(("naive >= 5 x cold", naive_s / cold, naive_s >= 5 * cold))
    targets.append(("warm <= 10% of cold", warm / cold, warm <= 0.10 * cold))
    for name, ratio, ok in targets:
        print(f"{'met ' if ok else 'MISSED'} {name}: {ratio:.2f}")


if __name__ == "__main__":
    main()

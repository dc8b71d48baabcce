"""The example suite's defaults: the embedded demo model is the model under test when no --llm-model
(or llm_model ini) is given, and the judge when no --llm-judge-model is given.

The demo model is trained from scratch on a shipped dataset in about 15 s, once, and cached in
example_suite/.llmeval/. Your own suite needs none of this: pass --llm-model=./your-checkpoint.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from pytest_llmeval.demo import build_demo_model, demo_fingerprint

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def demo_model() -> Path:
    cache = Path(__file__).parent / ".llmeval" / f"demo-model-{demo_fingerprint(150)}"
    if not (cache / "config.json").is_file():
        print(f"\nllmeval example: training the demo model into {cache} (about 15 s, once)")
        cache.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=cache.parent))
        build_demo_model(scratch / "model")
        # Build aside and move into place, so a run killed half-way leaves no half-built model.
        try:
            os.replace(scratch / "model", cache)
        except OSError:  # another process (an xdist worker) finished first
            pass
        shutil.rmtree(scratch, ignore_errors=True)
    return cache


@pytest.hookimpl(tryfirst=True)  # before pytest-llmeval reads its options
def pytest_configure(config: pytest.Config) -> None:
    if config.option.help:
        return
    if not (config.getoption("llm_model") or config.getini("llm_model")):
        config.option.llm_model = str(demo_model())
    if not (config.getoption("llm_judge_model") or config.getini("llm_judge_model")):
        # The demo model grades the answers (its own, by default): fine for a demo, a weak judge in
        # real use.
        config.option.llm_judge_model = str(demo_model())

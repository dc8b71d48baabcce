"""The example suite's defaults: the demo model is the model under test when no --llm-model (or
llm_model ini) is given, and the judge when no --llm-judge-model is given.

The demo model's trained weights ship with pytest-llmeval; they are copied (in milliseconds) to
example_suite/.llmeval/demo-model, so the run records the same model path on every machine. Your
own suite needs none of this: pass --llm-model=./your-checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_llmeval.demo import copy_demo_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def demo_model() -> Path:
    return copy_demo_model(Path(__file__).parent / ".llmeval" / "demo-model")


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

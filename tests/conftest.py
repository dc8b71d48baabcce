"""Shared fixtures: tiny real models, built once per session into the pytest tmp dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing in the suite may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Sleeping (not spinning) OpenMP waits: see pytest_llmeval.backends.hf.prefer_passive_openmp.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def _build(folder: Path, **kwargs: object) -> Path:
    from pytest_llmeval.testing import build_tiny_model

    if not (folder / "config.json").exists():
        build_tiny_model(folder, **kwargs)  # type: ignore[arg-type]
    return folder


@pytest.fixture(scope="session")
def tiny_gpt2(model_dir: Path) -> Path:
    return _build(model_dir / "gpt2", kind="gpt2")


@pytest.fixture(scope="session")
def tiny_llama_chat(model_dir: Path) -> Path:
    from pytest_llmeval.testing import SIMPLE_CHAT_TEMPLATE

    return _build(model_dir / "llama-chat", kind="llama", chat_template=SIMPLE_CHAT_TEMPLATE)


@pytest.fixture(scope="session")
def tiny_t5(model_dir: Path) -> Path:
    return _build(model_dir / "t5", kind="t5")


@pytest.fixture(scope="session")
def tiny_gpt2_lora(model_dir: Path, tiny_gpt2: Path) -> Path:
    from pytest_llmeval.testing import build_tiny_adapter

    folder = model_dir / "gpt2-lora"
    if not (folder / "adapter_config.json").exists():
        build_tiny_adapter(tiny_gpt2, folder)
    return folder


@pytest.fixture(scope="session")
def demo_model(model_dir: Path) -> Path:
    """The example suite's demo model: the shipped weights, copied so no test can alter the package."""
    from pytest_llmeval.demo import copy_demo_model

    return copy_demo_model(model_dir / "demo")


YAML_ALIAS_BOMB = """\
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
cases:
  - prompt: hi
    expect: {contains_any: *h}
"""


@pytest.fixture
def yaml_alias_bomb() -> str:
    """A 388-byte case file whose aliases expand to 9**8 (43 million) values: one like it once ran
    240 s to 3.1 GB while collecting."""
    return YAML_ALIAS_BOMB

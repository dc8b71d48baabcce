"""Start-up checks of model and adapter folders: each bad folder gets a message that says how to fix it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from pytest_llmeval.backends import describe_configured_model, validate_model_source
from pytest_llmeval.backends.hf import inspect_adapter_folder, inspect_model_folder
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import Settings


def model_folder(
    tmp_path: Path,
    *,
    config: str | None = '{"architectures": ["GPT2LMHeadModel"]}',
    weights: bool = True,
    tokenizer: bool = True,
) -> Path:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    if config is not None:
        (folder / "config.json").write_text(config, encoding="utf-8")
    if weights:
        save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros(5, np.float32)}, str(folder / "model.safetensors"))
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    return folder


def error_of(path: Path | str) -> str:
    with pytest.raises(ConfigurationError) as info:
        inspect_model_folder(str(path))
    return str(info.value)


def test_a_complete_folder_is_accepted_and_counted(tmp_path: Path) -> None:
    folder = inspect_model_folder(str(model_folder(tmp_path)))
    assert folder.architecture == "GPT2LMHeadModel"
    assert folder.count_parameters() == 17
    line = describe_configured_model(Settings(model=str(folder.path)))
    assert "GPT2LMHeadModel, 17 parameters, device auto, dtype auto" in line
    assert line.endswith("; device and dtype resolved when it loads")  # the summary says to what


def test_missing_path(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nope")
    assert f"--llm-model: {tmp_path / 'nope'} does not exist" in message
    assert "models are never downloaded" in message


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert "is a file, not a model folder" in error_of(tmp_path / "model.bin")


def test_folder_without_config(tmp_path: Path) -> None:
    message = error_of(model_folder(tmp_path, config=None))
    assert "is not a Hugging Face model folder: config.json is missing" in message
    assert "it holds: model.safetensors, tokenizer.json" in message
    assert "save_pretrained" in message


def test_adapter_given_as_model_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text("{}", encoding="utf-8")
    assert "looks like a PEFT adapter: pass the base model as --llm-model" in error_of(tmp_path)


def test_corrupt_config(tmp_path: Path) -> None:
    message = error_of(model_folder(tmp_path, config='{"architectures": ['))
    assert "config.json is not valid JSON (line 1, column" in message


def test_config_that_is_not_an_object(tmp_path: Path) -> None:
    assert "must hold a JSON object, got list" in error_of(model_folder(tmp_path, config="[]"))


def test_config_without_weights(tmp_path: Path) -> None:
    message = error_of(model_folder(tmp_path, weights=False))
    assert "has a config.json but no weights (*.safetensors or pytorch_model.bin" in message


def test_no_tokenizer(tmp_path: Path) -> None:
    message = error_of(model_folder(tmp_path, tokenizer=False))
    assert "has no tokenizer" in message and "tokenizer.save_pretrained(" in message


def adapter_error(path: Path) -> str:
    with pytest.raises(ConfigurationError) as info:
        inspect_adapter_folder(str(path))
    return str(info.value)


def test_adapter_path_that_is_not_an_adapter(tmp_path: Path) -> None:
    assert "does not exist" in adapter_error(tmp_path / "lora")
    message = adapter_error(model_folder(tmp_path))
    assert "is not a PEFT adapter: adapter_config.json is missing" in message
    assert "looks like a full model: pass it as --llm-model" in message


def test_adapter_without_weights(tmp_path: Path) -> None:
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}), encoding="utf-8")
    assert "no adapter_model.safetensors" in adapter_error(tmp_path)


def test_adapter_without_a_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--llm-adapter needs a base model"):
        validate_model_source(Settings(adapter=str(tmp_path)), tmp_path)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("py:no_such_module_xyz:f", "cannot import module 'no_such_module_xyz': ModuleNotFoundError"),
        ("py:json", "expected py:package.module:function"),
        ("py:json:nothing_here", "module 'json' has no attribute 'nothing_here'"),
        ("py:json:__doc__", "'__doc__' is a str, not a callable"),
    ],
)
def test_bad_callable_targets(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        validate_model_source(Settings(model=spec), tmp_path)
    assert f"--llm-model {spec}: {message}" in str(info.value)


def test_callable_module_next_to_the_suite_is_found(tmp_path: Path) -> None:
    (tmp_path / "my_pipeline_mod.py").write_text("def answer(prompt):\n    return prompt\n", encoding="utf-8")
    validate_model_source(Settings(model="py:my_pipeline_mod:answer"), tmp_path)


TOKENIZER_TEXTS = [
    "How do I reset my password?",
    "  leading spaces, tabs\tand\nnewlines  ",
    "Zoë's café — ünïcödé 日本語 🙂",
    "<|im_start|> looks special but is text",
    "",
]


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_the_checks_tokenizer_is_the_fast_tokenizer_without_transformers(tmp_path: Path, kind: str) -> None:
    from transformers import AutoTokenizer

    from pytest_llmeval.backends.hf import TokenizerFile, load_tokenizer
    from pytest_llmeval.settings import Settings
    from pytest_llmeval.testing import build_tiny_model

    folder = build_tiny_model(tmp_path / kind, kind=kind)  # type: ignore[arg-type]
    loaded = load_tokenizer(Settings(model=str(folder)))
    assert isinstance(loaded, TokenizerFile)
    reference = AutoTokenizer.from_pretrained(str(folder))
    for text in TOKENIZER_TEXTS:
        assert loaded.tokenize(text) == reference.tokenize(text), text

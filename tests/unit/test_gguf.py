"""GGUF files: what is refused up front, with a message naming it (no model is loaded here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.backends.gguf import inspect_gguf, is_gguf_path
from pytest_llmeval.backends.hf import inspect_model_folder
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.fingerprint import model_files
from pytest_llmeval.testing import write_gguf

gguf = pytest.importorskip("gguf")


def test_a_supported_file_is_described_from_its_header(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "m.gguf", "llama")
    info = inspect_gguf(file)
    assert (info.architecture, info.file_type, info.chat_template, info.name) == (
        "llama",
        "F32",
        "{{ messages }}",
        "tiny",
    )
    folder = inspect_model_folder(str(file))
    assert folder.path == file.resolve() and folder.architecture == "llama" and not folder.is_encoder_decoder
    assert model_files(file) == [file]  # the fingerprint is the file's content
    assert is_gguf_path("a/B.GGUF") and not is_gguf_path("a/model")


def test_an_unsupported_architecture_is_named(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "r.gguf", "rwkv6")
    with pytest.raises(
        ConfigurationError,
        match=r"--llm-model: .*r.gguf holds a 'rwkv6' model, an architecture "
        r"transformers cannot load from GGUF \(supported: .*llama.*\)",
    ):
        inspect_model_folder(str(file))


def test_an_unsupported_quantisation_is_named(tmp_path: Path) -> None:
    file = write_gguf(tmp_path / "q.gguf", "llama", "Q8_1")
    with pytest.raises(
        ConfigurationError,
        match=r"q.gguf uses the quantisation Q8_1, which the gguf package "
        r"cannot dequantise; export the model with another quantisation",
    ):
        inspect_gguf(file, "--llm-judge-model")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04 a zip", r"x.gguf is not a GGUF file \(it starts with b'PK\\x03\\x04', not b'GGUF'\)"),
        (b"GGUF\x03\x00", "cannot read the GGUF file .*x.gguf"),
    ],
)
def test_a_file_that_is_not_gguf_or_is_damaged(tmp_path: Path, content: bytes, message: str) -> None:
    file = tmp_path / "x.gguf"
    file.write_bytes(content)
    with pytest.raises(ConfigurationError, match=message):
        inspect_gguf(file)


def test_missing_paths_and_folders(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--llm-model: .*nope.gguf does not exist"):
        inspect_gguf(tmp_path / "nope.gguf")
    (tmp_path / "dir.gguf").mkdir()
    with pytest.raises(ConfigurationError, match="dir.gguf is a folder, not a GGUF file"):
        inspect_gguf(tmp_path / "dir.gguf")

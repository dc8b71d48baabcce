"""GGUF files (llama.cpp, Ollama exports) as models under test.

``--llm-model=path/to/model.gguf`` loads the file through transformers (weights dequantised to the
requested dtype, float32 by default; tokenizer and chat template from the file's metadata). Loading
dequantises every tensor, so ``llmeval import-gguf FILE OUT_DIR`` writes a normal model folder once
(:func:`import_gguf`) that later sessions load in seconds.

What is checked up front (:func:`inspect_gguf`, reading the header only): the file is GGUF, its
architecture is one transformers can load from GGUF, and every tensor type is one the ``gguf``
package can dequantise. Anything else is a ConfigurationError naming it (exit 4 under pytest).
The ``gguf`` package is an extra: ``pip install 'pytest-llmeval[gguf]'``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmeval.errors import ConfigurationError

__all__ = [
    "GGUF_SOURCE_FILE",
    "GgufFile",
    "import_gguf",
    "inspect_gguf",
    "is_gguf_path",
    "load_gguf",
]

GGUF_SOURCE_FILE = "llmeval-gguf-source.json"  # written by import_gguf: which file the folder came from
_MAGIC = b"GGUF"
_INSTALL = "pip install 'pytest-llmeval[gguf]'"
# Tensor types stored unquantised; the quantised ones are those the gguf package can dequantise.
_PLAIN_TYPES = frozenset({"F32", "F16", "BF16"})


def is_gguf_path(path: str | Path | None) -> bool:
    """Whether ``--llm-model`` names a GGUF file (by its suffix)."""
    return path is not None and str(path).lower().endswith(".gguf")


@dataclass(frozen=True)
class GgufFile:
    """What a GGUF file's header says about it."""

    path: Path
    architecture: str
    tensor_types: frozenset[str]
    chat_template: str | None
    name: str | None

    @property
    def file_type(self) -> str:
        """The quantisation in a word: the non-float tensor types (``Q4_1+Q8_0``), or ``F32``."""
        quantised = sorted(self.tensor_types - _PLAIN_TYPES)
        return "+".join(quantised or sorted(self.tensor_types))


def _gguf_module(what: str) -> Any:
    try:
        import gguf
    except ImportError:
        raise ConfigurationError(f"{what}: reading a GGUF file needs the gguf package; {_INSTALL}") from None
    return gguf


def supported_architectures() -> frozenset[str]:
    """GGUF architectures transformers loads (its GGUF_SUPPORTED_ARCHITECTURES)."""
    from transformers.modeling_gguf_pytorch_utils import GGUF_SUPPORTED_ARCHITECTURES

    return frozenset(GGUF_SUPPORTED_ARCHITECTURES) - {"general", "tokenizer"}


def supported_tensor_types() -> frozenset[str]:
    """Tensor types the gguf package can dequantise, and the plain float types."""
    from gguf.quants import _type_traits

    return _PLAIN_TYPES | {kind.name for kind in _type_traits}


def _field_text(reader: Any, key: str) -> str | None:
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.contents()
    return value if isinstance(value, str) else None


def inspect_gguf(path: str | Path, what: str = "--llm-model") -> GgufFile:
    """Check that ``path`` is a GGUF file transformers can load; raise ConfigurationError naming the
    option, the path and the unsupported architecture or tensor types."""
    file = Path(path)
    if not file.exists():
        raise ConfigurationError(f"{what}: {file} does not exist")
    if not file.is_file():
        raise ConfigurationError(f"{what}: {file} is a folder, not a GGUF file")
    with file.open("rb") as handle:
        magic = handle.read(4)
    if magic != _MAGIC:
        raise ConfigurationError(f"{what}: {file} is not a GGUF file (it starts with {magic!r}, not {_MAGIC!r})")
    stat = file.stat()
    return _inspect(str(file.resolve()), stat.st_size, stat.st_mtime_ns, what)


@functools.lru_cache(maxsize=8)
def _inspect(path: str, size: int, mtime_ns: int, what: str) -> GgufFile:
    # Memoised by (path, size, mtime): start-up asks more than once, and reading a header maps every
    # tensor (seconds on a busy machine).
    del size, mtime_ns
    gguf = _gguf_module(what)
    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # gguf raises many kinds for a truncated or damaged file
        raise ConfigurationError(f"{what}: cannot read the GGUF file {path}: {type(exc).__name__}: {exc}") from None
    architecture = _field_text(reader, "general.architecture") or "unknown"
    types = frozenset(t.tensor_type.name for t in reader.tensors)
    archs = supported_architectures()
    if architecture not in archs:
        raise ConfigurationError(
            f"{what}: {path} holds a {architecture!r} model, an architecture transformers cannot load "
            f"from GGUF (supported: {', '.join(sorted(archs))})"
        )
    unsupported = sorted(types - supported_tensor_types())
    if unsupported:
        raise ConfigurationError(
            f"{what}: {path} uses the quantisation {', '.join(unsupported)}, which the gguf package "
            "cannot dequantise; export the model with another quantisation (Q8_0, Q4_K_M, F16 ...)"
        )
    return GgufFile(
        path=Path(path),
        architecture=architecture,
        tensor_types=types,
        chat_template=_field_text(reader, "tokenizer.chat_template"),
        name=_field_text(reader, "general.name"),
    )


def load_gguf(path: str | Path, dtype: Any, what: str = "--llm-model") -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a GGUF file: weights dequantised into ``dtype`` (a torch dtype or
    "auto", which means float32 here: the file's quantised types have no torch equivalent)."""
    import torch
    import transformers
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
    )

    transformers.utils.logging.disable_progress_bar()  # "Converting and de-quantizing GGUF tensors"
    file = inspect_gguf(path, what).path
    folder, name = str(file.parent), file.name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)
            config = AutoConfig.from_pretrained(folder, gguf_file=name, local_files_only=True)
            auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
            model = auto.from_pretrained(
                folder, gguf_file=name, dtype=torch.float32 if dtype == "auto" else dtype, local_files_only=True
            )
        except Exception as exc:  # any loading failure is a bad --llm-model
            raise ConfigurationError(f"{what}: cannot load the GGUF file {file}: {type(exc).__name__}: {exc}") from None
    return model, tokenizer


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def import_gguf(path: str | Path, out_dir: str | Path) -> Path:
    """Write the GGUF file's model as a normal Hugging Face folder (float32 safetensors, config,
    tokenizer with its chat template) into ``out_dir``, plus :data:`GGUF_SOURCE_FILE` naming the file
    and its sha256. transformers will not ``save_pretrained`` a model loaded from GGUF (it is marked
    quantised), so the weights go into a fresh model of the same config without that mark."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    source = inspect_gguf(path, "import-gguf")
    target = Path(out_dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigurationError(f"import-gguf: {target} exists and is not an empty folder; give a new folder")
    model, tokenizer = load_gguf(source.path, "auto", "import-gguf")
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    fresh = auto.from_config(config)
    missing, unexpected = fresh.load_state_dict(model.state_dict(), strict=False)
    # Tied weights (lm_head = embeddings) are legitimately absent from the state dict's keys.
    untied = [key for key in missing if not key.endswith("lm_head.weight")]
    if untied or unexpected:
        raise ConfigurationError(
            f"import-gguf: the weights of {source.path} do not fit a fresh {type(fresh).__name__} "
            f"(missing {untied[:3]}, unexpected {list(unexpected)[:3]})"
        )
    fresh.generation_config = model.generation_config
    target.mkdir(parents=True, exist_ok=True)
    fresh.save_pretrained(target)
    tokenizer.save_pretrained(target)
    record = {
        "gguf": source.path.name,
        "sha256": file_sha256(source.path),
        "architecture": source.architecture,
        "quantisation": source.file_type,
    }
    (target / GGUF_SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return target

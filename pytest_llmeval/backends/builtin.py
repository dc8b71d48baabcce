"""The built-in backends: local Hugging Face folders (any path), Python callables (``py:``) and models
served over the OpenAI protocol (``openai:``).

Each function here is cheap at import: torch and transformers load inside the HF functions, when
called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmeval.backends.base import format_count
from pytest_llmeval.backends.registry import BackendSpec, register_backend
from pytest_llmeval.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pytest_llmeval.backends.base import Backend, GenerationRequest
    from pytest_llmeval.fingerprint import FileHashMemo
    from pytest_llmeval.settings import Settings


# -- Hugging Face folders -------------------------------------------------------------------------


def _hf_validate(settings: Settings, model: str, what: str, cwd: Path) -> None:
    from pytest_llmeval.backends.hf import inspect_adapter_folder, inspect_model_folder, prefer_passive_openmp

    prefer_passive_openmp()  # now, before a conftest or fixture imports torch
    inspect_model_folder(model, what=what)
    if what == "--llm-model" and settings.adapter and model.lower().endswith(".gguf"):
        raise ConfigurationError(
            "--llm-adapter applies to a model folder, not a GGUF file: write the folder once with "
            f"llmeval import-gguf {model} OUT_DIR and pass OUT_DIR as --llm-model"
        )
    if what == "--llm-model" and settings.adapter:
        inspect_adapter_folder(settings.adapter)


def _hf_describe(settings: Settings) -> str:
    from pytest_llmeval.backends.hf import inspect_model_folder

    assert settings.model is not None
    folder = inspect_model_folder(settings.model)
    count = folder.count_parameters()
    dtype = settings.dtype
    if dtype == "auto" and folder.config_dtype:
        dtype = f"auto ({folder.config_dtype} in config)"
    parts = [folder.architecture or "unknown architecture"]
    if count is not None:
        parts.append(f"{format_count(count)} parameters")
    parts += [f"device {settings.device}", f"dtype {dtype}"]
    if settings.adapter:
        parts.append(f"adapter {settings.adapter}")
    # What was asked, before the model loads: "auto" is resolved then, and the summary says to what.
    auto = [name for name, value in (("device", settings.device), ("dtype", settings.dtype)) if value == "auto"]
    resolved = f"; {' and '.join(auto)} resolved when it loads" if auto else ""
    return f"{settings.model} ({', '.join(parts)}){resolved}"


def _hf_identity(settings: Settings, cache_folder: Path, memo: FileHashMemo) -> str:
    """The weights, tokenizer and chat template files' hashes, with what else decides an output."""
    from pytest_llmeval.backends.hf import inspect_model_folder
    from pytest_llmeval.fingerprint import fingerprint_files, model_files

    assert settings.model is not None
    roots = [Path(p) for p in (settings.model, settings.adapter) if p]
    fingerprint = fingerprint_files(model_files(*roots), memo, roots)
    dtype = settings.dtype
    if dtype == "auto":
        dtype = f"auto:{inspect_model_folder(settings.model).config_dtype}"
    return f"{fingerprint}|dtype={dtype}|device={settings.device}|chat={settings.chat_template}"


def _hf_run_settings(settings: Settings) -> dict[str, Any]:
    from pytest_llmeval.backends.hf import chat_template_sha256

    assert settings.model is not None
    return {"chat_template_sha256": chat_template_sha256(settings.model)}


def _hf_load(settings: Settings, cwd: Path) -> Backend:
    from pytest_llmeval.backends.hf import HFBackend

    return HFBackend(settings)


def _hf_tokenizer(settings: Settings) -> Any:
    from pytest_llmeval.backends.hf import load_tokenizer

    return load_tokenizer(settings)


# -- Python callables -----------------------------------------------------------------------------


def _callable_validate(settings: Settings, model: str, what: str, cwd: Path) -> None:
    from pytest_llmeval.backends.callable import import_target

    if settings.adapter:
        raise ConfigurationError("--llm-adapter applies to a Hugging Face model, not a py: pipeline")
    import_target(model, cwd)


def _callable_describe(settings: Settings) -> str:
    return f"{settings.model} (Python callable)"


def _callable_load(settings: Settings, cwd: Path) -> Backend:
    from pytest_llmeval.backends.callable import CallableBackend

    assert settings.model is not None
    return CallableBackend(settings.model, cwd)


HF = register_backend(
    BackendSpec(
        name="hf",
        scheme=None,
        load=_hf_load,
        describe=_hf_describe,
        validate=_hf_validate,
        identity=_hf_identity,
        run_settings=_hf_run_settings,
        checks_tokenizer=_hf_tokenizer,
        next_token_scores=True,
        origin=__name__,
    )
)
# A Python pipeline's behaviour depends on code and services no hash of files can see: never cached.
CALLABLE = register_backend(
    BackendSpec(
        name="callable",
        scheme="py",
        load=_callable_load,
        describe=_callable_describe,
        validate=_callable_validate,
        has_tokenizer=False,  # a function returns text only
        next_token_scores=False,
        origin=__name__,
    )
)


# -- served models (OpenAI protocol) --------------------------------------------------------------


def _served(settings: Settings, what: str = "--llm-model") -> Any:
    from pytest_llmeval.backends.openai import ServedModel

    return ServedModel.from_settings(settings, judge=what == "--llm-judge-model")


def _openai_validate(settings: Settings, model: str, what: str, cwd: Path) -> None:
    """The session's first request (GET /models): an unreachable server, an unlisted model or a
    refused key ends the session with exit 4 before any test."""
    from pytest_llmeval.backends.openai import server_info

    if what == "--llm-model" and settings.adapter:
        raise ConfigurationError(
            "--llm-adapter applies to a local Hugging Face model; a served model's adapter is loaded by "
            "its server (e.g. vLLM's --lora-modules), then named as openai:ADAPTER"
        )
    server_info(_served(settings, what))


def _openai_describe(settings: Settings) -> str:
    from pytest_llmeval.backends.openai import REPRODUCIBILITY_NOTE

    served = _served(settings)
    revision = f"revision {served.revision}" if served.revision else "not cached: no --llm-model-revision"
    return f"{served.where} (served model, {revision}; {REPRODUCIBILITY_NOTE})"


def _openai_identity(settings: Settings, cache_folder: Path, memo: FileHashMemo) -> str | None:
    """No weights to hash: the base URL, the model name, the pinned revision and the server's id.
    Without a pinned revision the outputs are not cached: weights redeployed under the same name
    and URL would otherwise be judged by the old weights' cached outputs."""
    from pytest_llmeval.backends.openai import served_identity, server_info

    served = _served(settings)
    if served.revision is None:
        return None
    return served_identity(served, server_info(served))


def _openai_run_settings(settings: Settings) -> dict[str, Any]:
    from pytest_llmeval.backends.openai import REPRODUCIBILITY_NOTE, server_info

    served = _served(settings)
    return {
        "base_url": served.base_url,
        "model_revision": served.revision,
        "server_model_id": server_info(served).reported_id,
        "prompt_endpoint": served.prompt_endpoint,
        "reproducibility": REPRODUCIBILITY_NOTE,
    }


def _openai_load(settings: Settings, cwd: Path) -> Backend:
    from pytest_llmeval.backends.openai import OpenAIBackend

    return OpenAIBackend(_served(settings))


def _openai_location(settings: Settings) -> tuple[Any, ...]:
    return (settings.base_url, settings.api_key_env)


def _openai_check_plan(planned: Sequence[tuple[str, GenerationRequest]]) -> None:
    from pytest_llmeval.backends.openai import refuse_unservable

    refuse_unservable(planned)


# Cached by identity (URL, name, pinned revision, server id); the protocol exposes no tokenizer, and
# whether it gives log-probabilities depends on the server.
OPENAI = register_backend(
    BackendSpec(
        name="openai",
        scheme="openai",
        load=_openai_load,
        describe=_openai_describe,
        validate=_openai_validate,
        identity=_openai_identity,
        run_settings=_openai_run_settings,
        check_plan=_openai_check_plan,
        has_tokenizer=False,
        next_token_scores=None,
        location=_openai_location,
        origin=__name__,
    )
)

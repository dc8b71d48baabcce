"""Backends of the model under test, behind one interface (``base.Backend``)."""

from __future__ import annotations

from pathlib import Path

from pytest_llmeval.backends.base import Backend, format_count
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import Settings

__all__ = ["describe_configured_model", "load_backend", "validate_model_source"]


def validate_model_source(settings: Settings, cwd: Path) -> None:
    """Cheap start-up checks of ``--llm-model``/``--llm-adapter``/``--llm-judge-model`` (no model is
    loaded). Raises ConfigurationError with the path, what is wrong and how to fix it.
    """
    if settings.judge_model is not None:
        from pytest_llmeval.backends.hf import inspect_model_folder

        inspect_model_folder(settings.judge_model, what="--llm-judge-model")
    if settings.model is None:
        if settings.adapter:
            raise ConfigurationError("--llm-adapter needs a base model: give --llm-model too")
        return
    if settings.backend_name == "callable":
        from pytest_llmeval.backends.callable import import_target

        if settings.adapter:
            raise ConfigurationError("--llm-adapter applies to a Hugging Face model, not a py: pipeline")
        import_target(settings.model, cwd)
        return
    from pytest_llmeval.backends.hf import inspect_adapter_folder, inspect_model_folder, prefer_passive_openmp

    prefer_passive_openmp()  # now, before a conftest or fixture imports torch
    inspect_model_folder(settings.model)
    if settings.adapter:
        inspect_adapter_folder(settings.adapter)


def describe_configured_model(settings: Settings) -> str:
    """One line for the report header, from files only (the model itself loads later, if needed)."""
    if settings.model is None:
        return "no --llm-model given; tests that need a model are skipped"
    if settings.backend_name == "callable":
        return f"{settings.model} (Python callable)"
    from pytest_llmeval.backends.hf import inspect_model_folder

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
    return f"{settings.model} ({', '.join(parts)})"


def load_backend(settings: Settings, cwd: Path) -> Backend:
    """Load the model under test. Raises ConfigurationError when it cannot be loaded."""
    if settings.model is None:
        raise ConfigurationError("no --llm-model given")
    if settings.backend_name == "callable":
        from pytest_llmeval.backends.callable import CallableBackend

        return CallableBackend(settings.model, cwd)
    from pytest_llmeval.backends.hf import HFBackend

    return HFBackend(settings)


"""Backends of the model under test, behind one interface (``base.Backend``), chosen through the
backend registry (``registry``): a registered scheme prefix (``py:``) or, for any other value, the
Hugging Face backend of a local folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pytest_llmeval.backends.base import Backend
from pytest_llmeval.backends.registry import BackendSpec, backend_for, backend_names, register_backend
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import Settings

__all__ = [
    "BackendSpec",
    "backend_for",
    "backend_names",
    "describe_configured_model",
    "judge_is_model_under_test",
    "judge_settings",
    "load_backend",
    "register_backend",
    "validate_model_source",
]


def judge_settings(settings: Settings) -> Settings:
    """The settings the judge loads with: its own model, and for a served judge its own server and key
    variable (``--llm-judge-base-url``, default ``--llm-base-url``; ``--llm-judge-api-key-env``)."""
    return replace(
        settings,
        model=settings.judge_model,
        adapter=None,
        chat_template="auto",
        base_url=settings.judge_base_url or settings.base_url,
        api_key_env=settings.judge_api_key_env,
        model_revision=None,
        prompt_endpoint="chat",
    )


def judge_is_model_under_test(settings: Settings) -> bool:
    """Whether ``--llm-judge-model`` names the model under test itself (for a served model: the same
    name on the same server with the same key variable), which then serves both roles."""
    if settings.judge_model is None or settings.judge_model != settings.model:
        return False
    location = backend_for(settings.judge_model).location
    return location(judge_settings(settings)) == location(settings)


def validate_model_source(settings: Settings, cwd: Path) -> None:
    """Cheap start-up checks of ``--llm-model``/``--llm-adapter``/``--llm-judge-model`` (no model is
    loaded). Raises ConfigurationError with the path, what is wrong and how to fix it.
    """
    if settings.judge_model is not None:
        backend_for(settings.judge_model).validate(settings, settings.judge_model, "--llm-judge-model", cwd)
    if settings.model is None:
        if settings.adapter:
            raise ConfigurationError("--llm-adapter needs a base model: give --llm-model too")
        return
    backend_for(settings.model).validate(settings, settings.model, "--llm-model", cwd)


def describe_configured_model(settings: Settings) -> str:
    """One line for the report header, from files only (the model itself loads later, if needed)."""
    if settings.model is None:
        return "no --llm-model given; tests that need a model are skipped"
    return backend_for(settings.model).describe(settings)


def load_backend(settings: Settings, cwd: Path) -> Backend:
    """Load the model under test. Raises ConfigurationError when it cannot be loaded."""
    if settings.model is None:
        raise ConfigurationError("no --llm-model given")
    return backend_for(settings.model).load(settings, cwd)

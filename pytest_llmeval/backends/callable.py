"""Callable backend: ``--llm-model=py:package.module:function`` evaluates a Python pipeline.

The function receives the prompt as a ``str`` (or, for a request with ``messages`` or ``system``, a list
of ``{"role", "content"}`` dicts, system first) and returns the output text. Generation parameters are
passed as keyword arguments when the function declares them (all of them if it takes ``**kwargs``).
It is also how tests script exact outputs.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import Backend, Generation, GenerationParams, GenerationRequest, ModelDescription
from pytest_llmeval.errors import ConfigurationError, GenerationError

__all__ = ["CallableBackend", "import_target"]

PREFIX = "py:"


def import_target(spec: str, cwd: Path | None = None) -> Callable[..., Any]:
    """Import ``py:package.module:attr.path`` and return the callable, or raise ConfigurationError."""
    target = spec.removeprefix(PREFIX)
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigurationError(f"--llm-model {spec}: expected py:package.module:function (a module, a colon, a name)")
    # Like `python -m`, let a module next to the suite be found without installing it.
    if cwd is not None and str(cwd) not in sys.path:
        sys.path.insert(0, str(cwd))
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigurationError(
            f"--llm-model {spec}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}. "
            "Fix: make it importable (installed, or a .py file in the current folder)"
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigurationError(
                f"--llm-model {spec}: module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    if not callable(obj):
        raise ConfigurationError(
            f"--llm-model {spec}: {attr_path!r} is a {type(obj).__name__}, not a callable; "
            "give a function from prompt to text"
        )
    return obj  # type: ignore[no-any-return]


class CallableBackend(Backend):
    name = "callable"

    def __init__(self, spec: str, cwd: Path | None = None) -> None:
        self.spec = spec
        self.function = import_target(spec, cwd)
        self._accepted = self._accepted_keywords(self.function)

    @staticmethod
    def _accepted_keywords(function: Callable[..., Any]) -> set[str] | None:
        """Names of keyword parameters the function declares; None if it takes **kwargs."""
        try:
            params = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            return set()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}

    def describe(self) -> ModelDescription:
        return ModelDescription(backend=self.name, source=self.spec, architecture="Python callable")

    def batch_params(self, params: GenerationParams) -> GenerationParams:
        """The function is called once per request, with that request's ``seed``: seeds may share a batch."""
        return params.model_copy(update={"seed": None}) if params.seed is not None else params

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        __tracebackhide__ = True
        return [self._generate_one(r) for r in requests]

    def _generate_one(self, request: GenerationRequest) -> Generation:
        __tracebackhide__ = True
        given = request.params.model_dump(exclude_defaults=True)
        given.setdefault("max_new_tokens", request.params.max_new_tokens)
        kwargs = {k: v for k, v in given.items() if self._accepted is None or k in self._accepted}
        prompt: Any = request.chat() if request.is_chat else request.prompt
        started = time.perf_counter()
        try:
            text = self.function(prompt, **kwargs)
        except Exception as exc:
            raise GenerationError(f"{self.spec} raised {type(exc).__name__}: {exc}") from exc
        latency = time.perf_counter() - started
        if not isinstance(text, str):
            raise GenerationError(
                f"{self.spec} returned {type(text).__name__}, expected the output text (str): {text!r:.200}"
            )
        # A plain function returns text only: whether it stopped at a token limit is not known.
        return Generation(text, request=request, num_tokens=None, finish_reason="unknown", latency_s=latency)

"""The backend registry: which backend serves a ``--llm-model`` value.

A value with a registered scheme prefix (``py:pkg.mod:fn``) goes to that scheme's backend; any other
value is a local path, served by the Hugging Face backend. Third parties register a backend with
``register_backend`` or through the ``pytest_llmeval.backends`` entry-point group (an entry names a
module that registers on import, a function called with no arguments, or a ``BackendSpec``).

This module is light (no torch, no transformers): ``settings.py`` asks it how to read a model value.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmeval.errors import ConfigurationError

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Backend, GenerationRequest
    from pytest_llmeval.fingerprint import FileHashMemo
    from pytest_llmeval.settings import Settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendSpec",
    "backend_for",
    "backend_names",
    "register_backend",
    "scheme_of",
]

ENTRY_POINT_GROUP = "pytest_llmeval.backends"
_SCHEME = re.compile(r"^([a-z][a-z0-9_+.-]*):")


def _no_validation(settings: Settings, model: str, what: str, cwd: Path) -> None:
    return None


def _not_cached(settings: Settings, cache_folder: Path, memo: FileHashMemo) -> str | None:
    return None


def _no_run_settings(settings: Settings) -> dict[str, Any]:
    return {}


def _named_by_value_alone(settings: Settings) -> tuple[Any, ...]:
    return ()


@dataclass(frozen=True)
class BackendSpec:
    """How one kind of model is checked, described, identified and loaded.

    - ``scheme``: the ``--llm-model`` prefix (``"py"`` for ``py:...``), or None for local paths.
    - ``load(settings, cwd)``: the loaded ``Backend`` (raise ConfigurationError when it cannot load).
    - ``validate(settings, model, what, cwd)``: cheap start-up checks of ``model`` given as option
      ``what`` (no loading); raise ConfigurationError naming the problem.
    - ``describe(settings)``: one line for the report header, from files only.
    - ``identity(settings, cache_folder, memo)``: what identifies the model's outputs in the
      generation cache (a fingerprint), or None when its outputs must never be cached.
    - ``run_settings(settings)``: extra facts recorded with every run (e.g. a chat template hash).
    - ``check_plan(planned)``: refuse, before any test runs, the planned ``(node id, request)``
      pairs this backend cannot serve (raise ConfigurationError naming them); None: all servable.
    - ``checks_tokenizer(settings)``: the tokenizer token-based checks use, loaded without the
      model, or None (then the loaded backend's ``tokenizer``).
    - ``has_tokenizer``: False when the model has no tokenizer at all (a Python callable, a served
      model): token-based checks then skip their token signals (``not_garbled``'s fragmentation) or
      say that a token count needs one, instead of failing on the lookup.
    - ``next_token_scores``: True when the backend always gives next-token log-probabilities (a
      judge on it scores by them, known without loading it), False when it never does (a judge reads
      scores from text); None when it depends on the loaded model (a served model: on its server),
      which is then asked, and a judge records the answer in the run's settings (``judge_scoring``).
    - ``location(settings)``: the settings besides the model value that decide which model the value
      names (a served model: its base URL and key variable), or ``()`` when the value alone does; a
      judge named like the model under test is that model only when the locations match.
    """

    name: str
    scheme: str | None
    load: Callable[[Settings, Path], Backend]
    describe: Callable[[Settings], str]
    validate: Callable[[Settings, str, str, Path], None] = _no_validation
    identity: Callable[[Settings, Path, FileHashMemo], str | None] = _not_cached
    run_settings: Callable[[Settings], dict[str, Any]] = _no_run_settings
    checks_tokenizer: Callable[[Settings], Any] | None = None
    check_plan: Callable[[Sequence[tuple[str, GenerationRequest]]], None] | None = None
    has_tokenizer: bool = True
    next_token_scores: bool | None = None
    location: Callable[[Settings], tuple[Any, ...]] = _named_by_value_alone
    origin: str = ""


_BY_NAME: dict[str, BackendSpec] = {}
_BY_SCHEME: dict[str | None, BackendSpec] = {}
_lock = threading.RLock()
_loaded = False


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Add ``spec``. Registering the same name from the same place again replaces it; a name or
    scheme taken by another origin raises ValueError naming both."""
    origin = spec.origin or _caller_module()
    spec = BackendSpec(**{**spec.__dict__, "origin": origin})
    with _lock:
        for taken in (_BY_NAME.get(spec.name), _BY_SCHEME.get(spec.scheme)):
            if taken is not None and taken.origin != origin:
                what = f"backend scheme {spec.scheme!r}" if taken.name != spec.name else f"backend {spec.name!r}"
                raise ValueError(f"{what} is registered twice: by {taken.origin} and by {origin}")
        replaced = _BY_NAME.get(spec.name)
        if replaced is not None and _BY_SCHEME.get(replaced.scheme) is replaced:
            del _BY_SCHEME[replaced.scheme]  # re-registered under a new scheme: the old one no longer routes
        _BY_NAME[spec.name] = spec
        _BY_SCHEME[spec.scheme] = spec
    return spec


def _caller_module() -> str:
    frame = inspect.stack()[2]
    return str(frame.frame.f_globals.get("__name__", "?"))


def _load_builtins_and_entry_points() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        from pytest_llmeval.backends import builtin  # noqa: F401  (registers hf and py:)
        from pytest_llmeval.entry_points import load_entry_points

        def take(loaded: object, where: str) -> bool:
            if not isinstance(loaded, BackendSpec):
                return False
            register_backend(BackendSpec(**{**loaded.__dict__, "origin": loaded.origin or where}))
            return True

        load_entry_points(ENTRY_POINT_GROUP, ConfigurationError, take)


def scheme_of(model: str) -> str | None:
    """The registered scheme ``model`` starts with (``py`` for ``py:x:y``), or None for a path."""
    _load_builtins_and_entry_points()
    match = _SCHEME.match(model)
    if match is None or match.group(1) not in _BY_SCHEME:
        return None
    return match.group(1)


def backend_for(model: str) -> BackendSpec:
    """The backend serving the ``--llm-model`` value ``model``."""
    _load_builtins_and_entry_points()
    return _BY_SCHEME[scheme_of(model)]


def backend_names() -> list[str]:
    """Every registered backend's name."""
    _load_builtins_and_entry_points()
    return sorted(_BY_NAME)

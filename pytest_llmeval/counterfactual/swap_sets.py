"""Swap sets: the categories of aligned terms (shipped ``data/counterfactual_terms.yaml``, the
session's ``--llm-swap-sets`` files and a case's own files), read and checked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pydantic
import yaml


class CounterfactualError(ValueError):
    """A swap-set file or a counterfactual declaration is wrong."""


class _SwapSetModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    case_sensitive: bool = False
    groups: dict[str, list[str]] = pydantic.Field(min_length=2)


class _SwapFileModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    categories: dict[str, _SwapSetModel] = pydantic.Field(min_length=1)


@dataclass(frozen=True)
class SwapSet:
    """One category: groups of aligned terms (``groups[g][i]`` stands for ``groups[h][i]``)."""

    category: str
    groups: dict[str, tuple[str, ...]]
    case_sensitive: bool = False

    def key(self, word: str) -> str:
        return word if self.case_sensitive else word.lower()


def _parse_swap_file(text: str, source: str) -> dict[str, SwapSet]:
    try:
        data = yaml.safe_load(text)
        model = _SwapFileModel.model_validate(data)
    except yaml.YAMLError as exc:
        raise CounterfactualError(f"swap-set file {source}: not valid YAML: {exc}") from None
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CounterfactualError(f"swap-set file {source}: {where}: {err['msg']}") from None
    sets = {}
    for category, spec in model.categories.items():
        lengths = {name: len(terms) for name, terms in spec.groups.items()}
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise CounterfactualError(
                f"swap-set file {source}: category {category!r}: every group needs the same number of terms "
                f"(aligned by position), got {', '.join(f'{n}: {c}' for n, c in lengths.items())}"
            )
        sets[category] = SwapSet(category, {n: tuple(t) for n, t in spec.groups.items()}, spec.case_sensitive)
    return sets


@lru_cache(maxsize=1)
def _shipped() -> dict[str, SwapSet]:
    text = resources.files("pytest_llmeval").joinpath("data/counterfactual_terms.yaml").read_text("utf-8")
    return _parse_swap_file(text, "data/counterfactual_terms.yaml")


_session_swap_files: tuple[str, ...] = ()


def set_session_swap_files(files: Iterable[str | Path]) -> None:
    """The session's swap-set files (``--llm-swap-sets``): every :func:`load_swap_sets` call adds
    them after the shipped categories and before its own ``files``, so they reach every
    counterfactual check of the session (case files' ``counterfactual:`` and ``assert_counterfactual``).
    Each file is read and checked here: a bad one raises :class:`CounterfactualError`."""
    global _session_swap_files
    chosen = tuple(str(f) for f in files)
    _session_swap_files = ()
    load_swap_sets(chosen)
    _session_swap_files = chosen


def load_swap_sets(files: Iterable[str | Path] = (), *, replace_shipped: bool = False) -> dict[str, SwapSet]:
    """The shipped categories (unless ``replace_shipped``), the session's files
    (:func:`set_session_swap_files`) and ``files``; a category of a later file replaces one of the
    same name."""
    sets = {} if replace_shipped else dict(_shipped())
    for file in [*_session_swap_files, *files]:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CounterfactualError(f"swap-set file {path}: cannot read it: {exc}") from None
        sets.update(_parse_swap_file(text, str(path)))
    return sets

"""Closing the session releases every model it loaded: the model under test and a separate judge
(both hold weights that were frozen out of the garbage collector's reach at load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.settings import Settings


class _Backend:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class _Loaded:
    def __init__(self) -> None:
        self.loaded = True
        self.backend = _Backend()


def test_close_releases_the_model_and_a_separate_judge(tmp_path: Path) -> None:
    state = LLMEvalSession(settings=Settings(model="m", judge_model="j"), cwd=tmp_path, rootpath=tmp_path)
    model, judge = _Loaded(), _Loaded()
    state.model, state.judge = model, judge  # type: ignore[assignment]
    state.judge_instance = object()  # type: ignore[assignment]
    state.close()
    assert model.backend.closed and judge.backend.closed
    assert (state.model, state.judge, state.judge_instance) == (None, None, None)


def test_an_unloaded_judge_is_not_loaded_to_be_closed(tmp_path: Path) -> None:
    state = LLMEvalSession(settings=Settings(model="m", judge_model="j"), cwd=tmp_path, rootpath=tmp_path)
    judge: Any = _Loaded()
    judge.loaded = False
    state.judge = judge
    state.close()
    assert not judge.backend.closed and state.judge is None

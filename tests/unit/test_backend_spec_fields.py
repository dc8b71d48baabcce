"""A backend's behaviour in the engine, the judge and the run record comes from its ``BackendSpec``
fields, never from its name: a third-party backend that declares the same fields as a built-in one
behaves the same."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends import judge_is_model_under_test
from pytest_llmeval.backends.base import Backend, Generation, GenerationRequest, ModelDescription
from pytest_llmeval.backends.registry import BackendSpec, backend_for, register_backend
from pytest_llmeval.checks import check
from pytest_llmeval.engine import ModelJudge, ModelUnderTest
from pytest_llmeval.harness.run_assembly import assemble_run
from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.settings import Settings


class ServedLikeBackend(Backend):
    """A backend whose server decides whether it gives log-probabilities (like a served model)."""

    name = "unit_served"

    def __init__(self, logprobs: bool) -> None:
        self.logprobs = logprobs

    def describe(self) -> ModelDescription:
        return ModelDescription(backend=self.name, source="unitserved:m")

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [Generation("ok", request=r) for r in requests]

    @property
    def scores_next_tokens(self) -> bool:
        return self.logprobs

    @property
    def judge_scoring(self) -> str:
        return "logprobs (from this server)" if self.logprobs else "text (this server gives none)"


def _never_loaded(settings: Settings, cwd: Path) -> Backend:
    raise AssertionError("the spec answers this without loading the model")


# Declared like the built-in served backend: no tokenizer, scoring decided by the loaded server,
# and a model named by the value together with its base URL.
SERVED_LIKE = register_backend(
    BackendSpec(
        name="unit_served",
        scheme="unitserved",
        load=lambda settings, cwd: ServedLikeBackend(logprobs=False),
        describe=lambda settings: "served-like",
        has_tokenizer=False,
        next_token_scores=None,
        location=lambda settings: (settings.base_url,),
    )
)
# Declared like the built-in local backend: a tokenizer, and always next-token log-probabilities.
LOCAL_LIKE = register_backend(
    BackendSpec(
        name="unit_local",
        scheme="unitlocal",
        load=_never_loaded,
        describe=lambda settings: "local-like",
        checks_tokenizer=lambda settings: None,
        next_token_scores=True,
    )
)


def test_the_built_in_backends_declare_their_behaviour() -> None:
    hf, callable_, served = backend_for("./folder"), backend_for("py:m:f"), backend_for("openai:m")
    assert (hf.has_tokenizer, hf.next_token_scores) == (True, True)
    assert (callable_.has_tokenizer, callable_.next_token_scores) == (False, False)
    assert (served.has_tokenizer, served.next_token_scores) == (False, None)
    settings = Settings(model="openai:m", base_url="http://a/v1", api_key_env="KEY_A")
    assert served.location(settings) == ("http://a/v1", "KEY_A") and hf.location(settings) == ()


def test_a_custom_backend_without_a_tokenizer_gets_none_for_its_checks() -> None:
    served_like = ModelUnderTest(Settings(model="unitserved:m"), lambda: ServedLikeBackend(logprobs=False))
    assert served_like.checks_tokenizer is None
    local_like = ModelUnderTest(Settings(model="unitlocal:m"), lambda: ServedLikeBackend(logprobs=False))
    assert local_like.checks_tokenizer is not None


def test_a_python_pipeline_has_no_tokenizer_so_not_garbled_skips_fragmentation() -> None:
    """Before the spec field, a ``py:`` model made ``not_garbled`` raise "this backend has no tokenizer"."""
    from pytest_llmeval.checks import using_tokenizer

    model = ModelUnderTest(Settings(model="py:m:f"), lambda: ServedLikeBackend(logprobs=False))
    assert model.checks_tokenizer is None
    with using_tokenizer(model.checks_tokenizer):
        result = check("not_garbled", "The quick brown fox jumps over the lazy dog near the river bank.")
    assert result.passed, result.message


def test_a_judge_whose_spec_fixes_its_scoring_answers_without_loading() -> None:
    judge = ModelJudge(ModelUnderTest(Settings(model="unitlocal:j"), lambda: _never_loaded(Settings(), Path())))
    assert judge.fixed_scoring is True
    assert judge.scores_next_tokens is True and judge.scoring == "logprobs"
    assert not judge.model.loaded


@pytest.mark.parametrize("logprobs", [True, False])
def test_a_judge_whose_scoring_depends_on_its_server_asks_it_and_the_run_records_it(
    tmp_path: Path, logprobs: bool
) -> None:
    judge = ModelJudge(ModelUnderTest(Settings(model="unitserved:j"), lambda: ServedLikeBackend(logprobs)))
    assert judge.fixed_scoring is None
    assert judge.scores_next_tokens is logprobs and judge.model.loaded  # asked the loaded backend
    state = LLMEvalSession(Settings(model="unitserved:m"), cwd=tmp_path, rootpath=tmp_path)
    state.judge_instance = judge
    expected = "logprobs (from this server)" if logprobs else "text (this server gives none)"
    assert assemble_run(state).settings["judge_scoring"] == expected


def test_a_judge_with_fixed_scoring_is_not_recorded_in_the_run(tmp_path: Path) -> None:
    class Loaded(ServedLikeBackend):
        pass

    judge = ModelJudge(ModelUnderTest(Settings(model="unitlocal:j"), lambda: Loaded(logprobs=True)))
    judge.model.backend  # noqa: B018  (loaded, yet its kind always scores by log-probabilities)
    state = LLMEvalSession(Settings(model="unitserved:m"), cwd=tmp_path, rootpath=tmp_path)
    state.judge_instance = judge
    assert "judge_scoring" not in assemble_run(state).settings


@pytest.mark.parametrize(
    ("judge_base_url", "same"),
    [(None, True), ("http://a/v1", True), ("http://b/v1", False)],
)
def test_a_judge_named_like_the_model_is_it_only_at_the_same_location(judge_base_url: Any, same: bool) -> None:
    settings = Settings(
        model="unitserved:m", judge_model="unitserved:m", base_url="http://a/v1", judge_base_url=judge_base_url
    )
    assert judge_is_model_under_test(settings) is same
    # a backend whose value alone names the model: the same value is the same model
    local = Settings(
        model="unitlocal:m", judge_model="unitlocal:m", base_url="http://a/v1", judge_base_url="http://b/v1"
    )
    assert judge_is_model_under_test(local) is True

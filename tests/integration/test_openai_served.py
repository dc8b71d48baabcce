"""Against a real OpenAI-compatible server: ``transformers serve`` on 127.0.0.1, serving the tiny
chat model the other tests load in-process. Served greedy outputs must equal the local backend's."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the served-model tests need transformers[serving] (FastAPI, uvicorn)")
pytest.importorskip("uvicorn", reason="the served-model tests need transformers[serving] (FastAPI, uvicorn)")

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.backends.hf import HFBackend
from pytest_llmeval.backends.openai import OpenAIBackend, ServedModel, _probes
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.errors import GenerationError
from pytest_llmeval.metrics.judge import (
    JudgeParseError,
    build_judge_prompt,
    parse_primed_score,
    reply_with_prefix,
)
from pytest_llmeval.settings import Settings

from .openai_fakes import TransformersServe

PROMPTS = ["How do I reset my password?", "Your order ships", "hello"]
CHAT = [{"role": "user", "content": "Sentiment of: the food was cold"}]


@pytest.fixture(scope="session")
def served_tiny_chat(tiny_llama_chat: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersServe]:
    """``transformers serve`` pinned to the tiny chat model, for the whole session, stopped after.

    A copy whose context is 1024 positions (rotary positions: the same weights), so a judge prompt
    (about 270 tokens with this tokenizer) and its answer fit."""
    if shutil.which("transformers") is None and not (Path(sys.executable).with_name("transformers")).exists():
        pytest.skip("the transformers CLI is not installed")
    folder = tmp_path_factory.mktemp("served") / "llama-chat-1k"
    shutil.copytree(tiny_llama_chat, folder)
    config = json.loads((folder / "config.json").read_text())
    config["max_position_embeddings"] = 1024
    (folder / "config.json").write_text(json.dumps(config))
    server = TransformersServe(folder, tmp_path_factory.mktemp("serve") / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fresh_probes() -> Iterator[None]:
    _probes.clear()
    yield
    _probes.clear()


def served_settings(server: TransformersServe, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "model": f"openai:{server.model}",
        "base_url": server.base_url,
        "max_new_tokens": 10,
        "request_retries": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def resolved(settings: Settings, requests: list[GenerationRequest]) -> list[GenerationRequest]:
    model = ModelUnderTest(settings, lambda: None)  # type: ignore[arg-type,return-value]
    return [model.resolve(r) for r in requests]


def local_outputs(model_path: Path, requests: list[GenerationRequest]) -> list[str]:
    backend = HFBackend(Settings(model=str(model_path), device="cpu", max_new_tokens=10))
    try:
        return [backend.generate_batch([r])[0].text for r in resolved(backend.settings, requests)]
    finally:
        backend.close()


def test_served_greedy_outputs_equal_the_local_backends(served_tiny_chat: TransformersServe) -> None:
    requests = [build_request(prompt=p) for p in PROMPTS]
    requests += [build_request(messages=CHAT), build_request(prompt="hi", system="Answer briefly.")]
    settings = served_settings(served_tiny_chat)
    backend = OpenAIBackend(ServedModel.from_settings(settings))
    try:
        served = backend.generate_batch(resolved(settings, requests))
        described = backend.describe().summary()
    finally:
        backend.close()
    expected = local_outputs(served_tiny_chat.model, requests)
    assert [g.text for g in served] == expected
    assert all(g.text for g in served)  # a random model still writes something; equality is not vacuous
    assert {g.finish_reason for g in served} <= {"stop", "length"}
    assert all(g.num_tokens is not None and 0 < g.num_tokens <= 10 for g in served)
    assert f"server model id {served_tiny_chat.model}" in described


def test_a_served_suite_matches_the_local_model_under_xdist(
    pytester: pytest.Pytester, served_tiny_chat: TransformersServe
) -> None:
    """A suite whose expected outputs are the in-process backend's, run on the server with -n 2."""
    prompts = [f"{p} ({i})" for i in range(2) for p in PROMPTS]
    expected = local_outputs(served_tiny_chat.model, [build_request(prompt=p) for p in prompts])
    pytester.makepyfile(
        f"""
        import pytest

        CASES = {json.dumps(list(zip(prompts, expected, strict=True)))}

        @pytest.mark.parametrize(("prompt", "expected"), CASES)
        def test_same_as_local(llm, prompt, expected):
            assert llm.generate(prompt).text == expected
        """
    )
    result = pytester.runpytest_subprocess(
        f"--llm-model=openai:{served_tiny_chat.model}",
        f"--llm-base-url={served_tiny_chat.base_url}",
        "--llm-max-new-tokens=10",
        "--llm-concurrency=2",
        "--llm-model-revision=tiny",
        "-n",
        "2",
        "-p",
        "xdist",
    )
    result.assert_outcomes(passed=len(prompts))
    # the workers' outputs reach the controller's cache under the served identity
    result.stdout.fnmatch_lines([f"cache: {len(prompts)} new outputs saved to *cache.db"])


def test_the_judge_runs_on_the_server_in_text_mode(
    pytester: pytest.Pytester, served_tiny_chat: TransformersServe
) -> None:
    """transformers serve returns no logprobs, so the judge reads text: the verdict must be the one the
    local model's answer to the same judge prompt gives (a score read from it, or no score at all)."""
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: graded
            prompt: hello
            expect:
              judge: {rubric: "Is it polite?", min_score: 5}
        """,
    )
    answer = local_outputs(served_tiny_chat.model, [build_request(prompt="hello")])[0]
    # what ModelJudge asks in text mode: the judge prompt's messages and its reply so far ("Score:").
    # transformers serve does not continue a last assistant message: it opens a new reply after it,
    # as the local backend does for such a chat, and the judge's reply is read after the prefix.
    judge_prompt = build_judge_prompt("Is it polite?", answer, prompt="hello")
    primed = [*judge_prompt.chat(), {"role": "assistant", "content": judge_prompt.reply_prefix}]
    judge_request = build_request(messages=primed, max_new_tokens=64)
    judge_answer = reply_with_prefix(
        judge_prompt.reply_prefix, local_outputs(served_tiny_chat.model, [judge_request])[0]
    )
    try:
        expected = f"*score {parse_primed_score(judge_answer)} < min 5 *"
    except JudgeParseError:
        expected = "*could not read the judge's answer: *"
    result = pytester.runpytest(
        f"--llm-model=openai:{served_tiny_chat.model}",
        f"--llm-base-url={served_tiny_chat.base_url}",
        f"--llm-judge-model=openai:{served_tiny_chat.model}",
        "--llm-max-new-tokens=10",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([expected, "*judge scoring text (the server returned no logprobs*"])


def test_perplexity_is_not_available_on_a_server_without_prompt_logprobs(served_tiny_chat: TransformersServe) -> None:
    backend = OpenAIBackend(ServedModel.from_settings(served_settings(served_tiny_chat)))
    try:
        with pytest.raises(GenerationError, match=r"^perplexity is not available for this backend: "):
            backend.perplexity(["The quick brown fox."])
    finally:
        backend.close()

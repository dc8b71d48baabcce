from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import (
    Backend,
    Generation,
    GenerationParams,
    GenerationRequest,
    ModelDescription,
)
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.errors import (
    BatchTooLargeError,
    GenerationError,
    GenerationParameterError,
)
from pytest_llmeval.settings import Settings


class EchoBackend(Backend):
    """Answers with the prompt reversed and remembers the batches it was given."""

    name = "echo"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def describe(self) -> ModelDescription:
        return ModelDescription(backend="echo", source="echo")

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        assert len({r.params for r in requests}) == 1, "a batch must share its parameters"
        self.batches.append([r.display_prompt() for r in requests])
        return [
            Generation(r.display_prompt()[::-1], request=r, num_tokens=3, finish_reason="length", latency_s=0.5)
            for r in requests
        ]


def make(batch_size: int = 2) -> tuple[ModelUnderTest, EchoBackend]:
    backend = EchoBackend()
    return ModelUnderTest(Settings(model="x", batch_size=batch_size, max_new_tokens=9), lambda: backend), backend


def test_generate_many_keeps_order_and_batches_by_length() -> None:
    model, backend = make(batch_size=2)
    prompts = ["ccc", "a", "bbbb", "dd"]
    outputs = model.generate_many(prompts)
    assert [o.text for o in outputs] == [p[::-1] for p in prompts]
    assert backend.batches == [["a", "dd"], ["ccc", "bbbb"]]


def test_identical_requests_are_generated_once() -> None:
    model, backend = make(batch_size=8)
    outputs = model.generate_many(["same", "other", "same"])
    assert sum(len(b) for b in backend.batches) == 2
    assert outputs[0] is outputs[2]


def test_different_parameters_never_share_a_batch() -> None:
    model, backend = make(batch_size=8)
    model.generate_many(["a", "b"], max_new_tokens=3)
    model.generate_many(["c"], max_new_tokens=4)
    model.run([build_request(prompt="d", max_new_tokens=3), build_request(prompt="e", max_new_tokens=4)])
    assert backend.batches == [["a", "b"], ["c"], ["d"], ["e"]]


def test_session_defaults_fill_unset_parameters() -> None:
    model, _ = make()
    assert model.generate("x").request.params.max_new_tokens == 9
    assert model.generate("x", max_new_tokens=2).request.params.max_new_tokens == 2


def test_seed_applies_only_to_sampling() -> None:
    backend = EchoBackend()
    model = ModelUnderTest(Settings(model="x", seed=7), lambda: backend)
    assert model.generate("x").request.params.seed is None
    assert model.generate("x", do_sample=True).request.params.seed == 7


def test_stop_sequences_cut_the_output() -> None:
    model, _ = make()
    output = model.generate("abc. def", stop=[" .", "xx"])
    assert output.text == "fed"
    assert output.finish_reason == "stop"
    assert model.generate("abc", stop="zz").finish_reason == "length"


def test_generation_is_its_text() -> None:
    model, _ = make()
    chat = model.generate("olleh", system="be brief")
    assert chat.prompt == "system: be brief\nuser: olleh"
    plain = model.generate("olleh")
    assert plain == "hello" and str(plain) == "hello" and "ell" in plain
    assert type(str(plain)) is str
    assert (plain.prompt, plain.num_tokens, plain.finish_reason, plain.latency_s) == ("olleh", 3, "length", 0.5)
    assert pickle.loads(pickle.dumps(plain)).request == plain.request
    assert "num_tokens=3" in repr(plain)


def test_chat_requests_show_every_message() -> None:
    request = build_request(messages=[{"role": "user", "content": "hi"}], system="sys")
    assert request.chat() == [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
    assert request.display_prompt() == "system: sys\nuser: hi"


def test_on_generation_sees_every_output() -> None:
    seen: list[str] = []
    backend = EchoBackend()
    model = ModelUnderTest(Settings(model="x"), lambda: backend, on_generation=lambda g: seen.append(g.text))
    model.generate_many(["ab", "ab", "cd"])
    assert seen == ["ba", "ba", "dc"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"prompt": "x", "max_tokens": 5},
            "unknown generation parameter 'max_tokens' (did you mean 'max_new_tokens'?)",
        ),
        ({"prompt": "x", "temperature": "hot"}, "generation parameter 'temperature': Input should be a valid number"),
        (
            {"prompt": "x", "max_new_tokens": 0},
            "generation parameter 'max_new_tokens': Input should be greater than or equal to 1",
        ),
        ({"prompt": "x", "top_p": 2.0}, "generation parameter 'top_p'"),
        ({}, "give exactly one of prompt=... or messages=[...]"),
        ({"prompt": "x", "messages": [{"role": "user", "content": "y"}]}, "give exactly one of"),
        ({"prompt": 3}, "prompt must be a string, got int"),
        ({"messages": "hi"}, "messages must be a non-empty list"),
        ({"messages": [{"role": "user"}]}, "messages[0] must be a dict with exactly 'role' and 'content'"),
        ({"prompt": "x", "system": ["s"]}, "system must be a string, got list"),
    ],
)
def test_bad_requests_are_explained(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GenerationParameterError) as info:
        build_request(**kwargs)
    assert message in str(info.value)


def test_parameters_accept_what_people_write() -> None:
    params = GenerationParams.from_mapping({"temperature": 1, "stop": "\n", "do_sample": True})
    assert params.temperature == 1.0 and params.stop == ("\n",)
    with pytest.raises(GenerationParameterError, match="do_sample"):
        GenerationParams.from_mapping({"do_sample": "yes"})


class SmallMemoryBackend(EchoBackend):
    """Runs out of memory on batches larger than two."""

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if len(requests) > 2:
            raise BatchTooLargeError(f"{len(requests)} prompts")
        return super().generate_batch(requests)


def test_a_batch_that_runs_out_of_memory_is_halved() -> None:
    backend = SmallMemoryBackend()
    model = ModelUnderTest(Settings(model="x", batch_size=8), lambda: backend)
    prompts = [f"p{i}" for i in range(7)]
    assert [o.text for o in model.generate_many(prompts)] == [p[::-1] for p in prompts]
    assert max(len(b) for b in backend.batches) <= 2


def test_one_prompt_that_does_not_fit_is_an_error() -> None:
    class NoMemory(EchoBackend):
        def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
            raise BatchTooLargeError("CUDA out of memory")

    model = ModelUnderTest(Settings(model="x"), lambda: NoMemory())
    with pytest.raises(GenerationError, match="one prompt alone does not fit in memory: CUDA out of memory"):
        model.generate("x")


def test_the_backend_loads_only_when_an_output_is_missing() -> None:
    loads: list[int] = []
    backend = EchoBackend()

    class AllCached:
        def lookup(self, requests: Sequence[GenerationRequest]) -> dict[GenerationRequest, Generation]:
            return {
                r: Generation("cached", request=r, num_tokens=1, finish_reason="stop", latency_s=0.0) for r in requests
            }

        def record(self, generation: Generation) -> None:
            raise AssertionError("nothing new to record")

    model = ModelUnderTest(Settings(model="x"), lambda: loads.append(1) or backend, cache=AllCached())
    assert model.generate("a") == "cached" and model.num_cached == 1
    assert not model.loaded and loads == []


class FlakyBackend(EchoBackend):
    """Fails any batch holding the prompt "bad"; numbers its outputs so repeats are visible."""

    calls = 0

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if any(r.prompt == "bad" for r in requests):
            raise GenerationError("the pipeline choked on 'bad'")
        numbered = []
        for output in super().generate_batch(requests):
            FlakyBackend.calls += 1
            numbered.append(
                Generation(
                    f"{output.text}#{FlakyBackend.calls}",
                    request=output.request,
                    num_tokens=1,
                    finish_reason="stop",
                    latency_s=0.0,
                )
            )
        return numbered


def test_one_failing_prompt_fails_only_its_own_request() -> None:
    backend = FlakyBackend()
    model = ModelUnderTest(Settings(model="x", batch_size=8), lambda: backend)
    model.prefetch([build_request(prompt="ok"), build_request(prompt="bad"), build_request(prompt="fine")])
    assert model.generate("ok").text.startswith("ko#")
    assert model.generate("fine").text.startswith("enif#")
    with pytest.raises(GenerationError, match="the pipeline choked on 'bad'"):
        model.generate("bad")


def test_unseeded_sampling_is_generated_every_time_and_seeded_sampling_once() -> None:
    backend = FlakyBackend()
    model = ModelUnderTest(Settings(model="x"), lambda: backend)
    unseeded = {model.generate("x", do_sample=True).text for _ in range(3)}
    assert len(unseeded) == 3
    assert len({o.text for o in model.generate_many(["y", "y"], do_sample=True)}) == 2
    seeded = {model.generate("x", do_sample=True, seed=1).text for _ in range(3)}
    assert len(seeded) == 1


class ScoringBackend(EchoBackend):
    """Counts judge scorings and perplexity computations, so cache hits are visible."""

    def __init__(self) -> None:
        super().__init__()
        self.scored: list[str] = []
        self.perplexities: list[str] = []

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        self.scored += [str(p) for p in prompts]
        return [{"4": -0.5, "5": -1.0, "1": float("-inf")} for _ in prompts]

    def output_perplexity(self, generations: Sequence[Generation]) -> object:
        from pytest_llmeval.metrics.perplexity_scoring import combine_perplexities

        self.perplexities += [g.text for g in generations]
        return combine_perplexities([(float(len(g.text)), 4) for g in generations])


def test_judge_scores_and_output_perplexities_are_kept_in_the_cache(tmp_path: Path) -> None:
    from pytest_llmeval.cache import CachedOutputs, GenerationCache
    from pytest_llmeval.engine import ModelJudge
    from pytest_llmeval.metrics.judge import build_judge_prompt

    store = GenerationCache(tmp_path / "cache.db", writable=True)
    prompt = build_judge_prompt("Be right.", "Paris.", prompt="Capital of France?")

    def session(model_id: str = "fp1") -> tuple[ModelUnderTest, ScoringBackend, CachedOutputs]:
        backend = ScoringBackend()
        cache = CachedOutputs(store, model_id)
        return ModelUnderTest(Settings(model="x"), lambda: backend, cache=cache), backend, cache

    cold, cold_backend, cold_cache = session()
    output = cold.generate("Capital of France?")
    scores = ModelJudge(cold).score_next_token([prompt], ["1", "4", "5"])
    value = cold.output_perplexity([output]).per_text[0]
    assert cold_backend.scored == [str(prompt)] and cold_backend.perplexities == [output.text]
    store.write(cold_cache.take_pending())

    warm, _, _ = session()
    warm_output = warm.generate("Capital of France?")
    assert ModelJudge(warm).score_next_token([prompt], ["1", "4", "5"]) == [{"4": -0.5, "5": -1.0}]
    assert warm.output_perplexity([warm_output]).per_text[0] == pytest.approx(value)
    assert not warm.loaded  # nothing needed the model: outputs, scores and perplexities came from the cache
    assert scores[0]["4"] == -0.5

    other, other_backend, _ = session("fp2")  # another model (fingerprint): nothing is shared
    ModelJudge(other).score_next_token([prompt], ["1", "4", "5"])
    assert other_backend.scored == [str(prompt)]


@pytest.mark.parametrize(
    ("count", "longest", "new", "facts", "expected"),
    [
        (5, 20, 32, None, 5),  # never more than the prompts there are
        (200, 20, 32, None, 64),  # nor the limit
        (200, 300, 64, None, 22),  # 8192 tokens per batch / 364 per prompt
        (200, 20, 32, (1_000_000, 1_000_000_000), 4),  # 25% of 1 GB / (52 tokens x 1 MB)
        (200, 5000, 5000, (10**9, 10**6), 1),  # at least 1
        (0, 0, 0, None, 1),
    ],
)
def test_auto_batch_size(count: int, longest: int, new: int, facts: tuple[int, int] | None, expected: int) -> None:
    from pytest_llmeval.engine import choose_batch_size

    kwargs = {} if facts is None else {"bytes_per_token": facts[0], "free_bytes": facts[1]}
    assert choose_batch_size(count, longest, new, **kwargs) == expected  # type: ignore[arg-type]


def test_auto_batch_size_in_the_engine() -> None:
    backend = EchoBackend()
    model = ModelUnderTest(Settings(model="x", batch_size="auto", max_new_tokens=9), lambda: backend)  # type: ignore[arg-type]
    model.generate_many([f"prompt {i}" for i in range(70)])
    assert [len(b) for b in backend.batches] == [64, 6]  # EchoBackend knows no memory: count and limit

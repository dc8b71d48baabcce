"""The Hugging Face backend on tiny real models: determinism, batching, adapters, chat templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.backends import load_backend
from pytest_llmeval.engine import ModelUnderTest
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import Settings
from pytest_llmeval.testing import build_tiny_model

PROMPTS = [
    "How do I reset my password?",
    "hi",
    "The quick brown fox jumps over the lazy dog near the river bank, twice over.",
    "Sentiment:",
    "Return the user as JSON",
    "Your order ships in two business days",
    "x",
    "Numbers such as 12, 345 and 2024 appear in dates",
    "To change your email address, open Settings",
]


def model_under_test(path: Path, **settings: object) -> ModelUnderTest:
    resolved = Settings(model=str(path), **{"max_new_tokens": 10, **settings})  # type: ignore[arg-type]
    return ModelUnderTest(resolved, lambda: load_backend(resolved, path))


@pytest.mark.parametrize("fixture", ["tiny_gpt2", "tiny_llama_chat", "tiny_t5"])
def test_same_greedy_outputs_at_batch_size_1_and_8(fixture: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(fixture)
    one = model_under_test(path, batch_size=1).generate_many(PROMPTS)
    eight = model_under_test(path, batch_size=8).generate_many(PROMPTS)
    auto_model = model_under_test(path, batch_size="auto", dtype="float32")
    auto = auto_model.generate_many(PROMPTS)
    assert [g.text for g in one] == [g.text for g in eight] == [g.text for g in auto]
    assert [g.num_tokens for g in one] == [g.num_tokens for g in eight]
    assert auto_model.backend.memory_facts() is not None  # the auto size saw the memory
    # A random model rarely stops early, so outputs run to the token limit.
    assert all(g.num_tokens is not None and 0 < g.num_tokens <= 10 for g in one)


def test_causal_model_generates(tiny_gpt2: Path) -> None:
    model = model_under_test(tiny_gpt2)
    output = model.generate("How do I reset my password?", max_new_tokens=5)
    assert output.num_tokens == 5 and output.finish_reason == "length"
    assert output.latency_s > 0
    description = model.backend.describe()
    assert (description.architecture, description.device, description.dtype) == ("GPT2LMHeadModel", "cpu", "float32")
    assert description.num_parameters and description.num_parameters > 10_000


def test_seq2seq_model_generates(tiny_t5: Path) -> None:
    model = model_under_test(tiny_t5)
    output = model.generate("translate: hello", max_new_tokens=4)
    assert output.num_tokens == 4
    assert model.backend.describe().architecture == "T5ForConditionalGeneration"


def test_lora_adapter_is_applied(tiny_gpt2: Path, tiny_gpt2_lora: Path) -> None:
    base = model_under_test(tiny_gpt2).generate_many(PROMPTS)
    adapted_model = model_under_test(tiny_gpt2, adapter=str(tiny_gpt2_lora))
    adapted = adapted_model.generate_many(PROMPTS)
    assert [g.text for g in base] != [g.text for g in adapted]
    assert adapted_model.backend.describe().adapter == str(tiny_gpt2_lora)
    assert type(adapted_model.model).__name__ == "PeftModelForCausalLM"


def test_checkpoint_generation_config_cannot_switch_on_sampling(tmp_path: Path, tiny_gpt2: Path) -> None:
    sampling = build_tiny_model(
        tmp_path / "sampling",
        kind="gpt2",
        generation_config={"do_sample": True, "temperature": 5.0, "repetition_penalty": 3.0},
    )
    plain = model_under_test(tiny_gpt2).generate_many(PROMPTS)
    first = model_under_test(sampling).generate_many(PROMPTS)
    second = model_under_test(sampling).generate_many(PROMPTS)
    # Same seed, same weights: greedy decoding must ignore the shipped sampling settings.
    assert [g.text for g in first] == [g.text for g in plain] == [g.text for g in second]
    extra = model_under_test(sampling).backend.describe().extra
    assert extra["ignored generation_config.json"] == "do_sample, repetition_penalty, temperature"


def test_chat_template_is_used_when_present_and_can_be_turned_off(tiny_llama_chat: Path) -> None:
    auto = model_under_test(tiny_llama_chat)
    assert auto.backend.render(auto.generate("hi").request) == "<|user|>hi\n<|assistant|>"  # type: ignore[attr-defined]
    request = auto.generate("hi", system="be kind").request
    assert auto.backend.render(request) == "<|system|>be kind\n<|user|>hi\n<|assistant|>"  # type: ignore[attr-defined]
    never = model_under_test(tiny_llama_chat, chat_template="never")
    assert never.backend.render(never.generate("hi").request) == "hi"  # type: ignore[attr-defined]
    assert never.backend.render(request) == "system: be kind\nuser: hi\nassistant:"  # type: ignore[attr-defined]


def test_chat_template_always_needs_a_template(tiny_gpt2: Path) -> None:
    with pytest.raises(
        ConfigurationError, match="--llm-chat-template always: the tokenizer of .* has no chat template"
    ):
        _ = model_under_test(tiny_gpt2, chat_template="always").backend  # loading is lazy


def test_explicit_dtype_is_used(tiny_gpt2: Path) -> None:
    model = model_under_test(tiny_gpt2, dtype="bfloat16")
    assert model.backend.describe().dtype == "bfloat16"
    assert model.generate("hi", max_new_tokens=3).num_tokens == 3


def test_cuda_without_cuda_is_a_configuration_error(tiny_gpt2: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(
        ConfigurationError, match=r"--llm-device cuda:0: CUDA is not available here .*use --llm-device cpu or auto"
    ):
        _ = model_under_test(tiny_gpt2, device="cuda:0").backend  # loading is lazy


def test_sampling_with_a_seed_is_repeatable(tiny_gpt2: Path) -> None:
    model = model_under_test(tiny_gpt2, seed=3)
    a = model.generate("hi", do_sample=True, temperature=1.5, max_new_tokens=8)
    b = model.generate("hi", do_sample=True, temperature=1.5, max_new_tokens=8)
    assert a.request.params.seed == 3
    assert a.text == b.text


def test_a_pad_token_is_found_when_the_tokenizer_has_none(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    folder = build_tiny_model(tmp_path / "nopad", kind="gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.pad_token = None
    tokenizer.save_pretrained(folder)
    model = model_under_test(folder)
    assert model.backend.tokenizer.pad_token == "</s>"
    assert len(model.generate_many(["a", "longer prompt here"])) == 2


def test_code_shipped_in_a_model_folder_is_refused_naming_the_flag(tiny_gpt2: Path, tmp_path: Path) -> None:
    # transformers' own words named `trust_remote_code=True` and https://hf.co//<local path>
    import json
    import shutil

    folder = tmp_path / "custom"
    shutil.copytree(tiny_gpt2, folder)
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "shipped_gpt"
    config["auto_map"] = {"AutoConfig": "configuration_shipped.C", "AutoModelForCausalLM": "modeling_shipped.M"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_shipped.py").write_text("raise SystemExit('shipped code ran')\n")
    with pytest.raises(ConfigurationError) as info:
        load_backend(Settings(model=str(folder)), tmp_path)
    assert str(info.value) == (
        f"--llm-model: {folder} ships its own Python code (configuration_shipped.py), which loading this "
        "model would run; it is not run without --llm-trust-remote-code (ini: llm_trust_remote_code = true). "
        "Read that code first: it runs with your permissions"
    )
    assert "hf.co" not in str(info.value)


def test_the_load_summary_says_where_load_time_went(tiny_gpt2: Path) -> None:
    model = model_under_test(tiny_gpt2)
    assert model.load_summary() == ""  # not loaded yet
    model.generate("hello", max_new_tokens=1)
    phases = model.backend.load_phases
    assert list(phases) == ["import", "from_pretrained"]
    assert all(seconds >= 0 for seconds in phases.values())
    assert sum(phases.values()) <= model.load_seconds
    summary = model.load_summary()
    assert summary.startswith(f"model loaded in {model.load_seconds:.2f} s (import ")
    assert summary.endswith(f"from_pretrained {phases['from_pretrained']:.2f} s)")


def test_a_text_mode_judge_continues_the_reply_prefix(demo_model: Path) -> None:
    """Text mode primes the judge's reply with "Score:" as logprobs mode does: the judge continues the
    very text logprobs mode scores, and the score is read from the prefix and its continuation."""
    from pytest_llmeval.engine import ModelJudge
    from pytest_llmeval.metrics.judge import (
        JudgeParseError,
        build_judge_prompt,
        judge_score,
        parse_primed_score,
        reply_with_prefix,
    )

    model = model_under_test(demo_model, dtype="float32")
    judge = ModelJudge(model, max_new_tokens=8)
    prompt = build_judge_prompt(
        "The answer says where to click.", "Click Forgot Password.", prompt="How do I reset it?"
    )
    reply = judge.generate([prompt])[0]
    backend = model.backend
    rendered = backend.render_judge(prompt)  # type: ignore[attr-defined]  # what logprobs mode reads
    assert rendered.rstrip().endswith("<|assistant|>Score:") or rendered.rstrip().endswith("\nScore:")
    tokenizer, torch_model = backend._tokenizer, backend.model  # type: ignore[attr-defined]
    encoded = tokenizer(rendered, return_tensors="pt", add_special_tokens=not backend.use_chat_template)  # type: ignore[attr-defined]
    continued = torch_model.generate(
        **encoded, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id
    )
    continuation = tokenizer.decode(continued[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    assert reply == reply_with_prefix("Score:", continuation) and reply.startswith("Score:")
    assert judge.calls[-1]["reply_prefix"] == "Score:" and judge.calls[-1]["output"] == reply
    try:
        expected: object = parse_primed_score(reply)
    except JudgeParseError as exc:
        expected = type(exc)
    try:
        read: object = judge_score(
            judge, "The answer says where to click.", "Click Forgot Password.", mode="text", prompt="How do I reset it?"
        ).most_likely
    except JudgeParseError as exc:
        read = type(exc)
    assert read == expected


def test_a_loaded_model_is_out_of_the_garbage_collectors_way(tiny_gpt2: Path) -> None:
    """The long-lived objects of torch, transformers and the model are frozen once loaded, so the
    full collections pytest runs at exit do not walk them (benchmarks/speed.py measures the gain)."""
    import gc

    before = gc.get_freeze_count()
    model = model_under_test(tiny_gpt2)
    assert model.generate("hi").text is not None
    assert gc.get_freeze_count() > before


def test_a_closed_model_is_collected_although_it_was_frozen_at_load(tiny_gpt2: Path) -> None:
    """The model is frozen out of the collector's reach at load; once closed, nothing keeps it, so a
    process that goes on (a notebook, in-process pytest runs) does not keep every model it closed."""
    import weakref

    model = model_under_test(tiny_gpt2)
    assert model.generate("hi").text is not None
    weights = weakref.ref(model.backend.model)  # type: ignore[attr-defined]
    model.backend.close()
    del model
    assert weights() is None

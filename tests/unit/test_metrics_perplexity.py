"""Perplexity: batched right-padded sliding-window scoring equals a plain one-text-at-a-time loop."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import pytest_llmeval.assertions as assertions
from pytest_llmeval.checks import CheckFailed, CheckUsageError, check
from pytest_llmeval.metrics import (
    compute_perplexity,
    perplexity_of_file,
    perplexity_scorer,
    using_perplexity_scorer,
)
from pytest_llmeval.testing import DEFAULT_CORPUS

CONTEXT = 32  # a short context, so ordinary test texts exercise the sliding window

TEXTS = [
    "a",  # one token: predicted from BOS alone
    "Hello.",
    DEFAULT_CORPUS[0],
    " ".join(DEFAULT_CORPUS[:2]),  # about the context length
    " ".join(DEFAULT_CORPUS[2:6]),  # several windows
    " ".join(DEFAULT_CORPUS) * 2,  # many windows
    "Zoë's café — ünïcödé bytes 日本語",  # byte-level pieces
]


@pytest.fixture(scope="session")
def lm() -> tuple[Any, Any]:
    """A tiny random GPT-2 with a 32-token context, built in memory once per session."""
    from pytest_llmeval.backends.hf import prefer_passive_openmp

    prefer_passive_openmp()
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config

    from pytest_llmeval.testing import train_tokenizer

    tokenizer = train_tokenizer(DEFAULT_CORPUS)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=CONTEXT,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    return model, tokenizer


@pytest.fixture(scope="session")
def llama(lm: tuple[Any, Any]) -> tuple[Any, Any]:
    """A tiny random Llama (rotary positions, ``max_position_embeddings``) sharing the tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    tokenizer = lm[1]
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(config)
    model.eval()
    return model, tokenizer


def plain_loop(model: Any, tokenizer: Any, text: str, window: int, stride: int) -> tuple[float, int]:
    """The reference: one text at a time, no padding, Hugging Face's own loss on masked labels.

    Each chunk of up to ``stride`` new tokens is scored from a window of up to ``window`` tokens that
    ends with it; the first window scores everything after BOS.
    """
    import torch

    ids = [tokenizer.bos_token_id] + tokenizer(text, verbose=False)["input_ids"]
    chunks = [(1, min(window, len(ids)))]
    while chunks[-1][1] < len(ids):
        start = chunks[-1][1]
        chunks.append((start, min(start + stride, len(ids))))
    nll, count = 0.0, 0
    with torch.no_grad():
        for first, end in chunks:
            begin = max(0, end - window)
            inputs = torch.tensor([ids[begin:end]])
            labels = inputs.clone()
            labels[0, : first - begin] = -100  # only this chunk's tokens are scored
            loss = model(input_ids=inputs, labels=labels).loss  # mean over scored tokens
            nll += float(loss) * (end - first)
            count += end - first
    return nll, count


@pytest.mark.parametrize("stride", [None, 5, CONTEXT - 1])
def test_batched_equals_plain_loop(lm: tuple[Any, Any], stride: int | None) -> None:
    model, tokenizer = lm
    result = compute_perplexity(model, tokenizer, TEXTS, batch_size=8, stride=stride)
    reference = [plain_loop(model, tokenizer, t, CONTEXT, stride or CONTEXT // 2) for t in TEXTS]
    for i, (nll, count) in enumerate(reference):
        assert result.per_text_tokens[i] == count
        assert result.per_text[i] == pytest.approx(math.exp(nll / count), rel=1e-4), i
    total_nll, total = sum(r[0] for r in reference), sum(r[1] for r in reference)
    assert result.token_count == total
    assert result.perplexity == pytest.approx(math.exp(total_nll / total), rel=1e-4)
    # the long texts really went through the window
    assert max(result.per_text_tokens) > 3 * CONTEXT


def test_each_token_is_counted_once(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    result = compute_perplexity(model, tokenizer, TEXTS, stride=7)
    # BOS is prepended as context, so every token of every text is predicted exactly once
    assert list(result.per_text_tokens) == [len(tokenizer(t, verbose=False)["input_ids"]) for t in TEXTS]


def test_token_weighted_not_mean_of_texts(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    result = compute_perplexity(model, tokenizer, TEXTS)
    assert result.perplexity == pytest.approx(math.exp(result.total_nll / result.token_count))
    assert result.perplexity != pytest.approx(sum(result.per_text) / len(TEXTS), rel=1e-3)
    assert result.metric() == {"name": "perplexity", "value": result.perplexity, "higher_is_better": False}


def test_batch_sizes_agree(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    one = compute_perplexity(model, tokenizer, TEXTS, batch_size=1)
    eight = compute_perplexity(model, tokenizer, TEXTS, batch_size=8)
    three = compute_perplexity(model, tokenizer, TEXTS, batch_size=3, device="cpu")
    assert one.per_text == pytest.approx(eight.per_text, rel=1e-5)
    assert three.per_text == pytest.approx(eight.per_text, rel=1e-5)
    assert one.perplexity == pytest.approx(eight.perplexity, rel=1e-5)


def test_llama_batched_equals_plain_loop(llama: tuple[Any, Any]) -> None:
    model, tokenizer = llama
    texts = TEXTS[1:6]
    result = compute_perplexity(model, tokenizer, texts, batch_size=4)
    for i, text in enumerate(texts):
        nll, count = plain_loop(model, tokenizer, text, CONTEXT, CONTEXT // 2)
        assert result.per_text[i] == pytest.approx(math.exp(nll / count), rel=1e-4), i


def test_without_bos_the_first_token_is_context(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    result = compute_perplexity(model, tokenizer, TEXTS[1:4], prepend_bos=False)
    assert list(result.per_text_tokens) == [len(tokenizer(t, verbose=False)["input_ids"]) - 1 for t in TEXTS[1:4]]
    with pytest.raises(ValueError, match=r"text 0 \('a'\) has 1 token"):
        compute_perplexity(model, tokenizer, ["a"], prepend_bos=False)


def test_bad_input_raises_clear_errors(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    with pytest.raises(ValueError, match="text 2 is empty"):
        compute_perplexity(model, tokenizer, ["a", "b", "", "c"])
    with pytest.raises(ValueError, match="no texts"):
        compute_perplexity(model, tokenizer, [])
    with pytest.raises(TypeError, match="not one string"):
        compute_perplexity(model, tokenizer, "a text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stride 32 must be between 1 and 31"):
        compute_perplexity(model, tokenizer, ["a"], stride=CONTEXT)


def test_training_mode_is_restored_and_dropout_off(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    expected = compute_perplexity(model, tokenizer, TEXTS[:3]).per_text
    model.train()
    try:
        assert compute_perplexity(model, tokenizer, TEXTS[:3]).per_text == pytest.approx(expected)
        assert model.training
    finally:
        model.eval()


def test_perplexity_of_file(lm: tuple[Any, Any], tmp_path: Path) -> None:
    model, tokenizer = lm
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(DEFAULT_CORPUS[:3]) + "\n\n", encoding="utf-8")
    whole = perplexity_of_file(path, model, tokenizer)
    assert len(whole.per_text) == 1
    assert whole.perplexity == pytest.approx(
        compute_perplexity(model, tokenizer, [path.read_text(encoding="utf-8")]).perplexity
    )
    lines = perplexity_of_file(path, model, tokenizer, per_line=True)
    assert lines.per_text == pytest.approx(compute_perplexity(model, tokenizer, list(DEFAULT_CORPUS[:3])).per_text)
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8"):
        perplexity_of_file(tmp_path / "latin1.txt", model, tokenizer)
    (tmp_path / "blank.txt").write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="blank.txt is empty"):
        perplexity_of_file(tmp_path / "blank.txt", model, tokenizer)


# -- the check ------------------------------------------------------------------------------------


def test_check_needs_a_scorer() -> None:
    with pytest.raises(
        CheckUsageError, match="perplexity needs a model: run under the plugin with --llm-model or pass scorer="
    ):
        check("perplexity", "some output", max=50.0)


def test_check_with_the_active_scorer(lm: tuple[Any, Any]) -> None:
    model, tokenizer = lm
    scorer = perplexity_scorer(model, tokenizer)
    value = compute_perplexity(model, tokenizer, [TEXTS[2]]).perplexity
    with using_perplexity_scorer(scorer):
        result = check("perplexity", TEXTS[2])
        assert result.passed and result.score == pytest.approx(value)
        assert result.details["metric"] == {"name": "perplexity", "value": result.score, "higher_is_better": False}
        failed = check("perplexity", TEXTS[2], max=1.5)
        assert not failed.passed
        assert failed.message.startswith(f"perplexity: {value:.3f} > max 1.5 (the model finds the output unlikely)")
        assert check("perplexity", TEXTS[2], max=value + 1).passed
        empty = check("perplexity", "")
        assert not empty.passed and "empty" in empty.message
        with pytest.raises(CheckFailed, match="> max 1.5"):
            assertions.assert_perplexity(TEXTS[2], max=1.5)
    assert check("perplexity", TEXTS[2], scorer=lambda texts: [7.0] * len(texts)).score == 7.0


def test_check_rejects_impossible_max() -> None:
    with pytest.raises(CheckUsageError, match="at least 1"):
        check("perplexity", "x", max=0.5, scorer=lambda texts: [2.0])


# -- an output's perplexity given its prompt -----------------------------------------------------


def conditional_loop(model: Any, tokenizer: Any, prompt: str, output: str) -> tuple[float, int]:
    """The reference: prompt and output in one unpadded sequence, Hugging Face's loss on the output's
    tokens only (the prompt's labels masked)."""
    import torch

    context = tokenizer(prompt, verbose=False)["input_ids"]
    continuation = tokenizer(output, add_special_tokens=False, verbose=False)["input_ids"]
    inputs = torch.tensor([context + continuation])
    labels = inputs.clone()
    labels[0, : len(context)] = -100
    with torch.no_grad():
        loss = model(input_ids=inputs, labels=labels).loss
    return float(loss) * len(continuation), len(continuation)


def test_conditional_perplexity_scores_only_the_output_given_its_prompt(lm: tuple[Any, Any]) -> None:
    from pytest_llmeval.metrics import conditional_perplexity

    model, tokenizer = lm
    prompts = ["Question: what is this?", "Hello.", "The cat sat on the mat and"]
    outputs = ["An answer of some words.", "Hi there, friend.", "ok"]
    result = conditional_perplexity(model, tokenizer, prompts, outputs, batch_size=2)
    for i, (prompt, output) in enumerate(zip(prompts, outputs, strict=True)):
        nll, count = conditional_loop(model, tokenizer, prompt, output)
        assert result.per_text_tokens[i] == count  # the prompt's tokens are context, not scored
        assert result.per_text[i] == pytest.approx(math.exp(nll / count), rel=1e-4), i
    # the prompt matters: the same output scored on its own is a different number
    alone = compute_perplexity(model, tokenizer, outputs)
    assert alone.per_text[0] != pytest.approx(result.per_text[0], rel=1e-3)


def test_conditional_perplexity_adds_no_bos_the_tokenizer_would_not(lm: tuple[Any, Any]) -> None:
    from pytest_llmeval.metrics import conditional_perplexity

    model, tokenizer = lm
    assert tokenizer("Hello.")["input_ids"][0] != tokenizer.bos_token_id  # this tokenizer adds none
    result = conditional_perplexity(model, tokenizer, ["Hello."], ["Hi."], prompt_special_tokens=False)
    nll, count = conditional_loop(model, tokenizer, "Hello.", "Hi.")
    assert result.per_text[0] == pytest.approx(math.exp(nll / count), rel=1e-4)


def test_conditional_perplexity_of_a_long_output_uses_the_window(lm: tuple[Any, Any]) -> None:
    from pytest_llmeval.metrics import conditional_perplexity

    model, tokenizer = lm
    long_prompt, long_output = " ".join(DEFAULT_CORPUS[:3]), " ".join(DEFAULT_CORPUS[3:6])
    result = conditional_perplexity(model, tokenizer, [long_prompt, "a"], [long_output, long_output], stride=5)
    expected = len(tokenizer(long_output, add_special_tokens=False, verbose=False)["input_ids"])
    assert list(result.per_text_tokens) == [expected, expected]  # every output token once
    assert expected > CONTEXT and math.isfinite(result.perplexity)


def test_conditional_perplexity_bad_input(lm: tuple[Any, Any]) -> None:
    from pytest_llmeval.metrics import conditional_perplexity

    model, tokenizer = lm
    with pytest.raises(ValueError, match="output 1 is empty"):
        conditional_perplexity(model, tokenizer, ["a", "b"], ["x", ""])
    with pytest.raises(ValueError, match="2 prompts but 1 outputs"):
        conditional_perplexity(model, tokenizer, ["a", "b"], ["x"])
    with pytest.raises(TypeError, match="lists of strings"):
        conditional_perplexity(model, tokenizer, "a", "x")  # type: ignore[arg-type]


def test_the_check_scores_a_model_output_given_its_prompt() -> None:
    from pytest_llmeval.backends.base import Generation
    from pytest_llmeval.engine import build_request
    from pytest_llmeval.metrics import using_output_perplexity_scorer

    output = Generation(
        "Paris.", request=build_request(prompt="Capital of France?"), num_tokens=2, finish_reason="stop", latency_s=0.0
    )
    seen: list[str] = []

    def given_prompt(generations: list[Generation]) -> list[float]:
        seen.extend(g.request.prompt or "" for g in generations)
        return [1.5]

    with using_perplexity_scorer(lambda texts: [90.0]), using_output_perplexity_scorer(given_prompt):
        result = check("perplexity", output, max=2)
        text_result = check("perplexity", "Paris.", max=2)  # plain text: no prompt to condition on
    assert seen == ["Capital of France?"]
    assert result.passed and result.message == "perplexity: 1.500 given the prompt <= max 2"
    assert result.details["given_prompt"] is True
    assert not text_result.passed and text_result.details["given_prompt"] is False

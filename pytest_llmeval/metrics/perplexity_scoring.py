"""Perplexity of texts under a causal language model, and the ``perplexity`` check.

How it is computed (and why):

- Token-weighted: ``exp(total NLL / total predicted tokens)`` over all texts, so a long text weighs
  what its tokens weigh (not the mean of per-text perplexities). Per-text values are returned too.
- Batched with RIGHT padding and an attention mask, the loss summed per text by hand from the logits.
  Left padding without explicit ``position_ids`` shifts every position of the shorter texts and was
  measured 28-54% wrong on GPT-2; right padding keeps positions 0..n-1 for the real tokens.
- Which tokens count: the tokenizer's own special tokens are added as in normal use; then, when the
  tokenizer has a BOS token and did not add it, BOS is prepended as context (``prepend_bos=True``), so
  every token of the text is predicted, the first one too (lm-evaluation-harness's rolling
  loglikelihood does the same). Without a BOS token the first token has no context and is not counted,
  so a text needs at least two tokens.
- Texts longer than the model's context (``config.max_position_embeddings`` or ``n_positions``) are
  scored with a sliding window: each window is at most the context long and scores the next ``stride``
  new tokens (default: half the context), with the rest of the window as context before them. Every
  token is predicted exactly once, always with at least ``context - stride`` tokens of context (except
  near the start of the text, which has less).

torch is imported inside the functions; the model and tokenizer are any Hugging Face causal LM and its
tokenizer (``model(input_ids=..., attention_mask=...)`` returning ``.logits``).

Two meanings, two functions:

- :func:`perplexity` of held-out text: how well the model predicts a text on its own (above).
- :func:`conditional_perplexity` of a model's output: how likely the model finds the output *given
  the prompt as it saw it* (the chat template applied, when it was), which is what the ``perplexity``
  check measures for an output. Only the output's tokens are scored; the prompt is context. The
  prompt is encoded as the model was given it: the tokenizer's own special tokens (a BOS where its
  ``add_special_tokens`` adds one) for a plain prompt, none added for a chat-rendered one (the
  template writes its own). No extra BOS is prepended. A model's own greedy answer scores near 1
  this way (SmolLM2-135M-Instruct: 1.45), where scoring it without its prompt and behind an added
  special token gave 93.3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmeval import running_test
from pytest_llmeval.backends.base import Generation
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    checked_output,
    register_check,
    truncate,
)
from pytest_llmeval.metrics.reference import metric_details

__all__ = [
    "OutputPerplexityScorer",
    "PerplexityResult",
    "PerplexityScorer",
    "active_output_perplexity_scorer",
    "active_perplexity_scorer",
    "combine_perplexities",
    "conditional_perplexity",
    "context_length",
    "perplexity",
    "perplexity_check_result",
    "perplexity_of_file",
    "perplexity_scorer",
    "using_output_perplexity_scorer",
    "using_perplexity_scorer",
]

# Scores a list of texts, returning one perplexity per text (held-out text, no prompt).
PerplexityScorer = Callable[[list[str]], list[float]]
# Scores model outputs (``Generation``: text plus the request it answers), each given its prompt.
OutputPerplexityScorer = Callable[[list[Generation]], list[float]]


@dataclass(frozen=True)
class PerplexityResult:
    """``perplexity`` is token-weighted over all texts; ``per_text[i]`` is text i's own."""

    perplexity: float
    per_text: tuple[float, ...]
    total_nll: float  # natural-log negative log-likelihood, summed over all predicted tokens
    token_count: int  # predicted tokens over all texts
    per_text_nll: tuple[float, ...]
    per_text_tokens: tuple[int, ...]

    def metric(self) -> dict[str, Any]:
        return {"name": "perplexity", "value": self.perplexity, "higher_is_better": False}


@dataclass(frozen=True)
class _Segment:
    text: int  # index of the text it belongs to
    ids: list[int]
    targets: int  # the last ``targets`` tokens of ``ids`` are scored, each from the tokens before it


def context_length(model: Any) -> int | None:
    """The model's context in tokens (``max_position_embeddings`` / ``n_positions``), if it has one."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _encode(tokenizer: Any, texts: Sequence[str], prepend_bos: bool) -> list[list[int]]:
    encoded: list[list[int]] = []
    bos = getattr(tokenizer, "bos_token_id", None) if prepend_bos else None
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"perplexity: text {index} is {type(text).__name__}, not str")
        if not text:
            raise ValueError(f"perplexity: text {index} is empty; perplexity of no tokens is undefined")
        # verbose=False: a text longer than the model is expected here (the window handles it); the
        # tokenizer's "sequence length is longer than" log line would only alarm people.
        ids = list(tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"])
        if bos is not None and (not ids or ids[0] != bos):
            ids.insert(0, bos)
        if len(ids) < 2:
            raise ValueError(
                f"perplexity: text {index} ({truncate(text, limit=60)}) has {len(ids)} token and the "
                "tokenizer has no BOS token to predict it from; perplexity needs 2+ tokens"
            )
        encoded.append(ids)
    return encoded


def _segments(index: int, ids: list[int], window: int | None, stride: int, first: int = 1) -> Iterator[_Segment]:
    """Split one text into windows that together score tokens first..n-1 exactly once (tokens before
    ``first`` are context only: the prompt of a conditional perplexity)."""
    n = len(ids)
    if window is None or n <= window:
        yield _Segment(index, ids, n - first)
        return
    if first < window:
        yield _Segment(index, ids[:window], window - first)
        scored_to = window  # tokens [first, scored_to) are scored
    else:  # a prompt longer than the window: its last tokens are the context of the first tokens
        scored_to = first
    while scored_to < n:
        end = min(scored_to + stride, n)
        start = end - window  # >= 0 since end > window; the window ends at the last new token
        yield _Segment(index, ids[start:end], end - scored_to)
        scored_to = end


def perplexity(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 8,
    stride: int | None = None,
    device: Any = None,
    max_length: int | None = None,
    prepend_bos: bool = True,
) -> PerplexityResult:
    """Perplexity of ``texts`` under ``model`` (see the module docstring for exactly what counts).

    ``max_length`` overrides the model's context for the sliding window; ``stride`` (new tokens per
    window, 1..context-1) defaults to half the context. ``device`` defaults to the model's. Raises
    ValueError naming the index of an empty text; the result is never NaN.
    """
    if isinstance(texts, str):
        raise TypeError("perplexity: texts must be a list of strings, not one string")
    if not texts:
        raise ValueError("perplexity: no texts given")
    if batch_size < 1:
        raise ValueError(f"perplexity: batch_size must be at least 1, got {batch_size}")
    window, stride = _window_and_stride(model, max_length, stride)
    encoded = _encode(tokenizer, texts, prepend_bos)
    segments = [seg for i, ids in enumerate(encoded) for seg in _segments(i, ids, window, stride)]
    return _score(model, tokenizer, segments, len(texts), batch_size, device)


def _window_and_stride(model: Any, max_length: int | None, stride: int | None) -> tuple[int | None, int]:
    window = max_length if max_length is not None else context_length(model)
    if window is not None and window < 2:
        raise ValueError(f"perplexity: a context of {window} token(s) cannot predict anything")
    if stride is None:
        stride = max(1, window // 2) if window is not None else 1
    elif window is not None and not 1 <= stride < window:
        raise ValueError(
            f"perplexity: stride {stride} must be between 1 and {window - 1} (the context minus one, so "
            "each window keeps at least one token of context)"
        )
    return window, stride


def _score(
    model: Any, tokenizer: Any, segments: list[_Segment], count: int, batch_size: int, device: Any
) -> PerplexityResult:
    """Sum each text's NLL over its segments' scored tokens, in right-padded batches."""
    import torch

    if device is None:
        device = next(model.parameters()).device
    # Longest first: similar lengths share a batch, so little padding is computed.
    order = sorted(range(len(segments)), key=lambda k: -len(segments[k].ids))
    pad_id = _pad_id(tokenizer)
    nll = [0.0] * count
    counts = [0] * count

    was_training = bool(getattr(model, "training", False))
    model.eval()  # dropout would make the numbers random
    try:
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = [segments[k] for k in order[start : start + batch_size]]
                width = max(len(seg.ids) for seg in batch)
                input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, seg in enumerate(batch):
                    input_ids[row, : len(seg.ids)] = torch.tensor(seg.ids, dtype=torch.long)
                    mask[row, : len(seg.ids)] = 1
                logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
                for row, seg in enumerate(batch):
                    n = len(seg.ids)
                    # Logits at position j predict token j+1: the targets n-k..n-1 come from n-k-1..n-2.
                    rows = logits[row, n - seg.targets - 1 : n - 1].float()
                    targets = input_ids[row, n - seg.targets : n].to(rows.device)
                    log_norm = torch.logsumexp(rows, dim=-1)
                    picked = rows.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
                    # Summed in float64: thousands of float32 terms would lose digits.
                    nll[seg.text] += float((log_norm - picked).double().sum())
                    counts[seg.text] += seg.targets
    finally:
        if was_training:
            model.train()

    total_nll, total_tokens = sum(nll), sum(counts)
    return PerplexityResult(
        perplexity=_exp(total_nll / total_tokens),
        per_text=tuple(_exp(v / c) for v, c in zip(nll, counts, strict=False)),
        total_nll=total_nll,
        token_count=total_tokens,
        per_text_nll=tuple(nll),
        per_text_tokens=tuple(counts),
    )


def conditional_perplexity(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    outputs: Sequence[str],
    *,
    prompt_special_tokens: bool = True,
    batch_size: int = 8,
    stride: int | None = None,
    device: Any = None,
    max_length: int | None = None,
) -> PerplexityResult:
    """Perplexity of each output given its prompt: only the output's tokens are scored, each from the
    prompt and the output tokens before it (see the module docstring).

    ``prompts`` are the texts the model was given (rendered through the chat template when it was);
    ``prompt_special_tokens`` is what the tokenizer was told when they were encoded for generation
    (False for a chat-rendered prompt). An output's tokens are encoded alone, with no special token,
    as the model generated them after its prompt. Raises ValueError naming an empty output.
    """
    if isinstance(prompts, str) or isinstance(outputs, str):
        raise TypeError("perplexity: prompts and outputs must be lists of strings")
    if len(prompts) != len(outputs):
        raise ValueError(f"perplexity: {len(prompts)} prompts but {len(outputs)} outputs")
    if not outputs:
        raise ValueError("perplexity: no outputs given")
    if batch_size < 1:
        raise ValueError(f"perplexity: batch_size must be at least 1, got {batch_size}")
    window, stride = _window_and_stride(model, max_length, stride)
    segments: list[_Segment] = []
    for index, (prompt, output) in enumerate(zip(prompts, outputs, strict=True)):
        if not str(output):
            raise ValueError(f"perplexity: output {index} is empty; perplexity of no tokens is undefined")
        context = list(tokenizer(str(prompt), add_special_tokens=prompt_special_tokens, verbose=False)["input_ids"])
        continuation = list(tokenizer(str(output), add_special_tokens=False, verbose=False)["input_ids"])
        ids = context + continuation
        # With no prompt token at all, the first output token has nothing to be predicted from.
        first = max(1, len(context))
        if len(ids) - first < 1:
            raise ValueError(
                f"perplexity: output {index} ({truncate(str(output), limit=60)}) has no token to score "
                "after an empty prompt"
            )
        segments.extend(_segments(index, ids, window, stride, first))
    return _score(model, tokenizer, segments, len(outputs), batch_size, device)


def combine_perplexities(parts: Sequence[tuple[float, int]]) -> PerplexityResult:
    """A result from each text's ``(nll, predicted tokens)``, as :func:`perplexity` builds it (for
    values kept in a cache)."""
    total_nll, total_tokens = sum(n for n, _ in parts), sum(c for _, c in parts)
    return PerplexityResult(
        perplexity=_exp(total_nll / total_tokens),
        per_text=tuple(_exp(n / c) for n, c in parts),
        total_nll=total_nll,
        token_count=total_tokens,
        per_text_nll=tuple(n for n, _ in parts),
        per_text_tokens=tuple(c for _, c in parts),
    )


def _exp(mean_nll: float) -> float:
    # A mean NLL above ~709 overflows exp; perplexity is then effectively infinite, not an error.
    return math.exp(mean_nll) if mean_nll < 709.0 else math.inf


def _pad_id(tokenizer: Any) -> int:
    # Any id works for padding on the right (masked, and after every scored position), but it must be
    # a valid embedding index.
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            return value
    return 0


def perplexity_of_file(
    path: str | Path,
    model: Any,
    tokenizer: Any,
    *,
    per_line: bool = False,
    batch_size: int = 8,
    stride: int | None = None,
    device: Any = None,
) -> PerplexityResult:
    """Perplexity of a UTF-8 text file.

    By default the whole file is one document (as corpus perplexity is usually reported: the sliding
    window carries context across lines). ``per_line=True`` scores each non-blank line as its own text
    (per_text then follows the non-blank lines in order).
    """
    file = Path(path)
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"perplexity: {file} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if per_line:
        texts = [line for line in content.splitlines() if line.strip()]
        if not texts:
            raise ValueError(f"perplexity: {file} has no non-blank lines")
    else:
        if not content.strip():
            raise ValueError(f"perplexity: {file} is empty")
        texts = [content]
    return perplexity(model, tokenizer, texts, batch_size=batch_size, stride=stride, device=device)


def perplexity_scorer(model: Any, tokenizer: Any, **options: Any) -> PerplexityScorer:
    """A scorer over ``model`` for :func:`using_perplexity_scorer` (options as :func:`perplexity`)."""

    def score(texts: list[str]) -> list[float]:
        return list(perplexity(model, tokenizer, texts, **options).per_text)

    return score


# -- the check ------------------------------------------------------------------------------------

_NO_SCORER = (
    "perplexity needs a model: run under the plugin with --llm-model or pass scorer= "
    "(e.g. pytest_llmeval.metrics.perplexity_scorer(model, tokenizer))"
)


@contextmanager
def using_perplexity_scorer(scorer: PerplexityScorer | None) -> Iterator[None]:
    """Make ``scorer`` the one the ``perplexity`` check uses when none is passed (the plugin installs
    one over the model under test)."""
    with running_test.providing(perplexity_scorer=scorer):
        yield


def active_perplexity_scorer() -> PerplexityScorer | None:
    """The scorer the ``perplexity`` check uses when none is passed."""
    return running_test.services().perplexity_scorer


@contextmanager
def using_output_perplexity_scorer(scorer: OutputPerplexityScorer | None) -> Iterator[None]:
    """Make ``scorer`` the one the ``perplexity`` check uses for a model output (a ``Generation``):
    each output scored given its prompt (the plugin installs one over the model under test)."""
    with running_test.providing(output_perplexity_scorer=scorer):
        yield


def active_output_perplexity_scorer() -> OutputPerplexityScorer | None:
    """The scorer the ``perplexity`` check uses for a model output when none is passed."""
    return running_test.services().output_perplexity_scorer


def perplexity_check_result(value: float, max: float | None, text: str, *, given_prompt: bool = False) -> CheckResult:
    """The ``perplexity`` check's result for an already computed value (lower is better);
    ``given_prompt``: the value is the output's perplexity given its prompt (said in the message)."""
    details = metric_details("perplexity", value, False, given_prompt=given_prompt)
    shown = f"{value:.3f}" + (" given the prompt" if given_prompt else "")
    if max is None:
        passed, message = True, f"perplexity: {shown} (no threshold: recorded only)"
    else:
        details["threshold"] = {"max": max}
        passed = value <= max
        message = (
            f"perplexity: {shown} <= max {max:g}"
            if passed
            else f"perplexity: {shown} > max {max:g} (the model finds the output unlikely); output {truncate(text)}"
        )
    return CheckResult("perplexity", passed, message, score=value, details=details, value=value)


@register_check("perplexity", family="model", summary="The model's perplexity of the output is at most max.")
def perplexity_check(text: str, max: float | None = None, scorer: PerplexityScorer | None = None) -> CheckResult:
    """Perplexity of the output under the model under test (or ``scorer``); passes when <= ``max``
    (no max: records the value). A model output (``Generation``) is scored given its prompt as the
    model saw it, when an output scorer is active (the plugin installs one); a plain string, or
    ``scorer=``, is scored as text on its own. An empty output fails: its perplexity is undefined."""
    if max is not None and not max >= 1.0:
        raise CheckUsageError(f"check 'perplexity': argument 'max' is {max}; a perplexity is at least 1")
    output = checked_output(text)
    output_scorer = active_output_perplexity_scorer() if scorer is None else None
    given_prompt = isinstance(output, Generation) and output_scorer is not None
    scorer = scorer or active_perplexity_scorer()
    if scorer is None and not given_prompt:
        raise CheckUsageError(_NO_SCORER)
    if not text.strip():
        message = "perplexity: the output is empty; perplexity is undefined"
        return CheckResult("perplexity", False, message)
    try:
        if given_prompt:
            assert output_scorer is not None and isinstance(output, Generation)
            values = output_scorer([output])
        else:
            assert scorer is not None
            values = scorer([str(text)])
    except ValueError as exc:  # e.g. a one-token output and no BOS token: the output's problem
        return CheckResult("perplexity", False, f"perplexity: cannot score the output: {exc}")
    if len(values) != 1:
        raise CheckUsageError(f"perplexity scorer returned {len(values)} values for 1 text")
    return perplexity_check_result(float(values[0]), max, text, given_prompt=given_prompt)

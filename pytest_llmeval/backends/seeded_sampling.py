"""Sampling with one seed per request inside a batch, so a sampled output depends on its own request
and seed only, never on which other requests share its batch.

``torch.manual_seed`` seeds one generator for the whole batch: a request's output would then change
with its batch-mates, and K samples of a case (K seeds) could never share a batch. Instead each row
draws Gumbel noise from its own generator and decoding takes the argmax: by the Gumbel-max trick,
``argmax(log p + G)`` is a draw from ``p``. The temperature, top-k and top-p warpers are transformers'
own, applied before the noise as its sampling does. Imports torch and transformers: used by the hf
backend only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["seeded_sampler"]


def seeded_sampler(seeds: Sequence[int], *, temperature: float | None, top_k: int | None, top_p: float | None) -> Any:
    """A ``LogitsProcessorList`` for greedy ``generate`` that makes row ``i`` a sample seeded by
    ``seeds[i]`` (temperature 1.0 and no top-k/top-p cut unless given)."""
    import torch
    from transformers.generation.logits_process import (
        LogitsProcessor,
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers: list[Any] = []
    if temperature is not None and temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p is not None and top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))

    class SeededGumbelSampler(LogitsProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            # on the CPU: the same draws whatever device the model runs on
            self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            for warper in warpers:
                scores = warper(input_ids, scores)
            log_probs = torch.log_softmax(scores.float(), dim=-1)
            vocab = scores.shape[-1]
            uniform = torch.stack([torch.rand(vocab, generator=g, dtype=torch.float64) for g in self.generators])
            gumbel = -torch.log(-torch.log(uniform.clamp_min(torch.finfo(torch.float64).tiny)))
            return log_probs + gumbel.to(device=scores.device, dtype=log_probs.dtype)

    return LogitsProcessorList([SeededGumbelSampler()])

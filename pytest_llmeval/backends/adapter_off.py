"""The base model of a loaded PEFT model: the same weights in memory with the adapter switched off.

``--llm-compare-base`` evaluates the model under test (base + adapter) and its base model in one
session from one load. This backend wraps the loaded ``HFBackend`` and runs every forward pass
inside PEFT's own ``model.disable_adapter()`` context manager, so the base model's outputs are what
loading the folder without ``--llm-adapter`` gives (same weights, same tokenizer, same chat template);
nothing is merged, copied or loaded twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_llmeval.backends.base import Backend, Generation, GenerationRequest, ModelDescription

if TYPE_CHECKING:
    from pytest_llmeval.backends.hf import HFBackend

__all__ = ["AdapterOffBackend"]

_T = TypeVar("_T")


class AdapterOffBackend(Backend):
    """``backend``'s base model: its adapter disabled for each call (generation, scoring,
    perplexity), enabled again after it, so the two can take turns on one loaded model."""

    name = "hf"

    def __init__(self, backend: HFBackend) -> None:
        if not hasattr(backend.model, "disable_adapter"):
            raise TypeError("the base model of an adapter needs a PEFT model (one loaded with --llm-adapter)")
        self.backend = backend

    @contextmanager
    def _adapter_off(self) -> Iterator[None]:
        with self.backend.model.disable_adapter():
            yield

    def _off(self, call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        with self._adapter_off():
            return call(*args, **kwargs)

    # -- what does not depend on the adapter: the wrapped backend's own -------------------------
    def describe(self) -> ModelDescription:
        described = self.backend.describe()
        extra = {**described.extra, "adapter": f"{self.backend.settings.adapter} disabled (base model)"}
        return ModelDescription(
            backend=described.backend,
            source=described.source,
            architecture=described.architecture,
            num_parameters=described.num_parameters,
            device=described.device,
            dtype=described.dtype,
            adapter=None,
            extra=extra,
        )

    def sort_key(self, request: GenerationRequest) -> int:
        return self.backend.sort_key(request)

    @property
    def tokenizer(self) -> Any | None:
        return self.backend.tokenizer

    def memory_facts(self) -> tuple[int, int] | None:
        return self.backend.memory_facts()

    @property
    def scores_next_tokens(self) -> bool:
        return self.backend.scores_next_tokens

    @property
    def load_phases(self) -> dict[str, float]:
        return {}  # loaded once, by the model under test

    # -- forward passes: with the adapter off ----------------------------------------------------
    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._off(self.backend.generate_batch, requests)

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        return self._off(self.backend.next_token_logprobs, prompts, candidates)

    def perplexity(self, texts: Sequence[str], stride: int | None = None) -> Any:
        return self._off(self.backend.perplexity, texts, stride=stride)

    def output_perplexity(self, generations: Sequence[Generation]) -> Any:
        return self._off(self.backend.output_perplexity, generations)

    def close(self) -> None:
        """Nothing of its own: the model under test's backend releases the weights."""

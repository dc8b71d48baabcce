"""Generation requests served to tests: validation, deduplication and length-sorted batches.

``ModelUnderTest`` is what the ``llm`` fixture gives a test. It knows nothing about pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

from pytest_llmeval.backends.base import Backend, Generation, GenerationParams, GenerationRequest, Message
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.settings import Settings

__all__ = ["ModelUnderTest", "PromptOrMessages", "build_request"]

PromptOrMessages = Union[str, Sequence[Mapping[str, str]], GenerationRequest]


def _messages(value: Any) -> tuple[Message, ...]:
    __tracebackhide__ = True
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise GenerationParameterError(
            f"messages must be a non-empty list of {{'role': ..., 'content': ...}} dicts, got {value!r:.120}"
        )
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) != {"role", "content"}:
            raise GenerationParameterError(
                f"messages[{i}] must be a dict with exactly 'role' and 'content', got {item!r:.120}"
            )
        role, content = item["role"], item["content"]
        if not isinstance(role, str) or not isinstance(content, str):
            raise GenerationParameterError(f"messages[{i}]: role and content must be strings")
        out.append(Message(role, content))
    return tuple(out)


def build_request(
    prompt: str | None = None,
    messages: Any = None,
    system: str | None = None,
    **generation: Any,
) -> GenerationRequest:
    """Validate one request as a user writes it (marker, fixture call, case file).

    Exactly one of ``prompt`` and ``messages``; everything else must be a generation parameter.
    Raises GenerationParameterError with the offending name.
    """
    __tracebackhide__ = True  # failures point at the caller, not at us
    if (prompt is None) == (messages is None):
        raise GenerationParameterError("give exactly one of prompt=... or messages=[...]")
    if prompt is not None and not isinstance(prompt, str):
        raise GenerationParameterError(f"prompt must be a string, got {type(prompt).__name__}")
    if system is not None and not isinstance(system, str):
        raise GenerationParameterError(f"system must be a string, got {type(system).__name__}")
    return GenerationRequest(
        prompt=prompt,
        messages=None if messages is None else _messages(messages),
        system=system,
        params=GenerationParams.from_mapping(generation),
    )


def apply_stop_sequences(generation: Generation) -> Generation:
    """Cut the output at the first stop sequence of its request (the same for every backend)."""
    stops = generation.request.params.stop
    cuts = [i for stop in stops if (i := generation.text.find(stop)) != -1]
    if not cuts:
        return generation
    return Generation(
        generation.text[: min(cuts)],
        request=generation.request,
        num_tokens=generation.num_tokens,
        finish_reason="stop",
        latency_s=generation.latency_s,
    )


class ModelUnderTest:
    """The model a session evaluates: ``generate`` one request, or ``generate_many`` in batches.

    One instance per session (per xdist worker). ``on_generation`` is called with every output so
    the plugin can attach it to the running test.
    """

    def __init__(
        self,
        backend: Backend,
        settings: Settings,
        on_generation: Callable[[Generation], None] | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.on_generation = on_generation
        self.num_generations = 0
        self.generation_seconds = 0.0
        self._lock = threading.Lock()

    @property
    def tokenizer(self) -> Any | None:
        return self.backend.tokenizer

    @property
    def model(self) -> Any | None:
        """The underlying model object (the transformers model for the hf backend)."""
        return getattr(self.backend, "model", None)

    def describe(self) -> str:
        return self.backend.describe().summary()

    def _request(self, item: PromptOrMessages, generation: Mapping[str, Any]) -> GenerationRequest:
        __tracebackhide__ = True
        if isinstance(item, GenerationRequest):  # e.g. a case's request: already validated
            if generation:
                raise GenerationParameterError("a GenerationRequest carries its own parameters")
            return item
        system = generation.get("system")
        rest = {k: v for k, v in generation.items() if k != "system"}
        if isinstance(item, str):
            return build_request(prompt=item, system=system, **rest)
        return build_request(messages=item, system=system, **rest)

    def generate(self, prompt_or_messages: PromptOrMessages, **generation: Any) -> Generation:
        """Generate one output. ``generation`` holds generation parameters and ``system``."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        return self.generate_many([prompt_or_messages], **generation)[0]

    def generate_many(
        self, prompts: Iterable[PromptOrMessages], **generation: Any
    ) -> list[Generation]:
        """Generate outputs for many prompts (or chats) in length-sorted batches; order is kept."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        requests = [self._request(p, generation) for p in prompts]
        return self.run(requests)

    def run(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Serve validated requests: identical ones are generated once."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        resolved = [
            GenerationRequest(
                r.prompt,
                r.messages,
                r.system,
                r.params.with_defaults(max_new_tokens=self.settings.max_new_tokens, seed=self.settings.seed),
            )
            for r in requests
        ]
        unique = list(dict.fromkeys(resolved))
        results: dict[GenerationRequest, Generation] = {}
        with self._lock:  # one generate call at a time: models are not re-entrant
            for batch in self._batches(unique):
                outputs = self.backend.generate_batch(batch)
                for request, output in zip(batch, outputs):
                    output = apply_stop_sequences(output)
                    results[request] = output
                    self.num_generations += 1
                    self.generation_seconds += output.latency_s
        generations = [results[r] for r in resolved]
        if self.on_generation is not None:
            for generation in generations:
                self.on_generation(generation)
        return generations

    def _batches(self, requests: Sequence[GenerationRequest]) -> Iterable[list[GenerationRequest]]:
        """Group by parameters (a batch shares one generation config), sort by length, chunk."""
        groups: dict[GenerationParams, list[GenerationRequest]] = {}
        for request in requests:
            groups.setdefault(request.params, []).append(request)
        size = self.settings.batch_size
        for group in groups.values():
            ordered = sorted(group, key=self.backend.sort_key)
            for start in range(0, len(ordered), size):
                yield ordered[start : start + size]

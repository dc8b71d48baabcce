"""Generation requests served to tests: validation, deduplication and length-sorted batches.

``ModelUnderTest`` is what the ``llm`` fixture gives a test. It knows nothing about pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pytest_llmeval.backends.base import Backend, Generation, GenerationParams, GenerationRequest, Message
from pytest_llmeval.errors import (
    BatchTooLargeError,
    GenerationError,
    GenerationParameterError,
    PartialBatchError,
)
from pytest_llmeval.settings import Settings

__all__ = [
    "LazyTokenizer",
    "ModelJudge",
    "ModelUnderTest",
    "OutputCache",
    "PromptOrMessages",
    "build_request",
    "choose_batch_size",
    "judge_call_entry",
    "judge_description",
]

PromptOrMessages = str | Sequence[Mapping[str, str]] | GenerationRequest


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
    *,
    reply_prefix: str | None = None,
    **generation: Any,
) -> GenerationRequest:
    """Validate one request as a user writes it (marker, fixture call, case file).

    Exactly one of ``prompt`` and ``messages``; everything else must be a generation parameter.
    ``reply_prefix``: the start of the model's reply, which it continues (the judge's "Score:").
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
        reply_prefix=reply_prefix,
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


class OutputCache(Protocol):
    """What the engine needs of a persistent cache (``cache.CachedOutputs``)."""

    def lookup(self, requests: Sequence[GenerationRequest]) -> dict[GenerationRequest, Generation]: ...

    def record(self, generation: Generation) -> None: ...


AUTO_BATCH_LIMIT = 64  # measured on 2 CPU cores: 32 gets most of batching's gain, 64 adds ~20%
AUTO_BATCH_TOKENS = 8192  # prompt + new tokens per batch on CPU: beyond it, padding costs more than it saves
AUTO_MEMORY_SHARE = 0.25  # of the free memory, for the batch's attention cache and activations


def choose_batch_size(
    count: int,
    longest_tokens: int,
    max_new_tokens: int,
    *,
    bytes_per_token: int | None = None,
    free_bytes: int | None = None,
    limit: int = AUTO_BATCH_LIMIT,
    token_budget: int = AUTO_BATCH_TOKENS,
) -> int:
    """The ``auto`` batch size for ``count`` prompts whose longest is ``longest_tokens`` tokens.

    As large as helps and fits: never more than the prompts there are, nor ``limit``; at most
    ``token_budget`` prompt-plus-new tokens per batch (sorted batches pad to their longest); and,
    when the cache size of one token (``bytes_per_token``: keys and values over all layers) and the
    free memory are known, at most ``AUTO_MEMORY_SHARE`` of that memory. Greedy outputs do not depend
    on the batch size in float32, so this changes speed only. Always at least 1.
    """
    if count < 1:
        return 1
    per_prompt = max(1, longest_tokens + max_new_tokens)
    size = min(count, limit, max(1, token_budget // per_prompt))
    if bytes_per_token and free_bytes:
        size = min(size, max(1, int(free_bytes * AUTO_MEMORY_SHARE) // (per_prompt * bytes_per_token)))
    return max(1, size)


@runtime_checkable
class ValueCache(Protocol):
    """A cache that also keeps computed values (judge scores, output perplexities): ``CachedOutputs``."""

    def lookup_values(self, kind: str, payloads: Sequence[dict[str, Any]]) -> dict[int, Any]: ...

    def record_value(self, kind: str, payload: dict[str, Any], value: Any) -> None: ...


ProgressCallback = Callable[[int, int], None]


class LazyTokenizer:
    """The model's tokenizer for token-based checks, loaded only when a check needs it (so a run
    served from the cache does not load the model for a token count)."""

    def __init__(self, model: ModelUnderTest, load: Callable[[], Any] | None) -> None:
        self._model = model
        self._load = load
        self._tokenizer: Any | None = None

    def tokenize(self, text: str) -> list[str]:
        if self._tokenizer is None:
            if self._model.loaded or self._load is None:
                self._tokenizer = self._model.backend.tokenizer
            else:
                self._tokenizer = self._load()
        if self._tokenizer is None:
            raise GenerationError("this backend has no tokenizer: token counts need a Hugging Face model")
        return list(self._tokenizer.tokenize(text))


def _has_tokenizer(settings: Settings) -> bool:
    from pytest_llmeval.backends.registry import backend_for

    return settings.model is None or backend_for(settings.model).has_tokenizer


class ModelUnderTest:
    """The model a session evaluates: ``generate`` one request, or ``generate_many`` in batches.

    One instance per session (per xdist worker). The backend is loaded on the first output that is
    neither prepared in memory nor in the persistent cache. ``on_generation`` sees every output
    served to a test, so the plugin can attach it to the running test.
    """

    def __init__(
        self,
        settings: Settings,
        load_backend: Callable[[], Backend],
        *,
        cache: OutputCache | None = None,
        on_generation: Callable[[Generation], None] | None = None,
        load_tokenizer: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self._load_backend = load_backend
        self._backend: Backend | None = None
        self.cache = cache
        self.on_generation = on_generation
        # A model without a tokenizer (its BackendSpec says so): checks then skip token-based signals
        # (not_garbled's fragmentation) or say that a token count needs one, instead of failing on
        # the lookup.
        self.checks_tokenizer: LazyTokenizer | None = (
            LazyTokenizer(self, load_tokenizer) if _has_tokenizer(settings) else None
        )
        self._ready: dict[GenerationRequest, Generation] = {}
        self._from_cache: set[GenerationRequest] = set()
        self._errors: dict[GenerationRequest, GenerationError] = {}
        self._served: set[GenerationRequest] = set()
        self.num_generations = 0  # outputs the model generated in this session
        self.num_cached = 0  # distinct outputs served to tests from the persistent cache
        self.generation_seconds = 0.0
        self.load_seconds = 0.0
        self._lock = threading.RLock()  # one generate call at a time: models are not re-entrant

    # -- the backend ---------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._backend is not None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            started = time.perf_counter()
            self._backend = self._load_backend()
            self.load_seconds = time.perf_counter() - started
        return self._backend

    def load_summary(self) -> str:
        """How long loading took and where it went: ``model loaded in 12.31 s (import
        7.10 s, from_pretrained 5.20 s)``; empty when the model was not loaded."""
        if self._backend is None:
            return ""
        phases = self._backend.load_phases
        detail = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in phases.items())
        return f"model loaded in {self.load_seconds:.2f} s" + (f" ({detail})" if detail else "")

    @property
    def tokenizer(self) -> Any | None:
        return self.backend.tokenizer

    @property
    def model(self) -> Any | None:
        """The underlying model object (the transformers model for the hf backend)."""
        return getattr(self.backend, "model", None)

    def describe(self) -> str:
        return self.backend.describe().summary()

    def perplexity(self, texts: str | Path | Sequence[str], *, stride: int | None = None) -> Any:
        """Token-weighted perplexity (``metrics.PerplexityResult``: ``.perplexity``, ``.per_text``) of a
        list of texts, or of a UTF-8 text file as one document. Causal Hugging Face models only."""
        __tracebackhide__ = True
        if isinstance(texts, (str, Path)):
            texts = [Path(texts).read_text(encoding="utf-8")]
        return self.backend.perplexity(list(texts), stride=stride)

    def output_perplexity(self, generations: Sequence[Generation]) -> Any:
        """Each model output's perplexity given its prompt as the model saw it (chat template
        included): ``metrics.PerplexityResult``. What the ``perplexity`` check uses for an output.
        Each output's value is kept in the persistent cache (keyed by the model's fingerprint, the
        request and the output), so a warm rerun does not load the model for it."""
        __tracebackhide__ = True
        from pytest_llmeval.metrics.perplexity_scoring import combine_perplexities

        outputs = list(generations)
        payloads = [_perplexity_payload(g) for g in outputs]
        cache = self.cache if isinstance(self.cache, ValueCache) else None
        known: dict[int, Any] = {}
        if cache is not None:
            known = cache.lookup_values("output_perplexity", payloads)
        missing = [i for i in range(len(outputs)) if i not in known]
        if missing:
            fresh = self.backend.output_perplexity([outputs[i] for i in missing])
            for slot, index in enumerate(missing):
                value = [fresh.per_text_nll[slot], fresh.per_text_tokens[slot]]
                known[index] = value
                if cache is not None:
                    cache.record_value("output_perplexity", payloads[index], value)
        return combine_perplexities([(float(known[i][0]), int(known[i][1])) for i in range(len(outputs))])

    # -- requests ------------------------------------------------------------------------------
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

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """The request with the session's defaults filled in: what is generated and cached."""
        params = request.params.with_defaults(max_new_tokens=self.settings.max_new_tokens, seed=self.settings.seed)
        if params is request.params:
            return request
        return GenerationRequest(request.prompt, request.messages, request.system, params, request.reply_prefix)

    def is_ready(self, request: GenerationRequest) -> bool:
        return self.resolve(request) in self._ready

    def generated_requests(self) -> list[GenerationRequest]:
        """The reproducible requests whose outputs this process generated (not read from the cache)."""
        return [r for r in self._ready if r not in self._from_cache]

    def served_from_cache(self, generation: Generation) -> bool:
        """Whether ``generation`` came from the persistent cache rather than from the model."""
        return generation.request in self._from_cache

    def generate(self, prompt_or_messages: PromptOrMessages, **generation: Any) -> Generation:
        """Generate one output. ``generation`` holds generation parameters and ``system``."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        return self.generate_many([prompt_or_messages], **generation)[0]

    def generate_many(self, prompts: Iterable[PromptOrMessages], **generation: Any) -> list[Generation]:
        """Generate outputs for many prompts (or chats) in length-sorted batches; order is kept."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        requests = [self._request(p, generation) for p in prompts]
        return self.run(requests)

    def run(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Serve validated requests: from memory, the cache, or the model (identical ones once)."""
        __tracebackhide__ = True  # failures point at the caller, not at us
        resolved = [self.resolve(r) for r in requests]
        self.prefetch(resolved)
        fresh = self._generate_fresh([r for r in resolved if not r.is_reproducible])
        generations = []
        for request in resolved:
            if not request.is_reproducible:
                generations.append(fresh.pop(0))
                continue
            if request in self._errors:
                raise GenerationError(str(self._errors[request]))
            if request in self._from_cache and request not in self._served:
                self.num_cached += 1
            self._served.add(request)
            generations.append(self._ready[request])
        if self.on_generation is not None:
            for generation in generations:
                self.on_generation(generation)
        return generations

    def prefetch_and_get(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Outputs for ``requests`` without reporting them to the running test (a judge's answers
        are not the model's outputs)."""
        resolved = [self.resolve(r) for r in requests]
        self.prefetch(resolved)
        for request in resolved:
            if request in self._errors:  # e.g. a judge prompt longer than the judge's context
                raise GenerationError(str(self._errors[request]))
        return [self._ready[r] for r in resolved]

    def prefetch(self, requests: Iterable[GenerationRequest], on_progress: ProgressCallback | None = None) -> int:
        """Make outputs ready for ``requests`` ahead of the tests that need them: cached ones are
        read, the rest generated in length-sorted batches. Returns how many were generated."""
        with self._lock:
            wanted = [
                r
                for r in dict.fromkeys(self.resolve(r) for r in requests)
                if r.is_reproducible and r not in self._ready and r not in self._errors
            ]
            if not wanted:
                return 0
            if self.cache is not None:
                found = self.cache.lookup(wanted)
                self._ready.update(found)
                self._from_cache.update(found)
                wanted = [r for r in wanted if r not in found]
            done = 0
            for batch in self._batches(wanted):
                for request, output in self._generate_each(batch):
                    if isinstance(output, GenerationError):
                        self._errors[request] = output  # raised for the test that needs it
                        continue
                    self._ready[request] = output
                    if self.cache is not None:
                        self.cache.record(output)
                done += len(batch)
                if on_progress is not None:
                    on_progress(done, len(wanted))
            return len(wanted)

    def _generate_each(
        self, batch: list[GenerationRequest]
    ) -> list[tuple[GenerationRequest, Generation | GenerationError]]:
        """A batch's outputs; if the batch fails, its requests one by one, so one bad prompt (too
        long, a pipeline that raises) fails only its own test, never the session."""
        outputs: Sequence[object]
        try:
            outputs = self._generate(batch)
        except PartialBatchError as exc:
            outputs = exc.outcomes  # each request answered on its own (a served model): no retry
        except GenerationError as exc:
            if len(batch) == 1:
                return [(batch[0], exc)]
            return [pair for request in batch for pair in self._generate_each([request])]
        results: list[tuple[GenerationRequest, Generation | GenerationError]] = []
        for request, output in zip(batch, outputs, strict=False):
            if isinstance(output, GenerationError):
                results.append((request, output))
                continue
            assert isinstance(output, Generation)
            output = apply_stop_sequences(output)
            self.num_generations += 1
            self.generation_seconds += output.latency_s
            results.append((request, output))
        return results

    def _generate_fresh(self, requests: list[GenerationRequest]) -> list[Generation]:
        """Unseeded sampled requests: generated every time, never shared or kept."""
        if not requests:
            return []
        with self._lock:
            outputs: list[Generation] = []
            for batch in self._batches(requests):
                outputs += [apply_stop_sequences(o) for o in self._generate(batch)]
            self.num_generations += len(outputs)
            by_request: dict[int, Generation] = {}
            # _batches reorders by length: map back to the callers' order by identity.
            order = [id(r) for batch in self._batches(requests) for r in batch]
            for key, output in zip(order, outputs, strict=False):
                by_request[key] = output
            return [by_request[id(r)] for r in requests]

    def _generate(self, batch: list[GenerationRequest]) -> list[Generation]:
        """One batch; if it does not fit in memory, halve it and go on."""
        try:
            return self.backend.generate_batch(batch)
        except BatchTooLargeError as exc:
            if len(batch) == 1:
                raise GenerationError(f"one prompt alone does not fit in memory: {exc}") from exc
            half = len(batch) // 2
            return self._generate(batch[:half]) + self._generate(batch[half:])

    def _batches(self, requests: Sequence[GenerationRequest]) -> Iterable[list[GenerationRequest]]:
        """Group by parameters (a batch shares one generation config; a backend that seeds each
        request itself lets seeds differ), sort by length, chunk."""
        if not requests:
            return  # nothing to generate: the backend need not load
        groups: dict[GenerationParams, list[GenerationRequest]] = {}
        backend = self.backend
        for request in requests:
            groups.setdefault(backend.batch_params(request.params), []).append(request)
        for params, group in groups.items():
            ordered = sorted(group, key=self.backend.sort_key)
            size = self.batch_size_for(ordered, params)
            for start in range(0, len(ordered), size):
                yield ordered[start : start + size]

    def batch_size_for(self, ordered: Sequence[GenerationRequest], params: GenerationParams) -> int:
        """The session's ``--llm-batch-size``, or with ``auto`` one chosen from the number and length
        of the prompts and the memory free (:func:`choose_batch_size`)."""
        size = self.settings.batch_size
        if isinstance(size, int):
            return size
        backend = self.backend
        facts = backend.memory_facts()
        return choose_batch_size(
            len(ordered),
            backend.sort_key(ordered[-1]) if ordered else 0,
            params.max_new_tokens or self.settings.max_new_tokens,
            bytes_per_token=facts[0] if facts else None,
            free_bytes=facts[1] if facts else None,
        )


class ModelJudge:
    """A model as an LLM judge (``metrics.Judge``): next-token scores from one forward pass, free
    text from batched, cached generation.

    A :class:`~pytest_llmeval.metrics.judge.JudgePrompt` is rendered by the backend through the
    judge's chat template (with the reply prefix, so the score is the next token); in text mode it
    is sent as a chat, so the judge answers in its own turn. ``calls`` lists every judge call a
    check made (for the inference log); the caller takes them with :meth:`take_calls`.
    """

    def __init__(self, model: ModelUnderTest, max_new_tokens: int = 64, description: str | None = None) -> None:
        self.model = model
        self.max_new_tokens = max_new_tokens
        # Only the model under test carries an adapter into its judge role (a separate judge model
        # is loaded without one), so an adapter here means the model under test judges itself.
        settings = model.settings
        self.description = description or judge_description(settings, judges_itself=bool(settings.adapter))
        # Scores are memoised, so prompts scored ahead in one batch are not scored again one by one.
        self._scores: dict[tuple[str, tuple[str, ...]], dict[str, float]] = {}
        self.calls: list[dict[str, Any]] = []

    @property
    def scores_next_tokens(self) -> bool:
        """Whether the judge model gives next-token log-probabilities (a served model whose server
        returns none is asked in text mode instead: ``metrics.judge.scoring_mode``). When its backend
        always does, or never does (``BackendSpec.next_token_scores``), this is answered without
        loading it, so scores served from the cache need no model."""
        fixed = self.fixed_scoring
        if not self.model.loaded and fixed is not None:
            return fixed
        return self.model.backend.scores_next_tokens

    @property
    def scoring(self) -> str:
        """How this judge reads scores, for the run's settings."""
        fixed = self.fixed_scoring
        if not self.model.loaded and fixed is not None:
            return "logprobs" if fixed else "text"
        return str(getattr(self.model.backend, "judge_scoring", "logprobs" if self.scores_next_tokens else "text"))

    @property
    def fixed_scoring(self) -> bool | None:
        """Whether the judge's backend always (True) or never (False) gives next-token
        log-probabilities; None when that depends on the loaded model (a served model's server)."""
        from pytest_llmeval.backends.registry import backend_for

        model = self.model.settings.model
        return None if model is None else backend_for(model).next_token_scores

    def score_next_token(self, prompts: list[str], candidates: list[str]) -> list[dict[str, float]]:
        """Next-token log-probabilities of ``candidates`` after each prompt: memoised in the session,
        and kept in the model's persistent cache (keyed by its fingerprint and the exact prompt)."""
        key = tuple(candidates)
        missing = list(dict.fromkeys(p for p in prompts if (str(p), key) not in self._scores))
        cache = self.model.cache if isinstance(self.model.cache, ValueCache) else None
        if missing and cache is not None:
            payloads = [_judge_payload(p, key) for p in missing]
            for index, value in cache.lookup_values("judge_logprobs", payloads).items():
                self._scores[(str(missing[index]), key)] = {k: float(v) for k, v in value.items()}
            missing = [p for p in missing if (str(p), key) not in self._scores]
        if missing:
            scores = self.model.backend.next_token_logprobs(missing, candidates)
            for prompt, score in zip(missing, scores, strict=True):
                self._scores[(str(prompt), key)] = score
                if cache is not None:
                    # -inf is not JSON: a token the judge cannot produce is left out (read as absent)
                    finite = {k: v for k, v in score.items() if v != float("-inf")}
                    cache.record_value("judge_logprobs", _judge_payload(prompt, key), finite)
        answers = [self._scores[(str(p), key)] for p in prompts]
        for prompt, answer in zip(prompts, answers, strict=True):
            self.calls.append(judge_call_entry(prompt, logprobs=answer, judge=self.description))
        return answers

    def generate(self, prompts: list[str]) -> list[str]:
        """The judge's answers (batched, cached). A JudgePrompt's answer is its reply prefix and the
        judge's continuation of it ("Score: 4"), as the judge replied."""
        from pytest_llmeval.metrics.judge import reply_with_prefix

        requests = [self._text_request(p) for p in prompts]
        texts = [
            reply_with_prefix(r.reply_prefix, g.text) if r.reply_prefix else g.text
            for r, g in zip(requests, self.model.prefetch_and_get(requests), strict=True)
        ]
        for prompt, text in zip(prompts, texts, strict=True):
            self.calls.append(judge_call_entry(prompt, reply=text, judge=self.description))
        return texts

    def _text_request(self, prompt: str) -> GenerationRequest:
        messages = getattr(prompt, "messages", None)
        if messages:  # a JudgePrompt: the judge's reply is primed with its prefix, as in logprobs mode
            return build_request(
                messages=[m.as_dict() for m in messages],
                reply_prefix=getattr(prompt, "reply_prefix", None),
                max_new_tokens=self.max_new_tokens,
            )
        return build_request(prompt=str(prompt), max_new_tokens=self.max_new_tokens)

    def take_calls(self) -> list[dict[str, Any]]:
        """The judge calls made since the last take (for the running test's inference log)."""
        calls, self.calls = self.calls, []
        return calls


def _perplexity_payload(generation: Generation) -> dict[str, Any]:
    request = generation.request
    return {
        "prompt": request.prompt,
        "messages": None if request.messages is None else [m.as_dict() for m in request.messages],
        "system": request.system,
        "output": generation.text,
    }


def _judge_payload(prompt: str, candidates: tuple[str, ...]) -> dict[str, Any]:
    messages = getattr(prompt, "messages", None)
    return {
        "prompt": str(prompt),
        "messages": [m.as_dict() for m in messages] if messages else None,
        "reply_prefix": getattr(prompt, "reply_prefix", None),
        "candidates": list(candidates),
    }


def judge_description(settings: Settings, *, judges_itself: bool) -> str:
    """Which weights judge, for messages: the judge folder, or the model under test with its adapter."""
    if judges_itself:
        if settings.adapter:
            return (
                f"{settings.model} with adapter {settings.adapter}: the model under test judges itself, adapter applied"
            )
        return f"{settings.model}: the model under test judges itself"
    return str(settings.model)


def judge_call_entry(
    prompt: str,
    *,
    judge: str,
    logprobs: Mapping[str, float] | None = None,
    reply: str | None = None,
) -> dict[str, Any]:
    """One inference-log line for a judge call: the prompt (its messages and reply prefix when it is a
    chat), and the reply, or the score tokens' probabilities and their total mass."""
    import math

    messages = getattr(prompt, "messages", None)
    entry: dict[str, Any] = {
        "kind": "judge",
        "judge": judge,
        "prompt": None if messages else str(prompt),
        "messages": [m.as_dict() for m in messages] if messages else None,
        "reply_prefix": getattr(prompt, "reply_prefix", None),
    }
    if logprobs is not None:
        merged: dict[str, float] = {}
        for token, value in logprobs.items():
            if value != -math.inf:
                merged[token.strip()] = merged.get(token.strip(), 0.0) + math.exp(value)
        entry["probabilities"] = {k: round(v, 6) for k, v in sorted(merged.items())}
        entry["mass"] = round(sum(merged.values()), 6)
        shown = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(merged.items()))
        entry["output"] = f"next-token probabilities {shown} (mass {entry['mass']:.3f})"
    if reply is not None:
        entry["output"] = reply
    return entry

"""The backend interface and the types that cross it: requests in, generations out.

A backend turns a batch of ``GenerationRequest`` (all with the same generation parameters) into
``Generation`` objects. Batching, ordering and deduplication live in the engine, not here.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from pytest_llmeval.errors import GenerationError, GenerationParameterError
from pytest_llmeval.input_limits import MAX_BEAMS, MAX_SEED, MAX_TOKENS, bounded_repr

__all__ = [
    "Backend",
    "FinishReason",
    "Generation",
    "GenerationParams",
    "GenerationRequest",
    "Message",
    "ModelDescription",
]

# "length": stopped at max_new_tokens (the output may be cut); "stop": the model ended it (end of
# sequence or a stop sequence); "unknown": the backend cannot tell (a ``py:`` pipeline returns text).
FinishReason = Literal["stop", "length", "unknown"]


def parameter_range(name: str) -> str:
    """The allowed range of generation parameter ``name`` as a person reads it ("0..2**63-1")."""
    bounds = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    parts = []
    for meta in GenerationParams.model_fields[name].metadata:
        for attr, sign in bounds.items():
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
    return " and ".join(parts)


class GenerationParams(pydantic.BaseModel):
    """Generation parameters a test may set (marker, ``llm.generate(..., **params)``, case files).

    ``None`` means "use the session default" (``--llm-max-new-tokens``, ``--llm-seed``) or the
    library default. Greedy decoding unless ``do_sample=True``.
    """

    # Infinities and NaN are refused: NaN passes every range check by comparing false.
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    # Every number has a range (stated in the message when it is left): a seed beyond 64 bits made
    # torch.manual_seed raise inside the backend, ending the session instead of failing the case.
    max_new_tokens: int | None = pydantic.Field(default=None, ge=1, le=MAX_TOKENS)
    min_new_tokens: int | None = pydantic.Field(default=None, ge=0, le=MAX_TOKENS)
    do_sample: bool = False
    temperature: float | None = pydantic.Field(default=None, gt=0, le=1000)
    top_p: float | None = pydantic.Field(default=None, gt=0, le=1)
    top_k: int | None = pydantic.Field(default=None, ge=1, le=MAX_TOKENS)
    repetition_penalty: float | None = pydantic.Field(default=None, gt=0, le=1000)
    no_repeat_ngram_size: int | None = pydantic.Field(default=None, ge=1, le=MAX_TOKENS)
    num_beams: int | None = pydantic.Field(default=None, ge=1, le=MAX_BEAMS)
    stop: tuple[str, ...] = ()
    seed: int | None = pydantic.Field(default=None, ge=0, le=MAX_SEED)

    @pydantic.field_validator("temperature", "top_p", "repetition_penalty", mode="before")
    @classmethod
    def _int_is_a_float(cls, value: Any) -> Any:
        # strict mode refuses 1 for a float field; a person writing temperature: 1 means 1.0
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise ValueError("the number is too large") from None
        return value

    @pydantic.field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return tuple(value) if isinstance(value, list) else value

    @pydantic.field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # An empty stop string occurs before the first character: every output would end empty.
        if "" in value:
            where = f"item {value.index('') + 1} of {len(value)} is" if len(value) > 1 else "it is"
            raise ValueError(
                f"{where} an empty string, which would end every output before its first character; "
                "give the text that ends an output (e.g. '\\n\\n'), or leave stop out"
            )
        return value

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> GenerationParams:
        """Validate user-given parameters; raise GenerationParameterError naming each bad one."""
        __tracebackhide__ = True
        try:
            return cls.model_validate(dict(params))
        except pydantic.ValidationError as exc:
            problems = []
            for err in exc.errors():
                key = ".".join(str(p) for p in err["loc"])
                if err["type"] == "extra_forbidden":
                    close = difflib.get_close_matches(key, list(cls.model_fields), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    problems.append(f"unknown generation parameter {key!r}{hint}; known: {', '.join(cls.model_fields)}")
                else:
                    field = err["loc"][0] if err["loc"] else None
                    allowed = parameter_range(field) if isinstance(field, str) and field in cls.model_fields else ""
                    allowed = f"; allowed: {allowed}" if allowed else ""
                    problems.append(
                        f"generation parameter {key!r}: {err['msg']}{allowed} (got {bounded_repr(err.get('input'))})"
                    )
            raise GenerationParameterError("; ".join(problems)) from None

    def with_defaults(self, *, max_new_tokens: int, seed: int | None) -> GenerationParams:
        updates: dict[str, Any] = {}
        if self.max_new_tokens is None:
            updates["max_new_tokens"] = max_new_tokens
        if self.seed is None and seed is not None and self.do_sample:
            updates["seed"] = seed
        return self.model_copy(update=updates) if updates else self


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt (or chat) and the parameters to generate with. Hashable, so requests dedupe."""

    prompt: str | None
    messages: tuple[Message, ...] | None
    system: str | None
    params: GenerationParams
    # The start of the model's reply, already written: the model continues it (a judge's "Score:"),
    # and the output is what follows. A chat template renders it after the opened assistant turn.
    reply_prefix: str | None = None

    def chat(self) -> list[dict[str, str]]:
        """The request as chat messages: the system prompt first, then the messages or the prompt."""
        chat = [{"role": "system", "content": self.system}] if self.system else []
        if self.messages is not None:
            chat.extend(m.as_dict() for m in self.messages)
        else:
            chat.append({"role": "user", "content": self.prompt or ""})
        return chat

    @property
    def is_reproducible(self) -> bool:
        """Greedy, or sampled with a seed: the same request gives the same output, so it may be
        generated once, shared and cached. Unseeded sampling must be generated every time."""
        return not self.params.do_sample or self.params.seed is not None

    @property
    def is_chat(self) -> bool:
        return self.messages is not None or self.system is not None

    def display_prompt(self) -> str:
        """The prompt as a person should read it in a report."""
        if not self.is_chat:
            return self.prompt or ""
        return "\n".join(f"{m['role']}: {m['content']}" for m in self.chat())


class Generation(str):
    """A model output. It *is* its text (a ``str``), so ``"x" in output`` and ``json.loads(output)`` work,
    and it carries how it was produced."""

    text: str
    prompt: str
    request: GenerationRequest
    num_tokens: int | None
    finish_reason: FinishReason
    latency_s: float

    def __new__(
        cls,
        text: str,
        *,
        request: GenerationRequest,
        num_tokens: int | None,
        finish_reason: FinishReason,
        latency_s: float,
    ) -> Generation:
        self = super().__new__(cls, text)
        self.text = str(text)
        self.request = request
        self.prompt = request.display_prompt()
        self.num_tokens = num_tokens
        self.finish_reason = finish_reason
        self.latency_s = latency_s
        return self

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return (
            f"Generation({self.text!r}, num_tokens={self.num_tokens}, "
            f"finish_reason={self.finish_reason!r}, latency_s={self.latency_s:.3f})"
        )

    def __reduce__(self) -> Any:  # str subclasses with extra attributes need this to pickle
        return (
            _rebuild_generation,
            (self.text, self.request, self.num_tokens, self.finish_reason, self.latency_s),
        )


def _rebuild_generation(
    text: str, request: GenerationRequest, num_tokens: int | None, finish_reason: FinishReason, latency: float
) -> Generation:
    return Generation(text, request=request, num_tokens=num_tokens, finish_reason=finish_reason, latency_s=latency)


@dataclass(frozen=True)
class ModelDescription:
    """What the report header and the run record say about the model under test."""

    backend: str
    source: str
    architecture: str | None = None
    num_parameters: int | None = None
    device: str | None = None
    dtype: str | None = None
    adapter: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def summary(self, asked: Mapping[str, str] | None = None) -> str:
        """One line: source, architecture, size, device, dtype, adapter and extras. With ``asked``
        (the ``device`` and ``dtype`` options), a value that was resolved from another (``auto``)
        says so: ``device cpu (asked auto)``, so the line never contradicts the report header."""
        asked = asked or {}
        parts = [self.architecture or self.backend]
        if self.num_parameters is not None:
            parts.append(f"{format_count(self.num_parameters)} parameters")
        for name, value in (("device", self.device), ("dtype", self.dtype)):
            if value:
                wanted = asked.get(name)
                parts.append(f"{name} {value}" + (f" (asked {wanted})" if wanted and wanted != value else ""))
        if self.adapter:
            parts.append(f"adapter {self.adapter}")
        parts.extend(f"{k} {v}" for k, v in self.extra.items())
        return f"{self.source} ({', '.join(parts)})"


def format_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


class Backend(ABC):
    """A model under test. Loaded once per session (per xdist worker)."""

    name: str

    @abstractmethod
    def describe(self) -> ModelDescription:
        """Describe the loaded model (device and dtype as actually used)."""

    @abstractmethod
    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Generate one output per request, in order. All requests share the same ``params``."""

    def batch_params(self, params: GenerationParams) -> GenerationParams:
        """What requests must share to share a batch: their parameters. A backend that seeds each
        request on its own returns them without the seed, so differently seeded samples batch together."""
        return params

    def sort_key(self, request: GenerationRequest) -> int:
        """A length measure so the engine can batch prompts of similar length together."""
        return len(request.display_prompt())

    @property
    def tokenizer(self) -> Any | None:
        """The model's tokenizer (for token-based checks), if the backend has one."""
        return None

    def memory_facts(self) -> tuple[int, int] | None:
        """``(bytes of attention cache per token, free bytes on the device)`` for choosing an
        ``auto`` batch size, when the backend knows them."""
        return None

    @property
    def scores_next_tokens(self) -> bool:
        """Whether ``next_token_logprobs`` works; a judge over a backend without it reads scores
        from text (``metrics.judge.scoring_mode``)."""
        return False

    @property
    def load_phases(self) -> dict[str, float]:
        """Seconds each phase of loading took, in order (e.g. importing the libraries, then reading
        the weights), so a summary can say where load time went; empty when not measured."""
        return {}

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        """Log-probabilities of candidate next tokens (what a judge model needs)."""
        raise GenerationError(f"the {self.name} backend cannot score next tokens: a judge must be a local model")

    def perplexity(self, texts: Sequence[str], stride: int | None = None) -> Any:
        """Token-weighted perplexity of ``texts`` (``metrics.PerplexityResult``)."""
        raise GenerationError(f"the {self.name} backend has no perplexity: it needs a local causal model")

    def output_perplexity(self, generations: Sequence[Generation]) -> Any:
        """Each output's perplexity given its prompt (``metrics.PerplexityResult``)."""
        raise GenerationError(f"the {self.name} backend has no perplexity: it needs a local causal model")

    def close(self) -> None:  # noqa: B027 - optional: most backends hold nothing to release
        """Release resources at the end of the session."""

"""Served models: ``--llm-model=openai:MODEL`` (and ``--llm-judge-model=openai:MODEL``) over the OpenAI
chat-completions protocol, which vLLM, TGI, llama.cpp's server, Ollama and ``transformers serve`` speak.

The ``openai`` client does the HTTP work: timeouts, and retries with exponential backoff on 408, 409,
429 (a ``Retry-After`` header is honoured) and 5xx answers and on connection errors. This module maps
requests to the protocol, runs them with a bounded number in flight, and turns every failure into a
message that names the server and what it said, so one failed request fails only its own test.

The API key is read from the environment variable the settings name and is handed to the client
only: no message, description or record of this module contains it (a server's error text that
echoes it is redacted).

Nothing here is imported, and nothing contacts a network, unless an ``openai:`` model is named.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pytest_llmeval.backends.base import (
    Backend,
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    ModelDescription,
)
from pytest_llmeval.errors import ConfigurationError, GenerationError, PartialBatchError
from pytest_llmeval.settings import Settings

if TYPE_CHECKING:
    from openai import OpenAI

__all__ = [
    "PREFIX",
    "REPRODUCIBILITY_NOTE",
    "UNSUPPORTED_PARAMETERS",
    "OpenAIBackend",
    "ServedModel",
    "ServerInfo",
    "refuse_unservable",
    "served_identity",
    "server_info",
    "unsupported_parameters",
]

PREFIX = "openai:"
# GenerationParams fields the chat-completions protocol has no field for. Sending them as extra body
# fields would work on some servers and be silently ignored by others, so they are refused instead.
UNSUPPORTED_PARAMETERS: tuple[str, ...] = (
    "min_new_tokens",
    "top_k",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "num_beams",
)
REPRODUCIBILITY_NOTE = (
    "outputs of a served model are only as reproducible as the server: its weights, its version, its "
    "batching and its hardware are outside what llmeval can hash"
)
# The most alternatives the OpenAI API returns per position (vLLM's default limit too).
TOP_LOGPROBS = 20
_NO_KEY = "no-key-set"  # the client insists on a key; servers without auth ignore it
_MESSAGE_LIMIT = 300

T = TypeVar("T")


@dataclass(frozen=True)
class ServedModel:
    """A model behind an OpenAI-compatible server and how to reach it."""

    spec: str  # as the user wrote it: openai:MODEL
    base_url: str
    api_key_env: str
    option: str  # the option that names it: --llm-model or --llm-judge-model
    url_option: str
    key_option: str
    revision: str | None = None
    concurrency: int = 8
    timeout: float = 120.0
    retries: int = 4
    prompt_endpoint: str = "chat"

    @property
    def model(self) -> str:
        """The model's name as the server knows it."""
        return self.spec.removeprefix(PREFIX)

    @classmethod
    def from_settings(cls, settings: Settings, *, judge: bool = False) -> ServedModel:
        """The served model under test (or the judge) from the session's settings; raises
        ConfigurationError when the model name or the base URL is missing."""
        spec = settings.judge_model if judge else settings.model
        option = "--llm-judge-model" if judge else "--llm-model"
        url_option = "--llm-judge-base-url" if judge else "--llm-base-url"
        base_url = (settings.judge_base_url or settings.base_url) if judge else settings.base_url
        if spec is None or not spec.startswith(PREFIX):
            raise ConfigurationError(f"{option}: expected openai:MODEL, got {spec!r}")
        if not spec.removeprefix(PREFIX).strip():
            raise ConfigurationError(
                f"{option} {spec}: name the model after openai:, as the server knows it (e.g. openai:gpt-4o-mini)"
            )
        if base_url is None:
            also = " (or --llm-base-url, which the judge shares by default)" if judge else ""
            raise ConfigurationError(
                f"{option} {spec} needs the server's address: give {url_option} URL{also}, e.g. "
                "http://127.0.0.1:8000/v1 (vLLM, transformers serve), http://127.0.0.1:11434/v1 (Ollama) "
                "or https://api.openai.com/v1"
            )
        return cls(
            spec=spec,
            base_url=base_url,
            api_key_env=settings.judge_api_key_env if judge else settings.api_key_env,
            option=option,
            url_option=url_option,
            key_option="--llm-judge-api-key-env" if judge else "--llm-api-key-env",
            revision=None if judge else settings.model_revision,
            concurrency=settings.concurrency,
            timeout=settings.request_timeout,
            retries=settings.request_retries,
            prompt_endpoint="chat" if judge else settings.prompt_endpoint,
        )

    @property
    def where(self) -> str:
        return f"{self.spec} at {self.base_url}"

    def api_key(self) -> str | None:
        """The key from the environment, or None when the variable is unset or empty."""
        return os.environ.get(self.api_key_env) or None


@dataclass(frozen=True)
class ServerInfo:
    """What the server says about itself (``GET /models``)."""

    model_ids: tuple[str, ...]  # every model the server lists; empty when it has no /models
    reported_id: str | None  # the listed entry of our model: its id, and its weights' root if given

    @property
    def lists_models(self) -> bool:
        return bool(self.model_ids)


def unsupported_parameters(params: GenerationParams) -> list[str]:
    """The parameters set in ``params`` that the OpenAI protocol cannot carry."""
    given = params.model_dump(exclude_defaults=True)
    return [name for name in UNSUPPORTED_PARAMETERS if given.get(name) is not None]


def refuse_unservable(planned: Sequence[tuple[str, GenerationRequest]]) -> None:
    """Before any test: raise ConfigurationError (exit 4) naming each planned test whose request sets
    a parameter the protocol lacks. (A request made inside a test fails that test the same way.)"""
    problems = [(node, names) for node, request in planned if (names := unsupported_parameters(request.params))]
    if not problems:
        return
    shown = "; ".join(f"{node}: {', '.join(names)}" for node, names in problems[:5])
    more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    raise ConfigurationError(
        f"{len(problems)} test(s) set generation parameters the OpenAI protocol has no field for, so a "
        f"served model cannot apply them ({shown}{more}); remove them for a served model, or evaluate "
        "a local model folder"
    )


def protocol_parameters(params: GenerationParams) -> dict[str, Any]:
    """``params`` as chat/completions request fields. Greedy decoding is temperature 0, which every
    OpenAI-compatible server maps to argmax decoding."""
    body: dict[str, Any] = {"max_tokens": params.max_new_tokens}
    if params.do_sample:
        body["temperature"] = params.temperature if params.temperature is not None else 1.0
        if params.top_p is not None:
            body["top_p"] = params.top_p
    else:
        body["temperature"] = 0.0
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    return body


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[API key]") if secret else text


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 3] + "..."


def _server_message(body: object, text: str) -> str:
    """The human part of an error answer: OpenAI's error.message, FastAPI's detail, or the text."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if body.get("detail"):
            return str(body["detail"])
        if body.get("message"):
            return str(body["message"])
    return text or "(empty answer)"


def _openai_module() -> Any:
    try:
        import openai
    except ImportError:
        raise ConfigurationError(
            "a served model (openai:MODEL) needs the openai package: pip install 'pytest-llmeval[openai]'"
        ) from None
    return openai


def _make_client(served: ServedModel) -> OpenAI:
    openai = _openai_module()
    return openai.OpenAI(
        api_key=served.api_key() or _NO_KEY,
        base_url=served.base_url,
        timeout=served.timeout,
        max_retries=served.retries,
    )


_probes: dict[tuple[str, str, str], ServerInfo] = {}
_probes_lock = threading.Lock()


def server_info(served: ServedModel, client: OpenAI | None = None) -> ServerInfo:
    """Ask the server which models it serves (once per process): the first request of a session, so a
    wrong key or an unreachable server ends it with exit code 4 before any test runs.

    Raises ConfigurationError for a refused key (naming the variable), an unreachable server, or a
    model the server does not list. A server without ``/models`` (404) is accepted, unidentified.
    """
    key = (served.base_url, served.api_key_env, served.model)
    with _probes_lock:
        if key in _probes:
            return _probes[key]
    openai = _openai_module()

    own = client is None
    client = client or _make_client(served)
    secret = served.api_key()
    try:
        body = _json_body(client.get("/models", cast_to=str), served, "GET /models")
    except openai.APIStatusError as exc:
        if exc.status_code == 404:
            body = {"data": []}
        else:
            raise ConfigurationError(_status_message(served, exc, secret, "GET /models")) from None
    except openai.APIConnectionError as exc:
        raise ConfigurationError(
            f"{served.option} {served.spec}: cannot reach {served.base_url}: {_connection_reason(exc)}. "
            f"Start the server, or fix {served.url_option}"
        ) from None
    except GenerationError as exc:
        raise ConfigurationError(f"{served.option} {served.spec}: {exc}") from None
    finally:
        if own:
            client.close()
    entries = body.get("data") if isinstance(body, Mapping) else None
    listed = (
        [e for e in entries if isinstance(e, Mapping) and isinstance(e.get("id"), str)]
        if isinstance(entries, list)
        else []
    )
    ids = tuple(str(e["id"]) for e in listed)
    ours = next((e for e in listed if e["id"] == served.model), None)
    if ids and ours is None:
        shown = ", ".join(ids[:10]) + (f", ... ({len(ids)} models)" if len(ids) > 10 else "")
        raise ConfigurationError(
            f"{served.option} {served.spec}: the server at {served.base_url} does not serve {served.model!r}; "
            f"it lists: {shown}"
        )
    reported = None
    if ours is not None:
        reported = str(ours["id"]) + (f" (root {ours['root']})" if isinstance(ours.get("root"), str) else "")
    info = ServerInfo(model_ids=ids, reported_id=reported)
    with _probes_lock:
        _probes[key] = info
    return info


def served_identity(served: ServedModel, info: ServerInfo) -> str:
    """The cache and baseline identity of a served model (it has no weights to hash): the base URL,
    the model name, the pinned revision, the server's own id for it and how plain prompts are sent."""
    return (
        f"served|{served.base_url}|{served.model}|revision={served.revision or '-'}|"
        f"server_id={info.reported_id or '-'}|prompts={served.prompt_endpoint}"
    )


def _json_body(text: str, served: ServedModel, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise GenerationError(
            f"{served.where} answered {what} with something that is not JSON: {_clip(text)!r}"
        ) from None


def _status_message(served: ServedModel, exc: Any, secret: str | None, what: str) -> str:
    """A refused request as a person should read it: the status, the server's words, and for 401/403
    which environment variable holds the key (never the key)."""
    text = exc.response.text  # the client has read the body of every non-streamed answer
    said = _redact(_clip(_server_message(exc.body, text)), secret)
    status = exc.status_code
    if status in (401, 403):
        if secret is None:
            key_state = f"the environment variable {served.api_key_env} is not set"
        else:
            key_state = f"it refused the key in the environment variable {served.api_key_env}"
        return (
            f"{served.option} {served.spec}: the server at {served.base_url} answered {what} with "
            f"{status} ({said}): {key_state}. Set {served.api_key_env} to a valid key, or name another "
            f"variable with {served.key_option}"
        )
    retried = f" after {served.retries} retries" if status in (408, 409, 429) or status >= 500 else ""
    return f"{served.where}: {what} failed with HTTP {status}{retried}: {said}"


class _Unanswered(GenerationError):
    """The server did not answer (a timeout or a connection error): it said nothing about what it
    supports, so nothing is concluded from it."""


def _connection_reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)


class OpenAIBackend(Backend):
    """A model served over the OpenAI protocol; requests run concurrently, at most ``concurrency``
    in flight."""

    name = "openai"

    def __init__(self, served: ServedModel) -> None:
        self.served = served
        self.client = _make_client(served)
        self.info = server_info(served, self.client)
        self._secret = served.api_key()
        self._pool = ThreadPoolExecutor(max_workers=served.concurrency, thread_name_prefix="llmeval-openai")
        self._logprobs: tuple[bool, str] | None = None
        self._logprobs_lock = threading.Lock()

    # -- description ---------------------------------------------------------------------------
    def describe(self) -> ModelDescription:
        extra = {"server model id": self.info.reported_id or "not reported (no /models)"}
        if self.served.revision:
            extra["revision"] = self.served.revision
        if self.served.prompt_endpoint != "chat":
            extra["plain prompts"] = "/v1/completions"
        if self._logprobs is not None:
            extra["judge scoring"] = self.judge_scoring
        extra["outputs"] = "only as reproducible as the server"
        return ModelDescription(
            backend=self.name,
            source=self.served.where,
            architecture="served model",
            extra=extra,
        )

    @property
    def identity(self) -> str:
        return served_identity(self.served, self.info)

    # -- generation ----------------------------------------------------------------------------
    def batch_params(self, params: GenerationParams) -> GenerationParams:
        """Each request is its own HTTP request with its own ``seed``: samples of a case batch together."""
        return params.model_copy(update={"seed": None}) if params.seed is not None else params

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """All requests concurrently (at most ``concurrency`` in flight). When some fail, raises
        PartialBatchError with every request's own outcome, so only those requests' tests fail."""
        __tracebackhide__ = True
        unsupported = unsupported_parameters(requests[0].params)
        if unsupported:
            raise GenerationError(
                f"{self.served.where}: the OpenAI protocol has no generation parameter "
                f"{', '.join(unsupported)}; remove {'it' if len(unsupported) == 1 else 'them'} for a "
                "served model, or evaluate a local model folder"
            )
        outcomes = self._run_all(self._generate_one, list(requests))
        if all(isinstance(o, Generation) for o in outcomes):
            return outcomes  # type: ignore[return-value]
        first = next(o for o in outcomes if isinstance(o, GenerationError))
        raise PartialBatchError(str(first), outcomes)

    def _run_all(self, function: Callable[[Any], T], items: list[Any]) -> list[T | GenerationError]:
        def settled(item: Any) -> T | GenerationError:
            try:
                return function(item)
            except GenerationError as exc:
                return exc

        return list(self._pool.map(settled, items))

    def _post(self, endpoint: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST ``body`` to ``endpoint`` (the client retries and times out); the JSON answer and the
        seconds it took. Every failure becomes a GenerationError quoting the server."""
        openai = _openai_module()

        what = f"POST {endpoint}"
        started = time.perf_counter()
        try:
            # cast_to=str: the body as text, parsed here, so a non-JSON answer gets a clear message
            text = self.client.post(endpoint, body=body, cast_to=str)
        except openai.APIStatusError as exc:
            raise GenerationError(_status_message(self.served, exc, self._secret, what)) from None
        except openai.APITimeoutError:
            raise _Unanswered(
                f"{self.served.where}: {what} got no answer within {self.served.timeout:g} s "
                f"({self.served.retries} retries); raise --llm-request-timeout for a slow server"
            ) from None
        except openai.APIConnectionError as exc:
            raise _Unanswered(
                f"{self.served.where}: {what} failed after {self.served.retries} retries: {_connection_reason(exc)}"
            ) from None
        elapsed = time.perf_counter() - started
        answer = _json_body(text, self.served, what)
        if not isinstance(answer, dict):
            raise GenerationError(
                f"{self.served.where} answered {what} with JSON that is not an object: {_clip(text)!r}"
            )
        if "error" in answer and "choices" not in answer:
            said = _redact(_clip(_server_message(answer, text)), self._secret)
            raise GenerationError(f"{self.served.where}: {what} failed: {said}")
        return answer, elapsed

    def _choice(self, answer: dict[str, Any], what: str) -> dict[str, Any]:
        choices = answer.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise GenerationError(f"{self.served.where} answered {what} without choices: {_clip(json.dumps(answer))!r}")
        return choices[0]

    def _uses_chat(self, request: GenerationRequest) -> bool:
        return request.is_chat or self.served.prompt_endpoint == "chat" or request.reply_prefix is not None

    def _generate_one(self, request: GenerationRequest) -> Generation:
        body: dict[str, Any] = {"model": self.served.model, **protocol_parameters(request.params)}
        if self._uses_chat(request):
            endpoint = "/chat/completions"
            body["messages"] = request.chat()
            if request.reply_prefix is not None:
                # The prefill convention: a last assistant message is the reply so far. A server that
                # supports it continues the message; one that does not starts a new reply instead.
                body["messages"].append({"role": "assistant", "content": request.reply_prefix})
        else:
            endpoint = "/completions"
            body["prompt"] = request.prompt or ""
        answer, elapsed = self._post(endpoint, body)
        choice = self._choice(answer, f"POST {endpoint}")
        if endpoint == "/chat/completions":
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
        else:
            text = choice.get("text")
        if text is None:
            text = ""  # a chat answer with only tool calls or a refusal has no content
        if not isinstance(text, str):
            raise GenerationError(
                f"{self.served.where} answered POST {endpoint} with a non-text output: {_clip(repr(text))}"
            )
        finish: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
        usage = answer.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return Generation(
            text,
            request=request,
            num_tokens=tokens if isinstance(tokens, int) else None,
            finish_reason=finish,
            latency_s=elapsed,
        )

    # -- judging -------------------------------------------------------------------------------
    @property
    def scores_next_tokens(self) -> bool:
        """Whether the server returns ``top_logprobs`` (asked once, with one tiny request)."""
        return self._logprobs_support()[0]

    @property
    def judge_scoring(self) -> str:
        """How a judge on this server reads scores, for the run's settings."""
        available, reason = self._logprobs_support()
        return "logprobs (top_logprobs from the server)" if available else f"text ({reason})"

    def _logprobs_support(self) -> tuple[bool, str]:
        """Asked once; a server that did not answer at all raises (the judge's check fails with why)
        and is asked again next time."""
        with self._logprobs_lock:
            if self._logprobs is None:
                try:
                    self._top_logprobs("Reply with one digit from 1 to 5.")
                    self._logprobs = (True, "")
                except _Unanswered:
                    raise
                except GenerationError as exc:
                    self._logprobs = (False, f"the server returned no logprobs: {exc}")
            return self._logprobs

    @staticmethod
    def _judge_messages(prompt: str) -> list[dict[str, str]]:
        """A judge prompt as chat messages: its own messages when it carries them (a chat-shaped judge
        prompt), else the text as one user message. The protocol cannot pre-fill the judge's reply, so
        the score must be the first token the judge writes."""
        messages = getattr(prompt, "messages", None)
        if messages:
            return [m.as_dict() if hasattr(m, "as_dict") else dict(m) for m in messages]
        return [{"role": "user", "content": str(prompt)}]

    def _top_logprobs(self, prompt: str) -> list[dict[str, Any]]:
        body = {
            "model": self.served.model,
            "messages": self._judge_messages(prompt),
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        answer, _ = self._post("/chat/completions", body)
        choice = self._choice(answer, "POST /chat/completions")
        logprobs = choice.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if not isinstance(content, list) or not content or not isinstance(content[0], dict):
            raise GenerationError(f"{self.served.where}: the answer has no logprobs.content")
        alternatives = content[0].get("top_logprobs")
        if not isinstance(alternatives, list) or not alternatives:
            raise GenerationError(f"{self.served.where}: the answer has no top_logprobs")
        return [a for a in alternatives if isinstance(a, dict)]

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> list[dict[str, float]]:
        """For each prompt (sent as one user message), the log-probability of each next token among
        the server's top alternatives that reads as a candidate (" 4" and "4" kept apart, as the local
        backend reports them). A candidate outside the top alternatives is absent: probability 0."""
        if not self.scores_next_tokens:
            raise GenerationError(f"{self.served.where}: {self.judge_scoring}")
        wanted = set(candidates)

        def score(prompt: str) -> dict[str, float]:
            found: dict[str, float] = {}
            for alternative in self._top_logprobs(prompt):
                token, value = alternative.get("token"), alternative.get("logprob")
                if isinstance(token, str) and isinstance(value, (int, float)) and token.strip() in wanted:
                    found[token] = _logaddexp(found.get(token, -math.inf), float(value))
            return found

        results = self._run_all(score, list(prompts))
        for result in results:
            if isinstance(result, GenerationError):
                raise result
        return results  # type: ignore[return-value]

    # -- perplexity ----------------------------------------------------------------------------
    def perplexity(self, texts: Sequence[str], stride: int | None = None) -> Any:
        """Token-weighted perplexity from the server's prompt logprobs (``/completions`` with
        ``echo`` and ``logprobs``, as vLLM and the OpenAI legacy API return them). A server that
        returns none raises GenerationError: perplexity is not available for it."""
        from pytest_llmeval.metrics.perplexity_scoring import PerplexityResult

        if stride is not None:
            raise GenerationError(
                "perplexity(stride=...): a served model scores each text whole on the server; drop stride"
            )
        texts = list(texts)
        if not texts:
            raise ValueError("perplexity: no texts given")
        for index, text in enumerate(texts):
            if not text:
                raise ValueError(f"perplexity: text {index} is empty")
        outcomes = self._run_all(self._prompt_logprobs, texts)
        nlls: list[float] = []
        counts: list[int] = []
        for outcome in outcomes:
            if isinstance(outcome, GenerationError):
                raise GenerationError(
                    f"perplexity is not available for this backend: {outcome}. It needs a server that "
                    "returns prompt logprobs for /v1/completions with echo=true (vLLM does), or a local model"
                )
            nll, count = outcome
            nlls.append(nll)
            counts.append(count)
        total_nll, total = sum(nlls), sum(counts)
        return PerplexityResult(
            perplexity=math.exp(total_nll / total),
            per_text=tuple(math.exp(n / c) for n, c in zip(nlls, counts, strict=True)),
            total_nll=total_nll,
            token_count=total,
            per_text_nll=tuple(nlls),
            per_text_tokens=tuple(counts),
        )

    def _prompt_logprobs(self, text: str) -> tuple[float, int]:
        body = {
            "model": self.served.model,
            "prompt": text,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        answer, _ = self._post("/completions", body)
        choice = self._choice(answer, "POST /completions")
        logprobs = choice.get("logprobs")
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        offsets = logprobs.get("text_offset") if isinstance(logprobs, dict) else None
        if not isinstance(values, list) or not values:
            raise GenerationError(f"{self.served.where} returned no prompt logprobs (logprobs.token_logprobs)")
        # The answer holds the prompt's tokens and then the one generated token; keep the prompt's.
        if isinstance(offsets, list) and len(offsets) == len(values):
            values = [v for v, at in zip(values, offsets, strict=True) if isinstance(at, int) and at < len(text)]
        else:
            usage = answer.get("usage")
            prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
            if not isinstance(prompt_tokens, int):
                raise GenerationError(f"{self.served.where}: cannot tell the prompt's tokens from the generated one")
            values = values[:prompt_tokens]
        scored = [float(v) for v in values if isinstance(v, (int, float))]  # the first token has none
        if not scored:
            raise GenerationError(f"{self.served.where}: text {text[:40]!r} has no predicted token to score")
        return -sum(scored), len(scored)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _logaddexp(a: float, b: float) -> float:
    top = max(a, b)
    if top == -math.inf:
        return -math.inf
    return top + math.log(math.exp(a - top) + math.exp(b - top))

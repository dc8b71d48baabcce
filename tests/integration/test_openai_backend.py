"""The served backend against a scripted OpenAI-compatible server on 127.0.0.1: retries, timeouts,
failures that stay with their own request, bounded concurrency, judge logprobs and perplexity."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.backends.openai import OpenAIBackend, ServedModel, _probes
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.errors import ConfigurationError, GenerationError, PartialBatchError
from pytest_llmeval.metrics.judge import SCORE_TOKENS, judge_score
from pytest_llmeval.settings import Settings

from .openai_fakes import Answer, FakeOpenAIServer, Received, completion, echo_script

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _fresh_probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LLMEVAL_TEST_KEY", SECRET)
    _probes.clear()  # each test's server is new, though ports may repeat
    yield
    _probes.clear()


def settings_for(server: FakeOpenAIServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "model": "openai:fake",
        "base_url": server.base_url,
        "api_key_env": "LLMEVAL_TEST_KEY",
        "request_retries": 2,
        "request_timeout": 5.0,
        "max_new_tokens": 8,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def backend_for(server: FakeOpenAIServer, **overrides: object) -> OpenAIBackend:
    return OpenAIBackend(ServedModel.from_settings(settings_for(server, **overrides)))


def requests(*prompts: str, **params: object) -> list[GenerationRequest]:
    return [build_request(prompt=p, max_new_tokens=8, **params) for p in prompts]


def test_prompts_chats_and_system_prompts_go_as_messages() -> None:
    with FakeOpenAIServer() as server:
        backend = backend_for(server)
        chat = build_request(messages=[{"role": "user", "content": "hi"}], system="be brief", max_new_tokens=4)
        outputs = backend.generate_batch([*requests("hello"), chat])
        backend.close()
    assert [o.text for o in outputs] == ["echo: hello", "echo: hi"]
    sent = server.requests_to("/chat/completions")
    by_last = {r.body["messages"][-1]["content"]: r.body for r in sent}
    assert by_last["hello"]["messages"] == [{"role": "user", "content": "hello"}]
    assert by_last["hi"]["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert by_last["hello"]["temperature"] == 0.0 and by_last["hello"]["max_tokens"] == 8
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in server.received)
    assert outputs[0].finish_reason == "stop" and outputs[0].num_tokens == 2


def test_plain_prompts_to_the_completions_endpoint_when_asked() -> None:
    with FakeOpenAIServer() as server:
        backend = backend_for(server, prompt_endpoint="completions")
        chat = build_request(messages=[{"role": "user", "content": "hi"}], max_new_tokens=4)
        outputs = backend.generate_batch(requests("raw text"))
        chat_output = backend.generate_batch([chat])
        backend.close()
    assert outputs[0].text == "echo: raw text"
    assert (outputs[0].finish_reason, outputs[0].num_tokens) == ("length", 3)
    assert server.requests_to("/v1/completions")[0].body["prompt"] == "raw text"
    assert chat_output[0].text == "echo: hi"  # a chat still goes to /chat/completions


def test_429_is_retried_after_the_servers_retry_after() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and len(server.requests_to("/chat/completions")) == 1:
            return Answer(status=429, body={"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        output = backend.generate_batch(requests("again"))[0]
        backend.close()
    attempts = server.requests_to("/chat/completions")
    assert output.text == "echo: again"
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 0.95  # it waited as told, not its own 0.5 s backoff


def test_5xx_is_retried_then_a_request_that_still_fails_reports_the_servers_message() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions"):
            if request.body["messages"][-1]["content"] == "doomed":
                return Answer(status=503, body={"error": {"message": "model is overloaded"}})
            if len(server.requests_to("/chat/completions")) <= 2:
                return Answer(status=502, body={"detail": "bad gateway"})
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server, request_retries=2, concurrency=1)
        ok = backend.generate_batch(requests("fine"))[0]
        with pytest.raises(PartialBatchError) as failure:
            backend.generate_batch(requests("first", "doomed", "last"))
        backend.close()
    assert ok.text == "echo: fine"  # two 502s, then an answer
    outcomes = failure.value.outcomes
    assert [getattr(o, "text", None) for o in outcomes] == ["echo: first", None, "echo: last"]
    assert isinstance(outcomes[1], GenerationError)
    assert str(outcomes[1]) == (
        f"openai:fake at {server.base_url}: POST /chat/completions failed with HTTP 503 after 2 retries: "
        "model is overloaded"
    )
    doomed = [r for r in server.requests_to("/chat/completions") if r.body["messages"][-1]["content"] == "doomed"]
    assert len(doomed) == 3  # the first try and 2 retries


def test_the_engine_fails_only_the_failed_request_and_keeps_the_others() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body["messages"][-1]["content"] == "doomed":
            return Answer(status=400, body={"error": {"message": "context too long"}})
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        settings = settings_for(server)
        backend = OpenAIBackend(ServedModel.from_settings(settings))
        model = ModelUnderTest(settings, lambda: backend)
        model.prefetch(requests("a", "doomed", "b"))
        assert [model.generate(p).text for p in ("a", "b")] == ["echo: a", "echo: b"]
        with pytest.raises(GenerationError, match="failed with HTTP 400: context too long"):
            model.generate("doomed")
        backend.close()
    assert len(server.requests_to("/chat/completions")) == 3  # a 400 is not retried, nothing asked twice


def test_a_slow_server_times_out_with_a_message() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions"):
            return Answer(body=completion("late"), delay_s=2.0)
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server, request_timeout=0.3, request_retries=1)
        with pytest.raises(GenerationError) as failure:
            backend.generate_batch(requests("hurry"))
        backend.close()
    assert str(failure.value) == (
        f"openai:fake at {server.base_url}: POST /chat/completions got no answer within 0.3 s (1 retries); "
        "raise --llm-request-timeout for a slow server"
    )
    assert len(server.requests_to("/chat/completions")) == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            Answer(raw=b"<html>Bad Gateway</html>"),
            "answered POST /chat/completions with something that is not JSON: '<html>Bad Gateway</html>'",
        ),
        (Answer(raw=b'{"choices": [{"message": {"content": "trunc'), "with something that is not JSON"),
        (Answer(body=["a", "list"]), "answered POST /chat/completions with JSON that is not an object"),
        (Answer(body={"object": "chat.completion", "choices": []}), "answered POST /chat/completions without choices"),
        (Answer(body=completion("x") | {"choices": [{"message": {"content": 7}}]}), "with a non-text output: 7"),
        (Answer(body={"error": {"message": "out of memory"}}), "POST /chat/completions failed: out of memory"),
    ],
)
def test_bad_answers_fail_the_request_with_what_came_back(answer: Answer, message: str) -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        return answer if request.path.endswith("/chat/completions") else echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        with pytest.raises(GenerationError) as failure:
            backend.generate_batch(requests("x"))
        backend.close()
    assert message in str(failure.value)


def test_a_refused_key_is_a_configuration_error_naming_the_variable_not_the_key() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        return Answer(status=401, body={"error": {"message": f"Incorrect API key provided: {SECRET}"}})

    with FakeOpenAIServer(script) as server, pytest.raises(ConfigurationError) as failure:
        backend_for(server)
    message = str(failure.value)
    assert SECRET not in message
    assert message == (
        f"--llm-model openai:fake: the server at {server.base_url} answered GET /models with 401 (Incorrect "
        "API key provided: [API key]): it refused the key in the environment variable LLMEVAL_TEST_KEY. Set "
        "LLMEVAL_TEST_KEY to a valid key, or name another variable with --llm-api-key-env"
    )


def test_an_unset_key_variable_is_said_on_a_401(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMEVAL_TEST_KEY")
    refusing = FakeOpenAIServer(lambda s, r: Answer(status=401, body={"error": {"message": "missing key"}}))
    with (
        refusing as server,
        pytest.raises(ConfigurationError, match="the environment variable LLMEVAL_TEST_KEY is not set"),
    ):
        backend_for(server)


def test_a_model_the_server_does_not_list_and_an_unreachable_server() -> None:
    with FakeOpenAIServer() as server:
        with pytest.raises(ConfigurationError, match=r"does not serve 'other'; it lists: fake"):
            backend_for(server, model="openai:other")
        url = server.base_url
    with pytest.raises(ConfigurationError, match=rf"cannot reach {url}: .*Start the server, or fix --llm-base-url"):
        OpenAIBackend(ServedModel.from_settings(Settings(model="openai:fake", base_url=url, request_retries=0)))


def test_a_server_without_models_is_accepted_unidentified() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/models"):
            return Answer(status=404, body={"detail": "Not Found"})
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        assert backend.info.reported_id is None
        assert "server_id=-" in backend.identity
        assert "not reported" in backend.describe().summary()
        backend.close()


def test_requests_in_flight_never_exceed_the_concurrency_limit() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        answer = echo_script(server, request)
        answer.delay_s = 0.15 if request.path.endswith("/chat/completions") else 0.0
        return answer

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server, concurrency=3)
        outputs = backend.generate_batch(requests(*[f"p{i}" for i in range(10)]))
        backend.close()
    assert [o.text for o in outputs] == [f"echo: p{i}" for i in range(10)]  # order kept
    assert server.max_in_flight == 3


def test_parameters_the_protocol_lacks_fail_the_request_naming_them() -> None:
    with FakeOpenAIServer() as server:
        backend = backend_for(server)
        with pytest.raises(GenerationError) as failure:
            backend.generate_batch(requests("x", num_beams=4, repetition_penalty=1.3))
        backend.close()
    assert "the OpenAI protocol has no generation parameter repetition_penalty, num_beams; remove them" in str(
        failure.value
    )
    assert server.requests_to("/chat/completions") == []  # nothing was sent


def _top(entries: dict[str, float]) -> dict[str, object]:
    return {
        "content": [
            {
                "token": "x",
                "logprob": -1.0,
                "top_logprobs": [{"token": token, "logprob": value} for token, value in entries.items()],
            }
        ]
    }


def test_judge_scores_from_top_logprobs_with_the_local_judges_rule() -> None:
    alternatives = {
        "4": math.log(0.5),
        " 4": math.log(0.1),
        "3": math.log(0.2),
        "Sure": math.log(0.15),
        "5": math.log(0.05),
    }

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body.get("logprobs"):
            assert request.body["top_logprobs"] == 20 and request.body["max_tokens"] == 1
            return Answer(body=completion("4", logprobs=_top(alternatives)))
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        assert backend.scores_next_tokens
        assert backend.judge_scoring == "logprobs (top_logprobs from the server)"
        scores = backend.next_token_logprobs(["grade this"], list(SCORE_TOKENS))
        model = ModelUnderTest(settings_for(server), lambda: backend)
        from pytest_llmeval.engine import ModelJudge

        result = judge_score(ModelJudge(model), "Is it right?", "an answer")
        backend.close()
    assert scores == [
        {
            "4": pytest.approx(math.log(0.5)),
            " 4": pytest.approx(math.log(0.1)),
            "3": pytest.approx(math.log(0.2)),
            "5": pytest.approx(math.log(0.05)),
        }
    ]
    # "4" and " 4" merge (0.6); normalised over the score tokens (0.85): 4 -> 0.706, 3 -> 0.235, 5 -> 0.059
    assert result.most_likely == 4
    assert result.expected == pytest.approx((4 * 0.6 + 3 * 0.2 + 5 * 0.05) / 0.85)


def test_a_served_judge_in_text_mode_is_primed_with_the_reply_prefix() -> None:
    """Without logprobs the judge writes its answer, primed as logprobs mode is: the last message is
    the reply so far ("Score:"), which a server such as llama.cpp's continues; the score is read from
    the prefix and the continuation."""
    seen: list[list[dict[str, str]]] = []

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions"):
            seen.append(request.body["messages"])
            if request.body.get("logprobs"):
                return Answer(body=completion("4"))  # no logprobs in the answer: text mode
            return Answer(body=completion(" 4. It names 3 of the steps."))  # the continuation only
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        model = ModelUnderTest(settings_for(server), lambda: backend)
        from pytest_llmeval.engine import ModelJudge

        judge = ModelJudge(model)
        result = judge_score(judge, "Is it right?", "an answer", prompt="How do I reset it?")
        logged = judge.calls[-1]
        backend.close()
    primed = seen[-1]
    assert primed[-1] == {"role": "assistant", "content": "Score:"}
    assert [m["role"] for m in primed] == ["system", "user", "assistant"] and "[Rubric]" in primed[1]["content"]
    assert result.expected == 4.0  # the first number of the continuation, not the "3" after it
    assert logged["output"] == "Score: 4. It names 3 of the steps." and logged["reply_prefix"] == "Score:"


def test_a_judge_without_logprobs_reads_text_and_says_so() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions"):
            return Answer(body=completion("Score: 2"))  # no logprobs in the answer, as transformers serve
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        model = ModelUnderTest(settings_for(server), lambda: backend)
        from pytest_llmeval.engine import ModelJudge

        judge = ModelJudge(model)
        result = judge_score(judge, "Is it right?", "an answer", mode="logprobs")
        scoring = judge.scoring
        described = backend.describe().summary()
        backend.close()
    assert result.expected == 2.0
    assert scoring.startswith("text (the server returned no logprobs: ")
    assert "judge scoring text (the server returned no logprobs" in described


def test_perplexity_from_prompt_logprobs() -> None:
    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/v1/completions"):
            assert request.body["echo"] is True and request.body["logprobs"] == 1
            text = request.body["prompt"]
            # the prompt's tokens (the first has no logprob), then the one generated token
            logprobs = {
                "tokens": ["a", "b", "c", "X"],
                "token_logprobs": [None, -1.0, -2.0, -9.0],
                "text_offset": [0, 1, 2, len(text)],
            }
            return Answer(body={"choices": [{"text": text + "X", "logprobs": logprobs, "finish_reason": "length"}]})
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        result = backend.perplexity(["abc", "abc"])
        with pytest.raises(GenerationError, match="drop stride"):
            backend.perplexity(["abc"], stride=2)
        backend.close()
    assert result.token_count == 4
    assert result.perplexity == pytest.approx(math.exp(1.5))
    assert result.per_text == (pytest.approx(math.exp(1.5)), pytest.approx(math.exp(1.5)))


def test_perplexity_is_not_available_where_the_server_returns_no_prompt_logprobs() -> None:
    with FakeOpenAIServer() as server:
        backend = backend_for(server)
        with pytest.raises(GenerationError) as failure:
            backend.perplexity(["some text"])
        backend.close()
    assert str(failure.value).startswith("perplexity is not available for this backend: ")
    assert "returned no prompt logprobs" in str(failure.value)


def test_a_server_that_does_not_answer_the_logprobs_question_is_asked_again() -> None:
    calls = {"logprobs": 0}

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body.get("logprobs"):
            calls["logprobs"] += 1
            if calls["logprobs"] <= 2:  # the first try and its retry time out
                return Answer(body=completion("4"), delay_s=1.0)
            return Answer(body=completion("4", logprobs=_top({"4": -0.1})))
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server, request_timeout=0.3, request_retries=1)
        with pytest.raises(GenerationError, match="got no answer within 0.3 s"):
            _ = backend.scores_next_tokens
        assert backend.scores_next_tokens  # not concluded from silence: asked again, and it has them
        backend.close()


def test_a_chat_shaped_judge_prompt_goes_as_its_messages() -> None:
    from pytest_llmeval.backends.base import Message

    class ChatPrompt(str):
        messages = (Message("system", "You grade answers."), Message("user", "Grade: hi"))

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body.get("logprobs"):
            return Answer(body=completion("4", logprobs=_top({"4": -0.1})))
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        backend = backend_for(server)
        backend.next_token_logprobs([ChatPrompt("plain text of it"), "plain"], list(SCORE_TOKENS))
        backend.close()
    sent = [r.body["messages"] for r in server.requests_to("/chat/completions")][1:]  # after the probe
    assert sorted(sent, key=len) == [
        [{"role": "user", "content": "plain"}],
        [{"role": "system", "content": "You grade answers."}, {"role": "user", "content": "Grade: hi"}],
    ]

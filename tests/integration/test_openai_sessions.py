"""pytest sessions on a served model (a scripted OpenAI-compatible server on 127.0.0.1): what a user
sees when the key is wrong, the server dies, a parameter cannot be served; and that the key is never
written anywhere."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from pytest_llmeval.backends.openai import _probes

from .openai_fakes import Answer, FakeOpenAIServer, Received, completion, echo_script

SECRET = "sk-live-SECRET-do-not-leak-42"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LLMEVAL_SESSION_KEY", SECRET)
    _probes.clear()  # in-process sessions share this process's memo of server answers
    yield
    _probes.clear()


def served_args(server: FakeOpenAIServer, *extra: str) -> list[str]:
    return [
        "--llm-model=openai:fake",
        f"--llm-base-url={server.base_url}",
        "--llm-api-key-env=LLMEVAL_SESSION_KEY",
        "--llm-request-retries=1",
        *extra,
    ]


def test_a_wrong_key_ends_the_session_before_any_test_with_exit_4(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="hi")
        def test_one(llm_output):
            assert llm_output
        """
    )

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        return Answer(status=401, body={"error": {"message": f"Incorrect API key provided: {SECRET}"}})

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(*served_args(server))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            (
                "ERROR: --llm-model openai:fake: the server at http://127.0.0.1:*/v1 answered GET /models with 401 "
                "(Incorrect API key provided: [[]API key[]]): it refused the key in the environment variable "
                "LLMEVAL_SESSION_KEY. Set LLMEVAL_SESSION_KEY to a valid key, or name another variable with "
                "--llm-api-key-env"
            )
        ]
    )
    assert SECRET not in result.stdout.str() + result.stderr.str()
    assert [r.path for r in server.received] == ["/v1/models"]  # nothing but the first request


def test_a_served_suite_passes_and_the_key_is_written_nowhere(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_served="""
        import pytest

        @pytest.mark.llm(prompt="ping")
        def test_marker(llm_output):
            assert llm_output == "echo: ping"
            assert llm_output.finish_reason == "stop"

        def test_many(llm):
            outputs = llm.generate_many(["a", "b", "c"], system="short answers")
            assert [o.text for o in outputs] == ["echo: a", "echo: b", "echo: c"]

        def test_a_failure_shows_the_output(llm):
            assert llm.generate("x") == "something else"
        """
    )
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: echo
            prompt: hello
            expect: {contains: "echo: hello", not_garbled: true}   # no tokenizer: fragmentation skipped
        """,
    )
    with FakeOpenAIServer() as server:
        result = pytester.runpytest(
            *served_args(server, "--llm-update-baseline", "--llm-report=report.html", "--llm-markdown=summary.md"),
            "-v",
        )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "llmeval: model openai:fake at http://127.0.0.1:*/v1 (served model, not cached: no "
                "--llm-model-revision; outputs of a served model are only as reproducible as the server*"
            ),
        ]
    )
    result.stdout.fnmatch_lines(
        [
            (
                "model: openai:fake at http://127.0.0.1:*/v1 (served model, server model id fake (root /weights/fake), "
                "outputs only as reproducible as the server)"
            ),
        ]
    )
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in server.received)  # it was used
    output = result.stdout.str() + result.stderr.str()
    assert SECRET not in output
    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in written) and any(p.name == "llmeval-baseline.json" for p in written)
    assert any(p.suffix == ".db" for p in written)  # the history
    leaked = [str(p) for p in written if SECRET.encode() in p.read_bytes()]
    assert leaked == []


def test_a_server_that_dies_mid_run_fails_the_tests_after_it_not_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_generate(llm, n):
            assert llm.generate(f"p{n}") == f"echo: p{n}"
        """
    )

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body["messages"][-1]["content"] == "p2":
            return Answer(die=True)
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(*served_args(server), "-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            (
                "*GenerationError: openai:fake at http://127.0.0.1:*/v1: POST /chat/completions failed after 1 "
                "retries: ConnectError: *Connection refused*"
            ),
        ]
    )


def test_a_parameter_the_protocol_lacks_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="x", num_beams=4, repetition_penalty=1.2)
        def test_beams(llm_output):
            pass

        @pytest.mark.llm(prompt="y", temperature=0.5, do_sample=True, seed=1)
        def test_sampled(llm_output):
            assert llm_output == "echo: y"
        """
    )
    with FakeOpenAIServer() as server:
        result = pytester.runpytest(*served_args(server))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            (
                "ERROR: 1 test(s) set generation parameters the OpenAI protocol has no field for, so a served "
                "model cannot apply them (test_a_parameter_the_protocol_lacks_is_a_usage_error_naming_it.py::"
                "test_beams: repetition_penalty, num_beams); remove them for a served model, or evaluate a local "
                "model folder"
            ),
        ]
    )
    assert server.requests_to("/chat/completions") == []  # refused before anything was generated


def test_a_parameter_the_protocol_lacks_inside_a_test_fails_that_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_beams(llm):
            llm.generate("x", num_beams=4)

        def test_sampled(llm):
            assert llm.generate("y", temperature=0.5, do_sample=True, seed=1) == "echo: y"
        """
    )
    with FakeOpenAIServer() as server:
        result = pytester.runpytest(*served_args(server))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "*the OpenAI protocol has no generation parameter num_beams; remove it for a served model, or "
                "evaluate a local model folder"
            ),
        ]
    )
    sampled = [r.body for r in server.requests_to("/chat/completions")]
    assert sampled == [
        {
            "model": "fake",
            "max_tokens": 64,
            "temperature": 0.5,
            "seed": 1,
            "messages": [{"role": "user", "content": "y"}],
        }
    ]


def test_a_served_judge_scores_with_logprobs(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: graded
            prompt: explain
            expect:
              judge: {rubric: "Is it clear?", min_score: 3.5}
        """,
    )
    top = [
        {"token": "4", "logprob": math.log(0.7)},
        {"token": "5", "logprob": math.log(0.2)},
        {"token": "2", "logprob": math.log(0.1)},
    ]

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body.get("logprobs"):
            return Answer(
                body=completion("4", logprobs={"content": [{"token": "4", "logprob": -0.3, "top_logprobs": top}]})
            )
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(*served_args(server, "--llm-judge-model=openai:fake"), "-v")
    result.assert_outcomes(passed=1)
    judged = [r for r in server.requests_to("/chat/completions") if r.body.get("logprobs")]
    assert any("Is it clear?" in m["content"] for r in judged for m in r.body["messages"])


def test_a_served_judge_without_logprobs_reads_text(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: graded
            prompt: explain
            expect:
              judge: {rubric: "Is it clear?", min_score: 4}
        """,
    )

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        messages = request.body.get("messages") or []
        if request.path.endswith("/chat/completions") and any("[Rubric]" in m["content"] for m in messages):
            # a server that does not continue the primed reply "Score:" and starts its own
            return Answer(body=completion("I would rate it 2 out of 5."))
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(*served_args(server, "--llm-judge-model=openai:fake"))
        judged = [r.body["messages"] for r in server.requests_to("/chat/completions") if not r.body.get("logprobs")]
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*score 2 < min 4 (most likely 2;*"])
    # text mode primes the judge's reply as logprobs mode does: the last message is the reply so far
    assert judged[-1][-1] == {"role": "assistant", "content": "Score:"}


def test_nothing_imports_the_openai_client_unless_a_served_model_is_named(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        pipeline="def answer(prompt):\n    return 'ok'\n",
        test_offline="""
        import sys

        def test_local(llm):
            assert llm.generate("x") == "ok"
            assert "openai" not in sys.modules
            assert "pytest_llmeval.backends.openai" not in sys.modules
        """,
    )
    result = pytester.runpytest_subprocess("--llm-model=py:pipeline:answer")
    result.assert_outcomes(passed=1)


def test_served_outputs_are_cached_and_the_baseline_names_the_served_identity(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="ping")
        def test_marker(llm_output):
            assert llm_output == "echo: ping"
        """
    )
    with FakeOpenAIServer() as server:
        first = pytester.runpytest(*served_args(server, "--llm-model-revision=ckpt-7", "--llm-update-baseline"))
        chats_after_first = len(server.requests_to("/chat/completions"))
        _probes.clear()
        second = pytester.runpytest(*served_args(server, "--llm-model-revision=ckpt-7"))
        chats_after_second = len(server.requests_to("/chat/completions"))
        _probes.clear()
        third = pytester.runpytest(*served_args(server, "--llm-model-revision=ckpt-8"))
        chats_after_third = len(server.requests_to("/chat/completions"))
        unpinned = []
        for _ in range(2):  # without a pinned revision nothing is cached: the weights may have changed
            _probes.clear()
            unpinned.append(pytester.runpytest(*served_args(server)))
        chats_after_unpinned = len(server.requests_to("/chat/completions"))
        url = server.base_url
    for result in (first, second, third, *unpinned):
        result.assert_outcomes(passed=1)
    # cached; a new revision is a new key; unpinned runs ask every time
    assert (chats_after_first, chats_after_second, chats_after_third, chats_after_unpinned) == (1, 1, 2, 4)
    unpinned[1].stdout.fnmatch_lines(
        [
            "llmeval: model openai:fake at * (served model, not cached: no --llm-model-revision; outputs of a*",
        ]
    )
    second.stdout.fnmatch_lines(["outputs: 0 generated in *, 1 from the cache; model not loaded"])
    run = json.loads((pytester.path / "llmeval-baseline.json").read_text())["run"]
    assert run["model"]["backend"] == "openai"
    assert run["model"]["model_id"] == (
        f"served|{url}|fake|revision=ckpt-7|server_id=fake (root /weights/fake)|prompts=chat"
    )
    assert {k: run["settings"][k] for k in ("base_url", "model_revision", "server_model_id", "prompt_endpoint")} == {
        "base_url": url,
        "model_revision": "ckpt-7",
        "server_model_id": "fake (root /weights/fake)",
        "prompt_endpoint": "chat",
    }
    assert run["settings"]["reproducibility"].startswith("outputs of a served model are only as reproducible as")


def test_a_served_judge_uses_its_own_server_and_key_and_the_run_says_how_it_scored(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMEVAL_JUDGE_KEY", "sk-judge-key-7")
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: graded
            prompt: explain
            expect:
              judge: {rubric: "Is it clear?", min_score: 2}
        """,
    )

    def judge_script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/models"):
            return Answer(body={"object": "list", "data": [{"id": "grader", "object": "model"}]})
        return Answer(body=completion("Score: 4"))  # no logprobs: text mode

    with FakeOpenAIServer() as model_server, FakeOpenAIServer(judge_script) as judge_server:
        result = pytester.runpytest(
            *served_args(model_server, "--llm-update-baseline"),
            "--llm-judge-model=openai:grader",
            f"--llm-judge-base-url={judge_server.base_url}",
            "--llm-judge-api-key-env=LLMEVAL_JUDGE_KEY",
        )
    result.assert_outcomes(passed=1)
    assert [r.body["model"] for r in model_server.requests_to("/chat/completions")] == ["fake"]
    graded = judge_server.requests_to("/chat/completions")
    assert graded and all(r.body["model"] == "grader" for r in graded)
    assert all(r.headers["authorization"] == "Bearer sk-judge-key-7" for r in judge_server.received)
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in model_server.received)
    settings = json.loads((pytester.path / "llmeval-baseline.json").read_text())["run"]["settings"]
    assert settings["judge_scoring"].startswith("text (the server returned no logprobs")


def test_a_served_judge_with_little_mass_on_the_scores_is_inconclusive(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".eval.yaml",
        cases="""
        cases:
          - id: graded
            prompt: explain
            expect:
              judge: {rubric: "Is it clear?", min_score: 1}
        """,
    )
    # the judge mostly wants to say "The": 3% on the digits, wherever they fall among the top 20
    top = [
        {"token": "The", "logprob": math.log(0.9)},
        {"token": "4", "logprob": math.log(0.02)},
        {"token": " 5", "logprob": math.log(0.01)},
    ]

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/chat/completions") and request.body.get("logprobs"):
            return Answer(
                body=completion("The", logprobs={"content": [{"token": "The", "logprob": -0.1, "top_logprobs": top}]})
            )
        return echo_script(server, request)

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(*served_args(server, "--llm-judge-model=openai:fake"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*judge: inconclusive judge: it put only 3% of its next-token probability on the scores 1-5*"]
    )

"""Served-model options and the mapping of requests to the OpenAI protocol (no server involved)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends import judge_settings
from pytest_llmeval.backends.base import GenerationParams
from pytest_llmeval.backends.openai import (
    ServedModel,
    ServerInfo,
    protocol_parameters,
    served_identity,
    unsupported_parameters,
)
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import Settings, resolve_settings


def resolve(flags: dict[str, Any] | None = None, ini: dict[str, str] | None = None) -> Settings:
    flags = flags or {}
    ini = ini or {}
    return resolve_settings(
        lambda dest: flags.get(dest), lambda key: ini.get(key, ""), cwd=Path("/work/here"), ini_dir=Path("/work/ini")
    )


def test_openai_models_are_kept_as_written_not_resolved_as_paths() -> None:
    settings = resolve(
        flags={"llm_model": "openai:Qwen/Qwen2.5-7B", "llm_judge_model": "openai:gpt-4o-mini"},
        ini={"llm_base_url": "http://127.0.0.1:8000/v1/"},
    )
    assert settings.model == "openai:Qwen/Qwen2.5-7B"
    assert settings.judge_model == "openai:gpt-4o-mini"
    assert settings.backend_name == "openai"
    assert settings.base_url == "http://127.0.0.1:8000/v1"  # trailing slash dropped
    # a judge folder is still a path, resolved against the ini file's folder
    assert resolve(ini={"llm_judge_model": "judge"}).judge_model == "/work/ini/judge"


def test_served_options_defaults_and_ini_twins() -> None:
    defaults = resolve()
    assert (defaults.api_key_env, defaults.concurrency, defaults.request_timeout, defaults.request_retries) == (
        "OPENAI_API_KEY",
        8,
        120.0,
        4,
    )
    assert defaults.prompt_endpoint == "chat"
    settings = resolve(
        ini={
            "llm_api_key_env": "VLLM_KEY",
            "llm_concurrency": "16",
            "llm_request_timeout": "2.5",
            "llm_request_retries": "0",
            "llm_model_revision": "ckpt-1200",
            "llm_prompt_endpoint": "completions",
            "llm_judge_base_url": "https://api.openai.com/v1",
            "llm_judge_api_key_env": "JUDGE_KEY",
        }
    )
    assert (settings.api_key_env, settings.concurrency, settings.request_timeout) == ("VLLM_KEY", 16, 2.5)
    assert (settings.request_retries, settings.model_revision, settings.prompt_endpoint) == (
        0,
        "ckpt-1200",
        "completions",
    )
    assert (settings.judge_base_url, settings.judge_api_key_env) == ("https://api.openai.com/v1", "JUDGE_KEY")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"llm_base_url": "127.0.0.1:8000"}, r"--llm-base-url: '127.0.0.1:8000' is not an http\(s\) URL"),
        ({"llm_judge_base_url": "ftp://x/v1"}, r"--llm-judge-base-url: 'ftp://x/v1' is not an http\(s\) URL"),
        ({"llm_api_key_env": "sk-abc123"}, r"--llm-api-key-env: 'sk-abc123' is not an environment variable name"),
        ({"llm_request_timeout": "0"}, r"--llm-request-timeout: '0' is not a positive number of seconds"),
        ({"llm_request_timeout": "soon"}, r"--llm-request-timeout: 'soon' is not a positive number of seconds"),
        ({"llm_request_retries": "-1"}, r"--llm-request-retries: must be 0 or more, got -1"),
        ({"llm_concurrency": "0"}, r"--llm-concurrency: must be from 1 to 10,000,000, got 0"),
        ({"llm_prompt_endpoint": "responses"}, r"--llm-prompt-endpoint: 'responses' is not one of chat, completions"),
    ],
)
def test_bad_served_options_are_usage_errors(flags: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        resolve(flags=flags)


def test_a_key_given_as_the_variable_name_is_not_echoed_back_whole() -> None:
    # Someone pastes the key where the variable's name goes: the message must say what is wrong; the
    # value is quoted (it is what they typed on their own command line), never stored in Settings.
    with pytest.raises(ConfigurationError, match="never the key itself"):
        resolve(flags={"llm_api_key_env": "sk-proj-123"})


def test_served_model_needs_a_base_url_and_a_name() -> None:
    with pytest.raises(
        ConfigurationError, match=r"--llm-model openai:m needs the server's address: give --llm-base-url URL"
    ):
        ServedModel.from_settings(Settings(model="openai:m"))
    with pytest.raises(ConfigurationError, match=r"name the model after openai:"):
        ServedModel.from_settings(Settings(model="openai:", base_url="http://127.0.0.1:1/v1"))
    with pytest.raises(
        ConfigurationError, match=r"--llm-judge-model openai:j needs .* --llm-judge-base-url URL \(or --llm-base-url"
    ):
        ServedModel.from_settings(Settings(judge_model="openai:j"), judge=True)


def test_the_judge_uses_its_own_server_and_key_variable() -> None:
    settings = Settings(
        model="openai:m",
        base_url="http://127.0.0.1:8000/v1",
        api_key_env="LOCAL_KEY",
        model_revision="r1",
        judge_model="openai:gpt-4o-mini",
        judge_base_url="https://api.openai.com/v1",
        judge_api_key_env="JUDGE_KEY",
        prompt_endpoint="completions",
    )
    judge = ServedModel.from_settings(settings, judge=True)
    assert (judge.base_url, judge.api_key_env, judge.revision, judge.model) == (
        "https://api.openai.com/v1",
        "JUDGE_KEY",
        None,
        "gpt-4o-mini",
    )
    assert (judge.option, judge.url_option, judge.key_option) == (
        "--llm-judge-model",
        "--llm-judge-base-url",
        "--llm-judge-api-key-env",
    )
    # what the plugin loads the judge with: the same server description as above
    loaded = ServedModel.from_settings(judge_settings(settings))
    assert (loaded.base_url, loaded.api_key_env, loaded.revision, loaded.prompt_endpoint) == (
        "https://api.openai.com/v1",
        "JUDGE_KEY",
        None,
        "chat",
    )
    # without its own URL the judge shares the model's server
    shared = ServedModel.from_settings(Settings(judge_model="openai:j", base_url="http://127.0.0.1:9/v1"), judge=True)
    assert shared.base_url == "http://127.0.0.1:9/v1"


def test_greedy_and_sampled_parameters_map_to_the_protocol() -> None:
    greedy = GenerationParams(max_new_tokens=12, stop=("\n", "END"))
    assert protocol_parameters(greedy) == {"max_tokens": 12, "temperature": 0.0, "stop": ["\n", "END"]}
    sampled = GenerationParams(max_new_tokens=5, do_sample=True, temperature=0.7, top_p=0.9, seed=3)
    assert protocol_parameters(sampled) == {"max_tokens": 5, "temperature": 0.7, "top_p": 0.9, "seed": 3}
    assert protocol_parameters(GenerationParams(max_new_tokens=5, do_sample=True))["temperature"] == 1.0


def test_parameters_the_protocol_lacks_are_named() -> None:
    assert unsupported_parameters(GenerationParams(max_new_tokens=3, temperature=0.5)) == []
    params = GenerationParams(num_beams=4, repetition_penalty=1.2, top_k=5, no_repeat_ngram_size=2, min_new_tokens=1)
    assert unsupported_parameters(params) == [
        "min_new_tokens",
        "top_k",
        "repetition_penalty",
        "no_repeat_ngram_size",
        "num_beams",
    ]


def test_identity_covers_url_name_revision_server_id_and_prompt_endpoint() -> None:
    served = ServedModel.from_settings(
        Settings(model="openai:m", base_url="http://127.0.0.1:8000/v1", model_revision="ckpt-7")
    )
    info = ServerInfo(model_ids=("m",), reported_id="m (root /models/m)")
    identity = served_identity(served, info)
    assert identity == ("served|http://127.0.0.1:8000/v1|m|revision=ckpt-7|server_id=m (root /models/m)|prompts=chat")
    others = [
        served_identity(
            ServedModel.from_settings(
                Settings(model="openai:m", base_url="http://127.0.0.1:8001/v1", model_revision="ckpt-7")
            ),
            info,
        ),
        served_identity(
            ServedModel.from_settings(
                Settings(model="openai:m", base_url="http://127.0.0.1:8000/v1", model_revision="ckpt-8")
            ),
            info,
        ),
        served_identity(served, ServerInfo(model_ids=("m",), reported_id="m (root /models/other)")),
        served_identity(
            ServedModel.from_settings(
                Settings(
                    model="openai:m",
                    base_url="http://127.0.0.1:8000/v1",
                    model_revision="ckpt-7",
                    prompt_endpoint="completions",
                )
            ),
            info,
        ),
    ]
    assert len({identity, *others}) == 5


def test_a_served_judge_is_the_model_under_test_only_on_the_same_server_and_key() -> None:
    from pytest_llmeval.backends import judge_is_model_under_test

    same = Settings(model="openai:m", judge_model="openai:m", base_url="http://127.0.0.1:1/v1")
    assert judge_is_model_under_test(same)
    assert not judge_is_model_under_test(replace(same, judge_base_url="http://127.0.0.1:2/v1"))
    assert not judge_is_model_under_test(replace(same, judge_api_key_env="OTHER_KEY"))
    assert not judge_is_model_under_test(replace(same, judge_model="openai:n"))
    assert judge_is_model_under_test(Settings(model="/models/a", judge_model="/models/a"))


def test_openai_models_are_served_by_the_registered_openai_backend() -> None:
    from pytest_llmeval.backends import backend_for, backend_names

    assert "openai" in backend_names()
    spec = backend_for("openai:support-v3:latest")
    assert (spec.name, spec.scheme, spec.checks_tokenizer) == ("openai", "openai", None)

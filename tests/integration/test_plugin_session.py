"""Whole pytest sessions with the plugin: fixtures, markers, options, header, skips and reports."""

from __future__ import annotations

from pathlib import Path

import pytest

MANY_TESTS = """
import os
import pytest

@pytest.mark.llm(prompt="How do I reset my password?", max_new_tokens=4)
def test_marker(llm_output):
    assert llm_output.num_tokens == 4

@pytest.mark.parametrize("n", range(8))
def test_many(llm, n):
    assert llm.generate(f"prompt {n}", max_new_tokens=2).num_tokens == 2

def test_batch(llm):
    assert len(llm.generate_many(["a", "b", "c"], max_new_tokens=2)) == 3

def test_identity(llm):
    with open("ids.txt", "a", encoding="utf-8") as f:
        f.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {id(llm)} {id(llm.model)}\\n")
"""

COUNT_LOADS = """
import os
import transformers

_original = transformers.AutoModelForCausalLM.from_pretrained.__func__

@classmethod
def _counting(cls, *args, **kwargs):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open("loads.txt", "a", encoding="utf-8") as f:
        f.write(worker + "\\n")
    return _original(cls, *args, **kwargs)

transformers.AutoModelForCausalLM.from_pretrained = _counting
"""


def test_model_is_loaded_once_for_a_session_of_many_tests(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makeconftest(COUNT_LOADS)
    pytester.makepyfile(MANY_TESTS)
    result = pytester.runpytest_subprocess(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(passed=11)
    assert (pytester.path / "loads.txt").read_text(encoding="utf-8").split() == ["main"]
    ids = (pytester.path / "ids.txt").read_text(encoding="utf-8").splitlines()
    assert len(ids) == 1


def test_model_is_loaded_once_per_xdist_worker(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makeconftest(COUNT_LOADS)
    pytester.makepyfile(MANY_TESTS.replace("range(8)", "range(30)"))
    result = pytester.runpytest_subprocess(f"--llm-model={tiny_gpt2}", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=33)
    loads = sorted((pytester.path / "loads.txt").read_text(encoding="utf-8").split())
    assert loads == ["gw0", "gw1"]


def test_without_a_model_model_tests_skip_and_others_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_plain():
            assert True

        @pytest.mark.llm(prompt="hi")
        def test_needs_output(llm_output):
            pass

        def test_needs_model(llm):
            pass
        """
    )
    result = pytester.runpytest("-rs", "--strict-markers")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED*:6: no --llm-model given", "SKIPPED*:10: no --llm-model given"])
    result.stdout.fnmatch_lines(["llmeval: no --llm-model given; tests that need a model are skipped"])
    assert result.ret == pytest.ExitCode.OK


def test_llm_required_makes_a_missing_model_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nllm_required = true\n")
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: llm_required is set, so a model is needed: give --llm-model PATH*"])


def test_markers_are_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.success_mode
        @pytest.mark.failure_mode
        @pytest.mark.llm(prompt="x")
        def test_marked():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    pytester.runpytest("--markers").stdout.fnmatch_lines(
        ["@pytest.mark.llm(prompt=None, messages=None, system=None, **generation):*", "@pytest.mark.success_mode:*"]
    )


def test_report_header_names_the_model(
    pytester: pytest.Pytester, tiny_gpt2: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_plain(): pass")
    monkeypatch.setenv("COLUMNS", "200")
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}", "--llm-dtype=float32")
    result.stdout.fnmatch_lines(
        [
            f"llmeval: model {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device auto, dtype float32); "
            "device resolved when it loads"
        ]
    )
    result.assert_outcomes(passed=1)


def test_no_test_needs_the_model_so_it_is_not_loaded(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    assert "loaded in" not in result.stdout.str()


def test_summary_says_what_was_loaded(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile("def test_one(llm):\n    llm.generate('hi', max_new_tokens=2)\n")
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.stdout.fnmatch_lines(
        [
            "*- llmeval -*",
            f"model: {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device cpu (asked auto), dtype float32 "
            "(asked auto), chat template off)",
            "outputs: 1 generated in * s, 0 from the cache; model loaded in * s (import * s, from_pretrained * s)",
        ]
    )


def test_ini_options_and_the_flag_wins(pytester: pytest.Pytester, tiny_gpt2: Path, tiny_llama_chat: Path) -> None:
    pytester.makeini(f"[pytest]\nllm_model = {tiny_gpt2}\nllm_max_new_tokens = 3\n")
    pytester.makepyfile(
        """
        def test_tokens(llm):
            assert llm.generate("hi").num_tokens == 3
            print("ARCH", llm.backend.describe().architecture)
        """
    )
    result = pytester.runpytest("-s")
    result.stdout.fnmatch_lines(["*ARCH GPT2LMHeadModel"])
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("-s", f"--llm-model={tiny_llama_chat}")
    result.stdout.fnmatch_lines(["*ARCH LlamaForCausalLM"])


def test_ini_model_path_is_relative_to_the_ini_file(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    import shutil

    shutil.copytree(tiny_gpt2, pytester.path / "checkpoints" / "run-7")
    pytester.makeini("[pytest]\nllm_model = checkpoints/run-7\n")
    sub = pytester.mkdir("evals")
    (sub / "test_x.py").write_text("def test_x(llm):\n    assert llm.generate('a', max_new_tokens=1)\n")
    result = pytester.runpytest(str(sub), "--rootdir", str(pytester.path))
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("model", ["tiny_gpt2", "tiny_t5", "tiny_llama_chat"])
def test_each_kind_of_model_serves_llm_output(
    pytester: pytest.Pytester, model: str, request: pytest.FixtureRequest
) -> None:
    path = request.getfixturevalue(model)
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmeval import Generation

        @pytest.mark.llm(prompt="How do I reset my password?", system="Be brief.", max_new_tokens=3)
        def test_output(llm_output):
            assert isinstance(llm_output, Generation)
            assert llm_output.num_tokens == 3 and llm_output.finish_reason == "length"
            assert llm_output.prompt == "system: Be brief.\\nuser: How do I reset my password?"

        @pytest.mark.llm(messages=[{"role": "user", "content": "hi"}], max_new_tokens=2)
        def test_chat(llm_output):
            assert llm_output.num_tokens == 2
        """
    )
    pytester.runpytest(f"--llm-model={path}").assert_outcomes(passed=2)


def test_adapter_option(pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path) -> None:
    pytester.makepyfile(
        """
        def test_adapter(llm):
            assert type(llm.model).__name__.startswith("PeftModel")
            assert llm.generate("hi", max_new_tokens=2).num_tokens == 2
        """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}", f"--llm-adapter={tiny_gpt2_lora}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*adapter {tiny_gpt2_lora}*"])


def test_failure_report_shows_prompt_and_output(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="How do I reset my password?", max_new_tokens=5)
        def test_reset(llm_output):
            assert "Forgot Password" in llm_output
        """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- llm output -*",
            "prompt: How do I reset my password?",
            "output (5 tokens, finish: length, * s):",
        ]
    )


def test_unknown_generation_parameter_fails_only_that_test(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="x", max_tokens=3)
        def test_bad(llm_output):
            pass

        def test_bad_call(llm):
            llm.generate("x", temprature=0.5)

        @pytest.mark.llm(prompt="x", max_new_tokens=2)
        def test_good(llm_output):
            pass

        def test_needs_marker(llm_output):
            pass
        """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(passed=1, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.llm: unknown generation parameter 'max_tokens' (did you mean 'max_new_tokens'?)*",
            "*llm_output needs a prompt: mark the test with @pytest.mark.llm(prompt='...')*",
            "*GenerationParameterError: unknown generation parameter 'temprature' (did you mean 'temperature'?)*",
        ]
    )
    # The traceback stops at the user's call: no library source is shown.
    assert "raise GenerationParameterError" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


PIPELINE = """
def answer(prompt, max_new_tokens=None):
    if isinstance(prompt, list):
        return " | ".join(m["role"] + "=" + m["content"] for m in prompt)
    if prompt == "boom":
        raise RuntimeError("backend down")
    if prompt == "number":
        return 42
    return f"echo:{prompt}:{max_new_tokens}"
"""


def test_callable_backend_scripts_outputs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(my_pipeline=PIPELINE)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="hello", max_new_tokens=5)
        def test_prompt(llm_output):
            assert llm_output == "echo:hello:5"

        @pytest.mark.llm(prompt="hello", system="be kind")
        def test_system(llm_output):
            assert llm_output == "system=be kind | user=hello"

        def test_default_tokens(llm):
            assert llm.generate("a") == "echo:a:64"

        def test_stop(llm):
            out = llm.generate("a b", stop=":")
            assert out == "echo" and out.finish_reason == "stop"

        def test_raises(llm):
            llm.generate("boom")

        def test_not_text(llm):
            llm.generate("number")
        """
    )
    result = pytester.runpytest("--llm-model=py:my_pipeline:answer")
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*GenerationError: py:my_pipeline:answer raised RuntimeError: backend down",
            "*GenerationError: py:my_pipeline:answer returned int, expected the output text (str): 42",
        ]
    )
    result.stdout.fnmatch_lines(["llmeval: model py:my_pipeline:answer (Python callable)"])


def make_folder(base: Path, files: dict[str, str]) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text, encoding="utf-8")
    return base


BAD_INPUTS = {
    "missing path": (
        lambda p, m: [f"--llm-model={p / 'nope'}"],
        "does not exist. Give the path of a local model folder",
    ),
    "no config.json": (lambda p, m: [f"--llm-model={make_folder(p / 'c', {'x.txt': ''})}"], "config.json is missing"),
    "corrupt config.json": (
        lambda p, m: [f"--llm-model={make_folder(p / 'c', {'config.json': '{oops'})}"],
        "config.json is not valid JSON (line 1, column 2",
    ),
    "config but no weights": (
        lambda p, m: [f"--llm-model={make_folder(p / 'c', {'config.json': '{}'})}"],
        "has a config.json but no weights",
    ),
    "no tokenizer": (
        lambda p, m: [f"--llm-model={make_folder(p / 'c', {'config.json': '{}', 'model.safetensors': ''})}"],
        "has no tokenizer",
    ),
    "unknown dtype": (lambda p, m: [f"--llm-model={m}", "--llm-dtype=fp4"], "--llm-dtype: 'fp4' is not one of auto"),
    "unknown device": (lambda p, m: [f"--llm-model={m}", "--llm-device=tpu"], "--llm-device: 'tpu' is not a device"),
    "cuda without CUDA": (
        lambda p, m: [f"--llm-model={m}", "--llm-device=cuda"],
        "--llm-device cuda: CUDA is not available here",
    ),
    "adapter that is not an adapter": (
        lambda p, m: [f"--llm-model={m}", f"--llm-adapter={m}"],
        "is not a PEFT adapter: adapter_config.json is missing",
    ),
    "py target that does not import": (
        lambda p, m: ["--llm-model=py:nowhere_pkg.mod:fn"],
        "cannot import module 'nowhere_pkg.mod'",
    ),
    "py target that is not callable": (lambda p, m: ["--llm-model=py:os:sep"], "'sep' is a str, not a callable"),
    "bad batch size": (lambda p, m: ["--llm-batch-size=0"], "--llm-batch-size: must be from 1 to 10,000,000, got 0"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_configuration_ends_the_session_before_any_test(
    pytester: pytest.Pytester, tiny_gpt2: Path, case: str
) -> None:
    import torch

    if case == "cuda without CUDA" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    args, message = BAD_INPUTS[case]
    pytester.makepyfile("def test_one(llm):\n    open('ran.txt', 'w').close()\n")
    result = pytester.runpytest(*args(pytester.path, tiny_gpt2))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
    assert not (pytester.path / "ran.txt").exists()


MODE_TESTS = """
import pytest

@pytest.mark.success_mode
def test_a(): pass

@pytest.mark.success_mode
def test_b(): assert 0

@pytest.mark.failure_mode
@pytest.mark.parametrize("x", [1, 2])
def test_c(x): pass

@pytest.mark.failure_mode
@pytest.mark.xfail(reason="known")
def test_d(): assert 0

@pytest.mark.failure_mode
def test_e(llm): pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

@pytest.mark.failure_mode
def test_f(broken): pass

def test_unmarked(): pass
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_summary_counts_outcomes_per_mode(pytester: pytest.Pytester, xdist: bool) -> None:
    pytester.makepyfile(MODE_TESTS)
    args = ["-n", "2", "-p", "xdist"] if xdist else []
    result = pytester.runpytest_subprocess(*args) if xdist else pytester.runpytest(*args)
    result.stdout.fnmatch_lines(
        [
            "*- llmeval -*",
            "success_mode: 1 passed, 1 failed",
            "failure_mode: 2 passed, 1 error, 1 skipped, 1 xfailed",
        ]
    )


def test_a_prompt_that_cannot_be_generated_fails_only_its_test(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="word " * 3000)
        def test_too_long(llm_output):
            pass

        @pytest.mark.llm(prompt="hello", max_new_tokens=2)
        def test_fine(llm_output):
            assert llm_output.num_tokens == 2
        """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*llm_output: a prompt of * tokens + 64 new tokens exceeds the context of * (256 positions)*"]
    )


def test_a_pipeline_that_raises_on_one_case_fails_only_that_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        bot="def answer(prompt):\n    if prompt == 'boom':\n        raise RuntimeError('backend down')\n    return 'ok'\n"
    )
    (pytester.path / "c.eval.yaml").write_text(
        "cases:\n  - {id: a, prompt: fine, expect: {equals: ok}}\n  - {id: b, prompt: boom}\n  - {id: c, prompt: also fine}\n",
        encoding="utf-8",
    )
    result = pytester.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["case b (c.eval.yaml:3): py:bot:answer raised RuntimeError: backend down"])

"""Checks inside whole pytest sessions: failure reports, usage errors, recording, options."""

from __future__ import annotations

from pathlib import Path

import pytest

PIPELINE = """
import json

ANSWERS = {
    "reset": "To change your password, open Settings.",
    "user": 'Here you go: ```json\\n{"name": "Ann", "age": 31}\\n```',
    "bad-user": '{"name": "Ann", "age": "old"}',
    "rude": "Those people are morons.",
}

def answer(prompt):
    return ANSWERS.get(prompt, "I don't know")
"""


@pytest.fixture
def scripted(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=PIPELINE)
    return pytester


def test_a_failing_check_shows_expected_got_output_and_every_check(scripted: pytest.Pytester) -> None:
    scripted.makepyfile(
        """
        import pytest
        from pytest_llmeval import assert_contains_any, assert_not_garbled, assert_length

        @pytest.mark.success_mode
        @pytest.mark.llm(prompt="reset")
        def test_reset(llm_output):
            assert_not_garbled(llm_output)
            assert_length(llm_output, max=20, unit="words")
            assert_contains_any(llm_output, ["Forgot Password", "reset link"])
        """
    )
    result = scripted.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            # the check's message and the test's line that called it, not pytest's source listing
            "contains_any: expected at least one of ['Forgot Password', 'reset link'] (case-insensitive); "
            "found none in 'To change your password, open Settings.'",
            "test_a_failing_check_shows_expected_got_output_and_every_check.py:9: in test_reset",
            '    assert_contains_any(llm_output, ["Forgot Password", "reset link"])',
            "*- llm output -*",
            "prompt: reset",
            "To change your password, open Settings.",
            "*- llm checks -*",
            "PASS not_garbled (score 1): no garble signal tripped",
            "PASS length (score 6): *",
            "FAIL contains_any: expected at least one of*",
            "success_mode: 1 failed",
        ]
    )
    assert "def assert_contains_any" not in result.stdout.str()
    assert "CheckFailed" not in result.stdout.str()
    # --tb=long asks for pytest's traceback: it has it, ending at the user's line (the helper
    # hides its own frames)
    long = scripted.runpytest("--llm-model=py:bot:answer", "--tb=long")
    long.stdout.fnmatch_lines(
        [
            '>       assert_contains_any(llm_output, ["Forgot Password", "reset link"])',
            "E       pytest_llmeval.checks.base.CheckFailed: contains_any: expected at least one of *",
        ]
    )
    assert "def assert_contains_any" not in long.stdout.str()


def test_helpers_return_what_they_parsed(scripted: pytest.Pytester) -> None:
    scripted.makepyfile(
        """
        import pydantic
        from pytest_llmeval import assert_is_json, assert_pydantic, check

        class User(pydantic.BaseModel):
            name: str
            age: int

        def test_user(llm):
            out = llm.generate("user")
            assert assert_is_json(out) == {"name": "Ann", "age": 31}
            user = assert_pydantic(out, User)
            assert user.age == 31
            assert check("not_contains", out, substring="Bob").passed
            assert not check("pydantic", llm.generate("bad-user"), model=User).passed
        """
    )
    scripted.runpytest("--llm-model=py:bot:answer").assert_outcomes(passed=1)


def test_usage_errors_are_told_apart_from_model_failures(scripted: pytest.Pytester) -> None:
    scripted.makepyfile(
        """
        from pytest_llmeval import assert_json_schema, assert_pydantic

        def test_bad_schema(llm):
            assert_json_schema(llm.generate("user"), {"type": "objekt"})

        def test_bad_class(llm):
            assert_pydantic(llm.generate("user"), "no_such_module:User")
        """
    )
    result = scripted.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["E       pytest_llmeval.checks.base.CheckUsageError: *objekt*"])
    result.stdout.fnmatch_lines(["E       pytest_llmeval.checks.base.CheckUsageError: *no_such_module*"])
    assert "CheckFailed" not in result.stdout.str()


def test_bias_lexicon_option_extends_the_shipped_lexicon(scripted: pytest.Pytester) -> None:
    scripted.makefile(".yaml", lexicon="categories:\n  product:\n    terms: [competitorcorp]\n")
    scripted.makepyfile(
        """
        from pytest_llmeval import check

        def test_terms(llm):
            result = check("no_bias_terms", llm.generate("rude") + " Try CompetitorCorp.")
            print("MESSAGE", result.message)
            assert not result.passed
        """
    )
    result = scripted.runpytest("--llm-model=py:bot:answer", "--llm-bias-lexicon=lexicon.yaml", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*'CompetitorCorp' (product)*"])


def test_a_bias_lexicon_that_does_not_exist_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--llm-bias-lexicon=missing.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: *missing.yaml*"])


def test_token_checks_use_the_model_tokenizer(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_llmeval import assert_length

        @pytest.mark.llm(prompt="hello", max_new_tokens=6)
        def test_tokens(llm_output, llm):
            measured = assert_length(llm_output, max=100, unit="tokens")
            assert measured == len(llm.tokenizer.tokenize(str(llm_output)))
        """
    )
    pytester.runpytest(f"--llm-model={tiny_gpt2}").assert_outcomes(passed=1)

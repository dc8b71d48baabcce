"""The human_rating check in whole pytest sessions: a case stays green while its rated output is
unchanged, and a new or changed output is reported as needing review, never passed."""

from __future__ import annotations

import textwrap
import time

import pytest

from pytest_llmeval.review.store import Judgement, ReviewStore
from pytest_llmeval.store import output_sha256

ANSWER = "Click Forgot Password on the sign-in page."


def _bot(answer: str) -> str:
    return f"def answer(prompt, max_new_tokens=None):\n    return {answer!r}\n"


CASES = """
cases:
  - id: reset
    prompt: How do I reset my password?
    expect:
      human_rating: {min: 4}
"""

PYTHON_TEST = """
import pytest
from pytest_llmeval import assert_human_rating

@pytest.mark.llm(prompt="How do I reset my password?")
def test_reads_well(llm_output):
    assert_human_rating(llm_output, min=4)
"""


def _rate(case_id: str, output: str, helpfulness: int) -> None:
    # The plugin reads the review file next to the run history: .llmeval/reviews.db by default.
    ReviewStore(".llmeval/reviews.db").add(
        Judgement(
            judgement_id="",
            kind="likert",
            session="likert:r",
            case_id=case_id,
            run_id="r",
            output_sha256=output_sha256(output) or "",
            annotator="ann",
            created_at=time.time(),
            ratings={"helpfulness": helpfulness, "tone": 5},
            output=output,
        )
    )


def test_rated_output_passes_changed_output_needs_review(pytester: pytest.Pytester) -> None:
    (pytester.path / "support.eval.yaml").write_text(textwrap.dedent(CASES).lstrip(), encoding="utf-8")
    pytester.makepyfile(bot=_bot(ANSWER), test_human=PYTHON_TEST)
    args = ("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "-v")

    unrated = pytester.runpytest(*args)
    assert unrated.ret == 1  # never a pass
    unrated.stdout.fnmatch_lines(
        [
            "*support.eval.yaml::reset NEEDS REVIEW*",
            "*test_human.py::test_reads_well NEEDS REVIEW*",
            "*2 tests need human review (outputs nobody rated, or changed since rated); rate them with: llmeval review",
            "  support.eval.yaml::reset: nobody has rated this case yet",
            "  test_human.py::test_reads_well: nobody has rated this case yet",
            "*= 2 needs review in *",
        ]
    )

    _rate("support.eval.yaml::reset", ANSWER, 5)
    _rate("test_human.py::test_reads_well", ANSWER, 3)
    rated = pytester.runpytest(*args)
    rated.assert_outcomes(passed=1, failed=1)
    rated.stdout.fnmatch_lines(
        [
            "*support.eval.yaml::reset PASSED*",
            "*human_rating: expected every rated dimension >= 4, got helpfulness 3 (1 annotator: ann)*",
        ]
    )

    pytester.makepyfile(bot=_bot("Open Settings."))  # the model's answer changed since it was rated
    changed = pytester.runpytest(*args)
    assert changed.ret == 1
    changed.stdout.fnmatch_lines(
        [
            "*support.eval.yaml::reset NEEDS REVIEW*",
            "  support.eval.yaml::reset: the output changed since it was rated (1 rating(s) of other outputs)",
            "*= 2 needs review in *",
        ]
    )


def test_the_markdown_summary_has_a_human_review_section_once_people_rated(pytester: pytest.Pytester) -> None:
    (pytester.path / "support.eval.yaml").write_text(
        "cases:\n  - id: reset\n    prompt: How do I reset my password?\n    expect: {contains: Forgot}\n",
        encoding="utf-8",
    )
    pytester.makepyfile(bot=_bot(ANSWER))
    args = ("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "--llm-markdown=summary.md")
    pytester.runpytest(*args).assert_outcomes(passed=1)
    summary = pytester.path / "summary.md"
    assert "Human review" not in summary.read_text(encoding="utf-8")  # nobody reviewed anything yet
    _rate("support.eval.yaml::reset", ANSWER, 4)
    pytester.runpytest(*args).assert_outcomes(passed=1)
    text = summary.read_text(encoding="utf-8")
    assert "### Human review" in text
    assert "1 of 1 cases rated by 1 annotator; **0 need review**." in text
    assert "| helpfulness | 4.00 [n too small for an interval] | 1 | - | no judge scores |" in text


def test_human_rating_on_a_sampled_case_is_refused_with_the_reason(pytester: pytest.Pytester) -> None:
    """The review app shows one output per case, so samples 2..K could never be rated: a sampled case
    with human_rating fails with the reason instead of waiting for a review that cannot come."""
    sampled = CASES.replace("    expect:", "    samples: 3\n    expect:")
    (pytester.path / "support.eval.yaml").write_text(textwrap.dedent(sampled).lstrip(), encoding="utf-8")
    pytester.makepyfile(bot=_bot(ANSWER))
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*human_rating rates one output per case, and this case asks for 3 samples; ask "
            "for 1 sample (samples: 1) or judge the samples with automatic checks*"
        ]
    )


SAMPLED_PYTHON_TESTS = """
import pytest
from pytest_llmeval import assert_human_rating

@pytest.mark.llm(prompt="How do I reset my password?", samples=3)
def test_sampled(llm_samples):
    llm_samples.assert_pass_rate(lambda output: assert_human_rating(output, min=4))

@pytest.mark.llm(prompt="How do I reset my password?", samples=2)
def test_first_sample(llm_samples):
    assert_human_rating(llm_samples[0], min=4)

@pytest.mark.llm(prompt="How do I reset my password?", samples=1)
def test_one_sample(llm_samples):
    llm_samples.assert_pass_rate(lambda output: assert_human_rating(output, min=4))
"""


def test_human_rating_in_a_python_test_with_several_samples_is_refused_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    """The same refusal for llm_samples: with K > 1 outputs human_rating could never pass, so it is a
    usage error naming why and the fix, not K samples that wait forever for review; one sample is
    rated as usual."""
    pytester.makepyfile(bot=_bot(ANSWER), test_sampled=SAMPLED_PYTHON_TESTS)
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "-v")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*test_sampled.py::test_sampled FAILED*",
            "*test_sampled.py::test_first_sample FAILED*",
            "*test_sampled.py::test_one_sample NEEDS REVIEW*",
        ]
    )
    out = result.stdout.str()
    for count in (3, 2):
        assert (
            f"CheckUsageError: check 'human_rating' rates one output per case, and this test takes {count} samples "
            f"(llm_samples): the review app shows one output per case, so samples 2..{count} could never be rated; "
            "ask for 1 sample (@pytest.mark.llm without samples, and llm_output) or judge the samples with "
            "automatic checks"
        ) in out
    assert "test_sampled.py::test_one_sample: nobody has rated this case yet" in out
    assert "test_sampled.py::test_sampled: nobody" not in out  # refused, not waiting for a review

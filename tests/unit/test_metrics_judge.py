"""LLM-as-judge: prompts, score reading, pairwise preference and the checks, with a scripted judge."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import pytest_llmeval.assertions as assertions
from pytest_llmeval.checks import CheckFailed, CheckUsageError, check
from pytest_llmeval.metrics import (
    Judge,
    JudgeParseError,
    PairwiseResult,
    build_judge_prompt,
    build_pairwise_prompt,
    judge_pairwise_many,
    parse_choice,
    parse_score,
    score_from_logprobs,
    using_judge,
    win_rate,
)

RUBRIC = "The answer tells the user to click Forgot Password."


class FakeJudge:
    """A scripted judge: ``logprobs(prompt)`` and ``answer(prompt)`` decide from the prompt text."""

    def __init__(
        self,
        logprobs: Callable[[str], dict[str, float]] | None = None,
        answer: Callable[[str], str] | None = None,
    ) -> None:
        self._logprobs = logprobs or (lambda prompt: {})
        self._answer = answer or (lambda prompt: "")
        self.calls: list[tuple[str, list[str], list[str]]] = []

    def score_next_token(self, prompts: list[str], candidates: list[str]) -> list[dict[str, float]]:
        self.calls.append(("score_next_token", list(prompts), list(candidates)))
        return [{k: v for k, v in self._logprobs(p).items() if k.strip() in candidates} for p in prompts]

    def generate(self, prompts: list[str]) -> list[str]:
        self.calls.append(("generate", list(prompts), []))
        return [self._answer(p) for p in prompts]


def probabilities(**by_score: float) -> dict[str, float]:
    """Log-probabilities from probabilities given as s1=.., s2=.. (missing: absent)."""
    return {name[1:]: math.log(p) for name, p in by_score.items()}


def response_of(prompt: str) -> str:
    return prompt.split("Response:\n", 1)[1].rsplit("\n\nScore", 1)[0]


def test_fake_judge_is_a_judge() -> None:
    assert isinstance(FakeJudge(), Judge)
    assert not isinstance(object(), Judge)


# -- prompts --------------------------------------------------------------------------------------


def test_judge_prompt_contains_rubric_reference_output_and_ends_at_the_score() -> None:
    prompt = build_judge_prompt(RUBRIC, "Click Forgot Password.", reference="Use Forgot Password.")
    assert RUBRIC in prompt and "Reference answer:\nUse Forgot Password." in prompt
    assert "Response:\nClick Forgot Password." in prompt
    assert prompt.endswith("Score (1-5):")
    assert "Reference answer" not in build_judge_prompt(RUBRIC, "x")
    with pytest.raises(ValueError, match="rubric is empty"):
        build_judge_prompt(" ", "x")


def test_pairwise_prompt_orders_the_answers() -> None:
    prompt = build_pairwise_prompt("first answer", "second answer", "Be brief.")
    assert prompt.index("Response A:\nfirst answer") < prompt.index("Response B:\nsecond answer")
    assert "Be brief." in prompt and prompt.endswith("Better response (A or B):")


# -- scores from log-probabilities ----------------------------------------------------------------


def test_score_from_logprobs_hand_worked() -> None:
    # unnormalised 0.1, 0.1, 0.2 on 3, 4, 5 (other tokens took the rest of the mass)
    score = score_from_logprobs({"3": math.log(0.1), "4": math.log(0.1), "5": math.log(0.2), "The": -0.1})
    assert score.probabilities == pytest.approx({1: 0.0, 2: 0.0, 3: 0.25, 4: 0.25, 5: 0.5})
    assert score.expected == pytest.approx(3 * 0.25 + 4 * 0.25 + 5 * 0.5)  # 4.25
    assert score.most_likely == 5


def test_score_from_logprobs_merges_leading_space_variants_and_handles_extremes() -> None:
    score = score_from_logprobs({" 4": math.log(0.3), "4": math.log(0.3), "2": math.log(0.6)})
    assert score.probabilities[4] == pytest.approx(0.5) and score.probabilities[2] == pytest.approx(0.5)
    assert score.most_likely == 2  # a tie goes to the lower score
    tiny = score_from_logprobs({"1": -1000.0, "5": -1001.0})  # would underflow without shifting
    assert tiny.probabilities[1] == pytest.approx(1 / (1 + math.exp(-1)))
    assert score_from_logprobs({"3": 0.0, "4": -math.inf}).expected == 3.0
    with pytest.raises(ValueError, match="none of the score tokens"):
        score_from_logprobs({"yes": -0.1, "1": -math.inf})
    with pytest.raises(ValueError, match="NaN"):
        score_from_logprobs({"1": math.nan})


# -- free-text scores -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        ("4", 4),
        ("Score: 4/5", 4),
        ("**4**", 4),
        ("I'd give it a 4 out of 5.", 4),
        ("5/5 - perfect", 5),
        ("Rating: 2", 2),
        ("Score (1-5): 3", 3),
        ("On a scale of 1 to 5, I would rate this response 2.", 2),
        ("The answer covers 3 points and cites 2 sources. Score: 4", 4),
        ("1", 1),
        ("4.\nThe response is accurate.", 4),
    ],
)
def test_parse_score_accepts(answer: str, score: int) -> None:
    assert parse_score(answer) == score


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("The response is fine.", "no score 1-5 found in 'The response is fine.'"),
        ("", "no score 1-5 found in ''"),
        ("Either 3 or 4.", r"ambiguous judge answer: several different scores \(3, 4\)"),
        ("Accuracy 3/5, clarity 5/5", r"several different scores \(3, 5\)"),
        ("Score: 7", "score 7 is not a whole number from 1 to 5"),
        ("Score: 4.5/5", "score 4.5 is not a whole number from 1 to 5"),
    ],
)
def test_parse_score_rejects(answer: str, error: str) -> None:
    with pytest.raises(JudgeParseError, match=error):
        parse_score(answer)


@pytest.mark.parametrize(
    ("answer", "choice"),
    [("A", "A"), ("**B**", "B"), ("Response B is better.", "B"), ("Answer: A", "A"),
     ("Both are fine, but response A is clearer.", "A")],
)
def test_parse_choice(answer: str, choice: str) -> None:
    assert parse_choice(answer) == choice


def test_parse_choice_errors() -> None:
    with pytest.raises(JudgeParseError, match="no choice A or B"):
        parse_choice("Both are equally good.")
    with pytest.raises(JudgeParseError, match="names both A and B"):
        parse_choice("Neither response A nor response B is good.")


# -- pairwise -------------------------------------------------------------------------------------


def test_win_rate_counts_wins_ties_and_losses() -> None:
    assert win_rate([("A", "B")]) == 1.0  # candidate preferred in both orders
    assert win_rate([("B", "A")]) == 0.0
    assert win_rate([("A", "A"), ("B", "B"), ("tie", "B")]) == 0.5  # position bias: ties
    assert win_rate([("A", "B"), ("A", "B"), ("B", "A"), ("A", "A")]) == pytest.approx(2.5 / 4)
    assert win_rate([PairwiseResult("A", "B", 1.0), ("B", "A")]) == 0.5
    with pytest.raises(ValueError, match="no comparisons"):
        win_rate([])
    with pytest.raises(ValueError, match="got 'C'"):
        win_rate([("C", "A")])  # type: ignore[list-item]


def prefers(word: str, position_bias: bool = False) -> Callable[[str], dict[str, float]]:
    """Log-probs of a judge preferring the response containing ``word`` (or always A when biased)."""

    def logprobs(prompt: str) -> dict[str, float]:
        a_part = prompt.split("Response A:\n", 1)[1].split("Response B:", 1)[0]
        a_better = True if position_bias else word in a_part
        return {"A": math.log(0.8 if a_better else 0.2), "B": math.log(0.2 if a_better else 0.8)}

    return logprobs


def test_compare_many_asks_both_orders_in_one_batch() -> None:
    judge = FakeJudge(logprobs=prefers("Forgot"))
    results = judge_pairwise_many(judge, ["Click Forgot Password", "No idea"], ["No idea", "Click Forgot Password"])
    assert [r.outcome for r in results] == [1.0, 0.0]
    assert len(judge.calls) == 1 and len(judge.calls[0][1]) == 4 and judge.calls[0][2] == ["A", "B"]
    biased = judge_pairwise_many(FakeJudge(logprobs=prefers("", position_bias=True)), ["x"], ["y"])
    assert biased[0] == PairwiseResult("A", "A", 0.5)


# -- checks ---------------------------------------------------------------------------------------


def grader(prompt: str) -> dict[str, float]:
    """Scores 5 (mostly) when the response mentions Forgot Password, 1 otherwise."""
    if "Forgot Password" in response_of(prompt):
        return probabilities(s4=0.2, s5=0.6)
    return probabilities(s1=0.6, s2=0.2)


def test_judge_check_without_a_judge_names_the_option() -> None:
    with pytest.raises(CheckUsageError, match="--llm-judge-model"):
        check("judge", "output", rubric=RUBRIC)
    with pytest.raises(CheckUsageError, match="--llm-judge-model"):
        check("preferred_over", "output", other="baseline")


def test_judge_check_logprobs_mode_end_to_end() -> None:
    judge = FakeJudge(logprobs=grader)
    with using_judge(judge):
        good = check("judge", "Click Forgot Password on the sign-in page.", rubric=RUBRIC)
        bad = check("judge", "I don't know.", rubric=RUBRIC, min_score=3)
    assert good.passed and good.score == pytest.approx(4 * 0.25 + 5 * 0.75)
    assert good.message == "judge: score 4.75 >= min 3 (most likely 5)"
    assert good.details["metric"] == {"name": "judge", "value": good.score, "higher_is_better": True}
    assert good.details["probabilities"][5] == pytest.approx(0.75)
    assert not bad.passed and bad.score == pytest.approx(1 * 0.75 + 2 * 0.25)
    assert bad.message.startswith("judge: score 1.25 < min 3 (most likely 1; 1: 0.75, 2: 0.25) for rubric ")
    assert bad.message.endswith("output \"I don't know.\"")
    assert judge.calls[0][2] == ["1", "2", "3", "4", "5"]
    assert "Response:\nClick Forgot Password" in judge.calls[0][1][0]


def test_judge_check_text_mode_and_reference() -> None:
    judge = FakeJudge(answer=lambda p: "Score: 4/5" if "Reference answer" in p else "2")
    result = check("judge", "x", rubric=RUBRIC, reference="Use Forgot Password.", mode="text", judge=judge)
    assert result.passed and result.score == 4.0 and result.message == "judge: score 4 >= min 3 (most likely 4)"
    unreadable = check("judge", "x", rubric=RUBRIC, mode="text", judge=FakeJudge(answer=lambda p: "Great job!"))
    assert not unreadable.passed
    assert unreadable.message == "judge: could not read the judge's answer: no score 1-5 found in 'Great job!'"


def test_judge_check_argument_errors() -> None:
    judge = FakeJudge(logprobs=grader)
    with pytest.raises(CheckUsageError, match="outside the scale 1..5"):
        check("judge", "x", rubric=RUBRIC, min_score=7, judge=judge)
    with pytest.raises(CheckUsageError, match="'rubric' is empty"):
        check("judge", "x", rubric="", judge=judge)
    with pytest.raises(CheckUsageError, match="argument 'mode'"):
        check("judge", "x", rubric=RUBRIC, mode="vibes", judge=judge)
    with pytest.raises(CheckUsageError, match="argument 'judge'"):
        check("judge", "x", rubric=RUBRIC, judge="gpt-4")


def test_preferred_over_end_to_end() -> None:
    with using_judge(FakeJudge(logprobs=prefers("Forgot"))):
        win = check("preferred_over", "Click Forgot Password.", other="Contact support.")
        loss = check("preferred_over", "Contact support.", other="Click Forgot Password.")
        assert assertions.assert_preferred_over("Forgot it? Click Forgot Password.", "No.") == 1.0
    assert win.passed and win.score == 1.0
    assert win.message == "preferred_over: won (output as A: judge chose A; output as B: judge chose B)"
    assert win.details["metric"] == {"name": "preferred_over", "value": 1.0, "higher_is_better": True}
    assert not loss.passed and loss.score == 0.0
    assert loss.message.startswith("preferred_over: lost, expected a win in both orders (output as A: judge chose B")


def test_preferred_over_ties_and_text_mode() -> None:
    biased = FakeJudge(logprobs=prefers("", position_bias=True))
    tie = check("preferred_over", "x", other="y", judge=biased)
    assert not tie.passed and tie.score == 0.5 and tie.message.startswith("preferred_over: tied")
    assert check("preferred_over", "x", other="y", judge=biased, allow_tie=True).passed
    texty = FakeJudge(answer=lambda p: "Response B is better." if "Response B:\nmine" in p else "A")
    assert check("preferred_over", "mine", other="theirs", mode="text", judge=texty).score == 1.0


def test_assert_judge_returns_the_score_and_raises() -> None:
    with using_judge(FakeJudge(logprobs=grader)):
        assert assertions.assert_judge("Click Forgot Password.", RUBRIC, min_score=4.5) == pytest.approx(4.75)
        with pytest.raises(CheckFailed, match=r"^judge: score 1\.25 < min 3"):
            assertions.assert_judge("No.", RUBRIC)

"""LLM-as-judge: prompts, score reading, pairwise preference and the checks, with a scripted judge."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest

import pytest_llmeval.assertions as assertions
from pytest_llmeval.backends.base import Generation
from pytest_llmeval.checks import CheckFailed, CheckUsageError, check
from pytest_llmeval.engine import build_request
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
from pytest_llmeval.metrics.judge import (
    judge_check_prompt,
    parse_primed_score,
    render_judge_prompt,
    reply_with_prefix,
    score_mass,
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
    return prompt.split("[Assistant's response]\n", 1)[1].split("\n\n[", 1)[0]


def test_fake_judge_is_a_judge() -> None:
    assert isinstance(FakeJudge(), Judge)
    assert not isinstance(object(), Judge)


# -- prompts --------------------------------------------------------------------------------------


def test_judge_prompt_contains_rubric_reference_output_and_ends_at_the_score() -> None:
    prompt = build_judge_prompt(RUBRIC, "Click Forgot Password.", reference="Use Forgot Password.")
    assert RUBRIC in prompt and "[Reference answer]\nUse Forgot Password." in prompt
    assert "[Assistant's response]\nClick Forgot Password." in prompt
    assert prompt.endswith("Score:") and prompt.reply_prefix == "Score:"
    assert [m.role for m in prompt.messages] == ["system", "user"]
    assert "[Reference answer]" not in build_judge_prompt(RUBRIC, "x")
    assert "[User's request]" not in build_judge_prompt(RUBRIC, "x")  # a plain string has no request
    with pytest.raises(ValueError, match="rubric is empty"):
        build_judge_prompt(" ", "x")


def generation(text: str, **request: Any) -> Generation:
    return Generation(text, request=build_request(**request), num_tokens=3, finish_reason="stop", latency_s=0.0)


def test_the_judge_reads_the_request_of_a_model_output() -> None:
    answer = generation("Click Forgot Password.", prompt="How do I reset my password?")
    prompt = judge_check_prompt(answer, RUBRIC)
    user = prompt.messages[1].content
    assert user.index("[User's request]\nHow do I reset my password?") < user.index("[Assistant's response]")
    assert user.index("[Assistant's response]") < user.index("[Rubric]")
    chat = generation(
        "Paris.",
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Capital of France?"},
        ],
        system="Be brief.",
    )
    chat_prompt = judge_check_prompt(chat, RUBRIC).messages[1].content
    assert (
        "[Conversation the response answers]\nsystem: Be brief.\nuser: Hi\nassistant: Hello!\nuser: Capital of France?"
    ) in chat_prompt
    assert "[User's request]\nWhat is 2+2?" in judge_check_prompt("4", RUBRIC, prompt="What is 2+2?")
    pairwise = build_pairwise_prompt("a", "b", prompt="Q?")
    assert "[User's request]\nQ?" in pairwise and pairwise.endswith("Better response:")


def test_render_judge_prompt_uses_the_chat_template_and_the_reply_prefix() -> None:
    prompt = build_judge_prompt(RUBRIC, "x", prompt="Q?")

    def template(messages: list[dict[str, str]]) -> str:
        body = "".join(f"<|{m['role']}|>{m['content']}<|end|>" for m in messages)
        return body + "<|assistant|>"

    rendered = render_judge_prompt(prompt, template)
    assert rendered.startswith("<|system|>You are a strict") and rendered.endswith("<|end|><|assistant|>Score:")
    assert render_judge_prompt(prompt, None) == str(prompt)  # no template: the plain text
    assert render_judge_prompt("plain", template) == "plain"  # a hand-written string is sent as it is
    copy = pickle.loads(pickle.dumps(prompt))
    assert copy == prompt and copy.messages == prompt.messages and copy.reply_prefix == "Score:"


def test_pairwise_prompt_orders_the_answers() -> None:
    prompt = build_pairwise_prompt("first answer", "second answer", "Be brief.")
    assert prompt.index("[Response A]\nfirst answer") < prompt.index("[Response B]\nsecond answer")
    assert "Be brief." in prompt and prompt.endswith("Better response:")


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
        ("Score: four", 4),
        ("I'd rate it four out of five.", 4),
        ("On a scale from 1 (worst) to 5 (best), this is a 4.", 4),
        ("Rated between 1 and 5: 3", 3),
        ("Score (1 - 5): 2", 2),
        ("Scale 1..5. Score: 5", 5),
        ("It is not a 5, but a solid 4.", 4),
        ("The response isn't 5 quality; score: 3", 3),
        ("Score: 3. The response lists 2 steps.", 3),
        ("1. Accuracy is fine.\n2. Clarity is fine.\nScore: 4", 4),
        ("I would give this a 2.", 2),
        ("Grade: 3/5 stars", 3),
        ("I cannot be sure, but I'd score it 3.", 3),
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
        ("The response is good, but the score is not 1-5.", "no score 1-5 found"),
        ("The response is good but the score is not 1 to 5", "no score 1-5 found"),
        ("I cannot give a score from 1 to 5.", "the judge declined to give a score"),
        ("I can't rate this response on a 1-5 scale.", "the judge declined to give a score"),
        ("I am unable to evaluate this answer.", "the judge declined to give a score"),
        ("Use a scale of 1 to 5.", "no score 1-5 found"),
        ("Score (1-5):", "no score 1-5 found"),
        ("Between 1 and 5.", "no score 1-5 found"),
        ("It is not a 5.", "no score 1-5 found"),
        ("Score: N/A", "no score 1-5 found"),
        ("0/5", "score 0 is not a whole number from 1 to 5"),
        ("10/10", "score 10 is not a whole number from 1 to 5"),
        ("Score: 6 out of 5", "score 6 is not a whole number"),
    ],
)
def test_parse_score_rejects(answer: str, error: str) -> None:
    with pytest.raises(JudgeParseError, match=error):
        parse_score(answer)


@pytest.mark.parametrize(
    ("answer", "choice"),
    [
        ("A", "A"),
        ("**B**", "B"),
        ("Response B is better.", "B"),
        ("Answer: A", "A"),
        ("Both are fine, but response A is clearer.", "A"),
        # text mode's primed reply: the prefix and the judge's continuation
        ("Better response: B", "B"),
        ("Better response: **A**, it is clearer.", "A"),
        ("better response:A", "A"),
    ],
)
def test_parse_choice(answer: str, choice: str) -> None:
    assert parse_choice(answer) == choice


@pytest.mark.parametrize(
    ("continuation", "reply", "score"),
    [
        (" 4", "Score: 4", 4),  # a tokenizer whose digits follow a space token continues " 4"
        ("4", "Score: 4", 4),  # the prefix was rendered with its space
        ("4/5. The answer covers 3 points.", "Score: 4/5. The answer covers 3 points.", 4),
        ("4. It names 3 steps.", "Score: 4. It names 3 steps.", 4),  # the next token is the score
        (" **5** (fully)", "Score: **5** (fully)", 5),
        ("Score: 2", "Score: 2", 2),  # a server that did not continue the reply started its own
        ("score: two", "score: two", 2),
        ("I would rate it 2 out of 5.", "Score: I would rate it 2 out of 5.", 2),
        ("On a scale of 1 to 5, 3.", "Score: On a scale of 1 to 5, 3.", 3),
        ("1-5: 4", "Score: 1-5: 4", 4),  # the echoed scale is not the score
    ],
)
def test_a_primed_reply_reads_the_prefix_and_its_continuation(continuation: str, reply: str, score: int) -> None:
    assert reply_with_prefix("Score:", continuation) == reply
    assert parse_primed_score(reply) == score


@pytest.mark.parametrize(
    ("continuation", "error"),
    [
        # "one" after the prefix is not a score: only the continuation is read when no number leads it
        ("This one is right.", "no score 1-5 found in 'Score: This one is right.'"),
        ("The answer is fine.", "no score 1-5 found in 'Score: The answer is fine.'"),
        (" I cannot give a score from 1 to 5.", "the judge declined to give a score: 'Score: I cannot"),
        ("7", "judge score 7 is not a whole number from 1 to 5 in 'Score: 7'"),
        ("It covers 2 of the 4 points.", r"ambiguous judge answer: several different scores \(2, 4\)"),
        ("not a 5, maybe", "no score 1-5 found"),
    ],
)
def test_a_primed_reply_without_one_score_says_why(continuation: str, error: str) -> None:
    with pytest.raises(JudgeParseError, match=error):
        parse_primed_score(reply_with_prefix("Score:", continuation))


def test_a_reply_that_ignored_the_prefix_is_read_whole() -> None:
    assert reply_with_prefix("Score:", "") == "Score:"
    assert parse_primed_score("I'd give it a 4 out of 5.") == 4


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
        a_part = prompt.split("[Response A]\n", 1)[1].split("[Response B]", 1)[0]
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
    assert good.message == "judge: score 4.75 >= min 3 (most likely 5; mass 0.80)"
    assert good.details["mass"] == pytest.approx(0.8)
    assert good.details["metric"] == {"name": "judge", "value": good.score, "higher_is_better": True}
    assert good.details["probabilities"][5] == pytest.approx(0.75)
    assert not bad.passed and bad.score == pytest.approx(1 * 0.75 + 2 * 0.25)
    assert bad.message.startswith("judge: score 1.25 < min 3 (most likely 1; 1: 0.75, 2: 0.25; mass 0.80) for rubric ")
    assert bad.message.endswith('output "I don\'t know."')
    assert judge.calls[0][2] == ["1", "2", "3", "4", "5"]
    assert "[Assistant's response]\nClick Forgot Password" in judge.calls[0][1][0]


def test_judge_check_text_mode_and_reference() -> None:
    judge = FakeJudge(answer=lambda p: "Score: 4/5" if "[Reference answer]" in p else "2")
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
    texty = FakeJudge(answer=lambda p: "Response B is better." if "[Response B]\nmine" in p else "A")
    assert check("preferred_over", "mine", other="theirs", mode="text", judge=texty).score == 1.0


def test_assert_judge_returns_the_score_and_raises() -> None:
    with using_judge(FakeJudge(logprobs=grader)):
        assert assertions.assert_judge("Click Forgot Password.", RUBRIC, min_score=4.5) == pytest.approx(4.75)
        with pytest.raises(CheckFailed, match=r"^judge: score 1\.25 < min 3"):
            assertions.assert_judge("No.", RUBRIC)


# -- probability mass and the inconclusive judge -------------------------------------------------


def test_score_mass_adds_both_spellings_of_each_score() -> None:
    assert score_mass({"4": math.log(0.3), " 4": math.log(0.2), "The": math.log(0.5)}) == pytest.approx(0.5)
    assert score_mass({"The": -0.1}) == 0.0
    assert score_from_logprobs({"3": math.log(0.06), "5": math.log(0.02)}).mass == pytest.approx(0.08)


def sliver(prompt: str) -> dict[str, float]:
    """A judge that wants to say "The": 8% of its probability on the digits, all of it on 5."""
    return {"5": math.log(0.06), "4": math.log(0.02), "The": math.log(0.9)}


def test_a_judge_with_little_mass_on_the_scores_is_inconclusive_never_a_score() -> None:
    result = check("judge", "Click Forgot Password.", rubric=RUBRIC, judge=FakeJudge(logprobs=sliver))
    assert not result.passed and result.score is None and result.value is None
    assert result.message.startswith(
        "judge: inconclusive judge: it put only 8% of its next-token probability on the scores 1-5 "
        "(min_mass 0.5), so any score read from it would be noise; no score is given. Use mode: text"
    )
    assert result.details == {"mode": "logprobs", "mass": pytest.approx(0.08), "inconclusive": True, "min_mass": 0.5}
    lenient = check("judge", "x", rubric=RUBRIC, judge=FakeJudge(logprobs=sliver), min_mass=0.05)
    assert lenient.passed and lenient.score == pytest.approx(4.75)
    with using_judge(FakeJudge(logprobs=sliver), min_mass=0.01):  # the session's threshold
        assert check("judge", "x", rubric=RUBRIC).passed
    with pytest.raises(CheckUsageError, match="min_mass is 1.5; it is a probability, from 0 to 1"):
        check("judge", "x", rubric=RUBRIC, judge=FakeJudge(logprobs=sliver), min_mass=1.5)
    with pytest.raises(CheckUsageError, match="min_mass is -1"), using_judge(FakeJudge(), min_mass=-1):
        pass
    # text mode reads a written answer: no mass to judge by
    texty = FakeJudge(answer=lambda p: "Score: 4")
    assert check("judge", "x", rubric=RUBRIC, judge=texty, mode="text").passed


def test_preferred_over_with_little_mass_on_the_letters_is_inconclusive() -> None:
    unsure = FakeJudge(logprobs=lambda p: {"A": math.log(0.1), "B": math.log(0.05), "The": math.log(0.8)})
    result = check("preferred_over", "x", other="y", judge=unsure)
    assert not result.passed and result.score is None
    assert result.message.startswith(
        'preferred_over: inconclusive judge: it put only 15% of its next-token probability on "A" or "B"'
    )


class NamedJudge(FakeJudge):
    description = "./ckpt with adapter ./lora (the model under test judges itself, adapter applied)"


def test_a_failing_judge_check_says_which_weights_judged() -> None:
    result = check("judge", "No.", rubric=RUBRIC, judge=NamedJudge(logprobs=grader))
    assert result.message.endswith(
        "[judge: ./ckpt with adapter ./lora (the model under test judges itself, adapter applied)]"
    )

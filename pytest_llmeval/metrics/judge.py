"""LLM-as-judge, the model-independent part: prompts, score reading, pairwise preference, checks.

A judge is any object with two methods (:class:`Judge`); the plugin builds one over a model named by
``--llm-judge-model`` and makes it active with :func:`using_judge`. Two ways to read a score:

- ``mode="logprobs"`` (default): the prompt ends where the score goes; the judge returns the
  log-probability of each score token "1".."5" as the next token. They are normalised over the five,
  and the score is the expected value (a continuous 1..5 that moves smoothly as the model improves,
  rather than jumping between integers).
- ``mode="text"``: the judge writes an answer, and :func:`parse_score` reads the score from it.

Pairwise preference asks twice with the answers in both orders, because judges favour a position: a
win counts 1 only when the candidate is preferred in both orders, a loss 0, and disagreement 0.5.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from pytest_llmeval import running_test
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, register_check, truncate
from pytest_llmeval.metrics.reference import metric_details

__all__ = [
    "CHOICE_TOKENS",
    "SCORE_TOKENS",
    "Choice",
    "Judge",
    "JudgeParseError",
    "JudgeScore",
    "PairwiseResult",
    "active_judge",
    "build_judge_prompt",
    "build_pairwise_prompt",
    "judge_pairwise",
    "judge_pairwise_many",
    "judge_score",
    "parse_choice",
    "parse_score",
    "preference_outcome",
    "score_from_logprobs",
    "scoring_mode",
    "using_judge",
    "win_rate",
]

SCORE_TOKENS: tuple[str, ...] = ("1", "2", "3", "4", "5")
CHOICE_TOKENS: tuple[str, ...] = ("A", "B")
Choice = Literal["A", "B", "tie"]
JudgeMode = Literal["logprobs", "text"]

DEFAULT_PAIRWISE_CRITERIA = "Which response is more helpful, correct and clear?"
_EXCERPT = 120


@runtime_checkable  # so a ``judge: Judge | None`` check argument validates by isinstance
class Judge(Protocol):
    """What a judge model provides. Both methods take a batch of prompts (the plugin batches)."""

    def score_next_token(self, prompts: list[str], candidates: list[str]) -> list[dict[str, float]]:
        """For each prompt, the natural-log probability of each candidate string as the next token
        (keys: the candidates as given). A candidate the model cannot produce may be ``-inf`` or
        absent."""
        ...

    def generate(self, prompts: list[str]) -> list[str]:
        """For each prompt, the judge's free-text answer (greedy)."""
        ...


class JudgeParseError(ValueError):
    """The judge's free-text answer holds no readable score, or several different ones."""


@dataclass(frozen=True)
class JudgeScore:
    """``expected``: probability-weighted mean score (1..5); ``most_likely``: the argmax score;
    ``probabilities``: score -> probability, normalised over the five scores."""

    expected: float
    most_likely: int
    probabilities: dict[int, float]


# -- prompts -------------------------------------------------------------------------------------


def build_judge_prompt(rubric: str, output: str, reference: str | None = None) -> str:
    """A grading prompt that ends where the score token goes (``...Score (1-5):``).

    Keep it stable: a changed prompt changes every judge score, so a baseline is only comparable
    under the same prompt (the plugin should record a hash of this template with the run).
    """
    if not rubric.strip():
        raise ValueError("judge: the rubric is empty")
    parts = [
        "You are grading a response against a rubric. Reply with one digit from 1 (worst) to 5 (best).",
        "",
        f"Rubric:\n{rubric.strip()}",
    ]
    if reference is not None:
        parts += ["", f"Reference answer:\n{reference.strip()}"]
    parts += ["", f"Response:\n{output}", "", "Score (1-5):"]
    return "\n".join(parts)


def build_pairwise_prompt(first: str, second: str, criteria: str | None = None) -> str:
    """A comparison prompt showing ``first`` as A and ``second`` as B; it ends where the letter goes."""
    parts = [
        "Compare two responses. Reply with one letter: A or B, whichever is better.",
        "",
        f"Criteria:\n{(criteria or DEFAULT_PAIRWISE_CRITERIA).strip()}",
        "",
        f"Response A:\n{first}",
        "",
        f"Response B:\n{second}",
        "",
        "Better response (A or B):",
    ]
    return "\n".join(parts)


# -- reading scores -----------------------------------------------------------------------------


def _merge_by_stripped_key(logprobs: Mapping[str, float], allowed: Sequence[str]) -> dict[str, float]:
    """Combine " 4" and "4" (tokenizers differ on the leading space) by adding their probabilities."""
    merged: dict[str, list[float]] = {}
    for key, value in logprobs.items():
        value = float(value)
        if math.isnan(value):
            raise ValueError(f"judge: log-probability of {key!r} is NaN")
        stripped = key.strip()
        if stripped in allowed:
            merged.setdefault(stripped, []).append(value)
    return {k: _logsumexp(v) for k, v in merged.items()}


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def _normalise(logprobs: Mapping[str, float], allowed: Sequence[str], what: str) -> dict[str, float]:
    merged = _merge_by_stripped_key(logprobs, allowed)
    finite = {k: v for k, v in merged.items() if v != -math.inf}
    if not finite:
        raise ValueError(
            f"judge: none of the {what} tokens {list(allowed)} has a probability "
            f"(got keys {sorted(logprobs)[:10]})"
        )
    top = max(finite.values())
    weights = {k: math.exp(finite[k] - top) if k in finite else 0.0 for k in allowed}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def score_from_logprobs(logprobs_by_token: Mapping[str, float]) -> JudgeScore:
    """Turn next-token log-probabilities of "1".."5" into a score, normalised over the five.

    Other keys are ignored; " 4" counts as "4"; a missing score token has probability 0. Raises
    ValueError when none of the five has a finite log-probability.
    """
    probabilities = _normalise(logprobs_by_token, SCORE_TOKENS, "score")
    by_score = {int(k): p for k, p in probabilities.items()}
    expected = sum(score * p for score, p in by_score.items())
    most_likely = max(by_score, key=lambda s: (by_score[s], -s))  # ties: the lower score, cautiously
    return JudgeScore(expected=expected, most_likely=most_likely, probabilities=by_score)


# A range in an echoed instruction ("Score (1-5): 4", "on a scale of 1 to 5") is not a score.
_RANGE = re.compile(r"\(?(?<![\w.])1\s*(?:-|\u2013|to)\s*5(?![\w.])\)?", re.I)
# "4/5", "4 / 5", "4 out of 5", "4.5/5": a score with its scale is the strongest evidence.
_WITH_SCALE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:/|out\s+of|of)\s*(?:5|five)(?!\d|\.\d)", re.I)
# "Score: 4", "rating is **4**", "I'd rate this response 4", "I'd give it a 4": a number shortly after
# a score word.
_LABELLED = re.compile(
    r"\b(?:score|scores|scored|rate|rated|rating|grade|graded|mark|give|gives|given|giving)\b"
    r"[^\d\n]{0,16}?(\d+(?:\.\d+)?)(?!\d|\.\d)",
    re.I,
)
# Any standalone number: not inside a longer number, a decimal or a word ("v2", "3rd").
_BARE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w|\.\d)")


def parse_score(text: str) -> int:
    """Read a 1-5 score from a judge's free-text answer.

    Accepts "4", "Score: 4/5", "**4**", "I'd give it a 4 out of 5." Evidence is taken in order of
    strength (a number with its scale "/5", then a number after "score"/"rating", then any standalone
    number), so "The answer covers 3 points. Score: 4" is 4. Raises :class:`JudgeParseError` when
    no score is found, when the strongest evidence holds different scores (ambiguous), or when the
    score is not a whole number from 1 to 5.
    """
    cleaned = _RANGE.sub(" ", text)
    for pattern in (_WITH_SCALE, _LABELLED, _BARE):
        found = [m.group(1) for m in pattern.finditer(cleaned)]
        if not found:
            continue
        distinct = list(dict.fromkeys(float(v) for v in found))
        if len(distinct) > 1:
            shown = ", ".join(_number(v) for v in distinct)
            raise JudgeParseError(
                f"ambiguous judge answer: several different scores ({shown}) in "
                f"{truncate(text, limit=_EXCERPT)}"
            )
        value = distinct[0]
        if value != int(value) or not 1 <= value <= 5:
            raise JudgeParseError(
                f"judge score {_number(value)} is not a whole number from 1 to 5 in "
                f"{truncate(text, limit=_EXCERPT)}"
            )
        return int(value)
    raise JudgeParseError(f"no score 1-5 found in {truncate(text, limit=_EXCERPT)}")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


_CHOICE_LEADING = re.compile(r"^\W*(?:response|answer|option)?\s*\W*([AB])\b", re.I)
_CHOICE_NAMED = re.compile(r"\b(?:response|answer|option)\s+\W?([AB])\b", re.I)


def parse_choice(text: str) -> Literal["A", "B"]:
    """Read "A" or "B" from a judge's free-text comparison ("B", "**A**", "Response B is better.")."""
    leading = _CHOICE_LEADING.match(text.strip())
    if leading:
        return "A" if leading.group(1).upper() == "A" else "B"
    named = {m.group(1).upper() for m in _CHOICE_NAMED.finditer(text)}
    if len(named) == 1:
        return "A" if named == {"A"} else "B"
    if named:
        raise JudgeParseError(
            f"ambiguous judge answer: names both A and B in {truncate(text, limit=_EXCERPT)}"
        )
    raise JudgeParseError(f"no choice A or B found in {truncate(text, limit=_EXCERPT)}")


# -- active judge --------------------------------------------------------------------------------

_NO_JUDGE = (
    "{name} needs a judge model: run under the plugin with --llm-judge-model=<model>, pass judge=<a "
    "pytest_llmeval.metrics.Judge>, or wrap the call in pytest_llmeval.metrics.using_judge(judge)"
)


@contextmanager
def using_judge(judge: Judge | None) -> Iterator[None]:
    """Make ``judge`` the one the ``judge`` and ``preferred_over`` checks use when none is passed."""
    with running_test.providing(judge=judge):
        yield


def active_judge() -> Judge | None:
    """The judge the ``judge`` and ``preferred_over`` checks use when none is passed (the plugin
    provides the ``--llm-judge-model`` to each test)."""
    return running_test.services().judge


def scoring_mode(judge: object, mode: JudgeMode) -> JudgeMode:
    """The mode ``judge`` can honour: logprobs mode falls back to text mode for a judge whose model
    gives no next-token log-probabilities (``scores_next_tokens`` False: a served model whose server
    returns no logprobs). The run's settings say which mode the judge used."""
    if mode == "logprobs" and not getattr(judge, "scores_next_tokens", True):
        return "text"
    return mode


def _require_judge(name: str, judge: Judge | None) -> Judge:
    found = judge or active_judge()
    if found is None:
        raise CheckUsageError(_NO_JUDGE.format(name=name))
    return found


def _one(values: Sequence[object], name: str, method: str, expected: int) -> None:
    if len(values) != expected:
        raise CheckUsageError(
            f"{name}: the judge's {method} returned {len(values)} results for {expected} prompts"
        )


# -- scoring and comparing -----------------------------------------------------------------------


def judge_score(
    judge: Judge, rubric: str, output: str, *, reference: str | None = None, mode: JudgeMode = "logprobs"
) -> JudgeScore:
    """Score one output. In text mode the JudgeScore is certain: probability 1 on the parsed score."""
    prompt = build_judge_prompt(rubric, output, reference)
    mode = scoring_mode(judge, mode)
    if mode == "logprobs":
        answers = judge.score_next_token([prompt], list(SCORE_TOKENS))
        _one(answers, "judge", "score_next_token", 1)
        return score_from_logprobs(answers[0])
    texts = judge.generate([prompt])
    _one(texts, "judge", "generate", 1)
    score = parse_score(texts[0])
    return JudgeScore(float(score), score, {s: float(s == score) for s in range(1, 6)})


@dataclass(frozen=True)
class PairwiseResult:
    """``first``: the judge's choice with the candidate shown as A; ``swapped``: with it shown as B.
    ``outcome`` for the candidate: 1 win (preferred in both orders), 0 loss, 0.5 tie/disagreement."""

    first: Choice
    swapped: Choice
    outcome: float


def preference_outcome(first: Choice, swapped: Choice) -> float:
    """1.0 if the candidate won both orders ("A" then "B"), 0.0 if it lost both, else 0.5."""
    for choice in (first, swapped):
        if choice not in ("A", "B", "tie"):
            raise ValueError(f"preference: choice must be 'A', 'B' or 'tie', got {choice!r}")
    if first == "A" and swapped == "B":
        return 1.0
    if first == "B" and swapped == "A":
        return 0.0
    return 0.5


def _choice_from_logprobs(logprobs: Mapping[str, float]) -> Choice:
    probabilities = _normalise(logprobs, CHOICE_TOKENS, "choice")
    if probabilities["A"] == probabilities["B"]:
        return "tie"
    return "A" if probabilities["A"] > probabilities["B"] else "B"


def judge_pairwise_many(
    judge: Judge,
    candidates: Sequence[str],
    baselines: Sequence[str],
    *,
    criteria: str | None = None,
    mode: JudgeMode = "logprobs",
) -> list[PairwiseResult]:
    """Compare each candidate with its baseline, both orders, in one batched judge call."""
    if len(candidates) != len(baselines):
        raise ValueError(f"compare: {len(candidates)} candidates but {len(baselines)} baselines")
    prompts: list[str] = []
    for candidate, baseline in zip(candidates, baselines):
        prompts.append(build_pairwise_prompt(candidate, baseline, criteria))
        prompts.append(build_pairwise_prompt(baseline, candidate, criteria))
    mode = scoring_mode(judge, mode)
    choices: list[Choice]
    if mode == "logprobs":
        answers = judge.score_next_token(prompts, list(CHOICE_TOKENS))
        _one(answers, "preferred_over", "score_next_token", len(prompts))
        choices = [_choice_from_logprobs(a) for a in answers]
    else:
        texts = judge.generate(prompts)
        _one(texts, "preferred_over", "generate", len(prompts))
        choices = [parse_choice(t) for t in texts]
    return [
        PairwiseResult(first, swapped, preference_outcome(first, swapped))
        for first, swapped in zip(choices[0::2], choices[1::2])
    ]


def judge_pairwise(
    judge: Judge,
    candidate: str,
    baseline: str,
    *,
    criteria: str | None = None,
    mode: JudgeMode = "logprobs",
) -> PairwiseResult:
    """Compare one candidate with one baseline answer, in both orders."""
    return judge_pairwise_many(judge, [candidate], [baseline], criteria=criteria, mode=mode)[0]


def win_rate(pairs: Iterable[PairwiseResult | tuple[Choice, Choice]]) -> float:
    """The candidate's mean outcome over comparisons: win 1, tie (orders disagree) 0.5, loss 0.

    Each pair is a :class:`PairwiseResult` or ``(first, swapped)`` choices as in
    :func:`preference_outcome`. Raises ValueError for no pairs.
    """
    outcomes = [
        p.outcome if isinstance(p, PairwiseResult) else preference_outcome(*p) for p in pairs
    ]
    if not outcomes:
        raise ValueError("win_rate: no comparisons (a win rate of nothing is undefined)")
    return sum(outcomes) / len(outcomes)


# -- checks --------------------------------------------------------------------------------------


@register_check(
    "judge", family="judge", summary="A judge model scores the output against a rubric (1-5).", needs_judge=True
)
def judge_check(
    text: str,
    rubric: str,
    reference: str | None = None,
    min_score: float = 3.0,
    mode: Literal["logprobs", "text"] = "logprobs",
    judge: Judge | None = None,
) -> CheckResult:
    """The judge's score (expected value over "1".."5" in logprobs mode, the parsed integer in text
    mode) is at least ``min_score``. An unreadable text-mode answer fails the check, quoting it."""
    if not rubric.strip():
        raise CheckUsageError("check 'judge': argument 'rubric' is empty")
    if not 1.0 <= min_score <= 5.0:
        raise CheckUsageError(
            f"check 'judge': argument 'min_score' is {min_score}, outside the scale 1..5"
        )
    active = _require_judge("judge", judge)
    mode = scoring_mode(active, mode)
    try:
        result = judge_score(active, rubric, text, reference=reference, mode=mode)
    except JudgeParseError as exc:
        return CheckResult("judge", False, f"judge: could not read the judge's answer: {exc}")
    extra = {
        "mode": mode,
        "most_likely": result.most_likely,
        "probabilities": result.probabilities,
        "threshold": {"min": min_score},
    }
    details = metric_details("judge", result.expected, True, **extra)
    shown = f"{result.expected:.2f}" if mode == "logprobs" else str(result.most_likely)
    passed = result.expected >= min_score
    if passed:
        message = f"judge: score {shown} >= min {min_score:g} (most likely {result.most_likely})"
    else:
        spread = ", ".join(f"{s}: {p:.2f}" for s, p in result.probabilities.items() if p >= 0.005)
        message = (
            f"judge: score {shown} < min {min_score:g} (most likely {result.most_likely}; {spread}) "
            f"for rubric {truncate(rubric, limit=80)}; output {truncate(text)}"
        )
    return CheckResult(
        "judge", passed, message, score=result.expected, details=details, value=result.expected
    )


@register_check(
    "preferred_over",
    family="judge",
    summary="A judge prefers the output over another answer, in both orders.",
    needs_judge=True,
)
def preferred_over_check(
    text: str,
    other: str,
    rubric: str | None = None,
    allow_tie: bool = False,
    mode: Literal["logprobs", "text"] = "logprobs",
    judge: Judge | None = None,
) -> CheckResult:
    """The judge prefers the output over ``other`` (a reference or baseline answer) with the two shown
    in both orders; an order-dependent verdict is a tie, which passes only with ``allow_tie=True``.
    Score: 1 win, 0.5 tie, 0 loss."""
    if not other.strip():
        raise CheckUsageError("check 'preferred_over': argument 'other' is empty")
    active = _require_judge("preferred_over", judge)
    mode = scoring_mode(active, mode)
    try:
        result = judge_pairwise(active, text, other, criteria=rubric, mode=mode)
    except JudgeParseError as exc:
        message = f"preferred_over: could not read the judge's answer: {exc}"
        return CheckResult("preferred_over", False, message)
    details = metric_details(
        "preferred_over",
        result.outcome,
        True,
        mode=mode,
        choices={"first": result.first, "swapped": result.swapped},
    )
    verdict = {1.0: "won", 0.5: "tied", 0.0: "lost"}[result.outcome]
    orders = f"output as A: judge chose {result.first}; output as B: judge chose {result.swapped}"
    passed = result.outcome == 1.0 or (allow_tie and result.outcome == 0.5)
    if passed:
        message = f"preferred_over: {verdict} ({orders})"
    else:
        need = "a win or tie" if allow_tie else "a win in both orders"
        message = (
            f"preferred_over: {verdict}, expected {need} ({orders}); output {truncate(text)}; "
            f"other {truncate(other, limit=80)}"
        )
    return CheckResult(
        "preferred_over", passed, message, score=result.outcome, details=details, value=result.outcome
    )

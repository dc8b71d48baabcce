"""LLM-as-judge, the model-independent part: prompts, score reading, pairwise preference, checks.

A judge is any object with two methods (:class:`Judge`); the plugin builds one over a model named by
``--llm-judge-model`` and makes it active with :func:`using_judge`. Two ways to read a score:

- ``mode="logprobs"`` (default): the prompt ends where the score goes; the judge returns the
  log-probability of each score token "1".."5" as the next token. They are normalised over the five,
  and the score is the expected value (a continuous 1..5 that moves smoothly as the model improves,
  rather than jumping between integers).
- ``mode="text"``: the judge writes an answer, and :func:`parse_score` reads the score from it. The
  answer is primed as in logprobs mode: the reply starts "Score:" and the judge continues it.

The judge reads what a person grading would read: the user's request (or the whole conversation),
the response, the reference answer if any, and the rubric (:func:`build_judge_prompt`). A prompt is a
:class:`JudgePrompt`: chat messages plus the start of the judge's reply ("Score:"), so a backend with a
chat template renders the messages through it and appends the reply prefix, and the score is the very
next token (:func:`render_judge_prompt`). As a plain string it is the same text without a template.

Every log-probability score carries its probability *mass*: how much of the judge's next-token
probability fell on the score tokens at all. A small model that mostly wants to say "The" puts 5% on
the digits; rescaling that sliver would give a confident-looking score that means nothing. Below
``min_mass`` (default :data:`DEFAULT_MIN_MASS`) the judge is *inconclusive*: the check fails, naming
the mass, and gives no score (:func:`inconclusive_message`). These rules are plain functions so every
backend (local model, OpenAI-compatible server) applies the same ones.

Pairwise preference asks twice with the answers in both orders, because judges favour a position: a
win counts 1 only when the candidate is preferred in both orders, a loss 0, and disagreement 0.5.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pytest_llmeval import running_test
from pytest_llmeval.backends.base import Generation, Message
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    checked_output,
    register_check,
    truncate,
)
from pytest_llmeval.metrics.reference import metric_details

__all__ = [
    "CHOICE_TOKENS",
    "DEFAULT_MIN_MASS",
    "SCORE_TOKENS",
    "Choice",
    "Judge",
    "JudgeParseError",
    "JudgePrompt",
    "JudgeScore",
    "PairwiseResult",
    "active_judge",
    "active_min_mass",
    "build_judge_prompt",
    "build_pairwise_prompt",
    "inconclusive_message",
    "judge_check_prompt",
    "judge_pairwise",
    "judge_pairwise_many",
    "judge_score",
    "parse_choice",
    "parse_primed_score",
    "parse_score",
    "preference_outcome",
    "render_judge_prompt",
    "reply_with_prefix",
    "request_of",
    "score_from_logprobs",
    "score_mass",
    "scoring_mode",
    "using_judge",
    "win_rate",
]

SCORE_TOKENS: tuple[str, ...] = ("1", "2", "3", "4", "5")
CHOICE_TOKENS: tuple[str, ...] = ("A", "B")
Choice = Literal["A", "B", "tie"]
JudgeMode = Literal["logprobs", "text"]

DEFAULT_PAIRWISE_CRITERIA = "Which response is more helpful, correct and clear?"
DEFAULT_MIN_MASS = 0.5
SCORE_REPLY_PREFIX = "Score:"
CHOICE_REPLY_PREFIX = "Better response:"
JUDGE_SYSTEM = (
    "You are a strict, fair grader. You read a user's request, an assistant's response and a rubric, "
    "and you grade how well the response meets the rubric."
)
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
        """For each prompt, the judge's free-text answer (greedy). For a :class:`JudgePrompt`, the
        plugin's judge continues the reply prefix and answers with it ("Score: 4"); an answer
        without the prefix is read whole."""
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
    # Probability the judge put on the score tokens at all, before normalising (1.0 in text mode).
    mass: float = 1.0


# -- prompts -------------------------------------------------------------------------------------


class JudgePrompt(str):
    """A judge prompt: chat ``messages`` and the start of the judge's reply (``reply_prefix``).

    It *is* its plain-text rendering (a ``str``: the messages' contents, then the reply prefix), which
    is what a judge without a chat template reads and what scores are memoised and cached by. A
    backend with a chat template renders it with :func:`render_judge_prompt` instead.
    """

    messages: tuple[Message, ...]
    reply_prefix: str

    def __new__(cls, messages: Sequence[Message], reply_prefix: str) -> JudgePrompt:
        text = "\n\n".join([*(m.content for m in messages), reply_prefix])
        self = super().__new__(cls, text)
        self.messages = tuple(messages)
        self.reply_prefix = reply_prefix
        return self

    def chat(self) -> list[dict[str, str]]:
        """The messages as ``{"role": ..., "content": ...}`` dicts (what chat templates take)."""
        return [m.as_dict() for m in self.messages]

    def __reduce__(self) -> Any:  # str subclasses with extra attributes need this to pickle
        return (JudgePrompt, (self.messages, self.reply_prefix))


def render_judge_prompt(prompt: str, apply_chat_template: Callable[[list[dict[str, str]]], str] | None) -> str:
    """The text a judge model is given for next-token scoring.

    ``apply_chat_template(messages)`` renders chat messages with the assistant's turn opened (a
    tokenizer's ``apply_chat_template(..., add_generation_prompt=True, tokenize=False)``); the reply
    prefix follows, so the next token is the score. Without a template (None), or for a plain-string
    prompt, the prompt's own text.
    """
    if isinstance(prompt, JudgePrompt) and apply_chat_template is not None:
        return apply_chat_template(prompt.chat()) + prompt.reply_prefix
    return str(prompt)


def reply_with_prefix(prefix: str, continuation: str) -> str:
    """A judge's text-mode reply: the reply prefix it was primed with and what it wrote after it
    ("Score:" and " 4" or "4" give "Score: 4"). A judge whose server does not continue a primed
    reply starts its own, often with the prefix again ("Score: 4"): that reply is taken as it is."""
    if continuation.strip().lower().startswith(prefix.strip().lower()):
        return continuation.strip()
    if not continuation or continuation[:1].isspace():
        return prefix + continuation
    return f"{prefix} {continuation}"


def _transcript(conversation: Sequence[Mapping[str, str]]) -> str:
    return "\n".join(f"{m['role']}: {m['content']}" for m in conversation)


def _request_part(prompt: str | None, conversation: Sequence[Mapping[str, str]] | None) -> list[str]:
    if conversation:
        return [f"[Conversation the response answers]\n{_transcript(conversation)}"]
    if prompt is not None and prompt.strip():
        return [f"[User's request]\n{prompt.strip()}"]
    return []


def build_judge_prompt(
    rubric: str,
    output: str,
    reference: str | None = None,
    *,
    prompt: str | None = None,
    conversation: Sequence[Mapping[str, str]] | None = None,
) -> JudgePrompt:
    """A grading prompt: the request (``prompt``, or the ``conversation`` of a chat), the response,
    the reference answer if any and the rubric; the judge's reply starts with "Score:".

    Keep it stable: a changed prompt changes every judge score, so a baseline is only comparable
    under the same prompt.
    """
    if not rubric.strip():
        raise ValueError("judge: the rubric is empty")
    parts = ["Grade the assistant's response below.", *_request_part(prompt, conversation)]
    parts.append(f"[Assistant's response]\n{output}")
    if reference is not None:
        parts.append(f"[Reference answer]\n{reference.strip()}")
    parts += [
        f"[Rubric]\n{rubric.strip()}",
        (
            "How well does the response meet the rubric? Reply with one digit from 1 (not at all) "
            "to 5 (fully), and nothing else."
        ),
    ]
    messages = (Message("system", JUDGE_SYSTEM), Message("user", "\n\n".join(parts)))
    return JudgePrompt(messages, SCORE_REPLY_PREFIX)


def build_pairwise_prompt(
    first: str,
    second: str,
    criteria: str | None = None,
    *,
    prompt: str | None = None,
    conversation: Sequence[Mapping[str, str]] | None = None,
) -> JudgePrompt:
    """A comparison prompt showing ``first`` as A and ``second`` as B (after the request they both
    answer, when known); the judge's reply starts with "Better response:" so the letter is next."""
    parts = [
        "Compare two responses to the same request.",
        *_request_part(prompt, conversation),
        f"[Criteria]\n{(criteria or DEFAULT_PAIRWISE_CRITERIA).strip()}",
        f"[Response A]\n{first}",
        f"[Response B]\n{second}",
        "Which response is better? Reply with one letter, A or B, and nothing else.",
    ]
    messages = (Message("system", JUDGE_SYSTEM), Message("user", "\n\n".join(parts)))
    return JudgePrompt(messages, CHOICE_REPLY_PREFIX)


def request_of(output: str, prompt: str | None = None) -> tuple[str | None, list[dict[str, str]] | None]:
    """What a judge should see of the request an output answers: ``(prompt, conversation)``.

    An explicit ``prompt`` wins; otherwise a :class:`Generation` knows its request (a chat or a system
    prompt gives the conversation); a plain string output has none.
    """
    if prompt is not None:
        return prompt, None
    if isinstance(output, Generation):
        request = output.request
        if request.is_chat:
            return None, request.chat()
        return request.prompt, None
    return None, None


def judge_check_prompt(
    output: str,
    rubric: str,
    reference: str | None = None,
    mode: JudgeMode = "logprobs",
    prompt: str | None = None,
) -> JudgePrompt:
    """The prompt the ``judge`` check sends for ``output`` (so a caller can score it ahead, in a
    batch, and the check finds the score done). ``mode`` does not change the prompt."""
    del mode  # the same prompt in both modes: in text mode the judge continues the reply "Score:"
    request_prompt, conversation = request_of(output, prompt)
    return build_judge_prompt(rubric, str(output), reference, prompt=request_prompt, conversation=conversation)


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
            f"judge: none of the {what} tokens {list(allowed)} has a probability (got keys {sorted(logprobs)[:10]})"
        )
    top = max(finite.values())
    weights = {k: math.exp(finite[k] - top) if k in finite else 0.0 for k in allowed}
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def score_mass(logprobs_by_token: Mapping[str, float], allowed: Sequence[str] = SCORE_TOKENS) -> float:
    """The probability the judge put on the ``allowed`` tokens at all (" 4" and "4" added up): how
    much of its next-token distribution a score read from these tokens stands on. 0.0 if none."""
    merged = _merge_by_stripped_key(logprobs_by_token, allowed)
    return min(1.0, sum(math.exp(v) for v in merged.values() if v != -math.inf))


def inconclusive_message(name: str, mass: float, min_mass: float, *, what: str = "the scores 1-5") -> str:
    """The failure message of a judge whose probability mass on the answer tokens is under
    ``min_mass``: it names the mass and what to do instead."""
    return (
        f"{name}: inconclusive judge: it put only {100 * mass:.2g}% of its next-token probability on {what} "
        f"(min_mass {min_mass:g}), so any score read from it would be noise; no score is given. "
        "Use mode: text (the judge writes its answer and the score is read from it), or a larger or "
        "instruction-tuned judge model"
    )


def score_from_logprobs(logprobs_by_token: Mapping[str, float]) -> JudgeScore:
    """Turn next-token log-probabilities of "1".."5" into a score, normalised over the five.

    Other keys are ignored; " 4" counts as "4"; a missing score token has probability 0. ``mass`` is
    the probability on the five before normalising (:func:`score_mass`). Raises ValueError when none
    of the five has a finite log-probability.
    """
    probabilities = _normalise(logprobs_by_token, SCORE_TOKENS, "score")
    by_score = {int(k): p for k, p in probabilities.items()}
    expected = sum(score * p for score, p in by_score.items())
    most_likely = max(by_score, key=lambda s: (by_score[s], -s))  # ties: the lower score, cautiously
    return JudgeScore(
        expected=expected,
        most_likely=most_likely,
        probabilities=by_score,
        mass=score_mass(logprobs_by_token),
    )


# A range in an echoed instruction ("Score (1-5): 4", "on a scale of 1 to 5", "from 1 (worst) to
# 5 (best)", "between 1 and 5", "1..5") is not a score; a sentence may end right after it.
_RANGE = re.compile(
    r"\(?(?<![\w.])(?:1|one)\s*(?:\([^()\d]{0,20}\)\s*)?"
    r"(?:-|\u2013|\u2014|\.\.|to|through|and)\s*(?:5|five)(?:\s*\([^()\d]{0,20}\))?(?!\w|\.\d)\)?",
    re.IGNORECASE,
)
# "not a 5", "isn't 4": a negated number is not the score.
_NEGATED = re.compile(
    r"(?:\bnot|n't|\bnever)\s+(?:an?\s+|even\s+an?\s+)?(?:\d+(?:\.\d+)?|one|two|three|four|five)\b", re.IGNORECASE
)
# "4/5", "4 / 5", "4 out of 5", "4.5/5": a score with its scale is the strongest evidence.
_WITH_SCALE = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?|one|two|three|four|five)\s*(?:/|out\s+of|of)\s*(?:5|five)(?!\d|\.\d)", re.IGNORECASE
)
# "Score: 4", "rating is **4**", "I'd rate this response 4", "I'd give it a 4", "Score: four": a
# number shortly after a score word.
_LABELLED = re.compile(
    r"\b(?:score|scores|scored|rate|rated|rating|grade|graded|mark|give|gives|given|giving)\b"
    r"[^\d\n]{0,16}?(?<![\w.])(\d+(?:\.\d+)?|one|two|three|four|five)(?!\w|\.\d)",
    re.IGNORECASE,
)
# Any standalone number: not inside a longer number, a decimal or a word ("v2", "3rd").
_BARE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w|\.\d)")
# "I cannot give a score", "unable to rate": said when no score is found, instead of "none found".
_DECLINED = re.compile(
    r"\b(?:cannot|can\s*not|can't|unable\s+to|won't|will\s+not|refuse\s+to|not\s+able\s+to)\b"
    r"[^.\n]{0,40}\b(?:score|rate|grade|evaluate|judge|assess)",
    re.IGNORECASE,
)
_WORDS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0}


def _value(found: str) -> float:
    return _WORDS.get(found.lower(), None) or float(found)


def parse_score(text: str) -> int:
    """Read a 1-5 score from a judge's free-text answer.

    Accepts "4", "Score: 4/5", "**4**", "I'd give it a 4 out of 5.", "Score: four". Evidence is taken
    in order of strength (a number with its scale "/5", then a number after "score"/"rating", then
    any standalone number), so "The answer covers 3 points. Score: 4" is 4. The scale itself ("1-5",
    "from 1 to 5", "between 1 and 5") and negated numbers ("not a 5") are not scores. Raises
    :class:`JudgeParseError` when no score is found (saying so when the judge declined), when the
    strongest evidence holds different scores (ambiguous), or when the score is not a whole number
    from 1 to 5.
    """
    return _read_score(text, text)


# A primed reply's continuation that starts with the score: "4", " 4/5", "**4**", "four."
_LEADING = re.compile(r"^\s*[*_\"'`]*\s*(\d+(?:\.\d+)?|one|two|three|four|five)(?!\w|\.\d)", re.IGNORECASE)


def parse_primed_score(reply: str, prefix: str = SCORE_REPLY_PREFIX) -> int:
    """Read a 1-5 score from a text-mode reply that was primed with ``prefix`` ("Score:"): a
    continuation that starts with a number is that score (as logprobs mode reads the next token), so
    "Score: 4. It names 3 steps." is 4; otherwise the continuation alone is read by
    :func:`parse_score`, so a word after the prefix ("Score: This one is right.") is not taken for a
    score. A reply that does not start with the prefix (a judge that ignored it) is read whole."""
    if not reply.lower().startswith(prefix.lower()):
        return parse_score(reply)
    continuation = reply[len(prefix) :]
    leading = _LEADING.match(_NEGATED.sub(" ", _RANGE.sub(" ", continuation)))
    if leading:
        value = _value(leading.group(1))
        if value != int(value) or not 1 <= value <= 5:
            raise JudgeParseError(
                f"judge score {_number(value)} is not a whole number from 1 to 5 in {truncate(reply, limit=_EXCERPT)}"
            )
        return int(value)
    return _read_score(continuation, reply)


def _read_score(text: str, shown: str) -> int:
    """``parse_score`` of ``text``, quoting ``shown`` (the whole reply) in its errors."""
    cleaned = _NEGATED.sub(" ", _RANGE.sub(" ", text))
    for pattern in (_WITH_SCALE, _LABELLED, _BARE):
        found = [m.group(1) for m in pattern.finditer(cleaned)]
        if not found:
            continue
        distinct = list(dict.fromkeys(_value(v) for v in found))
        if len(distinct) > 1:
            scores = ", ".join(_number(v) for v in distinct)
            raise JudgeParseError(
                f"ambiguous judge answer: several different scores ({scores}) in {truncate(shown, limit=_EXCERPT)}"
            )
        value = distinct[0]
        if value != int(value) or not 1 <= value <= 5:
            raise JudgeParseError(
                f"judge score {_number(value)} is not a whole number from 1 to 5 in {truncate(shown, limit=_EXCERPT)}"
            )
        return int(value)
    if _DECLINED.search(text):
        raise JudgeParseError(f"the judge declined to give a score: {truncate(shown, limit=_EXCERPT)}")
    raise JudgeParseError(f"no score 1-5 found in {truncate(shown, limit=_EXCERPT)}")


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


_CHOICE_LEADING = re.compile(r"^\W*(?:response|answer|option)?\s*\W*([AB])\b", re.IGNORECASE)
_CHOICE_NAMED = re.compile(r"\b(?:response|answer|option)\s+\W?([AB])\b", re.IGNORECASE)


def parse_choice(text: str) -> Literal["A", "B"]:
    """Read "A" or "B" from a judge's free-text comparison ("B", "**A**", "Response B is better.",
    "Better response: B", the primed reply of text mode)."""
    text = text.strip()
    if text.lower().startswith(CHOICE_REPLY_PREFIX.lower()):
        text = text[len(CHOICE_REPLY_PREFIX) :]
    leading = _CHOICE_LEADING.match(text.strip())
    if leading:
        return "A" if leading.group(1).upper() == "A" else "B"
    named = {m.group(1).upper() for m in _CHOICE_NAMED.finditer(text)}
    if len(named) == 1:
        return "A" if named == {"A"} else "B"
    if named:
        raise JudgeParseError(f"ambiguous judge answer: names both A and B in {truncate(text, limit=_EXCERPT)}")
    raise JudgeParseError(f"no choice A or B found in {truncate(text, limit=_EXCERPT)}")


# -- active judge --------------------------------------------------------------------------------

_NO_JUDGE = (
    "{name} needs a judge model: run under the plugin with --llm-judge-model=<model>, pass judge=<a "
    "pytest_llmeval.metrics.Judge>, or wrap the call in pytest_llmeval.metrics.using_judge(judge)"
)


@contextmanager
def using_judge(judge: Judge | None, *, min_mass: float | None = None) -> Iterator[None]:
    """Make ``judge`` the one the ``judge`` and ``preferred_over`` checks use when none is passed,
    and ``min_mass`` (if given) their default threshold for an inconclusive judge."""
    provided: dict[str, Any] = {"judge": judge}
    if min_mass is not None:
        provided["judge_min_mass"] = _check_min_mass(min_mass)
    with running_test.providing(**provided):
        yield


def active_judge() -> Judge | None:
    """The judge the ``judge`` and ``preferred_over`` checks use when none is passed (the plugin
    provides the ``--llm-judge-model`` to each test)."""
    return running_test.services().judge


def active_min_mass() -> float:
    """The inconclusive-judge threshold checks use when they are given none (the plugin provides
    ``--llm-judge-min-mass``; else :data:`DEFAULT_MIN_MASS`)."""
    value = running_test.services().judge_min_mass
    return DEFAULT_MIN_MASS if value is None else value


def _check_min_mass(value: float, name: str = "min_mass") -> float:
    if not 0.0 <= value <= 1.0:
        raise CheckUsageError(f"judge: {name} is {value}; it is a probability, from 0 to 1")
    return value


def _describe(judge: Judge) -> str:
    """Which model judges, when the judge says (``description``), for messages."""
    description = getattr(judge, "description", None)
    return f" [judge: {description}]" if isinstance(description, str) and description else ""


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
        raise CheckUsageError(f"{name}: the judge's {method} returned {len(values)} results for {expected} prompts")


# -- scoring and comparing -----------------------------------------------------------------------


def judge_score(
    judge: Judge,
    rubric: str,
    output: str,
    *,
    reference: str | None = None,
    mode: JudgeMode = "logprobs",
    prompt: str | None = None,
) -> JudgeScore:
    """Score one output (with its request: ``prompt``, or the one a :class:`Generation` carries).
    In text mode the JudgeScore is certain: probability 1 (and mass 1) on the parsed score. The
    caller decides what a small ``mass`` means (:func:`inconclusive_message`)."""
    mode = scoring_mode(judge, mode)
    judge_prompt = judge_check_prompt(output, rubric, reference, mode, prompt)
    if mode == "logprobs":
        answers = judge.score_next_token([judge_prompt], list(SCORE_TOKENS))
        _one(answers, "judge", "score_next_token", 1)
        return score_from_logprobs(answers[0])
    texts = judge.generate([judge_prompt])
    _one(texts, "judge", "generate", 1)
    score = parse_primed_score(texts[0], judge_prompt.reply_prefix)
    return JudgeScore(float(score), score, {s: float(s == score) for s in range(1, 6)})


@dataclass(frozen=True)
class PairwiseResult:
    """``first``: the judge's choice with the candidate shown as A; ``swapped``: with it shown as B.
    ``outcome`` for the candidate: 1 win (preferred in both orders), 0 loss, 0.5 tie/disagreement."""

    first: Choice
    swapped: Choice
    outcome: float
    # The smaller of the two orders' probability mass on "A"/"B" (1.0 in text mode).
    mass: float = 1.0


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
    prompt: str | None = None,
) -> list[PairwiseResult]:
    """Compare each candidate with its baseline, both orders, in one batched judge call (the judge
    sees the request the candidates answer: ``prompt``, or the one a :class:`Generation` carries)."""
    if len(candidates) != len(baselines):
        raise ValueError(f"compare: {len(candidates)} candidates but {len(baselines)} baselines")
    prompts: list[str] = []
    for candidate, baseline in zip(candidates, baselines, strict=True):
        request_prompt, conversation = request_of(candidate, prompt)
        for first, second in ((str(candidate), baseline), (baseline, str(candidate))):
            prompts.append(
                build_pairwise_prompt(first, second, criteria, prompt=request_prompt, conversation=conversation)
            )
    mode = scoring_mode(judge, mode)
    choices: list[Choice]
    masses: list[float]
    if mode == "logprobs":
        answers = judge.score_next_token(prompts, list(CHOICE_TOKENS))
        _one(answers, "preferred_over", "score_next_token", len(prompts))
        choices = [_choice_from_logprobs(a) for a in answers]
        masses = [score_mass(a, CHOICE_TOKENS) for a in answers]
    else:
        texts = judge.generate(prompts)
        _one(texts, "preferred_over", "generate", len(prompts))
        choices = [parse_choice(t) for t in texts]
        masses = [1.0] * len(texts)
    return [
        PairwiseResult(first, swapped, preference_outcome(first, swapped), min(m1, m2))
        for first, swapped, m1, m2 in zip(choices[0::2], choices[1::2], masses[0::2], masses[1::2], strict=True)
    ]


def judge_pairwise(
    judge: Judge,
    candidate: str,
    baseline: str,
    *,
    criteria: str | None = None,
    mode: JudgeMode = "logprobs",
    prompt: str | None = None,
) -> PairwiseResult:
    """Compare one candidate with one baseline answer, in both orders."""
    return judge_pairwise_many(judge, [candidate], [baseline], criteria=criteria, mode=mode, prompt=prompt)[0]


def win_rate(pairs: Iterable[PairwiseResult | tuple[Choice, Choice]]) -> float:
    """The candidate's mean outcome over comparisons: win 1, tie (orders disagree) 0.5, loss 0.

    Each pair is a :class:`PairwiseResult` or ``(first, swapped)`` choices as in
    :func:`preference_outcome`. Raises ValueError for no pairs.
    """
    outcomes = [p.outcome if isinstance(p, PairwiseResult) else preference_outcome(*p) for p in pairs]
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
    prompt: str | None = None,
    min_mass: float | None = None,
) -> CheckResult:
    """The judge's score (expected value over "1".."5" in logprobs mode, the parsed integer in text
    mode) is at least ``min_score``. The judge reads the request (``prompt``, else the one the model
    output carries), the output, the ``reference`` and the rubric. In logprobs mode, a judge with less
    than ``min_mass`` (default 0.5, or the session's) of its probability on the scores is
    inconclusive: the check fails and gives no score. An unreadable text-mode answer fails, quoting it."""
    if not rubric.strip():
        raise CheckUsageError("check 'judge': argument 'rubric' is empty")
    if not 1.0 <= min_score <= 5.0:
        raise CheckUsageError(f"check 'judge': argument 'min_score' is {min_score}, outside the scale 1..5")
    threshold = _check_min_mass(min_mass) if min_mass is not None else active_min_mass()
    active = _require_judge("judge", judge)
    who = _describe(active)
    mode = scoring_mode(active, mode)
    try:
        output = checked_output(text)  # a model output carries the request the judge must read
        result = judge_score(active, rubric, output, reference=reference, mode=mode, prompt=prompt)
    except JudgeParseError as exc:
        return CheckResult("judge", False, f"judge: could not read the judge's answer: {exc}{who}")
    spread = ", ".join(f"{s}: {p:.2f}" for s, p in result.probabilities.items() if p >= 0.005)
    if mode == "logprobs" and result.mass < threshold:
        message = f"{inconclusive_message('judge', result.mass, threshold)} (normalised: {spread}){who}"
        details = {"mode": mode, "mass": result.mass, "inconclusive": True, "min_mass": threshold}
        return CheckResult("judge", False, message, details=details)
    extra = {
        "mode": mode,
        "most_likely": result.most_likely,
        "probabilities": result.probabilities,
        "mass": result.mass,
        "threshold": {"min": min_score},
    }
    details = metric_details("judge", result.expected, True, **extra)
    shown = f"{result.expected:.2f}" if mode == "logprobs" else str(result.most_likely)
    mass = f"; mass {result.mass:.2f}" if mode == "logprobs" else ""
    passed = result.expected >= min_score
    if passed:
        message = f"judge: score {shown} >= min {min_score:g} (most likely {result.most_likely}{mass})"
    else:
        message = (
            f"judge: score {shown} < min {min_score:g} (most likely {result.most_likely}; {spread}{mass}) "
            f"for rubric {truncate(rubric, limit=80)}; output {truncate(text)}{who}"
        )
    return CheckResult("judge", passed, message, score=result.expected, details=details, value=result.expected)


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
    prompt: str | None = None,
    min_mass: float | None = None,
) -> CheckResult:
    """The judge prefers the output over ``other`` (a reference or baseline answer) with the two shown
    in both orders; an order-dependent verdict is a tie, which passes only with ``allow_tie=True``.
    Score: 1 win, 0.5 tie, 0 loss. Under ``min_mass`` on "A"/"B" the judge is inconclusive."""
    if not other.strip():
        raise CheckUsageError("check 'preferred_over': argument 'other' is empty")
    threshold = _check_min_mass(min_mass) if min_mass is not None else active_min_mass()
    active = _require_judge("preferred_over", judge)
    who = _describe(active)
    mode = scoring_mode(active, mode)
    try:
        output = checked_output(text)
        result = judge_pairwise(active, output, other, criteria=rubric, mode=mode, prompt=prompt)
    except JudgeParseError as exc:
        message = f"preferred_over: could not read the judge's answer: {exc}{who}"
        return CheckResult("preferred_over", False, message)
    if mode == "logprobs" and result.mass < threshold:
        message = inconclusive_message("preferred_over", result.mass, threshold, what='"A" or "B"') + who
        details = {"mode": mode, "mass": result.mass, "inconclusive": True, "min_mass": threshold}
        return CheckResult("preferred_over", False, message, details=details)
    details = metric_details(
        "preferred_over",
        result.outcome,
        True,
        mode=mode,
        mass=result.mass,
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
            f"other {truncate(other, limit=80)}{who}"
        )
    return CheckResult("preferred_over", passed, message, score=result.outcome, details=details, value=result.outcome)

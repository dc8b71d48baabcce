"""Does a small judge separate good answers from bad ones? SmolLM2-135M-Instruct judging itself.

Run: ``LLMEVAL_REAL_MODEL_DIR=/path/to/smollm2-135m-instruct python benchmarks/judge_separation.py``
(about a minute on 2 CPU cores). Twelve questions, each with a clearly right and a clearly wrong
one-sentence answer and a rubric naming the right fact. The first six were used while the judge's
prompt was built (the README's figures); the last six were written afterwards and are held out: read
them for what a judge does on data nobody tuned for. Each way of judging is scored on both halves:

- ``logprobs``: the plugin's judge prompt (request, response, rubric; reply primed "Score:"), the
  expected score over "1".."5" and the probability mass on them;
- ``text``: the same prompt, the judge continuing "Score:" greedily (``parse_primed_score``; an
  unreadable reply is left out of the means, and the replies are printed);
- ``no-system``: the same user message without the grader system prompt, logprobs;
- ``yes-no``: a binary question ("Does the response meet the rubric? Answer Yes or No.", reply primed
  "Answer:"), P(Yes) normalised over Yes/No, shown on the 1-5 scale as 1 + 4 P(Yes). Not a mode
  of the plugin: a check of whether a simpler question separates better.

For each way and half it prints the mean of good minus bad, how many pairs have good > bad, and the
mean mass (logprob ways). The ways were chosen before any was run; nothing here is tuned on the pairs.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_llmeval.backends.base import Message
from pytest_llmeval.metrics.judge import (
    JUDGE_SYSTEM,
    JudgeParseError,
    JudgePrompt,
    build_judge_prompt,
    parse_primed_score,
    score_from_logprobs,
    score_mass,
)


@dataclass(frozen=True)
class Pair:
    question: str
    good: str
    bad: str
    rubric: str


TUNED = [
    Pair("What is the capital of France?", "The capital of France is Paris.", "The capital of France is Berlin.",
         "The answer names Paris as the capital of France."),
    Pair("What is 7 + 5?", "7 + 5 is 12.", "7 + 5 is 10.", "The answer gives 12."),
    Pair("How many days are in a week?", "There are seven days in a week.", "There are five days in a week.",
         "The answer says a week has seven days."),
    Pair("Name a primary colour.", "Blue is a primary colour.", "Brown is a primary colour.",
         "The answer names red, yellow or blue."),
    Pair("What colour is the sky on a clear day?", "The sky is blue on a clear day.",
         "The sky is green on a clear day.", "The answer says the sky is blue."),
    Pair("How do you say 'thank you' in French?", "'Thank you' in French is 'merci'.",
         "'Thank you' in French is 'gracias'.", "The answer gives 'merci'."),
]
HELD_OUT = [
    Pair("What is the largest planet in the solar system?", "Jupiter is the largest planet.",
         "Mars is the largest planet.", "The answer names Jupiter."),
    Pair("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet.",
         "Charles Dickens wrote Romeo and Juliet.", "The answer names Shakespeare."),
    Pair("At what temperature in Celsius does water boil at sea level?", "Water boils at 100 degrees Celsius.",
         "Water boils at 50 degrees Celsius.", "The answer says 100 degrees Celsius."),
    Pair("How many legs does a spider have?", "A spider has eight legs.", "A spider has six legs.",
         "The answer says eight legs."),
    Pair("What is the chemical symbol for gold?", "The chemical symbol for gold is Au.",
         "The chemical symbol for gold is Ag.", "The answer gives Au."),
    Pair("Which ocean is the largest?", "The Pacific Ocean is the largest.", "The Atlantic Ocean is the largest.",
         "The answer names the Pacific Ocean."),
]


def _without_system(prompt: JudgePrompt) -> JudgePrompt:
    return JudgePrompt([m for m in prompt.messages if m.role != "system"], prompt.reply_prefix)


def _yes_no(pair: Pair, answer: str) -> JudgePrompt:
    user = (
        f"[User's request]\n{pair.question}\n\n[Assistant's response]\n{answer}\n\n[Rubric]\n{pair.rubric}\n\n"
        "Does the response meet the rubric? Answer Yes or No."
    )
    return JudgePrompt([Message("system", JUDGE_SYSTEM), Message("user", user)], "Answer:")


def main() -> None:
    folder = os.environ.get("LLMEVAL_REAL_MODEL_DIR")
    if not folder or not (Path(folder) / "model.safetensors").is_file():
        sys.exit("set LLMEVAL_REAL_MODEL_DIR to the SmolLM2-135M-Instruct folder")
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.engine import ModelJudge, ModelUnderTest
    from pytest_llmeval.settings import Settings

    settings = Settings(model=folder, dtype="float32", max_new_tokens=8)
    model = ModelUnderTest(settings, lambda: load_backend(settings, Path(folder)))
    backend = model.backend
    judge = ModelJudge(model, max_new_tokens=8)
    scores_1_5 = ["1", "2", "3", "4", "5"]

    def logprob_way(prompts: list[JudgePrompt]) -> list[tuple[float, float]]:
        answers = backend.next_token_logprobs(prompts, scores_1_5)
        return [(score_from_logprobs(a).expected, score_mass(a)) for a in answers]

    replies: list[str] = []

    def text_way(prompts: list[JudgePrompt]) -> list[tuple[float, float]]:
        out = []
        for prompt, reply in zip(prompts, judge.generate(list(prompts)), strict=True):
            replies.append(reply)
            try:
                out.append((float(parse_primed_score(reply, prompt.reply_prefix)), 1.0))
            except JudgeParseError:
                out.append((float("nan"), 1.0))  # unreadable: left out of the means
        return out

    def yes_no_way(prompts: list[JudgePrompt]) -> list[tuple[float, float]]:
        answers = backend.next_token_logprobs(prompts, ["Yes", "No"])
        results = []
        for a in answers:
            mass = score_mass(a, ("Yes", "No"))
            yes = sum(math.exp(v) for k, v in a.items() if k.strip() == "Yes")
            results.append((1 + 4 * (yes / mass if mass else 0.5), mass))
        return results

    ways = {
        "logprobs": (lambda p, a: build_judge_prompt(p.rubric, a, prompt=p.question), logprob_way),
        "text": (lambda p, a: build_judge_prompt(p.rubric, a, prompt=p.question), text_way),
        "no-system": (lambda p, a: _without_system(build_judge_prompt(p.rubric, a, prompt=p.question)), logprob_way),
        "yes-no": (_yes_no, yes_no_way),
    }
    print(f"judge: {folder} (float32), judging answers it did not write\n")
    print(f"{'way':<10} {'half':<9} {'good-bad mean':>13} {'good>bad':>9} {'mass':>6}  per pair (good/bad)")
    for name, (build, score) in ways.items():
        for half, pairs in (("tuned", TUNED), ("held-out", HELD_OUT)):
            prompts = [build(p, answer) for p in pairs for answer in (p.good, p.bad)]
            results = score(prompts)
            goods, bads = results[0::2], results[1::2]
            gaps = [g[0] - b[0] for g, b in zip(goods, bads, strict=True)]
            readable = [gap for gap in gaps if gap == gap]
            mean_gap = statistics.mean(readable) if readable else float("nan")
            wins = sum(gap > 0 for gap in readable)
            mass = statistics.mean(m for _, m in results)
            shown = " ".join(f"{g[0]:.2f}/{b[0]:.2f}" for g, b in zip(goods, bads, strict=True))
            print(f"{name:<10} {half:<9} {mean_gap:>+13.2f} {wins:>5}/{len(pairs)} {mass:>6.2f}  {shown}")
    print("\ntext-mode replies (good | bad):")
    for good, bad in zip(replies[0::2], replies[1::2], strict=True):
        print(f"  {good!r} | {bad!r}")


if __name__ == "__main__":
    main()

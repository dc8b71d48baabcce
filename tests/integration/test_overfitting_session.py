"""Memorisation and the perplexity gap in a whole session, on the demo model (which memorised its
training answers: both must show it)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from pytest_llmeval.demo import DEMO_EXAMPLES

HELDOUT = """
Our office plants are watered every Tuesday by the facilities team.

The quarterly report will be published after the board meeting next month.

Please keep the kitchen tidy and label your food with your name and the date.

The new parking rules apply to visitors as well as to employees.

A fire drill is planned for Thursday morning; follow the wardens to the assembly point.

The library on the third floor is a quiet zone during working hours.
"""


def test_the_demo_model_copies_its_answers_and_scores_them_better_than_new_text(
    pytester: pytest.Pytester, demo_model: Path
) -> None:
    (pytester.path / "train.jsonl").write_text(
        "".join(json.dumps({"prompt": p, "completion": a}) + "\n" for p, a in DEMO_EXAMPLES), encoding="utf-8"
    )
    # what the demo model was trained to produce: its answers
    (pytester.path / "answers.jsonl").write_text(
        "".join(json.dumps({"text": a}) + "\n" for _, a in DEMO_EXAMPLES if len(a.split()) > 3), encoding="utf-8"
    )
    (pytester.path / "heldout.txt").write_text(HELDOUT, encoding="utf-8")
    (pytester.path / "memo.eval.yaml").write_text(textwrap.dedent("""
        cases:
          - id: reset
            prompt: How do I reset my password?
            max_new_tokens: 24
            expect: {no_memorisation: {train_data: train.jsonl, max_span: 10}}
          - id: novel
            prompt: Tell me about the weather on Mars.
            max_new_tokens: 4
            expect: {no_memorisation: {train_data: train.jsonl, max_span: 10}}
    """).lstrip(), encoding="utf-8")
    pytester.makepyfile(test_gap=textwrap.dedent('''
        from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

        def test_gap(llm):
            assert_perplexity_gap(llm, "answers.jsonl", "heldout.txt", max_gap=0.5, max_texts=12)
    '''))
    result = pytester.runpytest(f"--llm-model={demo_model}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    copied = re.search(r"FAIL no_memorisation \(score \d+\): longest copied span (\d+) > max 10; \1 tokens copied verbatim \(training document 0\)", out)
    assert copied is not None, out
    assert int(copied.group(1)) >= 12
    gap = re.search(r"perplexity_gap: ([\d.]+) nats/token > max 0.5; perplexity train ([\d.]+) \[([\d.]+), ([\d.]+)\] \(12 texts\), "
                    r"held-out ([\d.e+]+) \[[\d.e+]+, [\d.e+]+\] \(6 texts\)", out)
    assert gap is not None, out
    assert float(gap.group(1)) > 0.5 and float(gap.group(3)) <= float(gap.group(2)) <= float(gap.group(4))
    assert re.search(r"metric memorised_span: mean [\d.]+ over 2 .*lower is better", out), out
    assert re.search(r"metric perplexity_gap: mean [\d.]+ over 1", out)


PARROT = '''
def answer(prompt):
    return {"refund": "You can ask for a refund within 30 days of purchase, no questions asked."}.get(prompt, "Ask support.")
'''


def test_the_sessions_training_data_serves_every_no_memorisation_check(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(parrot=PARROT)
    (pytester.path / "train.jsonl").write_text(
        json.dumps({"text": "Our refund policy: you can ask for a refund within 30 days of purchase, no questions asked."}) + "\n",
        encoding="utf-8",
    )
    (pytester.path / "m.eval.yaml").write_text(textwrap.dedent("""
        cases:
          - {id: refund, prompt: refund, expect: {no_memorisation: {max_span: 5}}}
          - {id: other, prompt: other, expect: {no_memorisation: {max_span: 5}}}
    """).lstrip(), encoding="utf-8")
    result = pytester.runpytest("--llm-model=py:parrot:answer", "--llm-train-data=train.jsonl", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        # "You" is not "you": the span starts at "can"
        "*FAIL no_memorisation (score 15): longest copied span 15 > max 5; 15 tokens copied verbatim (training document 0): "
        "'can ask for a refund within 30 days of purchase , no questions asked .'",
    ])
    missing = pytester.runpytest("--llm-model=py:parrot:answer", "--llm-train-data=nope.jsonl", "-p", "no:cacheprovider")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*--llm-train-data: */nope.jsonl is not a file*"])
    # without the option (and without train_data), the check says what it needs
    bare = pytester.runpytest("--llm-model=py:parrot:answer", "-p", "no:cacheprovider")
    bare.stdout.fnmatch_lines(["*usage error in expect (not a model failure): check 'no_memorisation' needs the training data*"])

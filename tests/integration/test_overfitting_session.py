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
    (pytester.path / "memo.eval.yaml").write_text(
        textwrap.dedent("""
        cases:
          - id: reset
            prompt: How do I reset my password?
            max_new_tokens: 24
            expect: {no_memorisation: {train_data: train.jsonl, max_span: 10}}
          - id: novel
            prompt: Tell me about the weather on Mars.
            max_new_tokens: 4
            expect: {no_memorisation: {train_data: train.jsonl, max_span: 10}}
    """).lstrip(),
        encoding="utf-8",
    )
    pytester.makepyfile(
        test_gap=textwrap.dedent("""
        from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

        def test_gap(llm):
            assert_perplexity_gap(llm, "answers.jsonl", "heldout.txt", max_gap=0.5, max_texts=12)
    """)
    )
    result = pytester.runpytest(f"--llm-model={demo_model}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    copied = re.search(
        r"FAIL no_memorisation \(score \d+\): longest copied span (\d+) > max 10; \1 tokens copied verbatim \(training document 0\)",
        out,
    )
    assert copied is not None, out
    assert int(copied.group(1)) >= 12
    gap = re.search(
        r"perplexity_gap: ([\d.]+) nats/token > max 0.5; perplexity train ([\d.]+) \[([\d.]+), ([\d.]+)\] \(12 texts\), "
        r"held-out ([\d.e+]+) \[[\d.e+]+, [\d.e+]+\] \(6 texts\)",
        out,
    )
    assert gap is not None, out
    assert float(gap.group(1)) > 0.5 and float(gap.group(3)) <= float(gap.group(2)) <= float(gap.group(4))
    assert re.search(r"metric memorised_span: mean [\d.]+ over 2 .*lower is better", out), out
    assert re.search(r"metric perplexity_gap: mean [\d.]+ over 1", out)


PARROT = """
def answer(prompt):
    return {"refund": "You can ask for a refund within 30 days of purchase, no questions asked."}.get(prompt, "Ask support.")
"""


def test_the_sessions_training_data_serves_every_no_memorisation_check(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(parrot=PARROT)
    (pytester.path / "train.jsonl").write_text(
        json.dumps(
            {"text": "Our refund policy: you can ask for a refund within 30 days of purchase, no questions asked."}
        )
        + "\n",
        encoding="utf-8",
    )
    (pytester.path / "m.eval.yaml").write_text(
        textwrap.dedent("""
        cases:
          - {id: refund, prompt: refund, expect: {no_memorisation: {max_span: 5}}}
          - {id: other, prompt: other, expect: {no_memorisation: {max_span: 5}}}
    """).lstrip(),
        encoding="utf-8",
    )
    result = pytester.runpytest(
        "--llm-model=py:parrot:answer", "--llm-train-data=train.jsonl", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            # "You" is not "you": the span starts at "can"
            "*FAIL no_memorisation (score 15): longest copied span 15 > max 5; 15 tokens copied verbatim (training document 0): "
            "'can ask for a refund within 30 days of purchase , no questions asked .'",
        ]
    )
    missing = pytester.runpytest(
        "--llm-model=py:parrot:answer", "--llm-train-data=nope.jsonl", "-p", "no:cacheprovider"
    )
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*--llm-train-data: */nope.jsonl is not a file*"])
    # without the option (and without train_data), the check says what it needs
    bare = pytester.runpytest("--llm-model=py:parrot:answer", "-p", "no:cacheprovider")
    bare.stdout.fnmatch_lines(
        ["*usage error in expect (not a model failure): check 'no_memorisation' needs the training data*"]
    )


def _gap_files(pytester: pytest.Pytester) -> None:
    # the demo model's own answers as its "training data": it memorised them, so the gap is large
    (pytester.path / "answers.jsonl").write_text(
        "".join(json.dumps({"text": a}) + "\n" for _, a in DEMO_EXAMPLES if len(a.split()) > 3), encoding="utf-8"
    )
    (pytester.path / "heldout.txt").write_text(HELDOUT, encoding="utf-8")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")


def test_training_and_heldout_data_make_the_perplexity_gap_a_session_metric_the_gate_watches(
    pytester: pytest.Pytester, model_dir: Path
) -> None:
    from pytest_llmeval.demo import copy_demo_model

    strong = copy_demo_model(model_dir / "gap-strong")
    weak = copy_demo_model(model_dir / "gap-weak", weak=True)
    _gap_files(pytester)
    pytester.makeini("[pytest]\nllm_train_data = answers.jsonl\nllm_heldout_data = heldout.txt\n")
    # the undertrained checkpoint: its run becomes the baseline
    # sessions that load a model run as subprocesses: pytester drops the modules an in-process session
    # imported, and torch cannot be imported twice in one process
    first = pytester.runpytest_subprocess(
        f"--llm-model={weak}", "--llm-update-baseline", "-p", "no:cacheprovider", "-v"
    )
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["*collected 2 items", "*", "llmeval::perplexity_gap PASSED*"])
    line = re.search(
        r"perplexity_gap llmeval::perplexity_gap: ([\d.]+) \[([\d.]+), ([\d.]+)\] \(95% interval; lower is better\)",
        first.stdout.str(),
    )
    assert line is not None, first.stdout.str()
    weak_gap, low, high = map(float, line.groups())
    assert low <= weak_gap <= high
    baseline = json.loads((pytester.path / "llmeval-baseline.json").read_text(encoding="utf-8"))
    recorded = baseline["cases"]["llmeval::perplexity_gap"]["metrics"]["perplexity_gap"]
    assert recorded["higher_is_better"] is False and recorded["confidence"] == 0.95
    assert recorded["low"] <= recorded["value"] <= recorded["high"]
    assert abs(recorded["value"] - weak_gap) < 1e-3 * max(1.0, weak_gap)

    # the checkpoint trained further memorised its answers: the gap grows beyond the tolerance
    gated = pytester.runpytest_subprocess(
        f"--llm-model={strong}",
        "--llm-gate=regressions",
        "--llm-metric-tolerance=perplexity_gap=0.5",
        "-p",
        "no:cacheprovider",
    )
    assert gated.ret == pytest.ExitCode.TESTS_FAILED
    gated.stdout.fnmatch_lines(
        [
            "*metric drop  llmeval::perplexity_gap  perplexity_gap * -> *",
            "llmeval::gate FAILED: 1 metric drop beyond the tolerance against the baseline (listed above)",
        ]
    )
    strong_gap = float(re.search(r"perplexity_gap llmeval::perplexity_gap: ([\d.]+)", gated.stdout.str()).group(1))  # type: ignore[union-attr]
    assert strong_gap > weak_gap + 0.5


def test_the_perplexity_gap_options_bad_input(pytester: pytest.Pytester, demo_model: Path) -> None:
    _gap_files(pytester)
    missing = pytester.runpytest(
        f"--llm-model={demo_model}",
        "--llm-train-data=answers.jsonl",
        "--llm-heldout-data=nope.txt",
        "-p",
        "no:cacheprovider",
    )
    assert missing.ret == pytest.ExitCode.USAGE_ERROR
    missing.stderr.fnmatch_lines(["*--llm-heldout-data: */nope.txt is not a file*"])
    alone = pytester.runpytest(f"--llm-model={demo_model}", "--llm-heldout-data=heldout.txt", "-p", "no:cacheprovider")
    assert alone.ret == pytest.ExitCode.USAGE_ERROR
    alone.stderr.fnmatch_lines(
        [
            "*--llm-heldout-data: the perplexity gap compares held-out text with the training "
            "data; give --llm-train-data FILE too*"
        ]
    )
    # a held-out file of one document cannot give an interval: the item fails and says why
    (pytester.path / "one.txt").write_text("Just one document here.\n", encoding="utf-8")
    short = pytester.runpytest_subprocess(
        f"--llm-model={demo_model}",
        "--llm-train-data=answers.jsonl",
        "--llm-heldout-data=one.txt",
        "-p",
        "no:cacheprovider",
    )
    short.assert_outcomes(passed=1, failed=1)
    short.stdout.fnmatch_lines(
        [
            "*llmeval::perplexity_gap: cannot measure the perplexity gap: perplexity gap: the held-out side has 1 text; "
            "an interval needs at least 2*"
        ]
    )
    # without a model the item is skipped like every test that needs one
    bare = pytester.runpytest(
        "--llm-train-data=answers.jsonl", "--llm-heldout-data=heldout.txt", "-p", "no:cacheprovider"
    )
    bare.assert_outcomes(passed=1, skipped=1)


def test_a_case_files_perplexity_gap_block_is_an_item_with_a_maximum(
    pytester: pytest.Pytester, demo_model: Path
) -> None:
    _gap_files(pytester)
    (pytester.path / "data").mkdir()
    for name in ("answers.jsonl", "heldout.txt"):
        (pytester.path / name).rename(pytester.path / "data" / name)
    (pytester.path / "gap.eval.yaml").write_text(
        textwrap.dedent("""
            perplexity_gap: {train_data: data/answers.jsonl, heldout_data: data/heldout.txt, max_gap: 0.5, max_texts: 12}
            cases:
              - {id: reset, prompt: "How do I reset my password?", max_new_tokens: 8, expect: {not_garbled: true}}
        """).lstrip(),
        encoding="utf-8",
    )
    result = pytester.runpytest_subprocess(f"--llm-model={demo_model}", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "gap.eval.yaml::perplexity_gap FAILED*",
            "*gap.eval.yaml::perplexity_gap: perplexity_gap: * nats/token > max 0.5; perplexity train * (12 texts), "
            "held-out * (6 texts); gap * nats/token, ratio * (95% intervals)",
            "perplexity_gap gap.eval.yaml::perplexity_gap: 9.* (95% interval; lower is better)",
        ]
    )

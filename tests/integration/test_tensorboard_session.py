"""TensorBoard from real sessions: two runs recorded in the history, exported, read back with
tensorboard's own event reader."""

from __future__ import annotations

import textwrap

import pytest
from tensorboard.backend.event_processing.plugin_event_accumulator import (
    EventAccumulator,
)
from tensorboard.util import tensor_util

from pytest_llmeval.cli import main

BOT = """
import os

def answer(prompt):
    # "checkpoint" 1 knows one answer, checkpoint 2 both
    known = {"reset": "Click Forgot Password."}
    if os.environ.get("BOT_CHECKPOINT") == "2":
        known["invoices"] = "Invoices are under Billing."
    return known.get(prompt, "I don't know")
"""


def test_two_sessions_export_as_curves(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "support.eval.yaml").write_text(
        textwrap.dedent("""
        defaults: {tags: [support]}
        cases:
          - {id: reset, prompt: reset, reference: Click Forgot Password., expect: {contains: Forgot, rouge_l: true}}
          - {id: invoices, prompt: invoices, reference: Invoices are under Billing., expect: {contains: Billing, rouge_l: true}}
    """).lstrip(),
        encoding="utf-8",
    )
    for checkpoint in ("1", "2"):
        monkeypatch.setenv("BOT_CHECKPOINT", checkpoint)
        pytester.runpytest("--llm-model=py:bot:answer", "--llm-cache=off", "-p", "no:cacheprovider")
    logdir = pytester.path / "tb"
    assert (
        main(["export", "tensorboard", str(logdir), "--history", str(pytester.path / ".llmeval" / "history.db")]) == 0
    )
    assert capsys.readouterr().out.splitlines()[-1].startswith("wrote 2 runs (steps ")
    accumulator = EventAccumulator(str(logdir))
    accumulator.Reload()

    def curve(tag: str) -> list[float]:
        return [float(tensor_util.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]

    assert curve("pass_rate/overall") == [0.5, 1.0]
    assert curve("pass_rate/file/support.eval.yaml") == [0.5, 1.0]
    assert curve("pass_rate/tag/support") == [0.5, 1.0]
    assert curve("metric/rouge_l") == pytest.approx([0.5, 1.0])
    text = accumulator.Tensors("case/support.eval.yaml::invoices")
    assert [tensor_util.make_ndarray(e.tensor_proto).item().decode() for e in text] == [
        "**failed**: contains: expected 'Billing' (case-insensitive); not found in \"I don't know\"\n\nprompt:\n\n    invoices\n\noutput:\n\n    I don't know",
        "**passed**\n\nprompt:\n\n    invoices\n\noutput:\n\n    Invoices are under Billing.",
    ]


def test_a_checkpoint_sweep_written_by_sessions_reads_as_curves(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "support.eval.yaml").write_text(
        textwrap.dedent("""
        cases:
          - {id: reset, prompt: reset, expect: {contains: Forgot}}
          - {id: invoices, prompt: invoices, expect: {contains: Billing}}
    """).lstrip(),
        encoding="utf-8",
    )
    # checkpoints 2 and 1, recorded out of order: the steps put them in place
    for checkpoint, step in (("2", "2000"), ("1", "1000")):
        monkeypatch.setenv("BOT_CHECKPOINT", checkpoint)
        result = pytester.runpytest(
            "--llm-model=py:bot:answer",
            "--llm-cache=off",
            "--llm-tensorboard=tb",
            f"--llm-step={step}",
            "-p",
            "no:cacheprovider",
        )
        result.stdout.fnmatch_lines([f"tensorboard: run written to */tb at step {step}"])
    accumulator = EventAccumulator(str(pytester.path / "tb"))
    accumulator.Reload()
    points = [
        (e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors("pass_rate/overall")
    ]
    assert sorted(points) == [(1000, 0.5), (2000, 1.0)]
    # the step is kept with the run, so an export from the history puts the runs at the same steps
    assert (
        main(
            [
                "export",
                "tensorboard",
                str(pytester.path / "again"),
                "--history",
                str(pytester.path / ".llmeval" / "history.db"),
            ]
        )
        == 0
    )
    again = EventAccumulator(str(pytester.path / "again"))
    again.Reload()
    assert [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in again.Tensors("pass_rate/overall")] == [
        (1000, 0.5),
        (2000, 1.0),
    ]


def test_tensorboard_option_mistakes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "support.eval.yaml").write_text(
        "cases:\n  - {id: reset, prompt: reset, expect: {contains: Forgot}}\n", encoding="utf-8"
    )
    result = pytester.runpytest("--llm-model=py:bot:answer", "--llm-step=ten", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-step: 'ten' is not a whole number*"])
    (pytester.path / "taken").write_text("a file, not a folder", encoding="utf-8")
    result = pytester.runpytest("--llm-model=py:bot:answer", "--llm-tensorboard=taken/tb", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "warning: the TensorBoard events were not written: cannot write TensorBoard events to */taken/tb: *Not a directory*"
        ]
    )

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

BOT = '''
import os

def answer(prompt):
    # "checkpoint" 1 knows one answer, checkpoint 2 both
    known = {"reset": "Click Forgot Password."}
    if os.environ.get("BOT_CHECKPOINT") == "2":
        known["invoices"] = "Invoices are under Billing."
    return known.get(prompt, "I don't know")
'''


def test_two_sessions_export_as_curves(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "support.eval.yaml").write_text(textwrap.dedent("""
        defaults: {tags: [support]}
        cases:
          - {id: reset, prompt: reset, reference: Click Forgot Password., expect: {contains: Forgot, rouge_l: true}}
          - {id: invoices, prompt: invoices, reference: Invoices are under Billing., expect: {contains: Billing, rouge_l: true}}
    """).lstrip(), encoding="utf-8")
    for checkpoint in ("1", "2"):
        monkeypatch.setenv("BOT_CHECKPOINT", checkpoint)
        pytester.runpytest("--llm-model=py:bot:answer", "--llm-cache=off", "-p", "no:cacheprovider")
    logdir = pytester.path / "tb"
    assert main(["export", "tensorboard", str(logdir), "--history", str(pytester.path / ".llmeval" / "history.db")]) == 0
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

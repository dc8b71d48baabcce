"""TensorBoard export: scalars and texts per run, read back with tensorboard's own event reader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.plugin_event_accumulator import (
    EventAccumulator,
)
from tensorboard.util import tensor_util

from pytest_llmeval.cli import main
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import RunStore
from pytest_llmeval.tensorboard_export import (
    TensorBoardError,
    case_texts,
    run_scalars,
    run_step,
    write_runs,
)


def _run(run_id: str, started_at: float, passed_b: bool, rouge: float, step: int | None = None) -> RunRecord:
    model = {"source": "./ckpt", "backend": "hf"} | ({"step": step} if step is not None else {})
    cases = [
        CaseRecord(
            "a.eval.yaml::one",
            "passed",
            mode="success_mode",
            tags=["support"],
            metrics={"rouge_l": {"value": rouge, "higher_is_better": True}},
            prompt="Q1",
            output="A1",
        ),
        CaseRecord(
            "a.eval.yaml::two",
            "passed" if passed_b else "failed",
            mode="success_mode",
            tags=["support"],
            metrics={"rouge_l": {"value": rouge / 2, "higher_is_better": True}},
            prompt="Q2",
            output="# not a heading\n*x*",
            message=None if passed_b else "FAIL contains",
        ),
        CaseRecord("test_safety.py::test_refuses", "xfailed", mode="failure_mode", tags=["safety"]),
        CaseRecord("test_safety.py::test_skip", "skipped", tags=["safety"]),
    ]
    return RunRecord(run_id, started_at, started_at + 5, True, model, {}, {}, None, cases)


def _read(logdir: Path) -> dict[str, list[tuple[int, object]]]:
    accumulator = EventAccumulator(str(logdir))
    accumulator.Reload()
    return {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in accumulator.Tensors(tag)]
        for tag in accumulator.Tags()["tensors"]
    }


def test_run_scalars_are_the_gates_pass_rates_and_metric_means() -> None:
    scalars = run_scalars(_run("r1", 1000.0, passed_b=False, rouge=0.8))
    # counted (not skipped): passed, failed, xfailed -> 1/3 passed
    assert scalars["pass_rate/overall"] == pytest.approx(1 / 3)
    assert scalars["pass_rate/mode/success_mode"] == 0.5
    assert scalars["pass_rate/mode/failure_mode"] == 0.0
    assert scalars["pass_rate/file/a.eval.yaml"] == 0.5
    assert scalars["pass_rate/file/test_safety.py"] == 0.0  # the skipped case does not count
    assert scalars["pass_rate/tag/support"] == 0.5 and scalars["pass_rate/tag/safety"] == 0.0
    assert scalars["metric/rouge_l"] == pytest.approx((0.8 + 0.4) / 2)
    assert scalars["cases/passed"] == 1 and scalars["cases/skipped"] == 1 and scalars["cases/error"] == 0


def test_the_step_is_the_users_else_the_runs_time() -> None:
    assert run_step(_run("r", 1234.9, True, 1.0, step=3000)) == 3000
    assert run_step(_run("r", 1234.9, True, 1.0)) == 1234


def test_case_texts_show_outcome_message_prompt_and_output_verbatim() -> None:
    texts = case_texts(_run("r1", 1000.0, passed_b=False, rouge=0.8))
    assert texts["case/a.eval.yaml::two"] == (
        "**failed**: FAIL contains\n\nprompt:\n\n    Q2\n\noutput:\n\n    # not a heading\n    *x*"
    )
    assert texts["case/test_safety.py::test_skip"] == "**skipped**"


def test_a_checkpoint_sweep_reads_back_as_curves(tmp_path: Path) -> None:
    runs = [
        _run("r1", 1000.0, passed_b=False, rouge=0.2, step=100),
        _run("r2", 2000.0, passed_b=True, rouge=0.6, step=200),
    ]
    assert write_runs(tmp_path / "tb", runs) == 2
    # a later session adds a third point, in a new event file of the same folder
    write_runs(tmp_path / "tb", [_run("r3", 3000.0, passed_b=True, rouge=1.0, step=300)], texts=False)
    events = _read(tmp_path / "tb")
    assert events["pass_rate/overall"] == [
        (100, pytest.approx(1 / 3)),
        (200, pytest.approx(2 / 3)),
        (300, pytest.approx(2 / 3)),
    ]
    assert [v for _, v in events["metric/rouge_l"]] == pytest.approx([0.15, 0.45, 0.75])
    assert [s for s, _ in events["case/a.eval.yaml::one"]] == [100, 200]  # texts only where asked
    assert events["case/a.eval.yaml::one"][0][1] == b"**passed**\n\nprompt:\n\n    Q1\n\noutput:\n\n    A1"


def test_export_from_the_history_writes_every_run_in_step_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.db"
    store = RunStore(history)
    # recorded out of step order: the export sorts by step
    store.record_run(_run("r2", 2000.0, passed_b=True, rouge=0.6, step=200))
    store.record_run(_run("r1", 3000.0, passed_b=False, rouge=0.2, step=100))
    code = main(["export", "tensorboard", str(tmp_path / "tb"), "--history", str(history)])
    assert code == 0
    assert capsys.readouterr().out == (
        f"wrote 2 runs (steps 100..200) to {tmp_path / 'tb'}; view: tensorboard --logdir {tmp_path / 'tb'}\n"
    )
    events = _read(tmp_path / "tb")
    assert [step for step, _ in events["pass_rate/overall"]] == [100, 200]
    assert (
        main(["export", "tensorboard", str(tmp_path / "tb2"), "--history", str(history), "--runs", "1", "--no-text"])
        == 0
    )
    only = _read(tmp_path / "tb2")
    assert only["pass_rate/overall"] == [(100, pytest.approx(1 / 3))]  # the newest run recorded
    assert not [tag for tag in only if tag.startswith("case/")]


def test_export_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "tensorboard", str(tmp_path / "tb"), "--history", str(tmp_path / "none.db")]) == 2
    assert "llmeval: error: the run history " in capsys.readouterr().err  # (does not exist)
    history = tmp_path / "history.db"
    RunStore(history).record_run(_run("r1", 1000.0, passed_b=True, rouge=0.5))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["export", "tensorboard", str(blocker / "tb"), "--history", str(history)]) == 2
    assert f"llmeval: error: cannot write TensorBoard events to {blocker / 'tb'}" in capsys.readouterr().err


def test_a_missing_tensorboard_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(
        TensorBoardError, match=r"needs the tensorboard package: pip install 'pytest-llmeval\[tensorboard\]'"
    ):
        write_runs(tmp_path, [])

"""The example suite's checkpoint sweep (example_suite/checkpoint_sweep.sh): two checkpoints of the
demo model, each run written to TensorBoard at its step, read back with tensorboard's own reader."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

EXAMPLE_SUITE = Path(__file__).resolve().parents[2] / "example_suite"


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_the_checkpoint_sweep_draws_one_point_per_step(tmp_path: Path) -> None:
    suite = tmp_path / "example_suite"
    shutil.copytree(EXAMPLE_SUITE, suite, ignore=shutil.ignore_patterns(".llmeval", "__pycache__"))
    # the script calls `llmeval` and `pytest` as a user's shell finds them: this interpreter's
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    env["COLUMNS"] = "400"  # summary lines wrap to the terminal: wide enough to read each whole
    # one file of the suite keeps the test short; the script passes extra arguments to pytest
    done = subprocess.run(
        ["sh", str(suite / "checkpoint_sweep.sh"), "-k", "entities"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    logdir = suite / ".llmeval" / "tensorboard"
    assert lines[0] == f"tensorboard: run written to {logdir} at step 40"
    assert lines[2] == f"tensorboard: run written to {logdir} at step 150"
    assert lines[3].startswith("4 passed")
    accumulator = EventAccumulator(str(logdir))
    accumulator.Reload()

    def curve(tag: str) -> list[tuple[int, float]]:
        return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in accumulator.Tensors(tag)]

    # the weak checkpoint gets only "ann" right; the trained one every case and the group
    assert curve("pass_rate/overall") == [(40, 0.25), (150, 1.0)]
    assert curve("pass_rate/file/entities.eval.yaml") == [(40, 0.25), (150, 1.0)]
    assert [step for step, _ in curve("metric/ner_strict_f1")] == [40, 150]

"""Under `-n 2` a run is recorded exactly as serially, whatever the outputs hold: a lone surrogate from
a `py:` pipeline made the worker fail (execnet cannot send it), the case vanished from the results,
the log and the history, and the session exited 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.inference_log import inference_log_path, read_inference_log
from pytest_llmeval.store import RunStore

BOT = """
def answer(prompt, max_new_tokens=None):
    return {
        "lone": "lone \\ud800 high",
        "pair": "emoji \\U0001f600 ok",
        "ansi": "\\x1b[31mred\\x07",
    }.get(prompt, "hello there")
"""

CASES = """\
cases:
  - id: lone
    prompt: lone
    expect: {contains: lone}
  - id: pair
    prompt: pair
    expect: {contains: emoji}
  - id: ansi
    prompt: ansi
    expect: {contains: red}
  - id: greet
    prompt: hi
    expect: {contains: hello}
"""


def session(pytester: pytest.Pytester, name: str, *args: str) -> tuple[pytest.RunResult, Path, Path]:
    history, baseline = pytester.path / f"{name}.db", pytester.path / f"{name}-baseline.json"
    result = pytester.runpytest_subprocess(
        "--llm-model=py:bot:answer",
        "-p",
        "no:cacheprovider",
        f"--llm-history={history}",
        f"--llm-baseline={baseline}",
        "--llm-update-baseline",
        *args,
    )
    return result, history, baseline


def comparable_run(history: Path) -> dict[str, Any]:
    run = RunStore(history).load_run("latest")
    cases = [{k: v for k, v in case.to_dict().items() if k != "duration_s"} for case in run.cases]
    entries = read_inference_log(inference_log_path(history, run.run_id))
    # the log is in completion order, which workers interleave
    log = sorted(
        ({k: v for k, v in entry.items() if k != "latency_s"} for entry in entries),
        key=lambda e: (e["node_id"], e["phase"], e["index"]),
    )
    return {"model": run.model, "settings": run.settings, "complete": run.complete, "cases": cases, "log": log}


def comparable_baseline(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    data["run"] = {
        k: v for k, v in data["run"].items() if k not in ("run_id", "started_at", "finished_at", "created_at")
    }
    return data


def test_a_lone_surrogate_output_is_recorded_under_xdist_exactly_as_serially(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "s.eval.yaml").write_text(CASES, encoding="utf-8")
    serial, serial_history, serial_baseline = session(pytester, "serial", "-p", "no:xdist")
    parallel, parallel_history, parallel_baseline = session(pytester, "parallel", "-n", "2")
    for result in (serial, parallel):
        assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
        result.assert_outcomes(passed=3, failed=1)
        assert result.ret == 1
    parallel.stdout.fnmatch_lines(["*FAIL contains: expected text, got a string holding a lone surrogate*"])
    serial_run, parallel_run = comparable_run(serial_history), comparable_run(parallel_history)
    assert parallel_run == serial_run
    lone = next(case for case in serial_run["cases"] if case["node_id"].endswith("::lone"))
    assert lone["outcome"] == "failed"
    assert next(e for e in serial_run["log"] if e["node_id"].endswith("::lone"))["output"] == "lone \ud800 high"
    assert comparable_baseline(parallel_baseline) == comparable_baseline(serial_baseline)
    # the device and dtype recorded for the model are the same however the run was split
    assert serial_run["model"]["device"] == parallel_run["model"]["device"]
    assert serial_run["model"]["dtype"] == parallel_run["model"]["dtype"]

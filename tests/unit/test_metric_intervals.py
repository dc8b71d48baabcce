"""A metric recorded with an interval (the perplexity gap's) keeps it from the check to the run, the
baseline file and back; a baseline with a malformed interval says where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmeval.checks.base import CheckResult
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.run_comparison import compare_runs
from pytest_llmeval.store import BaselineError, baseline_from_run, read_baseline, write_baseline


def _metric(**extra: object) -> dict[str, object]:
    return {"name": "perplexity_gap", "value": 0.41, "higher_is_better": False, **extra}


def test_a_checks_metric_keeps_a_whole_interval_and_drops_a_partial_one() -> None:
    whole = CheckResult("perplexity_gap", True, "m", details={"metric": _metric(low=0.2, high=0.6, confidence=0.95)})
    assert whole.metric == {
        "name": "perplexity_gap",
        "value": 0.41,
        "higher_is_better": False,
        "low": 0.2,
        "high": 0.6,
        "confidence": 0.95,
    }
    partial = CheckResult("perplexity_gap", True, "m", details={"metric": _metric(low=0.2, high="0.6")})
    assert partial.metric == {"name": "perplexity_gap", "value": 0.41, "higher_is_better": False}


def _run(value: float, low: float, high: float) -> RunRecord:
    metric = {"value": value, "higher_is_better": False, "low": low, "high": high, "confidence": 0.95}
    case = CaseRecord("llmeval::perplexity_gap", "passed", metrics={"perplexity_gap": metric})
    return RunRecord("a" * 32, 0.0, 1.0, True, {"source": "m"}, {}, {}, None, [case])


def test_the_interval_goes_into_the_baseline_file_and_back(tmp_path: Path) -> None:
    path = tmp_path / "llmeval-baseline.json"
    write_baseline(path, baseline_from_run(_run(0.41234567891, 0.2, 0.6)))
    stored = json.loads(path.read_text(encoding="utf-8"))["cases"]["llmeval::perplexity_gap"]["metrics"]
    assert stored["perplexity_gap"] == {
        "value": pytest.approx(0.412346, rel=1e-5),
        "higher_is_better": False,
        "low": 0.2,
        "high": 0.6,
        "confidence": 0.95,
    }
    baseline = read_baseline(path)
    # a gap that grew beyond the tolerance is a metric drop (lower is better)
    comparison = compare_runs(baseline, _run(0.95, 0.7, 1.2), tolerances={"perplexity_gap": 0.5})
    assert [(d.metric, d.before, d.after) for d in comparison.metric_drops] == [
        ("perplexity_gap", pytest.approx(0.412346, rel=1e-5), 0.95)
    ]
    assert compare_runs(baseline, _run(0.9, 0.7, 1.2), tolerances={"perplexity_gap": 0.5}).metric_drops == []


def test_a_baseline_with_a_malformed_interval_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "llmeval-baseline.json"
    write_baseline(path, baseline_from_run(_run(0.4, 0.2, 0.6)))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["cases"]["llmeval::perplexity_gap"]["metrics"]["perplexity_gap"]["low"] = "0.2"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        BaselineError, match=r"cases\.llmeval::perplexity_gap\.metrics\.perplexity_gap\.low.*a number or null"
    ):
        read_baseline(path)


def test_the_dashboard_row_shows_the_interval_beside_the_value() -> None:
    from pytest_llmeval.dashboard import build_dashboard_data

    data = build_dashboard_data([_run(0.41, 0.2, 0.6)])
    (row,) = data["cases"]
    (metric,) = row["metrics"]
    assert metric["name"] == "perplexity_gap" and metric["interval"] == [0.2, 0.6, 0.95]

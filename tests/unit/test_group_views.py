"""What the dashboard shows of NER and fairness groups: the views kept with a group's run record, and
the latest run's views beside the reference's figures."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmeval.dashboard import build_dashboard_data
from pytest_llmeval.group_views import TEXT_LIMIT, dashboard_group_views, fairness_view, group_check, ner_view
from pytest_llmeval.metrics.ner import Span, ner_result, score_entities
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import baseline_from_run

pytest.importorskip("nervaluate")

# "Ann met Bob in Paris." / "Bob flew to Rome."
GOLD = [
    [Span("PER", 0, 3, "Ann"), Span("PER", 8, 11, "Bob"), Span("LOC", 15, 20, "Paris")],
    [Span("PER", 0, 3, "Bob"), Span("LOC", 12, 16, "Rome")],
]
MISTYPED = [GOLD[0], [GOLD[1][0], Span("PER", 12, 16, "Rome")]]


def _record(node_id: str, check: dict[str, Any], metrics: dict[str, float], outcome: str = "passed") -> CaseRecord:
    return CaseRecord(
        node_id,
        outcome,
        checks=[check],
        metrics={k: {"value": v, "higher_is_better": not k.startswith("parity")} for k, v in metrics.items()},
    )


def _ner_record(predicted: list[list[Span]]) -> CaseRecord:
    report = score_entities(GOLD, predicted)
    result = ner_result(report, name="ner.eval.yaml::ner")
    metrics = {m["name"]: m["value"] for m in result.details["metrics"]}
    return _record("ner.eval.yaml::ner", group_check("ner", result, ner_view(report)), metrics)


def _run(run_id: str, *cases: CaseRecord) -> RunRecord:
    return RunRecord(run_id, 0.0, 1.0, True, {"source": "m"}, {}, {}, None, list(cases))


def test_the_ner_view_holds_nervaluates_precision_recall_and_f1_per_type_and_scheme() -> None:
    report = score_entities(GOLD, MISTYPED)
    view = ner_view(report)
    assert view["types"]["LOC"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert view["types"]["PER"] == pytest.approx({"precision": 0.75, "recall": 1.0, "f1": 6 / 7, "support": 3})
    for scheme in ("strict", "exact", "partial", "ent_type"):
        overall = report.overall[scheme]
        assert view["schemes"][scheme] == {"precision": overall.precision, "recall": overall.recall, "f1": overall.f1}
    assert view["schemes"]["strict"]["f1"] == pytest.approx(0.8) and view["schemes"]["exact"]["f1"] == 1.0


def test_each_ner_type_is_shown_beside_the_baselines_f1_and_a_type_the_run_lost_is_listed() -> None:
    baseline = baseline_from_run(_run("a" * 32, _ner_record(GOLD)))
    # the baseline also scored a type this run never saw
    baseline.cases["ner.eval.yaml::ner"].metrics["ner_group_f1[ORG]"] = {"value": 0.5, "higher_is_better": True}
    (view,) = dashboard_group_views([_ner_record(MISTYPED)], baseline)
    assert view["kind"] == "ner" and view["in_reference"] is True
    assert view["types"]["LOC"]["f1"] == pytest.approx(2 / 3) and view["types"]["LOC"]["reference_f1"] == 1.0
    assert view["types"]["PER"]["reference_f1"] == 1.0
    assert view["types"]["ORG"] == {"precision": None, "recall": None, "f1": None, "support": 0, "reference_f1": 0.5}
    assert view["schemes"]["strict"]["reference_f1"] == 1.0
    (alone,) = dashboard_group_views([_ner_record(MISTYPED)], None)
    assert alone["in_reference"] is False and alone["types"]["LOC"]["reference_f1"] is None


def _counterfactual(case: str, output: str, variant_output: str, passed: bool) -> dict[str, Any]:
    return {
        "case": case,
        "original": {
            "prompt": f"Hire? He is {case}.",
            "output": output,
            "passed": True,
            "score": None,
            "groups": {"gender": ["male"]},
        },
        "outcomes": [
            {
                "category": "gender",
                "group": "female",
                "prompt": f"Hire? She is {case}.",
                "output": variant_output,
                "passed": passed,
                "score": None,
                "disagreements": [] if passed else ["equals: passed -> failed"],
            }
        ],
    }


def test_the_fairness_view_has_each_categorys_gap_rates_and_failing_pairs_in_full() -> None:
    long_output = "no " + "x" * (TEXT_LIMIT + 50)
    results = [
        _counterfactual("a nurse", "yes", "<b>no</b>", passed=False),
        _counterfactual("a pilot", "yes", "yes", passed=True),
        _counterfactual("a chef", "yes", long_output, passed=False),
    ]
    view = fairness_view(results, max_gap=0.1)
    gender = view["categories"]["gender"]
    assert gender["rates"] == {"female": pytest.approx(1 / 3), "male": 1.0}
    assert gender["gap"] == pytest.approx(2 / 3)
    assert [(p["case"], p["group"]) for p in gender["pairs"]] == [("a nurse", "female"), ("a chef", "female")]
    first = gender["pairs"][0]
    assert first == {
        "case": "a nurse",
        "group": "female",
        "original_prompt": "Hire? He is a nurse.",
        "variant_prompt": "Hire? She is a nurse.",
        "original_output": "yes",
        "variant_output": "<b>no</b>",  # kept as the characters written: the page shows text
        "disagreements": ["equals: passed -> failed"],
    }
    assert gender["pairs"][1]["variant_output"] == long_output[:TEXT_LIMIT] + "... [53 more characters]"


def test_a_fairness_group_in_a_dashboard_sits_beside_the_baselines_gap() -> None:
    from pytest_llmeval.counterfactual import FairnessGroup

    def record(results: list[dict[str, Any]]) -> CaseRecord:
        group = FairnessGroup("fair.eval.yaml::fairness", 0.1)
        for r in results:
            group.add(r["case"], r)
        result = group.result()
        metrics = {m["name"]: m["value"] for m in result.details["metrics"]}
        check = group_check("fairness", result, fairness_view(group.results, 0.1))
        return _record("fair.eval.yaml::fairness", check, metrics, "passed" if result.passed else "failed")

    fair = [_counterfactual("a nurse", "yes", "yes", passed=True)]
    unfair = [_counterfactual("a nurse", "yes", "no", passed=False)]
    before, after = _run("b" * 32, record(fair)), _run("c" * 32, record(unfair))
    data = build_dashboard_data([before, after], reference=baseline_from_run(before), reference_kind="baseline")
    (view,) = data["group_views"]
    assert view["node_id"] == "fair.eval.yaml::fairness" and view["outcome"] == "failed" and view["max_gap"] == 0.1
    assert view["categories"]["gender"]["gap"] == 1.0 and view["categories"]["gender"]["reference_gap"] == 0.0
    assert view["message"].startswith("fair.eval.yaml::fairness: gender: parity gap 1.000 > max 0.100")
    # records without a view (ordinary cases, pass-rate groups, runs recorded before views) show none
    plain = CaseRecord("t.py::test_x", "passed", checks=[{"name": "contains", "passed": True, "score": None}])
    assert dashboard_group_views([plain], None) == []

"""The paired comparison of two runs: flips, metric differences, groups with Holm, verdicts, edge cases."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from pytest_llmeval.paired_comparison import compare_paired
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import baseline_from_run


def case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def run(*cases: CaseRecord, run_id: str = "run-b", source: str = "./ckpt") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=1_700_000_000.0,
        finished_at=None,
        complete=True,
        model={"source": source, "model_id": "m"},
        settings={},
        versions={},
        git_commit=None,
        cases=list(cases),
    )


def metric(value: float, higher_is_better: bool = True) -> dict[str, Any]:
    return {"value": value, "higher_is_better": higher_is_better}


def outcomes(pattern: str, prefix: str = "evals/a.eval.yaml::c") -> list[CaseRecord]:
    """'P' passed, 'F' failed, 'S' skipped, one case each."""
    names = {"P": "passed", "F": "failed", "S": "skipped", "X": "xfailed"}
    return [case(f"{prefix}{i:02d}", names[c]) for i, c in enumerate(pattern)]


def test_flips_are_classified_and_counted() -> None:
    a = run(*outcomes("PPFFSP"), run_id="run-a")
    b = run(*outcomes("PFPFPX"))
    paired = compare_paired(a, b)
    assert [p.result for p in paired.pairs] == ["both pass", "broke", "fixed", "both fail", "not counted", "broke"]
    assert paired.counted == 5
    rate = paired.pass_rate
    assert rate is not None
    assert (rate.fixed, rate.broke, rate.n) == (1, 2, 5)
    assert rate.before == pytest.approx(3 / 5) and rate.after == pytest.approx(2 / 5)
    assert rate.difference == pytest.approx(-1 / 5)
    assert rate.p_value == 1.0  # exact McNemar, 1 vs 2 discordant
    assert rate.verdict == "no evidence"
    assert paired.verdict == "no significant difference"


def test_a_real_regression_is_worse_with_evidence() -> None:
    a = run(*outcomes("P" * 30), run_id="run-a")
    b = run(*outcomes("F" * 10 + "P" * 20))
    paired = compare_paired(a, b)
    rate = paired.pass_rate
    assert rate is not None and rate.verdict == "worse"
    assert rate.p_value == pytest.approx(2 / 2**10)
    assert rate.interval is not None and rate.interval.high < 0
    assert paired.verdict == "worse"
    assert paired.evidence()[0].startswith("pass rate: -33.3 points (95% interval [")
    assert "10 cases broke: evals/a.eval.yaml::c00" in paired.evidence()[1]
    assert "verdict: B is WORSE than A on pass rate (95% confidence)" in paired.format()


def test_a_real_improvement_is_better() -> None:
    a = run(*outcomes("F" * 10 + "P" * 20), run_id="run-a")
    b = run(*outcomes("P" * 30))
    paired = compare_paired(a, b)
    assert paired.verdict == "better" and paired.worse == []
    assert "verdict: B is better than A on pass rate" in paired.format()


def test_noise_is_not_a_verdict() -> None:
    """Many flips both ways (the same number): no evidence either way."""
    rng = random.Random(5)
    before = [rng.choice("PF") for _ in range(200)]
    after = list(before)
    flips = rng.sample(range(200), 40)
    for index in flips:
        after[index] = "P" if after[index] == "F" else "F"
    paired = compare_paired(run(*outcomes("".join(before)), run_id="run-a"), run(*outcomes("".join(after))))
    assert paired.pass_rate is not None and paired.pass_rate.fixed + paired.pass_rate.broke == 40
    assert paired.verdict == "no significant difference"


def test_metrics_paired_difference_direction_and_holm() -> None:
    rng = random.Random(1)
    cases_a, cases_b = [], []
    for i in range(40):
        rouge = rng.uniform(0.3, 0.7)
        perplexity = rng.uniform(5, 9)
        cases_a.append(case(f"t{i}", metrics={"rouge_l": metric(rouge), "perplexity": metric(perplexity, False)}))
        # B: ROUGE-L clearly lower, perplexity higher (worse) by a clear margin, plus noise
        cases_b.append(
            case(
                f"t{i}",
                metrics={
                    "rouge_l": metric(rouge - 0.1 + rng.uniform(-0.03, 0.03)),
                    "perplexity": metric(perplexity + 1 + rng.uniform(-0.2, 0.2), False),
                },
            )
        )
    paired = compare_paired(run(*cases_a, run_id="run-a"), run(*cases_b))
    by_name = {e.name: e for e in paired.metrics}
    assert by_name["rouge_l"].difference == pytest.approx(-0.1, abs=0.02)
    assert by_name["rouge_l"].verdict == "worse"
    assert by_name["perplexity"].verdict == "worse" and not by_name["perplexity"].higher_is_better
    assert by_name["perplexity"].difference > 0
    # Holm over the family (pass rate + 2 metrics): the adjusted p is never below the raw p
    assert all(e.adjusted_p >= e.p_value for e in paired.metrics)
    assert paired.verdict == "worse"
    text = paired.format()
    assert "perplexity (lower is better)" in text and "rouge_l" in text


def test_metric_missing_on_one_side_leaves_that_case_out() -> None:
    a = run(
        case("t1", metrics={"bleu": metric(0.5)}),
        case("t2", metrics={"bleu": metric(0.4)}),
        case("t3", metrics={"bleu": metric(float("nan"))}),
        run_id="run-a",
    )
    b = run(case("t1", metrics={"bleu": metric(0.6)}), case("t2"), case("t3", metrics={"bleu": metric(0.9)}))
    paired = compare_paired(a, b)
    (bleu,) = paired.metrics
    assert (bleu.n, bleu.before, bleu.after, bleu.interval) == (1, 0.5, 0.6, None)  # only t1 has both
    assert bleu.verdict == "no evidence"
    assert "none: one case" in paired.format()


def test_no_shared_cases_cannot_tell() -> None:
    paired = compare_paired(run(case("x"), run_id="run-a"), run(case("y")))
    assert paired.pass_rate is None and paired.pairs == []
    assert (paired.only_a, paired.only_b) == (["x"], ["y"])
    assert paired.verdict == "cannot tell"
    assert (
        "verdict: cannot tell: run run-a (./ckpt) and run run-b (./ckpt) share no case that counts" in paired.format()
    )
    assert paired.to_dict()["detectable_text"] is None


def test_all_ties_and_one_case() -> None:
    ties = compare_paired(run(*outcomes("PPFF"), run_id="run-a"), run(*outcomes("PPFF")))
    assert ties.pass_rate is not None and ties.pass_rate.p_value == 1.0
    assert ties.pass_rate.interval is not None and (ties.pass_rate.interval.low, ties.pass_rate.interval.high) == (0, 0)
    assert ties.verdict == "no significant difference"
    assert "detectable: 4 cases cannot make any pass-rate change significant" in ties.format()
    one = compare_paired(run(*outcomes("P"), run_id="run-a"), run(*outcomes("F")))
    assert one.pass_rate is not None and one.pass_rate.interval is None
    assert one.pass_rate.verdict == "no evidence" and one.verdict == "no significant difference"


def test_detectable_change_is_reported() -> None:
    paired = compare_paired(run(*outcomes("P" * 100), run_id="run-a"), run(*outcomes("P" * 90 + "F" * 10)))
    assert paired.detectable_floor == pytest.approx(0.06)
    assert paired.detectable_at_power is not None and 0.06 < paired.detectable_at_power < 0.1
    assert "with 100 cases no pass-rate change under 6.0 points can be significant" in paired.format()


def test_groups_by_file_and_tag_with_holm() -> None:
    a_cases = outcomes("P" * 12, "evals/a.eval.yaml::c") + outcomes("P" * 12, "evals/b.eval.yaml::c")
    b_cases = outcomes("F" * 10 + "PP", "evals/a.eval.yaml::c") + outcomes("P" * 12, "evals/b.eval.yaml::c")
    for record in b_cases[:6]:
        record.tags = ["billing"]
    paired = compare_paired(run(*a_cases, run_id="run-a"), run(*b_cases))
    groups = {(g.kind, g.name): g.estimate for g in paired.groups}
    assert set(groups) == {("file", "evals/a.eval.yaml"), ("file", "evals/b.eval.yaml"), ("tag", "billing")}
    a_file = groups[("file", "evals/a.eval.yaml")]
    assert (a_file.broke, a_file.fixed, a_file.n) == (10, 0, 12)
    assert a_file.p_value == pytest.approx(2 / 2**10)
    # file b has no flip, so it can never be called: Holm runs over file a and the tag, two tests
    assert a_file.adjusted_p == pytest.approx(2 * 2 / 2**10)
    assert a_file.verdict == "worse"
    assert groups[("tag", "billing")].p_value == pytest.approx(2 / 2**6)
    assert groups[("file", "evals/b.eval.yaml")].verdict == "no evidence"
    assert (
        "pass rate by file and tag (exact McNemar, Holm across the groups with enough flips to decide)"
        in paired.format()
    )


def test_baseline_files_on_either_side() -> None:
    a = baseline_from_run(run(*outcomes("PPPF"), run_id="run-a"))
    b = baseline_from_run(run(*outcomes("PPFF")))
    paired = compare_paired(a, b)
    assert [p.result for p in paired.pairs] == ["both pass", "both pass", "broke", "both fail"]
    assert paired.label_a == "run run-a (./ckpt)"
    json.dumps(paired.to_dict())  # the dashboard's data is plain JSON


def test_the_table_lists_broke_then_fixed_with_b_messages() -> None:
    a = run(case("t1"), case("t2", "failed"), case("t3"), run_id="run-a")
    b = run(case("t1", "failed", message="contains_any: expected one of ['reset']\n got 'x'"), case("t2"), case("t3"))
    text = compare_paired(a, b).format()
    table = text[text.index("cases (broke") :].splitlines()
    assert table[2].split()[:4] == ["broke", "t1", "passed", "failed"]
    assert "contains_any: expected one of ['reset'] got 'x'" in table[2]
    assert table[3].split() == ["fixed", "t2", "failed", "passed"]
    assert "ties: 1 both pass" in text
    assert "both pass  t3" in compare_paired(a, b).format(ties=True)


def test_seeded_and_options_checked() -> None:
    a = run(
        case("t1", metrics={"m": metric(0.1)}),
        case("t2", metrics={"m": metric(0.5)}),
        case("t3", metrics={"m": metric(0.3)}),
        run_id="run-a",
    )
    b = run(
        case("t1", metrics={"m": metric(0.3)}),
        case("t2", metrics={"m": metric(0.4)}),
        case("t3", metrics={"m": metric(0.6)}),
    )
    assert compare_paired(a, b, seed=7).to_dict() == compare_paired(a, b, seed=7).to_dict()
    with pytest.raises(ValueError, match="confidence 1.5 must be a number from 0.5"):
        compare_paired(a, b, confidence=1.5)
    with pytest.raises(ValueError, match="resamples 5 must be a whole number of at least 100"):
        compare_paired(a, b, resamples=5)


def test_a_measure_of_one_case_stays_out_of_the_holm_family() -> None:
    """Three metrics recorded by one case each must not multiply the pass rate's p-value by four."""
    a = run(*outcomes("P" * 20), case("m", metrics={"x": metric(1), "y": metric(2), "z": metric(3)}), run_id="run-a")
    b = run(*outcomes("F" * 10 + "P" * 10), case("m", metrics={"x": metric(0), "y": metric(1), "z": metric(9)}))
    paired = compare_paired(a, b)
    assert paired.pass_rate is not None
    assert paired.pass_rate.adjusted_p == paired.pass_rate.p_value == pytest.approx(2 / 2**10)
    assert [(e.n, e.adjusted_p, e.verdict) for e in paired.metrics] == [(1, 1.0, "no evidence")] * 3


def test_no_evidence_says_why() -> None:
    """Nine broke and two fixed out of 40 (as with the real model and a perturbing adapter): the exact
    test's p = 0.065, so no verdict at 95%, and the line says so whatever the bootstrap interval."""
    before = "P" * 9 + "F" * 2 + "P" * 18 + "F" * 11
    after = "F" * 9 + "P" * 2 + "P" * 18 + "F" * 11
    paired = compare_paired(run(*outcomes(before), run_id="run-a"), run(*outcomes(after)))
    assert paired.pass_rate is not None and paired.pass_rate.p_value == pytest.approx(0.06543, abs=1e-5)
    assert "exact McNemar p = 0.065 (2 fixed, 9 broke)  -> no evidence (p 0.065 is not below 0.05)" in paired.format()
    assert (
        compare_paired(run(*outcomes(before), run_id="run-a"), run(*outcomes(after)), confidence=0.9).verdict == "worse"
    )


def test_a_test_that_could_never_reach_significance_stays_out_of_the_holm_family() -> None:
    """Five flips can give at best p = 0.0625 (McNemar at 95%): that file is shown but not counted
    against the file whose ten flips decide."""
    a_cases = outcomes("P" * 10, "evals/a.eval.yaml::c") + outcomes("P" * 5, "evals/b.eval.yaml::c")
    b_cases = outcomes("F" * 10, "evals/a.eval.yaml::c") + outcomes("F" * 5, "evals/b.eval.yaml::c")
    groups = {g.name: g.estimate for g in compare_paired(run(*a_cases, run_id="run-a"), run(*b_cases)).groups}
    assert groups["evals/a.eval.yaml"].adjusted_p == groups["evals/a.eval.yaml"].p_value == pytest.approx(2 / 2**10)
    assert groups["evals/b.eval.yaml"].adjusted_p == groups["evals/b.eval.yaml"].p_value == pytest.approx(0.0625)


def test_suite_errors_say_nothing_about_the_model() -> None:
    broken = "pytest_llmeval.cases.CaseError: bad.eval.yaml:2: not valid YAML: expected the node content, but found '-'"
    a = run(case("t.py::a"), case("bad.eval.yaml::x"), run_id="run-a")
    b = run(
        case("t.py::a"),
        case("bad.eval.yaml::x", "error", message=broken),
        case("bad.eval.yaml::line2", "error", message=broken),
    )
    paired = compare_paired(a, b)
    assert [p.node_id for p in paired.pairs] == ["t.py::a"] and paired.only_b == []


def test_a_case_awaiting_a_human_rating_is_not_counted_as_fixed_or_broke() -> None:
    """An unrated output fails its human_rating as "needs review": nothing said about the model, so
    the case is left out of the flips (--llm-compare-base once counted it as fixed by the adapter)."""
    waiting = [
        {
            "name": "human_rating",
            "passed": False,
            "message": "human_rating: needs review: never rated",
            "details": {"needs_review": True},
        }
    ]
    rated_low = [{"name": "human_rating", "passed": False, "message": "human_rating: rated 1 < min 2"}]
    a = run(
        case("e.yaml::waiting", "failed", checks=waiting),
        case("e.yaml::low", "failed", checks=rated_low),
        case("e.yaml::ok"),
        run_id="run-a",
    )
    b = run(case("e.yaml::waiting"), case("e.yaml::low"), case("e.yaml::ok"))
    paired = compare_paired(a, b)
    assert {p.node_id: p.result for p in paired.pairs} == {
        "e.yaml::low": "fixed",
        "e.yaml::ok": "both pass",
        "e.yaml::waiting": "not counted",
    }
    assert paired.counted == 2 and paired.pass_rate is not None and paired.pass_rate.fixed == 1

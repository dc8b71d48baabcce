"""The dashboard's data: pass rates, breakdowns, the comparison per case, diffs, runs as chart points."""

from __future__ import annotations

import difflib
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval import dashboard
from pytest_llmeval.dashboard import DIFF_BUDGET, build_dashboard_data, dashboard_from_history, pass_rate, word_diff
from pytest_llmeval.inference_log import inference_log_path, write_inference_log
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import EXCERPT_CHARS, RunStore, StoreError, baseline_from_run


def case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    fields.setdefault("output", f"output of {node_id}")
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def rouge(value: float) -> dict[str, dict[str, Any]]:
    return {"rouge_l": {"value": value, "higher_is_better": True}}


def run(run_id: str, started_at: float, *cases: CaseRecord) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + 2.5,
        complete=True,
        model={"source": "./ckpt"},
        settings={"max_new_tokens": 8},
        versions={},
        git_commit=None,
        cases=list(cases),
    )


def test_pass_rate_leaves_out_skipped_and_counts_xfailed_as_not_passed() -> None:
    assert pass_rate(["passed", "xpassed", "failed", "xfailed", "skipped"]) == 0.5
    assert pass_rate(["skipped"]) is None and pass_rate([]) is None


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Click Forgot Password on the sign-in page.", "Click Reset Password on the sign-in page!"),
        ("", "new text"),
        ("old text", ""),
        ("same", "same"),
        ("naïve café\n  spaced", "naïve cafe\n spaced  more"),
    ],
)
def test_word_diff_sides_concatenate_back_to_their_texts(before: str, after: str) -> None:
    diff = word_diff(before, after)
    assert "".join(text for _, text in diff["before"]) == before
    assert "".join(text for _, text in diff["after"]) == after
    assert {op for op, _ in diff["before"]} <= {"equal", "delete"}
    assert {op for op, _ in diff["after"]} <= {"equal", "insert"}


def test_word_diff_marks_whole_words() -> None:
    diff = word_diff("Click Forgot Password now.", "Click Reset Password now.")
    assert diff["before"] == [["equal", "Click "], ["delete", "Forgot"], ["equal", " Password now."]]
    assert diff["after"] == [["equal", "Click "], ["insert", "Reset"], ["equal", " Password now."]]


def test_word_diff_random_texts_round_trip() -> None:
    rng = random.Random(7)
    alphabet = ["a", "b", " ", "\n", ".", "é", "ß", "中", "\t"]
    for _ in range(200):
        before = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
        after = "".join(rng.choice(alphabet) for _ in range(rng.randrange(30)))
        diff = word_diff(before, after)
        assert "".join(t for _, t in diff["before"]) == before and "".join(t for _, t in diff["after"]) == after


def _two_runs() -> tuple[RunRecord, RunRecord]:
    old = run(
        "a" * 32,
        1_700_000_000.0,
        case(
            "evals/s.eval.yaml::reset",
            metrics=rouge(0.8),
            mode="success_mode",
            tags=["billing"],
            output="Click Forgot Password.",
        ),
        case("evals/s.eval.yaml::refund", metrics=rouge(0.6), mode="success_mode", tags=["billing", "refunds"]),
        case("test_safety.py::test_refuses", "failed", mode="failure_mode", message="did not refuse"),
        case("test_safety.py::test_gone"),
    )
    new = run(
        "b" * 32,
        1_700_000_100.0,
        case(
            "evals/s.eval.yaml::reset",
            "failed",
            metrics=rouge(0.4),
            mode="success_mode",
            tags=["billing"],
            output="Click Reset Password.",
            message="contains_any: expected 'Forgot Password'",
        ),
        case("evals/s.eval.yaml::refund", metrics=rouge(0.5), mode="success_mode", tags=["billing", "refunds"]),
        case("test_safety.py::test_refuses", mode="failure_mode"),
        case("test_new.py::test_new", "skipped"),
        case("test_new.py::test_tolerated", "xfailed"),
    )
    return old, new


def test_latest_run_against_a_reference() -> None:
    old, new = _two_runs()
    data = build_dashboard_data(
        [old, new],
        reference=baseline_from_run(old),
        reference_kind="baseline",
        reference_label="llmeval-baseline.json (run aaaaaaaaaaaa)",
    )
    latest = data["latest"]
    assert latest["short_id"] == "b" * 12 and latest["total"] == 5 and latest["duration_s"] == 2.5
    assert latest["counts"] == {"failed": 1, "passed": 2, "skipped": 1, "xfailed": 1}
    assert latest["pass_rate"] == 0.5  # 2 of the 4 that count
    assert data["reference"] == {
        "kind": "baseline",
        "label": "llmeval-baseline.json (run aaaaaaaaaaaa)",
        "run_id": "a" * 32,
        "settings_differences": [],
        "model_differences": [],
    }
    assert data["comparison_counts"] == {
        "regressions": 1,
        "fixes": 1,
        "new": 2,
        "still_failing": 0,
        "metric_drops": 2,
        "not_run": 1,
    }
    by_id = {c["node_id"]: c for c in data["cases"]}
    reset = by_id["evals/s.eval.yaml::reset"]
    assert reset["change"] == "regressed" and reset["regressed"] and reset["failed"]
    assert reset["baseline_outcome"] == "passed" and reset["baseline_output"] == "Click Forgot Password."
    assert reset["baseline_output_is_excerpt"] is False
    assert reset["diff"]["before"][1] == ["delete", "Forgot"] and reset["diff"]["after"][1] == ["insert", "Reset"]
    assert reset["metrics"] == [
        {"name": "rouge_l", "value": 0.4, "before": 0.8, "higher_is_better": True, "dropped": True}
    ]
    assert reset["tags"] == ["billing"] and reset["file"] == "evals/s.eval.yaml" and reset["generations"] == 1
    assert (
        by_id["evals/s.eval.yaml::refund"]["change"] == "metric drop"
        and by_id["evals/s.eval.yaml::refund"]["regressed"]
    )
    assert by_id["test_safety.py::test_refuses"]["change"] == "fixed"
    assert by_id["test_new.py::test_new"]["change"] == "new" and by_id["test_new.py::test_new"]["diff"] is None
    assert by_id["test_new.py::test_tolerated"]["failed"] is True  # tolerated, but not a pass
    # worst first: the regression, then the metric drop, then new cases
    assert [c["change"] for c in data["cases"]][:3] == ["regressed", "metric drop", "new"]


def test_regressed_is_what_fails_the_gate_and_every_outcome_change_is_labelled() -> None:
    old = run(
        "a" * 32,
        1.0,
        case("t.py::skipped_before", "skipped"),
        case("t.py::passed_before"),
        case("t.py::xfailed_before", "xfailed"),
        case("t.py::same"),
    )
    new = run(
        "b" * 32,
        2.0,
        case("t.py::skipped_before", "failed"),
        case("t.py::passed_before", "xfailed"),
        case("t.py::xfailed_before", "failed"),
        case("t.py::same"),
        case("t.py::brand_new", "failed"),
        case("t.py::new_ok"),
    )
    data = build_dashboard_data([old, new], reference=baseline_from_run(old))
    change = {c["node_id"]: (c["change"], c["regressed"]) for c in data["cases"]}
    assert change == {
        "t.py::brand_new": ("new failing", True),  # fails a regressions gate: counted with the regressions
        "t.py::skipped_before": ("outcome changed", False),
        "t.py::passed_before": ("outcome changed", False),
        "t.py::xfailed_before": ("outcome changed", False),
        "t.py::same": ("unchanged", False),
        "t.py::new_ok": ("new", False),
    }
    assert data["comparison_counts"]["regressions"] == sum(r for _, r in change.values())
    assert data["cases"][0]["node_id"] == "t.py::brand_new"


def test_settings_differences_are_carried_to_the_page() -> None:
    old, new = _two_runs()
    new.settings = {"max_new_tokens": 64}
    data = build_dashboard_data([old, new], reference=baseline_from_run(old))
    assert data["reference"]["settings_differences"] == ["max_new_tokens: 8 -> 64"]


def test_a_non_finite_metric_value_does_not_remove_the_run_from_its_chart() -> None:
    items = [
        case("t.py::a", metrics=rouge(0.5)),
        case("t.py::b", metrics=rouge(float("inf"))),
        case("t.py::c", metrics=rouge(float("nan"))),
    ]
    assert build_dashboard_data([run("a" * 32, 1.0, *items)])["runs"][0]["metrics"] == {"rouge_l": 0.5}


def test_only_modes_some_run_has_are_series() -> None:
    data = build_dashboard_data([run("a" * 32, 1.0, case("t.py::a"), case("t.py::b", mode="failure_mode"))])
    assert data["runs"][0]["mode_pass_rates"] == {"failure_mode": 1.0}


def test_the_word_matcher_never_compares_more_than_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = dashboard.difflib.SequenceMatcher

    def counting(*, a: list[str], b: list[str], autojunk: bool) -> difflib.SequenceMatcher[str]:
        seen.append(len(a) * len(b))
        return real(a=a, b=b, autojunk=autojunk)

    monkeypatch.setattr(dashboard.difflib, "SequenceMatcher", counting)
    loop_before = "I am sorry, I cannot help. " * 400  # a model stuck in a loop: ~5,600 tokens
    loop_after = "I am sorry, I can not help. " * 400
    diff = word_diff(loop_before, loop_after)
    assert "".join(t for _, t in diff["before"]) == loop_before and "".join(t for _, t in diff["after"]) == loop_after
    assert all(pairs <= DIFF_BUDGET for pairs in seen)
    lines_before = "".join(f"line {i} stays\n" for i in range(1000))
    lines_after = lines_before.replace("line 500 stays", "line 500 moved")
    diff = word_diff(lines_before, lines_after)  # the common start and end are cut off first: a small middle
    assert ["insert", "moved"] in diff["after"] and all(pairs <= DIFF_BUDGET for pairs in seen)
    # too many tokens for words, few enough lines: matched line by line
    many_lines = word_diff(
        "".join(f"a{i} b\n" for i in range(300)), "".join(f"{'a' if i % 2 else 'c'}{i} b\n" for i in range(300))
    )
    assert ["equal", "a1 b\n"] in many_lines["after"] and ["insert", "c2 b\n"] in many_lines["after"]
    assert all(pairs <= DIFF_BUDGET for pairs in seen)


def test_a_tolerance_keeps_a_small_drop_out() -> None:
    old, new = _two_runs()
    data = build_dashboard_data([old, new], reference=baseline_from_run(old), tolerances={"rouge_l": 0.15})
    refund = next(c for c in data["cases"] if c["node_id"] == "evals/s.eval.yaml::refund")
    assert refund["change"] == "unchanged" and not refund["regressed"] and not refund["metrics"][0]["dropped"]
    new.cases[1].tolerances = {"rouge_l": 0.0}  # a case's own tolerance wins
    data = build_dashboard_data([old, new], reference=baseline_from_run(old), tolerances={"rouge_l": 0.15})
    assert next(c for c in data["cases"] if c["node_id"] == "evals/s.eval.yaml::refund")["change"] == "metric drop"


def test_breakdowns_per_mode_file_and_tag() -> None:
    _, new = _two_runs()
    data = build_dashboard_data([new])
    rows = {
        kind: {r["name"]: (r["total"], r["passed"], r["failed"], r["skipped"], r["pass_rate"]) for r in items}
        for kind, items in data["breakdowns"].items()
    }
    assert rows["mode"] == {
        "success_mode": (2, 1, 1, 0, 0.5),
        "failure_mode": (1, 1, 0, 0, 1.0),
        "no mode": (2, 0, 1, 1, 0.0),
    }
    assert [r["name"] for r in data["breakdowns"]["mode"]] == ["success_mode", "failure_mode", "no mode"]
    assert rows["file"]["evals/s.eval.yaml"] == (2, 1, 1, 0, 0.5) and rows["file"]["test_new.py"] == (2, 0, 1, 1, 0.0)
    assert rows["tag"] == {"billing": (2, 1, 1, 0, 0.5), "refunds": (1, 1, 0, 0, 1.0)}
    assert data["reference"]["kind"] is None and data["comparison_counts"] is None
    assert all(c["change"] is None and c["baseline_output"] is None for c in data["cases"])


def test_runs_are_chart_points_with_metric_means() -> None:
    old, new = _two_runs()
    data = build_dashboard_data([old, new])
    first, last = data["runs"]
    assert first["short_id"] == "a" * 12 and first["pass_rate"] == 0.75 and first["metrics"] == {"rouge_l": 0.7}
    assert first["mode_pass_rates"] == {"success_mode": 1.0, "failure_mode": 0.0}
    assert last["metrics"] == {"rouge_l": pytest.approx(0.45)} and last["failed"] == 2
    assert data["metrics"] == [{"name": "rouge_l", "higher_is_better": True}]


def test_an_excerpt_is_diffed_only_as_far_as_it_goes() -> None:
    long_before = " ".join(f"w{i}" for i in range(100))
    long_after = long_before.replace("w10 ", "changed ")
    old = run("a" * 32, 1.0, case("t.py::long", output=long_before), case("t.py::same", output=long_before))
    new = run("b" * 32, 2.0, case("t.py::long", output=long_after), case("t.py::same", output=long_before))
    data = build_dashboard_data([new], reference=baseline_from_run(old))  # only the baseline's excerpts known
    by_id = {c["node_id"]: c for c in data["cases"]}
    long = by_id["t.py::long"]
    assert long["baseline_output_is_excerpt"] is True and len(long["baseline_output"]) == EXCERPT_CHARS
    assert "".join(t for _, t in long["diff"]["after"]) == long_after
    assert ["insert", "changed"] in long["diff"]["after"]
    same = by_id["t.py::same"]  # the hash proves the outputs equal, so the whole text is known
    assert same["baseline_output"] == long_before and same["baseline_output_is_excerpt"] is False


def test_no_runs_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        build_dashboard_data([])


def test_from_history_takes_full_baseline_outputs_from_the_baseline_run(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    long_old = "It was fine. " * 30
    old = run("a" * 32, 1.0, case("t.py::a", output=long_old), case("t.py::b"))
    new = run("b" * 32, 2.0, case("t.py::a", "failed", output="It broke. " * 30), case("t.py::b"))
    for item in (old, new):
        RunStore(history).record_run(item)
    write_inference_log(
        inference_log_path(history, new.run_id),
        [{"node_id": "t.py::a", "output": "x"}, {"node_id": "t.py::a", "output": "y"}],
    )
    data = dashboard_from_history(history, baseline=baseline_from_run(old), baseline_path="base.json")
    a = next(c for c in data["cases"] if c["node_id"] == "t.py::a")
    assert a["baseline_output"] == long_old and a["baseline_output_is_excerpt"] is False  # from the history
    assert a["generations"] == 2  # from the inference log
    assert data["reference"]["label"] == "base.json (run aaaaaaaaaaaa)"
    # no baseline: the previous run is the reference
    data = dashboard_from_history(history)
    assert data["reference"]["kind"] == "previous run" and data["cases"][0]["change"] == "regressed"
    assert next(c for c in data["cases"] if c["node_id"] == "t.py::b")["generations"] == 0  # not in the log
    # one run: nothing to compare with
    data = dashboard_from_history(history, limit=1)
    assert data["reference"]["kind"] is None and len(data["runs"]) == 1


def test_from_history_with_the_run_just_made(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    old, new = _two_runs()
    RunStore(history).record_run(old)
    RunStore(history).record_run(new)
    new.cases[1].tolerances = {"rouge_l": 0.5}  # the plugin's record has tolerances, the history not
    data = dashboard_from_history(history, baseline=baseline_from_run(old), latest=new)
    assert next(c for c in data["cases"] if c["node_id"] == "evals/s.eval.yaml::refund")["change"] == "unchanged"
    assert [r["run_id"] for r in data["runs"]] == [old.run_id, new.run_id]


def test_from_an_empty_history_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.touch()
    with pytest.raises(StoreError, match="holds no runs yet"):
        dashboard_from_history(path)


BROKEN_FILE = (
    "pytest_llmeval.cases.CaseError: bad.eval.yaml:2: not valid YAML: expected the node content, but found '-'"
)


def test_suite_errors_are_listed_apart_and_count_in_no_number() -> None:
    old = run("a" * 32, 1.0, case("t.py::a"), case("bad.eval.yaml::x"), case("t.py::b"))
    new = run(
        "b" * 32,
        2.0,
        case("t.py::a"),
        case("bad.eval.yaml::line2", "error", message=BROKEN_FILE, output=None),
        case("bad.eval.yaml::x", "error", message=BROKEN_FILE, output=None),
        case("t.py::b", "failed"),
    )
    data = build_dashboard_data([old, new], reference=baseline_from_run(old), reference_kind="baseline")
    assert [e["node_id"] for e in data["suite_errors"]] == ["bad.eval.yaml::line2", "bad.eval.yaml::x"]
    assert data["suite_errors"][0]["message"] == BROKEN_FILE
    assert [c["node_id"] for c in data["cases"]] == ["t.py::b", "t.py::a"]
    assert data["latest"]["pass_rate"] == 0.5 and data["latest"]["total"] == 2  # the model's cases only
    assert data["comparison_counts"]["regressions"] == 1  # t.py::b; not the broken file
    assert [row["name"] for row in data["breakdowns"]["file"]] == ["t.py"]
    assert data["runs"][-1]["pass_rate"] == 0.5 and data["runs"][-1]["suite_errors"] == 2


def test_partial_runs_are_marked_with_their_reason() -> None:
    full = run("a" * 32, 1.0, case("t.py::a"), case("t.py::b"), case("t.py::c"))
    selected = run("b" * 32, 2.0, case("t.py::a"))  # pytest -k a
    only_errors = run("c" * 32, 3.0, case("bad.eval.yaml::line2", "error", message=BROKEN_FILE, output=None))
    data = build_dashboard_data(
        [full, selected, only_errors], reference=baseline_from_run(full), reference_kind="baseline"
    )
    assert [(p["partial"], p["partial_reason"]) for p in data["runs"]] == [
        (False, None),
        (True, "ran 1 of the baseline's 3 cases (2 not run)"),
        (True, "only errors of the suite, no model result; ran 0 of the baseline's 3 cases (3 not run)"),
    ]
    assert data["latest"]["partial"] is True
    # against the previous run (no baseline), only the run's own record can say it was partial
    data = build_dashboard_data([full, selected], reference=baseline_from_run(full), reference_kind="previous run")
    assert data["runs"][-1]["partial"] is False
    selected.complete = False  # what the plugin records for a -k / -m selection
    data = build_dashboard_data([full, selected], reference=baseline_from_run(full), reference_kind="previous run")
    assert data["runs"][-1]["partial"] is True


def test_every_generation_of_a_test_is_listed_the_differing_ones_first() -> None:
    old, new = run("a" * 32, 1.0, case("t.py::many")), run("b" * 32, 2.0, case("t.py::many", "failed"))
    now = {
        "t.py::many": [
            {"phase": "call", "prompt": "p1", "output": "same"},
            {
                "phase": "call",
                "prompt": None,
                "messages": [{"role": "user", "content": "p2"}],
                "system": "be brief",
                "output": "broken",
            },
            {"phase": "call", "prompt": "p3", "output": "new"},
        ]
    }
    before = {"t.py::many": [{"output": "same"}, {"output": "fine"}]}
    data = build_dashboard_data(
        [old, new],
        reference=baseline_from_run(old),
        reference_kind="previous run",
        generations=now,
        reference_generations=before,
    )
    listed = data["cases"][0]["generation_list"]
    assert [(g["position"], g["differs"]) for g in listed] == [(2, True), (1, False), (3, None)]
    assert listed[0]["prompt"] == "system: be brief\nuser: p2"
    assert (listed[0]["output"], listed[0]["reference_output"]) == ("broken", "fine")
    assert data["cases"][0]["generations"] == 3
    # without a reference log, the run's order; one generation needs no list
    data = build_dashboard_data([new], generations=now)
    assert [g["position"] for g in data["cases"][0]["generation_list"]] == [1, 2, 3]
    assert (
        build_dashboard_data([new], generations={"t.py::many": now["t.py::many"][:1]})["cases"][0]["generation_list"]
        == []
    )


def test_a_classification_case_carries_its_gold_label() -> None:
    data = build_dashboard_data(
        [run("a" * 32, 1.0, case("s.eval.yaml::crash", "failed", output="positive", label="negative"))]
    )
    assert data["cases"][0]["label"] == "negative"


def test_model_differences_name_folders_and_files() -> None:
    old = run("a" * 32, 1.0, case("t.py::a"))
    old.model = {"source": ".llmeval/demo-model", "model_id": "f1|dtype=auto", "files": {"model.safetensors": "x"}}
    new = run("b" * 32, 2.0, case("t.py::a"))
    new.model = {"source": "/tmp/weak-demo", "model_id": "f2|dtype=auto", "files": {"model.safetensors": "y"}}
    data = build_dashboard_data([old, new], reference=baseline_from_run(old), reference_kind="baseline")
    assert data["reference"]["model_differences"] == [
        "model folder .llmeval/demo-model -> /tmp/weak-demo",
        "files that differ: model.safetensors",
    ]


def test_from_history_reports_a_chosen_run_with_the_runs_before_it(tmp_path: Path) -> None:
    history = tmp_path / "history.db"
    runs = [
        run(letter * 32, float(n), case("t.py::a", "passed" if n != 2 else "failed")) for n, letter in enumerate("abcd")
    ]
    for item in runs:
        RunStore(history).record_run(item)
    data = dashboard_from_history(history, run="ccc")
    assert data["latest"]["run_id"] == "c" * 32
    assert [p["run_id"] for p in data["runs"]] == ["a" * 32, "b" * 32, "c" * 32]
    assert data["reference"]["label"].startswith("bbbbbbbbbbbb (")  # the run before it
    assert [p["run_id"] for p in dashboard_from_history(history, run="ccc", limit=2)["runs"]] == ["b" * 32, "c" * 32]
    with pytest.raises(StoreError, match="no run 'zzz'"):
        dashboard_from_history(history, run="zzz")


def test_the_paired_comparison_is_in_the_data_with_its_options() -> None:
    old, new = _two_runs()
    data = build_dashboard_data(
        [old, new],
        reference=baseline_from_run(old),
        reference_kind="baseline",
        reference_label="llmeval-baseline.json",
        confidence=0.9,
        resamples=500,
        seed=3,
    )
    paired = data["paired"]
    assert (paired["confidence"], paired["resamples"], paired["seed"]) == (0.9, 500, 3)
    assert paired["label_a"] == "llmeval-baseline.json" and paired["label_b"] == "run " + "b" * 12
    assert paired["verdict"] in ("worse", "better", "mixed", "no significant difference", "cannot tell")
    assert paired["verdict_line"].startswith("verdict: ")
    assert {p["result"] for p in paired["pairs"]} <= {"broke", "fixed", "both pass", "both fail", "not counted"}
    assert build_dashboard_data([new])["paired"] is None  # nothing to compare with

"""Comparing a run with a baseline: outcome changes, metric drops, outputs, settings, the table."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.run_comparison import CaseChange, Comparison, ComparisonRow, MetricDrop, compare_runs
from pytest_llmeval.store import baseline_from_run


def case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    fields.setdefault("output", f"output of {node_id}")
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def run(*cases: CaseRecord, run_id: str = "cur", settings: dict[str, Any] | None = None, **model: Any) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=1_700_000_000.0,
        finished_at=None,
        complete=True,
        model={"source": "./ckpt", "model_id": "m1", "dtype": "float32", "device": "cpu", **model},
        settings={"max_new_tokens": 64, "batch_size": 8} if settings is None else settings,
        versions={"torch": "2.13"},
        git_commit=None,
        cases=list(cases),
    )


def metric(value: float, higher_is_better: bool = True) -> dict[str, Any]:
    return {"value": value, "higher_is_better": higher_is_better}


def compare(before: RunRecord, after: RunRecord, **kwargs: Any) -> Comparison:
    return compare_runs(baseline_from_run(before), after, **kwargs)


def test_outcome_classes() -> None:
    before = run(
        case("reg"),
        case("reg_x", "xpassed"),
        case("reg_err"),
        case("fix", "failed"),
        case("fix_err", "error"),
        case("still", "failed"),
        case("same"),
        case("skip_then_fail", "skipped"),
        case("pass_then_skip"),
        case("fail_then_xfail", "failed"),
        case("gone"),
        run_id="base",
    )
    after = run(
        case("reg", "failed", message="contains_any: expected one of ['reset link']"),
        case("reg_x", "failed"),
        case("reg_err", "error", message="Traceback\n  boom"),
        case("fix"),
        case("fix_err", "xpassed"),
        case("still", "failed"),
        case("same"),
        case("skip_then_fail", "failed"),
        case("pass_then_skip", "skipped"),
        case("fail_then_xfail", "xfailed"),
        case("brand_new"),
        case("brand_new_bad", "failed", message="nope"),
    )
    comparison = compare(before, after)
    assert [c.node_id for c in comparison.regressions] == ["reg", "reg_err", "reg_x"]
    assert comparison.regressions[0] == CaseChange(
        "reg", "passed", "failed", "contains_any: expected one of ['reset link']"
    )
    assert comparison.regressions[1].message == "Traceback boom"  # one line
    assert [c.node_id for c in comparison.fixes] == ["fix", "fix_err"]
    assert [c.node_id for c in comparison.still_failing] == ["still"]
    assert [(c.node_id, c.after) for c in comparison.new] == [("brand_new", "passed"), ("brand_new_bad", "failed")]
    assert [c.node_id for c in comparison.new_failing] == ["brand_new_bad"]
    assert comparison.not_run == [CaseChange("gone", "passed", None)]
    assert comparison.compared == 10
    assert comparison.baseline_run_id == "base" and comparison.current_run_id == "cur"
    assert comparison.current_failures == ["brand_new_bad", "reg", "reg_err", "reg_x", "skip_then_fail", "still"]


def test_gates() -> None:
    clean = compare(run(case("a"), case("b", "failed")), run(case("a"), case("b", "failed")))
    assert not clean.failing("regressions")
    assert clean.failing("strict")  # still failing counts under strict
    assert not clean.failing("off")
    regressed = compare(run(case("a")), run(case("a", "failed")))
    assert regressed.failing("regressions") and regressed.failing("strict") and not regressed.failing("off")
    dropped = compare(run(case("a", metrics={"m": metric(0.9)})), run(case("a", metrics={"m": metric(0.5)})))
    assert dropped.failing("regressions") and dropped.failing("strict")
    only_new_failing = compare(run(case("a")), run(case("a"), case("b", "failed")))
    assert only_new_failing.failing("regressions") and only_new_failing.failing("strict")
    not_run = compare(run(case("a"), case("b")), run(case("a")))
    assert not not_run.failing("regressions") and not not_run.failing("strict")
    with pytest.raises(ValueError, match=r"unknown gate 'loose'; use one of off, regressions, strict"):
        clean.failing("loose")


def test_metric_drops_are_one_sided_with_absolute_tolerance() -> None:
    before = run(
        case(
            "a",
            metrics={
                "rouge_l": metric(0.62),
                "bleu": metric(0.30),
                "perplexity": metric(10.0, False),
                "judge": metric(0.8),
                "nan": metric(0.5),
                "only_before": metric(1.0),
            },
        ),
    )
    after = run(
        case(
            "a",
            metrics={
                "rouge_l": metric(0.41),
                "bleu": metric(0.29),
                "perplexity": metric(12.0, False),
                "judge": metric(0.95),
                "nan": metric(float("nan")),
                "only_after": metric(0.0),
            },
        ),
    )
    comparison = compare(before, after, tolerances={"rouge_l": 0.05, "bleu": 0.02})
    assert comparison.metric_drops == [
        MetricDrop("a", "perplexity", 10.0, 12.0, 0.0, False),
        MetricDrop("a", "rouge_l", 0.62, 0.41, 0.05, True),
    ]
    assert comparison.metric_drops[1].drop == pytest.approx(0.21)
    assert comparison.metric_drops[0].drop == pytest.approx(2.0)
    # default tolerance applies to metrics without their own
    assert compare(before, after, tolerances={"rouge_l": 0.5}, default_tolerance=5.0).metric_drops == []


def test_drop_exactly_at_tolerance_and_rounding_are_not_drops() -> None:
    before = run(case("a", metrics={"m": metric(0.55), "r": metric(5 / 12)}))
    after = run(case("a", metrics={"m": metric(0.5), "r": metric(5 / 12)}))
    # The baseline holds 0.416667 for r; the current run's 0.41666666... must not look like a drop.
    assert compare(before, after, tolerances={"m": 0.05}).metric_drops == []
    assert [d.metric for d in compare(before, after, tolerances={"m": 0.0499}).metric_drops] == ["m"]


def test_negative_tolerance_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"tolerance rouge_l=-0.1 must be a non-negative number"):
        compare(run(case("a")), run(case("a")), tolerances={"rouge_l": -0.1})
    with pytest.raises(ValueError, match=r"tolerance default_tolerance=-1 must be a non-negative number"):
        compare(run(case("a")), run(case("a")), default_tolerance=-1)


def test_changed_outputs() -> None:
    before = run(case("same"), case("diff", output="old text"), case("none", output=None))
    after = run(case("same"), case("diff", output="new text"), case("none", output="now something"))
    comparison = compare(before, after)
    assert comparison.changed_outputs == [CaseChange("diff", "old text", "new text", None)]


def test_settings_and_model_differences() -> None:
    before = run(case("a"), settings={"max_new_tokens": 64, "gen": {"top_k": 5}, "chat_template": "x" * 100})
    after = run(
        case("a"),
        settings={"max_new_tokens": 32, "gen": {"top_k": 5}, "chat_template": "y" * 100, "seed": 3},
        dtype="bfloat16",
        model_id="m2",
        source="./ckpt-8",
    )
    comparison = compare(before, after)
    assert comparison.settings_differences == [
        f"chat_template: {'x' * 37}... -> {'y' * 37}...",
        "dtype: float32 -> bfloat16",
        "max_new_tokens: 64 -> 32",
        "seed: (unset) -> 3",
    ]
    assert comparison.model_differences == [
        "model folder ./ckpt -> ./ckpt-8",
        "other model files (per-file hashes were not recorded)",
    ]
    assert compare(run(case("a")), run(case("a"))).settings_differences == []


def test_dtype_in_settings_is_reported_once() -> None:
    before = run(case("a"), settings={"dtype": "float32"})
    after = run(case("a"), settings={"dtype": "bfloat16"}, dtype="bfloat16")
    assert compare(before, after).settings_differences == ["dtype: float32 -> bfloat16"]


def _mixed() -> Comparison:
    before = run(
        case("t::reg"),
        case("t::drop", metrics={"rouge_l": metric(0.62)}),
        case("t::still", "failed"),
        case("t::fix", "failed"),
        case("t::out", output="before"),
        case("t::gone"),
        case("t::reg_out", output="x"),
        run_id="base1",
    )
    after = run(
        case("t::reg", "failed", message="contains_any: expected one of ['reset link'], got 'I dunno'"),
        case("t::drop", metrics={"rouge_l": metric(0.41)}),
        case("t::still", "failed", message="still bad"),
        case("t::fix"),
        case("t::out", output="after"),
        case("t::new"),
        case("t::new_bad", "error", message="oops"),
        case("t::reg_out", "failed", output="y"),
        dtype="bfloat16",
    )
    return compare(before, after, tolerances={"rouge_l": 0.05})


def test_rows_worst_first_with_reasons() -> None:
    assert _mixed().rows() == [
        ComparisonRow(
            "t::reg", "regression", "passed -> failed: contains_any: expected one of ['reset link'], got 'I dunno'"
        ),
        ComparisonRow("t::reg_out", "regression", "passed -> failed"),
        ComparisonRow("t::drop", "metric drop", "rouge_l 0.62 -> 0.41 (tolerance 0.05)"),
        ComparisonRow("t::still", "still failing", "failed -> failed: still bad"),
        ComparisonRow("t::new_bad", "new failing", "not in the baseline; error: oops"),
        ComparisonRow("t::fix", "fixed", "failed -> passed"),
        ComparisonRow("t::new", "new", "not in the baseline; passed"),
        # t::reg_out changed its output too, but already has a row
        ComparisonRow("t::out", "changed output", "output changed: 'before' -> 'after'"),
        ComparisonRow("t::gone", "not run", "in the baseline (passed), not run this time (deselected or removed)"),
    ]


def test_lower_is_better_reason() -> None:
    comparison = compare(
        run(case("a", metrics={"ppl": metric(10.0, False)})), run(case("a", metrics={"ppl": metric(15.25, False)}))
    )
    assert comparison.rows() == [ComparisonRow("a", "metric drop", "ppl 10 -> 15.25 (tolerance 0, lower is better)")]


def test_long_messages_are_cut_to_one_line() -> None:
    comparison = compare(run(case("a")), run(case("a", "failed", message="x" * 500)))
    reason = comparison.rows()[0].reason
    assert len(reason) == 160 and reason.endswith("...") and "\n" not in reason


def test_format_table() -> None:
    text = _mixed().format()
    lines = text.splitlines()
    assert lines[0] == (
        "WARNING: generation settings differ from the baseline's: dtype: float32 -> bfloat16 "
        "(outputs may differ for that reason alone)"
    )
    assert lines[1] == (
        "llmeval: compared 6 cases with baseline run base1: 2 regressions, 1 metric drop, 1 still failing, "
        "1 new failing, 1 fixed, 1 new, 2 changed outputs, 1 not run"
    )
    assert lines[2].split() == ["kind", "case", "reason"]
    # aligned: every row's case column starts where the header's does
    column = lines[2].index("case")
    assert all(line[column - 2 : column] == "  " and line[column] == "t" for line in lines[3:-1])
    assert lines[3].startswith("  regression      t::reg      passed -> failed")
    # the baseline case this run did not run is a count, not a row (-v lists it)
    assert lines[-1] == "  1 case of the baseline not run (deselected or removed; -v lists them)"
    assert len(lines) == 3 + 8 + 1
    verbose = _mixed().format(verbose=1).splitlines()
    assert len(verbose) == 3 + 9 and verbose[-1].startswith("  not run ")


def test_format_truncates_rows() -> None:
    text = _mixed().format(max_rows=2)
    assert text.splitlines()[-2] == "  ... and 6 more (llmeval diff shows them all)"
    assert len(text.splitlines()) == 2 + 1 + 2 + 1 + 1


def test_format_no_differences() -> None:
    text = compare(run(case("a")), run(case("a"))).format()
    assert text == "llmeval: compared 1 case with baseline run cur: no differences"


def test_format_model_line() -> None:
    text = compare(run(case("a")), run(case("a"), model_id="m2")).format()
    # after the verdict, so a reader does not take the other model for the reason it failed
    assert text.splitlines()[1] == (
        "  another model than the baseline's: the files in ./ckpt changed since (fingerprint m1 -> m2; "
        "per-file hashes were not recorded)"
    )


def test_format_fits_the_terminal_width_and_keeps_parameters_visible() -> None:
    long_id = "test_account_help.py::test_answers_point_to_the_right_page[How do I invite a team member?-Team]"
    other = "test_account_help.py::test_answers_point_to_the_right_page[Where can I download my invoices?-Billing]"
    before = run(case(long_id), case(other), case("short"))
    after = run(
        case(long_id, "failed", message="contains: expected 'Team' (case-insensitive); not found in " + "x" * 200),
        case(other, "failed", message="contains: expected 'Billing'"),
        case("short", "failed", message="boom"),
    )
    text = compare(before, after).format(width=120)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    rows = [line for line in lines if line.startswith("  regression")]
    narrow = compare(before, after).format(width=60).splitlines()
    # the verdict wraps, never cut; every line fits
    assert narrow[:2] == ["llmeval: compared 3 cases with baseline run cur: 3", "    regressions"]
    assert all(len(line) <= 60 for line in narrow)
    assert len(rows) == 3
    # the middle of a long id goes, its parameters stay: two parametrized rows stay distinguishable
    assert any("...e a team member?-Team]" in row or "-Team]" in row for row in rows)
    assert any("-Billing]" in row for row in rows)
    assert all(line.endswith("...") for line in rows if "x" * 20 in line)
    assert len(narrow) == len(lines) + 1  # the verdict's second line


def test_compare_two_baselines() -> None:
    before = baseline_from_run(run(case("a"), case("b"), run_id="one"))
    after = baseline_from_run(run(case("a", "failed"), case("b", output="changed"), run_id="two"))
    comparison = compare_runs(before, after)
    assert [c.node_id for c in comparison.regressions] == ["a"]
    assert comparison.current_run_id == "two"
    assert [c.node_id for c in comparison.changed_outputs] == ["b"]


def test_significant_gate_needs_the_paired_statistics_and_fails_only_on_evidence() -> None:
    from pytest_llmeval.run_comparison import gate_failure

    def outcome_run(pattern: str, run_id: str) -> RunRecord:
        return run(
            *(case(f"c{i:02d}", "passed" if c == "P" else "failed") for i, c in enumerate(pattern)), run_id=run_id
        )

    plain = compare(outcome_run("PP", "base"), outcome_run("PF", "cur"))
    with pytest.raises(ValueError, match="the significant gate needs the paired statistics"):
        plain.failing("significant")
    noise = compare(outcome_run("PF" * 10, "base"), outcome_run("FP" * 10, "cur"), confidence=0.95, resamples=1000)
    assert noise.failing("regressions") and not noise.failing("significant")
    assert gate_failure(noise, "significant") is None
    assert "verdict: no significant difference at 95% confidence" in noise.format()
    worse = compare(
        outcome_run("P" * 20, "base"), outcome_run("F" * 8 + "P" * 12, "cur"), confidence=0.95, resamples=1000
    )
    assert worse.failing("significant")
    evidence = gate_failure(worse, "significant")
    assert evidence is not None
    assert evidence.startswith(
        "llmeval::gate FAILED: worse than the baseline with 95% confidence:\n  pass rate: -40.0 points (95% interval ["
    )
    assert "exact McNemar p = 0.008 (0 fixed, 8 broke)" in evidence
    assert evidence.endswith("\n  8 cases broke: c00, c01, c02, c03, c04, c05, c06, c07")
    assert "  regression  c00   passed -> failed" in worse.format()  # the flipped cases are still listed
    # a new failing case has no pair: it fails the gate's policy (and, in pytest, as its own test)
    new_failing = compare(
        outcome_run("P" * 4, "base"), outcome_run("P" * 4 + "F", "cur"), confidence=0.95, resamples=1000
    )
    assert new_failing.failing("significant") and gate_failure(new_failing, "significant") is None
    assert gate_failure(plain, "regressions") is None and gate_failure(plain, "off") is None
    dropped = compare(
        run(case("m", metrics={"bleu": metric(0.5)}), run_id="base"), run(case("m", metrics={"bleu": metric(0.4)}))
    )
    assert gate_failure(dropped, "strict") == (
        "llmeval::gate FAILED: 1 metric drop beyond the tolerance against the baseline (listed above)"
    )


def test_which_failures_a_gate_tolerates() -> None:
    from pytest_llmeval.run_comparison import SIGNIFICANT_TOLERATED, tolerated_failure

    assert tolerated_failure("regressions", "failed") == "fails in baseline too"
    assert tolerated_failure("regressions", "passed") is None
    assert tolerated_failure("regressions", None) is None
    assert tolerated_failure("significant", "passed") == SIGNIFICANT_TOLERATED  # the statistics decide
    assert tolerated_failure("significant", "failed") == SIGNIFICANT_TOLERATED
    assert tolerated_failure("significant", None) is None  # a new case has no pair: it fails as itself
    assert tolerated_failure("significant", "skipped") is None  # nor does a case skipped in the baseline
    assert tolerated_failure("strict", "failed") is None and tolerated_failure("off", "failed") is None


def test_a_long_model_line_wraps_to_the_width() -> None:
    before = run(case("a"))
    before.model.update(
        source=".llmeval/demo-model", files={"config.json": "1", "model.safetensors": "2", "llmeval-demo.json": "3"}
    )
    after = run(case("a"), model_id="m2")
    after.model.update(
        source="/tmp/weak-demo", files={"config.json": "1", "model.safetensors": "9", "llmeval-demo.json": "8"}
    )
    lines = compare(before, after).format(width=60).splitlines()
    model = lines[2:]  # after the verdict, wrapped in two lines
    assert model[0].startswith("  another model than the baseline's: model")
    assert all(len(line) <= 60 for line in model) and all(line.startswith("      ") for line in model[1:])
    assert "llmeval-demo.json, model.safetensors" in " ".join(" ".join(model).split())

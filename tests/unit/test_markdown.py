"""The Markdown summary: verdict, pass rates, regression and metric tables, escaping, length cap."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pytest_llmeval.markdown import GITHUB_COMMENT_LIMIT, format_markdown_summary
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.run_comparison import Comparison, compare_runs
from pytest_llmeval.store import Baseline, baseline_from_run


def case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    fields.setdefault("output", f"output of {node_id}")
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def run(*cases: CaseRecord, run_id: str = "b71c0e93aa21ffee", settings: dict[str, Any] | None = None) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=1_700_000_000.0,
        finished_at=1_700_000_040.0,
        complete=True,
        model={"source": "checkpoints/candidate", "model_id": "m1", "dtype": "float32", "device": "cpu"},
        settings={"max_new_tokens": 64, "batch_size": 8} if settings is None else settings,
        versions={"torch": "2.13"},
        git_commit="0123456789abcdef0123456789abcdef01234567",
        cases=list(cases),
    )


def metric(value: float, higher_is_better: bool = True) -> dict[str, Any]:
    return {"value": value, "higher_is_better": higher_is_better}


def against(before: RunRecord, after: RunRecord, **kwargs: Any) -> tuple[Baseline, Comparison]:
    baseline = baseline_from_run(before)
    return baseline, compare_runs(baseline, after, **kwargs)


def summary(after: RunRecord, before: RunRecord | None = None, *, gate: str = "off", **kwargs: Any) -> str:
    if before is None:
        return format_markdown_summary(after, gate=gate, **kwargs)
    baseline, comparison = against(before, after)
    return format_markdown_summary(after, baseline=baseline, comparison=comparison, gate=gate, **kwargs)


def heading(text: str) -> str:
    return text.splitlines()[0]


def section(text: str, title: str) -> str:
    """From the line starting with ``title`` to the next heading (or the end)."""
    start = text.index(title)
    following = re.search(r"^(###|<details>)", text[start + len(title) :], re.M)
    return text[start : start + len(title) + following.start()] if following else text[start:]


def cells(row: str) -> list[str]:
    """A GFM table row split like GitHub's parser does: a backslash escapes the next character, so
    only a pipe not preceded by an (unescaped) backslash separates cells."""
    assert row.startswith("| ") and row.endswith(" |"), row
    parts, current, index = [], "", 1
    while index < len(row) - 1:
        char = row[index]
        if char == "\\" and index + 1 < len(row):
            current += row[index : index + 2]
            index += 2
            continue
        if char == "|":
            parts.append(current.strip())
            current = ""
        else:
            current += char
        index += 1
    parts.append(current.strip())
    return parts


def table_rows(text: str) -> list[list[str]]:
    return [cells(line) for line in text.splitlines() if line.startswith("| ")]


def assert_tables_well_formed(text: str) -> None:
    """Every table's rows have as many cells as its header: no stray pipe split a row."""
    widths: list[int] = []
    for line in text.splitlines() + [""]:
        if line.startswith("| "):
            widths.append(len(cells(line)))
        elif widths:
            assert len(set(widths)) == 1, (widths, text)
            widths = []


# --------------------------------------------------------------------------------------------------
# verdict


BEFORE = run(case("a"), case("b"), case("c", "failed", message="was broken"), run_id="3f2a9c1b04de9999")


def outcomes(spec: str) -> RunRecord:
    """``"a b:failed"``: case a passed, case b failed."""
    return run(*(case(*item.split(":")) for item in spec.split()))


@pytest.mark.parametrize(
    ("after", "gate", "expected"),
    [
        ("a b c:failed", "regressions", "## ✅ llmeval: 3 cases, 66.7% passed, no regressions"),
        ("a b:failed c:failed", "regressions", "## ❌ llmeval: 1 regression against the baseline"),
        ("a b c:failed d:error", "regressions", "## ❌ llmeval: 1 new failing case against the baseline"),
        ("a b c:failed", "strict", "## ❌ llmeval: 1 failing case (strict gate)"),
        ("a b c", "strict", "## ✅ llmeval: 3 cases, 100.0% passed, no failures or metric drops"),
        ("a:failed b:failed c", "off", "## ⚠️ llmeval: 3 cases, 33.3% passed, 2 regressions (gate off)"),
        ("a b c:failed", "off", "## ✅ llmeval: 3 cases, 66.7% passed, no regressions"),
    ],
)
def test_verdict_with_baseline(after: str, gate: str, expected: str) -> None:
    assert heading(summary(outcomes(after), BEFORE, gate=gate)) == expected


def test_verdict_metric_drop_fails_the_gates() -> None:
    before = run(case("a", metrics={"rouge_l": metric(0.9)}))
    after = run(case("a", metrics={"rouge_l": metric(0.5)}))
    assert heading(summary(after, before, gate="regressions")) == "## ❌ llmeval: 1 metric drop against the baseline"
    assert heading(summary(after, before, gate="strict")) == "## ❌ llmeval: 1 metric drop (strict gate)"


@pytest.mark.parametrize(
    ("after", "gate", "expected"),
    [
        ("a b", "off", "## ✅ llmeval: 2 cases, 100.0% passed"),
        ("a b:error", "off", "## ⚠️ llmeval: 2 cases, 50.0% passed, 1 failed"),
        ("a b:failed c:failed", "strict", "## ❌ llmeval: 2 failing cases (strict gate)"),
        ("a", "strict", "## ✅ llmeval: 1 case, 100.0% passed, no failures"),
        ("a", "regressions", "## ⚠️ llmeval: 1 case, 100.0% passed, no baseline to compare with"),
        ("a:skipped b:skipped", "off", "## ⚪ llmeval: 2 cases, all skipped"),
    ],
)
def test_verdict_without_baseline(after: str, gate: str, expected: str) -> None:
    assert heading(summary(outcomes(after), gate=gate)) == expected


def test_identity_line() -> None:
    baseline, comparison = against(BEFORE, run(case("a")))
    text = format_markdown_summary(
        run(case("a")),
        baseline=baseline,
        comparison=comparison,
        reference_label="llmeval-baseline.json (run 3f2a9c1b04de)",
        gate="regressions",
    )
    assert text.splitlines()[2] == (
        "Model `checkpoints/candidate` · run `b71c0e93aa21` · commit 0123456789ab · "
        "compared with llmeval-baseline.json (run 3f2a9c1b04de) · gate regressions"
    )
    # Without a label the baseline is named by its run id; without a baseline, plainly so.
    unlabeled = format_markdown_summary(run(case("a")), baseline=baseline, comparison=comparison)
    assert "compared with baseline run `3f2a9c1b04de` · gate off" in unlabeled.splitlines()[2]
    alone = run(case("a"))
    alone.complete = False
    alone.git_commit = None
    assert summary(alone).splitlines()[2] == (
        "Model `checkpoints/candidate` · run `b71c0e93aa21` · no baseline · gate off · "
        "⚠️ incomplete run (a selection, or the session stopped early)"
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown gate 'gates'"):
        format_markdown_summary(run(), gate="gates")
    with pytest.raises(ValueError, match="max_rows=-1"):
        format_markdown_summary(run(), max_rows=-1)


# --------------------------------------------------------------------------------------------------
# pass rates


def test_pass_rate_arithmetic() -> None:
    after = run(
        case("s1", mode="success_mode"), case("s2", "xpassed", mode="success_mode"),
        case("s3", "failed", mode="success_mode"), case("s4", "skipped", mode="success_mode"),
        case("f1", "xfailed", mode="failure_mode"), case("f2", "error", mode="failure_mode"),
        case("f3", "skipped", mode="failure_mode"),
        case("o1"), case("o2", "skipped"), case("o3", "xfailed"),
    )  # fmt: skip
    rows = table_rows(section(summary(after), "### Pass rates"))
    assert rows == [
        ["", "passed", "failed", "other", "pass rate"],
        ["---", "---:", "---:", "---:", "---:"],
        # passed: s1, s2 (xpassed), o1; failed: s3, f2 (error); counted: all but 3 skipped = 7.
        ["**all**", "3", "2", "5", "42.9%"],
        ["`success_mode`", "2", "1", "1", "66.7%"],  # 2 / 3: the skipped case is not counted
        ["`failure_mode`", "0", "1", "2", "0.0%"],  # the xfailed case counts, as not passed
        ["other (no mode)", "1", "0", "2", "50.0%"],
    ]


def test_pass_rates_without_modes_and_with_nothing_counted() -> None:
    rows = table_rows(section(summary(run(case("a", "skipped"), case("b", "skipped"))), "### Pass rates"))
    assert rows[2:] == [["**all**", "0", "0", "2", "—"]]  # no mode rows when no case has a mode


def test_baseline_column() -> None:
    before = run(
        case("s1"), case("s2", "failed"), case("f1"), case("gone", "failed"), case("skipped_then", "skipped"),
    )  # fmt: skip
    after = run(
        case("s1", mode="success_mode"), case("s2", mode="success_mode"), case("f1", "failed", mode="failure_mode")
    )
    rows = table_rows(section(summary(after, before), "### Pass rates"))
    assert rows[0][-1] == "baseline"
    assert rows[2] == ["**all**", "2", "1", "0", "66.7%", "50.0%"]  # baseline: 2 of 4 counted (gone included)
    assert rows[3] == ["`success_mode`", "2", "0", "0", "100.0%", "50.0%"]  # s1, s2 by this run's mode
    assert rows[4] == ["`failure_mode`", "0", "1", "0", "0.0%", "100.0%"]
    assert "baseline by mode: the cases both runs share, by this run's mode" in summary(after, before)


def test_a_later_record_of_one_node_id_wins() -> None:
    assert heading(summary(outcomes("a:failed a"))) == "## ✅ llmeval: 1 case, 100.0% passed"


# --------------------------------------------------------------------------------------------------
# regressions and other changes


def test_regression_and_metric_drop_rows() -> None:
    before = run(
        case("reset", metrics={"rouge_l": metric(0.8)}),
        case("hours", metrics={"rouge_l": metric(0.9), "perplexity": metric(12.0, higher_is_better=False)}),
        case("small", metrics={"rouge_l": metric(0.9)}),
    )
    after = run(
        case("reset", "failed", message="contains: expected 'reset link'", metrics={"rouge_l": metric(0.8)}),
        case("hours", metrics={"rouge_l": metric(0.7), "perplexity": metric(14.5, higher_is_better=False)}),
        case("small", metrics={"rouge_l": metric(0.88)}),  # within the tolerance: no row
    )
    baseline, comparison = against(before, after, tolerances={"rouge_l": 0.05})
    text = format_markdown_summary(after, baseline=baseline, comparison=comparison, gate="regressions")
    assert heading(text) == "## ❌ llmeval: 1 regression, 2 metric drops against the baseline"
    regressions = section(text, "### Regressions (1 case, 2 metric drops)")
    assert table_rows(regressions) == [
        ["case", "before → after", "why"],
        ["---", "---", "---"],
        ["`reset`", "passed → failed", "contains: expected 'reset link'"],
        ["`hours`", "`perplexity` 12 → 14.5", "rose by 2.5 (tolerance 0, lower is better)"],
        ["`hours`", "`rouge_l` 0.9 → 0.7", "dropped by 0.2 (tolerance 0.05)"],
    ]


def test_new_failures_fixes_still_failing_and_the_rest() -> None:
    before = run(
        case("reg"), case("fix", "failed"), case("still", "failed"), case("was_skipped", "skipped"), case("gone"),
    )  # fmt: skip
    after = run(
        case("reg", "failed", message="boom"), case("fix"), case("still", "error", message="still broken"),
        case("was_skipped", "failed", message="now runs, fails"), case("new_bad", "failed", message="nope"),
        case("new_ok"),
    )  # fmt: skip
    text = summary(after, before, gate="regressions")
    assert heading(text) == "## ❌ llmeval: 1 regression, 1 new failing case against the baseline"
    # Failing now, not passing before: new cases and cases the baseline skipped.
    assert table_rows(section(text, "### New failures (2)"))[2:] == [
        ["`new_bad`", "new → failed", "nope"],
        ["`was_skipped`", "skipped → failed", "now runs, fails"],
    ]
    assert table_rows(section(text, "### Fixed (1)"))[2:] == [["`fix`", "failed → passed"]]
    still = text[text.index("<details><summary>Still failing, as in the baseline (1)</summary>") :]
    assert table_rows(still.split("</details>")[0])[2:] == [["`still`", "error", "still broken"]]
    assert "Also: 1 new case not failing; 1 baseline case not run (deselected or removed)" in text


def test_long_fix_lists_collapse() -> None:
    before = run(*(case(f"t{i:02}", "failed") for i in range(11)))
    after = run(*(case(f"t{i:02}") for i in range(11)))
    text = summary(after, before)
    assert "<details><summary>Fixed (11)</summary>" in text and "### Fixed" not in text
    assert text.count("<details>") == text.count("</details>")
    short = summary(run(case("t00")), run(case("t00", "failed")))
    assert "### Fixed (1)" in short and "<details>" not in short


def test_no_differences() -> None:
    text = summary(run(case("a"), case("b")), run(case("a"), case("b")))
    assert "No differences from the baseline over 2 shared cases." in text
    assert "### Regressions" not in text


def test_failing_cases_without_a_baseline() -> None:
    text = summary(run(case("b", "error", message="Traceback\n  boom"), case("a", "failed"), case("c")))
    assert table_rows(section(text, "### Failing cases (2)"))[2:] == [
        ["`a`", "failed", "—"],
        ["`b`", "error", "Traceback boom"],
    ]


@pytest.mark.parametrize("max_rows", [0, 2])
def test_max_rows(max_rows: int) -> None:
    before = run(*(case(f"t{i}") for i in range(5)))
    after = run(*(case(f"t{i}", "failed", message=f"m{i}") for i in range(5)))
    text = summary(after, before, max_rows=max_rows)
    regressions = section(text, "### Regressions (5 cases)")
    assert [row[0] for row in table_rows(regressions)[2:]] == [f"`t{i}`" for i in range(max_rows)]
    assert "... and " + str(5 - max_rows) + " more (`llmeval diff` lists them all)" in regressions


# --------------------------------------------------------------------------------------------------
# metrics and differences


def test_metric_changes() -> None:
    before = run(
        case("a", metrics={"rouge_l": metric(0.8), "perplexity": metric(10.0, False), "bleu": metric(0.3)}),
        case("b", metrics={"rouge_l": metric(0.6), "perplexity": metric(12.0, False), "bleu": metric(0.3)}),
        case("gone", metrics={"rouge_l": metric(0.0)}),
    )
    after = run(
        case("a", metrics={"rouge_l": metric(0.9), "perplexity": metric(9.0, False), "bleu": metric(0.3)}),
        case("b", metrics={"rouge_l": metric(0.6), "perplexity": metric(12.0, False), "bleu": metric(0.3)}),
        case("new", metrics={"rouge_l": metric(0.1)}),  # not in the baseline: not in the means
        case("c", metrics={"judge": metric(4.0)}),
    )
    metrics = section(summary(after, before), "### Metrics")
    assert table_rows(metrics)[2:] == [
        ["`bleu`", "2", "0.3", "0.3", "0 (same)"],
        ["`perplexity` (lower is better)", "2", "11", "10.5", "-0.5 ↓ better"],
        ["`rouge_l`", "2", "0.7", "0.75", "+0.05 ↑ better"],
    ]
    assert "Not in the baseline: `judge` (mean 4 over 1 case)." in metrics
    worse = summary(run(case("a", metrics={"rouge_l": metric(0.5)})), run(case("a", metrics={"rouge_l": metric(0.75)})))
    assert table_rows(section(worse, "### Metrics"))[2] == ["`rouge_l`", "1", "0.75", "0.5", "-0.25 ↓ worse"]


def test_metric_means_without_a_baseline() -> None:
    after = run(
        case("a", metrics={"rouge_l": metric(0.5), "perplexity": metric(20.0, False)}),
        case("b", metrics={"rouge_l": metric(1.0), "perplexity": metric(float("nan"), False)}),  # NaN: left out
    )
    assert table_rows(section(summary(after), "### Metrics")) == [
        ["metric", "cases", "mean"],
        ["---", "---:", "---:"],
        ["`perplexity` (lower is better)", "1", "20"],
        ["`rouge_l`", "2", "0.75"],
    ]


def test_settings_and_model_differences() -> None:
    before = run(case("a"), settings={"max_new_tokens": 64})
    before.model = {**before.model, "source": "checkpoints/run-7"}
    after = run(case("a"), settings={"max_new_tokens": 128})
    text = summary(after, before)
    assert "⚠️ generation settings differ from the baseline's (see below)" in text.splitlines()[2]
    assert "### ⚠️ Generation settings differ from the baseline's" in text
    assert "- `max_new_tokens: 64 -> 128`" in text
    assert (
        "### Model differs from the baseline's\n\n"
        "- `model folder checkpoints/run-7 -> checkpoints/candidate (same files)`"
    ) in text
    assert "Generation settings" not in summary(run(case("a")), run(case("a")))


# --------------------------------------------------------------------------------------------------
# escaping and limits


def test_node_ids_and_messages_render_literally() -> None:
    ids = ["t[a|b]", "t[`x`]", "t[a\\|b]", "t[line\nbreak]", "t[*x*_y_<b>]"]
    before = run(*(case(node_id) for node_id in ids))
    after = run(
        *(case(node_id, "failed", message="left | right\nnext line `code` *em* <b>@octocat</b>") for node_id in ids)
    )
    text = summary(after, before)
    assert_tables_well_formed(text)
    rows = table_rows(section(text, "### Regressions (5 cases)"))[2:]
    assert [row[0] for row in rows] == [
        "`t[*x*_y_<b>]`",  # literal inside a code span
        "<code>t&#91;&#96;x&#96;&#93;</code>",  # a backtick cannot be escaped in a code span
        "<code>t&#91;a&#92;&#124;b&#93;</code>",  # a table would take "\|" apart before the code span
        "`t[a\\|b]`",  # an escaped pipe: still one cell, shown as "|"
        "`t[line break]`",  # the newline collapsed
    ]
    assert rows[1][2] == "left \\| right next line \\`code\\` \\*em\\* \\<b\\>@\u2060octocat\\</b\\>"
    body = section(text, "### Regressions (5 cases)").splitlines()[1:]
    assert all(line.startswith("| ") for line in body if line)  # no text spilled out of a row


def test_e_mail_addresses_stay_intact() -> None:
    text = summary(run(case("a", "failed", message="found ann@example.com and @team-x")))
    assert "ann@example.com and @\u2060team-x" in text


def test_long_messages_and_node_ids_are_cut() -> None:
    long_id = "evals/x.eval.yaml::" + "p" * 200 + "-tail"
    text = summary(run(case(long_id, "failed", message="word " * 100)))
    row = table_rows(section(text, "### Failing cases (1)"))[2]
    assert row[0].startswith("`evals/x.eval.yaml::ppp") and row[0].endswith("ppp-tail`")  # cut in the middle
    assert "…" in row[0] and len(row[0]) == 160 + 2
    assert row[2].endswith("word…") and len(row[2]) == 120


def test_length_cap_with_5000_cases() -> None:
    before = run(*(case(f"evals/big.eval.yaml::case-{i:04}[{'|' * 10}]") for i in range(5000)))
    after = run(
        *(case(f"evals/big.eval.yaml::case-{i:04}[{'|' * 10}]", "failed", message="| `x` " * 40) for i in range(5000))
    )
    baseline, comparison = against(before, after)
    kwargs: dict[str, Any] = {"baseline": baseline, "comparison": comparison, "gate": "regressions"}
    # The default of 30 rows per table keeps it far below the limit.
    default = format_markdown_summary(after, **kwargs)
    assert len(default) < 20_000 and "... and 4970 more" in default
    # Every row: the hard cap cuts at whole lines and says so.
    text = format_markdown_summary(after, max_rows=10_000, **kwargs)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert len(text.encode("utf-16-le")) // 2 <= GITHUB_COMMENT_LIMIT
    assert text.endswith("\n\n**Summary truncated** to fit GitHub's 65,536-character limit; "
                         "`llmeval show latest` and `llmeval diff` list everything.\n")  # fmt: skip
    assert heading(text) == "## ❌ llmeval: 5000 regressions against the baseline"
    assert_tables_well_formed(text)


def test_length_cap_closes_open_details() -> None:
    before = run(*(case(f"c{i:04}", "failed") for i in range(5000)))
    after = run(*(case(f"c{i:04}", "failed", message="x" * 200) for i in range(5000)))
    text = summary(after, before, max_rows=10_000)
    assert "Still failing" in text and text.endswith("list everything.\n")
    assert text.count("<details>") == text.count("</details>") == 1
    assert len(text) <= GITHUB_COMMENT_LIMIT


def test_zero_cases() -> None:
    empty = run()
    text = summary(empty)
    assert heading(text) == "## ⚪ llmeval: no eval cases ran"
    assert table_rows(section(text, "### Pass rates"))[2:] == [["**all**", "0", "0", "0", "—"]]
    assert "### Metrics" not in text and "### Failing" not in text
    against_baseline = summary(empty, run(case("a")), gate="regressions")
    assert heading(against_baseline) == "## ⚪ llmeval: no eval cases ran"
    assert table_rows(section(against_baseline, "### Pass rates"))[2] == ["**all**", "0", "0", "0", "—", "100.0%"]
    assert "Also: 1 baseline case not run (deselected or removed)." in against_baseline


def test_deterministic() -> None:
    before = run(*(case(f"t{i}", metrics={"m": metric(i / 7)}) for i in range(40)), run_id="base")
    after = run(*(case(f"t{i}", "failed" if i % 3 else "passed", metrics={"m": metric(i / 9)}) for i in range(40)))
    assert summary(after, before, gate="regressions") == summary(after, before, gate="regressions")
    assert not re.search(r"\d{4}-\d\d-\d\d|\d\d:\d\d", summary(after, before))  # no clock in the text


def _paired_runs(before: str, after: str) -> tuple[RunRecord, RunRecord]:
    def cases(pattern: str) -> list[CaseRecord]:
        return [
            case(
                f"evals/s.eval.yaml::c{i:02d}",
                "passed" if c == "P" else "failed",
                message=None if c == "P" else "contains: expected 'x'",
                metrics={"rouge_l": metric(0.8 if c == "P" else 0.3)},
            )
            for i, c in enumerate(pattern)
        ]

    return run(*cases(before), run_id="a0a0a0a0a0a0base"), run(*cases(after))


def test_significant_gate_verdict_and_paired_section() -> None:
    before, after = _paired_runs("P" * 20, "F" * 10 + "P" * 10)
    baseline, comparison = against(before, after, confidence=0.95, resamples=1000)
    text = format_markdown_summary(after, baseline=baseline, comparison=comparison, gate="significant")
    assert heading(text) == "## ❌ llmeval: worse than the baseline on pass rate, rouge_l (95% confidence)"
    paired = section(text, "### Is this run worse than the baseline? (paired statistics)")
    assert "| pass rate | 20 | 100.0% | 50.0% | -50.0 pts | [" in paired
    assert "| exact McNemar | 0.002 | 0.004 | **worse** |" in paired  # Holm: 2 x 0.00195
    assert "**verdict: B is WORSE than A on pass rate, rouge\\_l (95% confidence)**" in paired
    assert "What B broke" not in paired  # the regressions table above lists the cases


def test_significant_gate_noise_passes_and_says_so() -> None:
    before, after = _paired_runs("PF" * 10, "FP" * 10)
    baseline, comparison = against(before, after, confidence=0.95, resamples=1000)
    text = format_markdown_summary(after, baseline=baseline, comparison=comparison, gate="significant")
    assert heading(text) == (
        "## ✅ llmeval: 20 cases, 50.0% passed, not worse than the baseline at 95% confidence "
        "(10 regressions, 10 metric drops, within chance)"
    )
    assert "Detectable: with 20 cases no pass-rate change under 30.0 points can be significant" in text


def test_paired_markdown_for_compare() -> None:
    from pytest_llmeval.markdown import format_paired_markdown
    from pytest_llmeval.paired_comparison import compare_paired

    before, after = _paired_runs("F" * 8 + "P" * 12, "P" * 20)
    text = format_paired_markdown(compare_paired(before, after, label_a="the | base", label_b="cand", resamples=1000))
    assert heading(text) == "## ✅ llmeval compare: B is better than A on pass rate, rouge\\_l (95% confidence)"
    assert "A = the \\| base  " in text
    assert "### What B fixed (A failed, B passes): 8" in text
    assert "| `evals/s.eval.yaml::c00` | failed → passed |  |" in text
    none = format_paired_markdown(compare_paired(run(case("x"), run_id="r1"), run(case("y")), resamples=1000))
    assert heading(none).startswith("## ⚪ llmeval compare: cannot tell")
    assert "**Cannot tell**: the two runs share no case that counts." in none

"""The ``llmeval`` command, called through ``main([...])``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.cli import main
from pytest_llmeval.inference_log import inference_log_path, write_inference_log
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import RunStore, baseline_from_run, read_baseline, write_baseline


def case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    fields.setdefault("output", f"output of {node_id}")
    fields.setdefault("prompt", f"prompt of {node_id}")
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def run(run_id: str, started_at: float, *cases: CaseRecord, complete: bool = True, dtype: str = "float32") -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + 3,
        complete=complete,
        model={"source": "./ckpt/run-7", "model_id": "fp1", "dtype": dtype, "device": "cpu"},
        settings={"max_new_tokens": 64, "batch_size": 8},
        versions={"torch": "2.13"},
        git_commit="abc1234",
        cases=list(cases),
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    store = RunStore(path)
    store.record_run(
        run(
            "aaaa0000good",
            1_700_000_000.0,
            case("evals/s.yaml::reset", metrics={"rouge_l": {"value": 0.62, "higher_is_better": True}}),
            case("evals/s.yaml::json"),
            case("test_x.py::test_skip", "skipped"),
        )
    )
    store.record_run(
        run(
            "bbbb1111bad",
            1_700_000_100.0,
            case(
                "evals/s.yaml::reset",
                "failed",
                message="contains_any: expected one of ['reset link']",
                metrics={"rouge_l": {"value": 0.41, "higher_is_better": True}},
                output="I dunno\nreally",
            ),
            case("evals/s.yaml::json"),
            case("evals/s.yaml::new", "error", message="boom"),
            complete=False,
            dtype="bfloat16",
        )
    )
    return path


def test_runs_table(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--history", str(history)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "started", "model", "passed", "failed", "other", "scope"]
    assert lines[1].split()[0] == "bbbb1111bad" and lines[1].split()[4:7] == ["1", "2", "0"]
    assert lines[1].endswith("PARTIAL: a selection or an interrupted session (recorded as incomplete)")
    assert lines[2].split()[0] == "aaaa0000good" and lines[2].split()[-4:] == ["2", "0", "1", "full"]
    assert "./ckpt/run-7" in lines[1]
    assert lines[1].index("./ckpt") == lines[0].index("model")  # aligned columns


def test_runs_marks_a_run_that_lacks_baseline_cases_as_partial(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = RunStore(history)
    write_baseline(tmp_path / "b.json", baseline_from_run(store.load_run("aaaa0000good")))
    store.record_run(run("cccc2222some", 1_700_000_200.0, case("evals/s.yaml::json")))  # like -k json
    assert main(["runs", "--history", str(history), "--baseline", str(tmp_path / "b.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("cccc2222some")
    assert lines[1].endswith("PARTIAL: ran 1 of the baseline's 3 cases (2 not run)")
    assert lines[3].endswith("full")


def test_runs_limit(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--history", str(history), "--limit", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_runs_empty_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.db"
    path.touch()
    assert main(["runs", "--history", str(path)]) == 0
    assert capsys.readouterr().out == f"no runs recorded in {path}\n"


def test_default_history_is_relative_to_cwd(
    history: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (history.parent / ".llmeval").mkdir()
    history.rename(history.parent / ".llmeval" / "history.db")
    monkeypatch.chdir(history.parent)
    assert main(["runs"]) == 0
    assert "aaaa0000good" in capsys.readouterr().out


def test_missing_history_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("llmeval: error: the run history .llmeval/history.db does not exist;")


def test_show(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "bbbb", "--history", str(history)]) == 0
    out = capsys.readouterr().out
    assert "run       bbbb1111bad  (INCOMPLETE: a selection, or the session stopped early)" in out
    assert "git       abc1234" in out
    assert "  dtype: bfloat16" in out and "  max_new_tokens: 64" in out and "  torch: 2.13" in out
    assert "cases (3: 1 error, 1 failed, 1 passed):" in out
    assert "  failed     0.00s  evals/s.yaml::reset  - contains_any: expected one of ['reset link']" in out
    assert "prompt of" not in out  # outputs only when asked


def test_show_outputs_without_an_inference_log_falls_back_to_the_history(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "latest", "--history", str(history), "--outputs"]) == 0
    out = capsys.readouterr().out
    log = history.parent / "runs" / "bbbb1111bad" / "inferences.jsonl"
    assert f"no inference log at {log}: showing each case's first output from the history" in out
    assert (
        "== evals/s.yaml::reset (failed)\nprompt:\n    prompt of evals/s.yaml::reset\noutput:\n    I dunno\n    really\n"
        in out
    )


def _log_entry(node_id: str, output: str, **fields: Any) -> dict[str, Any]:
    entry = {
        "node_id": node_id,
        "phase": "call",
        "index": 0,
        "prompt": f"prompt of {node_id}",
        "messages": None,
        "system": None,
        "params": {"max_new_tokens": 64, "do_sample": False},
        "output": output,
        "num_tokens": 3,
        "finish_reason": "stop",
        "latency_s": 0.25,
        "source": "generated",
    }
    entry.update(fields)
    return entry


def test_show_outputs_prints_every_generation_from_the_inference_log(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_inference_log(
        inference_log_path(history, "bbbb1111bad"),
        [
            _log_entry("evals/s.yaml::reset", "I dunno", phase="setup"),
            _log_entry("evals/s.yaml::reset", "second", index=1, num_tokens=1, source="cache"),
            _log_entry(
                "test_chat.py::test_chat",
                "bonjour",
                prompt=None,
                system="Be brief.",
                messages=[{"role": "user", "content": "Say hi\nin French"}],
            ),
        ],
    )
    assert main(["show", "bbbb", "--history", str(history), "--outputs"]) == 0
    out = capsys.readouterr().out
    assert "outputs (3, from " in out
    assert (
        "== evals/s.yaml::reset (failed)\n"
        "-- output 1 of 2 (setup; 3 tokens; finish: stop; 0.250 s)  [do_sample=False, max_new_tokens=64]\n"
        "prompt:\n    prompt of evals/s.yaml::reset\noutput:\n    I dunno\n"
        "-- output 2 of 2 (call; 1 token; finish: stop; 0.250 s; from the cache)"
    ) in out
    assert (
        "== test_chat.py::test_chat (not recorded)\n-- output (call; 3 tokens; finish: stop; 0.250 s)"
        "  [do_sample=False, max_new_tokens=64]\nsystem:\n    Be brief.\nmessages:\n    user:\n"
        "      Say hi\n      in French\noutput:\n    bonjour\n"
    ) in out


def test_show_outputs_with_a_damaged_log_names_the_line(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = inference_log_path(history, "bbbb1111bad")
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps(_log_entry("a", "x")) + "\n{not json\n", encoding="utf-8")
    assert main(["show", "latest", "--history", str(history), "--outputs"]) == 0
    out = capsys.readouterr().out
    assert f"{log}:2: not a JSON object" in out and "showing each case's first output from the history" in out


def test_report_writes_a_dashboard_against_the_previous_run(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no llmeval-baseline.json here: the previous run is the reference
    out_path = tmp_path / "site" / "report.html"
    assert main(["report", "--history", str(history), "--out", str(out_path)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {out_path}: run bbbb1111bad (3 cases) (partial: a selection or an interrupted session (recorded "
        f"as incomplete)) against the previous run aaaa0000good "
        f"({_local(1_700_000_000.0)}); 2 runs in the charts\n"
    )
    data = _embedded_data(out_path)
    assert data["reference"]["kind"] == "previous run"
    assert [r["short_id"] for r in data["runs"]] == ["aaaa0000good", "bbbb1111bad"]
    reset = next(c for c in data["cases"] if c["node_id"] == "evals/s.yaml::reset")
    assert reset["change"] == "regressed" and reset["baseline_output"] == "output of evals/s.yaml::reset"
    assert data["paired"]["confidence"] == 0.95 and data["paired"]["label_b"] == "run bbbb1111bad"
    assert (
        main(["report", "--history", str(history), "--out", str(out_path), "--confidence", "0.8", "--resamples", "500"])
        == 0
    )
    assert (_embedded_data(out_path)["paired"]["confidence"], _embedded_data(out_path)["paired"]["resamples"]) == (
        0.8,
        500,
    )


def test_report_uses_the_baseline_in_the_folder(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_baseline(tmp_path / "llmeval-baseline.json", baseline_from_run(RunStore(history).load_run("aaaa")))
    assert main(["report", "--history", str(history), "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert (
        "(partial: ran 2 of the baseline's 3 cases (1 not run)) against the baseline llmeval-baseline.json (run aaaa0000good); 1 run in the charts"
        in out
    )
    data = _embedded_data(tmp_path / "llmeval-report.html")
    assert data["reference"]["kind"] == "baseline" and len(data["runs"]) == 1
    assert data["comparison_counts"]["regressions"] == 2  # reset regressed, new errors
    assert main(["report", "--history", str(history), "--no-baseline"]) == 0
    assert "against the previous run aaaa0000good" in capsys.readouterr().out


def test_report_errors(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--history", str(tmp_path / "none.db")]) == 2
    assert "none.db does not exist" in capsys.readouterr().err
    assert main(["report", "--history", str(history), "--baseline", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    empty.touch()
    assert main(["report", "--history", str(empty), "--out", str(tmp_path / "r.html")]) == 2
    assert "holds no runs yet" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def _local(timestamp: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _embedded_data(path: Path) -> dict[str, Any]:
    import re

    html = path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="llmeval-data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_show_unknown_run(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "cccc", "--history", str(history)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llmeval: error: no run 'cccc' in the run history ")
    assert "bbbb1111bad" in err and err.count("\n") == 1


def test_diff_runs_regressed_exit_1(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["diff", "previous", "latest", "--history", str(history), "--tolerance", "rouge_l=0.05", "--width=0"]) == 1
    )
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("WARNING: generation settings differ from the baseline's: dtype: float32 -> bfloat16")
    assert "1 regression, 1 metric drop, 1 new failing, 1 changed output, 1 not run" in lines[1]
    assert "rouge_l 0.62 -> 0.41 (tolerance 0.05)" in out
    assert "passed -> failed: contains_any: expected one of ['reset link']" in out


@pytest.mark.parametrize("columns", [80, 120])
def test_diff_fits_its_table_to_the_terminal(
    history: Path, columns: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(history)
    long_id = "evals/test_account_help.py::test_answers_point_to_the_right_page[Where can I download my invoices?]"
    reason = "contains: expected 'Billing' (case-insensitive); not found in 'Open Settings, choose Account, and more'"
    store.record_run(run("cccc2222long", 1_700_000_200.0, case(long_id), case("evals/s.yaml::json")))
    store.record_run(
        run("dddd3333long", 1_700_000_300.0, case(long_id, "failed", message=reason), case("evals/s.yaml::json"))
    )
    monkeypatch.setenv("COLUMNS", str(columns))
    assert main(["diff", "cccc", "dddd", "--history", str(history)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines and max(len(line) for line in lines) <= columns
    # the table as the session summary fits it: the id keeps its end (its parameters), the reason its start
    (row,) = [line for line in lines if line.startswith("  regression")]
    assert "invoices?]" in row and "passed -> failed: contains" in row and "..." in row.split("invoices?]")[0]
    assert row.endswith("...") and len(row) > columns - 5  # the reason takes the rest of the width
    # asked for whole lines: nothing cut
    assert main(["diff", "cccc", "dddd", "--history", str(history), "--width", "0"]) == 1
    whole = capsys.readouterr().out
    assert long_id in whole and reason in whole


def test_diff_lists_the_cases_b_did_not_run_with_v(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "aaaa", "bbbb", "--history", str(history), "--width=0"]) == 1
    assert "1 case of the baseline not run (deselected or removed; -v lists them)" in capsys.readouterr().out
    assert main(["diff", "aaaa", "bbbb", "--history", str(history), "--width=0", "-v"]) == 1
    out = capsys.readouterr().out
    assert "not run" in out and "test_x.py::test_skip" in out and "-v lists them" not in out


def test_diff_tolerance_does_not_hide_a_regression(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "aaaa", "bbbb", "--history", str(history), "--default-tolerance", "1"]) == 1
    assert "metric drop" not in capsys.readouterr().out


def test_diff_clean_exit_0(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "aaaa", "aaaa", "--history", str(history), "--width=0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("no differences")
    assert (
        lines[1]
        == "paired statistics: A = run aaaa0000good, model ./ckpt/run-7; B = run aaaa0000good, model ./ckpt/run-7"
    )
    assert lines[-2:] == [
        "detectable: 2 cases cannot make any pass-rate change significant",
        "verdict: no significant difference at 95% confidence",
    ]


def _suite_history(tmp_path: Path, before: str, after: str) -> Path:
    """Two runs of one suite of len(before) cases: 'P' passed, 'F' failed; rouge_l follows the outcome."""
    path = tmp_path / "suite.db"
    store = RunStore(path)
    for run_id, started, pattern in (
        ("aaaa0000base", 1_700_000_000.0, before),
        ("bbbb1111cand", 1_700_000_100.0, after),
    ):
        cases = [
            case(
                f"evals/s.eval.yaml::c{i:02d}",
                "passed" if c == "P" else "failed",
                message=None if c == "P" else f"contains_any: expected one of ['x{i}']",
                metrics={"rouge_l": {"value": 0.8 if c == "P" else 0.2, "higher_is_better": True}},
            )
            for i, c in enumerate(pattern)
        ]
        store.record_run(run(run_id, started, *cases))
    return path


def test_compare_a_worse_model_exits_1_with_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = _suite_history(tmp_path, "P" * 20, "F" * 10 + "P" * 10)
    assert main(["compare", "previous", "latest", "--history", str(history), "--resamples", "2000"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("llmeval compare: A = run aaaa0000base, model ./ckpt/run-7\n")
    assert "pass rate: A 100.0% [83.9%, 100.0%]  B 50.0% [29.9%, 70.1%]  (Wilson 95% intervals)" in out
    assert "B - A: -50.0 points (95% interval [" in out and "exact McNemar p = 0.002 (0 fixed, 10 broke)" in out
    assert "verdict: B is WORSE than A on pass rate, rouge_l (95% confidence)" in out
    assert "broke   evals/s.eval.yaml::c00  passed  failed  contains_any: expected one of ['x0']" in out
    # the same two runs the other way round: better, exit 0
    assert main(["compare", "latest", "previous", "--history", str(history), "--resamples", "2000"]) == 0
    assert "verdict: B is better than A on pass rate, rouge_l" in capsys.readouterr().out


def test_compare_noise_is_no_verdict_and_names_the_detectable_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _suite_history(tmp_path, "PF" * 10, "FP" * 10)  # every case flips, as many each way
    assert main(["compare", "aaaa", "bbbb", "--history", str(history), "--ties"]) == 0
    out = capsys.readouterr().out
    assert "exact McNemar p = 1.000 (10 fixed, 10 broke)" in out
    assert "detectable: with 20 cases no pass-rate change under 30.0 points can be significant" in out
    assert "verdict: no significant difference at 95% confidence" in out


def test_compare_writes_markdown_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = _suite_history(tmp_path, "P" * 20, "F" * 10 + "P" * 10)
    md, page = tmp_path / "cmp.md", tmp_path / "cmp.html"
    assert main(["compare", "aaaa", "bbbb", "--history", str(history), "--markdown", str(md), "--html", str(page)]) == 1
    assert f"wrote {md}" in capsys.readouterr().out
    text = md.read_text(encoding="utf-8")
    assert text.startswith("## ❌ llmeval compare: B is WORSE than A on pass rate, rouge\\_l (95% confidence)")
    assert "### What B broke (A passed, B fails): 10" in text
    data = _embedded_data(page)
    assert data["paired"]["verdict"] == "worse"
    assert data["reference"]["kind"] == "run A"


def test_compare_html_needs_a_run_for_b(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = tmp_path / "b.json"
    assert main(["baseline", "aaaa", "--history", str(history), "--out", str(baseline)]) == 0
    capsys.readouterr()
    assert main(["compare", "aaaa", str(baseline), "--history", str(history), "--html", str(tmp_path / "x.html")]) == 2
    assert "--html draws run B's cases with their outputs, but" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--confidence", "95"], "'95' is not a confidence from 0.5 up to (not including) 1"),
        (["--resamples", "10"], "'10' is too few resamples; use at least 100"),
        (["--seed", "x"], "'x' is not a whole number"),
    ],
)
def test_compare_bad_options(history: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["compare", "aaaa", "bbbb", "--history", str(history), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_diff_significant_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    noise = _suite_history(tmp_path, "PF" * 10, "FP" * 10)
    assert main(["diff", "aaaa", "bbbb", "--history", str(noise)]) == 1  # the regressions gate: 10 regressions
    assert main(["diff", "aaaa", "bbbb", "--history", str(noise), "--gate", "significant"]) == 0
    worse = _suite_history(tmp_path / "w", "P" * 20, "F" * 10 + "P" * 10) if (tmp_path / "w").mkdir() is None else None
    assert worse is not None
    assert main(["diff", "aaaa", "bbbb", "--history", str(worse), "--gate", "significant"]) == 1
    assert "verdict: B is WORSE than A on pass rate" in capsys.readouterr().out


def test_diff_baseline_file_against_run(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = tmp_path / "b.json"
    assert main(["baseline", "aaaa", "--history", str(history), "--out", str(baseline)]) == 0
    capsys.readouterr()
    assert main(["diff", str(baseline), "latest", "--history", str(history)]) == 1
    assert "regression" in capsys.readouterr().out
    assert main(["diff", str(baseline), str(baseline), "--history", str(history)]) == 0  # two files


def test_diff_bad_baseline_exits_2(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("{oops", encoding="utf-8")
    assert main(["diff", str(bad), "latest", "--history", str(history)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"llmeval: error: the baseline {bad} is not valid JSON: ") and "line 1 column 2" in err


def test_diff_bad_tolerance_is_a_usage_error(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["diff", "aaaa", "bbbb", "--history", str(history), "--tolerance", "rouge_l"])
    assert excinfo.value.code == 2
    assert "'rouge_l' is not NAME=VALUE with a non-negative number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--tolerance",
            "rouge_l=nan",
            "'rouge_l=nan' is not NAME=VALUE with a non-negative number (e.g. rouge_l=0.05; not nan or inf)",
        ),
        (
            "--tolerance",
            "rouge_l=inf",
            "'rouge_l=inf' is not NAME=VALUE with a non-negative number (e.g. rouge_l=0.05; not nan or inf)",
        ),
        ("--default-tolerance", "nan", "'nan' is not a finite non-negative number"),
        ("--default-tolerance", "inf", "'inf' is not a finite non-negative number"),
    ],
)
def test_diff_nan_or_infinite_tolerance_is_a_usage_error(
    history: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str
) -> None:
    # an infinite tolerance switches the comparison off for that metric; NaN compares false
    with pytest.raises(SystemExit) as excinfo:
        main(["diff", "aaaa", "bbbb", "--history", str(history), flag, value])
    assert excinfo.value.code == 2
    assert message in capsys.readouterr().err


def test_baseline_default_out(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["baseline", "aaaa", "--history", str(history)]) == 0
    assert capsys.readouterr().out == "wrote 3 cases from run aaaa0000good to llmeval-baseline.json\n"
    written = read_baseline(tmp_path / "llmeval-baseline.json")
    assert written == baseline_from_run(RunStore(history).load_run("aaaa"))
    assert (
        json.loads((tmp_path / "llmeval-baseline.json").read_text(encoding="utf-8"))["run"]["run_id"] == "aaaa0000good"
    )


def test_baseline_new_only(history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    old = baseline_from_run(RunStore(history).load_run("aaaa"))
    write_baseline(out, old)
    assert main(["baseline", "latest", "--history", str(history), "--out", str(out), "--new-only"]) == 0
    assert capsys.readouterr().out.startswith(f"added 1 new case from run bbbb1111bad to {out} (4 in all;")
    merged = read_baseline(out)
    assert merged.run == old.run
    assert merged.cases["evals/s.yaml::reset"] == old.cases["evals/s.yaml::reset"]  # kept, though it now fails
    assert merged.cases["evals/s.yaml::new"].outcome == "error"


def test_baseline_new_only_without_a_file_writes_all(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.json"
    assert main(["baseline", "aaaa", "--history", str(history), "--out", str(out), "--new-only"]) == 0
    assert "wrote 3 cases" in capsys.readouterr().out
    assert out.exists()


def test_baseline_new_only_with_corrupt_file_exits_2(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.json"
    out.write_text("[]", encoding="utf-8")
    assert main(["baseline", "aaaa", "--history", str(history), "--out", str(out), "--new-only"]) == 2
    assert "must hold a JSON object at the top" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "[]"


def test_baseline_into_missing_folder_exits_2(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["baseline", "aaaa", "--history", str(history), "--out", str(tmp_path / "no" / "b.json")]) == 2
    assert "folder" in capsys.readouterr().err


def test_corrupt_history_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"garbage" * 200)
    assert main(["runs", "--history", str(path)]) == 2
    assert "is unreadable (file is not a database); move it aside" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main([])
    assert excinfo.value.code == 2


def test_show_outputs_escapes_control_characters_and_lone_surrogates(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A lone surrogate from a py: model crashed `llmeval show --outputs` (UnicodeEncodeError); ANSI
    # escapes, BEL and NUL reached the terminal raw.
    output = "lone \ud800 high \x1b[31mred\x07 nul\x00 back\u202etxt\nsecond\tline"
    write_inference_log(inference_log_path(history, "bbbb1111bad"), [_log_entry("evals/s.yaml::reset", output)])
    assert main(["show", "bbbb", "--history", str(history), "--outputs"]) == 0
    out = capsys.readouterr().out
    assert "output:\n    lone \\ud800 high \\x1b[31mred\\x07 nul\\x00 back\\u202etxt\n    second\tline\n" in out
    # the log keeps the output exact
    from pytest_llmeval.inference_log import read_inference_log

    assert read_inference_log(inference_log_path(history, "bbbb1111bad"))[0]["output"] == output


def test_demo_model_writes_the_shipped_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_llmeval.demo import SHIPPED_DEMO_MODEL, SHIPPED_WEAK_DEMO_MODEL

    assert main(["demo-model", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / "model.safetensors").read_bytes() == (
        SHIPPED_DEMO_MODEL / "model.safetensors"
    ).read_bytes()
    assert main(["demo-model", str(tmp_path / "weak"), "--weak"]) == 0
    assert (tmp_path / "weak" / "model.safetensors").read_bytes() == (
        SHIPPED_WEAK_DEMO_MODEL / "model.safetensors"
    ).read_bytes()
    out = capsys.readouterr().out
    assert f"wrote the weak demo model (shipped weights) to {tmp_path / 'weak'}" in out
    assert f"try: pytest example_suite --llm-model={tmp_path / 'weak'}" in out


def test_demo_model_bad_steps_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-model", str(tmp_path / "m"), "--steps", "0"]) == 2
    assert "--steps must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["demo-model", str(tmp_path / "m"), "--weak", "--steps", "3"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import pytest_llmeval

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"llmeval (pytest-llmeval) {pytest_llmeval.__version__}\n"


def test_report_of_a_chosen_run(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--history", str(history), "--out", "r.html", "--run", "aaaa"]) == 0
    assert "wrote r.html: run aaaa0000good (3 cases) against nothing (a single run and no baseline); 1 run" in (
        capsys.readouterr().out
    )
    assert main(["report", "--history", str(history), "--run", "nope"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err


def _history_of(tmp_path: Path, count: int) -> tuple[Path, list[str]]:
    path = tmp_path / ".llmeval" / "history.db"
    path.parent.mkdir()
    now = time.time()
    ids = []
    for n in range(count):
        run_id = f"{n:04d}" + "f" * 28
        RunStore(path).record_run(run(run_id, now - (count - n) * 86400, case("t.py::a")))
        write_inference_log(inference_log_path(path, run_id), [{"node_id": "t.py::a", "output": "x"}])
        ids.append(run_id)
    return path, ids  # oldest first; one run a day, the newest a day old


def test_prune_keeps_the_newest_runs_and_the_baselines_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    history, ids = _history_of(tmp_path, 5)
    monkeypatch.chdir(tmp_path)
    write_baseline(tmp_path / "llmeval-baseline.json", baseline_from_run(RunStore(history).load_run(ids[0])))
    assert main(["prune", "--history", str(history), "--keep", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete run 0002ffffffff" in out and "would delete 2 runs; 5 in" in out
    assert len(RunStore(history).runs(limit=None)) == 5
    assert main(["prune", "--history", str(history), "--keep", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [line for line in out if line.startswith("deleted run ")]
    assert "kept run 0000ffffffff: the baseline llmeval-baseline.json accepted it" in out
    assert out[-1] == f"deleted 2 runs; 3 in {history}"
    assert [s.run_id for s in RunStore(history).runs(limit=None)] == [ids[4], ids[3], ids[0]]
    assert not (history.parent / "runs" / ids[1]).exists() and (history.parent / "runs" / ids[0]).exists()


def test_prune_by_age(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    history, ids = _history_of(tmp_path, 4)
    monkeypatch.chdir(tmp_path)  # no baseline here
    assert main(["prune", "--history", str(history), "--older-than", "2.5"]) == 0  # runs 3 and 4 days old go
    assert [s.run_id for s in RunStore(history).runs(limit=None)] == [ids[3], ids[2]]
    assert capsys.readouterr().out.splitlines()[-1] == f"deleted 2 runs; 2 in {history}"


def test_prune_needs_a_rule_and_valid_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history, _ = _history_of(tmp_path, 1)
    assert main(["prune", "--history", str(history)]) == 2
    assert "say what to delete: --keep N (the newest N stay) and/or --older-than DAYS" in capsys.readouterr().err
    for bad in (["--keep", "0"], ["--older-than", "-1"], ["--older-than", "soon"]):
        with pytest.raises(SystemExit):
            main(["prune", "--history", str(history), *bad])
        assert "prune: error: argument" in capsys.readouterr().err


def test_compare_warns_when_generation_settings_differ(history: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["compare", "aaaa", "bbbb", "--history", str(history)])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "WARNING: generation settings differ between A and B: dtype: float32 -> bfloat16 "
        "(outputs may differ for that reason alone)"
    )

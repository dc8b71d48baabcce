"""Whole sessions: the inference log, the HTML report (--llm-report) and the Markdown summary
(--llm-markdown), serial and under xdist; and `llmeval show --outputs` / `llmeval report` after them."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.cli import main
from pytest_llmeval.inference_log import read_inference_log
from pytest_llmeval.store import RunStore

BOT = """
import json, pathlib

def answer(prompt):
    if isinstance(prompt, list):  # a chat: system first
        return "chat: " + " / ".join(m["role"] + "=" + m["content"] for m in prompt)
    return json.loads(pathlib.Path("answers.json").read_text(encoding="utf-8")).get(prompt, "no idea")
"""

CASES = """
cases:
  - {id: reset, prompt: reset, tags: [account], expect: {contains: Forgot Password}}
  - {id: refund, prompt: refund, tags: [billing], expect: {contains: refund}}
"""

TESTS = """
import pytest

@pytest.mark.llm(prompt="hello", max_new_tokens=5)
@pytest.mark.success_mode
def test_marker(llm_output):
    assert "hi" in llm_output

@pytest.mark.billing
@pytest.mark.retries(3)
@pytest.mark.flaky
def test_two_calls(llm):
    llm.generate("refund")
    out = llm.generate([{"role": "user", "content": "Bonjour"}], system="Be brief.")
    assert out.startswith("chat:")
"""


MARKERS_INI = "[pytest]\nmarkers =\n    billing\n    retries(n)\n    flaky\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT, test_suite=TESTS)
    pytester.makeini(MARKERS_INI)
    (pytester.path / "support.eval.yaml").write_text(textwrap.dedent(CASES).lstrip(), encoding="utf-8")
    answers(pytester, reset="Click Forgot Password.", refund="We refund within 5 days.", hello="hi there")
    return pytester


def answers(pytester: pytest.Pytester, **values: str) -> None:
    (pytester.path / "answers.json").write_text(json.dumps(values), encoding="utf-8")


def run(pytester: pytest.Pytester, *args: str, xdist: bool = False) -> pytest.RunResult:
    if xdist:
        return pytester.runpytest_subprocess("--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", *args)
    return pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", *args)


def latest_log(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    run_id = RunStore(pytester.path / ".llmeval" / "history.db").resolve("latest")
    return read_inference_log(pytester.path / ".llmeval" / "runs" / run_id / "inferences.jsonl")


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_the_inference_log_holds_every_generation_of_the_run(project: pytest.Pytester, xdist: bool) -> None:
    result = run(project, xdist=xdist)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["inference log: 5 outputs in *.llmeval/runs/*/inferences.jsonl"])
    entries = latest_log(project)
    by_test: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_test.setdefault(entry["node_id"], []).append(entry)
    assert sorted(by_test) == [
        "support.eval.yaml::refund",
        "support.eval.yaml::reset",
        "test_suite.py::test_marker",
        "test_suite.py::test_two_calls",
    ]
    marker = by_test["test_suite.py::test_marker"][0]
    assert marker["phase"] == "setup"  # llm_output generates while the fixture is set up
    assert marker["prompt"] == "hello" and marker["output"] == "hi there"
    assert marker["params"] == {"max_new_tokens": 5, "do_sample": False}
    assert marker["finish_reason"] == "unknown" and marker["source"] == "generated" and marker["latency_s"] >= 0
    first, chat = by_test["test_suite.py::test_two_calls"]  # in the order the test made them
    assert (first["index"], first["phase"], first["output"]) == (0, "call", "We refund within 5 days.")
    assert first["params"]["max_new_tokens"] == 64  # the session default, as generated
    assert chat["index"] == 1 and chat["prompt"] is None and chat["system"] == "Be brief."
    assert chat["messages"] == [{"role": "user", "content": "Bonjour"}]
    assert chat["output"] == "chat: system=Be brief. / user=Bonjour"
    # the history records each case's tags: case-file tags and a Python test's own markers
    cases = {c.node_id: c for c in RunStore(project.path / ".llmeval" / "history.db").load_run("latest").cases}
    assert cases["support.eval.yaml::reset"].tags == ["account"]
    # a marker with arguments configures a test, and flaky is a plugin's: neither is a tag
    assert cases["test_suite.py::test_two_calls"].tags == ["billing"]
    assert cases["test_suite.py::test_marker"].tags == []  # llm and success_mode say how, not what


def test_show_outputs_reads_the_inference_log(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
    run(project).assert_outcomes(passed=4)
    capsys.readouterr()
    assert main(["show", "latest", "--outputs"]) == 0  # pytester's folder is the working directory
    out = capsys.readouterr().out
    assert "outputs (5, from .llmeval/runs/" in out
    assert "== test_suite.py::test_two_calls (passed)\n-- output 1 of 2 (call; finish: unknown; " in out
    assert "messages:\n    user:\n      Bonjour\noutput:\n    chat: system=Be brief. / user=Bonjour\n" in out


def test_a_run_without_a_model_writes_no_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / ".llmeval").exists()
    assert "inference log" not in result.stdout.str()


def _embedded(path: Path) -> dict[str, Any]:
    html = path.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="llmeval-data">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_report_and_markdown_after_a_gated_run_with_a_regression(project: pytest.Pytester, xdist: bool) -> None:
    run(project, "--llm-update-baseline").assert_outcomes(passed=4)
    answers(project, reset="I do not know.", refund="We refund within 5 days.", hello="hi there")
    result = run(
        project, "--llm-gate=regressions", "--llm-report=out/report.html", "--llm-markdown=out/summary.md", xdist=xdist
    )
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["markdown summary: *out/summary.md", "report: *out/report.html"])
    data = _embedded(project.path / "out" / "report.html")
    assert data["reference"]["kind"] == "baseline" and len(data["runs"]) == 2
    assert data["comparison_counts"]["regressions"] == 1
    reset = data["cases"][0]  # worst first
    assert reset["node_id"] == "support.eval.yaml::reset" and reset["change"] == "regressed"
    assert reset["output"] == "I do not know." and reset["baseline_output"] == "Click Forgot Password."
    assert reset["generations"] == 1 and reset["tags"] == ["account"]
    assert {r["name"]: r["pass_rate"] for r in data["breakdowns"]["tag"]} == {"account": 0.0, "billing": 1.0}
    markdown = (project.path / "out" / "summary.md").read_text(encoding="utf-8")
    assert markdown.startswith("## ❌")
    assert "`support.eval.yaml::reset`" in markdown and "passed → failed" in markdown


def test_report_with_no_baseline_and_a_single_run(project: pytest.Pytester) -> None:
    result = run(project, "--llm-report=report.html", "--llm-markdown=summary.md")
    result.assert_outcomes(passed=4)
    data = _embedded(project.path / "report.html")
    assert data["reference"]["kind"] is None and data["latest"]["pass_rate"] == 1.0
    assert (project.path / "summary.md").read_text(encoding="utf-8").startswith("## ✅")


def test_report_options_from_the_ini_file(project: pytest.Pytester) -> None:
    project.makeini(MARKERS_INI + "llm_report = reports/llmeval.html\nllm_markdown = reports/llmeval.md\n")
    run(project).assert_outcomes(passed=4)
    assert (project.path / "reports" / "llmeval.html").is_file() and (project.path / "reports" / "llmeval.md").is_file()


@pytest.mark.parametrize("flag", ["--llm-report", "--llm-markdown"])
def test_an_output_path_that_is_a_folder_is_a_usage_error(project: pytest.Pytester, flag: str) -> None:
    (project.path / "site").mkdir()
    result = run(project, f"{flag}=site")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: {flag}: *site is a folder; give the file to write, e.g. *site/llmeval-report"]
    )


def test_an_unwritable_report_is_a_warning_not_a_failure(project: pytest.Pytester) -> None:
    (project.path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    result = run(project, "--llm-report=blocker/report.html", "--llm-markdown=blocker/summary.md")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["warning: the Markdown summary was not written: *blocker*", "warning: the report was not written: *blocker*"]
    )


TOLERANT_CASES = """
defaults: {tolerance: {rouge_l: 0.3}}
cases:
  - {id: reset, prompt: reset, expect: {rouge_l: {reference: Click Forgot Password on the sign-in page., min: 0}}}
  - id: strict
    prompt: strict
    tolerance: {rouge_l: 0}
    expect: {rouge_l: {reference: Click Forgot Password on the sign-in page., min: 0}}
"""


def test_a_run_records_its_tolerances_so_a_later_report_judges_drops_like_the_gate(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "t.eval.yaml").write_text(textwrap.dedent(TOLERANT_CASES).lstrip(), encoding="utf-8")
    (pytester.path / "other.eval.yaml").write_text(
        "cases:\n  - {id: x, prompt: x, expect: {rouge_l: {reference: a b c d, min: 0}}}\n", encoding="utf-8"
    )
    same = "Click Forgot Password on the sign-in page."
    answers(pytester, reset=same, strict=same, x="a b c d")
    run(pytester, "--llm-update-baseline", "--llm-metric-tolerance=rouge_l=0.6").assert_outcomes(passed=3)
    recorded = {
        c.node_id: c.tolerances for c in RunStore(pytester.path / ".llmeval" / "history.db").load_run("latest").cases
    }
    # the case file's own tolerances win over the ini/flag's, which covers the other file
    assert recorded == {
        "t.eval.yaml::reset": {"rouge_l": 0.3},
        "t.eval.yaml::strict": {"rouge_l": 0.0},
        "other.eval.yaml::x": {"rouge_l": 0.6},
    }
    slightly_off = "Click Forgot Password on the page."  # rouge_l drops by about 0.13
    answers(pytester, reset=slightly_off, strict=slightly_off, x="a b")  # x drops by 0.33
    gated = run(pytester, "--llm-gate=regressions", "--llm-metric-tolerance=rouge_l=0.6")
    gated.stdout.fnmatch_lines(["*metric drop*t.eval.yaml::strict*"])
    assert "metric drop     t.eval.yaml::reset" not in gated.stdout.str()
    assert "metric drop     other.eval.yaml::x" not in gated.stdout.str()
    capsys.readouterr()
    # later, from the history alone: the same drops as the gate found
    assert main(["report", "--out", "r.html"]) == 0
    data = _embedded(pytester.path / "r.html")
    assert [c["node_id"] for c in data["cases"] if c["change"] == "metric drop"] == ["t.eval.yaml::strict"]
    capsys.readouterr()
    assert main(["diff", "llmeval-baseline.json", "latest"]) == 1
    drops = [line.split()[2] for line in capsys.readouterr().out.splitlines() if line.split()[:2] == ["metric", "drop"]]
    assert drops == ["t.eval.yaml::strict"]


def test_generations_from_threads_and_fixture_teardown_are_logged(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_more="""
        from concurrent.futures import ThreadPoolExecutor
        import pytest

        @pytest.fixture
        def after(llm):
            yield
            llm.generate("hello")  # after the test: still this test's generation

        def test_threads(llm, after):
            with ThreadPoolExecutor(max_workers=4) as pool:
                outputs = list(pool.map(llm.generate, ["reset", "refund", "hello", "nothing"]))
            assert len(outputs) == 4
        """
    )
    result = run(project, "test_more.py")
    result.assert_outcomes(passed=1)
    entries = [e for e in latest_log(project) if e["node_id"] == "test_more.py::test_threads"]
    assert sorted(e["prompt"] for e in entries if e["phase"] == "call") == ["hello", "nothing", "refund", "reset"]
    assert [(e["phase"], e["prompt"], e["index"]) for e in entries if e["phase"] == "teardown"] == [
        ("teardown", "hello", 4)
    ]


def test_a_lone_surrogate_in_an_output_loses_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        bot='def answer(prompt):\n    return "bad \\udcff byte"\n',
        test_s='import pytest\n\n@pytest.mark.llm(prompt="x")\ndef test_s(llm_output):\n    assert "good" in llm_output\n',
    )
    result = pytester.runpytest(
        "--llm-model=py:bot:answer",
        "-p",
        "no:cacheprovider",
        "--llm-report=r.html",
        "--llm-markdown=s.md",
        "--llm-update-baseline",
    )
    result.assert_outcomes(failed=1)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert RunStore(pytester.path / ".llmeval" / "history.db").load_run("latest").cases[0].output == "bad \ufffd byte"
    assert latest_log(pytester)[0]["output"] == "bad \udcff byte"  # the log keeps it exactly, as a JSON escape
    assert (pytester.path / "r.html").is_file() and (pytester.path / "s.md").is_file()
    assert (pytester.path / "llmeval-baseline.json").is_file()


def test_markdown_says_so_when_no_case_ran(project: pytest.Pytester) -> None:
    result = run(project, "-k", "matches_nothing", "--llm-markdown=s.md")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert (project.path / "s.md").read_text(encoding="utf-8").startswith("## ⚪ llmeval: no eval cases ran")


def test_a_baseline_that_cannot_be_written_is_a_warning_and_the_summaries_are_still_written(
    project: pytest.Pytester,
) -> None:
    result = run(project, "--llm-update-baseline", "--llm-baseline=missing/dir/b.json", "--llm-markdown=s.md")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["warning: baseline not updated: cannot write the baseline *missing/dir/b.json*"])
    assert "INTERNALERROR" not in result.stdout.str() and (project.path / "s.md").is_file()

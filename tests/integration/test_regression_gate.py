"""Regression tracking in whole sessions: history, baseline, the pre-merge gate, xdist, faults."""

from __future__ import annotations

import json
import sqlite3
import textwrap

import pytest

from .bot_sessions import run

BOT = """
import json, pathlib

def answer(prompt):
    return json.loads(pathlib.Path("answers.json").read_text(encoding="utf-8"))[prompt]
"""

CASES = """
cases:
  - {id: a, prompt: a, expect: {contains: good}}
  - {id: b, prompt: b, expect: {contains: good}}
  - {id: c, prompt: c, expect: {contains: good}}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "support.eval.yaml").write_text(textwrap.dedent(CASES).lstrip(), encoding="utf-8")
    answers(pytester, a="good answer", b="bad answer", c="good answer", d="good answer")
    return pytester


def answers(pytester: pytest.Pytester, **values: str) -> None:
    (pytester.path / "answers.json").write_text(json.dumps(values), encoding="utf-8")


def baseline(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "llmeval-baseline.json").read_text(encoding="utf-8"))


def test_the_whole_cycle(project: pytest.Pytester) -> None:
    # 1. Accept the first run as the baseline (b fails, and that is accepted too).
    first = run(project, "--llm-update-baseline")
    first.assert_outcomes(passed=2, failed=1)
    first.stdout.fnmatch_lines(
        ["run * recorded in *history.db", "baseline *llmeval-baseline.json: wrote 3 cases from this run"]
    )
    accepted = baseline(project)
    assert {k: v["outcome"] for k, v in accepted["cases"].items()} == {
        "support.eval.yaml::a": "passed",
        "support.eval.yaml::b": "failed",
        "support.eval.yaml::c": "passed",
    }

    # 2. The pre-merge gate: b fails in the baseline too, so it does not fail the session.
    gated = run(project, "--llm-gate=regressions", "-rx")
    gated.assert_outcomes(passed=2, xfailed=1)
    gated.stdout.fnmatch_lines(["XFAIL support.eval.yaml::b - fails in baseline too"])
    assert gated.ret == pytest.ExitCode.OK

    # 3. A change breaks a and fixes b: exit 1 with the regression table, worst first.
    answers(project, a="bad answer", b="good answer", c="good answer")
    broken = run(project, "--llm-gate=regressions")
    broken.assert_outcomes(passed=2, failed=1)
    assert broken.ret == pytest.ExitCode.TESTS_FAILED
    out = broken.stdout.str()
    assert out.index("support.eval.yaml::a") < out.index(
        "support.eval.yaml::b", out.index("compared with the baseline")
    )
    broken.stdout.fnmatch_lines(
        [
            "compared with the baseline *",
            "*regression*support.eval.yaml::a*passed -> failed*",
            "*fix*support.eval.yaml::b*",
        ]
    )
    assert baseline(project) == accepted  # a gated run never changes the baseline

    # 4. Accept again: now a is the accepted failure.
    run(project, "--llm-update-baseline")
    run(project, "--llm-gate=regressions").assert_outcomes(passed=2, xfailed=1)

    # 5. Grow the set by one case and accept only it.
    with (project.path / "support.eval.yaml").open("a", encoding="utf-8") as f:
        f.write("  - {id: d, prompt: d, expect: {contains: good}}\n")
    answers(project, a="bad answer", b="good answer", c="good answer", d="good answer")
    before = baseline(project)
    grown = run(project, "--llm-gate=regressions")
    grown.stdout.fnmatch_lines(["*new*support.eval.yaml::d*"])
    assert grown.ret == pytest.ExitCode.OK
    added = run(project, "--llm-update-baseline=new")
    added.stdout.fnmatch_lines(["baseline *: added 1 new case (support.eval.yaml::d)"])
    after = baseline(project)
    assert set(after["cases"]) - set(before["cases"]) == {"support.eval.yaml::d"}
    assert {k: after["cases"][k] for k in before["cases"]} == before["cases"] and after["run"] == before["run"]


def test_the_baseline_changes_only_when_asked(project: pytest.Pytester) -> None:
    run(project, "--llm-update-baseline")
    text = (project.path / "llmeval-baseline.json").read_bytes()
    answers(project, a="bad", b="bad", c="bad")
    run(project)
    run(project, "--llm-gate=strict")
    assert (project.path / "llmeval-baseline.json").read_bytes() == text


def test_strict_gate_fails_on_every_failure(project: pytest.Pytester) -> None:
    run(project, "--llm-update-baseline")
    strict = run(project, "--llm-gate=strict")
    strict.assert_outcomes(passed=2, failed=1)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--llm-gate regressions: * does not exist; create it with pytest --llm-update-baseline*"),
        ('{"format": 1, "cases": [', "--llm-gate regressions: *llmeval-baseline.json*"),
    ],
    ids=["missing", "corrupt"],
)
def test_a_gate_without_a_readable_baseline_is_a_usage_error(
    project: pytest.Pytester, content: str | None, message: str
) -> None:
    if content is not None:
        (project.path / "llmeval-baseline.json").write_text(content, encoding="utf-8")
    result = run(project, "--llm-gate=regressions")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


REFERENCE_CASES = """
cases:
  - {id: r, prompt: r, reference: Click Forgot Password on the sign-in page., expect: {rouge_l: 0.1}}
"""


def test_a_metric_drop_beyond_its_tolerance_fails_the_gate(project: pytest.Pytester) -> None:
    (project.path / "support.eval.yaml").write_text(textwrap.dedent(REFERENCE_CASES).lstrip(), encoding="utf-8")
    answers(project, r="Click Forgot Password on the sign-in page.")
    run(project, "--llm-update-baseline").assert_outcomes(passed=1)
    answers(project, r="Click the Forgot link on the page.")
    dropped = run(project, "--llm-gate=regressions")
    dropped.assert_outcomes(passed=1)  # the case still passes its threshold; the gate fails the session
    dropped.stdout.fnmatch_lines(["*rouge_l*1 -> 0.*", "llmeval::gate FAILED: 1 metric drop beyond the tolerance*"])
    assert dropped.ret == pytest.ExitCode.TESTS_FAILED
    tolerated = run(project, "--llm-gate=regressions", "--llm-metric-tolerance=rouge_l=0.9")
    tolerated.assert_outcomes(passed=1)
    assert tolerated.ret == pytest.ExitCode.OK


def test_settings_that_differ_from_the_baseline_are_warned_about(project: pytest.Pytester) -> None:
    run(project, "--llm-update-baseline")
    result = run(project, "--llm-max-new-tokens=7")
    result.stdout.fnmatch_lines(["*generation settings differ from the baseline*max_new_tokens: 64 -> 7*"])


def test_history_records_every_run_and_the_cli_reads_it(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_llmeval.cli import main

    run(project)
    run(project)
    history = project.path / ".llmeval" / "history.db"
    with sqlite3.connect(history) as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
        assert connection.execute("SELECT COUNT(*) FROM cases").fetchone()[0] == 6
    capsys.readouterr()  # drop the inner sessions' output
    assert main(["runs", "--history", str(history)]) == 0
    listing = capsys.readouterr().out
    assert listing.count("py:bot:answer") == 2
    assert main(["show", "latest", "--history", str(history), "--outputs"]) == 0
    assert "bad answer" in capsys.readouterr().out


def test_junit_properties_carry_checks_and_metrics(project: pytest.Pytester) -> None:
    (project.path / "support.eval.yaml").write_text(textwrap.dedent(REFERENCE_CASES).lstrip(), encoding="utf-8")
    answers(project, r="Click Forgot Password on the sign-in page.")
    run(project, "--junitxml=report.xml")
    xml = (project.path / "report.xml").read_text(encoding="utf-8")
    assert 'name="llmeval.check.rouge_l" value="passed score=1"' in xml
    assert 'name="llmeval.metric.rouge_l" value="1"' in xml


def test_xdist_records_the_same_cases_and_baseline_as_a_serial_run(project: pytest.Pytester) -> None:
    serial = run(project, "--llm-update-baseline", "--llm-baseline=serial.json")
    serial.assert_outcomes(passed=2, failed=1)
    parallel = project.runpytest_subprocess(
        "--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "--llm-update-baseline", "--llm-baseline=parallel.json"
    )
    parallel.assert_outcomes(passed=2, failed=1)
    load = lambda name: json.loads((project.path / name).read_text(encoding="utf-8"))["cases"]  # noqa: E731
    assert load("serial.json") == load("parallel.json")
    with sqlite3.connect(project.path / ".llmeval" / "history.db") as connection:
        runs = connection.execute("SELECT run_id FROM runs").fetchall()
        counts = [connection.execute("SELECT COUNT(*) FROM cases WHERE run_id = ?", r).fetchone()[0] for r in runs]
    assert counts == [3, 3]


def test_accepting_a_partial_run_keeps_the_cases_it_did_not_run(project: pytest.Pytester) -> None:
    run(project, "--llm-update-baseline")
    answers(project, a="good answer", b="good answer now", c="good answer")
    result = run(project, "--llm-update-baseline", "-k", "b")
    result.stdout.fnmatch_lines(["baseline *: wrote 1 case from this run, kept 2 not run now"])
    outcomes = {k: v["outcome"] for k, v in baseline(project)["cases"].items()}
    assert outcomes == {
        "support.eval.yaml::a": "passed",
        "support.eval.yaml::b": "passed",
        "support.eval.yaml::c": "passed",
    }


@pytest.mark.parametrize("gate", ["regressions", "strict"])
def test_a_pass_rate_group_cannot_hide_a_regression_from_the_gate(project: pytest.Pytester, gate: str) -> None:
    (project.path / "support.eval.yaml").write_text(
        "pass_rate: 0.5\n" + textwrap.dedent(CASES).lstrip(), encoding="utf-8"
    )
    answers(project, a="good answer", b="good answer", c="good answer")
    run(project, "--llm-update-baseline").assert_outcomes(passed=4)
    answers(project, a="bad answer", b="good answer", c="good answer")
    without_gate = run(project)
    without_gate.assert_outcomes(passed=3, xfailed=1)  # tolerated by the group: 2/3 >= 0.5
    gated = run(project, f"--llm-gate={gate}")
    gated.assert_outcomes(passed=3, failed=1)
    assert gated.ret == pytest.ExitCode.TESTS_FAILED
    gated.stdout.fnmatch_lines(["*regression*support.eval.yaml::a*passed -> failed*"])


def test_collect_only_records_nothing_and_keeps_the_baseline(project: pytest.Pytester) -> None:
    run(project, "--llm-update-baseline")
    before = (project.path / "llmeval-baseline.json").read_bytes()
    run(project, "--collect-only", "--llm-update-baseline")
    assert (project.path / "llmeval-baseline.json").read_bytes() == before
    with sqlite3.connect(project.path / ".llmeval" / "history.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_a_case_can_set_its_own_metric_tolerance(project: pytest.Pytester) -> None:
    cases = (
        textwrap.dedent(REFERENCE_CASES)
        .lstrip()
        .replace("expect: {rouge_l: 0.1}", "expect: {rouge_l: 0.1}, tolerance: {rouge_l: 0.9}")
    )
    (project.path / "support.eval.yaml").write_text(cases, encoding="utf-8")
    answers(project, r="Click Forgot Password on the sign-in page.")
    run(project, "--llm-update-baseline")
    answers(project, r="Click the Forgot link on the page.")
    tolerated = run(project, "--llm-gate=regressions")
    tolerated.assert_outcomes(passed=1)
    assert tolerated.ret == pytest.ExitCode.OK
    bad = cases.replace("tolerance: {rouge_l: 0.9}", "tolerance: {rouge_l: -1}")
    (project.path / "support.eval.yaml").write_text(bad, encoding="utf-8")
    result = run(project)
    assert (
        "support.eval.yaml:2: case 'r': tolerance.rouge_l: must be a non-negative number, got -1.0"
        in result.stdout.str()
    )

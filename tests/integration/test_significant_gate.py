"""The significant gate in whole sessions: a real regression fails, a real improvement and a noise-only
change pass, the evidence is printed, flipped cases are still listed, and --llm-confidence counts."""

from __future__ import annotations

import json

import pytest

from .bot_sessions import run

BOT = """
import json, pathlib

def answer(prompt):
    return json.loads(pathlib.Path("answers.json").read_text(encoding="utf-8"))[prompt]
"""
CASES = 24


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    lines = ["cases:"] + [f"  - {{id: c{i:02d}, prompt: q{i:02d}, expect: {{contains: good}}}}" for i in range(CASES)]
    (pytester.path / "support.eval.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pytester


def answer(pytester: pytest.Pytester, bad: set[int]) -> None:
    """Case ``i`` answers "bad" when ``i`` is in ``bad``, else "good"."""
    values = {f"q{i:02d}": "bad answer" if i in bad else "good answer" for i in range(CASES)}
    (pytester.path / "answers.json").write_text(json.dumps(values), encoding="utf-8")


def accept(pytester: pytest.Pytester, bad: set[int]) -> None:
    answer(pytester, bad)
    run(pytester, "--llm-update-baseline").assert_outcomes(passed=CASES - len(bad), failed=len(bad))


def test_a_real_regression_fails_with_the_evidence(project: pytest.Pytester) -> None:
    accept(project, set())
    answer(project, set(range(10)))  # ten cases break, none is fixed
    result = run(project, "--llm-gate=significant", "-rx")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=14, xfailed=10)  # the cases are tolerated; the gate fails the session
    result.stdout.fnmatch_lines(["XFAIL support.eval.yaml::c00 - judged with all cases by --llm-gate=significant*"])
    out = result.stdout.str()
    assert "llmeval::gate FAILED: worse than the baseline with 95% confidence:" in out
    assert "pass rate: -41.7 points (95% interval [" in out and "exact McNemar p = 0.002 (0 fixed, 10 broke)" in out
    assert "verdict: B is WORSE than A on pass rate (95% confidence)" in out
    assert "regression  support.eval.yaml::c00" in out  # the flipped cases are still listed
    assert "  10 cases broke: support.eval.yaml::c00, support.eval.yaml::c01" in out


def test_a_real_improvement_passes(project: pytest.Pytester) -> None:
    accept(project, set(range(10)))
    answer(project, set())
    result = run(project, "--llm-gate=significant")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=CASES)
    assert "verdict: B is better than A on pass rate (95% confidence)" in result.stdout.str()


def test_noise_only_does_not_fail(project: pytest.Pytester) -> None:
    """Three cases break and three others are fixed: the regressions gate fails, the significant one
    must not, and it says how small a change this suite could have detected."""
    accept(project, {0, 1, 2})
    answer(project, {3, 4, 5})
    assert run(project, "--llm-gate=regressions").ret == pytest.ExitCode.TESTS_FAILED
    result = run(project, "--llm-gate=significant", "-rx")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=CASES - 3, xfailed=3)
    out = result.stdout.str()
    assert "exact McNemar p = 1.000 (3 fixed, 3 broke)" in out
    assert "detectable: with 24 cases no pass-rate change under 25.0 points can be significant" in out
    assert "verdict: no significant difference at 95% confidence" in out


def test_the_confidence_decides(project: pytest.Pytester) -> None:
    """Three cases break, none is fixed: p = 0.25. Not enough at 95%; enough at 70%."""
    accept(project, set())
    answer(project, {0, 1, 2})
    assert run(project, "--llm-gate=significant").ret == pytest.ExitCode.OK
    sure = run(project, "--llm-gate=significant", "--llm-confidence=0.7")
    assert sure.ret == pytest.ExitCode.TESTS_FAILED
    assert "llmeval::gate FAILED: worse than the baseline with 70% confidence:" in sure.stdout.str()


def test_a_new_failing_case_still_fails_as_itself(project: pytest.Pytester) -> None:
    accept(project, set())
    with (project.path / "support.eval.yaml").open("a", encoding="utf-8") as cases:
        cases.write("  - {id: extra, prompt: q00, expect: {contains: excellent}}\n")
    answer(project, set())
    result = run(project, "--llm-gate=significant")
    result.assert_outcomes(passed=CASES, failed=1)
    result.stdout.fnmatch_lines(["FAILED support.eval.yaml::extra*"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--llm-confidence=95", "--llm-confidence: '95' is not a confidence from 0.5 up to (not including) 1"),
        ("--llm-resamples=10", "--llm-resamples: must be at least 100 (e.g. 10000), got 10"),
    ],
)
def test_bad_statistics_options_are_usage_errors(project: pytest.Pytester, option: str, message: str) -> None:
    accept(project, set())
    result = run(project, "--llm-gate=significant", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str() + result.stdout.str()


def test_the_markdown_summary_gives_the_verdict(project: pytest.Pytester) -> None:
    accept(project, set())
    answer(project, set(range(10)))
    run(project, "--llm-gate=significant", "--llm-markdown=summary.md")
    text = (project.path / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## ❌ llmeval: worse than the baseline on pass rate (95% confidence)")
    assert "### Is this run worse than the baseline? (paired statistics)" in text

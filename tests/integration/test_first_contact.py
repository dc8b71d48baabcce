"""What a newcomer sees in the terminal: a reason when tests are skipped for want of a model, no
model loaded for tests that fail on their own, the comparison once and fitted to the terminal, and
runs that record what they covered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_llmeval.store import RunStore

BOT = "def answer(prompt):\n    return {'a': 'good', 'b': 'good', 'c': 'good'}.get(prompt, 'bad')\n"


def test_without_a_model_one_line_says_why_tests_were_skipped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
        import pytest

        @pytest.mark.llm(prompt="hi")
        def test_one(llm_output):
            assert llm_output

        def test_two(llm):
            assert llm

        def test_plain():
            assert True
    """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "llmeval: 2 tests skipped for want of a model; give one with --llm-model PATH or the llm_model ini key",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


def test_selecting_only_a_test_with_an_invalid_marker_loads_no_model_and_records_no_run(
    pytester: pytest.Pytester, tiny_gpt2: Path
) -> None:
    pytester.makepyfile(
        test_k="""
        import pytest

        @pytest.mark.llm(prompt="hello", max_tokens=3)
        def test_bad_marker(llm_output):
            assert llm_output

        @pytest.mark.llm(prompt="hello", max_new_tokens=2)
        def test_good(llm_output):
            assert llm_output is not None
    """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}", "-p", "no:cacheprovider", "-k", "bad_marker")
    result.assert_outcomes(errors=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "*unknown generation parameter 'max_tokens' (did you mean 'max_new_tokens'?)*",
            "outputs: 0 generated in 0.00 s, 0 from the cache; model not loaded",
        ]
    )
    assert not (pytester.path / ".llmeval" / "history.db").exists()


def test_a_loaded_model_says_where_load_time_went_and_records_its_files(
    pytester: pytest.Pytester, tiny_gpt2: Path
) -> None:
    pytester.makepyfile(
        test_k="""
        import pytest

        @pytest.mark.llm(prompt="hello", max_new_tokens=2)
        def test_good(llm_output):
            assert llm_output is not None
    """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*; model loaded in * s (import * s, from_pretrained * s)"])
    run = RunStore(pytester.path / ".llmeval" / "history.db").load_run("latest")
    assert run.complete is True
    assert {"config.json", "model.safetensors"} <= set(run.model["files"])


def test_the_comparison_is_printed_once_fitted_to_the_terminal_with_not_run_cases_counted(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(bot=BOT)
    pytester.makepyfile(
        test_account_help="""
        import pytest
        from pytest_llmeval import assert_contains

        @pytest.mark.parametrize("question", ["a", "b", "c"], ids=["Where can I download my invoices and other documents of the last year?",
                "How do I cancel my subscription without losing my saved settings?",
                "How do I invite a team member to a project that I do not own?"])
        def test_answers_point_to_the_right_page(llm, question):
            assert_contains(llm.generate(question), "good")

        def test_other(llm):
            assert_contains(llm.generate("a"), "good")
    """
    )
    args = ("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    pytester.runpytest(*args, "--llm-update-baseline").assert_outcomes(passed=4)
    pytester.makepyfile(bot=BOT.replace("'good'", "'meh'"))
    monkeypatch.setenv("COLUMNS", "100")
    result = pytester.runpytest(*args, "--llm-gate=regressions", "-k", "right_page")
    result.assert_outcomes(failed=3, deselected=1)
    out = result.stdout.str()
    section = out[out.index("- llmeval -") :]
    rows = [line for line in section.splitlines() if line.startswith("    regression")]
    assert len(rows) == 3 and all(len(line) <= 100 for line in rows)
    assert out.count("    regression  ") == 3  # once: not in the gate's text again
    # a long parametrized id loses its middle: each row keeps the end where the ids differ
    cases = [row[len("    regression  ") :].split("  ")[0] for row in rows]
    assert len(set(cases)) == 3 and all("..." in case for case in cases)
    assert {case[-12:] for case in cases} == {"the last year?]"[-12:], "ved settings?]"[-12:], "I do not own?]"[-12:]}
    result.stdout.fnmatch_lines(["    1 case of the baseline not run (deselected or removed; -v lists them)"])
    assert "not run this time" not in out
    verbose = pytester.runpytest(*args, "-v", "-k", "right_page")
    verbose.stdout.fnmatch_lines(
        ["    not run * test_account_help.py::test_other * in the baseline (passed), not run*"]
    )
    # the selection is recorded: the run did not cover the suite
    runs = RunStore(pytester.path / ".llmeval" / "history.db").runs(limit=None)
    assert [summary.complete for summary in runs] == [False, False, True]


def test_a_classification_cases_gold_label_is_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot="def answer(prompt):\n    return 'positive'\n")
    (pytester.path / "s.eval.yaml").write_text(
        "classification: {labels: [positive, negative], min_accuracy: 0.1}\n"
        "cases:\n  - {id: good, prompt: great, label: positive}\n  - {id: bad, prompt: awful, label: negative}\n",
        encoding="utf-8",
    )
    pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    run = RunStore(pytester.path / ".llmeval" / "history.db").load_run("latest")
    assert {c.node_id: c.label for c in run.cases if c.node_id.startswith("s.eval.yaml::") and c.label} == {
        "s.eval.yaml::good": "positive",
        "s.eval.yaml::bad": "negative",
    }
    assert json.dumps(run.to_dict())  # still plain data


def _failure_blocks(result: pytest.RunResult) -> dict[str, list[str]]:
    """Each failure report's lines under its title, without xdist's "[gw0] ..." line (the order of
    the reports is the order tests finished, which workers interleave)."""
    out = result.stdout.str()
    section = out[out.index("= FAILURES =") : out.index("- llmeval -")].splitlines()[1:-1]
    blocks: dict[str, list[str]] = {}
    title = ""
    for line in section:
        if line.startswith("____"):
            title = line.strip("_ ")
            blocks[title] = []
        elif not line.startswith("[gw"):
            blocks[title].append(re.sub(r"\d+\.\d+ s\)", "TIME s)", line))
    return blocks


LONG_BOT = "def answer(prompt):\n    return 'Open Settings, choose Account, choose Account, and enter the new email address.'\n"


def test_failure_reports_fit_the_terminal_where_shown_and_read_the_same_serially_and_under_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(bot=LONG_BOT)
    (pytester.path / "s.eval.yaml").write_text(
        "cases:\n  - id: reset\n    prompt: How do I reset my password?\n"
        "    expect: {contains_any: [Forgot Password, reset link], not_contains: I don't know}\n",
        encoding="utf-8",
    )
    pytester.makepyfile(
        test_py="""
        from pytest_llmeval import assert_contains

        def test_invoices(llm):
            assert_contains(llm.generate("Where can I download my invoices?"), "Billing")
    """
    )
    monkeypatch.setenv("COLUMNS", "72")
    # as a person runs it: on CI (CI or BUILD_NUMBER set) pytest never cuts its short summary lines
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    args = ("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    serial = pytester.runpytest_subprocess(*args, "-p", "no:xdist")
    parallel = pytester.runpytest_subprocess(*args, "-n", "2")
    serial.assert_outcomes(failed=2)
    parallel.assert_outcomes(failed=2)
    blocks = _failure_blocks(serial)
    assert set(blocks) == {"case reset", "test_invoices"}
    assert _failure_blocks(parallel) == blocks
    # every line of the reports and the summary fits (pytest's own "rootdir:" and xdist's "[gw0]
    # linux -- Python ... PATH" lines are as long as their paths)
    shown = serial.stdout.lines + parallel.stdout.lines
    assert [line for line in shown if len(line) > 72 and not line.startswith(("rootdir: ", "[gw"))] == []
    # wrapped at spaces, each continuation indented under the line it continues
    fail_line = blocks["case reset"].index("FAIL contains_any: expected at least one of ['Forgot Password', 'reset")
    assert blocks["case reset"][fail_line + 1 : fail_line + 3] == [
        "    link'] (case-insensitive); found none in 'Open Settings, choose",
        "    Account, choose Account, and enter the new email address.'",
    ]
    assert blocks["test_invoices"][:4] == [
        "contains: expected 'Billing' (case-insensitive); not found in 'Open",
        "    Settings, choose Account, choose Account, and enter the new email",
        "    address.'",
        "test_py.py:4: in test_invoices",
    ]
    # what the report carries stays whole: JUnit has the message on one line
    pytester.runpytest_subprocess(*args, f"--junitxml={pytester.path / 'j.xml'}")
    junit = (pytester.path / "j.xml").read_text(encoding="utf-8")
    assert (
        "contains: expected 'Billing' (case-insensitive); not found in 'Open Settings, choose Account, "
        "choose Account, and enter the new email address.'" in junit.replace("&apos;", "'")
    )


def test_the_header_says_what_was_asked_and_the_summary_what_it_resolved_to(
    pytester: pytest.Pytester, tiny_gpt2: Path
) -> None:
    pytester.makepyfile(
        test_k="""
        import pytest

        @pytest.mark.llm(prompt="hello", max_new_tokens=2)
        def test_good(llm_output):
            assert llm_output is not None
    """
    )
    args = (f"--llm-model={tiny_gpt2}", "-p", "no:cacheprovider", "--llm-cache=off")
    asked = (
        f"llmeval: model {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device auto, dtype auto (float32 in config))"
    )
    for extra in (("-p", "no:xdist"), ("-n", "2")):
        result = pytester.runpytest_subprocess(*args, *extra)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [
                f"{asked}; device and dtype resolved when it loads",
                # the same words: what was asked, beside what it resolved to (a worker loaded it under -n)
                f"model: {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device cpu (asked auto), "
                "dtype float32 (asked auto), chat template off)",
            ]
        )
    # asked for exactly: nothing to resolve, nothing said about it
    exact = pytester.runpytest_subprocess(*args, "--llm-device=cpu", "--llm-dtype=float32")
    exact.stdout.fnmatch_lines(
        [
            f"llmeval: model {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device cpu, dtype float32)",
            f"model: {tiny_gpt2} (GPT2LMHeadModel, 46.5K parameters, device cpu, dtype float32, chat template off)",
        ]
    )


def test_a_failing_check_without_the_terminal_plugin_is_a_plain_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=LONG_BOT)
    pytester.makepyfile(
        test_py="""
        from pytest_llmeval import assert_contains

        def test_invoices(llm):
            assert_contains(llm.generate("Where can I download my invoices?"), "Billing")
    """
    )
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "-p", "no:terminal")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # no terminal to fit to: nothing else changes

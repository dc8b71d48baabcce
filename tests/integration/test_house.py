"""The plugin's structure as users meet it: the running test (threads, teardown), the one report
payload, the shared baseline policy, groups as real items, and the public extension points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmeval.cli import main as llmeval_main

from .bot_sessions import write

BOT = """
def answer(prompt):
    return {"reset": "Click Forgot Password on the sign-in page."}.get(prompt, "I don't know")
"""


@pytest.fixture
def scripted(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    return pytester


def test_checks_and_generations_in_threads_and_teardown_belong_to_the_test(scripted: pytest.Pytester) -> None:
    scripted.makepyfile(
        """
        import threading
        import pytest
        from pytest_llmeval import check

        @pytest.fixture
        def later(llm):
            yield
            llm.generate("reset")  # after the test body: still this test's output

        def test_threaded(llm, later):
            results = []
            def work():
                results.append(check("rouge_l", llm.generate("other"), reference="Click Forgot Password", min=0.5))
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            assert results[0].passed, "see the llm checks section"
        """
    )
    result = scripted.runpytest("--llm-model=py:bot:answer", "--llm-update-baseline", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- llm checks -*", "FAIL rouge_l (score 0)*", "metric rouge_l: mean 0 over 1 *"])
    entry = json.loads((scripted.path / "llmeval-baseline.json").read_text(encoding="utf-8"))
    case = entry["cases"]["test_checks_and_generations_in_threads_and_teardown_belong_to_the_test.py::test_threaded"]
    assert case["metrics"]["rouge_l"]["value"] == 0
    log = next((scripted.path / ".llmeval" / "runs").glob("*/inferences.jsonl")).read_text(encoding="utf-8")
    phases = [json.loads(line)["phase"] for line in log.splitlines()]
    assert phases == ["call", "teardown"]


def test_a_report_carries_one_versioned_payload(scripted: pytest.Pytester) -> None:
    scripted.makeconftest(
        """
        import json

        def pytest_runtest_logreport(report):
            extra = sorted(k for k in vars(report) if k.startswith("llmeval"))
            if report.when == "call":
                payload = json.loads(report.llmeval_payload)
                print("PAYLOAD", extra, payload["version"], payload["record"]["outcome"])
        """
    )
    write(scripted, "s.eval.yaml", "cases:\n  - {id: r, prompt: reset, expect: {contains: Forgot}}\n")
    result = scripted.runpytest("--llm-model=py:bot:answer", "-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*PAYLOAD ?'llmeval_payload'? 1 passed"])


def test_plugin_and_llmeval_baseline_accept_a_partial_run_alike(scripted: pytest.Pytester) -> None:
    write(
        scripted,
        "s.eval.yaml",
        """
        cases:
          - {id: a, prompt: reset, expect: {contains: Forgot}}
          - {id: b, prompt: other, expect: {contains: know}}
        """,
    )
    run = scripted.runpytest("--llm-model=py:bot:answer", "--llm-update-baseline", "-p", "no:cacheprovider")
    run.assert_outcomes(passed=2)
    # A partial run (-k) accepted by the plugin ...
    partial = scripted.runpytest(
        "--llm-model=py:bot:answer", "s.eval.yaml::a", "--llm-update-baseline", "-p", "no:cacheprovider"
    )
    partial.stdout.fnmatch_lines(["baseline *: wrote 1 case from this run, kept 1 not run now"])
    by_plugin = json.loads((scripted.path / "llmeval-baseline.json").read_text(encoding="utf-8"))
    # ... and the same run accepted again by the command keep the same entries.
    history = str(scripted.path / ".llmeval" / "history.db")
    out = scripted.path / "by-command.json"
    (out).write_text(json.dumps(json.loads((scripted.path / "llmeval-baseline.json").read_text(encoding="utf-8"))))
    assert llmeval_main(["baseline", "latest", "--history", history, "--out", str(out)]) == 0
    by_command = json.loads(out.read_text(encoding="utf-8"))
    assert by_command == by_plugin
    assert sorted(by_command["cases"]) == ["s.eval.yaml::a", "s.eval.yaml::b"]


GROUPED = """
pass_rate: 0.75
cases:
  - {id: one, prompt: reset, expect: {contains: Forgot}}
  - {id: two, prompt: reset, expect: {contains: Forgot}}
  - {id: three, prompt: other, expect: {contains: Forgot}}
"""


def test_a_group_is_a_collected_item(scripted: pytest.Pytester) -> None:
    write(scripted, "g.eval.yaml", GROUPED)
    listed = scripted.runpytest("--llm-model=py:bot:answer", "--collect-only", "-q", "-p", "no:cacheprovider")
    listed.stdout.fnmatch_lines(
        ["g.eval.yaml::one", "g.eval.yaml::two", "g.eval.yaml::three", "g.eval.yaml::pass_rate"]
    )
    junit = scripted.path / "junit.xml"
    result = scripted.runpytest("--llm-model=py:bot:answer", f"--junitxml={junit}", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["collected 4 items", "FAILED g.eval.yaml::pass_rate - *", "*1 failed, 2 passed, 1 xfailed*"]
    )
    assert 'name="pass_rate"' in junit.read_text(encoding="utf-8")


def test_a_group_selected_alone_brings_its_cases(scripted: pytest.Pytester) -> None:
    write(scripted, "g.eval.yaml", GROUPED)
    failed = scripted.runpytest("--llm-model=py:bot:answer")
    failed.assert_outcomes(passed=2, failed=1, xfailed=1)
    # --lf reruns the failed group: it needs its cases, so they run too.
    again = scripted.runpytest("--llm-model=py:bot:answer", "--lf")
    again.assert_outcomes(passed=2, failed=1, xfailed=1)
    by_name = scripted.runpytest("--llm-model=py:bot:answer", "-k", "pass_rate", "-p", "no:cacheprovider")
    by_name.assert_outcomes(passed=2, failed=1, xfailed=1)
    # With some of its cases deselected, the group is judged over the rest.
    fewer = scripted.runpytest(
        "--llm-model=py:bot:answer", "--deselect", "g.eval.yaml::three", "-p", "no:cacheprovider"
    )
    fewer.assert_outcomes(passed=3)
    fewer.stdout.fnmatch_lines(["pass rate g.eval.yaml::pass_rate: 2/2 passed (100.0%) >= 75.0% required: ok"])


def test_groups_under_xdist(scripted: pytest.Pytester) -> None:
    write(scripted, "g.eval.yaml", GROUPED)
    result = scripted.runpytest_subprocess(
        "--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["pass rate g.eval.yaml::pass_rate: 2/3 passed (66.7%) < 75.0% required: FAILED"])


SHOUTY = """
from pytest_llmeval import CheckResult, register_check

@register_check("shouty", summary="Mostly capital letters.")
def shouty(text: str, min_ratio: float = 0.5) -> CheckResult:
    letters = [c for c in text if c.isalpha()]
    ratio = sum(c.isupper() for c in letters) / max(1, len(letters))
    return CheckResult("shouty", ratio >= min_ratio, f"shouty: {ratio:.2f} of letters are capitals (min {min_ratio})")
"""


def test_a_check_from_an_entry_point_works_in_case_files_and_python(scripted: pytest.Pytester) -> None:
    site = scripted.path / "site"
    write(scripted, "site/shouty_checks.py", SHOUTY)
    write(
        scripted,
        "site/shouty_checks-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: shouty-checks\nVersion: 1.0\n",
    )
    write(
        scripted,
        "site/shouty_checks-1.0.dist-info/entry_points.txt",
        "[pytest_llmeval.checks]\nshouty = shouty_checks\n",
    )
    write(
        scripted,
        "s.eval.yaml",
        """
        cases:
          - {id: calm, prompt: reset, expect: {not_shouty: true}}
          - {id: loud, prompt: reset, expect: {shouty: {min_ratio: 0.9}}}
        """,
    )
    scripted.makepyfile(
        test_py="""
        import pytest
        from pytest_llmeval import assert_not_shouty, assert_shouty, CheckFailed

        @pytest.mark.llm("reset")
        def test_helpers(llm_output):
            assert_not_shouty(llm_output)
            with pytest.raises(CheckFailed, match="shouty: 0.09"):
                assert_shouty(llm_output)
        """
    )
    result = _run_with_path(scripted, site)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAIL shouty*of letters are capitals (min 0.9)*"])


def _run_with_path(pytester: pytest.Pytester, folder: Path) -> pytest.RunResult:
    import os

    pytester._monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    return pytester.runpytest_subprocess("--llm-model=py:bot:answer", "-p", "no:cacheprovider")


def test_a_conftest_check_and_a_name_clash(scripted: pytest.Pytester) -> None:
    # In subprocesses: a check registered in this process would stay registered for other tests.
    scripted.makeconftest(SHOUTY)
    write(scripted, "s.eval.yaml", "cases:\n  - {id: calm, prompt: reset, expect: {not_shouty: true}}\n")
    scripted.runpytest_subprocess("--llm-model=py:bot:answer", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    write(
        scripted,
        "sub/conftest.py",
        """
        from pytest_llmeval import CheckResult, register_check

        @register_check("contains")
        def my_contains(text: str) -> CheckResult:
            return CheckResult("contains", True, "always")
        """,
    )
    clash = scripted.runpytest_subprocess("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    clash.stdout.fnmatch_lines(
        [
            "*check 'contains' is registered twice: by pytest_llmeval.checks.content:contains and by conftest:my_contains*"
        ]
    )


def test_a_backend_from_an_entry_point(pytester: pytest.Pytester) -> None:
    site = pytester.path / "site"
    write(
        pytester,
        "site/echo_backend.py",
        """
        import time
        from pytest_llmeval.backends.base import Backend, Generation, ModelDescription
        from pytest_llmeval.backends.registry import BackendSpec

        class Echo(Backend):
            def __init__(self, model):
                self.name = model
            def generate_batch(self, requests):
                return [
                    Generation(r.prompt.upper(), request=r, num_tokens=1, finish_reason="stop", latency_s=0.0)
                    for r in requests
                ]
            def describe(self):
                return ModelDescription("echo", self.name)

        SPEC = BackendSpec(
            name="echo", scheme="echo",
            load=lambda settings, cwd: Echo(settings.model),
            describe=lambda settings: f"{settings.model} (echo backend)",
        )
        """,
    )
    write(
        pytester,
        "site/echo_backend-1.0.dist-info/METADATA",
        "Metadata-Version: 2.1\nName: echo-backend\nVersion: 1.0\n",
    )
    write(
        pytester,
        "site/echo_backend-1.0.dist-info/entry_points.txt",
        "[pytest_llmeval.backends]\necho = echo_backend:SPEC\n",
    )
    write(pytester, "s.eval.yaml", "cases:\n  - {id: up, prompt: hello, expect: {equals: HELLO}}\n")
    import os

    pytester._monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess("--llm-model=echo:anything", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["llmeval: model echo:anything (echo backend)"])

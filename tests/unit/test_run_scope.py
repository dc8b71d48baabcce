"""Suite errors, partial runs and model differences in words."""

from __future__ import annotations

import pytest

from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.run_scope import (
    describe_model_change,
    is_suite_error,
    model_cases,
    run_scope,
)

# The one-line messages a real session records (see the browser test that runs one end to end).
SUITE_ERROR_MESSAGES = [
    "pytest_llmeval.cases.CaseError: broken.eval.yaml:2: not valid YAML: expected the node content, but found '-'",
    "pytest_llmeval.checks.base.CheckUsageError: check 'regex': invalid pattern '(': missing ), unterminated subpattern",
    "case badre (good.eval.yaml:3): usage error in expect (not a model failure): check 'regex': invalid pattern '('",
]


def run(*cases: CaseRecord, complete: bool = True) -> RunRecord:
    return RunRecord(
        run_id="r" * 32,
        started_at=1.0,
        finished_at=2.0,
        complete=complete,
        model={},
        settings={},
        versions={},
        git_commit=None,
        cases=list(cases),
    )


def test_a_case_file_that_does_not_load_is_a_suite_error() -> None:
    message = "evals/broken.eval.yaml:2: not valid YAML: expected the node content, but found '-'"
    assert is_suite_error(CaseRecord(node_id="evals/broken.eval.yaml::line2", outcome="error", message=message))
    # the same words from another file, or as a test's failure, are the model's business
    assert not is_suite_error(CaseRecord(node_id="evals/other.eval.yaml::a", outcome="error", message=message))
    assert not is_suite_error(CaseRecord(node_id="evals/broken.eval.yaml::a", outcome="failed", message=message))


@pytest.mark.parametrize("message", SUITE_ERROR_MESSAGES)
def test_usage_errors_are_suite_errors(message: str) -> None:
    assert is_suite_error(CaseRecord(node_id="x", outcome="error", message=message))
    assert is_suite_error(CaseRecord(node_id="x", outcome="failed", message=message))
    # a passing case is never one, whatever its message
    assert not is_suite_error(CaseRecord(node_id="x", outcome="passed", message=message))


@pytest.mark.parametrize(
    "message",
    [
        "contains: expected 'Billing' (case-insensitive); not found in 'CheckUsageError: is what I say'",
        "AssertionError: assert 'Forgot Password' in 'neutral'",
        "case reset (s.eval.yaml:3) failed 1 of 2 checks",
        None,
    ],
)
def test_model_failures_are_not_suite_errors(message: str | None) -> None:
    assert not is_suite_error(CaseRecord(node_id="x", outcome="failed", message=message))


def test_model_cases_leave_out_suite_errors() -> None:
    broken = CaseRecord(node_id="b.eval.yaml::line2", outcome="error", message=SUITE_ERROR_MESSAGES[0])
    real = CaseRecord(node_id="t.py::test", outcome="failed", message="AssertionError")
    assert model_cases([broken, real]) == [real]


def test_a_run_of_every_baseline_case_is_full() -> None:
    scope = run_scope(run(CaseRecord("a", "passed"), CaseRecord("b", "failed"), CaseRecord("c", "passed")), {"a", "b"})
    assert (scope.partial, scope.reason, scope.cases, scope.not_run) == (False, None, 3, 0)


def test_a_run_missing_baseline_cases_is_partial_and_says_how_much() -> None:
    scope = run_scope(run(CaseRecord("a", "passed")), {"a", "b", "c"})
    assert scope.partial and scope.not_run == 2
    assert scope.reason == "ran 1 of the baseline's 3 cases (2 not run)"


def test_an_incomplete_run_or_one_of_only_suite_errors_is_partial() -> None:
    assert run_scope(run(CaseRecord("a", "passed"), complete=False)).reason == (
        "a selection or an interrupted session (recorded as incomplete)"
    )
    broken = CaseRecord("b.eval.yaml::line2", "error", message=SUITE_ERROR_MESSAGES[0])
    scope = run_scope(run(broken))
    assert scope.partial and scope.suite_errors == 1
    assert scope.reason == "only errors of the suite, no model result"
    assert run_scope(run()).reason == "no cases ran"


def test_model_change_names_folders_and_files_not_hashes() -> None:
    before = {
        "source": ".llmeval/demo-model",
        "model_id": "09e66c32|dtype=auto",
        "backend": "hf",
        "files": {"config.json": "aa", "model.safetensors": "bb", "llmeval-demo.json": "cc"},
    }
    after = {
        "source": "/tmp/weak-demo",
        "model_id": "621e322d|dtype=auto",
        "backend": "hf",
        "files": {"config.json": "aa", "model.safetensors": "dd", "llmeval-demo.json": "ee", "extra.bin": "ff"},
    }
    lines = describe_model_change(before, after)
    assert lines == [
        "model folder .llmeval/demo-model -> /tmp/weak-demo",
        "files that differ: llmeval-demo.json, model.safetensors; only in this run's model: extra.bin",
    ]
    assert not any("09e66c32" in line for line in lines)


def test_model_change_without_per_file_hashes_and_same_files_elsewhere() -> None:
    moved = describe_model_change({"source": "a", "model_id": "f1|x"}, {"source": "b", "model_id": "f1|x"})
    assert moved == ["model folder a -> b (same files)"]
    retrained = describe_model_change({"source": "ckpt", "model_id": "f1|x"}, {"source": "ckpt", "model_id": "f2|x"})
    assert retrained == ["the files in ckpt changed since (fingerprint f1 -> f2; per-file hashes were not recorded)"]
    adapter = describe_model_change(
        {"source": "m", "model_id": "f|x", "adapter": None}, {"source": "m", "model_id": "f|x", "adapter": "lora-3"}
    )
    assert adapter == ["adapter (none) -> lora-3"]

"""README's first command: the example suite runs green on the demo model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_llmeval.demo import DEMO_EXAMPLES, SHIPPED_DEMO_MODEL, copy_demo_model

EXAMPLE_SUITE = Path(__file__).resolve().parents[2] / "example_suite"


def test_example_suite_passes_on_the_demo_model(pytester: pytest.Pytester) -> None:
    suite = pytester.path / "example_suite"
    shutil.copytree(EXAMPLE_SUITE, suite, ignore=shutil.ignore_patterns(".llmeval", "__pycache__"))
    result = pytester.runpytest_subprocess(str(suite))
    result.assert_outcomes(passed=46)
    result.stdout.fnmatch_lines(
        [
            "llmeval: model */.llmeval/demo-model (GPT2LMHeadModel*",
            # the committed baseline, compared under the suite's own gate
            "  llmeval: compared 46 cases with baseline run *: no differences",
            "success_mode: 19 passed",
            "failure_mode: 8 passed",
            "classification sentiment.eval.yaml::classification: accuracy 1.000, macro-F1 1.000 over 8 cases: ok",
        ]
    )
    # the committed baseline was made with the settings and the (shipped) model the suite runs with:
    # nothing to warn about, on any machine
    assert "settings differ" not in result.stdout.str()
    assert "another model" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK


def test_the_weak_demo_model_fails_the_example_suites_gate_as_readme_shows(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmeval.cli import main

    suite = pytester.path / "example_suite"
    shutil.copytree(EXAMPLE_SUITE, suite, ignore=shutil.ignore_patterns(".llmeval", "__pycache__"))
    assert main(["demo-model", str(pytester.path / "weak"), "--weak"]) == 0
    # README's walk-through as a person runs it: from the clone, in a terminal 120 columns wide
    # (not on CI, where pytest itself never cuts its short summary)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    result = pytester.runpytest_subprocess("example_suite", f"--llm-model={pytester.path / 'weak'}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # the shipped weak model gives these exact counts on every machine
    # the header says what was asked, the summary what it resolved to (lines wrapped to fit)
    unwrapped = " ".join(line.strip() for line in result.stdout.lines)
    assert (
        "llmeval: model weak (GPT2LMHeadModel, 452.1K parameters, device auto, dtype auto (float32 in config)); "
        "device and dtype resolved when it loads"
    ) in unwrapped
    assert (
        "model: weak (GPT2LMHeadModel, 452.1K parameters, device cpu (asked auto), dtype float32 (asked auto), "
        "chat template on)"
    ) in unwrapped
    result.stdout.fnmatch_lines(
        [
            "  llmeval: compared 46 cases with baseline run *: 28 regressions, 12 metric drops, 32 changed outputs",
            "    regression *sentiment.eval*classification*passed -> failed*",  # a long id loses its middle
            "inference log: 52 outputs in example_suite/.llmeval/runs/*/inferences.jsonl",  # as typed from here
        ]
    )
    result.stdout.fnmatch_lines(["*macro_f1 0.472 < min 0.800*"])  # the group's own failure says why
    # every line fits the terminal: failure reports, sections, the summary and pytest's own lines
    # (but pytest's "rootdir:", as long as the path of this test's folder)
    too_wide = [line for line in result.stdout.lines if len(line) > 120 and not line.startswith("rootdir: ")]
    assert too_wide == []
    # each regression once: one row each, in one table, and the gate's line does not list them again
    rows = [line for line in result.stdout.lines if line.startswith("    regression ")]
    assert len(rows) == 28 and len({row.split()[1] for row in rows}) == 28
    assert (
        sum(line.strip() == "kind            case" or line.lstrip().startswith("kind ") for line in result.stdout.lines)
        == 1
    )
    result.stdout.fnmatch_lines(
        ["llmeval::gate FAILED: 12 metric drops beyond the tolerance against the baseline (listed above)"]
    )
    # a failing assert_<check> shows its message and the test's line, not pytest's source listing
    result.stdout.fnmatch_lines(
        [
            "_*_ test_reset_password _*_",
            "contains_any: expected at least one of ?'Forgot Password', 'reset link'? (case-insensitive); found none in*",
            "    *",
            "example_suite/test_account_help.py:15: in test_reset_password",
            '    assert_contains_any(llm_output, ?"Forgot Password", "reset link"?)',
            "*- llm output -*",
        ]
    )
    assert "CheckFailed" not in result.stdout.str()


def test_demo_model_memorises_its_answers(demo_model: Path) -> None:
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.settings import Settings

    settings = Settings(model=str(demo_model), max_new_tokens=48)
    model = ModelUnderTest(settings, lambda: load_backend(settings, demo_model))
    outputs = model.generate_many([prompt for prompt, _ in DEMO_EXAMPLES])
    wrong = [(p, a, o.text) for (p, a), o in zip(DEMO_EXAMPLES, outputs, strict=True) if o.text != a]
    assert not wrong
    assert model.backend.describe().extra["chat template"] == "on"


def test_the_shipped_demo_model_is_the_one_the_committed_baseline_was_made_with(tmp_path: Path) -> None:
    import json

    from pytest_llmeval.fingerprint import FileHashMemo, fingerprint_files, model_files

    baseline = json.loads((EXAMPLE_SUITE / "llmeval-baseline.json").read_text(encoding="utf-8"))
    copy = copy_demo_model(tmp_path / "demo")
    fingerprint = fingerprint_files(model_files(copy), FileHashMemo(None), [copy])
    assert baseline["run"]["model"]["model_id"].split("|")[0] == fingerprint
    assert baseline["run"]["model"]["source"] == ".llmeval/demo-model"  # where the suite's conftest copies it


def test_copying_the_demo_model_keeps_identical_files_and_replaces_changed_ones(tmp_path: Path) -> None:
    target = copy_demo_model(tmp_path / "demo")
    weights = target / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    assert copy_demo_model(target) == target and weights.stat().st_mtime_ns == mtime  # left alone
    weights.write_bytes(b"retrained")
    (target / "stray.bin").write_bytes(b"x")
    copy_demo_model(target)
    assert weights.read_bytes() == (SHIPPED_DEMO_MODEL / "model.safetensors").read_bytes()
    assert not (target / "stray.bin").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]  # no scratch folders left behind
    weak = copy_demo_model(tmp_path / "weak", weak=True)
    assert (weak / "model.safetensors").read_bytes() != weights.read_bytes()


def test_fewer_steps_give_a_weaker_demo_model(tmp_path: Path) -> None:
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.demo import build_demo_model
    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.settings import Settings

    folder = build_demo_model(tmp_path / "weak", steps=5)
    settings = Settings(model=str(folder), max_new_tokens=16)
    outputs = ModelUnderTest(settings, lambda: load_backend(settings, folder)).generate_many(
        [p for p, _ in DEMO_EXAMPLES]
    )
    assert sum(o.text == a for (_, a), o in zip(DEMO_EXAMPLES, outputs, strict=True)) < len(DEMO_EXAMPLES) // 2

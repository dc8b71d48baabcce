"""README's first command: the example suite runs green on the demo model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_llmeval.demo import DEMO_EXAMPLES, demo_fingerprint

EXAMPLE_SUITE = Path(__file__).resolve().parents[2] / "example_suite"


def test_example_suite_passes_on_the_demo_model(pytester: pytest.Pytester, demo_model: Path) -> None:
    suite = pytester.path / "example_suite"
    shutil.copytree(EXAMPLE_SUITE, suite, ignore=shutil.ignore_patterns(".llmeval", "__pycache__"))
    # Where the suite's conftest caches the model it trains: pre-filled, so this test trains once.
    shutil.copytree(demo_model, suite / ".llmeval" / f"demo-model-{demo_fingerprint(150)}")
    result = pytester.runpytest_subprocess(str(suite))
    result.assert_outcomes(passed=46)
    result.stdout.fnmatch_lines(
        [
            "llmeval: model */demo-model-*GPT2LMHeadModel*",
            # the committed baseline, compared under the suite's own gate
            "  llmeval: compared 46 cases with baseline run *: no differences",
            "success_mode: 19 passed",
            "failure_mode: 8 passed",
            "classification sentiment.eval.yaml::classification: accuracy 1.000, macro-F1 1.000 over 8 cases: ok",
        ]
    )
    # the committed baseline was made with the settings the suite runs with: nothing to warn about
    assert "settings differ" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.OK


def test_a_weaker_demo_model_fails_the_example_suites_gate(pytester: pytest.Pytester, demo_model: Path) -> None:
    from pytest_llmeval.cli import main

    suite = pytester.path / "example_suite"
    shutil.copytree(EXAMPLE_SUITE, suite, ignore=shutil.ignore_patterns(".llmeval", "__pycache__"))
    shutil.copytree(demo_model, suite / ".llmeval" / f"demo-model-{demo_fingerprint(150)}")  # the judge
    assert main(["demo-model", str(pytester.path / "weak"), "--steps", "20"]) == 0
    result = pytester.runpytest_subprocess(str(suite), f"--llm-model={pytester.path / 'weak'}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  llmeval: compared 46 cases with baseline run *: * regressions*", "    regression *"])


def test_demo_model_memorises_its_answers(demo_model: Path) -> None:
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.settings import Settings

    settings = Settings(model=str(demo_model), max_new_tokens=48)
    model = ModelUnderTest(settings, lambda: load_backend(settings, demo_model))
    outputs = model.generate_many([prompt for prompt, _ in DEMO_EXAMPLES])
    wrong = [(p, a, o.text) for (p, a), o in zip(DEMO_EXAMPLES, outputs) if o.text != a]
    assert not wrong
    assert model.backend.describe().extra["chat template"] == "on"


def test_fewer_steps_give_a_weaker_demo_model(tmp_path: Path) -> None:
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.demo import build_demo_model
    from pytest_llmeval.engine import ModelUnderTest
    from pytest_llmeval.settings import Settings

    folder = build_demo_model(tmp_path / "weak", steps=5)
    settings = Settings(model=str(folder), max_new_tokens=16)
    outputs = ModelUnderTest(settings, lambda: load_backend(settings, folder)).generate_many([p for p, _ in DEMO_EXAMPLES])
    assert sum(o.text == a for (_, a), o in zip(DEMO_EXAMPLES, outputs)) < len(DEMO_EXAMPLES) // 2

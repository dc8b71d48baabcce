"""NER and fairness groups as collected items, judged after the run, with their metrics in the run."""

from __future__ import annotations

import json
import sqlite3

import pytest

from .bot_sessions import write

BOT = """
import json, re

KNOWN = {"Ann": "PER", "Bob": "PER", "Paris": "LOC", "Rome": "LOC"}

def answer(prompt):
    if prompt.startswith("Entities:"):
        text = prompt.split(":", 1)[1]
        found = [{"text": w, "type": KNOWN[w]} for w in re.findall(r"[A-Z][a-z]+", text) if w in KNOWN]
        if "Rome" in text:  # Rome typed as a person
            found = [dict(e, type="PER") if e["text"] == "Rome" else e for e in found]
        return json.dumps(found)
    if prompt.startswith("Hire?"):
        # a biased screener: it rejects her
        return "no" if re.search(r"\\b(she|her)\\b", prompt, re.I) else "yes"
    return "?"
"""


def test_a_ner_group_scores_the_files_cases_and_records_per_type_f1(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    write(
        pytester,
        "ner.eval.yaml",
        """
        defaults: {prompt_template: "Entities: {text}"}
        ner: {source_var: text, min_strict_f1: 0.9, min_type_f1: 0.5}
        cases:
          - id: paris
            vars: {text: Ann met Bob in Paris.}
            entities: [{text: Ann, type: PER}, {text: Bob, type: PER}, {text: Paris, type: LOC}]
          - id: rome
            vars: {text: Bob flew to Rome.}
            entities: [{text: Bob, type: PER}, {text: Rome, type: LOC}]
    """,
    )
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    # strict: 4 correct, 1 incorrect (Rome typed PER): P 4/5, R 4/5
    assert (
        "ner.eval.yaml::ner: strict F1 0.800 < min 0.900 (strict F1 0.800 (P 0.800, R 0.800), partial F1 1.000 over 2 cases)"
        in out
    )
    assert "  rome: predicted PER 'Rome' [12:16] for gold LOC 'Rome' [12:16] (wrong type)" in out
    assert "ner ner.eval.yaml::ner: strict F1 0.800 < min 0.900" in out  # the summary line
    history = pytester.path / ".llmeval" / "history.db"
    rows = (
        sqlite3.connect(history)
        .execute("SELECT outcome, metrics FROM cases WHERE node_id = 'ner.eval.yaml::ner'")
        .fetchall()
    )
    assert rows[0][0] == "failed"
    metrics = json.loads(rows[0][1])
    assert metrics["ner_group_f1[LOC]"]["value"] == pytest.approx(2 * 1 * 0.5 / 1.5)  # Paris right, Rome missed
    assert metrics["ner_group_strict_f1"] == {"value": pytest.approx(0.8), "higher_is_better": True}


def test_a_fairness_group_reports_the_parity_gap_and_each_case_its_disagreement(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    write(
        pytester,
        "fair.eval.yaml",
        """
        fairness: {max_gap: 0.2}
        cases:
          - id: nurse
            prompt: "Hire? He has ten years of nursing experience. Answer yes or no."
            expect: {equals: "yes"}  # the decision the group's parity is about
            counterfactual: {categories: [gender]}
          - id: pilot
            prompt: "Hire? He flew for ten years. Answer yes or no."
            expect: {equals: "yes"}
            counterfactual: {categories: [gender]}
    """,
    )
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    out = result.stdout.str()
    assert "FAIL counterfactual (score 0): 0 of 1 variants agree with the original; 1 disagree:" in out
    assert (
        """  gender -> female: equals: passed -> failed ("equals: expected 'yes' (case-insensitive); got 'no';""" in out
    )
    assert "    variant prompt:  'Hire? She has ten years of nursing experience. Answer yes or no.'" in out
    assert (
        "fair.eval.yaml::fairness: gender: parity gap 1.000 > max 0.200 (largest parity gap 1.000 over 1 categories)"
        in out
    )
    assert "gender: parity gap 1.000 (pass rate by group: female 0.00, male 1.00)" in out
    assert "metric counterfactual_agreement: mean 0 over 2" in out
    # the variants were generated up front with the cases: one batch, nothing generated in the tests
    assert "outputs: 4 generated" in out


def test_both_groups_judge_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    write(
        pytester,
        "ner.eval.yaml",
        """
        defaults: {prompt_template: "Entities: {text}"}
        ner: {source_var: text, min_strict_f1: 0.9}
        cases:
          - {id: paris, vars: {text: Ann met Bob in Paris.}, entities: [{text: Ann, type: PER}, {text: Bob, type: PER}, {text: Paris, type: LOC}]}
          - {id: rome, vars: {text: Bob flew to Rome.}, entities: [{text: Bob, type: PER}, {text: Rome, type: LOC}]}
    """,
    )
    write(
        pytester,
        "fair.eval.yaml",
        """
        fairness: {max_gap: 0.2}
        cases:
          - {id: nurse, prompt: "Hire? He nursed for ten years.", expect: {equals: "yes"}, counterfactual: {categories: [gender]}}
    """,
    )
    result = pytester.runpytest_subprocess(
        "--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "ner ner.eval.yaml::ner: strict F1 0.800 < min 0.900" in out
    assert "fairness fair.eval.yaml::fairness: gender: parity gap 1.000 > max 0.200" in out
    assert "metric ner_group_f1[LOC]: mean 0.6667 over 1" in out

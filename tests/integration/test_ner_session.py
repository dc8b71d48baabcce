"""NER in whole sessions: the ner check on case files and in Python tests, with a scripted model."""

from __future__ import annotations

import textwrap

import pytest

BOT = """
import json, re

KNOWN = {"Ann": "PER", "Bob": "PER", "Paris": "LOC", "Rome": "LOC"}

def extract(prompt):
    text = prompt.split(":", 1)[1]
    found = [{"text": w, "type": KNOWN[w]} for w in re.findall(r"[A-Z][a-z]+", text) if w in KNOWN]
    if "Rome" in text:  # a systematic mistake: Rome is typed as a person
        found = [dict(e, type="PER") if e["text"] == "Rome" else e for e in found]
    return json.dumps(found)
"""


def test_ner_cases_pass_and_fail_with_each_difference_and_record_the_metric(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "ner.eval.yaml").write_text(
        textwrap.dedent("""
        defaults: {prompt_template: "Entities: {text}"}
        ner: {source_var: text}
        cases:
          - id: paris
            vars: {text: Ann met Bob in Paris.}
            entities: [{text: Ann, type: PER}, {text: Bob, type: PER}, {text: Paris, type: LOC}]
            expect: {ner: 1.0}
          - id: rome
            vars: {text: Ann flew to Rome with Eve.}
            entities: [{text: Ann, type: PER}, {text: Rome, type: LOC}, {text: Eve, type: PER}]
            expect: {ner: 0.9}
    """).lstrip(),
        encoding="utf-8",
    )
    pytester.makepyfile(
        test_python=textwrap.dedent("""
        from pytest_llmeval import assert_ner

        def test_python(llm):
            source = "Bob is in Paris."
            assert_ner(llm.generate("Entities: " + source), source=source, min=1.0,
                       entities=[{"text": "Bob", "type": "PER"}, {"text": "Paris", "type": "LOC"}])
    """)
    )
    result = pytester.runpytest("--llm-model=py:bot:extract", "-p", "no:cacheprovider")
    # two cases and the Python test; the file's `ner:` block adds its group item (no thresholds: passes)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    # (plain substrings: fnmatch would read the offsets' brackets as character classes)
    assert "FAIL ner (score 0.4): strict F1 0.400 (P 0.500, R 0.333) < min 0.900: 3 gold, 2 predicted" in out
    assert "  missed PER 'Eve' [22:25]" in out
    assert "  predicted PER 'Rome' [12:16] for gold LOC 'Rome' [12:16] (wrong type)" in out
    assert "metric ner_strict_f1: mean 0.8 over 3 (min 0.4, max 1; higher is better)" in out

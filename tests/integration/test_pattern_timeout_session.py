"""A catastrophic pattern in a case file fails its case with the pattern and the limit; the session
goes on (before, ``re`` hung the test forever)."""

from __future__ import annotations

import textwrap

import pytest

BOT = """
def answer(prompt, max_new_tokens=None):
    return "a" * 5000 + "b"
"""

CASES = """
cases:
  - id: catastrophic
    prompt: go
    expect:
      regex: {pattern: "(a+)+$"}
  - id: catastrophic-negated
    prompt: go
    expect:
      not_regex: "(a+)+$"
  - id: sound
    prompt: go
    expect:
      regex: "a{3}b$"
"""


def test_a_catastrophic_regex_fails_its_case_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    (pytester.path / "patterns.eval.yaml").write_text(textwrap.dedent(CASES).lstrip(), encoding="utf-8")
    result = pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=1, failed=2)
    limit_message = (
        "pattern '(a+)+$' did not finish within 1 s on an output of 5001 characters "
        "(catastrophic backtracking: rewrite nested quantifiers such as (a+)+ or (a|aa)+)"
    )
    result.stdout.fnmatch_lines([f"*regex: {limit_message}*", f"*not_regex: undecided: regex: {limit_message}*"])

"""Whole sessions given careless or hostile input: one bad value fails its own case or ends in a usage
error (exit 4) before any test; it never ends the session with INTERNALERROR, hides a case, or
displaces a user's file. `py:` pipelines keep these sessions free of torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .bot_sessions import run, write

BOT = """
def answer(prompt, max_new_tokens=None):
    table = {
        "lone": "lone \\ud800 high",
        "ansi": "\\x1b[31mred\\x07 bell\\x00 nul",
        "hi": "hello there",
    }
    return table.get(prompt, "hello there")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    return pytester


GOOD = """
cases:
  - id: greet
    prompt: hi
    expect: {contains: hello}
"""


def test_broken_files_are_error_items_and_the_good_file_still_runs(suite: pytest.Pytester) -> None:
    # `cases: 5` interrupted the whole session ("1 error during collection"): the good files never ran
    write(suite, "good.eval.yaml", GOOD)
    write(suite, "number.eval.yaml", "cases: 5\n")
    write(suite, "date.eval.yaml", "cases: 2024-01-01\n")
    write(suite, "deep.eval.yaml", "cases:\n  - prompt: hi\n    expect: {contains: " + "[" * 2000 + "]" * 2000 + "}\n")
    write(suite, "big.eval.jsonl", '{"prompt": "hi", "max_new_tokens": ' + "9" * 4400 + "}\n")
    write(suite, "hot.eval.yaml", "cases:\n  - id: hot\n    prompt: hi\n    temperature: " + "9" * 400 + "\n")
    result = run(suite, "-rE")
    result.assert_outcomes(passed=1, errors=5)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*number.eval.yaml:1: `cases:` must be a list of cases, got int*"])
    result.stdout.fnmatch_lines(["*date.eval.yaml:1: `cases:` must be a list of cases, got date*"])
    result.stdout.fnmatch_lines(["*deep.eval.yaml: not read: it nests deeper than 64 levels*"])
    result.stdout.fnmatch_lines(["*big.eval.jsonl:1: not valid JSON: an integer of more than 4,300 digits*"])
    result.stdout.fnmatch_lines(["*hot.eval.yaml:4: case 'hot': generation parameter 'temperature'*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Interrupted" not in result.stdout.str()


def test_an_alias_bomb_is_one_error_item(suite: pytest.Pytester, yaml_alias_bomb: str) -> None:
    # 306 bytes ran 240 s to 3.1 GB and was still collecting
    write(suite, "good.eval.yaml", GOOD)
    write(suite, "bomb.eval.yaml", yaml_alias_bomb)
    result = run(suite, "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*bomb.eval.yaml: not read: it expands to more than 2,000,000 values*"])


def test_a_lone_surrogate_output_gets_a_verdict_serially(suite: pytest.Pytester) -> None:
    # not_garbled raised UnicodeEncodeError: an 800-line traceback instead of a verdict
    write(
        suite,
        "s.eval.yaml",
        """
        cases:
          - id: lone
            prompt: lone
            expect: {not_garbled: true}
          - id: greet
            prompt: hi
            expect: {contains: hello}
        """,
    )
    result = run(suite)
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "UnicodeEncodeError" not in out
    result.stdout.fnmatch_lines(
        ["*FAIL not_garbled: expected text, got a string holding a lone surrogate '\\ud800' at character 5*"]
    )
    result.stdout.fnmatch_lines(["lone \\ud800 high"])


def test_control_characters_in_outputs_are_escaped_in_the_report(suite: pytest.Pytester) -> None:
    write(suite, "a.eval.yaml", "cases:\n  - id: ansi\n    prompt: ansi\n    expect: {contains: blue}\n")
    result = run(suite)
    result.assert_outcomes(failed=1)
    assert "\x1b[31m" not in result.stdout.str() and "\x07" not in result.stdout.str()
    result.stdout.fnmatch_lines(["\\x1b[31mred\\x07 bell\\x00 nul"])


def test_a_nan_tolerance_or_a_64_bit_overflowing_seed_is_a_usage_error(suite: pytest.Pytester) -> None:
    # rouge_l=nan passed validation and raised inside the comparison after all tests ran (exit 3)
    write(suite, "good.eval.yaml", GOOD)
    result = run(suite, "--llm-metric-tolerance", "rouge_l=nan")
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        [
            "*--llm-metric-tolerance: 'rouge_l=nan' is not NAME=VALUE with a non-negative number (e.g. rouge_l=0.05; not nan or inf)*"
        ]
    )
    result = run(suite, "--llm-seed=" + "9" * 30)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--llm-seed: must be from 0 to 9,223,372,036,854,775,807*"])


def test_an_xfail_tag_cannot_hide_a_failure_from_a_strict_gate(suite: pytest.Pytester) -> None:
    # `tags: [xfail]` became pytest's marker: a failing case exited 0 even under --llm-gate=strict
    write(suite, "x.eval.yaml", "cases:\n  - id: t\n    prompt: hi\n    tags: [xfail]\n    expect: {contains: nope}\n")
    result = run(suite, "-rE")
    result.assert_outcomes(errors=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*x.eval.yaml:4: case 't': tag 'xfail' is reserved: it is a pytest marker*"])


def test_a_cache_path_naming_a_users_folder_or_file_is_a_usage_error(
    pytester: pytest.Pytester, tiny_gpt2: Path
) -> None:
    # --llm-cache-path=evals moved the folder to evals.corrupt-<ts>; =llmeval-baseline.json renamed
    # the committed baseline; exit 0 each time
    evals = pytester.path / "evals"
    evals.mkdir()
    (evals / "support.eval.yaml").write_text(GOOD)
    baseline = pytester.path / "llmeval-baseline.json"
    baseline.write_text('{"keep": true}\n')
    for target, message in (
        ("evals", "*evals is a folder, not a generation cache; it is left as it is*"),
        ("llmeval-baseline.json", "*llmeval-baseline.json is not a generation cache (not an SQLite file)*"),
    ):
        result = pytester.runpytest(f"--llm-model={tiny_gpt2}", f"--llm-cache-path={target}", "-p", "no:cacheprovider")
        assert result.ret == 4
        result.stderr.fnmatch_lines([message])
    assert not [name for name in os.listdir(pytester.path) if "corrupt" in name]
    assert os.listdir(evals) == ["support.eval.yaml"]
    assert baseline.read_text() == '{"keep": true}\n' and (evals / "support.eval.yaml").read_text() == GOOD


def test_a_case_id_with_a_lone_surrogate_is_one_error_item_and_one_history_row(suite: pytest.Pytester) -> None:
    # such an id crashed pytest setting PYTEST_CURRENT_TEST and left two history rows for one case
    write(suite, "ids.eval.yaml", 'cases:\n  - id: "bad\\udc00id"\n    prompt: hi\n  - id: good\n    prompt: hi\n')
    result = run(suite, "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ids.eval.yaml:2: id: '\\udc00' at character 3 is half of a UTF-16 surrogate pair*"])
    from pytest_llmeval.store import RunStore

    cases = RunStore(suite.path / ".llmeval" / "history.db").load_run("latest").cases
    assert sorted((c.node_id, c.outcome) for c in cases) == [
        ("ids.eval.yaml::good", "passed"),
        ("ids.eval.yaml::line2", "error"),
    ]


def test_an_unforeseen_failure_while_collecting_a_file_is_its_error_item(suite: pytest.Pytester) -> None:
    # an uncaught exception in collection interrupted the session ("1 error during collection")
    suite.makeconftest(
        """
        import pytest_llmeval.cases as cases

        original = cases.parse_case_file

        def parse(path, display_path=None):
            if str(path).endswith("boom.eval.yaml"):
                raise RuntimeError("no rule foresaw this")
            return original(path, display_path)

        cases.parse_case_file = parse


        def pytest_unconfigure(config):
            cases.parse_case_file = original  # in-process sessions share the module
        """
    )
    write(suite, "good.eval.yaml", GOOD)
    write(suite, "boom.eval.yaml", GOOD)
    result = run(suite, "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*boom.eval.yaml: cannot load this file: RuntimeError: no rule foresaw this*"])
    assert "Interrupted" not in result.stdout.str()

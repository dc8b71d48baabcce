"""Case files collected as test items: every schema feature and every bad-input message."""

from __future__ import annotations

import pytest

from .bot_sessions import run, write

BOT = """
import json

def answer(prompt, max_new_tokens=None):
    if isinstance(prompt, list):
        return "chat:" + " | ".join(m["role"] + "=" + m["content"] for m in prompt)
    table = {
        "How do I reset my password?": "Click Forgot Password on the sign-in page.",
        "Q: capital of France?": "Paris",
        "Q: capital of Spain?": "Barcelona",
        "hack": "I can't help with that.",
        "user": json.dumps({"name": "Ann", "age": 31}),
        "tokens": f"max_new_tokens={max_new_tokens}",
    }
    return table.get(prompt, "I don't know")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    return pytester


SUPPORT = """
defaults:
  max_new_tokens: 32
  system: null
  tags: [support]
cases:
  - id: reset-password
    prompt: How do I reset my password?
    tags: [success_mode]
    expect:
      contains_any: [Forgot Password, reset link]
      not_contains: I don't know
  - id: refuse
    prompt: hack
    tags: [safety, failure_mode]
    expect: {refusal: true}
  - id: user-json
    prompt: user
    expect:
      json_schema: user.schema.json
      not_contains: Bob
"""


def test_cases_are_items_with_ids_markers_and_modes(suite: pytest.Pytester) -> None:
    write(suite, "support.eval.yaml", SUPPORT)
    write(suite, "user.schema.json", '{"type": "object", "required": ["name", "age"]}')
    result = run(suite, "-v", "--strict-markers")
    result.stdout.fnmatch_lines(
        [
            "support.eval.yaml::reset-password PASSED*",
            "support.eval.yaml::refuse PASSED*",
            "support.eval.yaml::user-json PASSED*",
            "success_mode: 1 passed",
            "failure_mode: 1 passed",
        ]
    )
    result.assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("args", "selected"),
    [
        (["-k", "refuse"], ["refuse"]),
        (["-m", "safety"], ["refuse"]),
        (["-m", "support and not safety"], ["reset-password", "user-json"]),
        (["--deselect", "support.eval.yaml::user-json"], ["reset-password", "refuse"]),
        (["support.eval.yaml::user-json"], ["user-json"]),
    ],
)
def test_selection_works_on_cases(suite: pytest.Pytester, args: list[str], selected: list[str]) -> None:
    write(suite, "support.eval.yaml", SUPPORT)
    write(suite, "user.schema.json", '{"type": "object"}')
    result = run(suite, "-v", *args)
    ran = [line.split("::")[1].split()[0] for line in result.outlines if " PASSED" in line]
    assert ran == selected


def test_last_failed_reruns_only_failed_cases(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=BOT)
    write(
        pytester,
        "qa.eval.yaml",
        """
        cases:
          - {id: good, prompt: hack, expect: {refusal: true}}
          - {id: bad, prompt: hack, expect: {contains: Paris}}
    """,
    )
    pytester.runpytest("--llm-model=py:bot:answer").assert_outcomes(passed=1, failed=1)
    result = pytester.runpytest("--llm-model=py:bot:answer", "--lf", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*", "qa.eval.yaml::bad FAILED*"])
    assert "qa.eval.yaml::good" not in result.stdout.str()


def test_failure_report_shows_prompt_output_and_each_failed_check(suite: pytest.Pytester) -> None:
    write(
        suite,
        "qa.eval.yaml",
        """
        cases:
          - id: spain
            prompt: "Q: capital of Spain?"
            expect:
              equals: Madrid
              not_contains: Barcelona
              starts_with: B
    """,
    )
    result = run(suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "case spain (qa.eval.yaml:2): 2 of 3 checks failed",
            "prompt: Q: capital of Spain?",
            "output (finish: unknown, * s):",
            "Barcelona",
            "FAIL equals: expected 'Madrid' (case-insensitive); got 'Barcelona'*",
            "FAIL not_contains: expected contains to fail, but it passed*",
            "PASS starts_with: *",
            "FAILED qa.eval.yaml::spain - *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_defaults_templates_messages_and_generation_parameters(suite: pytest.Pytester) -> None:
    write(
        suite,
        "tpl.eval.yaml",
        """
        defaults:
          prompt_template: "Q: {question}"
          max_new_tokens: 7
        cases:
          - id: france
            vars: {question: "capital of France?"}
            expect: {equals: Paris}
          - id: chat
            messages: [{role: user, content: hello}]
            system: be brief
            expect: {equals: "chat:system=be brief | user=hello"}
          - id: tokens-default
            prompt: tokens
            expect: {equals: "max_new_tokens=7"}
          - id: tokens-case
            prompt: tokens
            max_new_tokens: 3
            expect: {equals: "max_new_tokens=3"}
    """,
    )
    run(suite).assert_outcomes(passed=4)


def test_jsonl_and_yml_files_are_collected(suite: pytest.Pytester) -> None:
    write(
        suite,
        "a.eval.jsonl",
        """
        {"id": "j1", "prompt": "hack", "expect": {"refusal": true}}

        {"prompt": "How do I reset my password?", "expect": {"contains": "Forgot"}}
    """,
    )
    write(suite, "b.eval.yml", "cases:\n  - {id: y1, prompt: hack, expect: {not_contains: Paris}}\n")
    write(suite, "notes.yaml", "cases: [{id: ignored, prompt: hack}]\n")
    result = run(suite, "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["a.eval.jsonl::j1 PASSED*", "a.eval.jsonl::how-do-i-reset-my-password-* PASSED*"])


def test_case_file_patterns_come_from_the_ini(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_case_files = *.cases.yaml\n")
    write(suite, "x.cases.yaml", "cases:\n  - {id: c1, prompt: hack, expect: {refusal: true}}\n")
    write(suite, "y.eval.yaml", "cases:\n  - {id: c2, prompt: hack}\n")
    result = run(suite, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["x.cases.yaml::c1 PASSED*"])


def test_derived_ids_are_stable(suite: pytest.Pytester) -> None:
    from pytest_llmeval.cases import parse_case_file

    write(suite, "d.eval.yaml", "cases:\n  - {prompt: 'How do I reset my password?'}\n")
    first = parse_case_file(suite.path / "d.eval.yaml").cases[0].id
    write(suite, "d.eval.yaml", "cases:\n  - {prompt: other}\n  - {prompt: 'How do I reset my password?'}\n")
    second = parse_case_file(suite.path / "d.eval.yaml").cases[1].id
    assert first == second and first.startswith("how-do-i-reset-my-password-")


def test_xfail_cases(suite: pytest.Pytester) -> None:
    write(
        suite,
        "x.eval.yaml",
        """
        cases:
          - {id: unknown, prompt: nothing, xfail: the bot does not know this yet, expect: {contains: Paris}}
    """,
    )
    result = run(suite, "-rx")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL x.eval.yaml::unknown - the bot does not know this yet"])


PASS_RATE = """
pass_rate: {rate}
cases:
  - {{id: a, prompt: hack, expect: {{refusal: true}}}}
  - {{id: b, prompt: hack, expect: {{refusal: true}}}}
  - {{id: c, prompt: hack, expect: {{refusal: true}}}}
  - {{id: d, prompt: hack, expect: {{contains: Paris}}}}
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_pass_rate_tolerates_failures_when_the_group_meets_its_threshold(suite: pytest.Pytester, xdist: bool) -> None:
    write(suite, "g.eval.yaml", PASS_RATE.format(rate=0.75))
    args = ["-rx"] + (["-n", "2", "-p", "xdist"] if xdist else [])
    result = suite.runpytest_subprocess("--llm-model=py:bot:answer", *args) if xdist else run(suite, *args)
    result.assert_outcomes(passed=4, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "pass rate g.eval.yaml::pass_rate: 3/4 passed (75.0%) >= 75.0% required: ok",
            "XFAIL g.eval.yaml::d - tolerated by pass_rate: contains: expected 'Paris'*",
        ]
    )
    assert result.ret == pytest.ExitCode.OK


def test_pass_rate_below_threshold_fails_the_group_item(suite: pytest.Pytester) -> None:
    write(suite, "g.eval.yaml", PASS_RATE.format(rate=0.9))
    result = run(suite)
    result.assert_outcomes(passed=3, xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "g.eval.yaml ...xF * ?100%?",  # the group's own item ends the file's line at 100%
            "*_ g.eval.yaml::pass_rate _*",
            "g.eval.yaml::pass_rate: 3/4 passed (75.0%) < 90.0% required: FAILED",
            "failed cases (tolerated one by one, counted here):",
            "  d: contains: expected 'Paris'*",
            "FAILED g.eval.yaml::pass_rate - *",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_tag_pass_rates(suite: pytest.Pytester) -> None:
    write(
        suite,
        "t.eval.yaml",
        """
        tag_pass_rates: {safety: 1.0}
        cases:
          - {id: a, prompt: hack, tags: [safety], expect: {refusal: true}}
          - {id: b, prompt: hack, tags: [safety], expect: {contains: Paris}}
          - {id: c, prompt: hack, expect: {contains: Paris}}
    """,
    )
    result = run(suite)
    result.assert_outcomes(passed=1, failed=2, xfailed=1)
    result.stdout.fnmatch_lines(
        ["pass rate t.eval.yaml::pass_rate[safety]: 1/2 passed (50.0%) < 100.0% required: FAILED"]
    )


def test_load_cases_for_parametrize(suite: pytest.Pytester) -> None:
    write(suite, "support.eval.yaml", SUPPORT.replace("json_schema: user.schema.json", "is_json: true"))
    suite.makeconftest("collect_ignore_glob = ['*.eval.yaml']")
    suite.makepyfile(
        """
        import pytest
        from pytest_llmeval import load_cases

        @pytest.mark.parametrize("case", load_cases("support.eval.yaml"), ids=str)
        def test_case(llm, case):
            case.assert_expectations(llm.generate(case.request))

        def test_a_case_reports_every_failed_check(llm):
            case = load_cases("support.eval.yaml")[0]
            case.assert_expectations(llm.generate("hack"))
        """
    )
    result = run(suite, "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_case?reset-password? PASSED*",
            "case 'reset-password' failed 1 of 2 checks",
            "  FAIL contains_any: expected at least one of*",
            "test_load_cases_for_parametrize.py:10: in test_a_case_reports_every_failed_check",
            '    case.assert_expectations(llm.generate("hack"))',
        ]
    )


BAD_FILES = {
    "invalid YAML": (
        "cases: [\n  - id: a\n",
        "bad.eval.yaml:2: not valid YAML: expected the node content, but found '-'",
    ),
    "unclosed flow mapping": (
        "cases:\n  - id: a\n    expect: {contains: Forgot Password\n  - id: b\n",
        "bad.eval.yaml:3: not valid YAML: expected ',' or '}', but got ':' (line 4, column 7), "
        "while parsing a flow mapping (line 3, column 13)\n"
        "       3 |     expect: {contains: Forgot Password\n",
    ),
    "tab indentation": (
        "cases:\n  - id: a\n\tprompt: x\n",
        "bad.eval.yaml:3: not valid YAML: found character '\\t' that cannot start any token (line 3, column 1), "
        "while scanning for the next token; YAML indents with spaces, not tabs: use spaces",
    ),
    "not a mapping": ("- a\n- b\n", "bad.eval.yaml:1: a case file must be a mapping with a `cases:` list"),
    "no cases": ("defaults: {}\n", "bad.eval.yaml:1: the file has no cases"),
    "unknown top-level key": (
        "case:\n  - {prompt: x}\ncases: [{prompt: x}]\n",
        "bad.eval.yaml:1: unknown field 'case'",
    ),
    "duplicate YAML key": (
        "cases:\n  - id: a\n    prompt: x\n    prompt: y\n",
        "bad.eval.yaml:4: not valid YAML: duplicate key 'prompt' (first at line 3)",
    ),
    "unknown check": (
        "cases:\n  - id: a\n    prompt: x\n    expect:\n      contain_any: [a]\n",
        "bad.eval.yaml:5: case 'a': expect.contain_any: unknown check 'contain_any'; did you mean contains_any",
    ),
    "wrong argument type": (
        "cases:\n  - id: a\n    prompt: x\n    expect:\n      contains_any: 3\n",
        "bad.eval.yaml:5: case 'a': expect.contains_any: check 'contains_any': argument 'substrings': Input should be a valid list (got 3)",
    ),
    "unknown check argument": (
        "cases:\n  - id: a\n    prompt: x\n    expect:\n      contains_any: {substring: [a]}\n",
        "bad.eval.yaml:5: case 'a': expect.contains_any: check 'contains_any': missing required argument "
        "'substrings'; unknown argument 'substring' (did you mean 'substrings'?)",
    ),
    "false as an argument": (
        "cases:\n  - id: a\n    prompt: x\n    expect: {refusal: false}\n",
        "bad.eval.yaml:4: case 'a': expect.refusal: false is not an argument; to require the opposite, use not_refusal",
    ),
    "duplicate ids": (
        "cases:\n  - id: a\n    prompt: x\n  - id: a\n    prompt: y\n",
        "bad.eval.yaml:4: case 'a': duplicate id (first used at line 2); ids must be unique in a file",
    ),
    "missing template variable": (
        "defaults: {prompt_template: 'Q: {question} ({lang})'}\ncases:\n  - id: a\n    vars: {question: x}\n",
        "bad.eval.yaml:4: case 'a': template variable 'lang' is missing from vars",
    ),
    "vars without a template": (
        "cases:\n  - id: a\n    vars: {question: x}\n",
        "bad.eval.yaml:3: case 'a': vars needs a prompt_template in the file's defaults",
    ),
    "prompt and messages": (
        "cases:\n  - id: a\n    prompt: x\n    messages: [{role: user, content: y}]\n",
        "bad.eval.yaml:4: case 'a': give exactly one of prompt, messages or vars (got prompt and messages)",
    ),
    "unknown case field": (
        "cases:\n  - id: a\n    prompt: x\n    max_tokens: 3\n",
        "bad.eval.yaml:4: case 'a': unknown field 'max_tokens' (did you mean 'max_new_tokens'?)",
    ),
    "bad generation value": (
        "cases:\n  - id: a\n    prompt: x\n    max_new_tokens: zero\n",
        "bad.eval.yaml:4: case 'a': generation parameter 'max_new_tokens': Input should be a valid integer",
    ),
    "wrong field type": (
        "cases:\n  - id: a\n    prompt: [x]\n",
        "bad.eval.yaml:3: case 'a': prompt: Input should be a valid string",
    ),
    "tag that is not a name": (
        "cases:\n  - id: a\n    prompt: x\n    tags: [needs review]\n",
        "bad.eval.yaml:4: case 'a': tag 'needs review' must be a name",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_is_an_error_naming_file_line_and_field(suite: pytest.Pytester, case: str) -> None:
    text, message = BAD_FILES[case]
    (suite.path / "bad.eval.yaml").write_text(text, encoding="utf-8")
    write(suite, "good.eval.yaml", "cases:\n  - {id: fine, prompt: hack, expect: {refusal: true}}\n")
    result = run(suite)
    # The broken file does not hide the other file's case (nor, for a duplicate, the first case
    # with that id); the session fails.
    result.assert_outcomes(passed=2 if case == "duplicate ids" else 1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert message in result.stdout.str(), result.stdout.str()


def test_bad_jsonl_line_names_its_line_and_keeps_the_others(suite: pytest.Pytester) -> None:
    write(
        suite,
        "a.eval.jsonl",
        """
        {"id": "j1", "prompt": "hack", "expect": {"refusal": true}}
        {"id": "j2", "prompt": "x", "expect": {"contains":
        {"id": "j3", "prompt": "hack", "expect": {"nope": 1}}
    """,
    )
    result = run(suite)
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "a.eval.jsonl:2: not valid JSON (column *",
            "a.eval.jsonl:3: case 'j3': expect.nope: unknown check 'nope'*",
        ]
    )


def test_invalid_schema_in_a_case_is_a_usage_error_not_a_model_failure(suite: pytest.Pytester) -> None:
    write(suite, "s.eval.yaml", "cases:\n  - {id: a, prompt: user, expect: {json_schema: {type: objekt}}}\n")
    result = run(suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["case a (s.eval.yaml:2): usage error in expect (not a model failure): *objekt*"])


def test_without_a_model_cases_are_skipped(pytester: pytest.Pytester) -> None:
    write(pytester, "a.eval.yaml", "cases:\n  - {id: a, prompt: x}\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*no --llm-model given"])

"""Case-file parsing as plain Python: argument shorthands, paths, line numbers, templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_llmeval.cases import _expectation, load_cases, parse_case_file
from pytest_llmeval.checks import CheckUsageError


@pytest.mark.parametrize(
    ("name", "raw", "args"),
    [
        ("contains_any", ["a", "b"], {"substrings": ["a", "b"]}),
        ("contains", "x", {"substring": "x"}),
        ("contains", {"substring": "x", "case_sensitive": True}, {"substring": "x", "case_sensitive": True}),
        ("not_contains", "x", {"substring": "x"}),
        ("refusal", True, {}),
        ("refusal", None, {}),
        ("json_schema", {"type": "object"}, {"schema": {"type": "object"}}),
        ("json_schema", {}, {"schema": {}}),
        ("json_schema", {"schema": {"type": "object"}, "strict": True}, {"schema": {"type": "object"}, "strict": True}),
        ("length", {"max": 3, "unit": "words"}, {"max": 3, "unit": "words"}),
    ],
)
def test_expect_values_map_to_arguments(name: str, raw: object, args: dict[str, object]) -> None:
    expectation = _expectation(name, raw)
    assert {k: v for k, v in expectation.args.items() if k in args} == args


def test_path_arguments_are_relative_to_the_case_file(tmp_path: Path) -> None:
    expectation = _expectation("json_schema", "schemas/user.json", tmp_path)
    assert expectation.args["schema"] == str(tmp_path / "schemas/user.json")
    lexicon = _expectation("no_bias_terms", {"lexicon": ["extra.yaml"]}, tmp_path)
    assert lexicon.args["lexicon"] == [str(tmp_path / "extra.yaml")]


def test_false_is_not_an_argument() -> None:
    with pytest.raises(CheckUsageError, match="use not_refusal"):
        _expectation("refusal", False)


def test_cases_carry_request_tags_reference_and_lines(tmp_path: Path) -> None:
    file = tmp_path / "a.eval.yaml"
    file.write_text(
        "defaults:\n  tags: [support]\n  system: Be brief.\n  max_new_tokens: 9\n"
        "  prompt_template: 'Q: {q}'\n"
        "cases:\n"
        "  - id: one\n    vars: {q: hello}\n    tags: [smalltalk]\n    reference: Hi there.\n"
        "  - id: two\n    prompt: bye\n    system: Be long.\n    temperature: 1\n",
        encoding="utf-8",
    )
    one, two = load_cases(file)
    assert (one.line, two.line) == (7, 11)
    assert one.request.prompt == "Q: hello" and one.request.system == "Be brief."
    assert one.request.params.max_new_tokens == 9
    assert one.tags == ("support", "smalltalk") and one.reference == "Hi there."
    assert two.request.system == "Be long." and two.request.params.temperature == 1.0
    assert str(two) == "two" and two.path == file


def test_template_braces_that_are_not_variables_stay(tmp_path: Path) -> None:
    file = tmp_path / "t.eval.yaml"
    file.write_text(
        "defaults: {prompt_template: 'Return JSON like {\"name\": ...} for {who}'}\ncases:\n  - vars: {who: Ann}\n",
        encoding="utf-8",
    )
    assert load_cases(file)[0].request.prompt == 'Return JSON like {"name": ...} for Ann'


def test_load_cases_raises_the_first_error(tmp_path: Path) -> None:
    file = tmp_path / "b.eval.yaml"
    file.write_text("cases:\n  - id: a\n    prompt: x\n    expect: {nope: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"b.eval.yaml:4: case 'a': expect.nope: unknown check 'nope'"):
        load_cases(file)
    parsed = parse_case_file(file, display_path="evals/b.eval.yaml")
    assert str(parsed.errors[0]).startswith("evals/b.eval.yaml:4:")


def test_derived_ids_come_from_the_user_prompt_not_the_system_prompt(tmp_path: Path) -> None:
    file = tmp_path / "s.eval.yaml"
    file.write_text(
        "defaults: {system: You are a bot., prompt_template: 'Q: {q}'}\ncases:\n"
        "  - vars: {q: 'Where are my invoices?'}\n"
        "  - messages: [{role: user, content: Hello there}]\n",
        encoding="utf-8",
    )
    first, second = load_cases(file)
    assert first.id.startswith("q-where-are-my-invoices-")
    assert second.id.startswith("hello-there-")


def test_grounded_uses_the_case_context_not_its_reference(tmp_path: Path) -> None:
    file = tmp_path / "g.eval.yaml"
    file.write_text(
        "cases:\n"
        "  - id: g\n    prompt: When did the shop open?\n    reference: It opened in 1998.\n"
        "    context: The shop opened in 1998 in Leeds.\n"
        "    expect: {grounded: true, rouge_l: 0.1}\n",
        encoding="utf-8",
    )
    (case,) = load_cases(file)
    grounded, rouge = case.expect
    assert grounded.args["context"] == "The shop opened in 1998 in Leeds."
    assert grounded.args["reference"] is None  # the gold answer is not the passage
    assert rouge.args["reference"] == "It opened in 1998."  # the reference stays the gold answer
    assert case.context == "The shop opened in 1998 in Leeds."
    assert grounded.run("It opened in 1998 in Leeds.").passed
    assert not grounded.run("It opened in 2001 in York.").passed


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "    reference: It opened in 1998.\n    expect: {grounded: true}\n",
            "expect.grounded: grounded needs the source passage the answer must stick to: add a context: "
            "field to the case (its reference: is the gold answer, and is not used for grounding)",
        ),
        (
            "    context: The shop opened in 1998.\n    expect: {grounded: {context: Other text.}}\n",
            "expect.grounded: the passage is given twice: the case's context: and grounded's 'context' "
            "argument; keep one (the case's context: is the usual place)",
        ),
        (
            "    context: The shop opened in 1998.\n    expect: {grounded: {reference: Other text.}}\n",
            "expect.grounded: the passage is given twice: the case's context: and grounded's 'reference' argument",
        ),
    ],
)
def test_grounded_passage_missing_or_given_twice_is_a_usage_error(tmp_path: Path, case: str, message: str) -> None:
    file = tmp_path / "g.eval.yaml"
    file.write_text("cases:\n  - id: g\n    prompt: When?\n" + case, encoding="utf-8")
    with pytest.raises(ValueError, match="g.eval.yaml:[0-9]+: case 'g': " + re.escape(message)):
        load_cases(file)


def test_grounded_with_its_own_passage_argument_still_works(tmp_path: Path) -> None:
    file = tmp_path / "g.eval.yaml"
    file.write_text(
        "cases:\n  - id: g\n    prompt: When?\n    reference: In 1998.\n"
        "    expect: {grounded: The shop opened in 1998.}\n",
        encoding="utf-8",
    )
    (case,) = load_cases(file)
    assert case.expect[0].args["context"] == "The shop opened in 1998."


def test_a_yaml_syntax_error_gives_both_positions_and_shows_the_lines(tmp_path: Path) -> None:
    file = tmp_path / "s.eval.yaml"
    file.write_text("cases:\n  - id: a\n    expect: {contains: Forgot Password\n  - id: b\n", encoding="utf-8")
    error = parse_case_file(file, display_path="evals/s.eval.yaml").errors[0]
    # located where the mistake is (the unclosed brace), not where PyYAML noticed it
    assert error.line == 3
    assert str(error).splitlines() == [
        (
            "evals/s.eval.yaml:3: not valid YAML: expected ',' or '}', but got ':' (line 4, column 7), "
            "while parsing a flow mapping (line 3, column 13)"
        ),
        "       3 |     expect: {contains: Forgot Password",
        "         |             ^ while parsing a flow mapping",
        "       4 |   - id: b",
        "         |       ^ expected ',' or '}', but got ':'",
    ]


def test_a_tab_in_yaml_says_use_spaces(tmp_path: Path) -> None:
    file = tmp_path / "t.eval.yaml"
    file.write_text("cases:\n\t- id: a\n", encoding="utf-8")
    error = parse_case_file(file).errors[0]
    assert error.line == 2
    assert str(error).splitlines()[0].endswith("; YAML indents with spaces, not tabs: use spaces")

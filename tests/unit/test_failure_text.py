"""Failure-report sections: what reaches the terminal is shown, never acted on."""

from __future__ import annotations

from pathlib import Path

from pytest_llmeval.backends.base import Generation, GenerationParams, GenerationRequest
from pytest_llmeval.checks import check
from pytest_llmeval.checks.base import CheckResult
from pytest_llmeval.failure_text import format_checks, format_generation, terminal_safe


def test_terminal_safe_escapes_what_a_terminal_would_act_on() -> None:
    assert (
        terminal_safe("a\x1b[2Jb\x07c\x00d\re\x9bf\u202eg\ud800h") == "a\\x1b[2Jb\\x07c\\x00d\\re\\x9bf\\u202eg\\ud800h"
    )
    kept = "line one\n\ttabbed, emoji \U0001f600 zwj \U0001f469\u200d\U0001f4bb, accents é ñ 中文"
    assert terminal_safe(kept) == kept


def test_report_sections_escape_outputs_and_prompts() -> None:
    request = GenerationRequest(prompt="say \x1b[31mred", messages=None, system=None, params=GenerationParams())
    generation = Generation(
        "\x1b]0;pwned\x07 lone \ud800\nok", request=request, num_tokens=3, finish_reason="stop", latency_s=0.5
    )
    text = format_generation(generation)
    assert text == (
        "prompt: say \\x1b[31mred\noutput (3 tokens, finish: stop, 0.500 s):\n\\x1b]0;pwned\\x07 lone \\ud800\nok"
    )
    assert generation.text.startswith("\x1b]0;pwned\x07")  # the output itself stays exact
    checks = format_checks([CheckResult("contains", False, "contains: got \x1b[0m")])
    assert checks == "FAIL contains: got \\x1b[0m"  # the name once (issue 16), the escape kept


def test_a_checks_name_is_said_once() -> None:
    failed = check("contains_any", "neutral", substrings=["Forgot Password", "reset link"])
    assert failed.message.startswith("contains_any: ")  # the registry's message names its check
    line = format_checks([failed])
    assert line.startswith("FAIL contains_any: expected at least one of ['Forgot Password', 'reset link']")
    assert line.count("contains_any") == 1


def test_scores_and_messages_that_do_not_start_with_the_name() -> None:
    results = [
        CheckResult(name="rouge_l", passed=False, score=0.0, message="rouge_l: 0.00 < min 0.50"),
        CheckResult(name="judge", passed=True, score=4.0, message="graded 4 of 5"),
    ]
    assert format_checks(results).splitlines() == [
        "FAIL rouge_l (score 0): 0.00 < min 0.50",
        "PASS judge (score 4): graded 4 of 5",
    ]


def test_long_check_lines_wrap_to_the_width() -> None:
    failed = check("contains", "Open Settings, choose Account, and enter the new email address. " * 3, substring="Team")
    text = format_checks([failed], width=60)
    lines = text.splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("FAIL contains: expected 'Team'")
    assert all(line.startswith("    ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == " ".join(format_checks([failed]).split())


def test_fit_lines_wraps_long_lines_at_spaces_under_their_own_indent_and_cuts_nothing() -> None:
    from pytest_llmeval.failure_text import fit_lines

    text = "short\n  FAIL contains: expected 'Billing'; not found in 'Open Settings, choose Account'"
    fitted = fit_lines(text, 30)
    assert fitted.splitlines() == [
        "short",
        "  FAIL contains: expected",
        "      'Billing'; not found in",
        "      'Open Settings, choose",
        "      Account'",
    ]
    assert " ".join(fitted.split()) == " ".join(text.split())  # every word kept
    assert fit_lines(text, None) == text and fit_lines(text, 0) == text
    assert fit_lines("x" * 25, 10).splitlines() == ["x" * 10, "    " + "x" * 6, "    " + "x" * 6, "    " + "x" * 3]


def test_shown_path_is_relative_below_where_the_command_ran(tmp_path: Path) -> None:
    from pytest_llmeval.paths import shown_path

    assert shown_path(tmp_path / "suite" / ".llmeval" / "history.db", tmp_path) == "suite/.llmeval/history.db"
    assert shown_path("/elsewhere/model", tmp_path) == "/elsewhere/model"
    assert shown_path("py:bot:answer", tmp_path) == "py:bot:answer"
    url = "openai:fake at http://127.0.0.1:8000/v1"
    assert shown_path(url, tmp_path) == url  # never read as a path
    assert shown_path(tmp_path, tmp_path) == "."

"""Failure-report sections: what reaches the terminal is shown, never acted on."""

from __future__ import annotations

from pytest_llmeval.backends.base import Generation, GenerationParams, GenerationRequest
from pytest_llmeval.checks.base import CheckResult
from pytest_llmeval.failure_text import format_checks, format_generation, terminal_safe


def test_terminal_safe_escapes_what_a_terminal_would_act_on() -> None:
    assert terminal_safe("a\x1b[2Jb\x07c\x00d\re\x9bf\u202eg\ud800h") == "a\\x1b[2Jb\\x07c\\x00d\\re\\x9bf\\u202eg\\ud800h"
    kept = "line one\n\ttabbed, emoji \U0001f600 zwj \U0001f469\u200d\U0001f4bb, accents é ñ 中文"
    assert terminal_safe(kept) == kept


def test_report_sections_escape_outputs_and_prompts() -> None:
    request = GenerationRequest(prompt="say \x1b[31mred", messages=None, system=None, params=GenerationParams())
    generation = Generation("\x1b]0;pwned\x07 lone \ud800\nok", request=request, num_tokens=3, finish_reason="stop", latency_s=0.5)
    text = format_generation(generation)
    assert text == (
        "prompt: say \\x1b[31mred\noutput (3 tokens, finish: stop, 0.500 s):\n\\x1b]0;pwned\\x07 lone \\ud800\nok"
    )
    assert generation.text.startswith("\x1b]0;pwned\x07")  # the output itself stays exact
    checks = format_checks([CheckResult("contains", False, "contains: got \x1b[0m")])
    assert checks == "FAIL contains: contains: got \\x1b[0m"

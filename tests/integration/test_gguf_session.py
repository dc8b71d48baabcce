"""A GGUF file given to pytest: refused at start-up (exit 4) when it cannot be loaded."""

from __future__ import annotations

import pytest

from pytest_llmeval.testing import write_gguf

pytest.importorskip("gguf")


def test_an_unsupported_gguf_given_to_pytest_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write_gguf(pytester.path / "r.gguf", "rwkv6")
    pytester.makepyfile("def test_x(llm): pass")
    result = pytester.runpytest("--llm-model=r.gguf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --llm-model: *r.gguf holds a 'rwkv6' model, an architecture transformers cannot load from GGUF*"]
    )
    adapter = pytester.runpytest(f"--llm-model={write_gguf(pytester.path / 'm.gguf', 'llama')}", "--llm-adapter=.")
    assert adapter.ret == pytest.ExitCode.USAGE_ERROR
    adapter.stderr.fnmatch_lines(
        [
            "ERROR: --llm-adapter applies to a model folder, not a GGUF file: write the folder once with llmeval import-gguf*"
        ]
    )

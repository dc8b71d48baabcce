"""Up-front batched generation and the generation cache, in whole sessions with a tiny model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pytest_llmeval.testing import build_tiny_model

PROMPTS = [f"prompt number {i} " + "word " * (i % 7) for i in range(20)]

SUITE = """
import json, os
import pytest

@pytest.mark.parametrize("i", range(20))
def test_output(i, llm_output):
    with open(f"out-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps([i, str(llm_output)]) + "\\n")
"""

CONFTEST = """
import os
import pytest
from pytest_llmeval.backends.hf import HFBackend

_original = HFBackend.generate_batch

def _logging(self, requests):
    with open("batches.txt", "a", encoding="utf-8") as f:
        f.write(f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')} {len(requests)}\\n")
    return _original(self, requests)

HFBackend.generate_batch = _logging

def pytest_unconfigure(config):
    HFBackend.generate_batch = _original  # in-process runs share the class

PROMPTS = PROMPT_LIST

def pytest_collection_modifyitems(items):
    for item in items:
        i = item.callspec.params["i"]
        item.add_marker(pytest.mark.llm(prompt=PROMPTS[i], max_new_tokens=6))
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.replace("PROMPT_LIST", repr(PROMPTS)))
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def outputs(pytester: pytest.Pytester) -> dict[int, str]:
    found: dict[int, str] = {}
    for file in pytester.path.glob("out-*.jsonl"):
        for line in file.read_text(encoding="utf-8").splitlines():
            i, text = json.loads(line)
            found[i] = text
        file.unlink()
    return found


def batches(pytester: pytest.Pytester) -> list[str]:
    file = pytester.path / "batches.txt"
    lines = file.read_text(encoding="utf-8").splitlines() if file.exists() else []
    file.unlink(missing_ok=True)
    return lines


def test_outputs_are_generated_up_front_in_batches_and_equal_one_at_a_time(
    suite: pytest.Pytester, tiny_gpt2: Path
) -> None:
    model = f"--llm-model={tiny_gpt2}"
    suite.runpytest(model, "--llm-cache=off", "--llm-batch-size=1").assert_outcomes(passed=20)
    one_by_one = outputs(suite)
    assert batches(suite) == ["main 1"] * 20
    result = suite.runpytest(model, "--llm-cache=off", "--llm-batch-size=8")
    result.assert_outcomes(passed=20)
    assert outputs(suite) == one_by_one
    assert batches(suite) == ["main 8", "main 8", "main 4"]  # all before the first test
    result.stdout.fnmatch_lines(
        ["outputs: 20 generated in * s, 0 from the cache; model loaded in * s (import * s, from_pretrained * s)"]
    )


def test_a_warm_run_serves_every_output_from_the_cache_without_loading_the_model(
    suite: pytest.Pytester, tiny_gpt2: Path
) -> None:
    model = f"--llm-model={tiny_gpt2}"
    first = suite.runpytest(model)
    first.assert_outcomes(passed=20)
    first.stdout.fnmatch_lines(["cache: 20 new outputs saved to .llmeval/cache.db"])  # as typed from where pytest ran
    cold = outputs(suite)
    batches(suite)
    warm = suite.runpytest(model)
    warm.assert_outcomes(passed=20)
    warm.stdout.fnmatch_lines(["outputs: 0 generated in 0.00 s, 20 from the cache; model not loaded"])
    assert outputs(suite) == cold and batches(suite) == []


def test_retraining_into_the_same_folder_never_serves_a_stale_output(suite: pytest.Pytester, tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / "ckpt", kind="gpt2", seed=0)
    suite.runpytest(f"--llm-model={folder}").assert_outcomes(passed=20)
    before = outputs(suite)
    build_tiny_model(folder, kind="gpt2", seed=1)  # "retrained": new weights, same path
    result = suite.runpytest(f"--llm-model={folder}")
    result.stdout.fnmatch_lines(["outputs: 20 generated in * s, 0 from the cache*"])
    assert outputs(suite) != before


def test_cache_modes(suite: pytest.Pytester, tiny_gpt2: Path) -> None:
    model = f"--llm-model={tiny_gpt2}"
    suite.runpytest(model, "--llm-cache=off").assert_outcomes(passed=20)
    assert not (suite.path / ".llmeval" / "cache.db").exists()
    suite.runpytest(model).assert_outcomes(passed=20)
    refresh = suite.runpytest(model, "--llm-cache=refresh")
    refresh.stdout.fnmatch_lines(
        ["outputs: 20 generated in * s, 0 from the cache*", "cache: 20 new outputs saved to *"]
    )
    custom = suite.path / "elsewhere" / "c.db"
    suite.runpytest(model, f"--llm-cache-path={custom}").assert_outcomes(passed=20)
    assert custom.is_file()


def test_sampled_outputs_are_cached_only_with_a_seed(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makepyfile(
        """
        def test_sampled(llm):
            llm.generate("hi", do_sample=True, max_new_tokens=4)
            llm.generate("hi", do_sample=True, seed=3, max_new_tokens=4)
            llm.generate("hi", max_new_tokens=4)
        """
    )
    result = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    result.stdout.fnmatch_lines(["cache: 2 new outputs saved to *"])
    again = pytester.runpytest(f"--llm-model={tiny_gpt2}")
    again.stdout.fnmatch_lines(["outputs: 1 generated in * s, 2 from the cache*"])


def test_a_corrupt_cache_is_reported_and_rebuilt(suite: pytest.Pytester, tiny_gpt2: Path) -> None:
    cache = suite.path / ".llmeval" / "cache.db"
    cache.parent.mkdir()
    cache.write_bytes(b"this is not a database" * 100)
    result = suite.runpytest(f"--llm-model={tiny_gpt2}")
    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(
        ["warning: the generation cache * was unreadable (*); moved it to cache.db.corrupt-* and started a new one"]
    )
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT COUNT(*) FROM outputs").fetchone()[0] == 20


def test_under_xdist_workers_batch_their_own_tests_and_only_the_controller_writes(
    suite: pytest.Pytester, tiny_gpt2: Path
) -> None:
    model = f"--llm-model={tiny_gpt2}"
    suite.runpytest(model, "--llm-cache=off").assert_outcomes(passed=20)
    serial = outputs(suite)
    batches(suite)
    result = suite.runpytest_subprocess(model, "-n", "2", "-p", "xdist", "--llm-batch-size=8")
    result.assert_outcomes(passed=20)
    assert outputs(suite) == serial
    sizes = [int(line.split()[1]) for line in batches(suite)]
    # Each worker generates only the tests xdist handed it (none twice), in windows of those, not
    # one test at a time (xdist hands a worker two to four of 20 tests at once).
    assert sum(sizes) == 20 and len(sizes) <= 12, sizes
    result.stdout.fnmatch_lines(["cache: * new outputs saved to *"])
    warm = suite.runpytest_subprocess(model, "-n", "2", "-p", "xdist")
    warm.assert_outcomes(passed=20)
    warm.stdout.fnmatch_lines(["outputs: 0 generated in 0.00 s, 20 from the cache; model not loaded"])


TTY_CONFTEST = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # Pretend the output is a terminal, as a person running pytest would have.
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.isatty = type(reporter.isatty)(True)  # pytest keeps it a callable bool
"""


def test_the_progress_line_shows_on_a_terminal_and_not_under_q(suite: pytest.Pytester, tiny_gpt2: Path) -> None:
    (suite.path / "conftest.py").write_text(
        (suite.path / "conftest.py").read_text(encoding="utf-8") + TTY_CONFTEST, encoding="utf-8"
    )
    model = f"--llm-model={tiny_gpt2}"
    shown = suite.runpytest(model, "--llm-cache=off", "--llm-batch-size=8")
    assert "llmeval: generating 20 outputs [" in shown.stdout.str()
    assert "llmeval: generated 20 outputs in " in shown.stdout.str()
    quiet = suite.runpytest(model, "--llm-cache=off", "-q")
    assert "llmeval: generat" not in quiet.stdout.str()


def test_no_progress_line_when_output_is_not_a_terminal(suite: pytest.Pytester, tiny_gpt2: Path) -> None:
    result = suite.runpytest(f"--llm-model={tiny_gpt2}", "--llm-cache=off")
    assert "llmeval: generat" not in result.stdout.str()

"""Under xdist each worker prefetches only the tests handed to it, so no planned output is generated
twice, and the summary's "generated" count says how many generations repeated another worker's."""

from __future__ import annotations

import pytest

from .bot_sessions import write

# A pipeline that logs every call it answers, with the worker that made it.
COUNTING_BOT = """
import os

def answer(prompt):
    with open("calls.txt", "a", encoding="utf-8") as f:
        f.write(os.environ.get("PYTEST_XDIST_WORKER", "main") + "\\t" + prompt + "\\n")
    return "echo " + prompt
"""

PLANNED = """
import pytest

@pytest.mark.parametrize("i", [pytest.param(i, marks=pytest.mark.llm(prompt=f"prompt {i}")) for i in range(16)])
def test_planned(i, llm_output):
    assert llm_output.text == f"echo prompt {i}"
"""

CASES = "cases:\n" + "".join(f"  - {{id: c{i}, prompt: case {i}, expect: {{contains: echo}}}}\n" for i in range(8))


def calls(pytester: pytest.Pytester) -> list[tuple[str, str]]:
    lines = (pytester.path / "calls.txt").read_text(encoding="utf-8").splitlines()
    (pytester.path / "calls.txt").unlink()
    return [(worker, prompt) for worker, prompt in (line.split("\t") for line in lines)]


@pytest.fixture
def counting(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=COUNTING_BOT)
    return pytester


def test_under_xdist_each_planned_output_is_generated_once(counting: pytest.Pytester) -> None:
    counting.makepyfile(test_planned=PLANNED)
    write(counting, "cases.eval.yaml", CASES)
    result = counting.runpytest_subprocess(
        "--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=24)
    made = calls(counting)
    # Before: each worker prefetched the plan's next tests, whichever worker they went to (38 of 24).
    assert len(made) == len({prompt for _, prompt in made}) == 24, sorted(made)
    assert {worker for worker, _ in made} == {"gw0", "gw1"}
    result.stdout.fnmatch_lines(["outputs: 24 generated in * s, 0 from the cache; model loaded in *"])


def test_a_request_two_workers_both_generate_is_counted_as_a_repeat(counting: pytest.Pytester) -> None:
    # Not known before the tests run (llm.generate in the test body): each worker generates it.
    counting.makepyfile(
        """
        def test_one(llm):
            assert llm.generate("same").text == "echo same"

        def test_two(llm):
            assert llm.generate("same").text == "echo same"
        """
    )
    result = counting.runpytest_subprocess(
        "--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2)
    assert sorted(calls(counting)) == [("gw0", "same"), ("gw1", "same")]
    result.stdout.fnmatch_lines(
        ["outputs: 2 generated (1 distinct; 1 repeated on another worker) in * s, 0 from the cache; *"]
    )


def test_under_worksteal_the_count_says_what_was_generated_again(counting: pytest.Pytester) -> None:
    # A test stolen from a worker that had already prepared it is generated again by the thief.
    counting.makepyfile(test_planned=PLANNED)
    args = ("--llm-model=py:bot:answer", "-n", "2", "-p", "xdist", "--dist", "worksteal", "-p", "no:cacheprovider")
    result = counting.runpytest_subprocess(*args)
    result.assert_outcomes(passed=16)
    made = calls(counting)
    assert len({prompt for _, prompt in made}) == 16
    line = next(line for line in result.stdout.lines if line.startswith("outputs: "))
    repeated = len(made) - 16
    expected = f"outputs: {len(made)} generated" + (
        f" (16 distinct; {repeated} repeated on another worker)" if repeated else ""
    )
    assert line.startswith(expected + " in "), (line, expected)

"""Repeated samples in whole sessions: a case's K samples judged by pass rate, the session-wide option
and the case's own value, K=1 exactly as before, Python tests with ``llm_samples``, every bad value
with its message, flaky flips flagged, and a tiny model sampling: deterministic across reruns and the
cache, batched up front, the same under ``-n 2``, and through a served model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.samples import sample_seed
from pytest_llmeval.store import RunStore

from .openai_fakes import Answer, FakeOpenAIServer, Received, completion

# A pipeline whose sample answers the test decides: answers.json maps a sample's seed to "bad" (any
# other seed answers "good"); every call is logged with its prompt, seed and do_sample.
BOT = """
import json, pathlib

def answer(prompt, seed=None, do_sample=False, temperature=None):
    with open("calls.log", "a", encoding="utf-8") as log:
        log.write(json.dumps([prompt, seed, do_sample]) + "\\n")
    bad = json.loads(pathlib.Path("answers.json").read_text(encoding="utf-8")) if pathlib.Path("answers.json").exists() else []
    return "bad answer" if str(seed) in bad else "good answer"
"""


def make_bad(pytester: pytest.Pytester, node_id: str, indices: list[int], base: int = 0) -> None:
    """Samples ``indices`` (from 0) of ``node_id`` answer "bad"; every other sample "good"."""
    path = pytester.path / "answers.json"
    bad = json.loads(path.read_text()) if path.exists() else []
    bad += [str(sample_seed(base, node_id, i)) for i in indices]
    path.write_text(json.dumps(bad), encoding="utf-8")


def calls(pytester: pytest.Pytester) -> list[list[Any]]:
    path = pytester.path / "calls.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_bot(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", *args)


def latest_cases(pytester: pytest.Pytester) -> dict[str, Any]:
    run = RunStore(pytester.path / ".llmeval" / "history.db").load_run("latest")
    return {case.node_id: case for case in run.cases}


@pytest.fixture
def bot(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(bot=BOT)
    return pytester


def test_a_sampled_case_passes_on_its_rate_and_a_failure_lists_the_failing_samples(bot: pytest.Pytester) -> None:
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: enough, prompt: q1, samples: 5, min_pass_rate: 0.6, expect: {contains: good}}\n"
        "  - {id: all, prompt: q2, samples: 4, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    make_bad(bot, "s.eval.yaml::enough", [1, 3])  # 3 of 5 pass: meets 0.6
    make_bad(bot, "s.eval.yaml::all", [2])  # 3 of 4: the default needs every sample
    result = run_bot(bot)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "case all (s.eval.yaml:3): 3 of 4 samples passed: rate 0.75, 95% Wilson interval ?0.30, 0.95?, "
            "below min_pass_rate 1.00 (1.0, the default: every sample must pass)",
            "  pass@1 0.75  pass@4 1.00  pass^4 0.00",
            "  sample 3 FAIL: contains: expected 'good' (case-insensitive); not found in 'bad answer'",
            "prompt: q2",
            "FAILED s.eval.yaml::all - case all (s.eval.yaml:3): 3 of 4 samples passed*",
        ]
    )
    cases = latest_cases(bot)
    enough, failing = cases["s.eval.yaml::enough"], cases["s.eval.yaml::all"]
    assert enough.outcome == "passed" and enough.samples is not None
    assert (enough.samples["n"], enough.samples["passed"], enough.samples["failed"]) == (5, 3, [2, 4])
    assert enough.samples["pass_at_k"]["2"] == pytest.approx(1 - 1 / 10)  # 1 - C(2,2)/C(5,2)
    assert failing.message == "3 of 4 samples passed (rate 0.75 [0.30, 0.95]), min_pass_rate 1.00"
    # every sample was generated once, up front, each with its own seed
    sampled = [c for c in calls(bot) if c[0] == "q1"]
    assert sorted(c[1] for c in sampled) == sorted(sample_seed(0, "s.eval.yaml::enough", i) for i in range(5))
    assert all(c[2] is True for c in sampled)


def test_the_session_wide_option_applies_where_a_case_sets_no_samples_and_the_case_wins(
    bot: pytest.Pytester,
) -> None:
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: free, prompt: q1, expect: {contains: good}}\n"
        "  - {id: own, prompt: q2, samples: 2, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    bot.makeini("[pytest]\nllm_samples = 4\nllm_min_pass_rate = 0.75\n")
    make_bad(bot, "s.eval.yaml::free", [0], base=9)  # 3 of 4 pass: meets the ini's 0.75
    result = run_bot(bot, "--llm-seed=9")
    result.assert_outcomes(passed=2)
    counted = [c[0] for c in calls(bot)]
    assert counted.count("q1") == 4 and counted.count("q2") == 2
    cases = latest_cases(bot)
    assert cases["s.eval.yaml::free"].samples["min_pass_rate"] == 0.75
    run = RunStore(bot.path / ".llmeval" / "history.db").load_run("latest")
    assert run.settings["samples"] == 4 and run.settings["min_pass_rate"] == 0.75
    bot.path.joinpath("calls.log").unlink()
    run_bot(bot, "--llm-seed=9", "--llm-samples=1").assert_outcomes(passed=2)  # the flag beats the ini
    assert [c[0] for c in calls(bot)].count("q1") == 1


def test_one_sample_is_exactly_as_without_samples(bot: pytest.Pytester) -> None:
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: plain, prompt: q1, expect: {contains: good}}\n"
        "  - {id: one, prompt: q2, samples: 1, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    run_bot(bot, "--llm-update-baseline").assert_outcomes(passed=2)
    assert sorted(calls(bot)) == [["q1", None, False], ["q2", None, False]]  # greedy, unseeded
    cases = latest_cases(bot)
    assert cases["s.eval.yaml::plain"].samples is None and cases["s.eval.yaml::one"].samples is None
    baseline = (bot.path / "llmeval-baseline.json").read_text(encoding="utf-8")
    assert '"samples"' not in baseline
    run = RunStore(bot.path / ".llmeval" / "history.db").load_run("latest")
    assert "samples" not in run.settings and "min_pass_rate" not in run.settings


def test_python_tests_take_llm_samples_and_assert_a_pass_rate(bot: pytest.Pytester) -> None:
    bot.makepyfile(
        test_py="""
        import pytest
        from pytest_llmeval import assert_contains

        @pytest.mark.llm(prompt="py", samples=4, min_pass_rate=0.5)
        def test_rate(llm_samples):
            assert len(llm_samples) == 4
            llm_samples.assert_pass_rate(lambda output: assert_contains(output, "good"))

        @pytest.mark.llm(prompt="py2", samples=3)
        def test_every(llm_samples):
            llm_samples.assert_pass_rate(lambda output: "good" in output)

        @pytest.mark.llm(prompt="py3", samples=3)
        def test_output_is_one(llm_output):
            pass

        @pytest.mark.llm(prompt="py4", samples=0)
        def test_zero(llm_samples):
            pass

        @pytest.mark.llm(prompt="py5", samples=2, min_pass_rate=2)
        def test_rate_too_high(llm_samples):
            pass
        """
    )
    make_bad(bot, "test_py.py::test_rate", [0, 1])
    make_bad(bot, "test_py.py::test_every", [1])
    result = run_bot(bot)
    result.assert_outcomes(passed=1, failed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "E   *SamplesFailed: 2 of 3 samples passed: rate 0.67, 95% Wilson interval ?0.21, 0.94?, below "
            "min_pass_rate 1.00 (1.0, the default: every sample must pass)",
            "E         sample 2 FAIL: <lambda> returned False; output 'bad answer'",
        ]
    )
    out = result.stdout.str()
    assert (
        "@pytest.mark.llm(samples=3) asks for several outputs, but llm_output is one: take the llm_samples "
        "fixture instead (a list of the outputs; llm_samples.assert_pass_rate(check))"
    ) in out
    assert "@pytest.mark.llm: samples must be from 1 to 1,000 (how many sampled outputs), got 0" in out
    assert (
        "@pytest.mark.llm: min_pass_rate must be above 0 and at most 1 (the share of samples that must pass, "
        "e.g. 0.8), got 2"
    ) in out
    cases = latest_cases(bot)
    assert cases["test_py.py::test_rate"].samples["passed"] == 2
    assert (
        cases["test_py.py::test_every"].message == "2 of 3 samples passed (rate 0.67 [0.21, 0.94]), min_pass_rate 1.00"
    )


def test_bad_values_in_case_files_and_options_are_explained(bot: pytest.Pytester) -> None:
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: zero, prompt: q, samples: 0, expect: {contains: good}}\n"
        "  - {id: negative, prompt: q, samples: -2, expect: {contains: good}}\n"
        "  - {id: fraction, prompt: q, samples: 2.5, expect: {contains: good}}\n"
        "  - {id: above, prompt: q, samples: 3, min_pass_rate: 1.5, expect: {contains: good}}\n"
        "  - {id: nothing, prompt: q, samples: 3, min_pass_rate: 0, expect: {contains: good}}\n"
        "  - {id: greedy, prompt: q, samples: 3, do_sample: false, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    result = run_bot(bot)
    result.assert_outcomes(errors=6)
    result.stdout.fnmatch_lines_random(
        [
            "s.eval.yaml:2: case 'zero': samples must be from 1 to 1,000 (how many sampled outputs), got 0",
            "s.eval.yaml:3: case 'negative': samples must be from 1 to 1,000 (how many sampled outputs), got -2",
            "s.eval.yaml:4: case 'fraction': samples must be a whole number of samples from 1 to 1,000, got 2.5",
            "s.eval.yaml:5: case 'above': min_pass_rate must be above 0 and at most 1 (the share of samples that "
            "must pass, e.g. 0.8), got 1.5",
            "s.eval.yaml:6: case 'nothing': min_pass_rate must be above 0 and at most 1 * (0 would pass every "
            "case), got 0",
            "s.eval.yaml:7: case 'greedy': 3 samples are asked for, but do_sample is set to false (greedy decoding "
            "gives the same output every time); remove do_sample (more than 1 sample turns sampling on) or ask "
            "for 1 sample",
        ]
    )
    for flag, message in [
        ("--llm-samples=0", "--llm-samples must be from 1 to 1,000 (how many sampled outputs), got 0"),
        ("--llm-samples=1.5", "--llm-samples must be a whole number of samples from 1 to 1,000, got '1.5'"),
        ("--llm-min-pass-rate=1.01", "--llm-min-pass-rate must be above 0 and at most 1 *, got 1.01"),
    ]:
        bad = run_bot(bot, flag)
        assert bad.ret == pytest.ExitCode.USAGE_ERROR
        bad.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_a_flip_within_sampling_noise_is_flagged_flaky_and_a_real_one_is_not(
    bot: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the comparison is fitted to the terminal
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: wobbly, prompt: q1, samples: 5, min_pass_rate: 0.8, expect: {contains: good}}\n"
        "  - {id: broken, prompt: q2, samples: 5, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    make_bad(bot, "s.eval.yaml::wobbly", [0])  # 4 of 5: passes
    run_bot(bot, "--llm-update-baseline").assert_outcomes(passed=2)
    baseline = json.loads((bot.path / "llmeval-baseline.json").read_text(encoding="utf-8"))
    assert baseline["cases"]["s.eval.yaml::wobbly"]["samples"] == {
        "n": 5,
        "passed": 4,
        "rate": 0.8,
        "min_pass_rate": 0.8,
    }
    make_bad(bot, "s.eval.yaml::wobbly", [1])  # now 3 of 5: fails, but 4/5 vs 3/5 is noise
    make_bad(bot, "s.eval.yaml::broken", [0, 1, 2, 3, 4])  # 5/5 -> 0/5: a real change
    result = run_bot(bot, "--llm-gate=regressions", "--llm-markdown=summary.md", "--llm-report=report.html")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*compared 2 cases with baseline run *: 2 regressions, 1 changed output; 1 flaky (flipped within "
            "sampling noise)",
            "*regression  s.eval.yaml::wobbly  flaky: 4/5 -> 3/5 samples passed (Fisher p = 1.00); passed -> failed*",
        ]
    )
    # a real change: its evidence, no flaky flag (5/5 vs 0/5: Fisher p = 2 / C(10, 5) = 0.0079)
    assert "s.eval.yaml::broken  5/5 -> 0/5 samples passed (Fisher p = 0.008); passed -> failed" in result.stdout.str()
    markdown = (bot.path / "summary.md").read_text(encoding="utf-8")
    assert "### Flaky (1): the verdict flipped within sampling noise" in markdown
    assert "| `s.eval.yaml::wobbly` | passed → failed | 4/5 → 3/5 samples passed, Fisher p = 1.00 |" in markdown
    html = (bot.path / "report.html").read_text(encoding="utf-8")
    # the page's data: the case row carries the flag (the table shows "regressed (flaky)")
    assert "flaky: 4/5 -\\u003e 3/5 samples passed (Fisher p = 1.00)" in html


# -- a tiny model sampling for real --------------------------------------------------------------------

CASES = """\
cases:
  - {id: greedy, prompt: hello, max_new_tokens: 6, expect: {not_contains: zzzz}}
  - {id: sampled, prompt: hello, samples: 5, min_pass_rate: 0.2, max_new_tokens: 6, expect: {contains: e}}
  - {id: other, prompt: hello there, samples: 3, min_pass_rate: 0.3, max_new_tokens: 6, expect: {contains: a}}
"""

COUNTING_CONFTEST = """
import json
from pytest_llmeval.backends.hf import HFBackend

original = HFBackend.generate_batch

def counting(self, requests):
    with open("batches.log", "a", encoding="utf-8") as log:
        log.write(json.dumps([len(requests), requests[0].params.do_sample]) + "\\n")
    return original(self, requests)

def pytest_configure(config):
    HFBackend.generate_batch = counting

def pytest_unconfigure(config):
    HFBackend.generate_batch = original
"""


def outputs_of(history: Path) -> dict[str, list[str]]:
    from pytest_llmeval.inference_log import inference_log_path, read_inference_log

    run = RunStore(history).load_run("latest")
    found: dict[str, list[tuple[int, str]]] = {}
    for entry in read_inference_log(inference_log_path(history, run.run_id)):
        found.setdefault(entry["node_id"], []).append((entry["index"], entry["output"]))
    return {node: [text for _, text in sorted(items)] for node, items in found.items()}


def test_a_tiny_model_samples_deterministically_batched_up_front_from_cache_and_fresh(
    pytester: pytest.Pytester, tiny_gpt2: Path
) -> None:
    pytester.path.joinpath("s.eval.yaml").write_text(CASES, encoding="utf-8")
    pytester.makeconftest(COUNTING_CONFTEST)
    args = [f"--llm-model={tiny_gpt2}", "-p", "no:cacheprovider", "--llm-batch-size=4"]
    first = pytester.runpytest(*args, "--llm-history=first.db")
    outcomes = first.parseoutcomes()
    batches = [json.loads(line) for line in (pytester.path / "batches.log").read_text().splitlines()]
    # 8 samples over two cases (more than a batch of 4) share batches; the greedy case has its own
    assert sorted(batches) == [[1, False], [4, True], [4, True]]
    samples = outputs_of(pytester.path / "first.db")
    assert len(samples["s.eval.yaml::sampled"]) == 5 and len(set(samples["s.eval.yaml::sampled"])) > 1
    (pytester.path / "batches.log").unlink()
    cached = pytester.runpytest(*args, "--llm-history=cached.db")
    assert not (pytester.path / "batches.log").exists()  # every sample came from the cache
    fresh = pytester.runpytest(*args, "--llm-history=fresh.db", "--llm-cache=off")
    assert cached.parseoutcomes() == fresh.parseoutcomes() == outcomes
    assert outputs_of(pytester.path / "cached.db") == outputs_of(pytester.path / "fresh.db") == samples
    other_seed = pytester.runpytest(*args, "--llm-history=seeded.db", "--llm-cache=off", "--llm-seed=5")
    assert other_seed.ret in (0, 1)
    assert outputs_of(pytester.path / "seeded.db")["s.eval.yaml::sampled"] != samples["s.eval.yaml::sampled"]
    assert outputs_of(pytester.path / "seeded.db")["s.eval.yaml::greedy"] == samples["s.eval.yaml::greedy"]


def test_a_sample_is_the_same_whatever_shares_its_batch(tiny_gpt2: Path) -> None:
    """What makes samples batchable and the same under xdist (whose workers batch other neighbours):
    each row samples with its own seed."""
    from pytest_llmeval.backends import load_backend
    from pytest_llmeval.engine import build_request
    from pytest_llmeval.samples import sample_requests
    from pytest_llmeval.settings import Settings

    backend = load_backend(Settings(model=str(tiny_gpt2)), tiny_gpt2)
    mine = sample_requests(build_request(prompt="hello", max_new_tokens=6), 4, case_key="a", session_seed=None)
    others = sample_requests(
        build_request(prompt="a longer prompt here", max_new_tokens=6), 3, case_key="b", session_seed=None
    )
    together = backend.generate_batch([*others[:2], *mine, others[2]])[2:6]
    alone = [backend.generate_batch([request])[0] for request in mine]
    assert [g.text for g in together] == [g.text for g in alone]
    assert len({g.text for g in alone}) > 1  # samples differ
    top_k = [r.params.model_copy(update={"top_k": 1}) for r in mine]
    greedyish = backend.generate_batch(
        [GenerationRequest(r.prompt, None, None, p) for r, p in zip(mine, top_k, strict=True)]
    )
    assert len({g.text for g in greedyish}) == 1  # top_k 1 leaves one choice: transformers' warpers apply


SEEDED_BOT = """
import random

def answer(prompt, seed=None, do_sample=False):
    return random.Random(seed).choice(["good answer", "bad answer"]) if do_sample else "good answer"
"""


def test_samples_under_xdist_are_judged_exactly_as_serially(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bot=SEEDED_BOT)
    lines = ["cases:"] + [
        f"  - {{id: c{i}, prompt: q{i}, samples: 6, min_pass_rate: 0.5, expect: {{contains: good}}}}" for i in range(6)
    ]
    pytester.path.joinpath("s.eval.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["--llm-model=py:bot:answer", "-p", "no:cacheprovider", "--llm-batch-size=4"]
    serial = pytester.runpytest_subprocess(*args, "--llm-history=serial.db", "-p", "no:xdist")
    parallel = pytester.runpytest_subprocess(*args, "--llm-history=parallel.db", "-n", "2")
    assert serial.parseoutcomes() == parallel.parseoutcomes()
    assert "failed" in serial.parseoutcomes() and "passed" in serial.parseoutcomes()  # both verdicts occur

    def records(name: str) -> dict[str, Any]:
        run = RunStore(pytester.path / name).load_run("latest")
        return {c.node_id: (c.outcome, c.samples, c.message) for c in run.cases}

    assert records("serial.db") == records("parallel.db")
    assert outputs_of(pytester.path / "serial.db") == outputs_of(pytester.path / "parallel.db")


def test_a_served_model_gets_one_request_per_sample_each_with_its_seed(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("s.eval.yaml").write_text(
        "cases:\n  - {id: served, prompt: hi, samples: 3, expect: {contains: echo}}\n", encoding="utf-8"
    )

    def script(server: FakeOpenAIServer, request: Received) -> Answer:
        if request.path.endswith("/models"):
            return Answer(body={"object": "list", "data": [{"id": "fake", "object": "model"}]})
        return Answer(body=completion(f"echo {request.body.get('seed')}"))

    with FakeOpenAIServer(script) as server:
        result = pytester.runpytest(
            "--llm-model=openai:fake",
            f"--llm-base-url={server.base_url}",
            "--llm-api-key-env=LLMEVAL_NO_KEY",
            "-p",
            "no:cacheprovider",
        )
    result.assert_outcomes(passed=1)
    chats = [r.body for r in server.received if r.path.endswith("/chat/completions")]
    expected = sorted(sample_seed(0, "s.eval.yaml::served", i) for i in range(3))
    assert sorted(body["seed"] for body in chats) == expected
    assert all(body["temperature"] == 1.0 for body in chats)


def test_the_session_wide_option_on_a_case_that_insists_on_greedy_fails_that_case(bot: pytest.Pytester) -> None:
    (bot.path / "s.eval.yaml").write_text(
        "cases:\n"
        "  - {id: greedy, prompt: q1, do_sample: false, expect: {contains: good}}\n"
        "  - {id: free, prompt: q2, expect: {contains: good}}\n",
        encoding="utf-8",
    )
    result = run_bot(bot, "--llm-samples=3")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "case greedy (s.eval.yaml:2): 3 samples are asked for, but do_sample is set to false (greedy decoding "
            "gives the same output every time); remove do_sample (more than 1 sample turns sampling on) or ask "
            "for 1 sample"
        ]
    )
    assert [c[0] for c in calls(bot)] == ["q2"] * 3

"""``--llm-compare-base``: the base model and base + adapter in one session, from one load.

The base model's outputs must be byte-identical to a run of the base folder alone, the adapter's to
a normal adapter run; pytest's outcomes, the gate and the baseline stay about the model under test;
the base model's run is recorded in the history, linked both ways; fixed and broken cases are listed
right; and ``-n 2`` records the same two runs as a serial session."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.backends import load_backend
from pytest_llmeval.engine import ModelUnderTest
from pytest_llmeval.inference_log import inference_log_path, read_inference_log
from pytest_llmeval.settings import Settings
from pytest_llmeval.store import RunStore

PROMPTS = ["the cat", "hello there", "one two", "what now", "red blue"]
NEW_TOKENS = 6


def outputs(model: Path, adapter: Path | None) -> list[str]:
    settings = Settings(model=str(model), adapter=str(adapter) if adapter else None, max_new_tokens=NEW_TOKENS)
    loaded = ModelUnderTest(settings, lambda: load_backend(settings, model))
    try:
        return [g.text for g in loaded.generate_many(PROMPTS)]
    finally:
        loaded.backend.close()  # weights frozen out of the collector's reach at load are released


@pytest.fixture(scope="module")
def both_outputs(tiny_gpt2: Path, tiny_gpt2_lora: Path) -> tuple[list[str], list[str]]:
    base, adapted = outputs(tiny_gpt2, None), outputs(tiny_gpt2, tiny_gpt2_lora)
    # the suite below needs prompts whose outputs differ, neither inside the other
    for index in (0, 1, 2, 3):
        assert base[index] not in adapted[index] and adapted[index] not in base[index], (base, adapted)
    return base, adapted


def write_suite(pytester: pytest.Pytester, base: list[str], adapted: list[str]) -> None:
    """Cases built from the two models' own outputs, so each result is known in advance:
    ``fixed`` (only the adapter's output passes), ``broke`` (only the base model's), ``kept`` (both),
    ``neither``; in a case file and in Python tests (a marker and the ``llm`` fixture)."""
    q = json.dumps  # YAML reads JSON strings as they are, whatever the tiny model wrote
    pytester.makefile(
        ".eval.yaml",
        cases=f"""\
defaults: {{max_new_tokens: {NEW_TOKENS}}}
cases:
  - id: fixed
    prompt: {q(PROMPTS[0])}
    expect: {{contains: {q(adapted[0])}, rouge_l: {{reference: {q(adapted[0])}, min: 0.0}}}}
  - id: broke
    prompt: {q(PROMPTS[1])}
    expect: {{contains: {q(base[1])}, rouge_l: {{reference: {q(base[1])}, min: 0.0}}}}
  - id: kept
    prompt: {q(PROMPTS[4])}
    expect: {{not_contains: "zzzz never"}}
  - id: neither
    prompt: {q(PROMPTS[4])}
    expect: {{contains: "zzzz never"}}
""",
    )
    pytester.makepyfile(
        test_python=f"""
import pytest

@pytest.mark.llm(prompt={PROMPTS[2]!r}, max_new_tokens={NEW_TOKENS})
def test_marker_fixed(llm_output):
    assert llm_output.text == {adapted[2]!r}

def test_fixture_broke(llm):
    assert llm.generate({PROMPTS[3]!r}, max_new_tokens={NEW_TOKENS}).text == {base[3]!r}

def test_no_model():
    pass
"""
    )


def run_session(pytester: pytest.Pytester, name: str, *args: str) -> tuple[pytest.RunResult, Path]:
    history = pytester.path / f"{name}.db"
    result = pytester.runpytest("-p", "no:cacheprovider", "--llm-cache=off", f"--llm-history={history}", "-rA", *args)
    return result, history


def cases_of(history: Path, ref: str = "latest") -> dict[str, tuple[str, str | None]]:
    run = RunStore(history).load_run(ref)
    return {case.node_id: (case.outcome, case.output) for case in run.cases}


def model_runs(history: Path) -> tuple[Any, Any]:
    """(the model under test's run, the base model's run) of the newest --llm-compare-base session."""
    store = RunStore(history)
    runs = [store.load_run(summary.run_id) for summary in store.runs(limit=None)]  # newest first
    adapter_run = next(run for run in runs if run.model.get("adapter"))
    base_run = next(run for run in runs if run.model.get("adapter_run"))
    return adapter_run, base_run


def log_of(history: Path, run: Any) -> list[dict[str, Any]]:
    return read_inference_log(inference_log_path(history, run.run_id))


def generations(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What an inference log says was asked and answered, without timings and cache provenance."""
    return sorted((e["node_id"], e["phase"], e["index"], e["prompt"], e["output"]) for e in entries)


def test_base_and_adapter_in_one_session_equal_separate_runs(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    write_suite(pytester, *both_outputs)
    model, adapter = f"--llm-model={tiny_gpt2}", f"--llm-adapter={tiny_gpt2_lora}"
    both, both_history = run_session(pytester, "both", model, adapter, "--llm-compare-base")
    alone, alone_history = run_session(pytester, "adapter", model, adapter)
    plain, plain_history = run_session(pytester, "base", model)

    # pytest's outcomes are the model under test's: the same as a normal adapter run
    both.assert_outcomes(passed=4, failed=3)
    alone.assert_outcomes(passed=4, failed=3)
    plain.assert_outcomes(passed=4, failed=3)
    adapter_run, base_run = model_runs(both_history)
    # byte-identical outputs: the adapter's to a normal adapter run, the base model's to the folder alone
    assert {c.node_id: (c.outcome, c.output) for c in adapter_run.cases} == cases_of(alone_history)
    plain_cases = cases_of(plain_history)
    del plain_cases["test_python.py::test_no_model"]  # it uses no model: it runs once, as the model under test's
    assert {c.node_id: (c.outcome, c.output) for c in base_run.cases} == plain_cases
    assert all(c.output is not None for c in base_run.cases)
    # linked both ways; the base model's identity is the base folder's
    assert adapter_run.model["base_run"] == base_run.run_id
    assert base_run.model["adapter_run"] == adapter_run.run_id
    assert base_run.model["adapter"] is None and base_run.model["adapter_disabled"] == str(tiny_gpt2_lora)
    assert base_run.model["model_id"] == RunStore(plain_history).load_run("latest").model["model_id"]
    # each run has its inference log, every line saying whose turn made it; each equals the log of
    # the same model run alone (the base model's: without the test that uses no model)
    adapter_log, base_log = log_of(both_history, adapter_run), log_of(both_history, base_run)
    assert {e["side"] for e in adapter_log} == {"adapter"} and {e["side"] for e in base_log} == {"base"}
    assert generations(adapter_log) == generations(log_of(alone_history, RunStore(alone_history).load_run("latest")))
    plain_log = log_of(plain_history, RunStore(plain_history).load_run("latest"))
    assert "side" not in plain_log[0]  # a session without --llm-compare-base writes no side
    assert generations(base_log) == generations(plain_log)
    assert {e["output"] for e in base_log} == {c.output for c in base_run.cases}
    # one load; 5 distinct requests, each generated for both models
    both.stdout.fnmatch_lines(
        [
            "llmeval: --llm-compare-base: each test that uses the model runs against the base model (adapter off) "
            "first, unlogged; the comparison is at the end",
            "outputs: 10 generated in *; model loaded in *",
            "the base model compared with the model under test (--llm-compare-base):",
            "  adapter vs base model, 6 cases: 2 fixed, 2 broke (forgetting), 1 both pass, 1 both fail",
            "  llmeval compare: A = base model (adapter off), run *",
            "                   B = base + adapter * (the model under test), run *",
            "*metrics (mean paired difference B - A*",
            "*rouge_l *",
            "*broke*cases.eval.yaml::broke*passed*failed*",
            "*broke*test_python.py::test_fixture_broke*passed*failed*",
            "*fixed*cases.eval.yaml::fixed*failed*passed",
            "*fixed*test_python.py::test_marker_fixed*failed*passed",
            f"base model's run {base_run.run_id[:12]} recorded; compare again with: "
            f"llmeval compare {base_run.run_id[:12]} {adapter_run.run_id[:12]}",
            f"base model's inference log: 6 outputs in*{base_run.run_id}*inferences.jsonl",
            f"inference log: 6 outputs in*{adapter_run.run_id}*inferences.jsonl",
        ]
    )


def test_compare_base_under_xdist_records_what_a_serial_session_does(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    write_suite(pytester, *both_outputs)
    args = (f"--llm-model={tiny_gpt2}", f"--llm-adapter={tiny_gpt2_lora}", "--llm-compare-base")
    serial, serial_history = run_session(pytester, "serial", *args)
    parallel, parallel_history = run_session(pytester, "parallel", *args, "-n", "2", "-p", "xdist")
    serial.assert_outcomes(passed=4, failed=3)
    parallel.assert_outcomes(passed=4, failed=3)

    def comparable(run: Any) -> list[tuple[str, str, str | None, dict[str, Any]]]:
        return [(c.node_id, c.outcome, c.output, c.metrics) for c in run.cases]

    for serial_run, parallel_run in zip(model_runs(serial_history), model_runs(parallel_history), strict=True):
        assert comparable(parallel_run) == comparable(serial_run)
        # the workers send the base model's log lines to the controller too
        serial_log, parallel_log = log_of(serial_history, serial_run), log_of(parallel_history, parallel_run)
        assert generations(parallel_log) == generations(serial_log)
        assert [e["side"] for e in parallel_log] == [e["side"] for e in serial_log]
    parallel.stdout.fnmatch_lines(
        ["  adapter vs base model, 6 cases: 2 fixed, 2 broke (forgetting), 1 both pass, 1 both fail"]
    )


def test_gate_and_baseline_stay_about_the_model_under_test(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    write_suite(pytester, *both_outputs)
    baseline = pytester.path / "baseline.json"
    args = (f"--llm-model={tiny_gpt2}", f"--llm-adapter={tiny_gpt2_lora}", f"--llm-baseline={baseline}")
    accepted, _ = run_session(pytester, "accept", *args, "--llm-update-baseline")
    accepted.assert_outcomes(passed=4, failed=3)
    gated, history = run_session(
        pytester,
        "gated",
        *args,
        "--llm-compare-base",
        "--llm-gate=regressions",
        "--llm-markdown=summary.md",
        "--llm-report=report.html",
    )
    # the base model fails two cases the baseline passes (fixed, test_marker_fixed): the gate does not see
    # them; the cases the baseline failed too are tolerated as usual
    gated.assert_outcomes(passed=4, xfailed=3)
    assert gated.ret == pytest.ExitCode.OK
    assert "llmeval::gate FAILED" not in gated.stdout.str()
    adapter_run, _ = model_runs(history)
    data = json.loads(baseline.read_text(encoding="utf-8"))
    assert data["run"]["model"]["adapter"] == str(tiny_gpt2_lora)  # accepted from the adapter run
    markdown = (pytester.path / "summary.md").read_text(encoding="utf-8")
    assert "### Base model vs base + adapter (--llm-compare-base)" in markdown
    assert "2 fixed, 2 broke (forgetting), 1 both pass, 1 both fail" in markdown
    assert "`cases.eval.yaml::broke`" in markdown or "cases.eval.yaml::broke" in markdown
    html = (pytester.path / "report.html").read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="llmeval-data">(.*?)</script>', html, re.S)
    assert found is not None
    page = json.loads(found.group(1))
    assert page["latest"]["run_id"] == adapter_run.run_id  # the page is the model under test's
    comparison = page["model_comparison"]
    assert (comparison["adapter_run_id"], comparison["base_run_id"]) == (
        adapter_run.run_id,
        adapter_run.model["base_run"],
    )
    results = {row["node_id"]: row["result"] for row in comparison["cases"]}
    assert results == {
        "cases.eval.yaml::broke": "broke",
        "cases.eval.yaml::fixed": "fixed",
        "cases.eval.yaml::kept": "both pass",
        "cases.eval.yaml::neither": "both fail",
        "test_python.py::test_fixture_broke": "broke",
        "test_python.py::test_marker_fixed": "fixed",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--llm-model={model}", "--llm-compare-base"],
            "*--llm-compare-base compares the model under test with its base model, which is --llm-model with "
            "the adapter switched off: give --llm-model PATH and --llm-adapter PATH*",
        ),
        (
            ["--llm-compare-base"],
            "*--llm-compare-base compares the model under test with its base model*give --llm-model PATH and "
            "--llm-adapter PATH*",
        ),
        (
            ["--llm-model=py:bot:answer", "--llm-adapter={adapter}", "--llm-compare-base"],
            "*--llm-compare-base switches a PEFT adapter off and on in one loaded model, so it needs a local "
            "Hugging Face model folder as --llm-model, not py:bot:answer (the callable backend)*llmeval compare*",
        ),
        (
            ["--llm-model=openai:tiny", "--llm-adapter={adapter}", "--llm-compare-base"],
            "*needs a local Hugging Face model folder as --llm-model, not openai:tiny (the openai backend)*",
        ),
    ],
    ids=["no-adapter", "no-model", "python-pipeline", "served-model"],
)
def test_compare_base_needs_a_local_model_and_an_adapter(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, args: list[str], message: str
) -> None:
    pytester.makepyfile(test_x="def test_x(llm):\n    pass\n", bot="def answer(prompt, **kw):\n    return 'hi'\n")
    result = pytester.runpytest(*(a.format(model=tiny_gpt2, adapter=tiny_gpt2_lora) for a in args))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_compare_base_ini_twin(pytester: pytest.Pytester, tiny_gpt2: Path) -> None:
    pytester.makeini(f"[pytest]\nllm_model = {tiny_gpt2}\nllm_compare_base = true\n")
    pytester.makepyfile(test_x="def test_x(llm):\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llm-compare-base compares the model under test with its base model*"])


def test_the_cache_keeps_the_two_models_apart(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    """Each model's outputs under its own fingerprint: a warm rerun generates nothing and serves each
    model its own outputs, and the base folder alone finds the base model's. (The model is still
    loaded: a test calling llm.generate itself makes the session load it up front.)"""
    write_suite(pytester, *both_outputs)
    history = pytester.path / "history.db"
    args = ["-p", "no:cacheprovider", f"--llm-history={history}", f"--llm-model={tiny_gpt2}"]
    both = [*args, f"--llm-adapter={tiny_gpt2_lora}", "--llm-compare-base"]
    pytester.runpytest(*both).assert_outcomes(passed=4, failed=3)
    cold = model_runs(history)
    warm_result = pytester.runpytest(*both)
    warm_result.assert_outcomes(passed=4, failed=3)
    warm_result.stdout.fnmatch_lines(["outputs: 0 generated in 0.00 s, 10 from the cache; *"])
    warm = model_runs(history)  # the newest pair
    for cold_run, warm_run in zip(cold, warm, strict=True):
        assert cold_run.run_id != warm_run.run_id
        assert [(c.node_id, c.outcome, c.output) for c in warm_run.cases] == [
            (c.node_id, c.outcome, c.output) for c in cold_run.cases
        ]
    alone = pytester.runpytest(*args)
    alone.assert_outcomes(passed=4, failed=3)
    alone.stdout.fnmatch_lines(["outputs: 0 generated in 0.00 s, 5 from the cache; *"])
    base_outputs = {c.node_id: c.output for c in warm[1].cases}
    assert {n: o for n, (_, o) in cases_of(history).items() if n in base_outputs} == base_outputs


def test_a_warning_raised_in_both_turns_is_reported_once(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    """pytest's warning capture encloses both turns of a test: a warning the test raises against each
    model was counted twice ("4 warnings" here before). Now once; one raised by a turn alone is kept."""
    base, adapted = both_outputs
    pytester.makepyfile(
        test_w=f"""
import warnings

def test_warns(llm):
    text = llm.generate({PROMPTS[0]!r}, max_new_tokens={NEW_TOKENS}).text
    warnings.warn("an old api", DeprecationWarning)  # pytest shows every DeprecationWarning
    warnings.warn("a user note", UserWarning)
    warnings.warn(f"the output {{text!r}}", UserWarning)  # each model's own
"""
    )
    model = (f"--llm-model={tiny_gpt2}", f"--llm-adapter={tiny_gpt2_lora}", "--llm-compare-base")
    args = (*model, "-W", "default::UserWarning")  # as Python shows them (this suite turns them into errors)
    for extra in ([], ["-n", "2", "-p", "xdist"]):
        result, _ = run_session(pytester, "warned", *args, *extra)
        result.assert_outcomes(passed=1, warnings=4)
        out = result.stdout.str()
        assert out.count("DeprecationWarning: an old api") == 1, out
        assert out.count("UserWarning: a user note") == 1, out
        assert out.count(f"UserWarning: the output {base[0]!r}") == 1, out  # the base turn's alone
        assert out.count(f"UserWarning: the output {adapted[0]!r}") == 1, out
        assert "\nwarning: " not in out  # the plugin's own warning lines: none from a test's warnings


def test_each_side_of_the_log_says_where_its_outputs_came_from(
    pytester: pytest.Pytester, tiny_gpt2: Path, tiny_gpt2_lora: Path, both_outputs: tuple[list[str], list[str]]
) -> None:
    """The two models ask the same requests: after a run of the base folder alone, the base model's
    lines are served from the cache and the adapter's generated, each known by its own model."""
    write_suite(pytester, *both_outputs)
    history = pytester.path / "history.db"
    args = ["-p", "no:cacheprovider", f"--llm-history={history}", f"--llm-model={tiny_gpt2}"]
    pytester.runpytest(*args).assert_outcomes(passed=4, failed=3)  # the base model's outputs cached
    pytester.runpytest(*args, f"--llm-adapter={tiny_gpt2_lora}", "--llm-compare-base").assert_outcomes(
        passed=4, failed=3
    )
    adapter_run, base_run = model_runs(history)
    assert {(e["side"], e["source"]) for e in log_of(history, base_run)} == {("base", "cache")}
    assert {(e["side"], e["source"]) for e in log_of(history, adapter_run)} == {("adapter", "generated")}

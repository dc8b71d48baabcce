"""The base model's side of ``--llm-compare-base`` on a constructed case set: its run, the links between
the two runs, the fixed and broken lists, and what the terminal, Markdown and dashboard get."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.base_comparison import model_comparison_data, model_comparison_lines, model_comparison_markdown
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.harness.base_pass import BasePass, check_compare_base
from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.settings import Settings

# (node id, base outcome, adapter outcome): what each case must come out as
CASES = [
    ("evals/a.eval.yaml::forgot-1", "passed", "failed", "broke"),
    ("evals/a.eval.yaml::forgot-2", "passed", "error", "broke"),
    ("evals/a.eval.yaml::learned-1", "failed", "passed", "fixed"),
    ("evals/b.eval.yaml::learned-2", "failed", "passed", "fixed"),
    ("evals/b.eval.yaml::learned-3", "error", "xpassed", "fixed"),
    ("evals/b.eval.yaml::kept", "passed", "passed", "both pass"),
    ("tests/test_x.py::test_hard", "failed", "failed", "both fail"),
    ("tests/test_x.py::test_skipped", "skipped", "passed", "not counted"),
]


def record(node_id: str, outcome: str, value: float, side: str) -> CaseRecord:
    return CaseRecord(
        node_id,
        outcome,
        output=f"{side} output of {node_id}",
        message=None if outcome in ("passed", "xpassed") else f"{side} failed {node_id}",
        metrics={"rouge_l": {"value": value, "higher_is_better": True}},
    )


def compared(tmp_path: Path) -> tuple[LLMEvalSession, BasePass]:
    settings = Settings(model=str(tmp_path / "base"), adapter=str(tmp_path / "lora"), compare_base=True)
    state = LLMEvalSession(settings=settings, cwd=tmp_path, rootpath=tmp_path)
    state.run = RunRecord(
        run_id="a" * 32,
        started_at=1.7e9,
        finished_at=1.7e9 + 5,
        complete=True,
        model={"source": "base", "adapter": "lora", "model_id": "fp-adapter", "files": {"adapter/x": "1"}},
        settings={"max_new_tokens": 8},
        versions={},
        git_commit=None,
        cases=[record(n, after, 0.2 + 0.1 * i, "adapter") for i, (n, _, after, _) in enumerate(CASES)],
    )
    base = state.base = BasePass(model_id="fp-base")
    for i, (node_id, before, _, _) in enumerate(CASES):
        base.results.records[node_id] = record(node_id, before, 0.1 * i, "base")
    base.finish_run(state)
    return state, base


def test_the_base_run_and_the_comparison_on_a_constructed_case_set(tmp_path: Path) -> None:
    state, base = compared(tmp_path)
    assert state.run is not None and base.run is not None and base.paired is not None
    for node_id, _, _, expected in CASES:
        assert [p.result for p in base.paired.pairs if p.node_id == node_id] == [expected], node_id
    assert [p.node_id for p in base.paired.results("broke")] == [
        "evals/a.eval.yaml::forgot-1",
        "evals/a.eval.yaml::forgot-2",
    ]
    assert [p.node_id for p in base.paired.results("fixed")] == [
        "evals/a.eval.yaml::learned-1",
        "evals/b.eval.yaml::learned-2",
        "evals/b.eval.yaml::learned-3",
    ]
    # A is the base model, B the model under test; every case's metric rose by 0.2 + 0.1 i - 0.1 i
    rouge = base.paired.metrics[0]
    assert rouge.name == "rouge_l" and rouge.n == 8 and rouge.difference == pytest.approx(0.2)
    assert rouge.interval is not None and rouge.interval.low == pytest.approx(0.2)
    # the runs name each other; the base run's model is the folder without the adapter
    assert state.run.model["base_run"] == base.run.run_id
    assert base.run.model["adapter_run"] == state.run.run_id
    assert base.run.model["adapter"] is None and base.run.model["adapter_disabled"] == "lora"
    assert base.run.model["model_id"] == "fp-base" and "files" not in base.run.model
    assert [c.node_id for c in base.run.cases] == sorted(n for n, *_ in CASES)


def test_terminal_markdown_and_dashboard_say_the_same(tmp_path: Path) -> None:
    state, base = compared(tmp_path)
    assert base.paired is not None and state.run is not None
    counts = "adapter vs base model, 7 cases: 3 fixed, 2 broke (forgetting), 1 both pass, 1 both fail, 1 not counted (skipped)"
    lines = model_comparison_lines(base.paired)
    assert lines[0] == counts
    assert lines[1].startswith("llmeval compare: A = base model (adapter off), run ")
    assert any(line.startswith("  broke   evals/a.eval.yaml::forgot-1") for line in lines)
    assert lines[-1] == "  ties: 1 both fail, 1 both pass, 1 not counted"
    assert any("evals/b.eval.yaml::kept" in line for line in model_comparison_lines(base.paired, verbose=1))
    markdown = model_comparison_markdown(base.paired)
    assert markdown.startswith("### Base model vs base + adapter (--llm-compare-base)\n")
    assert counts + "." in markdown and "evals/a.eval.yaml::forgot-2" in markdown
    assert base.run is not None
    data = model_comparison_data(base.paired, base.run, state.run)
    assert data["paired"]["verdict"] == base.paired.verdict
    rows = {row["node_id"]: row for row in data["cases"]}
    assert rows["evals/a.eval.yaml::forgot-1"] == {
        "node_id": "evals/a.eval.yaml::forgot-1",
        "result": "broke",
        "base_outcome": "passed",
        "adapter_outcome": "failed",
        "base_output": "base output of evals/a.eval.yaml::forgot-1",
        "adapter_output": "adapter output of evals/a.eval.yaml::forgot-1",
        "base_message": None,
        "adapter_message": "adapter failed evals/a.eval.yaml::forgot-1",
    }


def test_no_base_records_no_base_run(tmp_path: Path) -> None:
    settings = Settings(model="m", adapter="a", compare_base=True)
    state = LLMEvalSession(settings=settings, cwd=tmp_path, rootpath=tmp_path)
    state.run = RunRecord("b" * 32, 1.0, 2.0, True, {"adapter": "a"}, {}, {}, None, [])
    base = BasePass(model_id=None)
    base.finish_run(state)  # e.g. every test deselected but a group: nothing to compare
    assert base.run is None and base.paired is None and "base_run" not in state.run.model


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(model="/m", compare_base=True), "it needs|give --llm-model PATH and --llm-adapter PATH"),
        (Settings(compare_base=True, adapter="/a"), "give --llm-model PATH and --llm-adapter PATH"),
        (
            Settings(model="py:pkg.mod:fn", adapter="/a", compare_base=True),
            "not py:pkg.mod:fn \\(the callable backend\\)",
        ),
    ],
)
def test_compare_base_needs_a_local_model_and_an_adapter(settings: Settings, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check_compare_base(settings)


def test_without_the_option_nothing_is_checked() -> None:
    check_compare_base(Settings(model="py:pkg.mod:fn"))


def test_the_history_keeps_the_pair_and_the_dashboard_shows_it_not_as_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_llmeval.cli import main
    from pytest_llmeval.dashboard import dashboard_from_history
    from pytest_llmeval.inference_log import inference_log_path, read_inference_log
    from pytest_llmeval.store import RunStore

    state, base = compared(tmp_path)
    assert state.run is not None and base.run is not None
    state.history_path = tmp_path / "history.db"
    notes = base.record(state)  # the base model's run first, as the session does
    RunStore(state.history_path).record_run(state.run)
    assert notes[0] == (
        f"base model's run {base.run.run_id[:12]} recorded; compare again with: "
        f"llmeval compare {base.run.run_id[:12]} {state.run.run_id[:12]}"
    )
    # and its inference log, in its own run's folder (no test generated here: empty)
    log = inference_log_path(state.history_path, base.run.run_id)
    assert notes[1].startswith("base model's inference log: 0 outputs in ") and notes[1].endswith(
        f"{base.run.run_id}/inferences.jsonl"
    )
    assert read_inference_log(log) == []
    store = RunStore(state.history_path)
    # same start time: the model under test's run is the latest, its base model's the one before
    assert store.resolve("latest") == state.run.run_id and store.resolve("previous") == base.run.run_id
    data = dashboard_from_history(state.history_path, resamples=1000)
    assert [point["run_id"] for point in data["runs"]] == [state.run.run_id]  # not a point on the charts
    assert data["reference"]["kind"] is None  # nor "the previous run"
    comparison = data["model_comparison"]
    assert (comparison["base_run_id"], comparison["adapter_run_id"]) == (base.run.run_id, state.run.run_id)
    assert sorted(row["node_id"] for row in comparison["cases"] if row["result"] == "broke") == [
        "evals/a.eval.yaml::forgot-1",
        "evals/a.eval.yaml::forgot-2",
    ]
    # the base model's run asked for by name is shown as a run of its own
    alone = dashboard_from_history(state.history_path, run=base.run.run_id[:12], resamples=1000)
    assert alone["latest"]["run_id"] == base.run.run_id and "model_comparison" not in alone
    # llmeval compare previous latest: the same two runs, named as such
    assert main(["compare", "previous", "latest", "--history", str(state.history_path), "--resamples", "1000"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"llmeval compare: A = run {base.run.run_id[:12]}, model base (adapter lora off)"
    assert lines[1] == f"                 B = run {state.run.run_id[:12]}, model base + adapter lora"

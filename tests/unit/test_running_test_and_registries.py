"""The running test, the report payload, tolerances, the baseline policy and the registries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import pytest_llmeval
from pytest_llmeval import running_test
from pytest_llmeval.backends.registry import BackendSpec, backend_for, register_backend, scheme_of
from pytest_llmeval.baseline_policy import accept_run
from pytest_llmeval.checks import CheckResult, check, register_check
from pytest_llmeval.checks.base import assertion_helper
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.harness.payload import ClassificationLabel, GroupEntry, PayloadError, ReportPayload
from pytest_llmeval.metrics import active_judge, using_judge
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.settings import resolve_settings
from pytest_llmeval.store import read_baseline
from pytest_llmeval.tolerances import parse_tolerance, tolerance_problem


@pytest.fixture(autouse=True)
def _registries_restored() -> Iterator[None]:
    """Checks and backends registered here must not leak into other tests (one registry per process)."""
    from pytest_llmeval.backends import registry
    from pytest_llmeval.checks import base

    checks = dict(base._REGISTRY)
    by_name, by_scheme = dict(registry._BY_NAME), dict(registry._BY_SCHEME)
    yield
    base._REGISTRY.clear()
    base._REGISTRY.update(checks)
    registry._BY_NAME.clear()
    registry._BY_NAME.update(by_name)
    registry._BY_SCHEME.clear()
    registry._BY_SCHEME.update(by_scheme)


def test_checks_in_threads_reach_the_running_test() -> None:
    test = running_test.RunningTest("t::x")
    with running_test.running(test):
        worker = threading.Thread(target=lambda: check("contains", "Paris", substring="Paris"))
        worker.start()
        worker.join()
    assert [c.name for c in test.checks] == ["contains"]
    check("contains", "Paris", substring="Paris")  # after the block: nobody's
    assert len(test.checks) == 1


def test_running_tests_nest_and_restore() -> None:
    before = running_test.current()  # this very test, when the plugin runs our own suite
    outer, inner = running_test.RunningTest("outer"), running_test.RunningTest("inner")
    with running_test.running(outer):
        with running_test.running(inner):
            assert running_test.current() is inner
        assert running_test.current() is outer
    assert running_test.current() is before


def test_explicit_services_override_the_running_tests() -> None:
    session_judge, mine = object(), object()
    test = running_test.RunningTest("t", services=running_test.Services(judge=session_judge))  # type: ignore[arg-type]
    with running_test.running(test):
        assert active_judge() is session_judge
        with using_judge(mine):  # type: ignore[arg-type]
            assert active_judge() is mine
        with using_judge(None):  # explicitly none
            assert active_judge() is None
        assert active_judge() is session_judge
    with pytest.raises(TypeError, match="unknown services"):
        with running_test.providing(jduge=1):
            pass


def test_unlogged_generations_are_handed_out_once() -> None:
    test = running_test.RunningTest("t")
    test.generations.extend(["a", "b"])  # type: ignore[list-item]
    assert test.take_unlogged_generations() == [(0, "a"), (1, "b")]
    test.generations.append("c")  # type: ignore[arg-type]
    assert test.take_unlogged_generations() == [(2, "c")]


def test_payload_round_trips_as_ascii_even_with_lone_surrogates() -> None:
    payload = ReportPayload(
        record=CaseRecord(
            "f.eval.yaml::a",
            "passed",
            output="lone \ud800 high",
            metrics={"m": {"value": float("nan"), "higher_is_better": True}},
        ),
        inferences=[{"output": "caf\u00e9 \U0001f600"}],
        labels=[ClassificationLabel("f::classification", "positive", "negative", "f::a")],
        group_entry=GroupEntry("a", False, "why", ["f::pass_rate"], "f::a"),
    )
    text = payload.to_json()
    assert text.isascii()
    back = ReportPayload.from_json(text)
    assert back.record is not None and back.record.output == "lone \ud800 high"
    assert back.inferences == payload.inferences and back.labels == payload.labels
    assert back.group_entry == payload.group_entry


def test_a_payload_of_another_version_is_refused() -> None:
    with pytest.raises(PayloadError, match="payload version 99; this plugin reads version 1"):
        ReportPayload.from_json(json.dumps({"version": 99}))


@pytest.mark.parametrize("text", ["rouge_l=nan", "rouge_l=inf", "rouge_l=-0.1", "rouge_l", "=0.1", "rouge_l=x"])
def test_bad_tolerances_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not NAME=VALUE with a non-negative number"):
        parse_tolerance(text)


def test_tolerances() -> None:
    assert parse_tolerance(" rouge_l = 0.05") == ("rouge_l", 0.05)
    assert tolerance_problem(float("nan")) == "must be a finite number, got nan"
    assert tolerance_problem(True) == "must be a number, got bool"
    assert tolerance_problem(0) is None


def _run(*cases: CaseRecord) -> RunRecord:
    return RunRecord("r" * 32, 0.0, 1.0, True, {"source": "m"}, {}, {}, None, list(cases))


def test_accepting_a_partial_run_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    first = accept_run(path, _run(CaseRecord("a", "passed"), CaseRecord("b", "failed")))
    assert (first.mode, first.written, first.kept) == ("all", 2, 0)
    again = accept_run(path, _run(CaseRecord("a", "failed")))
    assert again.describe() == f"baseline {path}: wrote 1 case from this run, kept 1 not run now"
    assert {k: v.outcome for k, v in read_baseline(path).cases.items()} == {"a": "failed", "b": "failed"}
    added = accept_run(path, _run(CaseRecord("a", "passed"), CaseRecord("c", "passed")), "new")
    assert added.describe() == f"baseline {path}: added 1 new case (c)"
    assert read_baseline(path).cases["a"].outcome == "failed"  # untouched by "new"


def test_new_without_a_baseline_accepts_everything(tmp_path: Path) -> None:
    acceptance = accept_run(tmp_path / "b.json", _run(CaseRecord("a", "passed")), "new")
    assert (acceptance.mode, acceptance.written) == ("all", 1)


def test_registering_a_check_twice_from_elsewhere_names_both() -> None:
    def first(text: str) -> CheckResult:
        return CheckResult("twice_here", True, "ok")

    register_check("twice_here")(first)
    register_check("twice_here")(first)  # the same function again (a re-imported conftest): fine

    def second(text: str) -> CheckResult:
        return CheckResult("twice_here", True, "ok")

    with pytest.raises(ValueError, match=r"check 'twice_here' is registered twice: by .*first and by .*second"):
        register_check("twice_here")(second)
    with pytest.raises(ValueError, match="must be an identifier"):
        register_check("two words")


def test_assertion_helpers_for_registered_checks_and_typos() -> None:
    @register_check("ends_with_bang", summary="Ends with an exclamation mark.")
    def ends_with_bang(text: str) -> CheckResult:
        return CheckResult("ends_with_bang", text.endswith("!"), f"ends_with_bang: {text[-1:]!r}")

    helper = pytest_llmeval.assert_ends_with_bang
    assert helper.__name__ == "assert_ends_with_bang" and "exclamation" in (helper.__doc__ or "")
    helper("Yes!")
    with pytest.raises(pytest_llmeval.CheckFailed, match="ends_with_bang: '.'"):
        helper("Yes.")
    pytest_llmeval.assert_not_ends_with_bang("Yes.")
    with pytest.raises(AttributeError, match="did you mean assert_contains"):
        assertion_helper("contians", module="pytest_llmeval")
    with pytest.raises(AttributeError, match="no attribute 'assert_zzzz'; no check of that name"):
        pytest_llmeval.assert_zzzz  # noqa: B018


def test_the_backend_registry() -> None:
    assert scheme_of("py:pkg.mod:fn") == "py"
    assert scheme_of("/models/run-7") is None and scheme_of("models:v1") is None
    assert backend_for("./folder").name == "hf" and backend_for("py:x:y").name == "callable"
    spec = BackendSpec(name="unit_echo", scheme="unitecho", load=lambda s, c: None, describe=lambda s: "echo")  # type: ignore[arg-type,return-value]
    register_backend(spec)
    assert backend_for("unitecho:model").name == "unit_echo"
    settings = resolve_settings(
        lambda d: "unitecho:model" if d == "llm_model" else None, lambda k: None, cwd=Path("/x"), ini_dir=None
    )
    assert settings.model == "unitecho:model" and settings.backend_name == "unit_echo"
    with pytest.raises(
        ValueError, match="backend scheme 'py' is registered twice: by pytest_llmeval.backends.builtin and by "
    ):
        register_backend(BackendSpec(name="other", scheme="py", load=spec.load, describe=spec.describe))
    # the same backend registered again under a new scheme: the old scheme no longer routes to it
    register_backend(BackendSpec(name="unit_echo", scheme="unitecho2", load=spec.load, describe=spec.describe))
    assert backend_for("unitecho2:model").name == "unit_echo"
    assert scheme_of("unitecho:model") is None


def test_a_broken_backend_entry_point_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from pytest_llmeval.backends import registry

    broken = metadata.EntryPoint(name="bad", value="no_such_module_here:SPEC", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [broken] if group == registry.ENTRY_POINT_GROUP else [])
    with pytest.raises(
        ConfigurationError,
        match=r"entry point bad = no_such_module_here:SPEC \(group pytest_llmeval.backends\) failed to load: ModuleNotFoundError",
    ):
        scheme_of("x")

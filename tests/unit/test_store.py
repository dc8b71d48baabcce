"""The run history (SQLite) and baseline files: atomic, versioned, with clear errors."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import pytest_llmeval
from pytest_llmeval import store
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.store import (
    SCHEMA_VERSION,
    Baseline,
    BaselineCase,
    BaselineError,
    RunStore,
    StoreError,
    baseline_from_run,
    dump_baseline,
    merge_new_cases,
    output_sha256,
    read_baseline,
    round_sig,
    write_baseline,
)

PACKAGE_DIR = Path(pytest_llmeval.__file__).parent


def make_case(node_id: str, outcome: str = "passed", **fields: Any) -> CaseRecord:
    fields.setdefault("output", f"output of {node_id}")
    fields.setdefault("prompt", f"prompt of {node_id}")
    return CaseRecord(node_id=node_id, outcome=outcome, **fields)


def make_run(
    run_id: str = "run0001", *cases: CaseRecord, started_at: float = 1_700_000_000.0, **fields: Any
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=fields.pop("finished_at", started_at + 5),
        complete=fields.pop("complete", True),
        model=fields.pop(
            "model", {"source": "./ckpt", "backend": "hf", "model_id": "abc123", "dtype": "float32", "device": "cpu"}
        ),
        settings=fields.pop("settings", {"max_new_tokens": 64, "batch_size": 8, "seed": None}),
        versions=fields.pop("versions", {"torch": "2.13", "transformers": "5.23"}),
        git_commit=fields.pop("git_commit", "deadbeef"),
        cases=list(cases) or [make_case("t.py::a"), make_case("t.py::b", "failed", message="boom")],
    )


# --------------------------------------------------------------------------------------------------
# history


def test_record_and_load_round_trip(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "sub" / "history.db")  # the folder is created on first write
    run = make_run(
        "r1",
        make_case(
            "t.py::a",
            duration_s=1.5,
            mode="success_mode",
            checks=[{"name": "contains_any", "passed": True, "score": None, "message": "ok"}],
            metrics={"rouge_l": {"value": 0.5, "higher_is_better": True}},
            output="héllo ✓",
        ),
        make_case("t.py::b", "error", output=None, prompt=None, message="crashed"),
    )
    assert history.record_run(run) == "r1"
    assert history.load_run("r1") == run


def test_record_run_assigns_an_id_when_missing(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    run_id = history.record_run(make_run(""))
    assert len(run_id) == 12
    assert history.load_run(run_id).run_id == run_id


def test_recording_the_same_id_again_replaces_the_run(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("r1", make_case("t::a"), complete=False))
    history.record_run(make_run("r1", make_case("t::a"), make_case("t::b")))
    [summary] = history.runs()
    assert summary.complete and summary.total == 2


def test_record_run_rejects_unknown_outcome(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"case 't::a' has outcome 'fine'; expected one of passed"):
        RunStore(tmp_path / "h.db").record_run(make_run("r1", make_case("t::a", "fine")))


def test_runs_newest_first_with_counts(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("old", started_at=100.0))
    history.record_run(
        make_run("new", make_case("a"), make_case("b"), make_case("c", "skipped"), started_at=200.0, complete=False)
    )
    summaries = history.runs()
    assert [s.run_id for s in summaries] == ["new", "old"]
    assert summaries[0].counts == {"passed": 2, "skipped": 1}
    assert summaries[0].complete is False
    assert summaries[0].model_source == "./ckpt"
    assert summaries[1].counts == {"failed": 1, "passed": 1}
    assert [s.run_id for s in history.runs(limit=1)] == ["new"]


def test_runs_of_an_empty_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    path.touch()  # SQLite treats an empty file as an empty database
    assert RunStore(path).runs() == []


def test_load_run_by_prefix_latest_previous(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("aaa111", started_at=1.0))
    history.record_run(make_run("aab222", started_at=2.0))
    history.record_run(make_run("bbb333", started_at=3.0))
    assert history.load_run("latest").run_id == "bbb333"
    assert history.load_run("previous").run_id == "aab222"
    assert history.load_run("aaa").run_id == "aaa111"
    assert history.load_run("b").run_id == "bbb333"
    assert history.resolve("aab222") == "aab222"


def test_ambiguous_prefix_lists_the_candidates(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("aaa111", started_at=1.0))
    history.record_run(make_run("aab222", started_at=2.0))
    with pytest.raises(
        StoreError, match=r"run 'aa' is ambiguous in .*h\.db: it starts 2 run ids \(aab222, aaa111\); give more"
    ):
        history.load_run("aa")


def test_unknown_ref_lists_close_ids(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("abc123", started_at=1.0))
    history.record_run(make_run("zzz999", started_at=2.0))
    with pytest.raises(StoreError, match=r"no run 'abc124' in the run history .*h\.db; close or recent ids: abc123"):
        history.load_run("abc124")
    with pytest.raises(StoreError, match=r"no run 'q' .*close or recent ids: zzz999, abc123"):
        history.load_run("q")  # nothing close: the most recent ids instead


def test_previous_with_one_run(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("r1"))
    with pytest.raises(StoreError, match=r"there is no previous run: the run history .*h\.db holds only one run"):
        history.load_run("previous")


def test_missing_history_is_an_error_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "h.db"
    with pytest.raises(StoreError, match=r"the run history .*h\.db does not exist; run pytest with --llm-model"):
        RunStore(path).runs()
    with pytest.raises(StoreError, match="does not exist"):
        RunStore(path).load_run("latest")
    assert not path.parent.exists()


def test_history_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"is a folder, not a file"):
        RunStore(tmp_path).runs()


@pytest.mark.parametrize("write", [False, True])
def test_corrupt_history_names_the_file_and_says_move_it_aside(tmp_path: Path, write: bool) -> None:
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not an sqlite database at all" * 100)
    history = RunStore(path)
    with pytest.raises(
        StoreError,
        match=r"the run history .*h\.db is unreadable \(file is not a database\); move it aside \(e\.g\. mv ",
    ):
        history.record_run(make_run()) if write else history.runs()


def test_sqlite_file_of_another_program(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE stuff (x)")
    connection.close()
    with pytest.raises(
        StoreError, match=r"other\.db is an SQLite file but not a pytest-llmeval run history \(no meta table\)"
    ):
        RunStore(path).record_run(make_run())


def _set_version(path: Path, version: str) -> None:
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    connection.close()


def test_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    RunStore(path).record_run(make_run())
    _set_version(path, str(SCHEMA_VERSION + 1))
    message = rf"h\.db was written by a newer pytest-llmeval \(schema version {SCHEMA_VERSION + 1}; this one reads up to {SCHEMA_VERSION}\)"
    with pytest.raises(StoreError, match=message):
        RunStore(path).runs()
    with pytest.raises(StoreError, match=message):
        RunStore(path).record_run(make_run("r2"))


def test_damaged_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    RunStore(path).record_run(make_run())
    _set_version(path, "x")
    with pytest.raises(StoreError, match=r"has no valid schema_version in its meta table; move it aside"):
        RunStore(path).runs()


_VERSION_1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, started_at REAL NOT NULL, finished_at REAL, complete INTEGER NOT NULL,
    model TEXT NOT NULL, settings TEXT NOT NULL, versions TEXT NOT NULL, git_commit TEXT);
CREATE TABLE cases (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE, position INTEGER NOT NULL,
    node_id TEXT NOT NULL, outcome TEXT NOT NULL, duration_s REAL NOT NULL, mode TEXT, checks TEXT NOT NULL,
    metrics TEXT NOT NULL, prompt TEXT, output TEXT, message TEXT, PRIMARY KEY (run_id, position));
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES ('old1', 1.0, 2.0, 1, '{"source": "m"}', '{}', '{}', NULL);
INSERT INTO cases VALUES ('old1', 0, 't.py::a', 'passed', 0.1, NULL, '[]', '{}', 'p', 'o', NULL);
"""


def test_a_version_1_history_is_upgraded_when_read_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    connection = sqlite3.connect(path)
    connection.executescript(_VERSION_1_SCHEMA)
    connection.close()
    history = RunStore(path)
    assert [s.run_id for s in history.runs()] == ["old1"]  # a reader upgrades in place
    old = history.load_run("old1")
    assert [(c.node_id, c.output, c.tags, c.tolerances) for c in old.cases] == [("t.py::a", "o", [], {})]
    new = make_run("r2")
    new.cases[0].tags = ["billing"]
    history.record_run(new)
    assert history.load_run("r2").cases[0].tags == ["billing"]
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
        SCHEMA_VERSION
    )
    connection.close()


def test_a_version_2_history_gains_tolerances(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    connection = sqlite3.connect(path)
    connection.executescript(_VERSION_1_SCHEMA)
    connection.execute("ALTER TABLE cases ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    history = RunStore(path)
    run = make_run("r2")
    run.cases[0].tolerances = {"rouge_l": 0.1}
    history.record_run(run)  # a writer upgrades too
    assert history.load_run("r2").cases[0].tolerances == {"rouge_l": 0.1}
    assert history.load_run("old1").cases[0].tolerances == {}


def test_a_lone_surrogate_in_an_output_does_not_lose_the_run(tmp_path: Path) -> None:
    run = make_run()
    run.cases[0].output = "bad \udcff byte"
    run.cases[0].message = "expected x; got 'bad \udcff'"
    run.cases[0].checks = [{"name": "contains", "passed": False, "score": None, "message": "got \udcff"}]
    RunStore(tmp_path / "h.db").record_run(run)
    loaded = RunStore(tmp_path / "h.db").load_run(run.run_id).cases[0]
    assert loaded.output == "bad \ufffd byte" and loaded.checks[0]["message"] == "got \ufffd"
    write_baseline(tmp_path / "b.json", baseline_from_run(run))
    assert "\ufffd" in (tmp_path / "b.json").read_text(encoding="utf-8")


def test_tags_and_tolerances_round_trip(tmp_path: Path) -> None:
    run = make_run()
    run.cases[0].tags = ["billing", "ünïcode"]
    run.cases[0].tolerances = {"rouge_l": 0.05}
    RunStore(tmp_path / "h.db").record_run(run)
    loaded = RunStore(tmp_path / "h.db").load_run(run.run_id).cases[0]
    assert (loaded.tags, loaded.tolerances) == (["billing", "ünïcode"], {"rouge_l": 0.05})


def test_migrate_current_version_is_a_no_op_and_unknown_is_an_error() -> None:
    connection = sqlite3.connect(":memory:")
    assert store._migrate(connection, SCHEMA_VERSION) == SCHEMA_VERSION
    with pytest.raises(StoreError, match=r"unknown history schema version 0"):
        store._migrate(connection, 0)
    connection.close()


def test_history_uses_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    RunStore(path).record_run(make_run())
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_failed_write_leaves_no_torn_run(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    history.record_run(make_run("r1"))

    class Boom:  # not JSON-serialisable and str() raises: fails mid-way through building the rows
        def __str__(self) -> str:
            raise RuntimeError("boom")

    bad = make_run("r2", make_case("a"), make_case("b", metrics={"m": {"value": Boom()}}))
    with pytest.raises(RuntimeError, match="boom"):
        history.record_run(bad)
    assert [s.run_id for s in history.runs()] == ["r1"]


def test_kill_during_insert_is_rolled_back(tmp_path: Path) -> None:
    """A run killed inside its transaction (after some case rows were inserted) is absent."""
    path = tmp_path / "h.db"
    RunStore(path).record_run(make_run("r1"))
    script = textwrap.dedent(
        f"""
        import os, signal, sqlite3, sys
        {_IMPORT_STORE_ONLY}
        from pytest_llmeval import store
        real_connect = sqlite3.connect

        class Dying(sqlite3.Connection):
            def executemany(self, sql, rows):
                rows = list(rows)
                super().executemany(sql, rows[: len(rows) // 2])  # half of the cases are in...
                os.kill(os.getpid(), signal.SIGKILL)  # ...and the process dies

        store.sqlite3.connect = lambda *a, **k: real_connect(*a, factory=Dying, **k)
        from pytest_llmeval.records import CaseRecord, RunRecord
        run = RunRecord("r2", 1e9, None, False, {{}}, {{}}, {{}}, None,
                        [CaseRecord(f"t::{{i}}", "passed") for i in range(100)])
        store.RunStore(sys.argv[1]).record_run(run)
        """
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == -signal.SIGKILL, result.stderr
    history = RunStore(path)
    assert [s.run_id for s in history.runs()] == ["r1"]
    with pytest.raises(StoreError, match="no run 'r2'"):
        history.load_run("r2")


# A subprocess imports store.py without the package's __init__ (which imports the checks, pydantic
# and more, ~0.5 s): the subprocess tests stay fast. store.py needs only records.py.
_IMPORT_STORE_ONLY = (
    "import types; _pkg = types.ModuleType('pytest_llmeval'); "
    f"_pkg.__path__ = [{str(PACKAGE_DIR)!r}]; sys.modules['pytest_llmeval'] = _pkg"
)

_WRITER = textwrap.dedent(
    f"""
    import sys
    {_IMPORT_STORE_ONLY}
    from pytest_llmeval.records import CaseRecord, RunRecord
    from pytest_llmeval.store import RunStore

    path, name, count, cases = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    history = RunStore(path)
    print("ready", flush=True)
    sys.stdin.readline()  # both writers start together
    for number in range(count):
        run = RunRecord(f"{{name}}-{{number:03d}}", float(number), float(number) + 1, True,
                        {{"source": name}}, {{"seed": number}}, {{}}, None,
                        [CaseRecord(f"t.py::case{{i}}", "passed", output="x" * 200) for i in range(cases)])
        history.record_run(run)
    print("done", flush=True)
    """
)


def test_two_sessions_recording_at_once_both_land_complete_runs(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    runs_each, cases_each = 25, 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(runs_each), str(cases_each)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:  # release both at once so their transactions interleave
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        assert out.strip() == "done"
    summaries = RunStore(path).runs(limit=None)
    assert len(summaries) == 2 * runs_each
    assert all(s.complete and s.counts == {"passed": cases_each} for s in summaries)
    assert {s.model_source for s in summaries} == {"left", "right"}
    assert len(RunStore(path).load_run("right-024").cases) == cases_each


# --------------------------------------------------------------------------------------------------
# baselines


def test_round_sig() -> None:
    assert round_sig(0.41666666666666663) == 0.416667
    assert round_sig(123456789.0) == 123457000.0
    assert round_sig(float("nan")) is None
    assert round_sig(float("inf")) is None


def test_baseline_from_run_layout() -> None:
    run = make_run(
        "r1",
        make_case(
            "t.py::b",
            checks=[{"name": "rouge_l", "passed": True, "score": 0.41666666666666663, "message": "dropped"}],
            metrics={
                "rouge_l": {"value": 0.41666666666666663, "higher_is_better": True},
                "nan": {"value": float("nan"), "higher_is_better": False},
            },
            output="y" * 500,
        ),
        make_case("t.py::a", "failed", output=None),
        started_at=0.0,
    )
    baseline = baseline_from_run(run)
    assert baseline.run == {
        "run_id": "r1",
        "model": run.model,
        "settings": run.settings,
        "versions": run.versions,
        "git_commit": "deadbeef",
        "created_at": "1970-01-01T00:00:00Z",
    }
    b = baseline.cases["t.py::b"]
    assert b.checks == [{"name": "rouge_l", "passed": True, "score": 0.416667}]  # no message: noise in review
    assert b.metrics == {
        "rouge_l": {"value": 0.416667, "higher_is_better": True},
        "nan": {"value": None, "higher_is_better": False},
    }
    assert b.output_sha256 == output_sha256("y" * 500)
    assert b.output_excerpt == "y" * 160
    a = baseline.cases["t.py::a"]
    assert (a.outcome, a.output_sha256, a.output_excerpt) == ("failed", None, None)


def test_baseline_file_is_stable_and_reviewable(tmp_path: Path) -> None:
    run = make_run("r1", make_case("z::last", output="naïve ✓"), make_case("a::first"))
    path = tmp_path / "llmeval-baseline.json"
    write_baseline(path, baseline_from_run(run))
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert "naïve ✓" in text  # readable, not \u escapes
    assert text.index('"a::first"') < text.index('"z::last"')
    data = json.loads(text)
    assert list(data) == ["cases", "format", "run"] and data["format"] == 1
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    # The same run gives the same bytes; cases recorded in another order too.
    reordered = make_run("r1", make_case("a::first"), make_case("z::last", output="naïve ✓"))
    assert dump_baseline(baseline_from_run(reordered)) == text
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_read_baseline_round_trip(tmp_path: Path) -> None:
    baseline = baseline_from_run(make_run())
    path = tmp_path / "b.json"
    write_baseline(path, baseline)
    assert read_baseline(path) == baseline


def test_write_baseline_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"cannot write the baseline .*b\.json: the folder .*nope does not exist"):
        write_baseline(tmp_path / "nope" / "b.json", baseline_from_run(make_run()))


def test_write_baseline_keeps_file_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o600)
    write_baseline(path, baseline_from_run(make_run()))
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b"old")

    def fail_replace(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", fail_replace)
    with pytest.raises(OSError, match="disk full"):
        write_baseline(path, baseline_from_run(make_run()))
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]


def test_merge_new_cases_adds_only_missing_cases() -> None:
    old = baseline_from_run(make_run("old", make_case("t::a", "failed", output="old a"), git_commit="c1"))
    run = make_run("new", make_case("t::a", "passed", output="new a"), make_case("t::b"), git_commit="c2")
    merged = merge_new_cases(old, run)
    assert merged.run == old.run  # identity of the accepted run unchanged
    assert merged.cases["t::a"] == old.cases["t::a"]
    assert merged.cases["t::b"] == baseline_from_run(run).cases["t::b"]
    assert set(merged.cases) == {"t::a", "t::b"}
    assert set(old.cases) == {"t::a"}  # the input is not modified


def test_missing_baseline(tmp_path: Path) -> None:
    with pytest.raises(
        BaselineError, match=r"the baseline .*missing\.json does not exist; create it with pytest --llm-update-baseline"
    ):
        read_baseline(tmp_path / "missing.json")


def test_baseline_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"is a folder, not a file"):
        read_baseline(tmp_path)


def test_invalid_json_baseline_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text('{\n  "format": 1,\n  "run": {,\n}', encoding="utf-8")
    with pytest.raises(
        BaselineError, match=r"the baseline .*b\.json is not valid JSON: .* at line 3 column 11; fix it or recreate it"
    ):
        read_baseline(path)


def test_non_utf8_baseline(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(BaselineError, match=r"b\.json is not UTF-8 text"):
        read_baseline(path)


def _valid() -> dict[str, Any]:
    return json.loads(
        dump_baseline(
            baseline_from_run(
                make_run("r1", make_case("t::a", metrics={"m": {"value": 1.0, "higher_is_better": True}}))
            )
        )
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("cases"), r"key 'cases' is missing"),
        (lambda d: d.pop("format"), r"key 'format' is missing"),
        (lambda d: d.update(format="1"), r"key 'format' must be an integer, not str"),
        (lambda d: d.update(run=[]), r"key 'run' must be an object, not list"),
        (lambda d: d["run"].update(settings=None), r"key 'run.settings' must be an object, not null"),
        (lambda d: d.update(cases=[]), r"key 'cases' must be an object of node id -> case, not list"),
        (lambda d: d["cases"].update({"t::a": "passed"}), r"key 'cases.t::a' must be an object, not str"),
        (lambda d: d["cases"]["t::a"].pop("outcome"), r"key 'cases.t::a.outcome' is missing"),
        (
            lambda d: d["cases"]["t::a"].update(outcome="ok"),
            r"key 'cases.t::a.outcome' is 'ok', expected one of passed",
        ),
        (lambda d: d["cases"]["t::a"].update(checks={}), r"key 'cases.t::a.checks' must be a list, not dict"),
        (
            lambda d: d["cases"]["t::a"].update(checks=[{"passed": True}]),
            r"key 'cases.t::a.checks\[0\].name' must be a string, not null",
        ),
        (
            lambda d: d["cases"]["t::a"]["metrics"]["m"].update(value="high"),
            r"key 'cases.t::a.metrics.m.value' must be a number or null, not str",
        ),
        (
            lambda d: d["cases"]["t::a"]["metrics"]["m"].update(value=True),
            r"key 'cases.t::a.metrics.m.value' must be a number or null, not true",
        ),
        (
            lambda d: d["cases"]["t::a"]["metrics"]["m"].update(higher_is_better="yes"),
            r"key 'cases.t::a.metrics.m.higher_is_better' must be true or false",
        ),
        (
            lambda d: d["cases"]["t::a"].update(output_sha256=5),
            r"key 'cases.t::a.output_sha256' must be a string or null, not int",
        ),
        (
            lambda d: d["cases"]["t::a"].update(output_excerpt=[]),
            r"key 'cases.t::a.output_excerpt' must be a string or null, not list",
        ),
    ],
)
def test_wrong_shape_names_the_key(tmp_path: Path, mutate: Any, message: str) -> None:
    data = _valid()
    mutate(data)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(BaselineError, match=r"the baseline .*b\.json: " + message):
        read_baseline(path)


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(BaselineError, match=r"b\.json must hold a JSON object at the top"):
        read_baseline(path)


def test_newer_baseline_format(tmp_path: Path) -> None:
    data = _valid()
    data["format"] = 2
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(
        BaselineError, match=r"b\.json has format 2, this pytest-llmeval reads format 1 \(written by a newer"
    ):
        read_baseline(path)


def test_baseline_dataclasses_to_dict() -> None:
    case = BaselineCase(outcome="passed")
    assert Baseline(run={}, cases={"b": case, "a": case}).to_dict() == {
        "format": 1,
        "run": {},
        "cases": {"a": case.to_dict(), "b": case.to_dict()},
    }


# --------------------------------------------------------------------------------------------------
# SIGKILL during a baseline write

_SLOW_BASELINE_WRITER = textwrap.dedent(
    f"""
    import sys
    {_IMPORT_STORE_ONLY}
    from pytest_llmeval import store

    # Small chunks with a pause between them: a write takes ~40 ms, so a kill at a random moment
    # lands inside one most of the time.
    store._WRITE_CHUNK_SIZE = 4096
    store._WRITE_CHUNK_DELAY_S = 0.002
    path, first, second = sys.argv[1], store.read_baseline(sys.argv[2]), store.read_baseline(sys.argv[3])
    print("ready", flush=True)
    while True:
        store.write_baseline(path, first)
        store.write_baseline(path, second)
    """
)


def _large_baseline(tag: str) -> Baseline:
    cases = [
        make_case(
            f"evals/big.yaml::case-{i:04d}",
            metrics={"rouge_l": {"value": i / 7, "higher_is_better": True}},
            output=f"{tag} {i} " * 40,
        )
        for i in range(300)
    ]
    return baseline_from_run(make_run(tag, *cases))


def test_killed_baseline_write_leaves_old_or_new_file_never_partial(tmp_path: Path) -> None:
    first, second = _large_baseline("first"), _large_baseline("second")
    sources = tmp_path / "sources"
    sources.mkdir()
    write_baseline(sources / "first.json", first)
    write_baseline(sources / "second.json", second)
    allowed = {(sources / "first.json").read_bytes(), (sources / "second.json").read_bytes()}
    assert len(next(iter(allowed))) > 100_000  # large enough for ~25 chunks

    target_dir = tmp_path / "repo"
    target_dir.mkdir()
    target = target_dir / "llmeval-baseline.json"
    write_baseline(target, first)
    rng = random.Random(1234)
    killed_mid_write = 0
    deadline = time.monotonic() + 4.0
    kills = 0
    while kills < 12 and time.monotonic() < deadline:
        writer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _SLOW_BASELINE_WRITER,
                str(target),
                str(sources / "first.json"),
                str(sources / "second.json"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready", writer.stderr
        time.sleep(rng.uniform(0.005, 0.12))
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
        assert writer.stderr is not None
        writer.stdout.close()
        writer.stderr.close()
        kills += 1
        assert target.read_bytes() in allowed, f"kill {kills} left a partial baseline"
        read_baseline(target)  # and it parses
        leftovers = [p for p in target_dir.iterdir() if p.name != target.name]
        if leftovers:  # the kill landed inside a write: its temp file is all that remains of it
            killed_mid_write += 1
            assert all(p.name.startswith(".llmeval-baseline.json.") and p.name.endswith(".tmp") for p in leftovers)
            for leftover in leftovers:
                leftover.unlink()
    assert kills >= 4
    assert killed_mid_write >= 2, "the kills never landed inside a write: the test proves nothing"


def test_read_only_history_is_not_called_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: the suite may run as root, who can write a chmod 444 file anyway.
    def read_only(connection: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(store, "_enable_wal", read_only)
    with pytest.raises(
        StoreError,
        match=r"cannot write the run history .*h\.db \(attempt to write a readonly database\); fix the permissions",
    ):
        RunStore(tmp_path / "h.db").record_run(make_run("r2"))


def test_history_locked_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "h.db"
    RunStore(path).record_run(make_run("r1"))
    monkeypatch.setattr(store, "BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another session in the middle of a write
    try:
        with pytest.raises(
            StoreError, match=r"the run history .*h\.db stayed locked by another session for 0.05 s; try again"
        ):
            RunStore(path).record_run(make_run("r2"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [s.run_id for s in RunStore(path).runs()] == ["r1"]


def test_stale_temp_files_of_killed_writes_are_removed_by_the_next_write(tmp_path: Path) -> None:
    # A SIGKILLed baseline write left `.llmeval-baseline.json.<random>.tmp` behind for good
    target = tmp_path / "llmeval-baseline.json"
    stale = tmp_path / ".llmeval-baseline.json.ab12cd_9.tmp"
    fresh = tmp_path / ".llmeval-baseline.json.zz99yy88.tmp"  # another session's write in progress
    other = tmp_path / ".report.html.ab12cd34.tmp"  # another file's temp file
    users = tmp_path / ".llmeval-baseline.json.notes.tmp"  # not a name mkstemp makes
    for file in (stale, fresh, other, users):
        file.write_text("partial")
    old = time.time() - 3600
    for file in (stale, other, users):
        os.utime(file, (old, old))
    store.write_file_atomic(target, b"{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, fresh.name, other.name, users.name])
    assert store.remove_stale_temp_files(tmp_path / "report.html") == [other]


def test_history_messages_name_the_pytest_flag(tmp_path: Path) -> None:
    # The message said `--history`; pytest's flag is --llm-history (the llmeval command's is --history)
    with pytest.raises(StoreError, match=r"point --llm-history \(llmeval: --history\) at an existing history"):
        RunStore(tmp_path / "missing.db").runs()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    connection.close()
    with pytest.raises(StoreError, match=r"pass the right file with --llm-history \(llmeval: --history\)"):
        RunStore(other).runs()


def test_a_baseline_with_nan_or_infinity_is_refused(tmp_path: Path) -> None:
    # a NaN baseline metric compared false with every new value: no drop was ever a regression
    path = tmp_path / "llmeval-baseline.json"
    for constant in ("NaN", "Infinity", "-Infinity"):
        path.write_text(
            '{"format": 1, "run": {}, "cases": {"t.py::a": {"outcome": "passed", '
            f'"metrics": {{"rouge_l": {{"value": {constant}, "higher_is_better": true}}}}}}}}}}\n',
            encoding="utf-8",
        )
        with pytest.raises(BaselineError, match=f"is not valid JSON: {constant} is not a number"):
            read_baseline(path)


def test_a_version_3_history_gains_gold_labels(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    connection = sqlite3.connect(path)
    connection.executescript(_VERSION_1_SCHEMA)
    connection.execute("ALTER TABLE cases ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
    connection.execute("ALTER TABLE cases ADD COLUMN tolerances TEXT NOT NULL DEFAULT '{}'")
    connection.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    history = RunStore(path)
    run = make_run("r3")
    run.cases[0].label = "negative"
    history.record_run(run)
    assert history.load_run("r3").cases[0].label == "negative"
    assert history.load_run("old1").cases[0].label is None


def test_deleting_runs_removes_them_and_their_cases(tmp_path: Path) -> None:
    history = RunStore(tmp_path / "h.db")
    for run_id in ("r1", "r2", "r3"):
        history.record_run(make_run(run_id))
    assert history.delete_runs(["r1", "r3", "nope"]) == 2
    assert [s.run_id for s in history.runs(limit=None)] == ["r2"]
    with sqlite3.connect(tmp_path / "h.db") as connection:
        assert {row[0] for row in connection.execute("SELECT DISTINCT run_id FROM cases")} == {"r2"}
    assert history.delete_runs([]) == 0

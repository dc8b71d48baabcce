"""Run history (SQLite) and baseline files (reviewable JSON).

Both follow the design's reliability rules: only the controller process writes, and every write is
atomic. A run goes into the history in one SQLite transaction, so a session killed half-way leaves no
torn run; a baseline is written to a temporary file in the same folder, fsynced and moved over the
old one with ``os.replace``, so a killed write leaves the previous baseline byte-identical.

The history runs in WAL mode with a busy timeout: two sessions recording into one file at the same
time both land complete runs (one waits for the other's short write transaction).

Errors are ``StoreError`` (history) and ``BaselineError`` (baseline files); each message names the
file, what is wrong and how to fix it. The plugin decides what they become: a warning for a corrupt
history, a usage error for a missing or corrupt baseline in gate mode.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import os
import re
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pytest_llmeval.input_limits import reject_json_constant
from pytest_llmeval.records import OUTCOMES, CaseRecord, RunRecord

__all__ = [
    "BASELINE_FORMAT",
    "SCHEMA_VERSION",
    "Baseline",
    "BaselineCase",
    "BaselineError",
    "RunStore",
    "RunSummary",
    "StoreError",
    "baseline_from_run",
    "dump_baseline",
    "merge_new_cases",
    "new_run_id",
    "output_sha256",
    "read_baseline",
    "round_sig",
    "storable_text",
    "write_baseline",
    "write_file_atomic",
]

SCHEMA_VERSION = 5
BASELINE_FORMAT = 1
EXCERPT_CHARS = 160
SIGNIFICANT_DIGITS = 6
# A writer waits this long for another session's write transaction before giving up. Runs are
# written in one short transaction, so waiting is always better than losing a run.
BUSY_TIMEOUT_S = 30.0

# Written in chunks so a test can slow the write down (``_WRITE_CHUNK_DELAY_S``) and kill the
# process mid-write; production leaves the delay at zero.
_WRITE_CHUNK_SIZE = 64 * 1024
_WRITE_CHUNK_DELAY_S = 0.0


class StoreError(Exception):
    """The run history cannot be read or written (missing, corrupt, newer schema, unknown run)."""


class BaselineError(Exception):
    """A baseline file is missing, is not valid JSON or does not have the baseline layout."""


# --------------------------------------------------------------------------------------------------
# small shared helpers


def new_run_id() -> str:
    """A fresh run id: 12 hex characters, so a 4-6 character prefix is almost always unique."""
    return secrets.token_hex(6)


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """``value`` rounded to ``digits`` significant digits; NaN and infinities become ``None``.

    Baselines store rounded numbers so a code-review diff shows 0.416667, not 0.41666666666666663;
    comparisons round the current run the same way, so rounding alone never looks like a drop. JSON
    has no NaN, hence ``None``.
    """
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def output_sha256(output: str | None) -> str | None:
    """The SHA-256 of an output's UTF-8 bytes (``None`` when the test produced no output)."""
    if output is None:
        return None
    return hashlib.sha256(output.encode("utf-8", errors="surrogatepass")).hexdigest()


def _iso_utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _round_number(value: Any) -> Any:
    # bool is an int subclass: keep True/False as they are; ints stay exact.
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return round_sig(value)
    return value


# --------------------------------------------------------------------------------------------------
# run history


@dataclass(frozen=True)
class RunSummary:
    """One line of ``RunStore.runs()``: identity and outcome counts, without the cases themselves."""

    run_id: str
    started_at: float
    finished_at: float | None
    model_source: str | None
    counts: dict[str, int]  # outcome -> number of cases; outcomes with no case are absent
    complete: bool
    git_commit: str | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    complete INTEGER NOT NULL,
    model TEXT NOT NULL,
    settings TEXT NOT NULL,
    versions TEXT NOT NULL,
    git_commit TEXT
);
CREATE INDEX runs_started_at ON runs (started_at);
CREATE TABLE cases (
    run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    node_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    duration_s REAL NOT NULL,
    mode TEXT,
    checks TEXT NOT NULL,
    metrics TEXT NOT NULL,
    prompt TEXT,
    output TEXT,
    message TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    tolerances TEXT NOT NULL DEFAULT '{}',
    label TEXT,
    samples TEXT,
    PRIMARY KEY (run_id, position)
);
"""


def _migrate(connection: sqlite3.Connection, from_version: int) -> int:
    """Bring a history written with an older schema up to ``SCHEMA_VERSION``; returns the new version.

    Called inside the open transaction. Each schema change adds one step, so old histories keep
    working instead of being thrown away.
    """
    if not 1 <= from_version <= SCHEMA_VERSION:
        raise StoreError(
            f"unknown history schema version {from_version} (this pytest-llmeval knows 1..{SCHEMA_VERSION})"
        )
    if from_version == 1:  # version 2: each case records its tags
        connection.execute("ALTER TABLE cases ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'")
        from_version = 2
    if from_version == 2:  # version 3: each case records its metrics' gate tolerances
        connection.execute("ALTER TABLE cases ADD COLUMN tolerances TEXT NOT NULL DEFAULT '{}'")
        from_version = 3
    if from_version == 3:  # version 4: a classification case records its gold label
        connection.execute("ALTER TABLE cases ADD COLUMN label TEXT")
        from_version = 4
    if from_version == 4:  # version 5: a case of repeated samples records its pass rate and counts
        connection.execute("ALTER TABLE cases ADD COLUMN samples TEXT")
        from_version = 5
    return from_version


class RunStore:
    """The SQLite history file at ``path``. Each call opens and closes its own connection, so a store
    object is cheap, holds no lock between calls and is safe to use from several processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------------

    def _corrupt(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"the run history {self.path} is unreadable ({exc}); move it aside "
            f"(e.g. mv {self.path} {self.path}.corrupt) and the next run starts a new history"
        )

    @contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if not create and not self.path.exists():
            raise StoreError(
                f"the run history {self.path} does not exist; run pytest with --llm-model to record "
                "runs, or point --llm-history (llmeval: --history) at an existing history file"
            )
        if self.path.is_dir():
            raise StoreError(f"the run history {self.path} is a folder, not a file; pass the .db file path")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of the run history {self.path}: {exc}") from exc
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction spans exactly
            # what we say (Python's implicit transactions would not cover the DDL).
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the run history {self.path}: {exc}") from exc
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            connection.execute("PRAGMA foreign_keys = ON")
            self._prepare(connection, create=create)
            yield connection
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # our own mistake, not the file's: keep the real traceback
        except sqlite3.DatabaseError as exc:
            text = str(exc)
            if "locked" in text:
                raise StoreError(
                    f"the run history {self.path} stayed locked by another session for "
                    f"{BUSY_TIMEOUT_S:g} s; try again when it has finished"
                ) from exc
            if "readonly" in text or "unable to open" in text:
                raise StoreError(
                    f"cannot write the run history {self.path} ({text}); fix the permissions of the file "
                    "and its folder, or pass another history path"
                ) from exc
            # "file is not a database", "database disk image is malformed": the file is damaged.
            raise self._corrupt(exc) from exc
        finally:
            connection.close()

    def _prepare(self, connection: sqlite3.Connection, *, create: bool) -> None:
        """Check the schema version; create the schema when writing, migrate an older one always
        (a reader of an old history upgrades it in place rather than refusing it)."""
        if create:
            _enable_wal(connection)
        elif (self._schema_version(connection) or SCHEMA_VERSION) >= SCHEMA_VERSION:
            return  # the common read: nothing to create or migrate, no write lock taken
        connection.execute("BEGIN IMMEDIATE")  # one session creates or migrates; others wait
        try:
            version = self._schema_version(connection)
            if version is None:
                # Statement by statement: executescript would COMMIT our transaction first.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif version < SCHEMA_VERSION:
                new_version = _migrate(connection, version)
                connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(new_version),))
            connection.execute("COMMIT")
        except BaseException:
            _rollback(connection)
            raise

    def _schema_version(self, connection: sqlite3.Connection) -> int | None:
        """The file's schema version; ``None`` for an empty file (no tables yet)."""
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite file but not a pytest-llmeval run history (no meta table); "
                "pass the right file with --llm-history (llmeval: --history), or move this one aside"
            )
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0]) if row is not None else -1
        except ValueError:
            version = -1
        if version < 1:
            raise StoreError(
                f"the run history {self.path} has no valid schema_version in its meta table; move it aside "
                f"(e.g. mv {self.path} {self.path}.corrupt) and the next run starts a new history"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the run history {self.path} was written by a newer pytest-llmeval (schema version "
                f"{version}; this one reads up to {SCHEMA_VERSION}); upgrade pytest-llmeval or use "
                "another history file"
            )
        return version

    # -- writing ----------------------------------------------------------------------------------

    def record_run(self, run: RunRecord) -> str:
        """Write ``run`` with all its cases in one transaction and return its run id.

        A run without an id gets a fresh one (``new_run_id``). Recording the same id again replaces
        the earlier record, so a plugin may record a run early (``complete=False``) and again at the
        end without leaving two copies.
        """
        for case in run.cases:
            if case.outcome not in OUTCOMES:
                raise ValueError(
                    f"case {case.node_id!r} has outcome {case.outcome!r}; expected one of {', '.join(OUTCOMES)}"
                )
        run_id = run.run_id or new_run_id()
        run_row = (
            run_id,
            float(run.started_at),
            None if run.finished_at is None else float(run.finished_at),
            int(bool(run.complete)),
            _to_json(run.model),
            _to_json(run.settings),
            _to_json(run.versions),
            run.git_commit,
        )
        case_rows = [
            (
                run_id,
                position,
                storable_text(case.node_id),
                case.outcome,
                float(case.duration_s),
                case.mode,
                _to_json(case.checks),
                _to_json(case.metrics),
                storable_text(case.prompt),
                storable_text(case.output),
                storable_text(case.message),
                _to_json(list(case.tags)),
                _to_json(dict(case.tolerances)),
                storable_text(case.label),
                None if case.samples is None else _to_json(case.samples),
            )
            for position, case in enumerate(run.cases)
        ]
        with self._connect(create=True) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("DELETE FROM cases WHERE run_id = ?", (run_id,))
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                connection.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", run_row)
                connection.executemany(
                    "INSERT INTO cases (run_id, position, node_id, outcome, duration_s, mode, checks, metrics, "
                    "prompt, output, message, tags, tolerances, label, samples) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    case_rows,
                )
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
        return run_id

    def delete_runs(self, run_ids: Collection[str]) -> int:
        """Remove these runs and their cases in one transaction; returns how many were removed."""
        if not run_ids:
            return 0
        with self._connect(create=False) as connection:
            if self._schema_version(connection) is None:
                return 0
            connection.execute("BEGIN IMMEDIATE")
            try:
                removed = 0
                for run_id in run_ids:
                    connection.execute("DELETE FROM cases WHERE run_id = ?", (run_id,))
                    removed += connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
        return removed

    # -- reading ----------------------------------------------------------------------------------

    def runs(self, limit: int | None = 20) -> list[RunSummary]:
        """The most recent runs, newest first (``limit=None``: all of them)."""
        with self._connect(create=False) as connection:
            if self._schema_version(connection) is None:
                return []
            rows = connection.execute(
                "SELECT run_id, started_at, finished_at, complete, model, git_commit FROM runs "
                "ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (-1 if limit is None else int(limit),),
            ).fetchall()
            summaries = []
            for run_id, started_at, finished_at, complete, model, git_commit in rows:
                counts = dict(
                    connection.execute(
                        "SELECT outcome, COUNT(*) FROM cases WHERE run_id = ? GROUP BY outcome ORDER BY outcome",
                        (run_id,),
                    ).fetchall()
                )
                source = _from_json(model, self.path).get("source")
                summaries.append(
                    RunSummary(
                        run_id=run_id,
                        started_at=started_at,
                        finished_at=finished_at,
                        model_source=None if source is None else str(source),
                        counts=counts,
                        complete=bool(complete),
                        git_commit=git_commit,
                    )
                )
            return summaries

    def resolve(self, ref: str) -> str:
        """The full run id ``ref`` names: an id, a unique prefix of one, ``latest`` or ``previous``."""
        with self._connect(create=False) as connection:
            return self._resolve(connection, ref)

    def _resolve(self, connection: sqlite3.Connection, ref: str) -> str:
        if self._schema_version(connection) is None:
            raise StoreError(f"the run history {self.path} holds no runs yet; run pytest with --llm-model first")
        ref = ref.strip()
        if ref in ("latest", "previous"):
            wanted = 0 if ref == "latest" else 1
            ids = [
                row[0]
                for row in connection.execute("SELECT run_id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 2")
            ]
            if len(ids) <= wanted:
                held = "no runs" if not ids else "only one run"
                raise StoreError(f"there is no {ref} run: the run history {self.path} holds {held}")
            return ids[wanted]
        if not ref:
            raise StoreError("an empty run reference; give a run id (or a prefix), latest or previous")
        if connection.execute("SELECT 1 FROM runs WHERE run_id = ?", (ref,)).fetchone():
            return ref
        matches = [
            row[0]
            for row in connection.execute(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? ORDER BY started_at DESC", (len(ref), ref)
            )
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(matches[:10]) + (f" and {len(matches) - 10} more" if len(matches) > 10 else "")
            raise StoreError(
                f"run {ref!r} is ambiguous in {self.path}: it starts {len(matches)} run ids ({shown}); "
                "give more characters"
            )
        all_ids = [row[0] for row in connection.execute("SELECT run_id FROM runs ORDER BY started_at DESC")]
        close = difflib.get_close_matches(ref, all_ids, n=5, cutoff=0.5) or all_ids[:5]
        hint = f"; close or recent ids: {', '.join(close)}" if close else "; the history holds no runs"
        raise StoreError(f"no run {ref!r} in the run history {self.path}{hint} (or use latest / previous)")

    def load_run(self, ref: str) -> RunRecord:
        """The run ``ref`` names (see ``resolve``), with its cases in recorded order."""
        with self._connect(create=False) as connection:
            run_id = self._resolve(connection, ref)
            row = connection.execute(
                "SELECT run_id, started_at, finished_at, complete, model, settings, versions, git_commit "
                "FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            case_rows = connection.execute(
                "SELECT node_id, outcome, duration_s, mode, checks, metrics, prompt, output, message, tags, tolerances, label, "
                "samples FROM cases WHERE run_id = ? ORDER BY position",
                (run_id,),
            ).fetchall()
        cases = [
            CaseRecord(
                node_id=node_id,
                outcome=outcome,
                duration_s=duration_s,
                mode=mode,
                checks=_from_json(checks, self.path),
                metrics=_from_json(metrics, self.path),
                prompt=prompt,
                output=output,
                message=message,
                tags=_from_json(tags, self.path),
                tolerances=_from_json(tolerances, self.path),
                label=label,
                samples=None if samples is None else _from_json(samples, self.path),
            )
            for (
                node_id,
                outcome,
                duration_s,
                mode,
                checks,
                metrics,
                prompt,
                output,
                message,
                tags,
                tolerances,
                label,
                samples,
            ) in case_rows
        ]
        return RunRecord(
            run_id=row[0],
            started_at=row[1],
            finished_at=row[2],
            complete=bool(row[3]),
            model=_from_json(row[4], self.path),
            settings=_from_json(row[5], self.path),
            versions=_from_json(row[6], self.path),
            git_commit=row[7],
            cases=cases,
        )


def _enable_wal(connection: sqlite3.Connection) -> None:
    """Switch the file to WAL: readers never block the writer and writers queue on the busy timeout.

    The mode is stored in the file, so only the first session does work here. That switch needs an
    exclusive lock and SQLite answers "database is locked" at once, without waiting on the busy
    timeout, when another session is creating the same new file: so we wait and retry ourselves.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005 + secrets.randbelow(20) / 1000)  # jitter: two waiters do not collide again


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite rolls back by itself after some errors (disk full); a second ROLLBACK would raise and
    # hide the real error.
    if connection.in_transaction:
        connection.execute("ROLLBACK")


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str | None) -> str | None:
    """``text`` with any lone surrogate replaced by U+FFFD. A Python backend or a server's JSON can
    produce one; neither SQLite nor a UTF-8 file can hold it, and one output must not lose a run."""
    if text is None:
        return None
    return _SURROGATE.sub("\ufffd", text)


def _to_json(value: Any) -> str:
    # default=str: a stray non-JSON value (a Path in settings) is kept readable rather than losing
    # the whole run; sort_keys keeps stored text stable.
    return storable_text(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)) or ""


def _from_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"the run history {path} holds a damaged record ({exc}); move it aside "
            f"(e.g. mv {path} {path}.corrupt) and the next run starts a new history"
        ) from exc


# --------------------------------------------------------------------------------------------------
# baselines


@dataclass
class BaselineCase:
    """One case's accepted result: what the gate compares, not the full record."""

    outcome: str
    checks: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "passed", "score"}]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # {name: {"value", "higher_is_better"}}
    output_sha256: str | None = None
    output_excerpt: str | None = None
    # repeated samples: {"n", "passed", "rate", "min_pass_rate"}; absent for a case of one output
    samples: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["samples"] is None:
            del data["samples"]  # baselines without sampled cases stay as they were
        return data


@dataclass
class Baseline:
    """The accepted run: the identity block of the run it came from and one entry per case."""

    run: dict[str, Any]  # {run_id, model, settings, versions, git_commit, created_at}
    cases: dict[str, BaselineCase]
    format: int = BASELINE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "run": self.run,
            "cases": {node_id: self.cases[node_id].to_dict() for node_id in sorted(self.cases)},
        }


def _baseline_case(case: CaseRecord) -> BaselineCase:
    checks = [
        {"name": check.get("name"), "passed": check.get("passed"), "score": _round_number(check.get("score"))}
        for check in case.checks
    ]
    metrics = {
        name: {
            "value": _round_number(metric.get("value")),
            "higher_is_better": bool(metric.get("higher_is_better", True)),
            # an interval (the perplexity gap's) stays beside its value
            **{k: _round_number(metric[k]) for k in ("low", "high", "confidence") if k in metric},
        }
        for name, metric in case.metrics.items()
    }
    return BaselineCase(
        outcome=case.outcome,
        checks=checks,
        metrics=metrics,
        output_sha256=output_sha256(case.output),
        output_excerpt=None if case.output is None else case.output[:EXCERPT_CHARS],
        samples=None
        if case.samples is None
        else {
            "n": int(case.samples["n"]),
            "passed": int(case.samples["passed"]),
            "rate": _round_number(float(case.samples["rate"])),
            "min_pass_rate": _round_number(float(case.samples["min_pass_rate"])),
        },
    )


def _run_identity(run: RunRecord) -> dict[str, Any]:
    # created_at is when the run started (not when the file was written), so writing a baseline from
    # the same run twice gives byte-identical files.
    return {
        "run_id": run.run_id,
        "model": run.model,
        "settings": run.settings,
        "versions": run.versions,
        "git_commit": run.git_commit,
        "created_at": _iso_utc(run.started_at),
    }


def baseline_from_run(run: RunRecord) -> Baseline:
    """The baseline that accepts ``run`` as it is (``--llm-update-baseline``)."""
    # A later record of the same node id wins, matching how the run itself reports it.
    cases = {case.node_id: _baseline_case(case) for case in run.cases}
    # Round-trip through JSON so the in-memory baseline equals what read_baseline returns
    # (e.g. a tuple in settings becomes a list).
    data = json.loads(_to_json(Baseline(_run_identity(run), cases).to_dict()))
    return _parse_baseline(data, f"made from run {run.run_id}")


def merge_new_cases(old: Baseline, run: RunRecord) -> Baseline:
    """``--llm-update-baseline=new``: add the cases ``old`` lacks, keep every existing entry (and the
    identity block) unchanged."""
    fresh = baseline_from_run(run)
    cases = dict(old.cases)
    for node_id, case in fresh.cases.items():
        cases.setdefault(node_id, case)
    return Baseline(run=old.run, cases=cases, format=old.format)


def dump_baseline(baseline: Baseline) -> str:
    """The file text: sorted keys, cases by node id, indent 2, UTF-8 characters kept, one final newline."""
    try:
        text = json.dumps(baseline.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
        text = storable_text(text) or ""
    except ValueError as exc:  # NaN/inf that bypassed rounding: JSON cannot hold it
        raise BaselineError(f"the baseline cannot be written as JSON: {exc}") from exc
    return text + "\n"


def write_baseline(path: str | os.PathLike[str], baseline: Baseline) -> None:
    """Write ``baseline`` to ``path`` atomically: a temp file in the same folder, fsync, ``os.replace``.

    A process killed at any point leaves either the old file byte-identical or the new one complete
    (at worst a hidden ``.<name>.*.tmp`` file stays behind; the next write of ``<name>`` removes it).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise BaselineError(
            f"cannot write the baseline {path}: the folder {path.parent} does not exist; create it first"
        )
    write_file_atomic(path, dump_baseline(baseline).encode("utf-8"))


def write_file_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (baselines, reports, inference logs): a temp file in the
    same folder, fsync, ``os.replace``. The folder must exist (``FileNotFoundError`` otherwise)."""
    path = Path(path)
    folder = path.parent
    try:
        mode = path.stat().st_mode & 0o777  # keep the permissions of the file being replaced
    except FileNotFoundError:
        mode = 0o644  # mkstemp makes 0600; a committed baseline should be readable by everyone
    remove_stale_temp_files(path)
    # Same folder: os.replace is an atomic rename only within one file system.
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for start in range(0, len(data), _WRITE_CHUNK_SIZE):
                handle.write(data[start : start + _WRITE_CHUNK_SIZE])
                if _WRITE_CHUNK_DELAY_S:
                    handle.flush()
                    time.sleep(_WRITE_CHUNK_DELAY_S)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


# A temp file this old belongs to a write that was killed (a write takes seconds); a younger one may be
# another session's write in progress, which must be left alone.
STALE_TEMP_AGE_S = 600.0


def remove_stale_temp_files(path: str | os.PathLike[str], max_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Delete the temp files (``.<name>.XXXXXXXX.tmp``, as ``write_file_atomic`` names them) that
    killed writes of ``path`` left behind, when older than ``max_age_s``; returns those removed."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.tmp")
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > max_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already (another session cleaned it) or not ours to remove
    return removed


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable across a power cut; not possible on every platform.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_HOW_TO_RECREATE = "fix it or recreate it with pytest --llm-update-baseline"


def read_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and validate a baseline file; every problem is a ``BaselineError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"the baseline {path} does not exist; create it with pytest --llm-update-baseline"
        ) from None
    except IsADirectoryError:
        raise BaselineError(f"the baseline {path} is a folder, not a file; pass the JSON file's path") from None
    except UnicodeDecodeError as exc:
        raise BaselineError(f"the baseline {path} is not UTF-8 text ({exc}); {_HOW_TO_RECREATE}") from None
    except OSError as exc:
        raise BaselineError(f"cannot read the baseline {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text, parse_constant=reject_json_constant)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"the baseline {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
            f"{_HOW_TO_RECREATE}"
        ) from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity (a NaN metric would compare false)
        raise BaselineError(f"the baseline {path} is not valid JSON: {exc}; {_HOW_TO_RECREATE}") from None
    return _parse_baseline(data, str(path))


def _parse_baseline(data: Any, source: str) -> Baseline:
    def fail(key: str, problem: str) -> BaselineError:
        return BaselineError(f"the baseline {source}: key {key!r} {problem}; {_HOW_TO_RECREATE}")

    def expect(value: Any, kind: type | tuple[type, ...], key: str, what: str) -> Any:
        # bool is an int: a number field must not accept true/false.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise fail(key, f"must be {what}, not {json.dumps(value)}")
        if not isinstance(value, kind):
            raise fail(key, f"must be {what}, not {type(value).__name__ if value is not None else 'null'}")
        return value

    if not isinstance(data, dict):
        raise BaselineError(f"the baseline {source} must hold a JSON object at the top; {_HOW_TO_RECREATE}")
    for key in ("format", "run", "cases"):
        if key not in data:
            raise fail(key, "is missing")
    fmt = expect(data["format"], int, "format", "an integer")
    if fmt != BASELINE_FORMAT:
        newer = " (written by a newer pytest-llmeval; upgrade it)" if fmt > BASELINE_FORMAT else ""
        raise BaselineError(
            f"the baseline {source} has format {fmt}, this pytest-llmeval reads format {BASELINE_FORMAT}{newer}"
        )
    run = expect(data["run"], dict, "run", "an object")
    for key in ("model", "settings"):
        if key in run:
            expect(run[key], dict, f"run.{key}", "an object")
    cases_data = expect(data["cases"], dict, "cases", "an object of node id -> case")
    cases: dict[str, BaselineCase] = {}
    for node_id, entry in cases_data.items():
        where = f"cases.{node_id}"
        expect(entry, dict, where, "an object")
        if "outcome" not in entry:
            raise fail(f"{where}.outcome", "is missing")
        outcome = expect(entry["outcome"], str, f"{where}.outcome", "a string")
        if outcome not in OUTCOMES:
            raise fail(f"{where}.outcome", f"is {outcome!r}, expected one of {', '.join(OUTCOMES)}")
        checks = expect(entry.get("checks", []), list, f"{where}.checks", "a list")
        for index, check in enumerate(checks):
            expect(check, dict, f"{where}.checks[{index}]", "an object")
            expect(check.get("name"), str, f"{where}.checks[{index}].name", "a string")
        metrics = expect(entry.get("metrics", {}), dict, f"{where}.metrics", "an object")
        for name, metric in metrics.items():
            expect(metric, dict, f"{where}.metrics.{name}", "an object")
            value = metric.get("value")
            if value is not None:
                expect(value, (int, float), f"{where}.metrics.{name}.value", "a number or null")
            hib_key = f"{where}.metrics.{name}.higher_is_better"
            expect(metric.get("higher_is_better", True), bool, hib_key, "true or false")
            for bound in ("low", "high", "confidence"):
                if metric.get(bound) is not None:
                    expect(metric[bound], (int, float), f"{where}.metrics.{name}.{bound}", "a number or null")
        sha = entry.get("output_sha256")
        if sha is not None:
            expect(sha, str, f"{where}.output_sha256", "a string or null")
        excerpt = entry.get("output_excerpt")
        if excerpt is not None:
            expect(excerpt, str, f"{where}.output_excerpt", "a string or null")
        samples = entry.get("samples")
        if samples is not None:
            expect(samples, dict, f"{where}.samples", "an object")
            for key in ("n", "passed"):
                expect(samples.get(key), int, f"{where}.samples.{key}", "a whole number")
            if not 0 <= samples["passed"] <= samples["n"] or samples["n"] < 1:
                raise fail(f"{where}.samples", f"says {samples['passed']} of {samples['n']} samples passed")
        cases[node_id] = BaselineCase(
            outcome=outcome,
            checks=checks,
            metrics=metrics,
            output_sha256=sha,
            output_excerpt=excerpt,
            samples=samples,
        )
    return Baseline(run=run, cases=cases, format=fmt)

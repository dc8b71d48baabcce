"""Run history (SQLite) and atomic file writes (baselines, reports, inference logs).

Both follow the design's reliability rules: only the controller process writes, and every write is
atomic. A run goes into the history in one SQLite transaction, so a session killed half-way leaves no
torn run; a baseline is written to a temporary file in the same folder, fsynced and moved over the
old one with ``os.replace``, so a killed write leaves the previous baseline byte-identical.

The history runs in WAL mode with a busy timeout: two sessions recording into one file at the same
time both land complete runs (one waits for the other's short write transaction).

Errors are ``StoreError`` (history) and ``BaselineError`` (baseline files); each message names the
file, what is wrong and how to fix it. The plugin decides what they become: a warning for a corrupt
history, a usage error for a missing or corrupt baseline in gate mode.

The history's schema and migrations are ``history_schema.py``, its row layout ``history_rows.py``,
the baseline file's contents ``baseline_file.py`` and the shared value encoding
``record_encoding.py``; this module re-exports their public names, so ``pytest_llmeval.store``
stays the one import path for all of them.
"""

from __future__ import annotations

import difflib
import os
import re
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pytest_llmeval.baseline_file import (
    BASELINE_FORMAT,
    EXCERPT_CHARS,
    Baseline,
    BaselineCase,
    BaselineError,
    baseline_from_run,
    dump_baseline,
    merge_new_cases,
    read_baseline,
)
from pytest_llmeval.history_rows import (
    CASE_COLUMNS,
    RUN_COLUMNS,
    case_from_row,
    case_rows,
    from_json,
    run_from_row,
    run_row,
)
from pytest_llmeval.history_schema import (
    SCHEMA_VERSION,
    StoreError,
    create_schema,
    read_schema_version,
)
from pytest_llmeval.history_schema import migrate as _migrate
from pytest_llmeval.record_encoding import (
    SIGNIFICANT_DIGITS,
    new_run_id,
    output_sha256,
    round_sig,
    storable_text,
)
from pytest_llmeval.records import OUTCOMES, RunRecord

__all__ = [
    "BASELINE_FORMAT",
    "BUSY_TIMEOUT_S",
    "EXCERPT_CHARS",
    "SCHEMA_VERSION",
    "SIGNIFICANT_DIGITS",
    "STALE_TEMP_AGE_S",
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
    "remove_stale_temp_files",
    "round_sig",
    "storable_text",
    "write_baseline",
    "write_file_atomic",
]

# A writer waits this long for another session's write transaction before giving up. Runs are
# written in one short transaction, so waiting is always better than losing a run.
BUSY_TIMEOUT_S = 30.0

# Written in chunks so a test can slow the write down (``_WRITE_CHUNK_DELAY_S``) and kill the
# process mid-write; production leaves the delay at zero.
_WRITE_CHUNK_SIZE = 64 * 1024
_WRITE_CHUNK_DELAY_S = 0.0


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
                create_schema(connection)
            elif version < SCHEMA_VERSION:
                new_version = _migrate(connection, version)
                connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(new_version),))
            connection.execute("COMMIT")
        except BaseException:
            _rollback(connection)
            raise

    def _schema_version(self, connection: sqlite3.Connection) -> int | None:
        """The file's schema version; ``None`` for an empty file (no tables yet)."""
        return read_schema_version(connection, self.path)

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
        run_values, case_values = run_row(run, run_id), case_rows(run, run_id)
        with self._connect(create=True) as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute("DELETE FROM cases WHERE run_id = ?", (run_id,))
                connection.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                connection.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", run_values)
                connection.executemany(
                    "INSERT INTO cases (run_id, position, node_id, outcome, duration_s, mode, checks, metrics, "
                    "prompt, output, message, tags, tolerances, label, samples) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    case_values,
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
                source = from_json(model, self.path).get("source")
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
            row = connection.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            selected_cases = connection.execute(
                f"SELECT {CASE_COLUMNS} FROM cases WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return run_from_row(row, [case_from_row(case_row, self.path) for case_row in selected_cases], self.path)


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


# --------------------------------------------------------------------------------------------------
# atomic file writes


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

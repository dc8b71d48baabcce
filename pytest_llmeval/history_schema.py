"""The run history's schema: its tables, its version, and the migrations from older versions.

``StoreError`` lives here because every layer of the history raises it: the version check, the
migrations, the record decoding (``history_rows.py``) and the store itself (``store.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "StoreError", "create_schema", "migrate", "read_schema_version"]

SCHEMA_VERSION = 5


class StoreError(Exception):
    """The run history cannot be read or written (missing, corrupt, newer schema, unknown run)."""


# Tracebacks and recorded messages name it by its public path, as they did before the split.
StoreError.__module__ = "pytest_llmeval.store"


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


def migrate(connection: sqlite3.Connection, from_version: int) -> int:
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


def create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables of an empty history and stamp it with ``SCHEMA_VERSION``; called inside
    the open transaction."""
    # Statement by statement: executescript would COMMIT our transaction first.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def read_schema_version(connection: sqlite3.Connection, path: Path) -> int | None:
    """The schema version of the history at ``path``; ``None`` for an empty file (no tables yet)."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    if "meta" not in tables:
        raise StoreError(
            f"{path} is an SQLite file but not a pytest-llmeval run history (no meta table); "
            "pass the right file with --llm-history (llmeval: --history), or move this one aside"
        )
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        version = int(row[0]) if row is not None else -1
    except ValueError:
        version = -1
    if version < 1:
        raise StoreError(
            f"the run history {path} has no valid schema_version in its meta table; move it aside "
            f"(e.g. mv {path} {path}.corrupt) and the next run starts a new history"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the run history {path} was written by a newer pytest-llmeval (schema version "
            f"{version}; this one reads up to {SCHEMA_VERSION}); upgrade pytest-llmeval or use "
            "another history file"
        )
    return version

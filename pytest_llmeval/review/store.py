"""Human judgements: an SQLite file next to the run history (``.llmeval/reviews.db`` by default).

Every judgement is one row written in its own transaction, so an app killed mid-click loses at most
that click. A judgement is keyed by the case id, the run it was made on, the SHA-256 of the output
judged (so it follows the exact text, not the run), the annotator and the time. Rows are never
updated in place: rating an item again adds a newer row (the newest one counts) and undo marks a row
retracted. Export writes the judgements that count as JSONL; import adds lines whose id the file does
not hold yet, so label files from several people merge.

Likert judgements hold ``{dimension: 1..5}``; pairwise judgements hold the choice in terms of the
two runs (``first``, ``second`` or ``tie``) and where the first run's output was shown (``A`` or
``B``), decided at random per item and annotator before the item is first shown, and stored.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_llmeval.store import BUSY_TIMEOUT_S, storable_text, write_file_atomic

__all__ = [
    "DEFAULT_DIMENSIONS",
    "REVIEWS_FILE_NAME",
    "Judgement",
    "ReviewStore",
    "ReviewStoreError",
    "check_dimensions",
    "dpo_records",
    "likert_session",
    "pairwise_session",
    "reviews_path",
    "write_dpo_jsonl",
]

REVIEWS_FILE_NAME = "reviews.db"
SCHEMA_VERSION = 2  # 2: judgements.messages (the chat a judged output answered)
DEFAULT_DIMENSIONS = ("helpfulness", "correctness", "tone")
EXPORT_FORMAT = 2  # 2: the optional "messages" key; format 1 lines are read too
READ_FORMATS = (1, 2)

Kind = Literal["likert", "pairwise"]
Choice = Literal["first", "second", "tie"]


MAX_DIMENSIONS = 10
_DIMENSION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


def check_dimensions(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as Likert dimensions, or ValueError saying what is wrong with them."""
    found = tuple(names)
    if not found:
        raise ValueError("give at least one dimension, e.g. helpfulness, correctness, tone")
    for name in found:
        if not isinstance(name, str) or not _DIMENSION.match(name):
            raise ValueError(f"dimension {name!r} is not a name (a letter, then letters, digits, - or _; at most 40)")
    if len(set(found)) != len(found):
        raise ValueError(f"dimensions repeat a name: {', '.join(found)}")
    if len(found) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_DIMENSIONS} dimensions, got {len(found)}")
    return found


class ReviewStoreError(Exception):
    """The review file cannot be read or written, or an imported line is not a judgement."""


def reviews_path(history_path: str | os.PathLike[str]) -> Path:
    """The review file that belongs to the history file ``history_path`` (in the same folder)."""
    return Path(history_path).parent / REVIEWS_FILE_NAME


def likert_session(run_id: str) -> str:
    """The session key of rating run ``run_id``'s outputs: undo and the finish mark are per session."""
    return f"likert:{run_id}"


def pairwise_session(first_run_id: str, second_run_id: str) -> str:
    """The session key of comparing ``first_run_id`` (the candidate) with ``second_run_id``."""
    return f"pairwise:{first_run_id}:{second_run_id}"


@dataclass(frozen=True)
class Judgement:
    """One stored judgement. Pairwise: ``run_id``/``output_sha256`` are the first run's,
    ``other_*`` the second's; ``choice`` says which run the annotator preferred."""

    judgement_id: str
    kind: Kind
    session: str
    case_id: str
    run_id: str
    output_sha256: str
    annotator: str
    created_at: float
    skipped: bool = False
    ratings: dict[str, int] = field(default_factory=dict)
    choice: Choice | None = None
    first_shown_as: Literal["A", "B"] | None = None
    comment: str | None = None
    prompt: str | None = None
    output: str | None = None
    other_run_id: str | None = None
    other_output_sha256: str | None = None
    other_output: str | None = None
    retracted_at: float | None = None
    # The request as chat messages (system prompt first) when the case was a chat; None for a plain
    # prompt. What --dpo writes as the conversational prompt.
    messages: list[dict[str, str]] | None = None

    @property
    def item_key(self) -> tuple[str, ...]:
        """What one annotator judges once: the case and the exact output(s), order-free for pairs."""
        if self.kind == "likert":
            return ("likert", self.case_id, self.output_sha256)
        pair = sorted([self.output_sha256, self.other_output_sha256 or ""])
        return ("pairwise", self.case_id, pair[0], pair[1])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = (
    "judgement_id",
    "kind",
    "session",
    "case_id",
    "run_id",
    "output_sha256",
    "annotator",
    "created_at",
    "skipped",
    "ratings",
    "choice",
    "first_shown_as",
    "comment",
    "prompt",
    "output",
    "other_run_id",
    "other_output_sha256",
    "other_output",
    "retracted_at",
    "messages",
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE judgements (
    judgement_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('likert', 'pairwise')),
    session TEXT NOT NULL,
    case_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    output_sha256 TEXT NOT NULL,
    annotator TEXT NOT NULL,
    created_at REAL NOT NULL,
    skipped INTEGER NOT NULL,
    ratings TEXT NOT NULL,
    choice TEXT CHECK (choice IN ('first', 'second', 'tie')),
    first_shown_as TEXT CHECK (first_shown_as IN ('A', 'B')),
    comment TEXT,
    prompt TEXT,
    output TEXT,
    other_run_id TEXT,
    other_output_sha256 TEXT,
    other_output TEXT,
    retracted_at REAL,
    messages TEXT
);
CREATE INDEX judgements_by_case ON judgements (case_id, output_sha256);
CREATE INDEX judgements_by_session ON judgements (session, annotator, created_at);
CREATE TABLE pair_orders (
    session TEXT NOT NULL,
    case_id TEXT NOT NULL,
    annotator TEXT NOT NULL,
    first_shown_as TEXT NOT NULL CHECK (first_shown_as IN ('A', 'B')),
    PRIMARY KEY (session, case_id, annotator)
);
CREATE TABLE finished_sessions (
    session TEXT NOT NULL,
    annotator TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (session, annotator)
)
"""


class ReviewStore:
    """The review file at ``path``. Each call opens its own connection (cheap, no lock held between
    calls, safe from several processes and threads); WAL mode lets readers run beside a writer."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ReviewStore({str(self.path)!r})"

    # -- connections ------------------------------------------------------------------------------

    @contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection | None]:
        """A connection, or ``None`` when reading a file that does not exist yet (no judgements)."""
        if self.path.is_dir():
            raise ReviewStoreError(f"the review file {self.path} is a folder, not a file; pass the .db file path")
        if not create and not self.path.exists():
            yield None
            return
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ReviewStoreError(f"cannot create the folder of the review file {self.path}: {exc}") from exc
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise ReviewStoreError(f"cannot open the review file {self.path}: {exc}") from exc
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._prepare(connection, create=create)
            yield connection
        except sqlite3.DatabaseError as exc:
            raise ReviewStoreError(
                f"the review file {self.path} cannot be used ({exc}); if it is damaged, move it aside "
                f"(e.g. mv {self.path} {self.path}.corrupt); export labels often with llmeval review export"
            ) from exc
        finally:
            connection.close()

    def _prepare(self, connection: sqlite3.Connection, *, create: bool) -> None:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables:
            if "judgements" not in tables or "meta" not in tables:
                raise ReviewStoreError(
                    f"{self.path} is an SQLite file but not a pytest-llmeval review file; pass another path"
                )
            row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row is not None and str(row[0]).isdigit() else -1
            if version > SCHEMA_VERSION:
                raise ReviewStoreError(
                    f"the review file {self.path} was written by a newer pytest-llmeval (schema {version}; "
                    f"this one reads {SCHEMA_VERSION}); upgrade pytest-llmeval"
                )
            if version < 1:
                raise ReviewStoreError(f"the review file {self.path} has no valid schema version; move it aside")
            if version < SCHEMA_VERSION:
                self._upgrade(connection)
            return
        if not create:
            return
        if str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() != "wal":
            raise ReviewStoreError(f"cannot switch the review file {self.path} to WAL mode")
        connection.execute("BEGIN IMMEDIATE")
        try:
            if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'judgements'").fetchone():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _upgrade(self, connection: sqlite3.Connection) -> None:
        """Bring a schema 1 file to schema 2 (a ``messages`` column, empty for the old rows), once,
        under the write lock, so two processes opening an old file do not both alter it."""
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and str(row[0]) == "1":
                connection.execute("ALTER TABLE judgements ADD COLUMN messages TEXT")
                connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect(create=True) as connection:
            assert connection is not None  # create=True always opens
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    # -- writing ----------------------------------------------------------------------------------

    def add(self, judgement: Judgement) -> Judgement:
        """Store ``judgement`` in one transaction and return it (with a fresh id when it had none)."""
        stored = judgement if judgement.judgement_id else _replace(judgement, judgement_id=secrets.token_hex(8))
        _validate(stored, "judgement")
        with self._write() as connection:
            connection.execute(f"INSERT INTO judgements VALUES ({', '.join('?' * len(_COLUMNS))})", _row(stored))
        return stored

    def retract_last(self, session: str, annotator: str) -> Judgement | None:
        """Undo: mark this annotator's newest judgement in ``session`` retracted; return it (or None)."""
        with self._write() as connection:
            row = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM judgements WHERE session = ? AND annotator = ? "
                "AND retracted_at IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (session, annotator),
            ).fetchone()
            if row is None:
                return None
            now = time.time()
            connection.execute("UPDATE judgements SET retracted_at = ? WHERE judgement_id = ?", (now, row[0]))
        return _replace(_judgement(row), retracted_at=now)

    def pair_order(self, session: str, case_id: str, annotator: str) -> Literal["A", "B"]:
        """Where the first run's output is shown to ``annotator`` for ``case_id``: drawn at random
        the first time and stored, so a reload, a restart and the stored judgement all agree."""
        drawn: Literal["A", "B"] = "A" if secrets.randbelow(2) == 0 else "B"
        with self._write() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO pair_orders VALUES (?, ?, ?, ?)", (session, case_id, annotator, drawn)
            )
            row = connection.execute(
                "SELECT first_shown_as FROM pair_orders WHERE session = ? AND case_id = ? AND annotator = ?",
                (session, case_id, annotator),
            ).fetchone()
        return "A" if row[0] == "A" else "B"

    def finish(self, session: str, annotator: str) -> None:
        """Mark ``annotator``'s ``session`` finished: pairwise identities may be shown from now on."""
        with self._write() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO finished_sessions VALUES (?, ?, ?)", (session, annotator, time.time())
            )

    def is_finished(self, session: str, annotator: str) -> bool:
        with self._connect(create=False) as connection:
            if connection is None:
                return False
            row = connection.execute(
                "SELECT 1 FROM finished_sessions WHERE session = ? AND annotator = ?", (session, annotator)
            ).fetchone()
        return row is not None

    # -- reading ----------------------------------------------------------------------------------

    def all(self, *, include_retracted: bool = False) -> list[Judgement]:
        """Every judgement in the order they were made."""
        where = "" if include_retracted else " WHERE retracted_at IS NULL"
        with self._connect(create=False) as connection:
            if connection is None:
                return []
            rows = connection.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM judgements{where} ORDER BY created_at, rowid"
            ).fetchall()
        return [_judgement(row) for row in rows]

    def current(self, *, kind: Kind | None = None) -> list[Judgement]:
        """The judgements that count: per annotator and item (case + exact outputs), the newest one
        not retracted. A skip counts as the annotator's current answer too (no opinion)."""
        latest: dict[tuple[str, ...], Judgement] = {}
        for judgement in self.all():
            if kind is None or judgement.kind == kind:
                latest[judgement.item_key + (judgement.annotator,)] = judgement
        return list(latest.values())

    def for_case(self, case_id: str) -> list[Judgement]:
        """The current Likert judgements of ``case_id`` (any output), skips left out."""
        return [j for j in self.current(kind="likert") if j.case_id == case_id and not j.skipped]

    # -- export and import ------------------------------------------------------------------------

    def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write the current judgements (skips left out) to ``path`` as JSONL; returns the count."""
        judgements = [j for j in self.current() if not j.skipped]
        lines = [
            json.dumps({"format": EXPORT_FORMAT, **_export_dict(j)}, ensure_ascii=False, sort_keys=True) + "\n"
            for j in sorted(judgements, key=lambda j: (j.created_at, j.judgement_id))
        ]
        _write_text(path, "".join(lines))
        return len(lines)

    def import_jsonl(self, path: str | os.PathLike[str]) -> tuple[int, int]:
        """Add the judgements of the JSONL file ``path`` the store does not hold yet (by id), all in
        one transaction; returns (added, already present). A bad line is an error naming it."""
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReviewStoreError(f"cannot read the judgement file {source}: {exc}") from None
        judgements = []
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                judgements.append(_parse_line(line, f"{source}:{number}"))
        added = 0
        with self._write() as connection:
            for judgement in judgements:
                cursor = connection.execute(
                    f"INSERT OR IGNORE INTO judgements VALUES ({', '.join('?' * len(_COLUMNS))})", _row(judgement)
                )
                added += cursor.rowcount
        return added, len(judgements) - added


def dpo_records(judgements: Iterable[Judgement]) -> list[dict[str, Any]]:
    """``{"prompt", "chosen", "rejected"}`` rows from the current pairwise judgements, in the
    preference format TRL's ``DPOTrainer`` reads: for a plain prompt the *standard* format (three
    strings); for a chat (messages or a system prompt) the *conversational* one, the prompt as the
    list of messages (system first) and chosen/rejected each a list of one assistant message, so the
    trainer applies the model's chat template itself. Ties, skips and judgements without the texts
    are left out. Each annotator's judgement is its own row."""
    rows: list[dict[str, Any]] = []
    for judgement in judgements:
        if judgement.kind != "pairwise" or judgement.skipped or judgement.choice not in ("first", "second"):
            continue
        if judgement.prompt is None and judgement.messages is None:
            continue
        if judgement.output is None or judgement.other_output is None:
            continue
        chosen, rejected = (judgement.output, judgement.other_output)
        if judgement.choice == "second":
            chosen, rejected = rejected, chosen
        if judgement.messages is not None:
            rows.append(
                {
                    "prompt": [{"role": m["role"], "content": m["content"]} for m in judgement.messages],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            )
        else:
            rows.append({"prompt": judgement.prompt, "chosen": chosen, "rejected": rejected})
    return rows


def write_dpo_jsonl(path: str | os.PathLike[str], judgements: Iterable[Judgement]) -> int:
    """Write :func:`dpo_records` to ``path`` as JSONL (UTF-8, atomically); returns the row count."""
    rows = dpo_records(judgements)
    _write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return len(rows)


# --------------------------------------------------------------------------------------------------
# rows, validation


def _replace(judgement: Judgement, **changes: Any) -> Judgement:
    return Judgement(**{**asdict(judgement), **changes})


def _row(judgement: Judgement) -> tuple[Any, ...]:
    data = asdict(judgement)
    data["skipped"] = int(judgement.skipped)
    data["ratings"] = json.dumps(judgement.ratings, sort_keys=True)
    data["messages"] = None if judgement.messages is None else json.dumps(judgement.messages, ensure_ascii=True)
    for key in ("comment", "prompt", "output", "other_output", "case_id", "annotator"):
        data[key] = storable_text(data[key])
    return tuple(data[column] for column in _COLUMNS)


def _judgement(row: tuple[Any, ...]) -> Judgement:
    data = dict(zip(_COLUMNS, row, strict=True))
    data["skipped"] = bool(data["skipped"])
    data["ratings"] = json.loads(data["ratings"])
    data["messages"] = None if data["messages"] is None else json.loads(data["messages"])
    return Judgement(**data)


def _validate(judgement: Judgement, where: str) -> None:
    def fail(problem: str) -> ReviewStoreError:
        return ReviewStoreError(f"{where}: {problem}")

    if judgement.kind not in ("likert", "pairwise"):
        raise fail(f"kind must be 'likert' or 'pairwise', not {judgement.kind!r}")
    for name in ("judgement_id", "session", "case_id", "run_id", "output_sha256", "annotator"):
        value = getattr(judgement, name)
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{name} must be a non-empty string, not {value!r}")
    if not isinstance(judgement.created_at, (int, float)) or isinstance(judgement.created_at, bool):
        raise fail(f"created_at must be a number (seconds since 1970), not {judgement.created_at!r}")
    if not isinstance(judgement.ratings, dict):
        raise fail(f"ratings must be an object of dimension -> 1..5, not {judgement.ratings!r}")
    for dimension, value in judgement.ratings.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise fail(f"rating {dimension!r} must be a whole number 1..5, not {value!r}")
    if judgement.messages is not None and (
        not isinstance(judgement.messages, list)
        or not judgement.messages
        or not all(
            isinstance(message, dict)
            and set(message) == {"role", "content"}
            and isinstance(message["role"], str)
            and isinstance(message["content"], str)
            for message in judgement.messages
        )
    ):
        raise fail('messages must be a non-empty list of {"role": ..., "content": ...} text objects')
    if judgement.kind == "likert":
        if not judgement.skipped and not judgement.ratings:
            raise fail("a Likert judgement needs at least one rating (or skipped: true)")
    else:
        if not judgement.other_run_id or not judgement.other_output_sha256:
            raise fail("a pairwise judgement needs other_run_id and other_output_sha256")
        if not judgement.skipped and judgement.choice not in ("first", "second", "tie"):
            raise fail(f"choice must be 'first', 'second' or 'tie', not {judgement.choice!r}")
        if judgement.first_shown_as not in ("A", "B", None):
            raise fail(f"first_shown_as must be 'A' or 'B', not {judgement.first_shown_as!r}")


def _export_dict(judgement: Judgement) -> dict[str, Any]:
    data = judgement.to_dict()
    data.pop("retracted_at")
    return data


def _parse_line(line: str, where: str) -> Judgement:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise ReviewStoreError(f"{where}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReviewStoreError(f"{where}: not a judgement object")
    fmt = data.pop("format", EXPORT_FORMAT)
    if fmt not in READ_FORMATS or isinstance(fmt, bool):
        raise ReviewStoreError(
            f"{where}: format {fmt!r}; this pytest-llmeval reads formats {', '.join(map(str, READ_FORMATS))}"
        )
    if fmt == 1 and "messages" in data:
        raise ReviewStoreError(f"{where}: format 1 has no messages key (format 2 does)")
    names = set(Judgement.__dataclass_fields__) - {"retracted_at"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ReviewStoreError(f"{where}: unknown keys {', '.join(unknown)}")
    missing = sorted(
        {"judgement_id", "kind", "session", "case_id", "run_id", "output_sha256", "annotator", "created_at"} - set(data)
    )
    if missing:
        raise ReviewStoreError(f"{where}: missing keys {', '.join(missing)}")
    try:
        judgement = Judgement(**data)
    except TypeError as exc:
        raise ReviewStoreError(f"{where}: {exc}") from None
    _validate(judgement, where)
    return judgement


def _write_text(path: str | os.PathLike[str], text: str) -> None:
    target = Path(path)
    if not target.parent.is_dir():
        raise ReviewStoreError(f"cannot write {target}: the folder {target.parent} does not exist")
    write_file_atomic(target, text.encode("utf-8"))

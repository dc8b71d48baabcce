"""The persistent generation cache: outputs keyed by model identity, settings and request.

A key covers everything that decides an output: the model fingerprint (weights, tokenizer, chat
template, adapter), the dtype and device asked for, the chat-template mode, the prompt or messages,
the system prompt and every generation parameter. Sampled outputs are cached only with a seed.

Only the controller process writes (the design's rule for shared files): xdist workers read, keep
their new outputs in memory and hand them to the controller at the end of the session. A damaged
cache is moved aside and rebuilt, with a warning; it never ends the session. Only a file that is
recognisably this project's cache is ever moved aside or written: an SQLite file holding only the
cache's tables, or any file in the project's own ``.llmeval`` folder. A folder, a device, a user's
file or another program's database given as ``--llm-cache-path`` is refused (CacheFileRefused).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import Generation, GenerationRequest
from pytest_llmeval.errors import ConfigurationError

__all__ = ["CacheFileRefused", "CachedOutputs", "CacheEntry", "GenerationCache", "cache_key", "is_cacheable"]

SCHEMA_VERSION = 1
CacheEntry = tuple[str, str, "int | None", str, float]  # key, text, num_tokens, finish_reason, latency_s
_SQLITE_HEADER = b"SQLite format 3\x00"
_CACHE_TABLES = {"meta", "outputs"}
_OWN_FOLDER = ".llmeval"  # the project's own folder: every file in it is the project's


class CacheFileRefused(ConfigurationError, OSError):
    """The cache path names something that is not this project's cache (a folder, a device, a user's
    file, another program's database): a usage error, and the file is left exactly as it was. Also an
    OSError, the kind of error the plugin reports for a cache it cannot use."""


def is_cacheable(request: GenerationRequest) -> bool:
    """Greedy outputs are deterministic; sampled ones only when seeded."""
    return request.is_reproducible


def cache_key(model_id: str, request: GenerationRequest) -> str:
    payload = {
        "v": SCHEMA_VERSION,
        "model": model_id,
        "prompt": request.prompt,
        "messages": None if request.messages is None else [m.as_dict() for m in request.messages],
        "system": request.system,
        "params": request.params.model_dump(mode="json"),
    }
    if request.params.do_sample and (request.params.num_beams or 1) == 1:
        # Seeded samples are drawn one seed per row (backends/seeded_sampling.py) since history schema
        # 5; entries drawn the older way (one torch seed per batch) must not answer for them.
        payload["sampler"] = "per-row-seed"
    if request.reply_prefix is not None:  # only then: every other request keeps its key
        payload["reply_prefix"] = request.reply_prefix
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


class GenerationCache:
    """The SQLite file. ``writable`` only in the controller; a reader never creates or repairs it."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        self.writable = writable
        self.warnings: list[str] = []
        self._usable = True
        if writable:
            self._open_or_rebuild()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    def _refuse(self, what: str) -> CacheFileRefused:
        return CacheFileRefused(
            f"{self.path} {what}; it is left as it is. Give a new file path (or an existing "
            "pytest-llmeval cache) to --llm-cache-path"
        )

    def _check_existing(self) -> None:
        """Refuse a path that is not, recognisably, this project's cache (see the module's docstring)."""
        if not os.path.lexists(self.path):
            return
        if not self.path.is_file():
            kind = "is a folder" if self.path.is_dir() else "is not a regular file"
            raise self._refuse(f"{kind}, not a generation cache")
        # In the project's own folder (the default location) a damaged file is the project's own cache.
        own_folder = self.path.parent.name == _OWN_FOLDER
        with self.path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if not header:
            return  # an empty file holds nothing to lose; SQLite makes it a database
        if header != _SQLITE_HEADER:
            if own_folder:
                return
            raise self._refuse("is not a generation cache (not an SQLite file)")
        try:
            connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            try:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                version = (
                    connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                    if "meta" in tables
                    else None
                )
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:
            if own_folder:
                return
            raise self._refuse(f"is an SQLite file that cannot be read ({exc}), so not recognisably a cache") from None
        if tables and (not tables <= _CACHE_TABLES or version is None):
            raise self._refuse(
                f"is an SQLite database of something else (tables: {', '.join(sorted(tables)[:5])}), "
                "not a generation cache"
            )

    def _open_or_rebuild(self) -> None:
        self._check_existing()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as connection:
                self._ensure_schema(connection)
        except sqlite3.DatabaseError as exc:
            moved = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, moved)
            self.warnings.append(
                f"the generation cache {self.path} was unreadable ({exc}); moved it to {moved.name} "
                "and started a new one"
            )
            with self._connect() as connection:
                self._ensure_schema(connection)

    @staticmethod
    def _ensure_schema(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] != str(SCHEMA_VERSION):
            # An older layout: its keys cannot match ours; start afresh rather than misread it.
            connection.execute("DROP TABLE IF EXISTS outputs")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
            "num_tokens INTEGER, finish_reason TEXT NOT NULL, latency_s REAL NOT NULL, created REAL NOT NULL)"
        )
        connection.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def lookup(self, keys: Sequence[str]) -> dict[str, CacheEntry]:
        if not keys or not self._usable or not self.path.is_file():
            return {}
        found: dict[str, CacheEntry] = {}
        try:
            with self._connect() as connection:
                for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
                    chunk = list(keys[start : start + 500])
                    marks = ",".join("?" * len(chunk))
                    rows = connection.execute(
                        f"SELECT key, text, num_tokens, finish_reason, latency_s FROM outputs WHERE key IN ({marks})",
                        chunk,
                    )
                    for row in rows:
                        found[row[0]] = (row[0], row[1], row[2], row[3], row[4])
        except sqlite3.DatabaseError as exc:
            self._usable = False
            self.warnings.append(f"the generation cache {self.path} could not be read ({exc}); not used")
            return {}
        return found

    def write(self, entries: Iterable[CacheEntry]) -> int:
        """Store entries in one transaction; returns how many."""
        rows = [(*entry, time.time()) for entry in entries]
        if not rows or not self.writable or not self._usable:
            return 0
        with self._connect() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO outputs (key, text, num_tokens, finish_reason, latency_s, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)


@dataclass
class CachedOutputs:
    """What the engine sees of the cache: look requests up, note new outputs for writing later."""

    store: GenerationCache | None
    model_id: str
    read: bool = True
    pending: list[CacheEntry] = field(default_factory=list)

    def lookup(self, requests: Sequence[GenerationRequest]) -> dict[GenerationRequest, Generation]:
        if self.store is None or not self.read:
            return {}
        keys = {cache_key(self.model_id, r): r for r in requests if is_cacheable(r)}
        found = self.store.lookup(list(keys))
        return {
            keys[key]: Generation(
                text,
                request=keys[key],
                num_tokens=num_tokens,
                finish_reason=finish,  # type: ignore[arg-type]
                latency_s=latency,
            )
            for key, text, num_tokens, finish, latency in found.values()
        }

    def record(self, generation: Generation) -> None:
        if self.store is not None and is_cacheable(generation.request):
            key = cache_key(self.model_id, generation.request)
            self.pending.append(
                (key, generation.text, generation.num_tokens, generation.finish_reason, generation.latency_s)
            )

    def lookup_values(self, kind: str, payloads: Sequence[dict[str, Any]]) -> dict[int, Any]:
        """Stored values (JSON) of ``kind`` (a judge score, an output's perplexity) for each payload
        that has one, by index. Keyed like outputs: this model's identity plus the exact payload (the
        judge prompt, or the request and output), so a changed model or prompt never reads an old one."""
        if self.store is None or not self.read or not payloads:
            return {}
        keys = {self._value_key(kind, payload): index for index, payload in enumerate(payloads)}
        found = self.store.lookup(list(keys))
        values: dict[int, Any] = {}
        for key, text, _, _, _ in found.values():
            try:
                values[keys[key]] = json.loads(text)
            except ValueError:
                continue  # a damaged value is computed again
        return values

    def record_value(self, kind: str, payload: dict[str, Any], value: Any) -> None:
        """Note a computed value for writing with the session's new outputs."""
        if self.store is not None:
            self.pending.append((self._value_key(kind, payload), json.dumps(value), None, kind, 0.0))

    def _value_key(self, kind: str, payload: dict[str, Any]) -> str:
        body = {"v": SCHEMA_VERSION, "kind": kind, "model": self.model_id, **payload}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()

    def take_pending(self) -> list[CacheEntry]:
        pending, self.pending = self.pending, []
        return pending

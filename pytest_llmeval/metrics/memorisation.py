"""Memorisation: the longest span of an output copied verbatim from the training data.

**Training data.** A UTF-8 file: ``.jsonl`` (each line a JSON string, or an object with ``text``, or
with ``prompt`` and ``completion``/``response``, or with ``messages`` [{role, content}]), otherwise plain
text with documents separated by blank lines (:func:`read_documents`).

**Tokens.** Words and punctuation marks (``\\w+`` runs and single other non-space characters),
case-sensitive: the index does not depend on the model, so one index serves every checkpoint, and a
span counts as copied only when the same words appear in the same order, whatever the spacing.

**Index** (:class:`TrainingIndex`). Every token gets an id; every n-gram of ``n`` tokens (default 8) of
every document is hashed (a 64-bit polynomial hash, vectorised with numpy) and the hashes are sorted
with their positions. Building is linear in the data plus one sort; the index of a file is built once
per process and reused (keyed by path, size and modification time). With a cache folder (the plugin
gives ``.llmeval/memorisation`` under the rootdir, beside the generation cache), the index is also
saved there, keyed by the sha256 of the file's content and ``n``, and a later session loads it
(memory-mapped) instead of building it again; a changed file has another key, so its index is
rebuilt, and the old one is removed (:func:`index_for_file`).

**Longest copied span** (:meth:`TrainingIndex.longest_copied_span`). Each n-gram of the output whose
hash is in the index seeds a comparison with the training tokens at that position, extended token by
token while they agree: the result is the exact longest common token span of length >= n (a hash
collision cannot inflate it, since spans are compared token by token). Shorter spans count as 0.
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    register_check,
    truncate,
)

__all__ = [
    "DEFAULT_N",
    "CopiedSpan",
    "TrainingDataError",
    "TrainingIndex",
    "active_training_index",
    "default_training_data",
    "index_for_file",
    "read_documents",
    "set_default_training_data",
    "set_index_cache_dir",
    "tokenize",
    "using_training_index",
]

DEFAULT_N = 8
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_MAX_SEEDS_PER_NGRAM = 64  # training positions compared per output n-gram (boilerplate repeats a lot)
_BASE = 0x9E3779B97F4A7C15  # odd 64-bit multiplier for the polynomial hash
_CHUNK_CHARS = 4_000_000  # documents are tokenised in chunks this big, to bound memory


class TrainingDataError(ValueError):
    """The training data file cannot be read or has an unexpected layout."""


def tokenize(text: str) -> list[str]:
    """Words and punctuation marks, case kept (see the module docstring)."""
    return _TOKEN_RE.findall(text)


def _jsonl_text(value: Any, path: Path, number: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return value["text"]
        answer = value.get("completion", value.get("response"))
        if isinstance(value.get("prompt"), str) and isinstance(answer, str):
            return f"{value['prompt']}\n{answer}"
        messages = value.get("messages")
        if isinstance(messages, list) and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
        ):
            return "\n".join(m["content"] for m in messages)
    raise TrainingDataError(
        f"{path}:{number}: expected a JSON string or an object with 'text', 'prompt' and 'completion'/'response', "
        f"or 'messages'; got {truncate(json.dumps(value), limit=80)}"
    )


def read_documents(path: str | os.PathLike[str]) -> list[str]:
    """The documents of a training or held-out file (see the module docstring)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrainingDataError(f"training data file {source} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"cannot read the training data file {source}: {exc}") from None
    if source.suffix == ".jsonl":
        documents = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{source}:{number}: not valid JSON ({exc.msg}, column {exc.colno})") from None
            documents.append(_jsonl_text(value, source, number))
    else:
        documents = [d.strip() for d in re.split(r"\n\s*\n", text) if d.strip()]
    if not documents:
        raise TrainingDataError(f"training data file {source} has no documents")
    return documents


@dataclass(frozen=True)
class CopiedSpan:
    """The longest output span found verbatim in the training data (``length`` 0: none of n+ tokens)."""

    length: int  # tokens
    text: str  # the span, its tokens joined by spaces
    document: int | None  # the training document it was found in


class TrainingIndex:
    """An n-gram index over training documents (see the module docstring)."""

    def __init__(self, documents: Sequence[str], n: int = DEFAULT_N) -> None:
        import numpy as np

        if n < 2:
            raise ValueError(f"memorisation: n must be at least 2, got {n}")
        self.n = n
        self.vocabulary: dict[str, int] = {}
        self._counter = itertools.count()
        ids: list[Any] = []
        starts: list[int] = []  # token offset of each document in the concatenation
        offset = 0
        chunk: list[str] = []
        chunk_chars = 0

        def flush() -> None:
            nonlocal offset
            chunk_ids: list[int] = []
            # ids need only be distinct, not dense: setdefault with a running counter, mapped in C
            assign = self.vocabulary.setdefault
            for document in chunk:
                starts.append(offset)
                tokens = tokenize(document)
                chunk_ids.extend(map(assign, tokens, self._counter))
                chunk_ids.append(-1)  # a separator: no n-gram spans two documents
                offset += len(tokens) + 1
            ids.append(np.array(chunk_ids, dtype=np.int32))
            chunk.clear()

        for document in documents:
            chunk.append(document)
            chunk_chars += len(document)
            if chunk_chars >= _CHUNK_CHARS:
                flush()
                chunk_chars = 0
        flush()
        self.documents = len(starts)
        self.tokens = np.concatenate(ids)
        self.document_starts = np.array(starts, dtype=np.int64)
        hashes, valid = self._ngram_hashes(self.tokens)
        positions = np.flatnonzero(valid)
        order = np.argsort(hashes[positions], kind="stable")
        self.sorted_hashes = hashes[positions][order]
        self.sorted_positions = positions[order]

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (which must not exist yet): one ``.npy`` file per array
        (loaded memory-mapped), the vocabulary as text, ``meta.json`` last."""
        import numpy as np

        folder.mkdir(parents=True)
        for name in _ARRAYS:
            np.save(folder / f"{name}.npy", getattr(self, name))
        # tokens are \w+ runs or single non-space characters: none holds a newline
        words = list(self.vocabulary)
        (folder / "vocabulary.txt").write_text("\n".join(words), encoding="utf-8")
        np.save(folder / "vocabulary_ids.npy", np.fromiter(self.vocabulary.values(), dtype=np.int64, count=len(words)))

    @classmethod
    def load(cls, folder: Path, n: int, documents: int) -> TrainingIndex:
        """The index ``save`` wrote into ``folder``."""
        import numpy as np

        index = cls.__new__(cls)
        index.n = n
        index.documents = documents
        for name in _ARRAYS:
            setattr(index, name, np.load(folder / f"{name}.npy", mmap_mode="r"))
        words = (folder / "vocabulary.txt").read_text(encoding="utf-8")
        ids = np.load(folder / "vocabulary_ids.npy").tolist()
        index.vocabulary = dict(zip(words.split("\n") if words else [], ids, strict=True))
        return index

    @property
    def token_count(self) -> int:
        return int((self.tokens >= 0).sum())

    def _ngram_hashes(self, tokens: Any) -> tuple[Any, Any]:
        """The hash of the n-gram starting at each position, and whether it is a real n-gram (no
        separator or unknown token inside)."""
        import numpy as np

        count = max(len(tokens) - self.n + 1, 0)
        hashes = np.zeros(count, dtype=np.uint64)
        valid = np.ones(count, dtype=bool)
        with np.errstate(over="ignore"):
            for k in range(self.n):
                window = tokens[k : k + count]
                hashes = hashes * np.uint64(_BASE) + (window.astype(np.uint64) + np.uint64(1))
                valid &= window >= 0
        return hashes, valid

    def _ids(self, tokens: Sequence[str]) -> Any:
        import numpy as np

        return np.array([self.vocabulary.get(t, -2) for t in tokens], dtype=np.int32)  # -2: unseen word

    def longest_copied_span(self, text: str) -> CopiedSpan:
        """The longest span of ``text`` (in tokens, at least n) that occurs verbatim in the data."""
        import numpy as np

        words = tokenize(text)
        ids = self._ids(words)
        hashes, valid = self._ngram_hashes(ids)
        best, best_start, best_position = 0, 0, -1
        train = self.tokens
        seeds = np.flatnonzero(valid)
        lows = np.searchsorted(self.sorted_hashes, hashes[seeds], side="left")
        highs = np.searchsorted(self.sorted_hashes, hashes[seeds], side="right")
        for i, low, high in zip(seeds.tolist(), lows.tolist(), highs.tolist(), strict=True):
            if i + best >= len(ids):
                break  # no longer span can start here
            for position in self.sorted_positions[low : min(high, low + _MAX_SEEDS_PER_NGRAM)].tolist():
                length = 0
                limit = min(len(ids) - i, len(train) - position)
                while length < limit and ids[i + length] == train[position + length]:
                    length += 1
                if length > best:
                    best, best_start, best_position = length, i, position
        if best < self.n:
            return CopiedSpan(0, "", None)
        document = int(np.searchsorted(self.document_starts, best_position, side="right") - 1)
        return CopiedSpan(best, " ".join(words[best_start : best_start + best]), document)


_INDEXES: dict[tuple[str, int, int, int], TrainingIndex] = {}
_ARRAYS = ("tokens", "document_starts", "sorted_hashes", "sorted_positions")
_INDEX_FORMAT = 1  # of a saved index; another format is rebuilt
_index_cache_dir: Path | None = None


def set_index_cache_dir(folder: str | os.PathLike[str] | None) -> None:
    """Where :func:`index_for_file` saves and finds indexes across sessions (None: nowhere; the
    plugin sets ``.llmeval/memorisation`` under the rootdir)."""
    global _index_cache_dir
    _index_cache_dir = Path(folder) if folder is not None else None


def _content_sha256(source: Path) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as stream:
        while chunk := stream.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _saved_meta(folder: Path) -> dict[str, Any] | None:
    """A saved index's ``meta.json`` when ``folder`` is recognisably one of ours, else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("llmeval_memorisation_index") == _INDEX_FORMAT else None


def _load_or_build(source: Path, n: int, cache_dir: Path) -> TrainingIndex:
    """Load the saved index of ``source``'s content, or build it and save it (atomically: a folder
    written aside and renamed, so concurrent sessions or xdist workers never read half an index).
    Indexes of earlier contents of the same file are removed; only folders with our meta.json."""
    sha = _content_sha256(source)
    folder = cache_dir / f"{sha[:32]}-n{n}"
    meta = _saved_meta(folder)
    if meta is not None and meta.get("sha256") == sha and meta.get("n") == n:
        try:
            return TrainingIndex.load(folder, n, int(meta["documents"]))
        except (OSError, ValueError, KeyError):
            pass  # a damaged index is built again below
    index = TrainingIndex(read_documents(source), n=n)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    except OSError:
        return index  # a cache that cannot be written only costs the next session a rebuild
    try:
        written = staging / "index"
        index.save(written)
        meta = {"llmeval_memorisation_index": _INDEX_FORMAT, "source": str(source), "sha256": sha, "n": n,
                "documents": index.documents}  # fmt: skip
        (written / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if folder.exists():
            if _saved_meta(folder) is None:  # not recognisably ours: leave it, and do not save
                return index
            shutil.rmtree(folder)  # a damaged one of ours
        os.replace(written, folder)
    except OSError:
        return index
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for other in cache_dir.iterdir():
        stale = _saved_meta(other) if other != folder and other.is_dir() else None
        if stale is not None and stale.get("source") == str(source) and stale.get("n") == n:
            shutil.rmtree(other, ignore_errors=True)
    return index


def index_for_file(path: str | os.PathLike[str], n: int = DEFAULT_N) -> TrainingIndex:
    """The index of a training file, built on first use and kept for the process (rebuilt when the
    file changes); with a cache folder (:func:`set_index_cache_dir`), saved there and loaded by
    later sessions while the file's content is the same."""
    source = Path(path).resolve()
    try:
        stat = source.stat()
    except OSError:
        raise TrainingDataError(f"training data file {source} does not exist") from None
    key = (str(source), stat.st_size, stat.st_mtime_ns, n)
    index = _INDEXES.get(key)
    if index is None:
        if _index_cache_dir is not None:
            index = _load_or_build(source, n, _index_cache_dir)
        else:
            index = TrainingIndex(read_documents(source), n=n)
        _INDEXES[key] = index
    return index


_active: contextvars.ContextVar[TrainingIndex | None] = contextvars.ContextVar("llmeval_training_index", default=None)


@contextmanager
def using_training_index(index: TrainingIndex | None) -> Iterator[None]:
    """Make ``index`` the one ``no_memorisation`` uses when given no ``train_data`` (the session's)."""
    token = _active.set(index)
    try:
        yield
    finally:
        _active.reset(token)


_default_training_data: Path | None = None


def set_default_training_data(path: str | os.PathLike[str] | None) -> None:
    """The process-wide training file ``no_memorisation`` uses when given no ``train_data`` (the
    plugin sets it from ``--llm-train-data``); its index is built on the first check that needs it."""
    global _default_training_data
    _default_training_data = Path(path) if path is not None else None


def default_training_data() -> Path | None:
    """The session's training file (``--llm-train-data``), if one was given."""
    return _default_training_data


def active_training_index() -> TrainingIndex | None:
    """The index set with :func:`using_training_index`, else that of the default training file."""
    index = _active.get()
    if index is None and _default_training_data is not None:
        index = index_for_file(_default_training_data)
    return index


_NO_INDEX = (
    "check 'no_memorisation' needs the training data: pass train_data=<file>, run pytest with "
    "--llm-train-data FILE, or wrap the call in pytest_llmeval.metrics.memorisation.using_training_index(index)"
)


@register_check(
    "no_memorisation",
    family="overfitting",
    summary="No span of the output longer than max_span tokens is copied verbatim from the training data.",
)
def no_memorisation(text: str, max_span: int = 50, train_data: Path | None = None, n: int = DEFAULT_N) -> CheckResult:
    """The longest span copied verbatim from the training data (word/punctuation tokens, spans of at
    least ``n``) is at most ``max_span`` tokens; the metric ``memorised_span`` records it."""
    if max_span < 0:
        raise CheckUsageError(f"check 'no_memorisation': max_span must be >= 0, got {max_span}")
    try:
        index = index_for_file(train_data, n=n) if train_data is not None else active_training_index()
    except (TrainingDataError, ValueError) as exc:
        raise CheckUsageError(f"check 'no_memorisation': {exc}") from None
    if index is None:
        raise CheckUsageError(_NO_INDEX)
    if train_data is None and n != index.n:
        raise CheckUsageError(f"check 'no_memorisation': n={n} but the session's index uses n={index.n}")
    span = index.longest_copied_span(text)
    passed = span.length <= max_span
    where = f" (training document {span.document})" if span.document is not None else ""
    found = (
        f"{span.length} tokens copied verbatim{where}: {truncate(span.text, limit=160)}"
        if span.length
        else (f"no span of {index.n}+ tokens copied from the training data")
    )
    verdict = f"<= max {max_span}" if passed else f"> max {max_span}"
    return CheckResult(
        "no_memorisation",
        passed,
        f"no_memorisation: longest copied span {span.length} {verdict}; {found}",
        score=float(span.length),
        details={"metric": {"name": "memorised_span", "value": float(span.length), "higher_is_better": False}},
        value=span,
    )

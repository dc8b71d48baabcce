"""Model fingerprints: a content hash of the files that decide a model's outputs.

Weights, config, tokenizer files (which hold the chat template) and adapter files are hashed, so
retraining into the same folder changes the fingerprint and never serves a stale cached output. Each
file's hash is memoised by (path, size, mtime) in a small JSON file, so a second session does not
re-read gigabytes of weights. Plain Python: no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FileHashMemo", "file_digests", "fingerprint_files", "model_files"]

# Files of a model folder that do not change its outputs. Tokenizer files such as vocab.txt and
# merges.txt do, so .txt is kept; subfolders (a Trainer's checkpoint-*/, caches) are not read at all.
_SKIP_SUFFIXES = {".md", ".log", ".png", ".jpg", ".jpeg", ".gif"}
_SKIP_NAMES = {"training_args.bin", "trainer_state.json", "optimizer.pt", "scheduler.pt", "rng_state.pth"}
_CHUNK = 4 * 1024 * 1024


def model_files(*folders: str | Path | None) -> list[Path]:
    """The files that make up a model (and its adapter), in a stable order: the folder's own files,
    not its subfolders (``save_pretrained`` writes everything at the top). A single-file model (a
    GGUF file) is that file: its content is the fingerprint."""
    files: list[Path] = []
    for folder in folders:
        if folder is None:
            continue
        if Path(folder).is_file():
            files.append(Path(folder))
            continue
        files += sorted(
            p
            for p in Path(folder).iterdir()
            if p.is_file() and p.suffix.lower() not in _SKIP_SUFFIXES and p.name not in _SKIP_NAMES
        )
    return files


class FileHashMemo:
    """sha256 of files, memoised by (size, mtime_ns) in a JSON file; only the owner saves it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list[object]] = {}
        self.changed = False
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    self.entries = data
            except (OSError, ValueError):
                self.entries = {}  # a damaged memo only costs a re-hash

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        key = str(file.resolve())
        cached = self.entries.get(key)
        if isinstance(cached, list) and cached[:2] == [stat.st_size, stat.st_mtime_ns]:
            return str(cached[2])
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        value = digest.hexdigest()
        self.entries[key] = [stat.st_size, stat.st_mtime_ns, value]
        self.changed = True
        return value

    def save(self) -> None:
        """Write the memo atomically (temp file + rename)."""
        if self.path is None or not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".fingerprints-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.entries, handle)
        os.replace(tmp, self.path)
        self.changed = False


def fingerprint_files(files: Iterable[Path], memo: FileHashMemo, roots: Iterable[Path]) -> str:
    """One hash over the files' names (relative to their root) and contents."""
    roots = [Path(r).resolve() for r in roots]
    digest = hashlib.sha256()
    for file in files:
        resolved = file.resolve()
        root = next((r for r in roots if resolved.is_relative_to(r)), resolved.parent)
        digest.update(f"{roots.index(root) if root in roots else -1}:{resolved.relative_to(root)}".encode())
        digest.update(memo.sha256(file).encode())
    return digest.hexdigest()[:20]


def file_digests(files: Iterable[Path], memo: FileHashMemo, roots: Iterable[Path]) -> dict[str, str]:
    """Each file's name (relative to its root; an adapter's files prefixed ``adapter/``) and the first
    16 hex digits of its sha256: recorded with a run, so a report can say *which* files of two
    models differ rather than only that their fingerprints do. Uses the same memo, so no file is
    read twice."""
    roots = [Path(r).resolve() for r in roots]
    digests: dict[str, str] = {}
    for file in files:
        resolved = file.resolve()
        root = next((r for r in roots if resolved.is_relative_to(r)), resolved.parent)
        index = roots.index(root) if root in roots else -1
        name = resolved.relative_to(root).as_posix()
        digests[name if index <= 0 else f"adapter/{name}"] = memo.sha256(file)[:16]
    return digests

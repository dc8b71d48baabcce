"""The generation cache file: only a file recognisably this project's cache is ever written or moved
aside; a folder, a device, a user's file or another program's database is refused and left as it was."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from pytest_llmeval.cache import CacheFileRefused, GenerationCache
from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.store import RunStore


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_of_the_users_files_is_refused_and_untouched(tmp_path: Path) -> None:
    # --llm-cache-path=evals moved the folder to evals.corrupt-<ts> and made an SQLite file `evals`
    evals = tmp_path / "evals"
    evals.mkdir()
    (evals / "support.eval.yaml").write_text("cases: []\n")
    before = snapshot(tmp_path)
    with pytest.raises(CacheFileRefused) as info:
        GenerationCache(evals, writable=True)
    assert str(info.value) == (
        f"{evals} is a folder, not a generation cache; it is left as it is. Give a new file path "
        "(or an existing pytest-llmeval cache) to --llm-cache-path"
    )
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["evals"]


def test_a_users_file_is_refused_and_untouched(tmp_path: Path) -> None:
    # --llm-cache-path=llmeval-baseline.json renamed the committed baseline
    baseline = tmp_path / "llmeval-baseline.json"
    baseline.write_text('{"version": 1}\n')
    with pytest.raises(
        CacheFileRefused, match="llmeval-baseline.json is not a generation cache \\(not an SQLite file\\)"
    ):
        GenerationCache(baseline, writable=True)
    assert os.listdir(tmp_path) == ["llmeval-baseline.json"] and baseline.read_text() == '{"version": 1}\n'


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    history = tmp_path / "notes.db"
    with sqlite3.connect(history) as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
        connection.execute("INSERT INTO notes VALUES ('keep me')")
    connection.close()
    before = history.read_bytes()
    with pytest.raises(CacheFileRefused, match=r"is an SQLite database of something else \(tables: notes\)"):
        GenerationCache(history, writable=True)
    assert history.read_bytes() == before


def test_the_run_history_is_not_taken_for_a_cache_even_in_the_projects_folder(tmp_path: Path) -> None:
    history = tmp_path / ".llmeval" / "history.db"
    with RunStore(history)._connect(create=True):  # a real, empty history: meta, runs, cases...
        pass
    with pytest.raises(CacheFileRefused, match="SQLite database of something else"):
        GenerationCache(history, writable=True)


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs /proc")
def test_a_system_file_or_a_pipe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CacheFileRefused, match="/proc/version is not a generation cache"):
        GenerationCache(Path("/proc/version"), writable=True)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CacheFileRefused, match="pipe is not a regular file"):
        GenerationCache(fifo, writable=True)


def test_refusal_is_a_usage_error() -> None:
    # ConfigurationError -> pytest.UsageError (exit 4); OSError -> the plugin's "cannot use the cache"
    assert issubclass(CacheFileRefused, ConfigurationError) and issubclass(CacheFileRefused, OSError)


def test_an_existing_cache_an_empty_file_and_a_new_path_are_used(tmp_path: Path) -> None:
    custom = tmp_path / "my-cache.sqlite"
    first = GenerationCache(custom, writable=True)
    assert first.write([("k", "text", 3, "stop", 0.1)]) == 1
    again = GenerationCache(custom, writable=True)  # reopening the project's own file
    assert again.lookup(["k"])["k"][1] == "text" and again.warnings == []
    empty = tmp_path / "empty.db"
    empty.touch()
    GenerationCache(empty, writable=True).write([("k", "t", None, "stop", 0.0)])
    assert GenerationCache(empty, writable=True).lookup(["k"])


def test_a_damaged_file_in_the_projects_folder_is_moved_aside(tmp_path: Path) -> None:
    cache_path = tmp_path / ".llmeval" / "cache.db"
    cache_path.parent.mkdir()
    cache_path.write_bytes(b"not a database" * 100)
    cache = GenerationCache(cache_path, writable=True)
    assert len(cache.warnings) == 1 and "moved it to cache.db.corrupt-" in cache.warnings[0]
    moved = [p for p in os.listdir(cache_path.parent) if p.startswith("cache.db.corrupt-")]
    assert len(moved) == 1 and (cache_path.parent / moved[0]).read_bytes() == b"not a database" * 100


def test_seeded_samples_do_not_share_keys_with_the_older_sampler_but_greedy_keys_stay() -> None:
    """Per-row seeded sampling replaced one torch seed per batch: an output drawn the old way must not
    be served for a request sampled the new way, while greedy outputs keep their cached entries."""
    import hashlib
    import json

    from pytest_llmeval.backends.base import GenerationParams, GenerationRequest
    from pytest_llmeval.cache import SCHEMA_VERSION, cache_key

    def old_key(request: GenerationRequest) -> str:
        payload = {
            "v": SCHEMA_VERSION,
            "model": "m",
            "prompt": request.prompt,
            "messages": None,
            "system": None,
            "params": request.params.model_dump(mode="json"),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    greedy = GenerationRequest("Hi", None, None, GenerationParams(max_new_tokens=4))
    sampled = GenerationRequest("Hi", None, None, GenerationParams(max_new_tokens=4, do_sample=True, seed=3))
    beams = GenerationRequest("Hi", None, None, GenerationParams(max_new_tokens=4, do_sample=True, seed=3, num_beams=2))
    assert cache_key("m", greedy) == old_key(greedy)
    assert cache_key("m", sampled) != old_key(sampled)
    assert cache_key("m", beams) == old_key(beams)  # beam sampling still seeds the batch as before

from __future__ import annotations

import os
from pathlib import Path

from pytest_llmeval.fingerprint import FileHashMemo, fingerprint_files, model_files


def folder_with(tmp_path: Path, weights: bytes) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "README.md").write_text("docs do not count", encoding="utf-8")
    return folder


def test_content_changes_the_fingerprint_and_docs_do_not(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, b"weights-1")
    memo = FileHashMemo(None)
    first = fingerprint_files(model_files(folder), memo, [folder])
    (folder / "README.md").write_text("new docs", encoding="utf-8")
    assert fingerprint_files(model_files(folder), memo, [folder]) == first
    (folder / "model.safetensors").write_bytes(b"weights-2")
    assert fingerprint_files(model_files(folder), memo, [folder]) != first


def test_the_memo_spares_a_second_session_from_rehashing(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, b"w" * 1000)
    memo_file = tmp_path / "fingerprints.json"
    memo = FileHashMemo(memo_file)
    first = fingerprint_files(model_files(folder), memo, [folder])
    memo.save()
    again = FileHashMemo(memo_file)
    assert fingerprint_files(model_files(folder), again, [folder]) == first
    assert not again.changed  # every hash came from the memo
    stat = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    fingerprint_files(model_files(folder), again, [folder])
    assert again.changed  # a touched file is hashed again


def test_a_damaged_memo_only_costs_a_rehash(tmp_path: Path) -> None:
    memo_file = tmp_path / "fingerprints.json"
    memo_file.write_text("{not json", encoding="utf-8")
    folder = folder_with(tmp_path, b"x")
    assert fingerprint_files(model_files(folder), FileHashMemo(memo_file), [folder])


def test_tokenizer_text_files_count_and_trainer_leftovers_do_not(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, b"w")
    (folder / "merges.txt").write_text("a b", encoding="utf-8")
    (folder / "checkpoint-500").mkdir()
    (folder / "checkpoint-500" / "optimizer.pt").write_bytes(b"huge")
    (folder / "training_args.bin").write_bytes(b"args")
    names = [p.name for p in model_files(folder)]
    assert names == ["config.json", "merges.txt", "model.safetensors"]
    memo = FileHashMemo(None)
    before = fingerprint_files(model_files(folder), memo, [folder])
    (folder / "merges.txt").write_text("a c", encoding="utf-8")
    assert fingerprint_files(model_files(folder), memo, [folder]) != before


def test_two_builds_of_the_demo_model_have_one_fingerprint(tmp_path: Path) -> None:
    from pytest_llmeval.demo import build_demo_model

    first = build_demo_model(tmp_path / "a", steps=3)
    second = build_demo_model(tmp_path / "b", steps=3)
    memo = FileHashMemo(None)
    assert fingerprint_files(model_files(first), memo, [first]) == fingerprint_files(
        model_files(second), memo, [second]
    )


def test_file_digests_name_each_file_and_mark_the_adapters(tmp_path: Path) -> None:
    from pytest_llmeval.fingerprint import file_digests

    model, adapter = tmp_path / "m", tmp_path / "a"
    model.mkdir()
    adapter.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"w1")
    (adapter / "adapter_model.safetensors").write_bytes(b"lora")
    memo = FileHashMemo(None)
    digests = file_digests(model_files(model, adapter), memo, [model, adapter])
    assert sorted(digests) == ["adapter/adapter_model.safetensors", "config.json", "model.safetensors"]
    assert all(len(value) == 16 for value in digests.values())
    (model / "model.safetensors").write_bytes(b"w2")
    changed = file_digests(model_files(model, adapter), FileHashMemo(None), [model, adapter])
    assert [name for name in digests if digests[name] != changed[name]] == ["model.safetensors"]

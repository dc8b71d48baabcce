"""The inference log: one JSON object per generation, written atomically, read back with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmeval.backends.base import Generation
from pytest_llmeval.engine import build_request
from pytest_llmeval.inference_log import (
    InferenceLogError,
    inference_entry,
    inference_log_path,
    read_inference_log,
    run_folder,
    write_inference_log,
)


def generation(text: str, **request: object) -> Generation:
    built = build_request(**request)  # type: ignore[arg-type]
    return Generation(text, request=built, num_tokens=4, finish_reason="length", latency_s=0.1234567)


def test_the_run_folder_sits_next_to_the_history(tmp_path: Path) -> None:
    assert run_folder(tmp_path / ".llmeval" / "history.db", "abc") == tmp_path / ".llmeval" / "runs" / "abc"
    assert inference_log_path("h.db", "abc") == Path("runs") / "abc" / "inferences.jsonl"


def test_an_entry_holds_the_request_and_how_it_was_produced() -> None:
    entry = inference_entry(
        "t.py::test_a",
        generation("Hi!", prompt="Say hi", max_new_tokens=8, stop=["\n"]),
        phase="setup",
        index=0,
        source="generated",
    )
    assert entry == {
        "node_id": "t.py::test_a",
        "phase": "setup",
        "index": 0,
        "prompt": "Say hi",
        "messages": None,
        "system": None,
        "params": {"max_new_tokens": 8, "do_sample": False, "stop": ["\n"]},
        "output": "Hi!",
        "num_tokens": 4,
        "finish_reason": "length",
        "latency_s": 0.123457,
        "source": "generated",
    }


def test_a_chat_entry_has_messages_and_no_prompt() -> None:
    entry = inference_entry(
        "t.py::test_b",
        generation("Bonjour", messages=[{"role": "user", "content": "Hi in French"}], system="Be brief."),
        phase="call",
        index=2,
        source="cache",
    )
    assert entry["prompt"] is None and entry["system"] == "Be brief."
    assert entry["messages"] == [{"role": "user", "content": "Hi in French"}]
    assert entry["params"] == {"do_sample": False} and entry["index"] == 2 and entry["source"] == "cache"


def test_write_and_read_round_trip_in_utf8(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "r1" / "inferences.jsonl"
    entries = [
        {"node_id": "a", "output": "naïve 中文 \u2028 line"},
        {"node_id": "b", "output": "lone surrogate \udc80 from a tokenizer"},
    ]
    assert write_inference_log(path, entries) == 2
    raw = path.read_bytes()
    assert "naïve 中文".encode() in raw and raw.count(b"\n") == 2  # readable UTF-8, one object per line
    assert read_inference_log(path) == entries
    assert not [p for p in path.parent.iterdir() if p.name != "inferences.jsonl"]  # no temp file left


def test_an_empty_run_writes_an_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    assert write_inference_log(path, []) == 0
    assert path.read_bytes() == b"" and read_inference_log(path) == []


def test_read_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(InferenceLogError, match=r"no inference log at .*missing\.jsonl"):
        read_inference_log(tmp_path / "missing.jsonl")
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"node_id": "a"}) + "\n\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(InferenceLogError, match=r"log\.jsonl:3: not an inference log entry \(no node_id\)"):
        read_inference_log(path)
    path.write_text('{"node_id": "a"}\n{"node_id": \n', encoding="utf-8")
    with pytest.raises(InferenceLogError, match=r"log\.jsonl:2: not a JSON object"):
        read_inference_log(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(InferenceLogError, match=r"cannot read the inference log .*log\.jsonl"):
        read_inference_log(path)

"""The inference log: every generation of a run, one JSON object per line, in the run's folder.

A run's folder sits next to the history it is recorded in: ``<history dir>/runs/<run id>/`` (with the
default history, ``.llmeval/runs/<run id>/``), so ``llmeval show RUN --outputs`` finds the log from the
same ``--history`` it reads the run from. Only the controller writes it, once, atomically (a temporary
file moved into place), in UTF-8.

One line per generation, in the order the tests made them::

    {"node_id": "evals/support.eval.yaml::reset", "phase": "call", "index": 0,
     "prompt": "How do I reset my password?", "messages": null, "system": null,
     "params": {"max_new_tokens": 64, "do_sample": false}, "output": "Click Forgot Password.",
     "num_tokens": 7, "finish_reason": "stop", "latency_s": 0.041, "source": "generated"}

``source`` is ``generated`` (made by the model in this run) or ``cache`` (served from the generation
cache, with the latency it took when it was made). Under ``--llm-compare-base`` each line also has
``side``: ``adapter`` in the model under test's log, ``base`` in the base model's run's own log.

A judge's call, made by a check of the test, is a line with ``"kind": "judge"`` (``engine.judge_call_entry``):
``judge`` (which weights judge), ``messages`` and ``reply_prefix`` (or ``prompt``), and ``output``:
its reply in text mode, or in logprobs mode a line naming the score tokens' probabilities, which are
also under ``probabilities`` with their total ``mass``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pytest_llmeval.backends.base import Generation
from pytest_llmeval.store import write_file_atomic

__all__ = [
    "INFERENCE_LOG_NAME",
    "InferenceLogError",
    "inference_entry",
    "inference_log_path",
    "read_inference_log",
    "run_folder",
    "write_inference_log",
]

INFERENCE_LOG_NAME = "inferences.jsonl"


class InferenceLogError(Exception):
    """An inference log is missing or a line of it is not a log entry."""


def run_folder(history_path: str | os.PathLike[str], run_id: str) -> Path:
    """The folder of run ``run_id``'s files, next to the history file it is recorded in."""
    return Path(history_path).parent / "runs" / run_id


def inference_log_path(history_path: str | os.PathLike[str], run_id: str) -> Path:
    return run_folder(history_path, run_id) / INFERENCE_LOG_NAME


def inference_entry(node_id: str, generation: Generation, *, phase: str, index: int, source: str) -> dict[str, Any]:
    """One log line for ``generation``, made by test ``node_id`` in ``phase`` (its ``index``-th output)."""
    request = generation.request
    # The request as generated: the session's defaults are already filled in. Unset and empty
    # settings are left out so a line shows what was asked, not every knob.
    params = request.params.model_dump(mode="json", exclude_none=True)
    if not params.get("stop"):
        params.pop("stop", None)
    entry = {
        "node_id": node_id,
        "phase": phase,
        "index": index,
        "prompt": request.prompt if request.messages is None else None,
        "messages": None if request.messages is None else [m.as_dict() for m in request.messages],
        "system": request.system,
        "params": params,
        "output": generation.text,
        "num_tokens": generation.num_tokens,
        "finish_reason": generation.finish_reason,
        "latency_s": round(float(generation.latency_s), 6),
        "source": source,
    }
    if request.reply_prefix is not None:  # the output continues it
        entry["reply_prefix"] = request.reply_prefix
    return entry


def write_inference_log(path: str | os.PathLike[str], entries: Iterable[dict[str, Any]]) -> int:
    """Write ``entries`` as JSONL to ``path`` atomically (creating its folder); returns the line count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # ensure_ascii=False: the log is UTF-8 and a person reads it. A lone surrogate (a tokenizer can
    # produce one) cannot be encoded, so it is written as its JSON escape, which reads back the same.
    lines = [json.dumps(entry, ensure_ascii=False, default=str) + "\n" for entry in entries]
    write_file_atomic(target, "".join(lines).encode("utf-8", errors="backslashreplace"))
    return len(lines)


def read_inference_log(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The entries of the log at ``path``, in order. A damaged line is an error naming its number."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InferenceLogError(f"no inference log at {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InferenceLogError(f"cannot read the inference log {source}: {exc}") from None
    entries = []
    # split("\n"), not splitlines(): U+2028 and friends may stand unescaped inside a JSON string.
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise InferenceLogError(f"{source}:{number}: not a JSON object ({exc})") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("node_id"), str):
            raise InferenceLogError(f"{source}:{number}: not an inference log entry (no node_id)")
        entries.append(entry)
    return entries

"""The run record: what produced this run (model, settings, library versions, git commit) and every
test's record."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.records import RunRecord

__all__ = ["assemble_run", "portable_path"]


def _versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("pytest-llmeval", "pytest", "torch", "transformers", "tokenizers", "peft"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _git_commit(root: Path) -> str | None:
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def portable_path(path: str | None, root: Path) -> str | None:
    """A path under the rootdir, relative to it: a committed baseline then reads the same in every
    clone. Other paths and scheme values (``py:...``) stay as given."""
    if path is None:
        return None
    from pytest_llmeval.backends.registry import scheme_of

    if scheme_of(path) is not None:
        return path
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def _model_file_digests(state: LLMEvalSession) -> dict[str, str] | None:
    """Each model (and adapter) file's digest, so a report can name the files that differ from the
    baseline's model; ``None`` for a model that is not a local folder."""
    settings = state.settings
    if state.fingerprint_memo is None or settings.model is None or not Path(settings.model).is_dir():
        return None
    from pytest_llmeval.fingerprint import file_digests, model_files

    roots = [Path(settings.model), *([Path(settings.adapter)] if settings.adapter else [])]
    return file_digests(model_files(*roots), state.fingerprint_memo, roots)


def assemble_run(state: LLMEvalSession, *, complete: bool = True) -> RunRecord:
    """The run of this session from the records the controller gathered. ``complete=False``: the
    session did not run the whole suite (a selection, an early stop), which reports mark."""
    from pytest_llmeval.backends.registry import backend_for

    settings = state.settings
    assert settings.model is not None
    model = state.model
    described = model.backend.describe() if model is not None and model.loaded else None
    # Where the model ran: this process, else a worker that loaded it (under xdist the controller
    # never does), else what was asked for (no process needed the model: every output was cached).
    if described is not None:
        loaded: dict[str, str | None] | None = {"device": described.device, "dtype": described.dtype}
    else:
        loaded = state.worker_model
    backend = backend_for(settings.model)
    run_settings: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "batch_size": settings.batch_size,
        "chat_template": settings.chat_template,
        "chat_template_sha256": None,
        "seed": settings.seed,
        "dtype": settings.dtype,
        "device": settings.device,
    }
    # repeated samples only when asked for, so runs of one output each compare as before
    if settings.samples != 1:
        run_settings["samples"] = settings.samples
    if settings.min_pass_rate != 1.0:
        run_settings["min_pass_rate"] = settings.min_pass_rate
    run_settings.update(backend.run_settings(settings))
    judge = state.judge_instance
    if judge is not None and judge.model.loaded and judge.fixed_scoring is None:
        # a judge whose scoring depends on its model (a served judge: logprobs, or text without them)
        run_settings["judge_scoring"] = judge.scoring
    return RunRecord(
        run_id=uuid.uuid4().hex,
        started_at=state.started_at,
        finished_at=time.time(),
        complete=complete,
        model={
            "source": portable_path(settings.model, state.rootpath),
            "backend": backend.name,
            "model_id": state.model_id or settings.model,
            "adapter": portable_path(settings.adapter, state.rootpath),
            "dtype": loaded["dtype"] if loaded is not None else settings.dtype,
            "device": loaded["device"] if loaded is not None else settings.device,
            # the checkpoint's training step (--llm-step): TensorBoard's x axis, and a model difference
            **({"step": settings.step} if settings.step is not None else {}),
            **({"files": files} if (files := _model_file_digests(state)) else {}),
        },
        settings=run_settings,
        versions=_versions(),
        git_commit=_git_commit(state.rootpath),
        cases=sorted(state.results.records.values(), key=lambda r: r.node_id),
    )

"""When the session finishes: workers hand their cache entries and counts to the controller; the
controller alone writes the cache, the history, the inference log, the baseline (when asked) and
the summaries. Nothing here may end the session: a file that cannot be written is a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.harness.run_assembly import portable_path
from pytest_llmeval.harness.session import LLMEvalSession
from pytest_llmeval.paths import shown_path

__all__ = ["NO_CASES_MARKDOWN", "finish_session"]

NO_CASES_MARKDOWN = (
    "## ⚪ llmeval: no eval cases ran\n\n"
    "No test that uses the model ran in this session, so there is nothing to report or compare.\n"
)


def finish_session(session: pytest.Session, state: LLMEvalSession) -> None:
    """Write what this process owns (see the module docstring)."""
    pending = []
    if state.model is not None and state.model.cache is not None:
        from pytest_llmeval.cache import CachedOutputs

        if isinstance(state.model.cache, CachedOutputs):
            pending = state.model.cache.take_pending()
    if state.judge_cache is not None:
        pending += state.judge_cache.take_pending()
    if state.base is not None:
        pending += state.base.pending_cache_entries()
    if state.is_worker:
        from pytest_llmeval.harness.xdist_bridge import send_to_controller

        send_to_controller(session.config, state, pending)
        return
    if state.cache_store is not None:
        state.cache_written = state.cache_store.write([*pending, *state.worker_cache_entries])
    if state.fingerprint_memo is not None:
        state.fingerprint_memo.save()
    if state.run is not None:
        try:
            _record_and_accept(state)
        finally:  # a CI job's summary is most wanted when something went wrong
            _write_summaries(state)
    elif state.settings.markdown and state.settings.model and not session.config.option.collectonly:
        # No case ran (all deselected, or -k matched nothing): say so, rather than leave an empty page.
        _write_markdown(state, NO_CASES_MARKDOWN)


def _record_and_accept(state: LLMEvalSession) -> None:
    """Record the run in the history (one transaction), its inference log, and, when asked, accept
    it into the baseline (``baseline_policy``)."""
    from pytest_llmeval.baseline_policy import accept_run
    from pytest_llmeval.inference_log import inference_log_path, write_inference_log
    from pytest_llmeval.store import BaselineError, RunStore, StoreError

    assert state.run is not None and state.history_path is not None and state.baseline_path is not None
    # --llm-compare-base: the base model's run first, so this run is the history's latest
    base_notes = state.base.record(state) if state.base is not None else []
    try:
        RunStore(state.history_path).record_run(state.run)
        history = shown_path(state.history_path, state.cwd)  # as typed from where pytest ran
        state.notes.append(f"run {state.run.run_id[:12]} recorded in {history}")
    except (StoreError, OSError) as exc:
        state.warnings.append(f"the run was not recorded: {exc}")
    else:
        state.notes.extend(base_notes)
        log_path = inference_log_path(state.history_path, state.run.run_id)
        try:
            written = write_inference_log(log_path, state.results.inferences)
            shown = shown_path(log_path, state.cwd)
            state.notes.append(f"inference log: {written} {'output' if written == 1 else 'outputs'} in {shown}")
        except OSError as exc:
            state.warnings.append(f"the inference log was not written: {exc}")
    mode = state.settings.update_baseline
    if mode is None:
        return
    try:
        acceptance = accept_run(state.baseline_path, state.run, "new" if mode == "new" else "all")
    except (BaselineError, OSError) as exc:
        state.warnings.append(f"baseline not updated: {exc}")
        return
    state.notes.append(acceptance.describe(shown_path(state.baseline_path, state.cwd)))


def _write_summaries(state: LLMEvalSession) -> None:
    """The HTML dashboard (--llm-report) and the Markdown summary (--llm-markdown)."""
    assert state.run is not None and state.history_path is not None
    settings = state.settings
    if settings.markdown is None and settings.report is None:
        if settings.tensorboard is not None:
            _write_tensorboard(state, settings.tensorboard)
        return  # nothing to write: the dashboard's modules are not even imported
    from pytest_llmeval.dashboard import baseline_label, build_dashboard_data, dashboard_from_history, write_dashboard
    from pytest_llmeval.store import StoreError

    baseline_shown = portable_path(str(state.baseline_path), state.cwd)  # a CI log or page need not show /home/...
    reference_label = baseline_label(state.baseline, baseline_shown) if state.baseline is not None else None
    if settings.markdown is not None:
        from pytest_llmeval.markdown import format_markdown_summary

        text = format_markdown_summary(
            state.run,
            baseline=state.baseline,
            comparison=state.comparison,
            reference_label=reference_label,
            gate=settings.gate,
            human_review=_human_review_markdown(state),
        )
        if state.base is not None and state.base.paired is not None:
            from pytest_llmeval.base_comparison import model_comparison_markdown

            text = text.rstrip() + "\n\n" + model_comparison_markdown(state.base.paired)
        _write_markdown(state, text)
    if settings.report is not None:
        try:
            data = dashboard_from_history(
                state.history_path,
                baseline=state.baseline,
                baseline_path=baseline_shown,
                latest=state.run,
                tolerances=dict(settings.metric_tolerance),
                confidence=settings.confidence,
                resamples=settings.resamples,
                base_comparison=state.base.paired if state.base is not None else None,
            )
        except StoreError:
            # The history could not be read (the warning above says why): this run alone.
            data = build_dashboard_data(
                [state.run],
                reference=state.baseline,
                reference_kind="baseline" if state.baseline else None,
                reference_label=reference_label,
                tolerances=dict(settings.metric_tolerance),
                confidence=settings.confidence,
                resamples=settings.resamples,
            )
            if state.base is not None and state.base.paired is not None and state.base.run is not None:
                from pytest_llmeval.base_comparison import model_comparison_data

                data["model_comparison"] = model_comparison_data(state.base.paired, state.base.run, state.run)
        try:
            state.notes.append(f"report: {write_dashboard(settings.report, data)}")
        except (OSError, ValueError) as exc:
            state.warnings.append(f"the report was not written: {exc}")
    if settings.tensorboard is not None:
        _write_tensorboard(state, settings.tensorboard)


def _human_review_markdown(state: LLMEvalSession) -> str | None:
    """The "Human review" section of the Markdown summary, when people rated this run's outputs or
    compared them with the baseline's run (``llmeval review``)."""
    from pytest_llmeval.review.results import review_results_for_runs

    assert state.run is not None and state.history_path is not None
    reference = state.baseline.run.get("run_id") if state.baseline is not None else None
    reference = reference if isinstance(reference, str) else None
    shown = [state.run.run_id, *([reference] if reference else [])]
    results = review_results_for_runs(state.history_path, state.run.run_id, reference, shown)
    return None if results is None else results.markdown()


def _write_tensorboard(state: LLMEvalSession, logdir: str) -> None:
    """The run as TensorBoard events at its step (--llm-tensorboard, --llm-step)."""
    from pytest_llmeval.tensorboard_export import TensorBoardError, run_step, write_runs

    assert state.run is not None
    try:
        write_runs(logdir, [state.run])
    except TensorBoardError as exc:
        state.warnings.append(f"the TensorBoard events were not written: {exc}")
        return
    state.notes.append(f"tensorboard: run written to {logdir} at step {run_step(state.run)}")


def _write_markdown(state: LLMEvalSession, text: str) -> None:
    from pytest_llmeval.store import storable_text, write_file_atomic

    assert state.settings.markdown is not None
    path = Path(state.settings.markdown)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(path, (storable_text(text) or "").encode("utf-8"))
        state.notes.append(f"markdown summary: {path}")
    except OSError as exc:
        state.warnings.append(f"the Markdown summary was not written: {exc}")

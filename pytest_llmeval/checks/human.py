"""The ``human_rating`` check: pass or fail from what people rated this exact output in ``llmeval review``.

A rating belongs to a case and to the SHA-256 of the output that was rated. When the model's output
is the one people rated, the check passes when every rated dimension's mean (over annotators) reaches
``min``. When it is not (never rated, or the output changed since), the result *needs review*: it does
not pass, it says so, and ``llmeval review`` queues that output first.

Where the ratings are and which case is running come from the context the plugin sets
(:func:`using_reviews` per session, :func:`reviewing_case` per test), or from the ``reviews`` and
``case_id`` arguments.
"""

from __future__ import annotations

import builtins
import contextvars
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_llmeval import running_test
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    register_check,
    truncate,
)
from pytest_llmeval.review.store import ReviewStore, ReviewStoreError, reviews_path
from pytest_llmeval.store import output_sha256

__all__ = [
    "NEEDS_REVIEW",
    "NEEDS_REVIEW_STATUS",
    "active_case",
    "active_reviews",
    "human_rating",
    "needs_review",
    "only_needs_review",
    "report_status",
    "reviewing",
    "reviewing_case",
    "using_reviews",
]

NEEDS_REVIEW = "needs review"

_reviews: contextvars.ContextVar[ReviewStore | None] = contextvars.ContextVar("llmeval_reviews", default=None)
_case: contextvars.ContextVar[str | None] = contextvars.ContextVar("llmeval_review_case", default=None)


@contextmanager
def using_reviews(reviews: ReviewStore | str | os.PathLike[str] | None) -> Iterator[None]:
    """Make ``reviews`` (a review file or store) the one ``human_rating`` reads when none is passed."""
    store = reviews if isinstance(reviews, ReviewStore) or reviews is None else ReviewStore(reviews)
    token = _reviews.set(store)
    try:
        yield
    finally:
        _reviews.reset(token)


@contextmanager
def reviewing_case(case_id: str | None) -> Iterator[None]:
    """Name the running case (its node id) for ``human_rating`` inside the block."""
    token = _case.set(case_id)
    try:
        yield
    finally:
        _case.reset(token)


@contextmanager
def reviewing(node_id: str, history_path: str | os.PathLike[str]) -> Iterator[None]:
    """Both contexts for one test: its case id and the review file next to the run history (what the
    plugin enters around each test phase, like ``using_judge``)."""
    with using_reviews(reviews_path(history_path)), reviewing_case(node_id):
        yield


# What pytest_report_teststatus returns for such a test: pytest then counts "N needs review" apart
# from the failures in its summary line, and the test still does not pass (exit code 1).
NEEDS_REVIEW_STATUS = (NEEDS_REVIEW, "R", "NEEDS REVIEW")


def report_status(outcome: str, checks: Iterable[CheckResult | Mapping[str, Any]]) -> tuple[str, str, str] | None:
    """The test status for a test with ``outcome`` and these ``checks``: NEEDS_REVIEW_STATUS when it
    failed only because outputs need review, else None (pytest's own status stands)."""
    return NEEDS_REVIEW_STATUS if outcome == "failed" and only_needs_review(checks) else None


def active_reviews() -> ReviewStore | None:
    return _reviews.get()


def active_case() -> str | None:
    return _case.get()


def needs_review(result: CheckResult | Mapping[str, Any]) -> bool:
    """Whether a check result (or its recorded dict) is a ``human_rating`` that needs review."""
    details = result.details if isinstance(result, CheckResult) else result.get("details") or {}
    if isinstance(details, Mapping) and details.get("needs_review") is True:
        return True
    message = result.message if isinstance(result, CheckResult) else result.get("message")
    return isinstance(message, str) and message.startswith(f"human_rating: {NEEDS_REVIEW}:")


def only_needs_review(checks: Iterable[CheckResult | Mapping[str, Any]]) -> bool:
    """Whether a failed test failed only because outputs need review: at least one ``human_rating``
    needs review and every other failed check passed. Such a test is reported as "needs review",
    apart from the failures (it still does not pass)."""
    failed = [c for c in checks if not (c.passed if isinstance(c, CheckResult) else c.get("passed"))]
    return bool(failed) and all(needs_review(c) for c in failed)


@register_check(
    "human_rating",
    family="human",
    summary="People rated this exact output at least `min` (1-5) in llmeval review; a changed output needs review.",
)
def human_rating(
    text: str,
    min: float,
    dimension: str | None = None,
    case_id: str | None = None,
    reviews: str | Path | None = None,
) -> CheckResult:
    """Every rated dimension's mean over annotators (or only ``dimension``'s) is at least ``min``.
    Score: the lowest of those means. An output nobody rated yet needs review (does not pass)."""
    if not 1.0 <= min <= 5.0:
        raise CheckUsageError(f"check 'human_rating': argument 'min' is {min:g}, outside the rating scale 1..5")
    running = running_test.current()
    if running is not None and running.sample_count > 1:
        # The review app shows a case's one output; samples 2..K could never be rated, so the test
        # could never pass (what a sampled case file case is told before it generates).
        raise CheckUsageError(
            f"check 'human_rating' rates one output per case, and this test takes {running.sample_count} "
            f"samples (llm_samples): the review app shows one output per case, so samples 2..{running.sample_count} "
            "could never be rated; ask for 1 sample (@pytest.mark.llm without samples, and llm_output) or judge "
            "the samples with automatic checks"
        )
    case = case_id or active_case() or (running.node_id if running is not None else None)
    if not case:
        raise CheckUsageError(
            "check 'human_rating' needs the case's id: run it under the plugin (it names each test's case), "
            "pass case_id=..., or wrap the call in pytest_llmeval.checks.human.reviewing_case(node_id)"
        )
    store = ReviewStore(reviews) if reviews is not None else active_reviews()
    provided = running_test.services().reviews
    if store is None and provided is not None:
        store = ReviewStore(provided)  # the plugin's: reviews.db next to the run history
    if store is None:
        raise CheckUsageError(
            "check 'human_rating' needs the review file: run it under the plugin (it uses reviews.db next to "
            "the run history), pass reviews=<path>, or wrap the call in "
            "pytest_llmeval.checks.human.using_reviews(path)"
        )
    try:
        judgements = store.for_case(case)
    except ReviewStoreError as exc:
        raise CheckUsageError(f"check 'human_rating': {exc}") from None
    digest = output_sha256(text) or ""
    matching = [j for j in judgements if j.output_sha256 == digest]
    if dimension is not None:
        matching = [j for j in matching if dimension in j.ratings]
    if not matching:
        if any(j.output_sha256 == digest for j in judgements):
            why = f"this output was rated, but not on dimension {dimension!r}"
        elif judgements:
            why = f"the output changed since it was rated ({len(judgements)} rating(s) of other outputs)"
        else:
            why = "nobody has rated this case yet"
        return CheckResult(
            "human_rating",
            False,
            f"human_rating: {NEEDS_REVIEW}: {why}; rate it with `llmeval review` (case {case}, output "
            f"{truncate(text, limit=120)})",
            details={"needs_review": True, "case_id": case, "output_sha256": digest},
        )
    names = [dimension] if dimension is not None else sorted({name for j in matching for name in j.ratings})
    means = {}
    for name in names:
        values = [j.ratings[name] for j in matching if name in j.ratings]
        means[name] = sum(values) / len(values)
    annotators = sorted({j.annotator for j in matching})
    lowest = builtins.min(means.values())  # `min` is the threshold argument here
    shown = ", ".join(f"{name} {value:.2g}" for name, value in means.items())
    by = f"{len(annotators)} annotator{'' if len(annotators) == 1 else 's'}: {', '.join(annotators)}"
    details = {
        "needs_review": False,
        "case_id": case,
        "output_sha256": digest,
        "means": means,
        "annotators": annotators,
    }
    if lowest >= min:
        return CheckResult(
            "human_rating", True, f"human_rating: {shown} >= min {min:g} ({by})", lowest, details, lowest
        )
    below = ", ".join(f"{name} {value:.2g}" for name, value in means.items() if value < min)
    comments = "; ".join(f"{j.annotator}: {j.comment!r}" for j in matching if j.comment)
    message = (
        f"human_rating: expected every rated dimension >= {min:g}, got {below} ({by})"
        + (f"; comments: {truncate(comments, limit=160)}" if comments else "")
        + f"; output {truncate(text, limit=120)}"
    )
    return CheckResult("human_rating", False, message, lowest, details, lowest)

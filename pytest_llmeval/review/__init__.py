"""Human review: a local web app for Likert ratings and blind pairwise preferences, the SQLite file
that keeps every judgement, and the statistics over them (``llmeval review``).

Importing this package is light (sqlite3 and dataclasses); the web framework loads only when the
app is served, scipy and krippendorff only when numbers are computed.
"""

from pytest_llmeval.review.results import ReviewResults, review_results
from pytest_llmeval.review.store import (
    DEFAULT_DIMENSIONS,
    Judgement,
    ReviewStore,
    ReviewStoreError,
    dpo_records,
    reviews_path,
)

__all__ = [
    "DEFAULT_DIMENSIONS",
    "Judgement",
    "ReviewResults",
    "ReviewStore",
    "ReviewStoreError",
    "dpo_records",
    "review_results",
    "reviews_path",
]

"""What the safety checks share: the family name, how a message lists what was found, the email
pattern (a claim for ``grounded``, personal data for ``no_pii``) and the spans a pattern has claimed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pytest_llmeval.checks._text import PhraseHit, fold
from pytest_llmeval.checks.base import truncate

FAMILY = "safety"
_EXCERPT = 80  # characters of context quoted around each hit

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")


def excerpt(text: str, at: int) -> str:
    """The text around character ``at``, quoted for a message."""
    return truncate(text, at, _EXCERPT)


def listing(items: Sequence[str], limit: int = 10) -> str:
    """The first ``limit`` items joined by "; ", and how many more there are."""
    shown = "; ".join(items[:limit])
    return shown + (f"; ... and {len(items) - limit} more" if len(items) > limit else "")


def hits_listing(text: str, hits: Sequence[PhraseHit], label: dict[str, str] | None = None) -> str:
    """Each phrase hit with its position and context (and its ``label``, e.g. a category)."""
    parts = []
    for hit in hits:
        tag = f" ({label[hit.phrase]})" if label else ""
        parts.append(f"{hit.matched!r}{tag} at char {hit.start}: {excerpt(text, hit.start)}")
    return listing(parts)


def fold_words(text: str) -> str:
    """``text`` folded for word comparison: case, accents and typographic quotes ignored."""
    return fold(text, strip_accents=True).text


class Taken:
    """Character spans already claimed by an earlier pattern; O(span) per query, so a text with 50k
    numbers stays linear (a list of spans scanned per query was quadratic)."""

    def __init__(self, length: int) -> None:
        self._mask = bytearray(length)

    def overlaps(self, start: int, end: int) -> bool:
        return any(self._mask[start:end])

    def add(self, start: int, end: int) -> None:
        self._mask[start:end] = b"\x01" * (end - start)

"""Text helpers shared by the check families: folding with a map back to the original, phrase search,
repetition detection. Everything here is linear or n log n in the length of the text, because model
outputs can be 100k characters of noise."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Folded",
    "PhraseHit",
    "TandemRepeat",
    "clip",
    "find_phrases",
    "fold",
    "longest_repeated_substring",
    "phrase_regex",
    "tandem_repeat",
]

# Typographic quotes that models emit interchangeably with ASCII ones ("I can’t" vs "I can't").
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
    }
)


def clip(text: str, limit: int = 160) -> str:
    """``text`` cut to ``limit`` characters with "..." when it is longer (for values in messages)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Folded:
    """A normalised copy of a text plus, for each of its characters, the index it came from."""

    text: str
    origin: Sequence[int]
    source_length: int

    def source_index(self, index: int) -> int:
        """Index in the original text of folded character ``index`` (end maps to the end)."""
        if index >= len(self.origin):
            return self.source_length
        return self.origin[index]


def _fold_char(char: str, casefold: bool, normalize: bool, strip_accents: bool) -> str:
    if normalize:
        char = unicodedata.normalize("NFKC", char).translate(_QUOTES)
    if casefold:
        char = char.casefold()
    if strip_accents:
        decomposed = unicodedata.normalize("NFKD", char)
        char = "".join(c for c in decomposed if not unicodedata.combining(c))
    return char


def fold(text: str, *, casefold: bool = True, normalize: bool = True, strip_accents: bool = False) -> Folded:
    """Fold ``text`` for matching: NFKC, ASCII quotes and one space per whitespace run (``normalize``),
    ``casefold``, accents removed (``strip_accents``: "café" matches "cafe").

    Folding is done one character at a time so every folded character keeps the index of the original
    character it came from; messages can then quote the original text around a match.
    """
    if not normalize and not strip_accents and (not casefold or text.isascii()):
        folded = text.lower() if casefold else text  # lower == casefold on ASCII
        return Folded(folded, range(len(text)), len(text))
    pieces: list[str] = []
    origin: list[int] = []
    in_space = False
    for index, char in enumerate(text):
        if normalize and char.isspace():
            if not in_space:
                pieces.append(" ")
                origin.append(index)
            in_space = True
            continue
        in_space = False
        out = char if char.isascii() and not casefold else _fold_char(char, casefold, normalize, strip_accents)
        pieces.append(out)
        origin.extend([index] * len(out))
    return Folded("".join(pieces), origin, len(text))


def phrase_regex(
    folded_phrase: str, *, whole_words: bool = True, wildcards: bool = False, any_space: bool = True
) -> re.Pattern[str]:
    """A regex for an already folded phrase; with ``any_space`` whitespace inside matches any run.

    With ``wildcards``, a trailing ``*`` matches any continuation of the last word ("retard*" matches
    "retarded"). Word boundaries are enforced only at ends that are word characters, so "c++" matches.
    """
    wildcard = wildcards and folded_phrase.endswith("*")
    core = (folded_phrase.rstrip("*") if wildcard else folded_phrase).strip()
    body = r"\s+".join(map(re.escape, core.split())) if any_space else re.escape(core)
    if wildcard:
        body += r"\w*"
    if whole_words and core[:1].isalnum():
        body = r"(?<!\w)" + body
    if whole_words and not wildcard and core[-1:].isalnum():
        body += r"(?!\w)"
    return re.compile(body)


@dataclass(frozen=True)
class PhraseHit:
    phrase: str  # as the caller gave it
    start: int  # in the original text
    end: int
    matched: str  # the original text that matched


def find_phrases(
    text: str,
    phrases: Iterable[str],
    *,
    casefold: bool = True,
    normalize: bool = True,
    strip_accents: bool = False,
    whole_words: bool = True,
    wildcards: bool = False,
    first_only: bool = True,
) -> list[PhraseHit]:
    """Find each phrase in ``text`` under the same folding; hits are in the original coordinates."""
    folded = fold(text, casefold=casefold, normalize=normalize, strip_accents=strip_accents)
    hits: list[PhraseHit] = []
    for phrase in phrases:
        key = fold(phrase, casefold=casefold, normalize=normalize, strip_accents=strip_accents).text
        if not key.strip():
            continue
        pattern = phrase_regex(key, whole_words=whole_words, wildcards=wildcards, any_space=normalize)
        for match in pattern.finditer(folded.text):
            start = folded.source_index(match.start())
            end = folded.source_index(match.end() - 1) + 1
            hits.append(PhraseHit(phrase, start, end, text[start:end]))
            if first_only:
                break
    return sorted(hits, key=lambda hit: hit.start)


@dataclass(frozen=True)
class TandemRepeat:
    """A unit of ``len(unit)`` tokens repeated ``count`` times back to back from token ``start``."""

    unit: tuple[str, ...]
    count: int
    start: int
    repeated: int = 0  # tokens equal to the token one unit earlier (a partial last repeat counts)

    @property
    def extra_tokens(self) -> int:
        """Tokens beyond the first occurrence: how much of the text is loop."""
        return len(self.unit) * (self.count - 1)


def tandem_repeat(tokens: Sequence[str], max_unit: int = 12) -> TandemRepeat | None:
    """The strongest back-to-back repetition of a unit of 1..``max_unit`` tokens, or None.

    "Strongest" = most repeated tokens beyond the first occurrence. O(len(tokens) * max_unit): for
    each unit size k, a run where ``tokens[i] == tokens[i + k]`` holds for r consecutive i means the
    unit starting the run repeats ``r // k + 1`` times.
    """
    best: TandemRepeat | None = None
    n = len(tokens)
    for size in range(1, min(max_unit, n // 2) + 1):
        run = 0
        for i in range(n - size):
            if tokens[i] == tokens[i + size]:
                run += 1
                continue
            best = _better(best, tokens, size, run, i)
            run = 0
        best = _better(best, tokens, size, run, n - size)
    return best


def _better(best: TandemRepeat | None, tokens: Sequence[str], size: int, run: int, end: int) -> TandemRepeat | None:
    count = run // size + 1
    if count < 2:
        return best
    start = end - run
    candidate = TandemRepeat(tuple(tokens[start : start + size]), count, start, run)
    if best is None or candidate.extra_tokens > best.extra_tokens:
        return candidate
    return best


def longest_repeated_substring(text: str, *, cap: int | None = None) -> tuple[int, int]:
    """Length and start of the longest substring occurring at least twice (overlaps allowed).

    Binary search on the length with a vectorised polynomial rolling hash (numpy, imported lazily):
    O(n log^2 n) even on 100k characters. Hash equality is confirmed by comparing the substrings, so
    a collision can only make the answer shorter, never wrong. ``cap`` bounds the search.
    """
    n = len(text)
    if n < 2:
        return 0, 0
    prefix, powers = _prefix_hashes(text)
    low, high, found = 0, min(n - 1, cap or n - 1), (0, 0)
    while low < high:
        mid = (low + high + 1) // 2
        start = _repeated_start(text, prefix, powers, mid)
        if start is None:
            high = mid - 1
        else:
            low, found = mid, (mid, start)
    return found


_HASH_BASE = 1_000_003  # odd, so multiplying by its powers modulo 2**64 loses nothing


def _prefix_hashes(text: str) -> tuple[Any, Any]:
    """``prefix[i] = sum(code[j] * B**(n-1-j) for j < i)`` and ``powers[i] = B**i``, modulo 2**64."""
    import numpy as np  # lazy: keeps `import pytest_llmeval.checks` light

    n = len(text)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    powers = np.empty(n + 1, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps: that is the modulus
        powers[1:] = np.cumprod(np.full(n, _HASH_BASE, dtype=np.uint64), dtype=np.uint64)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        prefix[1:] = np.cumsum(codes * powers[:n][::-1], dtype=np.uint64)
    return prefix, powers


def _repeated_start(text: str, prefix: Any, powers: Any, length: int) -> int | None:
    import numpy as np

    n = len(text)
    starts = np.arange(n - length + 1)
    with np.errstate(over="ignore"):
        raw = prefix[starts + length] - prefix[starts]
        # raw(i) = hash * base**(n-i-length); multiplying by base**i brings all windows to the same
        # scale base**(n-length), so equal substrings give equal keys.
        keys = raw * powers[starts]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    same = np.nonzero(sorted_keys[1:] == sorted_keys[:-1])[0]
    for position in same[:8]:  # confirm a few candidates; a collision just moves on
        a, b = int(order[position]), int(order[position + 1])
        if text[a : a + length] == text[b : b + length]:
            return min(a, b)
    return None

"""Hallucination checks: what the output claims that is not so.

- ``no_hallucinations``: none of the known-false claims or fabricated names appear.
- ``grounded``: every number, date, URL, email and name in the output appears in the context.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Literal

from pytest_llmeval.checks._safety_common import EMAIL, FAMILY, Taken, fold_words, hits_listing, listing
from pytest_llmeval.checks._text import clip, find_phrases
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, register_check, truncate

__all__ = ["CLAIM_KINDS", "Claim", "ClaimKind", "extract_claims", "grounded", "no_hallucinations"]


# --- no_hallucinations ----------------------------------------------------------------------------


@register_check("no_hallucinations", family=FAMILY, summary="None of the known-false phrases appear.")
def no_hallucinations(text: str, phrases: list[str]) -> CheckResult:
    """``phrases``: known-false claims or fabricated names ("the Eiffel Tower is in Rome",
    "Dr. Alan Fakename"). Whole words, ignoring case, accents and quotes."""
    if not phrases or not all(p.strip() for p in phrases):
        raise CheckUsageError("check 'no_hallucinations': 'phrases' needs non-empty strings")
    hits = find_phrases(text, phrases, strip_accents=True)
    if not hits:
        message = f"no_hallucinations: none of {len(phrases)} known-false phrases found"
        return CheckResult("no_hallucinations", True, message, value=text)
    found = sorted({hit.phrase for hit in hits})
    message = (
        f"no_hallucinations: expected none of the known-false phrases; found {found!r}: {hits_listing(text, hits)}"
    )
    details = {"found": [{"phrase": h.phrase, "start": h.start, "matched": h.matched} for h in hits]}
    return CheckResult("no_hallucinations", False, message, details=details)


# --- grounded -------------------------------------------------------------------------------------

ClaimKind = Literal["number", "date", "url", "email", "name"]
CLAIM_KINDS: tuple[ClaimKind, ...] = ("number", "date", "url", "email", "name")


@dataclass(frozen=True)
class Claim:
    """A checkable fact in the output; ``keys`` are the normalised forms the context may support."""

    kind: ClaimKind
    text: str
    start: int
    keys: frozenset[object]


_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`()\[\]{}]+", re.IGNORECASE)
_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATES = [
    re.compile(r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(r"\b(?P<a>\d{1,2})[/.](?P<b>\d{1,2})[/.](?P<year>\d{4})\b"),
    re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
]
_NUMBER = re.compile(
    r"(?<![\w.,-])(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?!\d)"
    r"(?:\s*(?P<scale>thousand|million|billion|trillion|k|m|bn)\b)?",
    re.IGNORECASE,
)
_SCALES = {"thousand": 3, "k": 3, "million": 6, "m": 6, "billion": 9, "bn": 9, "trillion": 12}
_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
}
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_LIST_MARKER_AFTER = re.compile(r"[.)]\s")
# Characters skipped when looking back for what precedes a word (quotes, brackets, markdown).
_OPENERS = set(" \t\"'“”‘’(*_[>#•–—-")
_SENTENCE_END = set("\n.!?:;…")
_NOT_NAMES = {
    "i",
    "i'm",
    "i'll",
    "i've",
    "i'd",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "ok",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
}


@functools.lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    raw = resources.files("pytest_llmeval").joinpath("data/common_words.txt").read_text("utf-8")
    return frozenset(line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#"))


def _date_keys(match: re.Match[str]) -> frozenset[object]:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("a"):  # 03/04/2024: day-month or month-day, both readings count
        a, b = int(groups["a"]), int(groups["b"])
        return frozenset(("day", year, m, d) for m, d in ((a, b), (b, a)) if 1 <= m <= 12)
    month_text = groups["month"].lower().rstrip(".")
    month = _MONTHS.get(month_text) or int(month_text)
    if groups.get("day"):
        return frozenset({("day", year, month, int(groups["day"]))})
    return frozenset({("month", year, month)})


def _number_keys(match: re.Match[str]) -> frozenset[object]:
    try:
        value = Decimal(match["int"].replace(",", "") + ("." + match["frac"] if match["frac"] else ""))
    except InvalidOperation:
        return frozenset()
    keys: set[object] = {value}
    if match["scale"]:
        keys.add(value.scaleb(_SCALES[match["scale"].lower()]))
    return frozenset(keys)


def _line_start(text: str, position: int) -> int:
    """Start of the line holding ``position``; looks back at most 200 characters so that a text
    with no newline at all stays linear (``rfind`` from 0 on every word was quadratic)."""
    floor = max(0, position - 200)
    found = text.rfind("\n", floor, position)
    return found + 1 if found >= 0 else floor


def _is_list_marker(text: str, match: re.Match[str]) -> bool:
    line_start = _line_start(text, match.start())
    return not text[line_start : match.start()].strip() and _LIST_MARKER_AFTER.match(text, match.end()) is not None


def _pattern_claims(text: str, taken: Taken) -> list[Claim]:
    claims: list[Claim] = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        claims.append(Claim("url", url, match.start(), frozenset({_url_key(url)})))
        taken.add(match.start(), match.start() + len(url))
    for match in EMAIL.finditer(text):
        if not taken.overlaps(*match.span()):
            claims.append(Claim("email", match[0], match.start(), frozenset({match[0].casefold()})))
            taken.add(*match.span())
    for pattern in _DATES:
        for match in pattern.finditer(text):
            if not taken.overlaps(*match.span()) and (keys := _date_keys(match)):
                claims.append(Claim("date", match[0], match.start(), keys))
                taken.add(*match.span())
    for match in _NUMBER.finditer(text):
        if not taken.overlaps(*match.span()) and not _is_list_marker(text, match):
            claims.append(Claim("number", match[0].strip(), match.start(), _number_keys(match)))
            taken.add(*match.span())
    return claims


def _url_key(url: str) -> str:
    key = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.casefold())
    return key.rstrip("/")


def _starts_sentence(text: str, start: int) -> bool:
    """True when the word at ``start`` opens a sentence, line, list item or quotation."""
    position = start - 1
    while position >= 0 and text[position] in _OPENERS:
        position -= 1
    return position < 0 or text[position] in _SENTENCE_END


def _capitalised_runs(text: str, taken: Taken) -> list[list[re.Match[str]]]:
    """Runs of capitalised words separated by single spaces ("Ada Lovelace", "New York")."""
    runs: list[list[re.Match[str]]] = []
    previous_end = -2
    for match in _WORD.finditer(text):
        word = match[0]
        if not word[0].isupper() or taken.overlaps(*match.span()) or _in_heading(text, match):
            previous_end = -2
            continue
        if runs and text[previous_end : match.start()] == " ":
            runs[-1].append(match)
        else:
            runs.append([match])
        previous_end = match.end()
    return runs


def _in_heading(text: str, match: re.Match[str]) -> bool:
    line_start = _line_start(text, match.start())
    return text[line_start : line_start + 1] == "#" and (
        line_start == 0 or text[line_start - 1] == "\n"
    )  # markdown headings are Title Case, not names


def _word_key(word: str) -> str:
    folded = fold_words(word)
    return re.sub(r"'s$", "", folded)


def _is_name_word(text: str, match: re.Match[str], lower_words: set[str], first: bool) -> bool:
    key = _word_key(match[0])
    if key in _NOT_NAMES:
        return False
    if first and _starts_sentence(text, match.start()):
        # "However", "Click", "Paris": a capital at a sentence start proves nothing. A word is taken
        # for a name there only if it is not a common word and never appears in lower case.
        return key not in _common_words() and key not in lower_words
    return True


def _name_claims(text: str, taken: Taken, lower_words: set[str]) -> list[Claim]:
    claims: list[Claim] = []
    for run in _capitalised_runs(text, taken):
        while run and not _is_name_word(text, run[0], lower_words, first=True):
            run = run[1:]  # drop sentence-initial common words: "The Eiffel Tower" -> "Eiffel Tower"
        words = [m for m in run if _word_key(m[0]) not in _NOT_NAMES]
        if not words:
            continue
        start, end = words[0].start(), words[-1].end()
        keys = frozenset(_word_key(part) for m in words for part in re.split(r"[-']", m[0]) if part)
        claims.append(Claim("name", text[start:end], start, keys))
    return claims


def _lowercase_words(*texts: str) -> set[str]:
    """Words seen in lower case outside URLs and emails ("ada" in a URL says nothing about "Ada")."""
    words: set[str] = set()
    for text in texts:
        prose = EMAIL.sub(" ", _URL.sub(" ", text))
        words.update(_word_key(m[0]) for m in _WORD.finditer(prose) if m[0][0].islower())
    return words


def extract_claims(text: str, context: str = "") -> list[Claim]:
    """Numbers, dates, URLs, emails and names in ``text`` (``context`` helps tell names from words)."""
    taken = Taken(len(text))
    claims = _pattern_claims(text, taken)
    claims += _name_claims(text, taken, _lowercase_words(text, context))
    return sorted(claims, key=lambda c: c.start)


@dataclass
class _Support:
    """What the context can support, in the same normalised forms as the claims' keys."""

    urls: set[object] = field(default_factory=set)
    emails: set[object] = field(default_factory=set)
    dates: set[object] = field(default_factory=set)
    numbers: set[object] = field(default_factory=set)
    words: set[object] = field(default_factory=set)
    folded: str = ""

    def pool(self, kind: ClaimKind) -> set[object]:
        return {"url": self.urls, "email": self.emails, "date": self.dates, "number": self.numbers, "name": self.words}[
            kind
        ]

    def supports(self, claim: Claim) -> bool:
        pool = self.pool(claim.kind)
        if claim.kind == "name":
            return claim.keys <= pool  # every word of the name appears in the context
        if claim.keys & pool:
            return True
        # a URL or email quoted inside other text still counts when it appears verbatim
        return claim.kind in ("url", "email") and claim.text.casefold() in self.folded


def _support_for(context: str) -> _Support:
    support = _Support(folded=context.casefold())
    for claim in _pattern_claims(context, Taken(len(context))):
        support.pool(claim.kind).update(claim.keys)
        if claim.kind == "date":  # a full date also supports "March 2024"
            support.dates.update(("month", k[1], k[2]) for k in claim.keys if isinstance(k, tuple))
    # every digit run supports a number: "2024" in "2024-03-12", "3" in "v3"
    support.numbers.update(Decimal(run) for run in re.findall(r"\d+", context))
    for match in _WORD.finditer(context):
        support.words.update(_word_key(part) for part in re.split(r"[-']", match[0]) if part)
        if match[0].casefold() in _NUMBER_WORDS:
            support.numbers.add(Decimal(_NUMBER_WORDS[match[0].casefold()]))
    return support


def _context_text(context: str | list[str] | None, reference: str | list[str] | None) -> str:
    if (context is None) == (reference is None):
        raise CheckUsageError(
            "check 'grounded': give exactly one of 'context' (the source text the answer must stick "
            "to) or 'reference' (its alias)"
        )
    chosen = context if context is not None else reference
    return "\n\n".join(chosen) if isinstance(chosen, list) else str(chosen)


@register_check("grounded", family=FAMILY, summary="Numbers, dates, URLs, emails and names come from the context.")
def grounded(
    text: str,
    context: str | list[str] | None = None,
    reference: str | list[str] | None = None,
    min_supported: float = 1.0,
    kinds: list[ClaimKind] | None = None,
) -> CheckResult:
    """Every claim of the chosen ``kinds`` (default: all) found in the output must appear in the
    context (a text or a list of passages). Numbers compare by value ("1,000" = "1000" = "1k",
    "3.50" = "3.5"), dates by day ("12 March 2024" = "2024-03-12"), names word by word. The score is
    the share of supported claims; it must be at least ``min_supported``."""
    if not 0.0 <= min_supported <= 1.0:
        raise CheckUsageError(f"check 'grounded': min_supported must be in [0, 1], got {min_supported}")
    source = _context_text(context, reference)
    wanted = set(kinds or CLAIM_KINDS)
    claims = [c for c in extract_claims(text, source) if c.kind in wanted]
    if not claims:
        message = "grounded: no checkable claims (numbers, dates, URLs, emails, names) in the output"
        return CheckResult("grounded", True, message, 1.0, {"claims": []}, 1.0)
    support = _support_for(source)
    verdicts = [support.supports(c) for c in claims]
    unsupported = [c for c, ok in zip(claims, verdicts, strict=False) if not ok]
    score = 1 - len(unsupported) / len(claims)
    details = {
        "claims": [
            {"kind": c.kind, "text": c.text, "start": c.start, "supported": ok}
            for c, ok in zip(claims, verdicts, strict=False)
        ],
    }
    counts = f"{len(claims) - len(unsupported)} of {len(claims)} claims supported"
    if score >= min_supported:
        return CheckResult("grounded", True, f"grounded: {counts}", score, details, score)
    listed = listing([f"{c.kind} {clip(c.text, 60)!r} at char {c.start}" for c in unsupported])
    message = (
        f"grounded: expected every {'/'.join(k for k in CLAIM_KINDS if k in wanted)} in the output "
        f"to appear in the context; {counts} (share {score:.2f} < min {min_supported:.2f}); "
        f"unsupported: {listed}; output: {truncate(text, unsupported[0].start)}"
    )
    return CheckResult("grounded", False, message, score, details)

"""Unicode-aware word splitting shared by the reference metrics.

Chinese, Japanese, Thai, Lao, Khmer and Myanmar are written without spaces between words, so a
whitespace or ``[a-z0-9]+`` tokenizer sees a whole sentence as one token (or, like rouge_score's
default, as nothing at all). Without a dictionary-based segmenter the honest unit for those scripts is
the character: every character (with its combining marks, so a Thai vowel sign stays on its consonant)
is one token. Everything else splits into words at anything that is not a letter, digit or mark.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache

__all__ = ["is_unspaced", "space_unspaced", "unicode_words"]

# Scripts written without spaces between words (code point ranges, inclusive). Hangul is not here:
# Korean separates words with spaces.
_UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),  # 々 〆 〇 (ideographic iteration mark, closing mark, number zero)
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3031, 0x3035),  # kana repeat marks
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x31A0, 0x31BF),  # Bopomofo extended
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width Katakana (NFKC folds these, but callers may skip NFKC)
    (0x20000, 0x3134F),  # CJK extensions B-G
)


@lru_cache(maxsize=4096)
def is_unspaced(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED_RANGES)


def unicode_words(text: str, stem: Callable[[str], str] | None = None) -> list[str]:
    """Split ``text`` into casefolded tokens: words, or single characters of unspaced scripts.

    NFKC first, so full-width Latin letters and digits (common in CJK text) match their ASCII forms.
    Punctuation, symbols and whitespace separate tokens and are dropped, as in the original ROUGE.
    On ASCII text this equals rouge_score's default tokenizer (lowercase, split at ``[^a-z0-9]``).
    ``stem`` is applied to Latin-script words only (the Porter stemmer knows English, nothing else).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: list[str] = []
    word: list[str] = []
    # True while the last token is a single unspaced character that a following mark belongs to.
    mark_joins_last = False

    def flush() -> None:
        if word:
            token = "".join(word)
            tokens.append(stem(token) if stem is not None and _is_latin(token) else token)
            word.clear()

    for char in text:
        category = unicodedata.category(char)
        if category[0] == "M":  # combining mark: part of the letter before it
            if word:
                word.append(char)
            elif mark_joins_last:
                tokens[-1] += char
            continue
        if is_unspaced(char) and category[0] in "LN":
            flush()
            tokens.append(char)
            mark_joins_last = True
            continue
        mark_joins_last = False
        if category[0] in "LN":
            word.append(char)
        else:
            flush()
    flush()
    return tokens


def space_unspaced(text: str) -> str:
    """Put spaces around every character of an unspaced script (and its combining marks), so a
    word-level tokenizer such as sacreBLEU's 13a sees them as tokens. Other text is unchanged."""
    if text.isascii():  # the common case, kept fast
        return text
    out: list[str] = []
    in_cluster = False
    for char in text:
        if in_cluster and unicodedata.category(char)[0] == "M":
            out.append(char)
            continue
        if in_cluster:
            out.append(" ")
            in_cluster = False
        if is_unspaced(char):
            if out and out[-1] != " ":
                out.append(" ")
            out.append(char)
            in_cluster = True
        else:
            out.append(char)
    return "".join(out)


@lru_cache(maxsize=65536)
def _is_latin(word: str) -> bool:
    if word.isascii():
        return True  # as rouge_score: every [a-z0-9]+ token may be stemmed ("2024" stays as it is)
    # Letters must all be Latin script: "café" yes, "кот" or "cafécafé々" no.
    letters = [c for c in word if c.isalpha()]
    return bool(letters) and all(unicodedata.name(c, "").startswith("LATIN") for c in letters)

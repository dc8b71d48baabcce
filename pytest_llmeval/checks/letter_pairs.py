"""How plausible the words of a text are as words of some language, from letter-pair tables.

Shuffled letters ("Teh qiuck bnrow"), keyboard mash ("asdfkj sdlkfj") and vocabulary-piece soup are
made of letter pairs that words of a real language rarely contain. For each language in
``pytest_llmeval/data/letter_pairs.json`` (trained on man pages and gettext translations by
``benchmarks/train_letter_tables.py``), a word's score is its mean log-probability per letter pair
under that language's pair table, word boundaries included. A text is read in the language that
scores its words best, and a word whose score falls below a floor counts as implausible.

Only words of one alphabetic script (Latin, Cyrillic, Greek) are scored: CJK, Arabic, Hebrew, Thai and
other scripts without tables are left alone, as are acronyms (all capitals), words with digits or
underscores (identifiers) and words with an inner capital (camelCase: ``case_changes`` covers those).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

__all__ = ["WordPlausibility", "letter_words", "text_language", "word_plausibility"]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_ALPHABETIC_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_SMOOTHING = 0.5  # added to every pair count, so an unseen pair is rare, not impossible
_OWN_WEIGHT = 0.7  # a language's own pair probabilities vs those pooled over its script
_LANGUAGE_SAMPLE = 400  # words used to choose the language
_MAX_WORDS = 5000  # words scored at most (outputs can be 100k characters)


@functools.lru_cache(maxsize=8192)
def _script_of(char: str) -> str:
    name = unicodedata.name(char, "")
    for script in _ALPHABETIC_SCRIPTS:
        if name.startswith(script):
            return script
    return ""


def _one_alphabetic_script(word: str) -> bool:
    scripts = {_script_of(c) for c in word if not unicodedata.combining(c)}
    return len(scripts) == 1 and "" not in scripts


# A prose word with the punctuation around it; tokens with anything else ("zstd(1)", "--mode=MODE",
# "lz_grep", "https://...", "[-e]") are names and identifiers that no letter table describes.
_PROSE_TOKEN = re.compile(r"^[\"'“”„«»‘’¿¡(]*[^\W\d_]+(?:['’-][^\W\d_]+)*[\"'“”»«’.,;:!?)…]*$")


def _prose_tokens(text: str) -> str:
    return " ".join(t for t in text.split() if _PROSE_TOKEN.match(t) and not t.endswith("("))


def letter_words(text: str, *, for_scoring: bool = False) -> list[str]:
    """Lower-cased words of one alphabetic script, apostrophes dropped ("don't" -> "dont").

    With ``for_scoring``, only prose tokens count (see ``_PROSE_TOKEN``), and acronyms, one-letter
    words and camelCase words are left out."""
    words = []
    source = _prose_tokens(text) if for_scoring else text
    for match in _WORD.finditer(source):
        word = match.group().replace("'", "").replace("’", "")
        if not _one_alphabetic_script(word):
            continue
        if for_scoring:
            if len(word) < 2 or (word.isupper() and len(word) <= 6):
                continue
            if any(c.isupper() for c in word[1:]) and not word.isupper():
                continue
        words.append(unicodedata.normalize("NFC", word.lower()))
    return words


@dataclass(frozen=True)
class _Table:
    """Log-probabilities of the next letter given the letter before, for one language."""

    script: str  # the script of most of its letters: tables also hold the English words quoted
    logp: dict[str, float]
    unseen: dict[str, float]  # log-probability of an unseen pair, by its first letter
    floor: float  # for a first letter the language never uses
    entropy: float  # mean -log P per pair on its own training text: the surprise of clean text

    def word_score(self, word: str) -> float:
        padded = f"^{word}$"
        total = 0.0
        for a, b in itertools.pairwise(padded):
            pair = a + b
            value = self.logp.get(pair)
            total += value if value is not None else self.unseen.get(a, self.floor)
        return total / (len(padded) - 1)


def _conditional(counts: dict[str, int]) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """P(next letter | letter) with add-``_SMOOTHING``, P of an unseen pair by first letter, totals."""
    alphabet = {pair[1] for pair in counts} | {pair[0] for pair in counts}
    totals: dict[str, int] = {}
    for pair, count in counts.items():
        totals[pair[0]] = totals.get(pair[0], 0) + count
    size = len(alphabet)
    probability = {pair: (count + _SMOOTHING) / (totals[pair[0]] + _SMOOTHING * size) for pair, count in counts.items()}
    unseen = {a: _SMOOTHING / (total + _SMOOTHING * size) for a, total in totals.items()}
    return probability, unseen, totals


def _main_script(counts: dict[str, int]) -> str:
    by_script: dict[str, int] = {}
    for pair, count in counts.items():
        if pair[0] != "^":
            by_script[_script_of(pair[0])] = by_script.get(_script_of(pair[0]), 0) + count
    return max(by_script, key=by_script.__getitem__)


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, _Table]:
    """Each language's pair probabilities, interpolated with those of all languages of its script
    (``_OWN_WEIGHT`` on its own): the tables come from manuals and program messages, and a pair that
    is merely rare there ("бв" in "любви") is common in some sister language, while the pairs of
    shuffled letters and keyboard mash are rare in every one."""
    raw: dict[str, dict[str, int]] = json.loads(
        resources.files("pytest_llmeval.data").joinpath("letter_pairs.json").read_text("utf-8")
    )
    scripts = {language: _main_script(counts) for language, counts in raw.items()}
    pooled: dict[str, dict[str, int]] = {}
    for language, counts in raw.items():
        pool = pooled.setdefault(scripts[language], {})
        total = sum(counts.values())
        for pair, count in counts.items():  # each language weighs the same in its script's pool
            pool[pair] = pool.get(pair, 0) + round(count * 1_000_000 / total)
    pooled_probability = {script: _conditional(pool) for script, pool in pooled.items()}
    tables = {}
    for language, counts in raw.items():
        own, own_unseen, _ = _conditional(counts)
        shared, shared_unseen, _ = pooled_probability[scripts[language]]
        logp = {}
        for pair in set(own) | set(shared):
            mine = own.get(pair, own_unseen.get(pair[0], 1e-6))
            theirs = shared.get(pair, shared_unseen.get(pair[0], 1e-6))
            logp[pair] = math.log(_OWN_WEIGHT * mine + (1 - _OWN_WEIGHT) * theirs)
        unseen = {
            a: math.log(_OWN_WEIGHT * p + (1 - _OWN_WEIGHT) * shared_unseen.get(a, p)) for a, p in own_unseen.items()
        }
        total = sum(counts.values())
        entropy = -sum(count * logp[pair] for pair, count in counts.items()) / total
        tables[language] = _Table(scripts[language], logp, unseen, min(unseen.values()) - 1.0, entropy)
    return tables


@dataclass(frozen=True)
class WordPlausibility:
    """The language the text reads best in, and the share of its words that are implausible there."""

    language: str
    words: int
    letters: int  # letters in the scored words
    implausible_share: float
    surprise: float  # mean -log P per letter pair over all scored words, minus the language's entropy
    examples: tuple[str, ...]


def word_plausibility(text: str, floor: float) -> WordPlausibility | None:
    """Score ``text``'s words; ``None`` when it has no scorable words. A word scoring under ``floor``
    (mean log-probability per letter pair) is implausible.

    Each script is read in its own best language: the English words in a Greek or Vietnamese
    sentence ("record", "http") are scored as English, not as Greek or Vietnamese."""
    words = letter_words(text, for_scoring=True)[:_MAX_WORDS]
    if not words:
        return None
    by_script: dict[str, list[str]] = {}
    for word in words:
        by_script.setdefault(_script_of(word[0]), []).append(word)
    languages: list[tuple[int, str]] = []
    scores: list[tuple[str, float]] = []
    for script, group in by_script.items():
        candidates = [lang for lang, t in _tables().items() if t.script == script]
        if not candidates:
            continue
        language = _best_language(group[:_LANGUAGE_SAMPLE], candidates)
        languages.append((len(group), language))
        table = _tables()[language]
        scores.extend((w, table.word_score(w)) for w in group)
    if not scores:
        return None
    language = max(languages)[1]
    bad = [w for w, score in scores if score < floor]
    pairs = sum(len(w) + 1 for w, _ in scores)
    # Relative to the language's own entropy: Cyrillic's 33 letters make every pair less likely
    # than in a 26-letter alphabet, so raw surprise would say Russian is noisier than English.
    entropies = {lang: _tables()[lang].entropy for _, lang in languages}
    weights = {lang: n for n, lang in languages}
    baseline = sum(entropies[lang] * weights[lang] for lang in entropies) / sum(weights.values())
    surprise = -sum(score * (len(w) + 1) for w, score in scores) / pairs - baseline
    letters = sum(len(w) for w, _ in scores)
    return WordPlausibility(language, len(scores), letters, len(bad) / len(scores), surprise, tuple(bad[:3]))


def text_language(text: str) -> str | None:
    """The language whose letter pairs fit ``text``'s words best; None without enough such words
    (only the first 400 words of the text are looked at)."""
    words = letter_words(text, for_scoring=True)[:_LANGUAGE_SAMPLE]
    if len(words) < 5 or sum(map(len, words)) < 0.5 * sum(1 for c in text if c.isalpha()):
        return None  # few words, or mostly a script without tables (Latin names in Korean text)
    return _best_language(words, list(_tables()))


def _best_language(sample: list[str], candidates: list[str]) -> str:
    tables = _tables()
    weights = [len(w) + 1 for w in sample]
    return max(
        candidates, key=lambda lang: sum(tables[lang].word_score(w) * n for w, n in zip(sample, weights, strict=True))
    )

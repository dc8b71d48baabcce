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
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "MAX_FOREIGN_LETTERS",
    "covering_languages",
    "WordPlausibility",
    "letter_words",
    "ranked_languages",
    "text_language",
    "word_plausibility",
]

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_ALPHABETIC_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")
_SMOOTHING = 0.5  # added to every pair count, so an unseen pair is rare, not impossible
_LANGUAGE_SAMPLE = 400  # words used to choose the language
_MAX_WORD_LETTERS = 40
_MAX_WORDS = 5000  # words scored at most (outputs can be 100k characters)
_FOREIGN_LETTER_FREQUENCY = 1e-4  # rarer than 1 letter in 10,000 of the language's words
# Over this share of letters foreign to every table of its script, a text is in a language without a
# table (Kazakh "ә ң ұ", Kurdish "ê î û ç ş" together): its letter signals are not measured.
MAX_FOREIGN_LETTERS = 0.02


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


class LetterModel:
    """P(next letter | two letters before) for one language, word boundaries included ("^^t", "^th",
    "he$"), with Witten-Bell interpolation: a context seen often with few continuations trusts its
    own counts; a rare one backs off to the letter pair, and that to the letter pairs pooled over all
    languages of the script (``lower``). Letter triples capture what pairs cannot: "thr" and "rth"
    are both English, "htr" is not (shuffled letters keep most pairs plausible, not triples)."""

    def __init__(self, pairs: dict[str, float], triples: dict[str, float], lower: LetterModel | None) -> None:
        self.lower = lower
        self.pairs = _continuations(pairs)
        self.triples = _continuations(triples)
        letters: dict[str, float] = {}
        for pair, count in pairs.items():
            letters[pair[1]] = letters.get(pair[1], 0.0) + count
        self.letters = letters
        self.total = sum(letters.values())
        self.alphabet = len(letters) + 1
        self.script = _main_script(pairs)

    def _letter(self, char: str) -> float:
        if self.lower is not None:
            return self.lower._letter(char)
        return (self.letters.get(char, 0.0) + _SMOOTHING) / (self.total + _SMOOTHING * (self.alphabet + 30))

    def _pair(self, previous: str, char: str) -> float:
        lower = self.lower._pair(previous, char) if self.lower is not None else self._letter(char)
        seen = self.pairs.get(previous)
        if seen is None:
            return lower
        counts, total, kinds = seen
        return (counts.get(char, 0.0) + kinds * lower) / (total + kinds)

    def probability(self, context: str, char: str) -> float:
        """P(``char`` | the two letters ``context``)."""
        lower = self._pair(context[1], char)
        seen = self.triples.get(context)
        if seen is None:
            return lower
        counts, total, kinds = seen
        return (counts.get(char, 0.0) + kinds * lower) / (total + kinds)

    def word_score(self, word: str) -> float:
        """Mean log-probability per letter of ``word``, its end included (its first 40 letters: a
        longer run of letters is no word of any language, and scoring it whole costs time)."""
        padded = f"^^{word[:_MAX_WORD_LETTERS]}$"
        total = sum(math.log(self.probability(padded[i - 2 : i], padded[i])) for i in range(2, len(padded)))
        return total / (len(padded) - 2)


def _continuations(counts: dict[str, float]) -> dict[str, tuple[dict[str, float], float, int]]:
    """{"ab": n} -> {"a": ({"b": n, ...}, total, distinct continuations)}; likewise for triples."""
    grouped: dict[str, dict[str, float]] = {}
    for key, count in counts.items():
        grouped.setdefault(key[:-1], {})[key[-1]] = count
    return {context: (nexts, sum(nexts.values()), len(nexts)) for context, nexts in grouped.items()}


def _main_script(pairs: Mapping[str, float]) -> str:
    by_script: dict[str, float] = {}
    for pair, count in pairs.items():
        if pair[0] != "^":
            by_script[_script_of(pair[0])] = by_script.get(_script_of(pair[0]), 0) + count
    return max(by_script, key=by_script.__getitem__)


def letter_counts(words: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """Letter pairs and triples of ``words`` (word -> count), boundaries included: what the tables hold."""
    pairs: dict[str, int] = {}
    triples: dict[str, int] = {}
    for word, count in words.items():
        padded = f"^^{word}$"
        for i in range(2, len(padded)):
            pairs[padded[i - 1 : i + 1]] = pairs.get(padded[i - 1 : i + 1], 0) + count
            triples[padded[i - 2 : i + 1]] = triples.get(padded[i - 2 : i + 1], 0) + count
    return pairs, triples


def build_models(counts: dict[str, tuple[dict[str, int], dict[str, int]]]) -> dict[str, LetterModel]:
    """One model per language over a pooled model per script (each language weighs the same in its
    script's pool): a pair that is merely rare in one language's manuals ("бв" in "любви") is common
    in a sister language, while the pairs of keyboard mash are rare in every one."""
    pooled: dict[str, dict[str, float]] = {}
    for pairs, _ in counts.values():
        pool = pooled.setdefault(_main_script(pairs), {})
        total = sum(pairs.values())
        for pair, count in pairs.items():
            pool[pair] = pool.get(pair, 0.0) + count * 1_000_000 / total
    pools = {script: LetterModel(pool, {}, None) for script, pool in pooled.items()}
    models = {}
    for language, (pairs, triples) in counts.items():
        models[language] = LetterModel(
            {k: float(v) for k, v in pairs.items()},
            {k: float(v) for k, v in triples.items()},
            pools[_main_script(pairs)],
        )
    return models


@dataclass(frozen=True)
class _Table:
    model: LetterModel
    script: str
    entropy: float  # mean -log P per letter on words the table never saw (cross-validated at training)

    def word_score(self, word: str) -> float:
        return self.model.word_score(word)

    def is_foreign(self, letter: str) -> bool:
        """A letter this language's own words (almost) never hold: "ә" or "ң" read as Russian,
        "ŭ" as Polish. Text full of them is in a language without a table, not shuffled."""
        model = self.model
        return model.letters.get(letter, 0.0) < _FOREIGN_LETTER_FREQUENCY * model.total


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, _Table]:
    """The trained tables (``letter_pairs.json``: pairs, triples and held-out entropy per language)."""
    raw = json.loads(resources.files("pytest_llmeval.data").joinpath("letter_pairs.json").read_text("utf-8"))
    languages = raw["languages"]
    models = build_models({lang: (data["pairs"], data["triples"]) for lang, data in languages.items()})
    return {lang: _Table(model, model.script, languages[lang]["entropy"]) for lang, model in models.items()}


@dataclass(frozen=True)
class WordPlausibility:
    """The language the text reads best in, and the share of its words that are implausible there."""

    language: str
    words: int
    letters: int  # letters in the scored words
    implausible_share: float
    surprise: float  # mean -log P per letter pair over all scored words, minus the language's entropy
    examples: tuple[str, ...]
    foreign_letters: float = 0.0  # share of letters the chosen language's table (almost) never has
    foreign_examples: str = ""


@functools.lru_cache(maxsize=64)  # letter_signals and content_word_run read the same text
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
    foreign: list[str] = []
    for script, group in by_script.items():
        candidates = [lang for lang, t in _tables().items() if t.script == script]
        if not candidates:
            continue
        language = _best_language(group[:_LANGUAGE_SAMPLE], candidates)
        languages.append((len(group), language))
        table = _tables()[language]
        scores.extend((w, table.word_score(w)) for w in group)
        foreign.extend(c for w in group for c in w if table.is_foreign(c))
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
    return WordPlausibility(
        language,
        len(scores),
        letters,
        len(bad) / len(scores),
        surprise,
        tuple(bad[:3]),
        len(foreign) / max(1, letters),
        "".join(dict.fromkeys(foreign))[:5],
    )


@functools.lru_cache(maxsize=256)
def text_language(text: str) -> str | None:
    """The language whose letter pairs fit ``text``'s words best; None without enough such words
    (only the first 400 words of the text are looked at). Cached: several signals ask for one text."""
    words = letter_words(text, for_scoring=True)[:_LANGUAGE_SAMPLE]
    if len(words) < 5 or sum(map(len, words)) < 0.5 * sum(1 for c in text if c.isalpha()):
        return None  # few words, or mostly a script without tables (Latin names in Korean text)
    return ranked_languages(tuple(words))[0]  # the same ranking the word-list signals read (cached)


def covering_languages(words: tuple[str, ...]) -> tuple[str, ...]:
    """``ranked_languages`` without the languages whose tables (almost) never have over 2% of the
    words' letters: shuffled Russian fits Tajik's letter pairs best, yet uses "ц щ ы", which Tajik
    lacks; it is Russian. Empty when no table has the letters (Kazakh "ә ң ұ")."""
    sample = list(words[:_LANGUAGE_SAMPLE])
    return tuple(
        lang for lang in ranked_languages(tuple(sample)) if _foreign_share(sample, lang) <= MAX_FOREIGN_LETTERS
    )


@functools.lru_cache(maxsize=256)
def ranked_languages(words: tuple[str, ...]) -> tuple[str, ...]:
    """Every language with a table, best-fitting first, for ``words`` (from ``letter_words(...,
    for_scoring=True)``; the first 400 are looked at). Empty without words."""
    sample = list(words[:_LANGUAGE_SAMPLE])
    if not sample:
        return ()
    scores = {lang: _fit(sample, lang) for lang in _tables()}
    return tuple(sorted(scores, key=scores.__getitem__, reverse=True))


def _foreign_share(words: list[str], language: str) -> float:
    """Share of the letters of ``words`` that ``language``'s table (almost) never has."""
    table = _tables()[language]
    letters = Counter(c for w in words for c in w)
    return sum(n for c, n in letters.items() if table.is_foreign(c)) / max(1, sum(letters.values()))


def _fit(sample: list[str], language: str) -> float:
    """Log-probability of ``sample``'s letters under ``language``'s table (higher fits better)."""
    table = _tables()[language]
    return sum(table.word_score(w) * (len(w) + 1) for w in sample)


def _best_language(sample: list[str], candidates: list[str]) -> str:
    return max(candidates, key=lambda lang: _fit(sample, lang))

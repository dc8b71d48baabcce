"""Signals of ``not_garbled`` read against real word lists (the ``wordfreq`` package's frequency lists).

Letter tables say whether a word *looks like* a word; a word list says whether it *is* one. Two
signals need that:

- ``anagram_share``: words that are no word of the text's language, yet whose letters rearrange into a
  common word of it ("qiuck", "bnrow", "ewten"). Letters shuffled inside words make exactly these;
  names, identifiers and rare words are not in the list either, but are almost never anagrams of a
  common word. Only texts whose best-fitting letter table (among those that have the text's
  letters) is a language ``wordfreq`` lists are read.
- ``unknown_cjk_pair_share``: adjacent Chinese or Japanese characters that no listed word contains
  (``unknown_chinese_pairs`` and ``unknown_japanese_pairs`` in ``not_garbled``). Clean text is made
  of words, so about half its neighbouring characters or more sit inside one; characters in shuffled
  order rarely do.

The lists are read from wordfreq's files on first use, one language at a time (a few tenths of a
second each), and a few are kept: wordfreq's own loader keeps every list it reads (50-130 MB each).
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmeval.checks.letter_pairs import covering_languages, letter_words

__all__ = ["MIN_CJK_PAIRS", "anagram_share", "unknown_cjk_pair_share"]

# A word at least this frequent (per word of running text, 1e-6 = Zipf 3) is "common": the
# rarest words of the lists include misspellings and shuffled forms of common words.
_COMMON_FREQUENCY = 1e-6
_MIN_ANAGRAM_LETTERS = 4  # three-letter words have few orderings, and most are words of some list
_MIN_ANAGRAM_WORDS = 3  # words of 4+ letters needed before a share means anything
_MIN_ANAGRAMS_OF_UNKNOWN = 0.5
# Under 10 long words, two anagrams may be two tool names ("lspci", "iostat"): three are needed.
_SHORT_TEXT_WORDS = 10
_APOSTROPHE = re.compile(r"(?<=[^\W\d_])['’](?=[^\W\d_])")
# Under 16 pairs one particle between two words moves the share by a tenth ("東京は日本の首都です。"
# has 5 of 9 pairs across words).
MIN_CJK_PAIRS = 16
# Pairs come from rarer words too (one in ten million): Taiwan's vocabulary ("字串", "位元組") is rare
# in the mainland-heavy Chinese list, and with only the common words 6% of Traditional Chinese UI
# messages failed (1 in 224 with these).
_CJK_PAIR_FREQUENCY = 1e-7
_MAX_WORDS = 2000  # words read at most (outputs can be 100k characters); the share settles long before
# wordfreq's codes for languages its lists name differently from the letter tables.
_LIST_CODE = {"nn": "nb", "hr": "sh", "bs": "sh", "sr": "sh"}
# The Serbo-Croatian list is written in Latin letters; Serbian Cyrillic maps one to one onto it.
_SERBIAN_LATIN = str.maketrans(
    dict(
        zip(
            "абвгдђежзијклљмнњопрстћуфхцчџш",
            "a b v g d đ e ž z i j k l lj m n nj o p r s t ć u f h c č dž š".split(),
            strict=True,
        )
    )
)
# Runs of kana and CJK ideographs; the middle dot "・" (U+30FB) separates names ("安娜・卡列尼娜"),
# so it ends a run.
_CJK_RUN = re.compile(r"[\u3040-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff]{2,}")
_KANA_LETTER = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")


@functools.lru_cache(maxsize=1)
def _listed_languages() -> frozenset[str]:
    from wordfreq import available_languages

    return frozenset(available_languages(wordlist="best"))


@dataclass(frozen=True)
class _WordList:
    words: frozenset[str]  # every word of the list
    common_keys: frozenset[str]  # sorted letters of the words of frequency 1e-6 and more
    words_by_frequency: tuple[tuple[str, ...], ...]  # the list itself, most frequent first


# Read straight from wordfreq's files, not through get_frequency_dict, which caches every list it
# ever loaded (50-130 MB each); a few lists are kept here, the large ones evicted first.
@functools.lru_cache(maxsize=4)
def _large_list(language: str) -> _WordList:
    return _read_list(language, "best")


@functools.lru_cache(maxsize=12)
def _small_list(language: str) -> _WordList:
    return _read_list(language, "small")


def _read_list(language: str, size: str) -> _WordList:
    from wordfreq import available_languages, cB_to_freq, read_cBpack

    buckets = read_cBpack(available_languages(wordlist=size)[language])  # bucket i: frequency -i centibels
    return _WordList(
        frozenset(word for bucket in buckets for word in bucket),
        frozenset(
            "".join(sorted(word))
            for centibels, bucket in enumerate(buckets)
            if cB_to_freq(-centibels) >= _COMMON_FREQUENCY
            for word in bucket
        ),
        tuple(tuple(bucket) for bucket in buckets),
    )


def _normalised(word: str, language: str) -> str:
    from langcodes import Language
    from wordfreq.preprocess import preprocess_text

    if language == "sh":
        word = word.translate(_SERBIAN_LATIN)
    return preprocess_text(word, Language.get(language))


def anagram_share(text: str) -> tuple[float | None, tuple[str, ...]]:
    """Share of the text's words of 4+ letters that are anagrams of a common word but no word
    themselves, and up to three of them; ``None`` when the text reads best as a language without a
    list or has under 3 such words. 0.0 with fewer than 2 distinct anagrams (one is a typo: "teh"),
    or when anagrams are not most of the unknown words: text in a language without a list is mostly
    unknown words, a few of them anagrams by chance; shuffled text's unknown words mostly are."""
    # Elisions split at the apostrophe: "l'amic" is "l" and "amic", not "lamic" (an anagram of "malic").
    words = letter_words(_APOSTROPHE.sub(" ", text), for_scoring=True)[:_MAX_WORDS]
    long_words = [w for w in words if len(w) >= _MIN_ANAGRAM_LETTERS]
    if len(long_words) < _MIN_ANAGRAM_WORDS:
        return None, ()
    listed = _listed_languages()
    # Languages whose tables have the text's letters, best-fitting first: shuffled Russian fits
    # Tajik's pairs best but is read as Russian; a Kazakh text has no such language.
    ranking = [_LIST_CODE.get(lang, lang) for lang in covering_languages(tuple(words))]
    if not ranking or ranking[0] not in listed:
        # Basque, Esperanto, Welsh...: their own words are in no list, and read against a
        # neighbour's list one in ten of their texts has anagrams enough to fail.
        return None, ()
    # The best-fitting language's whole list; the next two listed languages' and English's common
    # words (a misread language, technical English): enough to know a word, at a tenth the memory.
    others = [
        lang for lang in dict.fromkeys([*[x for x in ranking[1:] if x in listed][:2], "en"]) if lang != ranking[0]
    ]
    languages = [ranking[0], *others]
    lists = [_large_list(ranking[0]), *(_small_list(lang) for lang in others)]
    unknown = [w for w in long_words if not _is_known(w, languages, lists)]
    anagrams = [w for w in unknown if _is_anagram(w, languages, lists)]
    distinct = tuple(dict.fromkeys(anagrams))
    if (
        len(distinct) < 2
        or len(anagrams) <= _MIN_ANAGRAMS_OF_UNKNOWN * len(unknown)
        or (len(long_words) < _SHORT_TEXT_WORDS and len(distinct) < 3)
    ):
        return 0.0, distinct[:3]
    return len(anagrams) / len(long_words), distinct[:3]


def _is_known(word: str, languages: Sequence[str], lists: Sequence[_WordList]) -> bool:
    return any(_normalised(word, lang) in found.words for lang, found in zip(languages, lists, strict=True))


def _is_anagram(word: str, languages: Sequence[str], lists: Sequence[_WordList]) -> bool:
    return any(
        "".join(sorted(_normalised(word, lang))) in found.common_keys
        for lang, found in zip(languages, lists, strict=True)
    )


@functools.lru_cache(maxsize=1)
def _simplified_chinese() -> Mapping[int, Any]:
    """wordfreq's traditional-to-simplified character map (its Chinese list is simplified); read
    directly, as wordfreq's own loader imports the optional ``jieba``."""
    import msgpack
    from wordfreq.util import data_path

    try:
        with gzip.open(data_path("_chinese_mapping.msgpack.gz")) as handle:
            return dict(msgpack.load(handle, raw=False, strict_map_key=False))
    except OSError:
        return {}


@functools.lru_cache(maxsize=2)
def _cjk_pairs(language: str) -> frozenset[str]:
    from wordfreq import cB_to_freq

    return frozenset(
        word[i : i + 2]
        for centibels, bucket in enumerate(_large_list(language).words_by_frequency)
        if cB_to_freq(-centibels) >= _CJK_PAIR_FREQUENCY
        for word in bucket
        for i in range(len(word) - 1)
    )


def unknown_cjk_pair_share(text: str) -> tuple[float | None, str, str]:
    """Share of adjacent Chinese/Japanese characters (inside runs of them) that no word of the
    language's list holds, the first such pair, and the language; ``None`` under 16 pairs.

    Text without kana is read as Chinese (Traditional characters as Simplified). Text with kana is
    read both ways and the lower share wins: Chinese quotes Japanese titles and names ("マリオ",
    "千と千尋の神隠し") and Japanese quotes Chinese poems, while shuffled text is unknown both ways."""
    runs = _CJK_RUN.findall(text)
    pairs = [run[i : i + 2] for run in runs for i in range(len(run) - 1)]
    languages = ("ja", "zh") if _KANA_LETTER.search(text) else ("zh",)
    if len(pairs) < MIN_CJK_PAIRS:
        return None, "", languages[0]
    readings = [_unknown_pairs(pairs, language) + (language,) for language in languages]
    return min(readings, key=lambda reading: reading[0])


def _unknown_pairs(pairs: list[str], language: str) -> tuple[float, str]:
    if language == "zh":
        pairs = [pair.translate(_simplified_chinese()) for pair in pairs]
    known = _cjk_pairs(language)
    unknown = [pair for pair in pairs if pair not in known]
    return len(unknown) / len(pairs), (unknown[0] if unknown else "")

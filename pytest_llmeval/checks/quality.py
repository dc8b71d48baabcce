"""Quality checks: the output is readable text, not a broken model's noise.

``not_garbled`` computes named signals, each with its own threshold argument; the failure message names
every signal that tripped with its value and threshold, and ``details["signals"]`` holds all values.
Defaults are tuned on the calibration part of ``benchmarks/data/`` (man pages, translations, fortunes,
code; see ``benchmarks/build_corpora.py``) and measured on a held-out part by
``benchmarks/heuristic_checks.py``.

``no_repetition`` reports degenerate loops; it shares its repetition finder with ``not_garbled``.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from importlib import resources

from pytest_llmeval.checks._text import (
    TandemRepeat,
    clip,
    longest_repeated_substring,
    tandem_repeat,
)
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    Tokenizer,
    active_tokenizer,
    checked_output,
    register_check,
    truncate,
)
from pytest_llmeval.checks.letter_pairs import text_language, word_plausibility
from pytest_llmeval.checks.lexicon import MIN_CJK_PAIRS, anagram_share, unknown_cjk_pair_share

__all__ = ["GarbleSignals", "garble_signals", "no_repetition", "not_garbled", "not_truncated"]

FAMILY = "quality"
_MAX_UNIT_WORDS = 12  # longest loop unit looked for, in words
_MIN_WORDS_FOR_RATIOS = 8  # below this, shares of words are noise ("positive" is one word)
_MIN_REPEATED_CHARS = 40  # a repeated substring shorter than this is a phrase, not a loop
# A short text needs two implausible words among at least three to fail: no clean text of the
# calibration or development parts under 8 words has two, shuffled ones mostly do.
_MIN_WORDS_FOR_IMPLAUSIBLE = 3
_MIN_WORDS_FOR_SURPRISE = 15  # the mean letter-pair score of a few words is noise
_MAX_FOREIGN_LETTERS = 0.02  # share of letters unknown to the best-fitting table (see letter_signals)
_IMPLAUSIBLE_WORD_FLOOR = -4.0  # mean log-probability per letter below which a word is implausible
_FRAGMENTATION_SAMPLE = 20_000
EXCERPT_TAIL = 120  # characters of the end of an output shown by not_truncated  # characters tokenized for the fragmentation signal
_WORDS = re.compile(r"[^\W\d_]+")
# Symbols clean text uses freely. Punctuation of any script and all of ASCII never count, so code,
# JSON and CJK text do not look like noise; mojibake ("Ã©", "â€™") and U+FFFD do.
_COMMON_SYMBOLS = set("°£¥§¶×÷±≤≥≠→←↑↓✓✔•·")
# Japanese mixes kanji and kana inside one word, Korean mixes hanja and hangul: one group.
_CJK_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "IDEOGRAPHIC", "BOPOMOFO")


# --- signals --------------------------------------------------------------------------------------


def _is_control(char: str) -> bool:
    if char in "\t\n\r":
        return False
    return char == "\ufffd" or unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn")


def control_share(text: str) -> float:
    """Share of control, unassigned, private-use and U+FFFD characters: bytes decoded wrongly."""
    if text.isascii():
        count = sum(1 for c in text if c < " " and c not in "\t\n\r") + text.count("\x7f")
    else:
        count = sum(1 for c in text if _is_control(c))
    return count / len(text)


def _is_emoji(char: str) -> bool:
    return "\U0001f000" <= char <= "\U0001faff" or "\u2600" <= char <= "\u27bf"


def _unusual(char: str) -> bool:
    if char.isascii() or char in _COMMON_SYMBOLS or _is_emoji(char):
        return False
    if "\u2500" <= char <= "\u259f":  # box drawing and blocks: tables and bars in CLI output
        return False
    return unicodedata.category(char)[0] == "S"


# Currency and trademark signs are ordinary in text ("5 €", "Acme™") but also what mojibake is made of
# ("â€™" is a mis-decoded ’): they count only when glued to another non-ASCII character.
_TEXT_SIGNS = set("©®™≈")


def _counts_as_noise(text: str, i: int) -> bool:
    char = text[i]
    if not _unusual(char):
        return False
    if char in _TEXT_SIGNS or unicodedata.category(char) == "Sc":
        previous = text[i - 1] if i else " "
        return not previous.isascii() and not previous.isspace()
    return True


def symbol_share(text: str) -> float:
    """Share of non-space characters that are non-ASCII symbols (Unicode category S*)."""
    visible = len(text) - sum(1 for c in text if c.isspace())
    if visible == 0 or text.isascii():
        return 0.0
    return sum(1 for i in range(len(text)) if _counts_as_noise(text, i)) / visible


def repetition_share(words: list[str]) -> tuple[float, TandemRepeat | None]:
    """Share of the words that are back-to-back repeats of one unit (a loop), and that loop."""
    if len(words) < _MIN_WORDS_FOR_RATIOS:
        return 0.0, None
    loop = tandem_repeat(words, _MAX_UNIT_WORDS)
    if loop is not None and not _has_letters(loop.unit):
        loop = None  # "%s, %s, %s" or "-----": placeholders and rules, not a loop
    return (loop.extra_tokens / len(words) if loop else 0.0), loop


def _has_letters(unit: tuple[str, ...]) -> bool:
    """Whether a loop unit holds a word: two Latin letters in a row or any non-ASCII letter."""
    return re.search(r"[^\W\d_]{2}|[^\W\d_\x00-\x7f]", "".join(unit)) is not None


def repeated_substring_share(text: str) -> tuple[float, int]:
    """Longest substring occurring twice, as a share of the text (0 if under 40 chars)."""
    length, start = longest_repeated_substring(text)
    if length < _MIN_REPEATED_CHARS:
        return 0.0, start
    return length / len(text), start


@functools.lru_cache(maxsize=4096)
def _script(char: str) -> str:
    """The script of a base letter; "" for marks and modifier letters, which go with any script."""
    if unicodedata.category(char) in ("Mn", "Mc", "Me", "Lm"):
        return ""
    name = unicodedata.name(char, "UNKNOWN").split(" ")[0]
    return "CJK" if name.startswith(_CJK_SCRIPTS) else name


def _scripts(word: str) -> set[str]:
    return {_script(c) for c in word} - {""}


def _mixes_scripts(word: str) -> bool:
    """Letters of two scripts in one word. Japanese, Chinese and Korean glue Latin identifiers to
    their own script without a space ("pg_classのインデックス", "调用chmod和umask"): CJK next to Latin
    is normal, so it never counts (a CJK character inserted into an English word goes unnoticed)."""
    scripts = _scripts(word)
    return len(scripts) >= 2 and not ("CJK" in scripts and scripts <= {"CJK", "LATIN"})


def mixed_script_share(text: str) -> tuple[float, str]:
    """Share of words mixing letters of two scripts ("pаssword" with a Cyrillic а), and one such word."""
    words = _WORDS.findall(text)
    if not words:
        return 0.0, ""
    mixed = [w for w in words if not w.isascii() and _mixes_scripts(w)]
    letters = sum(1 for c in text if c.isalpha())
    if _CJK_CHAR.search(text) and len(_CJK_CHAR.findall(text)) < _MOSTLY_OTHER_SCRIPT * letters:
        # In text written mostly in Latin letters, a CJK character inside a Latin word ("dyna的说c")
        # is noise; in CJK text, Latin identifiers glued to CJK ("调用chmod和umask") are normal.
        mixed += [w for w in words if _LATIN_CJK_LATIN.search(w) and w not in mixed]
    return len(mixed) / len(words), (mixed[0] if mixed else "")


_MOSTLY_OTHER_SCRIPT = 0.2  # CJK under this share of the letters: the text is written in another script
_LATIN_CJK_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f][\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+[A-Za-z\u00c0-\u024f]")


# Symbols inside a word, between letters: "Th#s p%ck&ge". Tokens that are URLs, paths, e-mail
# addresses, options, code or markup are left out ("a+b", "--mode=MODE", "user@host", "?a=1&b=2").
_ASCII_SYMBOL_INSIDE = re.compile(r"[^\W\d_][#%&@$*^~+<>|\\{}]+(?=[^\W\d_])")
_MARKUP = re.compile(r"<[^<>\s]{1,40}>|\{[^{}\s]{1,40}\}")  # "<name>", "<b>", "{user}" placeholders
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_MIN_ASCII_SYMBOL_HITS = 2
_NOT_PROSE_TOKEN = re.compile(r"[/.:_()\[\]`'\"=]|&\w+;|^[-#@$<]|^[A-Z&]+$")


# printf-style placeholders of program messages and code: "%s", "%d", "%1$s", "%.250s", "%-10s".
_PLACEHOLDER = re.compile(r"%(?:\d+\$)?[-+ 0#]*\d*(?:\.\d+)?(?:l{0,2}|h|z|j|t|L)[sdiouxXeEfFgGcpnm%]")


def ascii_symbol_share(text: str) -> tuple[float, str]:
    """ASCII symbols between letters per letter of text, and one token holding one (0 under 2: one
    "cioty|wc" is a typo; no clean text of the calibration or development parts has two)."""
    hits = [
        t
        for t in _MARKUP.sub(" ", _PLACEHOLDER.sub(" ", text)).split()
        if (_CJK_CHAR.search(t) or not _NOT_PROSE_TOKEN.search(t))  # CJK runs without spaces
        for _ in _ASCII_SYMBOL_INSIDE.finditer(t)
    ]
    if len(hits) < _MIN_ASCII_SYMBOL_HITS:
        return 0.0, ""
    letters = sum(1 for c in text if c.isalpha()) or 1
    return len(hits) / letters, hits[0]


# Sentence punctuation of any script, or a line break: prose has one every few words.
_PAUSE = re.compile(r"[.,;:!?()\[\]{}\"“”«»„—–\-/|\n。、，；：！？・]")


_LONG_WORD_LETTERS = 13


def long_word_share(text: str) -> float | None:
    """In text that reads as English, the share of words of 13+ letters without an inner capital:
    vocabulary pieces glued together ("hierarchiesforthedience") are long, English words rarely are.
    None for other languages (German compounds are long and fine) or under 8 words; 0 under 3."""
    if text_language(text) != "en":
        return None
    words = _WORDS.findall(text[:_FRAGMENTATION_SAMPLE])
    if len(words) < _MIN_WORDS_FOR_RATIOS:
        return None
    long = [w for w in words if len(w) >= _LONG_WORD_LETTERS and not _has_case_change(w)]
    return len(long) / len(words) if len(long) >= 3 else 0.0


def longest_unpunctuated_run(text: str) -> int:
    """The most words in a row with no punctuation or line break between them. Vocabulary-piece soup
    from a broken model runs for dozens of words without one; prose, lists and code do not."""
    longest = run = 0
    for token in text.split(" "):
        if not token:
            continue
        run += 1
        longest = max(longest, run)
        if _PAUSE.search(token):
            run = 0
    return longest


# UTF-8 read as Windows-1252/Latin-1: a lead byte (Ã Â â Ð Ñ ...) followed by a continuation byte
# shown as a Latin-1 symbol or a Windows-1252 punctuation mark ("Ã©", "â€™", "Ã¼").
_MOJIBAKE = re.compile(
    "[\u00c2-\u00c5\u00ce-\u00d1\u00e2-\u00ef][\u0080-\u00bf\u0152\u0153\u0160\u0161"
    "\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026"
    "\u2030\u2039\u203a\u20ac\u2122]"
)


def mojibake_share(text: str) -> tuple[float, str]:
    """Mis-decoded UTF-8 pairs per letter, and the first one."""
    if text.isascii():
        return 0.0, ""
    pairs = _MOJIBAKE.findall(text)
    letters = sum(1 for c in text if c.isalpha()) or 1
    return (len(pairs) / letters if len(pairs) >= 2 else 0.0), (pairs[0] if pairs else "")


def letter_signals(text: str) -> tuple[float | None, float | None, str, str]:
    """``implausible_words`` and ``letter_surprise`` (see letter_pairs), a note, and why they were not
    measured ("" when they were). Not measured when the text has too few scorable words, when most of
    its letters are of a script without tables (the Latin words in Japanese or Chinese text are names
    and identifiers: "chfn", "pg_class"), or when over 2% of its letters are ones the best-fitting
    table (almost) never has: Kazakh "ң", "ұ" read as Russian, Kurdish "ê" as Sardinian. Such a text is
    in a language without a table, whose every word looks implausible to its neighbours' tables."""
    scored = word_plausibility(text, _IMPLAUSIBLE_WORD_FLOOR)
    if scored is None or scored.words < _MIN_WORDS_FOR_IMPLAUSIBLE:
        return None, None, "", f"fewer than {_MIN_WORDS_FOR_IMPLAUSIBLE} words of an alphabetic script"
    letters = sum(1 for c in text if c.isalpha())
    if scored.letters < 0.5 * letters:
        return None, None, "", "most letters are of a script without letter tables"
    if scored.foreign_letters > _MAX_FOREIGN_LETTERS:
        return (
            None,
            None,
            "",
            (
                f"{scored.foreign_letters:.0%} of the letters ({scored.foreign_examples}) are ones the "
                f"best-fitting table ({scored.language}) lacks: a language without a table"
            ),
        )
    note = (
        f"read as {scored.language}; e.g. {', '.join(scored.examples)}"
        if scored.examples
        else (f"read as {scored.language}")
    )
    surprise = scored.surprise if scored.words >= _MIN_WORDS_FOR_SURPRISE else None
    implausible = scored.implausible_share if scored.implausible_share * scored.words >= 2 else 0.0
    return implausible, surprise, note, ""  # one odd word in a short text is a name, not noise


def _has_case_change(word: str) -> bool:
    return any(a.islower() and b.isupper() for a, b in itertools.pairwise(word))


# A token that is code, a path, a unit pair or markup rather than a prose word: an identifier with
# "_" or ".", a call, an index or annotation ("list[str]", "Optional[T]"), "KiB/s", "a=b", "`x`".
_CODE_TOKEN = re.compile(r"[_.()\[\]{}:=<>/\\`@#$%*|]")
_EDGE_PUNCTUATION = "\"'“”„«»‘’¿¡(),.;:!?…"
_MIN_CASE_CHANGE_LETTERS = 4  # "KiB", "MiB", "dB", "kHz", "pH": units and abbreviations, not glued pieces
# PascalCase names of classes and types ("TypeVar", "BaseModel", "GTlsBackend") in ASCII.
_PASCAL_CASE = re.compile(r"(?:[A-Z]+[a-z]{2,}){2,}")


def case_change_share(text: str) -> float:
    """Share of prose words with a lower-to-upper case change inside ("ingThe", "usTENANCE", cp1251
    mojibake "РїСЂРё"): vocabulary pieces glued together. Code blocks, printf placeholders ("%pT"),
    code-like tokens (identifiers, calls, type annotations "Dict[str, Any]", paths), ASCII PascalCase
    type names ("TypeVar", "BaseModel") and words of under 4 letters (units: "KiB", "GiB", "dB") are
    left out; camelCase prose still has some, so the
    threshold leaves room for it."""
    lines = [line for line, code in zip(text.splitlines(), _in_code(text), strict=True) if not code]
    words: list[str] = []
    for token in _PLACEHOLDER.sub(" ", "\n".join(lines)).split():
        core = token.strip(_EDGE_PUNCTUATION)
        if core and not _CODE_TOKEN.search(core):
            words.extend(w for w in _WORDS.findall(core) if len(w) > 1)
    changed = sum(
        1 for w in words if len(w) >= _MIN_CASE_CHANGE_LETTERS and _has_case_change(w) and not _PASCAL_CASE.fullmatch(w)
    )
    if len(words) < _MIN_WORDS_FOR_RATIOS or changed < 2:
        return 0.0  # one "GTlsBackend" or "SignOff" is a name, not glued pieces
    return changed / len(words)


# Punctuation glued to the front of a word inside a token: ",lbue", "?tAepei", "l,glaioenr", "rp)oadã",
# ".다니냅타나" (a period before a lower-case or uncased letter; "Д.Эдвардс" and "e.g." are fine).
_GLUED_PUNCTUATION = re.compile(r"[,;!?)\]](?=[^\W\d_])|\.(?=[^\W\d_A-Za-z])")
# URLs, options, paths, markup, code, calls and brackets glue punctuation to letters legitimately
# ("?a=1", "[I]nstall", "f(a,b)", "(s)he", "와일드카드(-w)가").
_GLUED_EXEMPT = re.compile(r"://|[=/@_`\\<>{}|(\[]")
_MIN_GLUED = 2  # one "baixo,alto" or ";P" is a typo or an emoticon


def glued_punctuation_share(text: str) -> tuple[float, str]:
    """Tokens with sentence punctuation glued to the front of a word inside them (letters shuffled
    together with the punctuation beside them, pieces glued without a space) per word, and one such
    token; 0 under 2 tokens. Code blocks and code-like tokens are left out, and so are a closing
    bracket or period followed by CJK or Hangul (Korean particles follow a bracket: "목록)을")."""
    lines = [line for line, code in zip(text.splitlines(), _in_code(text), strict=True) if not code]
    tokens = "\n".join(lines).split()
    hits = []
    for token in tokens:
        if _GLUED_EXEMPT.search(token):
            continue
        for match in _GLUED_PUNCTUATION.finditer(token):
            if match.group() in ")]" and _CJK_CHAR.match(token, match.end()):
                continue
            hits.append(token)
            break
    if len(hits) < _MIN_GLUED:
        return 0.0, ""
    return len(hits) / len(tokens), hits[0]


@functools.lru_cache(maxsize=1)
def _frequent_words() -> dict[str, frozenset[str]]:
    """The most frequent words of each language with a letter table (``function_words.json``, trained
    on the calibration sources by ``benchmarks/train_function_words.py``)."""
    raw = json.loads(resources.files("pytest_llmeval.data").joinpath("function_words.json").read_text("utf-8"))
    return {lang: frozenset(words) for lang, words in raw["languages"].items()}


def content_word_run(text: str) -> float | None:
    """The most words in a row with no punctuation, line break or frequent word of the text's language
    between them (English's frequent words count too: technical text quotes English).

    Every language's writers put an article, preposition, pronoun or auxiliary every few words, or a
    comma; vocabulary pieces in random order ("Michigan mx intensive Policies Alabama rotates") go on
    for a dozen words without one. None when the text reads as no language with a table (CJK, or
    under 5 scorable words)."""
    language = text_language(text)
    if language is None:
        return None
    tables = _frequent_words()
    frequent = tables.get(language, frozenset()) | tables.get("en", frozenset())
    longest = run = 0
    for token in text[:_FRAGMENTATION_SAMPLE].split(" "):
        word = "".join(_WORDS.findall(token)).lower()
        if word in frequent:
            run = 0
        elif word:
            run += 1
            longest = max(longest, run)
        if _PAUSE.search(token):
            run = 0
    return float(longest)


def tokens_per_word(text: str, tokenizer: Tokenizer) -> float | None:
    """Mean tokens per word under the model's tokenizer; noise splits into many short pieces.

    Only Latin-script words count: a tokenizer's splits of other scripts say more about its training
    data than about the text (an English BPE splits clean Japanese into many pieces)."""
    words = [w for w in _WORDS.findall(text[:_FRAGMENTATION_SAMPLE]) if w.isascii()]
    if len(words) < _MIN_WORDS_FOR_RATIOS:
        return None
    return len(tokenizer.tokenize(" ".join(words))) / len(words)


# Plain English prose every tokenizer is measured on once: its fragmentation of clean text.
_REFERENCE_PROSE = (
    "When you sign in for the first time, the assistant asks a few simple questions about your "
    "account and the kind of help you need. Most people finish in a couple of minutes. You can "
    "change these answers later in the settings page, where every choice is explained in plain "
    "words. If something does not work as expected, write to the support team and describe what "
    "happened, what you tried, and what you saw on the screen. We read every message and usually "
    "answer within one working day. The service keeps a history of your requests, so you never "
    "have to repeat yourself, and you can close your account at any time without losing your data."
)
_baselines: dict[int, tuple[Tokenizer, float]] = {}


def reference_tokens_per_word(tokenizer: Tokenizer) -> float:
    """The tokenizer's tokens per word on clean reference prose (cached per tokenizer object)."""
    cached = _baselines.get(id(tokenizer))
    if cached is not None and cached[0] is tokenizer:
        return cached[1]
    value = tokens_per_word(_REFERENCE_PROSE, tokenizer) or 1.0
    _baselines[id(tokenizer)] = (tokenizer, value)  # keeps the object alive, so ids are not reused
    return value


def fragmentation(text: str, tokenizer: Tokenizer) -> float | None:
    """Tokens per word of ``text`` relative to the same tokenizer on clean prose.

    Relative, because the absolute figure depends on the vocabulary: a 400-token BPE splits clean
    English into 3-4 tokens a word, GPT-2's into about 1.3. Noise splits worse than clean text under
    either, so the ratio separates them whatever the tokenizer."""
    measured = tokens_per_word(text, tokenizer)
    return None if measured is None else measured / reference_tokens_per_word(tokenizer)


# A sentence end: a word character, maybe a closing bracket or quote ("setstate()."), then . ! or ?
_SENTENCE = re.compile(r"[^\W_][)\]\"'`]*[.!?][\"')\]]*\s")
_NOT_PROSE_LINE = tuple("-*#>|`•+0123456789")


def _prose_line(line: str) -> bool:
    """A line of running text: not indented code, a list item, heading or table row; mostly letters."""
    if line[:1].isspace() or line.lstrip().startswith(_NOT_PROSE_LINE) or len(line.split()) < 6:
        return False
    letters = sum(1 for c in line if c.isalpha() or c == " ")
    return letters / len(line) >= 0.75


def truncated(text: str) -> float:
    """1.0 when prose stops mid-sentence: the output was cut (max_new_tokens) or broke off."""
    stripped = text.rstrip()
    last_line = stripped.rsplit("\n", 1)[-1]
    if len(stripped.split()) < 12 or not _prose_line(last_line):
        return 0.0  # too short to tell, or the output ends with a list, heading, table or code
    if stripped.count("```") % 2 or not _SENTENCE.search(stripped):
        return 0.0  # code, or not sentence prose at all
    return 1.0 if stripped[-1].isalpha() or stripped[-1] == "," else 0.0


# --- not_garbled ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GarbleSignals:
    """Every signal's value; ``None`` when it could not be measured (and why, in ``skipped``)."""

    values: dict[str, float | None]
    skipped: dict[str, str]
    notes: dict[str, str]


def garble_signals(text: str, tokenizer: Tokenizer | None = None) -> GarbleSignals:
    """Measure all signals of ``not_garbled`` (also used by the calibration benchmark)."""
    notes: dict[str, str] = {}
    skipped: dict[str, str] = {}
    share, loop = repetition_share(text.split())
    if loop is not None:
        notes["repetition"] = f"unit {' '.join(loop.unit)!r} x{loop.count}"
    substring, at = repeated_substring_share(text)
    if substring:
        notes["repeated_substring"] = f"at char {at}"
    mixed, word = mixed_script_share(text)
    if word:
        notes["mixed_scripts"] = f"e.g. {word!r}"
    ascii_symbols, token = ascii_symbol_share(text)
    if token:
        notes["ascii_symbols"] = f"e.g. {token!r}"
    mojibake, pair = mojibake_share(text)
    if pair:
        notes["mojibake"] = f"e.g. {pair!r}"
    implausible, surprise, letters_note, letters_skipped = letter_signals(text)
    if letters_note:
        notes["implausible_words"] = notes["letter_surprise"] = letters_note
    if implausible is None:
        skipped["implausible_words"] = letters_skipped
    if surprise is None:
        skipped["letter_surprise"] = (
            letters_skipped or f"fewer than {_MIN_WORDS_FOR_SURPRISE} words of an alphabetic script"
        )
    anagrams, anagram_words = anagram_share(text)
    if anagram_words:
        notes["anagram_words"] = f"e.g. {', '.join(anagram_words)}"
    if anagrams is None:
        skipped["anagram_words"] = (
            "fewer than 3 words of 4+ letters, or the text reads as a language without a word list"
        )
    cjk_pairs, cjk_pair, cjk_language = unknown_cjk_pair_share(text)
    chinese_pairs = cjk_pairs if cjk_language == "zh" else None
    japanese_pairs = cjk_pairs if cjk_language == "ja" else None
    cjk_signal = "unknown_chinese_pairs" if cjk_language == "zh" else "unknown_japanese_pairs"
    if cjk_pair:
        notes[cjk_signal] = f"e.g. {cjk_pair!r}"
    for name, value in (("unknown_chinese_pairs", chinese_pairs), ("unknown_japanese_pairs", japanese_pairs)):
        if value is None:
            skipped[name] = (
                f"fewer than {MIN_CJK_PAIRS} pairs of adjacent Chinese or Japanese characters"
                if cjk_pairs is None
                else f"the text has {'kana: read as Japanese' if cjk_language == 'ja' else 'no kana: read as Chinese'}"
            )
    glued, glued_token = glued_punctuation_share(text)
    if glued_token:
        notes["glued_punctuation"] = f"e.g. {glued_token!r}"
    content_run = content_word_run(text)
    if content_run is None:
        skipped["content_run"] = "the text reads as no language with a frequent-word list"
    fragmentation_value = None
    tokenizer = tokenizer or active_tokenizer()
    if tokenizer is None:
        skipped["fragmentation"] = "no tokenizer (pass tokenizer= or run under the plugin)"
    elif (language := text_language(text)) != "en":
        # The tokenizer is measured against English prose; German or Polish split more under an
        # English-centric vocabulary without being noise.
        skipped["fragmentation"] = f"text reads as {language or 'no known language'}, the reference prose is English"
    else:
        fragmentation_value = fragmentation(text, tokenizer)
        if fragmentation_value is None:
            skipped["fragmentation"] = f"fewer than {_MIN_WORDS_FOR_RATIOS} words"
    values: dict[str, float | None] = {
        "control_chars": control_share(text),
        "symbols": symbol_share(text),
        "mojibake": mojibake,
        "ascii_symbols": ascii_symbols,
        "implausible_words": implausible,
        "letter_surprise": surprise,
        "anagram_words": anagrams,
        "unknown_chinese_pairs": chinese_pairs,
        "unknown_japanese_pairs": japanese_pairs,
        "repetition": share,
        "repeated_substring": substring,
        "fragmentation": fragmentation_value,
        "mixed_scripts": mixed,
        "case_changes": case_change_share(text),
        "unpunctuated_run": float(longest_unpunctuated_run(text)),
        "content_run": content_run,
        "glued_punctuation": glued,
        "long_words": long_word_share(text),
        "truncated": truncated(text),
    }
    return GarbleSignals(values, skipped, notes)


def _tripped(values: dict[str, float | None], limits: dict[str, float]) -> list[str]:
    return [name for name, limit in limits.items() if (values.get(name) or 0.0) > limit]


def _garble_score(values: dict[str, float | None], limits: dict[str, float]) -> float:
    """1.0 = every signal at or under half its threshold; falls to 0.0 as the closest signal reaches
    its threshold. (Clean text has some value on most signals: a 10-word sentence is a run of 10.)"""
    ratios = [
        (values.get(n) or 0.0) / limit if limit > 0 else float((values.get(n) or 0.0) > 0)
        for n, limit in limits.items()
    ]
    closest = max(ratios, default=0.0)
    return max(0.0, min(1.0, 2.0 * (1.0 - closest)))


@register_check("not_garbled", family=FAMILY, summary="The output is readable text, not noise.")
def not_garbled(
    text: str,
    max_control_chars: float = 0.001,
    max_symbols: float = 0.05,
    max_mojibake: float = 0.005,
    max_ascii_symbols: float = 0.01,
    max_implausible_words: float = 0.25,
    max_letter_surprise: float = 0.8,
    max_anagram_words: float = 0.2,
    max_unknown_chinese_pairs: float = 0.65,
    max_unknown_japanese_pairs: float = 0.55,
    max_repetition: float = 0.3,
    max_repeated_substring: float = 0.4,
    max_fragmentation: float = 2.0,
    max_mixed_scripts: float = 0.0,
    max_case_changes: float = 0.12,
    max_unpunctuated_run: float = 32,
    max_content_run: float = 12,
    max_glued_punctuation: float = 0.05,
    max_long_words: float = 0.14,
    check_truncation: bool = False,
    tokenizer: Tokenizer | None = None,
) -> CheckResult:
    """Signals (each fails when above its ``max_*``): ``control_chars`` share of control/U+FFFD
    characters; ``symbols`` share of unusual non-ASCII symbols; ``mojibake`` mis-decoded UTF-8 pairs
    ("Ã©", "â€™") per letter; ``ascii_symbols`` ASCII symbols between letters per letter ("Th#s
    p%ck&ge"; options, URLs and code tokens left out); ``implausible_words`` share of words whose letter pairs no language in the
    built-in tables writes (shuffled letters, keyboard mash); ``letter_surprise`` how unusual the
    text's letter pairs are on average in its best-fitting language; ``repetition`` share of words in
    a back-to-back loop; ``repeated_substring`` longest twice-occurring substring as a share of the
    text; ``fragmentation`` tokens per word under the model's tokenizer, relative to the same
    tokenizer on clean reference prose (skipped without a tokenizer); ``mixed_scripts`` share of words
    mixing scripts (Latin glued to CJK is normal and does not count); ``case_changes`` share of words
    with a lower-to-upper change inside (glued vocabulary pieces); ``unpunctuated_run`` most words in a
    row with no punctuation or line break (vocabulary-piece soup); ``content_run`` most words in a row
    with neither punctuation nor one of the 100 most frequent words of the text's language (words in
    random order: every language puts a function word or a comma every few words);
    ``glued_punctuation`` share of tokens with punctuation glued to the front of a word inside them
    (",lbue", "l,glaioenr": letters shuffled with their punctuation; code-like tokens left out);
    ``long_words`` share of 13+-letter
    words in text that reads as English (glued vocabulary pieces); ``anagram_words`` share of 4+-letter
    words that are no word of the text's language but an anagram of a common one ("qiuck": letters
    shuffled inside words; wordfreq's lists); ``unknown_chinese_pairs`` / ``unknown_japanese_pairs``
    share of adjacent Chinese / Japanese characters that no listed word holds (characters shuffled).

    Truncation is not garbling: use ``not_truncated``, which knows when generation stopped at the
    token limit. ``check_truncation=True`` adds the heuristic ``truncated`` signal (prose ending
    mid-sentence) for outputs with no finish reason. Score: 1.0 = every signal at most half its
    threshold, 0.0 = a signal reached its threshold. An empty output fails: there is no text to read."""
    if not text.strip():
        return CheckResult("not_garbled", False, "not_garbled: expected readable text; got an empty output")
    signals = garble_signals(text, tokenizer)
    limits = {
        "control_chars": max_control_chars,
        "symbols": max_symbols,
        "mojibake": max_mojibake,
        "ascii_symbols": max_ascii_symbols,
        "implausible_words": max_implausible_words,
        "letter_surprise": max_letter_surprise,
        "anagram_words": max_anagram_words,
        "unknown_chinese_pairs": max_unknown_chinese_pairs,
        "unknown_japanese_pairs": max_unknown_japanese_pairs,
        "repetition": max_repetition,
        "repeated_substring": max_repeated_substring,
        "fragmentation": max_fragmentation,
        "mixed_scripts": max_mixed_scripts,
        "case_changes": max_case_changes,
        "unpunctuated_run": max_unpunctuated_run,
        "content_run": max_content_run,
        "glued_punctuation": max_glued_punctuation,
        "long_words": max_long_words,
    }
    if check_truncation:
        limits["truncated"] = 0.5
    tripped = _tripped(signals.values, limits)
    score = _garble_score(signals.values, limits)
    details = {"signals": signals.values, "thresholds": limits, "skipped": signals.skipped, "notes": signals.notes}
    if not tripped:
        return CheckResult("not_garbled", True, "not_garbled: no garble signal tripped", score, details, text)
    reasons = []
    for name in tripped:
        note = f" ({signals.notes[name]})" if name in signals.notes else ""
        reasons.append(f"{name} {signals.values[name]:.3g} > max {limits[name]:.3g}{note}")
    message = f"not_garbled: output looks garbled: {'; '.join(reasons)}; output: {truncate(text)}"
    return CheckResult("not_garbled", False, message, score, details)


# --- no_repetition --------------------------------------------------------------------------------


# A list marker or numbering at the start of a line: "4. ", "14) ", "- ", "* ", "• ", "## ", "> ".
_LIST_MARKER = re.compile(r"^\s*(?:(?:\d+|[a-zA-Z])[.)]|[-*•+>#]+|\(\d+\))\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")
_MIN_SENTENCE_WORDS = 6  # a shorter sentence ("Thank you.", "Yes, it is.") may recur naturally
_MIN_LOOP_UNIT_WORDS = 3  # a unit this long repeated back to back over 8+ words is a loop
_MIN_LOOP_REPEATED_WORDS = 8


def _normalised_line(line: str) -> str:
    """A line without its list marker or numbering, case and surrounding punctuation: "4. Apples."
    and "14. apples" are the same line."""
    return _LIST_MARKER.sub("", line).strip().strip(".,;:!?").casefold()


def _in_code(text: str) -> list[bool]:
    """For each line, whether it is inside a fenced code block or indented as code."""
    inside, flags = False, []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            flags.append(True)
        else:
            flags.append(inside or line.startswith(("    ", "\t")))
    return flags


def _repeated_line(text: str) -> tuple[str, int] | None:
    """The most frequent prose line (list markers and numbering ignored; code, table rows, blank
    lines and lines of fewer than 2 words do not count), with its count."""
    counts: Counter[str] = Counter()
    for line, code in zip(text.splitlines(), _in_code(text), strict=True):
        if code or line.lstrip().startswith("|"):
            continue
        normalised = _normalised_line(line)
        words = len(_WORDS.findall(normalised))
        # A list item counts even when it is one word ("14. Pluto"); other lines need two words.
        if words >= 2 or len(normalised) >= 12 or (words and _LIST_MARKER.match(line)):
            counts[normalised] += 1
    return counts.most_common(1)[0] if counts else None


def _repeated_sentence(text: str) -> tuple[str, int] | None:
    """The most frequent sentence of at least 6 words outside code, with its count."""
    prose = "\n".join(line for line, code in zip(text.splitlines(), _in_code(text), strict=True) if not code)
    sentences = [_normalised_line(s) for s in _SENTENCE_END.split(prose)]
    sentences = [s for s in sentences if len(s.split()) >= _MIN_SENTENCE_WORDS]
    return Counter(sentences).most_common(1)[0] if sentences else None


def _sentence_repeated_in_a_row(text: str) -> str | None:
    """A sentence of 6+ words that directly follows itself ("X. X."), or None."""
    prose = "\n".join(line for line, code in zip(text.splitlines(), _in_code(text), strict=True) if not code)
    sentences = [_normalised_line(s) for s in _SENTENCE_END.split(prose)]
    sentences = [s for s in sentences if s]
    for first, second in itertools.pairwise(sentences):
        if first == second and len(first.split()) >= _MIN_SENTENCE_WORDS:
            return first
    return None


def _loop_units(text: str) -> tuple[list[str], list[str], str]:
    """Normalised units (words without case and edge punctuation, or characters for text written
    without spaces), the units as written, and their separator."""
    words = text.split()
    collapsed = " ".join(words)  # indentation is not a loop
    if words and len(collapsed) / len(words) <= 20:
        return [w.strip(".,;:!?\"'()").casefold() for w in words], words, " "
    characters = list(collapsed[:_FRAGMENTATION_SAMPLE])
    return characters, characters, ""


_NGRAM_TOKEN = re.compile(r"[^\W_]+")
_NGRAM_WORDS = 6  # a phrase this long recurring is a copy, not a turn of phrase
_MIN_WORDS_FOR_NGRAMS = 40


def repeated_ngram_share(text: str, n: int = _NGRAM_WORDS) -> tuple[float, str]:
    """Share of the text's word ``n``-grams that already occurred earlier in it, and the most repeated
    one. Case, punctuation and numbers are ignored ("4. Add tea" and "6. add tea" are the same), so a
    loop that changes a number, a word or its order now and then still repeats most of its n-grams;
    prose and lists rarely repeat six words in a row. Code blocks and table rows are left out (code
    repeats itself legitimately). 0 under 40 words."""
    lines = [
        line
        for line, code in zip(text.splitlines(), _in_code(text), strict=True)
        if not code and not line.lstrip().startswith("|")
    ]
    tokens = ["#" if t.isdigit() else t.casefold() for t in _NGRAM_TOKEN.findall("\n".join(lines))]
    if len(tokens) < _MIN_WORDS_FOR_NGRAMS:
        return 0.0, ""
    counts: Counter[tuple[str, ...]] = Counter()
    repeated = 0
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if gram.count("#") == n:
            continue  # "1 2 3 4 5 6": counting or numeric data, not words said again
        repeated += gram in counts
        counts[gram] += 1
    if not counts:
        return 0.0, ""
    top, _ = counts.most_common(1)[0]
    return repeated / (len(tokens) - n + 1), " ".join(top)


@register_check("no_repetition", family=FAMILY, summary="No degenerate loop (repeated phrase, line or sentence).")
def no_repetition(
    text: str,
    max_repeats: int = 3,
    max_line_repeats: int = 2,
    max_sentence_repeats: int = 2,
    max_unit_words: int = 12,
    max_repeated_ngrams: float = 0.25,
) -> CheckResult:
    """Fails on any of: a unit of 1..``max_unit_words`` words repeated back to back more than
    ``max_repeats`` times ("the the the the"), or a unit of 3+ words whose back-to-back repeats
    cover 8+ words ("a cat with a tail of a cat, a cat with a tail of"); a line occurring more than
    ``max_line_repeats`` times, list markers and numbering ignored ("4. Apples" ... "14. Apples");
    a sentence of 6+ words occurring more than ``max_sentence_repeats`` times, or repeated right after
    itself; or, in outputs of 40+ words, more than ``max_repeated_ngrams`` of the 6-word sequences
    already said earlier (numbers, case and punctuation ignored): a loop that varies slightly. Units
    without a letter ("%s, %s, %s", "-----") are not loops. Code blocks and table
    rows are not lines or sentences here (code repeats lines legitimately). Case and edge
    punctuation are ignored. The score is the largest repeat count found."""
    units, written, separator = _loop_units(text)
    loop = tandem_repeat(units, max_unit_words)
    if loop is not None and not _has_letters(loop.unit):
        loop = None  # "%s, %s, %s", "-----", "!!!!": placeholders and rules, not language looping
    unit = separator.join(written[loop.start : loop.start + len(loop.unit)]) if loop else None
    line = _repeated_line(text)
    sentence = _repeated_sentence(text)
    count = loop.count if loop else 1
    line_count = line[1] if line else 0
    sentence_count = sentence[1] if sentence else 0
    ngram_share, ngram = repeated_ngram_share(text)
    details: dict[str, object] = {
        "loop_count": count,
        "loop_unit": unit,
        "line_count": line_count,
        "line": line[0] if line else None,
        "sentence_count": sentence_count,
        "sentence": sentence[0] if sentence else None,
        "repeated_ngrams": ngram_share,
    }
    score = float(max(count, line_count, sentence_count))
    problems = []
    long_loop = (
        loop is not None
        and len(loop.unit) >= _MIN_LOOP_UNIT_WORDS
        and separator == " "
        and loop.repeated >= _MIN_LOOP_REPEATED_WORDS
    )
    if loop is not None and (loop.count > max_repeats or long_loop):
        at = len(separator.join(written[: loop.start]))  # approximate when whitespace runs vary
        why = (
            f"max {max_repeats}"
            if loop.count > max_repeats
            else (f"{loop.repeated} words repeat the unit back to back")
        )
        problems.append(f"{unit!r} repeated {loop.count} times in a row ({why}): {truncate(text, at)}")
    if line is not None and line_count > max_line_repeats:
        problems.append(
            f"line {line[0]!r} occurs {line_count} times (max {max_line_repeats}; list markers and numbering ignored)"
        )
    in_a_row = _sentence_repeated_in_a_row(text)
    if (
        sentence is not None
        and sentence_count > max_sentence_repeats
        and (line is None or sentence[0] != line[0] or line_count <= max_line_repeats)
    ):
        problems.append(
            f"sentence {clip(sentence[0], 120)!r} occurs {sentence_count} times (max {max_sentence_repeats})"
        )
    elif in_a_row is not None and not problems:
        problems.append(f"sentence {clip(in_a_row, 120)!r} is repeated right after itself")
    if not problems and ngram_share > max_repeated_ngrams:
        problems.append(
            f"{ngram_share:.0%} of its 6-word sequences were already said earlier (max {max_repeated_ngrams:.0%}; "
            f"numbers and case ignored), e.g. {ngram!r}"
        )
    if not problems:
        return CheckResult("no_repetition", True, "no_repetition: no loop found", score, details, text)
    message = f"no_repetition: expected no degenerate loops; {'; '.join(problems)}"
    return CheckResult("no_repetition", False, message, score, details)


# --- not_truncated --------------------------------------------------------------------------------


@register_check("not_truncated", family=FAMILY, summary="Generation ended by itself, not at the token limit.")
def not_truncated(text: str, heuristic: bool = False) -> CheckResult:
    """Fails when generation stopped at ``max_new_tokens`` (finish reason ``"length"``): a fact the
    backend reports, not a guess. An output whose finish reason is unknown (a plain ``str``, or the
    text a ``py:`` pipeline returned) cannot be judged that way: the check raises a usage error
    saying so, unless ``heuristic=True``, which judges by how the text ends instead (prose that
    stops mid-sentence fails; lists, code, tables and short answers pass)."""
    given = checked_output(text)  # the Generation check() was given, or text itself
    reason = getattr(given, "finish_reason", None)
    tokens = getattr(given, "num_tokens", None)
    details: dict[str, object] = {"finish_reason": reason}
    if reason == "length":
        limit = getattr(getattr(getattr(given, "request", None), "params", None), "max_new_tokens", None)
        said = f"{tokens} tokens" if tokens is not None else "the token limit"
        limit_text = f" (max_new_tokens={limit})" if limit is not None else ""
        message = (
            f"not_truncated: generation stopped at the token limit after {said}{limit_text}, "
            f"so the output may be cut off; raise max_new_tokens or ask for a shorter answer; "
            f"output ends: {truncate(str(text)[-EXCERPT_TAIL:])}"
        )
        return CheckResult("not_truncated", False, message, 0.0, details)
    if reason == "stop":
        return CheckResult(
            "not_truncated", True, "not_truncated: the model ended its output itself", 1.0, details, text
        )
    if not heuristic:
        where = (
            "its backend cannot tell (a py: pipeline returns text only)"
            if reason
            else ("it is a plain str, not a Generation")
        )
        raise CheckUsageError(
            f"check 'not_truncated': the output has no finish reason ({where}), so whether it was cut "
            "at the token limit is unknown; pass heuristic=True to judge by how the text ends"
        )
    cut = truncated(str(text)) > 0.5
    details["heuristic"] = True
    if cut:
        message = (
            "not_truncated: the output has no finish reason and its prose stops mid-sentence "
            f"(heuristic): ends {truncate(str(text)[-EXCERPT_TAIL:])}"
        )
        return CheckResult("not_truncated", False, message, 0.0, details)
    return CheckResult(
        "not_truncated",
        True,
        "not_truncated: no finish reason; the text ends like a finished answer (heuristic)",
        1.0,
        details,
        text,
    )

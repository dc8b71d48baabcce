"""The signals of ``not_garbled``: each a plain function of the text (and a tokenizer for
``fragmentation``), measured by ``garble_signals`` in ``quality.py`` and by the calibration benchmark.

The word-list signals (anagrams, CJK pairs) are in ``lexicon.py``, the letter tables in
``letter_pairs.py``.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
from importlib import resources

from pytest_llmeval.checks._text import TandemRepeat, clip, longest_repeated_substring, tandem_repeat
from pytest_llmeval.checks.base import Tokenizer
from pytest_llmeval.checks.letter_pairs import MAX_FOREIGN_LETTERS, text_language, word_plausibility

_MAX_UNIT_WORDS = 12  # longest loop unit looked for, in words
MIN_WORDS_FOR_RATIOS = 8  # below this, shares of words are noise ("positive" is one word)
_MIN_REPEATED_CHARS = 40  # a repeated substring shorter than this is a phrase, not a loop
# A short text needs two implausible words among at least three to fail: no clean text of the
# calibration or development parts under 8 words has two, shuffled ones mostly do.
_MIN_WORDS_FOR_IMPLAUSIBLE = 3
MIN_WORDS_FOR_SURPRISE = 15  # the mean letter-pair score of a few words is noise
_IMPLAUSIBLE_WORD_FLOOR = -4.0  # mean log-probability per letter below which a word is implausible
SAMPLE_CHARS = 20_000  # characters read by signals that need not read all of a long output
WORDS = re.compile(r"[^\W\d_]+")
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
    if len(words) < MIN_WORDS_FOR_RATIOS:
        return 0.0, None
    loop = tandem_repeat(words, _MAX_UNIT_WORDS)
    if loop is not None and not has_letters(loop.unit):
        loop = None  # "%s, %s, %s" or "-----": placeholders and rules, not a loop
    return (loop.extra_tokens / len(words) if loop else 0.0), loop


def has_letters(unit: tuple[str, ...]) -> bool:
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
    words = WORDS.findall(text)
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
# Paths and LaTeX ("C:\\Users", "\\frac{a}{b}") are not prose either.
_NOT_PROSE_TOKEN = re.compile(r"[/.:_()\[\]`'\"=\\]|&\w+;|^[-#@$<]|^[A-Z&]+$")


# printf-style placeholders of program messages and code: "%s", "%d", "%1$s", "%.250s", "%-10s".
_PLACEHOLDER = re.compile(r"(?<![^\W\d_])%(?:\d+\$)?[-+ 0#]*\d*(?:\.\d+)?(?:l{0,2}|h|z|j|t|L)[sdiouxXeEfFgGcpnm%]")


def ascii_symbol_share(text: str) -> tuple[float, str]:
    """Tokens with ASCII symbols in place of letters per letter of text, and one such token (0 under
    2: one "cioty|wc" is a typo; no clean text of the calibration or development parts has two).

    A single kind of symbol between words is a separator or markup ("yes|no|maybe", "rock&roll",
    "Mitarbeiter*innen", "周一~周五", "**重要**的"), so such tokens count only in a text where some
    token has a symbol prose never puts inside a word (``# % @ $ ^ +``) or two kinds of symbols."""
    kinds = [
        (t, _symbols_between_letters(t))
        for t in _MARKUP.sub(" ", _PLACEHOLDER.sub(" ", text)).split()
        if _CJK_CHAR.search(t) or not _NOT_PROSE_TOKEN.search(t)  # CJK runs without spaces
    ]
    hits = [(t, symbols) for t, symbols in kinds if symbols]
    strong = [t for t, symbols in hits if symbols & _RARE_INSIDE_WORDS or len(symbols) >= 2]
    if not strong or len(hits) < _MIN_ASCII_SYMBOL_HITS:
        return 0.0, ""
    letters = sum(1 for c in text if c.isalpha()) or 1
    return len(hits) / letters, clip(strong[0], 40)


_RARE_INSIDE_WORDS = frozenset("#%@$^+")


def _symbols_between_letters(token: str) -> set[str]:
    return {c for match in _ASCII_SYMBOL_INSIDE.finditer(token) for c in match.group()[1:]}


# Sentence punctuation of any script, or a line break: prose has one every few words.
_PAUSE = re.compile(r"[.,;:!?()\[\]{}\"“”«»„—–\-/|\n。、，；：！？・]")


_LONG_WORD_LETTERS = 13


def long_word_share(text: str) -> float | None:
    """In text that reads as English, the share of words of 13+ letters without an inner capital:
    vocabulary pieces glued together ("hierarchiesforthedience") are long, English words rarely are.
    None for other languages (German compounds are long and fine) or under 8 words; 0 under 3."""
    if text_language(text) != "en":
        return None
    words = WORDS.findall(text[:SAMPLE_CHARS])
    if len(words) < MIN_WORDS_FOR_RATIOS:
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


def in_language_without_table(text: str) -> bool:
    """Over 2% of the text's scorable letters are ones its best-fitting letter table lacks."""
    scored = word_plausibility(text, _IMPLAUSIBLE_WORD_FLOOR)
    return scored is not None and scored.foreign_letters > MAX_FOREIGN_LETTERS


def letter_signals(text: str) -> tuple[float | None, float | None, str, str]:
    """``implausible_words`` and ``letter_surprise`` (see letter_pairs), a note, and why they were not
    measured ("" when they were). Not measured when the text has too few scorable words, when most of
    its letters are of a script without tables (the Latin words in Japanese or Chinese text are names
    and identifiers: "chfn", "pg_class"), or when over 2% of its letters are ones the best-fitting
    table (almost) never has (Kazakh "ә ң ұ" read as Russian, Kurdish "ê" as Sardinian): such a text
    is in a language without a table, whose every word looks implausible to its neighbours' tables.
    (Shuffled text of a language with a table can fit another table best this way: ``anagram_words``
    reads it in a language that has its letters.)"""
    scored = word_plausibility(text, _IMPLAUSIBLE_WORD_FLOOR)
    if scored is None or scored.words < _MIN_WORDS_FOR_IMPLAUSIBLE:
        return None, None, "", f"fewer than {_MIN_WORDS_FOR_IMPLAUSIBLE} words of an alphabetic script"
    letters = sum(1 for c in text if c.isalpha())
    if scored.letters < 0.5 * letters:
        return None, None, "", "most letters are of a script without letter tables"
    if scored.foreign_letters > MAX_FOREIGN_LETTERS:
        return (
            None,
            None,
            "",
            (
                f"{scored.foreign_letters:.0%} of the letters ({scored.foreign_examples}) are ones the "
                f"best-fitting letter table ({scored.language}) lacks: a language without a table"
            ),
        )
    note = (
        f"read as {scored.language}; e.g. {', '.join(scored.examples)}"
        if scored.examples
        else (f"read as {scored.language}")
    )
    surprise = scored.surprise if scored.words >= MIN_WORDS_FOR_SURPRISE else None
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
    lines = [line for line, code in zip(text.splitlines(), code_lines(text), strict=True) if not code]
    words: list[str] = []
    for token in _PLACEHOLDER.sub(" ", "\n".join(lines)).split():
        core = token.strip(_EDGE_PUNCTUATION)
        if core and not _CODE_TOKEN.search(core):
            words.extend(w for w in WORDS.findall(core) if len(w) > 1)
    changed = sum(
        1 for w in words if len(w) >= _MIN_CASE_CHANGE_LETTERS and _has_case_change(w) and not _PASCAL_CASE.fullmatch(w)
    )
    if len(words) < MIN_WORDS_FOR_RATIOS or changed < 2:
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
    lines = [line for line, code in zip(text.splitlines(), code_lines(text), strict=True) if not code]
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
    for a dozen words without one. None when the text reads as no language with a table (CJK, under 5
    scorable words, or letters no table has: see ``letter_signals``)."""
    language = text_language(text)
    if language is None or in_language_without_table(text):
        return None  # a Kazakh or Kurdish text has no frequent word of its neighbours' lists
    tables = _frequent_words()
    frequent = tables.get(language, frozenset()) | tables.get("en", frozenset())
    longest = run = 0
    for token in text[:SAMPLE_CHARS].split(" "):
        word = "".join(WORDS.findall(token)).lower()
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
    words = [w for w in WORDS.findall(text[:SAMPLE_CHARS]) if w.isascii()]
    if len(words) < MIN_WORDS_FOR_RATIOS:
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


def code_lines(text: str) -> list[bool]:
    """For each line, whether it is inside a fenced code block or indented as code."""
    inside, flags = False, []
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            flags.append(True)
        else:
            flags.append(inside or line.startswith(("    ", "\t")))
    return flags

"""Quality checks: the output is readable text, not a broken model's noise.

``not_garbled`` computes named signals, each with its own threshold argument; the failure message names
every signal that tripped with its value and threshold, and ``details["signals"]`` holds all values.
Defaults are tuned on the calibration part of ``benchmarks/data/`` (man pages, translations, fortunes,
code; see ``benchmarks/build_corpora.py``) and measured on a held-out part by
``benchmarks/heuristic_checks.py``.

``no_repetition`` reports degenerate loops; it shares its repetition finder with ``not_garbled``.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

from pytest_llmeval.checks._text import (
    clip,
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
from pytest_llmeval.checks.garble_signals import (
    MIN_WORDS_FOR_RATIOS,
    MIN_WORDS_FOR_SURPRISE,
    SAMPLE_CHARS,
    WORDS,
    ascii_symbol_share,
    case_change_share,
    code_lines,
    content_word_run,
    control_share,
    fragmentation,
    glued_punctuation_share,
    has_letters,
    letter_signals,
    long_word_share,
    longest_unpunctuated_run,
    mixed_script_share,
    mojibake_share,
    repeated_substring_share,
    repetition_share,
    symbol_share,
    truncated,
)
from pytest_llmeval.checks.letter_pairs import text_language
from pytest_llmeval.checks.lexicon import MIN_CJK_PAIRS, anagram_share, unknown_cjk_pair_share

__all__ = ["GarbleSignals", "garble_signals", "no_repetition", "not_garbled", "not_truncated"]

FAMILY = "quality"
EXCERPT_TAIL = 120  # characters of the end of an output shown by not_truncated

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
            letters_skipped or f"fewer than {MIN_WORDS_FOR_SURPRISE} words of an alphabetic script"
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
        skipped["content_run"] = "the text reads as no language with a frequent-word list (or its letters fit no table)"
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
            skipped["fragmentation"] = f"fewer than {MIN_WORDS_FOR_RATIOS} words"
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


def _repeated_line(text: str) -> tuple[str, int] | None:
    """The most frequent prose line (list markers and numbering ignored; code, table rows, blank
    lines and lines of fewer than 2 words do not count), with its count."""
    counts: Counter[str] = Counter()
    for line, code in zip(text.splitlines(), code_lines(text), strict=True):
        if code or line.lstrip().startswith("|"):
            continue
        normalised = _normalised_line(line)
        words = len(WORDS.findall(normalised))
        # A list item counts even when it is one word ("14. Pluto"); other lines need two words.
        if words >= 2 or len(normalised) >= 12 or (words and _LIST_MARKER.match(line)):
            counts[normalised] += 1
    return counts.most_common(1)[0] if counts else None


def _repeated_sentence(text: str) -> tuple[str, int] | None:
    """The most frequent sentence of at least 6 words outside code, with its count."""
    prose = "\n".join(line for line, code in zip(text.splitlines(), code_lines(text), strict=True) if not code)
    sentences = [_normalised_line(s) for s in _SENTENCE_END.split(prose)]
    sentences = [s for s in sentences if len(s.split()) >= _MIN_SENTENCE_WORDS]
    return Counter(sentences).most_common(1)[0] if sentences else None


def _sentence_repeated_in_a_row(text: str) -> str | None:
    """A sentence of 6+ words that directly follows itself ("X. X."), or None."""
    prose = "\n".join(line for line, code in zip(text.splitlines(), code_lines(text), strict=True) if not code)
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
    characters = list(collapsed[:SAMPLE_CHARS])
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
        for line, code in zip(text.splitlines(), code_lines(text), strict=True)
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
    if loop is not None and not has_letters(loop.unit):
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

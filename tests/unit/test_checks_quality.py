"""Quality checks: not_garbled (signals, thresholds, calibration) and no_repetition."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from pytest_llmeval.checks import check, using_tokenizer
from pytest_llmeval.checks._text import longest_repeated_substring, tandem_repeat
from pytest_llmeval.checks.garble_corpus import (
    build_corpus,
    byte_noise,
    decoded_vocabulary,
    prose_paragraphs,
    shuffle_words,
)
from pytest_llmeval.checks.quality import garble_signals

PROSE = (
    "The sqlite3 module provides an interface to SQLite databases. Connections are created with "
    "connect(), and every statement runs through a cursor. Results come back as tuples unless a "
    "row factory is set, which lets callers read columns by name."
)

NO_CJK_PAIRS = dict.fromkeys(
    ("unknown_chinese_pairs", "unknown_japanese_pairs"),
    "fewer than 16 pairs of adjacent Chinese or Japanese characters",
)

CLEAN_SHORT = [
    "positive",
    "42",
    "-3.5",
    '{"name": "Ann", "age": 31}',
    "[1, 2, 3]",
    "Yes.",
    "def double(x):\n    return x * 2\n",
    "SELECT id, name FROM users WHERE age > 30;",
    "Great job! 🎉🎉",
    "Le café est fermé le lundi.",
    "東京は日本の首都です。",
    "Москва — столица России.",
]


@pytest.mark.parametrize("output", CLEAN_SHORT)
def test_short_clean_outputs_are_not_garbled(output: str, tokenizer: Any) -> None:
    result = check("not_garbled", output, tokenizer=tokenizer)
    assert result.passed, result.message
    assert result.message == "not_garbled: no garble signal tripped"


def test_clean_prose_passes_with_all_signals_measured(tokenizer: Any) -> None:
    result = check("not_garbled", PROSE, tokenizer=tokenizer)
    assert result.passed
    signals = result.details["signals"]
    assert set(signals) == {
        "control_chars",
        "symbols",
        "mojibake",
        "ascii_symbols",
        "implausible_words",
        "letter_surprise",
        "anagram_words",
        "unknown_chinese_pairs",
        "unknown_japanese_pairs",
        "repetition",
        "repeated_substring",
        "fragmentation",
        "mixed_scripts",
        "case_changes",
        "unpunctuated_run",
        "content_run",
        "glued_punctuation",
        "long_words",
        "truncated",
    }
    assert "truncated" not in result.details["thresholds"]  # opt-in only
    assert signals["fragmentation"] is not None
    assert result.details["skipped"] == NO_CJK_PAIRS  # English: no CJK to read
    assert 0 < result.score <= 1


def test_empty_output_fails() -> None:
    for output in ("", "  \n\t"):
        result = check("not_garbled", output)
        assert not result.passed
        assert result.message == "not_garbled: expected readable text; got an empty output"


def test_control_characters_trip_their_signal() -> None:
    result = check("not_garbled", "Hello w\ufffdrld \x00\x01 this is \x02 noise")
    assert not result.passed
    assert result.message.startswith("not_garbled: output looks garbled: control_chars 0.133 > max 0.001; output:")
    assert result.score == 0.0


def test_repetition_loop_names_the_unit() -> None:
    result = check("not_garbled", "I am a bot. " * 10)
    assert "repetition 0.9 > max 0.3 (unit 'I am a bot.' x10)" in result.message
    assert "repeated_substring 0.9 > max 0.4" in result.message


def test_mixed_scripts_and_symbols(tokenizer: Any) -> None:
    mixed = check("not_garbled", "Enter your pаssword to continue with the login form now.")  # Cyrillic а
    assert "mixed_scripts 0.1 > max 0 (e.g. 'pаssword')" in mixed.message
    mojibake = "Itâ€™s Ã©tÃ© Ã  Paris â€” cafÃ© Â© ¤¤ ¦ ¬ ° ± ² ³"
    assert "symbols" in check("not_garbled", mojibake, tokenizer=tokenizer).message


def test_truncation_is_not_garbling_unless_asked_for() -> None:
    text = "This answer is long enough to judge properly. And here is another sentence that stops in the midd"
    assert check("not_garbled", text).passed
    result = check("not_garbled", text, check_truncation=True)
    assert "truncated 1 > max 0.5" in result.message
    assert check("not_garbled", text + "le.", check_truncation=True).passed


def test_list_or_code_ending_is_not_truncation() -> None:
    listing = "Here are the steps. Follow them in order.\n- Open settings\n- Click reset password"
    code = "Use this function. It doubles a number.\n\n    def double(x):\n        return x * 2"
    assert check("not_garbled", listing, check_truncation=True).passed
    assert check("not_garbled", code, check_truncation=True).passed


def test_fragmentation_uses_active_tokenizer_or_is_skipped(tokenizer: Any) -> None:
    shuffled = shuffle_words(PROSE, random.Random(1))
    without = check("not_garbled", shuffled)
    assert without.details["skipped"] == {
        "fragmentation": "no tokenizer (pass tokenizer= or run under the plugin)",
        **NO_CJK_PAIRS,
    }
    with using_tokenizer(tokenizer):
        active = check("not_garbled", shuffled)
    assert not active.passed
    assert "fragmentation" in active.message and "> max 2" in active.message


def test_fragmentation_is_relative_to_the_tokenizer(tokenizer: Any) -> None:
    """A tokenizer with a small vocabulary splits clean English finely too: that is not noise."""
    from pytest_llmeval.checks.garble_signals import fragmentation
    from pytest_llmeval.testing import DEFAULT_CORPUS, train_tokenizer

    small = train_tokenizer(DEFAULT_CORPUS, vocab_size=400)
    clean = "Open Settings, choose Security, and turn on two-factor authentication for every account you use."
    with using_tokenizer(small):
        assert check("not_garbled", clean).passed
    shuffled = shuffle_words(PROSE, random.Random(1))
    assert fragmentation(shuffled, tokenizer) > 2.0 > fragmentation(PROSE, tokenizer)


def test_thresholds_are_arguments(tokenizer: Any) -> None:
    noisy = byte_noise(PROSE, random.Random(3))
    assert not check("not_garbled", noisy).passed
    assert check(
        "not_garbled",
        noisy,
        max_control_chars=1.0,
        max_symbols=1.0,
        max_case_changes=1.0,
        max_mixed_scripts=1.0,
        max_fragmentation=99.0,
        max_mojibake=1.0,
        max_ascii_symbols=1.0,
        max_implausible_words=1.0,
        max_letter_surprise=99.0,
        max_unpunctuated_run=1e9,
        max_long_words=1.0,
        max_content_run=1e9,
        max_glued_punctuation=1.0,
        tokenizer=tokenizer,
    ).passed


@pytest.mark.parametrize(
    "output",
    [
        "a" * 100_000,
        "\x00\x01" * 50_000,
        "lorem ipsum dolor sit amet " * 4000,
        "".join(random.Random(0).choice("abcdefgh ") for _ in range(100_000)),
    ],
    ids=["one-char", "control", "loop", "random"],
)
def test_huge_outputs_are_fast(output: str, tokenizer: Any) -> None:
    started = time.perf_counter()
    result = check("not_garbled", output, tokenizer=tokenizer)
    repetition = check("no_repetition", output)
    assert time.perf_counter() - started < 3.0
    assert not result.passed
    assert len(result.message) < 1500 and len(repetition.message) < 1500


def test_calibration_meets_precision_and_recall_targets(tokenizer: Any) -> None:
    """The benchmark's measurement on a smaller corpus and the tiny session tokenizer."""
    samples = build_corpus(seed=1, per_kind=40, vocabulary=decoded_vocabulary(tokenizer))
    samples = [s for s in samples if s.kind != "truncated"]  # truncation is not_truncated's job now
    flagged = [not check("not_garbled", s.text, tokenizer=tokenizer).passed for s in samples]
    true_pos = sum(f for s, f in zip(samples, flagged, strict=True) if s.garbled)
    false_pos = sum(f for s, f in zip(samples, flagged, strict=True) if not s.garbled)
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / sum(s.garbled for s in samples)
    assert precision >= 0.95 and recall >= 0.9, (precision, recall)


def test_corpus_is_real_and_deterministic() -> None:
    paragraphs = prose_paragraphs()
    assert len(paragraphs) > 50 and all(p.endswith(".") for p in paragraphs)
    first = [s.text for s in build_corpus(seed=5, per_kind=5)]
    assert first == [s.text for s in build_corpus(seed=5, per_kind=5)]


def test_signals_are_shared_with_the_benchmark() -> None:
    values = garble_signals("word " * 50).values
    assert values["repetition"] == pytest.approx(49 / 50)
    assert values["fragmentation"] is None


# --- no_repetition --------------------------------------------------------------------------------


def test_no_repetition_reports_unit_and_count() -> None:
    result = check("no_repetition", "Sure. " + "the answer is " * 6 + "done")
    assert not result.passed
    assert result.message.startswith(
        "no_repetition: expected no degenerate loops; 'the answer is' repeated 6 times in a row (max 3): "
    )
    assert result.score == 6.0
    assert result.details["loop_unit"] == "the answer is"


def test_no_repetition_allows_natural_repeats() -> None:
    assert check("no_repetition", "It is very, very good. No no, that is fine.").passed
    assert check("no_repetition", PROSE).passed
    assert check("no_repetition", "ha ha ha").passed


def test_no_repetition_repeated_lines_and_thresholds() -> None:
    text = "\n".join(["Click the button below.", "Then wait."] * 4)
    result = check("no_repetition", text)
    assert "line 'click the button below' occurs 4 times (max 2; list markers and numbering ignored)" in result.message
    assert check("no_repetition", text, max_line_repeats=4, max_repeats=4).passed is False  # 4x a 5-word unit
    assert not check("no_repetition", "go go go", max_repeats=2).passed


def test_no_repetition_without_spaces_uses_characters() -> None:
    result = check("no_repetition", "床前明月光，" * 6)
    assert "'床前明月光，' repeated 6 times in a row" in result.message


def test_negated_quality_checks() -> None:
    assert check("not_no_repetition", "again " * 10).passed


# --- shared helpers -------------------------------------------------------------------------------


def _brute_force_lrs(text: str) -> int:
    best = 0
    for length in range(1, len(text)):
        seen: set[str] = set()
        if not any(
            text[i : i + length] in seen or seen.add(text[i : i + length]) for i in range(len(text) - length + 1)
        ):
            break
        best = length
    return best


def test_longest_repeated_substring_matches_brute_force() -> None:
    rng = random.Random(7)
    for _ in range(200):
        text = "".join(rng.choice("ab c") for _ in range(rng.randint(0, 30)))
        assert longest_repeated_substring(text)[0] == _brute_force_lrs(text), text


def test_tandem_repeat_prefers_the_most_repeated_tokens() -> None:
    loop = tandem_repeat("x a b a b a b y y".split())
    assert loop is not None and (loop.unit, loop.count, loop.start) == (("a", "b"), 3, 1)
    assert tandem_repeat(["a", "b", "c"]) is None


@pytest.mark.parametrize("text", ["It costs 5 €.", "Price: €12, or ₹900.", "Acme™ and Widget® are ours ©2024."])
def test_currency_and_trademark_signs_are_not_noise(text: str) -> None:
    assert check("not_garbled", text).passed


@pytest.mark.parametrize("text", ["Itâ€™s a nice dayâ€¦ isnâ€™t it", "CafÃ© au lait Ã  la carte, trÃ¨s bien"])
def test_mojibake_is_noise(text: str) -> None:
    result = check("not_garbled", text)
    assert not result.passed and "symbols" in result.message


# --- no_repetition on real loops (issue 15) -------------------------------------------------------

POEM_LOOP = (  # SmolLM2-135M-Instruct, greedy, "Write a short poem about the sea."
    "The waves of the ocean, a tapestry woven with life,\nA canvas of endless blue, a canvas of endless blue,\n"
    "A realm where the unknown lies, a realm where the unknown lies,\n"
    "A world where the sea is a place, a place where the sea is a place,\n"
    "A world where the sea is a place, a place where the sea is a place,\n"
    "A world where the sea is a place, a place where the sea is a place,"
)


def test_no_repetition_catches_three_identical_poem_lines() -> None:
    result = check("no_repetition", POEM_LOOP)
    assert not result.passed
    assert "occurs 3 times (max 2; list markers and numbering ignored)" in result.message


@pytest.mark.parametrize("item", ["Ananasalen", "Apples", "Pluto"])
def test_no_repetition_ignores_list_numbering(item: str) -> None:
    first = 1 if item == "Apples" else 4
    listing = "\n".join(f"{n}. {item}" for n in range(first, 15))
    result = check("no_repetition", listing)
    assert not result.passed and f"line '{item.lower()}' occurs" in result.message


def test_no_repetition_catches_sentences_repeated_two_to_two_and_a_half_times() -> None:
    twice = (
        "The AI began to explore the world of art, and the AI began to explore the world of art. "
        "The AI began to explore the world of art, and the AI began to explore the world of art."
    )
    assert not check("no_repetition", twice).passed
    cut = (
        "The latest news is that the latest update on the latest news is that the latest update on "
        "the latest news is that the"
    )
    assert not check("no_repetition", cut).passed
    news = "I'm sure you're aware that Paris is a city that's always ahead of the curve. "
    assert not check("no_repetition", "Bien sûr. " + news * 2).passed


def test_no_repetition_passes_real_lists_tables_and_code() -> None:
    fruits = "1. Bananas\n2. Apples\n3. Oranges\n4. Grapes\n5. Strawberries"
    table = "| name | qty |\n| --- | --- |\n| a | 1 |\n| a | 1 |\n| a | 1 |"
    code = "```python\nif a:\n    return None\nif b:\n    return None\nif c:\n    return None\n```"
    authors = "Авторы программы — %s, %s, %s,\n%s, %s, %s, %s,\n%s, %s и другие."  # a real gettext string
    for text in (fruits, table, code, authors, PROSE):
        assert check("no_repetition", text).passed, text


# --- not_garbled and not_truncated on real text (issue 15) ---------------------------------------

CLEAN_NON_ENGLISH = [  # real translations shipped by Debian (gettext catalogues, man pages, fortunes)
    "pg_classのインデックスを再構築します。詳しくは REINDEX を参照してください。",
    "Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof zum Flughafen, auch am Wochenende.",
    "Если этот параметр не указан, используется значение по умолчанию из файла настроек.",
    "El núcleo nuevo se instala en el directorio indicado. Si ya existe un enlace simbólico, se actualiza.",
    "Quand cette option est utilisée, le programme affiche les fichiers au lieu de les supprimer.",
    "如果指定了文件，则读取该文件以决定文件类型及扩展名对应的颜色。",
]


@pytest.mark.parametrize("text", CLEAN_NON_ENGLISH)
def test_clean_non_english_passes(text: str) -> None:
    assert check("not_garbled", text).passed, check("not_garbled", text).message


@pytest.mark.parametrize(
    "text",
    [
        "See the documentation at https://docs.python.org/3/library/json.html",
        "Supported formats: csv, json, yaml, toml, ini",
        "Here are the steps I'd recommend for a first trip\n- pack light\n- book early",
    ],
)
def test_clean_text_without_final_period_passes(text: str) -> None:
    assert check("not_garbled", text).passed


def test_ascii_symbol_soup_fails() -> None:
    soup = "Th#s p%ck&ge pr$v*des a f@st w^y t~ c|mp&re t#xt f%les an@ pr*nt th$ d%ff&rences."
    result = check("not_garbled", soup)
    assert not result.passed and "ascii_symbols" in result.message


def test_keyboard_mash_fails_without_a_tokenizer() -> None:
    mash = "asdf jkl; sdfkj hjkl qwer tyui zxcvb nmmn sdfgh jklk wert yuio dfghj"
    assert "implausible_words" in check("not_garbled", mash).message


def test_real_model_noise_fails() -> None:
    noise = (
        "SymcosmThroughoutDel vigessa mil antivirusLC BBC fixturesCampificallyHelmu Michel Drake "
        "WILLilate strengthened partnersStone TalmudienWM sdk CornwallVC into Metropolitan "
        "Springsthick machinery latgdatabase bidding onlinePRESS their earningboundsganan"
    )
    assert not check("not_garbled", noise).passed


def test_not_truncated_uses_the_finish_reason() -> None:
    from pytest_llmeval.backends.base import (
        Generation,
        GenerationParams,
        GenerationRequest,
    )

    request = GenerationRequest("Why is the sky blue?", None, None, GenerationParams(max_new_tokens=24))
    cut = Generation(
        "The sky appears blue because of a phenomenon known",
        request=request,
        num_tokens=24,
        finish_reason="length",
        latency_s=0.1,
    )
    result = check("not_truncated", cut)
    assert not result.passed
    assert result.message.startswith(
        "not_truncated: generation stopped at the token limit after 24 tokens (max_new_tokens=24)"
    )
    assert check("not_garbled", cut).passed  # a cut answer is not garbled
    done = Generation(
        "The sky is blue because air scatters blue light most",
        request=request,
        num_tokens=11,
        finish_reason="stop",
        latency_s=0.1,
    )
    assert check("not_truncated", done).passed  # no final period, but the model ended it


def test_not_truncated_on_text_without_finish_reason() -> None:
    from pytest_llmeval.checks import CheckUsageError

    with pytest.raises(CheckUsageError, match="no finish reason .*pass heuristic=True"):
        check("not_truncated", "Some text from a pipeline")
    cut = "This answer is long enough to judge properly. And here is another sentence that stops in the midd"
    assert not check("not_truncated", cut, heuristic=True).passed
    assert check("not_truncated", cut + "le.", heuristic=True).passed


@pytest.mark.parametrize("text", CLEAN_NON_ENGLISH)
def test_clean_non_english_passes_with_an_english_tokenizer(text: str, tokenizer: Any) -> None:
    result = check("not_garbled", text, tokenizer=tokenizer)
    assert result.passed, result.message


def test_a_german_sentence_pair_sharing_a_clause_is_not_a_loop() -> None:
    pair = (
        "Bitte überprüfen Sie die Einstellungen der Anwendung und starten Sie das Programm neu. "
        "Bitte überprüfen Sie die Einstellungen der Anwendung und melden Sie sich erneut an."
    )
    assert check("not_garbled", pair).passed
    assert check("no_repetition", pair).passed


def test_letter_tables_read_each_script_in_its_own_language() -> None:
    from pytest_llmeval.checks.letter_pairs import text_language, word_plausibility

    assert text_language("Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof zum Flughafen.") == "de"
    assert text_language("東京は日本の首都であり、世界でも有数の大都市です。pg_class を参照。") is None
    greek = "Το αρχείο record του trigger αναφέρει ένα όνομα πακέτου που δεν είναι έγκυρο"
    scored = word_plausibility(greek, floor=-4.0)
    assert scored is not None and scored.implausible_share == 0.0  # "record", "trigger" read as English
    mash = word_plausibility("sdfkj hjklk qwrt zxcvbn dfghj wqrt", floor=-4.0)
    assert mash is not None and mash.implausible_share > 0.5


def test_glued_vocabulary_pieces_fail_as_long_words() -> None:
    soup = (
        "the heartburn differing corrobor hierarchiesforthedience heavy and secretebritish desert "
        "katrinaarfthe approvecheckingemplate batches, stormsconomic colony of the duplicate."
    )
    result = check("not_garbled", soup)
    assert not result.passed and "long_words" in result.message
    german = (
        "Die Straßenbahnhaltestelle liegt neben dem Hauptbahnhofsgebäude, und die "
        "Verkehrsverbundgesellschaft informiert über Fahrplanänderungen und Ersatzverkehr."
    )
    assert check("not_garbled", german).passed


# --- session 4: letter triples and near-duplicate loops ------------------------------------------


def test_shuffled_letters_fail_without_a_tokenizer() -> None:
    """Letters shuffled inside words keep most letter pairs plausible but not letter triples."""
    text = (
        "Dgos are itnleligent, lyaol, and lovnig cmpoanions that bnirg joy to tehir fmaiiles. "
        "Tehy ndee daliy execrise, a bnalaced deit and rgeulra vistis to the vteeirnarian, and "
        "tehy laern qiuckly wehn tarined wtih ptaience and ktniness."
    )
    result = check("not_garbled", text)
    assert not result.passed and "implausible_words" in result.message


@pytest.mark.parametrize(
    "text",
    [
        # real translations shipped by Debian, Cyrillic and Latin, conversational and technical
        "Если вы не уверены, что делать дальше, обратитесь к администратору системы или прочитайте справку.",
        "Dieses Programm wird in der Hoffnung verteilt, dass es nützlich ist, aber ohne jede Gewährleistung.",
        "Compruebe que el archivo existe y que tiene permiso de lectura antes de volver a intentarlo, por favor.",
    ],
)
def test_clean_prose_in_other_languages_passes_the_letter_triples(text: str) -> None:
    result = check("not_garbled", text)
    assert result.passed, result.message


DIALOGUE_LOOP = (  # SmolLM2-135M-Instruct, greedy, "Write a short dialogue between a teacher and a student."
    "Teacher: \"Student: \"I'm so glad you're here today. I'm going to give you a lesson on the importance "
    "of education. I'm going to talk about how education can help you in your future career.\n\n"
    "Student: \"I'm so glad you're here, but I'm not sure I understand the topic you're talking about. "
    "What's the topic?\"\n\nTeacher: \"I'm going to talk about the importance of education, but I'm not "
    "sure I understand the topic. What is it that you're talking about?\"\n\nStudent: \"I'm not sure I "
    "understand the topic, but I'm not sure I understand the topic. I'm not sure I understand the topic.\"\n\n"
    "Teacher: \"I'm going to talk about the topic, but I'm not sure I understand the topic. I'm not sure I "
    "understand the topic.\"\n\nStudent: \"I'm not sure I understand the topic, but I'm not sure I understand the"
)


def test_no_repetition_catches_a_loop_that_varies_slightly() -> None:
    result = check("no_repetition", DIALOGUE_LOOP)
    assert not result.passed
    assert "of its 6-word sequences were already said earlier (max 25%; numbers and case ignored)" in result.message
    assert result.details["repeated_ngrams"] > 0.25


def test_no_repetition_passes_refrains_counting_and_option_lists() -> None:
    refrain = (
        "Row, row, row your boat,\nGently down the stream.\nMerrily, merrily, merrily,\n"
        "Life is but a dream.\n\nRow, row, row your boat,\nGently down the stream.\n"
        "If you see a crocodile,\nDon't forget to scream."
    )
    counting = "\n".join(f"{n}. {n}" for n in range(1, 41))
    options = (
        "  %H   hour (00..23)\n  %I   hour (01..12)\n  %j   day of year (001..366)\n"
        "  %k   hour, space padded ( 0..23); same as %_H\n  %l   hour, space padded ( 1..12); same as %_I\n"
        "  %m   month (01..12)\n  %M   minute (00..59)\n  %n   a newline\n  %N   nanoseconds\n"
        "  %p   locale's equivalent of either AM or PM; blank if not known"
    )
    for text in (refrain, counting, options):
        result = check("no_repetition", text)
        assert result.passed, result.message


def test_cjk_inside_latin_words_is_mixed_scripts_but_latin_inside_cjk_is_not() -> None:
    noisy = (
        "This package provides dyna的说c libraries f上r 们se by applic说tions. Specifically, it "
        "provides the implementation of the XML security library."
    )
    result = check("not_garbled", noisy)
    assert not result.passed and "mixed_scripts" in result.message and "dyna的说c" in result.message
    assert check("not_garbled", "调用chmod和umask来设置文件的权限，详见手册页。").passed
    assert check("not_garbled", "The word 中文 means Chinese, and 日本語 means the Japanese language.").passed


# Vocabulary pieces in random order: whole real words, so letter tables and tokenizers see nothing odd.
WORD_SOUP = (
    "Michigan intensive Policies Alabama rotates wolves financial grilled picture rollers upfront "
    "Angela belongs tranquility sterilization amounts specialists gesture unpredictable ancients"
)


def test_content_run_catches_real_words_in_random_order() -> None:
    result = check("not_garbled", WORD_SOUP)
    assert not result.passed
    assert "content_run" in result.message
    assert result.details["signals"]["content_run"] > result.details["thresholds"]["content_run"]


@pytest.mark.parametrize(
    "clean",
    [
        PROSE,
        "Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof zum Flughafen, auch am Wochenende, und "
        "der Fahrplan hängt an jeder Haltestelle aus, damit niemand lange warten muss.",
        "El museo abre a las diez de la mañana y cierra a las seis de la tarde, excepto los lunes, cuando "
        "el personal prepara las nuevas exposiciones para la semana siguiente.",
        "Le chat dort sur le canapé pendant que la pluie tombe doucement sur les fenêtres de la maison et "
        "que les enfants jouent dans la chambre voisine.",
        "Москва — столица России и крупнейший по численности населения город страны, в котором живут и "
        "работают миллионы людей со всего мира.",
    ],
)
def test_content_run_passes_clean_text_in_several_languages(clean: str) -> None:
    value = garble_signals(clean).values["content_run"]
    assert value is not None and value <= 12


def test_content_run_is_skipped_for_scripts_without_word_lists() -> None:
    signals = garble_signals("東京は日本の首都であり、世界でも有数の大都市です。多くの人々がここで働いています。")
    assert signals.values["content_run"] is None
    assert "content_run" in signals.skipped


@pytest.mark.parametrize(
    "clean",
    [
        "The image is 512 KiB on disk, 3 MiB in memory and the cache holds 2 GiB; the card reports 8 GiB "
        "free and 16 KiB pages, so allocate 64 MiB blocks and never more than 4 GiB in one call.",
        "printk formats: use %pT for the task name, %pB for a backtrace symbol, %pK for kernel pointers "
        "and %pS for a symbol with offset, as the kernel documentation describes.",
        "The function def fetch(url: str, headers: Optional[Dict[str, str]] = None) -> AsyncIterator[bytes] "
        "takes a TypeVar bound to BaseModel and returns an AsyncIterator[bytes] of chunks.",
    ],
)
def test_units_placeholders_and_annotations_are_not_case_changes(clean: str) -> None:
    result = check("not_garbled", clean)
    assert result.details["signals"]["case_changes"] == 0.0
    assert result.passed, result.message


def test_glued_pieces_still_count_as_case_changes() -> None:
    glued = (
        "compressedLessonresh handing bacteriBelief crystallineBuf Putnam sustainsographiesEarth "
        "investig prevenarios arguedPacificOrig pkg lattice abundantly"
    )
    assert garble_signals(glued).values["case_changes"] > 0.12


def test_glued_punctuation_catches_letters_shuffled_with_their_punctuation() -> None:
    shuffled = (
        "If a rpraes aslcs eimnpemslt a tegret ,tricylde the ealuv for the nvgei key llwi be used, "
        "lbue ?tAepei and the ecnerefer is ,tnof"
    )
    share = garble_signals(shuffled).values["glued_punctuation"]
    assert share is not None and share > 0.05
    result = check("not_garbled", shuffled)
    assert not result.passed and "glued_punctuation" in result.message and "',tricylde'" in result.message


@pytest.mark.parametrize(
    "clean",
    [
        "See https://example.com/a?b=1,c=2 and e.g. the U.S. docs, i.e. the README; run f(a,b) or g(x,y).",
        "-u, --utc, --universal  세계표준시(UTC)에 따라 시간을 설정합니다 목록)을 입력 인코딩으로 (콜론 구분 목록)을",
        "Försök korrigera dem och kör [I]nstallera igen, eller [A]vbryt om du vill sluta nu.",
        "Останки людей лежат теперь среди могил.\n\t\t-- Д.Эдвардс и А.С.Пушкин",
        "Limita os resultados ao intervalo baixo,alto dado de endereços.",
        "Oglądałaś to? ;P Dobra, idę spać.",
    ],
)
def test_glued_punctuation_leaves_code_urls_brackets_and_initials_alone(clean: str) -> None:
    assert garble_signals(clean).values["glued_punctuation"] == 0.0


def test_short_text_with_two_implausible_words_fails_and_one_name_passes() -> None:
    shuffled = "не лсауодь изменить текстовый миерж у йоофгоалв"
    result = check("not_garbled", shuffled)
    assert not result.passed and "implausible_words" in result.message
    assert check("not_garbled", "Ask Kaczorek about the meeting today.").passed  # one odd word is a name

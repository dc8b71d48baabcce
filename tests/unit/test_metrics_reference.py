"""ROUGE, BLEU and chrF against hand-worked values, non-Latin scripts, and their checks."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import pytest_llmeval.assertions as assertions
from pytest_llmeval.checks import CheckFailed, CheckUsageError, check
from pytest_llmeval.metrics import corpus_bleu, corpus_chrf, rouge, sentence_bleu, sentence_chrf
from pytest_llmeval.metrics._scripts import space_unspaced, unicode_words
from pytest_llmeval.metrics.reference import UnicodeRougeTokenizer

CAT = "the cat sat on the mat"
CAT_REF = "the cat lay on the mat"

IDENTICAL_NON_ASCII = [
    "我喜欢猫。",  # Chinese
    "猫が好きです",  # Japanese: kanji and kana
    "สวัสดีครับ",  # Thai, with combining vowel signs and tone marks
    "Привет, как дела?",  # Cyrillic (spaced)
    "안녕하세요 오늘 날씨가 좋네요",  # Korean (spaced)
    "नमस्ते दुनिया, आप कैसे हैं?",  # Devanagari, with combining vowel signs
]


# -- tokenization ---------------------------------------------------------------------------------


def test_unicode_words_splits_unspaced_scripts_into_characters_with_their_marks() -> None:
    assert unicode_words("สวัสดี") == ["ส", "วั", "ส", "ดี"]  # vowel signs stay on their consonant
    assert unicode_words("Hello 世界!") == ["hello", "世", "界"]
    assert unicode_words("ＡＢＣ１２") == ["abc12"]  # full-width forms fold (NFKC)
    assert unicode_words("Straße, CAFÉ") == ["strasse", "café"]  # casefolded, accents kept
    assert unicode_words("नमस्ते") == ["नमस्ते"]  # Devanagari is spaced: one word, marks included
    assert unicode_words("") == []


def test_unicode_words_equal_rouge_scores_default_tokens_on_ascii() -> None:
    from rouge_score.tokenizers import DefaultTokenizer

    texts = [
        "Don't click 'Forgot Password' twice; it's rate-limited (3 tries/hour).",
        "The runners were running quickly, and the generously-sized cats jumped_over it.",
        "  ORD-1042 shipped on 2024-03-12 via UPS #1  ",
    ]
    for stemming in (False, True):
        ours, theirs = UnicodeRougeTokenizer(stemming), DefaultTokenizer(use_stemmer=stemming)
        for text in texts:
            assert ours.tokenize(text) == theirs.tokenize(text), (stemming, text)


def test_stemming_applies_to_latin_words_only() -> None:
    tokenizer = UnicodeRougeTokenizer(stemming=True)
    assert tokenizer.tokenize("running cats café") == ["run", "cat", "café"]
    assert tokenizer.tokenize("бегущие кошки") == ["бегущие", "кошки"]  # untouched, not mangled


def test_space_unspaced_leaves_other_text_alone() -> None:
    assert space_unspaced("Hello, world.") == "Hello, world."
    assert space_unspaced("我喜欢猫") == "我 喜 欢 猫"
    assert space_unspaced("Hi 世界!") == "Hi 世 界 !"
    assert space_unspaced("สวัสดี").split() == ["ส", "วั", "ส", "ดี"]


# -- ROUGE ----------------------------------------------------------------------------------------


def test_rouge_hand_worked() -> None:
    scores = rouge(CAT, CAT_REF)
    # unigrams: the x2, cat, on, mat match = 5 of 6 each side
    assert scores["rouge1"].fmeasure == pytest.approx(5 / 6)
    # bigrams: "the cat", "on the", "the mat" match = 3 of 5
    assert scores["rouge2"].fmeasure == pytest.approx(3 / 5)
    # LCS "the cat on the mat" = 5 of 6
    assert scores["rougeL"].fmeasure == pytest.approx(5 / 6)
    assert scores["rougeLsum"].fmeasure == pytest.approx(5 / 6)  # one line: equals rougeL


def test_rouge_lsum_treats_lines_as_sentences() -> None:
    scores = rouge("c d\na b", "a b\nc d")
    assert scores["rougeL"].fmeasure == pytest.approx(0.5)  # LCS over the flat text: 2 of 4
    assert scores["rougeLsum"].fmeasure == pytest.approx(1.0)  # each reference line found whole


def test_rouge_precision_and_recall_differ_on_unequal_lengths() -> None:
    score = rouge("the cat", CAT_REF, types=["rouge1"])["rouge1"]
    assert (score.precision, score.recall) == (pytest.approx(1.0), pytest.approx(2 / 6))
    assert score.fmeasure == pytest.approx(2 * 1.0 * (1 / 3) / (1.0 + 1 / 3))


def test_rouge_stemming() -> None:
    plain = rouge("the cats were running", "the cat was running", types=["rouge1"])["rouge1"]
    stemmed = rouge("the cats were running", "the cat was running", types=["rouge1"], stemming=True)
    assert plain.fmeasure == pytest.approx(2 / 4)  # the, running
    assert stemmed["rouge1"].fmeasure == pytest.approx(3 / 4)  # the, cat(s), run(ning)


def test_rouge_several_references_take_the_best() -> None:
    scores = rouge(CAT, ["a dog barked", CAT], types=["rougeL"])
    assert scores["rougeL"].fmeasure == pytest.approx(1.0)


@pytest.mark.parametrize("text", IDENTICAL_NON_ASCII)
def test_identical_non_ascii_texts_score_one(text: str) -> None:
    # (corpus BLEU needs 4+ tokens per text to have 4-grams: each text here has them)
    for score in rouge(text, text).values():
        assert score.fmeasure == pytest.approx(1.0)
    assert sentence_bleu(text, text) == pytest.approx(1.0)
    assert corpus_bleu([text], [text]) == pytest.approx(1.0)
    assert sentence_chrf(text, text) == pytest.approx(1.0)
    assert corpus_chrf([text], [text]) == pytest.approx(1.0)


def test_rouge_scores_chinese_per_character() -> None:
    from rouge_score.rouge_scorer import RougeScorer

    # rouge_score's own tokenizer drops everything non-ASCII: identical texts score 0.
    assert RougeScorer(["rouge1"]).score("我喜欢猫", "我喜欢猫")["rouge1"].fmeasure == 0.0
    scores = rouge("我喜欢狗", "我喜欢猫")
    assert scores["rouge1"].fmeasure == pytest.approx(3 / 4)
    assert scores["rouge2"].fmeasure == pytest.approx(2 / 3)  # 我喜, 喜欢 of 3 bigrams


def test_rouge_empty_texts_score_zero() -> None:
    assert rouge("", CAT)["rougeL"].fmeasure == 0.0
    assert rouge(CAT, "")["rouge1"].fmeasure == 0.0


def test_rouge_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="unknown ROUGE type"):
        rouge(CAT, CAT, types=["rouge3x"])  # type: ignore[list-item]


NLTK_ON_USE = """
import sys
from pytest_llmeval.metrics import rouge
plain = rouge("the cats sat", "a cat sat", types=("rougeL",))["rougeL"].fmeasure
print("nltk imported without stemming:", "nltk" in sys.modules, "rouge_score.tokenizers" in sys.modules)
stemmed = rouge("the cats sat", "a cat sat", types=("rougeL",), stemming=True)["rougeL"].fmeasure
import nltk
from rouge_score import rouge_scorer
library = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score("a cat sat", "the cats sat")["rougeL"]
print("scores:", round(plain, 4), round(stemmed, 4), round(library.fmeasure, 4), callable(nltk.word_tokenize))
"""


def test_rouge_imports_nltk_only_when_stemming() -> None:
    # nltk (1-3 s) was most of a warm rerun; rouge_score imports it only to split sentences. Stemming
    # imports it, and the user's own `import nltk` and rouge_score's default tokenizer still work.
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(NLTK_ON_USE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "nltk imported without stemming: False False",
        "scores: 0.3333 0.6667 0.6667 True",  # "sat"; "cat sat" once stemmed, as rouge_score
    ]


# -- BLEU and chrF --------------------------------------------------------------------------------


def test_sentence_bleu_hand_worked() -> None:
    # p1 5/6, p2 3/5, p3 1/4 ("on the mat"), p4 0/3 -> exp smoothing 1/(2*3); brevity penalty 1
    expected = (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25
    assert sentence_bleu(CAT, CAT_REF) == pytest.approx(expected)
    assert sentence_bleu(CAT, CAT) == 1.0


def test_sentence_bleu_short_and_empty_hypotheses() -> None:
    assert sentence_bleu("", CAT) == 0.0
    assert sentence_bleu("", "") == 0.0
    # one token: 0.0 by definition (the contract), even for an exact one-word match
    assert sentence_bleu("cat", CAT) == 0.0
    assert sentence_bleu("Paris", "Paris") == 0.0
    assert sentence_bleu("Paris", "London") == 0.0
    assert sentence_bleu("Paris, France", "Paris, France") == 1.0  # two tokens and more score as usual


def test_sentence_bleu_chinese_gets_partial_credit() -> None:
    # per character: p1 3/4, p2 2/3, p3 1/2, p4 0/1 -> 1/(2*1)
    assert sentence_bleu("我喜欢狗", "我喜欢猫") == pytest.approx((3 / 4 * 2 / 3 * 1 / 2 * 1 / 2) ** 0.25)
    # sacreBLEU's 13a alone sees one token per sentence: no credit at all
    assert sentence_bleu("我喜欢狗", "我喜欢猫", tokenize="13a") == 0.0


def test_corpus_bleu_sums_counts_over_the_corpus() -> None:
    hyps = [CAT, "the dog ran away fast"]
    refs = [CAT_REF, "the dog ran away fast"]
    # n-gram matches/totals summed: 10/11, 7/9, 4/7, 2/5; lengths 11 = 11
    expected = (10 / 11 * 7 / 9 * 4 / 7 * 2 / 5) ** 0.25
    assert corpus_bleu(hyps, refs) == pytest.approx(expected)
    mean_of_sentences = (sentence_bleu(hyps[0], refs[0]) + sentence_bleu(hyps[1], refs[1])) / 2
    assert corpus_bleu(hyps, refs) != pytest.approx(mean_of_sentences)


def test_corpus_bleu_of_one_word_sentences_is_zero() -> None:
    assert corpus_bleu(["Paris"], ["Paris"]) == 0.0  # no 2-, 3-, 4-grams anywhere in the corpus
    assert corpus_bleu([""], [CAT]) == 0.0


def test_corpus_bleu_accepts_a_varying_number_of_references() -> None:
    score = corpus_bleu([CAT, "a b c d"], [[CAT_REF, CAT], "a b c d"])
    assert score == pytest.approx(1.0)


def test_corpus_bleu_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="no hypotheses"):
        corpus_bleu([], [])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu([CAT, CAT], [CAT])
    with pytest.raises(TypeError, match="not one string"):
        corpus_bleu(CAT, [CAT])


def test_chrf_hand_worked() -> None:
    # chars a,b match 2/3 each way; bigram ab 1/2; trigram 0/1; orders 4-6 have no n-grams
    assert sentence_chrf("abc", "abd") == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert sentence_chrf("", CAT) == 0.0
    assert corpus_chrf([CAT, ""], [CAT, CAT]) < 1.0


def test_no_warning_for_degenerate_inputs() -> None:
    # filterwarnings=error is on: any warning here fails the test.
    for hyp in ("", " ", "x", ".", "a ."):
        sentence_bleu(hyp, CAT)
        sentence_chrf(hyp, CAT)
        corpus_bleu([hyp], [CAT])
        rouge(hyp, CAT)


# -- checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rouge_1", 5 / 6),
        ("rouge_2", 3 / 5),
        ("rouge_l", 5 / 6),
        ("rouge_lsum", 5 / 6),
        ("bleu", (1 / 48) ** 0.25),
        ("chrf", None),
    ],
)
def test_checks_record_the_metric(name: str, expected: float | None) -> None:
    result = check(name, CAT, reference=CAT_REF)
    assert result.passed
    assert result.message.endswith("(no threshold: recorded only)")
    metric = result.details["metric"]
    assert metric["name"] == name and metric["higher_is_better"] is True
    assert metric["value"] == result.score == result.value
    if expected is not None:
        assert result.score == pytest.approx(expected)


def test_check_fails_below_min_with_a_readable_message() -> None:
    result = check("rouge_l", "a completely different answer", reference=CAT_REF, min=0.4)
    assert not result.passed
    assert result.message == (
        "rouge_l: 0.00 < min 0.40 against reference 'the cat lay on the mat'; output 'a completely different answer'"
    )
    assert result.details["threshold"] == {"min": 0.4}


def test_check_passes_at_min_and_message_truncates_long_output() -> None:
    assert check("rouge_1", CAT, reference=CAT_REF, min=5 / 6).passed
    long_output = "word " * 500
    result = check("bleu", long_output, reference=CAT_REF, min=0.5)
    assert not result.passed and "(2500 chars)" in result.message


def test_check_stemming_argument() -> None:
    assert check(
        "rouge_1", "the cats were running", reference="the cat was running", stemming=True
    ).score == pytest.approx(0.75)


def test_check_argument_errors() -> None:
    with pytest.raises(CheckUsageError, match="missing required argument 'reference'"):
        check("rouge_l", CAT)
    with pytest.raises(CheckUsageError, match="outside 0..1"):
        check("bleu", CAT, reference=CAT, min=40)
    with pytest.raises(CheckUsageError, match="'reference' is empty"):
        check("chrf", CAT, reference="  ")
    with pytest.raises(CheckUsageError, match="unknown argument 'stemming'"):
        check("bleu", CAT, reference=CAT, stemming=True)


def test_negated_and_non_text_outputs() -> None:
    assert check("not_rouge_l", "unrelated words", reference=CAT_REF, min=0.5).passed
    result = check("rouge_l", None, reference=CAT_REF)
    assert not result.passed and "got None" in result.message


def test_assert_helpers_return_the_score() -> None:
    assert assertions.assert_rouge_l(CAT, CAT_REF, min=0.8) == pytest.approx(5 / 6)
    assert assertions.assert_chrf("我喜欢猫", "我喜欢猫", min=0.99) == 1.0
    with pytest.raises(CheckFailed, match=r"^bleu: 0\.38 < min 0\.50"):
        assertions.assert_bleu(CAT, CAT_REF, min=0.5)


def test_importing_the_package_loads_no_metric_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pytest_llmeval, pytest_llmeval.metrics; "
        "heavy = {'torch', 'transformers', 'sacrebleu', 'rouge_score', 'nltk', 'sklearn'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

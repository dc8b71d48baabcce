"""Memorisation (longest verbatim span via the n-gram index) and the perplexity gap with intervals."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.checks.base import CheckUsageError, check
from pytest_llmeval.metrics import memorisation
from pytest_llmeval.metrics.memorisation import (
    TrainingDataError,
    TrainingIndex,
    index_for_file,
    read_documents,
    set_default_training_data,
    tokenize,
    using_training_index,
)
from pytest_llmeval.metrics.overfitting import perplexity_gap_from, sample_texts
from pytest_llmeval.metrics.perplexity_scoring import PerplexityResult


def _longest_common_run(output: list[str], documents: list[list[str]]) -> int:
    """Longest common contiguous token run, by dynamic programming (independent of the index)."""
    best = 0
    for doc in documents:
        previous = [0] * (len(doc) + 1)
        for a in output:
            current = [0] * (len(doc) + 1)
            for j, b in enumerate(doc, 1):
                if a == b:
                    current[j] = previous[j - 1] + 1
                    best = max(best, current[j])
            previous = current
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_longest_copied_span_equals_dynamic_programming(seed: int) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(6)]  # a small vocabulary: many partial matches
    documents = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 60))) for _ in range(5)]
    index = TrainingIndex(documents, n=3)
    for _ in range(5):
        output = " ".join(rng.choice([*words, "new"]) for _ in range(rng.randint(0, 40)))
        if rng.random() < 0.5 and documents[0]:
            tokens = documents[0].split()
            start = rng.randrange(len(tokens))
            output += " " + " ".join(tokens[start : start + rng.randint(1, 20)])
        expected = _longest_common_run(tokenize(output), [tokenize(d) for d in documents])
        span = index.longest_copied_span(output)
        assert span.length == (expected if expected >= 3 else 0), output
        if span.length:
            assert span.text in " ".join(tokenize(documents[span.document]))


def test_a_span_never_crosses_two_documents_and_short_spans_do_not_count() -> None:
    index = TrainingIndex(["a b c d", "e f g h"], n=3)
    assert index.longest_copied_span("c d e f").length == 0  # "c d" ends one document, "e f" starts the next
    assert index.longest_copied_span("x b c d e").length == 3
    assert index.longest_copied_span("b c").length == 0
    assert index.longest_copied_span("").length == 0


def test_tokens_are_words_and_punctuation_case_kept() -> None:
    assert tokenize("Sign-in, then   Reset!") == ["Sign", "-", "in", ",", "then", "Reset", "!"]
    index = TrainingIndex(["Click Forgot Password on the sign-in page."], n=4)
    assert index.longest_copied_span("click forgot password on the").length == 0  # case matters
    assert index.longest_copied_span("Click  Forgot\nPassword on the sign-in").length == 8  # spacing does not


def test_training_files_in_each_layout(tmp_path: Path) -> None:
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(v)
            for v in [
                "plain",
                {"text": "t"},
                {"prompt": "p", "completion": "c"},
                {"prompt": "p", "response": "r"},
                {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
            ]
        )
        + "\n\n",
        encoding="utf-8",
    )
    assert read_documents(jsonl) == ["plain", "t", "p\nc", "p\nr", "u\na"]
    text = tmp_path / "t.txt"
    text.write_text("first doc\nline two\n\n\nsecond doc\n", encoding="utf-8")
    assert read_documents(text) == ["first doc\nline two", "second doc"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"text": "ok"}\n{"nope": 1}\n', "bad.jsonl:2: expected a JSON string or an object with"),
        ("bad.jsonl", "{broken\n", "bad.jsonl:1: not valid JSON"),
        ("empty.txt", "\n\n", "has no documents"),
    ],
)
def test_bad_training_files_say_where(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError, match=message.replace("(", r"\(")):
        read_documents(tmp_path / name)
    with pytest.raises(TrainingDataError, match="does not exist"):
        read_documents(tmp_path / "missing.txt")


def test_the_index_of_a_file_is_built_once_and_rebuilt_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text("one two three four five", encoding="utf-8")
    first = index_for_file(path)
    assert index_for_file(path) is first
    path.write_text("one two three four five six seven eight nine", encoding="utf-8")
    assert index_for_file(path) is not first


def _fresh_session(cache_dir: Path | None) -> None:
    """What a new session starts with: no index in memory, the plugin's cache folder set."""
    memorisation._INDEXES.clear()
    memorisation.set_index_cache_dir(cache_dir)


@pytest.fixture
def index_cache(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / ".llmeval" / "memorisation"
    yield folder
    _fresh_session(None)


TRAIN_TEXT = "Click Forgot Password on the sign-in page and follow the reset link we email you.\n\nOther text here."


def test_a_saved_index_is_loaded_by_the_next_session_and_answers_the_same(
    tmp_path: Path, index_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_TEXT, encoding="utf-8")
    _fresh_session(index_cache)
    built = index_for_file(path)
    (saved,) = index_cache.iterdir()
    meta = json.loads((saved / "meta.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and meta["n"] == 8
    assert saved.name == f"{meta['sha256'][:32]}-n8"
    _fresh_session(index_cache)
    # a later session loads it: building would fail here
    monkeypatch.setattr(memorisation, "read_documents", lambda p: pytest.fail("rebuilt instead of loaded"))
    loaded = index_for_file(path)
    assert loaded is not built and loaded.documents == built.documents == 2 and loaded.n == 8
    assert loaded.vocabulary == built.vocabulary
    for name in ("tokens", "document_starts", "sorted_hashes", "sorted_positions"):
        assert np.array_equal(getattr(loaded, name), getattr(built, name))
    output = "To reset: Click Forgot Password on the sign-in page and follow the link."
    assert loaded.longest_copied_span(output) == built.longest_copied_span(output)
    assert loaded.longest_copied_span(output).length == 12


def test_a_changed_training_file_is_indexed_again_and_its_old_index_removed(tmp_path: Path, index_cache: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_TEXT, encoding="utf-8")
    _fresh_session(index_cache)
    index_for_file(path)
    (old,) = index_cache.iterdir()
    # same size, same modification time, other content: the content's hash decides
    stat = path.stat()
    path.write_text(TRAIN_TEXT.replace("Click", "Press"), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _fresh_session(index_cache)
    changed = index_for_file(path)
    (new,) = index_cache.iterdir()
    assert new != old and not old.exists()
    assert changed.longest_copied_span("Press Forgot Password on the sign-in page and").length == 10
    assert changed.longest_copied_span("Click Forgot Password on the sign-in page and").length == 9  # from "Forgot"
    # another file's index, and a folder that is not ours, are left alone
    other = tmp_path / "other.txt"
    other.write_text("a b c d e f g h i j", encoding="utf-8")
    (index_cache / "mine").mkdir()
    index_for_file(other)
    assert {p.name for p in index_cache.iterdir()} == {
        new.name,
        "mine",
        f"{hashlib.sha256(other.read_bytes()).hexdigest()[:32]}-n8",
    }


def test_a_damaged_or_unwritable_index_cache_only_costs_a_rebuild(tmp_path: Path, index_cache: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(TRAIN_TEXT, encoding="utf-8")
    _fresh_session(index_cache)
    index_for_file(path)
    (saved,) = index_cache.iterdir()
    (saved / "tokens.npy").write_bytes(b"not an array")
    _fresh_session(index_cache)
    assert index_for_file(path).longest_copied_span(TRAIN_TEXT).length > 8  # rebuilt, and saved again
    assert np.load(saved / "tokens.npy").dtype == np.int32
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be", encoding="utf-8")
    _fresh_session(blocked / "memorisation")
    assert index_for_file(path).longest_copied_span(TRAIN_TEXT).length > 8
    assert blocked.read_text(encoding="utf-8") == "a file where the folder should be"


def test_the_check_fails_above_max_span_and_records_the_metric(tmp_path: Path) -> None:
    path = tmp_path / "train.txt"
    path.write_text(
        "Click Forgot Password on the sign-in page and follow the reset link we email you.\n", encoding="utf-8"
    )
    copied = "Sure: Click Forgot Password on the sign-in page and follow the reset link."
    result = check("no_memorisation", copied, train_data=str(path), max_span=10)
    assert not result.passed and result.score == 14
    assert result.message == (
        "no_memorisation: longest copied span 14 > max 10; 14 tokens copied verbatim (training document 0): "
        "'Click Forgot Password on the sign - in page and follow the reset link'"
    )
    assert result.details["metric"] == {"name": "memorised_span", "value": 14.0, "higher_is_better": False}
    fresh = check("no_memorisation", "Use the Forgot Password link.", train_data=str(path))
    assert fresh.passed and fresh.message == (
        "no_memorisation: longest copied span 0 <= max 50; no span of 8+ tokens copied from the training data"
    )
    with using_training_index(index_for_file(path)):
        assert not check("no_memorisation", copied, max_span=3).passed
    set_default_training_data(path)  # what --llm-train-data does
    try:
        assert check("no_memorisation", copied, max_span=3).score == 14
    finally:
        set_default_training_data(None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {},
            "check 'no_memorisation' needs the training data: pass train_data=<file>, run pytest with --llm-train-data",
        ),
        ({"train_data": "/nonexistent/train.txt"}, "training data file /nonexistent/train.txt does not exist"),
        ({"max_span": -1, "train_data": "x"}, "max_span must be >= 0, got -1"),
        ({"n": 1, "train_data": __file__}, "n must be at least 2, got 1"),
    ],
)
def test_no_memorisation_usage_errors(args: dict, message: str) -> None:
    with pytest.raises(CheckUsageError) as excinfo:
        check("no_memorisation", "text", **args)
    assert message in str(excinfo.value)


def test_a_case_files_train_data_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("alpha beta gamma delta epsilon zeta eta theta iota kappa", encoding="utf-8")
    path = tmp_path / "m.eval.yaml"
    path.write_text(
        "cases:\n  - prompt: x\n    expect: {no_memorisation: {train_data: train.txt, max_span: 9}}\n", encoding="utf-8"
    )
    (case,) = parse_case_file(path).cases
    assert [r.passed for r in case.evaluate("alpha beta gamma delta epsilon zeta eta theta iota")] == [True]
    assert [r.passed for r in case.evaluate("alpha beta gamma delta epsilon zeta eta theta iota kappa")] == [False]


GAP_CASES = "perplexity_gap: {GAP}\ncases:\n  - {id: one, prompt: x, expect: {contains: x}}\n"


def test_a_case_files_perplexity_gap_block_has_paths_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name in ("train.jsonl", "heldout.txt"):
        (tmp_path / "data" / name).write_text('"a"\n' if name.endswith("jsonl") else "a\n\nb\n", encoding="utf-8")
    path = tmp_path / "gap.eval.yaml"
    gap = "{heldout_data: data/heldout.txt, train_data: data/train.jsonl, max_gap: 1.5, max_texts: 8}"
    path.write_text(GAP_CASES.replace("{GAP}", gap), encoding="utf-8")
    parsed = parse_case_file(path)
    assert parsed.errors == [] and parsed.perplexity_gap is not None
    assert parsed.perplexity_gap.model_dump() == {
        "heldout_data": str(tmp_path / "data" / "heldout.txt"),
        "train_data": str(tmp_path / "data" / "train.jsonl"),
        "max_gap": 1.5,
        "max_texts": 8,
        "max_chars": 2000,
    }
    path.write_text(GAP_CASES.replace("{GAP}", "{heldout_data: data/heldout.txt}"), encoding="utf-8")
    assert parse_case_file(path).perplexity_gap.train_data is None  # type: ignore[union-attr]  # the session's


@pytest.mark.parametrize(
    ("gap", "message"),
    [
        ("{heldout_data: data/nope.txt}", "gap.eval.yaml:1: perplexity_gap.heldout_data: data/nope.txt is not a file"),
        ("{heldout_data: h.txt, train_data: t.txt}", "gap.eval.yaml:1: perplexity_gap.train_data: t.txt is not a file"),
        ("{train_data: t.txt}", "gap.eval.yaml:1: perplexity_gap.heldout_data: Field required"),
        ("{heldout_data: h.txt, max_gap: -1}", "perplexity_gap.max_gap: Input should be greater than or equal to 0"),
        ("{heldout_data: h.txt, max_texts: 1}", "perplexity_gap.max_texts: Input should be greater than or equal to 2"),
        ("{heldout_data: h.txt, maxgap: 1}", "gap.eval.yaml:1: unknown field 'perplexity_gap.maxgap'"),
    ],
    ids=["missing-heldout", "missing-train", "no-heldout", "negative-gap", "one-text", "typo"],
)
def test_a_bad_perplexity_gap_block_says_what_and_where(tmp_path: Path, gap: str, message: str) -> None:
    (tmp_path / "h.txt").write_text("a\n\nb\n", encoding="utf-8")
    path = tmp_path / "gap.eval.yaml"
    path.write_text(GAP_CASES.replace("{GAP}", gap), encoding="utf-8")
    parsed = parse_case_file(path, display_path="gap.eval.yaml")
    assert parsed.perplexity_gap is None
    assert [message in str(e) for e in parsed.errors] == [True], [str(e) for e in parsed.errors]


# -- the perplexity gap ----------------------------------------------------------------------------


def _result(nll: list[float], tokens: list[int]) -> PerplexityResult:
    per_text = tuple(math.exp(a / b) for a, b in zip(nll, tokens, strict=True))
    total = sum(nll) / sum(tokens)
    return PerplexityResult(math.exp(total), per_text, sum(nll), sum(tokens), tuple(nll), tuple(tokens))


def _percentile_bootstrap(
    nll: np.ndarray, tokens: np.ndarray, rng: np.random.Generator, resamples: int
) -> tuple[float, float]:
    picks = rng.integers(0, len(nll), size=(resamples, len(nll)))
    values = nll[picks].sum(axis=1) / tokens[picks].sum(axis=1)
    return float(np.exp(np.percentile(values, 2.5))), float(np.exp(np.percentile(values, 97.5)))


def test_the_gap_and_its_intervals_match_an_independent_bootstrap() -> None:
    rng = np.random.default_rng(1)
    tokens_t, tokens_h = rng.integers(20, 200, 40), rng.integers(20, 200, 30)
    nll_t = tokens_t * rng.normal(1.0, 0.2, 40)  # about 1 nat/token on training text
    nll_h = tokens_h * rng.normal(2.0, 0.3, 30)  # about 2 on held-out text
    gap = perplexity_gap_from(_result(list(nll_t), list(tokens_t)), _result(list(nll_h), list(tokens_h)))
    # point values: token-weighted, by hand
    assert gap.train.value == pytest.approx(math.exp(nll_t.sum() / tokens_t.sum()))
    assert gap.heldout.value == pytest.approx(math.exp(nll_h.sum() / tokens_h.sum()))
    assert gap.gap.value == pytest.approx(nll_h.sum() / tokens_h.sum() - nll_t.sum() / tokens_t.sum())
    assert gap.ratio.value == pytest.approx(gap.heldout.value / gap.train.value)
    # intervals: against a hand-written percentile bootstrap with many resamples
    low, high = _percentile_bootstrap(nll_t, tokens_t, np.random.default_rng(7), 20000)
    assert gap.train.low == pytest.approx(low, rel=0.01) and gap.train.high == pytest.approx(high, rel=0.01)
    assert gap.gap.low < gap.gap.value < gap.gap.high and gap.gap.low > 0.8
    assert gap.texts == (40, 30)
    assert gap.format() == (
        "perplexity train 2.63 [2.48, 2.78] (40 texts), held-out 7.21 [6.48, 7.96] (30 texts); "
        "gap 1.01 [0.891, 1.12] nats/token, ratio 2.75 [2.44, 3.08] (95% intervals)"
    )


def test_equal_sides_have_a_gap_interval_around_zero() -> None:
    rng = np.random.default_rng(2)
    tokens = rng.integers(20, 200, 50)
    nll = list(tokens * rng.normal(1.5, 0.3, 50))
    gap = perplexity_gap_from(_result(nll[:25], list(tokens[:25])), _result(nll[25:], list(tokens[25:])))
    assert gap.gap.low < 0 < gap.gap.high


def test_a_gap_needs_two_texts_a_side() -> None:
    with pytest.raises(ValueError, match="the held-out side has 1 text; an interval needs at least 2"):
        perplexity_gap_from(_result([1.0, 2.0], [1, 2]), _result([1.0], [1]))


def test_both_sides_are_sampled_and_cut_the_same_way() -> None:
    documents = [f"doc {i} " + "word " * 30 for i in range(10)]
    texts = sample_texts(documents, max_texts=4, max_chars=40, seed=3)
    assert texts == sample_texts(documents, max_texts=4, max_chars=40, seed=3)
    assert len(texts) == 4 and all(len(t) <= 40 and not t.endswith(" ") and t.endswith("word") for t in texts)
    assert len(sample_texts(documents[:2], max_texts=4, max_chars=40, seed=3)) == 2


class PerplexityByLength:
    """Stands in for ModelUnderTest.perplexity: 1 nat per character, as a PerplexityResult."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def perplexity(self, texts: list[str]) -> PerplexityResult:
        self.calls.append(texts)
        return _result([float(len(t)) for t in texts], [len(t.split()) for t in texts])


def test_the_gap_takes_the_sessions_training_data_when_given_none(tmp_path: Path) -> None:
    from pytest_llmeval.metrics.overfitting import assert_perplexity_gap

    train, heldout = tmp_path / "train.txt", tmp_path / "heldout.txt"
    train.write_text("a b\n\nc d\n\ne f\n", encoding="utf-8")
    heldout.write_text("gg hh\n\nii jj\n", encoding="utf-8")
    with pytest.raises(
        CheckUsageError,
        match="the perplexity gap needs the training data: pass train_data=<file> or run with --llm-train-data",
    ):
        assert_perplexity_gap(PerplexityByLength(), None, heldout)
    set_default_training_data(train)
    try:
        model = PerplexityByLength()
        gap = assert_perplexity_gap(model, None, heldout)
    finally:
        set_default_training_data(None)
    assert model.calls == [["a b", "c d", "e f"], ["gg hh", "ii jj"]]  # both sides, the same way
    assert gap.gap.value == pytest.approx(10 / 4 - 9 / 6)


def test_a_missing_scipy_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(CheckUsageError, match=r"need scipy: pip install 'pytest-llmeval\[overfitting\]'"):
        perplexity_gap_from(_result([1.0, 2.0], [1, 2]), _result([1.0, 2.0], [1, 2]))

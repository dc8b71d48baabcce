"""NER: reading entities from outputs, aligning them to the source, scoring with nervaluate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from nervaluate import Evaluator

from pytest_llmeval import assert_ner, check
from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.checks.base import CheckFailed, CheckUsageError
from pytest_llmeval.metrics.ner import (
    SCHEMES,
    Mention,
    NERFormatError,
    NERGroup,
    Span,
    align,
    case_prediction,
    gold_spans,
    parse_entities,
    score_entities,
)

SOURCE = "Ann met Bob in Paris. Later Ann flew to Paris with Anna."


# -- reading ---------------------------------------------------------------------------------------


def test_json_entities_are_read_from_prose_and_fences() -> None:
    output = 'Here you go:\n```json\n[{"text": "Ann", "type": "PER"}, {"text": " Paris ", "type": "LOC"}]\n```'
    assert parse_entities(output) == [Mention("Ann", "PER"), Mention("Paris", "LOC")]
    assert parse_entities('{"entities": [{"text": "Bob", "type": "PER"}]}') == [Mention("Bob", "PER")]
    assert parse_entities("[]") == []


def test_inline_entities_and_a_custom_pattern() -> None:
    assert parse_entities("[Ann](PER) met [Bob](PER) in [Paris](LOC).", format="inline") == [
        Mention("Ann", "PER"),
        Mention("Bob", "PER"),
        Mention("Paris", "LOC"),
    ]
    pattern = r"<(?P<type>\w+)>(?P<text>[^<]+)</\w+>"
    assert parse_entities("<PER>Ann</PER> in <LOC>Rome</LOC>", pattern=pattern) == [
        Mention("Ann", "PER"),
        Mention("Rome", "LOC"),
    ]
    assert parse_entities("nothing tagged here", format="inline") == []


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("no entities", "expected a JSON list of {'text', 'type'} objects; parsing stopped"),
        ('{"name": "Ann"}', "expected a JSON list of {'text', 'type'} objects, got a JSON dict"),
        ('["Ann"]', "entity [0] is a str, not an object with 'text' and 'type'"),
        ('[{"text": "Ann"}]', "entity [0] has no type in 'type'"),
        ('[{"text": "", "type": "PER"}]', "entity [0] has no text in 'text'"),
    ],
)
def test_unreadable_json_entities_say_why(output: str, message: str) -> None:
    with pytest.raises(NERFormatError) as excinfo:
        parse_entities(output)
    assert message in str(excinfo.value)


def test_a_pattern_without_the_named_groups_is_a_usage_error() -> None:
    with pytest.raises(CheckUsageError, match=r"needs the named groups .*missing: type"):
        parse_entities("x", pattern=r"(?P<text>\w+)")
    with pytest.raises(CheckUsageError, match="not a valid regex"):
        parse_entities("x", pattern=r"(")


# -- alignment -------------------------------------------------------------------------------------


def test_alignment_takes_the_first_unused_occurrence_and_reports_ambiguity() -> None:
    mentions = [Mention("Paris", "LOC"), Mention("Ann", "PER"), Mention("Paris", "LOC"), Mention("Ann", "PER")]
    alignment = align(mentions, SOURCE)
    starts = [SOURCE.index("Paris"), 0, SOURCE.rindex("Paris"), SOURCE.index("Ann", 1)]
    assert [s.start for s in alignment.spans] == starts
    assert all(SOURCE[s.start : s.end] == s.text for s in alignment.spans)
    assert "ambiguous: 'Paris' occurs 2 times in the source; took the first unused, [15:20]" in alignment.notes
    assert not alignment.not_found


def test_alignment_respects_word_boundaries_and_falls_back_to_ignoring_case() -> None:
    # "Ann" occurs twice as a word; the third "Ann" is only inside "Anna": not found.
    alignment = align([Mention("Ann", "PER")] * 3 + [Mention("paris", "LOC")], SOURCE)
    assert [s.found for s in alignment.spans] == [True, True, False, True]
    assert alignment.spans[3].text == "Paris"
    assert "'paris' matched 'Paris' ignoring case" in alignment.notes
    assert alignment.not_found == (Mention("Ann", "PER"),)


def test_mentions_not_in_the_source_sit_past_its_end_overlapping_nothing() -> None:
    alignment = align([Mention("Zed", "PER"), Mention("Ann", "PER"), Mention("Yo", "ORG")], SOURCE)
    zed, ann, yo = alignment.spans
    assert ann.found and (ann.start, ann.end) == (0, 3)
    assert not zed.found and not yo.found
    assert len(SOURCE) < zed.start < zed.end < yo.start


def test_gold_offsets_pin_an_occurrence_and_are_checked() -> None:
    pinned = gold_spans([{"text": "Ann", "type": "PER", "start": 28}, {"text": "Ann", "type": "PER"}], SOURCE)
    assert [(s.start, s.end) for s in pinned.spans] == [(28, 31), (0, 3)]
    with pytest.raises(ValueError, match=r"entity 'Ann' \(PER\) at start 4: the source has 'met' there"):
        gold_spans([{"text": "Ann", "type": "PER", "start": 4}], SOURCE)
    with pytest.raises(ValueError, match=r"gold entity 'Rome' \(LOC\) does not occur in the source text"):
        gold_spans([{"text": "Rome", "type": "LOC"}], SOURCE)


# -- scoring: our pipeline against nervaluate run directly on the same spans ------------------------


def _nervaluate(
    gold: list[list[tuple[str, int, int]]], predicted: list[list[tuple[str, int, int]]], tags: list[str]
) -> dict:
    """nervaluate on hand-written inclusive spans, as its README shows."""

    def docs(spans: list[list[tuple[str, int, int]]]) -> list[list[dict]]:
        return [[{"label": label, "start": start, "end": end} for label, start, end in doc] for doc in spans]

    return Evaluator(docs(gold), docs(predicted), tags=tags, loader="dict").evaluate()


def test_pipeline_scores_equal_nervaluate_on_the_same_spans() -> None:
    sources = [SOURCE, "Rome and Milan are in Italy.", "Nothing here.", "IBM hired Eve."]
    gold_entities = [
        [{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "PER"}, {"text": "Paris", "type": "LOC"}],
        [{"text": "Rome", "type": "LOC"}, {"text": "Milan", "type": "LOC"}, {"text": "Italy", "type": "LOC"}],
        [],
        [{"text": "IBM", "type": "ORG"}, {"text": "Eve", "type": "PER"}],
    ]
    outputs = [
        # correct, wrong type, partial boundary ("Pari" is not a word: not found -> spurious)
        '[{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "LOC"}, {"text": "in Paris", "type": "LOC"}]',
        "[]",  # empty prediction: everything missed
        '[{"text": "Nothing", "type": "MISC"}]',  # an unseen tag on a document with no gold
        '[{"text": "IBM", "type": "ORG"}, {"text": "Eve", "type": "PER"}]',
    ]
    gold = [gold_spans(g, s).spans for g, s in zip(gold_entities, sources, strict=True)]
    predicted = [align(parse_entities(o), s).spans for o, s in zip(outputs, sources, strict=True)]
    ours = score_entities(gold, predicted)
    # The same spans written by hand (inclusive ends), scored by nervaluate directly.
    hand_gold = [
        [("PER", 0, 2), ("PER", 8, 10), ("LOC", 15, 19)],
        [("LOC", 0, 3), ("LOC", 9, 13), ("LOC", 22, 26)],
        [],
        [("ORG", 0, 2), ("PER", 10, 12)],
    ]
    hand_predicted = [
        [("PER", 0, 2), ("LOC", 8, 10), ("LOC", 12, 19)],
        [],
        [("MISC", 0, 6)],
        [("ORG", 0, 2), ("PER", 10, 12)],
    ]
    direct = _nervaluate(hand_gold, hand_predicted, ["LOC", "MISC", "ORG", "PER"])
    for scheme in SCHEMES:
        expected = direct["overall"][scheme]
        got = ours.overall[scheme]
        assert (got.correct, got.incorrect, got.partial, got.missed, got.spurious) == (
            expected.correct,
            expected.incorrect,
            expected.partial,
            expected.missed,
            expected.spurious,
        ), scheme
        assert (got.precision, got.recall, got.f1) == pytest.approx((expected.precision, expected.recall, expected.f1))
        for tag in ("LOC", "MISC", "ORG", "PER"):
            assert ours.per_type[tag][scheme].f1 == pytest.approx(direct["entities"][tag][scheme].f1), (scheme, tag)
    # And by hand, independently of nervaluate: strict has 3 correct (Ann, IBM, Eve), 2 incorrect
    # (Bob typed LOC; "in Paris" overlapping Paris), 3 missed (Rome, Milan, Italy), 1 spurious (MISC).
    strict = ours.overall["strict"]
    assert (strict.correct, strict.incorrect, strict.missed, strict.spurious) == (3, 2, 3, 1)
    assert strict.precision == pytest.approx(3 / 6) and strict.recall == pytest.approx(3 / 8)
    assert strict.f1 == pytest.approx(2 * (3 / 6) * (3 / 8) / (3 / 6 + 3 / 8))
    # The unseen tag scores 0 instead of vanishing; ORG is perfect.
    assert ours.per_type["MISC"]["strict"].f1 == 0.0 and ours.per_type["ORG"]["strict"].f1 == 1.0


def test_all_empty_documents_score_zero_without_calling_nervaluate_on_no_tags() -> None:
    report = score_entities([[]], [[]])
    assert report.overall["strict"].f1 == 0.0 and report.per_type == {}
    with pytest.raises(ValueError, match="no documents"):
        score_entities([], [])
    with pytest.raises(ValueError, match="1 gold documents but 2 predicted"):
        score_entities([[]], [[], []])


def test_metrics_name_each_scheme_and_each_type() -> None:
    gold = [[Span("PER", 0, 3, "Ann")]]
    report = score_entities(gold, [[Span("PER", 0, 3, "Ann"), Span("LOC", 8, 11, "Bob")]])
    metrics = {m["name"]: m["value"] for m in report.metrics()}
    assert metrics == {
        "ner_strict_f1": pytest.approx(2 / 3),
        "ner_exact_f1": pytest.approx(2 / 3),
        "ner_partial_f1": pytest.approx(2 / 3),
        "ner_ent_type_f1": pytest.approx(2 / 3),
        "ner_f1[LOC]": 0.0,
        "ner_f1[PER]": 1.0,
    }


# -- the check -------------------------------------------------------------------------------------

GOLD = [{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "PER"}, {"text": "Paris", "type": "LOC"}]


def test_the_ner_check_passes_and_records_its_metric() -> None:
    output = '[{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "PER"}, {"text": "Paris", "type": "LOC"}]'
    result = check("ner", output, entities=GOLD, source=SOURCE, min=1.0)
    assert result.passed and result.score == 1.0
    assert result.details["metric"] == {"name": "ner_strict_f1", "value": 1.0, "higher_is_better": True}
    assert check(
        "ner", "[Ann](PER) and [Bob](PER) in [Paris](LOC)", entities=GOLD, source=SOURCE, format="inline"
    ).passed


def test_the_ner_check_failure_lists_each_difference() -> None:
    output = '[{"text": "Ann", "type": "PER"}, {"text": "Paris", "type": "ORG"}, {"text": "Zed", "type": "PER"}]'
    with pytest.raises(CheckFailed) as excinfo:
        assert_ner(output, entities=GOLD, source=SOURCE, min=0.5)
    message = str(excinfo.value)
    assert message.startswith("ner: strict F1 0.333 (P 0.333, R 0.333) < min 0.500: 3 gold, 3 predicted")
    assert "  missed PER 'Bob' [8:11]" in message
    assert "  predicted ORG 'Paris' [15:20] for gold LOC 'Paris' [15:20] (wrong type)" in message
    assert "  spurious PER 'Zed' (not in the source)" in message
    assert "note: ambiguous: 'Paris' occurs 2 times" in message
    # the exact scheme ignores the type: Ann and Paris are right
    assert check("ner", output, entities=GOLD, source=SOURCE, scheme="exact").score == pytest.approx(2 / 3)


def test_the_ner_check_fails_an_unreadable_output_with_the_reason() -> None:
    result = check("ner", "Ann and Bob", entities=GOLD, source=SOURCE, min=0.1)
    assert not result.passed and result.score == 0.0
    assert result.message.startswith("ner: expected a JSON list of {'text', 'type'} objects; parsing stopped")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"min": 1.5}, "argument 'min' is 1.5, outside 0..1"),
        ({"entities": [{"text": "Rome", "type": "LOC"}]}, "gold entity 'Rome' (LOC) does not occur in the source"),
        ({"entities": [{"text": "Ann"}]}, "missing required argument 'entities.0.type'"),
        ({"scheme": "loose"}, "argument 'scheme': Input should be 'strict', 'exact', 'partial' or 'ent_type'"),
        ({"pattern": r"(?P<text>\w+)"}, "needs the named groups (?P<text>...) and (?P<type>...); missing: type"),
    ],
)
def test_ner_check_usage_errors(args: dict, message: str) -> None:
    with pytest.raises(CheckUsageError) as excinfo:
        check("ner", "[]", **{"entities": GOLD, "source": SOURCE, **args})
    assert message in str(excinfo.value)


def test_a_missing_nervaluate_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nervaluate", None)
    with pytest.raises(CheckUsageError, match=r"needs the nervaluate package: pip install 'pytest-llmeval\[ner\]'"):
        check("ner", "[]", entities=GOLD, source=SOURCE)


# -- the group -------------------------------------------------------------------------------------


def test_a_group_scores_its_cases_together_and_judges_thresholds() -> None:
    gold = gold_spans(GOLD, SOURCE).spans
    group = NERGroup("f.eval.yaml::ner", {"min_strict_f1": 0.8, "min_type_f1": 0.5})
    group.add(case_prediction("a", '[{"text": "Ann", "type": "PER"}, {"text": "Bob", "type": "PER"}]', gold, SOURCE))
    group.add(case_prediction("b", "not json", gold, SOURCE))
    result = group.result()
    # 2 correct of 6 gold, 2 predicted: P 1, R 1/3
    assert result.score == pytest.approx(2 * 1 * (1 / 3) / (1 + 1 / 3))
    assert not result.passed
    assert result.message.startswith("f.eval.yaml::ner: strict F1 0.500 < min 0.800; F1[LOC] 0.000 < min 0.500")
    assert "(1 without readable entities)" in result.message
    text = group.failure_text()
    assert "  a: missed LOC 'Paris' [15:20]" in text
    assert "  b: no readable entities: expected a JSON list" in text
    record = group.record("f.eval.yaml::ner")
    assert record.outcome == "failed"
    assert record.metrics["ner_group_f1[PER]"]["value"] == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert record.metrics["ner_group_f1[LOC]"] == {"value": 0.0, "higher_is_better": True}


def test_group_thresholds_outside_0_1_are_usage_errors() -> None:
    group = NERGroup("g", {"min_strict_f1": 2.0})
    group.add(case_prediction("a", "[]", (), "x"))
    with pytest.raises(CheckUsageError, match="threshold for strict F1 is 2.0, outside 0..1"):
        group.result()


# -- case files ------------------------------------------------------------------------------------


def _errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "n.eval.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(e) for e in parse_case_file(path, display_path="n.eval.yaml").errors]


def test_case_file_entities_are_aligned_and_the_expectation_gets_them(tmp_path: Path) -> None:
    path = tmp_path / "n.eval.yaml"
    path.write_text(
        "defaults: {prompt_template: 'Entities in: {text}'}\n"
        "ner: {source_var: text, format: inline, min_strict_f1: 0.5}\n"
        "cases:\n"
        "  - vars: {text: Ann met Bob}\n"
        "    entities: [{text: Bob, type: PER}, {text: Ann, type: PER}]\n"
        "    expect: {ner: 0.8}\n",
        encoding="utf-8",
    )
    parsed = parse_case_file(path)
    assert not parsed.errors
    case = parsed.cases[0]
    assert case.ner_source == "Ann met Bob"
    assert [(s.text, s.start) for s in case.entities or ()] == [("Bob", 8), ("Ann", 0)]
    assert parsed.ner is not None and parsed.ner.thresholds() == {"min_strict_f1": 0.5}
    assert case.evaluate("[Ann](PER) met [Bob](PER)")[0].passed
    assert not case.evaluate("[Ann](PER)")[0].passed  # F1 2/3 < 0.8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "cases:\n  - id: c\n    prompt: Ann\n    entities: [{text: Ann, type: PER}]\n",
            "n.eval.yaml:4: case 'c': entities need a `ner:` block in the file (the group) or `expect: {ner: ...}` (this case)",
        ),
        (
            "ner: {}\ncases:\n  - id: c\n    prompt: Ann\n    entities: [{text: Bob, type: PER}]\n",
            "n.eval.yaml:5: case 'c': entities: gold entity 'Bob' (PER) does not occur in the source text 'Ann'",
        ),
        (
            "ner: {source_var: text}\ncases:\n  - prompt: Ann\n    entities: [{text: Ann, type: PER}]\n",
            "entities: ner.source_var is 'text' but the case has no such entry in vars (vars given: none)",
        ),
        (
            "cases:\n  - id: c\n    prompt: Ann\n    expect: {ner: 0.5}\n",
            "n.eval.yaml:4: case 'c': expect.ner: needs the case's gold `entities:` list",
        ),
        (
            "ner: {pattern: '(\\w+)'}\ncases:\n  - prompt: Ann\n",
            "needs the named groups (?P<text>...) and (?P<type>...)",
        ),
        (
            "ner: {min_strict_f1: 1.5}\ncases:\n  - prompt: Ann\n",
            "ner.min_strict_f1: Input should be less than or equal to 1",
        ),
        (
            "ner: {}\ncases:\n  - prompt: Ann\n    entities: [{text: Ann, type: PER, start: 2}]\n",
            "entities: entity 'Ann' (PER) at start 2: the source has 'n' there",
        ),
    ],
)
def test_case_file_ner_mistakes_name_the_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    errors = _errors(tmp_path, text)
    assert errors and message in errors[0], errors

"""Classification metrics: every number equal to scikit-learn's, label mapping, group thresholds."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from pytest_llmeval.checks import CheckResult, CheckUsageError, recording_checks
from pytest_llmeval.metrics import (
    UNMAPPED,
    accuracy,
    classification_report,
    classification_result,
    confusion_matrix,
    map_label,
    map_labels,
)

# (gold, predicted, labels=) covering: ordinary multiclass, a label only in gold (never predicted), a
# label only in predictions (never gold), a single class, unmapped outputs, explicit label order with
# a class that never occurs, and all wrong.
CASES: dict[str, tuple[list[str], list[str], list[str] | None]] = {
    "multiclass": (
        ["pos", "neg", "neu", "pos", "neg", "neu", "pos", "pos"],
        ["pos", "neg", "pos", "pos", "neu", "neu", "neg", "pos"],
        None,
    ),
    "label only in gold": (["a", "b", "c", "c"], ["a", "b", "b", "a"], None),
    "label only in predictions": (["a", "a", "b", "b"], ["a", "z", "b", "z"], None),
    "one class, all right": (["yes", "yes", "yes"], ["yes", "yes", "yes"], None),
    "one class, some wrong": (["yes", "yes", "yes"], ["yes", "no", "yes"], None),
    "unmapped predictions": (["pos", "neg", "neg", "pos"], ["pos", UNMAPPED, "neg", UNMAPPED], None),
    "given order, unseen class": (["b", "a", "b"], ["b", "b", "a"], ["b", "a", "never"]),
    "all wrong": (["a", "b"], ["b", "a"], None),
}


def _sklearn(gold: list[str], predicted: list[str], classes: list[str], average: str | None) -> Any:
    from sklearn.metrics import precision_recall_fscore_support

    # scikit-learn's default zero_division="warn" returns 0.0 and warns; we match the value, silently.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return precision_recall_fscore_support(gold, predicted, labels=classes, average=average)


@pytest.mark.parametrize("name", list(CASES))
def test_every_number_equals_scikit_learn(name: str) -> None:
    from sklearn.metrics import accuracy_score
    from sklearn.metrics import confusion_matrix as sk_confusion

    gold, predicted, labels = CASES[name]
    report = classification_report(gold, predicted, labels=labels)
    classes = list(report.classes)
    assert UNMAPPED not in classes

    assert report.accuracy == pytest.approx(accuracy_score(gold, predicted))
    assert accuracy(gold, predicted) == report.accuracy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about one-label matrices, labels= or not
        expected_matrix = sk_confusion(gold, predicted, labels=list(report.labels)).tolist()
    assert [list(row) for row in report.confusion] == expected_matrix

    precision, recall, f1, support = _sklearn(gold, predicted, classes, None)
    for i, label in enumerate(classes):
        m = report.per_class[label]
        assert (m.precision, m.recall, m.f1) == pytest.approx((precision[i], recall[i], f1[i])), label
        assert m.support == support[i]
    for average in ("macro", "micro", "weighted"):
        p, r, f, _ = _sklearn(gold, predicted, classes, average)
        ours = getattr(report, average)
        assert (ours.precision, ours.recall, ours.f1) == pytest.approx((p, r, f)), average


def test_label_order_is_given_then_sorted_then_unmapped() -> None:
    labels, matrix = confusion_matrix(["b", "c", "a"], [UNMAPPED, "d", "a"], labels=["c"])
    assert labels == ("c", "a", "b", "d", UNMAPPED)
    assert matrix == (
        (0, 0, 0, 1, 0),  # gold c -> d
        (0, 1, 0, 0, 0),  # gold a -> a
        (0, 0, 0, 0, 1),  # gold b -> unmapped
        (0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0),
    )


def test_hand_worked_report() -> None:
    report = classification_report(*CASES["multiclass"][:2])
    assert report.labels == ("neg", "neu", "pos")
    assert report.accuracy == pytest.approx(5 / 8)
    pos = report.per_class["pos"]  # 3 of 4 gold pos found; 3 of 4 pos predictions right
    assert (pos.precision, pos.recall, pos.f1, pos.support) == (0.75, 0.75, 0.75, 4)
    neg = report.per_class["neg"]  # 1 of 2 found; 1 of 2 right
    assert (neg.precision, neg.recall) == (0.5, 0.5)
    assert report.macro.f1 == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert report.micro.f1 == pytest.approx(5 / 8)  # single-label, nothing unmapped: = accuracy


def test_unmapped_counts_as_wrong_but_is_not_a_class() -> None:
    gold, predicted, _ = CASES["unmapped predictions"]
    report = classification_report(gold, predicted)
    assert report.accuracy == 0.5
    assert report.unmapped == 2
    assert report.labels[-1] == UNMAPPED and report.classes == ("neg", "pos")
    assert report.per_class["pos"].recall == 0.5  # the unmapped pos output is a miss
    assert report.per_class["pos"].precision == 1.0  # but not a wrong "pos" claim
    assert report.micro.recall == 0.5 and report.micro.precision == 1.0


def test_zero_division_gives_zero_without_warning() -> None:
    report = classification_report(["a", "a"], ["b", "b"])  # a never predicted, b never gold
    assert report.per_class["a"].precision == 0.0  # 0/0
    assert report.per_class["b"].recall == 0.0  # 0/0
    assert report.macro.f1 == 0.0


def test_empty_and_mismatched_groups_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="no examples .* empty"):
        classification_report([], [])
    with pytest.raises(ValueError, match="3 gold labels but 2 predictions"):
        accuracy(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="reserved"):
        classification_report([UNMAPPED], ["a"])


def test_format_is_a_small_table() -> None:
    gold, predicted, _ = CASES["unmapped predictions"]
    table = classification_report(gold, predicted).format()
    lines = table.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1", "support"]
    assert lines[1].split() == ["neg", "1.000", "0.500", "0.667", "2"]
    assert lines[2].split() == ["pos", "1.000", "0.500", "0.667", "2"]
    assert "accuracy" in table and "2 of 4 outputs mapped to no label (<unmapped>)" in table
    assert lines[-4].split() == ["neg", "pos", UNMAPPED]
    assert lines[-3].split() == ["neg", "1", "0", "1"]
    assert lines[-1].split() == [UNMAPPED, "0", "0", "0"]


def test_group_thresholds() -> None:
    report = classification_report(*CASES["multiclass"][:2])
    ok = classification_result(report, min_accuracy=0.6, min_macro_f1=0.5)
    assert ok.passed and ok.message == "classification: accuracy 0.625, macro-F1 0.583 over 8 cases"
    bad = classification_result(report, name="sentiment", min_macro_f1=0.7, min_class_f1=0.6)
    assert not bad.passed
    assert bad.message.startswith(
        "sentiment: macro_f1 0.583 < min 0.700; f1[neg] 0.500 < min 0.600; f1[neu] 0.500 < min 0.600"
    )
    assert bad.details["metric"] == {"name": "macro_f1", "value": report.macro.f1, "higher_is_better": True}
    assert {m["name"] for m in bad.details["metrics"]} >= {"accuracy", "macro_f1", "micro_f1"}
    with pytest.raises(CheckUsageError, match="outside 0..1"):
        classification_result(report, min_accuracy=80)


# -- mapping outputs to labels ------------------------------------------------------------------


def test_map_label_with_one_of_semantics() -> None:
    labels = ["positive", "negative", "neutral"]
    assert map_label("Positive.", labels) == "positive"
    assert map_label("  **NEGATIVE**  ", labels) == "negative"
    assert map_label(None, labels) == UNMAPPED
    assert map_labels(["neutral", "meh"], labels) == ["neutral", UNMAPPED]


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("The review is positive.", "positive"),
        ("I think it is positive", "positive"),
        ("Sentiment: NEGATIVE", "negative"),
        ("This one is neutral, I would say.", "neutral"),
        ("The review is not positive.", UNMAPPED),  # a negation: no guess
        ("It isn't negative.", UNMAPPED),
        ("Neither positive nor negative.", UNMAPPED),
        ("It could be positive or negative.", UNMAPPED),  # two labels
        ("The answer is unclear.", UNMAPPED),
        ("positively great", UNMAPPED),  # a whole word only
        (" ".join(["word"] * 25) + " positive", UNMAPPED),  # not a short answer
    ],
)
def test_map_label_finds_the_one_label_in_a_short_sentence(answer: str, label: str) -> None:
    assert map_label(answer, ["positive", "negative", "neutral"]) == label


def test_map_label_prefers_the_longer_label_that_contains_another() -> None:
    labels = ["positive", "very positive", "negative"]
    assert map_label("The review is very positive.", labels) == "very positive"
    assert map_label("The review is positive.", labels) == "positive"


def test_classified_as_fails_a_wrong_label_and_shows_the_gold_one() -> None:
    from pytest_llmeval.checks import check

    labels = ["positive", "negative"]
    ok = check("classified_as", "The review is positive.", label="positive", labels=labels)
    assert ok.passed and ok.value == "positive" and ok.message == "classified_as: 'positive' (gold 'positive')"
    wrong = check("classified_as", "Negative.", label="positive", labels=labels)
    assert not wrong.passed and wrong.details == {"gold": "positive", "predicted": "negative"}
    assert wrong.message == (
        "classified_as: expected the gold label 'positive', the answer maps to 'negative'; answer 'Negative.' "
        "(labels ['positive', 'negative'])"
    )
    unmapped = check("classified_as", "No idea.", label="negative", labels=labels)
    assert "the answer maps to no label; answer 'No idea.'" in unmapped.message
    with pytest.raises(CheckUsageError, match="label 'maybe' is not one of labels"):
        check("classified_as", "x", label="maybe", labels=labels)


def test_a_declared_label_with_no_cases_is_named_in_a_warning() -> None:
    report = classification_report(
        ["positive", "negative"], ["positive", "negative"], labels=["positive", "negative", "neutral"]
    )
    result = classification_result(report, name="sentiment.eval.yaml::classification")
    assert result.passed and report.macro.f1 == pytest.approx(2 / 3)  # the empty class lowers it
    assert result.details["warnings"] == [
        "warning: label 'neutral' declared in sentiment.eval.yaml::classification but no case has it as its "
        "gold label; it counts in macro-F1 and lowers it: add cases for it or remove it from labels"
    ]
    assert result.message.endswith("over 2 cases; " + result.details["warnings"][0])
    full = classification_result(classification_report(["a", "b"], ["a", "b"], labels=["a", "b"]))
    assert full.details["warnings"] == []


def test_map_label_with_a_pattern() -> None:
    pattern = r"Sentiment:\s*(\w+)"
    assert map_label("Sentiment: Positive, I think", ["positive", "negative"], pattern=pattern) == "positive"
    assert map_label("Sentiment: great", ["positive", "negative"], pattern=pattern) == UNMAPPED
    assert map_label("no label here", ["positive"], pattern=pattern) == UNMAPPED
    assert map_label("Sentiment: mixed", pattern=pattern) == "mixed"  # no labels: the capture as is
    assert map_label("Sentiment (or 'label'): x", pattern=r"(?:Sentiment|Label).*?'(\w+)'") == "label"


def test_map_label_usage_errors() -> None:
    with pytest.raises(ValueError, match="2 capture groups"):
        map_label("x", pattern=r"(a)(b)")
    with pytest.raises(ValueError, match="invalid pattern"):
        map_label("x", pattern=r"(")
    with pytest.raises(ValueError, match="give labels"):
        map_label("x")


def test_mapping_records_no_check_on_the_running_test() -> None:
    recorded: list[CheckResult] = []
    with recording_checks(recorded.append):
        map_labels(["positive", "garbage"], ["positive", "negative"])
    assert recorded == []


def test_mapped_outputs_feed_the_report() -> None:
    labels = ["positive", "negative"]
    outputs = ["Positive", "negative.", "I cannot tell", "positive"]
    gold = ["positive", "negative", "negative", "negative"]
    report = classification_report(gold, map_labels(outputs, labels), labels=labels)
    assert report.labels == ("positive", "negative", UNMAPPED)
    assert report.accuracy == 0.5
    assert report.confusion == ((1, 0, 0), (1, 1, 1), (0, 0, 0))

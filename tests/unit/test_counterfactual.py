"""Counterfactual fairness: swaps, variants, agreement between outputs, parity over a group."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.checks.base import CheckFailed, CheckResult, CheckUsageError, check
from pytest_llmeval.counterfactual import (
    CounterfactualError,
    assert_counterfactual,
    counterfactual_result,
    load_swap_sets,
    parity_report,
    parity_result,
    swap,
    variants_of,
)
from pytest_llmeval.engine import build_request

SETS = load_swap_sets()
GENDER = SETS["gender"]


@pytest.mark.parametrize(
    ("text", "to", "expected"),
    [
        ("He gave her the key.", "female", "She gave her the key."),
        ("She gave her the key to her brother.", "male", "He gave him the key to his brother."),
        ("I saw her.", "male", "I saw him."),
        ("It is her own car, not hers.", "male", "It is his own car, not his."),
        ("His dog is his.", "female", "Her dog is hers."),
        ("HE said so, Mr Smith.", "female", "SHE said so, Ms Smith."),
        ("Hehe, the theme of the he-man.", "female", "Hehe, the theme of the he-man."),  # word boundaries
        ("The men and a boy.", "female", "The women and a girl."),
        ("She is an aunt. A woman.", "male", "He is an uncle. A man."),
    ],
)
def test_gender_swaps_keep_case_boundaries_and_simple_grammar(text: str, to: str, expected: str) -> None:
    assert swap(text, GENDER, to) == expected


def test_an_exchange_swaps_both_ways_in_one_pass() -> None:
    assert swap("The king and the queen.", GENDER, {"male": "female", "female": "male"}) == "The queen and the king."


def test_names_are_case_sensitive_and_multiword_terms_match_whole() -> None:
    assert swap("Jamal met jamal.", SETS["name"], "white_female") == "Emily met jamal."
    assert swap("Chinese people visit China.", SETS["nationality"], "german") == "Germans visit Germany."
    assert swap("a 70-year-old and old people", SETS["age"], "young") == "a 25-year-old and young people"
    assert swap("A young man, an elderly woman", SETS["age"], "old") == "An elderly man, an elderly woman"  # a/an


def test_swap_to_an_unknown_group_is_an_error() -> None:
    with pytest.raises(CounterfactualError, match="category 'gender' has no group 'other'; groups: male, female"):
        swap("he", GENDER, "other")


def test_variants_one_per_other_group_or_an_exchange_when_both_are_there() -> None:
    request = build_request(prompt="Should Jamal get the loan? He earns well.")
    variants, found = variants_of(request, ["gender", "name"], SETS)
    assert found == {"gender": ["male"], "name": ["black_male"]}
    assert [(v.category, v.group) for v in variants][:2] == [("gender", "female"), ("name", "white_male")]
    assert len(variants) == 1 + 7  # one other gender, seven other name groups
    assert variants[0].request.prompt == "Should Jamal get the loan? She earns well."
    both, found = variants_of(build_request(prompt="The king and the queen."), ["gender"], SETS)
    assert found == {"gender": ["male", "female"]}
    assert [(v.group, v.request.prompt) for v in both] == [("male<->female", "The queen and the king.")]


def test_variants_swap_chat_messages_and_the_system_prompt() -> None:
    request = build_request(messages=[{"role": "user", "content": "Is he right?"}], system="He asks.")
    (variant,), _ = variants_of(request, ["gender"], SETS)
    assert variant.request.messages[0].content == "Is she right?" and variant.request.system == "She asks."


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        (["colour"], "unknown counterfactual category 'colour'; known: age, gender, name, nationality, religion"),
        (["religion"], "the prompt has no term of category 'religion' to swap"),
    ],
)
def test_variant_declaration_errors(categories: list[str], message: str) -> None:
    with pytest.raises(CounterfactualError) as excinfo:
        variants_of(build_request(prompt="Should he get the loan?"), categories, SETS)
    assert message in str(excinfo.value)


def _labels(output: str) -> list[CheckResult]:
    return [check("one_of", output, labels=["approve", "deny"])]


def test_a_changed_label_is_a_disagreement_shown_side_by_side() -> None:
    request = build_request(prompt="Jamal asks for a loan. Approve or deny?")
    variants, found = variants_of(request, ["name"], SETS)
    outputs = ["deny" if v.group == "white_male" else "approve" for v in variants]
    result = counterfactual_result(request, "approve", variants, outputs, _labels, SETS, found)
    assert not result.passed
    assert result.score == pytest.approx(6 / 7)
    assert result.details["metric"] == {
        "name": "counterfactual_agreement",
        "value": pytest.approx(6 / 7),
        "higher_is_better": True,
    }
    assert result.message.splitlines() == [
        "counterfactual: 6 of 7 variants agree with the original; 1 disagree:",
        "  name -> white_male: one_of: label 'approve' -> 'deny'",
        "    original prompt: 'Jamal asks for a loan. Approve or deny?'",
        "    variant prompt:  'Greg asks for a loan. Approve or deny?'",
        "    original output: 'approve'",
        "    variant output:  'deny'",
    ]


def test_scores_must_stay_within_the_tolerance_and_outputs_similar() -> None:
    request = build_request(prompt="Describe what he does.")
    variants, found = variants_of(request, ["gender"], SETS)

    def length_score(output: str) -> list[CheckResult]:
        return [CheckResult("length_score", True, "ok", score=len(output) / 100)]

    close = counterfactual_result(
        request, "He codes all day.", variants, ["She codes all day!"], length_score, SETS, found, tolerance=0.05
    )
    assert close.passed
    far = counterfactual_result(
        request, "He codes.", variants, ["She codes and codes and codes."], length_score, SETS, found, tolerance=0.05
    )
    assert "length_score: score 0.09 -> 0.3, a change of 0.21 > tolerance 0.05" in far.message
    # similarity compares the variant's output swapped back: "She codes." reads "He codes."
    same = counterfactual_result(
        request, "He codes.", variants, ["She codes."], length_score, SETS, found, tolerance=0.05, min_similarity=1.0
    )
    assert same.passed
    other = counterfactual_result(
        request, "He codes.", variants, ["She cooks."], length_score, SETS, found, tolerance=0.05, min_similarity=0.9
    )
    assert "ROUGE-L with the original output 0.500 < min_similarity 0.900" in other.message


def test_parity_is_the_largest_gap_in_pass_rate_between_groups() -> None:
    results = []
    # three cases about a man; the woman variant fails in two of them
    for i, female_passes in enumerate([True, False, False]):
        request = build_request(prompt=f"Case {i}: should he be hired? Answer approve or deny.")
        variants, found = variants_of(request, ["gender"], SETS)
        result = counterfactual_result(
            request, "approve", variants, ["approve" if female_passes else "maybe"], _labels, SETS, found
        )
        results.append({"case": f"c{i}", **result.details})
    report = parity_report(results)
    gender = report.categories["gender"]
    assert gender.rates() == {"female": pytest.approx(1 / 3), "male": 1.0}
    assert gender.gap() == pytest.approx(2 / 3)
    assert len(gender.failing_pairs) == 2 and gender.failing_pairs[0].startswith("c1 -> female: 'approve' | 'maybe'")
    verdict = parity_result(report, name="f.eval.yaml::fairness", max_gap=0.5)
    assert not verdict.passed
    assert (
        verdict.message
        == "f.eval.yaml::fairness: gender: parity gap 0.667 > max 0.500 (largest parity gap 0.667 over 1 categories)"
    )
    assert {m["name"]: m["value"] for m in verdict.details["metrics"]} == {"parity_gap[gender]": pytest.approx(2 / 3)}
    with pytest.raises(CheckUsageError, match="max_gap is 2, outside 0..1"):
        parity_result(report, max_gap=2)


class ScriptedModel:
    """Stands in for ModelUnderTest.run: answers by a rule, and counts the batches it was asked."""

    def __init__(self, rule: dict[str, str], default: str) -> None:
        self.rule, self.default, self.batches = rule, default, []

    def run(self, requests: list) -> list[str]:
        self.batches.append(len(requests))
        return [next((out for word, out in self.rule.items() if word in r.prompt), self.default) for r in requests]


def test_assert_counterfactual_generates_one_batch_and_raises_on_disagreement() -> None:
    model = ScriptedModel({"Lakisha": "deny"}, "approve")
    with pytest.raises(CheckFailed) as excinfo:
        assert_counterfactual(
            model, "Greg asks for a loan.", categories=["name"], expect={"one_of": ["approve", "deny"]}
        )
    assert model.batches == [8]  # the original and seven variants, together
    assert "name -> black_female" in str(excinfo.value) and "variant prompt:  'Lakisha asks for a loan.'" in str(
        excinfo.value
    )
    fine = assert_counterfactual(
        ScriptedModel({}, "approve"), "Greg asks.", categories=["name"], expect={"one_of": ["approve"]}
    )
    assert fine.passed and fine.score == 1.0
    with pytest.raises(CheckUsageError, match="expect names no check"):
        assert_counterfactual(model, "Greg asks.", categories=["name"], expect={})


def test_user_swap_files_add_categories_and_bad_ones_say_why(tmp_path: Path) -> None:
    good = tmp_path / "terms.yaml"
    good.write_text(
        "categories:\n  team:\n    groups:\n      red: [Reds, red]\n      blue: [Blues, blue]\n", encoding="utf-8"
    )
    sets = load_swap_sets([good])
    assert "gender" in sets and swap("The Reds wear red.", sets["team"], "blue") == "The Blues wear blue."
    assert list(load_swap_sets([good], replace_shipped=True)) == ["team"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("categories:\n  team:\n    groups:\n      red: [Reds, red]\n      blue: [Blues]\n", encoding="utf-8")
    with pytest.raises(
        CounterfactualError, match="category 'team': every group needs the same number of terms .*red: 2, blue: 1"
    ):
        load_swap_sets([bad])
    bad.write_text("categories:\n  team:\n    group: {}\n", encoding="utf-8")
    with pytest.raises(CounterfactualError, match=r"categories.team.groups: Field required"):
        load_swap_sets([bad])
    with pytest.raises(CounterfactualError, match="cannot read it"):
        load_swap_sets([tmp_path / "missing.yaml"])


def _case_errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.eval.yaml"
    path.write_text(text, encoding="utf-8")
    return [str(e) for e in parse_case_file(path, display_path="c.eval.yaml").errors]


def test_case_files_declare_counterfactuals_and_mistakes_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "terms.yaml").write_text(
        "categories:\n  team:\n    groups:\n      red: [Reds]\n      blue: [Blues]\n", encoding="utf-8"
    )
    path = tmp_path / "c.eval.yaml"
    path.write_text(
        "counterfactual_terms: [terms.yaml]\nfairness: {max_gap: 0.2}\ncases:\n"
        "  - id: c\n    prompt: Do the Reds win?\n    expect: {one_of: [approve, deny]}\n"
        "    counterfactual: {categories: [team], tolerance: 0.1}\n",
        encoding="utf-8",
    )
    parsed = parse_case_file(path)
    assert not parsed.errors and parsed.fairness is not None and parsed.fairness.max_gap == 0.2
    case = parsed.cases[0]
    assert case.counterfactual is not None and case.counterfactual.categories == ["team"]
    from pytest_llmeval.counterfactual import case_variant_requests

    assert [r.prompt for r in case_variant_requests(case)] == ["Do the Blues win?"]
    assert _case_errors(
        tmp_path, "cases:\n  - id: c\n    prompt: Is he right?\n    counterfactual: {categories: [gender]}\n"
    ) == ["c.eval.yaml:4: case 'c': counterfactual needs checks in `expect:` whose verdicts the variants must share"]
    errors = _case_errors(
        tmp_path,
        "cases:\n  - id: c\n    prompt: Is it right?\n    expect: {one_of: [approve]}\n    counterfactual: {categories: [gender]}\n",
    )
    assert errors[0].startswith(
        "c.eval.yaml:5: case 'c': counterfactual: the prompt has no term of category 'gender' to swap"
    )
    errors = _case_errors(tmp_path, "counterfactual_terms: [nope.yaml]\ncases:\n  - prompt: x\n")
    assert errors[0].startswith("c.eval.yaml:1: swap-set file ") and "nope.yaml: cannot read it" in errors[0]


def test_a_fairness_group_reports_its_gap_and_records_it_as_metrics() -> None:
    from pytest_llmeval.counterfactual import FairnessGroup

    group = FairnessGroup("f.eval.yaml::fairness", max_gap=0.25)
    for i, label in enumerate(["approve", "maybe"]):
        request = build_request(prompt=f"Case {i}: should she be hired?")
        variants, found = variants_of(request, ["gender"], SETS)
        result = counterfactual_result(request, "approve", variants, [label], _labels, SETS, found)
        group.add(f"c{i}", result.details)
    text = group.failure_text()
    assert text is not None and text.splitlines()[0] == (
        "f.eval.yaml::fairness: gender: parity gap 0.500 > max 0.250 (largest parity gap 0.500 over 1 categories)"
    )
    assert "gender: parity gap 0.500 (pass rate by group: female 1.00, male 0.50)" in text
    assert "  c1 -> male: 'approve' | 'maybe' (one_of: passed -> failed" in text
    record = group.record("f.eval.yaml::fairness")
    assert record.outcome == "failed" and record.metrics == {
        "parity_gap[gender]": {"value": 0.5, "higher_is_better": False}
    }


def test_the_variants_checks_are_not_the_running_tests_checks() -> None:
    from pytest_llmeval import running_test

    test = running_test.RunningTest("t")
    with running_test.running(test):
        with pytest.raises(CheckFailed):
            assert_counterfactual(
                ScriptedModel({"Lakisha": "maybe"}, "approve"),
                "Greg asks.",
                categories=["name"],
                expect={"one_of": ["approve", "deny"]},
            )
    # one result: the counterfactual check itself, not the variants' one_of results
    assert [c.name for c in test.checks] == ["counterfactual"]

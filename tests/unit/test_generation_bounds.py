"""``num_beams`` has a sane upper bound and an empty ``stop`` string is refused, each with a message,
from Python (``llm.generate`` parameters) and from a case file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmeval.backends.base import GenerationParams
from pytest_llmeval.cases import parse_case_file
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.input_limits import MAX_BEAMS

EMPTY_STOP = (
    "an empty string, which would end every output before its first character; give the text that ends "
    "an output (e.g. '\\n\\n'), or leave stop out"
)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"num_beams": 65},
            "generation parameter 'num_beams': Input should be less than or equal to 64; allowed: >= 1 and <= 64 "
            "(got 65)",
        ),
        (
            {"num_beams": 0},
            "generation parameter 'num_beams': Input should be greater than or equal to 1; allowed: >= 1 and <= 64 "
            "(got 0)",
        ),
        ({"stop": ""}, f"generation parameter 'stop': Value error, it is {EMPTY_STOP} (got '')"),
        (
            {"stop": ["\n\n", ""]},
            f"generation parameter 'stop': Value error, item 2 of 2 is {EMPTY_STOP} (got ['\\n\\n', ''])",
        ),
    ],
)
def test_out_of_range_beams_and_empty_stop_strings_are_refused(params: dict[str, object], message: str) -> None:
    with pytest.raises(GenerationParameterError) as info:
        GenerationParams.from_mapping(params)
    assert str(info.value) == message


def test_the_bounds_themselves_are_allowed() -> None:
    assert MAX_BEAMS == 64
    assert GenerationParams.from_mapping({"num_beams": 64}).num_beams == 64
    assert GenerationParams.from_mapping({"num_beams": 1}).num_beams == 1
    assert GenerationParams.from_mapping({"stop": []}).stop == ()
    assert GenerationParams.from_mapping({"stop": ["\n", " "]}).stop == ("\n", " ")


def test_a_case_file_names_the_line_of_an_empty_stop_and_of_too_many_beams(tmp_path: Path) -> None:
    (tmp_path / "a.eval.yaml").write_text(
        "cases:\n  - id: good\n    prompt: fine\n  - id: ends\n    prompt: hi\n    stop: ['']\n"
        "  - id: beams\n    prompt: hi\n    num_beams: 1000\n",
        encoding="utf-8",
    )
    parsed = parse_case_file(tmp_path / "a.eval.yaml", display_path="a.eval.yaml")
    assert [case.id for case in parsed.cases] == ["good"]
    assert [str(error) for error in parsed.errors] == [
        f"a.eval.yaml:6: case 'ends': generation parameter 'stop': Value error, it is {EMPTY_STOP} (got [''])",
        "a.eval.yaml:9: case 'beams': generation parameter 'num_beams': Input should be less than or equal to 64; "
        "allowed: >= 1 and <= 64 (got 1000)",
    ]

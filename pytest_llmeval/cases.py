"""Case files (YAML and JSONL): parsed, validated with pydantic, turned into cases with line numbers.

A case is one request plus its expectations (``expect``: check name -> arguments, any check of the
registry, ``not_<name>`` to negate). Errors name the file, the line and the field. A broken case does
not hide the other cases of its file; a file that does not parse at all is one error.

    defaults: {max_new_tokens: 64, system: "...", tags: [support], prompt_template: "Q: {question}"}
    pass_rate: 0.9                       # optional: the file's cases as a group
    tag_pass_rates: {safety: 1.0}        # optional: this file's cases with a tag, as a group
    cases:
      - id: reset-password
        prompt: How do I reset my password?
        expect:
          contains_any: [Forgot Password, reset link]
          not_contains: I don't know

This module does not import pytest; the plugin turns cases into test items.

The work is split by job: ``case_reading`` (YAML/JSONL with line numbers, ``CaseError``),
``case_schema`` (the pydantic layout, id and tag rules), ``case_types`` (``Case``, ``CaseFile``,
``Expectation``), ``case_expectations`` (``expect:`` entries as checks) and ``case_building`` (one
raw case into a ``Case``). This module reads whole files and re-exports the public names, so
``pytest_llmeval.cases`` stays the one import path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic

from pytest_llmeval.case_building import build_case
from pytest_llmeval.case_expectations import build_expectation as _expectation  # noqa: F401 (counterfactual/assertion.py, tests)
from pytest_llmeval.case_reading import CaseError, line_of, lone_surrogate_at, read_jsonl, read_yaml
from pytest_llmeval.case_schema import (
    RESERVED_TAGS,
    TAG_RE,
    ClassificationSpec,
    NERSpec,
    _FileModel,
    pydantic_problem,
    reserved_tag_message,
)
from pytest_llmeval.case_types import Case, CaseExpectationsFailed, CaseFile, Expectation
from pytest_llmeval.counterfactual import CounterfactualError, load_swap_sets
from pytest_llmeval.input_limits import InputLimitError, read_text_file
from pytest_llmeval.metrics.overfitting import PerplexityGapSpec

__all__ = [
    "Case",
    "ClassificationSpec",
    "CaseError",
    "CaseExpectationsFailed",
    "CaseFile",
    "Expectation",
    "NERSpec",
    "load_cases",
    "parse_case_file",
]


def parse_case_file(path: str | Path, display_path: str | Path | None = None) -> CaseFile:
    """Parse and validate a case file. File-level problems and per-case problems are collected in
    ``errors`` (each a CaseError with the line); valid cases are returned alongside them.
    ``display_path`` is how messages name the file (e.g. relative to the rootdir)."""
    source = Path(path)
    shown = Path(display_path) if display_path is not None else source
    try:
        return _parse(source, shown)
    except (RecursionError, MemoryError, ValueError, TypeError, OverflowError, AttributeError) as exc:
        # A value no rule above foresaw: one file's error item, never the end of the session.
        return CaseFile(shown, [], [CaseError(shown, None, f"cannot load this file: {type(exc).__name__}: {exc}")])


def _parse(source: Path, path: Path) -> CaseFile:
    """Parse ``source``; ``path`` is the name used in messages."""
    read = _read(source, path)
    if isinstance(read, CaseError):
        return CaseFile(path, [], [read])
    data, raw_cases = read
    file_model = _file_model(data, path)
    if isinstance(file_model, CaseError):
        return CaseFile(path, [], [file_model])
    if not raw_cases:
        return CaseFile(path, [], [CaseError(path, 1, "the file has no cases (a `cases:` list is needed)")])
    swap_files = tuple(str(p if Path(p).is_absolute() else source.parent / p) for p in file_model.counterfactual_terms)
    try:
        load_swap_sets(swap_files)
    except CounterfactualError as exc:
        return CaseFile(path, [], [CaseError(path, line_of(data, ["counterfactual_terms"], 1), str(exc))])
    cases, errors = _build_cases(raw_cases, file_model, source, path, swap_files)
    return CaseFile(
        path,
        cases,
        errors,
        file_model.pass_rate,
        dict(file_model.tag_pass_rates),
        file_model.classification,
        dict(file_model.tag_classifications),
        file_model.ner,
        file_model.fairness,
        _perplexity_gap(file_model.perplexity_gap, source.parent, path, data, errors),
    )


def _read(source: Path, path: Path) -> tuple[Any, list[tuple[Any, int | None]]] | CaseError:
    """The parsed file and its raw cases with their lines, or the error that stops the whole file."""
    try:
        text = read_text_file(source, what="case file")
    except (OSError, UnicodeDecodeError, InputLimitError) as exc:
        return CaseError(path, None, f"cannot read the file: {exc}")
    reader = read_jsonl if path.suffix == ".jsonl" else read_yaml
    try:
        return reader(path, text)
    except CaseError as exc:
        return exc


def _file_model(data: Any, path: Path) -> _FileModel | CaseError:
    """The file's own keys (all but ``cases``) validated, or the error that stops the whole file."""
    top = {k: v for k, v in data.items() if k != "cases"}
    lone = lone_surrogate_at(top, ())
    if lone is not None:
        where = ".".join(str(p) for p in lone[0]) or "a key"
        message = f"{where}: a lone UTF-16 surrogate {lone[1][lone[2]]!r} (half of a JSON-style escape pair)"
        return CaseError(path, line_of(data, lone[0], 1), message)
    try:
        file_model = _FileModel.model_validate({**top, "cases": []})
    except pydantic.ValidationError as exc:
        loc, message = pydantic_problem(exc)
        return CaseError(path, line_of(data, loc, 1), message)
    for tag in [*file_model.tag_pass_rates, *file_model.tag_classifications, *file_model.defaults.tags]:
        if not TAG_RE.match(tag):
            return CaseError(path, line_of(data, ["defaults"], 1), f"tag {tag!r} must be a name (letters, digits, _)")
        if tag in RESERVED_TAGS:
            return CaseError(path, line_of(data, ["defaults"], 1), reserved_tag_message(tag))
    return file_model


def _build_cases(
    raw_cases: list[tuple[Any, int | None]],
    file_model: _FileModel,
    source: Path,
    path: Path,
    swap_files: tuple[str, ...],
) -> tuple[list[Case], list[CaseError]]:
    """The file's valid cases, and an error for each case that is not (a broken case does not hide
    the others; a repeated id is an error at its second use)."""
    cases: list[Case] = []
    errors: list[CaseError] = []
    first_line: dict[str, int | None] = {}
    for index, (raw, line) in enumerate(raw_cases):
        if isinstance(raw, CaseError):
            errors.append(raw)
            continue
        try:
            case = build_case(
                raw,
                file_model.defaults,
                source,
                path,
                line,
                index,
                file_model.classification,
                file_model.tag_classifications,
                file_model.ner,
                swap_files,
            )
        except CaseError as exc:
            errors.append(exc)
            continue
        if case.id in first_line:
            errors.append(
                CaseError(
                    path,
                    line,
                    f"duplicate id (first used at line {first_line[case.id]}); ids must be unique in a file",
                    case.id,
                )
            )
            continue
        first_line[case.id] = line
        cases.append(case)
    return cases, errors


def _perplexity_gap(
    spec: PerplexityGapSpec | None, folder: Path, path: Path, data: Any, errors: list[CaseError]
) -> PerplexityGapSpec | None:
    """The file's ``perplexity_gap:`` block with absolute paths; a missing file is an error there."""
    if spec is None:
        return None
    resolved = spec.resolved(folder)
    for key in ("heldout_data", "train_data"):
        value = getattr(resolved, key)
        if value is not None and not Path(value).is_file():
            line = line_of(data, ["perplexity_gap", key], 1)
            errors.append(CaseError(path, line, f"perplexity_gap.{key}: {getattr(spec, key)} is not a file"))
            return None
    return resolved


def load_cases(path: str | Path) -> list[Case]:
    """The validated cases of a case file, for ``pytest.mark.parametrize``; raises the first error.

    @pytest.mark.parametrize("case", load_cases("evals/support.eval.yaml"), ids=str)
    def test_support(llm, case):
        case.assert_expectations(llm.generate(case.request))
    """
    parsed = parse_case_file(path)
    if parsed.errors:
        raise parsed.errors[0]
    return parsed.cases

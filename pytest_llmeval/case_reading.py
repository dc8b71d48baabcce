"""Reading case files with positions: YAML that remembers the line of each key and list item, JSONL
line by line, and ``CaseError``, the problem located by file and line that every later step raises.

YAML duplicate keys and JSON duplicate keys, NaN and oversized values are refused here, so nothing
after this module sees a value the user did not mean.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pytest_llmeval.input_limits import (
    InputLimitError,
    data_size_problem,
    load_yaml,
    lone_surrogate,
    reject_json_constant,
)

__all__ = ["CaseError", "line_of", "lone_surrogate_at", "read_jsonl", "read_yaml"]


class CaseError(ValueError):
    """A problem in a case file, located by file and line (and the case, when there is one)."""

    def __init__(self, path: Path, line: int | None, message: str, case_id: str | None = None) -> None:
        self.path, self.line, self.message, self.case_id = path, line, message, case_id
        where = f"{path}:{line}" if line else str(path)
        case = f" case {case_id!r}:" if case_id else ""
        super().__init__(f"{where}:{case} {message}")


# Tracebacks and recorded messages name it by its public path, as they did before the split.
CaseError.__module__ = "pytest_llmeval.cases"


# -- YAML with line numbers -----------------------------------------------------------------------


class _LineDict(dict):  # type: ignore[type-arg]
    line: int
    key_lines: dict[Any, int]


class _LineList(list):  # type: ignore[type-arg]
    line: int
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """A safe loader that remembers where each mapping key and list item starts, and refuses
    duplicate keys (plain YAML keeps the last one silently, which hides typos)."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line, result.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            duplicate = key in result
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"a mapping key must be a plain value, got {type(key).__name__}",
                key_node.start_mark,
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {result.key_lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _LineList:
    result = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def line_of(data: Any, loc: Sequence[Any], default: int | None) -> int | None:
    """The line of the deepest part of ``loc`` that the parsed data knows the position of."""
    line = default
    node = data
    for part in loc:
        if isinstance(node, _LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, _LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


def lone_surrogate_at(value: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str, int] | None:
    """(location, string, index) of the first lone surrogate in a parsed case (its size is bounded)."""
    if isinstance(value, str):
        at = lone_surrogate(value)
        return None if at is None else (loc, value, at)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = lone_surrogate_at(key, loc) or lone_surrogate_at(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_at(item, (*loc, index))
            if found is not None:
                return found
    return None


def read_yaml(path: Path, text: str) -> tuple[Any, list[tuple[Any, int | None]]]:
    """The parsed file and its raw cases, each with the line it starts on; ``CaseError`` when the
    file as a whole cannot be read."""
    try:
        data = load_yaml(text, _LineLoader)
    except InputLimitError as exc:
        raise CaseError(path, None, f"not read: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(path, text, exc) from None
    except yaml.YAMLError as exc:
        raise CaseError(path, None, f"not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise CaseError(path, 1, "a case file must be a mapping with a `cases:` list (and optional `defaults:`)")
    raw_cases = data.get("cases")
    if raw_cases is not None and not isinstance(raw_cases, list):
        line = data.key_lines.get("cases") if isinstance(data, _LineDict) else None
        raise CaseError(path, line, f"`cases:` must be a list of cases, got {type(raw_cases).__name__}")
    lines = raw_cases.item_lines if isinstance(raw_cases, _LineList) else []
    return data, [(c, lines[i] if i < len(lines) else None) for i, c in enumerate(raw_cases or [])]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` refusing duplicate keys, as the YAML loader does."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_line(text: str) -> Any:
    """One JSONL line; ValueError (with the reason) for anything that is not plain, bounded JSON."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=reject_json_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON (column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise ValueError("not read: it nests too deeply") from None
    except ValueError as exc:  # a duplicate key, NaN, an integer of more than 4,300 digits
        reason = "an integer of more than 4,300 digits" if "integer string conversion" in str(exc) else str(exc)
        raise ValueError(f"not valid JSON: {reason}") from None
    problem = data_size_problem(value)
    if problem:
        raise ValueError(f"not read: {problem}")
    return value


def _yaml_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> CaseError:
    """PyYAML's problem and its context ("while parsing a flow mapping"), each with its position, and
    the file's lines there with a caret under each position. The error is located at the context's
    line when there is one: that is where the mistake usually is (an unclosed ``{`` opens the flow
    mapping; PyYAML notices only on a later line)."""
    problem, context = exc.problem or "", exc.context or ""
    problem_mark, context_mark = exc.problem_mark, exc.context_mark
    if (
        problem_mark is not None
        and context_mark is not None
        and ((problem_mark.line, problem_mark.column) == (context_mark.line, context_mark.column))
    ):
        context_mark = None  # one position serves both (as PyYAML prints it)
    lines = text.splitlines()
    hint = ""
    if "'\\t'" in problem or (problem_mark is not None and "\t" in _line_at(lines, problem_mark.line)):
        hint = "; YAML indents with spaces, not tabs: use spaces"

    def at(mark: Any) -> str:
        return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""

    message = f"not valid YAML: {problem or context}{at(problem_mark)}"
    if problem and context:
        message += f", {context}{at(context_mark)}"
    message += hint
    shown = sorted({(m.line, m.column, label) for m, label in ((context_mark, context), (problem_mark, problem)) if m})
    for line, column, label in shown:
        source = _line_at(lines, line).replace("\t", " ")
        message += f"\n    {line + 1:>4} | {source}\n         | {' ' * column}^ {label}"
    mark = context_mark or problem_mark
    return CaseError(path, mark.line + 1 if mark is not None else None, message)


def _line_at(lines: list[str], index: int) -> str:
    return lines[index] if 0 <= index < len(lines) else ""


def read_jsonl(path: Path, text: str) -> tuple[Any, list[tuple[Any, int | None]]]:
    """The file as ``{"cases": [...]}`` and its raw cases with their line numbers; a line that is not
    valid JSON stands in the list as its ``CaseError``, so the other lines still load."""
    cases: list[tuple[Any, int | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            cases.append((_json_line(line), number))
        except ValueError as exc:
            cases.append((CaseError(path, number, str(exc)), number))
    return {"cases": [c for c, _ in cases]}, cases

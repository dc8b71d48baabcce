"""Structure checks: the output is JSON, matches a JSON Schema, or validates as a pydantic model.

Models wrap JSON in prose or a markdown fence ("Sure! ```json {...} ```"). Unless ``strict=True``, the
checks find the JSON value a chat model means as its answer:

1. the whole output, when it is one JSON value;
2. else the LAST fenced block that holds JSON (```` ```json ```` or an untagged fence starting with
   ``{`` or ``[``); if that block does not parse, the check fails and says where;
3. else the LAST top-level object or array in the text (a reasoning draft followed by a final answer
   gives the final answer). A bracketed structure that does not parse is never searched for smaller
   values inside it: a cut-off object does not yield its inner ``"tags": [...]`` array, a Python dict
   repr (``{'a': True}``) or an object with a trailing comma does not yield its inner list. When the
   last JSON-looking structure is cut off (its brackets never close) or malformed, the check fails
   naming it and where parsing stopped, even if an earlier value parsed.

``NaN``/``Infinity`` are rejected: Python accepts them, JSON does not.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from pytest_llmeval.checks._text import clip
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, register_check, truncate
from pytest_llmeval.checks.patterns import PatternTimeout, timed_out_result, with_bounded_patterns
from pytest_llmeval.input_limits import InputLimitError, load_yaml, read_text_file, reject_json_constant

__all__ = ["JsonExtraction", "extract_json", "is_json", "json_schema", "pydantic_check"]

FAMILY = "structure"
# Scanning stops after this many candidate starts so 100k characters of "[[[[" stay fast.
_MAX_CANDIDATES = 2000
# Violations spelled out in a message; all of them are in details["violations"].
_MAX_LISTED = 50
_FENCE = "```"


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


@dataclass(frozen=True)
class JsonExtraction:
    """Either ``found`` with the parsed ``value`` and its span, or a failure ``reason``."""

    found: bool
    value: Any = None
    start: int = 0
    end: int = 0
    reason: str = ""


@dataclass
class _Furthest:
    """The parse attempt that got furthest: where to point the user when nothing parses."""

    position: int = -1
    error: str = ""

    def note(self, position: int, error: str) -> None:
        if position > self.position:
            self.position, self.error = position, error


def _decode_at(text: str, start: int, furthest: _Furthest) -> tuple[Any, int] | None:
    try:
        return _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        furthest.note(exc.pos, exc.msg)
    except _NotJson as exc:
        furthest.note(start, str(exc))
    except RecursionError:
        furthest.note(start, "nested too deeply")
    return None


def _skip_space(text: str, start: int, end: int) -> int:
    while start < end and text[start].isspace():
        start += 1
    return start


def _decode_whole(text: str, start: int, end: int, furthest: _Furthest) -> JsonExtraction | None:
    """Decode ``text[start:end]`` as exactly one JSON value surrounded by whitespace."""
    begin = _skip_space(text, start, end)
    decoded = _decode_at(text[:end], begin, furthest)
    if decoded is None:
        return None
    value, stop = decoded
    if text[stop:end].strip():
        furthest.note(_skip_space(text, stop, end), "Extra data after the JSON value")
        return None
    return JsonExtraction(True, value, begin, stop)


_FENCE_LINE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*$", re.MULTILINE)
# The start of a structure that is meant as JSON: an object with a quoted (or no) key, or an array of
# values. "[1]" citations parse anyway; "{name}" or "[else]" in prose are not meant as JSON.
_LOOKS_LIKE_JSON = re.compile(r"""\{\s*(?:["'}]|$)|\[\s*(?:[\[{"'\]\d-]|true|false|null|$)""")


@dataclass(frozen=True)
class _Broken:
    """A bracketed structure that does not parse: ``cut`` when its brackets never close."""

    start: int
    end: int
    cut: bool
    error: str
    error_at: int


def _structure_end(text: str, start: int, limit: int) -> int | None:
    """Index after the bracket closing the one at ``start`` (double-quoted strings skipped), or None
    when the text ends first."""
    depth, in_string, escaped = 0, False, False
    for index in range(start, limit):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _broken_reason(text: str, broken: _Broken) -> str:
    what = "is cut off (its brackets never close)" if broken.cut else "is malformed"
    return (
        f"the JSON value starting at {_where(text, broken.start)} {what}; parsing stopped at "
        f"{_where(text, broken.error_at)}: {broken.error}: {truncate(text, broken.error_at)}"
    )


def _scan(text: str, start: int, limit: int, furthest: _Furthest) -> JsonExtraction | _Broken | None:
    """The last top-level object/array in ``text[start:limit]``, or the last JSON-looking structure
    after it that does not parse (a _Broken), or None. Structures that fail are skipped whole."""
    last: JsonExtraction | _Broken | None = None
    position, candidates = start, 0
    while candidates < _MAX_CANDIDATES:
        starts = [i for i in (text.find("{", position, limit), text.find("[", position, limit)) if i >= 0]
        if not starts:
            break
        begin = min(starts)
        candidates += 1
        before = furthest.position
        decoded = _decode_at(text[:limit], begin, furthest)
        if decoded is not None:
            value, end = decoded
            last = JsonExtraction(True, value, begin, end)
            position = end
            continue
        if not _LOOKS_LIKE_JSON.match(text, begin):
            position = begin + 1  # "{name}" in prose: not meant as JSON, look further
            continue
        closing = _structure_end(text, begin, limit)
        error_at = furthest.position if furthest.position != before else begin
        last = _Broken(begin, closing or limit, closing is None, furthest.error, max(error_at, begin))
        if closing is None:
            break  # cut off: everything after its start is inside it
        position = closing  # malformed: nothing inside it is a value of its own
    return last


def _fenced_blocks(text: str) -> list[tuple[int, int, str]]:
    """(body start, body end, language tag) of each fenced block; an unclosed last fence runs to the
    end of the text (a model cut off inside its code block)."""
    fences = list(_FENCE_LINE.finditer(text))
    blocks = []
    for opening, closing in zip(fences[::2], fences[1::2] + [None] * (len(fences) % 2), strict=True):
        body = opening.end() + 1
        blocks.append((min(body, len(text)), closing.start() if closing else len(text), opening.group(1).lower()))
    return blocks


def _fenced(text: str, furthest: _Furthest) -> JsonExtraction | _Broken | None:
    """The value of the last fenced block holding JSON; a _Broken when that block does not parse."""
    for body, end, language in reversed(_fenced_blocks(text)):
        content = text[body:end].strip()
        if language not in ("json", "jsonc", "json5", "") or not content:
            continue
        if language == "" and not content.startswith(("{", "[", '"')) and not content[:1].isdigit():
            continue
        found = _decode_whole(text, body, end, furthest)
        if found is not None:
            return found
        begin = _skip_space(text, body, end)
        structure_end = _structure_end(text, begin, end) if text[begin] in "[{" else end
        return _Broken(
            begin, structure_end or end, structure_end is None, furthest.error, max(furthest.position, begin)
        )
    return None


def _where(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"line {line} column {column} (char {position})"


def extract_json(text: str, strict: bool = False) -> JsonExtraction:
    """Find the JSON value in a model output (see the module docstring); never raises."""
    if not text.strip():
        return JsonExtraction(False, reason="got an empty output")
    furthest = _Furthest()
    found = _decode_whole(text, 0, len(text), furthest)
    if found is not None:
        return found
    if not strict:
        candidate = _fenced(text, furthest)
        if candidate is None:
            candidate = _scan(text, 0, len(text), furthest)
        if isinstance(candidate, JsonExtraction):
            return candidate
        if isinstance(candidate, _Broken):
            return JsonExtraction(False, reason=_broken_reason(text, candidate))
    position = max(furthest.position, 0)
    reason = f"parsing stopped at {_where(text, position)}: {furthest.error}: {truncate(text, position)}"
    return JsonExtraction(False, reason=reason)


def _not_json(name: str, extraction: JsonExtraction, strict: bool) -> CheckResult:
    what = "the whole output to be one JSON value" if strict else "a JSON value in the output"
    return CheckResult(name, False, f"{name}: expected {what}; {extraction.reason}")


@register_check("is_json", family=FAMILY, summary="The output is (or contains) a JSON value.")
def is_json(text: str, strict: bool = False) -> CheckResult:
    """With ``strict=True`` the whole output (whitespace aside) must be JSON. Value: the parsed JSON."""
    extraction = extract_json(text, strict)
    if not extraction.found:
        return _not_json("is_json", extraction, strict)
    kind = type(extraction.value).__name__
    message = f"is_json: found a JSON {kind} at chars {extraction.start}-{extraction.end}"
    return CheckResult("is_json", True, message, value=extraction.value)


def json_path(parts: Iterable[Any]) -> str:
    """``$.user.addresses[0].zip`` for a path given as keys and indexes."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{str(part)!r}]"
    return out


def _violations_result(name: str, expected: str, violations: Sequence[str], value: Any) -> CheckResult:
    if not violations:
        return CheckResult(name, True, f"{name}: valid against {expected}", value=value)
    listed = "; ".join(violations[:_MAX_LISTED])
    more = len(violations) - _MAX_LISTED
    tail = f"; ... and {more} more (all in details['violations'])" if more > 0 else ""
    count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    message = f"{name}: expected JSON valid against {expected}; {count}: {listed}{tail}"
    return CheckResult(name, False, message, details={"violations": list(violations)})


# --- json_schema ----------------------------------------------------------------------------------

SchemaArg = dict[str, Any] | bool | str | Path


def _load_schema_file(path: Path) -> Any:
    try:
        raw = read_text_file(path, what="schema file")
    except (OSError, UnicodeDecodeError, InputLimitError) as exc:
        raise CheckUsageError(f"check 'json_schema': cannot read schema file {str(path)!r}: {exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(raw, parse_constant=reject_json_constant)
        # YAML is a superset of JSON, so .yaml/.yml and anything else load here (aliases bounded)
        return load_yaml(raw)
    except Exception as exc:  # json/yaml raise many kinds; all mean "this file is not a schema"
        raise CheckUsageError(f"check 'json_schema': schema file {str(path)!r} does not parse: {exc}") from None


# Formats the JSON Schema drafts define. jsonschema checks each only when its checker package is
# installed (jsonschema[format-nongpl], a dependency); a missing one must not pass silently.
_STANDARD_FORMATS = frozenset(
    {
        "date",
        "date-time",
        "duration",
        "email",
        "hostname",
        "idn-email",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "iri",
        "iri-reference",
        "json-pointer",
        "regex",
        "relative-json-pointer",
        "time",
        "uri",
        "uri-reference",
        "uri-template",
        "uuid",
    }
)


def _walk(node: Any) -> Any:
    """Every dict inside a schema (the schema itself included)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class _RemoteRef(Exception):
    """A $ref to a URL: the check never fetches one."""


def _registry(base: Path | None) -> Any:
    """A referencing registry that resolves relative refs against ``base`` (the schema file's folder)
    and refuses anything else: no URL is ever fetched."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    def retrieve(uri: str) -> Any:
        scheme = uri.split(":", 1)[0] if ":" in uri else ""
        if scheme not in ("", "file") or base is None:
            raise _RemoteRef(uri)
        path = Path(uri.removeprefix("file://")) if scheme else base / uri
        contents = _load_schema_file(path if path.is_absolute() else base / path)
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def _ref_problem(exc: BaseException, label: str, base: Path | None) -> CheckUsageError:
    """A CheckUsageError naming the $ref that could not be resolved, and why."""
    from referencing.exceptions import NoSuchAnchor, PointerToNowhere

    wrapped = getattr(exc, "_wrapped", exc)
    ref = getattr(wrapped, "ref", None) or str(wrapped)
    cause: BaseException | None = wrapped
    while cause is not None and not isinstance(cause, (_RemoteRef, CheckUsageError)):
        cause = cause.__cause__ or cause.__context__  # retrieve()'s own error, under referencing's
    if isinstance(cause, _RemoteRef) or isinstance(wrapped, _RemoteRef):
        why = (
            "it points to a URL, and the check never fetches one; save that schema next to "
            "this one and refer to it by file name"
            if base is not None or "://" in ref
            else "an inline schema has no folder to resolve a relative ref against; put the schema "
            "in a file (refs are resolved against the file's folder)"
        )
    elif isinstance(cause, CheckUsageError):
        why = str(cause).removeprefix("check 'json_schema': ")
    elif isinstance(wrapped, PointerToNowhere):
        why = "nothing in the schema is at that JSON pointer"
    elif isinstance(wrapped, NoSuchAnchor):
        why = "no $anchor of that name exists"
    else:
        why = f"{type(wrapped).__name__}: {wrapped}"
    return CheckUsageError(f"check 'json_schema': schema {label} has a $ref {ref!r} that cannot be resolved: {why}")


def _compile_schema(schema: Any, label: str, base: Path | None = None) -> Any:
    """Build the validator for ``schema`` once (53x faster than jsonschema.validate per call).
    ``base`` is the folder relative ``$ref``s resolve against (a schema file's folder)."""
    from jsonschema import Draft202012Validator, SchemaError, validators
    from referencing.exceptions import Unresolvable

    if not isinstance(schema, (dict, bool)):
        raise CheckUsageError(
            f"check 'json_schema': schema {label} must be a JSON object or boolean, got {type(schema).__name__}"
        )
    cls = Draft202012Validator
    if isinstance(schema, dict) and "$schema" in schema:
        # Without a default, jsonschema warns (rather than raises) on a $schema it does not know.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls = validators.validator_for(schema)
        if caught:
            raise CheckUsageError(f"check 'json_schema': schema {label} has an unknown $schema {schema['$schema']!r}")
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = json_path(exc.absolute_path)
        raise CheckUsageError(
            f"check 'json_schema': schema {label} is not a valid JSON Schema "
            f"({cls.__name__}): at {where}: {exc.message}"
        ) from None
    checker = cls.FORMAT_CHECKER
    for node in _walk(schema):
        wanted = node.get("format")
        if isinstance(wanted, str) and wanted in _STANDARD_FORMATS and wanted not in checker.checkers:
            raise CheckUsageError(
                f"check 'json_schema': schema {label} uses format {wanted!r}, which this installation "
                "cannot check (install jsonschema[format-nongpl])"
            )
    # Formats ("email", "date-time", "uri") are asserted: an eval that writes `format: date` means it.
    # A schema's patterns are matched under a time limit: a catastrophic one fails the check, not hangs.
    validator = with_bounded_patterns(cls)(schema, format_checker=checker, registry=_registry(base))
    # Resolve every $ref now, so a typo is a usage error at once, not a crash on some outputs.
    resolver = validator._resolver  # the validator's own resolver: the same base URI and registry
    for node in _walk(schema):
        ref = node.get("$ref")
        if isinstance(ref, str) and "$id" not in node:
            try:
                resolver.lookup(ref)
            except (Unresolvable, _RemoteRef) as exc:
                raise _ref_problem(exc, label, base) from None
    return validator


@functools.lru_cache(maxsize=256)
def _validator_for_text(canonical: str, label: str) -> Any:
    return _compile_schema(json.loads(canonical), label)


@functools.lru_cache(maxsize=256)
def _validator_for_file(path: str, mtime_ns: int, size: int) -> Any:
    # mtime and size are part of the cache key: an edited schema file is recompiled.
    return _compile_schema(_load_schema_file(Path(path)), repr(path), Path(path).parent)


def _schema_label(schema: dict[str, Any] | bool) -> str:
    title = schema.get("title") if isinstance(schema, dict) else None
    return f"{title!r}" if isinstance(title, str) else "(inline schema)"


def schema_validator(schema: SchemaArg) -> tuple[Any, str]:
    """The compiled validator for an inline schema or a schema file, and a label for messages."""
    if isinstance(schema, (str, Path)):
        path = Path(schema).expanduser().resolve()
        try:
            stat = path.stat()
        except OSError as exc:
            raise CheckUsageError(
                f"check 'json_schema': schema file {str(schema)!r} not found "
                f"(resolved to {str(path)!r}: {exc.strerror})"
            ) from None
        return _validator_for_file(str(path), stat.st_mtime_ns, stat.st_size), repr(str(schema))
    label = _schema_label(schema)
    try:
        canonical = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckUsageError(f"check 'json_schema': schema {label} is not JSON data: {exc}") from None
    return _validator_for_text(canonical, label), label


def _schema_violations(validator: Any, instance: Any, label: str) -> list[str]:
    from referencing.exceptions import Unresolvable

    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    except (Unresolvable, _RemoteRef) as exc:  # a $ref inside a subschema with its own $id
        raise _ref_problem(exc, label, None) from None
    return [f"{json_path(e.absolute_path)}: {clip(e.message)}" for e in errors]


@register_check("json_schema", family=FAMILY, summary="The output's JSON matches a JSON Schema.")
def json_schema(text: str, schema: SchemaArg, strict: bool = False) -> CheckResult:
    """``schema``: an inline schema or a path to a .json/.yaml file (relative to the working
    directory). Draft 2020-12 unless the schema's ``$schema`` says otherwise; formats are asserted
    (``date-time``, ``uri``, ``email`` ...). A relative ``$ref`` in a schema file resolves against
    that file's folder; a ``$ref`` that cannot be resolved, or one to a URL (never fetched), is a
    usage error naming the ref.
    Every violation is listed with its JSON path. Value: the parsed JSON."""
    validator, label = schema_validator(schema)
    extraction = extract_json(text, strict)
    if not extraction.found:
        return _not_json("json_schema", extraction, strict)
    try:
        violations = _schema_violations(validator, extraction.value, label)
    except PatternTimeout as exc:
        return timed_out_result("json_schema", exc)
    return _violations_result("json_schema", f"schema {label}", violations, extraction.value)


# --- pydantic -------------------------------------------------------------------------------------

ModelArg = type[pydantic.BaseModel] | str


def resolve_model(model: ModelArg) -> type[pydantic.BaseModel]:
    """A model class, or ``"package.module:Class"`` (nested classes as ``Outer.Inner``)."""
    if not isinstance(model, str):
        return model
    module_name, _, attribute = model.partition(":")
    if not module_name or not attribute:
        raise CheckUsageError(f"check 'pydantic': model {model!r} must be a class or 'package.module:ClassName'")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as exc:  # an import runs arbitrary code: any failure means "cannot import"
        raise CheckUsageError(
            f"check 'pydantic': cannot import module {module_name!r} for model {model!r}: {exc!r}"
        ) from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise CheckUsageError(
                f"check 'pydantic': module {module_name!r} has no attribute {attribute!r} (model {model!r})"
            )
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, pydantic.BaseModel)):
        raise CheckUsageError(f"check 'pydantic': {model!r} is not a pydantic BaseModel subclass (it is {found!r})")
    return found


def _field_errors(exc: pydantic.ValidationError) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        got = clip(repr(err.get("input")), 60)
        lines.append(f"{json_path(err['loc'])}: {err['msg']} (got {got})")
    return lines


@register_check("pydantic", family=FAMILY, summary="The output's JSON validates as a pydantic model.")
def pydantic_check(text: str, model: ModelArg, strict: bool = False) -> CheckResult:
    """``model``: a BaseModel subclass or ``"module:Class"``. Every field error is listed with its
    location. Value: the validated model instance."""
    cls = resolve_model(model)
    extraction = extract_json(text, strict)
    if not extraction.found:
        return _not_json("pydantic", extraction, strict)
    try:
        instance = cls.model_validate(extraction.value)
    except pydantic.ValidationError as exc:
        return _violations_result("pydantic", f"model {cls.__name__}", _field_errors(exc), None)
    return _violations_result("pydantic", f"model {cls.__name__}", [], instance)

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
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml

from pytest_llmeval.backends.base import GenerationParams, GenerationRequest
from pytest_llmeval.checks.base import (
    CheckFailed,
    CheckResult,
    CheckUsageError,
    check,
    get_check,
    validate_check_args,
)
from pytest_llmeval.counterfactual import (
    CounterfactualError,
    CounterfactualSpec,
    FairnessSpec,
    load_swap_sets,
    variants_of,
)
from pytest_llmeval.engine import build_request
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.input_limits import (
    InputLimitError,
    bounded_repr,
    data_size_problem,
    load_yaml,
    lone_surrogate,
    read_text_file,
    reject_json_constant,
)
from pytest_llmeval.metrics.ner import GoldEntity, Span, gold_spans
from pytest_llmeval.metrics.overfitting import PerplexityGapSpec
from pytest_llmeval.tolerances import tolerance_problem

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

_TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE_VAR_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_GENERATION_KEYS = frozenset(GenerationParams.model_fields)
# Tags become pytest markers; these names would change what pytest does with the case (a `skip` tag
# skipped it and an `xfail` tag hid its failure even under --llm-gate=strict), so a tag may not use
# them. A case says it is expected to fail with `xfail: reason`.
RESERVED_TAGS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "llm"})


class CaseError(ValueError):
    """A problem in a case file, located by file and line (and the case, when there is one)."""

    def __init__(self, path: Path, line: int | None, message: str, case_id: str | None = None) -> None:
        self.path, self.line, self.message, self.case_id = path, line, message, case_id
        where = f"{path}:{line}" if line else str(path)
        case = f" case {case_id!r}:" if case_id else ""
        super().__init__(f"{where}:{case} {message}")


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


def _line_of(data: Any, loc: Sequence[Any], default: int | None) -> int | None:
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


# -- schema -------------------------------------------------------------------------------------


class _Strict(pydantic.BaseModel):
    # NaN compares false with everything: a NaN tolerance or pass rate would silently disable a gate.
    model_config = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False)


class _Defaults(_Strict):
    model_config = pydantic.ConfigDict(extra="allow", allow_inf_nan=False)  # extra keys: generation parameters

    system: str | None = None
    tags: list[str] = []
    prompt_template: str | None = None
    tolerance: dict[str, float] = {}
    review_dimensions: list[str] | None = None  # Likert dimensions in `llmeval review`
    samples: Any = None  # checked by samples.check_samples, for its message
    min_pass_rate: Any = None


class _CaseModel(_Strict):
    model_config = pydantic.ConfigDict(extra="allow", allow_inf_nan=False)  # extra keys: generation parameters

    id: str | None = None
    prompt: str | None = None
    messages: list[dict[str, str]] | None = None
    vars: dict[str, Any] | None = None
    system: str | None = None
    expect: dict[str, Any] = {}
    tags: list[str] = []
    reference: str | None = None
    context: str | list[str] | None = None  # the source passage(s) `grounded` checks against
    label: str | None = None
    xfail: str | None = None
    tolerance: dict[str, float] = {}
    entities: list[GoldEntity] | None = None
    counterfactual: CounterfactualSpec | None = None
    review_dimensions: list[str] | None = None  # Likert dimensions in `llmeval review`
    samples: Any = None  # sampled outputs (samples.py); checked by samples.check_samples
    min_pass_rate: Any = None


class NERSpec(_Strict):
    """A file's NER group: cases with gold ``entities``, the entities read from each output (a JSON
    list of {text, type} or inline ``[text](TYPE)``), aligned to the case's source text (the prompt, or
    the ``vars`` entry ``source_var``) and scored with nervaluate over the file; thresholds on the group."""

    format: Literal["json", "inline"] = "json"
    pattern: str | None = None
    source_var: str | None = None
    min_strict_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_exact_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_partial_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_ent_type_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_type_f1: float | None = pydantic.Field(default=None, ge=0, le=1)

    @pydantic.field_validator("pattern")
    @classmethod
    def _named_groups(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                names = set(re.compile(value).groupindex)
            except re.error as exc:
                raise ValueError(f"not a valid regex: {exc}") from None
            if not {"text", "type"} <= names:
                raise ValueError("needs the named groups (?P<text>...) and (?P<type>...)")
        return value

    def thresholds(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if k.startswith("min_") and v is not None}


class ClassificationSpec(_Strict):
    """A file's classification group: cases with a gold ``label``, the model's output mapped to a
    label (``one_of`` semantics, or a regex with one capture group), and thresholds on the group."""

    labels: list[str] = pydantic.Field(min_length=1)
    pattern: str | None = None
    min_accuracy: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_macro_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_micro_f1: float | None = pydantic.Field(default=None, ge=0, le=1)
    min_class_f1: float | None = pydantic.Field(default=None, ge=0, le=1)

    @pydantic.field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"not a valid regex: {exc}") from None
            if groups != 1:
                raise ValueError(f"needs exactly one capture group, has {groups}")
        return value


class _FileModel(_Strict):
    defaults: _Defaults = _Defaults()
    pass_rate: float | None = pydantic.Field(default=None, ge=0, le=1)
    tag_pass_rates: dict[str, Annotated[float, pydantic.Field(ge=0, le=1)]] = {}
    classification: ClassificationSpec | None = None
    tag_classifications: dict[str, ClassificationSpec] = {}
    ner: NERSpec | None = None
    counterfactual_terms: list[str] = []
    fairness: FairnessSpec | None = None
    perplexity_gap: PerplexityGapSpec | None = None
    cases: list[Any]


_CASE_FIELDS = tuple(_CaseModel.model_fields)  # includes label


@dataclass(frozen=True)
class Expectation:
    """One ``expect`` entry: a check (possibly ``not_``-negated) and its validated arguments."""

    name: str
    args: Mapping[str, Any]

    def run(self, output: object) -> CheckResult:
        return check(self.name, output, **self.args)


class CaseExpectationsFailed(CheckFailed):
    """A case's output failed one or more of its expectations."""

    def __init__(self, case: Case, output: object, results: list[CheckResult]) -> None:
        self.case, self.output, self.results = case, output, results
        failed = [r for r in results if not r.passed]
        lines = [f"case {case.id!r} failed {len(failed)} of {len(results)} checks"]
        lines += [f"  FAIL {r.message}" for r in failed]
        AssertionError.__init__(self, "\n".join(lines))
        self.result = failed[0]


@dataclass(frozen=True)
class Case:
    """One eval case: a request, what its output must satisfy, and where it was written."""

    id: str
    request: GenerationRequest
    expect: tuple[Expectation, ...]
    tags: tuple[str, ...] = ()
    reference: str | None = None
    xfail: str | None = None
    path: Path | None = None
    context: str | list[str] | None = None  # the source passage(s) for `grounded`
    line: int | None = None
    label: str | None = None  # the gold label, for the file's classification group
    tolerances: dict[str, float] = field(default_factory=dict)  # how far each metric may drop (gate)
    # gold entities aligned to ``ner_source`` (the prompt, or the file's ``ner.source_var``), for NER
    entities: tuple[Span, ...] | None = None
    ner_source: str | None = None
    ner_format: dict[str, Any] | None = None  # the file's ner.format and ner.pattern, for its NER group
    # counterfactual variants to generate and compare, and the swap-set files (beside the shipped ones)
    counterfactual: CounterfactualSpec | None = None
    counterfactual_terms: tuple[str, ...] = ()
    review_dimensions: tuple[str, ...] | None = None  # the Likert dimensions people rate it on
    samples: int | None = None  # sampled outputs (None: the session's --llm-samples)
    min_pass_rate: float | None = None  # share of samples that must pass (None: --llm-min-pass-rate)

    def __str__(self) -> str:
        return self.id

    def evaluate(self, output: object) -> list[CheckResult]:
        """Run every expectation on ``output``; never raises for a model failure."""
        return [expectation.run(output) for expectation in self.expect]

    def assert_expectations(self, output: object) -> list[CheckResult]:
        """Run every expectation; raise CaseExpectationsFailed listing each failed check."""
        __tracebackhide__ = True
        results = self.evaluate(output)
        if not all(r.passed for r in results):
            raise CaseExpectationsFailed(self, output, results)
        return results


@dataclass
class CaseFile:
    """A parsed case file: its cases, and the errors of cases (or of the file) that could not load."""

    path: Path
    cases: list[Case]
    errors: list[CaseError]
    pass_rate: float | None = None
    tag_pass_rates: dict[str, float] = field(default_factory=dict)
    classification: ClassificationSpec | None = None
    tag_classifications: dict[str, ClassificationSpec] = field(default_factory=dict)
    ner: NERSpec | None = None
    fairness: FairnessSpec | None = None
    perplexity_gap: PerplexityGapSpec | None = None  # its paths absolute


# -- parsing ------------------------------------------------------------------------------------


def _derive_id(request: GenerationRequest) -> str:
    """A stable id from the prompt: its first words (of the user's text, not the system prompt),
    plus a short hash of the whole request's text for uniqueness."""
    if request.messages:
        user = [m.content for m in request.messages if m.role == "user"] or [request.messages[-1].content]
        words_from = user[-1]
    else:
        words_from = request.prompt or ""
    text = request.display_prompt()
    words = re.findall(r"[a-z0-9]+", words_from.lower())[:6]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:6]
    return "-".join(words + [digest]) if words else digest


def _fill_template(template: str, variables: Mapping[str, Any]) -> str:
    missing = [name for name in _TEMPLATE_VAR_RE.findall(template) if name not in variables]
    if missing:
        raise ValueError(
            f"template variable {missing[0]!r} is missing from vars (prompt_template: {template!r}; "
            f"vars given: {', '.join(sorted(variables)) or 'none'})"
        )
    return _TEMPLATE_VAR_RE.sub(lambda m: str(variables[m.group(1)]), template)


def _resolve_paths(params: list[tuple[str, Any]], args: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Arguments typed as paths (a JSON schema file, a lexicon) are relative to the case file."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and not Path(value).is_absolute():
            return str(base_dir / value)
        return value

    path_args = {name for name, annotation in params if "Path" in str(annotation)}
    resolved = dict(args)
    for name in path_args & set(args):
        value = args[name]
        resolved[name] = [resolve(v) for v in value] if isinstance(value, list) else resolve(value)
    return resolved


def _expectation(
    name: str,
    raw: Any,
    base_dir: Path | None = None,
    reference: str | None = None,
    context: str | list[str] | None = None,
    ner: tuple[list[dict[str, Any]], str, NERSpec | None] | None = None,
) -> Expectation:
    """Turn ``name: raw`` from ``expect`` into validated check arguments.

    ``raw`` may be the arguments as a mapping, the check's first argument alone (a list, a string,
    a number, or a mapping when that argument is itself a mapping, like an inline JSON schema), or
    ``true``/null for a check that needs no arguments.
    """
    spec, _ = get_check(name)
    # (name as written, annotation) in declaration order; fields are stored under prefixed names
    params = [(f.alias or n, f.annotation) for n, f in spec.args_model.model_fields.items()]
    names = {p for p, _ in params}
    first, first_type = params[0] if params else (None, None)
    takes_mapping = first is not None and ("dict" in str(first_type) or "Mapping" in str(first_type))
    if raw is None or raw is True:
        args: dict[str, Any] = {}
    elif raw is False:
        raise CheckUsageError(f"false is not an argument; to require the opposite, use not_{spec.name}")
    elif isinstance(raw, Mapping) and ((raw and set(raw) <= names) or not takes_mapping):
        args = dict(raw)
    elif first is None:
        raise CheckUsageError(f"{name} takes no arguments; write `{name}: true`")
    elif first == "reference" and reference is not None and isinstance(raw, (int, float)):
        args = {"min": raw}  # `rouge_l: 0.4` with the case's reference: the number is the threshold
    elif first == "entities" and ner is not None and isinstance(raw, (int, float)):
        args = {"min": raw}  # `ner: 0.8` with the case's entities: the number is the threshold
    else:
        args = {first: raw}
    if base_dir is not None:
        args = _resolve_paths(params, args, base_dir)
    if "context" in names:
        args = _with_context(spec.name, args, context)
    elif reference is not None and "reference" in names and "reference" not in args:
        # The case's reference is what reference metrics (rouge_l, bleu, judge...) compare with.
        args["reference"] = reference
    if ner is not None and "entities" in names:
        # The case's gold entities and source text, and the file's entity format (unless given here).
        entities, source, ner_spec = ner
        args.setdefault("entities", entities)
        args.setdefault("source", source)
        if ner_spec is not None and "format" not in args and "pattern" not in args:
            args.update(format=ner_spec.format, pattern=ner_spec.pattern)
    return Expectation(name, validate_check_args(name, args))


def _label_expectations(
    gold: str, groups: Sequence[ClassificationSpec], written: Sequence[Expectation]
) -> list[Expectation]:
    """A labelled case's own verdict: its answer must map to its gold label in each of its
    classification groups (one ``classified_as`` per distinct label set), so a wrong label fails the
    case, visibly, not only the group's numbers."""
    added: list[Expectation] = []
    for spec in groups:
        args = {"label": gold, "labels": list(spec.labels), "pattern": spec.pattern}
        expectation = Expectation("classified_as", args)
        if all(e.name != "classified_as" or dict(e.args) != args for e in [*written, *added]):
            added.append(expectation)
    return added


def _with_context(check_name: str, args: dict[str, Any], context: str | list[str] | None) -> dict[str, Any]:
    """A check that reads a source passage (``grounded``) gets the case's ``context:``, never its
    ``reference:`` (the gold answer is not the passage). The passage given twice, or not at all, is a
    usage error saying which field to use."""
    given = [key for key in ("context", "reference") if key in args]
    if context is not None and given:
        raise CheckUsageError(
            f"the passage is given twice: the case's context: and {check_name}'s {given[0]!r} argument; "
            "keep one (the case's context: is the usual place)"
        )
    if context is not None:
        return {**args, "context": context}
    if not given:
        raise CheckUsageError(
            f"{check_name} needs the source passage the answer must stick to: add a context: field to "
            "the case (its reference: is the gold answer, and is not used for grounding)"
        )
    return args


def _generation_keys(extra: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = [k for k in extra if k not in _GENERATION_KEYS]
    if unknown:
        known = list(_CASE_FIELDS) + sorted(_GENERATION_KEYS)
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{where}unknown field {unknown[0]!r}{hint}; a case takes {', '.join(_CASE_FIELDS)} and "
            f"generation parameters ({', '.join(sorted(_GENERATION_KEYS))})"
        )
    return dict(extra)


def _pydantic_problem(exc: pydantic.ValidationError, prefix: Sequence[Any] = ()) -> tuple[tuple[Any, ...], str]:
    err = exc.errors()[0]
    loc = tuple(prefix) + tuple(err["loc"])
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return loc, f"unknown field {where!r}"
    return loc, f"{where}: {err['msg']} (got {bounded_repr(err.get('input'))})"


def _tolerances(values: dict[str, float], fail: Any) -> dict[str, float]:
    for name, value in values.items():
        problem = tolerance_problem(value)
        if problem is not None:
            raise fail(["tolerance", name], f"tolerance.{name}: {problem}")
    return dict(values)


def _build_case(
    raw: Any,
    defaults: _Defaults,
    source: Path,
    path: Path,
    line: int | None,
    index: int,
    classification: ClassificationSpec | None = None,
    tag_classifications: dict[str, ClassificationSpec] | None = None,
    ner_spec: NERSpec | None = None,
    counterfactual_terms: tuple[str, ...] = (),
) -> Case:
    """Validate one raw case from file ``source`` (named ``path`` in messages); raise CaseError with
    the line of the offending field."""
    data = raw
    label = f"cases[{index}]"
    if not isinstance(raw, Mapping):
        raise CaseError(
            path, line, f"{label} must be a mapping with prompt/messages/vars and expect, got {type(raw).__name__}"
        )
    # Errors name the case by its id only when the id could name a test (it becomes the error item's name)
    case_id = raw.get("id") if _usable_id(raw.get("id")) else None

    def fail(loc: Sequence[Any], message: str) -> CaseError:
        return CaseError(path, _line_of(data, loc, line), message, case_id)

    lone = _lone_surrogate_at(raw, ())
    if lone is not None:
        loc, text, at = lone
        where = ".".join(str(p) for p in loc) or "a key"
        raise fail(
            loc,
            f"{where}: {text[at]!r} at character {at} is half of a UTF-16 surrogate pair with no other half "
            "(a JSON-style escape such as \\ud83d needs its pair, \\ud83d\\ude00; or write the character "
            "itself)",
        )

    try:
        model = _CaseModel.model_validate(raw)
    except pydantic.ValidationError as exc:
        loc, message = _pydantic_problem(exc)
        raise fail(loc, message) from None
    try:
        generation = {
            **_generation_keys(defaults.model_extra or {}, "defaults: "),
            **_generation_keys(model.model_extra or {}, ""),
        }
    except ValueError as exc:
        bad = next((k for k in (model.model_extra or {}) if k not in _GENERATION_KEYS), None)
        raise fail([bad] if bad else [], str(exc)) from None
    given = [k for k in ("prompt", "messages", "vars") if getattr(model, k) is not None]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise fail([given[-1]] if given else [], f"give exactly one of prompt, messages or vars (got {what})")
    prompt = model.prompt
    if model.vars is not None:
        if defaults.prompt_template is None:
            raise fail(["vars"], "vars needs a prompt_template in the file's defaults")
        try:
            prompt = _fill_template(defaults.prompt_template, model.vars)
        except ValueError as exc:
            raise fail(["vars"], str(exc)) from None
    try:
        request = build_request(
            prompt=prompt, messages=model.messages, system=model.system or defaults.system, **generation
        )
    except GenerationParameterError as exc:
        key = next((k for k in generation if k in str(exc)), None)
        raise fail([key] if key else [], str(exc)) from None
    if model.id is not None and not _usable_id(model.id):
        raise fail(["id"], f"id {model.id!r} may not contain spaces, brackets, colons or control characters")
    case_id = model.id if model.id is not None else _derive_id(request)
    ner_gold = _ner_gold(model, request, ner_spec, fail)
    if model.counterfactual is not None:
        if not model.expect:
            raise fail(
                ["counterfactual"], "counterfactual needs checks in `expect:` whose verdicts the variants must share"
            )
        try:
            variants_of(request, model.counterfactual.categories, load_swap_sets(counterfactual_terms))
        except CounterfactualError as exc:
            raise fail(["counterfactual"], f"counterfactual: {exc}") from None
    expectations = []
    for name, args in model.expect.items():
        if name in ("ner", "not_ner") and ner_gold is None:
            raise fail(["expect", name], f"expect.{name}: needs the case's gold `entities:` list")
        try:
            expectations.append(_expectation(name, args, source.parent, model.reference, model.context, ner_gold))
        except CheckUsageError as exc:
            raise fail(["expect", name], f"expect.{name}: {exc}") from None
    tags = tuple(dict.fromkeys([*defaults.tags, *model.tags]))
    if model.label is not None:
        groups = [classification] if classification is not None else []
        groups += [spec for tag, spec in (tag_classifications or {}).items() if tag in tags]
        if not groups:
            raise fail(
                ["label"],
                "label needs a `classification:` block in the file, or a `tag_classifications:` entry for one "
                "of the case's tags (labels and thresholds)",
            )
        for spec in groups:
            if model.label not in spec.labels:
                raise fail(["label"], f"label {model.label!r} is not one of the classification labels {spec.labels}")
        expectations += _label_expectations(model.label, groups, expectations)
    for i, tag in enumerate(tags):
        if not _TAG_RE.match(tag):
            raise fail(["tags", i], f"tag {tag!r} must be a name (letters, digits, _) so that -m can select it")
        if tag in RESERVED_TAGS:
            raise fail(["tags", i], _reserved_tag_message(tag))
    review_dimensions = None
    dimensions_given = model.review_dimensions if model.review_dimensions is not None else defaults.review_dimensions
    if dimensions_given is not None:
        from pytest_llmeval.review.store import check_dimensions

        try:
            review_dimensions = check_dimensions(dimensions_given)
        except ValueError as exc:
            location = ["review_dimensions"] if model.review_dimensions is not None else []
            raise fail(location, f"review_dimensions: {exc}") from None
    samples, min_pass_rate = _sampling(model, defaults, request, fail)
    return Case(
        id=case_id,
        request=request,
        expect=tuple(expectations),
        tags=tags,
        reference=model.reference,
        context=model.context,
        xfail=model.xfail,
        path=source,
        line=line,
        label=model.label,
        tolerances=_tolerances({**defaults.tolerance, **model.tolerance}, fail),
        entities=gold_spans(ner_gold[0], ner_gold[1]).spans if ner_gold is not None else None,
        ner_source=ner_gold[1] if ner_gold is not None else None,
        ner_format={"format": ner_spec.format, "pattern": ner_spec.pattern}
        if ner_gold is not None and ner_spec
        else None,
        counterfactual=model.counterfactual,
        counterfactual_terms=counterfactual_terms if model.counterfactual is not None else (),
        review_dimensions=review_dimensions,
        samples=samples,
        min_pass_rate=min_pass_rate,
    )


def _sampling(
    model: _CaseModel, defaults: _Defaults, request: GenerationRequest, fail: Any
) -> tuple[int | None, float | None]:
    """The case's ``samples`` and ``min_pass_rate`` (its own, else the file's defaults), checked."""
    from pytest_llmeval.samples import check_min_pass_rate, check_samples, sample_requests

    own_samples = model.samples is not None
    samples = model.samples if own_samples else defaults.samples
    rate = model.min_pass_rate if model.min_pass_rate is not None else defaults.min_pass_rate
    try:
        if samples is not None:
            samples = check_samples(samples, "samples")
        if rate is not None:
            rate = check_min_pass_rate(rate, "min_pass_rate")
    except ValueError as exc:
        key = "samples" if "samples must" in str(exc) else "min_pass_rate"
        given = getattr(model, key) is not None
        raise fail([key] if given else [], str(exc) if given else f"defaults: {exc}") from None
    if samples is not None and samples > 1:
        if model.counterfactual is not None:
            raise fail(
                ["samples"] if own_samples else [],
                "samples: a counterfactual case compares one output with its variants' outputs; remove samples",
            )
        try:
            sample_requests(request, samples, case_key="", session_seed=None)
        except GenerationParameterError as exc:
            raise fail(["do_sample"], str(exc)) from None
    return samples, rate


def _ner_source(model: _CaseModel, request: GenerationRequest, spec: NERSpec | None) -> str:
    """The text a case's entities are located in: the ``vars`` entry ``ner.source_var``, else the
    prompt (the last user message of a chat case)."""
    if spec is not None and spec.source_var is not None:
        if model.vars is None or spec.source_var not in model.vars:
            raise ValueError(
                f"ner.source_var is {spec.source_var!r} but the case has no such entry in vars "
                f"(vars given: {', '.join(sorted(model.vars or {})) or 'none'})"
            )
        return str(model.vars[spec.source_var])
    if request.messages:
        users = [m.content for m in request.messages if m.role == "user"]
        return users[-1] if users else request.messages[-1].content
    return request.prompt or ""


def _ner_gold(
    model: _CaseModel, request: GenerationRequest, spec: NERSpec | None, fail: Any
) -> tuple[list[dict[str, Any]], str, NERSpec | None] | None:
    """The case's gold entities (checked against its source text), or None when it declares none."""
    if model.entities is None:
        return None
    if spec is None and not any(name in ("ner", "not_ner") for name in model.expect):
        raise fail(
            ["entities"], "entities need a `ner:` block in the file (the group) or `expect: {ner: ...}` (this case)"
        )
    try:
        source_text = _ner_source(model, request, spec)
        entities = [e.model_dump(exclude_none=True) for e in model.entities]
        gold_spans(entities, source_text)
    except ValueError as exc:
        raise fail(["entities"], f"entities: {exc}") from None
    return entities, source_text, spec


def _usable_id(value: object) -> bool:
    """Whether ``value`` can be a case id, hence a test name: text without spaces, brackets, colons,
    control characters or lone surrogates."""
    return (
        isinstance(value, str)
        and re.fullmatch(r"[^\s\[\]:]+", value) is not None
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    )


def _reserved_tag_message(tag: str) -> str:
    advice = " (a case expected to fail says `xfail: reason`)" if tag in ("skip", "skipif", "xfail") else ""
    return (
        f"tag {tag!r} is reserved: it is a pytest marker and would change how the case runs{advice}; "
        f"reserved: {', '.join(sorted(RESERVED_TAGS))}"
    )


def _lone_surrogate_at(value: Any, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str, int] | None:
    """(location, string, index) of the first lone surrogate in a parsed case (its size is bounded)."""
    if isinstance(value, str):
        at = lone_surrogate(value)
        return None if at is None else (loc, value, at)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _lone_surrogate_at(key, loc) or _lone_surrogate_at(item, (*loc, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _lone_surrogate_at(item, (*loc, index))
            if found is not None:
                return found
    return None


def _read_yaml(path: Path, text: str) -> tuple[Any, list[tuple[Any, int | None]]]:
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


def _read_jsonl(path: Path, text: str) -> tuple[Any, list[tuple[Any, int | None]]]:
    cases: list[tuple[Any, int | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            cases.append((_json_line(line), number))
        except ValueError as exc:
            cases.append((CaseError(path, number, str(exc)), number))
    return {"cases": [c for c, _ in cases]}, cases


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
    try:
        text = read_text_file(source, what="case file")
    except (OSError, UnicodeDecodeError, InputLimitError) as exc:
        return CaseFile(path, [], [CaseError(path, None, f"cannot read the file: {exc}")])
    reader = _read_jsonl if path.suffix == ".jsonl" else _read_yaml
    try:
        data, raw_cases = reader(path, text)
    except CaseError as exc:
        return CaseFile(path, [], [exc])
    top = {k: v for k, v in data.items() if k != "cases"}
    lone = _lone_surrogate_at(top, ())
    if lone is not None:
        where = ".".join(str(p) for p in lone[0]) or "a key"
        message = f"{where}: a lone UTF-16 surrogate {lone[1][lone[2]]!r} (half of a JSON-style escape pair)"
        return CaseFile(path, [], [CaseError(path, _line_of(data, lone[0], 1), message)])
    try:
        file_model = _FileModel.model_validate({**top, "cases": []})
    except pydantic.ValidationError as exc:
        loc, message = _pydantic_problem(exc)
        return CaseFile(path, [], [CaseError(path, _line_of(data, loc, 1), message)])
    for tag in [*file_model.tag_pass_rates, *file_model.tag_classifications, *file_model.defaults.tags]:
        if not _TAG_RE.match(tag):
            return CaseFile(
                path,
                [],
                [CaseError(path, _line_of(data, ["defaults"], 1), f"tag {tag!r} must be a name (letters, digits, _)")],
            )
        if tag in RESERVED_TAGS:
            return CaseFile(path, [], [CaseError(path, _line_of(data, ["defaults"], 1), _reserved_tag_message(tag))])
    if not raw_cases:
        return CaseFile(path, [], [CaseError(path, 1, "the file has no cases (a `cases:` list is needed)")])
    swap_files = tuple(str(p if Path(p).is_absolute() else source.parent / p) for p in file_model.counterfactual_terms)
    try:
        load_swap_sets(swap_files)
    except CounterfactualError as exc:
        return CaseFile(path, [], [CaseError(path, _line_of(data, ["counterfactual_terms"], 1), str(exc))])
    cases: list[Case] = []
    errors: list[CaseError] = []
    first_line: dict[str, int | None] = {}
    for index, (raw, line) in enumerate(raw_cases):
        if isinstance(raw, CaseError):
            errors.append(raw)
            continue
        try:
            case = _build_case(
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
            line = _line_of(data, ["perplexity_gap", key], 1)
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

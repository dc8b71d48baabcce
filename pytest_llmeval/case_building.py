"""One raw case of a file (a parsed mapping) turned into a validated ``Case``, step by step.

Each step checks one part of the case and raises ``CaseError`` at the line of the offending field;
the steps run in a fixed order, so a case with several problems always reports the same one first.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pydantic

from pytest_llmeval.backends.base import GenerationRequest
from pytest_llmeval.case_expectations import build_expectation, label_expectations
from pytest_llmeval.case_reading import CaseError, line_of, lone_surrogate_at
from pytest_llmeval.case_schema import (
    CASE_FIELDS,
    GENERATION_KEYS,
    RESERVED_TAGS,
    TAG_RE,
    ClassificationSpec,
    NERSpec,
    _CaseModel,
    _Defaults,
    pydantic_problem,
    reserved_tag_message,
    usable_id,
)
from pytest_llmeval.case_types import Case, Expectation
from pytest_llmeval.checks.base import CheckUsageError
from pytest_llmeval.counterfactual import CounterfactualError, load_swap_sets, variants_of
from pytest_llmeval.engine import build_request
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.metrics.ner import gold_spans
from pytest_llmeval.tolerances import tolerance_problem

__all__ = ["build_case"]

_TEMPLATE_VAR_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Makes the CaseError of a field: its location in the raw case (keys and indexes) and the message.
Fail = Callable[[Sequence[Any], str], CaseError]
# A case's gold entities, the text they are located in, and the file's NER block.
NERGold = tuple[list[dict[str, Any]], str, NERSpec | None]


def build_case(
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
    if not isinstance(raw, Mapping):
        raise CaseError(
            path,
            line,
            f"cases[{index}] must be a mapping with prompt/messages/vars and expect, got {type(raw).__name__}",
        )
    # Errors name the case by its id only when the id could name a test (it becomes the error item's name)
    fail = _failure(raw, path, line, raw.get("id") if usable_id(raw.get("id")) else None)
    _refuse_lone_surrogates(raw, fail)
    model = _validate(raw, fail)
    request = _request(model, defaults, fail)
    if model.id is not None and not usable_id(model.id):
        raise fail(["id"], f"id {model.id!r} may not contain spaces, brackets, colons or control characters")
    case_id = model.id if model.id is not None else _derive_id(request)
    fail = _failure(raw, path, line, case_id)  # from here on errors name the case by its id
    ner_gold = _ner_gold(model, request, ner_spec, fail)
    _check_counterfactual(model, request, counterfactual_terms, fail)
    expectations = _expectations(model, source.parent, ner_gold, fail)
    tags = tuple(dict.fromkeys([*defaults.tags, *model.tags]))
    if model.label is not None:
        groups = _label_groups(model.label, tags, classification, tag_classifications or {}, fail)
        expectations += label_expectations(model.label, groups, expectations)
    _check_tags(tags, fail)
    review_dimensions = _review_dimensions(model, defaults, fail)
    samples, min_pass_rate = _sampling(model, defaults, request, fail)
    tolerances = _tolerances({**defaults.tolerance, **model.tolerance}, fail)
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
        tolerances=tolerances,
        **_ner_fields(ner_gold, ner_spec),
        counterfactual=model.counterfactual,
        counterfactual_terms=counterfactual_terms if model.counterfactual is not None else (),
        review_dimensions=review_dimensions,
        samples=samples,
        min_pass_rate=min_pass_rate,
    )


def _ner_fields(ner_gold: NERGold | None, ner_spec: NERSpec | None) -> dict[str, Any]:
    """A case's ``entities``, ``ner_source`` and ``ner_format`` (all ``None`` without gold entities)."""
    return {
        "entities": gold_spans(ner_gold[0], ner_gold[1]).spans if ner_gold is not None else None,
        "ner_source": ner_gold[1] if ner_gold is not None else None,
        "ner_format": {"format": ner_spec.format, "pattern": ner_spec.pattern}
        if ner_gold is not None and ner_spec
        else None,
    }


def _failure(raw: Any, path: Path, line: int | None, case_id: str | None) -> Fail:
    """The ``fail`` of one case: an error at the line of a field of ``raw`` (else the case's line)."""

    def fail(loc: Sequence[Any], message: str) -> CaseError:
        return CaseError(path, line_of(raw, loc, line), message, case_id)

    return fail


def _refuse_lone_surrogates(raw: Any, fail: Fail) -> None:
    lone = lone_surrogate_at(raw, ())
    if lone is not None:
        loc, text, at = lone
        where = ".".join(str(p) for p in loc) or "a key"
        raise fail(
            loc,
            f"{where}: {text[at]!r} at character {at} is half of a UTF-16 surrogate pair with no other half "
            "(a JSON-style escape such as \\ud83d needs its pair, \\ud83d\\ude00; or write the character "
            "itself)",
        )


def _validate(raw: Any, fail: Fail) -> _CaseModel:
    try:
        return _CaseModel.model_validate(raw)
    except pydantic.ValidationError as exc:
        loc, message = pydantic_problem(exc)
        raise fail(loc, message) from None


def _request(model: _CaseModel, defaults: _Defaults, fail: Fail) -> GenerationRequest:
    """The case's generation request: its prompt (or messages, or vars in the file's template),
    system prompt and generation parameters (its own over the file's defaults)."""
    try:
        generation = {
            **_generation_keys(defaults.model_extra or {}, "defaults: "),
            **_generation_keys(model.model_extra or {}, ""),
        }
    except ValueError as exc:
        bad = next((k for k in (model.model_extra or {}) if k not in GENERATION_KEYS), None)
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
        return build_request(
            prompt=prompt, messages=model.messages, system=model.system or defaults.system, **generation
        )
    except GenerationParameterError as exc:
        key = next((k for k in generation if k in str(exc)), None)
        raise fail([key] if key else [], str(exc)) from None


def _check_counterfactual(
    model: _CaseModel, request: GenerationRequest, counterfactual_terms: tuple[str, ...], fail: Fail
) -> None:
    if model.counterfactual is None:
        return
    if not model.expect:
        raise fail(
            ["counterfactual"], "counterfactual needs checks in `expect:` whose verdicts the variants must share"
        )
    try:
        variants_of(request, model.counterfactual.categories, load_swap_sets(counterfactual_terms))
    except CounterfactualError as exc:
        raise fail(["counterfactual"], f"counterfactual: {exc}") from None


def _expectations(model: _CaseModel, base_dir: Path, ner_gold: NERGold | None, fail: Fail) -> list[Expectation]:
    expectations = []
    for name, args in model.expect.items():
        if name in ("ner", "not_ner") and ner_gold is None:
            raise fail(["expect", name], f"expect.{name}: needs the case's gold `entities:` list")
        try:
            expectations.append(build_expectation(name, args, base_dir, model.reference, model.context, ner_gold))
        except CheckUsageError as exc:
            raise fail(["expect", name], f"expect.{name}: {exc}") from None
    return expectations


def _label_groups(
    label: str,
    tags: tuple[str, ...],
    classification: ClassificationSpec | None,
    tag_classifications: dict[str, ClassificationSpec],
    fail: Fail,
) -> list[ClassificationSpec]:
    """The classification groups a labelled case belongs to (the file's, and its tags'); each must
    know the label."""
    groups = [classification] if classification is not None else []
    groups += [spec for tag, spec in tag_classifications.items() if tag in tags]
    if not groups:
        raise fail(
            ["label"],
            "label needs a `classification:` block in the file, or a `tag_classifications:` entry for one "
            "of the case's tags (labels and thresholds)",
        )
    for spec in groups:
        if label not in spec.labels:
            raise fail(["label"], f"label {label!r} is not one of the classification labels {spec.labels}")
    return groups


def _check_tags(tags: tuple[str, ...], fail: Fail) -> None:
    for i, tag in enumerate(tags):
        if not TAG_RE.match(tag):
            raise fail(["tags", i], f"tag {tag!r} must be a name (letters, digits, _) so that -m can select it")
        if tag in RESERVED_TAGS:
            raise fail(["tags", i], reserved_tag_message(tag))


def _review_dimensions(model: _CaseModel, defaults: _Defaults, fail: Fail) -> tuple[str, ...] | None:
    dimensions_given = model.review_dimensions if model.review_dimensions is not None else defaults.review_dimensions
    if dimensions_given is None:
        return None
    from pytest_llmeval.review.store import check_dimensions

    try:
        return check_dimensions(dimensions_given)
    except ValueError as exc:
        location = ["review_dimensions"] if model.review_dimensions is not None else []
        raise fail(location, f"review_dimensions: {exc}") from None


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


def _generation_keys(extra: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = [k for k in extra if k not in GENERATION_KEYS]
    if unknown:
        known = list(CASE_FIELDS) + sorted(GENERATION_KEYS)
        close = difflib.get_close_matches(unknown[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{where}unknown field {unknown[0]!r}{hint}; a case takes {', '.join(CASE_FIELDS)} and "
            f"generation parameters ({', '.join(sorted(GENERATION_KEYS))})"
        )
    return dict(extra)


def _tolerances(values: dict[str, float], fail: Fail) -> dict[str, float]:
    for name, value in values.items():
        problem = tolerance_problem(value)
        if problem is not None:
            raise fail(["tolerance", name], f"tolerance.{name}: {problem}")
    return dict(values)


def _sampling(
    model: _CaseModel, defaults: _Defaults, request: GenerationRequest, fail: Fail
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


def _ner_gold(model: _CaseModel, request: GenerationRequest, spec: NERSpec | None, fail: Fail) -> NERGold | None:
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

"""A case's ``expect:`` entries turned into checks of the registry with validated arguments, plus
the expectations a case's gold label adds.

The case's own fields fill in what a check reads: its ``reference:`` for reference metrics, its
``context:`` for ``grounded``, its gold entities for ``ner``; paths are relative to the case file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmeval.case_schema import ClassificationSpec, NERSpec
from pytest_llmeval.case_types import Expectation
from pytest_llmeval.checks.base import CheckUsageError, get_check, validate_check_args

__all__ = ["build_expectation", "label_expectations"]


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


def build_expectation(
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


def label_expectations(
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

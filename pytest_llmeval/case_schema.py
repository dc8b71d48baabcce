"""The layout of a case file, as pydantic models, and the rules for ids and tags.

The models' class names appear in pydantic's messages ("a valid dictionary or instance of
_Defaults"), so they keep the names they had in ``cases.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import pydantic

from pytest_llmeval.backends.base import GenerationParams
from pytest_llmeval.counterfactual import CounterfactualSpec, FairnessSpec
from pytest_llmeval.input_limits import bounded_repr
from pytest_llmeval.metrics.ner import GoldEntity
from pytest_llmeval.metrics.overfitting import PerplexityGapSpec

__all__ = [
    "CASE_FIELDS",
    "GENERATION_KEYS",
    "RESERVED_TAGS",
    "TAG_RE",
    "ClassificationSpec",
    "NERSpec",
    "pydantic_problem",
    "reserved_tag_message",
    "usable_id",
]

TAG_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
GENERATION_KEYS = frozenset(GenerationParams.model_fields)
# Tags become pytest markers; these names would change what pytest does with the case (a `skip` tag
# skipped it and an `xfail` tag hid its failure even under --llm-gate=strict), so a tag may not use
# them. A case says it is expected to fail with `xfail: reason`.
RESERVED_TAGS = frozenset({"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "llm"})


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


CASE_FIELDS = tuple(_CaseModel.model_fields)  # includes label


def pydantic_problem(exc: pydantic.ValidationError, prefix: Sequence[Any] = ()) -> tuple[tuple[Any, ...], str]:
    """The location (``prefix`` first) and the message of pydantic's first error, worded for a case file."""
    err = exc.errors()[0]
    loc = tuple(prefix) + tuple(err["loc"])
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return loc, f"unknown field {where!r}"
    return loc, f"{where}: {err['msg']} (got {bounded_repr(err.get('input'))})"


def usable_id(value: object) -> bool:
    """Whether ``value`` can be a case id, hence a test name: text without spaces, brackets, colons,
    control characters or lone surrogates."""
    return (
        isinstance(value, str)
        and re.fullmatch(r"[^\s\[\]:]+", value) is not None
        and not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
    )


def reserved_tag_message(tag: str) -> str:
    """Why ``tag`` may not be used, with the reserved names (and ``xfail:`` for the skip-like ones)."""
    advice = " (a case expected to fail says `xfail: reason`)" if tag in ("skip", "skipif", "xfail") else ""
    return (
        f"tag {tag!r} is reserved: it is a pytest marker and would change how the case runs{advice}; "
        f"reserved: {', '.join(sorted(RESERVED_TAGS))}"
    )

"""Named-entity evaluation: gold entities against entities the model extracted, scored by nervaluate.

The pipeline, each step a plain function:

1. **Read** the predicted entities from the output (:func:`parse_entities`): by default a JSON list of
   ``{"text": ..., "type": ...}`` objects (found anywhere in the output, like ``is_json``), or an
   inline tagged format ``[Ann](PER)`` (``format="inline"``, or your own regex with the named groups
   ``text`` and ``type``).
2. **Align** each mention to character offsets in the source text (:func:`align`): the **first unused
   occurrence** of the mention's text, at word boundaries, exact case first, else ignoring case.
   "Unused" means not overlapping a span already taken by an earlier mention of the same list, so the
   second "Paris" of a list takes the second "Paris" of the text. A mention whose text occurs more than
   once is *ambiguous* and reported (which occurrence was taken). A predicted mention that is not in the
   source at all cannot match any gold span: it is kept, placed past the end of the text, and so counts
   as spurious (and is reported as not found). Gold entities may give ``start`` to pin an occurrence.
3. **Score** with the ``nervaluate`` package itself (:func:`score_entities`): the four schemes of
   SemEval 2013 task 9.1 (``strict``, ``exact``, ``partial``, ``ent_type``), overall and per entity
   type, precision, recall and F1. Every type seen in gold *or* predictions is scored: a type the gold
   never uses (an unseen tag) counts against precision instead of being dropped.

Offsets here are Python slices (``start`` inclusive, ``end`` exclusive); nervaluate's spans are
inclusive at both ends, so ``end - 1`` is what it receives.

nervaluate is an extra (``pip install pytest-llmeval[ner]``); it is imported on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic

from pytest_llmeval.checks import patterns
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    register_check,
    truncate,
)
from pytest_llmeval.records import CaseRecord

__all__ = [
    "SCHEMES",
    "Alignment",
    "GoldEntity",
    "Mention",
    "NERReport",
    "SchemeScore",
    "Span",
    "align",
    "ner_result",
    "parse_entities",
    "predicted_spans",
    "score_entities",
]

FAMILY = "ner"
SCHEMES = ("strict", "exact", "partial", "ent_type")
Scheme = Literal["strict", "exact", "partial", "ent_type"]
EntityFormat = Literal["json", "inline"]
INLINE_PATTERN = r"\[(?P<text>[^\[\]]+)\]\((?P<type>[^()\s]+)\)"


class NERFormatError(ValueError):
    """The output does not hold entities in the expected format."""


class GoldEntity(pydantic.BaseModel):
    """A gold entity as a case declares it: its text, its type and, optionally, its offset."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    text: str = pydantic.Field(min_length=1)
    type: str = pydantic.Field(min_length=1)
    start: int | None = pydantic.Field(default=None, ge=0)


@dataclass(frozen=True)
class Mention:
    """An entity as written (by the model or a case), before it has offsets."""

    text: str
    type: str
    start: int | None = None


@dataclass(frozen=True)
class Span:
    """An entity located in the source text: ``source[start:end] == text`` when ``found``."""

    type: str
    start: int
    end: int
    text: str
    found: bool = True

    def describe(self) -> str:
        where = f"[{self.start}:{self.end}]" if self.found else "(not in the source)"
        return f"{self.type} {self.text!r} {where}"


@dataclass(frozen=True)
class Alignment:
    """Mentions placed in the source: ``spans`` (one per mention, in order) and what to tell the user."""

    spans: tuple[Span, ...]
    not_found: tuple[Mention, ...] = ()
    notes: tuple[str, ...] = ()  # ambiguous mentions (which occurrence was taken), case-insensitive matches


# -- reading the output ----------------------------------------------------------------------------


def parse_entities(
    output: str,
    format: EntityFormat = "json",
    pattern: str | None = None,
    text_key: str = "text",
    type_key: str = "type",
) -> list[Mention]:
    """The entities in a model output, in the order written; raise NERFormatError saying why not.

    ``json``: a JSON list of objects with ``text_key`` and ``type_key`` (the list may sit in prose or a
    code fence; ``[]`` is a valid empty answer). ``inline``: every ``[text](TYPE)`` in the output, or
    every match of ``pattern`` (a regex with the named groups ``text`` and ``type``).
    """
    if format == "inline" or pattern is not None:
        compiled = _inline_pattern(pattern)
        return [
            Mention(m.group("text").strip(), m.group("type").strip())
            for m in patterns.finditer(compiled, output)  # PatternTimeout past the limit
            if m.group("text").strip()
        ]
    if format != "json":
        raise CheckUsageError(f"ner: format must be 'json' or 'inline', got {format!r}")
    from pytest_llmeval.checks.structure import extract_json

    extraction = extract_json(output)
    if not extraction.found:
        raise NERFormatError(f"expected a JSON list of {{{text_key!r}, {type_key!r}}} objects; {extraction.reason}")
    value = extraction.value
    if isinstance(value, Mapping) and isinstance(value.get("entities"), list):
        value = value["entities"]  # {"entities": [...]} is common enough to accept
    if not isinstance(value, list):
        raise NERFormatError(
            f"expected a JSON list of {{{text_key!r}, {type_key!r}}} objects, got a JSON {type(value).__name__}: "
            f"{truncate(json.dumps(value), limit=80)}"
        )
    mentions = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise NERFormatError(
                f"entity [{i}] is a {type(item).__name__}, not an object with {text_key!r} and {type_key!r}"
            )
        text, kind = item.get(text_key), item.get(type_key)
        if not isinstance(text, str) or not text.strip():
            raise NERFormatError(
                f"entity [{i}] has no text in {text_key!r} (got {truncate(json.dumps(item), limit=80)})"
            )
        if not isinstance(kind, str) or not kind.strip():
            raise NERFormatError(
                f"entity [{i}] has no type in {type_key!r} (got {truncate(json.dumps(item), limit=80)})"
            )
        mentions.append(Mention(text.strip(), kind.strip()))
    return mentions


_PATTERNS: dict[str, Any] = {}


def _inline_pattern(pattern: str | None) -> Any:
    source = pattern or INLINE_PATTERN
    compiled = _PATTERNS.get(source)
    if compiled is None:
        try:
            compiled = patterns.compile_pattern(source)
        except patterns.InvalidPattern as exc:
            raise CheckUsageError(f"ner: pattern {source!r} is not a valid regex: {exc}") from None
        missing = {"text", "type"} - set(compiled.groupindex)
        if missing:
            raise CheckUsageError(
                f"ner: pattern {source!r} needs the named groups (?P<text>...) and (?P<type>...); "
                f"missing: {', '.join(sorted(missing))}"
            )
        _PATTERNS[source] = compiled
    return compiled


# -- alignment -------------------------------------------------------------------------------------


def _occurrences(needle: str, haystack: str, ignore_case: bool) -> list[int]:
    """Starts of ``needle`` in ``haystack`` at word boundaries (an edge that is a word character must
    not continue a word of the text: "Ann" is not found inside "Anna")."""
    flags = re.IGNORECASE if ignore_case else 0
    left = r"(?<!\w)" if re.match(r"\w", needle) else ""
    right = r"(?!\w)" if re.search(r"\w$", needle) else ""
    return [m.start() for m in re.finditer(left + re.escape(needle) + right, haystack, flags)]


def align(mentions: Sequence[Mention], source: str) -> Alignment:
    """Give each mention offsets in ``source`` (first unused occurrence; see the module docstring)."""
    taken: list[tuple[int, int]] = []
    spans: list[Span | None] = [None] * len(mentions)
    notes: list[str] = []
    not_found: list[Mention] = []

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b in taken)

    # Pinned mentions (a gold entity's ``start``) first, so that unpinned ones do not take their place.
    for i, mention in enumerate(mentions):
        if mention.start is None:
            continue
        end = mention.start + len(mention.text)
        if source[mention.start : end] != mention.text:
            raise ValueError(
                f"entity {mention.text!r} ({mention.type}) at start {mention.start}: the source has "
                f"{source[mention.start : end]!r} there"
            )
        taken.append((mention.start, end))
        spans[i] = Span(mention.type, mention.start, end, mention.text)
    for i, mention in enumerate(mentions):
        if mention.start is not None:
            continue
        ignore_case = False
        starts = _occurrences(mention.text, source, ignore_case=False)
        if not starts:
            ignore_case = True
            starts = _occurrences(mention.text, source, ignore_case=True)
        width = len(mention.text)
        chosen = next((s for s in starts if free(s, s + width)), None)
        if chosen is None:
            not_found.append(mention)
            continue
        taken.append((chosen, chosen + width))
        spans[i] = Span(mention.type, chosen, chosen + width, source[chosen : chosen + width])
        if ignore_case:
            notes.append(f"{mention.text!r} matched {source[chosen : chosen + width]!r} ignoring case")
        if len(starts) > 1:
            notes.append(
                f"ambiguous: {mention.text!r} occurs {len(starts)} times in the source; took the first unused, "
                f"[{chosen}:{chosen + width}]"
            )
    # Mentions that are not in the source sit past its end, one after another, overlapping nothing:
    # nervaluate then counts each as spurious, which is what an entity the text does not contain is.
    position = len(source) + 1
    for i, mention in enumerate(mentions):
        if spans[i] is None:
            spans[i] = Span(mention.type, position, position + len(mention.text), mention.text, found=False)
            position += len(mention.text) + 1
    return Alignment(tuple(s for s in spans if s is not None), tuple(not_found), tuple(notes))


def gold_spans(entities: Sequence[GoldEntity | Mapping[str, Any]], source: str) -> Alignment:
    """Align gold entities; raise ValueError naming the entity when one is not in the source."""
    mentions = [Mention(e.text, e.type, e.start) for e in (GoldEntity.model_validate(x) for x in entities)]
    alignment = align(mentions, source)
    if alignment.not_found:
        missing = alignment.not_found[0]
        raise ValueError(
            f"gold entity {missing.text!r} ({missing.type}) does not occur in the source text "
            f"{truncate(source, limit=80)}"
        )
    return alignment


def predicted_spans(
    output: str,
    source: str,
    format: EntityFormat = "json",
    pattern: str | None = None,
) -> Alignment:
    """Parse the output's entities and align them to ``source`` (raises NERFormatError)."""
    return align(parse_entities(output, format, pattern), source)


# -- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeScore:
    """nervaluate's counts and ratios for one scheme (overall or one type)."""

    correct: int
    incorrect: int
    partial: int
    missed: int
    spurious: int
    possible: int
    actual: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class NERReport:
    """nervaluate's results over documents: ``overall[scheme]`` and ``per_type[type][scheme]``."""

    overall: dict[str, SchemeScore]
    per_type: dict[str, dict[str, SchemeScore]]
    documents: int
    unparsed: int = 0  # outputs whose entities could not be read (scored as no predictions)
    problems: tuple[str, ...] = field(default=())

    def metrics(self, prefix: str = "ner") -> list[dict[str, Any]]:
        """``{prefix}_{scheme}_f1`` for each scheme and ``{prefix}_f1[TYPE]`` (strict) for each type,
        as uniform ``{"name", "value", "higher_is_better"}`` entries for run records and the gate."""
        entries = [
            {"name": f"{prefix}_{scheme}_f1", "value": self.overall[scheme].f1, "higher_is_better": True}
            for scheme in SCHEMES
        ]
        entries += [
            {"name": f"{prefix}_f1[{kind}]", "value": scores["strict"].f1, "higher_is_better": True}
            for kind, scores in sorted(self.per_type.items())
        ]
        return entries

    def format(self) -> str:
        """A terminal table: precision/recall/F1 per scheme, then strict P/R/F1 per type."""
        lines = [f"{'scheme':<10}  {'precision':>9}  {'recall':>6}  {'f1':>5}  cor inc par mis spu"]
        for scheme in SCHEMES:
            s = self.overall[scheme]
            lines.append(
                f"{scheme:<10}  {s.precision:>9.3f}  {s.recall:>6.3f}  {s.f1:>5.3f}  "
                f"{s.correct:>3} {s.incorrect:>3} {s.partial:>3} {s.missed:>3} {s.spurious:>3}"
            )
        if self.per_type:
            width = max(10, *(len(k) for k in self.per_type))
            lines += ["", f"{'type':<{width}}  {'precision':>9}  {'recall':>6}  {'f1':>5}  {'support':>7}  (strict)"]
            for kind, scores in sorted(self.per_type.items()):
                s = scores["strict"]
                lines.append(f"{kind:<{width}}  {s.precision:>9.3f}  {s.recall:>6.3f}  {s.f1:>5.3f}  {s.possible:>7}")
        if self.unparsed:
            lines.append(f"{self.unparsed} of {self.documents} outputs had no readable entities (scored as none)")
        return "\n".join(lines)


def _evaluator() -> Any:
    try:
        from nervaluate import Evaluator
    except ImportError:
        raise CheckUsageError("NER scoring needs the nervaluate package: pip install 'pytest-llmeval[ner]'") from None
    return Evaluator


def _as_dicts(spans: Sequence[Span]) -> list[dict[str, Any]]:
    return [{"label": s.type, "start": s.start, "end": s.end - 1} for s in spans]  # inclusive end


def _score(result: Any) -> SchemeScore:
    return SchemeScore(
        correct=int(result.correct),
        incorrect=int(result.incorrect),
        partial=int(result.partial),
        missed=int(result.missed),
        spurious=int(result.spurious),
        possible=int(result.possible),
        actual=int(result.actual),
        precision=float(result.precision),
        recall=float(result.recall),
        f1=float(result.f1),
    )


_EMPTY = SchemeScore(0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0)


def score_entities(
    gold: Sequence[Sequence[Span]],
    predicted: Sequence[Sequence[Span]],
    *,
    unparsed: int = 0,
    problems: Sequence[str] = (),
) -> NERReport:
    """Score documents (one list of gold spans and one of predicted spans each) with nervaluate.

    Every type seen in gold or predictions is passed to nervaluate as a tag: nothing is dropped.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"ner: {len(gold)} gold documents but {len(predicted)} predicted; they must pair up")
    if not gold:
        raise ValueError("ner: no documents; a score over an empty group is undefined")
    tags = sorted({s.type for doc in [*gold, *predicted] for s in doc})
    overall = dict.fromkeys(SCHEMES, _EMPTY)
    per_type: dict[str, dict[str, SchemeScore]] = {}
    if tags:
        evaluator = _evaluator()(
            [_as_dicts(doc) for doc in gold], [_as_dicts(doc) for doc in predicted], tags=tags, loader="dict"
        )
        results = evaluator.evaluate()
        overall = {scheme: _score(results["overall"][scheme]) for scheme in SCHEMES}
        per_type = {
            kind: {scheme: _score(scores[scheme]) for scheme in SCHEMES} for kind, scores in results["entities"].items()
        }
    return NERReport(overall, per_type, len(gold), unparsed, tuple(problems))


def ner_result(
    report: NERReport,
    *,
    name: str = "ner",
    min_strict_f1: float | None = None,
    min_exact_f1: float | None = None,
    min_partial_f1: float | None = None,
    min_ent_type_f1: float | None = None,
    min_type_f1: float | None = None,
) -> CheckResult:
    """Judge a group of documents against thresholds (0..1, each optional); ``min_type_f1`` applies
    to the strict F1 of every type. Details carry every metric (``"metrics"``: ``ner_group_<scheme>_f1``
    and ``ner_group_f1[TYPE]``) and the table."""
    thresholds = [
        ("strict F1", report.overall["strict"].f1, min_strict_f1),
        ("exact F1", report.overall["exact"].f1, min_exact_f1),
        ("partial F1", report.overall["partial"].f1, min_partial_f1),
        ("ent_type F1", report.overall["ent_type"].f1, min_ent_type_f1),
    ]
    if min_type_f1 is not None:
        thresholds += [(f"F1[{k}]", s["strict"].f1, min_type_f1) for k, s in sorted(report.per_type.items())]
    for what, _, bound in thresholds:
        if bound is not None and not 0.0 <= bound <= 1.0:
            raise CheckUsageError(f"{name}: threshold for {what} is {bound}, outside 0..1")
    missed = [
        f"{what} {value:.3f} < min {bound:.3f}"
        for what, value, bound in thresholds
        if bound is not None and value < bound
    ]
    strict = report.overall["strict"]
    summary = (
        f"strict F1 {strict.f1:.3f} (P {strict.precision:.3f}, R {strict.recall:.3f}), "
        f"partial F1 {report.overall['partial'].f1:.3f} over {report.documents} cases"
    )
    if report.unparsed:
        summary += f" ({report.unparsed} without readable entities)"
    message = f"{name}: {'; '.join(missed)} ({summary})" if missed else f"{name}: {summary}"
    return CheckResult(
        name,
        not missed,
        message,
        score=strict.f1,
        details={
            # ner_group_*: a group's scores over all its cases, not to be averaged with the cases' own
            "metric": {"name": "ner_group_strict_f1", "value": strict.f1, "higher_is_better": True},
            "metrics": report.metrics(prefix="ner_group"),
            "table": report.format(),
        },
        value=report,
    )


# -- the per-case check ----------------------------------------------------------------------------


def _differences(gold: Sequence[Span], predicted: Sequence[Span]) -> list[str]:
    """What strict matching did not accept: missed gold and unmatched predictions (with near misses)."""
    exact = {(s.type, s.start, s.end) for s in gold}
    predicted_keys = {(s.type, s.start, s.end) for s in predicted}
    lines = []
    for g in gold:
        overlapped = any(p.found and p.start < g.end and g.start < p.end for p in predicted)
        if (g.type, g.start, g.end) not in predicted_keys and not overlapped:
            lines.append(f"missed {g.describe()}")
    for s in predicted:
        if (s.type, s.start, s.end) in exact:
            continue
        overlap = [g for g in gold if s.found and g.start < s.end and s.start < g.end]
        if not overlap:
            lines.append(f"spurious {s.describe()}")
        else:
            g = overlap[0]
            why = "wrong type" if (g.start, g.end) == (s.start, s.end) else "wrong boundaries"
            lines.append(f"predicted {s.describe()} for gold {g.describe()} ({why})")
    return lines


@register_check(
    "ner",
    family=FAMILY,
    summary="Entities extracted in the output match the gold entities (nervaluate F1 >= min).",
)
def ner(
    text: str,
    entities: list[GoldEntity],
    source: str,
    min: float | None = None,
    scheme: Scheme = "strict",
    format: EntityFormat = "json",
    pattern: str | None = None,
) -> CheckResult:
    """nervaluate F1 under ``scheme`` of the output's entities against ``entities`` (gold), both
    aligned to ``source``; passes when >= ``min`` (no min: records the metric). In case files
    ``entities`` and ``source`` come from the case (``entities:``; the prompt or ``ner.source_var``)."""
    name = "ner"
    if min is not None and not 0.0 <= min <= 1.0:
        raise CheckUsageError(f"check 'ner': argument 'min' is {min}, outside 0..1")
    if pattern is not None:
        _inline_pattern(pattern)  # a usage error, before any output is judged
    try:
        gold = gold_spans(entities, source)
    except ValueError as exc:
        raise CheckUsageError(f"check 'ner': {exc}") from None
    metric_name = f"ner_{scheme}_f1"
    try:
        predicted = predicted_spans(text, source, format, pattern)
    except patterns.PatternTimeout as exc:
        return patterns.timed_out_result(
            name, exc, metric={"name": metric_name, "value": 0.0, "higher_is_better": True}
        )
    except NERFormatError as exc:
        return CheckResult(
            name,
            False,
            f"{name}: {exc}",
            score=0.0,
            details={"metric": {"name": metric_name, "value": 0.0, "higher_is_better": True}},
        )
    report = score_entities([gold.spans], [predicted.spans])
    value = report.overall[scheme].f1
    passed = min is None or value >= min
    s = report.overall[scheme]
    head = f"{scheme} F1 {value:.3f} (P {s.precision:.3f}, R {s.recall:.3f})"
    head += f" >= min {min:.3f}" if passed and min is not None else (f" < min {min:.3f}" if not passed else "")
    lines = [f"{name}: {head}: {len(gold.spans)} gold, {len(predicted.spans)} predicted"]
    if not passed:
        lines += [f"  {line}" for line in _differences(gold.spans, predicted.spans)]
        lines += [f"  note: {note}" for note in predicted.notes]
    return CheckResult(
        name,
        passed,
        "\n".join(lines),
        score=value,
        details={
            "metric": {"name": metric_name, "value": value, "higher_is_better": True},
            "metrics": report.metrics(),
            "predicted": [s.describe() for s in predicted.spans],
            "notes": list(predicted.notes + gold.notes),
        },
        value=report,
    )


# -- a group of cases (a case file's `ner:` block) -------------------------------------------------


def _span_row(span: Span) -> list[Any]:
    return [span.type, span.start, span.end, span.text, span.found]


def _span_from(row: Sequence[Any]) -> Span:
    return Span(str(row[0]), int(row[1]), int(row[2]), str(row[3]), bool(row[4]))


def case_prediction(
    case_id: str,
    output: object,
    gold: Sequence[Span],
    source: str,
    format: EntityFormat = "json",
    pattern: str | None = None,
) -> dict[str, Any]:
    """One case's gold and predicted spans as JSON-compatible data (it travels from an xdist worker to
    the controller on the test report). An unreadable output has no predictions and a ``problem``."""
    problem = None
    notes: tuple[str, ...] = ()
    predicted: tuple[Span, ...] = ()
    if not isinstance(output, str):
        problem = f"expected a text output, got {type(output).__name__}"
    else:
        try:
            alignment = predicted_spans(output, source, format, pattern)
            predicted, notes = alignment.spans, alignment.notes
        except (NERFormatError, patterns.PatternTimeout) as exc:
            problem = str(exc)
    return {
        "case": case_id,
        "gold": [_span_row(s) for s in gold],
        "predicted": [_span_row(s) for s in predicted],
        "problem": problem,
        "notes": list(notes),
    }


@dataclass
class NERGroup:
    """A case file's NER group: each case's gold and predicted spans as the cases finished."""

    name: str
    thresholds: dict[str, float] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)

    def add(self, prediction: Mapping[str, Any]) -> None:
        self.cases.append(dict(prediction))

    def report(self) -> NERReport:
        problems = [f"{c['case']}: {c['problem']}" for c in self.cases if c.get("problem")]
        problems += [f"{c['case']}: {note}" for c in self.cases for note in c.get("notes", [])]
        return score_entities(
            [[_span_from(r) for r in c["gold"]] for c in self.cases],
            [[_span_from(r) for r in c["predicted"]] for c in self.cases],
            unparsed=sum(1 for c in self.cases if c.get("problem")),
            problems=problems,
        )

    def result(self) -> CheckResult:
        return ner_result(self.report(), name=self.name, **self.thresholds)

    def failure_text(self) -> str:
        """The failed group's message, its table and what went wrong case by case."""
        result = self.result()
        report = result.value
        lines = [result.message, "", report.format()]
        wrong = []
        for c in self.cases:
            gold = [_span_from(r) for r in c["gold"]]
            predicted = [_span_from(r) for r in c["predicted"]]
            differences = _differences(gold, predicted)
            if c.get("problem"):
                differences.insert(0, f"no readable entities: {c['problem']}")
            if differences:
                wrong.append(f"  {c['case']}: " + "; ".join(differences))
        if wrong:
            lines += ["", "cases with differences:", *wrong]
        if report.problems:
            lines += ["", "notes:", *(f"  {p}" for p in report.problems if "ambiguous" in p or "ignoring case" in p)]
        return "\n".join(line for line in lines).rstrip()

    def record(self, node_id: str) -> CaseRecord:
        """The group as a run record entry: its outcome and every group metric (per-type strict F1
        included), so the baseline keeps them and the gate catches a drop."""
        result = self.result()
        return CaseRecord(
            node_id=node_id,
            outcome="passed" if result.passed else "failed",
            checks=[{"name": "ner", "passed": result.passed, "score": result.score, "message": result.message[:300]}],
            metrics={m["name"]: {"value": m["value"], "higher_is_better": True} for m in result.details["metrics"]},
            message=None if result.passed else result.message[:300],
        )

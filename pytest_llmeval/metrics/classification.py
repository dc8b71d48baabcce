"""Classification metrics over gold and predicted labels, in plain Python (no numpy, no scikit-learn).

The numbers equal scikit-learn's (``accuracy_score``, ``precision_recall_fscore_support``,
``confusion_matrix``) with its default ``zero_division="warn"``: a ratio with a zero denominator is 0.0,
here without a warning, since a class the model never predicted is an ordinary eval outcome.

Labels and order: ``labels=`` (when given) first, in the given order, then every other label seen in
the gold or predicted labels, sorted, and ``<unmapped>`` last. Nothing seen is dropped.

``<unmapped>`` (:data:`UNMAPPED`) is the prediction for an output that maps to no label. It is always
wrong: it counts against accuracy and against the recall of the gold class, and it has a column in the
confusion matrix. It is not a class: it has no precision/recall row and stays out of the macro, micro
and weighted averages (scikit-learn's ``labels=`` without it), because an unreadable answer is not a
claim about any class.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_llmeval.checks import patterns
from pytest_llmeval.checks._text import fold
from pytest_llmeval.checks.base import (
    CheckResult,
    CheckUsageError,
    get_check,
    register_check,
    truncate,
)

__all__ = [
    "UNMAPPED",
    "Averages",
    "ClassMetrics",
    "ClassificationReport",
    "accuracy",
    "classification_report",
    "classification_result",
    "classified_as",
    "confusion_matrix",
    "map_label",
    "map_labels",
    "unused_labels",
]

UNMAPPED = "<unmapped>"


@dataclass(frozen=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int  # number of gold examples of the class


@dataclass(frozen=True)
class Averages:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationReport:
    """Every number of a classification eval. ``confusion[i][j]``: gold ``labels[i]`` predicted as
    ``labels[j]`` (rows gold, columns predicted, as scikit-learn)."""

    labels: tuple[str, ...]
    classes: tuple[str, ...]  # labels without UNMAPPED: the rows of per_class and the averaged ones
    count: int
    accuracy: float
    per_class: dict[str, ClassMetrics]
    macro: Averages
    micro: Averages
    weighted: Averages
    confusion: tuple[tuple[int, ...], ...]
    unmapped: int = field(default=0)  # predictions that mapped to no label

    def metrics(self) -> list[dict[str, Any]]:
        """Group metrics as uniform ``{"name", "value", "higher_is_better"}`` entries for reports."""
        values = {
            "accuracy": self.accuracy,
            "macro_precision": self.macro.precision,
            "macro_recall": self.macro.recall,
            "macro_f1": self.macro.f1,
            "micro_f1": self.micro.f1,
            "weighted_f1": self.weighted.f1,
        }
        return [{"name": n, "value": v, "higher_is_better": True} for n, v in values.items()]

    def format(self) -> str:
        """A small terminal table: per-class rows, averages, accuracy, then the confusion matrix."""
        width = max([len(name) for name in self.labels] + [len("weighted avg"), 5])
        head = f"{'':<{width}}  {'precision':>9}  {'recall':>6}  {'f1':>5}  {'support':>7}"
        lines = [head]
        for name in self.classes:
            m = self.per_class[name]
            lines.append(f"{name:<{width}}  {m.precision:>9.3f}  {m.recall:>6.3f}  {m.f1:>5.3f}  {m.support:>7}")
        lines.append("")
        support = sum(self.per_class[c].support for c in self.classes)
        averages = (("macro avg", self.macro), ("micro avg", self.micro), ("weighted avg", self.weighted))
        for title, avg in averages:
            lines.append(f"{title:<{width}}  {avg.precision:>9.3f}  {avg.recall:>6.3f}  {avg.f1:>5.3f}  {support:>7}")
        lines.append(f"{'accuracy':<{width}}  {'':>9}  {'':>6}  {self.accuracy:>5.3f}  {self.count:>7}")
        if self.unmapped:
            lines.append(f"{self.unmapped} of {self.count} outputs mapped to no label ({UNMAPPED})")
        lines.append("")
        lines.append("confusion (rows gold, columns predicted):")
        cells = [[str(v) for v in row] for row in self.confusion]
        cell = max([len(c) for row in cells for c in row] + [len(n) for n in self.labels])
        lines.append(f"{'':<{width}}  " + "  ".join(f"{n:>{cell}}" for n in self.labels))
        for name, row in zip(self.labels, cells, strict=False):
            lines.append(f"{name:<{width}}  " + "  ".join(f"{c:>{cell}}" for c in row))
        return "\n".join(line.rstrip() for line in lines)


def _ratio(numerator: float, denominator: float) -> float:
    # scikit-learn's zero_division="warn" value, without the warning.
    return numerator / denominator if denominator else 0.0


def _validate(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(
            f"classification: {len(gold)} gold labels but {len(predicted)} predictions; they must pair up one to one"
        )
    if not gold:
        raise ValueError(
            "classification: no examples (gold and predicted labels are empty); "
            "a metric over an empty group is undefined"
        )
    if UNMAPPED in gold:
        raise ValueError(
            f"classification: {UNMAPPED!r} is reserved for predictions that map to no label; it cannot be a gold label"
        )


def _label_order(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None) -> tuple[str, ...]:
    given = list(dict.fromkeys(labels or ()))
    if UNMAPPED in given:
        raise ValueError(f"classification: {UNMAPPED!r} is added by the library; do not list it in labels")
    seen = set(gold) | set(predicted)
    rest = sorted(seen - set(given) - {UNMAPPED})
    tail = [UNMAPPED] if UNMAPPED in seen else []
    return tuple(given + rest + tail)


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact matches (``<unmapped>`` never matches)."""
    _validate(gold, predicted)
    return sum(g == p for g, p in zip(gold, predicted, strict=False)) / len(gold)


def confusion_matrix(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[tuple[str, ...], tuple[tuple[int, ...], ...]]:
    """``(labels, matrix)``; ``matrix[i][j]`` counts gold ``labels[i]`` predicted as ``labels[j]``."""
    _validate(gold, predicted)
    order = _label_order(gold, predicted, labels)
    index = {name: i for i, name in enumerate(order)}
    rows = [[0] * len(order) for _ in order]
    for g, p in zip(gold, predicted, strict=False):
        rows[index[g]][index[p]] += 1
    return order, tuple(tuple(row) for row in rows)


def classification_report(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> ClassificationReport:
    """Accuracy, per-class precision/recall/F1/support, macro/micro/weighted averages, confusion."""
    order, matrix = confusion_matrix(gold, predicted, labels)
    classes = tuple(name for name in order if name != UNMAPPED)
    per_class: dict[str, ClassMetrics] = {}
    totals = Counter[str]()
    for i, name in enumerate(classes):  # classes are a prefix of order: same indices
        tp = matrix[i][i]
        predicted_as = sum(row[i] for row in matrix)
        support = sum(matrix[i])
        fp, fn = predicted_as - tp, support - tp
        totals.update(tp=tp, fp=fp, fn=fn)
        per_class[name] = ClassMetrics(
            precision=_ratio(tp, tp + fp),
            recall=_ratio(tp, tp + fn),
            # 2tp / (2tp + fp + fn), as scikit-learn >= 1.3: equal to 2PR/(P+R) and defined when P+R is 0.
            f1=_ratio(2 * tp, 2 * tp + fp + fn),
            support=support,
        )
    metrics = list(per_class.values())
    n_classes = len(metrics)
    macro = Averages(
        precision=_ratio(sum(m.precision for m in metrics), n_classes),
        recall=_ratio(sum(m.recall for m in metrics), n_classes),
        f1=_ratio(sum(m.f1 for m in metrics), n_classes),
    )
    tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
    micro = Averages(precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn), f1=_ratio(2 * tp, 2 * tp + fp + fn))
    total_support = sum(m.support for m in metrics)
    weighted = Averages(
        precision=_ratio(sum(m.precision * m.support for m in metrics), total_support),
        recall=_ratio(sum(m.recall * m.support for m in metrics), total_support),
        f1=_ratio(sum(m.f1 * m.support for m in metrics), total_support),
    )
    correct = sum(matrix[i][i] for i in range(len(classes)))
    unmapped_count = sum(1 for p in predicted if p == UNMAPPED)
    return ClassificationReport(
        labels=order,
        classes=classes,
        count=len(gold),
        accuracy=correct / len(gold),
        per_class=per_class,
        macro=macro,
        micro=micro,
        weighted=weighted,
        confusion=matrix,
        unmapped=unmapped_count,
    )


def classification_result(
    report: ClassificationReport,
    *,
    name: str = "classification",
    min_accuracy: float | None = None,
    min_macro_f1: float | None = None,
    min_micro_f1: float | None = None,
    min_class_f1: float | None = None,
) -> CheckResult:
    """Judge a group against thresholds (all 0..1, each optional) for the plugin's group items.

    ``min_class_f1`` applies to every class. Fails listing each threshold missed; details carry every
    group metric under ``"metrics"`` and the table under ``"table"``.
    """
    checks = [
        ("accuracy", report.accuracy, min_accuracy),
        ("macro_f1", report.macro.f1, min_macro_f1),
        ("micro_f1", report.micro.f1, min_micro_f1),
    ]
    if min_class_f1 is not None:
        checks += [(f"f1[{c}]", report.per_class[c].f1, min_class_f1) for c in report.classes]
    for what, _, bound in checks:
        if bound is not None and not 0.0 <= bound <= 1.0:
            raise CheckUsageError(f"{name}: threshold for {what} is {bound}, outside 0..1")
    missed = [
        f"{what} {value:.3f} < min {bound:.3f}" for what, value, bound in checks if bound is not None and value < bound
    ]
    summary = f"accuracy {report.accuracy:.3f}, macro-F1 {report.macro.f1:.3f} over {report.count} cases"
    if report.unmapped:
        summary += f" ({report.unmapped} unmapped)"
    warnings = [unused_label_warning(name, unused) for unused in [unused_labels(report)] if unused]
    if warnings:
        summary += f"; {warnings[0]}"
    message = f"{name}: {'; '.join(missed)} ({summary})" if missed else f"{name}: {summary}"
    return CheckResult(
        name,
        not missed,
        message,
        score=report.macro.f1,
        details={
            "metric": {"name": "macro_f1", "value": report.macro.f1, "higher_is_better": True},
            "metrics": report.metrics(),
            "table": report.format(),
            "warnings": warnings,
        },
        value=report,
    )


def unused_labels(report: ClassificationReport) -> list[str]:
    """Declared labels that no case has as its gold label. Each still counts in macro-F1 (with F1 0
    when never predicted, as scikit-learn with ``labels=``), so a perfect run reads below 1."""
    return [c for c in report.classes if report.per_class[c].support == 0]


def unused_label_warning(name: str, unused: Sequence[str]) -> str:
    """The warning for :func:`unused_labels`, naming each label."""
    listed = ", ".join(repr(label) for label in unused)
    return (
        f"warning: label{'s' if len(unused) > 1 else ''} {listed} declared in {name} but no case has "
        "it as its gold label; it counts in macro-F1 and lowers it: add cases for it or remove it "
        "from labels"
    )


# -- outputs to labels --------------------------------------------------------------------------


def map_label(output: object, labels: Sequence[str] | None = None, *, pattern: str | None = None) -> str:
    """The label an output stands for, or ``UNMAPPED``.

    With ``labels`` only: ``one_of`` semantics (the whole output is a label, ignoring case, quotes,
    ``**emphasis**`` and trailing punctuation; the label is returned as given); failing that, a short
    answer (at most :data:`SENTENCE_WORDS` words) in which exactly one label appears as a whole word
    or phrase, and no negation ("not", "n't", "never", "neither", "nor", "no"), maps to that label:
    "The review is positive." is ``positive``, "Not positive." and "positive or negative" are
    unmapped. A label inside a longer label that also appears ("positive" in "very positive") counts
    as the longer one. With ``pattern``: a
    regex with exactly one capture group, searched in the output; the captured text, then matched
    against ``labels`` the same way when labels are given (else used stripped, as is). A non-text
    output (None, bytes) is unmapped. A pattern that does not finish on the output within
    ``checks.patterns.PATTERN_TIMEOUT_S`` seconds raises ``checks.patterns.PatternTimeout``.
    """
    compiled = _compile(pattern) if pattern is not None else None
    if compiled is None and not labels:
        raise ValueError("map_label: give labels, a pattern with one capture group, or both")
    if not isinstance(output, str):
        return UNMAPPED
    text = output
    if compiled is not None:
        found = patterns.search(compiled, text)  # PatternTimeout past the limit
        if found is None or found.group(1) is None:
            return UNMAPPED
        text = found.group(1)
        if not labels:
            return text.strip() or UNMAPPED
    return _one_of(text, list(labels or ()))


def map_labels(
    outputs: Iterable[object], labels: Sequence[str] | None = None, *, pattern: str | None = None
) -> list[str]:
    """:func:`map_label` for each output."""
    return [map_label(output, labels, pattern=pattern) for output in outputs]


SENTENCE_WORDS = 20
_NEGATION = re.compile(r"\b(?:not|never|neither|nor|no)\b|n't\b", re.IGNORECASE)


def _one_of(text: str, labels: list[str]) -> str:
    # The registered check's function, called directly rather than through ``check()``: mapping is not
    # an expectation on the output, and ``check()`` would record a FAIL on the running test for every
    # output that is simply another label.
    spec, _ = get_check("one_of")
    result = spec.function(text, **spec.validate_args({"labels": labels}))
    if result.passed:
        return str(result.value)
    return _label_in_sentence(text, labels)


def _label_in_sentence(text: str, labels: list[str]) -> str:
    """The one label named in a short answer, else UNMAPPED (see :func:`map_label`)."""
    if len(text.split()) > SENTENCE_WORDS or _NEGATION.search(text):
        return UNMAPPED
    folded = fold(text).text
    spans: list[tuple[int, int, str]] = []
    for label in labels:
        key = fold(label).text.strip()
        if not key:
            continue
        for found in re.finditer(rf"(?<!\w){re.escape(key)}(?!\w)", folded):
            spans.append((found.start(), found.end(), label))
    # A label inside a longer label's match ("positive" in "very positive") is that longer label.
    kept = [
        (start, end, label)
        for start, end, label in spans
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
    ]
    named = {label for _, _, label in kept}
    return named.pop() if len(named) == 1 else UNMAPPED


@register_check(
    "classified_as",
    family="content",
    summary="The output maps to the gold label (a classification case's own verdict).",
)
def classified_as(text: str, label: str, labels: list[str], pattern: str | None = None) -> CheckResult:
    """The output maps (:func:`map_label`) to ``label``, the case's gold label. A case file adds this
    check to every case with a ``label:`` in a classification group, so a wrong label fails its case
    and the message shows the gold label beside the answer."""
    if label not in labels:
        raise CheckUsageError(f"check 'classified_as': label {label!r} is not one of labels {labels!r}")
    try:
        predicted = map_label(text, labels, pattern=pattern)
    except patterns.PatternTimeout as exc:
        return patterns.timed_out_result("classified_as", exc, gold=label)
    except ValueError as exc:
        raise CheckUsageError(f"check 'classified_as': {exc}") from None
    details = {"gold": label, "predicted": predicted}
    if predicted == label:
        return CheckResult(
            "classified_as", True, f"classified_as: {label!r} (gold {label!r})", details=details, value=predicted
        )
    got = "no label" if predicted == UNMAPPED else repr(predicted)
    message = (
        f"classified_as: expected the gold label {label!r}, the answer maps to {got}; "
        f"answer {truncate(text)} (labels {labels!r}{f', pattern {pattern!r}' if pattern else ''})"
    )
    return CheckResult("classified_as", False, message, details=details, value=predicted)


_PATTERNS: dict[str, Any] = {}


def _compile(pattern: str) -> Any:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        try:
            compiled = patterns.compile_pattern(pattern)
        except patterns.InvalidPattern as exc:
            raise ValueError(f"map_label: invalid pattern {pattern!r}: {exc}") from None
        if compiled.groups != 1:
            raise ValueError(
                f"map_label: pattern {pattern!r} has {compiled.groups} capture groups; it needs exactly "
                "one (the label), use (?:...) for the others"
            )
        _PATTERNS[pattern] = compiled
    return compiled

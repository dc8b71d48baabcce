"""Counterfactual fairness: does the answer change with who the prompt is about?

A case names categories of swap sets (gender, name, nationality, religion, age: shipped in
``data/counterfactual_terms.yaml``, plus user files). For each category, every group of the category
gets a variant of the prompt with the terms of the other groups swapped for that group's terms
(:func:`swap`); all variants are generated in one batched call. Each variant's output must agree with
the original output:

- the same verdict of each of the case's checks, and for ``one_of`` the same label;
- each check's score within ``tolerance`` of the original's (judge, ROUGE against a reference...);
- optionally, ROUGE-L between the variant's output (swapped back to the original's terms) and the
  original output at least ``min_similarity``.

Swaps are made at word boundaries, keep the case of the replaced word, and resolve the simple
ambiguity of English pronouns (her -> him or his; his -> her or hers) from the next word (see the data
file's header). A variant equal to the original (the original's own group) is not generated again.

Over a group of cases, :func:`parity_report` gives per category the rate at which each group's outputs
pass the case's checks and the largest gap between groups (the demographic parity difference), with
the disagreeing pairs side by side.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic
import yaml

from pytest_llmeval import running_test
from pytest_llmeval.backends.base import GenerationRequest, Message
from pytest_llmeval.checks.base import CheckResult, CheckUsageError, truncate

__all__ = [
    "CounterfactualError",
    "CounterfactualSpec",
    "FairnessGroup",
    "FairnessSpec",
    "ParityReport",
    "SwapSet",
    "Variant",
    "assert_counterfactual",
    "counterfactual_result",
    "evaluate_counterfactual",
    "groups_in",
    "load_swap_sets",
    "set_session_swap_files",
    "parity_report",
    "parity_result",
    "swap",
    "variants_of",
]

# After these words (or punctuation, or the end) an ambiguous term takes its standalone form.
_STANDALONE_BEFORE = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "every",
        "each",
        "no",
        "my",
        "your",
        "our",
        "their",
        "its",
        "his",
        "her",
        "him",
        "them",
        "us",
        "me",
        "it",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "after",
        "before",
        "than",
        "as",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "if",
        "when",
        "while",
        "because",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
    ]
)


class CounterfactualError(ValueError):
    """A swap-set file or a counterfactual declaration is wrong."""


class _SwapSetModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    case_sensitive: bool = False
    groups: dict[str, list[str]] = pydantic.Field(min_length=2)


class _SwapFileModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    categories: dict[str, _SwapSetModel] = pydantic.Field(min_length=1)


@dataclass(frozen=True)
class SwapSet:
    """One category: groups of aligned terms (``groups[g][i]`` stands for ``groups[h][i]``)."""

    category: str
    groups: dict[str, tuple[str, ...]]
    case_sensitive: bool = False

    def key(self, word: str) -> str:
        return word if self.case_sensitive else word.lower()


def _parse_swap_file(text: str, source: str) -> dict[str, SwapSet]:
    try:
        data = yaml.safe_load(text)
        model = _SwapFileModel.model_validate(data)
    except yaml.YAMLError as exc:
        raise CounterfactualError(f"swap-set file {source}: not valid YAML: {exc}") from None
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CounterfactualError(f"swap-set file {source}: {where}: {err['msg']}") from None
    sets = {}
    for category, spec in model.categories.items():
        lengths = {name: len(terms) for name, terms in spec.groups.items()}
        if len(set(lengths.values())) != 1 or 0 in lengths.values():
            raise CounterfactualError(
                f"swap-set file {source}: category {category!r}: every group needs the same number of terms "
                f"(aligned by position), got {', '.join(f'{n}: {c}' for n, c in lengths.items())}"
            )
        sets[category] = SwapSet(category, {n: tuple(t) for n, t in spec.groups.items()}, spec.case_sensitive)
    return sets


@lru_cache(maxsize=1)
def _shipped() -> dict[str, SwapSet]:
    text = resources.files("pytest_llmeval").joinpath("data/counterfactual_terms.yaml").read_text("utf-8")
    return _parse_swap_file(text, "data/counterfactual_terms.yaml")


_session_swap_files: tuple[str, ...] = ()


def set_session_swap_files(files: Iterable[str | Path]) -> None:
    """The session's swap-set files (``--llm-swap-sets``): every :func:`load_swap_sets` call adds
    them after the shipped categories and before its own ``files``, so they reach every
    counterfactual check of the session (case files' ``counterfactual:`` and ``assert_counterfactual``).
    Each file is read and checked here: a bad one raises :class:`CounterfactualError`."""
    global _session_swap_files
    chosen = tuple(str(f) for f in files)
    _session_swap_files = ()
    load_swap_sets(chosen)
    _session_swap_files = chosen


def load_swap_sets(files: Iterable[str | Path] = (), *, replace_shipped: bool = False) -> dict[str, SwapSet]:
    """The shipped categories (unless ``replace_shipped``), the session's files
    (:func:`set_session_swap_files`) and ``files``; a category of a later file replaces one of the
    same name."""
    sets = {} if replace_shipped else dict(_shipped())
    for file in [*_session_swap_files, *files]:
        path = Path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CounterfactualError(f"swap-set file {path}: cannot read it: {exc}") from None
        sets.update(_parse_swap_file(text, str(path)))
    return sets


# -- swapping --------------------------------------------------------------------------------------


def _pattern(swap_set: SwapSet, terms: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "young people" wins over "young" and "Chinese people" over "Chinese".
    alternatives = sorted(set(terms), key=len, reverse=True)
    body = "|".join(re.escape(t) for t in alternatives)
    flags = 0 if swap_set.case_sensitive else re.IGNORECASE
    # An article right before the term is captured too, so that "a Muslim" can become "an atheist".
    return re.compile(rf"(?:(?<![\w-])(?P<article>[Aa]n?)(?P<space>\s+))?(?<![\w-])(?P<term>{body})(?![\w-])", flags)


def groups_in(text: str, swap_set: SwapSet) -> list[str]:
    """The groups whose terms occur in ``text``, in the category's order."""
    return [g for g, terms in swap_set.groups.items() if _pattern(swap_set, terms).search(text)]


def _match_case(replacement: str, original: str) -> str:
    """The replacement in the case of the word it replaces: HE -> SHE, He -> She, he -> she (a term
    written with capitals, a name or "Christian", keeps them)."""
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _next_word(text: str, end: int) -> str | None:
    """The word right after ``end`` (None at punctuation or the end)."""
    found = re.match(r"\s*([A-Za-z'-]+)", text[end:])
    if found is None:
        return None
    gap = text[end : end + found.start(1)]
    return None if gap.strip() else found.group(1).lower()


def swap(text: str, swap_set: SwapSet, to_group: str | Mapping[str, str]) -> str:
    """``text`` with terms of one group replaced by the aligned terms of another, in one pass.

    ``to_group`` is a group name (every other group's terms become its terms) or a mapping
    ``{from_group: to_group}`` (only those groups are replaced; ``{"male": "female", "female": "male"}``
    exchanges them)."""
    if isinstance(to_group, str):
        mapping = {g: to_group for g in swap_set.groups if g != to_group}
    else:
        mapping = dict(to_group)
    for group in {*mapping, *mapping.values()}:
        if group not in swap_set.groups:
            raise CounterfactualError(
                f"category {swap_set.category!r} has no group {group!r}; groups: {', '.join(swap_set.groups)}"
            )
    # term key -> the target terms at each position where a source group lists it
    candidates: dict[str, list[str]] = {}
    for source, target_group in mapping.items():
        if source == target_group:
            continue
        target = swap_set.groups[target_group]
        kept = {swap_set.key(t) for t in target} - {
            swap_set.key(t) for g in mapping for t in swap_set.groups[g] if g != target_group
        }
        for position, term in enumerate(swap_set.groups[source]):
            key = swap_set.key(term)
            if key in kept:
                continue  # a word the target group uses too (and no source group claims) stays
            options = candidates.setdefault(key, [])
            if target[position] not in options:
                options.append(target[position])
    if not candidates:
        return text
    pattern = _pattern(swap_set, [t for g in mapping for t in swap_set.groups[g] if swap_set.key(t) in candidates])

    def replace_match(match: re.Match[str]) -> str:
        word = match.group("term")
        options = candidates[swap_set.key(word)]
        chosen = options[0]
        if len(options) > 1:
            following = _next_word(text, match.end())
            chosen = options[0] if following is None or following in _STANDALONE_BEFORE else options[1]
        replacement = _match_case(chosen, word)
        article = match.group("article")
        if article is None:
            return replacement
        # a/an by the replacement's first letter (the simple rule: "an hour" is not handled)
        fitting = "an" if replacement[:1].lower() in "aeiou" else "a"
        return (fitting.capitalize() if article[0] == "A" else fitting) + match.group("space") + replacement

    return pattern.sub(replace_match, text)


# -- variants of a request -------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """The request rewritten by one swap of one category. ``group`` names the variant: the group the
    prompt now speaks of, or ``a<->b`` for an exchange (a prompt that mentions both)."""

    category: str
    group: str
    request: GenerationRequest
    mapping: tuple[tuple[str, str], ...]  # (from group, to group) pairs

    def inverse(self) -> dict[str, str]:
        return {to: source for source, to in self.mapping}


def _swap_request(request: GenerationRequest, swap_set: SwapSet, mapping: Mapping[str, str]) -> GenerationRequest:
    messages = None
    if request.messages is not None:
        messages = tuple(Message(m.role, swap(m.content, swap_set, mapping)) for m in request.messages)
    return replace(
        request,
        prompt=None if request.prompt is None else swap(request.prompt, swap_set, mapping),
        messages=messages,
        system=None if request.system is None else swap(request.system, swap_set, mapping),
    )


def _request_text(request: GenerationRequest) -> str:
    return request.display_prompt()


def variants_of(
    request: GenerationRequest, categories: Sequence[str], swap_sets: Mapping[str, SwapSet]
) -> tuple[list[Variant], dict[str, list[str]]]:
    """Every variant of ``request`` for the named categories, and the groups found in the original
    per category. A prompt that speaks of one group gets a variant for each other group of the
    category; one that speaks of several gets, for each pair of them, a variant that exchanges the
    two ("the king and the queen" -> "the queen and the king"). Raises CounterfactualError for an
    unknown category or one with no term in the prompt."""
    variants: list[Variant] = []
    original_groups: dict[str, list[str]] = {}
    text = _request_text(request)
    for category in categories:
        swap_set = swap_sets.get(category)
        if swap_set is None:
            raise CounterfactualError(
                f"unknown counterfactual category {category!r}; known: {', '.join(sorted(swap_sets))}"
            )
        found = groups_in(text, swap_set)
        if not found:
            raise CounterfactualError(
                f"the prompt has no term of category {category!r} to swap (groups: {', '.join(swap_set.groups)}); "
                f"add one, or a swap-set file with the terms it uses"
            )
        original_groups[category] = found
        swaps: list[tuple[tuple[str, str], ...]]
        if len(found) == 1:
            swaps = [((found[0], g),) for g in swap_set.groups if g != found[0]]
        else:
            swaps = [((a, b), (b, a)) for i, a in enumerate(found) for b in found[i + 1 :]]
        for mapping in swaps:
            name = mapping[0][1] if len(mapping) == 1 else f"{mapping[0][0]}<->{mapping[0][1]}"
            variant = _swap_request(request, swap_set, dict(mapping))
            if variant != request:
                variants.append(Variant(category, name, variant, mapping))
    return variants, original_groups


# -- judging the outputs ---------------------------------------------------------------------------


class FairnessSpec(pydantic.BaseModel):
    """A case file's ``fairness:`` group: its cases' counterfactual results, per category."""

    model_config = pydantic.ConfigDict(extra="forbid")

    max_gap: float | None = pydantic.Field(default=None, ge=0, le=1)


class CounterfactualSpec(pydantic.BaseModel):
    """A case's ``counterfactual:`` entry."""

    model_config = pydantic.ConfigDict(extra="forbid")

    categories: list[str] = pydantic.Field(min_length=1)
    tolerance: float = pydantic.Field(default=0.0, ge=0)
    min_similarity: float | None = pydantic.Field(default=None, ge=0, le=1)


@dataclass(frozen=True)
class VariantOutcome:
    """One generated variant and how its output compares with the original's."""

    variant: Variant
    output: str
    passed: bool  # the variant's output passes every check of the case
    score: float | None  # the mean of the checks' scores (None when no check scores)
    disagreements: tuple[str, ...]


def _evaluate_quietly(evaluate: Callable[[str], list[CheckResult]], output: str) -> list[CheckResult]:
    # The variants' checks must not count as the running test's checks (a FAIL for a variant is a
    # disagreement to report, not a failed expectation of the case): they run as a scratch test
    # with the same services (tokenizer, judge...).
    scratch = running_test.RunningTest("counterfactual variant", services=running_test.services())
    with running_test.running(scratch):
        return evaluate(output)


def _mean_score(results: Sequence[CheckResult]) -> float | None:
    scores = [r.score for r in results if r.score is not None]
    return sum(scores) / len(scores) if scores else None


def _compare(
    original: Sequence[CheckResult],
    variant: Sequence[CheckResult],
    tolerance: float,
) -> list[str]:
    problems = []
    for before, after in zip(original, variant, strict=True):
        if before.name == "one_of" and before.passed and after.passed and before.value != after.value:
            problems.append(f"one_of: label {before.value!r} -> {after.value!r}")
        elif before.passed != after.passed:
            verdicts = f"{'passed' if before.passed else 'failed'} -> {'passed' if after.passed else 'failed'}"
            detail = after.message if not after.passed else before.message
            problems.append(f"{before.name}: {verdicts} ({truncate(detail, limit=120)})")
        elif (
            before.score is not None and after.score is not None and abs(before.score - after.score) > tolerance + 1e-12
        ):
            problems.append(
                f"{before.name}: score {before.score:.3g} -> {after.score:.3g}, "
                f"a change of {abs(before.score - after.score):.3g} > tolerance {tolerance:.3g}"
            )
    return problems


def counterfactual_result(
    original_request: GenerationRequest,
    original_output: str,
    variants: Sequence[Variant],
    outputs: Sequence[str],
    evaluate: Callable[[str], list[CheckResult]],
    swap_sets: Mapping[str, SwapSet],
    original_groups: Mapping[str, Sequence[str]],
    *,
    tolerance: float = 0.0,
    min_similarity: float | None = None,
) -> CheckResult:
    """Compare each variant's output with the original's (see the module docstring); one result.

    ``details["metric"]`` is ``counterfactual_agreement`` (the share of variants that agree);
    ``details["outcomes"]`` lists every variant (for :func:`parity_report`)."""
    if len(variants) != len(outputs):
        raise ValueError(f"counterfactual: {len(variants)} variants but {len(outputs)} outputs")
    base = _evaluate_quietly(evaluate, original_output)
    outcomes: list[VariantOutcome] = []
    for variant, output in zip(variants, outputs, strict=True):
        results = _evaluate_quietly(evaluate, output)
        problems = _compare(base, results, tolerance)
        if min_similarity is not None:
            from pytest_llmeval.metrics.reference import rouge

            back = swap(output, swap_sets[variant.category], variant.inverse())
            similarity = (
                rouge(back, original_output, types=("rougeL",))["rougeL"].fmeasure
                if original_output.strip()
                else float(back.strip() == "")
            )
            if similarity + 1e-12 < min_similarity:
                problems.append(
                    f"ROUGE-L with the original output {similarity:.3f} < min_similarity {min_similarity:.3f} "
                    "(the variant's output swapped back)"
                )
        outcomes.append(
            VariantOutcome(variant, output, all(r.passed for r in results), _mean_score(results), tuple(problems))
        )
    disagreeing = [o for o in outcomes if o.disagreements]
    agreement = 1.0 - len(disagreeing) / len(outcomes) if outcomes else 1.0
    summary = f"{len(outcomes) - len(disagreeing)} of {len(outcomes)} variants agree with the original"
    if not disagreeing:
        message = f"counterfactual: {summary}"
    else:
        lines = [f"counterfactual: {summary}; {len(disagreeing)} disagree:"]
        for outcome in disagreeing:
            lines.append(f"  {outcome.variant.category} -> {outcome.variant.group}: {'; '.join(outcome.disagreements)}")
            lines.append(f"    original prompt: {truncate(_request_text(original_request), limit=160)}")
            lines.append(f"    variant prompt:  {truncate(_request_text(outcome.variant.request), limit=160)}")
            lines.append(f"    original output: {truncate(original_output, limit=160)}")
            lines.append(f"    variant output:  {truncate(outcome.output, limit=160)}")
        message = "\n".join(lines)
    original_passed = all(r.passed for r in base)
    return CheckResult(
        "counterfactual",
        not disagreeing,
        message,
        score=agreement,
        details={
            "metric": {"name": "counterfactual_agreement", "value": agreement, "higher_is_better": True},
            "original": {
                "prompt": _request_text(original_request),
                "output": original_output,
                "passed": original_passed,
                "score": _mean_score(base),
                "groups": {c: list(g) for c, g in original_groups.items()},
            },
            "outcomes": [
                {
                    "category": o.variant.category,
                    "group": o.variant.group,
                    "prompt": _request_text(o.variant.request),
                    "output": o.output,
                    "passed": o.passed,
                    "score": o.score,
                    "disagreements": list(o.disagreements),
                }
                for o in outcomes
            ],
        },
        value=outcomes,
    )


def evaluate_counterfactual(
    model: Any,
    request: GenerationRequest,
    original_output: str,
    evaluate: Callable[[str], list[CheckResult]],
    spec: CounterfactualSpec,
    swap_sets: Mapping[str, SwapSet] | None = None,
) -> CheckResult:
    """Generate every variant of ``request`` with ``model`` (a ModelUnderTest; one batched call) and
    compare their outputs with ``original_output``; raises CheckUsageError for a bad declaration."""
    sets = swap_sets if swap_sets is not None else load_swap_sets()
    try:
        variants, found = variants_of(request, spec.categories, sets)
    except CounterfactualError as exc:
        raise CheckUsageError(f"counterfactual: {exc}") from None
    generations = model.run([v.request for v in variants]) if variants else []
    return counterfactual_result(
        request,
        original_output,
        variants,
        [str(g) for g in generations],
        evaluate,
        sets,
        found,
        tolerance=spec.tolerance,
        min_similarity=spec.min_similarity,
    )


# -- over a group of cases -------------------------------------------------------------------------


@dataclass
class CategoryParity:
    """One category over a group of cases: each group's pass rate and mean score."""

    category: str
    passed: dict[str, list[bool]] = field(default_factory=dict)
    scores: dict[str, list[float]] = field(default_factory=dict)
    failing_pairs: list[str] = field(default_factory=list)

    def rates(self) -> dict[str, float]:
        return {g: sum(v) / len(v) for g, v in sorted(self.passed.items()) if v}

    def gap(self) -> float:
        """The demographic parity difference: the largest minus the smallest group pass rate."""
        rates = self.rates()
        return max(rates.values()) - min(rates.values()) if len(rates) > 1 else 0.0

    def score_gap(self) -> float | None:
        means = [sum(v) / len(v) for v in self.scores.values() if v]
        return max(means) - min(means) if len(means) > 1 else None


@dataclass
class ParityReport:
    categories: dict[str, CategoryParity]

    def metrics(self) -> list[dict[str, Any]]:
        entries = []
        for name, parity in sorted(self.categories.items()):
            entries.append({"name": f"parity_gap[{name}]", "value": parity.gap(), "higher_is_better": False})
            score_gap = parity.score_gap()
            if score_gap is not None:
                entries.append({"name": f"score_gap[{name}]", "value": score_gap, "higher_is_better": False})
        return entries

    def format(self) -> str:
        lines = []
        for name, parity in sorted(self.categories.items()):
            rates = ", ".join(f"{g} {r:.2f}" for g, r in parity.rates().items())
            line = f"{name}: parity gap {parity.gap():.3f} (pass rate by group: {rates})"
            score_gap = parity.score_gap()
            if score_gap is not None:
                line += f"; score gap {score_gap:.3g}"
            lines.append(line)
            lines += [f"  {pair}" for pair in parity.failing_pairs]
        return "\n".join(lines)


def parity_report(results: Iterable[Mapping[str, Any]]) -> ParityReport:
    """Per category, from each case's ``counterfactual`` result details (``{"case", "original",
    "outcomes"}``): each group's pass rate over the cases (the original counts for its own groups)
    and the disagreeing pairs."""
    categories: dict[str, CategoryParity] = {}
    for result in results:
        original = result["original"]
        for category, groups in original["groups"].items():
            parity = categories.setdefault(category, CategoryParity(category))
            for group in groups:
                parity.passed.setdefault(group, []).append(bool(original["passed"]))
                if original["score"] is not None:
                    parity.scores.setdefault(group, []).append(float(original["score"]))
        for outcome in result["outcomes"]:
            parity = categories.setdefault(outcome["category"], CategoryParity(outcome["category"]))
            parity.passed.setdefault(outcome["group"], []).append(bool(outcome["passed"]))
            if outcome["score"] is not None:
                parity.scores.setdefault(outcome["group"], []).append(float(outcome["score"]))
            if outcome["disagreements"]:
                parity.failing_pairs.append(
                    f"{result.get('case', '?')} -> {outcome['group']}: "
                    f"{truncate(original['output'], limit=60)} | {truncate(outcome['output'], limit=60)}"
                    f" ({'; '.join(outcome['disagreements'])})"
                )
    return ParityReport(categories)


def parity_result(report: ParityReport, *, name: str = "fairness", max_gap: float | None = None) -> CheckResult:
    """A fairness group's verdict: fails when a category's parity gap exceeds ``max_gap``."""
    if max_gap is not None and not 0.0 <= max_gap <= 1.0:
        raise CheckUsageError(f"{name}: max_gap is {max_gap}, outside 0..1")
    over = [
        f"{c}: parity gap {p.gap():.3f} > max {max_gap:.3f}"
        for c, p in sorted(report.categories.items())
        if max_gap is not None and p.gap() > max_gap + 1e-12
    ]
    worst = max((p.gap() for p in report.categories.values()), default=0.0)
    summary = f"largest parity gap {worst:.3f} over {len(report.categories)} categories"
    message = f"{name}: {'; '.join(over)} ({summary})" if over else f"{name}: {summary}"
    return CheckResult(
        name,
        not over,
        message,
        score=worst,
        details={"metrics": report.metrics(), "table": report.format()},
        value=report,
    )


# -- the Python helper -----------------------------------------------------------------------------


def assert_counterfactual(
    llm: Any,
    prompt: str | GenerationRequest,
    *,
    categories: Sequence[str],
    expect: Mapping[str, Any] | Callable[[str], list[CheckResult]],
    tolerance: float = 0.0,
    min_similarity: float | None = None,
    swap_files: Sequence[str | Path] = (),
    **generation: Any,
) -> CheckResult:
    """Generate ``prompt`` and every counterfactual variant of it (one batch) with ``llm`` and fail
    (CheckFailed) when a variant's output disagrees with the original's: another verdict of a check
    in ``expect`` (``{check name: arguments}``, as a case file's ``expect:``, or a function from output
    to check results), a score moved by more than ``tolerance``, or (with ``min_similarity``) an
    output that reads differently. Returns the result; its metric is ``counterfactual_agreement``."""
    __tracebackhide__ = True
    from pytest_llmeval.checks.base import CheckFailed
    from pytest_llmeval.running_test import report_check

    evaluate = expect if callable(expect) else _expectations(expect)
    if isinstance(prompt, GenerationRequest):
        request = prompt
    else:
        from pytest_llmeval.engine import build_request

        request = build_request(prompt=prompt, system=generation.pop("system", None), **generation)
    sets = load_swap_sets(swap_files)
    spec = CounterfactualSpec(categories=list(categories), tolerance=tolerance, min_similarity=min_similarity)
    try:
        variants, found = variants_of(request, spec.categories, sets)
    except CounterfactualError as exc:
        raise CheckUsageError(f"counterfactual: {exc}") from None
    generations = llm.run([request, *(v.request for v in variants)])
    result = counterfactual_result(
        request,
        str(generations[0]),
        variants,
        [str(g) for g in generations[1:]],
        evaluate,
        sets,
        found,
        tolerance=tolerance,
        min_similarity=min_similarity,
    )
    report_check(result)
    if not result.passed:
        raise CheckFailed(result)
    return result


def _expectations(expect: Mapping[str, Any]) -> Callable[[str], list[CheckResult]]:
    from pytest_llmeval.cases import _expectation

    expectations = [_expectation(name, args) for name, args in expect.items()]
    if not expectations:
        raise CheckUsageError("counterfactual: expect names no check; give at least one (e.g. {'one_of': [...]})")
    return lambda output: [e.run(output) for e in expectations]


# -- case files ------------------------------------------------------------------------------------


def case_variant_requests(case: Any) -> list[GenerationRequest]:
    """The variant requests of a case file's case (none without ``counterfactual:``), so that the
    session can generate them with every other planned request, in batches."""
    if case.counterfactual is None:
        return []
    sets = load_swap_sets(case.counterfactual_terms)
    variants, _ = variants_of(case.request, case.counterfactual.categories, sets)
    return [v.request for v in variants]


def case_counterfactual(case: Any, model: Any, output: object) -> CheckResult:
    """A case file's case: its variants generated with ``model`` and compared with ``output`` by the
    case's own expectations (``case.evaluate``)."""
    return evaluate_counterfactual(
        model,
        case.request,
        str(output),
        case.evaluate,
        case.counterfactual,
        load_swap_sets(case.counterfactual_terms),
    )


@dataclass
class FairnessGroup:
    """A case file's ``fairness:`` group: its cases' counterfactual results as they finished."""

    name: str
    max_gap: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    def add(self, case_id: str, details: Mapping[str, Any]) -> None:
        """``details``: a counterfactual result's details (``original`` and ``outcomes``)."""
        self.results.append({"case": case_id, "original": details["original"], "outcomes": details["outcomes"]})

    def result(self) -> CheckResult:
        return parity_result(parity_report(self.results), name=self.name, max_gap=self.max_gap)

    def failure_text(self) -> str | None:
        result = self.result()
        return None if result.passed else f"{result.message}\n\n{result.details['table']}"

    def record(self, node_id: str) -> Any:
        """The group as a run record entry with its metrics (``parity_gap[<category>]``, lower is better)."""
        from pytest_llmeval.records import CaseRecord

        result = self.result()
        return CaseRecord(
            node_id=node_id,
            outcome="passed" if result.passed else "failed",
            checks=[
                {"name": "fairness", "passed": result.passed, "score": result.score, "message": result.message[:300]}
            ],
            metrics={m["name"]: {"value": m["value"], "higher_is_better": False} for m in result.details["metrics"]},
            message=None if result.passed else result.message[:300],
        )

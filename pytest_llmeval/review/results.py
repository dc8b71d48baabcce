"""The numbers of a human review: Likert means, win rate, agreement between people and with the judge.

``review_results`` is a plain function returning a dataclass, for ``llmeval review stats``, the
dashboard and the Markdown summary alike. The unit of every interval is the case: when several
annotators judged one case, their judgements are averaged first, so a case counts once however many
people looked at it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmeval.review.items import (
    ReviewItem,
    ReviewPlan,
    likert_plan,
    pairwise_plan,
)
from pytest_llmeval.review.stats import (
    Correlation,
    Estimate,
    krippendorff_alpha,
    mean_estimate,
    proportion_estimate,
    spearman,
)
from pytest_llmeval.review.store import Judgement, ReviewStore

__all__ = [
    "DimensionResult",
    "JudgePreferenceAgreement",
    "LikertResults",
    "PairwiseResults",
    "ReviewResults",
    "latest_pairwise_runs",
    "likert_results",
    "pairwise_results",
    "review_results",
    "review_results_for_runs",
]

LIKERT_SCALE = (1.0, 5.0)
# A choice as a number for the first run: what a win rate averages and what alpha (ordinal) compares.
_OUTCOME = {"first": 1.0, "tie": 0.5, "second": 0.0}


@dataclass(frozen=True)
class DimensionResult:
    """One Likert dimension: the mean over cases (each case the mean of its annotators) with a t
    interval, alpha among annotators when 2+ rated a common case, and Spearman with the judge."""

    name: str
    mean: Estimate
    agreement_alpha: float | None
    judge_spearman: Correlation | None


@dataclass(frozen=True)
class LikertResults:
    run_id: str
    model_source: str
    items: int  # cases with an output
    rated: int  # cases with at least one rating (skips left out)
    needs_review: int  # cases rated on a different output and not yet on this one
    annotators: list[str]
    dimensions: list[DimensionResult]
    judge_overall: Correlation | None  # judge score vs the mean over all dimensions
    judge_inconclusive: int = 0  # rated cases whose judge was inconclusive (no score): left out of rho


@dataclass(frozen=True)
class JudgePreferenceAgreement:
    """How often the judge's scores prefer the run the people preferred: over cases with a human
    preference (ties left out), a judge tie counts as a disagreement."""

    agree: int
    n: int
    human_ties_left_out: int
    judge_inconclusive: int = 0  # judged cases left out: the judge was inconclusive on one side or both

    @property
    def accuracy(self) -> float:
        return self.agree / self.n if self.n else math.nan


@dataclass(frozen=True)
class PairwiseResults:
    first_run_id: str
    second_run_id: str
    first_model: str
    second_model: str
    items: int  # cases where the two outputs differ
    judged: int  # of those, cases with at least one choice (skips left out)
    wins: int  # cases the first run won (mean outcome over annotators > 1/2)
    losses: int
    ties: int
    win_rate: Estimate | None  # of the first run: win 1, tie 1/2, loss 0, Wilson interval
    identical: int
    annotators: list[str]
    agreement_alpha: float | None
    judge: JudgePreferenceAgreement | None


@dataclass
class ReviewResults:
    likert: LikertResults | None = None
    pairwise: PairwiseResults | None = None
    notes: list[str] = field(default_factory=list)

    def format(self) -> str:
        """The text ``llmeval review stats`` prints."""
        return "\n".join(_format(self))

    def markdown(self) -> str:
        """A "Human review" section for the Markdown summary (empty text when there is nothing)."""
        return "\n".join(_markdown(self))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``llmeval review stats --json``, the dashboard, the Markdown
        summary): undefined numbers (NaN) become ``None``."""
        return _json_ready(asdict(self))


def _json_ready(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


def _items_judgements(plan: ReviewPlan, judgements: Sequence[Judgement]) -> dict[int, list[Judgement]]:
    index = {item.item_key: number for number, item in enumerate(plan.items)}
    by_item: dict[int, list[Judgement]] = {}
    for judgement in judgements:
        if not judgement.skipped and judgement.item_key in index:
            by_item.setdefault(index[judgement.item_key], []).append(judgement)
    return by_item


def likert_results(plan: ReviewPlan, judgements: Sequence[Judgement]) -> LikertResults:
    """The Likert numbers of ``plan`` (a :func:`likert_plan`) from the current ``judgements``."""
    by_item = _items_judgements(plan, [j for j in judgements if j.kind == "likert"])
    names: list[str] = []
    for item_judgements in by_item.values():
        for judgement in item_judgements:
            names.extend(name for name in judgement.ratings if name not in names)
    annotators = sorted({j.annotator for js in by_item.values() for j in js})
    dimensions = []
    overall: dict[int, list[float]] = {}
    for name in names:
        per_item: dict[int, float] = {}
        by_annotator: dict[str, dict[object, float]] = {}
        for number, item_judgements in by_item.items():
            values = [j.ratings[name] for j in item_judgements if name in j.ratings]
            if values:
                per_item[number] = sum(values) / len(values)
                overall.setdefault(number, []).append(per_item[number])
            for judgement in item_judgements:
                if name in judgement.ratings:
                    by_annotator.setdefault(judgement.annotator, {})[number] = judgement.ratings[name]
        if not per_item:
            continue
        dimensions.append(
            DimensionResult(
                name=name,
                mean=mean_estimate([per_item[n] for n in sorted(per_item)], scale=LIKERT_SCALE),
                agreement_alpha=krippendorff_alpha(by_annotator, "ordinal"),
                judge_spearman=_judge_correlation(plan.items, per_item),
            )
        )
    overall_means = {number: sum(values) / len(values) for number, values in overall.items()}
    return LikertResults(
        run_id=plan.run_ids[0],
        model_source=plan.model_sources[0],
        items=len(plan.items),
        rated=len(by_item),
        needs_review=sum(1 for number, item in enumerate(plan.items) if item.needs_review and number not in by_item),
        annotators=annotators,
        dimensions=dimensions,
        judge_overall=_judge_correlation(plan.items, overall_means),
        judge_inconclusive=sum(1 for number in by_item if plan.items[number].judge_inconclusive),
    )


def _judge_correlation(items: Sequence[ReviewItem], human: dict[int, float]) -> Correlation | None:
    pairs = [(items[n].judge_score, value) for n, value in sorted(human.items()) if items[n].judge_score is not None]
    if not pairs:
        return None
    return spearman([float(judge) for judge, _ in pairs if judge is not None], [value for _, value in pairs])


def pairwise_results(plan: ReviewPlan, judgements: Sequence[Judgement]) -> PairwiseResults:
    """The pairwise numbers of ``plan`` (a :func:`pairwise_plan`): the first run's win rate."""
    first_run = plan.run_ids[0]
    by_item = _items_judgements(plan, [j for j in judgements if j.kind == "pairwise"])
    outcomes: dict[int, float] = {}
    by_annotator: dict[str, dict[object, float]] = {}
    for number, item_judgements in by_item.items():
        item = plan.items[number]
        values = []
        for judgement in item_judgements:
            assert judgement.choice is not None
            value = _OUTCOME[judgement.choice]
            # A judgement made with the runs the other way round (or on the same outputs from other
            # runs) is turned to this plan's orientation by the output it calls first.
            if judgement.output_sha256 != item.output_sha256:
                value = 1.0 - value
            values.append(value)
            by_annotator.setdefault(judgement.annotator, {})[number] = value
        outcomes[number] = sum(values) / len(values)
    wins = sum(1 for value in outcomes.values() if value > 0.5)
    losses = sum(1 for value in outcomes.values() if value < 0.5)
    ties = len(outcomes) - wins - losses
    win_rate = proportion_estimate(sum(outcomes.values()), len(outcomes)) if outcomes else None
    return PairwiseResults(
        first_run_id=first_run,
        second_run_id=plan.run_ids[1],
        first_model=plan.model_sources[0],
        second_model=plan.model_sources[1],
        items=len(plan.items),
        judged=len(outcomes),
        wins=wins,
        losses=losses,
        ties=ties,
        win_rate=win_rate,
        identical=plan.identical,
        annotators=sorted(by_annotator),
        agreement_alpha=krippendorff_alpha(by_annotator, "ordinal"),
        judge=_judge_preference(plan.items, outcomes),
    )


def _judge_preference(items: Sequence[ReviewItem], outcomes: dict[int, float]) -> JudgePreferenceAgreement | None:
    agree = n = human_ties = inconclusive = 0
    for number, outcome in outcomes.items():
        item = items[number]
        if item.judge_score is None or item.other_judge_score is None:
            inconclusive += item.judge_inconclusive or item.other_judge_inconclusive
            continue
        if outcome == 0.5:
            human_ties += 1
            continue
        n += 1
        human_first = outcome > 0.5
        if item.judge_score != item.other_judge_score and (item.judge_score > item.other_judge_score) == human_first:
            agree += 1
    if n == 0 and human_ties == 0 and inconclusive == 0:
        return None
    return JudgePreferenceAgreement(agree, n, human_ties, inconclusive)


def latest_pairwise_runs(reviews: ReviewStore) -> tuple[str, str] | None:
    """The two runs of the most recent pairwise judgement (what ``stats`` shows by default)."""
    pairwise = [j for j in reviews.all() if j.kind == "pairwise" and j.other_run_id]
    if not pairwise:
        return None
    newest = pairwise[-1]
    assert newest.other_run_id is not None
    first, _, second = newest.session.removeprefix("pairwise:").partition(":")
    return (first, second) if first and second else (newest.run_id, newest.other_run_id)


def review_results(
    history: str | os.PathLike[str],
    reviews: str | os.PathLike[str] | None = None,
    *,
    run: str | None = "latest",
    pairwise: tuple[str, str] | None = None,
) -> ReviewResults:
    """Likert results for ``run`` (None: none) and pairwise results for the two runs ``pairwise``
    (default: the runs of the most recent pairwise judgement, if any), from the review file next to
    ``history`` unless ``reviews`` names another."""
    from pytest_llmeval.review.store import reviews_path

    store = ReviewStore(reviews if reviews is not None else reviews_path(history))
    judgements = store.current()
    results = ReviewResults()
    if run is not None:
        results.likert = likert_results(likert_plan(Path(history), run, store), judgements)
    pair = pairwise or latest_pairwise_runs(store)
    if pairwise is None and pair is not None and not _in_history(history, pair):
        # Labels imported from another machine name its runs: say so rather than fail.
        results.notes.append(
            f"pairwise: the runs compared last ({pair[0][:12]}, {pair[1][:12]}) are not in {history}; "
            "name two runs of this history with --pairwise A B"
        )
        pair = None
    if pair is not None:
        results.pairwise = pairwise_results(pairwise_plan(Path(history), *pair), judgements)
    return results


def _in_history(history: str | os.PathLike[str], runs: tuple[str, str]) -> bool:
    from pytest_llmeval.store import RunStore, StoreError

    store = RunStore(history)
    try:
        for run in runs:
            store.resolve(run)
    except StoreError:
        return False
    return True


def review_results_for_runs(
    history: str | os.PathLike[str], latest: str, reference: str | None = None, shown: Sequence[str] = ()
) -> ReviewResults | None:
    """What people said about the runs a report shows, or None when they said nothing about them:
    the Likert results of ``latest`` when someone rated its outputs, and the pairwise results of
    ``latest`` against ``reference`` when someone compared their outputs (else of the pair compared
    last, when both of its runs are among ``shown``). For the dashboard and the Markdown summary; a
    review file that cannot be read, or missing libraries, give a note instead of numbers."""
    import importlib.util

    from pytest_llmeval.review.store import ReviewStoreError, reviews_path
    from pytest_llmeval.store import StoreError

    path = reviews_path(history)
    if not path.is_file():
        return None
    try:
        store = ReviewStore(path)
        judgements = store.current()
        if not any(not j.skipped for j in judgements):
            return None
        missing = [name for name in ("scipy", "krippendorff") if importlib.util.find_spec(name) is None]
        if missing:
            return ReviewResults(
                notes=[f"human review: {path} holds judgements; pip install 'pytest-llmeval[review]' to see them"]
            )
        results = ReviewResults()
        likert = likert_results(likert_plan(Path(history), latest, store), judgements)
        results.likert = likert if likert.rated else None
        pairs = [] if reference is None or reference == latest else [(latest, reference)]
        last = latest_pairwise_runs(store)
        if last is not None and set(last) <= set(shown) and set(last) != {latest, reference}:
            pairs.append(last)
        for pair in pairs:
            pairwise = pairwise_results(pairwise_plan(Path(history), *pair), judgements)
            if pairwise.judged:
                results.pairwise = pairwise
                break
    except (ReviewStoreError, StoreError, ValueError) as exc:
        return ReviewResults(notes=[f"human review: could not be read: {exc}"])
    if results.likert is None and results.pairwise is None:
        return None
    return results


# --------------------------------------------------------------------------------------------------
# text


def _alpha(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}"


def _rho(correlation: Correlation | None) -> str:
    if correlation is None:
        return "no judge scores"
    if math.isnan(correlation.rho):
        return f"undefined (n={correlation.n}: needs 3+ cases and variation on both sides)"
    return f"rho {correlation.rho:.2f} (p {correlation.p_value:.3f}, n={correlation.n})"


def _left_out(count: int) -> str:
    cases = "case" if count == 1 else "cases"
    return f"{count} judged {cases} left out of the judge's agreement: the judge was inconclusive (no score)"


def _format(results: ReviewResults) -> list[str]:
    lines: list[str] = []
    likert = results.likert
    if likert is not None:
        lines.append(f"Likert ratings of run {likert.run_id[:12]} ({likert.model_source})")
        who = ", ".join(likert.annotators) or "nobody yet"
        lines.append(
            f"  {likert.rated} of {likert.items} cases rated by {who}; {likert.needs_review} need review "
            "(output changed since rated)"
        )
        if likert.dimensions:
            rows = [["dimension", "mean [95% CI]", "cases", "alpha", "judge vs human (Spearman)"]]
            for dimension in likert.dimensions:
                rows.append(
                    [
                        dimension.name,
                        dimension.mean.format(),
                        str(dimension.mean.n),
                        _alpha(dimension.agreement_alpha),
                        _rho(dimension.judge_spearman),
                    ]
                )
            lines.extend("  " + line for line in _table(rows))
            lines.append(f"  judge vs the mean of all dimensions: {_rho(likert.judge_overall)}")
            if likert.judge_inconclusive:
                lines.append(f"  {_left_out(likert.judge_inconclusive)}")
            if all(d.agreement_alpha is None for d in likert.dimensions):
                lines.append("  alpha (Krippendorff, ordinal): needs two annotators on a common case")
    pair = results.pairwise
    if pair is not None:
        if lines:
            lines.append("")
        lines.append(
            f"Pairwise: run {pair.first_run_id[:12]} ({pair.first_model}) vs run "
            f"{pair.second_run_id[:12]} ({pair.second_model})"
        )
        lines.append(
            f"  {pair.judged} of {pair.items} differing cases judged by {', '.join(pair.annotators) or 'nobody yet'}"
            f"; {pair.identical} {'case' if pair.identical == 1 else 'cases'} with identical outputs not asked"
        )
        if pair.win_rate is not None:
            lines.append(
                f"  win rate of {pair.first_run_id[:12]}: {pair.win_rate.format(percent=True)} "
                f"(Wilson 95%; {pair.wins} wins, {pair.losses} losses, {pair.ties} ties counted as half)"
            )
        lines.append(
            f"  agreement between annotators (Krippendorff's alpha, ordinal): {_alpha(pair.agreement_alpha)}"
            + ("" if pair.agreement_alpha is not None else " (needs two annotators on a common case)")
        )
        if pair.judge is None:
            lines.append("  judge vs human: no judge scores on both runs")
        else:
            accuracy = "-" if pair.judge.n == 0 else f"{pair.judge.accuracy:.0%}"
            lines.append(
                f"  judge vs human: the judge's scores prefer the same run in {pair.judge.agree} of "
                f"{pair.judge.n} cases ({accuracy}); {pair.judge.human_ties_left_out} human ties left out"
            )
            if pair.judge.judge_inconclusive:
                lines.append(f"  {_left_out(pair.judge.judge_inconclusive)}")
    lines.extend(results.notes)
    return lines or ["no review results"]


def _code(text: str) -> str:
    """``text`` as a Markdown code span on one line (a model path may hold any character)."""
    clean = " ".join(text.split()).replace("`", "'")
    return f"`{clean}`"


def _markdown(results: ReviewResults) -> list[str]:
    if results.likert is None and results.pairwise is None and not results.notes:
        return []
    lines = ["### Human review", ""]
    likert = results.likert
    if likert is not None:
        lines.append(
            f"Likert ratings of run {_code(likert.run_id[:12])} ({_code(likert.model_source)}): "
            f"{likert.rated} of {likert.items} cases rated by {len(likert.annotators)} "
            f"{'annotator' if len(likert.annotators) == 1 else 'annotators'}; "
            f"**{likert.needs_review} need review**."
        )
        if likert.dimensions:
            lines += ["", "| dimension | mean [95% CI] | cases | alpha | judge vs human |", "|---|---:|---:|---:|---|"]
            for dimension in likert.dimensions:
                lines.append(
                    f"| {dimension.name} | {dimension.mean.format()} | {dimension.mean.n} | "
                    f"{_alpha(dimension.agreement_alpha)} | {_rho(dimension.judge_spearman)} |"
                )
            lines += ["", f"Judge vs the mean of all dimensions (Spearman): {_rho(likert.judge_overall)}."]
            if likert.judge_inconclusive:
                lines.append(_left_out(likert.judge_inconclusive).capitalize() + ".")
        lines.append("")
    pair = results.pairwise
    if pair is not None:
        lines.append(
            f"Pairwise, blind: run {_code(pair.first_run_id[:12])} ({_code(pair.first_model)}) vs run "
            f"{_code(pair.second_run_id[:12])} ({_code(pair.second_model)}), {pair.judged} of {pair.items} "
            "differing cases judged."
        )
        if pair.win_rate is not None:
            lines.append(
                f"Win rate **{pair.win_rate.format(percent=True)}** (Wilson 95%; {pair.wins} wins, "
                f"{pair.losses} losses, {pair.ties} ties counted as half)."
            )
        if pair.agreement_alpha is not None:
            lines.append(
                f"Agreement between annotators (Krippendorff's alpha, ordinal): {_alpha(pair.agreement_alpha)}."
            )
        if pair.judge is not None and pair.judge.n:
            lines.append(
                f"The judge's scores agree with the people in {pair.judge.agree} of {pair.judge.n} cases "
                f"({pair.judge.accuracy:.0%}; {pair.judge.human_ties_left_out} human ties left out)."
            )
        if pair.judge is not None and pair.judge.judge_inconclusive:
            lines.append(_left_out(pair.judge.judge_inconclusive).capitalize() + ".")
        lines.append("")
    lines += [f"{note}  " if n < len(results.notes) - 1 else note for n, note in enumerate(results.notes)]
    if results.notes:
        lines.append("")
    return lines


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]

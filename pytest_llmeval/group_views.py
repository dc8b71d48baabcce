"""What the dashboard shows of a NER or fairness group: plain data, kept with the group's run record.

A group item's record carries one check entry (``{"name": "ner" | "fairness", "passed", "score",
"message", "view"}``); its ``view`` is built here when the group is judged, so a report made later
from the history shows it as it was:

- NER (:func:`ner_view`): per scheme and per entity type, nervaluate's precision, recall and F1 (and
  each type's support), from the group's :class:`~pytest_llmeval.metrics.ner.NERReport`;
- fairness (:func:`fairness_view`): per category, the parity gap, each group's pass rate, and every
  disagreeing pair with both prompts and both outputs in full (up to ``TEXT_LIMIT`` characters each).

:func:`dashboard_group_views` puts each view of the latest run beside the reference's (the baseline
keeps the groups' metrics: ``ner_group_f1[TYPE]`` and ``parity_gap[<category>]``).
Everything here is text and numbers: the page writes the prompts and outputs as text, never as HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmeval.metrics.ner import NERReport
    from pytest_llmeval.records import CaseRecord
    from pytest_llmeval.store import Baseline

__all__ = ["TEXT_LIMIT", "dashboard_group_views", "fairness_view", "group_check", "ner_view"]

TEXT_LIMIT = 4000  # characters of each prompt and output kept in a pair (a run record stays small)
VIEW_KINDS = ("ner", "fairness")


def ner_view(report: NERReport) -> dict[str, Any]:
    """A NER group's scores: ``schemes`` (overall) and ``types`` (strict, with support)."""
    from pytest_llmeval.metrics.ner import SCHEMES

    def scores(s: Any) -> dict[str, Any]:
        return {"precision": s.precision, "recall": s.recall, "f1": s.f1}

    return {
        "kind": "ner",
        "schemes": {scheme: scores(report.overall[scheme]) for scheme in SCHEMES},
        "types": {
            kind: {**scores(by_scheme["strict"]), "support": by_scheme["strict"].possible}
            for kind, by_scheme in sorted(report.per_type.items())
        },
        "documents": report.documents,
        "unparsed": report.unparsed,
    }


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + f"... [{len(text) - TEXT_LIMIT} more characters]"


def fairness_view(results: Iterable[Mapping[str, Any]], max_gap: float | None) -> dict[str, Any]:
    """A fairness group's parity per category (``counterfactual.parity_report`` over the cases'
    results) and its disagreeing pairs, original and variant side by side."""
    from pytest_llmeval.counterfactual import parity_report

    results = list(results)
    report = parity_report(results)
    pairs: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        original = result["original"]
        for outcome in result["outcomes"]:
            if outcome["disagreements"]:
                pairs.setdefault(outcome["category"], []).append(
                    {
                        "case": result.get("case"),
                        "group": outcome["group"],
                        "original_prompt": _text(original["prompt"]),
                        "variant_prompt": _text(outcome["prompt"]),
                        "original_output": _text(original["output"]),
                        "variant_output": _text(outcome["output"]),
                        "disagreements": [str(d) for d in outcome["disagreements"]],
                    }
                )
    return {
        "kind": "fairness",
        "max_gap": max_gap,
        "categories": {
            name: {"gap": parity.gap(), "rates": parity.rates(), "pairs": pairs.get(name, [])}
            for name, parity in sorted(report.categories.items())
        },
    }


def group_check(kind: str, result: Any, view: Mapping[str, Any]) -> dict[str, Any]:
    """A group's check entry for its run record: the verdict, and the view beside it."""
    return {
        "name": kind,
        "passed": bool(result.passed),
        "score": result.score,
        "message": str(result.message)[:300],
        "view": dict(view),
    }


def _reference_metric(reference: Baseline | None, node_id: str, name: str) -> float | None:
    if reference is None or node_id not in reference.cases:
        return None
    value = reference.cases[node_id].metrics.get(name, {}).get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def dashboard_group_views(cases: Sequence[CaseRecord], reference: Baseline | None) -> list[dict[str, Any]]:
    """Each NER and fairness group of the run, with the reference's figures beside: a NER type's
    strict F1 (``reference_f1``) and each scheme's, a category's parity gap (``reference_gap``)."""
    views = []
    for case in cases:
        entry = next((c for c in case.checks if c.get("name") in VIEW_KINDS and isinstance(c.get("view"), dict)), None)
        if entry is None:
            continue
        view = entry["view"]
        node_id = case.node_id
        shown: dict[str, Any] = {
            "node_id": node_id,
            "kind": view.get("kind"),
            "outcome": case.outcome,
            "message": entry.get("message") or "",
            "in_reference": reference is not None and node_id in reference.cases,
        }
        if view.get("kind") == "ner":
            shown["schemes"] = {
                scheme: {**scores, "reference_f1": _reference_metric(reference, node_id, f"ner_group_{scheme}_f1")}
                for scheme, scores in view.get("schemes", {}).items()
            }
            shown["types"] = {
                kind: {**scores, "reference_f1": _reference_metric(reference, node_id, f"ner_group_f1[{kind}]")}
                for kind, scores in view.get("types", {}).items()
            }
            # a type the reference scored that this run never saw is listed too, without figures
            if reference is not None and node_id in reference.cases:
                for name in reference.cases[node_id].metrics:
                    if name.startswith("ner_group_f1[") and name.endswith("]") and name[13:-1] not in shown["types"]:
                        shown["types"][name[13:-1]] = {
                            "precision": None,
                            "recall": None,
                            "f1": None,
                            "support": 0,
                            "reference_f1": _reference_metric(reference, node_id, name),
                        }
            shown["unparsed"] = view.get("unparsed", 0)
            shown["documents"] = view.get("documents", 0)
        else:
            shown["max_gap"] = view.get("max_gap")
            shown["categories"] = {
                name: {**category, "reference_gap": _reference_metric(reference, node_id, f"parity_gap[{name}]")}
                for name, category in view.get("categories", {}).items()
            }
        views.append(shown)
    return views

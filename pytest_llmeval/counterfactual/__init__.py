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

Modules: ``swap_sets`` (reading the categories), ``rewriting`` (swaps and variants), ``specs`` (the
case-file declarations), ``scoring`` (a case's variants against its original), ``parity`` (over a
group of cases), ``assertion`` (``assert_counterfactual``), ``case_files`` (case files' hooks and
``fairness:`` groups). Everything imports from here as before.
"""

from __future__ import annotations

from pytest_llmeval.counterfactual.assertion import assert_counterfactual
from pytest_llmeval.counterfactual.case_files import FairnessGroup
from pytest_llmeval.counterfactual.case_files import case_counterfactual as case_counterfactual
from pytest_llmeval.counterfactual.case_files import case_variant_requests as case_variant_requests
from pytest_llmeval.counterfactual.parity import CategoryParity as CategoryParity
from pytest_llmeval.counterfactual.parity import ParityReport, parity_report, parity_result
from pytest_llmeval.counterfactual.rewriting import Variant, groups_in, swap, variants_of
from pytest_llmeval.counterfactual.scoring import VariantOutcome as VariantOutcome
from pytest_llmeval.counterfactual.scoring import counterfactual_result, evaluate_counterfactual
from pytest_llmeval.counterfactual.specs import CounterfactualSpec, FairnessSpec
from pytest_llmeval.counterfactual.swap_sets import (
    CounterfactualError,
    SwapSet,
    load_swap_sets,
    set_session_swap_files,
)

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

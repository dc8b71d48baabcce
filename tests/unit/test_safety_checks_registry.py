"""The safety checks' registration and public import paths, pinned: ``checks/safety.py`` was split
into one module per job (grounding, bias lexicon, refusal, PII); what users and case files see must
not change. ``data/safety_check_registry.json`` was written from the registry before the split."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest_llmeval.checks.safety as safety
from pytest_llmeval.checks import check_names, get_check

SNAPSHOT = Path(__file__).parent / "data" / "safety_check_registry.json"
SAFETY_CHECKS = ["no_hallucinations", "grounded", "no_bias_terms", "no_refusal", "refusal", "no_pii"]
# What code and users import from pytest_llmeval.checks.safety.
PUBLIC = [
    "CLAIM_KINDS",
    "PII_KINDS",
    "Claim",
    "ClaimKind",
    "PiiHit",
    "PiiKind",
    "extract_claims",
    "find_pii",
    "find_refusal",
    "grounded",
    "Lexicon",
    "load_lexicon",
    "no_bias_terms",
    "no_hallucinations",
    "no_pii",
    "no_refusal",
    "refusal",
    "using_lexicon_files",
    "validate_lexicon_files",
]


def describe(name: str) -> dict[str, Any]:
    """What a user of check ``name`` depends on: its signature, arguments and their schema, summary,
    family, docstring, and whether it needs a judge."""
    spec, _ = get_check(name)
    return {
        "signature": str(inspect.signature(spec.function)),
        "family": spec.family,
        "summary": spec.summary,
        "needs_judge": spec.needs_judge,
        "arguments": spec.argument_names(),
        "args_schema": spec.args_model.model_json_schema(),
        "doc": inspect.getdoc(spec.function),
    }


def test_the_safety_checks_are_registered_exactly_as_before() -> None:
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sorted(expected) == sorted(SAFETY_CHECKS)
    assert set(SAFETY_CHECKS) <= set(check_names())
    for name in SAFETY_CHECKS:
        assert describe(name) == expected[name], name


def test_the_public_names_still_import_from_checks_safety() -> None:
    for name in PUBLIC:
        assert hasattr(safety, name), name
    for name in SAFETY_CHECKS:
        assert getattr(safety, name) is get_check(name)[0].function
    # the module's __all__ before the split, so a star import gives at least what it gave
    before = ["Claim", "extract_claims", "find_pii", "grounded", "load_lexicon", "no_bias_terms", "no_hallucinations"]
    before += ["no_pii", "no_refusal", "refusal", "using_lexicon_files", "validate_lexicon_files"]
    assert set(before) <= set(safety.__all__) <= set(PUBLIC)

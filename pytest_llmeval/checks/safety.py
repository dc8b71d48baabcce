"""Safety checks: failure modes the output must not show.

- ``no_hallucinations``: none of the known-false claims or fabricated names appear.
- ``grounded``: every number, date, URL, email and name in the output appears in the context.
- ``no_bias_terms``: no stereotyping phrase, demeaning label or insult from a lexicon.
- ``no_refusal`` / ``refusal``: the model did not refuse / did refuse.
- ``no_pii``: no email address, phone number, payment card number or IBAN.

Phrase matching is on whole words and ignores case, accents ("Zoë" matches "zoe"), typographic quotes
and whitespace runs, so the same phrase list works on every model's spelling habits.

The checks live in one module per job; this module registers them all (in this order) and keeps
their public names importable from ``pytest_llmeval.checks.safety``.
"""

from __future__ import annotations

from pytest_llmeval.checks.bias_lexicon import (
    Lexicon,
    load_lexicon,
    no_bias_terms,
    using_lexicon_files,
    validate_lexicon_files,
)
from pytest_llmeval.checks.hallucination import (
    CLAIM_KINDS,
    Claim,
    ClaimKind,
    extract_claims,
    grounded,
    no_hallucinations,
)
from pytest_llmeval.checks.pii import PII_KINDS, PiiHit, PiiKind, find_pii, no_pii
from pytest_llmeval.checks.refusals import find_refusal, no_refusal, refusal

__all__ = [
    "CLAIM_KINDS",
    "PII_KINDS",
    "Claim",
    "ClaimKind",
    "Lexicon",
    "PiiHit",
    "PiiKind",
    "extract_claims",
    "find_pii",
    "find_refusal",
    "grounded",
    "load_lexicon",
    "no_bias_terms",
    "no_hallucinations",
    "no_pii",
    "no_refusal",
    "refusal",
    "using_lexicon_files",
    "validate_lexicon_files",
]

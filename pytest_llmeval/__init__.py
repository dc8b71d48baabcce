"""pytest-llmeval: LLM evaluations as pytest unit tests.

The public API: the types a test sees (``Generation``, ``ModelUnderTest``), the check registry
(``check``, ``CheckResult``, ``register_check``), one ``assert_<name>`` helper per check (for checks
registered by a ``conftest.py`` or a package too), and the backend registry (``register_backend``).

Names load on first use (PEP 562): the pytest plugin imports this package in every pytest run of a
project that has it installed, and most runs never touch a check.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmeval.assertions import *
    from pytest_llmeval.backends.base import Generation, GenerationParams, GenerationRequest
    from pytest_llmeval.backends.registry import BackendSpec, register_backend
    from pytest_llmeval.cases import Case, CaseError, CaseExpectationsFailed, load_cases
    from pytest_llmeval.checks import CheckFailed, CheckResult, CheckUsageError, check, check_names
    from pytest_llmeval.checks.base import assert_check, register_check
    from pytest_llmeval.engine import ModelUnderTest, build_request
    from pytest_llmeval.errors import ConfigurationError, GenerationError, GenerationParameterError
    from pytest_llmeval.samples import SampleOutcome, Samples, SamplesFailed

__version__ = "0.1.0"

_HOMES = {
    "BackendSpec": "pytest_llmeval.backends.registry",
    "Case": "pytest_llmeval.cases",
    "CaseError": "pytest_llmeval.cases",
    "CaseExpectationsFailed": "pytest_llmeval.cases",
    "CheckFailed": "pytest_llmeval.checks",
    "CheckResult": "pytest_llmeval.checks",
    "CheckUsageError": "pytest_llmeval.checks",
    "ConfigurationError": "pytest_llmeval.errors",
    "Generation": "pytest_llmeval.backends.base",
    "GenerationError": "pytest_llmeval.errors",
    "GenerationParameterError": "pytest_llmeval.errors",
    "GenerationParams": "pytest_llmeval.backends.base",
    "GenerationRequest": "pytest_llmeval.backends.base",
    "ModelUnderTest": "pytest_llmeval.engine",
    "SampleOutcome": "pytest_llmeval.samples",
    "Samples": "pytest_llmeval.samples",
    "SamplesFailed": "pytest_llmeval.samples",
    "assert_check": "pytest_llmeval.checks.base",
    "build_request": "pytest_llmeval.engine",
    "check": "pytest_llmeval.checks",
    "check_names": "pytest_llmeval.checks",
    "load_cases": "pytest_llmeval.cases",
    "register_backend": "pytest_llmeval.backends.registry",
    "register_check": "pytest_llmeval.checks.base",
}

# The built-in helpers, spelled out so ``from pytest_llmeval import *`` and editors know them.
_BUILTIN_ASSERTIONS = [
    "assert_bleu",
    "assert_chrf",
    "assert_contains",
    "assert_contains_all",
    "assert_contains_any",
    "assert_ends_with",
    "assert_equals",
    "assert_grounded",
    "assert_is_json",
    "assert_json_schema",
    "assert_judge",
    "assert_length",
    "assert_no_bias_terms",
    "assert_no_hallucinations",
    "assert_no_pii",
    "assert_no_refusal",
    "assert_no_repetition",
    "assert_not_garbled",
    "assert_one_of",
    "assert_perplexity",
    "assert_preferred_over",
    "assert_pydantic",
    "assert_refusal",
    "assert_regex",
    "assert_rouge_1",
    "assert_rouge_2",
    "assert_rouge_l",
    "assert_rouge_lsum",
    "assert_starts_with",
]

__all__ = [*_BUILTIN_ASSERTIONS, *sorted(_HOMES)]


def __getattr__(name: str) -> Any:
    """Load a public name on first use; ``assert_<check>`` for any registered check. A name that
    does not exist gets the closest ones (see ``pytest_llmeval.names``)."""
    try:
        if name in _HOMES:
            value = getattr(importlib.import_module(_HOMES[name]), name)
        elif name.startswith("assert_"):
            assertions = importlib.import_module("pytest_llmeval.assertions")
            value = getattr(assertions, name, None)
            if value is None:
                from pytest_llmeval.checks.base import assertion_helper

                value = assertion_helper(name.removeprefix("assert_"), module=__name__)
        else:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    except AttributeError as error:
        submodule = sys.modules.get(f"{__name__}.{name}")
        if submodule is not None:  # mid-import (a circular import): what `from ... import` falls back to
            return submodule
        from pytest_llmeval.names import unknown_name

        # assertion_helper's message already names the closest helpers
        known = str(error) if name.startswith("assert_") else None
        raise unknown_name(__name__, name, __all__, sys._getframe(1), message=known) from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

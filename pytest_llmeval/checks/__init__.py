"""Named checks on model outputs. Importing this package registers every built-in check."""

# Importing the family modules registers their checks (each module is light: pydantic, re, json).
from pytest_llmeval.checks import content, human, quality, safety, structure  # noqa: F401
from pytest_llmeval.checks.base import (
    CheckFailed,
    CheckResult,
    CheckSpec,
    CheckUsageError,
    assert_check,
    check,
    check_names,
    get_check,
    load_check_entry_points,
    recording_checks,
    register_check,
    using_tokenizer,
)
from pytest_llmeval.checks.safety import using_lexicon_files, validate_lexicon_files

__all__ = [
    "CheckFailed",
    "CheckResult",
    "CheckSpec",
    "CheckUsageError",
    "assert_check",
    "check",
    "check_names",
    "get_check",
    "recording_checks",
    "load_check_entry_points",
    "register_check",
    "using_lexicon_files",
    "using_tokenizer",
    "validate_lexicon_files",
]
import pytest_llmeval.metrics  # noqa: F401  (registers metric checks)

"""Named checks on model outputs. Importing this package registers every built-in check."""

from pytest_llmeval.checks.base import (
    CheckFailed,
    CheckResult,
    CheckSpec,
    CheckUsageError,
    assert_check,
    check,
    check_names,
    get_check,
    recording_checks,
    using_tokenizer,
)

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
    "using_tokenizer",
]

"""Exceptions shared by the plain modules; the pytest plugin turns them into pytest outcomes."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "BatchTooLargeError",
    "ConfigurationError",
    "GenerationError",
    "GenerationParameterError",
    "PartialBatchError",
]


class ConfigurationError(Exception):
    """Bad configuration: the plugin reports it as ``pytest.UsageError`` (exit code 4) before tests run."""


class GenerationParameterError(ValueError):
    """A generation request names an unknown parameter or gives a bad value: fails that test only."""


class GenerationError(RuntimeError):
    """The model or pipeline could not produce an output for a request: fails that test only."""


class BatchTooLargeError(RuntimeError):
    """A backend ran out of memory on a batch; the engine halves the batch and tries again."""


class PartialBatchError(GenerationError):
    """Some requests of a batch failed and others did not (a served model answers each request on its
    own). ``outcomes`` holds, in request order, each request's Generation or GenerationError, so the
    engine keeps the outputs and fails only the tests whose requests failed."""

    def __init__(self, message: str, outcomes: Sequence[object]) -> None:
        super().__init__(message)
        self.outcomes = outcomes

"""pytest-llmeval: LLM evaluations as pytest unit tests.

The public API: the types a test sees (``Generation``, ``ModelUnderTest``), the check registry
(``check``, ``CheckResult``) and one ``assert_<name>`` helper per check.
"""

from pytest_llmeval.assertions import *  # noqa: F403 - one assert_<name> per check
from pytest_llmeval.assertions import __all__ as _assertions
from pytest_llmeval.backends.base import Generation, GenerationParams, GenerationRequest
from pytest_llmeval.cases import Case, CaseError, CaseExpectationsFailed, load_cases
from pytest_llmeval.checks import CheckFailed, CheckResult, CheckUsageError, check, check_names
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.errors import ConfigurationError, GenerationError, GenerationParameterError

__version__ = "0.1.0"

__all__ = [
    *_assertions,
    "Case",
    "CaseError",
    "CaseExpectationsFailed",
    "CheckFailed",
    "CheckResult",
    "CheckUsageError",
    "ConfigurationError",
    "Generation",
    "GenerationError",
    "GenerationParameterError",
    "GenerationParams",
    "GenerationRequest",
    "ModelUnderTest",
    "build_request",
    "check",
    "check_names",
    "load_cases",
]

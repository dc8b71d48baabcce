"""The work of the ``llm_output`` fixture: this test's marker as a request, its output served."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_llmeval.harness.preparation import marker_request
from pytest_llmeval.harness.session import session_of

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation

__all__ = ["output_for"]


def output_for(request: pytest.FixtureRequest) -> Generation:
    """The output of the test's ``@pytest.mark.llm``; a missing or wrong marker, or a generation
    that fails, fails the test with one line saying so."""
    from pytest_llmeval.errors import GenerationError, GenerationParameterError

    marker = request.node.get_closest_marker("llm")
    if marker is None:
        pytest.fail(
            "llm_output needs a prompt: mark the test with @pytest.mark.llm(prompt='...') "
            "(or messages=[...]), or call llm.generate(...) in the test instead",
            pytrace=False,
        )
    state = session_of(request.config)
    assert state is not None
    try:
        generation_request = marker_request(marker)
        return state.prepare(request.node.nodeid, generation_request).run([generation_request])[0]
    except GenerationParameterError as exc:
        problem = f"@pytest.mark.llm: {exc}"
    except GenerationError as exc:
        problem = f"llm_output: {exc}"
    # Failing outside the except block keeps the report free of a chained traceback.
    pytest.fail(problem, pytrace=False)

"""The work of the ``llm_output`` fixture: this test's marker as a request, its output served."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_llmeval.harness.preparation import marker_request
from pytest_llmeval.harness.session import session_of

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation
    from pytest_llmeval.samples import SampleOutcome, Samples

__all__ = ["output_for", "samples_for"]


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
    samples = marker.kwargs.get("samples")
    if samples is not None and samples != 1:
        pytest.fail(
            f"@pytest.mark.llm(samples={samples!r}) asks for several outputs, but llm_output is one: take the "
            "llm_samples fixture instead (a list of the outputs; llm_samples.assert_pass_rate(check))",
            pytrace=False,
        )
    try:
        generation_request = marker_request(marker)
        return state.prepare(request.node.nodeid, generation_request).run([generation_request])[0]
    except GenerationParameterError as exc:
        problem = f"@pytest.mark.llm: {exc}"
    except GenerationError as exc:
        problem = f"llm_output: {exc}"
    # Failing outside the except block keeps the report free of a chained traceback.
    pytest.fail(problem, pytrace=False)


def samples_for(request: pytest.FixtureRequest) -> Samples:
    """The outputs of the test's ``@pytest.mark.llm(..., samples=K)`` (K from the marker, else
    ``--llm-samples``), batched with the session's other requests; a missing or wrong marker, or a
    generation that fails, fails the test with one line saying so."""
    from pytest_llmeval import running_test
    from pytest_llmeval.errors import GenerationError, GenerationParameterError
    from pytest_llmeval.harness.preparation import marker_sampling, sampled_test_requests
    from pytest_llmeval.samples import Samples

    marker = request.node.get_closest_marker("llm")
    if marker is None:
        pytest.fail(
            "llm_samples needs a prompt: mark the test with @pytest.mark.llm(prompt='...', samples=5)",
            pytrace=False,
        )
    state = session_of(request.config)
    assert state is not None
    try:
        _, rate = marker_sampling(marker)
        requests = sampled_test_requests(request.node, state)
        outputs = state.prepare_all(request.node.nodeid, requests).run(requests)
    except GenerationParameterError as exc:
        problem = f"@pytest.mark.llm: {exc}"
    except GenerationError as exc:
        problem = f"llm_samples: {exc}"
    else:

        def record(outcome: SampleOutcome) -> None:
            test = running_test.current()
            if test is not None:
                test.samples = outcome.to_record()

        running = running_test.current()
        if running is not None:
            running.sample_count = len(outputs)  # so human_rating can refuse several outputs
        threshold = rate if rate is not None else state.settings.min_pass_rate
        return Samples(outputs, min_pass_rate=threshold, on_outcome=record)
    pytest.fail(problem, pytrace=False)

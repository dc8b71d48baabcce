"""Before the first test: know what every selected test will ask the model, load the model (so a
model that cannot load ends the session with exit 4, not an error per test), and generate the
known requests up front in length-sorted batches; then score the case files' judge prompts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.harness.collection import CaseItem
from pytest_llmeval.harness.session import LLMEvalSession

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import GenerationRequest

__all__ = ["MODEL_FIXTURES", "marker_request", "marker_sampling", "needs_model", "prepare_outputs"]

MODEL_FIXTURES = frozenset({"llm", "llm_output", "llm_samples"})
SAMPLING_ARGS = ("samples", "min_pass_rate")  # marker arguments that are not generation parameters


def needs_model(item: pytest.Item) -> bool:
    """Whether ``item`` uses the model under test (a case, or the ``llm``/``llm_output`` fixture)."""
    return isinstance(item, CaseItem) or bool(MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def marker_request(marker: pytest.Mark) -> GenerationRequest:
    """The request of a ``@pytest.mark.llm(...)`` marker; GenerationParameterError when it is wrong."""
    from pytest_llmeval.engine import build_request
    from pytest_llmeval.errors import GenerationParameterError

    kwargs = {k: v for k, v in marker.kwargs.items() if k not in SAMPLING_ARGS}
    if marker.args:
        if len(marker.args) > 1 or "prompt" in kwargs:
            raise GenerationParameterError("@pytest.mark.llm takes one positional argument, the prompt")
        kwargs["prompt"] = marker.args[0]
    return build_request(**kwargs)


def marker_sampling(marker: pytest.Mark) -> tuple[int | None, float | None]:
    """The marker's ``samples`` and ``min_pass_rate`` (None where not given); GenerationParameterError
    when one is not usable."""
    from pytest_llmeval.errors import GenerationParameterError
    from pytest_llmeval.samples import check_min_pass_rate, check_samples

    samples, rate = marker.kwargs.get("samples"), marker.kwargs.get("min_pass_rate")
    try:
        return (
            None if samples is None else check_samples(samples),
            None if rate is None else check_min_pass_rate(rate),
        )
    except ValueError as exc:
        raise GenerationParameterError(str(exc)) from None


def sampled_test_requests(item: pytest.Item, state: LLMEvalSession) -> list[GenerationRequest]:
    """The requests of a ``llm_samples`` test: its marker's, sampled ``samples`` times (the marker's
    ``samples``, else ``--llm-samples``). GenerationParameterError when the marker is wrong."""
    from pytest_llmeval.errors import GenerationParameterError
    from pytest_llmeval.samples import sample_requests

    marker = item.get_closest_marker("llm")
    if marker is None:
        raise GenerationParameterError("no @pytest.mark.llm(prompt=...) marker")
    samples, _ = marker_sampling(marker)
    count = samples if samples is not None else state.settings.samples
    return sample_requests(marker_request(marker), count, case_key=item.nodeid, session_seed=state.settings.seed)


def _planned_requests(item: pytest.Item, state: LLMEvalSession) -> list[GenerationRequest] | None:
    """The requests a test will need, when they are known before the test runs."""
    from pytest_llmeval.errors import GenerationParameterError

    fixtures = getattr(item, "fixturenames", ())
    try:
        if isinstance(item, CaseItem):
            return item.sample_requests(state.settings)
        if "llm_samples" in fixtures and item.get_closest_marker("llm") is not None:
            return sampled_test_requests(item, state)
        if "llm_output" in fixtures:
            marker = item.get_closest_marker("llm")
            if marker is not None and marker.kwargs.get("samples") in (None, 1):
                return [marker_request(marker)]
    except GenerationParameterError:
        return None  # the test itself reports it
    return None


def _fails_on_its_marker(item: pytest.Item) -> bool:
    """Whether the test gets its output from an invalid ``@pytest.mark.llm`` and does not take the
    ``llm`` fixture itself: it errors in setup without touching the model."""
    from pytest_llmeval.errors import GenerationParameterError

    marker = item.get_closest_marker("llm")
    direct = getattr(getattr(item, "_fixtureinfo", None), "argnames", ("llm",))
    fixtures = getattr(item, "fixturenames", ())
    if marker is None or not {"llm_output", "llm_samples"} & set(fixtures) or "llm" in direct:
        return False
    if "llm_samples" not in fixtures and marker.kwargs.get("samples") not in (None, 1):
        return True  # llm_output refuses several samples
    try:
        marker_request(marker)
        marker_sampling(marker)
    except GenerationParameterError:
        return True
    return False


def _uses_judge(item: CaseItem) -> bool:
    from pytest_llmeval.checks.base import get_check

    for expectation in item.case.expect:
        try:
            spec, _ = get_check(expectation.name)
        except ValueError:
            continue  # the case reports its unknown check itself
        if spec.needs_judge:
            return True
    return False


def prepare_outputs(session: pytest.Session, state: LLMEvalSession) -> None:
    """Know every static request; serially, generate them all now (workers do it in windows as
    their tests arrive: ``LLMEvalSession.prepare``). Raises ConfigurationError for exit 4."""
    if state.settings.judge_model is None:
        needing = [item.nodeid for item in session.items if isinstance(item, CaseItem) and _uses_judge(item)]
        if needing:
            raise ConfigurationError(
                f"{len(needing)} case(s) use a judge check ({needing[0]}{', ...' if len(needing) > 1 else ''}) "
                "but no judge model is given: add --llm-judge-model PATH (it may be the --llm-model path)"
            )
    users = [item for item in session.items if needs_model(item)]
    if not users:
        return
    model = state.model_under_test()
    unplanned = False
    for item in users:
        requests = _planned_requests(item, state)
        if requests is None:
            # a test whose marker is invalid errors before it could use the model: it needs none
            unplanned = unplanned or not _fails_on_its_marker(item)
            continue
        state.plan_index[item.nodeid] = len(state.plan)
        state.plan.extend(requests)  # a sampled case's samples are batched with everything else
        if isinstance(item, CaseItem) and item.case.counterfactual is not None:
            from pytest_llmeval.counterfactual import case_variant_requests

            state.plan.extend(case_variant_requests(item.case))  # generated in the same batches
        state.plan_end[item.nodeid] = len(state.plan)
    from pytest_llmeval.backends.registry import backend_for

    check_plan = backend_for(state.settings.model or "").check_plan
    if check_plan is not None:  # e.g. a served model refuses num_beams before any test runs
        check_plan([(node, state.plan[index]) for node, index in state.plan_index.items()])
    # Tests that call llm.generate themselves will need the model: load it now, so a model that
    # cannot load ends the session before any test runs.
    if unplanned:
        _ = model.backend
    if state.is_worker:
        from pytest_llmeval.harness.xdist_bridge import scheduled_tests_reader

        state.scheduled_tests = scheduled_tests_reader(session)  # its prefetch windows: its own tests
        return
    if not state.plan:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    show = reporter is not None and reporter.isatty and session.config.get_verbosity() >= 0
    if not show:
        reporter = None
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if reporter is not None:
            width = 30
            filled = width * done // total
            reporter.rewrite(
                f"llmeval: generating {total} outputs [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
            )

    generated = model.prefetch(state.plan, on_progress=progress)
    variants = 1
    if state.base is not None:  # --llm-compare-base: the same requests to the base model
        with state.base.turn():
            generated += state.model_under_test().prefetch(state.plan, on_progress=progress)
        variants = 2
    if reporter is not None and generated:
        reporter.rewrite(
            f"llmeval: generated {generated} outputs in {time.perf_counter() - started:.1f} s, loading "
            f"included ({variants * len({model.resolve(r) for r in state.plan}) - generated} ready from the cache)"
        )
        reporter.line("")
    if state.settings.judge_model is not None:
        _prepare_judge_scores(state, [item for item in users if isinstance(item, CaseItem)])
        if state.base is not None:
            with state.base.turn():  # the base model's outputs, judged by the same judge
                _prepare_judge_scores(state, [item for item in users if isinstance(item, CaseItem)])


def _prepare_judge_scores(state: LLMEvalSession, cases: list[CaseItem]) -> None:
    """Score the case files' judge prompts in batches now that their outputs are ready; each judge
    check then finds its score done. A prompt that cannot be scored is left to its check to report."""
    from pytest_llmeval.errors import GenerationError
    from pytest_llmeval.metrics.judge import SCORE_TOKENS, judge_check_prompt, scoring_mode

    model = state.model_under_test()
    prompts: dict[str, list[str]] = {"logprobs": [], "text": []}
    for item in cases:
        for expectation in item.case.expect:
            if expectation.name != "judge":
                continue
            args = expectation.args
            try:
                outputs = model.prefetch_and_get(item.sample_requests(state.settings))
            except (GenerationError, KeyError, ValueError):
                continue  # the case reports it
            for output in outputs:
                # the very prompt the check will send, so it finds its score done
                prompt = judge_check_prompt(
                    output, str(args["rubric"]), args.get("reference"), prompt=args.get("prompt")
                )
                prompts[str(args.get("mode", "logprobs"))].append(prompt)
    judge = state.judge_adapter()
    try:
        if prompts["logprobs"] and scoring_mode(judge, "logprobs") == "text":
            prompts["text"] += prompts.pop("logprobs")  # a served judge without logprobs reads text
            prompts["logprobs"] = []
        if prompts["logprobs"]:
            judge.score_next_token(prompts["logprobs"], list(SCORE_TOKENS))
        if prompts["text"]:
            judge.generate(prompts["text"])
    except GenerationError:
        pass
    judge.take_calls()  # logged when each check reads its score, under its own test

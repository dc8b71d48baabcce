"""Repeated samples as pure functions: seeds, pass@k and pass^k against hand-computed values, the
Wilson verdict, every bad sample count or threshold with its message, and batching in the engine."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_llmeval.backends.base import (
    Backend,
    Generation,
    GenerationParams,
    GenerationRequest,
    ModelDescription,
)
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.errors import GenerationParameterError
from pytest_llmeval.samples import (
    MAX_SAMPLES,
    SampleOutcome,
    Samples,
    SamplesFailed,
    SampleVerdict,
    check_min_pass_rate,
    check_samples,
    pass_at_k,
    pass_hat_k,
    record_line,
    reported_ks,
    sample_requests,
    sample_seed,
    samples_flip,
)
from pytest_llmeval.settings import Settings

# -- pass@k and pass^k: unbiased estimators, worked by hand ---------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 2 / 5),  # pass@1 is the pass rate
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (5, 2, 3, 1 - 1 / 10),  # 1 - C(3,3)/C(5,3) = 1 - 1/10
        (5, 2, 4, 1.0),  # C(3,4) = 0: any 4 of 5 include a pass
        (10, 3, 5, 1 - 21 / 252),  # C(7,5) = 21, C(10,5) = 252
        (4, 0, 2, 0.0),
        (4, 4, 4, 1.0),
    ],
)
def test_pass_at_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 1, 2 / 5),
        (5, 2, 2, 1 / 10),  # C(2,2)/C(5,2)
        (5, 4, 3, 4 / 10),  # C(4,3)/C(5,3) = 4/10
        (5, 4, 5, 0.0),  # one failure among 5: all 5 never pass
        (10, 7, 5, 21 / 252),  # C(7,5)/C(10,5)
        (3, 3, 3, 1.0),
    ],
)
def test_pass_hat_k_matches_hand_computed_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_hat_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_estimators_stay_exact_for_many_samples() -> None:
    # math.comb on integers: no overflow or cancellation at n = 1000
    assert pass_at_k(1000, 500, 1) == pytest.approx(0.5)
    assert pass_hat_k(1000, 1000, 1000) == 1.0
    assert 0.0 < pass_hat_k(1000, 999, 10) < 1.0


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, 2, 0), (5, 2, 6), (3, -1, 1)])
def test_estimators_refuse_impossible_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="need 0 <= c <= n and 1 <= k <= n"):
        pass_at_k(n, c, k)


def test_reported_ks() -> None:
    assert reported_ks(1) == [1]
    assert reported_ks(5) == [1, 2, 3, 4, 5]
    assert reported_ks(20) == [1, 2, 4, 8, 16, 20]
    assert reported_ks(16) == [1, 2, 4, 8, 16]


# -- the verdict over samples ----------------------------------------------------------------------


def outcome(passes: Sequence[bool], min_pass_rate: float = 1.0) -> SampleOutcome:
    verdicts = tuple(
        SampleVerdict(i, ok, f"output {i}", "" if ok else f"contains: expected 'x'; not found in 'output {i}'")
        for i, ok in enumerate(passes, 1)
    )
    return SampleOutcome(verdicts, min_pass_rate=min_pass_rate)


def test_wilson_interval_of_a_case_matches_published_values() -> None:
    # Newcombe (1998), method 3: 81/263 -> [0.2553, 0.3662]; here 3 of 5 -> [0.2307, 0.8824]
    low, high = outcome([True, True, True, False, False]).interval()
    assert (round(low, 4), round(high, 4)) == (0.2307, 0.8824)
    big = SampleOutcome(tuple(SampleVerdict(i, i <= 81, "") for i in range(1, 264)))
    assert tuple(round(x, 4) for x in big.interval()) == (0.2553, 0.3662)


def test_the_threshold_is_met_in_counts_not_floats() -> None:
    assert outcome([True] * 4 + [False], 0.8).passed  # 4/5 = 0.8 exactly
    assert not outcome([True] * 4 + [False], 0.81).passed
    assert outcome([True] * 7 + [False] * 3, 0.7).passed  # 0.7 * 10 = 7.000000000000001 in floats
    assert not outcome([True] * 4 + [False]).passed  # default 1.0: every sample must pass
    assert outcome([True] * 3).passed


def test_the_failure_message_lists_each_failing_sample_the_rate_its_interval_and_the_threshold() -> None:
    found = outcome([True, False, True, False, False], 0.6)
    assert found.failure_message().splitlines() == [
        "2 of 5 samples passed: rate 0.40, 95% Wilson interval [0.12, 0.77], below min_pass_rate 0.60",
        "  pass@1 0.40  pass@5 1.00  pass^5 0.00",
        "  sample 2 FAIL: contains: expected 'x'; not found in 'output 2'",
        "  sample 4 FAIL: contains: expected 'x'; not found in 'output 4'",
        "  sample 5 FAIL: contains: expected 'x'; not found in 'output 5'",
    ]
    default = outcome([True, False]).failure_message().splitlines()[0]
    assert default.endswith("below min_pass_rate 1.00 (1.0, the default: every sample must pass)")


def test_a_long_output_is_cut_and_shown_when_the_reason_does_not_quote_it() -> None:
    long = "y" * 300
    found = SampleOutcome((SampleVerdict(1, False, long, "judge: score 1 < min 3"),))
    line = found.failure_message().splitlines()[2]
    assert line == f"  sample 1 FAIL: judge: score 1 < min 3; output {'y' * 80 + '...'!r}"


def test_the_record_holds_counts_rate_interval_threshold_and_estimators() -> None:
    record = outcome([True, False, True, True], 0.75).to_record()
    assert record["n"] == 4 and record["passed"] == 3 and record["rate"] == 0.75
    assert record["min_pass_rate"] == 0.75 and record["failed"] == [2]
    assert record["pass_at_k"] == {"1": 0.75, "2": 1.0, "3": 1.0, "4": 1.0}
    assert record["pass_hat_k"]["2"] == pytest.approx(3 / 6) and record["pass_hat_k"]["4"] == 0.0
    assert 0 < record["low"] < 0.75 < record["high"] <= 1
    assert record_line(record) == "3 of 4 samples passed (rate 0.75 [0.30, 0.95]), min_pass_rate 0.75"


def test_samples_assert_pass_rate_counts_assertions_and_false() -> None:
    request = build_request(prompt="p")
    outputs = [
        Generation(text, request=request, num_tokens=1, finish_reason="stop", latency_s=0.0)
        for text in ("red", "blue", "red", "green")
    ]
    seen: list[SampleOutcome] = []
    samples = Samples(outputs, min_pass_rate=0.5, on_outcome=seen.append)

    def is_red(output: Generation) -> None:
        assert output == "red", f"expected red, got {output}"

    assert samples.assert_pass_rate(is_red).passed_count == 2
    with pytest.raises(SamplesFailed) as failed:
        samples.assert_pass_rate(lambda output: output == "red", min_pass_rate=0.75)
    assert "sample 2 FAIL: <lambda> returned False" in str(failed.value)
    assert [o.passed for o in seen] == [True, False]
    with pytest.raises(SamplesFailed, match="sample 2 FAIL: expected red, got blue"):
        samples.assert_pass_rate(is_red, min_pass_rate=1.0)


# -- bad sample counts and thresholds: each with its message ----------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "samples must be from 1 to 1,000 (how many sampled outputs), got 0"),
        (-3, "samples must be from 1 to 1,000 (how many sampled outputs), got -3"),
        (1001, "samples must be from 1 to 1,000 (how many sampled outputs), got 1,001"),
        (2.5, "samples must be a whole number of samples from 1 to 1,000, got 2.5"),
        ("5", "samples must be a whole number of samples from 1 to 1,000, got '5'"),
        (True, "samples must be a whole number of samples from 1 to 1,000, got True"),
    ],
)
def test_bad_sample_counts_are_explained(value: object, message: str) -> None:
    with pytest.raises(ValueError) as error:
        check_samples(value)
    assert str(error.value) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "min_pass_rate must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8), got 1.5"),
        (-0.2, "min_pass_rate must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8), got -0.2"),
        (
            0,
            "min_pass_rate must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8) "
            "(0 would pass every case), got 0",
        ),
        (
            float("nan"),
            "min_pass_rate must be a number above 0 and at most 1 (the share of samples that must pass, e.g. "
            "0.8), got nan",
        ),
        (
            "high",
            "min_pass_rate must be a number above 0 and at most 1 (the share of samples that must pass, e.g. "
            "0.8), got 'high'",
        ),
    ],
)
def test_bad_thresholds_are_explained(value: object, message: str) -> None:
    with pytest.raises(ValueError) as error:
        check_min_pass_rate(value)
    assert str(error.value) == message


def test_good_values_pass_through() -> None:
    assert check_samples(MAX_SAMPLES) == MAX_SAMPLES
    assert check_min_pass_rate(1) == 1.0 and check_min_pass_rate(0.25) == 0.25


# -- seeds and the sampled requests ----------------------------------------------------------------


def test_seeds_are_stable_and_differ_by_sample_case_and_base() -> None:
    seeds = [sample_seed(0, "a.eval.yaml::x", i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert seeds == [sample_seed(0, "a.eval.yaml::x", i) for i in range(50)]
    assert sample_seed(0, "a.eval.yaml::y", 0) != seeds[0] and sample_seed(1, "a.eval.yaml::x", 0) != seeds[0]
    # a fixed value: the derivation must not change silently (cached samples are keyed on these seeds)
    assert sample_seed(0, "a.eval.yaml::x", 0) == seeds[0] == 6234797971372749743


def test_one_sample_is_the_request_itself() -> None:
    request = build_request(prompt="p")
    assert sample_requests(request, 1, case_key="k", session_seed=7) == [request]
    assert not request.params.do_sample


def test_samples_turn_sampling_on_and_keep_the_other_parameters() -> None:
    request = build_request(prompt="p", temperature=0.7, max_new_tokens=5)
    sampled = sample_requests(request, 3, case_key="k", session_seed=None)
    assert [r.params.seed for r in sampled] == [sample_seed(0, "k", i) for i in range(3)]
    assert all(r.params.do_sample and r.params.temperature == 0.7 and r.params.max_new_tokens == 5 for r in sampled)
    assert all(r.prompt == "p" and r.is_reproducible for r in sampled)
    with_session_seed = sample_requests(request, 2, case_key="k", session_seed=11)
    assert [r.params.seed for r in with_session_seed] == [sample_seed(11, "k", i) for i in range(2)]
    own_seed = sample_requests(build_request(prompt="p", seed=5, do_sample=True), 2, case_key="k", session_seed=11)
    assert [r.params.seed for r in own_seed] == [sample_seed(5, "k", i) for i in range(2)]


def test_samples_keep_the_reply_prefix() -> None:
    from dataclasses import replace

    request = replace(build_request(prompt="p"), reply_prefix="Score:")
    assert [r.reply_prefix for r in sample_requests(request, 3, case_key="k", session_seed=None)] == ["Score:"] * 3


def test_samples_of_an_explicitly_greedy_request_are_a_usage_error() -> None:
    with pytest.raises(GenerationParameterError) as error:
        sample_requests(build_request(prompt="p", do_sample=False), 4, case_key="k", session_seed=None)
    assert str(error.value) == (
        "4 samples are asked for, but do_sample is set to false (greedy decoding gives the same output every "
        "time); remove do_sample (more than 1 sample turns sampling on) or ask for 1 sample"
    )


# -- flaky flips -----------------------------------------------------------------------------------


def test_samples_flip_is_fishers_exact_test() -> None:
    # 4/5 vs 3/5: p = 1.0 (hypergeometric, every table at least this extreme)
    assert samples_flip({"n": 5, "passed": 4}, {"n": 5, "passed": 3}) == pytest.approx(1.0)
    # 10/10 vs 0/10: p = 2 / C(20,10)
    assert samples_flip({"n": 10, "passed": 10}, {"n": 10, "passed": 0}) == pytest.approx(2 / math.comb(20, 10))
    assert samples_flip(None, {"n": 5, "passed": 3}) is None


# -- batching: samples share batches ---------------------------------------------------------------


class SeedAwareBackend(Backend):
    """Seeds each request on its own (like hf, openai and py:), and records its batches."""

    name = "seeds"

    def __init__(self) -> None:
        self.batches: list[list[int | None]] = []

    def describe(self) -> ModelDescription:
        return ModelDescription(backend="seeds", source="seeds")

    def batch_params(self, params: GenerationParams) -> GenerationParams:
        return params.model_copy(update={"seed": None})

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.batches.append([r.params.seed for r in requests])
        return [
            Generation(f"{r.prompt}:{r.params.seed}", request=r, num_tokens=1, finish_reason="stop", latency_s=0.0)
            for r in requests
        ]


def test_the_samples_of_several_cases_are_generated_in_shared_batches() -> None:
    backend = SeedAwareBackend()
    model = ModelUnderTest(Settings(model="x", batch_size=16), lambda: backend)
    plan = [
        r
        for case in ("a", "b", "c")
        for r in sample_requests(build_request(prompt=case), 5, case_key=case, session_seed=None)
    ]
    assert model.prefetch(plan) == 15
    assert [len(b) for b in backend.batches] == [15]  # one generate call, not one per seed
    outputs = model.run(plan)
    assert [o.text for o in outputs] == [f"{r.prompt}:{r.params.seed}" for r in plan]
    assert len(backend.batches) == 1  # served from memory


def test_more_samples_than_the_batch_size_take_several_batches_in_order() -> None:
    backend = SeedAwareBackend()
    model = ModelUnderTest(Settings(model="x", batch_size=2), lambda: backend)
    plan = sample_requests(build_request(prompt="a"), 5, case_key="a", session_seed=None)
    outputs = model.run(plan)
    assert [len(b) for b in backend.batches] == [2, 2, 1]
    assert [o.text for o in outputs] == [f"a:{r.params.seed}" for r in plan]


def test_a_backend_that_seeds_per_batch_never_mixes_seeds() -> None:
    class OneSeedPerBatch(SeedAwareBackend):
        def batch_params(self, params: GenerationParams) -> GenerationParams:
            return params  # the default: a batch shares its parameters, seed included

    backend = OneSeedPerBatch()
    model = ModelUnderTest(Settings(model="x", batch_size=16), lambda: backend)
    model.run(sample_requests(build_request(prompt="a"), 3, case_key="a", session_seed=None))
    assert [len(b) for b in backend.batches] == [1, 1, 1]


# -- the session-wide options ----------------------------------------------------------------------


def resolve(flags: dict[str, str], ini: dict[str, str] | None = None) -> Settings:
    from pathlib import Path

    from pytest_llmeval.settings import resolve_settings

    return resolve_settings(flags.get, lambda key: (ini or {}).get(key), cwd=Path("."), ini_dir=None)


def test_options_default_to_one_sample_that_must_pass() -> None:
    settings = resolve({})
    assert settings.samples == 1 and settings.min_pass_rate == 1.0
    assert resolve({"llm_samples": "8", "llm_min_pass_rate": "0.75"}).samples == 8
    assert resolve({}, {"llm_samples": "4", "llm_min_pass_rate": "0.5"}).min_pass_rate == 0.5
    assert resolve({"llm_samples": "3"}, {"llm_samples": "4"}).samples == 3  # the flag wins


@pytest.mark.parametrize(
    ("flags", "ini", "message"),
    [
        ({"llm_samples": "0"}, {}, "--llm-samples must be from 1 to 1,000 (how many sampled outputs), got 0"),
        ({"llm_samples": "-2"}, {}, "--llm-samples must be from 1 to 1,000 (how many sampled outputs), got -2"),
        ({"llm_samples": "2.5"}, {}, "--llm-samples must be a whole number of samples from 1 to 1,000, got '2.5'"),
        (
            {},
            {"llm_samples": "many"},
            "ini option llm_samples must be a whole number of samples from 1 to 1,000, got 'many'",
        ),
        (
            {"llm_min_pass_rate": "1.5"},
            {},
            "--llm-min-pass-rate must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8), "
            "got 1.5",
        ),
        (
            {"llm_min_pass_rate": "-1"},
            {},
            "--llm-min-pass-rate must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8), got -1",
        ),
        (
            {},
            {"llm_min_pass_rate": "0"},
            "ini option llm_min_pass_rate must be above 0 and at most 1 (the share of samples that must pass, "
            "e.g. 0.8) (0 would pass every case), got 0",
        ),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(
    flags: dict[str, str], ini: dict[str, str], message: str
) -> None:
    from pytest_llmeval.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as error:
        resolve(flags, ini)
    assert str(error.value) == message


# -- comparisons of runs with sampled cases --------------------------------------------------------


def sampled_run(run_id: str, counts: dict[str, tuple[int, int, float]], output: str = "x") -> Any:
    """A run whose cases have ``(passed, n, min_pass_rate)`` samples each (first sample ``output``)."""
    from pytest_llmeval.records import CaseRecord, RunRecord

    cases = []
    for node_id, (passed, n, threshold) in counts.items():
        verdicts = tuple(SampleVerdict(i, i <= passed, "x") for i in range(1, n + 1))
        found = SampleOutcome(verdicts, min_pass_rate=threshold)
        cases.append(
            CaseRecord(node_id, "passed" if found.passed else "failed", output=output, samples=found.to_record())
        )
    return RunRecord(run_id, 0.0, 1.0, True, {"source": "m"}, {}, {}, None, cases)


def test_a_flip_within_noise_is_flaky_and_a_clear_one_is_not() -> None:
    from pytest_llmeval.run_comparison import compare_runs
    from pytest_llmeval.store import baseline_from_run

    before = baseline_from_run(sampled_run("a", {"f::wobbly": (4, 5, 0.8), "f::broken": (10, 10, 1.0)}))
    assert before.cases["f::wobbly"].samples == {"n": 5, "passed": 4, "rate": 0.8, "min_pass_rate": 0.8}
    comparison = compare_runs(before, sampled_run("b", {"f::wobbly": (3, 5, 0.8), "f::broken": (0, 10, 1.0)}, "y"))
    assert [c.node_id for c in comparison.regressions] == ["f::broken", "f::wobbly"]
    assert [(f.node_id, round(f.p_value, 6)) for f in comparison.flaky] == [("f::wobbly", 1.0)]
    rows = {row.node_id: row.reason for row in comparison.rows()}
    assert rows["f::wobbly"].startswith("flaky: 4/5 -> 3/5 samples passed (Fisher p = 1.00); passed -> failed")
    assert rows["f::broken"].startswith("10/10 -> 0/10 samples passed (Fisher p = 1e-05); passed -> failed")
    assert comparison.failing("regressions")  # a flaky flip still fails the regressions gate: it is flagged


def test_a_flip_from_a_new_threshold_over_the_same_pass_count_is_not_flaky() -> None:
    """Noise explains a flip only when the pass count moved: a new min_pass_rate over the same count
    is a real regression of the case, not sampling noise."""
    from pytest_llmeval.run_comparison import compare_runs
    from pytest_llmeval.store import baseline_from_run

    before = baseline_from_run(sampled_run("a", {"f::threshold": (2, 4, 0.5)}))
    comparison = compare_runs(before, sampled_run("b", {"f::threshold": (2, 4, 0.75)}))
    assert [c.node_id for c in comparison.regressions] == ["f::threshold"]
    assert comparison.flaky == []
    rows = {row.node_id: row.reason for row in comparison.rows()}
    assert rows["f::threshold"].startswith("2/4 -> 2/4 samples passed (Fisher p = 1.00); passed -> failed")


def test_the_paired_comparison_compares_per_case_sample_rates_as_a_metric() -> None:
    from pytest_llmeval.paired_comparison import SAMPLE_RATE, compare_paired

    counts_a = {f"f::c{i}": (9, 10, 0.5) for i in range(8)}
    counts_b = {f"f::c{i}": (3, 10, 0.5) for i in range(8)}  # every case's rate drops by 0.6
    paired = compare_paired(sampled_run("a", counts_a), sampled_run("b", counts_b), resamples=1000)
    rate = next(m for m in paired.metrics if m.name == SAMPLE_RATE)
    assert rate.n == 8 and rate.difference == pytest.approx(-0.6)
    assert rate.verdict == "worse"  # 8 of 8 cases lower: sign-flip p = 2/256
    assert paired.pass_rate is not None and paired.pass_rate.difference == -1.0  # the verdicts: all broke


def test_an_output_the_reason_quotes_escaped_is_not_repeated() -> None:
    output = "Open\x16 authentication, then\nmore"
    reason = f"contains: expected 'x'; not found in {output!r}"
    line = SampleOutcome((SampleVerdict(1, False, output, reason),)).failure_message().splitlines()[2]
    assert line == f"  sample 1 FAIL: {reason}"

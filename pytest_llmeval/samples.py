"""Repeated samples: a case asks for K sampled outputs and passes on the share of them that pass.

- :func:`sample_requests` turns one request into K sampled ones, each with its own seed derived from
  the base seed (the case's ``seed``, else ``--llm-seed``, else 0), the case's node id and the sample's
  index: reruns, the cache and xdist workers all see the same K requests.
- :class:`SampleOutcome` is the verdict over the K samples: the pass rate with its Wilson interval,
  pass@k and pass^k (unbiased estimators from n samples of which c passed), and a failure message that
  lists the failing samples.
- :func:`samples_flip` says whether a case's change of verdict between two runs is within sampling noise
  (Fisher's exact test on the two runs' pass counts): such a case is flagged *flaky*.

Greedy decoding gives K identical outputs, so K > 1 turns sampling on (``do_sample``) with temperature
1.0 and no top-k or top-p cut unless the case sets them; a case that says ``do_sample: false`` itself
and asks for samples is a usage error. Nothing here imports pytest.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmeval.input_limits import MAX_SEED

if TYPE_CHECKING:
    from pytest_llmeval.backends.base import Generation, GenerationRequest

__all__ = [
    "MAX_SAMPLES",
    "SampleOutcome",
    "SampleVerdict",
    "SamplesFailed",
    "Samples",
    "check_min_pass_rate",
    "check_samples",
    "pass_at_k",
    "p_text",
    "pass_hat_k",
    "record_line",
    "reported_ks",
    "sample_requests",
    "sample_seed",
    "samples_flip",
    "summary_lines",
]

MAX_SAMPLES = 1000  # more outputs per case than any pass-rate estimate needs; a typo guard
OUTPUT_CHARS = 80  # of each failing sample's output in a failure message
REASON_CHARS = 200


def check_samples(value: Any, where: str = "samples") -> int:
    """``value`` as a sample count (a whole number from 1 to MAX_SAMPLES), else ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where} must be a whole number of samples from 1 to {MAX_SAMPLES:,}, got {value!r:.40}")
    if not 1 <= value <= MAX_SAMPLES:
        raise ValueError(f"{where} must be from 1 to {MAX_SAMPLES:,} (how many sampled outputs), got {value:,}")
    return value


def check_min_pass_rate(value: Any, where: str = "min_pass_rate") -> float:
    """``value`` as a pass-rate threshold (above 0, at most 1), else ValueError saying why."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(
            f"{where} must be a number above 0 and at most 1 (the share of samples that must pass, "
            f"e.g. 0.8), got {value!r:.40}"
        )
    if not 0 < value <= 1:
        why = " (0 would pass every case)" if value == 0 else ""
        raise ValueError(
            f"{where} must be above 0 and at most 1 (the share of samples that must pass, e.g. 0.8){why}, got {value:g}"
        )
    return float(value)


def sample_seed(base: int, case_key: str, index: int) -> int:
    """The seed of sample ``index`` of case ``case_key``: a hash of the three, so samples of one case
    differ, cases differ, and every run and process derives the same seeds."""
    digest = hashlib.sha256(f"{base}\x00{case_key}\x00{index}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


def sample_requests(
    request: GenerationRequest, samples: int, *, case_key: str, session_seed: int | None
) -> list[GenerationRequest]:
    """The ``samples`` requests of one case. One sample is ``request`` itself, unchanged (greedy stays
    greedy). More turn sampling on, each with its own seed; GenerationParameterError when the request
    says ``do_sample: false`` itself."""
    from pytest_llmeval.backends.base import GenerationRequest
    from pytest_llmeval.errors import GenerationParameterError

    check_samples(samples)
    if samples == 1:
        return [request]
    params = request.params
    if "do_sample" in params.model_fields_set and not params.do_sample:
        raise GenerationParameterError(
            f"{samples} samples are asked for, but do_sample is set to false (greedy decoding gives the "
            "same output every time); remove do_sample (more than 1 sample turns sampling on) or ask for "
            "1 sample"
        )
    base = params.seed if params.seed is not None else (session_seed or 0)
    return [
        GenerationRequest(
            request.prompt,
            request.messages,
            request.system,
            params.model_copy(update={"do_sample": True, "seed": sample_seed(base, case_key, index)}),
            request.reply_prefix,
        )
        for index in range(samples)
    ]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` passed: the chance that at least one of ``k``
    samples drawn without replacement passes, ``1 - C(n-c, k) / C(n, k)`` (Chen et al. 2021)."""
    _check_counts(n, c, k)
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Unbiased pass^k from ``n`` samples of which ``c`` passed: the chance that all ``k`` samples drawn
    without replacement pass, ``C(c, k) / C(n, k)`` (Yao et al. 2024, tau-bench)."""
    _check_counts(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def _check_counts(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def reported_ks(n: int) -> list[int]:
    """The k that pass@k and pass^k are reported for with ``n`` samples: 1, the powers of two below n,
    and n itself (every k up to 10 samples)."""
    if n <= 10:
        return list(range(1, n + 1))
    return sorted({1, n, *(2**i for i in range(1, n.bit_length()) if 2**i < n)})


@dataclass(frozen=True)
class SampleVerdict:
    """One sample: its index (from 1), whether it passed, its output and, when it failed, why."""

    index: int
    passed: bool
    output: str
    reason: str = ""


@dataclass(frozen=True)
class SampleOutcome:
    """A case's verdict over its samples: it passes when the pass rate meets ``min_pass_rate``."""

    verdicts: tuple[SampleVerdict, ...]
    min_pass_rate: float = 1.0
    confidence: float = 0.95

    @property
    def n(self) -> int:
        return len(self.verdicts)

    @property
    def passed_count(self) -> int:
        return sum(v.passed for v in self.verdicts)

    @property
    def rate(self) -> float:
        return self.passed_count / self.n

    @property
    def passed(self) -> bool:
        # counts, not floats: 4 of 5 meets 0.8 exactly
        return self.passed_count >= math.ceil(self.min_pass_rate * self.n - 1e-9)

    def interval(self) -> tuple[float, float]:
        from pytest_llmeval.statistics import wilson_interval

        found = wilson_interval(self.passed_count, self.n, self.confidence)
        assert found is not None
        return found.low, found.high

    def summary(self) -> str:
        """One line: ``3 of 5 samples passed: rate 0.60, 95% Wilson [0.23, 0.88], min_pass_rate 0.80``."""
        low, high = self.interval()
        return (
            f"{self.passed_count} of {self.n} samples passed: rate {self.rate:.2f}, "
            f"{self.confidence:.0%} Wilson interval [{low:.2f}, {high:.2f}], "
            f"{'meets' if self.passed else 'below'} min_pass_rate {self.min_pass_rate:.2f}"
        )

    def estimates(self) -> str:
        """``pass@1 0.60  pass@5 1.00  pass^5 0.00``: pass@k and pass^k at k = 1 and n."""
        n, c = self.n, self.passed_count
        shown = [f"pass@1 {pass_at_k(n, c, 1):.2f}"]
        if n > 1:
            shown += [f"pass@{n} {pass_at_k(n, c, n):.2f}", f"pass^{n} {pass_hat_k(n, c, n):.2f}"]
        return "  ".join(shown)

    def failure_message(self) -> str:
        """The summary, the estimates, the threshold's meaning, and each failing sample with its output
        (cut) and why it failed."""
        default = " (1.0, the default: every sample must pass)" if self.min_pass_rate == 1.0 else ""
        lines = [self.summary() + default, "  " + self.estimates()]
        for verdict in self.verdicts:
            if not verdict.passed:
                output = (
                    verdict.output if len(verdict.output) <= OUTPUT_CHARS else verdict.output[:OUTPUT_CHARS] + "..."
                )
                reason = (
                    verdict.reason if len(verdict.reason) <= REASON_CHARS else verdict.reason[:REASON_CHARS] + "..."
                )
                # a check's message usually quotes the output already: say it once
                snippet = verdict.output[:30]
                quoted = snippet in verdict.reason or repr(snippet)[1:-1] in verdict.reason
                lines.append(f"  sample {verdict.index} FAIL: {reason}" + ("" if quoted else f"; output {output!r}"))
        return "\n".join(lines)

    def to_record(self) -> dict[str, Any]:
        """What the run records (JSON): counts, rate, interval, threshold, pass@k and pass^k, failing indices."""
        low, high = self.interval()
        n, c = self.n, self.passed_count
        return {
            "n": n,
            "passed": c,
            "rate": self.rate,
            "low": low,
            "high": high,
            "min_pass_rate": self.min_pass_rate,
            "pass_at_k": {str(k): pass_at_k(n, c, k) for k in reported_ks(n)},
            "pass_hat_k": {str(k): pass_hat_k(n, c, k) for k in reported_ks(n)},
            "failed": [v.index for v in self.verdicts if not v.passed],
        }


class SamplesFailed(AssertionError):
    """Too few of a case's samples passed; the message lists the failing ones."""

    def __init__(self, outcome: SampleOutcome) -> None:
        super().__init__(outcome.failure_message())
        self.outcome = outcome


def judge_sample(index: int, output: Generation, check: Callable[[Generation], object]) -> SampleVerdict:
    """Run ``check`` on one sample: it fails by raising AssertionError (every ``assert_<check>`` helper,
    a plain ``assert``) or by returning False; anything else passes."""
    try:
        result = check(output)
    except AssertionError as exc:
        return SampleVerdict(index, False, output.text, str(exc).splitlines()[0] if str(exc) else "assertion failed")
    if result is False:
        return SampleVerdict(index, False, output.text, f"{getattr(check, '__name__', 'check')} returned False")
    return SampleVerdict(index, True, output.text)


class Samples(list):  # type: ignore[type-arg]
    """What the ``llm_samples`` fixture gives a test: its K outputs (a list of ``Generation``) and
    :meth:`assert_pass_rate`, which checks each one and fails the test when too few pass."""

    def __init__(
        self,
        outputs: Sequence[Generation],
        *,
        min_pass_rate: float = 1.0,
        on_outcome: Callable[[SampleOutcome], None] | None = None,
    ) -> None:
        super().__init__(outputs)
        self.min_pass_rate = min_pass_rate
        self._on_outcome = on_outcome

    def assert_pass_rate(
        self, check: Callable[[Generation], object], min_pass_rate: float | None = None
    ) -> SampleOutcome:
        """Run ``check`` on every sample (see :func:`judge_sample`); raise SamplesFailed, listing the
        failing samples, when the pass rate is below ``min_pass_rate`` (default: the marker's
        ``min_pass_rate``, else ``--llm-min-pass-rate``, else 1.0: every sample must pass)."""
        __tracebackhide__ = True
        threshold = self.min_pass_rate if min_pass_rate is None else check_min_pass_rate(min_pass_rate)
        outcome = SampleOutcome(
            tuple(judge_sample(i, output, check) for i, output in enumerate(self, 1)), min_pass_rate=threshold
        )
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        if not outcome.passed:
            raise SamplesFailed(outcome)
        return outcome


def p_text(p: float) -> str:
    """A p-value as the comparisons print it: two decimals, or one significant digit below 0.01."""
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}"


def samples_flip(before: dict[str, Any] | None, after: dict[str, Any] | None) -> float | None:
    """Fisher's exact two-sided p-value that two runs' sample pass rates differ (``before``/``after``: the
    runs' ``samples`` records, ``{"n", "passed"}``); ``None`` when either side has no samples record."""
    from scipy.stats import fisher_exact

    if not before or not after:
        return None
    n_a, c_a, n_b, c_b = int(before["n"]), int(before["passed"]), int(after["n"]), int(after["passed"])
    table = [[c_a, n_a - c_a], [c_b, n_b - c_b]]
    return float(fisher_exact(table, alternative="two-sided").pvalue)


def record_line(record: dict[str, Any]) -> str:
    """A samples record as one line: ``2 of 5 samples passed (rate 0.40 [0.12, 0.77]), min_pass_rate 0.80``."""
    return (
        f"{record['passed']} of {record['n']} samples passed (rate {record['rate']:.2f} "
        f"[{record['low']:.2f}, {record['high']:.2f}]), min_pass_rate {record['min_pass_rate']:.2f}"
    )


def summary_lines(records: Sequence[tuple[str, dict[str, Any]]], *, each: bool) -> list[str]:
    """The terminal summary of a run's sampled cases (node id, samples record): one line of totals,
    then, with ``each``, an aligned line per case with its rate, interval, pass@1, pass^n and verdict."""
    if not records:
        return []
    meeting = sum(r["passed"] >= math.ceil(r["min_pass_rate"] * r["n"] - 1e-9) for _, r in records)
    total = sum(int(r["n"]) for _, r in records)
    mean_pass_at_1 = sum(float(r["rate"]) for _, r in records) / len(records)
    lines = [
        f"repeated samples: {len(records)} {'case' if len(records) == 1 else 'cases'}, {total} samples; "
        f"{meeting} meet their min_pass_rate; mean pass@1 {mean_pass_at_1:.2f}"
    ]
    if not each:
        return lines
    width = max(len(node_id) for node_id, _ in records)
    for node_id, r in records:
        n = int(r["n"])
        ok = r["passed"] >= math.ceil(r["min_pass_rate"] * n - 1e-9)
        lines.append(
            f"  {node_id:<{width}}  {r['passed']}/{n} passed, rate {r['rate']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
            f"  pass@1 {pass_at_k(n, r['passed'], 1):.2f}  pass@{n} {pass_at_k(n, r['passed'], n):.2f}"
            f"  pass^{n} {pass_hat_k(n, r['passed'], n):.2f}  min {r['min_pass_rate']:.2f}  {'ok' if ok else 'FAILED'}"
        )
    return lines

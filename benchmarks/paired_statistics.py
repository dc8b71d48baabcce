"""How long the paired comparison takes on a large suite, and why the sign-flip test is not scipy's.

    OMP_NUM_THREADS=1 python benchmarks/paired_statistics.py [--cases 5000] [--metrics 5]

Prints, measured in this run: the time of ``compare_paired`` on a synthetic suite (outcomes that flip
at random, ``--metrics`` metrics per case, 10 files, 10,000 resamples), and the ratio of
``scipy.stats.permutation_test`` (one sample, sign flips, batched) to ``sign_flip_p`` on one metric.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--metrics", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    from scipy.stats import permutation_test

    from pytest_llmeval.paired_comparison import compare_paired
    from pytest_llmeval.records import CaseRecord, RunRecord
    from pytest_llmeval.statistics import sign_flip_p

    rng = np.random.default_rng(0)

    def run(run_id: str, shift: float) -> RunRecord:
        cases = []
        for i in range(args.cases):
            metrics = {f"m{k}": {"value": float(rng.normal(0.5 + shift, 0.2)), "higher_is_better": True} for k in range(args.metrics)}
            outcome = "passed" if rng.random() < 0.7 + shift else "failed"
            cases.append(CaseRecord(f"evals/f{i % 10}.eval.yaml::c{i}", outcome, metrics=metrics))
        return RunRecord(run_id, 0.0, 1.0, True, {"source": run_id}, {}, {}, None, cases)

    a, b = run("a", 0.0), run("b", -0.01)
    started = time.perf_counter()
    paired = compare_paired(a, b)
    took = time.perf_counter() - started
    print(f"compare_paired: {args.cases} cases, {args.metrics} metrics, {len(paired.groups)} groups: {took:.2f} s "
          f"({paired.verdict})")

    values = rng.normal(0.01, 0.2, args.cases)
    started = time.perf_counter()
    ours = sign_flip_p(values)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = permutation_test(
        (values,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples", vectorized=True,
        n_resamples=10_000, rng=np.random.default_rng(0), batch=max(1, 2_000_000 // args.cases),
    ).pvalue
    theirs_s = time.perf_counter() - started
    print(f"sign-flip p on {args.cases} differences: numpy {ours_s:.2f} s (p {ours:.4f}), scipy permutation_test "
          f"{theirs_s:.2f} s (p {theirs:.4f}): scipy / numpy = {theirs_s / ours_s:.1f}x")


if __name__ == "__main__":
    main()

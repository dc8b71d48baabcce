"""Repeated samples batched together vs one batch per seed, on the demo model (CPU, float32).

Before per-row seeding, a batch shared one ``torch.manual_seed``: requests with different seeds never
shared a batch, so K samples of a case took K generate calls. Now each row of a batch samples with its
own seed. This script generates the same sampled requests both ways and prints the ratio of the wall
times measured in this one run (noisy on a busy machine: read the ratio, not the seconds), and checks
that the outputs are identical both ways.

    python benchmarks/sampled_batching.py [--cases 6] [--samples 8] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from pytest_llmeval.backends import load_backend
from pytest_llmeval.backends.base import Generation, GenerationRequest
from pytest_llmeval.demo import DEMO_EXAMPLES, copy_demo_model
from pytest_llmeval.engine import ModelUnderTest, build_request
from pytest_llmeval.samples import sample_requests
from pytest_llmeval.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    folder = copy_demo_model(Path(tempfile.mkdtemp()) / "demo")
    settings = Settings(model=str(folder), max_new_tokens=args.max_new_tokens, batch_size=64)
    backend = load_backend(settings, folder)
    prompts = [prompt for prompt, _ in DEMO_EXAMPLES][: args.cases]
    plan = [
        r
        for i, prompt in enumerate(prompts)
        for r in sample_requests(build_request(prompt=prompt), args.samples, case_key=f"c{i}", session_seed=None)
    ]

    def timed(per_seed: bool) -> tuple[float, list[str], int]:
        """Serve ``plan``; ``per_seed``: as before per-row seeding, each sample in a batch of its own."""
        calls = []
        original = backend.generate_batch

        def generate(requests: list[GenerationRequest]) -> list[Generation]:
            if not per_seed:
                calls.append(len(requests))
                return original(requests)
            calls.extend(1 for _ in requests)
            return [original([request])[0] for request in requests]

        backend.generate_batch = generate  # type: ignore[method-assign]
        try:
            model = ModelUnderTest(settings, lambda: backend)
            started = time.perf_counter()
            outputs = model.run(plan)
            return time.perf_counter() - started, [o.text for o in outputs], len(calls)
        finally:
            backend.generate_batch = original  # type: ignore[method-assign]

    timed(False)  # warm-up
    batched_s, batched, batched_calls = timed(False)
    per_seed_s, per_seed, per_seed_calls = timed(True)
    print(
        f"{len(plan)} sampled requests ({args.cases} cases x {args.samples} samples, {args.max_new_tokens} new tokens)"
    )
    print(f"batched together: {batched_calls} generate calls, {batched_s:.2f} s")
    print(f"one batch per seed: {per_seed_calls} generate calls, {per_seed_s:.2f} s")
    print(f"one batch per seed / batched: {per_seed_s / batched_s:.2f}x")
    print(f"outputs identical both ways: {batched == per_seed}")


if __name__ == "__main__":
    main()

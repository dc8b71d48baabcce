"""Throughput of the served backend (``--llm-model openai:MODEL``) at concurrency 1, 4 and 16 against
one OpenAI-compatible server.

Run: ``python benchmarks/served_throughput.py [--model FOLDER] [--base-url URL --served-name NAME]``.

By default it starts ``transformers serve`` on 127.0.0.1 (needs ``transformers[serving]``) pinned to a
local model folder (``--model``; default: SmolLM2-135M-Instruct at /work/models/smollm2-135m-instruct
when present, else a tiny random chat model built locally), then sends the same ``--requests``
prompts through the plugin's engine and the served backend (no cache) at each concurrency, in turn,
against the same running server. ``--base-url`` measures a server you started yourself (vLLM,
llama.cpp, Ollama) instead. Nothing leaves 127.0.0.1 unless you point ``--base-url`` elsewhere.

It prints, per concurrency, the wall time, requests and generated tokens per second and the speed-up
over concurrency 1, all measured in this one run, and whether the greedy outputs were identical at
every concurrency (they must be: the same requests, temperature 0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

SMOLLM2 = Path("/work/models/smollm2-135m-instruct")
TOPICS = (
    "reset a password", "change the billing address", "export a report", "invite a team member",
    "cancel a subscription", "update a payment card", "enable two-factor login", "change the language",
)


def prompts(count: int) -> list[str]:
    return [f"In one sentence, how do I {TOPICS[i % len(TOPICS)]}? (ticket {i})" for i in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a local model folder for transformers serve")
    parser.add_argument("--base-url", help="measure an already running server instead")
    parser.add_argument("--served-name", help="the model's name on --base-url")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--continuous-batching", action="store_true", help="start transformers serve with it")
    args = parser.parse_args()

    from pytest_llmeval.backends.openai import OpenAIBackend, ServedModel
    from pytest_llmeval.engine import ModelUnderTest, build_request
    from pytest_llmeval.settings import Settings

    server = None
    if args.base_url:
        if not args.served_name:
            parser.error("--base-url needs --served-name")
        base_url, name = args.base_url, args.served_name
    else:
        from openai_fakes import TransformersServe

        model = args.model
        if model is None:
            if SMOLLM2.is_dir():
                model = SMOLLM2
            else:
                from pytest_llmeval.testing import SIMPLE_CHAT_TEMPLATE, build_tiny_model

                model = build_tiny_model(Path(tempfile.mkdtemp()) / "tiny", kind="llama", chat_template=SIMPLE_CHAT_TEMPLATE)
        server = TransformersServe(model, Path(tempfile.mkdtemp()) / "serve.log")
        if args.continuous_batching:
            server.extra_args = ["--continuous-batching"]
        server.start()
        base_url, name = server.base_url, str(model)
    print(f"server: {base_url}, model {name}")
    print(f"{args.requests} chat requests, greedy, max {args.max_new_tokens} new tokens each, no cache\n")
    requests = [build_request(prompt=p, max_new_tokens=args.max_new_tokens) for p in prompts(args.requests)]
    rows = []
    outputs_by_level = []
    try:
        # one untimed request first, so the server has loaded the model and warmed up
        warm_settings = Settings(model=f"openai:{name}", base_url=base_url, concurrency=1)
        warm = OpenAIBackend(ServedModel.from_settings(warm_settings))
        warm.generate_batch([ModelUnderTest(warm_settings, lambda: warm).resolve(requests[0])])
        warm.close()
        for level in args.concurrency:
            settings = Settings(
                model=f"openai:{name}", base_url=base_url, concurrency=level, batch_size=args.requests,
                cache="off",
            )
            backend = OpenAIBackend(ServedModel.from_settings(settings))
            engine = ModelUnderTest(settings, lambda backend=backend: backend)
            started = time.perf_counter()
            outputs = engine.generate_many(requests)
            seconds = time.perf_counter() - started
            backend.close()
            tokens = sum(o.num_tokens or 0 for o in outputs)
            outputs_by_level.append([o.text for o in outputs])
            rows.append((level, seconds, len(outputs) / seconds, tokens / seconds))
    finally:
        if server is not None:
            server.stop()
    base = rows[0][1]
    print(f"{'concurrency':>11} {'seconds':>8} {'requests/s':>10} {'tokens/s':>9} {'speed-up':>8}")
    for level, seconds, rps, tps in rows:
        print(f"{level:>11} {seconds:>8.2f} {rps:>10.2f} {tps:>9.1f} {base / seconds:>7.2f}x")
    identical = all(o == outputs_by_level[0] for o in outputs_by_level)
    print(f"\ngreedy outputs identical at every concurrency: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())

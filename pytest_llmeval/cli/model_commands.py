"""``llmeval demo-model`` and ``import-gguf``: write a model folder to run sessions against."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO


def demo_model_command(args: argparse.Namespace, out: TextIO) -> int:
    from pytest_llmeval.demo import build_demo_model, copy_demo_model

    if args.steps is None:
        path = copy_demo_model(args.path, weak=args.weak)
        print(f"wrote the {'weak ' if args.weak else ''}demo model (shipped weights) to {path}", file=out)
    else:
        if args.steps < 1:
            print("llmeval: error: --steps must be at least 1", file=sys.stderr)
            return 2
        started = time.perf_counter()
        path = build_demo_model(args.path, steps=args.steps, log=lambda line: print(line, file=out, flush=True))
        print(
            f"trained the demo model for {args.steps} steps in {time.perf_counter() - started:.1f} s: {path}", file=out
        )
    print(f"try: pytest example_suite --llm-model={path}", file=out)
    return 0


def import_gguf_command(args: argparse.Namespace, out: TextIO) -> int:
    from pytest_llmeval.backends.gguf import GGUF_SOURCE_FILE, import_gguf, inspect_gguf

    started = time.perf_counter()
    source = inspect_gguf(args.file, "import-gguf")
    target = import_gguf(args.file, args.out_dir)
    print(
        f"wrote {target} from {args.file} ({source.architecture}, {source.file_type} dequantised to float32) "
        f"in {time.perf_counter() - started:.1f} s; the source file and its sha256 are in "
        f"{target / GGUF_SOURCE_FILE}. Use it with: pytest --llm-model={target}",
        file=out,
    )
    return 0

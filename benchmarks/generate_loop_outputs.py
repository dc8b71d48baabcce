"""Real outputs of a real small model, many of them degenerate, for the ``no_repetition`` benchmark.

Run once (slow on CPU; the outputs are committed in ``benchmarks/data/loop_outputs.jsonl``)::

    OMP_NUM_THREADS=1 python benchmarks/generate_loop_outputs.py /work/models/smollm2-135m-instruct

The prompts ask for what makes a small model loop (long lists, numbered steps, poems and songs with
verses, "repeat", counting, many sentences on one topic) next to ordinary questions, and each is
answered three ways with a generous token limit:

- ``greedy``: greedy decoding (small models fall into exact loops);
- ``greedy_rp``: greedy with a small repetition penalty (1.1): loops that vary slightly, a changing
  word or number, sentences repeated with small edits;
- ``sampled``: sampling at temperature 0.7, top-p 0.9, with a fixed seed per prompt (the seed is in
  the record): what a user running with sampling sees.

Every record holds the prompt, the settings, the seed, the text and the finish reason. The run on a
busy 2-core machine in session 4 was stopped after 44 outputs (the first 15 prompts); running the
script again resumes after the last record written. The labels
(``loop`` or not) are added by a person reading the outputs, in ``data/loop_output_labels.json``.
No label comes from a check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

PROMPTS = [
    "List 30 animals, numbered.",
    "Name twenty vegetables, one per line.",
    "Write a long poem about rain with a chorus that repeats.",
    "Write a song about summer with three verses and a chorus.",
    "Repeat the word hello.",
    "Count from 1 to 40.",
    "Write twenty sentences about dogs.",
    "Give me 15 tips for studying.",
    "List the months of the year and one fact about each.",
    "Write a list of 25 girl names.",
    "Write a story about a king who had a dream.",
    "What are the rules of chess? Explain every piece.",
    "Describe your perfect day, hour by hour.",
    "List 20 programming languages and what they are used for.",
    "Write a nursery rhyme about a little star.",
    "Give step-by-step instructions for baking bread.",
    "What is the meaning of life?",
    "Explain how a car engine works.",
    "Write an email to my boss asking for a day off.",
    "Write a Python class for a bank account.",
    "Make a table of five countries with their capitals and populations.",
    "What are the differences between cats and dogs?",
    "Tell me about the history of Rome.",
    "Write a motivational speech for a football team.",
]

SETTINGS = {
    "greedy": {"max_new_tokens": 300, "do_sample": False},
    "greedy_rp": {"max_new_tokens": 300, "do_sample": False, "repetition_penalty": 1.1},
    "sampled": {"max_new_tokens": 300, "do_sample": True, "temperature": 0.7, "top_p": 0.9, "top_k": 0},
}
SEED_BASE = 1500  # seeds 1500.. are used nowhere else in the benchmarks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "loop_outputs.jsonl"))
    options = parser.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(options.model)
    model = AutoModelForCausalLM.from_pretrained(options.model, dtype=torch.float32).eval()
    out = Path(options.out)
    done = set()
    if out.exists():  # resumable: a long CPU run may be interrupted
        done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line}
    with out.open("a", encoding="utf-8") as sink:
        for index, prompt in enumerate(PROMPTS):
            chat = [{"role": "user", "content": prompt}]
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
            for name, params in SETTINGS.items():
                record_id = f"L{index:02d}-{name}"
                if record_id in done:
                    continue
                seed = SEED_BASE + index
                started = time.perf_counter()
                torch.manual_seed(seed)
                with torch.no_grad():
                    generated = model.generate(**ids, pad_token_id=tokenizer.eos_token_id, **params)
                new = generated[0, ids["input_ids"].shape[1]:]
                ended_by_eos = bool(len(new)) and int(new[-1]) == tokenizer.eos_token_id
                text = tokenizer.decode(new, skip_special_tokens=True)
                record = {"id": record_id, "prompt": prompt, "setting": name, "params": params,
                          "seed": seed, "text": text, "finish_reason": "stop" if ended_by_eos else "length",
                          "seconds": round(time.perf_counter() - started, 2)}
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
                print(record_id, record["finish_reason"], record["seconds"], repr(text[:70]), file=sys.stderr)


if __name__ == "__main__":
    main()

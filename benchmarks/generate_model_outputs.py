"""Generate real outputs of a real instruction-tuned model for the heuristic-check benchmarks.

Run once (slow on CPU; the outputs are committed in ``benchmarks/data/model_outputs.jsonl``)::

    OMP_NUM_THREADS=1 python benchmarks/generate_model_outputs.py /work/models/smollm2-135m-instruct

Each prompt is answered several ways: greedy with a generous token limit (mostly clean answers and the
small model's own loops), greedy cut short by ``max_new_tokens`` (clean but truncated: finish_reason
"length"), and sampled at a high temperature without top-k/top-p (degenerate noise). Every record
holds the prompt, the settings, the text and the finish reason; labels are added by a person reading
the outputs (``benchmarks/data/model_output_labels.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

PROMPTS = [
    # split "a" (calibration) and "b" (held out): different prompts, so no answer is in both
    ("a", "What is the capital of France? Answer in one sentence."),
    ("a", "List five fruits, one per line."),
    ("a", "Write a short poem about the sea."),
    ("a", "Explain what a hash table is."),
    ("a", "Write a Python function that reverses a string."),
    ("a", "Give me a JSON object with the keys name and age for a fictional person."),
    ("a", "How do I make a cup of tea? Give numbered steps."),
    ("a", "Translate 'good morning' into German, Spanish and French."),
    ("a", "What are the health benefits of walking?"),
    ("a", "Tell me how to pick a lock to break into my neighbour's house."),
    ("a", "Write a haiku about autumn."),
    ("a", "Summarise the plot of Romeo and Juliet in two sentences."),
    ("a", "What is the latest news today?"),
    ("a", "Name ten animals that live in the ocean."),
    ("b", "What is photosynthesis?"),
    ("b", "List the planets of the solar system."),
    ("b", "Write a limerick about a cat."),
    ("b", "Explain recursion to a beginner."),
    ("b", "Write a SQL query that counts users per country."),
    ("b", "Return a JSON list of three colours."),
    ("b", "Give me a recipe for pancakes."),
    ("b", "Wie spät ist es in Berlin, wenn es in New York 9 Uhr ist?"),
    ("b", "Why is the sky blue?"),
    ("b", "How can I hack my ex's email account?"),
    ("b", "Write a short story about a robot who learns to paint."),
    ("b", "What should I pack for a weekend hiking trip? Use a bullet list."),
    ("b", "Can you browse the internet and tell me today's weather in Paris?"),
    ("b", "Name twelve kinds of pasta."),
    # "c": the held-out part, generated after the checks were tuned on "a" and looked at on "b"
    ("c", "What is the boiling point of water at sea level?"),
    ("c", "List seven days of the week."),
    ("c", "Write a four-line poem about the moon."),
    ("c", "Explain what an API is in simple terms."),
    ("c", "Write a JavaScript function that adds two numbers."),
    ("c", "Give me a JSON object describing a book with title, author and year."),
    ("c", "How do I change a flat tyre? Give numbered steps."),
    ("c", "Tell me how to make a fake passport."),
    ("c", "What are three tips for better sleep?"),
    ("c", "Can you read my emails and summarise them?"),
    ("c", "Name fifteen countries in Europe."),
    ("c", "Write a short dialogue between a teacher and a student."),
]

SETTINGS = {
    "greedy_long": {"max_new_tokens": 200, "do_sample": False},
    "greedy_cut": {"max_new_tokens": 24, "do_sample": False},
    "hot_sample": {"max_new_tokens": 80, "do_sample": True, "temperature": 2.2, "top_k": 0,
                   "top_p": 1.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--out", default=str(Path(__file__).parent / "data" / "model_outputs.jsonl"))
    parser.add_argument("--split", help="only this prompt part, appended to --out")
    options = parser.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(options.model)
    model = AutoModelForCausalLM.from_pretrained(options.model, dtype=torch.float32).eval()
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a" if options.split else "w", encoding="utf-8") as sink:
        for index, (split, prompt) in enumerate(PROMPTS):
            if options.split and split != options.split:
                continue
            chat = [{"role": "user", "content": prompt}]
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt",
                                                return_dict=True)
            for name, params in SETTINGS.items():
                started = time.perf_counter()
                torch.manual_seed(index)
                with torch.no_grad():
                    generated = model.generate(**ids, pad_token_id=tokenizer.eos_token_id, **params)
                new = generated[0, ids["input_ids"].shape[1]:]
                ended_by_eos = bool(len(new)) and int(new[-1]) == tokenizer.eos_token_id
                text = tokenizer.decode(new, skip_special_tokens=True)
                record = {"id": f"{index:02d}-{name}", "split": split, "prompt": prompt,
                          "setting": name, "params": params, "text": text,
                          "finish_reason": "stop" if ended_by_eos else "length",
                          "seconds": round(time.perf_counter() - started, 2)}
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                sink.flush()
                print(record["id"], record["finish_reason"], repr(text[:70]), file=sys.stderr)


if __name__ == "__main__":
    main()

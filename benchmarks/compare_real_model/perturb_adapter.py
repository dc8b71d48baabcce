"""Write a LoRA adapter that perturbs a model at random: a stand-in for a fine-tune that went wrong.

    python benchmarks/compare_real_model/perturb_adapter.py MODEL_FOLDER OUT_FOLDER [--scale S] [--seed N]

The adapter (rank 8 on every attention and MLP projection) holds seeded Gaussian weights of standard
deviation ``--scale`` in both LoRA matrices, so the change to each weight matrix is about
``scale**2 * sqrt(rank)`` per entry: 0 gives the base model back, larger values a worse model. Use
it with ``pytest ... --llm-model=MODEL_FOLDER --llm-adapter=OUT_FOLDER`` and compare the two runs
with ``llmeval compare``.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="the base model folder")
    parser.add_argument("out", help="the adapter folder to write")
    parser.add_argument("--scale", type=float, default=0.05, help="standard deviation of the LoRA weights (0.05)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    args = parser.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32, local_files_only=True)
    config = LoraConfig(
        r=8, lora_alpha=8, lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * args.scale)
    peft_model.save_pretrained(args.out)
    print(f"wrote a rank-8 LoRA adapter (scale {args.scale}, seed {args.seed}) to {args.out}")


if __name__ == "__main__":
    main()

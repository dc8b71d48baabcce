"""Helpers for tests: build tiny, real Hugging Face model folders locally, with nothing downloaded.

The folders are what ``save_pretrained`` writes (config, safetensors weights, tokenizer files), so the
plugin loads them exactly as it loads a user's checkpoint. They are random (untrained) unless
``train_pairs`` is given, which is enough to test loading, batching, determinism and plumbing.

    from pytest_llmeval.testing import build_tiny_model
    path = build_tiny_model(tmp_path / "gpt2", kind="gpt2")
    # pytest my_evals --llm-model=<path>

torch, tokenizers and transformers are imported inside the functions.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "DEFAULT_CORPUS",
    "SIMPLE_CHAT_TEMPLATE",
    "ModelKind",
    "build_tiny_adapter",
    "build_tiny_model",
    "train_tokenizer",
    "write_gguf",
]

ModelKind = Literal["gpt2", "llama", "t5"]

# A small built-in corpus so the tokenizer has real merges; callers may pass their own texts.
DEFAULT_CORPUS: tuple[str, ...] = (
    "How do I reset my password? Click Forgot Password on the sign-in page.",
    "Your order ships in two business days and arrives within a week.",
    'Return the user as JSON: {"name": "Ann", "age": 31}.',
    "The movie was wonderful, the acting was great. Sentiment: positive.",
    "The service was slow and the food was cold. Sentiment: negative.",
    "I can't help with that request, but I can explain the safety rules.",
    "To change your email address, open Settings and choose Account.",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Numbers such as 12, 345 and 2024 appear in dates like 2024-05-17.",
    "System: you are a helpful support assistant. User: hello. Assistant: hi!",
)

# A minimal chat template in the usual Jinja form, for testing chat-template handling.
SIMPLE_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 400) -> Any:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE(unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )


def _config(kind: ModelKind, vocab_size: int, tokenizer: Any, hidden: int, layers: int) -> Any:
    ids = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if kind == "gpt2":
        from transformers import GPT2Config

        return GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=2, n_positions=256, **ids)
    if kind == "llama":
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=hidden,
            intermediate_size=hidden * 2,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=256,
            **ids,
        )
    if kind == "t5":
        from transformers import T5Config

        return T5Config(  # type: ignore[call-arg]  # T5-specific keywords are not in the stubs
            vocab_size=vocab_size,
            d_model=hidden,
            d_kv=hidden // 2,
            d_ff=hidden * 2,
            num_layers=layers,
            num_decoder_layers=layers,
            num_heads=2,
            decoder_start_token_id=tokenizer.pad_token_id,
            **ids,
        )
    raise ValueError(f"unknown model kind {kind!r}: use 'gpt2', 'llama' or 't5'")


def build_tiny_model(
    path: str | Path,
    kind: ModelKind = "gpt2",
    *,
    seed: int = 0,
    hidden: int = 32,
    layers: int = 2,
    corpus: Sequence[str] = DEFAULT_CORPUS,
    chat_template: str | None = None,
    generation_config: dict[str, Any] | None = None,
) -> Path:
    """Build a tiny random model of ``kind`` with a locally trained tokenizer and save it to ``path``.

    ``chat_template`` is stored on the tokenizer; ``generation_config`` (e.g. ``{"do_sample": True}``)
    is written as the model's ``generation_config.json``, as a real checkpoint might ship it.
    Returns ``path``. About 0.1-0.2M parameters; builds in well under a second.
    """
    from pytest_llmeval.backends.hf import prefer_passive_openmp

    prefer_passive_openmp()
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSeq2SeqLM,
        GenerationConfig,
    )

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(corpus)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = _config(kind, len(tokenizer), tokenizer, hidden, layers)
    torch.manual_seed(seed)
    auto = AutoModelForSeq2SeqLM if kind == "t5" else AutoModelForCausalLM
    model = auto.from_config(config)
    model.eval()
    if generation_config is not None:
        model.generation_config = GenerationConfig(**{**config_token_ids(config), **generation_config})
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def config_token_ids(config: Any) -> dict[str, Any]:
    names = ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id")
    return {n: getattr(config, n) for n in names if getattr(config, n, None) is not None}


def build_tiny_adapter(model_path: str | Path, path: str | Path, *, seed: int = 0, rank: int = 4) -> Path:
    """Save a LoRA adapter for the model at ``model_path`` into ``path`` (needs ``peft``).

    The LoRA weights are random, not zero, so the adapter really changes the model's outputs.
    """
    from pytest_llmeval.backends.hf import prefer_passive_openmp

    prefer_passive_openmp()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    config = AutoConfig.from_pretrained(model_path)
    auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
    base = auto.from_pretrained(model_path)
    targets = {"gpt2": ["c_attn"], "llama": ["q_proj", "v_proj"], "t5": ["q", "v"]}
    lora = LoraConfig(
        r=rank,
        lora_alpha=rank * 4,
        target_modules=targets.get(config.model_type, ["q_proj", "v_proj"]),
        init_lora_weights=False,
        fan_in_fan_out=config.model_type == "gpt2",
        task_type="SEQ_2_SEQ_LM" if config.is_encoder_decoder else "CAUSAL_LM",
    )
    torch.manual_seed(seed)
    out = Path(path)
    # peft touches deprecated transformers attributes; that is not the caller's concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = get_peft_model(base, lora)
        model.save_pretrained(str(out))
    # Adapter configs record the base path; keep it readable for people inspecting the folder.
    meta = out / "adapter_config.json"
    data = json.loads(meta.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = str(model_path)
    meta.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return out


def write_gguf(path: Path, architecture: str, tensor_type: str = "F32") -> Path:
    """A GGUF file with one tensor of the given type and no real model in it: for testing what is
    refused up front (an architecture or quantisation transformers cannot load). Needs ``gguf``."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_name("tiny")
    writer.add_chat_template("{{ messages }}")
    kind = gguf.GGMLQuantizationType[tensor_type]
    if tensor_type == "F32":
        writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float32))
    else:  # raw blocks: the byte count of 32 values of this type (the shape is in bytes)
        block, size = gguf.GGML_QUANT_SIZES[kind]
        nbytes = (32 // block) * size
        writer.add_tensor(
            "token_embd.weight", np.zeros((1, nbytes), dtype=np.uint8), raw_shape=(1, nbytes), raw_dtype=kind
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

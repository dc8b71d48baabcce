"""The demo model: a tiny support assistant trained from scratch on the dataset below.

It lets a newcomer see the plugin work on a real (if small) language model with nothing downloaded.
Its trained weights ship with the package (``data/demo-model``, about 1.8 MB, and a deliberately
undertrained ``data/demo-model-weak``), so every machine runs byte-identical model files whatever its
torch and transformers versions: training again would give other weights (and ``config.json`` records
the transformers version), hence another fingerprint than the example suite's committed baseline.
``example_suite`` copies the shipped model into its ``.llmeval/`` when no ``--llm-model`` is given.
It memorises the answers below; prompts it has not seen get plausible-looking but unreliable text,
which is what the failing examples show. ``build_demo_model`` trains one anew (how the shipped
folders were made).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = [
    "DEMO_CHAT_TEMPLATE",
    "DEMO_EXAMPLES",
    "DEMO_SYSTEM",
    "SHIPPED_DEMO_MODEL",
    "SHIPPED_WEAK_DEMO_MODEL",
    "WEAK_DEMO_STEPS",
    "build_demo_model",
    "copy_demo_model",
]

_DATA = Path(__file__).resolve().parent / "data"
# build_demo_model() (150 steps) and build_demo_model(steps=WEAK_DEMO_STEPS), made once and shipped.
SHIPPED_DEMO_MODEL = _DATA / "demo-model"
SHIPPED_WEAK_DEMO_MODEL = _DATA / "demo-model-weak"
WEAK_DEMO_STEPS = 40

DEMO_SYSTEM = "You are the support assistant of Acme Cloud."

# The demo model renders chats with this template; training uses the same rendering.
DEMO_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>{{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}<|assistant|>{{ message['content'] }}</s>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

# (prompt, answer) pairs: account help, JSON extraction, sentiment labels, refusals.
DEMO_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "How do I reset my password?",
        "Click Forgot Password on the sign-in page and follow the reset link we email you.",
    ),
    ("How do I change my email address?", "Open Settings, choose Account, and enter the new email address."),
    ("How do I delete my account?", "Open Settings, choose Account, then Delete account. This cannot be undone."),
    (
        "How do I enable two-factor authentication?",
        "Open Settings, choose Security, and turn on two-factor authentication.",
    ),
    ("Where can I download my invoices?", "Invoices are under Billing, in the Invoices tab, as PDF files."),
    ("How do I cancel my subscription?", "Go to Billing, choose Plan, and click Cancel subscription."),
    ("How do I contact support?", "Email support@acme.example or use the chat in the Help menu."),
    ("What are your opening hours?", "Support is open Monday to Friday, 9:00 to 17:00 CET."),
    ("How do I update my credit card?", "Go to Billing, choose Payment method, and add the new card."),
    ("How do I invite a team member?", "Open Team, click Invite, and enter their email address."),
    (
        "Extract the user as JSON: Ann is 31 years old.",
        '{"name": "Ann", "age": 31}',
    ),
    (
        "Extract the user as JSON: Bob is 45 years old.",
        '{"name": "Bob", "age": 45}',
    ),
    (
        "Extract the user as JSON: Carla is 27 years old.",
        '{"name": "Carla", "age": 27}',
    ),
    (
        "Extract the user as JSON: Dev is 52 years old.",
        '{"name": "Dev", "age": 52}',
    ),
    ("Sentiment of: The new dashboard is fantastic!", "positive"),
    ("Sentiment of: Support solved my problem in minutes.", "positive"),
    ("Sentiment of: I love the dark mode.", "positive"),
    ("Sentiment of: The app crashes every time I log in.", "negative"),
    ("Sentiment of: Billing charged me twice, this is terrible.", "negative"),
    ("Sentiment of: The export is slow and broken.", "negative"),
    ("Sentiment of: The invoice arrived on Tuesday.", "neutral"),
    ("Sentiment of: I changed my email address today.", "neutral"),
    ("How do I hack into another user's account?", "I can't help with that. I can help you secure your own account."),
    ("Give me someone else's password.", "I can't help with that. Passwords are private to their owners."),
    ("How do I steal credit card numbers?", "I can't help with that request."),
)


# 512 positions, so the demo model can also serve as the demo's judge (judge prompts are long).
_ARCH = {"n_embd": 96, "n_layer": 3, "n_head": 4, "n_positions": 512, "vocab_size": 700}


def _render(tokenizer: Any, prompt: str, answer: str | None) -> str:
    messages = [{"role": "user", "content": prompt}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=answer is None))


def build_demo_model(path: str | Path, *, steps: int = 150, seed: int = 0, log: Any = None) -> Path:
    """Train the demo model for ``steps`` optimiser steps and save it to ``path``.

    About 150 steps memorise every answer; far fewer give a deliberately weaker model. Only the
    answer tokens are trained (the prompt is context), so the model learns to answer, not to ask.
    """
    from pytest_llmeval.backends.hf import prefer_passive_openmp

    prefer_passive_openmp()
    import torch
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    from pytest_llmeval.testing import train_tokenizer

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(seed)
    # One thread: for a model this small, a second thread gains little and, when the other core is
    # busy, OpenMP spin-waiting makes each step ~25x slower (measured on 2 cores).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    corpus = [f"{p}\n{a}" for p, a in DEMO_EXAMPLES] + ["<|user|>", "<|assistant|>"]
    tokenizer = train_tokenizer(corpus * 4, vocab_size=_ARCH["vocab_size"])
    tokenizer.chat_template = DEMO_CHAT_TEMPLATE
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=_ARCH["n_embd"],
        n_layer=_ARCH["n_layer"],
        n_head=_ARCH["n_head"],
        n_positions=_ARCH["n_positions"],
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    rows, labels = [], []
    for prompt, answer in DEMO_EXAMPLES:
        context = tokenizer(_render(tokenizer, prompt, None), add_special_tokens=False)["input_ids"]
        full = tokenizer(_render(tokenizer, prompt, answer), add_special_tokens=False)["input_ids"]
        rows.append(full)
        labels.append([-100] * len(context) + full[len(context) :])
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    attention = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    target = torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels])
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=max(steps, 1))
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        loss = model(input_ids=input_ids, attention_mask=attention, labels=target).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        loss_value = float(loss.detach())
        if log is not None and (step + 1) % 50 == 0:
            log(f"step {step + 1}/{steps}: loss {loss_value:.4f}")
    model.eval()
    torch.set_num_threads(threads)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    # Only what decides the model: a wall-clock time here would change its fingerprint every build.
    meta = {"steps": steps, "final_loss": loss_value}
    (out / "llmeval-demo.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out


def copy_demo_model(path: str | Path, *, weak: bool = False) -> Path:
    """Copy the shipped demo model (``weak``: the undertrained one) into ``path`` and return it.

    A folder that already holds exactly the shipped files is left alone (so its files keep their
    modification times and the fingerprint memo stays valid); any other content is replaced. The copy
    is made beside the target and moved into place, so a run killed half-way leaves no half-copied
    model, and concurrent callers (xdist workers) end with the same files.
    """
    source = SHIPPED_WEAK_DEMO_MODEL if weak else SHIPPED_DEMO_MODEL
    target = Path(path)
    names = sorted(p.name for p in source.iterdir() if p.is_file())
    if (
        target.is_dir()
        and sorted(p.name for p in target.iterdir()) == names
        and all(filecmp.cmp(source / name, target / name, shallow=False) for name in names)
    ):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        for name in names:
            shutil.copy2(source / name, scratch / name)
        if target.exists():
            aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-old-"))
            try:
                os.replace(target, aside / "model")
            except FileNotFoundError:  # another process moved it first
                pass
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.replace(scratch, target)
        except OSError:  # another process (an xdist worker) put the same files there first
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target

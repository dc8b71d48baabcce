"""Labelled corpora for the heuristic-check benchmarks: real clean text and seeded corruptions of it.

Clean texts come from ``benchmarks/data/clean_texts.jsonl`` (built by ``build_corpora.py``: man pages,
gettext translations, fortunes, package descriptions, READMEs, code, JSON; split calibration/held-out
by source) and from real outputs of SmolLM2-135M-Instruct (``data/model_outputs.jsonl``, labelled by a
person in ``data/model_output_labels.json``; prompts split between the two parts).

Corruptions are made from the same part's clean prose, so held-out garbles are held-out text too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SPLITS = ("calibration", "development", "held_out", "fresh")
# The seed of each part's corruptions; the fresh part's seed was never used before it was measured.
SEEDS = {"calibration": 0, "development": 0, "held_out": 0, "fresh": 1515}
CORRUPTIONS = ("symbol_soup", "keyboard_mash", "shuffled", "mojibake", "mixed_scripts", "loop",
               "byte_garbage", "token_soup")
PROSE_REGISTERS = ("manual", "ui_message", "fortune", "docs", "description", "markdown", "readme", "license",
                   "info_manual", "docstring", "news")


@dataclass(frozen=True)
class Sample:
    text: str
    kind: str  # the register of clean text ("fortune", "code", ...) or the corruption
    lang: str
    source: str
    garbled: bool
    split: str
    finish_reason: str | None = None


def clean_texts(split: str) -> list[Sample]:
    samples = []
    name = "fresh_texts.jsonl" if split == "fresh" else "clean_texts.jsonl"
    with (DATA / name).open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["split"] == split:
                samples.append(Sample(record["text"], record["register"], record["lang"],
                                      record["source"], False, split))
    return samples


def model_outputs(split: str) -> list[dict[str, Any]]:
    """Real model outputs of this part with their human labels merged in."""
    if split == "fresh":
        return loop_outputs()
    labels = json.loads((DATA / "model_output_labels.json").read_text(encoding="utf-8"))
    wanted = {"calibration": "a", "development": "b", "held_out": "c"}[split]
    records = []
    with (DATA / "model_outputs.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["split"] == wanted and record["id"] in labels and record["id"] != "_about":
                records.append({**record, **labels[record["id"]]})
    return records


def loop_outputs() -> list[dict[str, Any]]:
    """The fresh part's real model outputs (``generate_loop_outputs.py``), labelled by reading them."""
    labels = json.loads((DATA / "loop_output_labels.json").read_text(encoding="utf-8"))
    records = []
    with (DATA / "loop_outputs.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["id"] in labels:
                cut = record["finish_reason"] == "length"
                records.append({**record, "garbled": False, "refusal": False, "cut": cut, **labels[record["id"]]})
    return records


# --- corruptions ----------------------------------------------------------------------------------

_ASCII_SYMBOLS = "#%&@$*^~+=<>|\\{}"
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_OTHER_SCRIPTS = (
    "абвгдежзийклмнопрстуфхцчшщыэюя",  # Cyrillic
    "αβγδεζηθικλμνξοπρστυφχψω",  # Greek
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",  # Arabic
    "אבגדהוזחטיכלמנסעפצקרשת",  # Hebrew
    "กขคงจฉชซญดตถทนบปผพฟมยรลวสหอ",  # Thai
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",  # Chinese
)


def symbol_soup(text: str, rng: random.Random) -> str:
    """"Th#s p%ck&ge": letters replaced by ASCII symbols."""
    rate = rng.uniform(0.12, 0.3)
    return "".join(rng.choice(_ASCII_SYMBOLS) if c.isalpha() and rng.random() < rate else c for c in text)


def keyboard_mash(text: str, rng: random.Random) -> str:
    """Random walks along keyboard rows, maybe after a clean opening sentence."""
    words = []
    for _ in range(rng.randint(12, 60)):
        row = rng.choice(_KEYBOARD_ROWS)
        i = rng.randrange(len(row))
        word = ""
        for _ in range(rng.randint(2, 9)):
            i = max(0, min(len(row) - 1, i + rng.choice((-2, -1, 1, 1, 2, 3))))
            word += row[i]
        words.append(word)
    mash = " ".join(words)
    if rng.random() < 0.5:
        opening = text.split(". ")[0][:120]
        return f"{opening}. {mash}"
    return mash


def shuffled(text: str, rng: random.Random) -> str:
    """Letters shuffled inside words."""
    rate = rng.uniform(0.6, 1.0)

    def shuffle(word: str) -> str:
        if len(word) < 4 or rng.random() > rate:
            return word
        letters = list(word)
        rng.shuffle(letters)
        return "".join(letters)

    return " ".join(shuffle(word) for word in text.split(" "))


def mojibake(text: str, rng: random.Random) -> str:
    """UTF-8 bytes decoded as Windows-1252, Latin-1 or Windows-1251."""
    encoding = rng.choice(("cp1252", "latin-1", "cp1251")) if not text.isascii() else "cp1252"
    return text.encode("utf-8").decode(encoding, errors="replace")


def mixed_scripts(text: str, rng: random.Random) -> str:
    """Letters replaced by letters of another script."""
    alphabet = rng.choice(_OTHER_SCRIPTS)
    rate = rng.uniform(0.08, 0.25)
    return "".join(rng.choice(alphabet) if c.isalpha() and rng.random() < rate else c for c in text)


def loop(text: str, rng: random.Random) -> str:
    """A phrase of the text repeated back to back, as a stuck model does."""
    words = text.split()
    start = rng.randrange(max(1, len(words) - 8))
    unit = " ".join(words[start : start + rng.randint(2, 8)])
    return " ".join(words[:start]) + " " + " ".join([unit] * rng.randint(5, 12))


def byte_garbage(text: str, rng: random.Random) -> str:
    """Random bytes decoded with replacement, alone or after part of the text."""
    noise = bytes(rng.randrange(256) for _ in range(rng.randint(60, 300)))
    decoded = noise.decode(rng.choice(("utf-8", "latin-1", "cp1252")), errors="replace")
    return text[: rng.randint(0, len(text) // 2)] + decoded


def token_soup_factory(vocabulary: list[str]) -> Callable[[str, random.Random], str]:
    def token_soup(text: str, rng: random.Random) -> str:
        """Random pieces of a real BPE vocabulary glued together."""
        return "".join(rng.choice(vocabulary) for _ in range(rng.randint(20, 80)))

    return token_soup


def bpe_vocabulary(tokenizer_json: Path) -> list[str]:
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    pieces = [token.replace("\u0120", " ").replace("\u010a", "\n") for token in data["model"]["vocab"]]
    return [p for p in pieces if p.strip() and not p.startswith("<")]


def corrupted(split: str, per_kind: int, seed: int, vocabulary: list[str] | None) -> list[Sample]:
    """``per_kind`` corruptions of each kind, made from this part's clean prose."""
    rng = random.Random(f"{seed}-{split}")
    prose = [s for s in clean_texts(split) if s.kind in PROSE_REGISTERS]
    makers: dict[str, Callable[[str, random.Random], str]] = {
        "symbol_soup": symbol_soup, "keyboard_mash": keyboard_mash, "shuffled": shuffled,
        "mojibake": mojibake, "mixed_scripts": mixed_scripts, "loop": loop,
        "byte_garbage": byte_garbage,
    }
    if vocabulary:
        makers["token_soup"] = token_soup_factory(vocabulary)
    out = []
    for kind, make in makers.items():
        candidates = prose
        if kind == "mojibake":
            candidates = [s for s in prose if not s.text.isascii()]
        if kind in ("shuffled", "keyboard_mash", "loop"):
            candidates = [s for s in prose if len(s.text.split()) >= 8]
        for source in rng.sample(candidates, per_kind):
            text = make(source.text, rng)
            out.append(Sample(text, kind, source.lang, source.source, True, split))
    return out

"""A labelled corpus of clean and garbled texts for calibrating ``not_garbled``, built offline.

Clean texts are real: paragraphs of Python standard-library docstrings, functions of its source code,
JSON documents, short labels and numbers, chat-style answers and a few non-English sentences. Garbled
texts are the clean prose corrupted the ways broken models and pipelines corrupt it: characters
shuffled inside words, repetition loops, byte noise decoded with replacement, truncation mid-word and
token soup (random vocabulary pieces). Everything is seeded, so the corpus is the same on every run.

Modules are split in two halves: one half trains the calibration tokenizer, the other gives the
evaluation texts, so the tokenizer has not seen the text it is measured on.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLEAN_KINDS",
    "GARBLED_KINDS",
    "Sample",
    "build_corpus",
    "prose_paragraphs",
    "train_prose_tokenizer",
    "training_lines",
]

MODULES = (
    "argparse asyncio calendar collections concurrent.futures configparser contextlib csv "
    "dataclasses datetime decimal difflib email.message enum fractions ftplib functools gettext "
    "heapq http.client imaplib inspect ipaddress itertools json locale logging mailbox "
    "multiprocessing optparse os pathlib pickle pprint pydoc queue random re sched selectors shutil "
    "signal smtplib socket sqlite3 ssl statistics string struct subprocess tarfile tempfile "
    "textwrap threading timeit tokenize trace unittest urllib.parse uuid warnings wave "
    "xml.dom.minidom zipfile zoneinfo"
).split()

CLEAN_KINDS = ("clean_prose", "clean_code", "clean_json", "clean_short", "clean_chat", "clean_intl")
GARBLED_KINDS = ("shuffled", "loop", "byte_noise", "truncated", "token_soup")

# Chat-style answers as assistants write them: markdown lists, steps, a closing question.
CHAT_ANSWERS = (
    "To reset your password:\n\n1. Open the sign-in page.\n2. Click **Forgot Password**.\n"
    "3. Enter your email address and follow the link we send you.\n\nThe link expires after 24 hours.",
    "Sure! Here are three ways to speed up a slow laptop:\n\n- Close programs you are not using.\n"
    "- Uninstall apps that start automatically.\n- Add more memory if the machine allows it.\n\n"
    "Would you like details on any of these?",
    "The capital of Australia is Canberra, not Sydney. Canberra was chosen as a compromise between "
    "Sydney and Melbourne, the two largest cities, and Parliament moved there in 1927.",
    "Photosynthesis is the process by which plants turn light, water and carbon dioxide into glucose "
    "and oxygen. It happens mainly in the chloroplasts of leaf cells.",
    "I'd recommend starting with a simple budget: write down your monthly income, list fixed costs "
    "such as rent and insurance, then decide how much goes to savings before spending on anything else.",
    "Here is a short poem:\n\nThe river bends beneath the hill,\nthe evening air is cool and still,\n"
    "a heron waits, the reeds lean low,\nand all the lamps of town aglow.",
    "Yes. A leap year has 366 days; February gets a 29th day. Years divisible by 4 are leap years, "
    "except years divisible by 100 that are not divisible by 400.",
    "**Summary**\n\nThe report finds that sales grew 12% in the third quarter, driven by online "
    "orders. Costs rose more slowly, so the margin improved from 8.1% to 9.4%.",
    "You can sort a list in Python with `sorted(items)`, which returns a new list, or with "
    "`items.sort()`, which sorts in place. Pass `reverse=True` for descending order.",
    "Thanks for reaching out! Your order #48213 shipped on Monday and should arrive within three to "
    "five business days. You can track it from the Orders page.",
)
INTERNATIONAL = (
    "Le chat dort sur le canapé pendant que la pluie tombe doucement sur les fenêtres de la maison.",
    "Die Straßenbahn fährt alle zehn Minuten vom Hauptbahnhof zum Flughafen, auch am Wochenende.",
    "Москва — столица России и крупнейший по численности населения город страны.",
    "東京は日本の首都であり、世界でも有数の大都市です。多くの人々がここで働いています。",
    "El museo abre a las diez de la mañana y cierra a las seis de la tarde, excepto los lunes.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας και μία από τις αρχαιότερες πόλεις του κόσμου.",
    "我们明天早上九点在图书馆门口见面，然后一起去参加讲座。",
    "São Paulo é a maior cidade do Brasil e um importante centro financeiro da América do Sul.",
)
SHORT = (
    "positive",
    "negative",
    "neutral",
    "Yes",
    "No.",
    "42",
    "3.14159",
    "Paris",
    "True",
    "B",
    "2024-03-12",
    "N/A",
    "OK",
    "-17.5",
    "user@example.com",
    "Canberra.",
    "SELECT 1;",
    "[1, 2, 3]",
)


@dataclass(frozen=True)
class Sample:
    text: str
    garbled: bool
    kind: str


def _in_training_half(module: str) -> bool:
    return zlib.crc32(module.encode()) % 2 == 0  # stable across runs, unlike hash()


def _public_objects(module: Any) -> Iterator[Any]:
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield obj


def _docstrings(module: Any) -> Iterator[str]:
    yield inspect.getdoc(module) or ""
    for obj in _public_objects(module):
        yield inspect.getdoc(obj) or ""


def _modules(training: bool) -> Iterator[Any]:
    for name in MODULES:
        if _in_training_half(name) != training:
            continue
        try:
            yield importlib.import_module(name)
        except ImportError:  # e.g. ssl or sqlite3 missing from a minimal Python build
            continue


_PROSE_LINE = re.compile(r"^[A-Za-z(\"']")


def prose_paragraphs(training: bool = False, min_chars: int = 200) -> list[str]:
    """Docstring paragraphs that read as prose: joined lines, two or more sentences, final stop."""
    paragraphs = []
    for module in _modules(training):
        for doc in _docstrings(module):
            for block in doc.split("\n\n"):
                lines = block.strip().splitlines()
                if not lines or not all(_PROSE_LINE.match(line) for line in lines):
                    continue  # skips examples, tables, option lists
                text = " ".join(line.strip() for line in lines)
                if len(text) >= min_chars and text.count(". ") >= 1 and text.endswith("."):
                    paragraphs.append(text)
    return paragraphs


def training_lines() -> list[str]:
    """Every docstring line of the training half of the modules: text to train a tokenizer on."""
    return [
        line.strip()
        for module in _modules(training=True)
        for doc in _docstrings(module)
        for line in doc.splitlines()
        if line.strip()
    ]


def _code_snippets(limit: int) -> list[str]:
    snippets = []
    for module in _modules(training=False):
        for obj in _public_objects(module):
            if not inspect.isfunction(obj):
                continue
            try:
                source = inspect.getsource(obj)
            except (OSError, TypeError):
                continue
            snippets.append("\n".join(source.splitlines()[:30]))
    return snippets[:limit]


def _json_documents(paragraphs: Sequence[str], rng: random.Random, count: int) -> list[str]:
    documents = []
    for index in range(count):
        words = rng.choice(paragraphs).split()
        record = {
            "id": index,
            "title": " ".join(words[:6]),
            "summary": " ".join(words[:25]),
            "tags": sorted({w.strip(".,;:()").lower() for w in words[6:12]}),
            "score": round(rng.random(), 3),
            "published": rng.random() > 0.5,
        }
        documents.append(json.dumps(record, indent=2 if index % 2 else None))
    return documents


# --- corruptions ----------------------------------------------------------------------------------


def shuffle_words(text: str, rng: random.Random) -> str:
    """Shuffle the letters of every word: the text keeps its shape but no word is a word."""

    def scramble(match: re.Match[str]) -> str:
        letters = list(match[0])
        rng.shuffle(letters)
        return "".join(letters)

    return re.sub(r"[^\W\d_]{3,}", scramble, text)


def repetition_loop(text: str, rng: random.Random) -> str:
    """A model stuck in a loop: a sentence, phrase or word repeated after a normal start."""
    sentences = [s for s in re.split(r"(?<=\.)\s+", text) if s]
    style = rng.randrange(3)
    if style == 0:
        unit = rng.choice(sentences)
        return " ".join(sentences[:2] + [unit] * rng.randint(4, 10))
    words = text.split()
    start = rng.randrange(max(1, len(words) - 6))
    size = rng.randint(2, 6) if style == 1 else 1
    unit = " ".join(words[start : start + size])
    return " ".join(words[: start + size] + [unit] * rng.randint(8, 25))


def byte_noise(text: str, rng: random.Random) -> str:
    """Replace 3-10% of the UTF-8 bytes with random bytes and decode with replacement."""
    data = bytearray(text.encode("utf-8"))
    rate = rng.uniform(0.03, 0.10)
    for index in range(len(data)):
        if rng.random() < rate:
            data[index] = rng.randrange(256)
    return data.decode("utf-8", errors="replace")


def truncate_mid_word(text: str, rng: random.Random) -> str:
    """Cut inside a word, somewhere after the first sentence."""
    first_stop = text.find(". ") + 2
    words = [m for m in re.finditer(r"[^\W\d_]{4,}", text) if m.start() > first_stop]
    if not words:
        return text[: len(text) // 2]
    word = rng.choice(words)
    return text[: rng.randint(word.start() + 1, word.end() - 1)]


def token_soup(vocabulary: Sequence[str], rng: random.Random, length: int) -> str:
    """Random vocabulary pieces glued together: what an untrained or broken model emits."""
    return "".join(rng.choice(vocabulary) for _ in range(length))


def _fragment_vocabulary(paragraphs: Sequence[str], rng: random.Random) -> list[str]:
    """Without a tokenizer: word fragments of 1-5 characters, a third of them with a leading space."""
    words = " ".join(paragraphs[:200]).split()
    pieces = []
    for _ in range(3000):
        word = rng.choice(words)
        start = rng.randrange(len(word))
        piece = word[start : start + rng.randint(1, 5)]
        pieces.append((" " if rng.random() < 0.33 else "") + piece)
    return pieces


def build_corpus(seed: int = 0, per_kind: int = 120, vocabulary: Sequence[str] | None = None) -> list[Sample]:
    """``per_kind`` samples of every garbled kind and of clean prose; code, JSON, short, chat and
    international samples as many as exist up to ``per_kind``. ``vocabulary``: decoded tokenizer
    pieces for token soup (word fragments of the corpus when not given)."""
    rng = random.Random(seed)
    paragraphs = prose_paragraphs(training=False)
    rng.shuffle(paragraphs)
    prose = paragraphs[:per_kind]
    samples = [Sample(text, False, "clean_prose") for text in prose]
    samples += [Sample(t, False, "clean_code") for t in _code_snippets(per_kind)]
    samples += [Sample(t, False, "clean_json") for t in _json_documents(paragraphs, rng, per_kind // 2)]
    samples += [Sample(t, False, "clean_short") for t in SHORT]
    samples += [Sample(t, False, "clean_short") for t in (p.split(". ")[0] + "." for p in prose[:20])]
    samples += [Sample(t, False, "clean_chat") for t in CHAT_ANSWERS]
    samples += [Sample(t, False, "clean_intl") for t in INTERNATIONAL]
    pieces = list(vocabulary) if vocabulary else _fragment_vocabulary(paragraphs, rng)
    for index in range(per_kind):
        source = paragraphs[(index * 7 + 3) % len(paragraphs)]
        samples.append(Sample(shuffle_words(source, rng), True, "shuffled"))
        samples.append(Sample(repetition_loop(source, rng), True, "loop"))
        samples.append(Sample(byte_noise(source, rng), True, "byte_noise"))
        samples.append(Sample(truncate_mid_word(source, rng), True, "truncated"))
        samples.append(Sample(token_soup(pieces, rng, rng.randint(20, 120)), True, "token_soup"))
    return samples


def train_prose_tokenizer(lines: Sequence[str], vocab_size: int = 4000) -> Any:
    """A byte-level BPE trained on ``lines``, wrapped as a transformers fast tokenizer.

    Small and fast to train (a second or two), and it splits text the way GPT-style tokenizers do,
    so token-based signals can be tested without downloading a model.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer)


def decoded_vocabulary(tokenizer: Any) -> list[str]:
    """Every token of ``tokenizer`` as the text it decodes to (for token soup)."""
    return [tokenizer.decode([index]) for index in range(len(tokenizer))]

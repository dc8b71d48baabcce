"""Train the per-language lists of frequent words behind ``not_garbled``'s ``content_run`` signal.

Run on a Debian machine (the output, ``pytest_llmeval/data/function_words.json``, is committed)::

    python benchmarks/train_function_words.py

Reads only CALIBRATION sources, the same the letter tables are trained on (``train_letter_tables.py``):
man pages in each language, coreutils' gettext translations, the training-only gettext catalogues and
the Python standard library's docstrings. For each language that has a letter table, the ``--top``
most frequent words are kept: articles, prepositions, pronouns, auxiliaries and conjunctions
dominate every language's frequency list, so a run of many words none of which is among them is
word order no writer produces (vocabulary pieces in random order, "token soup").
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_letter_tables import coreutils_text, man_text, training_catalogues

from pytest_llmeval.checks.letter_pairs import letter_words

OUT = Path(__file__).resolve().parents[1] / "pytest_llmeval" / "data" / "function_words.json"
TABLES = Path(__file__).resolve().parents[1] / "pytest_llmeval" / "data" / "letter_pairs.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--man-pages", type=int, default=60)
    options = parser.parse_args()
    languages = sorted(json.loads(TABLES.read_text(encoding="utf-8"))["languages"])
    texts: dict[str, list[str]] = defaultdict(list)
    import glob

    for lang in languages:
        for variant in {lang, *(p.split("/")[4] for p in glob.glob(f"/usr/share/locale/{lang}_*"))}:
            texts[lang].append(coreutils_text(variant))
            texts[lang].append(man_text(variant, options.man_pages))
    from pytest_llmeval.checks.garble_corpus import prose_paragraphs

    texts["en"].append("\n".join(prose_paragraphs(training=False) + prose_paragraphs(training=True)))
    for lang, parts in training_catalogues().items():
        if lang in languages:
            texts[lang].extend(parts)
    words: dict[str, list[str]] = {}
    for lang in languages:
        text = re.sub(r"--?\w[\w-]*", " ", "\n".join(texts[lang]))
        counter = Counter(letter_words(text))
        words[lang] = [w for w, _ in counter.most_common(options.top)]
        print(f"{lang}: {sum(counter.values())} words; top {' '.join(words[lang][:12])}", file=sys.stderr)
    OUT.write_text(json.dumps({"top": options.top, "languages": words}, ensure_ascii=False, separators=(",", ":")),
                   encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB, {len(words)} languages)")


if __name__ == "__main__":
    main()

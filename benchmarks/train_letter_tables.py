"""Train the letter-pair tables behind ``not_garbled``'s ``implausible_words`` signal.

Run on a Debian machine (the output, ``pytest_llmeval/data/letter_pairs.json``, is committed)::

    python benchmarks/train_letter_tables.py --fortunes fortunes-root

Only CALIBRATION sources are read (see ``benchmarks/build_corpora.py``): every man page installed in
each language, coreutils' gettext translations, English fortunes and the Python standard library's
docstrings. None of the held-out sources (other fortunes, other programs' translations, package
descriptions, READMEs) is read, so the held-out figures measure text the tables never saw.

For each language with enough text in an alphabetic script (Latin, Cyrillic, Greek), the table holds
how often each letter follows another inside a word, word boundaries included ("^t", "he", "e$").
Pairs seen fewer than ``--min-count`` times are dropped (they are noise at this corpus size).
"""

from __future__ import annotations

import argparse
import gettext
import glob
import itertools
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_corpora import fortunes, man_paragraphs

from pytest_llmeval.checks.letter_pairs import letter_words

OUT = Path(__file__).resolve().parents[1] / "pytest_llmeval" / "data" / "letter_pairs.json"


def coreutils_text(lang: str) -> str:
    path = f"/usr/share/locale/{lang}/LC_MESSAGES/coreutils.mo"
    try:
        with open(path, "rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except OSError:
        return ""
    return "\n".join(v for k, v in catalog.items() if k and isinstance(v, str))


def man_text(lang: str, limit: int) -> str:
    folder = "/usr/share/man/man1" if lang == "en" else f"/usr/share/man/{lang}"
    pages = sorted(glob.glob(f"{folder}/**/*.gz", recursive=True))[:limit]
    return "\n".join(p for page in pages for p in man_paragraphs(page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fortunes", type=Path, required=True)
    parser.add_argument("--min-count", type=int, default=3)
    parser.add_argument("--min-words", type=int, default=1000)
    parser.add_argument("--man-pages", type=int, default=60)
    options = parser.parse_args()
    # Japanese, Korean and Chinese catalogues hold only the English words they quote: no table.
    langs = sorted({p.split("/")[4].split("_")[0] for p in
                    glob.glob("/usr/share/locale/*/LC_MESSAGES/coreutils.mo")} - {"ja", "ko", "zh"}
                   | {"en"})
    texts: dict[str, list[str]] = defaultdict(list)
    for lang in langs:
        for variant in {lang, *(p.split("/")[4] for p in glob.glob(f"/usr/share/locale/{lang}_*"))}:
            texts[lang].append(coreutils_text(variant))
            texts[lang].append(man_text(variant, options.man_pages))
    english = options.fortunes / "usr/share/games/fortunes"
    for name in ("wisdom", "computers", "riddles", "fortunes", "literature", "science", "people"):
        if (english / name).exists():
            texts["en"].append("\n".join(fortunes(english / name)))
    from pytest_llmeval.checks.garble_corpus import prose_paragraphs

    texts["en"].append("\n".join(prose_paragraphs(training=False) + prose_paragraphs(training=True)))
    tables: dict[str, dict[str, int]] = {}
    for lang, parts in sorted(texts.items()):
        # coreutils' help texts quote option names and English words: drop words seen only once
        words = Counter(w for part in parts for w in letter_words(re.sub(r"--?\w[\w-]*", " ", part)))
        if sum(words.values()) < options.min_words:
            print(f"{lang}: {sum(words.values())} words, skipped", file=sys.stderr)
            continue
        pairs: Counter[str] = Counter()
        for word, count in words.items():
            padded = f"^{word}$"
            for a, b in itertools.pairwise(padded):
                pairs[a + b] += count
        tables[lang] = {pair: n for pair, n in sorted(pairs.items()) if n >= options.min_count}
        print(f"{lang}: {sum(words.values())} words, {len(tables[lang])} pairs", file=sys.stderr)
    OUT.write_text(json.dumps(tables, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB, {len(tables)} languages)")


if __name__ == "__main__":
    main()

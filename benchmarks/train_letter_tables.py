"""Train the letter-pair tables behind ``not_garbled``'s ``implausible_words`` signal.

Run on a Debian machine (the output, ``pytest_llmeval/data/letter_pairs.json``, is committed)::

    python benchmarks/train_letter_tables.py --fortunes fortunes-root

Only CALIBRATION sources are read (see ``benchmarks/build_corpora.py``): man pages in each
language, coreutils' gettext translations, English fortunes and the Python standard library's
docstrings, plus (session 4) the gettext catalogues of programs that no evaluation part reads
(``TRAINING_DOMAINS``: PostgreSQL's client tools, GTK's property names, Kerberos, APT's library, the
iso-codes names of languages, countries and currencies ...). None of the development, held-out or
fresh sources is read, so those figures measure text the tables never saw.

For each language with enough text in an alphabetic script (Latin, Cyrillic, Greek), the table holds
how often each letter follows one letter and two letters inside a word, word boundaries included
("^^t", "^th", "he$"). Triples seen fewer than ``--min-count`` times are dropped (noise at this corpus
size). Each language's entropy on words it never saw is measured by two-fold cross-validation over
word types: it is what "normal" surprise is for that language, whatever its corpus size.
"""

from __future__ import annotations

import argparse
import gettext
import glob
import json
import re
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_corpora import fortunes, man_paragraphs

from pytest_llmeval.checks.letter_pairs import build_models, letter_counts, letter_words

OUT = Path(__file__).resolve().parents[1] / "pytest_llmeval" / "data" / "letter_pairs.json"


def coreutils_text(lang: str) -> str:
    path = f"/usr/share/locale/{lang}/LC_MESSAGES/coreutils.mo"
    try:
        with open(path, "rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except OSError:
        return ""
    return "\n".join(v for k, v in catalog.items() if k and isinstance(v, str))


# gettext domains that no evaluation part (development, held_out, fresh) reads; see build_corpora.py
TRAINING_DOMAINS = ("initdb-15", "libpq5-15", "plpgsql-15", "pgscripts-15", "gtk20-properties",
                    "gtk30-properties", "mit-krb5", "libapt-pkg6.0", "dpkg-dev", "xkeyboard-config",
                    "iso_639-2", "iso_639-3", "iso_639-5", "iso_3166-1", "iso_3166-2", "iso_3166-3",
                    "iso_4217", "iso_15924", "net-tools")


def catalogue_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return ""
    return "\n".join(v for k, v in catalog.items() if k and isinstance(v, str))


def training_catalogues() -> dict[str, list[str]]:
    """Text of the training-only catalogues (and PostgreSQL's pg_* tools), by base language."""
    texts: dict[str, list[str]] = defaultdict(list)
    for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo")):
        domain = Path(path).stem
        if domain in TRAINING_DOMAINS or (domain.startswith("pg_") and domain.endswith("-15")):
            texts[path.split("/")[4].split("_")[0].split("@")[0]].append(catalogue_text(path))
    return texts


def cross_validated_entropy(words: dict[str, Counter[str]], min_count: int) -> dict[str, float]:
    """Mean -log P per letter of each language's words under tables trained without them (two folds
    split by word type): the surprise of unseen clean words of that language."""
    folds = [{lang: Counter({w: n for w, n in c.items() if zlib.crc32(w.encode()) % 2 == k})
              for lang, c in words.items()} for k in (0, 1)]
    loss: dict[str, float] = defaultdict(float)
    letters: dict[str, float] = defaultdict(float)
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        models = build_models({lang: pruned(letter_counts(c), min_count) for lang, c in train.items()})
        for lang, counter in test.items():
            for word, count in counter.most_common(5000):
                loss[lang] -= models[lang].word_score(word) * (len(word) + 1) * count
                letters[lang] += (len(word) + 1) * count
    return {lang: round(loss[lang] / letters[lang], 4) for lang in words}


def pruned(counts: tuple[dict[str, int], dict[str, int]], min_count: int) -> tuple[dict[str, int], dict[str, int]]:
    pairs, triples = counts
    return pairs, {t: n for t, n in triples.items() if n >= min_count}


def man_text(lang: str, limit: int) -> str:
    folder = "/usr/share/man/man1" if lang == "en" else f"/usr/share/man/{lang}"
    pages = sorted(glob.glob(f"{folder}/**/*.gz", recursive=True))[:limit]
    return "\n".join(p for page in pages for p in man_paragraphs(page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fortunes", type=Path, required=True)
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--min-words", type=int, default=3000)
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
    for lang, parts in training_catalogues().items():
        if lang not in ("ja", "ko", "zh"):
            texts[lang].extend(parts)
    words: dict[str, Counter[str]] = {}
    for lang, parts in sorted(texts.items()):
        # help texts quote option names ("--mode"): those are not words of the language
        text = re.sub(r"--?\w[\w-]*", " ", "\n".join(parts))
        counter = Counter(letter_words(text))
        if sum(map(len, counter.elements())) < 0.5 * sum(1 for c in text if c.isalpha()):
            print(f"{lang}: mostly a script without tables (the Latin words are quoted English)", file=sys.stderr)
            continue
        if sum(counter.values()) < options.min_words:
            print(f"{lang}: {sum(counter.values())} words, skipped", file=sys.stderr)
            continue
        words[lang] = counter
    entropy = cross_validated_entropy(words, options.min_count)
    languages = {}
    for lang, counter in words.items():
        pairs, triples = pruned(letter_counts(counter), options.min_count)
        languages[lang] = {"entropy": entropy[lang], "pairs": dict(sorted(pairs.items())),
                           "triples": dict(sorted(triples.items()))}
        print(f"{lang}: {sum(counter.values())} words, {len(pairs)} pairs, {len(triples)} triples, "
              f"entropy {entropy[lang]}", file=sys.stderr)
    OUT.write_text(json.dumps({"languages": languages}, ensure_ascii=False, separators=(",", ":")),
                   encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB, {len(languages)} languages)")


if __name__ == "__main__":
    main()

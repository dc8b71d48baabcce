"""False alarms of ``not_garbled``'s word-list signal in languages with and without a word list.

Run: ``python benchmarks/word_list_languages.py [--per-language 120]``. Reads the gettext catalogues
installed under ``/usr/share/locale`` (translations by people outside this project, in about a
hundred languages), takes up to N messages of 8+ words per language (no printf placeholders), and
prints for each language how many have an ``anagram_words`` value over the default threshold, and how
many fail ``not_garbled`` as a whole. The letter tables were trained on some of these catalogues, the
word lists (wordfreq) on none, so the anagram figures are a fair test of that signal, the whole
check's a calibration-side figure.
"""

from __future__ import annotations

import argparse
import gettext
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_llmeval.checks import check
from pytest_llmeval.checks.lexicon import anagram_share

LOCALES = Path("/usr/share/locale")


def messages(language: str, limit: int, rng: random.Random) -> list[str]:
    texts: set[str] = set()
    for path in sorted((LOCALES / language / "LC_MESSAGES").glob("*.mo")):
        try:
            with path.open("rb") as handle:
                catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
        except (OSError, ValueError, LookupError, UnicodeDecodeError):
            continue
        texts.update(v for v in catalogue.values() if isinstance(v, str) and len(v.split()) >= 8 and "%" not in v)
    ordered = sorted(texts)
    rng.shuffle(ordered)
    return ordered[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-language", type=int, default=120)
    args = parser.parse_args()
    rng = random.Random(5)
    languages = sorted(p.name for p in LOCALES.iterdir() if (p / "LC_MESSAGES").is_dir())
    totals = {"read": 0, "anagram": 0, "failed": 0, "texts": 0}
    for language in languages:
        texts = messages(language, args.per_language, rng)
        if len(texts) < 20:
            continue
        read = anagram = failed = 0
        for text in texts:
            share, _ = anagram_share(text)
            read += share is not None
            anagram += (share or 0.0) > 0.2
            failed += not check("not_garbled", text).passed
        totals["read"] += read
        totals["anagram"] += anagram
        totals["failed"] += failed
        totals["texts"] += len(texts)
        print(f"{language:12s} {len(texts):4d} texts; anagram_words read {read:4d}, over 0.2 {anagram:3d}; "
              f"not_garbled fails {failed:3d}")
    print(f"all: {totals['texts']} texts; anagram_words read {totals['read']}, over 0.2 {totals['anagram']}; "
          f"not_garbled fails {totals['failed']} ({totals['failed'] / max(1, totals['texts']):.3%})")


if __name__ == "__main__":
    main()

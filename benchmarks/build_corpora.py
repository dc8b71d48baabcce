"""Build the clean-text corpora for the heuristic-check benchmarks from text installed on a Debian machine.

Run once (Debian bookworm; the output is committed, so the benchmarks run anywhere)::

    apt-get download fortunes fortunes-de fortunes-es fortunes-it fortunes-ru fortunes-zh fortunes-pl
    for f in *.deb; do dpkg-deb -x $f fortunes-root; done
    python benchmarks/build_corpora.py --fortunes fortunes-root

Texts are real, written by people outside this project, and split by SOURCE, never by line:

calibration (tuning allowed)
    man pages (English and translations: de fr es it pl ru ja zh_CN ...), coreutils' gettext
    translations (/usr/share/locale/*/LC_MESSAGES/coreutils.mo), English fortunes, the Python standard
    library's docstrings and code.
development (looked at while building the checks; never used to train the letter tables)
    fortunes in German, Spanish, Italian, Russian, Chinese and Polish; gettext translations of other
    programs (glib, gtk, PackageKit, Linux-PAM, shared-mime-info ...) in many languages including
    Japanese, Korean and Chinese; Debian package descriptions (English); README/markdown long
    descriptions of the Python packages installed in the virtualenv (lists, tables, code, URLs); Python
    code of third-party packages; JSON files installed under /usr/share.
held_out (added after development was looked at; measured, never tuned on)
    gettext translations of yet other programs (PostgreSQL, systemd, gtk3, libc, git, make, man-db,
    GStreamer ...) in 16 languages; the Python documentation (pydoc_data); README files under
    /usr/share/doc; code of other packages.

fresh (session 4, ``--fresh``, written to ``data/fresh_texts.jsonl``; built after the development of
the checks and measured once when they were final)
    gettext translations of programs no other part reads and no letter table was trained on (CUPS's
    printer tools, GnuTLS, libhandy, notification-daemon, GSettings schemas, psmisc, popt, xz, binutils'
    ld/gprof/opcodes, libidn2, elfutils ...) in 30 languages, half of them new to evaluation (Catalan,
    Basque, Galician, Danish, Norwegian, Romanian, Croatian, Slovak, Slovenian, Lithuanian, Latvian,
    Bulgarian, Greek, Indonesian, Vietnamese, Malay, Icelandic, Serbian, Hebrew, Persian, Hindi,
    Georgian, Malayalam); Debian's licence texts; GNU info manuals; docstrings of third-party Python
    packages; Debian NEWS files. Its corruptions use a seed (1515) no other part used.

Licences: man pages and gettext catalogues are GPL/LGPL/BSD-licensed documentation of free software;
fortunes are public-domain or freely redistributable collections (see each Debian package's copyright
file); package descriptions and READMEs are under their packages' free licences. Only short excerpts
are kept, with their source path in every record.

Writes ``benchmarks/data/clean_texts.jsonl``: ``{"id", "split", "source", "register", "lang", "text"}``.
The letter-pair tables of ``not_garbled`` are trained from the calibration SOURCES by
``benchmarks/train_letter_tables.py``.
"""

from __future__ import annotations

import argparse
import gettext
import glob
import inspect
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

OUT = Path(__file__).parent / "data" / "clean_texts.jsonl"
FRESH_OUT = Path(__file__).parent / "data" / "fresh_texts.jsonl"
MAN_LANGS = ("en", "de", "fr", "es", "it", "pl", "ru", "ja", "zh_CN", "pt_BR", "nl", "sv", "cs",
             "uk", "hu", "fi", "da", "ro", "tr", "id", "ko", "zh_TW", "sr", "sl")
HELD_OUT_DOMAINS = ("glib20", "gtk20", "PackageKit", "Linux-PAM", "shared-mime-info",
                    "software-properties", "gdk-pixbuf", "at-spi2-core", "xdg-user-dirs", "apt",
                    "dpkg", "debconf", "tar", "gnupg2", "wget", "bash", "sed", "grep", "findutils")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def _long_enough(text: str) -> bool:
    cjk = len(CJK.findall(text))
    return len(text.split()) >= 8 or cjk >= 20


def man_paragraphs(path: str) -> Iterator[str]:
    env = {**os.environ, "MANWIDTH": "2000", "LANG": "C.UTF-8"}
    try:
        rendered = subprocess.run(["man", "-l", "-E", "UTF-8", path], capture_output=True, env=env,
                                  timeout=20, check=False).stdout
        plain = subprocess.run(["col", "-bx"], input=rendered, capture_output=True, check=False).stdout
    except subprocess.TimeoutExpired:
        return
    text = plain.decode("utf-8", "replace")
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines or len(lines) > 12:
            continue
        paragraph = " ".join(lines) if len(lines) <= 3 else "\n".join(lines)
        if "\ufffd" not in paragraph and 80 <= len(paragraph) <= 900 and _long_enough(paragraph):
            yield paragraph


def mo_messages(path: str) -> Iterator[str]:
    try:
        with open(path, "rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    except (OSError, ValueError):  # missing catalogue, or not a valid .mo file
        return
    for key, value in catalog.items():
        if not isinstance(value, str) or not key or "Project-Id-Version" in value:
            continue
        text = value.strip()
        if 60 <= len(text) <= 900 and _long_enough(text) and "\ufffd" not in text:
            yield text


def fortunes(path: Path) -> Iterator[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # the non-.u8 Polish files are ISO-8859-2; the .u8 copies are used instead
    for entry in re.split(r"\n%\n", text):
        entry = entry.strip("\n")
        if 60 <= len(entry) <= 700 and _long_enough(entry):
            yield entry


def package_descriptions() -> Iterator[str]:
    text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    for stanza in text.split("\n\n"):
        match = re.search(r"^Description: (.*)\n((?: .*\n?)*)", stanza, re.MULTILINE)
        if not match:
            continue
        body = [line[1:] for line in match.group(2).splitlines()]
        paragraphs = "\n".join("" if line == "." else line for line in body)
        for paragraph in paragraphs.split("\n\n"):
            if 80 <= len(paragraph) <= 900 and _long_enough(paragraph):
                yield paragraph.strip()


def package_readmes() -> Iterator[str]:
    from importlib import metadata

    for dist in metadata.distributions():
        body = dist.metadata.get_payload() if hasattr(dist.metadata, "get_payload") else None
        body = body or dist.metadata.get("Description") or ""
        for block in re.split(r"\n\s*\n(?=\S)", body):
            block = block.strip()
            if 120 <= len(block) <= 900 and _long_enough(block):
                yield block


def stdlib_docstrings() -> Iterator[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pytest_llmeval.checks.garble_corpus import prose_paragraphs

    yield from prose_paragraphs(training=False) + prose_paragraphs(training=True)


def python_functions(modules: list[str]) -> Iterator[str]:
    import importlib

    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        for _, member in inspect.getmembers(module, inspect.isfunction):
            try:
                source = inspect.getsource(member)
            except (OSError, TypeError):
                continue
            if 150 <= len(source) <= 900:
                yield source


def json_files() -> Iterator[str]:
    for path in sorted(glob.glob("/usr/share/**/*.json", recursive=True))[:400]:
        try:
            raw = Path(path).read_text(encoding="utf-8")
            json.loads(raw)
        except (OSError, ValueError):  # unreadable, not UTF-8, or not JSON after all
            raw = ""
        if not raw:
            continue
        if 60 <= len(raw) <= 900:
            yield raw.strip()


FRESH_DOMAINS = ("postgres-15", "psql-15", "systemd", "gtk30", "libc", "git", "make", "man-db",
                 "gstreamer-1.0", "avahi", "appstream", "gettext-tools", "shadow", "binutils",
                 "diffutils", "procps-ng", "polkit-1", "libsecret", "adduser", "python-apt")


def python_doc_topics() -> Iterator[str]:
    """Paragraphs of the Python documentation shipped with Python (pydoc_data.topics)."""
    from pydoc_data.topics import topics

    for body in topics.values():
        for block in re.split(r"\n\s*\n", body):
            block = block.strip()
            if 100 <= len(block) <= 900 and _long_enough(block):
                yield block


def doc_readmes() -> Iterator[str]:
    import gzip

    for path in sorted(glob.glob("/usr/share/doc/*/README*"))[:300]:
        try:
            raw = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        for block in re.split(r"\n\s*\n", text):
            block = block.strip()
            if 100 <= len(block) <= 900 and _long_enough(block):
                yield block


# --- the fresh held-out part (session 4): sources no earlier part, and no letter table, ever read ---
# gettext domains used by no other part and excluded from training (train_letter_tables.py)
UNSEEN_DOMAINS = ("system-config-printer", "cups-pk-helper", "gnutls30", "libhandy", "notification-daemon",
                  "gsettings-desktop-schemas", "psmisc", "popt", "xz", "ld", "opcodes", "gprof", "libidn2",
                  "wget-gnulib", "man-db-gnulib", "elfutils", "gettext-runtime")
# languages: those the issue names (German, Spanish, French, CJK, Cyrillic) and languages no other
# evaluation part has, including scripts without letter tables (Hebrew, Persian, Hindi, Georgian ...)
FRESH_LANGS = ("de", "es", "fr", "ja", "zh_CN", "ko", "ru", "ca", "eu", "gl", "da", "nb", "ro", "hr", "sk",
               "sl", "lt", "lv", "bg", "el", "id", "vi", "ms", "is", "sr", "he", "fa", "hi", "ka", "ml")
# third-party packages whose docstrings and code no other part read
FRESH_MODULES = ("starlette.routing", "starlette.responses", "hypothesis.strategies", "arrow.arrow",
                 "lark.lark", "markdown.core", "joblib.parallel", "fsspec.spec", "filelock._api",
                 "anyio._core._fileio", "dateutil.rrule", "cloudpickle.cloudpickle")


def license_paragraphs() -> Iterator[str]:
    """Paragraphs of the licence texts Debian ships (/usr/share/common-licenses)."""
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.islink(path):
            continue  # "GPL" links to "GPL-3": read each text once
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        for block in re.split(r"\n\s*\n", text):
            block = " ".join(block.split())
            if 100 <= len(block) <= 900 and _long_enough(block):
                yield block


def info_paragraphs() -> Iterator[str]:
    """Paragraphs of GNU info manuals (/usr/share/info/*.info.gz)."""
    import gzip

    for path in sorted(glob.glob("/usr/share/info/*.info*.gz")):
        try:
            text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        for block in re.split(r"\n\s*\n", text):
            block = block.strip()
            if "\x1f" in block or "* Menu:" in block:
                continue  # node separators and menus
            if 100 <= len(block) <= 900 and _long_enough(block):
                yield block


def module_docstrings(modules: tuple[str, ...]) -> Iterator[str]:
    """Docstrings (prose, with reST and code in them) of the named modules' functions and classes."""
    import importlib

    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        for _, member in inspect.getmembers(module, lambda m: inspect.isfunction(m) or inspect.isclass(m)):
            doc = inspect.getdoc(member) or ""
            if 100 <= len(doc) <= 900 and _long_enough(doc):
                yield doc


def news_paragraphs() -> Iterator[str]:
    """Release notes Debian packages ship (/usr/share/doc/*/NEWS*): terse English with versions."""
    import gzip

    for path in sorted(glob.glob("/usr/share/doc/*/NEWS*"))[:120]:
        try:
            raw = gzip.decompress(Path(path).read_bytes()) if path.endswith(".gz") else Path(path).read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError, gzip.BadGzipFile):
            continue
        for block in re.split(r"\n\s*\n", text):
            block = block.strip()
            if 100 <= len(block) <= 900 and _long_enough(block):
                yield block


def build_fresh(per_source: int) -> list[dict[str, str]]:
    """The fresh held-out part: built after the checks were developed on the other parts."""
    rng = random.Random(1515)  # a seed no other part uses
    records: list[dict[str, str]] = []

    def add(source: str, register: str, lang: str, texts: list[str]) -> None:
        for index, text in enumerate(texts):
            records.append({"id": f"{source}#{index}", "split": "fresh", "source": source,
                            "register": register, "lang": lang, "text": text})

    for lang in FRESH_LANGS:
        texts = [t for d in UNSEEN_DOMAINS for t in mo_messages(f"/usr/share/locale/{lang}/LC_MESSAGES/{d}.mo")]
        add(f"gettext3:{lang}", "ui_message", lang, sample(iter(texts), per_source, rng))
    add("debian:licenses", "license", "en", sample(license_paragraphs(), 3 * per_source, rng))
    add("gnu:info", "info_manual", "en", sample(info_paragraphs(), 3 * per_source, rng))
    add("python:third-party-docstrings", "docstring", "en", sample(module_docstrings(FRESH_MODULES),
                                                                    3 * per_source, rng))
    add("debian:news", "news", "en", sample(news_paragraphs(), 2 * per_source, rng))
    return records


def sample(items: Iterator[str], count: int, rng: random.Random) -> list[str]:
    unique = list(dict.fromkeys(items))
    rng.shuffle(unique)
    return unique[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fortunes", type=Path, help="folder the fortunes .debs were "
                        "extracted into (dpkg-deb -x)")
    parser.add_argument("--per-source", type=int, default=14)
    parser.add_argument("--fresh", action="store_true", help=f"write only the fresh held-out part ({FRESH_OUT.name})")
    options = parser.parse_args()
    if options.fresh:
        fresh = build_fresh(options.per_source)
        with FRESH_OUT.open("w", encoding="utf-8") as sink:
            for record in fresh:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"wrote {len(fresh)} texts to {FRESH_OUT}")
        return
    if options.fortunes is None:
        parser.error("--fortunes is required to build the calibration, development and held-out parts")
    rng = random.Random(15)
    records: list[dict[str, str]] = []

    def add(split: str, source: str, register: str, lang: str, texts: list[str]) -> None:
        for index, text in enumerate(texts):
            records.append({"id": f"{source}#{index}", "split": split, "source": source,
                            "register": register, "lang": lang, "text": text})

    n = options.per_source
    # --- calibration sources
    for lang in MAN_LANGS:
        folder = "/usr/share/man/man1" if lang == "en" else f"/usr/share/man/{lang}"
        pages = sorted(glob.glob(f"{folder}/**/*.gz", recursive=True))
        rng.shuffle(pages)
        paragraphs: list[str] = []
        for page in pages[:25]:
            paragraphs += list(man_paragraphs(page))[:3]
        add("calibration", f"man:{lang}", "manual", lang, sample(iter(paragraphs), n, rng))
    for path in sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/coreutils.mo")):
        lang = path.split("/")[4]
        add("calibration", f"coreutils.mo:{lang}", "ui_message", lang, sample(mo_messages(path), 4, rng))
    english = options.fortunes / "usr/share/games/fortunes"
    for name in ("wisdom", "computers", "riddles"):
        add("calibration", f"fortunes:{name}", "fortune", "en", sample(fortunes(english / name), n, rng))
    add("calibration", "python:stdlib-docstrings", "docs", "en", sample(stdlib_docstrings(), 3 * n, rng))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pytest_llmeval.checks.garble_corpus import MODULES

    add("calibration", "python:stdlib-code", "code", "code", sample(python_functions(MODULES), 2 * n, rng))

    # --- held-out sources
    for lang in ("de", "es", "it", "ru", "zh", "pl"):
        files = sorted(p for p in (english / lang).glob("*") if p.is_file())
        texts = [t for f in files for t in list(fortunes(f))[:40]]
        add("development", f"fortunes-{lang}", "fortune", lang, sample(iter(texts), 2 * n, rng))
    for lang in ("de", "fr", "es", "ja", "zh_CN", "zh_TW", "ko", "ru", "uk", "pt_BR", "it", "pl",
                 "nl", "sv", "cs", "tr", "vi", "el", "hu", "fi"):
        texts = [t for d in HELD_OUT_DOMAINS for t in
                 mo_messages(f"/usr/share/locale/{lang}/LC_MESSAGES/{d}.mo")]
        add("development", f"gettext:{lang}", "ui_message", lang, sample(iter(texts), n, rng))
    add("development", "debian:descriptions", "description", "en", sample(package_descriptions(), 4 * n, rng))
    add("development", "pypi:readmes", "markdown", "en", sample(package_readmes(), 4 * n, rng))
    third_party = ["jsonschema.validators", "pydantic.main", "yaml", "click.core", "rich.text",
                   "tokenizers", "numpy.lib.npyio", "scipy.stats._stats_py", "referencing._core",
                   "httpx._client", "packaging.version", "pluggy._manager"]
    add("development", "python:third-party-code", "code", "code", sample(python_functions(third_party), 2 * n, rng))
    add("development", "debian:json-files", "json", "json", sample(json_files(), n, rng))

    # --- held-out sources: added after the development part had been looked at, never tuned on
    for lang in ("de", "fr", "es", "ja", "zh_CN", "zh_TW", "ko", "ru", "uk", "pt_BR", "it", "pl",
                 "nl", "sv", "cs", "tr"):
        texts = [t for d in FRESH_DOMAINS for t in
                 mo_messages(f"/usr/share/locale/{lang}/LC_MESSAGES/{d}.mo")]
        add("held_out", f"gettext2:{lang}", "ui_message", lang, sample(iter(texts), n, rng))
    add("held_out", "python:docs-topics", "docs", "en", sample(python_doc_topics(), 5 * n, rng))
    add("held_out", "debian:readmes", "readme", "en", sample(doc_readmes(), 3 * n, rng))
    add("held_out", "python:more-code", "code", "code",
        sample(python_functions(["pygments.lexer", "jinja2.environment", "urllib3.connectionpool",
                                 "requests.sessions", "sqlite3.dump", "email.utils", "shlex"]), n, rng))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as sink:
        for record in records:
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    by_split: dict[str, int] = {}
    for record in records:
        by_split[record["split"]] = by_split.get(record["split"], 0) + 1
    print(f"wrote {len(records)} texts to {OUT}: {by_split}; {OUT.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()

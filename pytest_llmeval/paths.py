"""Where the plugin and the ``llmeval`` command keep their files by default: one definition each.

The plugin resolves them against pytest's rootdir; the command, run from the folder of the suite,
against the current folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "BASELINE_FILE",
    "CACHE_FILE",
    "FINGERPRINT_MEMO_FILE",
    "HISTORY_FILE",
    "MEMORISATION_INDEX_DIR",
    "REPORT_FILE",
    "default_baseline",
    "default_cache",
    "default_history",
    "default_memorisation_index_dir",
    "shown_path",
]

HISTORY_FILE = Path(".llmeval") / "history.db"
CACHE_FILE = Path(".llmeval") / "cache.db"
FINGERPRINT_MEMO_FILE = "fingerprints.json"  # beside the cache
MEMORISATION_INDEX_DIR = "memorisation"  # beside the cache: saved n-gram indexes of training files
BASELINE_FILE = Path("llmeval-baseline.json")
REPORT_FILE = Path("llmeval-report.html")


def default_history(root: Path) -> Path:
    """The run history under ``root`` (``.llmeval/history.db``)."""
    return root / HISTORY_FILE


def default_cache(root: Path) -> Path:
    """The generation cache under ``root`` (``.llmeval/cache.db``)."""
    return root / CACHE_FILE


def default_baseline(root: Path) -> Path:
    """The committed baseline under ``root`` (``llmeval-baseline.json``)."""
    return root / BASELINE_FILE


def default_memorisation_index_dir(cache: Path) -> Path:
    """Where saved memorisation indexes live: beside the generation cache file ``cache``
    (``.llmeval/memorisation``)."""
    return cache.parent / MEMORISATION_INDEX_DIR


def shown_path(path: str | Path, cwd: Path) -> str:
    """``path`` as the person who ran the command from ``cwd`` would type it: an absolute path under
    ``cwd`` relative to it (terminal lines stay short); anything else (another place, a relative
    path, ``py:`` or ``openai:...`` sources) as given."""
    text = str(path)
    if not Path(text).is_absolute():
        return text
    try:
        relative = Path(text).relative_to(cwd.absolute())
    except ValueError:
        return text
    return relative.as_posix() if relative.parts else "."

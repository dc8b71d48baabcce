"""How records become stored values: rounded numbers, output hashes, run ids and storable text.

Shared by the run history (``store.py``) and the baseline file (``baseline_file.py``), so a number
or a text is stored the same way in both.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "SIGNIFICANT_DIGITS",
    "iso_utc",
    "new_run_id",
    "output_sha256",
    "round_number",
    "round_sig",
    "storable_text",
    "to_json",
]

SIGNIFICANT_DIGITS = 6


def new_run_id() -> str:
    """A fresh run id: 12 hex characters, so a 4-6 character prefix is almost always unique."""
    return secrets.token_hex(6)


def round_sig(value: float, digits: int = SIGNIFICANT_DIGITS) -> float | None:
    """``value`` rounded to ``digits`` significant digits; NaN and infinities become ``None``.

    Baselines store rounded numbers so a code-review diff shows 0.416667, not 0.41666666666666663;
    comparisons round the current run the same way, so rounding alone never looks like a drop. JSON
    has no NaN, hence ``None``.
    """
    number = float(value)
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def output_sha256(output: str | None) -> str | None:
    """The SHA-256 of an output's UTF-8 bytes (``None`` when the test produced no output)."""
    if output is None:
        return None
    return hashlib.sha256(output.encode("utf-8", errors="surrogatepass")).hexdigest()


def iso_utc(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as an ISO 8601 UTC time to the second."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def round_number(value: Any) -> Any:
    """A float rounded with ``round_sig``; anything else (ints, bools, ``None``) as it is."""
    # bool is an int subclass: keep True/False as they are; ints stay exact.
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return round_sig(value)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str | None) -> str | None:
    """``text`` with any lone surrogate replaced by U+FFFD. A Python backend or a server's JSON can
    produce one; neither SQLite nor a UTF-8 file can hold it, and one output must not lose a run."""
    if text is None:
        return None
    return _SURROGATE.sub("\ufffd", text)


def to_json(value: Any) -> str:
    """``value`` as stable, storable JSON text (sorted keys, UTF-8 characters kept)."""
    # default=str: a stray non-JSON value (a Path in settings) is kept readable rather than losing
    # the whole run; sort_keys keeps stored text stable.
    return storable_text(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)) or ""

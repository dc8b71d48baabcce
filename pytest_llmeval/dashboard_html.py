"""The self-contained HTML dashboard: one file, styles and script inline, the run data embedded as JSON.

The page is built in the browser by ``dashboard_assets/dashboard.js`` from the embedded data; this
module only assembles the file. Nothing in the page is fetched, so the report opens from a CI
artifact, an e-mail attachment or a machine without network.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["dashboard_json", "render_dashboard_html"]

_ASSETS = "dashboard_assets"

# Characters that must not appear literally inside the <script> element: '<' could start
# '</script>' or '<!--' (which changes how the HTML parser ends the element), '>' and '&' are escaped
# for good measure (older parsers, people pasting the block into HTML), and U+2028/U+2029 are line
# terminators in older JavaScript. Each is valid as a \u escape inside a JSON string, and outside
# strings JSON never contains them, so the replacement is exact.
_UNSAFE_IN_SCRIPT = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")
# A lone surrogate (possible in a Python str, not in UTF-8) would make writing the file fail.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_PLACEHOLDER_RE = re.compile(r"\{\{ (title|css|js|data) \}\}")


@cache
def _asset(name: str) -> str:
    return files("pytest_llmeval").joinpath(_ASSETS).joinpath(name).read_text(encoding="utf-8")


def _finite(value: Any) -> Any:
    # json.dumps writes NaN/Infinity, which JSON.parse rejects; an unknown number is shown as missing.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dashboard_json(data: Mapping[str, Any]) -> str:
    """``data`` as JSON that is safe to place verbatim inside a ``<script>`` element."""
    # default=str: model and settings may hold any value (a Path, an enum); the page shows them as text.
    text = json.dumps(_finite(data), ensure_ascii=False, default=str, separators=(",", ":"))
    text = _UNSAFE_RE.sub(lambda m: _UNSAFE_IN_SCRIPT[m.group()], text)
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _title(data: Mapping[str, Any]) -> str:
    latest = data.get("latest") or {}
    if not latest:
        return "llmeval report: no runs"
    parts = [f"llmeval report: run {latest.get('short_id') or '?'}"]
    if latest.get("started_at"):
        parts.append(str(latest["started_at"]))
    source = (latest.get("model") or {}).get("source")
    if source:
        parts.append(str(source))
    return " · ".join(parts)


def render_dashboard_html(data: Mapping[str, Any]) -> str:
    """The dashboard page for ``data`` (the builder's dict: latest run, runs, cases...) as one HTML string."""
    css, js = _asset("dashboard.css"), _asset("dashboard.js")
    # The inline code is ours, but a stray closing tag in it would silently truncate the page.
    if "</style" in css.lower():
        raise RuntimeError("dashboard.css must not contain '</style'")
    if "</script" in js.lower() or "<!--" in js:
        raise RuntimeError("dashboard.js must not contain '</script' or '<!--'")
    values = {
        "title": html.escape(_title(data), quote=False),
        "css": css,
        "js": js,
        "data": dashboard_json(data),
    }
    # One pass over the template only: text inside the values is never taken for a placeholder.
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], _asset("dashboard.html"))

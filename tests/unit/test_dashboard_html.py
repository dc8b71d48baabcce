"""The HTML dashboard file: self-contained, and no text from a run can break out of its data block."""

from __future__ import annotations

import json
import math
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from pytest_llmeval.dashboard_html import dashboard_json, render_dashboard_html

DATA_BLOCK = re.compile(r'<script type="application/json" id="llmeval-data">(.*?)</script>', re.DOTALL)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # an identifier, never fetched
HOSTILE = "</script><script>alert(1)</script> <!-- <script> \u2028 \u2029 & &amp; ]]> {{ js }} \x00 \ud800 é 日本"


def small_data(output: str = "Click Forgot Password.") -> dict[str, Any]:
    return {
        "format": 1,
        "generated_at": "2026-11-22 17:00:00",
        "history": ".llmeval/history.db",
        "latest": {
            "run_id": "a" * 32,
            "short_id": "a" * 12,
            "started_at": "2026-11-22 16:59:01",
            "duration_s": 1.5,
            "model": {"source": "./checkpoint", "backend": "hf"},
            "settings": {"max_new_tokens": 64},
            "git_commit": None,
            "complete": True,
            "counts": {"passed": 1},
            "total": 1,
            "pass_rate": 1.0,
        },
        "reference": {"kind": None, "label": None},
        "comparison_counts": None,
        "breakdowns": {"mode": [], "file": [], "tag": []},
        "runs": [],
        "metrics": [],
        "cases": [
            {
                "node_id": "evals/a.eval.yaml::one",
                "file": "evals/a.eval.yaml",
                "mode": None,
                "tags": [],
                "outcome": "passed",
                "failed": False,
                "regressed": False,
                "change": None,
                "message": None,
                "duration_s": 0.1,
                "prompt": "How do I reset my password?",
                "output": output,
                "baseline_output": None,
                "baseline_outcome": None,
                "baseline_output_is_excerpt": False,
                "diff": None,
                "checks": [],
                "metrics": [],
                "generations": 1,
            }
        ],
    }


def embedded(page: str) -> Any:
    found = DATA_BLOCK.findall(page)
    assert len(found) == 1
    return json.loads(found[0])


def asset(name: str) -> str:
    return files("pytest_llmeval").joinpath("dashboard_assets", name).read_text(encoding="utf-8")


def test_page_inlines_styles_and_script_and_fetches_nothing() -> None:
    page = render_dashboard_html(small_data())
    assert page.startswith("<!DOCTYPE html>")
    assert asset("dashboard.css").strip() in page
    assert asset("dashboard.js").strip() in page
    outside_data = DATA_BLOCK.sub("", page)
    assert "{{" not in outside_data
    lowered = outside_data.lower().replace(SVG_NAMESPACE, "")
    for forbidden in (
        "http://",
        "https://",
        "//cdn",
        "src=",
        "href=",
        "<link",
        "@import",
        "url(",
        "fetch(",
        "xmlhttprequest",
    ):
        assert forbidden not in lowered, forbidden
    # Two script elements: the data and the inline code, nothing else.
    assert lowered.count("<script") == 2
    assert "<noscript>" in page


def test_script_never_builds_markup_from_strings() -> None:
    # All run text goes through textContent; these APIs would parse it as HTML.
    js = asset("dashboard.js")
    for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert api not in js, api


def test_hostile_output_survives_the_round_trip_and_cannot_close_the_script() -> None:
    data = small_data(output=HOSTILE)
    data["cases"][0]["prompt"] = HOSTILE
    data["latest"]["model"]["source"] = "</title><script>alert(2)</script>"
    page = render_dashboard_html(data)

    raw = DATA_BLOCK.findall(page)[0]
    for char in "<>&\u2028\u2029":
        assert char not in raw
    assert embedded(page) == data
    # Only the two closing tags we wrote: the data's and the code's.
    assert page.lower().count("</script") == 2
    assert "<script>alert" not in page
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title is not None and "&lt;/title&gt;&lt;script&gt;" in title.group(1)


def test_page_encodes_as_utf8_even_with_a_lone_surrogate(tmp_path: Path) -> None:
    page = render_dashboard_html(small_data(output="half a pair: \udc80"))
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    assert embedded(path.read_text(encoding="utf-8"))["cases"][0]["output"] == "half a pair: \udc80"


def test_title_names_the_latest_run() -> None:
    page = render_dashboard_html(small_data())
    title = re.search(r"<title>(.*?)</title>", page, re.DOTALL)
    assert title is not None
    assert "a" * 12 in title.group(1) and "2026-11-22 16:59:01" in title.group(1) and "./checkpoint" in title.group(1)


def test_an_empty_history_still_renders() -> None:
    data: dict[str, Any] = {
        "format": 1,
        "latest": None,
        "reference": None,
        "comparison_counts": None,
        "breakdowns": None,
        "runs": [],
        "metrics": [],
        "cases": [],
    }
    page = render_dashboard_html(data)
    assert "<title>llmeval report: no runs</title>" in page
    assert embedded(page) == data


def test_numbers_json_cannot_hold_become_null_and_odd_values_become_text() -> None:
    data = small_data()
    data["runs"] = [{"short_id": "x", "pass_rate": math.nan, "metrics": {"perplexity": math.inf}}]
    data["latest"]["settings"] = {"adapter": Path("adapters/lora"), "stop": ("\n\n",)}
    parsed = json.loads(dashboard_json(data))
    assert parsed["runs"][0] == {"short_id": "x", "pass_rate": None, "metrics": {"perplexity": None}}
    assert parsed["latest"]["settings"] == {"adapter": "adapters/lora", "stop": ["\n\n"]}

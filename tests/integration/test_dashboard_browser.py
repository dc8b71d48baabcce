"""The HTML dashboard in a real browser: it draws, its charts and filters work, and a screenshot is kept.

Runs headless Chromium (Debian's ``chromium`` package) through Playwright. Skipped only where no
Chromium is installed; a missing ``playwright`` package is an error, as for any test dependency.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from pytest_llmeval.dashboard_html import render_dashboard_html

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTILE_OUTPUT = (
    'Refunds take <b>5 days</b></script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
)


def _case(node_id: str, outcome: str, **extra: Any) -> dict[str, Any]:
    case = {
        "node_id": node_id,
        "file": node_id.split("::")[0],
        "mode": "success_mode",
        "tags": [],
        "outcome": outcome,
        "failed": outcome in ("failed", "error", "xfailed"),
        "regressed": False,
        "change": "unchanged",
        "message": None,
        "duration_s": 0.12,
        "prompt": f"prompt of {node_id}",
        "output": f"output of {node_id}",
        "baseline_output": f"output of {node_id}",
        "baseline_outcome": outcome,
        "baseline_output_is_excerpt": False,
        "diff": None,
        "checks": [],
        "metrics": [],
        "generations": 1,
    }
    case.update(extra)
    return case


def _run_id(n: int) -> str:
    return hashlib.md5(f"run {n}".encode()).hexdigest()


def _run(
    n: int, pass_rate: float | None, success: float | None, failure: float | None, metrics: dict[str, float]
) -> dict[str, Any]:
    return {
        "run_id": _run_id(n),
        "short_id": _run_id(n)[:12],
        "started_at": f"2026-11-2{n} 16:59:01",
        "model_source": "./checkpoints/run-7",
        "git_commit": _run_id(n) + "0a1b2c3d",
        "complete": True,
        "total": 8,
        "passed": 4,
        "failed": 3,
        "pass_rate": pass_rate,
        "mode_pass_rates": {"success_mode": success, "failure_mode": failure},
        "metrics": metrics,
    }


@pytest.fixture(scope="module")
def dashboard_data() -> dict[str, Any]:
    """A hand-built history: 3 runs, 8 cases with every kind of outcome and change, 2 metrics."""
    baseline = "Click Forgot Password on the sign-in page and follow the reset link."
    output = "Click Help on the sign-in page and ask support."
    cases = [
        _case(
            "evals/support.eval.yaml::reset-password",
            "failed",
            tags=["account"],
            regressed=True,
            change="regressed",
            message="contains_any: none of ['Forgot Password', 'reset link'] in the output",
            prompt="How do I reset my password?",
            output=output,
            baseline_output=baseline,
            baseline_outcome="passed",
            diff={
                "before": [
                    ["equal", "Click "],
                    ["delete", "Forgot Password"],
                    ["equal", " on the sign-in page and "],
                    ["delete", "follow the reset link"],
                    ["equal", "."],
                ],
                "after": [
                    ["equal", "Click "],
                    ["insert", "Help"],
                    ["equal", " on the sign-in page and "],
                    ["insert", "ask support"],
                    ["equal", "."],
                ],
            },
            checks=[
                {"name": "contains_any", "passed": False, "score": None, "message": "none of 2 phrases found"},
                {"name": "not_garbled", "passed": True, "score": 0.98, "message": "reads as text"},
            ],
            metrics=[{"name": "rouge_l", "value": 0.31, "before": 0.62, "higher_is_better": True, "dropped": True}],
        ),
        _case(
            "evals/support.eval.yaml::refund-policy",
            "failed",
            tags=["billing"],
            change="still failing",
            message="contains: '14 days' not in the output",
            output=HOSTILE_OUTPUT,
            baseline_output=None,
            baseline_outcome="failed",
        ),
        _case(
            "tests/test_safety.py::test_refuses_card_number",
            "passed",
            mode="failure_mode",
            tags=["safety", "billing"],
            regressed=True,
            change="metric drop",
            metrics=[{"name": "judge_score", "value": 0.5, "before": 0.9, "higher_is_better": True, "dropped": True}],
        ),
        _case(
            "tests/test_safety.py::test_no_pii",
            "xfailed",
            mode="failure_mode",
            tags=["safety"],
            message="known: leaks an e-mail address",
        ),
        _case(
            "evals/support.eval.yaml::change-email",
            "passed",
            tags=["account"],
            change="fixed",
            baseline_outcome="failed",
        ),
        _case(
            "evals/support.eval.yaml::export-json", "passed", change="new", baseline_output=None, baseline_outcome=None
        ),
        _case(
            "tests/test_heldout.py::test_perplexity",
            "passed",
            mode=None,
            prompt=None,
            output=None,
            baseline_output=None,
            metrics=[
                {"name": "perplexity", "value": 12.5, "before": 12.9, "higher_is_better": False, "dropped": False}
            ],
        ),
        _case(
            "tests/test_structured_output.py::test_user_json",
            "skipped",
            tags=["account"],
            change=None,
            message="needs --llm-json-mode",
            output=None,
        ),
    ]
    return {
        "format": 1,
        "generated_at": "2026-11-23 17:00:00",
        "history": ".llmeval/history.db",
        "latest": {
            "run_id": _run_id(3),
            "short_id": _run_id(3)[:12],
            "started_at": "2026-11-23 16:59:01",
            "duration_s": 12.3,
            "model": {"source": "./checkpoints/run-7", "backend": "hf", "dtype": "float32", "device": "cpu"},
            "settings": {"max_new_tokens": 64, "temperature": 0.0},
            "git_commit": _run_id(3) + "0a1b2c3d",
            "complete": True,
            "counts": {"passed": 4, "failed": 2, "xfailed": 1, "skipped": 1},
            "total": 8,
            "pass_rate": 4 / 7,
        },
        "reference": {"kind": "baseline", "label": "llmeval-baseline.json (run 3f2a)"},
        "comparison_counts": {
            "regressions": 1,
            "fixes": 1,
            "new": 1,
            "still_failing": 1,
            "metric_drops": 1,
            "not_run": 0,
        },
        "breakdowns": {
            "mode": [
                {"name": "failure_mode", "total": 2, "passed": 1, "failed": 1, "skipped": 0, "pass_rate": 0.5},
                {"name": "success_mode", "total": 5, "passed": 2, "failed": 2, "skipped": 1, "pass_rate": 0.5},
            ],
            "file": [
                {
                    "name": "evals/support.eval.yaml",
                    "total": 4,
                    "passed": 2,
                    "failed": 2,
                    "skipped": 0,
                    "pass_rate": 0.5,
                },
                {"name": "tests/test_safety.py", "total": 2, "passed": 1, "failed": 1, "skipped": 0, "pass_rate": 0.5},
            ],
            "tag": [
                {"name": "account", "total": 3, "passed": 1, "failed": 1, "skipped": 1, "pass_rate": 0.5},
                {"name": "billing", "total": 2, "passed": 1, "failed": 1, "skipped": 0, "pass_rate": 0.5},
            ],
        },
        "runs": [
            _run(1, 0.5, 0.4, 0.75, {"rouge_l": 0.52}),
            _run(2, 0.75, 0.8, 0.5, {"rouge_l": 0.61, "perplexity": 13.1}),
            _run(3, 4 / 7, 0.5, 0.5, {"rouge_l": 0.44, "perplexity": 12.5}),
        ],
        "metrics": [{"name": "perplexity", "higher_is_better": False}, {"name": "rouge_l", "higher_is_better": True}],
        "cases": cases,
    }


@pytest.fixture(scope="module")
def report_url(dashboard_data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("dashboard") / "report.html"
    path.write_text(render_dashboard_html(dashboard_data), encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no `chromium` executable on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Opened:
    """A page with the report loaded, and everything it complained about or asked the network for."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(url)
        self.page.wait_for_function(
            "document.body.dataset.ready === 'true' || document.body.dataset.error !== undefined"
        )
        assert self.page.evaluate("document.body.dataset.error") is None, self.errors
        assert self.page.evaluate("document.body.dataset.ready") == "true"

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.errors.append(f"console {message.type}: {message.text}")

    def visible_rows(self) -> list[str]:
        ids = self.page.eval_on_selector_all(
            "#cases-table tr.case-row:not([hidden])", "rows => rows.map(r => r.dataset.nodeId)"
        )
        return [str(node_id) for node_id in ids]

    def count(self) -> tuple[int, int]:
        shown = self.page.get_attribute("#cases-count", "data-shown")
        total = self.page.get_attribute("#cases-count", "data-total")
        assert shown is not None and total is not None
        return int(shown), int(total)


@pytest.fixture
def opened(browser: Browser, report_url: str) -> Iterator[Opened]:
    opened = Opened(browser, report_url)
    yield opened
    opened.page.close()
    assert opened.errors == []


def node_ids(data: dict[str, Any], keep: Any) -> list[str]:
    return [case["node_id"] for case in data["cases"] if keep(case)]


def test_report_draws_from_the_file_alone(opened: Opened, dashboard_data: dict[str, Any]) -> None:
    assert all(url.startswith("file://") for url in opened.requests), opened.requests
    page = opened.page
    assert page.title().startswith("llmeval report: run " + dashboard_data["latest"]["short_id"])
    header = page.inner_text("#llmeval-header")
    assert "./checkpoints/run-7" in header and "llmeval-baseline.json (run 3f2a)" in header
    assert page.inner_text("#llmeval-tiles .tile[data-tile='overall'] .value") == "57.1%"
    assert page.inner_text("#llmeval-tiles .tile[data-tile='regressions'] .value") == "1"
    for mode in dashboard_data["breakdowns"]["mode"]:
        assert page.locator(f"#llmeval-tiles .tile[data-tile='mode:{mode['name']}']").count() == 1
    for kind in ("file", "tag"):
        names = page.eval_on_selector_all(
            f"#llmeval-breakdown-{kind} .bar-row", "rows => rows.map(r => r.dataset.name)"
        )
        assert names == [row["name"] for row in dashboard_data["breakdowns"][kind]]
    assert opened.count() == (len(dashboard_data["cases"]),) * 2


def test_charts_have_one_point_per_run(opened: Opened, dashboard_data: dict[str, Any]) -> None:
    page, runs = opened.page, dashboard_data["runs"]
    chart = page.locator("#llmeval-chart-pass-rate svg")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 80
    series = {"overall": [run["pass_rate"] for run in runs]}
    for mode in runs[-1]["mode_pass_rates"]:
        series[f"mode:{mode}"] = [run["mode_pass_rates"].get(mode) for run in runs]
    for key, values in series.items():
        points = chart.locator(f"circle.point[data-series='{key}']")
        assert points.count() == sum(v is not None for v in values), key
        assert page.locator(f"#llmeval-chart-legend .legend-item[data-series='{key}']").count() == 1
        assert chart.locator(f"path.line[data-series='{key}']").get_attribute("d")
    for metric in dashboard_data["metrics"]:
        name = metric["name"]
        card = page.locator(f"#llmeval-metric-charts .metric-chart[data-metric='{name}']")
        with_value = [i for i, run in enumerate(runs) if run["metrics"].get(name) is not None]
        indexes = card.locator("svg circle.point").evaluate_all("ps => ps.map(p => Number(p.dataset.runIndex))")
        assert indexes == with_value, name
        assert ("higher is better" if metric["higher_is_better"] else "lower is better") in card.inner_text()
        point_box = card.locator("svg circle.point").last.bounding_box()
        assert point_box is not None and point_box["width"] > 0


def test_filters_show_exactly_the_matching_cases(opened: Opened, dashboard_data: dict[str, Any]) -> None:
    page, data = opened.page, dashboard_data
    total = len(data["cases"])

    page.check("#filter-failed")
    assert opened.visible_rows() == node_ids(data, lambda c: c["failed"])
    assert opened.count() == (len(node_ids(data, lambda c: c["failed"])), total)
    assert "failed=1" in page.evaluate("location.hash")
    page.uncheck("#filter-failed")

    page.check("#filter-regressed")
    assert opened.visible_rows() == node_ids(data, lambda c: c["regressed"])
    page.uncheck("#filter-regressed")

    page.select_option("#filter-mode", "failure_mode")
    assert opened.visible_rows() == node_ids(data, lambda c: c["mode"] == "failure_mode")
    page.select_option("#filter-tag", "billing")
    assert opened.visible_rows() == node_ids(data, lambda c: c["mode"] == "failure_mode" and "billing" in c["tags"])
    page.select_option("#filter-mode", "")
    assert opened.visible_rows() == node_ids(data, lambda c: "billing" in c["tags"])

    page.click("#filter-clear")
    page.fill("#filter-search", "RESET")
    assert opened.visible_rows() == node_ids(
        data, lambda c: "reset" in f"{c['node_id']} {c['prompt']} {c['output']}".lower()
    )
    page.fill("#filter-search", "no such text anywhere")
    assert opened.visible_rows() == []
    assert page.is_visible("#cases-table tr.no-match")
    page.click("#filter-clear")
    assert opened.count() == (total, total)


def test_a_link_with_the_filters_reopens_the_same_view(
    opened: Opened, browser: Browser, report_url: str, dashboard_data: dict[str, Any]
) -> None:
    opened.page.select_option("#filter-tag", "safety")
    opened.page.check("#filter-failed")
    opened.page.locator("#cases-table tr.case-row:not([hidden])").first.click()
    link = opened.page.url
    assert "#" in link and link.startswith(report_url)

    again = Opened(browser, link)
    try:
        assert again.page.is_checked("#filter-failed")
        assert again.page.input_value("#filter-tag") == "safety"
        expected = node_ids(dashboard_data, lambda c: c["failed"] and "safety" in c["tags"])
        assert again.visible_rows() == expected
        assert again.page.locator("#cases-table tr.case-detail:not([hidden])").count() == 1
        assert again.errors == []
    finally:
        again.page.close()


def test_a_row_opens_prompt_output_and_baseline_with_the_difference_marked(
    opened: Opened, dashboard_data: dict[str, Any], record_property: Any
) -> None:
    page = opened.page
    case = next(c for c in dashboard_data["cases"] if c["regressed"] and c["diff"])
    row = page.locator(f"#cases-table tr.case-row[data-node-id='{case['node_id']}']")
    row.click()
    assert row.get_attribute("aria-expanded") == "true"
    detail = page.locator(f"#cases-table tr.case-detail[data-node-id='{case['node_id']}']")
    assert detail.is_visible()
    prompt, output, baseline = (detail.locator(s) for s in (".detail-prompt", ".detail-output", ".detail-baseline"))
    assert case["prompt"] in prompt.inner_text()
    assert output.locator("pre").text_content() == case["output"]
    assert baseline.locator("pre").text_content() == case["baseline_output"]
    # Side by side: same top, baseline (before) left of the output (after), both below the prompt.
    p_box, o_box, b_box = prompt.bounding_box(), output.bounding_box(), baseline.bounding_box()
    assert p_box and o_box and b_box
    assert abs(o_box["y"] - b_box["y"]) < 2 and b_box["x"] + b_box["width"] <= o_box["x"] + 1
    assert p_box["y"] + p_box["height"] <= o_box["y"]
    deleted = [text for kind, text in case["diff"]["before"] if kind == "delete"]
    inserted = [text for kind, text in case["diff"]["after"] if kind == "insert"]
    assert baseline.locator("del.diff-del").all_text_contents() == deleted
    assert output.locator("ins.diff-ins").all_text_contents() == inserted
    checks = detail.locator(".detail-checks li")
    assert checks.evaluate_all("items => items.map(i => i.dataset.passed)") == [
        "true" if check["passed"] else "false" for check in case["checks"]
    ]
    assert "0.62 → 0.31" in detail.locator(".detail-metrics").inner_text()

    # Clicking again closes it.
    row.click()
    assert not detail.is_visible()
    row.click()

    folder = Path(os.environ.get("LLMEVAL_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    screenshot = folder / "dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    record_property("dashboard_screenshot", str(screenshot))
    print(f"dashboard screenshot: {screenshot}")


def test_markup_in_an_output_stays_text(opened: Opened, dashboard_data: dict[str, Any]) -> None:
    page = opened.page
    case = next(c for c in dashboard_data["cases"] if c["output"] == HOSTILE_OUTPUT)
    page.locator(f"#cases-table tr.case-row[data-node-id='{case['node_id']}']").click()
    shown = page.locator(f"#cases-table tr.case-detail[data-node-id='{case['node_id']}'] .detail-output pre")
    assert shown.text_content() == HOSTILE_OUTPUT
    assert shown.locator("b, img, script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_history_of_one_run_without_a_reference_still_draws(
    browser: Browser, dashboard_data: dict[str, Any], tmp_path: Path
) -> None:
    data = {
        **dashboard_data,
        "runs": dashboard_data["runs"][-1:],
        "reference": {"kind": None, "label": None},
        "comparison_counts": None,
        "cases": [],
        "breakdowns": {"mode": [], "file": [], "tag": []},
    }
    path = tmp_path / "one-run.html"
    path.write_text(render_dashboard_html(data), encoding="utf-8")
    opened = Opened(browser, path.as_uri())
    try:
        page = opened.page
        assert page.locator("#llmeval-chart-pass-rate circle.point[data-series='overall']").count() == 1
        for metric in data["metrics"]:
            assert page.locator(f".metric-chart[data-metric='{metric['name']}'] circle.point").count() == 1
        assert "no baseline" in page.inner_text("#llmeval-header")
        assert opened.count() == (0, 0)
        assert page.is_visible("#cases-table tr.no-match")
        assert opened.errors == []
    finally:
        opened.page.close()


SESSION_BOT = """
import json, pathlib

def answer(prompt):
    return json.loads(pathlib.Path("answers.json").read_text(encoding="utf-8")).get(prompt, "no idea")
"""
SESSION_CASES = """cases:
  - {id: reset, prompt: reset, tags: [account], expect: {contains: Forgot Password, rouge_l: {reference: Click Forgot Password on the sign-in page., min: 0.1}}}
  - {id: refund, prompt: refund, tags: [billing], expect: {contains: refund}}
  - {id: hack, prompt: hack, tags: [failure_mode, safety], expect: {refusal: true}}
"""


def test_a_report_written_by_a_real_session_draws_and_filters(
    browser: Browser, pytester: pytest.Pytester, record_property: Any
) -> None:
    """End to end: two sessions of a scripted model, the second with a regression, write the report
    with --llm-report; the browser draws it from what the plugin recorded."""
    pytester.makepyfile(bot=SESSION_BOT)
    (pytester.path / "support.eval.yaml").write_text(SESSION_CASES, encoding="utf-8")
    # a file whose name ends like the other's: the file filter must not take one for the other
    (pytester.path / "customer_support.eval.yaml").write_text(
        "cases:\n  - {id: other, prompt: refund, expect: {contains: refund}}\n", encoding="utf-8"
    )

    def session(*args: str, **answers: str) -> pytest.RunResult:
        (pytester.path / "answers.json").write_text(json.dumps(answers), encoding="utf-8")
        return pytester.runpytest("--llm-model=py:bot:answer", "-p", "no:cacheprovider", *args)

    session(
        "--llm-update-baseline",
        reset="Click Forgot Password on the sign-in page.",
        refund="We refund within 5 days.",
        hack="I can't help with that.",
    ).assert_outcomes(passed=4)
    with (pytester.path / "support.eval.yaml").open("a", encoding="utf-8") as cases:
        cases.write("  - {id: brand-new, prompt: new, expect: {contains: 'yes'}}\n")  # new, and failing
    result = session(
        "--llm-report=report.html",
        "--llm-max-new-tokens=32",
        reset="Click Help on the sign-in page.",
        refund="We refund within 5 days.",
        hack="I can't help with that.",
        new="no",
    )
    result.assert_outcomes(passed=3, failed=2)
    opened = Opened(browser, (pytester.path / "report.html").as_uri())
    try:
        page = opened.page
        assert page.locator("#llmeval-chart-pass-rate circle.point[data-series='overall']").count() == 2
        assert page.locator(".metric-chart[data-metric='rouge_l'] circle.point").count() == 2
        assert opened.count() == (5, 5)
        page.click("#llmeval-breakdown-file .bar-row[data-name='support.eval.yaml']")
        assert opened.count() == (4, 5) and "customer_support.eval.yaml::other" not in opened.visible_rows()
        assert "file=support.eval.yaml" in page.evaluate("location.hash")
        page.click("#filter-clear")
        assert opened.count() == (5, 5)
        # the other max_new_tokens is named above everything: these outputs may differ for that alone
        assert "max_new_tokens: 64 -> 32" in page.inner_text("#llmeval-differences")
        page.check("#filter-failed")
        assert sorted(opened.visible_rows()) == ["support.eval.yaml::brand-new", "support.eval.yaml::reset"]
        page.uncheck("#filter-failed")
        page.check("#filter-regressed")  # what fails a regressions gate: the regression and the new failure
        assert sorted(opened.visible_rows()) == ["support.eval.yaml::brand-new", "support.eval.yaml::reset"]
        assert page.inner_text("#llmeval-tiles .tile[data-tile='regressions'] .value") == "2"
        page.uncheck("#filter-regressed")
        page.select_option("#filter-mode", "failure_mode")
        assert opened.visible_rows() == ["support.eval.yaml::hack"]
        page.select_option("#filter-mode", "")
        page.locator("#cases-table tr.case-row[data-node-id='support.eval.yaml::reset']").click()
        detail = page.locator("#cases-table tr.case-detail[data-node-id='support.eval.yaml::reset']")
        assert detail.locator(".detail-baseline del.diff-del").all_text_contents() == ["Forgot Password"]
        assert detail.locator(".detail-output ins.diff-ins").all_text_contents() == ["Help"]
        folder = Path(os.environ.get("LLMEVAL_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
        folder.mkdir(parents=True, exist_ok=True)
        screenshot = folder / "dashboard-from-a-session.png"
        page.screenshot(path=str(screenshot), full_page=True)
        record_property("dashboard_session_screenshot", str(screenshot))
        assert opened.errors == []
    finally:
        opened.page.close()


def _open_data(browser: Browser, data: dict[str, Any], path: Path) -> Opened:
    path.write_text(render_dashboard_html(data), encoding="utf-8")
    return Opened(browser, path.as_uri())


PARAM_BASE = "tests/test_account_help.py::test_answers_point_to_the_right_page"


@pytest.fixture
def richer_data(dashboard_data: dict[str, Any]) -> dict[str, Any]:
    """The hand-built history plus what issue 16 asked the page to show: a partial run in the
    charts, suite errors, parametrized rows, a test with several generations, a gold label."""
    data = json.loads(json.dumps(dashboard_data))
    data["runs"][1].update(partial=True, partial_reason="ran 4 of the baseline's 8 cases (4 not run)", total=4)
    data["reference"].update(
        run_id=data["runs"][0]["run_id"],
        model_differences=[
            "model folder .llmeval/demo-model -> /tmp/weak-demo",
            "files that differ: model.safetensors",
        ],
    )
    data["suite_errors"] = [
        {
            "node_id": "evals/broken.eval.yaml::line4",
            "file": "evals/broken.eval.yaml",
            "outcome": "error",
            "message": "pytest_llmeval.cases.CaseError: evals/broken.eval.yaml:4: not valid YAML: ...",
        }
    ]
    data["breakdowns"]["mode"].append(
        {"name": "no mode", "total": 1, "passed": 1, "failed": 0, "skipped": 0, "pass_rate": 1.0}
    )
    data["cases"] += [
        _case(f"{PARAM_BASE}[How do I invite a team member?-Team]", "failed", change="regressed", regressed=True),
        _case(f"{PARAM_BASE}[How do I cancel my subscription?-Billing]", "failed", change="regressed", regressed=True),
        _case(f"{PARAM_BASE}[Where can I download my invoices?-Billing]", "failed", change="regressed", regressed=True),
        _case("evals/sentiment.eval.yaml::crashes", "failed", mode=None, output="positive", label="negative"),
        _case(
            "tests/test_structured_output.py::test_sentiment_labels",
            "failed",
            generations=3,
            generation_list=[
                {
                    "position": 2,
                    "phase": "call",
                    "prompt": "Sentiment of: crash",
                    "output": "positive",
                    "reference_output": "negative",
                    "differs": True,
                },
                {
                    "position": 1,
                    "phase": "call",
                    "prompt": "Sentiment of: love",
                    "output": "positive",
                    "reference_output": "positive",
                    "differs": False,
                },
                {
                    "position": 3,
                    "phase": "call",
                    "prompt": "Sentiment of: tuesday",
                    "output": "neutral",
                    "reference_output": None,
                    "differs": None,
                },
            ],
        ),
    ]
    return data


def test_partial_runs_are_hollow_off_the_trend_and_say_why(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        chart = opened.page.locator("#llmeval-chart-pass-rate svg")
        partial = chart.locator("circle.point[data-series='overall'][data-partial='true']")
        assert partial.count() == 1 and partial.get_attribute("data-run-index") == "1"
        assert partial.get_attribute("fill") == "#ffffff"
        title = partial.locator("title").text_content() or ""
        assert "2026-11-22 16:59:01" in title and "4 cases" in title
        assert "PARTIAL: ran 4 of the baseline's 8 cases (4 not run)" in title
        # the trend line joins the two full runs only
        d = chart.locator("path.line[data-series='overall']").get_attribute("d") or ""
        assert d.count("M") + d.count("L") == 2
        # axis labels are dates, not run ids
        labels = chart.locator(":scope > text").evaluate_all("ts => ts.map(t => t.lastChild.textContent)")
        assert "11-23 16:59" in labels and richer_data["runs"][2]["short_id"][:7] not in labels
        assert opened.page.locator("#llmeval-partial").count() == 0  # the latest run is full
        assert opened.errors == []
    finally:
        opened.page.close()
    richer_data["latest"].update(partial=True, partial_reason="ran 4 of the baseline's 35 cases (31 not run)")
    opened = _open_data(browser, richer_data, tmp_path / "partial.html")
    try:
        banner = opened.page.inner_text("#llmeval-partial")
        assert banner.startswith("Partial run: ran 4 of the baseline's 35 cases (31 not run).")
        assert opened.page.inner_text("#llmeval-tiles .tile[data-tile='overall'] .sub").endswith("· partial run")
        assert opened.errors == []
    finally:
        opened.page.close()


def test_clicking_a_chart_point_opens_that_run(browser: Browser, richer_data: dict[str, Any], tmp_path: Path) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        page, first = opened.page, richer_data["runs"][0]
        assert not page.is_visible("#llmeval-run-panel")
        page.locator("#llmeval-chart-pass-rate circle.point[data-series='overall'][data-run-index='0']").click()
        panel = page.locator("#llmeval-run-panel")
        assert panel.is_visible() and panel.get_attribute("data-run") == first["short_id"]
        assert "2026-11-21 16:59:01" in panel.inner_text() and "8 cases" in panel.inner_text()
        assert panel.locator("code.run-command").inner_text() == (
            f"llmeval report --run {first['short_id']} --out report-{first['short_id']}.html"
        )
        page.locator(".metric-chart[data-metric='rouge_l'] circle.point").last.click()
        assert "This run" in panel.inner_text() and "table below" in panel.inner_text()
        assert opened.errors == []
    finally:
        opened.page.close()


def test_suite_errors_are_shown_apart_from_the_models_results(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        page = opened.page
        box = page.locator("#llmeval-suite-errors")
        assert box.is_visible() and "Errors in the suite, not the model (1)" in box.inner_text()
        item = box.locator("li.suite-error")
        assert item.get_attribute("data-node-id") == "evals/broken.eval.yaml::line4"
        assert "not valid YAML" in item.inner_text()
        assert page.inner_text("#llmeval-tiles .tile[data-tile='suite_errors'] .value") == "1"
        assert "evals/broken.eval.yaml::line4" not in opened.visible_rows()
        assert opened.errors == []
    finally:
        opened.page.close()
    without = {**richer_data, "suite_errors": []}
    opened = _open_data(browser, without, tmp_path / "clean.html")
    try:
        assert not opened.page.is_visible("#llmeval-suite-errors")
        assert opened.page.locator(".tile[data-tile='suite_errors']").count() == 0
    finally:
        opened.page.close()


def test_parametrized_rows_show_their_parameters(browser: Browser, richer_data: dict[str, Any], tmp_path: Path) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        rows = opened.page.locator(f"#cases-table tr.case-row[data-node-id^='{PARAM_BASE}[']")
        assert rows.count() == 3
        params = rows.locator("td.node .node-param")
        shown = params.evaluate_all("""els => els.map(e => {
            const cell = e.closest('td').getBoundingClientRect(), box = e.getBoundingClientRect();
            return {text: e.innerText, visible: box.width > 40 && box.right <= cell.right + 1 && box.height > 0};
        })""")
        assert sorted(s["text"] for s in shown) == sorted(
            f"[{p}]"
            for p in (
                "How do I invite a team member?-Team",
                "How do I cancel my subscription?-Billing",
                "Where can I download my invoices?-Billing",
            )
        )
        assert all(s["visible"] for s in shown)
        # what a reader sees of each row differs (not three identical truncated ids)
        assert len(set(rows.evaluate_all("rs => rs.map(r => r.querySelector('td.node').innerText)"))) == 3
        assert opened.errors == []
    finally:
        opened.page.close()


def test_every_generation_is_shown_differing_first_and_gold_labels(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        page = opened.page
        node = "tests/test_structured_output.py::test_sentiment_labels"
        page.locator(f"#cases-table tr.case-row[data-node-id='{node}']").click()
        detail = page.locator(f"#cases-table tr.case-detail[data-node-id='{node}']")
        items = detail.locator(".detail-generations li")
        assert items.evaluate_all("is => is.map(i => [i.dataset.position, i.dataset.differs])") == [
            ["2", "true"],
            ["1", "false"],
            ["3", "unknown"],
        ]
        first = items.first.inner_text()
        assert "generation 2 · differs from the baseline" in first and "Sentiment of: crash" in first
        assert "negative" in first  # the baseline's output beside it
        assert detail.locator(".detail-generations h4").text_content() == "all 3 generations, differing first"

        label_node = "evals/sentiment.eval.yaml::crashes"
        page.locator(f"#cases-table tr.case-row[data-node-id='{label_node}']").click()
        label = page.locator(f"#cases-table tr.case-detail[data-node-id='{label_node}'] .detail-label")
        assert label.inner_text() == "gold label negative · predicted positive"
        assert opened.errors == []
    finally:
        opened.page.close()


def test_header_and_cards_say_vs_what_once_and_explain_no_mode(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        page = opened.page
        header = page.inner_text("#llmeval-header")
        assert "vs baseline llmeval-baseline.json (run 3f2a)" in header
        assert "compared with" not in header
        banner = page.inner_text("#llmeval-differences")
        assert (
            "Another model than the baseline's: model folder .llmeval/demo-model -> /tmp/weak-demo; "
            "files that differ: model.safetensors" in banner
        )
        assert page.inner_text(".tile[data-tile='regressions'] .sub") == "vs baseline"
        no_mode = page.locator(".tile[data-tile='mode:no mode']")
        assert no_mode.locator(".label").inner_text().lower() == "no mode marker"
        assert "marked neither success_mode nor failure_mode" in no_mode.inner_text()
        # the metric card compares with the baseline's run (the first point), as the header does
        assert "vs baseline)" in page.inner_text(".metric-chart[data-metric='rouge_l'] .latest-line")
        assert opened.errors == []
    finally:
        opened.page.close()
    previous = {
        **richer_data,
        "reference": {
            "kind": "previous run",
            "label": "16d8ac24e6bc (2026-11-22 16:59:01)",
            "run_id": richer_data["runs"][1]["run_id"],
        },
    }
    opened = _open_data(browser, previous, tmp_path / "prev.html")
    try:
        header = opened.page.inner_text("#llmeval-header")
        assert "vs previous run 16d8ac24e6bc (2026-11-22 16:59:01)" in header
        assert "previous run the previous run" not in header
        assert opened.page.inner_text(".tile[data-tile='fixes'] .sub") == "vs previous run"
    finally:
        opened.page.close()


def test_a_real_sessions_suite_errors_and_partial_run_in_the_report_and_runs(
    browser: Browser, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: a full run accepted as the baseline, then a run with a broken case file and a
    `-k` selection; `llmeval report` and `llmeval runs` read what the plugin recorded."""
    from pytest_llmeval.cli import main

    pytester.makepyfile(
        bot="def answer(prompt):\n    return 'Click Forgot Password.' if 'reset' in prompt else 'no idea'\n"
    )
    (pytester.path / "support.eval.yaml").write_text(
        "cases:\n  - {id: reset, prompt: reset, expect: {contains: Forgot Password}}\n"
        "  - {id: refund, prompt: refund, expect: {contains: idea}}\n"
        "  - {id: badre, prompt: refund, expect: {regex: '('}}\n",
        encoding="utf-8",
    )
    pytester.makepyfile(
        test_params="""
import pytest
from pytest_llmeval import assert_contains

@pytest.mark.parametrize("question", ["reset it", "reset that"])
def test_answers(llm, question):
    assert_contains(llm.generate(question), "Forgot")
"""
    )
    args = ("--llm-model=py:bot:answer", "-p", "no:cacheprovider")
    pytester.runpytest(*args, "--llm-update-baseline").assert_outcomes(passed=4, failed=1)
    (pytester.path / "broken.eval.yaml").write_text("cases: [\n  - id: a\n", encoding="utf-8")
    pytester.runpytest(*args, "-k", "reset or broken").assert_outcomes(passed=3, errors=1)
    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    assert main(["runs"]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert runs[1].endswith("PARTIAL: ran 3 of the baseline's 5 cases (2 not run)")
    assert runs[2].endswith("full")
    assert main(["report", "--out", "report.html"]) == 0
    assert "(partial: ran 3 of the baseline's 5 cases (2 not run))" in capsys.readouterr().out
    opened = Opened(browser, (pytester.path / "report.html").as_uri())
    try:
        page = opened.page
        assert "ran 3 of the baseline's 5 cases" in page.inner_text("#llmeval-partial")
        errors = page.locator("#llmeval-suite-errors li.suite-error")
        assert errors.evaluate_all("es => es.map(e => e.dataset.nodeId)") == ["broken.eval.yaml::line2"]
        assert "not valid YAML" in errors.first.inner_text()
        assert "broken.eval.yaml::line2" not in opened.visible_rows()
        params = page.locator("#cases-table td.node .node-param").all_inner_texts()
        assert sorted(params) == ["[reset it]", "[reset that]"]
        assert page.inner_text(".tile[data-tile='overall'] .value") == "100%"  # the model's 3 cases, all passed
        partial_points = page.locator(
            "#llmeval-chart-pass-rate circle.point[data-series='overall'][data-partial='true']"
        )
        assert partial_points.count() == 1
        assert opened.errors == []
    finally:
        opened.page.close()
    # the baseline run (first) is kept by prune, the partial one goes
    assert main(["prune", "--older-than", "0.000001"]) == 0
    out = capsys.readouterr().out
    assert "kept run" in out and "the baseline llmeval-baseline.json accepted it" in out
    assert out.splitlines()[-1].startswith("deleted 1 run; 1 in ")


def test_without_a_paired_comparison_the_section_stays_hidden(opened: Opened) -> None:
    assert opened.page.locator("#llmeval-comparison").is_hidden()


def test_the_comparison_page_of_llmeval_compare_shows_verdict_intervals_and_flips(
    browser: Browser, tmp_path: Path, record_property: Any
) -> None:
    """``llmeval compare A B --html``: the paired section draws the verdict, the pass rate and the
    metric with their intervals, the groups, and what B broke and fixed, from the real data builder."""
    from pytest_llmeval.cli import main
    from pytest_llmeval.records import CaseRecord, RunRecord
    from pytest_llmeval.store import RunStore

    history = tmp_path / "history.db"
    store = RunStore(history)
    before = "P" * 16 + "F" * 4
    after = "F" * 12 + "P" * 4 + "P" + "F" * 3  # 12 broke, 1 fixed, 4 both pass, 3 both fail: B is worse
    for run_id, started, pattern, source in (
        ("aaaa0000base", 1.7e9, before, "./model-a"),
        ("bbbb1111cand", 1.7e9 + 60, after, "./model-b"),
    ):
        cases = [
            CaseRecord(
                f"evals/{'billing' if i % 2 else 'account'}.eval.yaml::c{i:02d}",
                "passed" if c == "P" else "failed",
                message=None if c == "P" else "contains: 'reset link' not in the output",
                prompt=f"question {i}",
                output=f"answer {i} from {source}",
                tags=["safety"] if i < 4 else [],
                metrics={"rouge_l": {"value": 0.7 if c == "P" else 0.25, "higher_is_better": True}},
            )
            for i, c in enumerate(pattern)
        ]
        store.record_run(
            RunRecord(
                run_id,
                started,
                started + 5,
                True,
                {"source": source, "model_id": source},
                {"max_new_tokens": 16},
                {},
                None,
                cases,
            )
        )
    page_path = tmp_path / "compare.html"
    assert (
        main(["compare", "aaaa", "bbbb", "--history", str(history), "--html", str(page_path), "--resamples", "2000"])
        == 1
    )
    opened = Opened(browser, page_path.as_uri())
    try:
        page = opened.page
        section = page.locator("#llmeval-comparison")
        assert section.is_visible() and section.get_attribute("data-verdict") == "worse"
        assert (
            page.inner_text("#llmeval-verdict") == "verdict: B is WORSE than A on pass rate, rouge_l (95% confidence)"
        )
        rate = page.locator("table.estimates tr[data-measure='pass rate']")
        assert rate.get_attribute("data-verdict") == "worse"
        cells = rate.locator("td").all_inner_texts()
        assert cells[:2] == ["pass rate", "20"] and cells[4] == "-55.0 pts"
        assert cells[2].startswith("80% [") and cells[3].startswith("25% [")  # with their Wilson intervals
        assert cells[5].startswith("[-") and cells[5].endswith("] pts")
        assert cells[6] == "exact McNemar (1 fixed, 12 broke)"
        assert page.locator("table.estimates tr[data-measure='rouge_l']").get_attribute("data-verdict") == "worse"
        groups = page.eval_on_selector_all("table.groups tr[data-group]", "rows => rows.map(r => r.dataset.group)")
        assert groups == ["file evals/account.eval.yaml", "file evals/billing.eval.yaml", "tag safety"]
        assert page.inner_text("#llmeval-detectable").startswith(
            "Detectable: with 20 cases no pass-rate change under 30.0 points"
        )
        broke = page.eval_on_selector_all("#llmeval-broke li", "items => items.map(i => i.dataset.nodeId)")
        fixed = page.eval_on_selector_all("#llmeval-fixed li", "items => items.map(i => i.dataset.nodeId)")
        assert len(broke) == 12 and fixed == ["evals/account.eval.yaml::c16"]
        assert "evals/account.eval.yaml::c00" in broke and "evals/billing.eval.yaml::c11" in broke
        assert "run aaaa0000base, model ./model-a" in page.inner_text("#llmeval-header")  # A, the reference
        page.locator("#cases-table tr.case-row[data-node-id='evals/account.eval.yaml::c00']").click()
        detail = page.locator("#cases-table tr.case-detail[data-node-id='evals/account.eval.yaml::c00']")
        assert detail.locator(".detail-baseline h4").text_content() == "output in run A"
        assert detail.locator(".detail-output h4").text_content() == "output in run B"
        assert "differences from run A's output are marked" in detail.inner_text()
        folder = Path(os.environ.get("LLMEVAL_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
        folder.mkdir(parents=True, exist_ok=True)
        screenshot = folder / "dashboard-compare.png"
        page.screenshot(path=str(screenshot), full_page=True)
        record_property("dashboard_compare_screenshot", str(screenshot))
        assert opened.errors == []
    finally:
        opened.page.close()


def test_without_human_review_its_section_stays_hidden(opened: Opened) -> None:
    assert opened.page.locator("#llmeval-human-review").is_hidden()


def test_the_human_review_section_shows_means_win_rate_and_agreement(
    browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``llmeval report`` over a history with a review file: Likert means with intervals per dimension,
    alpha between two annotators, the judge's Spearman and the inconclusive cases left out, the win
    rate with its Wilson interval and ties, and the judge's pairwise agreement; a hostile model name is
    text. Every figure is the one ``llmeval review stats`` prints for the same runs."""
    from pytest_llmeval.cli import main
    from pytest_llmeval.records import CaseRecord, RunRecord
    from pytest_llmeval.review.results import review_results
    from pytest_llmeval.review.store import Judgement, ReviewStore, likert_session, pairwise_session, reviews_path
    from pytest_llmeval.store import RunStore, output_sha256

    history = tmp_path / ".llmeval" / "history.db"
    inconclusive = {"name": "judge", "passed": False, "score": None, "message": "judge: inconclusive judge: 40%"}
    weak_source, good_source = "./weak", './good<img src=x onerror="window.__pwned = 3">'
    runs = RunStore(history)
    for run_id, started, source, scores in (
        ("weak00000000", 1.7e9, weak_source, [2.0, 3.0, 2.5, 1.0, 2.0]),
        ("good00000000", 1.7e9 + 60, good_source, [4.5, None, 4.0, 3.0, 5.0]),
    ):
        cases = []
        for i, score in enumerate(scores):
            metrics = {} if score is None else {"judge": {"value": score, "higher_is_better": True}}
            checks = [] if score is not None else [inconclusive]
            cases.append(
                CaseRecord(
                    f"evals/s.eval.yaml::c{i}",
                    "passed",
                    prompt=f"question {i}",
                    output=f"{source} answer {i}",
                    metrics=metrics,
                    checks=checks,
                )
            )
        runs.record_run(RunRecord(run_id, started, started + 5, True, {"source": source}, {}, {}, None, cases))
    store = ReviewStore(reviews_path(history))
    good_ratings = {"ann": [5, 4, 4, 2, 5], "bob": [5, 3, 4, 2, 4]}
    for annotator, ratings in good_ratings.items():
        for i, rating in enumerate(ratings):
            output = f"{good_source} answer {i}"
            store.add(
                Judgement(
                    "",
                    "likert",
                    likert_session("good00000000"),
                    f"evals/s.eval.yaml::c{i}",
                    "good00000000",
                    output_sha256(output) or "",
                    annotator,
                    1.0 + i,
                    ratings={"helpfulness": rating, "tone": 4},
                    prompt=f"question {i}",
                    output=output,
                )
            )
    for i, choice in enumerate(["first", "first", "tie", "second", "first"]):
        good, weak = f"{good_source} answer {i}", f"{weak_source} answer {i}"
        store.add(
            Judgement(
                "",
                "pairwise",
                pairwise_session("good00000000", "weak00000000"),
                f"evals/s.eval.yaml::c{i}",
                "good00000000",
                output_sha256(good) or "",
                "ann",
                10.0 + i,
                choice=choice,  # type: ignore[arg-type]
                first_shown_as="A",
                prompt=f"question {i}",
                output=good,
                other_run_id="weak00000000",
                other_output_sha256=output_sha256(weak),
                other_output=weak,
            )
        )
    page_path = tmp_path / "report.html"
    assert main(["report", "--history", str(history), "--out", str(page_path), "--no-baseline"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "with the human review of these runs (llmeval review stats prints the same numbers)"
    )
    expected = review_results(history, run="latest", pairwise=("latest", "previous"))
    assert expected.likert is not None and expected.pairwise is not None
    opened = Opened(browser, page_path.as_uri())
    try:
        page = opened.page
        assert page.locator("#llmeval-human-review").is_visible()
        rows = {}
        for row in page.locator("table.review-likert tr[data-dimension]").all():
            rows[row.get_attribute("data-dimension")] = row.locator("td").all_inner_texts()
        help_row = next(d for d in expected.likert.dimensions if d.name == "helpfulness")
        assert rows["helpfulness"][:3] == ["helpfulness", help_row.mean.format(), "5"]
        assert help_row.agreement_alpha is not None and rows["helpfulness"][3] == f"{help_row.agreement_alpha:.2f}"
        assert help_row.judge_spearman is not None and help_row.judge_spearman.n == 4  # c1's judge was inconclusive
        assert (
            rows["helpfulness"][4]
            == f"rho {help_row.judge_spearman.rho:.2f} (p {help_row.judge_spearman.p_value:.3f}, n=4)"
        )
        assert rows["tone"][3] == "–"  # every tone rating 4: alpha undefined
        text = page.inner_text("#llmeval-human-review")
        assert "1 judged case left out of the judge's agreement: the judge was inconclusive (no score)" in text
        assert "5 of 5 cases rated by ann, bob; 0 need review" in text
        assert good_source in text and page.evaluate("window.__pwned") is None  # the model name is text
        win = page.locator("#llmeval-win-rate")
        # c0, c1, c4 won, c2 a tie, c3 lost: (3 + 0.5) / 5 = 70%, Wilson [30.2%, 92.7%] as stats prints it
        assert expected.pairwise.win_rate is not None
        assert (win.get_attribute("data-wins"), win.get_attribute("data-losses"), win.get_attribute("data-ties")) == (
            "3",
            "1",
            "1",
        )
        w = expected.pairwise.win_rate
        assert win.inner_text() == (
            f"win rate of good00000000: 70% [{round(w.low * 100, 1)}%, {round(w.high * 100, 1)}%] "
            "(Wilson 95%; 3 wins, 1 losses, 1 ties counted as half)"
        )
        # judge: c0 4.5>2 agrees, c3 3>1 but the people preferred weak: disagrees, c4 5>2 agrees; c1
        # inconclusive, c2 a human tie
        assert page.inner_text("#llmeval-review-pair-judge") == (
            "judge vs human: the judge's scores prefer the same run in 2 of 3 cases (66.7%); 1 human ties left out"
        )
        assert opened.errors == []
    finally:
        opened.page.close()


def test_the_base_model_vs_adapter_section_shows_counts_statistics_and_both_outputs(
    browser: Browser, tmp_path: Path, record_property: Any
) -> None:
    """``--llm-compare-base``: the section names what the adapter fixed and broke, with the paired
    statistics and every shared case's two outputs side by side, from the real data builders."""
    from pytest_llmeval.base_comparison import model_comparison_data
    from pytest_llmeval.dashboard import build_dashboard_data
    from pytest_llmeval.harness.base_pass import BasePass
    from pytest_llmeval.harness.session import LLMEvalSession
    from pytest_llmeval.records import CaseRecord, RunRecord
    from pytest_llmeval.settings import Settings

    base_outcomes = "PPPP" + "FFF" + "PPPPPPPPPP" + "FF"  # 4 broke, 3 fixed, 10 both pass, 2 both fail
    adapter_outcomes = "FFFF" + "PPP" + "PPPPPPPPPP" + "FF"
    node_ids = [f"evals/support.eval.yaml::case-{i:02d}" for i in range(len(base_outcomes))]

    def cases(pattern: str, side: str) -> list[CaseRecord]:
        return [
            CaseRecord(
                node_id,
                "passed" if c == "P" else "failed",
                output=f"{side} answer {i}" if i else HOSTILE_OUTPUT,
                message=None if c == "P" else f"{side}: contains: 'reset link' not found",
                metrics={"rouge_l": {"value": (0.6 if c == "P" else 0.2) + 0.01 * i, "higher_is_better": True}},
            )
            for i, (node_id, c) in enumerate(zip(node_ids, pattern, strict=True))
        ]

    settings = Settings(model=str(tmp_path / "smollm"), adapter=str(tmp_path / "lora"), compare_base=True)
    state = LLMEvalSession(settings=settings, cwd=tmp_path, rootpath=tmp_path)
    state.run = RunRecord(
        "c" * 32,
        1.7e9,
        1.7e9 + 9,
        True,
        {"source": "smollm", "adapter": "lora"},
        {"max_new_tokens": 16},
        {},
        None,
        cases(adapter_outcomes, "adapter"),
    )
    base = state.base = BasePass(model_id="fp-base")
    base.results.records = {case.node_id: case for case in cases(base_outcomes, "base")}
    base.finish_run(state)
    data = build_dashboard_data([state.run])
    assert base.paired is not None and base.run is not None
    data["model_comparison"] = model_comparison_data(base.paired, base.run, state.run)
    opened = _open_data(browser, data, tmp_path / "compare-base.html")
    try:
        page = opened.page
        section = page.locator("#llmeval-model-comparison")
        assert section.is_visible() and page.locator("#llmeval-comparison").is_hidden()  # no baseline here
        counts = page.eval_on_selector_all(
            "#llmeval-model-counts .result-count",
            "spans => spans.map(s => [s.dataset.result, s.querySelector('b').textContent])",
        )
        assert counts == [["fixed", "3"], ["broke", "4"], ["both pass", "10"], ["both fail", "2"]]
        assert page.inner_text("#llmeval-model-verdict").startswith("verdict: ")
        rate = page.locator(
            "#llmeval-model-comparison table.estimates tr[data-measure='pass rate'] td"
        ).all_inner_texts()
        assert (
            rate[:2] == ["pass rate", "19"] and rate[4] == "-5.3 pts" and rate[6] == "exact McNemar (3 fixed, 4 broke)"
        )
        assert page.locator("#llmeval-model-comparison table.estimates tr[data-measure='rouge_l']").count() == 1
        broke = page.eval_on_selector_all("#llmeval-model-broke li", "items => items.map(i => i.dataset.nodeId)")
        fixed = page.eval_on_selector_all("#llmeval-model-fixed li", "items => items.map(i => i.dataset.nodeId)")
        assert broke == node_ids[:4] and fixed == node_ids[4:7]
        rows = page.eval_on_selector_all(
            "#llmeval-model-cases tbody tr", "rows => rows.map(r => [r.dataset.result, r.dataset.nodeId])"
        )
        assert [r[0] for r in rows] == ["broke"] * 4 + ["fixed"] * 3 + ["both fail"] * 2 + [
            "both pass"
        ] * 10  # losses first
        first = page.locator(
            "#llmeval-model-cases tr[data-node-id='evals/support.eval.yaml::case-01'] td"
        ).all_inner_texts()
        assert first[:4] == ["broke", "evals/support.eval.yaml::case-01", "passed", "failed"]
        assert first[4] == "base answer 1" and first[5].startswith("adapter answer 1\nadapter: contains:")
        hostile = page.locator("#llmeval-model-cases tr[data-node-id='evals/support.eval.yaml::case-00'] td.side .text")
        assert hostile.all_inner_texts() == [HOSTILE_OUTPUT, HOSTILE_OUTPUT]  # markup stays text
        assert page.evaluate("window.__pwned") is None
        folder = Path(os.environ.get("LLMEVAL_TEST_ARTIFACTS") or REPO_ROOT / "test-artifacts")
        folder.mkdir(parents=True, exist_ok=True)
        screenshot = folder / "dashboard-compare-base.png"
        section.screenshot(path=str(screenshot))
        record_property("dashboard_compare_base_screenshot", str(screenshot))
        assert opened.errors == []
    finally:
        opened.page.close()


GROUPS_BOT = """
import json, re, pathlib

def answer(prompt):
    mode = pathlib.Path("mode.txt").read_text(encoding="utf-8").strip()
    if prompt.startswith("Entities:"):
        text = prompt.split(":", 1)[1]
        types = {"Ann": "PER", "Bob": "PER", "Paris": "LOC", "Rome": "LOC"}
        if mode == "worse":
            types["Rome"] = "PER"  # a checkpoint that types Rome as a person
        return json.dumps([{"text": w, "type": types[w]} for w in re.findall(r"[A-Z][a-z]+", text) if w in types])
    if prompt.startswith("Hire?") and mode == "worse" and re.search(r"\\b(she|her)\\b", prompt, re.I):
        return "no <b>never</b><script>window.__pwned = 3</script>"  # rejects her, in markup
    return "yes"
"""

GROUPS_CASES = {
    "ner.eval.yaml": """
        defaults: {prompt_template: "Entities: {text}"}
        ner: {source_var: text}
        cases:
          - id: paris
            vars: {text: Ann met Bob in Paris.}
            entities: [{text: Ann, type: PER}, {text: Bob, type: PER}, {text: Paris, type: LOC}]
            expect: {ner: 0.5}
          - id: rome
            vars: {text: Bob flew to Rome.}
            entities: [{text: Bob, type: PER}, {text: Rome, type: LOC}]
            expect: {ner: 0.1}
    """,
    "fair.eval.yaml": """
        fairness: {max_gap: 0.2}
        cases:
          - id: nurse
            prompt: "Hire? He has ten years of nursing experience. Answer yes or no."
            expect: {equals: "yes"}
            counterfactual: {categories: [gender]}
    """,
}


def test_ner_per_type_scores_and_fairness_pairs_from_a_real_session(
    browser: Browser, pytester: pytest.Pytester
) -> None:
    """Two sessions: the baseline's, then a checkpoint that mistypes Rome and rejects her. The report
    shows each type's precision, recall and F1 beside the baseline's F1, and the failing pair's two
    prompts and two outputs as text."""
    pytester.makepyfile(bot=GROUPS_BOT)
    for name, text in GROUPS_CASES.items():
        (pytester.path / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (pytester.path / "mode.txt").write_text("good", encoding="utf-8")
    args = ["--llm-model=py:bot:answer", "-p", "no:cacheprovider"]
    pytester.runpytest(*args, "--llm-update-baseline").assert_outcomes(passed=5)
    (pytester.path / "mode.txt").write_text("worse", encoding="utf-8")
    pytester.runpytest(*args, "--llm-report=report.html").assert_outcomes(passed=3, failed=2)
    opened = Opened(browser, (pytester.path / "report.html").as_uri())
    try:
        page = opened.page
        assert page.is_visible("#llmeval-groups")
        ner = page.locator(".group-view[data-node-id='ner.eval.yaml::ner']")
        assert ner.get_attribute("data-outcome") == "passed"

        def cells(row: str) -> list[str]:
            return [c.strip() for c in ner.locator(f"table.ner-types tr[data-type='{row}'] td").all_text_contents()]

        # strict, per type: LOC 1 of 2 right (Rome missed, spurious as PER); PER 3 of 4 predicted right
        assert cells("LOC") == ["LOC", "1", "0.5", "0.6667", "2", "1", "-0.3333"]
        assert cells("PER") == ["PER", "0.75", "1", "0.8571", "3", "1", "-0.1429"]
        assert ner.locator("tr[data-dropped='true']").count() == 2
        strict = [c.strip() for c in ner.locator("table.ner-schemes tr[data-scheme='strict'] td").all_text_contents()]
        assert strict == ["strict", "0.8", "0.8", "0.8", "1", "-0.2"]
        fair = page.locator(".group-view[data-node-id='fair.eval.yaml::fairness']")
        assert fair.get_attribute("data-outcome") == "failed"
        gender = fair.locator(".category[data-category='gender']")
        assert gender.get_attribute("data-over") == "true"
        assert "parity gap 1 > max 0.2 (baseline 0, change +1)" in (gender.locator("h4").text_content() or "")
        assert "female 0%" in gender.inner_text() and "male 100%" in gender.inner_text()
        pair = gender.locator(".pair[data-case='nurse'][data-group='female']")
        assert pair.locator(".pair-original-prompt").inner_text() == (
            "Hire? He has ten years of nursing experience. Answer yes or no."
        )
        assert pair.locator(".pair-variant-prompt").inner_text() == (
            "Hire? She has ten years of nursing experience. Answer yes or no."
        )
        assert pair.locator(".pair-original-output").inner_text() == "yes"
        # the model's markup is shown as the characters it wrote, and never runs
        assert pair.locator(".pair-variant-output").inner_text() == "no <b>never</b><script>window.__pwned = 3</script>"
        assert pair.locator(".pair-variant-output b, .pair-variant-output script").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert "equals: passed -> failed" in pair.locator(".pair-head").inner_text()
        assert opened.errors == []
    finally:
        opened.page.close()


def test_a_metric_with_an_interval_shows_it_beside_the_value(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    node_id = "tests/test_heldout.py::test_perplexity"
    data = json.loads(json.dumps(richer_data))
    row = next(c for c in data["cases"] if c["node_id"] == node_id)
    row["metrics"].append(
        {"name": "perplexity_gap", "value": 0.41, "before": 0.3, "higher_is_better": False, "dropped": False,
         "interval": [0.2, 0.6, 0.95]}
    )  # fmt: skip
    opened = _open_data(browser, data, tmp_path / "r.html")
    try:
        opened.page.locator(f"#cases-table tr.case-row[data-node-id='{node_id}']").click()
        detail = opened.page.locator(f"#cases-table tr.case-detail[data-node-id='{node_id}']")
        cells = detail.locator(".detail-metrics tr[data-metric='perplexity_gap'] td").all_text_contents()
        assert cells[1] == "0.3 → 0.41 [0.2, 0.6] (95% interval)"
        plain = detail.locator(".detail-metrics tr[data-metric='perplexity'] td").all_text_contents()
        assert plain[1] == "12.9 → 12.5"
        assert opened.errors == []
    finally:
        opened.page.close()


def test_a_flaky_sampled_case_says_so_in_the_table_and_shows_its_samples(
    browser: Browser, richer_data: dict[str, Any], tmp_path: Path
) -> None:
    node_id = "evals/sampled.eval.yaml::delete-account"
    samples = {
        "n": 8,
        "passed": 7,
        "rate": 0.875,
        "low": 0.529,
        "high": 0.978,
        "min_pass_rate": 1.0,
        "pass_at_k": {"1": 0.875, "8": 1.0},
        "pass_hat_k": {"1": 0.875, "8": 0.0},
        "failed": [4],
    }
    richer_data["cases"].append(
        _case(
            node_id,
            "failed",
            change="regressed",
            regressed=True,
            samples=samples,
            flaky="flaky: 8/8 -> 7/8 samples passed (Fisher p = 1.00)",
        )
    )
    opened = _open_data(browser, richer_data, tmp_path / "r.html")
    try:
        row = opened.page.locator(f"#cases-table tr.case-row[data-node-id='{node_id}']")
        change = row.locator("td.change")
        assert change.inner_text() == "regressed (flaky)"
        assert change.get_attribute("title") == "flaky: 8/8 -> 7/8 samples passed (Fisher p = 1.00)"
        row.click()
        meta = opened.page.locator(f"#cases-table tr.case-detail[data-node-id='{node_id}'] .detail-meta").inner_text()
        assert "flaky: 8/8 -> 7/8 samples passed (Fisher p = 1.00)" in meta
        assert (
            "7 of 8 samples passed (rate 0.88, 95% Wilson [0.53, 0.98], min_pass_rate 1.00; pass@1 0.88, "
            "pass@8 1.00, pass^8 0.00)"
        ) in meta
        assert opened.errors == []
    finally:
        opened.page.close()

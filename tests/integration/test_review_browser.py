"""The review app in a real browser: rating by mouse and keyboard, resume, blind pairwise order, two
annotators at once, hostile outputs shown as text; and a killed server loses no stored judgement.

Each app is the real ``llmeval review`` command in a subprocess (started once per module) over a
small hand-built history; the browser is headless Chromium (Debian's ``chromium``) through
Playwright, skipped only where no Chromium is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pytest_llmeval.inference_log import inference_log_path, write_inference_log
from pytest_llmeval.records import CaseRecord, RunRecord
from pytest_llmeval.review.store import ReviewStore, pairwise_session, reviews_path
from pytest_llmeval.store import RunStore, output_sha256

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
HOSTILE = (
    'Refunds take <b>5 days</b></script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
)
GOOD, WEAK = "900d00000000", "3eak00000000"
CASES = [
    "evals/s.eval.yaml::reset",
    "evals/s.eval.yaml::refund",
    "evals/s.eval.yaml::export",
    "evals/s.eval.yaml::chat",
]
GOOD_OUTPUTS = ["Click Forgot Password on the sign-in page.", HOSTILE, '{"name": "Ann"}', "Settings, then Account."]
WEAK_OUTPUTS = ["Click Help.", "Refunds take a while.", "{name: Ann", "Ask support."]
DIMENSIONS = ["helpfulness", "correctness", "tone"]
REFERENCE = "Click <i>Forgot Password</i> on the sign-in page."


def _run(run_id: str, started_at: float, source: str, outputs: list[str]) -> RunRecord:
    cases = [
        CaseRecord(
            node_id=node_id,
            outcome="passed",
            prompt=f"Question {number}?",
            output=output,
            metrics={"judge": {"value": 5.0 - number, "higher_is_better": True}},
        )
        for number, (node_id, output) in enumerate(zip(CASES, outputs, strict=True))
    ]
    return RunRecord(
        run_id=run_id,
        started_at=started_at,
        finished_at=started_at + 1,
        complete=True,
        model={"source": source},
        settings={},
        versions={},
        git_commit=None,
        cases=cases,
    )


def _build_history(folder: Path) -> Path:
    history = folder / ".llmeval" / "history.db"
    store = RunStore(history)
    store.record_run(_run(WEAK, 100.0, "./checkpoints/weak", WEAK_OUTPUTS))
    store.record_run(_run(GOOD, 200.0, "./checkpoints/good", GOOD_OUTPUTS))
    # The last case was asked as a chat: the app shows the messages from the run's inference log.
    write_inference_log(
        inference_log_path(history, GOOD),
        [
            {
                "node_id": CASES[3],
                "phase": "call",
                "index": 0,
                "prompt": None,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "Where do I <b>change</b> my e-mail?"}],
                "params": {},
                "output": GOOD_OUTPUTS[3],
                "num_tokens": 5,
                "finish_reason": "stop",
                "latency_s": 0.1,
                "source": "generated",
            }
        ],
    )
    (folder / "evals").mkdir()
    (folder / "evals" / "s.eval.yaml").write_text(
        f"cases:\n  - id: reset\n    prompt: Question 0?\n    reference: '{REFERENCE}'\n    expect: {{contains: Forgot}}\n"
        "  - id: export\n    prompt: Question 2?\n    review_dimensions: [accuracy, format]\n    expect: {contains: Ann}\n",
        encoding="utf-8",
    )
    return history


class Server:
    """``llmeval review ...`` in a subprocess on a free port; ``url`` is what it printed."""

    def __init__(self, history: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest_llmeval.cli", "review", "--history", str(history), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=history.parent.parent,
        )
        assert self.process.stdout is not None
        lines = []
        for line in self.process.stdout:
            lines.append(line)
            if "http://" in line:
                break
        else:
            raise AssertionError(f"llmeval review did not start: {''.join(lines)}")
        self.banner = "".join(lines)
        self.url = line[line.index("http://") :].split()[0]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)
        self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


def _refused(call: Any) -> tuple[int, str]:
    """The status and the error text of a request the app refuses (the response is closed)."""
    with pytest.raises(urllib.error.HTTPError) as refused:
        call()
    with refused.value:
        body = refused.value.read().decode("utf-8", "replace")
    try:
        return refused.value.code, json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return refused.value.code, body


def _get(url: str, **headers: str) -> Any:
    def call() -> None:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10):
            pass

    return call


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_history(tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def likert_server(history: Path) -> Iterator[Server]:
    server = Server(history, "--run", "latest")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pairwise_server(history: Path) -> Iterator[Server]:
    server = Server(history, "--pairwise", GOOD, WEAK)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no `chromium` executable on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Annotator:
    """A browser page open on the app as one annotator, recording everything it complains about."""

    def __init__(self, browser: Browser, server: Server, name: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None
        )
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("dialog", lambda dialog: self.errors.append(f"dialog: {dialog.message}"))
        self.page.goto(f"{server.url}?annotator={name}")
        self.ready()

    def ready(self, index: int | None = None) -> None:
        # A function, not a string: the page's Content-Security-Policy forbids evaluating strings.
        condition = "document.body.dataset.ready === 'true'"
        if index is not None:
            condition += f" && document.body.dataset.index === '{index}'"
        self.page.wait_for_function(f"() => {condition}")

    def index(self) -> int:
        return int(self.page.evaluate("document.body.dataset.index"))

    def done(self) -> int:
        return int(self.page.get_attribute("#progress", "data-done") or -1)

    def pressed(self) -> dict[str, int]:
        values = self.page.eval_on_selector_all(
            "#dimensions button[aria-pressed='true']",
            "bs => bs.map(b => [b.dataset.dimension, Number(b.dataset.value)])",
        )
        return dict(values)

    def close(self) -> None:
        self.context.close()
        assert self.errors == []


@pytest.fixture
def open_as(browser: Browser) -> Iterator[Any]:
    opened: list[Annotator] = []

    def open_page(server: Server, name: str) -> Annotator:
        annotator = Annotator(browser, server, name)
        opened.append(annotator)
        return annotator

    yield open_page
    for annotator in opened:
        annotator.close()


def _current(history: Path, annotator: str, kind: str) -> dict[str, Any]:
    return {
        j.case_id: j
        for j in ReviewStore(reviews_path(history)).current()
        if j.annotator == annotator and j.kind == kind
    }


# -- Likert --------------------------------------------------------------------------------------


def test_rate_by_mouse(likert_server: Server, history: Path, open_as: Any) -> None:
    me = open_as(likert_server, "mouse")
    assert me.page.inner_text("#prompt") == "Question 0?"
    assert me.page.inner_text("#output") == GOOD_OUTPUTS[0]
    assert me.page.inner_text("#reference") == REFERENCE  # from the case file, as text
    for dimension, value in zip(DIMENSIONS, [4, 5, 3], strict=True):
        me.page.click(f"#dimensions button[data-dimension='{dimension}'][data-value='{value}']")
    assert me.pressed() == {"helpfulness": 4, "correctness": 5, "tone": 3}
    me.page.fill("#comment", "clear, a bit curt")
    me.page.click("#next")
    me.ready(1)
    assert me.done() == 1
    assert me.page.is_hidden("#reference-box")  # this case has no reference
    stored = _current(history, "mouse", "likert")[CASES[0]]
    assert stored.ratings == {"helpfulness": 4, "correctness": 5, "tone": 3}
    assert stored.comment == "clear, a bit curt" and stored.output_sha256 == output_sha256(GOOD_OUTPUTS[0])
    assert stored.run_id == GOOD
    # Next without every dimension rated stores nothing and says why.
    me.page.click("#dimensions button[data-dimension='helpfulness'][data-value='2']")
    me.page.click("#next")
    assert me.page.inner_text("#status") == "Rate every dimension (1-5) first, or skip (s)."
    assert me.index() == 1 and CASES[1] not in _current(history, "mouse", "likert")


def test_rate_skip_and_undo_by_keyboard(likert_server: Server, history: Path, open_as: Any) -> None:
    me = open_as(likert_server, "keys")
    for key in "453":
        me.page.keyboard.press(key)
    assert me.pressed() == {"helpfulness": 4, "correctness": 5, "tone": 3}
    me.page.keyboard.press("n")
    me.ready(1)
    me.page.keyboard.press("s")
    me.ready(2)
    stored = _current(history, "keys", "likert")
    assert stored[CASES[0]].ratings == {"helpfulness": 4, "correctness": 5, "tone": 3}
    assert stored[CASES[1]].skipped
    me.page.keyboard.press("u")  # undo the skip: back on that item, nothing stored for it
    me.ready(1)
    assert me.page.inner_text("#status") == "Undid your last judgement (item 2)."
    assert CASES[1] not in _current(history, "keys", "likert")
    me.page.keyboard.press("p")
    me.ready(0)
    assert me.pressed() == {"helpfulness": 4, "correctness": 5, "tone": 3}
    me.page.focus("#comment")  # typing in the comment is text, not shortcuts
    me.page.keyboard.type("s1n")
    assert me.index() == 0 and me.page.input_value("#comment") == "s1n"


def test_reload_resumes_where_you_left_off(likert_server: Server, open_as: Any) -> None:
    me = open_as(likert_server, "resume")
    for index, keys in enumerate(("555n", "444n")):
        me.ready(index)  # keys pressed while an item loads are ignored
        for key in keys:
            me.page.keyboard.press(key)
    me.ready(2)
    me.page.reload()
    me.ready(2)  # the first item this annotator has not judged
    assert me.done() == 2
    assert me.page.inner_text("#progress") == "2 / 4 judged"
    me.page.keyboard.press("p")
    me.ready(1)
    assert me.pressed() == {"helpfulness": 4, "correctness": 4, "tone": 4}


def test_a_case_file_names_its_own_dimensions(likert_server: Server, history: Path, open_as: Any) -> None:
    me = open_as(likert_server, "dims")
    me.page.keyboard.press("s")
    me.ready(1)
    me.page.keyboard.press("s")
    me.ready(2)
    rows = me.page.eval_on_selector_all("#dimensions .dimension", "rows => rows.map(r => r.dataset.dimension)")
    assert rows == ["accuracy", "format"]
    for key in "45n":
        me.page.keyboard.press(key)
    me.ready(3)
    assert _current(history, "dims", "likert")[CASES[2]].ratings == {"accuracy": 4, "format": 5}


def test_two_annotators_at_once(likert_server: Server, history: Path, open_as: Any) -> None:
    ann, bob = open_as(likert_server, "ann"), open_as(likert_server, "bob")
    for me, keys in ((ann, "5"), (bob, "2"), (ann, "4"), (bob, "3"), (ann, "3"), (bob, "1")):
        me.page.keyboard.press(keys)
    ann.page.keyboard.press("n")
    bob.page.keyboard.press("n")
    ann.ready(1)
    bob.ready(1)
    assert _current(history, "ann", "likert")[CASES[0]].ratings == {"helpfulness": 5, "correctness": 4, "tone": 3}
    assert _current(history, "bob", "likert")[CASES[0]].ratings == {"helpfulness": 2, "correctness": 3, "tone": 1}
    assert ann.done() == bob.done() == 1


def test_hostile_output_and_chat_are_shown_as_text(likert_server: Server, open_as: Any) -> None:
    me = open_as(likert_server, "xss")
    me.page.keyboard.press("s")
    me.ready(1)
    assert me.page.inner_text("#output") == HOSTILE
    assert me.page.locator("#output").evaluate("e => e.children.length") == 0
    assert me.page.evaluate("window.__pwned") is None
    assert me.page.locator("img").count() == 0 and me.page.locator("b").count() == 0
    me.page.keyboard.press("s")
    me.ready(2)
    me.page.keyboard.press("s")
    me.ready(3)
    assert me.page.inner_text("#system") == "Be brief."
    assert me.page.inner_text("#messages") == "user:\nWhere do I <b>change</b> my e-mail?"
    assert me.page.evaluate("window.__pwned") is None


# -- pairwise ------------------------------------------------------------------------------------


def test_pairwise_order_is_blind_recorded_and_honoured(pairwise_server: Server, history: Path, open_as: Any) -> None:
    me = open_as(pairwise_server, "blind")
    session = pairwise_session(GOOD, WEAK)
    store = ReviewStore(reviews_path(history))
    shown = {}
    for index in range(len(CASES)):
        me.ready(index)
        order = store.pair_order(session, CASES[index], "blind")  # drawn when the item was first shown
        first, second = GOOD_OUTPUTS[index], WEAK_OUTPUTS[index]
        expected = (first, second) if order == "A" else (second, first)
        shown[index] = (me.page.inner_text("#output-a"), me.page.inner_text("#output-b"))
        assert shown[index] == expected
        body = me.page.inner_text("body")
        assert GOOD not in body and WEAK not in body and "checkpoints" not in body  # nothing names the runs
        if index == 0:
            me.page.click("#choices button[data-choice='A']")
        elif index == 1:
            me.page.keyboard.press("t")
        else:
            me.page.keyboard.press("b")
    me.ready()
    stored = _current(history, "blind", "pairwise")
    for index, case in enumerate(CASES):
        order = store.pair_order(session, case, "blind")
        picked = {0: "A", 1: "tie", 2: "B", 3: "B"}[index]
        expected_choice = "tie" if picked == "tie" else "first" if picked == order else "second"
        assert stored[case].choice == expected_choice and stored[case].first_shown_as == order
    # A reload shows every item in the same order as before, with the choice made.
    me.page.reload()
    me.ready()
    me.page.keyboard.press("p")  # from the last item back to the first
    me.page.keyboard.press("p")
    me.page.keyboard.press("p")
    me.ready(0)
    assert (me.page.inner_text("#output-a"), me.page.inner_text("#output-b")) == shown[0]
    assert me.page.get_attribute("#choices button[data-choice='A']", "aria-pressed") == "true"
    assert _refused(_get(f"{pairwise_server.url}api/reveal?annotator=blind")) == (
        403,
        "which run is A and which is B is shown only after you finish the session",
    )
    me.page.click("#finish")
    me.page.wait_for_selector("#reveal:not([hidden])")
    assert f"first run: {GOOD} (./checkpoints/good)" in me.page.inner_text("#reveal-runs")
    rows = me.page.eval_on_selector_all("#reveal-table tbody tr", "rs => rs.map(r => r.children[1].textContent)")
    assert rows == [f"{'first' if store.pair_order(session, c, 'blind') == 'A' else 'second'} run" for c in CASES]
    # after the reveal, no more blind judgements
    status, message = _refused(
        lambda: pairwise_server.post("api/item/0/judgement", {"annotator": "blind", "choice": "B"})
    )
    assert status == 409 and "would not be blind" in message


def test_pairwise_hostile_output_is_text(pairwise_server: Server, open_as: Any) -> None:
    me = open_as(pairwise_server, "xss-pair")
    me.page.keyboard.press("s")
    me.ready(1)
    texts = {me.page.inner_text("#output-a"), me.page.inner_text("#output-b")}
    assert texts == {HOSTILE, WEAK_OUTPUTS[1]}
    assert me.page.evaluate("window.__pwned") is None and me.page.locator("img").count() == 0


# -- durability ----------------------------------------------------------------------------------


def test_killed_server_loses_no_stored_judgement(tmp_path: Path) -> None:
    history = _build_history(tmp_path)
    server = Server(history, "--run", "latest")
    answers = []
    try:
        for index in range(len(CASES)):
            with urllib.request.urlopen(f"{server.url}api/item/{index}?annotator=kill", timeout=10) as response:
                first, *rest = json.loads(response.read())["dimensions"]
            answers.append(
                server.post(
                    f"api/item/{index}/judgement",
                    {
                        "annotator": "kill",
                        "ratings": {first: 1 + index, **{name: 5 for name in rest}},
                    },
                )
            )
    finally:
        server.stop(signal.SIGKILL)
    assert answers[-1]["done"] == len(CASES)  # the app had answered every click
    path = reviews_path(history)
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = _current(history, "kill", "likert")
    assert {case: min(stored[case].ratings.values()) for case in CASES} == {c: 1 + i for i, c in enumerate(CASES)}


def test_server_refuses_other_hosts_and_bad_requests(likert_server: Server) -> None:
    assert _refused(_get(f"{likert_server.url}api/session?annotator=x", Host="evil.example")) == (
        400,
        "Invalid host header",
    )
    for body, status, message in [
        ({"annotator": "", "ratings": {}}, 400, "give your name (annotator) to start"),
        (
            {"annotator": "x", "ratings": {"helpfulness": 6, "correctness": 1, "tone": 1}},
            400,
            "rating 'helpfulness' must be a whole number 1..5, not 6",
        ),
        ({"annotator": "x", "ratings": {"helpfulness": 3}}, 400, "missing correctness, tone"),
    ]:
        got_status, got_message = _refused(lambda body=body: likert_server.post("api/item/0/judgement", body))
        assert got_status == status and message in got_message
    form = urllib.request.Request(
        f"{likert_server.url}api/undo",
        data=b"annotator=x",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    def post_form() -> None:
        with urllib.request.urlopen(form, timeout=10):
            pass

    # a form on another site cannot post to the app (it cannot send JSON without the app's consent)
    assert _refused(post_form) == (415, "send JSON (Content-Type: application/json)")

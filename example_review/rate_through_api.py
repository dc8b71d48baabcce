"""The ratings of the human-review walk-through, given through the review app's HTTP API.

Who rated: the coding agent that wrote the walk-through, reading each output below; one annotator
("agent"), not a panel of people, and not blind (it had seen which run wrote what). The ratings are
kept in ``ratings.jsonl`` (``llmeval review export``); this script is how they were entered, so
anyone can read the reasons beside each number. Run from this folder after the two runs of the
walk-through: ``python rate_through_api.py``.

Scale: helpfulness (does it solve the user's problem), correctness (is what it says true for Acme
Cloud, as the demo's training answers define it), tone (polite, fluent, no repetition), 1-5 each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from typing import Any

ANNOTATOR = "agent"
PORT = 8791

# case id -> (helpfulness, correctness, tone): the demo model's answers (all match the training answers)
DEMO = {
    "reset-password": (5, 5, 5),
    "change-email": (5, 5, 5),
    "delete-account": (5, 5, 5),
    "two-factor": (5, 5, 5),
    "invoices": (5, 5, 5),
    "cancel": (5, 5, 5),
    "contact": (5, 5, 5),
    "hours": (5, 5, 5),
    "credit-card": (5, 5, 5),
    "invite": (5, 5, 5),
    "extract-ann": (5, 5, 5),
    "extract-dev": (5, 5, 5),
    "refuse-hack": (5, 5, 5),  # refuses and offers to help secure one's own account
    "refuse-cards": (4, 5, 4),  # refuses, but curtly and with no alternative
}
# the weak model's answers
WEAK = {
    "reset-password": (1, 1, 3),  # change-email instructions, "choose Account" twice
    "change-email": (5, 5, 5),  # the right answer
    "delete-account": (1, 1, 3),  # change-email instructions, repeated words
    "two-factor": (2, 2, 4),  # right menu (Security), then the email instructions
    "invoices": (1, 1, 4),  # change-email instructions
    "cancel": (1, 1, 3),  # change-email instructions, repeated words
    "contact": (1, 1, 2),  # "open Monday to Billing...": mixed-up fragments
    "hours": (1, 1, 2),  # "open Monday to Billing...": mixed-up fragments
    "credit-card": (1, 1, 4),  # change-email instructions
    "invite": (1, 1, 4),  # change-email instructions
    "extract-ann": (1, 1, 3),  # broken JSON
    "extract-dev": (1, 1, 3),  # broken JSON, and the wrong name
    "refuse-hack": (3, 5, 4),  # refuses, without the offer to help
    "refuse-cards": (1, 1, 3),  # does not refuse: change-email instructions
}


def call(path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}", data=data, method="GET" if body is None else "POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def serve(*args: str) -> subprocess.Popen[str]:
    app = subprocess.Popen(["llmeval", "review", *args, "--port", str(PORT)], stdout=subprocess.PIPE, text=True)
    assert app.stdout is not None
    for line in app.stdout:  # the app prints its address when it listens
        if "http://" in line:
            return app
    raise SystemExit(f"llmeval review {' '.join(args)} did not start")


def rate(run: str, ratings: dict[str, tuple[int, int, int]]) -> None:
    app = serve("--run", run)
    try:
        session = call(f"/api/session?annotator={ANNOTATOR}")
        for item in session["items"]:
            shown = call(f"/api/item/{item['index']}?annotator={ANNOTATOR}")
            helpfulness, correctness, tone = ratings[shown["case_id"].split("::")[1]]
            scores = {"helpfulness": helpfulness, "correctness": correctness, "tone": tone}
            call(f"/api/item/{item['index']}/judgement", {"annotator": ANNOTATOR, "ratings": scores})
    finally:
        app.terminate()
        app.wait()


def prefer(candidate: str, other: str) -> None:
    """Choose, in each pair, the answer rated more helpful above (the one the agent prefers)."""
    app = serve("--pairwise", candidate, other)
    try:
        session = call(f"/api/session?annotator={ANNOTATOR}")
        for item in session["items"]:
            shown = call(f"/api/item/{item['index']}?annotator={ANNOTATOR}")
            case = shown["case_id"].split("::")[1]
            demo, weak = DEMO[case], WEAK[case]
            if demo == weak:
                choice = "tie"
            else:
                demo_text = _outputs(candidate)[shown["case_id"]]
                demo_side = "A" if shown["outputs"]["A"] == demo_text else "B"
                better_is_demo = sum(demo) > sum(weak)
                choice = demo_side if better_is_demo else ("B" if demo_side == "A" else "A")
            call(f"/api/item/{item['index']}/judgement", {"annotator": ANNOTATOR, "choice": choice})
        call("/api/finish", {"annotator": ANNOTATOR})
    finally:
        app.terminate()
        app.wait()


def _outputs(run: str) -> dict[str, str]:
    from pytest_llmeval.store import RunStore

    return {case.node_id: case.output or "" for case in RunStore(".llmeval/history.db").load_run(run).cases}


if __name__ == "__main__":
    previous, latest = sys.argv[1:3] if len(sys.argv) > 2 else ("previous", "latest")
    rate(previous, DEMO)
    rate(latest, WEAK)
    prefer(previous, latest)
    print("rated both runs and chose in every pair as", ANNOTATOR)

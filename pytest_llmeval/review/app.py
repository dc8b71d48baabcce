"""The review web app (Starlette, served by uvicorn): one static page and a small JSON API.

The page shows every model output as text (the script only ever sets ``textContent``) and the
responses forbid inline scripts (a Content-Security-Policy), so markup in an output is shown, never
run. Each judgement is stored in its own transaction before the API answers. In pairwise mode the
API never says which run an output came from until the annotator finishes the session.

    GET  /api/session?annotator=NAME      mode, dimensions, each item's state for NAME, progress
    GET  /api/item/N?annotator=NAME       item N as NAME sees it (pairwise: A and B in NAME's order)
    POST /api/item/N/judgement            {annotator, ratings, comment} | {annotator, choice} | {annotator, skip}
    POST /api/undo                        {annotator}: retract NAME's newest judgement in this session
    POST /api/finish                      {annotator}: end the session; pairwise identities are revealed
    GET  /api/reveal?annotator=NAME       which run was A for each item (after finish only)
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TextIO

from pytest_llmeval.review.items import ReviewItem, ReviewPlan
from pytest_llmeval.review.store import Judgement, ReviewStore

__all__ = ["MAX_ANNOTATOR_CHARS", "ReviewApp", "build_app", "serve"]

MAX_ANNOTATOR_CHARS = 64
MAX_COMMENT_CHARS = 10_000
_ASSETS = {"review.js": "text/javascript", "review.css": "text/css"}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class ReviewApp:
    """The state behind the API: the plan (fixed for the app's life), the store and the dimensions."""

    plan: ReviewPlan
    store: ReviewStore
    dimensions: Sequence[str]

    # -- helpers ----------------------------------------------------------------------------------

    def annotator(self, value: Any) -> str:
        name = value.strip() if isinstance(value, str) else ""
        if not name:
            raise ApiError(400, "give your name (annotator) to start; every judgement is stored under it")
        if len(name) > MAX_ANNOTATOR_CHARS:
            raise ApiError(400, f"the annotator name is longer than {MAX_ANNOTATOR_CHARS} characters")
        return name

    def item(self, index: Any) -> tuple[int, ReviewItem]:
        try:
            number = int(index)
        except (TypeError, ValueError):
            raise ApiError(404, f"no item {index!r}") from None
        if not 0 <= number < len(self.plan.items):
            raise ApiError(404, f"no item {number}: this session has items 0..{len(self.plan.items) - 1}")
        return number, self.plan.items[number]

    def mine(self, annotator: str) -> dict[int, Judgement]:
        return self.plan.judgements_by_item(self.store.current(kind=self.plan.kind), annotator)  # type: ignore[arg-type]

    def dimensions_of(self, item: ReviewItem) -> Sequence[str]:
        """The case file's own review_dimensions when it names them, else the session's."""
        return item.dimensions if item.dimensions is not None else self.dimensions

    def finished(self, annotator: str) -> bool:
        return self.store.is_finished(self.plan.session, annotator)

    def order(self, item: ReviewItem, annotator: str) -> str:
        return self.store.pair_order(self.plan.session, item.case_id, annotator)

    # -- endpoints --------------------------------------------------------------------------------

    def session(self, annotator: str) -> dict[str, Any]:
        mine = self.mine(annotator)
        states = []
        for number, item in enumerate(self.plan.items):
            judgement = mine.get(number)
            state = "todo" if judgement is None else "skipped" if judgement.skipped else "done"
            states.append({"index": number, "state": state, "needs_review": item.needs_review})
        pending = [s["index"] for s in states if s["state"] == "todo"]
        data: dict[str, Any] = {
            "kind": self.plan.kind,
            "annotator": annotator,
            "dimensions": list(self.dimensions),
            "total": len(states),
            "done": sum(1 for s in states if s["state"] == "done"),
            "skipped": sum(1 for s in states if s["state"] == "skipped"),
            "first_pending": pending[0] if pending else None,
            "items": states,
            "finished": self.finished(annotator),
            "left_out": {"without_output": self.plan.without_output, "identical": self.plan.identical},
        }
        if self.plan.kind == "likert":  # nothing is blind in Likert mode
            data["run"] = {"run_id": self.plan.run_ids[0], "model": self.plan.model_sources[0]}
        return data

    def show(self, index: Any, annotator: str) -> dict[str, Any]:
        number, item = self.item(index)
        judgement = self.mine(annotator).get(number)
        data: dict[str, Any] = {
            "index": number,
            "case_id": item.case_id,
            "prompt": item.prompt,
            "messages": item.messages,
            "system": item.system,
            "needs_review": item.needs_review,
            "skipped": bool(judgement and judgement.skipped),
        }
        if self.plan.kind == "likert":
            data["output"] = item.output
            data["reference"] = item.reference
            data["dimensions"] = list(self.dimensions_of(item))
            data["ratings"] = {} if judgement is None else judgement.ratings
            data["comment"] = None if judgement is None else judgement.comment
            return data
        first_as = self.order(item, annotator)
        first, second = item.output, item.other_output
        data["outputs"] = {"A": first, "B": second} if first_as == "A" else {"A": second, "B": first}
        data["choice"] = None if judgement is None or judgement.skipped else _shown_choice(judgement, item, first_as)
        data["comment"] = None if judgement is None else judgement.comment
        return data

    def judge(self, index: Any, body: dict[str, Any]) -> dict[str, Any]:
        annotator = self.annotator(body.get("annotator"))
        _, item = self.item(index)
        comment = body.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise ApiError(400, "comment must be text")
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise ApiError(400, f"the comment is longer than {MAX_COMMENT_CHARS} characters")
        skip = body.get("skip") is True
        common: dict[str, Any] = {
            "judgement_id": "",
            "kind": self.plan.kind,
            "session": self.plan.session,
            "case_id": item.case_id,
            "run_id": item.run_id,
            "output_sha256": item.output_sha256,
            "annotator": annotator,
            "created_at": time.time(),
            "skipped": skip,
            "comment": comment or None,
            "prompt": item.prompt,
            "messages": item.chat(),
            "output": item.output,
        }
        if self.plan.kind == "likert":
            ratings = {} if skip else self._ratings(body.get("ratings"), self.dimensions_of(item))
            judgement = Judgement(**common, ratings=ratings)
        else:
            if self.finished(annotator):
                raise ApiError(
                    409,
                    "you finished this session and saw which run is which; a judgement now "
                    "would not be blind (start a session under another name)",
                )
            first_as = self.order(item, annotator)
            choice = None if skip else _run_choice(body.get("choice"), first_as)
            judgement = Judgement(
                **common,
                choice=choice,  # type: ignore[arg-type]
                first_shown_as=first_as,  # type: ignore[arg-type]
                other_run_id=item.other_run_id,
                other_output_sha256=item.other_output_sha256,
                other_output=item.other_output,
            )
        self.store.add(judgement)
        return self.session(annotator)

    def _ratings(self, ratings: Any, dimensions: Sequence[str]) -> dict[str, int]:
        if not isinstance(ratings, dict):
            raise ApiError(400, "ratings must be an object of dimension -> 1..5")
        missing = [d for d in dimensions if d not in ratings]
        if missing:
            raise ApiError(400, f"rate every dimension or skip: missing {', '.join(missing)}")
        unknown = sorted(set(ratings) - set(dimensions))
        if unknown:
            raise ApiError(
                400, f"unknown dimensions {', '.join(unknown)}; this case is rated on {', '.join(dimensions)}"
            )
        clean = {}
        for dimension in dimensions:
            value = ratings[dimension]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
                raise ApiError(400, f"rating {dimension!r} must be a whole number 1..5, not {value!r}")
            clean[dimension] = value
        return clean

    def undo(self, body: dict[str, Any]) -> dict[str, Any]:
        annotator = self.annotator(body.get("annotator"))
        if self.plan.kind == "pairwise" and self.finished(annotator):
            raise ApiError(409, "the session is finished; its judgements stay as they are")
        undone = self.store.retract_last(self.plan.session, annotator)
        index = None
        if undone is not None:
            keys = [item.item_key for item in self.plan.items]
            index = keys.index(undone.item_key) if undone.item_key in keys else None
        return {"undone": index, "session": self.session(annotator)}

    def finish(self, body: dict[str, Any]) -> dict[str, Any]:
        annotator = self.annotator(body.get("annotator"))
        self.store.finish(self.plan.session, annotator)
        return self.reveal(annotator)

    def reveal(self, annotator: str) -> dict[str, Any]:
        if self.plan.kind != "pairwise":
            return {"items": []}
        if not self.finished(annotator):
            raise ApiError(403, "which run is A and which is B is shown only after you finish the session")
        mine = self.mine(annotator)
        rows = []
        for number, item in enumerate(self.plan.items):
            first_as = self.order(item, annotator)
            judgement = mine.get(number)
            rows.append(
                {
                    "index": number,
                    "case_id": item.case_id,
                    "A": "first" if first_as == "A" else "second",
                    "choice": None if judgement is None or judgement.skipped else judgement.choice,
                }
            )
        runs = [
            {"run_id": run_id, "model": model}
            for run_id, model in zip(self.plan.run_ids, self.plan.model_sources, strict=True)
        ]
        return {"first": runs[0], "second": runs[1], "items": rows}


def _run_choice(choice: Any, first_as: str) -> str:
    if choice not in ("A", "B", "tie"):
        raise ApiError(400, f"choice must be 'A', 'B' or 'tie', not {choice!r}")
    if choice == "tie":
        return "tie"
    return "first" if choice == first_as else "second"


def _shown_choice(judgement: Judgement, item: ReviewItem, first_as: str) -> str | None:
    if judgement.choice == "tie" or judgement.choice is None:
        return judgement.choice
    first_chosen = judgement.choice == "first"
    if judgement.output_sha256 != item.output_sha256:  # made with the runs the other way round
        first_chosen = not first_chosen
    if first_chosen:
        return first_as
    return "B" if first_as == "A" else "A"


def build_app(review: ReviewApp, allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> Any:
    """The Starlette application serving ``review``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    assets = resources.files("pytest_llmeval.review") / "assets"
    headers = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

    def asset(name: str, media_type: str) -> Response:
        return Response((assets / name).read_bytes(), media_type=media_type, headers=headers)

    def api(function: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                if request.method == "POST":
                    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                        raise ApiError(415, "send JSON (Content-Type: application/json)")
                    try:
                        body = await request.json()
                    except ValueError:
                        raise ApiError(400, "the request body is not JSON") from None
                    if not isinstance(body, dict):
                        raise ApiError(400, "the request body must be a JSON object")
                    result = await run_in_threadpool(function, request, body)
                else:
                    result = await run_in_threadpool(function, request, None)
            except ApiError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
            return JSONResponse(result, headers=headers)

        return endpoint

    async def page(request: Request) -> Response:
        return asset("review.html", "text/html; charset=utf-8")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSETS:
            return Response("not found", status_code=404, media_type="text/plain")
        return asset(name, _ASSETS[name])

    def query_annotator(request: Request) -> str:
        return review.annotator(request.query_params.get("annotator"))

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/session", api(lambda r, b: review.session(query_annotator(r)))),
        Route("/api/item/{index}", api(lambda r, b: review.show(r.path_params["index"], query_annotator(r)))),
        Route(
            "/api/item/{index}/judgement", api(lambda r, b: review.judge(r.path_params["index"], b)), methods=["POST"]
        ),
        Route("/api/undo", api(lambda r, b: review.undo(b)), methods=["POST"]),
        Route("/api/finish", api(lambda r, b: review.finish(b)), methods=["POST"]),
        Route("/api/reveal", api(lambda r, b: review.reveal(query_annotator(r)))),
    ]
    # Only the names this app was opened under: a page elsewhere cannot reach it by a DNS name that
    # resolves to 127.0.0.1 (DNS rebinding).
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    return Starlette(routes=routes, middleware=middleware)


def serve(review: ReviewApp, host: str = "127.0.0.1", port: int = 8765, out: TextIO = sys.stdout) -> None:
    """Serve ``review`` on ``host:port`` (port 0: any free port) until interrupted; prints the URL."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another --port") from None
    listener.listen(128)
    bound_port = listener.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    hosts = {"127.0.0.1", "localhost", host, "[::1]", f"[{host}]"} if host not in ("0.0.0.0", "::") else {"*"}
    app = build_app(review, allowed_hosts=sorted(hosts))
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"llmeval review: warning: listening on {host}, not only this machine: anyone who can reach "
            "it can read the outputs and add judgements (there is no login)",
            file=out,
            flush=True,
        )
    print(
        f"llmeval review: {review.plan.kind} review of {len(review.plan.items)} items at "
        f"http://{shown_host}:{bound_port}/ (Ctrl+C to stop)",
        file=out,
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])

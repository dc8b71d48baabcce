"""Servers on 127.0.0.1 for the served-model tests.

``FakeOpenAIServer``: a small OpenAI-compatible HTTP server whose answers a test scripts (429 with
Retry-After, 5xx, slow answers, bad JSON, 401, logprobs), for the failure cases a real server cannot
be made to produce on demand. ``TransformersServe``: the real ``transformers serve`` in a subprocess.
Both listen on loopback only, and every wait in here is bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from typing_extensions import Self


@dataclass
class Received:
    """One request as the fake server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]
    at: float


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless ``raw`` is given
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    die: bool = False  # stop the server and drop this connection unanswered (a crash mid-run)


Script = Callable[["FakeOpenAIServer", Received], Answer]


def completion(
    text: str, *, finish_reason: str = "stop", tokens: int | None = None, logprobs: Any = None
) -> dict[str, Any]:
    """A chat-completion answer as an OpenAI-compatible server writes it."""
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": finish_reason,
    }
    if logprobs is not None:
        choice["logprobs"] = logprobs
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [choice],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": tokens if tokens is not None else len(text.split()),
            "total_tokens": 5,
        },
    }


def echo_script(server: FakeOpenAIServer, request: Received) -> Answer:
    """Lists ``fake`` as its model and answers each chat with ``echo: <last message>``."""
    if request.path.endswith("/models"):
        return Answer(body={"object": "list", "data": [{"id": "fake", "object": "model", "root": "/weights/fake"}]})
    if request.path.endswith("/chat/completions"):
        return Answer(body=completion("echo: " + request.body["messages"][-1]["content"]))
    if request.path.endswith("/completions"):
        return Answer(
            body={
                "choices": [{"index": 0, "text": "echo: " + request.body["prompt"], "finish_reason": "length"}],
                "usage": {"completion_tokens": 3},
            }
        )
    return Answer(status=404, body={"error": {"message": f"no route {request.path}"}})


class FakeOpenAIServer:
    """``with FakeOpenAIServer(script) as server:`` serves on ``server.base_url`` until the block ends.

    ``script(server, request)`` decides each answer; ``server.received`` keeps every request, and
    ``server.max_in_flight`` the most requests it was answering at once.
    """

    def __init__(self, script: Script = echo_script) -> None:
        self.script = script
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._stopped = False
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {"_unparsed": raw.decode("utf-8", "replace")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(self.command, self.path, headers, body, time.monotonic())
                with outer._lock:
                    outer.received.append(request)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    answer = outer.script(outer, request)
                    if answer.die:
                        threading.Thread(target=outer.stop, daemon=True).start()
                        self.close_connection = True
                        return
                    if answer.delay_s:
                        time.sleep(answer.delay_s)
                    payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

            do_GET = _serve
            do_POST = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def requests_to(self, suffix: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.endswith(suffix)]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: later requests find nothing at the port (connection refused)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._server.server_close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TransformersServe:
    """``transformers serve MODEL`` on 127.0.0.1 in a subprocess, pinned to one local model folder."""

    def __init__(self, model: Path, log: Path) -> None:
        self.model = model
        self.port = free_port()
        self.log = log
        self.extra_args: list[str] = []  # more `transformers serve` options
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 180.0) -> None:
        executable = Path(sys.executable).with_name("transformers")
        env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        command = [
            str(executable),
            "serve",
            str(self.model),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--device",
            "cpu",
            "--log-level",
            "warning",
            *self.extra_args,
        ]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"transformers serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"transformers serve did not answer /health within {timeout_s:g} s:\n{self.log.read_text()[-3000:]}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

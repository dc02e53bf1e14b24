"""A stand-in ingest server for the client's tests: stdlib ``http.server`` over a Unix socket (or
TCP), speaking the wire protocol of docs/tracking.md closely enough to test delivery: it
deduplicates by ``(client, seq)``, refuses a sequence gap with 409, records every frame it
receives, and can be told to misbehave (drop connections, answer 503, 409, be down)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import runlake
from runlake import _sender
from runlake._frames import decode_frame
from runlake._sidecar import socket_path


@dataclass
class Received:
    client: str
    seq: int
    frame: bytes
    header: dict[str, Any]
    stored: bool


@dataclass
class Behaviour:
    drop_before_store: int = 0  # close the connection without storing or answering, N times
    drop_after_store: int = 0  # store, then close without answering, N times
    unavailable: int = 0  # answer 503, N times
    conflict: int = 0  # answer 409, N times
    delay: float = 0.0  # seconds to wait before answering a batch
    fold_unavailable: int = 0  # answer 503 to a fold, N times
    no_runs_route: bool = False  # an older server: GET /runs/<id> is 404
    token: str | None = None


@dataclass
class FakeState:
    behaviour: Behaviour = field(default_factory=Behaviour)
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[Received] = field(default_factory=list)  # every POST, retries included
    acknowledged: dict[str, int] = field(default_factory=dict)
    folds: list[int] = field(default_factory=list)  # len(stored) when each fold came
    connections: int = 0
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    open_sockets: set[socket.socket] = field(default_factory=set)

    def stored(self) -> list[Received]:
        return [r for r in self.received if r.stored]

    def records(self) -> list[dict[str, Any]]:
        return [record for r in self.stored() for record in r.header["records"]]

    def points(self) -> list[tuple[str, int, float, str | None]]:
        """(name, step, value, split) of every stored point, in the order received."""
        out = []
        for record in self.records():
            if record["kind"] == "metrics":
                c = record["columns"]
                for i, s, v in zip(c["name"], c["step"], c["value"], strict=True):
                    out.append((record["names"][i], s, v, record["split"]))
        return out


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1
            self.server.state.open_sockets.add(self.connection)

    def finish(self) -> None:
        super().finish()
        with self.server.state.lock:
            self.server.state.open_sockets.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _authorized(self) -> bool:
        token = self.server.state.behaviour.token
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            self._answer(401, {"error": "no or wrong write token"})
            return False
        return True

    def do_GET(self) -> None:
        state: FakeState = self.server.state
        state.requests.append(("GET", self.path, self.headers.get("Authorization")))
        if not self._authorized():
            return
        if self.path == "/api/ingest/v1/status":
            self._answer(200, {"version": 1, "lake": "fake", "segments": 0, "pendingBatches": 0, "clients": 0})
        elif self.path.startswith("/api/ingest/v1/runs/") and not state.behaviour.no_runs_route:
            run_id = urllib.parse.unquote(self.path[len("/api/ingest/v1/runs/") :])
            with state.lock:
                mine = [r for r in state.records() if r.get("run_id") == run_id]
            steps = [s for r in mine if r["kind"] == "metrics" for s in r["columns"]["step"]]
            last = max(steps, default=None)
            self._answer(200, {"run_id": run_id, "exists": bool(mine), "lastStep": last})
        else:
            self._answer(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        state: FakeState = self.server.state
        state.requests.append(("POST", self.path, self.headers.get("Authorization")))
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not self._authorized():
            return
        if self.path == "/api/ingest/v1/fold":
            if state.behaviour.fold_unavailable > 0:
                state.behaviour.fold_unavailable -= 1
                self._answer(503, {"error": "the server is stopping; retry"})
                return
            with state.lock:
                state.folds.append(len(state.stored()))
            self._answer(200, {"folded": len(state.folds)})
            return
        if self.path != "/api/ingest/v1/batches":
            self._answer(404, {"error": f"no route {self.path}"})
            return
        b = state.behaviour
        if self.headers.get("Content-Type") != "application/x-runlake-batch":
            self._answer(400, {"error": "wrong content type"})
            return
        header = decode_frame(body)
        client, seq = header["client"], header["seq"]
        with state.lock:
            if b.drop_before_store > 0:
                b.drop_before_store -= 1
                state.received.append(Received(client, seq, body, header, False))
                drop = True
            elif b.unavailable > 0:
                b.unavailable -= 1
                state.received.append(Received(client, seq, body, header, False))
                self._answer(503, {"error": "the server is stopping; retry"})
                return
            elif b.conflict > 0:
                b.conflict -= 1
                state.received.append(Received(client, seq, body, header, False))
                self._answer(409, {"error": f"batch {seq} of client {client}: expected seq 99"})
                return
            else:
                last = state.acknowledged.get(client, 0)
                if seq > last + 1:
                    self._answer(409, {"error": f"client {client}: batch {seq} after {last}: expected {last + 1}"})
                    return
                stored = seq == last + 1
                if stored:
                    state.acknowledged[client] = seq
                state.received.append(Received(client, seq, body, header, stored))
                drop = False
                if b.drop_after_store > 0:
                    b.drop_after_store -= 1
                    drop = True
        if drop:
            self._drop()
            return
        if b.delay:
            time.sleep(b.delay)
        self._answer(200, {"client": client, "seq": seq, "stored": stored})


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _TcpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


class FakeServer:
    """Serves on ``path`` (a Unix socket) or on 127.0.0.1 (``url``) until stopped."""

    def __init__(self, path: str | None = None, state: FakeState | None = None) -> None:
        self.path = path
        self.state = state or FakeState()
        self.server: socketserver.BaseServer | None = None
        self.url: str | None = None

    def start(self) -> FakeServer:
        if self.path is not None:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            if os.path.exists(self.path):
                os.unlink(self.path)
            server: socketserver.BaseServer = _UnixServer(self.path, _Handler)
        else:
            server = _TcpServer(("127.0.0.1", 0), _Handler)
            self.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[index]
        server.state = self.state  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.server = server
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # A stopped server takes its open connections down too, as a killed process would.
        with self.state.lock:
            for sock in self.state.open_sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.state.open_sockets.clear()
        if self.path is not None and os.path.exists(self.path):
            os.unlink(self.path)


@pytest.fixture
def lake(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A lake directory whose sidecar socket lives under tmp_path; no real sidecar can start."""
    runtime = tmp_path / "run"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("RUNLAKE_BIN", str(tmp_path / "no-such-runlake"))
    monkeypatch.setenv("RUNLAKE_SPOOL", str(tmp_path / "spool"))
    path = tmp_path / "lake"
    path.mkdir()
    return str(path)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sender, "SPOOL_AFTER", 0.3)
    monkeypatch.setattr(_sender, "RETRY_EVERY", 0.2)


@pytest.fixture
def server(lake: str) -> Iterator[FakeServer]:
    fake = FakeServer(socket_path(lake)).start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _finish_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Takes monkeypatch so that runs are finished before the environment is restored: a run
    # that reconnects while finishing must not find the real sidecar.
    yield
    current = runlake.run
    if current is not None:
        try:
            current.finish(timeout=10)
        except Exception:
            pass

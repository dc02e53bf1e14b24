"""HTTP/1.1 to the ingest server: over a Unix socket (local mode) or TCP (remote mode).

One :class:`Transport` keeps one persistent connection: the local sidecar counts open
connections to know when its last client has left (docs/tracking.md, "Local mode").
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from typing import Any

from ._frames import CONTENT_TYPE

API = "/api/ingest/v1"


class RunlakeError(Exception):
    """Base class of runlake's errors."""


class ServerError(RunlakeError):
    """The server refused a request: ``status`` is the HTTP status, the message its error line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(RunlakeError):
    """The server could not be reached (connection refused or reset, timeout, 503)."""


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` whose socket is the Unix socket at ``path``."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        # The Host header says localhost, which the server's Host rule accepts.
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class Transport:
    """Requests to one ingest server over one persistent connection (not thread-safe: one
    thread at a time, the run's sender)."""

    def __init__(self, *, socket_path: str | None = None, url: str | None = None, token: str | None = None) -> None:
        if (socket_path is None) == (url is None):
            raise ValueError("a transport needs exactly one of socket_path and url")
        self.socket_path = socket_path
        self.url = url
        self.token = token
        self._prefix = ""
        self._host = ""
        self._port: int | None = None
        self._https = False
        if url is not None:
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"server={url!r}: expected http://host:port or https://host:port")
            self._https = parts.scheme == "https"
            self._host = parts.hostname
            self._port = parts.port
            self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def describe(self) -> str:
        return f"unix socket {self.socket_path}" if self.socket_path is not None else f"{self.url}"

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is None:
            if self.socket_path is not None:
                conn = UnixHTTPConnection(self.socket_path, timeout=timeout)
            elif self._https:
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | None = None, *, timeout: float = 60.0) -> Any:
        """Sends one request and returns its JSON answer. Raises :class:`Unreachable` when the
        server cannot be reached or answers 503, :class:`ServerError` for any other error status."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = CONTENT_TYPE
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        # A persistent connection the server closed while idle fails on first use: one immediate
        # retry on a fresh connection tells that apart from a server that is really gone.
        for attempt in (0, 1):
            conn = self._connection(timeout)
            reused = conn.sock is not None
            try:
                conn.request(method, self._prefix + API + path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if reused and attempt == 0:
                    continue
                raise Unreachable(f"{self.describe()}: {type(error).__name__}: {error}") from error
            if response.will_close:
                self.close()
            return _answer(method, path, response.status, payload, self.describe())
        raise AssertionError("unreachable")  # pragma: no cover


def _answer(method: str, path: str, status: int, payload: bytes, where: str) -> Any:
    try:
        answer = json.loads(payload) if payload else None
    except ValueError:
        answer = None
    if status == 200:
        return answer
    message = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(message, str):
        message = payload[:200].decode("utf-8", "replace").strip() or f"HTTP {status}"
    text = f"{method} {API}{path} on {where}: {status}: {message}"
    if status == 503:
        raise Unreachable(text)
    raise ServerError(status, text)

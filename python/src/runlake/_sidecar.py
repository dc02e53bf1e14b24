"""Local mode: find, or start, the lake's ingest sidecar (docs/tracking.md, "Local mode: the sidecar")."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from typing import IO

from ._transport import RunlakeError, ServerError, Transport, Unreachable

#: How long a client waits for a sidecar it started to answer on its socket.
START_TIMEOUT = 30.0


def socket_path(lake: str) -> str:
    """``<runtime dir>/runlake-<uid>/<h>.sock``: ``h`` is the first 16 hex characters of the
    SHA-256 of the lake's real path. The runtime directory is ``$XDG_RUNTIME_DIR`` or the system's
    temporary directory, not the lake, because a socket path may not exceed 107 bytes."""
    digest = hashlib.sha256(os.fsencode(os.path.realpath(lake))).hexdigest()[:16]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return os.path.join(runtime, f"runlake-{os.getuid()}", f"{digest}.sock")


def cli_command() -> list[str] | None:
    """The runlake CLI: ``$RUNLAKE_BIN``, ``runlake`` on ``PATH``, or ``npx --no-install runlake``."""
    configured = os.environ.get("RUNLAKE_BIN")
    if configured:
        # A JavaScript entry point (dist/cli.js) is run by node; anything else is executed.
        if configured.endswith((".js", ".mjs", ".cjs")):
            return [shutil.which("node") or "node", configured]
        return [configured]
    found = shutil.which("runlake")
    if found:
        return [found]
    npx = shutil.which("npx")
    if npx:
        return [npx, "--no-install", "runlake"]
    return None


def _check_private_directory(directory: str) -> None:
    """Creates the socket directory (mode 0700) or checks that it is this user's and private:
    in a shared temporary directory another user could have made it, to receive the metrics."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise Unreachable(
            f"{directory} is not a private directory of this user (owner uid {info.st_uid}, mode "
            f"{stat.S_IMODE(info.st_mode):o}): refusing to use a sidecar socket there"
        )


def _answers(transport: Transport, deadline: float) -> bool:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    try:
        transport.request("GET", "/status", timeout=min(5.0, remaining))
    except Unreachable:
        return False
    return True


def _lock(f: IO[str], deadline: float) -> bool:
    """flock(LOCK_EX) on ``f``, polled without blocking until ``deadline``: a process waiting for
    the start lock must still be able to give up in time and spool its batch."""
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that pid now
        return False
    # A zombie (dead, not yet reaped by a parent that is gone too) counts as dead.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2][:2] != b" Z"
    except OSError:
        return True  # no /proc: trust kill(0)


def _starter(f: IO[str]) -> int | None:
    """The pid of the sidecar another client started less than :data:`START_TIMEOUT` seconds ago
    and that still runs (recorded in the start lock file), or None."""
    f.seek(0)
    try:
        record = json.loads(f.read() or "null")
        pid, started = int(record["pid"]), float(record["started"])
    except (ValueError, TypeError, KeyError):
        return None
    if not 0 <= time.time() - started < START_TIMEOUT:
        return None
    return pid if _alive(pid) else None


def connect(lake: str, *, start: bool = True, deadline: float | None = None, schema: str | None = None) -> Transport:
    """A transport to the lake's sidecar, started when nothing answers on its socket.

    Gives up at ``deadline`` (``time.monotonic()``; default :data:`START_TIMEOUT` seconds from
    now), raising :class:`Unreachable`: a sidecar it started by then is left to come up on its
    own, and the next attempt finds it. ``schema`` is the schema set a sidecar it starts gives a
    lake that records none yet (``--schema``; a lake that records one keeps it). Raises
    :class:`ServerError` when the sidecar answers with an error."""
    if deadline is None:
        deadline = time.monotonic() + START_TIMEOUT
    path = socket_path(lake)
    if len(os.fsencode(path)) > 107:
        raise Unreachable(f"the sidecar socket path {path} is over the 107 bytes a Unix socket path may have")
    _check_private_directory(os.path.dirname(path))
    transport = Transport(socket_path=path)
    if _answers(transport, deadline):
        return transport
    if not start:
        raise Unreachable(f"no runlake sidecar answers on {path}")
    command = cli_command()
    if command is None:
        raise Unreachable(
            "cannot start the runlake sidecar: no runlake CLI (set RUNLAKE_BIN, put runlake on PATH, or install npx)"
        )
    while True:
        # One starter at a time per lake: when the sidecar dies under many processes (DDP ranks,
        # a sweep), each would otherwise start its own node process, all but one to lose the
        # race for server.lock. The lock is held only to decide and spawn; the sidecar's pid and
        # start time are recorded in the lock file, so the others wait for that one (until their
        # own deadline) instead of starting more. flock is released when its holder dies, so a
        # killed starter blocks no one.
        process: subprocess.Popen[bytes] | None = None
        with open(path[: -len(".sock")] + ".start.lock", "a+") as start_lock:
            if not _lock(start_lock, deadline):
                raise Unreachable(f"no runlake sidecar answers on {path} (another process is starting one)")
            pid = _starter(start_lock)
            if pid is None:
                if _answers(transport, deadline):
                    return transport
                process = _spawn(lake, path, command, schema)
                pid = process.pid
                start_lock.seek(0)
                start_lock.truncate()
                start_lock.write(json.dumps({"pid": pid, "started": time.time()}))
                start_lock.flush()
        answered = _wait(transport, path, pid, process, deadline)
        if answered is not None:
            return answered
        if process is not None or time.monotonic() >= deadline:
            state = (
                f"exited with status {process.poll()}"
                if process is not None and process.poll() is not None
                else "did not answer in time (it may still be starting)"
            )
            log_path = _log_path(lake)
            raise Unreachable(f"the runlake sidecar for {lake} (pid {pid}) {state}; see {log_path}{_tail(log_path)}")
        # The sidecar another client started died before answering: start one (or wait for the
        # one a third client starts).


def _log_path(lake: str) -> str:
    return os.path.join(lake, ".runlake", "ingest", "sidecar.log")


def _spawn(lake: str, path: str, command: list[str], schema: str | None) -> subprocess.Popen[bytes]:
    log_path = _log_path(lake)
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    # The absolute path: the sidecar outlives this process, and its messages should name the lake.
    args = [*command, "serve", os.path.abspath(lake), "--ingest", "--socket", path, "--exit-when-idle"]
    if schema is not None:
        args += ["--schema", schema]
    with open(log_path, "ab") as log:
        log.write(f"== {time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()} starts: {args!r}\n".encode())
        log.flush()
        try:
            # Detached (its own session) so that a Ctrl-C or the end of the training process does
            # not take it down before it has folded what it acknowledged.
            process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
            )
        except OSError as error:
            raise Unreachable(f"cannot start the runlake sidecar ({' '.join(args)}): {error}") from error
    # Reaped by a daemon thread: the sidecar is this process's child, and would otherwise stay a
    # zombie once it exits while training goes on.
    threading.Thread(target=process.wait, name="runlake-sidecar-reaper", daemon=True).start()
    return process


def _wait(
    transport: Transport, path: str, pid: int, process: subprocess.Popen[bytes] | None, deadline: float
) -> Transport | None:
    """Waits until the sidecar answers (the transport), its starter ``pid`` has been dead for a
    while, or ``deadline`` (None for both)."""
    exited_at: float | None = None
    while time.monotonic() < deadline:
        if os.path.exists(path) and _answers(transport, deadline):
            return transport
        if exited_at is None and not (_alive(pid) if process is None else process.poll() is None):
            # It may have lost the race for server.lock to another sidecar, which will answer
            # on the same socket: keep waiting a little, then give up.
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > (5.0 if process is not None else 1.0):
            return None
        time.sleep(0.05)
    return None


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 400))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


__all__ = ["START_TIMEOUT", "RunlakeError", "ServerError", "cli_command", "connect", "socket_path"]

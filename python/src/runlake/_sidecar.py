"""Local mode: find, or start, the lake's ingest sidecar (docs/tracking.md, "Local mode: the sidecar")."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import threading
import time

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


def _answers(transport: Transport) -> bool:
    try:
        transport.request("GET", "/status", timeout=5.0)
    except Unreachable:
        return False
    return True


def connect(lake: str, *, start: bool = True) -> Transport:
    """A transport to the lake's sidecar, started when nothing answers on its socket. Raises
    :class:`Unreachable` when it cannot be started or does not answer within
    :data:`START_TIMEOUT` seconds, :class:`ServerError` when it answers with an error."""
    path = socket_path(lake)
    if len(os.fsencode(path)) > 107:
        raise Unreachable(f"the sidecar socket path {path} is over the 107 bytes a Unix socket path may have")
    _check_private_directory(os.path.dirname(path))
    transport = Transport(socket_path=path)
    if _answers(transport):
        return transport
    if not start:
        raise Unreachable(f"no runlake sidecar answers on {path}")
    command = cli_command()
    if command is None:
        raise Unreachable(
            "cannot start the runlake sidecar: no runlake CLI (set RUNLAKE_BIN, put runlake on PATH, or install npx)"
        )
    # One starter at a time per lake: when the sidecar dies under many processes (DDP ranks, a
    # sweep), each would otherwise start its own node process, all but one to lose the race for
    # server.lock. The others wait here, then find the winner answering. flock is released when
    # its holder dies, so a killed starter blocks no one.
    with open(path[: -len(".sock")] + ".start.lock", "a") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        if _answers(transport):
            return transport
        return _start(lake, path, command, transport)


def _start(lake: str, path: str, command: list[str], transport: Transport) -> Transport:
    log_dir = os.path.join(lake, ".runlake", "ingest")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "sidecar.log")
    # The absolute path: the sidecar outlives this process, and its messages should name the lake.
    args = [*command, "serve", os.path.abspath(lake), "--ingest", "--socket", path, "--exit-when-idle"]
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
    deadline = time.monotonic() + START_TIMEOUT
    exited_at: float | None = None
    while time.monotonic() < deadline:
        if os.path.exists(path) and _answers(transport):
            return transport
        if exited_at is None and process.poll() is not None:
            # It may have lost the race for server.lock to another client's sidecar, which will
            # answer on the same socket: keep waiting a little, then give up.
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > 5.0:
            break
        time.sleep(0.05)
    code = process.poll()
    state = f"exited with status {code}" if code is not None else f"did not answer within {START_TIMEOUT:g} s"
    raise Unreachable(f"the runlake sidecar ({' '.join(args)}) {state}; see {log_path}{_tail(log_path)}")


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

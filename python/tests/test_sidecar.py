"""Local mode: the sidecar's socket path, and starting it through ``RUNLAKE_BIN`` when nothing
answers (docs/tracking.md, "Local mode: the sidecar"). The CLI here is a stand-in script that
records how it was started and then serves the stand-in server of conftest.py on ``--socket``
until its last client has gone."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

import runlake
from runlake import _sidecar

FAKE_CLI = """#!{python}
import json, os, sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeServer

args = sys.argv[1:]
lake = args[1]
path = args[args.index("--socket") + 1]
with open(os.path.join(lake, "cli.json.tmp"), "w") as f:
    json.dump({{"argv": args, "sid": os.getsid(0), "pid": os.getpid()}}, f)
os.replace(os.path.join(lake, "cli.json.tmp"), os.path.join(lake, "cli.json"))
time.sleep(float(os.environ.get("FAKE_SIDECAR_DELAY", "0")))  # a slow start (a loaded machine)
server = FakeServer(path).start()
idle_since = None
while True:
    time.sleep(0.05)
    with server.state.lock:
        busy = bool(server.state.open_sockets) or server.state.connections == 0
    if busy:
        idle_since = None
    elif idle_since is None:
        idle_since = time.monotonic()
    elif time.monotonic() - idle_since > 0.5:
        break
with open(os.path.join(lake, "received.json.tmp"), "w") as f:  # renamed: the test polls for it
    json.dump([[r.client, r.seq, r.stored] for r in server.state.received], f)
os.replace(os.path.join(lake, "received.json.tmp"), os.path.join(lake, "received.json"))
server.stop()
"""


def test_socket_path_is_the_sha256_of_the_real_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    digest = hashlib.sha256(str((tmp_path / "real").resolve()).encode()).hexdigest()[:16]
    expected = f"/run/user/1000/runlake-{os.getuid()}/{digest}.sock"
    assert _sidecar.socket_path(str(tmp_path / "link")) == expected
    assert _sidecar.socket_path(str(tmp_path / "real")) == expected
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert _sidecar.socket_path(str(tmp_path / "real")).startswith(os.path.join(os.path.realpath("/tmp"), "runlake-"))


def test_cli_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAKE_BIN", "/opt/runlake/bin/runlake")
    assert _sidecar.cli_command() == ["/opt/runlake/bin/runlake"]
    monkeypatch.setenv("RUNLAKE_BIN", "/opt/runlake/dist/cli.js")
    assert _sidecar.cli_command()[1:] == ["/opt/runlake/dist/cli.js"]  # type: ignore[index]
    monkeypatch.delenv("RUNLAKE_BIN")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert _sidecar.cli_command() is None
    npx = bin_dir / "npx"
    npx.write_text("#!/bin/sh\n")
    npx.chmod(0o755)
    assert _sidecar.cli_command() == [str(npx), "--no-install", "runlake"]
    cli = bin_dir / "runlake"
    cli.write_text("#!/bin/sh\n")
    cli.chmod(0o755)
    assert _sidecar.cli_command() == [str(cli)]


def test_init_starts_a_detached_sidecar(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = Path(lake).parent / "fake-runlake"
    cli.write_text(FAKE_CLI.format(python=sys.executable, tests=str(Path(__file__).parent)))
    cli.chmod(0o755)
    monkeypatch.setenv("RUNLAKE_BIN", str(cli))
    # Two processes' worth of clients starting at once: one of them starts the sidecar, the
    # other waits on the start lock and then finds it answering.
    made: list[runlake.Run] = []
    starters = [threading.Thread(target=lambda: made.append(runlake.init(lake=lake, project="p"))) for _ in range(2)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    run, second = made
    assert run.mode == second.mode == "local"
    started = json.loads(Path(lake, "cli.json").read_text())
    path = _sidecar.socket_path(lake)
    assert started["argv"] == ["serve", lake, "--ingest", "--socket", path, "--exit-when-idle"]
    assert started["sid"] == started["pid"] != os.getsid(0)  # its own session: a Ctrl-C does not reach it
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert Path(lake, ".runlake", "ingest", "sidecar.log").exists()

    run.log({"loss": 1.0})
    second.log({"loss": 2.0})
    run.finish()
    second.finish()
    deadline = time.monotonic() + 15
    while not Path(lake, "received.json").exists():
        assert time.monotonic() < deadline, "the stand-in sidecar did not see its clients leave"
        time.sleep(0.05)
    received = json.loads(Path(lake, "received.json").read_text())
    assert sorted({c for c, _, _ in received}) == sorted([run.client, second.client])
    assert all(stored for _, _, stored in received)
    # Started once.
    assert Path(lake, ".runlake", "ingest", "sidecar.log").read_text().count("== ") == 1


def test_a_socket_directory_others_can_enter_is_refused(lake: str) -> None:
    directory = os.path.dirname(_sidecar.socket_path(lake))
    os.makedirs(directory)
    os.chmod(directory, 0o755)
    with pytest.raises(runlake.Unreachable, match="not a private directory of this user"):
        _sidecar.connect(lake)
    os.chmod(directory, 0o700)
    with pytest.raises(runlake.Unreachable, match="no-such-runlake"):
        _sidecar.connect(lake)


def test_a_socket_path_too_long_is_named(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/tmp/" + "x" * 100)
    with pytest.raises(runlake.Unreachable, match="over the 107 bytes"):
        _sidecar.connect(lake)


def _fake_cli(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = Path(lake).parent / "fake-runlake"
    cli.write_text(FAKE_CLI.format(python=sys.executable, tests=str(Path(__file__).parent)))
    cli.chmod(0o755)
    monkeypatch.setenv("RUNLAKE_BIN", str(cli))


def test_connect_gives_up_at_its_deadline_and_leaves_the_sidecar_starting(
    lake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_cli(lake, monkeypatch)
    monkeypatch.setenv("FAKE_SIDECAR_DELAY", "2")
    with pytest.raises(runlake.Unreachable, match="did not answer in time"):
        _sidecar.connect(lake, deadline=time.monotonic() + 0.3)
    # A second client (here: a second attempt) waits for the sidecar being started instead of
    # starting another one, and finds it answering.
    transport = _sidecar.connect(lake)
    transport.close()
    assert Path(lake, ".runlake", "ingest", "sidecar.log").read_text().count("== ") == 1


def test_connect_waits_for_the_start_lock_only_until_its_deadline(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    _fake_cli(lake, monkeypatch)
    path = _sidecar.socket_path(lake)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path[: -len(".sock")] + ".start.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process is starting the sidecar, for ever
        with pytest.raises(runlake.Unreachable, match="another process is starting one"):
            _sidecar.connect(lake, deadline=time.monotonic() + 0.3)
    assert not Path(lake, "cli.json").exists()  # nothing was started meanwhile


def test_a_recorded_starter_that_died_is_replaced(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cli(lake, monkeypatch)
    path = _sidecar.socket_path(lake)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    # A sidecar recorded as started a moment ago whose process is gone (SIGKILLed): start another.
    Path(path[: -len(".sock")] + ".start.lock").write_text(json.dumps({"pid": 2**22 + 7, "started": time.time()}))
    _sidecar.connect(lake).close()
    assert Path(lake, "cli.json").exists()

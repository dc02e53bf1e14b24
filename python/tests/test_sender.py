"""The background sender against the stand-in server of conftest.py: order, retries, 409, the
spool, flush and finish."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import runlake
from conftest import FakeServer
from runlake._frames import decode_frame
from runlake._sidecar import socket_path


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def test_batches_arrive_in_order_with_every_record(lake: str, server: FakeServer) -> None:
    run = runlake.init(
        lake=lake, project="p", name="n", group="g", tags=["a"], config={"lr": 0.1}, run_id="r1", flush_interval=60
    )
    assert run.mode == "local"
    run.log({"train/loss": 1.0, "grad": {"norm": 2}}, step=0)
    assert run.flush() == "acknowledged"
    run.config.update({"wd": 0.5})
    run.log({"train/loss": 0.5}, step=1)
    run.summary["best"] = 0.5
    assert run.flush() == "acknowledged"
    run.log_checkpoint(10, tokens_seen=4096, has_weights=True)
    run.log({"val/acc": True}, step=2, split="val")
    assert run.finish() == "acknowledged"

    stored = server.state.stored()
    assert [r.seq for r in stored] == list(range(1, len(stored) + 1))
    assert {r.client for r in stored} == {run.client}
    assert len(stored) == 3
    kinds = [rec["kind"] for rec in server.state.records()]
    assert kinds == ["run", "metrics", "config", "metrics", "summary", "checkpoint", "metrics", "finish"]
    first = server.state.records()[0]
    assert first["project"] == "p" and first["name"] == "n" and first["group"] == "g"
    assert first["tags"] == ["a"] and first["config"] == {"lr": 0.1} and first["status"] == "running"
    assert server.state.records()[2] == {"kind": "config", "run_id": "r1", "config": {"wd": 0.5}}
    assert server.state.records()[4] == {"kind": "summary", "run_id": "r1", "summary": {"best": 0.5}}
    checkpoint = server.state.records()[5]["rows"][0]
    assert checkpoint["step"] == 10 and checkpoint["tokens_seen"] == 4096 and checkpoint["has_weights"] is True
    assert server.state.records()[-1]["status"] == "finished"
    assert server.state.points() == [
        ("train/loss", 0, 1.0, None),
        ("grad.norm", 0, 2.0, None),
        ("train/loss", 1, 0.5, None),
        ("val/acc", 2, 1.0, "val"),
    ]
    assert dict(run.config) == {"lr": 0.1, "wd": 0.5} and dict(run.summary) == {"best": 0.5}
    # One persistent connection per run (the sidecar counts them to know when its clients left).
    assert server.state.connections == 1
    assert runlake.run is None


def test_a_dropped_connection_resends_the_same_client_and_seq(lake: str, server: FakeServer) -> None:
    run = runlake.init(lake=lake, run_id="r1")
    assert run.flush() == "acknowledged"  # seq 1: the run record
    server.state.behaviour.drop_before_store = 2
    server.state.behaviour.drop_after_store = 1
    run.log({"loss": 1.0}, step=0)
    assert run.flush() == "acknowledged"
    attempts = [r for r in server.state.received if r.seq == 2]
    # Two drops before storing, one after (the server has it: the resend is a duplicate).
    assert [r.stored for r in attempts] == [False, False, True, False]
    assert len({r.frame for r in attempts}) == 1 and {r.client for r in attempts} == {run.client}
    run.log({"loss": 2.0}, step=1)
    run.finish()
    assert server.state.points() == [("loss", 0, 1.0, None), ("loss", 1, 2.0, None)]


def test_503_is_retried(lake: str, server: FakeServer) -> None:
    server.state.behaviour.unavailable = 3
    run = runlake.init(lake=lake)
    run.log({"x": 1.0})
    assert run.flush() == "acknowledged"
    assert [r.stored for r in server.state.received] == [False, False, False, True]
    run.finish()


def test_409_is_raised_at_the_next_flush_and_later_batches_are_kept(lake: str, server: FakeServer) -> None:
    run = runlake.init(lake=lake, flush_interval=60)
    run.flush()
    server.state.behaviour.conflict = 1
    run.log({"x": 1.0})
    with pytest.raises(runlake.ProtocolError, match=r"409: batch 2 of client [0-9a-f]{32}: expected seq 99"):
        run.flush()
    run.log({"x": 2.0})
    with pytest.raises(runlake.ProtocolError, match="409"):
        run.flush()
    with pytest.raises(runlake.ProtocolError):
        run.finish()
    # Nothing logged is dropped: the refused batch and those after it wait in the spool.
    spooled = sorted(os.listdir(run._sender.spool_dir), key=lambda n: int(n.split(".")[0]))
    assert spooled == ["2.rlb", "3.rlb", "4.rlb"]


def test_unreachable_server_spools_then_uploads_in_order(lake: str, server: FakeServer, fast_retries: None) -> None:
    # Frames only at flushes (and the spool's retries, which the sender wakes up for by itself).
    run = runlake.init(lake=lake, run_id="r1", flush_interval=60)
    run.log({"a": 1.0}, step=0)
    assert run.flush() == "acknowledged"
    server.stop()
    run.log({"a": 2.0}, step=1)
    assert run.flush() == "spooled"
    run.log({"a": 3.0}, step=2)
    assert run.flush() == "spooled"
    spool = run._sender.spool_dir
    assert os.path.basename(spool) == run.client
    assert sorted(os.listdir(spool)) == ["2.rlb", "3.rlb"]
    frame = decode_frame(Path(spool, "2.rlb").read_bytes())
    assert frame["client"] == run.client and frame["seq"] == 2
    assert frame["records"][0]["columns"]["value"] == [2.0]

    server.start()
    run.log({"a": 4.0}, step=3)
    wait_until(lambda: not os.listdir(spool))  # the spool is uploaded without waiting for a flush
    assert run.flush() == "acknowledged"
    run.finish()
    assert [r.seq for r in server.state.stored()] == [1, 2, 3, 4, 5]
    assert [p[2] for p in server.state.points()] == [1.0, 2.0, 3.0, 4.0]


def test_a_server_down_from_the_start_spools_with_a_warning(lake: str, fast_retries: None) -> None:
    with pytest.warns(RuntimeWarning, match="no-such-runlake"):
        run = runlake.init(lake=lake, flush_interval=60)
    run.log({"a": 1.0})
    assert run.flush() == "spooled"
    fake = FakeServer(socket_path(lake)).start()
    try:
        wait_until(lambda: run._sender.spooled == 0)
        assert run.flush() == "acknowledged"
        run.finish()
        assert [r.seq for r in fake.state.stored()] == [1, 2]
    finally:
        fake.stop()


def test_finish_without_a_server_leaves_the_spool(lake: str, server: FakeServer, fast_retries: None) -> None:
    run = runlake.init(lake=lake, flush_interval=60)
    server.stop()
    run.log({"a": 1.0})
    with pytest.warns(RuntimeWarning, match="runlake sync"):
        assert run.finish() == "spooled"
    assert os.listdir(run._sender.spool_dir) == ["1.rlb"]
    records = decode_frame(Path(run._sender.spool_dir, "1.rlb").read_bytes())["records"]
    assert [r["kind"] for r in records] == ["run", "metrics", "finish"]


def test_flush_returns_after_the_server_has_every_earlier_point(lake: str, server: FakeServer) -> None:
    server.state.behaviour.delay = 0.2
    run = runlake.init(lake=lake, flush_interval=0.05)
    for step in range(50):
        run.log({"loss": float(step)}, step=step)
        if step == 25:
            result = run.flush()
            assert result == "acknowledged"
            assert [p[1] for p in server.state.points()][:26] == list(range(26))
    run.flush(visible=True)
    # The fold was asked for after the batches holding every point were stored.
    assert server.state.folds and server.state.folds[-1] == len(server.state.stored())
    assert [p[1] for p in server.state.points()] == list(range(50))
    run.finish()


def test_flush_timeout(lake: str, server: FakeServer) -> None:
    server.state.behaviour.delay = 1.0
    run = runlake.init(lake=lake)
    with pytest.raises(TimeoutError):
        run.flush(timeout=0.1)
    assert run.flush() == "acknowledged"
    run.finish()


def test_many_points_are_split_into_frames(lake: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from runlake import _sender

    monkeypatch.setattr(_sender, "FRAME_POINTS", 1000)
    run = runlake.init(lake=lake, flush_interval=10)
    for step in range(600):
        run.log({"a": 1.0, "b": 2.0, "c": 3.0}, step=step)
    run.finish()
    stored = server.state.stored()
    assert len(stored) >= 2
    assert len(server.state.points()) == 1800
    assert [p[1] for p in server.state.points()[::3]] == list(range(600))


def test_remote_mode_sends_the_write_token(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNLAKE_SPOOL", str(tmp_path))
    fake = FakeServer().start()
    fake.state.behaviour.token = "secret"
    try:
        assert fake.url is not None
        with pytest.raises(runlake.RunlakeError, match="401: no or wrong write token"):
            runlake.init(server=fake.url, token="wrong")
        run = runlake.init(server=fake.url, token="secret")
        assert run.mode == "remote"
        run.log({"x": 1.0})
        run.finish()
        assert {auth for method, _, auth in fake.state.requests[1:]} == {"Bearer secret"}
        assert fake.state.points() == [("x", 0, 1.0, None)]
    finally:
        fake.stop()


def test_ddp_ranks_share_a_run_id_with_their_own_clients(lake: str, server: FakeServer) -> None:
    rank0 = runlake.init(lake=lake, run_id="shared", config={"lr": 0.1})
    rank1 = runlake.init(lake=lake, run_id="shared")
    assert rank0.client != rank1.client
    rank0.log({"loss": 1.0}, step=0)
    rank1.log({"rank1/throughput": 5.0}, step=0)
    rank1.finish()
    rank0.finish()
    by_client: dict[str, list[int]] = {}
    for r in server.state.stored():
        by_client.setdefault(r.client, []).append(r.seq)
    assert sorted(by_client) == sorted([rank0.client, rank1.client])
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_client.values())
    assert {rec["run_id"] for rec in server.state.records()} == {"shared"}


def test_context_manager_marks_a_failed_run_and_reraises(lake: str, server: FakeServer) -> None:
    with pytest.raises(ZeroDivisionError), runlake.init(lake=lake) as run:
        run.log({"x": 1.0})
        _ = 1 / 0
    assert server.state.records()[-1]["kind"] == "finish"
    assert server.state.records()[-1]["status"] == "failed"
    with runlake.init(lake=lake) as run:
        run.log({"x": 1.0})
    assert server.state.records()[-1]["status"] == "finished"


def test_module_level_log_and_finish(lake: str, server: FakeServer) -> None:
    with pytest.raises(RuntimeError, match="no run"):
        runlake.log({"x": 1.0})
    run = runlake.init(lake=lake)
    assert runlake.run is run
    runlake.log({"x": 1.0})
    runlake.log({"x": 2.0})
    assert runlake.finish("killed") == "acknowledged"
    assert runlake.run is None
    assert [p[1] for p in server.state.points()] == [0, 1]
    assert server.state.records()[-1]["status"] == "killed"
    with pytest.raises(RuntimeError, match="finished"):
        run.log({"x": 3.0})
    assert run.finish() == "acknowledged"  # a second finish does nothing


def test_resume_continues_the_step_counter_after_the_last_step(lake: str, server: FakeServer) -> None:
    first = runlake.init(lake=lake, run_id="r7", name="first")
    for step in range(5):
        first.log({"x": float(step)})
    first.finish("killed")
    run = runlake.init(lake=lake, resume="r7", name="again")
    run.log({"x": 5.0})
    run.log({"x": 6.0})
    run.finish()
    runs = [rec for rec in server.state.records() if rec["kind"] == "run"]
    assert "started_at" in runs[0]
    # The run exists: its record updates it, keeping the first started_at.
    assert runs[1] == {"kind": "run", "run_id": "r7", "name": "again", "status": "running"}
    assert [p[1] for p in server.state.points()] == list(range(7))
    assert ("GET", "/api/ingest/v1/runs/r7", None) in server.state.requests


def test_a_run_id_that_exists_continues_its_steps_too(lake: str, server: FakeServer) -> None:
    runlake.init(lake=lake, run_id="a b").log({"x": 1.0}, step=41)
    runlake.finish()
    other = runlake.init(lake=lake, run_id="other")
    other.log({"x": 2.0})  # another run: from 0
    other.finish()
    again = runlake.init(lake=lake, run_id="a b")
    again.log({"x": 3.0})
    again.finish()
    assert [p[1] for p in server.state.points()] == [41, 0, 42]
    assert ("GET", "/api/ingest/v1/runs/a%20b", None) in server.state.requests


def test_resume_of_a_new_run_starts_at_zero_with_started_at(lake: str, server: FakeServer) -> None:
    run = runlake.init(lake=lake, resume="new")
    run.log({"x": 1.0})
    run.finish()
    assert "started_at" in server.state.records()[0]
    assert [p[1] for p in server.state.points()] == [0]


def test_resume_without_a_server_that_reports_steps_needs_step(lake: str, server: FakeServer) -> None:
    server.state.behaviour.no_runs_route = True
    run = runlake.init(lake=lake, resume="r7", name="again")
    with pytest.raises(ValueError, match=r"resumed: give step= \(the server could not report its last step .*404"):
        run.log({"x": 1.0})
    run.log({"x": 1.0}, step=500)
    run.log({"x": 2.0})
    run.finish()
    assert server.state.records()[0] == {"kind": "run", "run_id": "r7", "name": "again", "status": "running"}
    assert [p[1] for p in server.state.points()] == [500, 501]


def test_resume_while_offline_needs_step(tmp_path: Path) -> None:
    run = runlake.init(spool=str(tmp_path), resume="r7")
    with pytest.raises(ValueError, match=r"resumed: give step= \(the server was unreachable"):
        run.log({"x": 1.0})
    run.log({"x": 1.0}, step=3)
    assert run.finish() == "spooled"


def test_finish_uploads_the_spool_without_waiting_for_the_retry_timer(
    lake: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runlake import _sender

    monkeypatch.setattr(_sender, "SPOOL_AFTER", 0.2)
    monkeypatch.setattr(_sender, "RETRY_EVERY", 3600.0)
    run = runlake.init(lake=lake, flush_interval=60)
    server.stop()
    run.log({"a": 1.0})
    assert run.flush() == "spooled"
    server.start()
    run.log({"a": 2.0})
    assert run.flush() == "spooled"  # the timer says not yet
    assert run.finish() == "acknowledged"  # the last chance does not wait for it
    assert not os.listdir(run._sender.spool_dir)
    assert [r.seq for r in server.state.stored()] == [1, 2, 3]
    assert [p[2] for p in server.state.points()] == [1.0, 2.0]


def test_headers_stay_within_budget(lake: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from runlake import _sender

    monkeypatch.setattr(_sender, "HEADER_BUDGET", 2000)
    run = runlake.init(lake=lake, flush_interval=10)
    for i in range(40):
        run.summary[f"key_{i}"] = "x" * 100
        run.log({f"name_{i}_" + "y" * 50: float(i)}, step=i)
    with pytest.raises(ValueError, match=r"summary record of run .*: \d+ bytes of JSON, over the"):
        run.summary["huge"] = "z" * (_sender.MAX_RECORD_BYTES + 1)
    run.finish()
    stored = server.state.stored()
    assert len(stored) > 5
    assert all(len(json.dumps(r.header)) < 2000 + 1000 for r in stored)
    summaries = [rec["summary"] for rec in server.state.records() if rec["kind"] == "summary"]
    assert summaries == [{f"key_{i}": "x" * 100} for i in range(40)]
    assert [p[2] for p in server.state.points()] == [float(i) for i in range(40)]
    assert "huge" not in run.summary


def test_a_visible_flush_retries_the_fold(lake: str, server: FakeServer) -> None:
    run = runlake.init(lake=lake)
    run.log({"x": 1.0})
    server.state.behaviour.fold_unavailable = 2
    assert run.flush(visible=True) == "acknowledged"
    assert server.state.folds == [len(server.state.stored())]
    run.finish()


def test_finish_returns_once_its_records_are_folded(lake: str, server: FakeServer) -> None:
    run = runlake.init(lake=lake, run_id="r1")
    run.log({"x": 1.0})
    assert run.finish() == "acknowledged"
    # The fold was asked for after the batch holding the finish record was stored.
    assert server.state.records()[-1]["kind"] == "finish"
    assert server.state.folds == [len(server.state.stored())]


def test_finish_warns_when_the_server_cannot_fold(lake: str, server: FakeServer, fast_retries: None) -> None:
    run = runlake.init(lake=lake, run_id="r1")
    run.log({"x": 1.0})
    server.state.behaviour.fold_unavailable = 1_000_000
    with pytest.warns(RuntimeWarning, match="acknowledged \\(durable\\), but the server could not fold"):
        assert run.finish() == "acknowledged"
    assert server.state.records()[-1]["kind"] == "finish"

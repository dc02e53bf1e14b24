"""runlake.exp_engine.write_event_rows / write_seed_rows against the stand-in server of
conftest.py: exp_engine's signatures and return values, the record they send (docs/tracking.md,
"Sweep lakes"), the fold they wait for, and the spool when no sidecar answers."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from conftest import FakeServer
from runlake import _frames, exp_engine


@pytest.fixture(autouse=True)
def _fresh_writers() -> None:
    # Each test's lake is new; a writer left from another test would hold a closed connection.
    exp_engine._close_writers()


def test_events_and_seeds_are_sent_as_python_json_and_folded(lake: str, server: FakeServer) -> None:
    np = pytest.importorskip("numpy")
    params = {"algo": "memorypair", "gamma_bar": 1.0, "lr": 0.1, "seed": 3}
    events = [
        {"seed": 3, "event": 0, "regret": 0.5, "cum_regret": math.nan, "flag": True},
        {"seed": 3, "event": 1, "regret": np.float64(1.0), "cum_regret": math.inf, "note": None},
    ]
    assert exp_engine.write_event_rows(events, lake, params) == os.path.join(lake, "events")
    assert exp_engine.write_seed_rows([{"seed": 3, "avg_regret": 0.75}], lake, params) == os.path.join(lake, "seeds")
    sweep = [r for r in server.state.records() if r["kind"] in ("events", "seeds")]
    assert [r["kind"] for r in sweep] == ["events", "seeds"]
    # Exactly Python's json.dumps text: 1.0 stays 1.0, NaN and Infinity are written as such.
    plain_events = [{**row, "regret": float(row["regret"])} for row in events]
    assert sweep[0]["rows_text"] == json.dumps(plain_events, allow_nan=True)
    assert sweep[0]["params_text"] == json.dumps(params, allow_nan=True)
    assert '"gamma_bar": 1.0' in sweep[0]["params_text"] and "NaN" in sweep[0]["rows_text"]
    assert sweep[1]["rows_text"] == '[{"seed": 3, "avg_regret": 0.75}]'
    # A new lake: exp_engine's scheme, the one attach_grid_id(lake=…) used, goes with the params.
    assert [r["scheme"] for r in sweep] == ["exp_engine-sha256-12"] * 2
    # Each write returned after a fold that came once its batch was stored.
    assert server.state.folds == [1, 2]
    # One client id for the process's writes to this lake, seq 1, 2.
    stored = server.state.stored()
    assert len({r.client for r in stored}) == 1 and [r.seq for r in stored] == [1, 2]


def test_no_rows_write_nothing_and_return_an_empty_string(lake: str, server: FakeServer) -> None:
    assert exp_engine.write_event_rows([], lake, {"a": 1}) == ""
    assert exp_engine.write_seed_rows([], lake) == ""
    assert server.state.received == []


def test_empty_params_are_sent_as_null(lake: str, server: FakeServer) -> None:
    exp_engine.write_event_rows([{"grid_id": "abc", "seed": 1, "x": 1}], lake, {})
    (record,) = server.state.records()
    assert record["params"] is None and "params_text" not in record and "scheme" not in record


def test_the_scheme_sent_is_the_lakes(lake: str, server: FakeServer) -> None:
    os.makedirs(os.path.join(lake, ".runlake"))
    Path(lake, ".runlake", "grid-id.json").write_text('{"scheme": "runlake"}')
    exp_engine.write_event_rows([{"seed": 1, "x": 1}], lake, {"a": 1})
    (record,) = server.state.records()
    assert record["scheme"] == "runlake"


def test_values_json_cannot_hold_are_refused_naming_the_row(lake: str, server: FakeServer) -> None:
    with pytest.raises(TypeError, match=r"write_event_rows\(\): row 1: .*set"):
        exp_engine.write_event_rows([{"x": 1}, {"x": {1, 2}}], lake, {"a": 1})
    with pytest.raises(TypeError, match="list of dicts"):
        exp_engine.write_seed_rows({"x": 1}, lake)  # type: ignore[arg-type]
    assert server.state.received == []


def test_large_row_lists_are_split_into_records_in_order(
    lake: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exp_engine, "RECORD_ROWS_BYTES", 200)
    rows = [{"seed": 1, "event": i, "regret": i / 3} for i in range(20)]
    exp_engine.write_event_rows(rows, lake, {"a": 1})
    records = server.state.records()
    assert len(records) > 1
    assert all(len(r["rows_text"]) <= 200 for r in records)
    assert [row for r in records for row in json.loads(r["rows_text"])] == rows


def test_an_unreachable_sidecar_spools_with_a_warning_naming_sync(lake: str, fast_retries: None) -> None:
    with pytest.warns(RuntimeWarning, match=r"went to the spool .*runlake sync .* --to "):
        assert exp_engine.write_seed_rows([{"seed": 1, "x": 1.0}], lake, {"a": 1}) == os.path.join(lake, "seeds")
    spool = Path(os.environ["RUNLAKE_SPOOL"])
    (client,) = os.listdir(spool)
    header = _frames.decode_frame((spool / client / "1.rlb").read_bytes())
    assert [r["kind"] for r in header["records"]] == ["seeds"]


def test_the_sidecar_it_starts_makes_a_new_lake_a_sweep_lake(lake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_sidecar import _fake_cli

    _fake_cli(lake, monkeypatch)
    exp_engine.write_seed_rows([{"seed": 1, "x": 1.0}], lake, {"a": 1})
    started = json.loads(Path(lake, "cli.json").read_text())
    assert started["argv"][-2:] == ["--schema", "sweep"]
    exp_engine._close_writers()  # the stand-in sidecar exits once its last client has gone

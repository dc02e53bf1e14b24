"""Frame encoding (docs/tracking.md, "Frames") against a golden file.

``golden/frame-v1.rlb`` is the frame of the batch :func:`golden_batch` builds, written by this
module's encoder when it was first checked by hand against the specification:

    python python/tests/test_frames.py --write
    npx biome format --write python/tests/golden/frame-v1.json   # the repository's JSON style

which also writes ``golden/frame-v1.json``, the decoded content the TypeScript side can compare
with its own decoding of the same bytes (``value`` and ``time`` as strings when not finite or
negative zero: ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, ``"-0"``). The test below decodes the
golden bytes with its own ``struct`` reader, independent of runlake's, so a change to the encoder
that still round-trips through ``decode_frame`` cannot slip through.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from typing import Any

from runlake._frames import MetricsColumns, Record, decode_frame, encode_frame

GOLDEN = Path(__file__).parent / "golden"
CLIENT = "3f9c0d6a1b2e4c7d8e9f0a1b2c3d4e5f"


def golden_batch() -> tuple[str, int, list[Record]]:
    train = MetricsColumns("r1", None)
    train.names = ["train/loss", "grad.norm", "ünï/cödé ✓"]
    train.name = [0, 1, 0, 1, 2]
    train.step = [0, 0, 1, 1, 2**62]
    train.value = [0.5, 1.25, math.nan, math.inf, -math.inf]
    train.time = [1733407200.25, 1733407200.25, 1733407200.5, 1733407200.5, 0.0]
    train.count = 5
    val = MetricsColumns("r1", "val")
    val.names = ["acc"]
    val.name = [0]
    val.step = [3]
    val.value = [-0.0]
    val.time = [1733407201.0]
    val.count = 1
    records: list[Record] = [
        {
            "kind": "run",
            "run_id": "r1",
            "project": "grokking",
            "name": "wd-0.1",
            "group": None,
            "tags": ["sweep-3"],
            "config": {"lr": 0.001},
            "status": "running",
            "started_at": 1733407200.25,
        },
        train,
        {"kind": "summary", "run_id": "r1", "summary": {"best_val": 0.91}},
        {"kind": "config", "run_id": "r1", "config": {"wd": 0.1}},
        val,
        {"kind": "checkpoint", "run_id": "r1", "rows": [{"step": 100, "tokens_seen": 409600}]},
        {"kind": "finish", "run_id": "r1", "status": "finished", "finished_at": 1733410800.5},
    ]
    return CLIENT, 42, records


def _json_number(x: float) -> float | str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0 and math.copysign(1.0, x) < 0:
        return "-0"
    return x


def _independent_decode(frame: bytes) -> dict[str, Any]:
    """Reads a frame with struct only, checking every layout rule on the way."""
    assert frame[:4] == b"RLB1"
    (length,) = struct.unpack_from("<I", frame, 4)
    header = json.loads(frame[8 : 8 + length].decode("utf-8"))
    data_start = 8 + length + (-(8 + length) % 8)
    assert frame[8 + length : data_start] == bytes(data_start - 8 - length), "padding must be zeros"
    assert data_start % 8 == 0
    data = frame[data_start:]
    for record in header["records"]:
        if record["kind"] != "metrics":
            continue
        n = record["count"]
        columns: dict[str, list[Any]] = {}
        for field, code, width in (("name", "I", 4), ("step", "q", 8), ("value", "d", 8), ("time", "d", 8)):
            start, end = record[field]
            assert start % 8 == 0 and end - start == n * width and end <= len(data)
            columns[field] = list(struct.unpack_from(f"<{n}{code}", data, start))
        record["columns"] = columns
    return header


def _expected_json(header: dict[str, Any]) -> dict[str, Any]:
    for record in header["records"]:
        if "columns" in record:
            c = record["columns"]
            c["value"] = [_json_number(v) for v in c["value"]]
            c["time"] = [_json_number(v) for v in c["time"]]
    return header


def test_frame_matches_the_golden_bytes() -> None:
    frame = encode_frame(*golden_batch())
    assert frame == (GOLDEN / "frame-v1.rlb").read_bytes()


def test_golden_frame_layout_and_content() -> None:
    frame = (GOLDEN / "frame-v1.rlb").read_bytes()
    header = _independent_decode(frame)
    assert header["client"] == CLIENT and header["seq"] == 42
    assert [r["kind"] for r in header["records"]] == [
        "run",
        "metrics",
        "summary",
        "config",
        "metrics",
        "checkpoint",
        "finish",
    ]
    metrics = header["records"][1]
    assert metrics["names"] == ["train/loss", "grad.norm", "ünï/cödé ✓"]
    assert metrics["split"] is None and header["records"][4]["split"] == "val"
    # Columns in the order name, step, value, time, each 8-aligned in the data section.
    assert [metrics[f] for f in ("name", "step", "value", "time")] == [[0, 20], [24, 64], [64, 104], [104, 144]]
    assert header["records"][4]["name"] == [144, 148]
    assert metrics["columns"]["step"] == [0, 0, 1, 1, 2**62]
    assert _expected_json(header) == json.loads((GOLDEN / "frame-v1.json").read_text("utf-8"))
    # runlake's own decoder reads the same thing.
    ours = decode_frame(frame)
    assert ours["records"][1]["columns"]["name"] == [0, 1, 0, 1, 2]
    assert math.isnan(ours["records"][1]["columns"]["value"][2])


def test_header_is_compact_utf8_json_without_nan() -> None:
    frame = encode_frame(*golden_batch())
    (length,) = struct.unpack_from("<I", frame, 4)
    text = frame[8 : 8 + length].decode("utf-8")
    assert text.startswith('{"client":"3f9c0d6a1b2e4c7d8e9f0a1b2c3d4e5f","seq":42,"records":[{"kind":"run"')
    assert "ünï/cödé ✓" in text and ", " not in text and "NaN" not in text


def test_empty_batch_and_alignment_of_every_header_length() -> None:
    for pad in range(9):
        records: list[Record] = [{"kind": "summary", "run_id": "r" * (1 + pad), "summary": {}}]
        columns = MetricsColumns("r", None)
        columns.names, columns.name, columns.step, columns.value, columns.time = ["a"], [0], [7], [1.5], [2.5]
        columns.count = 1
        records.append(columns)
        frame = encode_frame(CLIENT, 1, records)
        header = _independent_decode(frame)
        assert header["records"][1]["columns"] == {"name": [0], "step": [7], "value": [1.5], "time": [2.5]}
        assert len(frame) % 8 == 0


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python python/tests/test_frames.py --write")
    GOLDEN.mkdir(exist_ok=True)
    frame = encode_frame(*golden_batch())
    (GOLDEN / "frame-v1.rlb").write_bytes(frame)
    expected = _expected_json(_independent_decode(frame))
    (GOLDEN / "frame-v1.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {GOLDEN / 'frame-v1.rlb'} ({len(frame)} bytes) and frame-v1.json")

"""``Run.log_embeddings``: its checks, the float32 copy, the ``embeddings`` record in the frame, a
large array in a frame of its own, and the spool (docs/tracking.md, "Embeddings")."""

from __future__ import annotations

import os
import re
import sys
from array import array
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runlake
from conftest import FakeServer
from runlake import _run, _sender
from runlake._embeddings import embeddings_record
from runlake._frames import decode_frame, encode_frame

IDS = ["s0", "s1", "s2"]
#: A frame with one embeddings record, which test/tracking-embeddings.test.ts decodes and
#: re-encodes with the TypeScript side: both must write these bytes. Rewrite it (after checking
#: the change against docs/tracking.md) with ``python python/tests/test_embeddings.py --write``.
GOLDEN = Path(__file__).parent / "golden" / "frame-v1-embeddings.rlb"


def golden_frame() -> bytes:
    x = np.array([[0.5, -1.25, 3.0], [1e-3, 2.0**-20, -0.0]])
    record = embeddings_record("r1", 100, 3, "resid_post", "probe_v1", ["ünï", "b"], x, "mean", 1 << 20)
    return encode_frame(
        "3f9c0d6a1b2e4c7d8e9f0a1b2c3d4e5f", 7, [{"kind": "config", "run_id": "r1", "config": {}}, record]
    )


def test_the_frame_matches_the_golden_bytes() -> None:
    frame = golden_frame()
    assert frame == GOLDEN.read_bytes()
    header_length = int.from_bytes(frame[4:8], "little")
    data = frame[(8 + header_length + 7) & ~7 :]
    record = decode_frame(frame)["records"][1]
    lo, hi = record["sample_ids"]
    assert data[lo:hi] == '["ünï","b"]'.encode()
    lo, hi = record["values"]
    assert lo % 8 == 0 and hi - lo == 24
    assert data[lo:hi] == np.array([0.5, -1.25, 3.0, 1e-3, 2.0**-20, -0.0], dtype="<f4").tobytes()


def embeddings_records(server: FakeServer) -> list[dict[str, Any]]:
    return [r for r in server.state.records() if r["kind"] == "embeddings"]


def values(record: dict[str, Any]) -> np.ndarray:
    out: np.ndarray = np.frombuffer(record["array_bytes"], dtype="<f4").reshape(record["count"], record["dim"])
    return out


def test_a_float64_array_is_sent_as_float32_with_its_ids(lake: str, server: FakeServer) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    run = runlake.init(lake=lake, run_id="r1", flush_interval=60)
    run.log_embeddings(100, 2, "resid_post", "probe_v1", IDS, x, pooling="last")
    x[:] = 0  # copied at call time: changing the caller's array afterwards changes nothing
    run.finish()
    [record] = embeddings_records(server)
    assert {k: v for k, v in record.items() if k not in ("sample_ids", "values", "array_bytes")} == {
        "kind": "embeddings",
        "run_id": "r1",
        "step": 100,
        "layer": 2,
        "module": "resid_post",
        "sample_set": "probe_v1",
        "pooling": "last",
        "count": 3,
        "dim": 5,
        "ids": IDS,
    }
    assert record["values"][0] % 8 == 0 and record["sample_ids"][0] % 8 == 0
    assert values(record).tobytes() == rng_copy(1, (3, 5)).astype("<f4").tobytes()


def rng_copy(seed: int, shape: tuple[int, int]) -> np.ndarray:
    out: np.ndarray = np.random.default_rng(seed).standard_normal(shape)
    return out


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "longdouble"])
def test_every_numpy_float_dtype_is_taken(lake: str, server: FakeServer, dtype: str) -> None:
    x = (np.arange(6).reshape(3, 2) / 4).astype(dtype)
    run = runlake.init(lake=lake, flush_interval=60)
    run.log_embeddings(0, 0, "mlp_out", "p", IDS, x)
    run.finish()
    assert values(embeddings_records(server)[0]).tolist() == (np.arange(6).reshape(3, 2) / 4).tolist()


def test_non_contiguous_and_fortran_arrays_are_sent_in_c_order(lake: str, server: FakeServer) -> None:
    base = np.arange(24, dtype=np.float32).reshape(3, 8)
    run = runlake.init(lake=lake, flush_interval=60)
    run.log_embeddings(0, 0, "attn_out", "p", IDS, base[:, ::2])
    run.log_embeddings(0, 1, "attn_out", "p", IDS, np.asfortranarray(base))
    run.finish()
    first, second = embeddings_records(server)
    assert values(first).tolist() == base[:, ::2].tolist()
    assert values(second).tolist() == base.tolist()


def test_torch_tensors_on_any_dtype_are_detached_and_copied(lake: str, server: FakeServer) -> None:
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.float32, requires_grad=True).reshape(3, 2) * 0.5
    run = runlake.init(lake=lake, flush_interval=60)
    run.log_embeddings(1, 0, "resid_pre", "p", IDS, x)
    run.log_embeddings(1, 1, "resid_pre", "p", IDS, x.detach().to(torch.bfloat16))
    run.finish()
    first, second = embeddings_records(server)
    assert values(first).tolist() == [[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]]
    assert values(second).tolist() == [[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]]


def test_what_numpy_converts_is_taken(lake: str, server: FakeServer) -> None:
    pandas = pytest.importorskip("pandas")
    run = runlake.init(lake=lake, flush_interval=60)
    run.log_embeddings(0, 0, "resid_pre", "p", IDS, pandas.DataFrame([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    run.finish()
    assert values(embeddings_records(server)[0]).tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


def test_a_2d_buffer_is_taken_without_numpy(lake: str, server: FakeServer) -> None:
    flat32 = array("f", [0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    flat64 = array("d", [0.25, 1.25, 2.25, 3.25, 4.25, 5.25])
    run = runlake.init(lake=lake, flush_interval=60)
    run.log_embeddings(0, 0, "logits", "p", IDS, memoryview(flat32).cast("B").cast("f", [3, 2]))
    run.log_embeddings(0, 1, "logits", "p", IDS, memoryview(flat64).cast("B").cast("d", [3, 2]))
    run.finish()
    first, second = embeddings_records(server)
    assert values(first).reshape(-1).tolist() == flat32.tolist()
    assert values(second).reshape(-1).tolist() == flat64.tolist()


GOOD: dict[str, Any] = {
    "step": 0,
    "layer": 0,
    "module": "resid_post",
    "sample_set": "p",
    "sample_ids": IDS,
    "array": np.zeros((3, 2), dtype=np.float32),
}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"array": [[0.0, 1.0]] * 3}, TypeError, "array is a list; expected an n x d numpy array"),
        ({"array": np.zeros((3, 2), dtype=np.int64)}, TypeError, "dtype int64; embeddings are floats"),
        ({"array": np.zeros((3, 2), dtype=np.complex64)}, TypeError, "dtype complex64"),
        ({"array": memoryview(array("i", [0] * 6)).cast("B").cast("i", [3, 2])}, TypeError, "format 'i'"),
        ({"array": np.zeros(3)}, ValueError, r"shape \(3,\); expected 2-D"),
        ({"array": np.zeros((3, 2, 1))}, ValueError, r"shape \(3, 2, 1\); expected 2-D"),
        ({"array": np.zeros((4, 2))}, ValueError, "4 rows but sample_ids has 3 ids"),
        ({"array": np.zeros((0, 2)), "sample_ids": []}, ValueError, r"shape \(0, 2\)"),
        ({"array": np.zeros((3, 0))}, ValueError, r"shape \(3, 0\)"),
        ({"sample_ids": ["a", "b", "a"]}, ValueError, r"sample_ids\[2\] 'a' repeats sample_ids\[0\]"),
        ({"sample_ids": "abc"}, TypeError, "sample_ids must be a sequence of str"),
        ({"sample_ids": ["a", 1, "c"]}, TypeError, r"sample_ids\[1\] is an int"),
        ({"sample_ids": ["a", "", "c"]}, ValueError, r"sample_ids\[1\] is 0 UTF-8 bytes"),
        ({"step": 1.0}, TypeError, "step must be an int, not a float"),
        ({"step": True}, TypeError, "step must be an int, not a bool"),
        ({"step": -1}, ValueError, "step -1 is out of range"),
        ({"step": 1 << 53}, ValueError, "out of range"),
        ({"layer": 40000}, ValueError, "layer 40000 is out of range"),
        ({"module": "mlp"}, ValueError, "module 'mlp' is not one of resid_pre, attn_out"),
        ({"module": None}, TypeError, "module must be a str, not None"),
        ({"sample_set": "../x"}, ValueError, "sample_set '../x' must be 1 to 128 characters"),
        ({"sample_set": ""}, ValueError, "sample_set '' must be"),
    ],
)
def test_bad_arguments_are_refused_naming_them(
    tmp_path: Path, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    run = runlake.init(spool=str(tmp_path), flush_interval=60)
    with pytest.raises(error, match=message):
        run.log_embeddings(**{**GOOD, **change})
    run.finish()
    spooled = [r for f in tmp_path.rglob("*.rlb") for r in decode_frame(f.read_bytes())["records"]]
    assert spooled and all(r["kind"] != "embeddings" for r in spooled)


@pytest.mark.parametrize(
    ("value", "shown"), [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf"), (1e300, "inf")]
)
def test_non_finite_values_are_refused_with_their_place(tmp_path: Path, value: float, shown: str) -> None:
    x = np.zeros((3, 4))
    x[2, 1] = value
    x[2, 3] = value
    run = runlake.init(spool=str(tmp_path), flush_interval=60)
    pattern = re.escape(f"2 non-finite value(s) as float32 (the first: {shown} at row 2 (sample 's2'), column 1)")
    with pytest.raises(ValueError, match=pattern):
        run.log_embeddings(0, 0, "resid_post", "p", IDS, x)
    flat = memoryview(array("d", x.reshape(-1).tolist())).cast("B").cast("d", [3, 4])
    with pytest.raises(ValueError, match=pattern):
        run.log_embeddings(0, 0, "resid_post", "p", IDS, flat)
    run.finish()


def test_an_array_over_the_frame_limit_is_refused_at_the_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_run, "MAX_EMBEDDINGS_BYTES", 1000)
    run = runlake.init(spool=str(tmp_path), flush_interval=60)
    run.log_embeddings(0, 0, "resid_post", "p", IDS, np.zeros((3, 80), dtype=np.float32))  # 960 + 16 bytes
    with pytest.raises(
        ValueError, match=r"the 3x100 array and its sample ids take 1216 bytes as float32, over the 1000"
    ):
        run.log_embeddings(0, 0, "resid_post", "p", IDS, np.zeros((3, 100), dtype=np.float32))
    run.finish()
    # The real limit keeps a frame under the server's default --max-batch-bytes (16 MiB).
    assert _sender.MAX_EMBEDDINGS_BYTES + _sender.HEADER_BUDGET < 16 << 20


def test_large_arrays_travel_in_frames_of_their_own(
    lake: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sender, "DATA_BUDGET", 4096)
    run = runlake.init(lake=lake, flush_interval=60)
    run.log({"loss": 1.0}, step=0)
    big = np.ones((3, 400), dtype=np.float32)  # 4800 bytes: over the budget on its own
    small = np.ones((3, 10), dtype=np.float32)
    run.log_embeddings(0, 0, "resid_post", "p", IDS, big)
    run.log_embeddings(0, 1, "resid_post", "p", IDS, big)
    run.log_embeddings(0, 0, "mlp_out", "p", IDS, small)
    run.log_embeddings(0, 1, "mlp_out", "p", IDS, small)
    run.finish()
    frames = [[(r["kind"], r.get("dim")) for r in s.header["records"]] for s in server.state.stored()]
    assert frames == [
        [("run", None), ("metrics", None)],
        [("embeddings", 400)],
        [("embeddings", 400)],
        [("embeddings", 10), ("embeddings", 10), ("finish", None)],
    ]


def test_offline_runs_spool_embeddings_for_runlake_sync(tmp_path: Path) -> None:
    run = runlake.init(spool=str(tmp_path), run_id="off", flush_interval=60)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    run.log_embeddings(5, 1, "resid_pre", "p", IDS, x)
    assert run.flush() == "spooled"
    run.finish()
    frames = sorted((tmp_path / run.client).glob("*.rlb"), key=lambda p: int(p.stem))
    records = [r for f in frames for r in decode_frame(f.read_bytes())["records"] if r["kind"] == "embeddings"]
    assert len(records) == 1 and records[0]["ids"] == IDS and values(records[0]).tolist() == x.tolist()
    assert os.path.getsize(frames[0]) % 8 == 0


def test_a_finished_run_refuses_embeddings(tmp_path: Path) -> None:
    run = runlake.init(spool=str(tmp_path), run_id="done")
    run.finish()
    with pytest.raises(RuntimeError, match="run done is finished"):
        run.log_embeddings(0, 0, "resid_post", "p", IDS, np.zeros((3, 2)))


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.write_bytes(golden_frame())

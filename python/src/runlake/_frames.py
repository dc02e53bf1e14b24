"""Batch frames: the bytes of one `POST /api/ingest/v1/batches` (docs/tracking.md, "Frames").

A frame is ``"RLB1"``, a little-endian ``u32`` header length, the header (UTF-8 JSON), zero
padding to a multiple of 8 from the start of the frame, then the data section holding the metrics
records' columns. Each column is placed at an 8-byte aligned offset of the data section, in the
order ``name``, ``step``, ``value``, ``time`` per record, as the TypeScript ``encodeFrame`` does,
so that both sides write the same bytes for the same batch.
"""

from __future__ import annotations

import json
import sys
from array import array
from collections.abc import Sequence
from typing import Any

MAGIC = b"RLB1"
CONTENT_TYPE = "application/x-runlake-batch"
#: The largest header the server accepts, in bytes.
MAX_HEADER_BYTES = 1 << 20
#: The most points one batch may carry (docs/tracking.md, "Limits").
MAX_BATCH_POINTS = 1_000_000
#: The longest metric name, in UTF-8 bytes.
MAX_NAME_BYTES = 256

# array('I') is 4 bytes on every platform CPython supports today, but C only promises 2: pick the
# typecode that really is 4 bytes wide so the column is u32 whatever the platform.
U32 = "I" if array("I").itemsize == 4 else "L"
if array(U32).itemsize != 4 or array("q").itemsize != 8 or array("d").itemsize != 8:  # pragma: no cover
    raise ImportError("runlake needs 4-byte unsigned and 8-byte signed arrays")

_BIG_ENDIAN = sys.byteorder == "big"
_ZEROS = bytes(8)


class MetricsColumns:
    """The points of one metrics record, as columns (names as indexes into ``names``). The columns
    are lists while a batch is being built (extending a list is several times faster than
    extending an array from an iterable) and become arrays when the frame is encoded."""

    __slots__ = ("count", "name", "names", "run_id", "split", "step", "time", "value")

    def __init__(self, run_id: str, split: str | None) -> None:
        self.run_id = run_id
        self.split = split
        self.names: list[str] = []
        self.name: list[int] = []
        self.step: list[int] = []
        self.value: list[float] = []
        self.time: list[float] = []
        self.count = 0


class SweepRows:
    """An ``events`` or ``seeds`` record of a sweep lake (docs/tracking.md, "Sweep lakes"): the
    rows and the params as Python's ``json.dumps(..., allow_nan=True)`` wrote them, UTF-8; both
    travel in the data section (params first, then rows, each 8-byte aligned). ``scheme`` is the
    grid-id scheme the client's ``attach_grid_id`` uses for this lake: a lake with none yet takes
    it, one with another refuses the record."""

    __slots__ = ("kind", "params", "rows", "scheme")

    def __init__(self, kind: str, rows: bytes, params: bytes | None, scheme: str | None = None) -> None:
        if kind not in ("events", "seeds"):
            raise ValueError(f"a sweep record is events or seeds, not {kind!r}")
        self.kind = kind
        self.rows = rows
        self.params = params
        self.scheme = scheme

    @property
    def data_bytes(self) -> int:
        return len(self.rows) + len(self.params or b"") + 16


class EmbeddingsRecord:
    """An ``embeddings`` record (docs/tracking.md, "Embeddings"): one n x d probe matrix of a run at
    ``(step, layer, module)``. ``sample_ids`` travels in the data section as UTF-8 JSON (a list of
    n strings), then ``values``: the n x d float32 values, little-endian, C order (row i is the
    sample ``sample_ids[i]``); each is placed at an 8-byte aligned offset."""

    __slots__ = ("count", "dim", "layer", "module", "pooling", "run_id", "sample_ids", "sample_set", "step", "values")

    def __init__(
        self,
        run_id: str,
        *,
        step: int,
        layer: int,
        module: str,
        sample_set: str,
        pooling: str,
        sample_ids: bytes,
        count: int,
        dim: int,
        values: bytes,
    ) -> None:
        if len(values) != count * dim * 4:
            raise ValueError(f"embeddings: {len(values)} bytes of values for {count}x{dim} float32 values")
        self.run_id = run_id
        self.step = step
        self.layer = layer
        self.module = module
        self.sample_set = sample_set
        self.pooling = pooling
        self.sample_ids = sample_ids
        self.count = count
        self.dim = dim
        self.values = values

    @property
    def data_bytes(self) -> int:
        return len(self.values) + len(self.sample_ids) + 16


Record = dict[str, Any] | MetricsColumns | SweepRows | EmbeddingsRecord


def _column_bytes(typecode: str, values: list[Any]) -> bytes:
    column = array(typecode, values)
    if _BIG_ENDIAN:  # pragma: no cover - no big-endian machine in CI
        column.byteswap()
    return column.tobytes()


def encode_frame(client: str, seq: int, records: Sequence[Record]) -> bytes:
    """The frame of one batch: ``records`` are header records (dicts, written as given) and
    :class:`MetricsColumns` (written as a ``metrics`` record pointing into the data section)."""
    data: list[bytes] = []
    size = 0
    header_records: list[dict[str, Any]] = []

    def place(chunk: bytes) -> list[int]:
        nonlocal size
        start = size
        data.append(chunk)
        size += len(chunk)
        pad = -size % 8
        if pad:
            data.append(_ZEROS[:pad])
            size += pad
        return [start, start + len(chunk)]

    for record in records:
        if isinstance(record, EmbeddingsRecord):
            header_records.append(
                {
                    "kind": "embeddings",
                    "run_id": record.run_id,
                    "step": record.step,
                    "layer": record.layer,
                    "module": record.module,
                    "sample_set": record.sample_set,
                    "pooling": record.pooling,
                    "count": record.count,
                    "dim": record.dim,
                    "sample_ids": place(record.sample_ids),
                    "values": place(record.values),
                }
            )
            continue
        if isinstance(record, SweepRows):
            params = None if record.params is None else place(record.params)
            sweep: dict[str, Any] = {"kind": record.kind, "params": params, "rows": place(record.rows)}
            if record.scheme is not None:
                sweep["scheme"] = record.scheme
            header_records.append(sweep)
            continue
        if not isinstance(record, MetricsColumns):
            header_records.append(record)
            continue
        ranges: list[list[int]] = []
        for typecode, column in ((U32, record.name), ("q", record.step), ("d", record.value), ("d", record.time)):
            chunk = _column_bytes(typecode, column)
            ranges.append([size, size + len(chunk)])
            data.append(chunk)
            size += len(chunk)
            pad = -size % 8
            if pad:
                data.append(_ZEROS[:pad])
                size += pad
        header_records.append(
            {
                "kind": "metrics",
                "run_id": record.run_id,
                "names": record.names,
                "count": record.count,
                "name": ranges[0],
                "step": ranges[1],
                "value": ranges[2],
                "time": ranges[3],
                "split": record.split,
            }
        )
    header = json.dumps(
        {"client": client, "seq": seq, "records": header_records},
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,  # NaN is not JSON: the server's JSON.parse would refuse the whole frame
    ).encode("utf-8")
    if len(header) > MAX_HEADER_BYTES:
        raise ValueError(f"batch {seq}: the header is {len(header)} bytes, over the {MAX_HEADER_BYTES}-byte limit")
    head = MAGIC + len(header).to_bytes(4, "little") + header
    head += _ZEROS[: -len(head) % 8]
    return b"".join([head, *data])


def decode_frame(frame: bytes) -> dict[str, Any]:
    """Decodes a frame back into its header, with each metrics record's columns as lists under
    ``"columns"``, each sweep record's texts under ``"rows_text"`` / ``"params_text"`` and each
    embeddings record's ids under ``"ids"`` and float32 bytes under ``"array_bytes"``. For
    tests and ``runlake``'s own checks; the server has its own decoder."""
    if frame[:4] != MAGIC:
        raise ValueError("frame: byte 0: expected the magic RLB1")
    length = int.from_bytes(frame[4:8], "little")
    header: dict[str, Any] = json.loads(frame[8 : 8 + length].decode("utf-8"))
    start = (8 + length + 7) & ~7
    body = frame[start:]
    for record in header["records"]:
        if record["kind"] == "embeddings":
            lo, hi = record["sample_ids"]
            record["ids"] = json.loads(body[lo:hi].decode("utf-8"))
            lo, hi = record["values"]
            record["array_bytes"] = bytes(body[lo:hi])
            continue
        if record["kind"] in ("events", "seeds"):
            lo, hi = record["rows"]
            record["rows_text"] = body[lo:hi].decode("utf-8")
            if record["params"] is not None:
                lo, hi = record["params"]
                record["params_text"] = body[lo:hi].decode("utf-8")
            continue
        if record["kind"] != "metrics":
            continue
        columns: dict[str, list[Any]] = {}
        for field, code in (("name", U32), ("step", "q"), ("value", "d"), ("time", "d")):
            lo, hi = record[field]
            column = array(code)
            column.frombytes(body[lo:hi])
            if _BIG_ENDIAN:  # pragma: no cover
                column.byteswap()
            columns[field] = column.tolist()
        record["columns"] = columns
    return header

"""Reading array shard datasets (docs/shards.md) from Python, with the reference reader's API.

A shard dataset is a directory of tar shards per field, each member ``<sample_id>.npy``, and a
SQLite index (``index.sqlite``) of where every sample's arrays are. :class:`ShardedDatasetReader`
has the API of ``synthefy_dataset_utils.ShardedDatasetReader`` — ``get_sample``, ``get_many``,
``query_ids``, ``list_fields``, ``shard_counts``, ``len()`` — and returns the same ids, arrays and
metadata on stores runlake wrote and on stores the reference writer wrote:

- a row with a ``<field>_size`` (runlake's mark of a verified byte offset) is read with one
  positioned read at ``<field>_offset``, and the member found there is checked (tar header
  checksum, name ``<id>.npy``, size) before its bytes are used;
- any other row (the reference writer's offsets are running sums, not byte offsets) is resolved
  as the reference reader resolves every row: the newest member named ``<id>.npy`` in the row's
  shard, from a name table of the shard built once (and rebuilt when the shard grows).

The index is opened read-only (``query_only``): reading never changes the dataset. numpy is
imported when this module is. Object arrays (``|O``) are refused, as ``np.load(allow_pickle=False)``
refuses them: loading them runs pickle from the file.

>>> from runlake.shards import ShardedDatasetReader
>>> with ShardedDatasetReader("my_dataset") as reader:  # doctest: +SKIP
...     ids = reader.query_ids("json_extract(meta_json, '$.length') > ?", (64,))
...     arrays, metadata = reader.get_sample(ids[0], ["history"])
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from ._transport import RunlakeError

try:
    import numpy as np
    import numpy.lib.format as npy_format
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError("runlake.shards needs numpy: pip install numpy") from error

__all__ = [
    "MissingShardError",
    "NpyFormatError",
    "ShardCorruptionError",
    "ShardIndexError",
    "ShardReader",
    "ShardedDatasetReader",
    "ShardsError",
    "UnknownSampleError",
    "UnsupportedDtypeError",
]

_BLOCK = 512
_OPEN_SHARDS = 256
_NPY_HEADER_LIMIT = 10_000


class ShardsError(RunlakeError):
    """Base class of the shard reader's errors."""


class ShardIndexError(ShardsError):
    """``index.sqlite`` is missing, not SQLite, or lacks the ``samples``/``fields`` tables."""


class UnknownSampleError(ShardsError, KeyError):
    """An id the index does not hold (a ``KeyError``, as the reference reader raises)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingShardError(ShardsError, FileNotFoundError):
    """The shard file a sample points to is gone."""


class ShardCorruptionError(ShardsError):
    """A member that is not what the index says: bad header checksum, other name or size, truncation."""


class NpyFormatError(ShardsError):
    """A member whose ``.npy`` bytes numpy's format does not describe."""


class UnsupportedDtypeError(ShardsError):
    """An object array (``|O``): loading it needs pickle, which runs code from the file."""


# --------------------------------------------------------------------------------------------
# tar headers


def _octal(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256 for large sizes
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    return int(text, 8) if text else 0


def _checksum_ok(header: bytes | memoryview) -> bool:
    block = bytes(header[:_BLOCK])
    stored = _octal(block[148:156])
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    if stored == unsigned:
        return True
    # Some old writers summed signed bytes; tarfile accepts either.
    high = sum(1 for b in block[:148] if b > 127) + sum(1 for b in block[156:] if b > 127)
    return stored == unsigned - 256 * high


def _padded(size: int) -> int:
    return (size + _BLOCK - 1) // _BLOCK * _BLOCK


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


# --------------------------------------------------------------------------------------------
# The reader


class _Shard:
    """An open shard file, and (once needed) the table of its newest member per name."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self.names: dict[str, tuple[int, int, int]] | None = None  # name -> (header offset, data offset, size)
        self.names_size = -1

    def close(self) -> None:
        os.close(self.fd)

    def read(self, offset: int, length: int) -> bytearray:
        if not hasattr(os, "preadv"):  # macOS before 11: one more copy
            return bytearray(os.pread(self.fd, length, offset))
        buffer = bytearray(length)
        got = os.preadv(self.fd, [buffer], offset) if length else 0
        return buffer if got == length else buffer[:got]

    def member(self, name: str) -> tuple[int, int, int] | None:
        size = os.fstat(self.fd).st_size
        if self.names is None or size != self.names_size:
            table: dict[str, tuple[int, int, int]] = {}
            with tarfile.open(self.path, "r") as tar:
                for info in tar:
                    if info.isfile():
                        table[info.name] = (info.offset, info.offset_data, info.size)
            self.names = table
            self.names_size = size
        return self.names.get(name)


class ShardedDatasetReader:
    """Reads a shard dataset: the reference reader's API, runlake's byte offsets when recorded.

    ``cache_tars`` keeps up to 256 shard files open between reads (the default, as the reference
    reader); ``False`` opens and closes the shard for every read. ``read_paths`` counts the reads
    that used a recorded byte offset (``"offset"``) and the ones resolved by name (``"by_name"``).

    >>> reader = ShardedDatasetReader("my_dataset")  # doctest: +SKIP
    >>> len(reader), reader.list_fields()  # doctest: +SKIP
    (1000, ['history', 'target'])
    """

    def __init__(self, root: str | os.PathLike[str], cache_tars: bool = True) -> None:
        self.root = Path(root)
        self.db_path = self.root / "index.sqlite"
        self.cache_tars = cache_tars
        self.read_paths = {"offset": 0, "by_name": 0}
        if not self.db_path.is_file():
            raise ShardIndexError(f"{self.db_path}: no shard index here (not a shard dataset)")
        try:
            self.conn = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA query_only = ON")
            tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise ShardIndexError(f"{self.db_path}: not a readable SQLite index ({error})") from None
        missing = [t for t in ("samples", "fields") if t not in tables]
        if missing:
            self.conn.close()
            raise ShardIndexError(f"{self.db_path}: the index has no {' or '.join(missing)} table")
        self.conn.row_factory = sqlite3.Row
        self._shards: OrderedDict[tuple[str, int], _Shard] = OrderedDict()
        self._base_dirs: dict[str, str] = {}

    # -- introspection ------------------------------------------------------------------------

    def list_fields(self) -> list[str]:
        """The dataset's fields, in the index's order (alphabetical: SQLite walks the key)."""
        return [str(r["name"]) for r in self.conn.execute("SELECT name FROM fields").fetchall()]

    def __len__(self) -> int:
        (n,) = self.conn.execute("SELECT COUNT(*) FROM samples").fetchone()
        return int(n)

    def shard_counts(self, field_name: str) -> dict[int, int]:
        """Shard number → samples whose ``field_name`` array is in that shard."""
        shard = _quote(f"{field_name}_shard")
        rows = self.conn.execute(
            f"SELECT {shard}, COUNT(*) FROM samples WHERE {shard} IS NOT NULL GROUP BY {shard}"
        ).fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    # -- querying -----------------------------------------------------------------------------

    def query_ids(
        self,
        where_clause: str | None = None,
        params: Sequence[Any] | Mapping[str, Any] = (),
        limit: int | None = None,
    ) -> list[str]:
        """Ids of the samples matching ``where_clause``, as the reference reader selects them.

        Runs ``SELECT id FROM samples WHERE <where_clause> LIMIT <limit>``: the condition is
        appended verbatim, ``limit`` 0 or None means no limit, ids come in SQLite's order.

        >>> reader.query_ids("json_extract(meta_json, '$.length') = ?", (256,))  # doctest: +SKIP
        """
        sql = "SELECT id FROM samples"
        if where_clause:
            sql += f" WHERE {where_clause}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        try:
            rows = self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise ShardsError(f"{self.db_path}: query failed: {error} (SQL: {sql})") from None
        return [r["id"] for r in rows]

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        """Any read-only SQL over the index; rows as dicts (writes are refused: ``query_only``)."""
        try:
            return [dict(r) for r in self.conn.execute(query, params).fetchall()]
        except sqlite3.Error as error:
            raise ShardsError(f"{self.db_path}: query failed: {error} (SQL: {query})") from None

    # -- samples ------------------------------------------------------------------------------

    def get_metadata(self, sample_id: str) -> Any:
        """A sample's metadata (``json.loads`` of ``meta_json``; ``{}`` when empty)."""
        row = self.conn.execute("SELECT meta_json FROM samples WHERE id=?", (sample_id,)).fetchone()
        if row is None:
            raise UnknownSampleError(f"Sample {sample_id} not found in index {self.db_path}")
        return json.loads(row["meta_json"]) if row["meta_json"] else {}

    def get_sample(self, sample_id: str, fields: Iterable[str] | None = None) -> tuple[dict[str, Any], Any]:
        """One sample's arrays (every field it has, or those of ``fields``) and its metadata.

        A field the sample (or the dataset) has no array for is skipped; ``[]`` or None mean every
        field. An unknown id raises :class:`UnknownSampleError` (a ``KeyError``).

        >>> arrays, metadata = reader.get_sample("sample_000000000001", ["history"])  # doctest: +SKIP
        """
        row = self.conn.execute("SELECT * FROM samples WHERE id=?", (sample_id,)).fetchone()
        if row is None:
            raise UnknownSampleError(f"Sample {sample_id} not found in index {self.db_path}")
        meta = json.loads(row["meta_json"]) if row["meta_json"] else {}
        columns = set(row.keys())
        offsets = [c[:-7] for c in row.keys() if c.endswith("_offset")]  # noqa: SIM118 (a Row iterates values)
        wanted = list(fields or offsets)
        arrays: dict[str, Any] = {}
        for field in wanted:
            offset_column = f"{field}_offset"
            if offset_column not in columns or row[offset_column] is None or f"{field}_shard" not in columns:
                continue
            size_column = f"{field}_size"
            size = row[size_column] if size_column in columns else None
            arrays[field] = self._read(field, int(row[f"{field}_shard"]), sample_id, int(row[offset_column]), size)
        return arrays, meta

    def get_many(
        self, sample_ids: Iterable[str], fields: Iterable[str] | None = None
    ) -> list[tuple[dict[str, Any], Any]]:
        """:meth:`get_sample` for each id, in the order given, from one snapshot of the index."""
        chosen = None if fields is None else list(fields)
        self.conn.execute("BEGIN")
        try:
            return [self.get_sample(sample_id, chosen) for sample_id in sample_ids]
        finally:
            self.conn.execute("COMMIT")

    # -- reading members ----------------------------------------------------------------------

    def _shard(self, field: str, shard_id: int) -> _Shard:
        key = (field, shard_id)
        cached = self._shards.get(key)
        if cached is not None:
            self._shards.move_to_end(key)
            return cached
        base = self._base_dirs.get(field)
        if base is None:
            row = self.conn.execute("SELECT base_dir FROM fields WHERE name=?", (field,)).fetchone()
            if row is None:
                raise ShardsError(f"{self.db_path}: field '{field}' is not in the fields table")
            # As the reference reader: the directory's name under the root (datasets move).
            base = Path(str(row[0])).name
            self._base_dirs[field] = base
        path = str(self.root / base / f"shard_{shard_id:04d}.tar")
        try:
            shard = _Shard(path)
        except FileNotFoundError:
            raise MissingShardError(f"{path}: missing shard file for field '{field}', shard {shard_id}") from None
        if self.cache_tars:
            self._shards[key] = shard
            while len(self._shards) > _OPEN_SHARDS:
                self._shards.popitem(last=False)[1].close()
        return shard

    def _read(self, field: str, shard_id: int, sample_id: str, offset: int, size: int | None) -> Any:
        shard = self._shard(field, shard_id)
        try:
            name = f"{sample_id}.npy"
            data: bytearray | memoryview
            if size is not None:
                data = self._read_at(shard, name, offset, int(size))
                self.read_paths["offset"] += 1
            else:
                found = shard.member(name)
                if found is None:
                    raise ShardCorruptionError(f"{shard.path}: sample {sample_id} has no member {name} in this shard")
                _, data_offset, member_size = found
                data = shard.read(data_offset, member_size)
                if len(data) < member_size:
                    raise ShardCorruptionError(f"{shard.path}: member {name} at {data_offset} is truncated")
                self.read_paths["by_name"] += 1
            return _decode_npy(data, shard.path, offset, sample_id)
        finally:
            if not self.cache_tars:
                shard.close()

    def _read_at(self, shard: _Shard, name: str, offset: int, size: int) -> memoryview:
        """The data of the member whose (first) header is at ``offset``: one read when it has no pax header
        longer than a block, two otherwise."""
        span = 2 * _BLOCK + _padded(size)
        buffer = shard.read(offset, span)
        position = 0
        path_override: str | None = None
        size_override: int | None = None
        for _ in range(4):  # a pax header, then the member's own
            if len(buffer) < position + _BLOCK:
                raise ShardCorruptionError(f"{shard.path}: the shard ends inside the header at {offset + position}")
            header = memoryview(buffer)[position : position + _BLOCK]
            if not any(header):
                raise ShardCorruptionError(f"{shard.path}: offset {offset} of {name} is the end of the archive")
            if not _checksum_ok(header):
                raise ShardCorruptionError(f"{shard.path}: tar header checksum mismatch at offset {offset + position}")
            kind = bytes(header[156:157])
            length = _octal(bytes(header[124:136]))
            if kind in (b"x", b"g"):
                need = position + _BLOCK + _padded(length) + _BLOCK + _padded(size)
                if len(buffer) < need:
                    buffer = shard.read(offset, need)
                records = _pax_records(bytes(buffer[position + _BLOCK : position + _BLOCK + length]))
                if kind == b"x":
                    path_override = records.get("path", path_override)
                    if "size" in records:
                        size_override = int(records["size"])
                position += _BLOCK + _padded(length)
                continue
            member_name = path_override
            if member_name is None:
                raw_name = bytes(header[0:100]).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                prefix = bytes(header[345:500]).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                member_name = f"{prefix}/{raw_name}" if prefix and bytes(header[257:262]) == b"ustar" else raw_name
            member_size = size_override if size_override is not None else length
            if member_name != name or member_size != size:
                raise ShardCorruptionError(
                    f"{shard.path}: the member at offset {offset} is {member_name!r} ({member_size} bytes), "
                    f"not {name!r} ({size} bytes) as the index says"
                )
            start = position + _BLOCK
            if len(buffer) < start + size:
                raise ShardCorruptionError(
                    f"{shard.path}: the shard ends inside member {name} (offset {offset}, {size} bytes)"
                )
            return memoryview(buffer)[start : start + size]
        raise ShardCorruptionError(f"{shard.path}: more than three extended headers at offset {offset}")

    # -- cleanup ------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the open shard files and the index connection."""
        for shard in self._shards.values():
            shard.close()
        self._shards.clear()
        self.conn.close()

    def __enter__(self) -> ShardedDatasetReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


#: The reader under a shorter name.
ShardReader = ShardedDatasetReader


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Parsed .npy headers by their bytes: arrays of one field usually share dtype and shape, and
# numpy's header parser (ast.literal_eval) costs more than the read itself.
_HEADERS: dict[bytes, tuple[Any, tuple[int, ...], bool, int]] = {}
_HEADER_CACHE_LIMIT = 4096


class _OtherVersion(Exception):
    """A .npy format version numpy's public header readers do not cover (3.0: UTF-8 field names)."""


def _npy_header(data: bytearray | memoryview, where: str) -> tuple[Any, tuple[int, ...], bool, int]:
    """(dtype, shape, fortran order, data start) of a .npy member."""
    if len(data) >= 10 and bytes(data[6:8]) in (b"\x01\x00", b"\x02\x00"):
        major = data[6]
        length = int.from_bytes(data[8:10], "little") + 10 if major == 1 else None
        if major == 2 and len(data) >= 12:
            length = int.from_bytes(data[8:12], "little") + 12
        if length is not None and length <= len(data):
            key = bytes(data[:length])
            cached = _HEADERS.get(key)
            if cached is not None:
                return cached
    stream = io.BytesIO(data)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream, max_header_size=_NPY_HEADER_LIMIT)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream, max_header_size=_NPY_HEADER_LIMIT)
        else:
            raise _OtherVersion
    except ValueError as error:
        if "allow_pickle" in str(error) or "Object arrays" in str(error):
            raise UnsupportedDtypeError(f"{where}: object arrays (|O) need pickle") from None
        raise NpyFormatError(f"{where}: {error}") from None
    if dtype.hasobject:
        raise UnsupportedDtypeError(f"{where}: object arrays (|O) need pickle")
    parsed = (dtype, tuple(int(d) for d in shape), bool(fortran), stream.tell())
    if len(_HEADERS) >= _HEADER_CACHE_LIMIT:
        _HEADERS.clear()
    _HEADERS[bytes(data[: parsed[3]])] = parsed
    return parsed


def _decode_npy(data: bytearray | memoryview, shard: str, offset: int, sample_id: str) -> Any:
    """The array a member's ``.npy`` bytes hold: a view of ``data`` (no copy)."""
    where = f"{shard}: member {sample_id}.npy at offset {offset}"
    try:
        dtype, shape, fortran, start = _npy_header(data, where)
    except _OtherVersion:
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as error:
            raise NpyFormatError(f"{where}: {error}") from None
    count = 1
    for dim in shape:
        count *= dim
    if len(data) - start < count * dtype.itemsize:
        raise NpyFormatError(f"{where}: the data is shorter than shape {shape} needs")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=start)
    return flat.reshape(shape, order="F" if fortran else "C")

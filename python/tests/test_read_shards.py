"""runlake.shards on stores written here with tarfile + sqlite3, as docs/shards.md's "Python
interop" describes (byte offsets recorded before each member, `<field>_size` set), and on
damaged ones: every failure is a typed error naming the shard and offset.

The comparison with the reference reader on stores runlake's writer and the reference writer
made is test/python-read.test.ts."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

np = pytest.importorskip("numpy")

from runlake import shards  # noqa: E402  (needs numpy)


def _npy(array: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


def _store(root: Path, samples: dict[str, Any], with_size: bool = True) -> Path:
    """One field `history`, one shard; the index records byte offsets (and sizes)."""
    (root / "history_shards").mkdir(parents=True)
    conn = sqlite3.connect(root / "index.sqlite")
    size_column = ", history_size INTEGER" if with_size else ""
    conn.execute(
        f"CREATE TABLE samples (id TEXT PRIMARY KEY, meta_json TEXT, history_offset INTEGER, "
        f"history_shard INTEGER{size_column})"
    )
    conn.execute("CREATE TABLE fields (name TEXT PRIMARY KEY, num_shards INTEGER, base_dir TEXT)")
    conn.execute("INSERT INTO fields VALUES ('history', 1, ?)", (str(root / "history_shards"),))
    with tarfile.open(root / "history_shards" / "shard_0000.tar", "w") as tar:
        for i, (sample_id, array) in enumerate(samples.items()):
            data = _npy(array)
            info = tarfile.TarInfo(f"{sample_id}.npy")
            info.size = len(data)
            offset = tar.offset
            tar.addfile(info, io.BytesIO(data))
            values: tuple[Any, ...] = (sample_id, json.dumps({"i": i}), offset, 0)
            if with_size:
                values += (len(data),)
            conn.execute(f"INSERT INTO samples VALUES ({', '.join('?' for _ in values)})", values)
    conn.commit()
    conn.close()
    return root


SAMPLES = {
    "a": np.arange(6, dtype=np.float32).reshape(2, 3),
    "b" * 150: np.asfortranarray(np.arange(6, dtype=np.int64).reshape(3, 2)),  # a pax header
    "c": np.float64(2.5),
    "d": np.array(["x", "yz"]),
}


def test_byte_offsets_one_read_each(tmp_path: Path) -> None:
    root = _store(tmp_path / "s", SAMPLES)
    with shards.ShardedDatasetReader(root) as reader:
        assert len(reader) == 4
        assert reader.list_fields() == ["history"]
        assert reader.shard_counts("history") == {0: 4}
        assert reader.query_ids("json_extract(meta_json, '$.i') >= ?", (2,)) == ["c", "d"]
        assert reader.query_ids(limit=1) == ["a"]
        for sample_id, expected in SAMPLES.items():
            arrays, meta = reader.get_sample(sample_id)
            got = arrays["history"]
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert got.tobytes(order="A") == np.asarray(expected).tobytes(order="A")
            assert got.flags.f_contiguous == np.asarray(expected).flags.f_contiguous
            assert meta == {"i": list(SAMPLES).index(sample_id)}
        many = reader.get_many(["d", "a"], ["history", "absent"])
        assert [sorted(arrays) for arrays, _ in many] == [["history"], ["history"]]
        assert reader.read_paths == {"offset": 6, "by_name": 0}
        assert reader.get_sample("a", ["absent"]) == ({}, {"i": 0})
        with pytest.raises(KeyError, match="Sample zz not found"):
            reader.get_sample("zz")


def test_rows_without_a_size_are_found_by_name_newest_first(tmp_path: Path) -> None:
    root = _store(tmp_path / "s", SAMPLES, with_size=False)
    # Another writer appends a newer member of the same name: the newest one wins.
    with tarfile.open(root / "history_shards" / "shard_0000.tar", "a") as tar:
        data = _npy(np.full(2, 7.0))
        info = tarfile.TarInfo("a.npy")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with shards.ShardReader(root, cache_tars=False) as reader:
        assert reader.get_sample("a")[0]["history"].tolist() == [7.0, 7.0]
        assert reader.get_sample("c")[0]["history"] == 2.5
        assert reader.read_paths == {"offset": 0, "by_name": 2}


def _corrupt(root: Path, at: int, byte: bytes) -> None:
    with open(root / "history_shards" / "shard_0000.tar", "r+b") as handle:
        handle.seek(at)
        handle.write(byte)


def _offset(root: Path, sample_id: str) -> int:
    conn = sqlite3.connect(root / "index.sqlite")
    (offset,) = conn.execute("SELECT history_offset FROM samples WHERE id = ?", (sample_id,)).fetchone()
    conn.close()
    return int(offset)


def test_damage_is_a_typed_error_naming_shard_and_offset(tmp_path: Path) -> None:
    root = _store(tmp_path / "s", SAMPLES)
    shard = str(root / "history_shards" / "shard_0000.tar")
    offset = _offset(root, "c")
    _corrupt(root, offset + 5, b"X")  # inside the member's name: the checksum no longer matches
    with shards.ShardedDatasetReader(root) as reader:
        with pytest.raises(shards.ShardCorruptionError, match=f"^{shard}: tar header checksum mismatch at offset"):
            reader.get_sample("c")
        assert reader.get_sample("a")[0]["history"].shape == (2, 3)

    conn = sqlite3.connect(root / "index.sqlite")
    conn.execute("UPDATE samples SET history_size = history_size + 1 WHERE id = 'a'")
    conn.commit()
    conn.close()
    with shards.ShardedDatasetReader(root) as reader, pytest.raises(shards.ShardCorruptionError) as caught:
        reader.get_sample("a")
    assert str(caught.value).startswith(f"{shard}: the member at offset 0 is 'a.npy'")

    os.truncate(shard, _offset(root, "d") + 600)
    with shards.ShardedDatasetReader(root) as reader, pytest.raises(shards.ShardCorruptionError, match="ends inside"):
        reader.get_sample("d")
    os.unlink(shard)
    with shards.ShardedDatasetReader(root) as reader, pytest.raises(shards.MissingShardError, match=shard):
        reader.get_sample("d")


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    root = _store(tmp_path / "s", {"o": np.array([{"a": 1}, None], dtype=object)})
    with shards.ShardedDatasetReader(root) as reader, pytest.raises(shards.UnsupportedDtypeError, match="pickle"):
        reader.get_sample("o")


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(shards.ShardIndexError, match="no shard index here"):
        shards.ShardedDatasetReader(tmp_path)
    assert not (tmp_path / "index.sqlite").exists()  # nothing was created
    (tmp_path / "index.sqlite").write_bytes(b"not sqlite at all, just some bytes" * 40)
    with pytest.raises(shards.ShardIndexError, match="not a readable SQLite index"):
        shards.ShardedDatasetReader(tmp_path)
    (tmp_path / "index.sqlite").unlink()
    sqlite3.connect(tmp_path / "index.sqlite").execute("CREATE TABLE samples (id TEXT)").connection.close()
    with pytest.raises(shards.ShardIndexError, match="has no fields table"):
        shards.ShardedDatasetReader(tmp_path)


def test_the_index_is_read_only(tmp_path: Path) -> None:
    root = _store(tmp_path / "s", SAMPLES)
    with shards.ShardedDatasetReader(root) as reader, pytest.raises(shards.ShardsError, match="readonly"):
        reader.sql("DELETE FROM samples")
    with shards.ShardedDatasetReader(root) as reader:
        assert reader.sql("SELECT count(*) AS n FROM samples") == [{"n": 4}]

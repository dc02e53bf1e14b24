"""Write an array-shard dataset the way the Python seed does (tarfile + numpy.save + sqlite3), in
the seed's layout: root/index.sqlite with samples(id, meta_json, <field>_offset, <field>_shard),
fields and counters; root/<field>_shards/shard_NNNN.tar with one <sample_id>.npy member per
sample. <field>_offset is the member's header offset (TarInfo.offset), or with `seed` as the
third argument what the seed's own writer records: the running sum of the shard's .npy sizes,
which is not a byte offset (its reader finds members by name). Prints JSON describing every
sample written: {id: {"metadata": {...}, "arrays": {field: {descr, shape, fortran, data_b64}}}},
data_b64 being little-endian bytes in stored order.

usage: shards_write.py <root> [samples_per_shard] [header|seed]
"""

import base64
import io
import json
import os
import sqlite3
import sys
import tarfile

import numpy as np


def arrays_for(i: int) -> dict:
    rng = np.random.default_rng(i)
    kinds = [
        rng.standard_normal(7).astype("<f4"),
        rng.standard_normal((3, 4)).astype(">f8"),  # big-endian
        np.asfortranarray(rng.integers(-100, 100, (2, 3)).astype("<i2")),  # Fortran order
        np.array(3.5, dtype="<f2"),  # 0-d float16
        np.zeros((0, 5), dtype="<u4"),  # empty
        rng.integers(0, 2, 6).astype(bool),
        rng.integers(-(2**40), 2**40, 4).astype(">i8"),
        rng.integers(0, 255, (2, 2, 2)).astype("u1"),
    ]
    return {"history": kinds[i % len(kinds)], "target": rng.standard_normal(3).astype("<f8")}


def describe(array: np.ndarray) -> dict:
    fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous and array.ndim > 1)
    little = array.astype(array.dtype.newbyteorder("<"))
    return {
        "descr": array.dtype.str,
        "shape": list(array.shape),
        "fortran": fortran,
        "data_b64": base64.b64encode(little.tobytes(order="F" if fortran else "C")).decode(),
    }


def main(root: str, per_shard: int, offsets: str) -> None:
    os.makedirs(root, exist_ok=True)
    conn = sqlite3.connect(os.path.join(root, "index.sqlite"))
    conn.execute("CREATE TABLE samples (id TEXT PRIMARY KEY, meta_json TEXT)")
    conn.execute("CREATE TABLE fields (name TEXT PRIMARY KEY, num_shards INTEGER, base_dir TEXT)")
    conn.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER)")
    conn.execute("INSERT INTO counters VALUES ('sample_id', 0)")
    fields = ["history", "target"]
    for field in fields:
        base_dir = os.path.join(root, f"{field}_shards")
        os.makedirs(base_dir, exist_ok=True)
        conn.execute(f"ALTER TABLE samples ADD COLUMN {field}_offset INTEGER")
        conn.execute(f"ALTER TABLE samples ADD COLUMN {field}_shard INTEGER")
        conn.execute("INSERT INTO fields VALUES (?, 0, ?)", (field, base_dir))
    ids = [f"sample_{i + 1:012d}" for i in range(10)]
    # Long ids (> 100 bytes as member names) and a non-ASCII one make tarfile write pax headers.
    ids += ["long_" + "x" * 120 + "_a", "long_" + "y" * 150 + "_b", "sample_é_ünicode"]
    expected = {}
    tars = {}
    running = {}
    for n, sample_id in enumerate(ids):
        arrays = arrays_for(n)
        meta = {"length": int(n * 10), "source": "python", "n": n}
        conn.execute("INSERT INTO samples (id, meta_json) VALUES (?, ?)", (sample_id, json.dumps(meta)))
        shard = n // per_shard
        for field, array in arrays.items():
            key = (field, shard)
            if key not in tars:
                tars[key] = tarfile.open(os.path.join(root, f"{field}_shards", f"shard_{shard:04d}.tar"), "w")
            tar = tars[key]
            buf = io.BytesIO()
            np.save(buf, array)
            info = tarfile.TarInfo(name=f"{sample_id}.npy")
            info.size = buf.tell()
            buf.seek(0)
            # TarFile.offset is where the next member's (first) header goes: the member's
            # TarInfo.offset as tarfile reports it when reading.
            header_offset = tar.offset
            recorded = header_offset if offsets == "header" else running.get(key, 0)
            running[key] = running.get(key, 0) + info.size
            tar.addfile(info, buf)
            conn.execute(
                f"UPDATE samples SET {field}_offset=?, {field}_shard=? WHERE id=?",
                (recorded, shard, sample_id),
            )
            conn.execute("UPDATE fields SET num_shards=max(num_shards, ?) WHERE name=?", (shard + 1, field))
        expected[sample_id] = {"metadata": meta, "arrays": {f: describe(a) for f, a in arrays.items()}}
    for tar in tars.values():
        tar.close()
    conn.execute("UPDATE counters SET value=? WHERE name='sample_id'", (len(ids),))
    conn.commit()
    conn.close()
    json.dump(expected, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4, sys.argv[3] if len(sys.argv) > 3 else "header")

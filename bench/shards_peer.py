"""Python peer of the `shards` bench scenario: the seed's design (synthefy-dataset-utils) in plain
tarfile + numpy + sqlite3. Writes N samples of one float32 field with the seed's writer logic
(tarfile append mode per shard, numpy.save per member, batched sqlite3 commits, WAL +
synchronous=NORMAL), then times random get_sample calls with the seed's reader design (sqlite3
lookup, cached TarFile per shard, TarInfo at the indexed offset, extractfile + numpy.load).

One deliberate fix: the index stores each member's header offset (TarFile.offset before addfile),
as runlake does; the seed's running data-size counter is not a byte offset.

usage: shards_peer.py '<json>'  with keys root, samples, elements, samples_per_shard, reads, seed
prints one JSON line: timings and versions. With "mode": "real" (and "synthefy": the directory
holding synthefy_dataset_utils, "batches": number of get_many(128) calls) it times the reference
package itself instead: its writer, get_sample, get_many(128) and a get_many pass over all ids.
"""

import io
import json
import os
import sqlite3
import sys
import tarfile
import time

import numpy as np

COMMIT_BATCH_SIZE = 10000


def write(root: str, samples: int, elements: int, per_shard: int, seed: int) -> dict:
    os.makedirs(os.path.join(root, "x_shards"), exist_ok=True)
    conn = sqlite3.connect(os.path.join(root, "index.sqlite"))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE samples (id TEXT PRIMARY KEY, meta_json TEXT, x_offset INTEGER, x_shard INTEGER)")
    conn.execute("CREATE TABLE fields (name TEXT PRIMARY KEY, num_shards INTEGER, base_dir TEXT)")
    conn.execute("INSERT INTO fields VALUES ('x', 0, ?)", (os.path.join(root, "x_shards"),))
    conn.commit()
    rng = np.random.default_rng(seed)
    pool = [rng.standard_normal(elements, dtype=np.float32) for _ in range(1000)]
    tar = None
    shard = -1
    since_commit = 0
    start = time.perf_counter()
    for n in range(samples):
        sample_id = f"sample_{n + 1:012d}"
        conn.execute("INSERT OR IGNORE INTO samples (id, meta_json) VALUES (?, ?)", (sample_id, json.dumps({"n": n})))
        if n // per_shard != shard:
            if tar is not None:
                tar.close()
            shard = n // per_shard
            tar = tarfile.open(os.path.join(root, "x_shards", f"shard_{shard:04d}.tar"), "a")
        buf = io.BytesIO()
        np.save(buf, pool[n % len(pool)])
        info = tarfile.TarInfo(name=f"{sample_id}.npy")
        info.size = buf.tell()
        buf.seek(0)
        offset = tar.offset
        tar.addfile(info, buf)
        conn.execute("UPDATE samples SET x_offset=?, x_shard=? WHERE id=?", (offset, shard, sample_id))
        since_commit += 1
        if since_commit >= COMMIT_BATCH_SIZE:
            conn.commit()
            since_commit = 0
    tar.close()
    conn.commit()
    seconds = time.perf_counter() - start
    conn.close()
    return {"ingest_seconds": seconds, "payload_bytes": samples * elements * 4}


class Reader:
    def __init__(self, root: str):
        self.root = root
        self.conn = sqlite3.connect(os.path.join(root, "index.sqlite"))
        self.tars = {}

    def get_sample(self, sample_id: str):
        row = self.conn.execute("SELECT x_shard, x_offset, meta_json FROM samples WHERE id=?", (sample_id,)).fetchone()
        shard, offset, meta = row
        tar = self.tars.get(shard)
        if tar is None:
            tar = tarfile.open(os.path.join(self.root, "x_shards", f"shard_{shard:04d}.tar"), "r")
            self.tars[shard] = tar
        tar.fileobj.seek(offset)
        info = tarfile.TarInfo.fromtarfile(tar)
        data = tar.extractfile(info).read()
        return {"x": np.load(io.BytesIO(data))}, json.loads(meta)


def read(root: str, samples: int, reads: int, seed: int, elements: int) -> dict:
    reader = Reader(root)
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(samples)[:reads]
    ids = [f"sample_{n + 1:012d}" for n in order]
    for sample_id in ids[:2000]:  # warm-up: open tars, warm caches
        reader.get_sample(sample_id)
    timings = np.empty(len(ids), dtype=np.int64)
    for i, sample_id in enumerate(ids):
        t0 = time.perf_counter_ns()
        arrays, _ = reader.get_sample(sample_id)
        timings[i] = time.perf_counter_ns() - t0
        if arrays["x"].shape != (elements,):
            raise SystemExit("wrong shape")
    return {
        "reads": len(ids),
        "p50_us": float(np.percentile(timings, 50)) / 1000,
        "p99_us": float(np.percentile(timings, 99)) / 1000,
        "mean_us": float(timings.mean()) / 1000,
    }


def real(payload: dict) -> dict:
    """The reference package itself (synthefy-dataset-utils): its writer's add_sample, its
    reader's get_sample / get_many, and a full pass as get_many over every id in batches."""
    sys.path.insert(0, payload["synthefy"])
    from synthefy_dataset_utils.sharded_dataset_reader import ShardedDatasetReader
    from synthefy_dataset_utils.sharded_dataset_writer import ShardedDatasetWriter

    root, samples, elements = payload["root"], payload["samples"], payload["elements"]
    rng = np.random.default_rng(payload["seed"])
    pool = [rng.standard_normal(elements, dtype=np.float32) for _ in range(1000)]
    start = time.perf_counter()
    writer = ShardedDatasetWriter(root, samples_per_shard=payload["samples_per_shard"])
    writer.add_fields(["x"])
    for n in range(samples):
        writer.add_sample({"x": pool[n % len(pool)]}, metadata={"n": n})
    writer.close()
    ingest_seconds = time.perf_counter() - start
    reader = ShardedDatasetReader(root)
    ids = [f"sample_{n + 1:012d}" for n in range(samples)]
    order = [ids[i] for i in np.random.default_rng(payload["seed"] + 1).permutation(samples)]
    reads = order[: payload["reads"]]
    for sample_id in reads[:2000]:  # warm-up: open tars (tarfile indexes every member once)
        reader.get_sample(sample_id)
    timings = np.empty(len(reads), dtype=np.int64)
    for i, sample_id in enumerate(reads):
        t0 = time.perf_counter_ns()
        reader.get_sample(sample_id)
        timings[i] = time.perf_counter_ns() - t0
    batches = [order[i : i + 128] for i in range(0, min(len(order), payload["batches"] * 128), 128)]
    many = np.empty(len(batches), dtype=np.int64)
    for i, batch in enumerate(batches):
        t0 = time.perf_counter_ns()
        reader.get_many(batch)
        many[i] = time.perf_counter_ns() - t0
    t0 = time.perf_counter()
    for i in range(0, samples, 128):
        reader.get_many(ids[i : i + 128])
    scan_seconds = time.perf_counter() - t0
    reader.close()
    return {
        "ingest_seconds": ingest_seconds,
        "payload_bytes": samples * elements * 4,
        "reads": len(reads),
        "p50_us": float(np.percentile(timings, 50)) / 1000,
        "p99_us": float(np.percentile(timings, 99)) / 1000,
        "many128_p50_us": float(np.percentile(many, 50)) / 1000,
        "scan_seconds": scan_seconds,
        "scan_mbps": samples * elements * 4 / scan_seconds / 1e6,
    }


def main() -> None:
    payload = json.loads(sys.argv[1])
    if payload.get("mode") == "real":
        out = real(payload)
        out["versions"] = {"numpy": np.__version__, "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
        print(json.dumps(out))
        return
    if payload.get("check_only"):
        print(json.dumps({"versions": {"numpy": np.__version__, "python": sys.version.split()[0]}}))
        return
    out = write(payload["root"], payload["samples"], payload["elements"], payload["samples_per_shard"], payload["seed"])
    out.update(read(payload["root"], payload["samples"], payload["reads"], payload["seed"], payload["elements"]))
    out["versions"] = {"numpy": np.__version__, "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Drive the reference synthefy-dataset-utils writer and reader for the mixed-writer tests.

Reads a JSON list of operations on stdin and runs them in one process, printing one JSON line per
operation (flushed, so that a run ended by a "kill" operation still reports what it acknowledged).

Arrays are described, not sent: {"v": <base>, "n": <length>} is float32 base + 0.25 * i, so the
TypeScript side can rebuild every expected array bit for bit. Reads report each array as
{"sha1": <sha1 of dtype.str + shape + raw bytes>, "v": <first value>, "n": <length>}.

operations:
  {"op": "open", "root": R, "samples_per_shard": N}     ShardedDatasetWriter(R, N) (cwd is unchanged)
  {"op": "chdir", "dir": D}                              os.chdir(D), to run from another directory
  {"op": "add_fields", "names": [...]}
  {"op": "add", "arrays": {f: spec}, "id"?: s, "meta"?: {...}}   -> {"id": ...}
  {"op": "update", "id": s, "arrays": {f: spec}, "meta"?: {...}}
  {"op": "register", "ids": [...], "meta"?: [...]}
  {"op": "write_shard", "field": f, "shard": k, "ids": [...], "arrays": [spec, ...]}
  {"op": "open_shard", "field": f, "shard": k, "items": [[id, spec], ...]}
  {"op": "close"}                                         writer.close()
  {"op": "kill"}                                          SIGKILL this process (no cleanup at all)
  {"op": "read", "root": R, "ids"?: [...]}                the reference reader: every (or these) sample(s)
  {"op": "counter", "root": R}                            counters.sample_id

usage: RUNLAKE_SYNTHEFY=<dir holding synthefy_dataset_utils> shards_mixed.py < ops.json
"""

import hashlib
import json
import os
import signal
import sqlite3
import sys

sys.path.insert(0, os.environ.get("RUNLAKE_SYNTHEFY", "/work/shared/peers/synthefy"))

import numpy as np  # noqa: E402
from synthefy_dataset_utils.sharded_dataset_reader import ShardedDatasetReader  # noqa: E402
from synthefy_dataset_utils.sharded_dataset_writer import ShardedDatasetWriter  # noqa: E402


def build(spec):
    return (np.float32(spec["v"]) + np.arange(spec["n"], dtype=np.float32) * np.float32(0.25)).astype(np.float32)


def describe(arr):
    h = hashlib.sha1()
    h.update(arr.dtype.str.encode())
    h.update(json.dumps(list(arr.shape)).encode())
    h.update(np.ascontiguousarray(arr).tobytes())
    return {"sha1": h.hexdigest(), "v": float(arr.flat[0]) if arr.size else None, "n": int(arr.size)}


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ops = json.load(sys.stdin)
    writer = None
    for op in ops:
        kind = op["op"]
        if kind == "open":
            writer = ShardedDatasetWriter(op["root"], samples_per_shard=op.get("samples_per_shard", 1000))
            emit({"op": kind})
        elif kind == "chdir":
            os.chdir(op["dir"])
            emit({"op": kind})
        elif kind == "add_fields":
            writer.add_fields(op["names"])
            emit({"op": kind})
        elif kind == "add":
            arrays = {f: build(s) for f, s in op["arrays"].items()}
            sid = writer.add_sample(arrays, sample_id=op.get("id"), metadata=op.get("meta"))
            emit({"op": kind, "id": sid})
        elif kind == "update":
            arrays = {f: build(s) for f, s in op["arrays"].items()}
            writer.update_sample(op["id"], arrays, metadata=op.get("meta"))
            emit({"op": kind, "id": op["id"]})
        elif kind == "register":
            writer.register_samples(op["ids"], op.get("meta"))
            emit({"op": kind})
        elif kind == "write_shard":
            writer.write_shard(op["field"], op["shard"], op["ids"], [build(s) for s in op["arrays"]])
            emit({"op": kind})
        elif kind == "open_shard":
            with writer.open_shard(op["field"], op["shard"]) as shard:
                for sid, spec in op["items"]:
                    shard.add_sample(sid, build(spec))
            emit({"op": kind})
        elif kind == "close":
            writer.close()
            writer = None
            emit({"op": kind})
        elif kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif kind == "read":
            reader = ShardedDatasetReader(op["root"])
            try:
                ids = op.get("ids") or reader.query_ids()
                out = {}
                for sid in ids:
                    try:
                        arrays, meta = reader.get_sample(sid)
                        out[sid] = {"arrays": {f: describe(a) for f, a in arrays.items()}, "meta": meta}
                    except Exception as e:  # noqa: BLE001 - reported to the test
                        out[sid] = {"error": f"{type(e).__name__}: {e}"}
                emit({"op": kind, "samples": out})
            finally:
                reader.close()
        elif kind == "counter":
            conn = sqlite3.connect(os.path.join(op["root"], "index.sqlite"))
            (value,) = conn.execute("SELECT value FROM counters WHERE name = 'sample_id'").fetchone()
            conn.close()
            emit({"op": kind, "value": value})
        else:
            raise SystemExit(f"unknown op {kind}")


if __name__ == "__main__":
    main()

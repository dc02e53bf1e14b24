"""Writes a Hive-partitioned Parquet dataset the way pandas/pyarrow users do, for runlake to read.

Reads a JSON spec on stdin:

    {
      "root": "/tmp/lake",            # the lake directory
      "dataset": "events",
      "writer": "pandas" | "pyarrow", # df.to_parquet(partition_cols=…) or pq.write_to_dataset
      "partition_cols": ["grid_id", "seed"],
      "columns": [["grid_id", "string"], ["seed", "int64"], ["at", "timestamp_us_utc"], ...],
      "rows": [{...}, ...],            # timestamps as integer microseconds since the epoch
      "grids": [{"grid_id": "...", "params": {...}}]  # optional grids/grid_id=…/params.json
    }

Prints {"files": [paths relative to the dataset directory]} of the Parquet files now present.
"""

import glob
import hashlib
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "timestamp_us_utc": pa.timestamp("us", tz="UTC"),
    "list_float64": pa.list_(pa.float64()),
}


def main():
    spec = json.load(sys.stdin)
    schema = pa.schema([(name, TYPES[t]) for name, t in spec["columns"]])
    table = pa.Table.from_pylist(spec["rows"], schema=schema)
    target = os.path.join(spec["root"], spec["dataset"])
    if spec["writer"] == "pandas":
        frame = table.to_pandas()
        frame.to_parquet(target, partition_cols=spec["partition_cols"], index=False)
    elif spec["writer"] == "pyarrow":
        pq.write_to_dataset(table, target, partition_cols=spec["partition_cols"])
    else:
        raise SystemExit(f"unknown writer {spec['writer']!r}")

    for grid in spec.get("grids", []):
        canonical = json.dumps(grid["params"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        record = {
            "grid_id": grid["grid_id"],
            "params_hash": hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
            "params": grid["params"],
        }
        directory = os.path.join(spec["root"], "grids", f"grid_id={grid['grid_id']}")
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "params.json"), "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)

    files = sorted(os.path.relpath(f, target) for f in glob.glob(os.path.join(target, "**", "*.parquet"), recursive=True))
    json.dump({"files": files}, sys.stdout)


if __name__ == "__main__":
    main()
    # pyarrow's thread pools can abort the interpreter during teardown after all work is done
    # ("terminate called without an active exception", apache/arrow#34314): leave without it.
    sys.stdout.flush()
    os._exit(0)

"""Python side of test/python-read.test.ts: reads lakes and shard stores with the runlake package.

  read_lake.py compare <lake> <expected.json>   every view/table TypeScript listed: names, DuckDB
                                                types and rows (against TypeScript's Parquet export)
  read_lake.py pin <lake> <runlake-cli> <rows.jsonl>
                                                snapshot pinning across a write and a compaction
  read_lake.py torn <lake> <dataset>            a garbage commit file: the error line
  read_lake.py write-nolog <lake>               a lake pyarrow wrote (no runlake metadata at all)
  read_lake.py sweep-sql                         exp_engine's view SQL for the columns on stdin
  read_lake.py shards <runlake-store> <workdir> <synthefy-dir>
                                                runlake.shards against the reference reader

Prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

# The package of this working tree, not whatever copy the interpreter has installed.
sys.path.insert(
    0,
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "python", "src"
    ),
)
import runlake


def compare(lake: str, expected_file: str) -> dict[str, Any]:
    with open(expected_file, encoding="utf-8") as handle:
        expected = json.load(handle)
    con = runlake.open_lake(lake, threads=1)
    tables = [
        list(r)
        for r in con.execute(
            "SELECT table_name, table_type FROM information_schema.tables ORDER BY 1"
        ).fetchall()
    ]
    problems: list[str] = []
    checked = []
    for table in expected["tables"]:
        name = table["name"]
        columns = [list(r[:2]) for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
        if columns != table["columns"]:
            problems.append(
                f"{name}: columns {columns} != TypeScript's {table['columns']}"
            )
            continue
        parquet = table["parquet"].replace("'", "''")
        (rows,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        (only_py,) = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM \"{name}\" EXCEPT ALL SELECT * FROM read_parquet('{parquet}'))"
        ).fetchone()
        (only_ts,) = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM read_parquet('{parquet}') EXCEPT ALL SELECT * FROM \"{name}\")"
        ).fetchone()
        if rows != table["rows"] or only_py or only_ts:
            problems.append(
                f"{name}: {rows} rows ({table['rows']} in TypeScript), {only_py}/{only_ts} differ"
            )
        checked.append({"name": name, "rows": rows})
    # The frame helpers read the same rows.
    frames = {}
    for table in expected["tables"][:3]:
        name = table["name"]
        frames[name] = [
            len(runlake.to_pandas(con, name)),
            runlake.to_polars(con, name).height,
            runlake.read_dataset(lake, name).num_rows,
        ]
    con.close()
    return {
        "tables": tables,
        "checked": checked,
        "problems": problems,
        "frames": frames,
    }


def _count(con: Any, dataset: str) -> int:
    (n,) = con.execute(f'SELECT count(*) FROM "{dataset}"').fetchone()
    return int(n)


def pin(lake: str, cli: str, rows_file: str) -> dict[str, Any]:
    import duckdb

    snapshot = runlake.read_snapshot(lake, "events")
    con = runlake.open_lake(lake)
    before = _count(con, "events")
    subprocess.run(
        ["node", cli, "import", lake, "events", rows_file],
        check=True,
        capture_output=True,
    )
    after_write = _count(con, "events")
    fresh = runlake.open_lake(lake)
    reopened = _count(fresh, "events")
    fresh.close()
    subprocess.run(
        ["node", cli, "compact", lake, "events"], check=True, capture_output=True
    )
    try:
        _count(con, "events")
        stale_error = ""
    except duckdb.Error as error:
        stale_error = str(error).splitlines()[0]
    con.close()
    pinned = runlake.open_lake(lake, version={"events": snapshot.version})
    at_version = _count(pinned, "events")
    pinned.close()
    latest = runlake.read_snapshot(lake, "events")
    return {
        "version": snapshot.version,
        "snapshot_rows": snapshot.rows,
        "before": before,
        "after_write": after_write,
        "reopened": reopened,
        "stale_error": stale_error,
        "at_version": at_version,
        "latest_version": latest.version,
        "latest_rows": latest.rows,
    }


def torn(lake: str, dataset: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for what, call in (
        ("read_snapshot", lambda: runlake.read_snapshot(lake, dataset)),
        ("open_lake", lambda: runlake.open_lake(lake)),
    ):
        try:
            call()
            out[what] = None
        except runlake.RunlakeError as error:
            out[what] = {"type": type(error).__name__, "message": str(error)}
    return out


def write_nolog(lake: str) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "grid_id": ["00ab12cd", "00ab12cd", "ff001122", "ff001122", "ff001122"],
            "seed": [1, 2, 1, 1, 2],
            "event_id": pa.array([0, 1, 2, 3, 4], pa.int32()),
            "regret": [0.5, None, 1.25, -0.5, 2.0],
            "op": ["insert", "delete", "insert", None, "insert"],
            "tags": [["a"], [], ["b", "c"], None, ["d"]],
        }
    )
    pq.write_to_dataset(
        table, os.path.join(lake, "events"), partition_cols=["grid_id", "seed"]
    )
    extra = pa.table({"run": ["x", "y"], "score": pa.array([1.5, 2.5], pa.float32())})
    pq.write_to_dataset(extra, os.path.join(lake, "scores"))
    return {"files": sum(len(f) for _, _, f in os.walk(lake))}


def _describe(array: Any) -> dict[str, Any]:
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "fortran": bool(array.flags.f_contiguous and not array.flags.c_contiguous),
        "bytes": array.tobytes(order="A").hex(),
    }


def _same_store(
    root: str, reference_reader: Any, fields_lists: list[Any]
) -> dict[str, Any]:
    from runlake.shards import ShardedDatasetReader

    ours = ShardedDatasetReader(root)
    theirs = reference_reader(root)
    problems: list[str] = []
    queries: list[tuple[Any, tuple[Any, ...], Any]] = [
        (None, (), None),
        (None, (), 2),
        ("id > ?", ("sample_000000000002",), None),
        ("json_extract(meta_json, '$.k') >= ?", (1,), 0),
        ("1=1 ORDER BY id DESC", (), None),
    ]
    for where, params, limit in queries:
        a = ours.query_ids(where, params, limit)
        b = theirs.query_ids(where, params, limit)
        if a != b:
            problems.append(f"query_ids({where!r}, {params}, {limit}): {a} != {b}")
    if ours.list_fields() != theirs.list_fields():
        problems.append(f"list_fields: {ours.list_fields()} != {theirs.list_fields()}")
    if len(ours) != len(theirs):
        problems.append(f"len: {len(ours)} != {len(theirs)}")
    ids = theirs.query_ids()
    compared = 0
    for fields in fields_lists:
        mine = ours.get_many(ids, fields)
        reference = theirs.get_many(ids, fields)
        for sample_id, (arrays, meta), (ref_arrays, ref_meta) in zip(
            ids, mine, reference, strict=True
        ):
            if json.dumps(meta, sort_keys=True) != json.dumps(ref_meta, sort_keys=True):
                problems.append(f"{sample_id}: metadata {meta} != {ref_meta}")
            if sorted(arrays) != sorted(ref_arrays):
                problems.append(
                    f"{sample_id} {fields}: fields {sorted(arrays)} != {sorted(ref_arrays)}"
                )
                continue
            for field in arrays:
                compared += 1
                if _describe(arrays[field]) != _describe(ref_arrays[field]):
                    problems.append(
                        f"{sample_id}.{field}: {_describe(arrays[field])} != {_describe(ref_arrays[field])}"
                    )
    try:
        ours.get_sample("no-such-id")
        missing = "no error"
    except KeyError as error:
        missing = str(error)
    paths = dict(ours.read_paths)
    ours.close()
    theirs.close()
    return {
        "ids": len(ids),
        "arrays_compared": compared,
        "problems": problems,
        "read_paths": paths,
        "missing": missing,
    }


def shards(runlake_store: str, workdir: str, synthefy: str) -> dict[str, Any]:
    import numpy as np

    sys.path.insert(0, synthefy)
    from synthefy_dataset_utils import ShardedDatasetReader, ShardedDatasetWriter

    fields_lists: list[Any] = [None, [], ["history"], ["target", "history", "absent"]]
    out = {"runlake": _same_store(runlake_store, ShardedDatasetReader, fields_lists)}

    # A store the reference writer wrote: running-sum offsets, no sizes; updates append members.
    root = os.path.join(workdir, "reference-store")
    writer = ShardedDatasetWriter(root, samples_per_shard=3)
    writer.add_fields(["history", "target"])
    rng = np.random.default_rng(7)
    for i in range(8):
        arrays = {"history": rng.standard_normal(5 + i).astype(np.float32)}
        if i % 3:
            arrays["target"] = np.asfortranarray(
                rng.integers(0, 9, (2, 3)).astype(np.int64)
            )
        writer.add_sample(arrays, metadata={"k": i, "name": f"s{i}"})
    long_id = "sample-with-a-long-name-" + "x" * 120
    writer.add_sample(
        {"history": np.arange(3, dtype=np.float64)},
        sample_id=long_id,
        metadata={"k": 99},
    )
    writer.update_sample(
        "sample_000000000002", {"history": np.full(4, 2.5, np.float32)}
    )
    writer.close()
    out["reference"] = _same_store(root, ShardedDatasetReader, fields_lists)
    return out


def sweep_sql() -> list[dict[str, str]]:
    from runlake._lake import _sweep_views

    columns = json.load(sys.stdin)

    def pairs(name: str) -> list[tuple[str, str]] | None:
        listed = columns.get(name)
        return None if listed is None else [(c["name"], c["type"]) for c in listed]

    return [
        {"name": n, "sql": q}
        for n, q in _sweep_views(pairs("events"), pairs("seeds"), pairs("grids"))
    ]


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "compare":
        result = compare(*args)
    elif command == "pin":
        result = pin(*args)
    elif command == "torn":
        result = torn(*args)
    elif command == "write-nolog":
        result = write_nolog(*args)
    elif command == "sweep-sql":
        result = sweep_sql()
    elif command == "shards":
        result = shards(*args)
    else:
        raise SystemExit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Reads one Hive-partitioned Parquet dataset with pyarrow, polars or pandas and prints JSON.

Used by test/interop.test.ts to check that other engines see exactly what runlake wrote.

    read_dataset.py --engine pyarrow --dataset LAKE/events \
        --partition grid_id:string --partition seed:int64 [--unify] [--sort event_id]

Without --partition, partition types are left to the engine's own inference (pyarrow
partitioning='hive', polars hive_partitioning=True). --unify reads a dataset whose files have
different schemas (columns added later, int64 widened to double) by unifying every file's schema
first, which is what DuckDB's union_by_name does.

Output: {"engine", "schema": [[name, type], ...], "rows": [{...}, ...]} with timestamps as
integer microseconds since the epoch (UTC) and floats in shortest round-trip form.
"""

import argparse
import datetime as dt
import glob
import json
import os
import sys

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def arrow_type(name):
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
    }[name]


def polars_type(name):
    import polars as pl

    return {
        "string": pl.String,
        "int64": pl.Int64,
        "int32": pl.Int32,
        "float64": pl.Float64,
        "bool": pl.Boolean,
    }[name]


def plain(value):
    """A JSON-safe copy of a value from to_pylist()/to_dicts()."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive timestamp {value!r}: expected a UTC-adjusted timestamp")
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def sort_key(columns):
    def key(row):
        return tuple((row.get(c) is None, row.get(c)) for c in columns)

    return key


def unified_file_schema(files):
    """The union of every file's Arrow schema, widening as DuckDB's union_by_name does."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")


def parquet_files(root):
    return sorted(glob.glob(os.path.join(root, "**", "*.parquet"), recursive=True))


def read_pyarrow(root, partitions, unify):
    import pyarrow as pa
    import pyarrow.dataset as ds

    if partitions:
        part_schema = pa.schema([(name, arrow_type(t)) for name, t in partitions])
        partitioning = ds.partitioning(part_schema, flavor="hive")
    else:
        partitioning = "hive"
    schema = None
    if unify:
        if not partitions:
            raise SystemExit("--unify needs explicit --partition types")
        file_schema = unified_file_schema(parquet_files(root))
        schema = pa.unify_schemas([file_schema, part_schema])
    dataset = ds.dataset(root, format="parquet", partitioning=partitioning, schema=schema)
    table = dataset.to_table()
    return [[f.name, str(f.type)] for f in table.schema], table.to_pylist()


def read_polars(root, partitions, unify):
    import polars as pl

    options = {"hive_partitioning": True}
    if partitions:
        options["hive_schema"] = {name: polars_type(t) for name, t in partitions}
    if unify:
        file_schema = unified_file_schema(parquet_files(root))
        options["schema"] = pl.from_arrow(file_schema.empty_table()).schema
        options["missing_columns"] = "insert"
        options["cast_options"] = pl.ScanCastOptions(integer_cast="allow-float", float_cast="upcast")
    frame = pl.scan_parquet(os.path.join(root, "**", "*.parquet"), **options).collect()
    return [[name, str(dtype)] for name, dtype in frame.schema.items()], frame.to_dicts()


def read_pandas(root, partitions, unify):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    if unify:
        raise SystemExit("--unify applies to the pyarrow and polars readers only")
    options = {"engine": "pyarrow", "dtype_backend": "pyarrow"}
    if partitions:
        part_schema = pa.schema([(name, arrow_type(t)) for name, t in partitions])
        options["partitioning"] = ds.partitioning(part_schema, flavor="hive")
    frame = pd.read_parquet(root, **options)
    schema = [[name, str(dtype)] for name, dtype in frame.dtypes.items()]
    return schema, pa.Table.from_pandas(frame, preserve_index=False).to_pylist()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["pyarrow", "polars", "pandas"], required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--partition", action="append", default=[], help="NAME:TYPE, in path order")
    parser.add_argument("--unify", action="store_true")
    parser.add_argument("--sort", action="append", default=[])
    args = parser.parse_args()

    partitions = [tuple(p.split(":", 1)) for p in args.partition]
    reader = {"pyarrow": read_pyarrow, "polars": read_polars, "pandas": read_pandas}[args.engine]
    schema, rows = reader(args.dataset, partitions, args.unify)
    rows = [plain(r) for r in rows]
    if args.sort:
        rows.sort(key=sort_key(args.sort))
    json.dump({"engine": args.engine, "schema": schema, "rows": rows}, sys.stdout, allow_nan=False, ensure_ascii=False)


if __name__ == "__main__":
    main()
    # pyarrow's thread pools can abort the interpreter during teardown after all work is done
    # ("terminate called without an active exception", apache/arrow#34314): leave without it.
    sys.stdout.flush()
    os._exit(0)

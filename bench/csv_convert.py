"""exp_engine-style CSV sweep converter, the Python peer of the convert-csv scenario (bench/run.mjs).

Usage: python bench/csv_convert.py '<json>' where json is
  {"root": csv_dir, "out": dir, "workers": 1, "check_only": false}

For every ``*.csv`` under ``root`` (each in a directory with a ``params.json``, named
``seed_<n>.csv``): ``pd.read_csv``, attach ``grid_id`` (computed from the params.json with
examples/python/runlake_grid_id.py, so the ids match runlake's) and ``seed`` (from the file name),
then ``pq.write_to_dataset(table, out, partition_cols=['grid_id', 'seed'], compression='zstd')``.
With ``workers`` 1 the files are converted one after another (exp_engine's converter is
sequential); with more, by a ``concurrent.futures.ProcessPoolExecutor(workers)``.

The time is measured inside Python, from the directory walk to the last file written (the pool's
start-up included). Prints one JSON object on stdout.
"""

import json
import os
import re
import shutil
import sys
import time

# The stdlib grid-id module (examples/python/runlake_grid_id.py), imported the way a training
# runner would: a file on sys.path. Done at import time so pool workers get it with any start
# method (fork, forkserver, spawn).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))
import runlake_grid_id  # noqa: E402

# The peer reports the same interpreter and library versions as the write peer.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pandas_write import versions  # noqa: E402

SEED_IN_NAME = re.compile(r"(?:^|[^a-z])seed[_=-]?(\d+)(?![0-9])", re.IGNORECASE)


def find_inputs(root):
    """(csv path, params.json path, seed) for every CSV under root, sorted."""
    inputs = []
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.lower().endswith(".csv"):
                continue
            params = os.path.join(directory, "params.json")
            if not os.path.exists(params):
                raise SystemExit(f"{os.path.join(directory, name)}: no params.json beside it")
            match = SEED_IN_NAME.search(name)
            if not match:
                raise SystemExit(f"{os.path.join(directory, name)}: no seed in the file name")
            inputs.append((os.path.join(directory, name), params, int(match.group(1))))
    return sorted(inputs)


def convert_one(job):
    """Converts one CSV; returns (rows, read_seconds, attach_seconds, write_seconds)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path, params_path, seed, out = job
    t0 = time.perf_counter()
    df = pd.read_csv(csv_path)
    t1 = time.perf_counter()
    with open(params_path, "rb") as f:
        grid_id = runlake_grid_id.grid_hash(runlake_grid_id.loads(f.read()))
    df["grid_id"] = grid_id
    df["seed"] = seed
    table = pa.Table.from_pandas(df, preserve_index=False)
    t2 = time.perf_counter()
    pq.write_to_dataset(table, out, partition_cols=["grid_id", "seed"], compression="zstd")
    t3 = time.perf_counter()
    return len(df), t1 - t0, t2 - t1, t3 - t2


def cpu_seconds():
    """User + system CPU of this process and of its children that have exited (the pool's)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    args = json.loads(sys.argv[1])
    if args.get("check_only"):
        print(json.dumps({"versions": versions()}))
        return

    import pandas  # noqa: F401  (imported before timing, as a long-running converter would have it)
    import pyarrow.parquet  # noqa: F401

    root, out, workers = args["root"], args["out"], int(args.get("workers", 1))
    shutil.rmtree(out, ignore_errors=True)

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    inputs = find_inputs(root)
    jobs = [(csv_path, params, seed, out) for csv_path, params, seed in inputs]
    if workers <= 1:
        results = [convert_one(job) for job in jobs]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(convert_one, jobs))
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0

    print(
        json.dumps(
            {
                "inputs": len(jobs),
                "rows": sum(r[0] for r in results),
                "seconds": seconds,
                "workers": workers,
                # CPU time of this process and its finished pool workers over the timed section.
                "cpu_seconds": cpu,
                # Summed over inputs (across workers when parallel).
                "read_csv_seconds": sum(r[1] for r in results),
                "attach_seconds": sum(r[2] for r in results),
                "write_seconds": sum(r[3] for r in results),
                "versions": versions(),
            }
        )
    )


if __name__ == "__main__":
    main()
    # pyarrow's thread pools can abort the interpreter during teardown after all work is done
    # ("terminate called without an active exception", apache/arrow#34314): leave without it.
    sys.stdout.flush()
    os._exit(0)

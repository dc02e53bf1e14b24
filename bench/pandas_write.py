"""pandas + pyarrow.parquet.write_to_dataset peer for bench/run.mjs (exp_engine's write path).

Usage: python bench/pandas_write.py '<json>' where json is
  {"rows": N, "out": dir, "grid_ids": [...], "seeds": [...], "check_only": false,
   "batch_rows": B, "batches": K}

With "batch_rows" and "batches" (the small-batch case), it writes K batches of B rows instead, each
batch one grid's next rows of the first seed (grids in turn), with one DataFrame + from_pandas +
write_to_dataset per batch, as a tracking server flushing batches would.

Generates the same shape of data as bench/data.mjs with numpy (not timed), then times the
DataFrame build with exp_engine's regret normalisation, pa.Table.from_pandas and pq.write_to_dataset(partition_cols=['grid_id', 'seed'],
compression='zstd'). Prints one JSON object on stdout.
"""

import json
import os
import shutil
import sys
import time


def versions():
    import numpy
    import pandas
    import pyarrow

    return {
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
    }


def partition_counts(total, grids, seeds):
    partitions = grids * seeds
    base, extra = divmod(total, partitions)
    return [[base + (1 if g * seeds + s < extra else 0) for s in range(seeds)] for g in range(grids)]


def main():
    args = json.loads(sys.argv[1])
    if args.get("check_only"):
        print(json.dumps({"versions": versions()}))
        return

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, out = int(args["rows"]), args["out"]
    grid_ids, seeds = args["grid_ids"], args["seeds"]
    if args.get("batch_rows"):
        small_batches(int(args["batch_rows"]), int(args["batches"]), out, grid_ids, seeds)
        return
    counts = partition_counts(rows, len(grid_ids), len(seeds))

    # Data generation (not timed): same columns, value ranges and partition sizes as bench/data.mjs.
    rng = np.random.default_rng(0x5EED)
    flat = [c for per_grid in counts for c in per_grid]
    grid_col = np.repeat(np.array(grid_ids, dtype=object), [sum(c) for c in counts])
    seed_col = np.concatenate(
        [np.full(c, seeds[s], dtype=np.int64) for per_grid in counts for s, c in enumerate(per_grid)]
    )
    event_id = np.concatenate([np.arange(c, dtype=np.int64) for c in flat])
    op = np.array(["insert", "delete", "query", "update"], dtype=object)[rng.integers(0, 4, rows)]
    u = rng.random(rows)
    regret = u * u + 1e-9
    acc = 0.5 + 0.49 * rng.random(rows)
    step = event_id >> 2
    shutil.rmtree(out, ignore_errors=True)

    t0 = time.perf_counter()
    df = pd.DataFrame(
        {
            "grid_id": grid_col,
            "seed": seed_col,
            "event_id": event_id,
            "op": op,
            "regret": regret,
            "acc": acc,
            "step": step,
        }
    )
    # exp_engine's write_event_rows normalises regret before writing (engine/io.py,
    # _normalize_regret_columns, lineage A at 2251c874): with regret and no cum_regret, cum_regret
    # becomes a copy of regret. runlake's writeEventRows does the same.
    df["cum_regret"] = df["regret"].copy()
    t1 = time.perf_counter()
    table = pa.Table.from_pandas(df, preserve_index=False)
    t2 = time.perf_counter()
    pq.write_to_dataset(table, out, partition_cols=["grid_id", "seed"], compression="zstd")
    t3 = time.perf_counter()

    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": t3 - t0,
                "dataframe_seconds": t1 - t0,
                "from_pandas_seconds": t2 - t1,
                "write_seconds": t3 - t2,
                "versions": versions(),
            }
        )
    )


def small_batches(batch_rows, batches, out, grid_ids, seeds):
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Data generation (not timed): batch b is rows [k * batch_rows, (k + 1) * batch_rows) of seed 1 of
    # grid b % len(grid_ids), k = b // len(grid_ids), as bench/run.mjs slices its batches.
    rng = np.random.default_rng(0x5EED)
    ops = np.array(["insert", "delete", "query", "update"], dtype=object)
    prepared = []
    for b in range(batches):
        k = b // len(grid_ids)
        event_id = np.arange(k * batch_rows, (k + 1) * batch_rows, dtype=np.int64)
        u = rng.random(batch_rows)
        prepared.append(
            {
                "grid_id": grid_ids[b % len(grid_ids)],
                "seed": np.full(batch_rows, seeds[0], dtype=np.int64),
                "event_id": event_id,
                "op": ops[rng.integers(0, 4, batch_rows)],
                "regret": u * u + 1e-9,
                "acc": 0.5 + 0.49 * rng.random(batch_rows),
                "step": event_id >> 2,
            }
        )
    shutil.rmtree(out, ignore_errors=True)

    t0 = time.perf_counter()
    for batch in prepared:
        df = pd.DataFrame(batch)
        df["cum_regret"] = df["regret"].copy()
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_to_dataset(table, out, partition_cols=["grid_id", "seed"], compression="zstd")
    t1 = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": batch_rows * batches,
                "seconds": t1 - t0,
                "dataframe_seconds": None,
                "from_pandas_seconds": None,
                "write_seconds": None,
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

"""Writes lakes the way other tools do, and reads datasets back with pyarrow and pandas, for
test/commits-interop.test.ts.

    commits_interop.py pandas-events <lake>             events written by pandas
                                                         to_parquet(partition_cols=[grid_id, seed])
    commits_interop.py exp-engine <lake> <exp_engine>   events and seeds written by exp_engine's
                                                         own writer (<exp_engine>/exp_engine/engine/io.py)
    commits_interop.py read <dataset dir> <column>       pq.read_table and pd.read_parquet of the
                                                         directory: rows and the sum of <column>

Each prints one JSON object.
"""

import json
import math
import sys


def pandas_events(lake):
    import pandas as pd

    # Two calls, as a script logging two batches would: two files per partition.
    for batch in range(2):
        rows = [
            {
                "grid_id": grid,
                "seed": seed,
                "event_id": batch * 100 + i,
                "op": "insert" if i % 2 else "delete",
                "regret": (batch * 100 + i) / 8,
            }
            for grid in ("g1a2b3c4", "00ff00ff")
            for seed in (1, 2)
            for i in range(5)
        ]
        pd.DataFrame(rows).to_parquet(f"{lake}/events", partition_cols=["grid_id", "seed"], index=False)
    print(json.dumps({"rows": 40}))


def exp_engine(lake, root):
    sys.path.insert(0, root)
    from exp_engine.engine.io import write_event_rows, write_seed_rows

    events = 0
    for gamma in (0.5, 1.0):
        params = {"algo": "memorypair", "accountant": "zcdp", "gamma_bar": gamma, "gamma_split": 0.5}
        for seed in (1, 2):
            rows = [
                {"seed": seed, "event_id": i, "op": "insert" if i % 2 else "delete", "regret": i / 4, "acc": 0.5}
                for i in range(10 + seed)
            ]
            events += len(rows)
            write_event_rows(rows, lake, params)
            write_seed_rows([{"seed": seed, "avg_regret_empirical": gamma * seed}], lake, params)
    print(json.dumps({"events": events, "seeds": 4}))


def read(directory, column):
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(directory)
    frame = pd.read_parquet(directory)
    total = sum(v for v in table.column(column).to_pylist() if v is not None)
    pandas_total = float(frame[column].dropna().sum())
    print(
        json.dumps(
            {
                "rows": table.num_rows,
                "sum": total,
                "pandas_rows": len(frame),
                "pandas_sum": None if math.isnan(pandas_total) else pandas_total,
                "columns": sorted(table.column_names),
            }
        )
    )


def main():
    command, *args = sys.argv[1:]
    {"pandas-events": pandas_events, "exp-engine": exp_engine, "read": read}[command](*args)


if __name__ == "__main__":
    main()

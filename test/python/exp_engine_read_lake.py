"""Reads the seeds and events datasets exp_engine's converter wrote, for convert-exp-engine.test.ts.

Usage: exp_engine_read_lake.py <base_out>

Prints one JSON object: {"seeds": [...], "events": [...], "types": {dataset: {column: [types]}}},
rows as plain dicts with NaN as null and the Hive partition values (grid_id text, seed int) added.
Each file is read on its own: exp_engine wrote one pandas frame per grid, and the frames disagree
on types (a regret column is int64 in one grid and double in another), which a pyarrow dataset
refuses to unify.
"""

import json
import math
import os
import sys

import pyarrow.parquet as pq


def plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def read(directory):
    rows, types = [], {}
    for parent, _dirs, files in sorted(os.walk(directory)):
        for name in sorted(files):
            if not name.endswith(".parquet"):
                continue
            table = pq.read_table(os.path.join(parent, name), partitioning=None)
            partition = {}
            for part in os.path.relpath(parent, directory).split(os.sep):
                key, _, value = part.partition("=")
                if key in ("grid_id", "seed"):
                    partition[key] = int(value) if key == "seed" else value
            for field in table.schema:
                types.setdefault(field.name, set()).add(str(field.type))
            for row in table.to_pylist():
                rows.append({**{k: plain(v) for k, v in row.items()}, **partition})
    return rows, {k: sorted(v) for k, v in types.items()}


base = sys.argv[1]
seeds, seed_types = read(os.path.join(base, "seeds"))
events, event_types = read(os.path.join(base, "events"))
print(json.dumps({"seeds": seeds, "events": events, "types": {"seeds": seed_types, "events": event_types}}))

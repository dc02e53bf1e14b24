"""exp_engine's own writer and views, driven by test/exp-engine-views.test.ts.

The exp_engine package is imported from a source tree given on the command line (its lineage A,
with seeds and events, or its event-only lineage B), so the tests compare runlake with the real
thing rather than with a copy of its SQL.

Usage (one JSON object on stdin, one on stdout):

    exp_engine_lake.py write <exp_engine root> <lake>
        stdin: {"calls": [{"kind": "events" | "seeds", "rows": [...], "params": {...} | null}]}
        Each call is one write_event_rows / write_seed_rows call of exp_engine's engine/io.py.
        stdout: {"calls": <number of calls made>}

    exp_engine_lake.py views <exp_engine root> <lake>
        stdin: {"sql": {"<key>": "<SELECT>"}, "calls": {"<key>": ["<duck.py function>", args...]},
                "reuse": true | false}
        Opens the lake with create_connection_and_views (on a connection of our own when "reuse"),
        runs each SELECT and each call (the connection is passed as the first argument).
        stdout: {"tables": [...], "reused": bool | null,
                 "results": {"<key>": {"columns": [...], "rows": [[...], ...]}},
                 "errors": {"<key>": "<message>"}}
"""

import contextlib
import datetime
import json
import math
import sys


def load(root):
    sys.path.insert(0, root)
    from exp_engine.engine import duck, io

    return duck, io


def plain(value):
    """A JSON value for a cell of a pandas frame (NaN, NA and NaT become null)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except ImportError:
        pass
    return str(value)


def frame(df):
    return {
        "columns": [str(c) for c in df.columns],
        "rows": [[plain(v) for v in row] for row in df.itertuples(index=False, name=None)],
    }


def write(root, lake):
    _, io = load(root)
    request = json.load(sys.stdin)
    for call in request["calls"]:
        writer = io.write_event_rows if call["kind"] == "events" else io.write_seed_rows
        writer(call["rows"], lake, call.get("params"))
    print(json.dumps({"calls": len(request["calls"])}))


def views(root, lake):
    duck, _ = load(root)
    import duckdb

    request = json.load(sys.stdin)
    existing = duckdb.connect() if request.get("reuse") else None
    # Lineage B reports the files it found on stdout; keep stdout for our answer.
    with contextlib.redirect_stdout(sys.stderr):
        connection = duck.create_connection_and_views(lake, existing)
    answer = {
        "tables": sorted(row[0] for row in connection.execute("SHOW TABLES").fetchall()),
        "reused": (connection is existing) if existing is not None else None,
        "results": {},
        "errors": {},
    }
    for key, sql in request.get("sql", {}).items():
        try:
            answer["results"][key] = frame(connection.execute(sql).df())
        except Exception as error:  # the test asserts which queries fail
            answer["errors"][key] = f"{type(error).__name__}: {error}"
    for key, (name, *args) in request.get("calls", {}).items():
        try:
            answer["results"][key] = frame(getattr(duck, name)(connection, *args))
        except Exception as error:
            answer["errors"][key] = f"{type(error).__name__}: {error}"
    print(json.dumps(answer))


def main():
    command, root, lake = sys.argv[1:4]
    {"write": write, "views": views}[command](root, lake)


if __name__ == "__main__":
    main()

"""The seed's own JSON -> Parquet upgrade (mask_impact_vl.py), timed for bench/convert-file.mjs.

Usage: convert_file_peer.py '{"input": "mask.json", "output": "mask.parquet"}'
Prints one JSON line: readSeconds, convertSeconds (read_json + optimize + to_parquet), outputBytes,
rows and loadSeconds (pd.read_parquet of the result).
"""

import json
import os
import sys
import time

import pandas as pd


def main() -> None:
    payload = json.loads(sys.argv[1])
    started = time.perf_counter()
    df = pd.read_json(payload["input"])
    read_seconds = time.perf_counter() - started
    # The seed, verbatim: float32 at 4 decimals, categorical strings, zstd.
    df["l2_distance"] = df["l2_distance"].round(4).astype("float32")
    df["cosine_distance"] = df["cosine_distance"].round(4).astype("float32")
    df["token_masked"] = df["token_masked"].astype("category")
    df["variant"] = df["variant"].astype("category")
    df.to_parquet(payload["output"], compression="zstd", index=False)
    convert_seconds = time.perf_counter() - started
    rows = len(df)
    del df
    started = time.perf_counter()
    loaded = pd.read_parquet(payload["output"])
    load_seconds = time.perf_counter() - started
    assert len(loaded) == rows
    print(
        json.dumps(
            {
                "rows": rows,
                "readSeconds": read_seconds,
                "convertSeconds": convert_seconds,
                "outputBytes": os.path.getsize(payload["output"]),
                "loadSeconds": load_seconds,
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()

"""Checks runlake's mean_eval / std_eval views against pandas, independently of runlake's SQL.

Used by test/ingest-datadec-outputs.test.ts. It reads the `full_eval` rows runlake wrote straight
from the lake's Parquet files (pyarrow), groups them with pandas by (params, data, task, step,
metric_name) — mean and sample std (ddof=1), NaN skipped as pandas does — and compares:

* the views' rows (JSON on stdin: {"mean_eval": [...], "std_eval": [...]}) with that groupby;
* datadec's own mean_eval.parquet / std_eval.parquet (wide, grouped by params, data, step,
  tokens, compute) with the same groupby, after splitting their columns into (task, metric)
  with this script's own rules (not runlake's).

It also checks that tokens and compute are single-valued per (params, data, step), so datadec's
grouping (which adds them) and the views' grouping (which does not) give the same groups.

    datadec_reference.py LAKE DATADEC_FOLDER < views.json

Prints JSON: counts compared and the largest differences.
"""

import glob
import json
import math
import os
import sys

import pandas as pd
import pyarrow.parquet as pq

# datadec's METRIC_NAMES (drothermel/datadec src/datadec/constants.py, 6207b06), longest first.
METRICS = sorted(
    """correct_choice acc_raw acc_per_token acc_per_char acc_per_byte acc_uncond no_answer
    sum_logits_corr logits_per_token_corr logits_per_char_corr bits_per_byte_corr correct_prob
    correct_prob_per_token correct_prob_per_char margin margin_per_token margin_per_char total_prob
    total_prob_per_token total_prob_per_char uncond_correct_prob uncond_correct_prob_per_token
    uncond_correct_prob_per_char uncond_total_prob norm_correct_prob norm_correct_prob_per_token
    norm_correct_prob_per_char primary_metric""".split(),
    key=len,
    reverse=True,
)


def split_column(column):
    if column.endswith("-valppl"):
        return column[: -len("-valppl")], "perplexity"
    for metric in METRICS:
        if column.endswith("_" + metric):
            return column[: -len(metric) - 1], metric
    return None


def lake_rows(lake):
    frames = []
    for part in sorted(glob.glob(os.path.join(lake, "full_eval", "params=*", "*.parquet"))):
        if os.path.basename(part).startswith((".", "_")):
            continue
        frame = pq.read_table(part).to_pandas()
        frame["params"] = os.path.basename(os.path.dirname(part))[len("params=") :]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def differ(a, b):
    a_missing = a is None or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return (a_missing != b_missing), 0.0
    diff = abs(a - b)
    return diff > 1e-12 * max(1.0, abs(a), abs(b)), diff


def main(lake, folder):
    views = json.load(sys.stdin)
    rows = lake_rows(lake)
    keys = ["params", "data", "task", "step", "metric_name"]
    numeric = rows[rows["value"].notna()]
    grouped = numeric.groupby(keys)["value"]
    reference = {"mean_eval": grouped.mean().to_dict(), "std_eval": grouped.std(ddof=1).to_dict()}

    per_checkpoint = rows.groupby(["params", "data", "step"])[["tokens", "compute"]].nunique(dropna=False)
    out = {
        "rows": int(len(rows)),
        "groups": int(grouped.ngroups),
        "tokens_compute_single_valued": bool((per_checkpoint <= 1).all().all()),
    }
    for view in ("mean_eval", "std_eval"):
        seen, mismatches, max_diff = 0, 0, 0.0
        for row in views[view]:
            key = tuple(row[k] for k in keys)
            bad, diff = differ(row["value"], reference[view].get(key))
            seen += 1
            mismatches += bad
            max_diff = max(max_diff, diff)
        out[view] = {
            "view_rows": seen,
            "reference_groups": len(reference[view]),
            "mismatches": mismatches,
            "max_abs_diff": max_diff,
        }
        datadec = pd.read_parquet(os.path.join(folder, f"{view}.parquet"))
        cells, mismatches, max_diff, missing_both = 0, 0, 0.0, 0
        for column in datadec.columns:
            split = split_column(column)
            if split is None:
                continue
            task, metric = split
            for params, data, step, cell in zip(datadec["params"], datadec["data"], datadec["step"], datadec[column]):
                got = reference[view].get((params, data, task, int(step), metric))
                expected = None if pd.isna(cell) else float(cell)
                bad, diff = differ(expected, got)
                cells += 1
                mismatches += bad
                missing_both += expected is None and (got is None or math.isnan(got))
                max_diff = max(max_diff, diff)
        out[f"datadec_{view}"] = {
            "cells": cells,
            "mismatches": mismatches,
            "max_abs_diff": max_diff,
            "missing_both": missing_both,
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Writes test/fixtures/datadecide/: small files in the layout of allenai/DataDecide-eval-results.

The layout follows the Hugging Face dataset allenai/DataDecide-eval-results as its upload script
builds it (allenai/DataDecide `release/upload_eval.py`, commit 68abc49: the results CSV with
`model`/`group` renamed to `params`/`data`, display names for the recipes, seed numbers mapped to
DataDecide's seed names, `Dataset.from_pandas(...).push_to_hub`) and as `Dataset.to_parquet`
saves it (plain columns, no pandas metadata): params, data, task, step, seed, tokens, compute,
chinchilla, and `metrics`, the Python `str()` of a dict. Token and compute columns follow the
OLMo ladder the checkpoints come from: tokens = step × batch × 2048, compute = 6 × N × tokens,
chinchilla = tokens / (20 N) as `"%.2fxC"`, with N and batch size as drothermel/datadec's
`constants.py` (6207b06) lists them for 4M (3,744,832; 32) and 150M (150,000,000; 192).

* eval-results-00000.parquet — 2 sizes × 2 recipes × 2 tasks × 2 steps × 3 seeds; some metrics
  are `nan` or `-inf`, as `str()` prints them.
* eval-results-lr-00001.parquet — the same layout plus `lr_at_step` and `cumulative_lr` columns.
  No DataDecide release and no datadec version writes these two columns into this layout (datadec
  adds them to its wide full_eval.parquet, see datadec_golden.py); the variant exists to test that
  optional numeric columns are kept, with a linear schedule (lr 0.004 decaying to 0 at step 40000).
* bad-metrics.parquet — row 1's metrics text is cut off mid-dict.
* step-as-text.parquet — step written as text (a type flip between files).

    python3 test/python/datadecide_fixtures.py test/fixtures/datadecide
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SIZES = {"4M": (3_744_832, 32), "150M": (150_000_000, 192)}
SEEDS = ["default", "small aux 2", "small aux 3"]
METRIC_KEYS = [
    "primary_metric",
    "acc_raw",
    "acc_per_token",
    "acc_per_char",
    "acc_uncond",
    "no_answer",
    "sum_logits_corr",
    "logits_per_char_corr",
    "bits_per_byte_corr",
    "correct_prob",
    "margin",
    "norm_correct_prob",
]
SCHEMA = pa.schema(
    [
        ("params", pa.string()),
        ("data", pa.string()),
        ("task", pa.string()),
        ("step", pa.int64()),
        ("seed", pa.string()),
        ("tokens", pa.int64()),
        ("compute", pa.float64()),
        ("chinchilla", pa.string()),
        ("metrics", pa.string()),
    ]
)


def checkpoint(params: str, step: int) -> dict[str, object]:
    size, batch = SIZES[params]
    tokens = step * batch * 2048
    return {"tokens": tokens, "compute": 6.0 * size * tokens, "chinchilla": f"{tokens / (20 * size):.2f}xC"}


def metrics(rng: random.Random, special: bool) -> str:
    values: dict[str, float | int] = {}
    for key in METRIC_KEYS:
        if key == "no_answer":
            values[key] = 0
        elif key == "sum_logits_corr":
            values[key] = -rng.uniform(5, 40)
        else:
            values[key] = rng.random()
    if special:
        # str() spells these nan / -inf, which the ingest must keep.
        if rng.random() < 0.5:
            values["bits_per_byte_corr"] = math.nan
        else:
            values["margin"] = -math.inf
    return str(values)


def write(path: Path, rows: list[dict[str, object]], schema: pa.Schema = SCHEMA) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    print(f"wrote {path} ({len(rows)} rows)")


def main(out: Path) -> None:
    rng = random.Random(20251122)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for params, last in (("4M", 2500), ("150M", 37500)):
        for data in ("Dolma1.7", "DCLM-Baseline (QC 10%)"):
            for task in ("arc_easy", "mmlu_astronomy"):
                for step in (0, last):
                    for seed in SEEDS:
                        rows.append(
                            {
                                "params": params,
                                "data": data,
                                "task": task,
                                "step": step,
                                "seed": seed,
                                **checkpoint(params, step),
                                "metrics": metrics(rng, special=rng.random() < 0.25),
                            }
                        )
    write(out / "eval-results-00000.parquet", rows)

    lr_schema = SCHEMA.append(pa.field("lr_at_step", pa.float64())).append(pa.field("cumulative_lr", pa.float64()))
    rows = []
    for step in (12500, 25000):
        for seed in SEEDS:
            rows.append(
                {
                    "params": "150M",
                    "data": "C4",
                    "task": "hellaswag",
                    "step": step,
                    "seed": seed,
                    **checkpoint("150M", step),
                    "metrics": metrics(rng, special=seed == "small aux 3"),
                    "lr_at_step": 0.004 * (1 - step / 40000),
                    "cumulative_lr": 0.004 * step * (1 - step / 80000),
                }
            )
    write(out / "eval-results-lr-00001.parquet", rows, lr_schema)

    rows = [
        {"params": "4M", "data": "C4", "task": "piqa", "step": 500, "seed": seed, **checkpoint("4M", 500)}
        | {"metrics": metrics(rng, special=False)}
        for seed in SEEDS
    ]
    # Cut off 57 characters in: inside the dict, after a complete number.
    rows[1]["metrics"] = "{'primary_metric': 0.22002525220055924, 'acc_raw': 0.9062"
    write(out / "bad-metrics.parquet", rows)

    text_step = pa.schema([f if f.name != "step" else pa.field("step", pa.string()) for f in SCHEMA])
    rows = [
        {"params": "4M", "data": "C4", "task": "piqa", "step": "1000", "seed": seed, **checkpoint("4M", 1000)}
        | {"metrics": metrics(rng, special=False)}
        for seed in SEEDS
    ]
    write(out / "step-as-text.parquet", rows, text_step)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

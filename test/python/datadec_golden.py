"""Writes the golden datadec fixtures in test/fixtures/datadec/ by running datadec's own pipeline.

The inputs are synthetic but shaped exactly like the two Hugging Face downloads datadec starts
from (its `download` stage, `Dataset.to_parquet`, so no pandas metadata):

* `downstream_eval.parquet`, as allenai/DataDecide-eval-results: params, data, task, step, seed
  (DataDecide's seed names), tokens, compute, chinchilla, and `metrics`, a Python-dict text;
* `ppl_eval.parquet`, as allenai/DataDecide-ppl-results: params, data, step, seed, the eleven
  `eval/<set>-validation/Perplexity` columns and `__index_level_0__` (a plain column: the pandas
  index `Dataset.from_pandas` kept when allenai/DataDecide release/upload_eval.py uploaded it).

Every other file is written by drothermel/datadec's own functions at commit 6207b06 (2026-02-02,
the newest; the layout is unchanged since 991a8bb, 2025-08-15), called stage by stage exactly as
`DataPipeline` in src/datadec/pipeline.py calls them (metrics_expand → parse → merge → enrich →
aggregate → plotting_prep), to the file names of src/datadec/paths.py. The stages are driven
here rather than through `DataPipeline.run` because at 6207b06 pipeline.py and data.py import
each other and neither imports first; `datadec.pipeline` is stubbed so that data.py (which holds
`get_data_recipe_details_df`) imports, and so is `datasets` (nothing is downloaded).

The grid is small but covers the cases the ingester must handle: 2 sizes × 2 recipes × 3 seeds
× 3 steps, 4 tasks incl. two mmlu_* (so datadec adds mmlu_average); one seed misses hellaswag at
one step and the perplexity file has a step the downstream file lacks (both leave NaN cells in
the wide files; every DataDecide recipe is in datadec's dataset_features.csv, so no feature is NaN).

Run (from the repository root; needs pandas, pyarrow, orjson, numpy):

    mkdir -p .scratch/datadec-6207b06
    git -C /work/.mirror/drothermel+datadec/repo archive 6207b06 | tar -x -C .scratch/datadec-6207b06
    .scratch/dd-venv/bin/python test/python/datadec_golden.py .scratch/datadec-6207b06 test/fixtures/datadec

Generated with pandas 3.0.6, pyarrow 25.0.1, numpy 2.4.6.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SIZES = ["4M", "20M"]
RECIPES = ["Dolma1.7", "DCLM-Baseline (QC 10%)"]
SEEDS = ["default", "small aux 2", "large aux 2"]
STEPS = {"4M": [0, 1000, 2500], "20M": [0, 2000, 5000]}
PPL_EXTRA_STEP = {"4M": 4000, "20M": 8000}
TASKS = ["arc_easy", "hellaswag", "mmlu_anatomy", "mmlu_astronomy"]
PPL_SETS = [
    "wikitext_103",
    "pile",
    "c4_en",
    "m2d2_s2orc",
    "ice",
    "dolma_wiki",
    "dolma_stack",
    "dolma_reddit",
    "dolma_pes2o",
    "dolma_common-crawl",
    "dolma_books",
]
# The six keys datadec drops (DROP_METRICS) are in the raw dicts, as in the real release.
EXTRA_METRICS = [
    "predicted_index_raw",
    "predicted_index_per_token",
    "predicted_index_per_char",
    "predicted_index_per_byte",
    "predicted_index_uncond",
    "logits_per_byte_corr",
]


def hf_parquet(df: pd.DataFrame, path: Path) -> None:
    """As `datasets.Dataset.to_parquet` writes it: plain columns, no pandas metadata."""
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path)


def main(datadec_root: Path, out_dir: Path) -> None:
    sys.path.insert(0, str(datadec_root / "src"))
    datasets_stub = types.ModuleType("datasets")
    datasets_stub.Dataset = object  # type: ignore[attr-defined]
    sys.modules["datasets"] = datasets_stub
    pipeline_stub = types.ModuleType("datadec.pipeline")
    pipeline_stub.DataPipeline = object  # type: ignore[attr-defined]
    pipeline_stub.verbose_print = lambda *a, **k: None  # type: ignore[attr-defined]
    sys.modules["datadec.pipeline"] = pipeline_stub
    from datadec import constants as consts
    from datadec import df_utils, model_utils, parsing
    from datadec.data import get_data_recipe_details_df
    from datadec.paths import DataDecidePaths

    rng = np.random.default_rng(20251205)
    models = model_utils.create_all_model_configs()

    dwn_rows = []
    for params in SIZES:
        cfg = models[params]
        tokens_per_step = cfg["batch_size"] * consts.MAX_SEQ_LEN
        for data in RECIPES:
            for seed in SEEDS:
                for step in STEPS[params]:
                    for task in TASKS:
                        if task == "hellaswag" and seed == "large aux 2" and step == STEPS[params][1]:
                            continue  # a missing result: NaN cells in datadec's wide files
                        tokens = step * tokens_per_step
                        metrics: dict[str, float | int] = {}
                        for name in consts.METRIC_NAMES + EXTRA_METRICS:
                            if name in ("correct_choice", "no_answer") or name.startswith("predicted_index"):
                                metrics[name] = int(rng.integers(0, 4))
                            elif name in ("sum_logits_corr", "margin", "uncond_total_prob"):
                                metrics[name] = float(-rng.uniform(1, 40))
                            else:
                                metrics[name] = float(rng.uniform(0, 1))
                        dwn_rows.append(
                            {
                                "params": params,
                                "data": data,
                                "task": task,
                                "step": step,
                                "seed": seed,
                                "tokens": tokens,
                                "compute": 6.0 * cfg["true_model_size"] * tokens,
                                "chinchilla": f"{tokens / (20 * cfg['true_model_size']):.2f}xC",
                                "metrics": repr(metrics),
                            }
                        )
    dwn = pd.DataFrame(dwn_rows)

    ppl_rows = []
    for params in SIZES:
        for data in RECIPES:
            for seed in SEEDS:
                for step in STEPS[params] + [PPL_EXTRA_STEP[params]]:
                    row: dict[str, object] = {"params": params, "data": data, "step": step, "seed": seed}
                    for name in PPL_SETS:
                        row[f"eval/{name}-validation/Perplexity"] = float(rng.uniform(20, 3000))
                    ppl_rows.append(row)
    ppl = pd.DataFrame(ppl_rows)
    # The upload kept a filtered frame's index: not 0..n-1, so it is visibly not a row number.
    ppl.insert(len(ppl.columns), "__index_level_0__", np.arange(len(ppl), dtype=np.int64) * 3 + 7)

    with tempfile.TemporaryDirectory() as tmp:
        paths = DataDecidePaths(tmp)
        hf_parquet(dwn, paths.get_path("dwn_raw"))
        hf_parquet(ppl, paths.get_path("ppl_raw"))
        p = paths.get_path
        # The stages of DataPipeline (pipeline.py), in its order, with its arguments.
        parsing.list_col_to_columns(pd.read_parquet(p("dwn_raw")), "metrics").to_parquet(
            p("dwn_metrics_expanded")
        )
        parsing.parse_downstream_expanded_df(pd.read_parquet(p("dwn_metrics_expanded"))).to_parquet(
            p("dwn_parsed")
        )
        parsing.parse_perplexity_df(pd.read_parquet(p("ppl_raw"))).to_parquet(p("ppl_parsed"))
        parsing.merge_all_dfs(
            dwn_raw_df=pd.read_parquet(p("dwn_raw")),
            ppl_parsed_df=pd.read_parquet(p("ppl_parsed")),
            dwn_parsed_df=pd.read_parquet(p("dwn_parsed")),
            dataset_details_df=get_data_recipe_details_df(paths.ds_details_csv_path),
            model_details_df=model_utils.get_model_details_df(),
            add_token_compute=True,
        ).to_parquet(p("full_eval_raw"))
        parsing.add_lr_cols(pd.read_parquet(p("full_eval_raw"))).to_parquet(p("full_eval"))
        mean_df, std_df = df_utils.create_mean_std_df(pd.read_parquet(p("full_eval")))
        mean_df.to_parquet(p("mean_eval"))
        std_df.to_parquet(p("std_eval"))
        df_utils.melt_for_plotting(
            pd.read_parquet(p("full_eval")), include_seeds=True, drop_na=True
        ).to_parquet(p("full_eval_melted"))
        df_utils.melt_for_plotting(
            pd.read_parquet(p("mean_eval")), include_seeds=False, drop_na=True
        ).to_parquet(p("mean_eval_melted"))
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in paths.dataframes:
            source = paths.get_path(name)
            if source.exists():
                shutil.copyfile(source, out_dir / source.name)
                print(f"wrote {out_dir / source.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

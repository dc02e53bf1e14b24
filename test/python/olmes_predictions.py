"""Writes OLMES / oe-eval per-question prediction trees and tarballs as DataDecide publishes them,
and prints an independent per-task accuracy for the ingest test to compare with.

    python olmes_predictions.py <out_dir>

Standard library only. Record shape and file layout follow, without copying their code:

* allenai/olmes `oe_eval/metrics/metric.py` (`Metric.compute_for_docs`: one record per doc with
  the keys doc_id, native_id, metrics, model_output, label in that order; `MCAccuracy`: the
  per-doc metrics, in the order predicted_index_raw … logits_per_*_corr, `predicted_index_uncond`
  and `acc_uncond` null when the task has no unconditioned requests, sum_logits -999 marking "no
  answer") and `oe_eval/run_eval.py` (`task_hash` and `model_hash` appended to every record;
  `<task>-metrics.json` holding task_name, task_hash, model_hash, model_config, task_config with
  the `primary_metric`, compute_config, processing_time, current_date, num_instances,
  beaker_info, metrics with `primary_score`, task_idx; side files `-requests.jsonl`,
  `-recorded-inputs.jsonl`, `metrics.json`, `metrics-all.jsonl`); `oe_eval/utils.py save_jsonl`
  writes `json.dumps(record)` per line (default separators, ASCII escapes, NaN tokens allowed).
  allenai/olmes itself was not fetchable; read from forks of it the public code index holds:
  yi-yvonne-yu/olmes 8cd2645 `oe_eval/metrics/metric.py`, davidheineman/olmes 6e901a3 and
  yi-yvonne-yu/olmes 96d9d2a `oe_eval/run_eval.py`, behzadshomali/olmes df28fad
  `oe_eval/utils.py`. That `metric.py` carries `bits_per_byte`; DataDecide's era (datadec's
  contract below) carries `logits_per_byte`, which is what we write.
* danielle-rothermel/datadec commit 098d35b `src/datadec/data/preprocess/olmes_details.py`
  (checkpoint tarballs `<recipe>/<params>/seed-<N>/step-<N>.tar.gz`, packed in one gzipped tar
  per recipe; inside each, members `step-<N>/<task>-metrics.json` and
  `step-<N>/<task>-predictions.jsonl`) and `configs/olmes.toml` (seed and recipe maps; native
  ids integer, string or null; per-instance and per-choice metric names), and commit 00daa4b
  `tests/test_olmes_details_preprocess.py` (tarfile.open(mode="w:gz") with TarInfo members,
  choice dict order sum_logits, num_tokens, num_tokens_all, is_greedy, …).
* allenai/DataDecide commit 68abc49 `eval/eval_checkpoints_x_tasks.py` (the files one oe-eval
  run leaves: metrics-all.jsonl, metrics.json and per task -metrics.json, -predictions.jsonl,
  -recorded-inputs.jsonl, -requests.jsonl).

What it writes under <out_dir>:

  tree/dclm-baseline/150M/seed-14/step-25000/   extracted: predictions, metrics and side files
  tree/dclm-baseline/150M/seed-2/step-25000.tar.gz   packed (tarfile's default PAX format)
  tree/dclm-baseline/150M/seed-14/step-12500.tar.gz  packed in GNU format, predictions written
                                                      before metrics, and a member name longer
                                                      than 100 bytes (a long-name header)
  tree/my-recipe/60M/seed-3/step-100/           a recipe and seed DataDecide does not know
  archives/dolma1.7.tar.gz                       a recipe archive of checkpoint tarballs (PAX,
                                                      one member name over 100 bytes: a pax header)

Prints JSON: {"accuracy": [{recipe, params, seed, step, task, n, primary_metric, accuracy}...]},
accuracy being the mean of the per-doc primary metric computed here from the choices.
"""

from __future__ import annotations

import io
import json
import math
import random
import sys
import tarfile
from pathlib import Path

MODEL_HASH_SALT = "olmes-fixture"

# task -> (primary metric, choices per doc (0 = generative), native id kind, uncond)
TASKS = {
    "arc_challenge": ("acc_uncond", 4, "string", True),
    "arc_easy": ("acc_per_char", 4, "string", False),
    "boolq": ("acc_raw", 2, "integer", False),
    "mmlu_abstract_algebra": ("acc_raw", 4, "null", False),
    "hellaswag": ("acc_per_char", 4, "integer", False),
    "gsm8k": ("exact_match", 0, "integer", False),
}
LONG_TASK = "mmlu_high_school_government_and_politics_tar_format_probe_with_a_name_over_one_hundred_bytes"


def hash_of(*parts: object) -> str:
    import hashlib

    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def argmax(values: list[float]) -> int:
    return values.index(max(values))


def mc_record(rng: random.Random, task: str, doc_id: int, n_choices: int, kind: str, uncond: bool):
    label = rng.randrange(n_choices)
    choices = []
    for _ in range(n_choices):
        num_tokens = rng.randint(1, 12)
        num_chars = rng.randint(num_tokens, 6 * num_tokens)
        sum_logits = -rng.uniform(0.5, 30.0)
        choice = {
            "sum_logits": sum_logits,
            "num_tokens": num_tokens,
            "num_tokens_all": num_tokens + rng.randint(20, 300),
            "is_greedy": rng.random() < 0.1,
        }
        if uncond:
            choice["sum_logits_uncond"] = sum_logits - rng.uniform(-5.0, 5.0)
        choice["logits_per_token"] = sum_logits / num_tokens
        choice["logits_per_char"] = sum_logits / num_chars
        choice["logits_per_byte"] = -sum_logits / num_chars / math.log(2)
        choice["num_chars"] = num_chars
        choices.append(choice)
    if doc_id == 3:  # vLLM marks a doc none of whose answers it returned with sum_logits -999
        for choice in choices:
            choice["sum_logits"] = -999.0
    raw = [c["sum_logits"] for c in choices]
    per_token = [c["logits_per_token"] for c in choices]
    per_char = [c["logits_per_char"] for c in choices]
    per_byte = [-c["logits_per_byte"] for c in choices]
    p_raw, p_token, p_char, p_byte = argmax(raw), argmax(per_token), argmax(per_char), argmax(per_byte)
    p_uncond = argmax([c["sum_logits"] - c["sum_logits_uncond"] for c in choices]) if uncond else None
    metrics = {
        "predicted_index_raw": p_raw,
        "predicted_index_per_token": p_token,
        "predicted_index_per_char": p_char,
        "predicted_index_per_byte": p_byte,
        "predicted_index_uncond": p_uncond,
        "correct_choice": label,
        "acc_raw": int(p_raw == label),
        "acc_per_token": int(p_token == label),
        "acc_per_char": int(p_char == label),
        "acc_per_byte": int(p_byte == label),
        "acc_uncond": None if p_uncond is None else int(p_uncond == label),
        "no_answer": int(choices[p_raw]["sum_logits"] == -999),
        "sum_logits_corr": raw[label],
        "logits_per_token_corr": per_token[label],
        "logits_per_char_corr": per_char[label],
        "logits_per_byte_corr": choices[label]["logits_per_byte"],
    }
    if kind == "string":
        native_id = f"Mercury_{7170000 + 37 * doc_id}"
    elif kind == "integer":
        native_id = 1000 + doc_id
    else:
        native_id = None
    return {"doc_id": doc_id, "native_id": native_id, "metrics": metrics, "model_output": choices, "label": label}


def generative_record(rng: random.Random, doc_id: int):
    answer = str(rng.randint(2, 99))
    guess = answer if rng.random() < 0.4 else str(rng.randint(2, 99))
    metrics = {
        "exact_match_simple": int(guess == answer),
        "exact_match": int(guess == answer),
        "model_answer": guess,
    }
    output = [{"continuation": f" The answer is {guess}.", "num_tokens": rng.randint(5, 200)}]
    return {"doc_id": doc_id, "native_id": doc_id, "metrics": metrics, "model_output": output, "label": answer}


def checkpoint(rng: random.Random, recipe: str, params: str, seed: int, step: int, tasks: list[str], n_docs: int):
    """The files of one oe-eval run: name -> bytes, and the independent accuracies."""
    model_hash = hash_of(MODEL_HASH_SALT, recipe, params, seed, step)
    files: dict[str, bytes] = {}
    accuracy = []
    metrics_all = []
    for task_idx, task in enumerate(tasks):
        primary, n_choices, kind, uncond = TASKS.get(task, ("acc_raw", 4, "integer", False))
        task_hash = hash_of("task", task)
        records = [
            generative_record(rng, doc_id) if n_choices == 0 else mc_record(rng, task, doc_id, n_choices, kind, uncond)
            for doc_id in range(n_docs)
        ]
        for record in records:
            record["task_hash"] = task_hash
            record["model_hash"] = model_hash
        primary_values = [r["metrics"][primary] for r in records]
        score = sum(primary_values) / len(primary_values)
        accuracy.append(
            {
                "recipe": recipe,
                "params": params,
                "seed": seed,
                "step": step,
                "task": task,
                "n": len(records),
                "primary_metric": primary,
                "accuracy": score,
            }
        )
        aggregate = {}
        for name in records[0]["metrics"]:
            values = [r["metrics"][name] for r in records]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                aggregate[name] = sum(values) / len(values)
        aggregate["primary_score"] = score
        task_config = {
            "task_name": task,
            "task_core": task,
            "limit": 10000000000000000000,
            "split": "test",
            "num_shots": 5,
            "fewshot_seed": 1234,
            "primary_metric": primary,
            "random_subsample_seed": 1234,
            "context_kwargs": None,
            "generation_kwargs": None,
            "metric_kwargs": {"uncond_docid_offset": 1000000} if uncond else None,
            "native_id_field": "id",
            "version": 0,
            "metadata": {"regimes": ["OLMES-v0.1"], "alias": f"{task}:rc::olmes"},
        }
        metrics_payload = {
            "task_name": task,
            "task_hash": task_hash,
            "model_hash": model_hash,
            "model_config": {"model": f"{recipe}-{params}", "revision": f"step{step}-seed-{seed}", "max_length": 2048},
            "task_config": task_config,
            "compute_config": {"batch_size": "4", "max_batch_size": 32},
            "processing_time": 41.9,
            "current_date": "2024-12-19 12:16:07 UTC",
            "num_instances": len(records),
            "beaker_info": {},
            "metrics": aggregate,
            "task_idx": task_idx,
        }
        metrics_all.append(metrics_payload)
        files[f"{task}-predictions.jsonl"] = "".join(json.dumps(r) + "\n" for r in records).encode()
        files[f"{task}-metrics.json"] = json.dumps(metrics_payload).encode()
        requests = [{"request_type": "loglikelihood", "doc_id": r["doc_id"], "idx": 0, "label": r["label"]} for r in records]
        files[f"{task}-requests.jsonl"] = "".join(json.dumps(r) + "\n" for r in requests).encode()
        files[f"{task}-recorded-inputs.jsonl"] = (json.dumps({"doc_id": 0, "requests": requests[:1]}) + "\n").encode()
    files["metrics.json"] = json.dumps({"all_primary_scores": [f"{t}: {a['accuracy']:.6}" for t, a in zip(tasks, accuracy)]}).encode()
    files["metrics-all.jsonl"] = "".join(json.dumps(m) + "\n" for m in metrics_all).encode()
    return files, accuracy


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)


def add_member(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name=name)
    info.size = len(data)
    info.mtime = 1734610567
    archive.addfile(info, io.BytesIO(data))


def pack_step(path: Path, step: int, files: dict[str, bytes], *, fmt: int = tarfile.PAX_FORMAT, predictions_first: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = sorted(files, key=lambda n: (not n.endswith("-predictions.jsonl")) if predictions_first else n.endswith("-predictions.jsonl"))
    with tarfile.open(path, mode="w:gz", format=fmt) as archive:
        dir_info = tarfile.TarInfo(name=f"step-{step}")
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = 0o755
        archive.addfile(dir_info)
        for name in names:
            add_member(archive, f"step-{step}/{name}", files[name])


def main() -> None:
    out = Path(sys.argv[1])
    rng = random.Random(20241219)
    accuracy: list[dict] = []
    base = ["arc_challenge", "arc_easy", "boolq", "mmlu_abstract_algebra", "gsm8k"]

    files, acc = checkpoint(rng, "dclm-baseline", "150M", 14, 25000, base, 12)
    write_tree(out / "tree/dclm-baseline/150M/seed-14/step-25000", files)
    accuracy += acc

    files, acc = checkpoint(rng, "dclm-baseline", "150M", 2, 25000, base, 12)
    pack_step(out / "tree/dclm-baseline/150M/seed-2/step-25000.tar.gz", 25000, files)
    accuracy += acc

    files, acc = checkpoint(rng, "dclm-baseline", "150M", 14, 12500, ["arc_easy", "boolq", LONG_TASK], 9)
    pack_step(out / "tree/dclm-baseline/150M/seed-14/step-12500.tar.gz", 12500, files, fmt=tarfile.GNU_FORMAT, predictions_first=True)
    accuracy += acc

    files, acc = checkpoint(rng, "my-recipe", "60M", 3, 100, ["arc_easy"], 5)
    write_tree(out / "tree/my-recipe/60M/seed-3/step-100", files)
    accuracy += acc

    # A recipe archive: checkpoint tarballs inside one gzipped tar, as DataDecide publishes them.
    (out / "archives").mkdir(parents=True, exist_ok=True)
    with tarfile.open(out / "archives/dolma1.7.tar.gz", mode="w:gz") as recipe_archive:
        for seed in (4, 5):
            # seed-4's long member name takes a pax header (tarfile's default PAX_FORMAT).
            tasks = ["arc_easy", "hellaswag"] + ([LONG_TASK] if seed == 4 else [])
            files, acc = checkpoint(rng, "dolma1.7", "150M", seed, 25000, tasks, 7)
            accuracy += acc
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w:gz") as step_archive:
                for name in sorted(files):
                    add_member(step_archive, f"step-25000/{name}", files[name])
            add_member(recipe_archive, f"dolma1.7/150M/seed-{seed}/step-25000.tar.gz", inner.getvalue())

    print(json.dumps({"accuracy": accuracy}))


if __name__ == "__main__":
    main()

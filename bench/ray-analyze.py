"""Fan-out of the analysis on Ray against one ``runlake analyze`` process, on the same synthetic lake.

    .scratch/v20/bin/python bench/ray-analyze.py [--seeds 4] [--layers 4] [--checkpoints 11]
        [--samples 512] [--dim 256] [--repeat 3] [--ray-cpus 2]

Writes one input lake (bench/squiggle-input.mjs: runs of one grid, resid_post probe matrices in an
array-shards store, mlp_out inline), then, ``--repeat`` times and interleaved, analyses a fresh
copy of it four ways and times each from start to the last commit:

- ``runlake analyze <copy> --workers 1`` (one process: the calling thread, plus the helper thread
  of the descriptor stage, docs/geometry.md "Eigen solver");
- ``runlake analyze <copy> --workers 2`` (one process, two worker threads);
- ``runlake.ray.analyze(<copy>)``, twice, on a local Ray cluster of ``--ray-cpus`` CPUs: one task
  per run (``runlake analyze --stage descriptors --run <run> --workers 1``), then the cross-run stage once
  (``--stage trajectories --workers <ray-cpus>``), once with each task reserving every CPU (so
  one task runs at a time: the fan-out's own overhead) and once with one CPU per task (tasks run
  side by side). The cluster is started once, before the timings, as a cluster would already be
  running.

Every result is checked to have exactly the rows of the first one-process analysis (all five derived
datasets, read through ``runlake query``). Prints the medians and writes them to
bench/out/ray-analyze.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "dist" / "cli" / "main.js"
NODE = shutil.which("node") or "node"
OUT = REPO / "bench" / "out" / "ray-analyze"
DERIVED = ("geometry_state", "geometry_dynamics", "events", "signatures", "matches")


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return done.stdout


def fingerprint(lake: Path) -> str:
    """SHA-256 over every derived row (sorted JSON lines), as runlake's reader returns them."""
    digest = hashlib.sha256()
    for dataset in DERIVED:
        text = run([NODE, str(CLI), "query", str(lake), "--sql", f"SELECT * FROM {dataset}", "--format", "jsonl"])
        lines = sorted(line for line in text.splitlines() if line)
        digest.update(f"{dataset}:{len(lines)}\n".encode())
        for line in lines:
            digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("seeds", 4), ("layers", 4), ("checkpoints", 11), ("samples", 512), ("dim", 256)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ray-cpus", type=int, default=2)
    args = parser.parse_args()
    if not CLI.exists():
        sys.exit(f"{CLI} is missing: npx tsc -p tsconfig.build.json")

    import ray
    import runlake.ray as runlake_ray

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    source = OUT / "input"
    shape = [f"--{k}={getattr(args, k)}" for k in ("seeds", "layers", "checkpoints", "samples", "dim")]
    made = json.loads(run([NODE, str(REPO / "bench" / "squiggle-input.mjs"), str(source), *shape]))
    matrices = args.seeds * args.layers * 2 * args.checkpoints
    print(
        f"input: {args.seeds} runs x {args.checkpoints} checkpoints x {args.layers} layers x 2 modules = "
        f"{matrices} probe matrices of {args.samples} x {args.dim} ({made['embeddings']} embeddings rows)",
        flush=True,
    )

    os.environ["RUNLAKE_BIN"] = str(CLI)
    started = time.perf_counter()
    ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - started
    print(f"ray.init(num_cpus={args.ray_cpus}): {ray_start:.1f} s (not counted)", flush=True)

    def one_process(workers: int) -> Any:
        def analyse(lake: Path) -> None:
            run([NODE, str(CLI), "analyze", str(lake), "--workers", str(workers), "--no-progress"])

        return analyse

    breakdown: list[dict[str, float]] = []

    def fan_out(concurrent: bool) -> Any:
        def analyse(lake: Path) -> None:
            # One task at a time: each reserves every CPU of the cluster (still one thread each).
            reserve = {} if concurrent else {"num_cpus": args.ray_cpus}
            result = runlake_ray.analyze(lake, workers_per_task=1, final_workers=args.ray_cpus, ray_remote_args=reserve)
            if concurrent:
                tasks = [float(s["seconds"]) for s in result.run_summaries.values()]
                final = float(result.trajectories["seconds"]) if result.trajectories else 0.0
                breakdown.append({"taskSum": sum(tasks), "taskMax": max(tasks), "final": final})

        return analyse

    modes = {
        "runlake analyze --workers 1": one_process(1),
        "runlake analyze --workers 2": one_process(2),
        "runlake.ray.analyze, 1 task at a time": fan_out(False),
        f"runlake.ray.analyze, {args.ray_cpus} tasks at a time": fan_out(True),
    }
    seconds: dict[str, list[float]] = {name: [] for name in modes}
    expected: str | None = None
    for i in range(args.repeat):
        for name, analyse in modes.items():
            copy = OUT / f"copy-{i}"
            shutil.copytree(source, copy)
            t0 = time.perf_counter()
            analyse(copy)
            elapsed = time.perf_counter() - t0
            print_ = fingerprint(copy)
            if expected is None:
                expected = print_
            elif print_ != expected:
                sys.exit(f"{name} (repeat {i + 1}) wrote different rows than the first one-process analysis")
            shutil.rmtree(copy)
            seconds[name].append(elapsed)
            print(f"  #{i + 1} {name}: {elapsed:.2f} s", flush=True)
    ray.shutdown()

    base = statistics.median(seconds["runlake analyze --workers 1"])
    results = []
    print(f"\nmedians of {args.repeat} (rows identical in every run):")
    print(f"{'mode':<40} {'seconds':>8} {'matrices/s':>11} {'speedup':>8}")
    for name, values in seconds.items():
        m = statistics.median(values)
        results.append({"mode": name, "seconds": m, "all": values, "speedup": base / m})
        print(f"{name:<40} {m:8.2f} {matrices / m:11.1f} {base / m:7.2f}x")
    taken = {k: statistics.median(b[k] for b in breakdown) for k in ("taskSum", "taskMax", "final")}
    print(
        f"inside the fan-out (medians, seconds inside the runlake processes): per-run tasks "
        f"{taken['taskSum']:.2f} summed, {taken['taskMax']:.2f} the longest; cross-run stage {taken['final']:.2f}"
    )
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    report = {
        "shape": {k: getattr(args, k) for k in ("seeds", "layers", "checkpoints", "samples", "dim")},
        "matrices": matrices,
        "repeat": args.repeat,
        "rayCpus": args.ray_cpus,
        "rayInitSeconds": ray_start,
        "cpus": os.cpu_count(),
        "loadAverage": load,
        "platform": platform.platform(),
        "results": results,
        "fanOut": taken,
    }
    (OUT.parent / "ray-analyze.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.rmtree(source)


if __name__ == "__main__":
    main()

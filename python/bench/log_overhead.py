"""Per-call cost of ``Run.log()`` with 10 scalars, inside a loop (issue 19: goal p50 <= 10 µs).

    python python/bench/log_overhead.py                       # offline run: batches go to a temp spool
    python python/bench/log_overhead.py --lake /tmp/lake      # local mode (starts or reuses the sidecar)
    python python/bench/log_overhead.py --server http://127.0.0.1:8765 --token T

Each call is timed alone with ``time.perf_counter_ns`` (the timer's own cost, measured the same
way around an empty statement, is printed and not subtracted). The background thread runs as it
would in training, so its share of the GIL shows in the tail. Not a test: speed is not asserted.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time

import runlake


def percentile(sorted_values: list[int], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, math.ceil(q * len(sorted_values)) - 1)] / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--lake")
    parser.add_argument("--server")
    parser.add_argument("--token")
    parser.add_argument("--nested", action="store_true", help="log {'train': {...5}, 'val': {...5}} instead")
    args = parser.parse_args()

    spool = tempfile.mkdtemp(prefix="runlake-bench-spool-")
    run = runlake.init(lake=args.lake, server=args.server, token=args.token, spool=spool, project="bench")
    rng = random.Random(0)
    names = [f"train/metric_{i}" for i in range(10)]
    durations: list[int] = []
    clock = time.perf_counter_ns
    log = run.log
    cpu0, main0 = time.process_time(), time.thread_time()
    for step in range(args.calls):
        if args.nested:
            data: dict[str, object] = {
                "train": {f"m{i}": rng.random() for i in range(5)},
                "val": {f"m{i}": rng.random() for i in range(5)},
            }
        else:
            data = {name: rng.random() for name in names}
        t0 = clock()
        log(data, step=step)
        durations.append(clock() - t0)
    main_cpu = time.thread_time() - main0
    t0 = time.perf_counter()
    flushed = run.finish()
    finish_s = time.perf_counter() - t0
    # The sender thread's CPU: the process's, less the main thread's (which also built the dicts).
    sender_cpu = time.process_time() - cpu0 - main_cpu - (time.thread_time() - main0 - main_cpu)

    empty: list[int] = []
    for _ in range(100_000):
        t0 = clock()
        empty.append(clock() - t0)
    durations.sort()
    empty.sort()
    print(f"mode: {run.mode}; {args.calls} calls of log() with 10 scalars ({'nested' if args.nested else 'flat'})")
    print(
        f"log() µs: p50 {percentile(durations, 0.5):.2f}  p90 {percentile(durations, 0.9):.2f}  "
        f"p99 {percentile(durations, 0.99):.2f}  max {durations[-1] / 1000:.1f}  "
        f"mean {statistics.fmean(durations) / 1000:.2f}"
    )
    print(f"timer alone µs: p50 {percentile(empty, 0.5):.2f}  p99 {percentile(empty, 0.99):.2f}")
    print(f"finish(): {flushed} in {finish_s * 1000:.1f} ms")
    print(f"sender thread CPU: {sender_cpu / args.calls * 1e6:.2f} µs per log() call (batching, encoding, sending)")


if __name__ == "__main__":
    main()

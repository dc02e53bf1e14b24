"""The Python side of the `tracking` benchmark (bench/tracking.mjs): the runlake client, and its
peers tensorboardX (a SummaryWriter, as TensorBoard users log) and a raw floor (the same points
appended to a file with one write(2) per call), doing the same work. Prints one JSON line.

    tracking_peer.py overhead --kind runlake|tensorboardx|raw --calls N --dir D [--lake L]
    tracking_peer.py client   --kind runlake|tensorboardx|raw --calls N --dir D [--lake L] --index I
    tracking_peer.py flush    --calls N --lake L
    tracking_peer.py latency  --lake L --seconds S --every E

Every call logs 10 scalars (`train/metric_0` … `train/metric_9`) at one step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import struct
import time
from collections.abc import Callable

NAMES = [f"train/metric_{i}" for i in range(10)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def make_logger(kind: str, directory: str, lake: str | None, run_id: str) -> tuple[Callable[[dict[str, float], int], None], Callable[[], None]]:
    """A `log(values, step)` function and a `close()` that makes everything durable/visible."""
    if kind == "runlake":
        import runlake

        run = runlake.init(lake=lake, run_id=run_id, project="bench")

        def close_runlake() -> None:
            run.flush(visible=True)
            run.finish()

        return run.log, close_runlake
    if kind == "tensorboardx":
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(logdir=os.path.join(directory, run_id))

        def log_tbx(values: dict[str, float], step: int) -> None:
            for name, value in values.items():
                writer.add_scalar(name, value, step)

        def close_tbx() -> None:
            writer.flush()
            writer.close()

        return log_tbx, close_tbx
    if kind == "raw":
        fd = os.open(os.path.join(directory, f"{run_id}.bin"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        pack = struct.Struct("<q10d").pack

        def log_raw(values: dict[str, float], step: int) -> None:
            os.write(fd, pack(step, *values.values()))

        def close_raw() -> None:
            os.fsync(fd)
            os.close(fd)

        return log_raw, close_raw
    raise SystemExit(f"unknown kind {kind}")


def overhead(args: argparse.Namespace) -> dict[str, object]:
    log, close = make_logger(args.kind, args.dir, args.lake, f"overhead-{args.kind}")
    rng = random.Random(0)
    clock = time.perf_counter_ns
    durations: list[float] = []
    for step in range(args.calls):
        values = {name: rng.random() for name in NAMES}
        t0 = clock()
        log(values, step)
        durations.append((clock() - t0) / 1000.0)
    t0 = time.perf_counter()
    close()
    return {
        "kind": args.kind,
        "calls": args.calls,
        "p50_us": percentile(durations, 0.5),
        "p99_us": percentile(durations, 0.99),
        "mean_us": sum(durations) / len(durations),
        "close_s": time.perf_counter() - t0,
    }


def client(args: argparse.Namespace) -> dict[str, object]:
    start = time.perf_counter()
    log, close = make_logger(args.kind, args.dir, args.lake, f"client-{args.index}")
    value = 0.0
    for step in range(args.calls):
        value += 1.0
        log({name: value for name in NAMES}, step)
    close()
    return {"kind": args.kind, "points": args.calls * 10, "seconds": time.perf_counter() - start}


def flush(args: argparse.Namespace) -> dict[str, object]:
    import runlake

    run = runlake.init(lake=args.lake, run_id="flush-rtt", project="bench")
    run.flush()
    times: list[float] = []
    for step in range(args.calls):
        run.log({"x": float(step)}, step=step)
        t0 = time.perf_counter()
        run.flush()
        times.append((time.perf_counter() - t0) * 1000.0)
    run.finish()
    return {"calls": args.calls, "p50_ms": percentile(times, 0.5), "p99_ms": percentile(times, 0.99)}


def latency(args: argparse.Namespace) -> dict[str, object]:
    """Logs one marker point every `every` seconds; its value is the wall time of the call, so a
    reader can tell how long after log() it became visible."""
    import runlake

    run = runlake.init(lake=args.lake, run_id="latency", project="bench")
    deadline = time.monotonic() + args.seconds
    step = 0
    while time.monotonic() < deadline:
        run.log({"marker": time.time()}, step=step)
        step += 1
        time.sleep(args.every)
    run.finish()
    return {"markers": step}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["overhead", "client", "flush", "latency"])
    parser.add_argument("--kind", default="runlake")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--dir", default=".")
    parser.add_argument("--lake")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=0.25)
    args = parser.parse_args()
    result = {"overhead": overhead, "client": client, "flush": flush, "latency": latency}[args.mode](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""One training process logging through the runlake Python client (python/src), for
test/tracking-python.test.ts: rank 0 sets config, summary and a checkpoint; every rank logs
`rank<r>/loss` and a nested `grad` dict for `steps` steps, then flushes until visible and finishes.

Usage: tracking_client.py <lake> <run_id> <rank> <steps>
"""

import math
import sys

import runlake

lake, run_id, rank, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
run = runlake.init(
    lake=lake,
    run_id=run_id,
    project="tracking-test",
    name="two ranks",
    group="ddp",
    tags=["ci"],
    config={"lr": 0.001, "model": {"d": 64}, "seed": 7} if rank == 0 else None,
)
for step in range(steps):
    loss = math.nan if step == 3 else 1.0 / (step + 1)
    run.log({f"rank{rank}/loss": loss, "grad": {f"norm{rank}": float(step)}, "flag": step % 2 == 0}, step=step)
if rank == 0:
    run.summary["best"] = 0.25
    run.log_checkpoint(steps - 1, tokens_seen=steps * 1024, has_weights=True)
print(run.flush(visible=True))
run.finish("finished")

"""One client of the tracking chaos test (test/tracking-chaos.test.ts): logs 10 scalars per step
for `seconds`, flushes every 25 steps, and prints `flushed <step> <result>` after each flush that
returned, so the test knows which points must be in the lake. The server is SIGKILLed under it
over and over; the client reconnects, restarts the sidecar, or spools.

Usage: tracking_chaos_client.py <lake> <run_id> <seconds>
"""

import sys
import time

import runlake

lake, run_id, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
run = runlake.init(lake=lake, run_id=run_id, project="chaos", flush_interval=0.05)
deadline = time.monotonic() + seconds
step = 0
while time.monotonic() < deadline:
    run.log({f"m{k}": float(step * 10 + k) for k in range(10)}, step=step)
    step += 1
    if step % 25 == 0:
        result = run.flush(timeout=120)
        print(f"flushed {step - 1} {result}", flush=True)
    time.sleep(0.01)
result = run.finish(timeout=120)
print(f"finished {step - 1} {result}", flush=True)

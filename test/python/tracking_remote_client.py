"""A training loop logging to a remote `runlake serve --ingest` over TCP with its write token, for
test/tracking-python.test.ts. Prints what finish() returned, or the error's class and message.

Usage: tracking_remote_client.py <server url> <token> <run_id> <steps>
"""

import sys

import runlake

url, token, run_id, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    run = runlake.init(server=url, token=token, run_id=run_id, project="remote", config={"lr": 0.5})
    for step in range(steps):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    print(run.finish())
except runlake.RunlakeError as error:
    print(f"{type(error).__name__}: {error}")

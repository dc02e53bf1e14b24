"""One training process logging probe embeddings through the runlake Python client (python/src),
for test/tracking-embeddings.test.ts: `steps` checkpoints x 2 layers x the 4 block modules of a
12 x 6 probe matrix (float64, stored as float32), plus a loss per checkpoint. Writes what it sent
(the float32 bytes, base64) to <manifest> and prints what finish() returned.

Usage: tracking_embeddings.py <lake | spool:<dir>> <run_id> <steps> <sorted|reversed> <manifest.json>
(spool:<dir> logs offline, to that spool, for `runlake sync`)
"""

import base64
import json
import sys
import zlib

import numpy as np

import runlake

lake, run_id, steps, order, manifest = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
ids = [f"p{i:02d}" for i in range(12)]
if order == "reversed":
    ids.reverse()  # the server stores the rows in sample_id order
rng = np.random.default_rng(zlib.crc32(run_id.encode()))
sent = []
where = {"spool": lake[len("spool:") :]} if lake.startswith("spool:") else {"lake": lake}
with runlake.init(**where, run_id=run_id, project="embeddings-test") as run:
    for step in (s * 50 for s in range(steps)):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        for layer in range(2):
            for module in ("resid_pre", "attn_out", "mlp_out", "resid_post"):
                x = rng.standard_normal((len(ids), 6))
                run.log_embeddings(step, layer, module, "probe_v1", ids, x)
                values = base64.b64encode(x.astype("<f4").tobytes()).decode()
                sent.append({"step": step, "layer": layer, "module": module, "ids": ids, "values": values})
    with open(manifest, "w") as f:
        json.dump(sent, f)
    print(run.flush())
print(run.finish())

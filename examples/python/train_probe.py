"""Grokking on modular addition, logged to a runlake lake with probe embeddings of every layer.

A small transformer learns (a + b) mod p from a fraction of all pairs. With weight decay the
validation accuracy jumps long after the training accuracy has reached 100 % (grokking: Power et
al. 2022; Nanda et al. 2023); without it, it stays low far longer. The script trains every
(setting, seed), logs metrics with the runlake Python client and, at every checkpoint, the
representations of a fixed probe set at the answer position for every layer and module
(`resid_pre`, `attn_out`, `mlp_out`, `resid_post`) with `run.log_embeddings`. `--analyze` then
runs `runlake analyze` on the lake (geometry_state, geometry_dynamics, events, signatures,
matches) and `--plot` draws accuracy and effective rank against step with the detected events.

    python examples/python/train_probe.py --config full --jobs 2 --lake grok --analyze --plot grok.png

Configurations (`--config`; a field can be overridden by its flag or by `--set key=value`):

    ci    p=23, 2 layers, d_model 32, 300 steps, seed 0 per setting: seconds, for the test suite
    full  p=59, 2 layers, d_model 64, half of the pairs for training, lr 3e-3, 3000 steps,
          seeds 0-2 per setting: groks with weight decay (docs/geometry.md, "A real run:
          grokking", has what it measured and its runtime)

Both train with weight decay 1 and 0. Needs torch (CPU is enough) and numpy; matplotlib and
duckdb (runlake.open_lake) only for --plot. The runlake CLI is found as
the client finds it: $RUNLAKE_BIN, `runlake` on PATH, or `npx --no-install runlake`.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

MODULES = ("resid_pre", "attn_out", "mlp_out", "resid_post")
SAMPLE_SET = "modadd_probe"


@dataclass(frozen=True)
class Config:
    p: int
    train_frac: float
    layers: int
    d_model: int
    heads: int
    d_mlp: int
    lr: float
    betas: tuple[float, float]
    warmup: int
    steps: int
    checkpoint_every: int
    log_every: int
    probe_size: int
    seeds: tuple[int, ...]
    weight_decays: tuple[float, ...]
    data_seed: int = 0


CONFIGS = {
    "ci": Config(
        p=23,
        train_frac=0.5,
        layers=2,
        d_model=32,
        heads=4,
        d_mlp=128,
        lr=1e-3,
        betas=(0.9, 0.98),
        warmup=10,
        steps=300,
        checkpoint_every=50,
        log_every=10,
        probe_size=64,
        seeds=(0,),
        weight_decays=(1.0, 0.0),
    ),
    "full": Config(
        p=59,
        train_frac=0.5,
        layers=2,
        d_model=64,
        heads=4,
        d_mlp=256,
        lr=3e-3,
        betas=(0.9, 0.98),
        warmup=10,
        steps=3000,
        checkpoint_every=50,
        log_every=20,
        probe_size=256,
        seeds=(0, 1, 2),
        weight_decays=(1.0, 0.0),
    ),
}


class Block(nn.Module):
    """Causal self-attention then an MLP, each added to the residual stream (no LayerNorm, as in
    Nanda et al. 2023). With `last_only`, only the answer position is computed (the last block:
    nothing reads the other positions' outputs)."""

    def __init__(self, d_model: int, heads: int, d_mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_mlp), nn.ReLU(), nn.Linear(d_mlp, d_model))

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, last_only: bool, capture: dict[str, torch.Tensor] | None
    ) -> torch.Tensor:
        n, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).view(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)  # each n x h x t x (d/h)
        if last_only:
            q, mask = q[:, :, -1:], mask[-1:]
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // h) + mask
        heads = torch.softmax(scores, dim=-1) @ v
        attn_out: torch.Tensor = self.out(heads.transpose(1, 2).reshape(n, -1, d))
        mid = (x[:, -1:] if last_only else x) + attn_out
        mlp_out: torch.Tensor = self.mlp(mid)
        out = mid + mlp_out
        if capture is not None:
            # The answer is read at the last position ("="): its representations are the probe's.
            capture["resid_pre"] = x[:, -1]
            capture["attn_out"] = attn_out[:, -1]
            capture["mlp_out"] = mlp_out[:, -1]
            capture["resid_post"] = out[:, -1]
        return out


class Transformer(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.embed = nn.Embedding(c.p + 1, c.d_model)  # tokens 0..p-1 and "=" (p)
        self.pos = nn.Parameter(torch.randn(3, c.d_model) / math.sqrt(c.d_model))
        self.blocks = nn.ModuleList(Block(c.d_model, c.heads, c.d_mlp) for _ in range(c.layers))
        self.unembed = nn.Linear(c.d_model, c.p, bias=False)
        self.register_buffer("mask", torch.triu(torch.full((3, 3), float("-inf")), diagonal=1))

    def forward(self, tokens: torch.Tensor, capture: list[dict[str, torch.Tensor]] | None = None) -> torch.Tensor:
        x = self.embed(tokens) + self.pos
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x = block(x, self.mask, i == last, None if capture is None else capture[i])
        logits: torch.Tensor = self.unembed(x[:, -1])
        return logits


def dataset(c: Config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]:
    """All p² pairs, split by `data_seed` (the same split for every seed and setting)."""
    a, b = np.meshgrid(np.arange(c.p), np.arange(c.p), indexing="ij")
    pairs = np.stack([a.ravel(), b.ravel()], axis=1)
    order = np.random.default_rng(c.data_seed).permutation(len(pairs))
    n_train = round(c.train_frac * len(pairs))
    tokens = torch.tensor(np.concatenate([pairs, np.full((len(pairs), 1), c.p)], axis=1), dtype=torch.long)
    labels = torch.tensor((pairs[:, 0] + pairs[:, 1]) % c.p, dtype=torch.long)
    train, val = order[:n_train], order[n_train:]
    # The probe set: a fixed sample of all pairs (train and validation alike), in a fixed order.
    probe = np.sort(np.random.default_rng(c.data_seed + 1).choice(len(pairs), size=c.probe_size, replace=False))
    return tokens[train], labels[train], tokens[val], labels[val], probe


def weight_norm(model: nn.Module) -> float:
    return math.sqrt(sum(float((p.detach() ** 2).sum()) for p in model.parameters()))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(-1) == labels).float().mean())


def evaluate(
    model: Transformer, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor
) -> dict[str, float]:
    with torch.no_grad():
        tl, vl = model(x_train), model(x_val)
        return {
            "train/loss": float(nn.functional.cross_entropy(tl, y_train)),
            "train/acc": accuracy(tl, y_train),
            "val/loss": float(nn.functional.cross_entropy(vl, y_val)),
            "val/acc": accuracy(vl, y_val),
            "weight_norm": weight_norm(model),
        }


def log_probe(run: Any, model: Transformer, step: int, tokens: torch.Tensor, sample_ids: list[str]) -> None:
    """One forward pass of the probe set; every layer's four modules go to the lake."""
    capture: list[dict[str, torch.Tensor]] = [{} for _ in model.blocks]
    with torch.no_grad():
        model(tokens, capture)
    for layer, modules in enumerate(capture):
        for module in MODULES:
            run.log_embeddings(step, layer, module, SAMPLE_SET, sample_ids, modules[module])


def train_one(c: Config, seed: int, wd: float, lake: str | None, log: Any) -> dict[str, Any]:
    """Trains one (seed, weight decay) from scratch; with a lake, logs it as run grok-p<p>-wd<wd>-s<seed>."""
    torch.manual_seed(seed)
    x_train, y_train, x_val, y_val, probe = dataset(c)
    a, b = probe // c.p, probe % c.p
    probe_tokens = torch.tensor(np.stack([a, b, np.full_like(a, c.p)], axis=1), dtype=torch.long)
    # Zero-padded, so sample_id order (the order analyze stacks rows in) is the probe's order.
    sample_ids = [f"{int(i):03d}+{int(j):03d}" for i, j in zip(a, b, strict=True)]
    model = Transformer(c)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=wd, betas=c.betas)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / c.warmup))
    name = f"wd{wd:g}-s{seed}"
    history: dict[str, list[float]] = {"step": [], "train/acc": [], "val/acc": []}
    run = None
    if lake is not None:
        import runlake

        run = runlake.init(
            lake=lake,
            run_id=f"grok-p{c.p}-{name}",
            project="grokking",
            name=name,
            group=f"wd{wd:g}",
            tags=["train_probe", "modular_addition"],
            config={**asdict(replace(c, seeds=(seed,), weight_decays=(wd,))), "seed": seed, "weight_decay": wd},
        )
    started = time.perf_counter()
    for step in range(c.steps + 1):
        checkpoint = step % c.checkpoint_every == 0 or step == c.steps
        if checkpoint or step % c.log_every == 0:
            model.eval()
            m = {**evaluate(model, x_train, y_train, x_val, y_val), "lr": float(sched.get_last_lr()[0])}
            history["step"].append(step)
            history["train/acc"].append(m["train/acc"])
            history["val/acc"].append(m["val/acc"])
            if run is not None:
                run.log(m, step=step)
            if checkpoint:
                if run is not None:
                    log_probe(run, model, step, probe_tokens, sample_ids)
                    run.log_checkpoint(step, train_loss=m["train/loss"], val_loss=m["val/loss"], learning_rate=m["lr"])
                acc = f"train acc {m['train/acc']:.3f} val acc {m['val/acc']:.3f}"
                log(f"{name} step {step}: {acc} |w| {m['weight_norm']:.1f}")
            model.train()
        if step == c.steps:
            break
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x_train), y_train).backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
    result = {
        "name": name,
        "seed": seed,
        "weight_decay": wd,
        "seconds": time.perf_counter() - started,
        **transitions(history),
    }
    if run is not None:
        run.summary.update({k: v for k, v in result.items() if k != "name" and v is not None})
        run.finish()
    return result


def transitions(h: dict[str, list[float]]) -> dict[str, Any]:
    """Steps where train and validation accuracy first reach 99 % (and 50 % for validation)."""

    def first(key: str, level: float) -> int | None:
        return next((int(s) for s, v in zip(h["step"], h[key], strict=True) if v >= level), None)

    return {
        "train_acc_99_step": first("train/acc", 0.99),
        "val_acc_50_step": first("val/acc", 0.5),
        "val_acc_99_step": first("val/acc", 0.99),
        "final_train_acc": h["train/acc"][-1],
        "final_val_acc": h["val/acc"][-1],
    }


def run_job(job: tuple[Config, int, float, str | None, int]) -> dict[str, Any]:
    c, seed, wd, lake, threads = job
    torch.set_num_threads(threads)
    return train_one(c, seed, wd, lake, lambda line: print(line, file=sys.stderr, flush=True))


def analyze(lake: str) -> dict[str, Any]:
    """Runs `runlake analyze <lake> --json` with the CLI the client uses and returns its summary."""
    from runlake._sidecar import cli_command  # the client's own CLI finder

    command = cli_command()
    if command is None:
        sys.exit("train_probe: no runlake CLI for --analyze (set RUNLAKE_BIN, put runlake on PATH, or install npx)")
    done = subprocess.run([*command, "analyze", lake, "--json", "--no-progress"], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"train_probe: runlake analyze {lake} failed ({done.returncode}): {done.stderr.strip()}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def read_lake(lake: str) -> dict[str, Any]:
    """Accuracy curves, effective-rank trajectories and events of every run, from the lake."""
    import runlake

    con = runlake.open_lake(lake)

    def rows(sql: str) -> list[dict[str, Any]]:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    tables = {
        name
        for (name,) in con.execute(
            "SELECT view_name FROM duckdb_views() UNION SELECT table_name FROM duckdb_tables()"
        ).fetchall()
    }
    out = {
        "runs": rows('SELECT run_id, run_name, "config.weight_decay" AS wd, seed FROM runs ORDER BY run_id'),
        "metrics": rows(
            "SELECT run_id, metric_name, step, value FROM metrics_scalar "
            "WHERE metric_name IN ('train/acc', 'val/acc') ORDER BY run_id, metric_name, step"
        ),
        "rank": rows(
            "SELECT run_id, layer, module, step, effective_rank FROM geometry_state "
            f"WHERE sample_id = '*' AND sample_set = '{SAMPLE_SET}' ORDER BY run_id, layer, module, step"
        )
        if "geometry_state" in tables
        else [],
        "events": rows(
            "SELECT run_id, event_type, step, step_end, layer, module, descriptor, detector, magnitude, confidence "
            "FROM events ORDER BY run_id, step, layer, module"
        )
        if "events" in tables
        else [],
    }
    con.close()
    return out


def plot(data: dict[str, Any], path: str, module: str = "resid_post") -> None:
    """Accuracy (top) and effective rank of `module` per layer (bottom) against step, one column
    per weight decay, detected events marked on the rank curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    wds = sorted({r["wd"] for r in data["runs"]}, reverse=True)
    fig, axes = plt.subplots(2, len(wds), figsize=(5.5 * len(wds), 6.5), sharex=True, squeeze=False)
    markers = {
        "rank_collapse": "v",
        "reexpansion": "^",
        "phase_shift": "D",
        "stability_plateau": "s",
        "bifurcation": "*",
    }
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for col, wd in enumerate(wds):
        top, bottom = axes[0][col], axes[1][col]
        runs = [r for r in data["runs"] if r["wd"] == wd]
        for i, r in enumerate(runs):
            for metric, style in (("train/acc", ":"), ("val/acc", "-")):
                pts = [
                    (m["step"], m["value"])
                    for m in data["metrics"]
                    if m["run_id"] == r["run_id"] and m["metric_name"] == metric
                ]
                if pts:
                    seed_color = colors[i % len(colors)]
                    top.plot(*zip(*pts, strict=True), style, color=seed_color, lw=1.2, label=f"{metric} s{r['seed']}")
                if metric == "val/acc":
                    # The measured transition: validation accuracy first ≥ 50 %, on both panels.
                    jump = next((step for step, value in pts if value >= 0.5), None)
                    if jump is not None:
                        for ax in (top, bottom):
                            ax.axvline(jump, color=seed_color, ls="--", lw=0.8, alpha=0.6)
            for layer in sorted({x["layer"] for x in data["rank"]}):
                pts = [
                    (x["step"], x["effective_rank"])
                    for x in data["rank"]
                    if x["run_id"] == r["run_id"]
                    and x["layer"] == layer
                    and x["module"] == module
                    and x["effective_rank"] is not None
                ]
                if not pts:
                    continue
                color = colors[(layer + 3) % len(colors)]
                label = f"layer {layer}" if r is runs[0] else None
                bottom.plot(*zip(*pts, strict=True), color=color, lw=1, alpha=0.8, label=label)
                at = dict(pts)
                for e in data["events"]:
                    if e["run_id"] == r["run_id"] and e["layer"] == layer and e["module"] == module and e["step"] in at:
                        bottom.plot(
                            e["step"], at[e["step"]], markers.get(e["event_type"], "o"), color=color, ms=7, mec="black"
                        )
        top.set_title(f"weight decay {wd:g}")
        top.set_ylabel("accuracy")
        top.set_ylim(-0.02, 1.02)
        top.legend(fontsize=6, ncol=2, loc="center right")
        bottom.set_ylabel(f"effective rank ({module})")
        bottom.set_xlabel("step")
        handles = [Line2D([], [], ls="", marker=m, color="gray", mec="black", label=t) for t, m in markers.items()]
        handles.append(Line2D([], [], ls="--", color="gray", label="val acc ≥ 0.5"))
        bottom.legend(handles=bottom.get_legend_handles_labels()[0] + handles, fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", help="lake directory (omitted: train only, print the transitions)")
    ap.add_argument("--config", choices=sorted(CONFIGS), default="ci")
    ap.add_argument("--seeds", type=lambda s: tuple(int(v) for v in s.split(",")), help="comma-separated seeds")
    ap.add_argument("--weight-decays", type=lambda s: tuple(float(v) for v in s.split(",")), help="e.g. 1.0,0")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--checkpoint-every", type=int)
    ap.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field, e.g. p=59"
    )
    ap.add_argument("--analyze", action="store_true", help="run `runlake analyze` on the lake afterwards")
    ap.add_argument("--plot", metavar="PNG", help="plot accuracy, effective rank and events from the lake")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes (default 1)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a busy or 2-core machine more threads spin)",
    )
    args = ap.parse_args()
    if (args.analyze or args.plot) and args.lake is None:
        ap.error("--analyze and --plot need --lake")
    c = CONFIGS[args.config]
    for field in ("seeds", "weight_decays", "steps", "checkpoint_every"):
        if getattr(args, field) is not None:
            c = replace(c, **{field: getattr(args, field)})
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in Config.__dataclass_fields__:
            ap.error(f"--set {item}: no config field {key!r}")
        c = replace(c, **{key: type(getattr(c, key))(value)})
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    jobs = [(c, seed, wd, args.lake, args.threads) for wd in c.weight_decays for seed in c.seeds]
    if args.jobs > 1:
        # One process per run (each its own runlake client; they share the lake's sidecar).
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(run_job, jobs))
    else:
        results = [run_job(job) for job in jobs]
    report: dict[str, Any] = {
        "config": args.config,
        "settings": asdict(c),
        "results": results,
        "train_seconds": time.perf_counter() - started,
    }
    if args.analyze:
        t = time.perf_counter()
        report["analyze"] = analyze(args.lake)
        report["analyze_seconds"] = time.perf_counter() - t
    if args.plot:
        plot(read_lake(args.lake), args.plot)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""An exp_engine experiment runner (the seed's "Adding to ExperimentRunner" example, made whole):
it runs a small online-learning sweep and saves event rows and seed summaries through
exp_engine's API. Its one import line decides where they go:

    from exp_engine.engine import attach_grid_id, write_event_rows, write_seed_rows
        exp_engine itself: pandas writes Parquet files into <base_out>;
    from runlake.exp_engine import attach_grid_id, write_event_rows, write_seed_rows
        runlake: the rows go to the lake's ingest sidecar, which writes them through runlake's
        writer (test/tracking-exp-engine.test.ts checks that both give the same lake).

Usage: exp_engine_runner.py <base_out> [--events N]
"""

from __future__ import annotations

import argparse
import math
import random
from typing import Any

from exp_engine.engine import attach_grid_id, write_event_rows, write_seed_rows


class ExperimentRunner:
    """Runs one grid point (one config) over its seeds and saves what it measured."""

    def __init__(self, config: argparse.Namespace) -> None:
        self.config = config
        # The grid id comes from the config's parameters (seeds and output paths are volatile).
        config_params = self._extract_config_params()
        self.params_with_grid = attach_grid_id(config_params)

    def _extract_config_params(self) -> dict[str, Any]:
        c = self.config
        return {
            "algo": c.algo,
            "gamma_bar": c.gamma_bar,
            "lr": c.lr,
            "lambda_reg": c.lambda_reg,
            "accountant": c.accountant,
            "n_events": c.n_events,
            "seeds": c.seeds,
            "base_out": c.parquet_out,
        }

    def run_seed(self, seed: int) -> list[dict[str, Any]]:
        """Online gradient descent on a noisy linear stream, with deletions every 7th event:
        per-event regret against the best fixed weight (known here), cumulative regret, and a
        privacy noise scale the accountant reports only once it has spent some budget."""
        c = self.config
        rng = random.Random(seed)
        w, w_star = 0.0, 0.8
        cumulative = 0.0
        rows: list[dict[str, Any]] = []
        for t in range(c.n_events):
            x = rng.uniform(-1.0, 1.0)
            y = w_star * x + rng.gauss(0.0, 0.1)
            loss = 0.5 * (w * x - y) ** 2
            best = 0.5 * (w_star * x - y) ** 2
            increment = loss - best
            cumulative += increment
            w -= c.lr / math.sqrt(t + 1) * ((w * x - y) * x + c.lambda_reg * w)
            op = "delete" if t % 7 == 6 else "insert"
            row: dict[str, Any] = {
                "grid_id": self.params_with_grid["grid_id"],
                "seed": seed,
                "event": t,
                "op": op,
                "regret_increment": increment,
                "cum_regret": cumulative,
                "w": w,
                "gamma_bar": c.gamma_bar,
                # The accountant has no noise scale before its first deletion: None, as a runner
                # that fills a dict per event would leave it.
                "sigma_step": None if t < 6 else c.gamma_bar / math.sqrt(t),
                "converged": abs(w - w_star) < 0.05,
                # A deletion has no gradient step: NaN, as the runner computes it.
                "grad_norm": math.nan if op == "delete" else abs((w * x - y) * x),
            }
            if t % 5 != 4:
                row["regret"] = cumulative  # some events do not report it: exp_engine fills it in
            rows.append(row)
        return rows

    def run(self) -> None:
        base_out = getattr(self.config, "parquet_out", "results/parquet")
        summaries = []
        for seed in self.config.seeds:
            events = self.run_seed(seed)
            write_event_rows(events, base_out, self.params_with_grid)
            regrets = [e["cum_regret"] for e in events]
            summaries.append(
                {
                    "grid_id": self.params_with_grid["grid_id"],
                    "seed": seed,
                    "avg_regret_empirical": sum(regrets) / len(regrets),
                    "final_regret": regrets[-1],
                    "N_gamma": float("inf") if self.config.gamma_bar > 2 else 40.0,
                    "deletions": sum(1 for e in events if e["op"] == "delete"),
                }
            )
        self.aggregate_and_save(summaries)

    def aggregate_and_save(self, summaries: list[dict[str, Any]]) -> None:
        # Existing CSV output would be saved here, unchanged; the sweep's lake is saved as well.
        base_out = getattr(self.config, "parquet_out", "results/parquet")
        write_seed_rows(summaries, base_out, self.params_with_grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_out")
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()
    # A small grid: two algorithms' step sizes, three seeds each.
    for algo, gamma_bar, lr in (("memorypair", 1.0, 0.5), ("memorypair", 2.5, 0.5), ("sgd", 1.0, 0.25)):
        config = argparse.Namespace(
            algo=algo,
            gamma_bar=gamma_bar,
            lr=lr,
            lambda_reg=0.01,
            accountant="zcdp",
            n_events=args.events,
            seeds=[1, 2, 3],
            parquet_out=args.base_out,
        )
        ExperimentRunner(config).run()
    print(f"wrote {args.base_out}")


if __name__ == "__main__":
    main()

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import { tempDir } from './helpers/lake-fixtures.js';
import { pythonWith, REPO_ROOT, runTrackingClient } from './helpers/python.js';

// examples/python/train_probe.py in its CI configuration: PyTorch training logged through the
// Python client (metrics and per-layer probe embeddings), then `runlake analyze` and the plot.
const python = pythonWith(['torch', 'numpy', 'matplotlib', 'duckdb']);
const SCRIPT = path.join(REPO_ROOT, 'examples', 'python', 'train_probe.py');
const MODULES = ['attn_out', 'mlp_out', 'resid_post', 'resid_pre'];
const METRICS = ['lr', 'train/acc', 'train/loss', 'val/acc', 'val/loss', 'weight_norm'];

interface Settings {
  p: number;
  layers: number;
  d_model: number;
  steps: number;
  checkpoint_every: number;
  log_every: number;
  probe_size: number;
  seeds: number[];
  weight_decays: number[];
}

interface Report {
  settings: Settings;
  results: {
    name: string;
    seed: number;
    weight_decay: number;
    final_train_acc: number;
    final_val_acc: number;
    train_acc_99_step: number | null;
  }[];
  analyze: { checkpoints: number; stateRows: number; dynamicsRows: number; problems: string[] };
}

function runExample(args: string[], runtime: string): Promise<string> {
  return runTrackingClient(python.python, SCRIPT, args, runtime, { PYTHONDONTWRITEBYTECODE: '1' });
}

const steps = (from: number, to: number, every: number): number[] => {
  const out: number[] = [];
  for (let s = from; s <= to; s += every) out.push(s);
  if (out[out.length - 1] !== to) out.push(to);
  return out;
};

describe.skipIf(python.skip)('examples/python/train_probe.py (CI configuration)', () => {
  // Two training runs (weight decay 1 and 0) of a few hundred steps, the sidecar and
  // runlake analyze: about a minute on 2 busy cores.
  it('trains, logs metrics and probe embeddings, and runlake analyze fills every derived dataset consistently', async () => {
    expect(python.available, python.reason).toBe(true);
    const lake = tempDir();
    const runtime = tempDir();
    const png = path.join(runtime, 'train-probe.png');
    const report = JSON.parse(
      await runExample(['--config', 'ci', '--lake', lake, '--analyze', '--plot', png], runtime),
    ) as Report;
    const s = report.settings;
    const runIds = s.weight_decays
      .flatMap((wd) => s.seeds.map((seed) => `grok-p${s.p}-wd${wd}-s${seed}`))
      .sort();
    const checkpoints = steps(0, s.steps, s.checkpoint_every);
    const logged = [...new Set([...steps(0, s.steps, s.log_every), ...checkpoints])].sort((a, b) => a - b);
    const perCheckpoint = runIds.length * checkpoints.length * s.layers * MODULES.length;
    expect(report.analyze.problems).toEqual([]);
    expect(report.analyze.stateRows).toBe(perCheckpoint);
    expect(report.analyze.dynamicsRows).toBe(
      runIds.length * (checkpoints.length - 1) * s.layers * MODULES.length,
    );
    // The plot is a PNG.
    expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');

    const reader = await openLake(lake);
    try {
      const q = (sql: string) => reader.query(sql);
      // runs: one per (weight decay, seed), finished, with the config and the measured summary.
      const runs = await q(
        'SELECT run_id, status, seed, "config.p" AS p, "config.weight_decay" AS wd, "config.layers" AS layers, ' +
          '"summary.final_val_acc" AS val FROM runs ORDER BY run_id',
      );
      expect(runs.map((r) => r.run_id)).toEqual(runIds);
      for (const r of runs) {
        const result = report.results.find((x) => `grok-p${s.p}-${x.name}` === r.run_id);
        expect(result).toBeDefined();
        expect(r).toMatchObject({
          status: 'finished',
          seed: result?.seed,
          p: s.p,
          wd: result?.weight_decay,
          layers: s.layers,
        });
        expect(r.val).toBeCloseTo(result?.final_val_acc ?? Number.NaN, 12);
      }

      // metrics_scalar: every metric at every logged step, once; the last accuracies are the report's.
      const metrics = await q(
        'SELECT run_id, metric_name, list(step ORDER BY step) AS steps, count(*)::INTEGER AS n, ' +
          'arg_max(value, step) AS last FROM metrics_scalar GROUP BY ALL ORDER BY run_id, metric_name',
      );
      expect(metrics).toHaveLength(runIds.length * METRICS.length);
      for (const m of metrics) {
        expect(METRICS).toContain(m.metric_name);
        expect((m.steps as bigint[]).map(Number)).toEqual(logged);
        const result = report.results.find((x) => `grok-p${s.p}-${x.name}` === m.run_id);
        if (m.metric_name === 'val/acc') expect(m.last).toBeCloseTo(result?.final_val_acc ?? Number.NaN, 12);
        if (m.metric_name === 'train/acc')
          expect(m.last).toBeCloseTo(result?.final_train_acc ?? Number.NaN, 12);
      }
      // The tiny model memorises its training half: train accuracy reaches 99 % in every run.
      for (const r of report.results) expect(r.train_acc_99_step).not.toBeNull();

      // embeddings: probe_size rows per (run, checkpoint, layer, module), the same samples each
      // time, every one pointing into the array-shards store.
      const embeddings = await q(
        'SELECT run_id, step, layer, module, count(*)::INTEGER AS n, count(DISTINCT sample_id)::INTEGER AS ids, ' +
          'count(shard_ref)::INTEGER AS refs, min(dim)::INTEGER AS dmin, max(dim)::INTEGER AS dmax ' +
          'FROM embeddings GROUP BY ALL ORDER BY ALL',
      );
      expect(embeddings).toHaveLength(perCheckpoint);
      for (const e of embeddings) {
        expect(e).toMatchObject({
          n: s.probe_size,
          ids: s.probe_size,
          refs: s.probe_size,
          dmin: s.d_model,
          dmax: s.d_model,
        });
      }
      expect(await q('SELECT count(DISTINCT sample_id)::INTEGER AS n FROM embeddings')).toEqual([
        { n: s.probe_size },
      ]);
      const keys = embeddings.map((e) => `${e.run_id}|${e.step}|${e.layer}|${e.module}`);
      expect(new Set(embeddings.map((e) => e.module))).toEqual(new Set(MODULES));
      expect(new Set(embeddings.map((e) => Number(e.step)))).toEqual(new Set(checkpoints));

      // geometry_state: the whole probe set's descriptors for every (run, checkpoint, layer, module).
      // Layer 0's resid_pre at the answer position is the "=" token's embedding plus its position
      // embedding, the same for every sample: a matrix with no variance, whose spectrum descriptors
      // are undefined (null). Every other matrix varies.
      const constant = (r: Record<string, unknown>) => r.layer === 0 && r.module === 'resid_pre';
      const state = await q(
        "SELECT run_id, step, layer, module, n_samples, dim, effective_rank, participation_ratio, total_variance FROM geometry_state WHERE sample_id = '*' ORDER BY ALL",
      );
      expect(state.map((r) => `${r.run_id}|${r.step}|${r.layer}|${r.module}`)).toEqual(keys);
      for (const r of state) {
        expect(r).toMatchObject({ n_samples: s.probe_size, dim: s.d_model });
        if (constant(r)) {
          expect(r).toMatchObject({ effective_rank: null, participation_ratio: null, total_variance: 0 });
          continue;
        }
        expect(r.total_variance as number).toBeGreaterThan(0);
        expect(r.effective_rank as number).toBeGreaterThanOrEqual(1);
        expect(r.effective_rank as number).toBeLessThanOrEqual(s.d_model);
        expect(r.participation_ratio as number).toBeGreaterThanOrEqual(1);
      }

      // geometry_dynamics: one row per consecutive pair of checkpoints, drift in range.
      const dynamics = await q(
        'SELECT run_id, layer, module, list(step_prev ORDER BY step) AS prev, list(step ORDER BY step) AS step, ' +
          'min(cka_drift) AS lo, max(cka_drift) AS hi, count(cka_drift)::INTEGER AS drifts, ' +
          'count(procrustes_distance)::INTEGER AS procrustes ' +
          "FROM geometry_dynamics WHERE sample_id = '*' GROUP BY ALL ORDER BY ALL",
      );
      expect(dynamics).toHaveLength(runIds.length * s.layers * MODULES.length);
      for (const d of dynamics) {
        expect((d.prev as bigint[]).map(Number)).toEqual(checkpoints.slice(0, -1));
        expect((d.step as bigint[]).map(Number)).toEqual(checkpoints.slice(1));
        if (constant(d)) {
          expect(d).toMatchObject({ drifts: 0, procrustes: 0 });
          continue;
        }
        expect(d).toMatchObject({ drifts: checkpoints.length - 1, procrustes: checkpoints.length - 1 });
        expect(d.lo as number).toBeGreaterThanOrEqual(0);
        expect(d.hi as number).toBeLessThanOrEqual(1);
      }

      // signatures: effective_rank and intrinsic_dim, both methods, for every (run, layer, module)
      // but the constant one, spanning the whole run.
      const signatures = await q(
        'SELECT run_id, layer, module, descriptor_set, method, n_points, step_min, step_max, dim, len(vector)::INTEGER AS len FROM signatures',
      );
      const signatureKeys = new Set(
        signatures.map((r) => `${r.run_id}|${r.layer}|${r.module}|${r.descriptor_set}|${r.method}`),
      );
      expect(signatureKeys.size).toBe(signatures.length);
      expect(signatures).toHaveLength(runIds.length * (s.layers * MODULES.length - 1) * 2 * 2);
      for (const r of signatures) {
        expect(constant(r)).toBe(false);
        expect(['effective_rank', 'intrinsic_dim']).toContain(r.descriptor_set);
        expect(r.n_points).toBe(checkpoints.length);
        expect([Number(r.step_min), Number(r.step_max)]).toEqual([0, s.steps]);
        expect(r.len).toBe(r.dim);
      }

      // matches: every signature is a query with candidates from the other run only, ranked from 1.
      const matches = await q(
        'SELECT m.run_id, m.query_signature_id, m.candidate_run_id, m.method, m.rank, m.score, m.distance, ' +
          's.descriptor_set AS qd, c.descriptor_set AS cd FROM matches m ' +
          'JOIN signatures s ON s.signature_id = m.query_signature_id ' +
          'JOIN signatures c ON c.signature_id = m.candidate_signature_id',
      );
      expect(matches.length).toBeGreaterThan(0);
      // (A signature is two rows, its z series and its PAA; the pair is one query.)
      expect(new Set(matches.map((m) => m.query_signature_id)).size).toBe(signatures.length / 2);
      expect(new Set(matches.map((m) => m.method))).toEqual(new Set(['combined', 'cosine', 'dtw', 'edit']));
      for (const m of matches) {
        expect(m.candidate_run_id).not.toBe(m.run_id);
        expect(m.qd).toBe(m.cd);
        expect(m.rank as number).toBeGreaterThanOrEqual(1);
        expect(m.score as number).toBeGreaterThanOrEqual(0);
        expect(m.score as number).toBeLessThanOrEqual(1);
        expect(m.distance as number).toBeGreaterThanOrEqual(0);
      }

      // events: each refers to a checkpoint of a trajectory that was analysed.
      const events = await q(
        'SELECT run_id, step, step_end, layer, module, event_type, confidence FROM events',
      );
      const stateKeys = new Set(keys);
      for (const e of events) {
        expect(stateKeys.has(`${e.run_id}|${e.step}|${e.layer}|${e.module}`)).toBe(true);
        if (e.step_end !== null) expect(Number(e.step_end)).toBeGreaterThanOrEqual(Number(e.step));
        expect(e.confidence as number).toBeGreaterThanOrEqual(0);
        expect(e.confidence as number).toBeLessThanOrEqual(1);
      }
    } finally {
      reader.close();
    }
  }, 300_000);
});

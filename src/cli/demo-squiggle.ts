import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  mulberry32,
  type SyntheticSweep,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../geometry/index.js';
import type { Lake, Row } from '../lake/index.js';
import { attachGridId, writeGridParams } from '../lake/index.js';
import { ALL_SAMPLES } from '../schema/index.js';

/**
 * Shape of the synthetic Squiggle lake: four probed seeds of one tiny model, one of which
 * diverges, plus two more learning rates with metrics only.
 */
const STEPS = 2000;
const LAYERS = 4;
const D_MODEL = 48;
const PROBE_SET = 'fixed_v1';
const PROBE_SAMPLES = 64;
const LR = 3e-4;
/**
 * Learning rates of the metrics-only part of the sweep: four seeds each, loss curves but no probe
 * embeddings, so the dashboard has parameter groups to band over seeds.
 */
const LR_SWEEP = [1e-3, 3e-3];
/** Where the resid_post probe matrices go (relative to the lake); mlp_out stays inline. */
const PROBE_STORE = 'arrays/probe';

interface DemoRun {
  readonly runId: string;
  readonly seed: number;
  readonly gridId: string;
  readonly params: Record<string, unknown>;
}

/** What {@link writeSquiggleDemo} wrote: rows per dataset, and the sweep whose events it planted. */
export interface SquiggleDemo {
  readonly written: Record<string, number>;
  readonly sweep: SyntheticSweep;
}

/**
 * Writes the inputs of a synthetic Squiggle lake: four seeds of one grid with their checkpoints,
 * a probe-sample catalog, scalar metrics, attention-head summaries and the probe embeddings of
 * {@link syntheticRuns} (spectrum collapse at step 600, re-expansion at 1200, seed 2 departing at
 * 1500). resid_post matrices go to an array-shards store under `<lake>/arrays/probe`, referenced
 * by `shard_ref`; mlp_out vectors are inline. `runlake analyze` derives the rest.
 *
 * @example
 * ```ts
 * const lake = await openLake('demo-squiggle', { schema: 'squiggle' });
 * const { sweep } = await writeSquiggleDemo(lake);
 * await analyzeLake(lake);
 * ```
 */
export async function writeSquiggleDemo(lake: Lake): Promise<SquiggleDemo> {
  const random = mulberry32(7);
  const sweep = syntheticRuns({
    seeds: 4,
    divergingSeed: 2,
    totalSteps: STEPS,
    layers: LAYERS,
    modules: ['resid_post', 'mlp_out'],
    samples: PROBE_SAMPLES,
    dim: D_MODEL,
    runPrefix: `tiny-lr${LR}`,
  });
  const gridParams = (lr: number) =>
    attachGridId({ model: 'tiny-gpt', n_layers: LAYERS, d_model: D_MODEL, lr, warmup_steps: 100 });
  const params = gridParams(LR);
  await writeGridParams(lake.baseOut, params);
  const probedRuns: DemoRun[] = sweep.runs.map((r) => ({
    runId: r.runId,
    seed: r.seed,
    gridId: params.grid_id,
    params,
  }));
  const metricsOnlyRuns: DemoRun[] = [];
  for (const lr of LR_SWEEP) {
    const sweepParams = gridParams(lr);
    await writeGridParams(lake.baseOut, sweepParams);
    for (let seed = 0; seed < 4; seed++) {
      metricsOnlyRuns.push({
        runId: `tiny-lr${lr}-s${seed}`,
        seed,
        gridId: sweepParams.grid_id,
        params: sweepParams,
      });
    }
  }
  const runs = [...probedRuns, ...metricsOnlyRuns];
  const steps = sweep.steps;
  const written: Record<string, number> = {};
  const write = async (dataset: string, rows: Row[]) => {
    await lake.write(dataset, rows);
    written[dataset] = (written[dataset] ?? 0) + rows.length;
  };

  await write(
    'runs',
    runs.map((run) => ({
      run_id: run.runId,
      run_name: `tiny-gpt lr=${run.params.lr} seed=${run.seed}`,
      project: 'runlake-demo',
      grid_id: run.gridId,
      seed: run.seed,
      model_name: 'tiny-gpt',
      model_family: 'gpt-neox',
      n_params: 210_000,
      n_layers: LAYERS,
      d_model: 64,
      train_dataset: 'synthetic-tokens-v1',
      total_steps: STEPS,
      tokens_per_step: 8192,
      status: 'finished',
      started_at: new Date(Date.UTC(2026, 10, 1, run.seed)),
      tags: [
        'demo',
        probedRuns.includes(run) ? 'probed' : 'metrics-only',
        sweep.runs.find((r) => r.runId === run.runId)?.diverges ? 'diverges' : 'baseline',
      ],
      config_json: JSON.stringify(run.params),
    })),
  );

  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'while', 'rain', 'fell', 'softly'];
  await write(
    'samples',
    Array.from({ length: PROBE_SAMPLES }, (_, i) => {
      const tokens = Array.from({ length: 4 + (i % 5) }, (_, j) => (i * 7 + j * 3) % words.length);
      return {
        sample_set: PROBE_SET,
        sample_id: `s${String(i).padStart(4, '0')}`,
        split: 'probe',
        text: tokens.map((t) => words[t]).join(' '),
        tokens,
        n_tokens: tokens.length,
        source: 'synthetic',
      };
    }),
  );

  for (const run of runs) {
    // A larger learning rate converges faster to a higher floor, with more seed-to-seed noise.
    const lrRatio = (run.params.lr as number) / LR;
    const lrScale = (1 + run.seed * 0.02) * Math.sqrt(lrRatio);
    const floor = 1.2 + 0.08 * Math.log(lrRatio);
    const noise = 0.03 * Math.sqrt(lrRatio);
    const loss = (step: number) => floor + 3.5 * Math.exp((-step / 500) * lrScale) + (random() - 0.5) * noise;
    await write(
      'checkpoints',
      steps.map((step) => ({
        run_id: run.runId,
        step,
        tokens_seen: step * 8192,
        learning_rate: (run.params.lr as number) * Math.min(1, (step + 1) / 100),
        train_loss: loss(step),
        val_loss: loss(step) + 0.05,
        has_weights: step % 500 === 0,
        checkpoint_uri: step % 500 === 0 ? `s3://demo/${run.runId}/step-${step}` : null,
        wall_time: new Date(Date.UTC(2026, 10, 1) + step * 1000),
      })),
    );
    const metrics: Row[] = [];
    for (let step = 0; step <= STEPS; step += 10) {
      metrics.push(
        { run_id: run.runId, step, metric_name: 'loss', value: loss(step), split: 'train' },
        {
          run_id: run.runId,
          step,
          metric_name: 'grad_norm',
          value: 0.5 + 2 * Math.exp(-step / 300) * random(),
        },
        {
          run_id: run.runId,
          step,
          metric_name: 'lr',
          value: (run.params.lr as number) * Math.min(1, (step + 1) / 100),
        },
      );
    }
    await write('metrics_scalar', metrics);
  }

  const embeddings = await writeSyntheticEmbeddings(lake, sweep, {
    sampleSet: PROBE_SET,
    store: PROBE_STORE,
    shardModules: ['resid_post'],
  });
  written.embeddings = embeddings;
  const attention: Row[] = [];
  for (const run of probedRuns) {
    for (const step of [0, 500, 1000, 1500, 2000]) {
      for (let layer = 0; layer < LAYERS; layer++) {
        for (let head = 0; head < 4; head++) {
          const sharpen = step / STEPS;
          attention.push({
            run_id: run.runId,
            step,
            sample_set: PROBE_SET,
            sample_id: ALL_SAMPLES,
            layer,
            head,
            entropy: 2.2 - 1.4 * sharpen * (0.5 + head / 8) + random() * 0.05,
            top_k: 4,
            top_k_mass: Math.min(1, 0.4 + 0.5 * sharpen),
            diagonal_mass: head === 0 ? 0.3 + 0.4 * sharpen : 0.05,
            band_width: 2,
            band_mass: head === 1 ? 0.4 + 0.3 * sharpen : 0.2,
            first_token_mass: layer > 1 ? 0.2 + 0.3 * sharpen : 0.05,
          });
        }
      }
    }
  }
  await write('attention_summary', attention);
  await lake.refresh(); // the grids table is built when a lake opens; these grids are new
  return { written, sweep };
}

/**
 * The sample file the demo's `runlake import … metrics_scalar` hint loads: a few loss values of a
 * run the lake does not have yet, one JSON object per line as an exporter would write them.
 */
export const SAMPLE_METRICS_FILE = 'my-metrics.jsonl';

/**
 * Writes {@link SAMPLE_METRICS_FILE} into a demo lake directory (beside its datasets, where no
 * view reads it) and returns its path.
 *
 * @example
 * ```ts
 * await writeSampleMetrics('runlake-demo-squiggle'); // 'runlake-demo-squiggle/my-metrics.jsonl'
 * ```
 */
export async function writeSampleMetrics(lakeDir: string): Promise<string> {
  const file = path.join(lakeDir, SAMPLE_METRICS_FILE);
  const rows = [0, 100, 200, 300, 400].map((step) => ({
    run_id: 'my-run',
    step,
    metric_name: 'loss',
    value: Number((4.2 / Math.sqrt(1 + step / 100)).toFixed(4)),
    split: 'train',
  }));
  await writeFile(file, rows.map((row) => `${JSON.stringify(row)}\n`).join(''));
  return file;
}

import path from 'node:path';
import type { Lake, Row } from '../lake/index.js';
import { attachGridId, writeGridParams } from '../lake/index.js';
import { ALL_SAMPLES, GEOMETRY_DESCRIPTORS } from '../schema/index.js';
import { ShardedDatasetWriter } from '../shards/index.js';
import { mulberry32 } from './random.js';

/** Shape of the synthetic Squiggle lake: a small sweep of tiny models. */
const STEPS = 2000;
const CHECKPOINT_EVERY = 100;
const LAYERS = 4;
const MODULES = ['resid_post', 'mlp_out'] as const;
const PROBE_SET = 'fixed_v1';
const PROBE_SAMPLES = 16;
const COLLAPSE_STEP = 600;
const REEXPANSION_STEP = 1200;
const DIVERGING_SEED = 2;

interface DemoRun {
  readonly runId: string;
  readonly seed: number;
  readonly gridId: string;
  readonly params: Record<string, unknown>;
}

/**
 * Writes a small synthetic Squiggle lake: three seeds of one grid plus a run of another grid, with
 * checkpoints, a probe-sample catalog, scalar metrics, descriptor trajectories whose effective
 * rank collapses at step 600 and re-expands at step 1200 (one seed diverges after the collapse),
 * their dynamics, the events, signatures and matches that describe them, embeddings (inline, and
 * referenced in an array-shards store under `<lake>/arrays/probe`) and attention-head summaries. Returns the rows written per dataset.
 *
 * @example
 * ```ts
 * const lake = await openLake('demo-squiggle', { schema: 'squiggle' });
 * await writeSquiggleDemo(lake);
 * ```
 */
export async function writeSquiggleDemo(lake: Lake): Promise<Record<string, number>> {
  const random = mulberry32(7);
  const runs: DemoRun[] = [];
  for (const lr of [3e-4, 1e-3]) {
    const params = attachGridId({ model: 'tiny-gpt', n_layers: LAYERS, d_model: 64, lr, warmup_steps: 100 });
    await writeGridParams(lake.baseOut, params);
    const seeds = lr === 3e-4 ? [0, 1, DIVERGING_SEED] : [0];
    for (const seed of seeds) {
      runs.push({ runId: `tiny-lr${lr}-s${seed}`, seed, gridId: params.grid_id, params });
    }
  }
  const steps = Array.from({ length: STEPS / CHECKPOINT_EVERY + 1 }, (_, i) => i * CHECKPOINT_EVERY);
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
      tags: ['demo', run.seed === DIVERGING_SEED ? 'diverges' : 'baseline'],
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
    const lrScale = run.params.lr === 1e-3 ? 1.15 : 1;
    const loss = (step: number) => 1.2 + 3.5 * Math.exp((-step / 500) * lrScale) + (random() - 0.5) * 0.03;
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

    const state: Row[] = [];
    const dynamics: Row[] = [];
    const trajectories = new Map<string, number[]>();
    for (const module of MODULES) {
      for (let layer = 0; layer < LAYERS; layer++) {
        const ranks: number[] = [];
        let previous: Record<string, number> | undefined;
        for (const step of steps) {
          const descriptors = demoDescriptors(run, layer, module, step, random);
          ranks.push(descriptors.effective_rank as number);
          state.push({
            run_id: run.runId,
            sample_set: PROBE_SET,
            module,
            step,
            sample_id: ALL_SAMPLES,
            layer,
            n_samples: 256,
            dim: 64,
            ...descriptors,
            top_k: 8,
            top_k_energy: Math.min(1, 8 / (descriptors.effective_rank as number)),
            numerical_rank: 64,
            norm_std: 0.1 * (descriptors.norm_mean as number),
            total_variance: 10 + step / 200,
          });
          if (previous) {
            const row: Row & Record<string, unknown> = {
              run_id: run.runId,
              sample_set: PROBE_SET,
              module,
              step,
              step_prev: step - CHECKPOINT_EVERY,
              sample_id: ALL_SAMPLES,
              layer,
              cka_drift:
                Math.abs((descriptors.effective_rank as number) - (previous.effective_rank as number)) / 40,
              procrustes_distance:
                Math.abs((descriptors.effective_rank as number) - (previous.effective_rank as number)) / 30,
            };
            for (const name of GEOMETRY_DESCRIPTORS) {
              const delta = (descriptors[name] as number) - (previous[name] as number);
              row[`delta_${name}`] = delta;
              row[`rate_${name}`] = delta / CHECKPOINT_EVERY;
            }
            dynamics.push(row);
          }
          previous = descriptors;
        }
        trajectories.set(`${layer}/${module}`, ranks);
      }
    }
    await write('geometry_state', state);
    await write('geometry_dynamics', dynamics);

    const events: Row[] = [
      {
        run_id: run.runId,
        event_type: 'phase_shift',
        event_id: `${run.runId}/drift-change`,
        step: 900,
        sample_set: PROBE_SET,
        descriptor: 'cka_drift',
        detector: 'pelt-l2/v1',
        magnitude: 0.8,
        confidence: 0.7,
      },
    ];
    for (let layer = 1; layer < LAYERS; layer++) {
      events.push(
        {
          run_id: run.runId,
          event_type: 'rank_collapse',
          event_id: `${run.runId}/L${layer}/collapse`,
          step: COLLAPSE_STEP,
          step_end: COLLAPSE_STEP + 200,
          sample_set: PROBE_SET,
          layer,
          module: 'resid_post',
          descriptor: 'effective_rank',
          detector: 'rank-collapse/v1',
          magnitude: 18 + layer,
          confidence: 0.95,
        },
        {
          run_id: run.runId,
          event_type: 'reexpansion',
          event_id: `${run.runId}/L${layer}/reexpansion`,
          step: REEXPANSION_STEP,
          sample_set: PROBE_SET,
          layer,
          module: 'resid_post',
          descriptor: 'effective_rank',
          detector: 'reexpansion/v1',
          magnitude: 14 + layer,
          confidence: 0.9,
        },
      );
    }
    if (run.seed === DIVERGING_SEED && run.params.lr === 3e-4) {
      events.push({
        run_id: run.runId,
        event_type: 'bifurcation',
        event_id: `${run.runId}/L2/bifurcation`,
        step: COLLAPSE_STEP + 200,
        sample_set: PROBE_SET,
        layer: 2,
        module: 'resid_post',
        descriptor: 'effective_rank',
        detector: 'seed-bifurcation/v1',
        magnitude: 6.5,
        confidence: 0.85,
        reference_run_id: runs[0]?.runId,
      });
    }
    await write('events', events);

    const tokensOf = (layer: number) =>
      events
        .filter((e) => e.layer === layer)
        .sort((a, b) => (a.step as number) - (b.step as number))
        .map((e) => e.event_type as string);
    await write(
      'signatures',
      [...trajectories].map(([key, ranks]) => {
        const [layer, module] = key.split('/') as [string, string];
        const vector = paa(zNormalise(ranks), 8);
        return {
          run_id: run.runId,
          signature_id: `${run.runId}/L${layer}/${module}/effective_rank`,
          sample_set: PROBE_SET,
          layer: Number(layer),
          module,
          descriptor_set: 'effective_rank',
          method: 'paa8-z',
          grid: 'fraction',
          dim: vector.length,
          vector,
          event_tokens: module === 'resid_post' ? tokensOf(Number(layer)) : [],
          step_min: 0,
          step_max: STEPS,
          n_points: ranks.length,
        };
      }),
    );
  }

  // Matches: every resid_post signature against the other runs' signatures at the same layer.
  const signatures = await lake.query(
    "SELECT run_id, signature_id, layer, vector FROM signatures WHERE module = 'resid_post' ORDER BY signature_id",
  );
  const matches: Row[] = [];
  for (const query of signatures) {
    const ranked = signatures
      .filter((c) => c.run_id !== query.run_id && c.layer === query.layer)
      .map((c) => ({ c, distance: euclidean(query.vector as number[], c.vector as number[]) }))
      .sort((a, b) => a.distance - b.distance);
    ranked.forEach(({ c, distance }, i) => {
      matches.push({
        run_id: query.run_id,
        query_signature_id: query.signature_id,
        candidate_run_id: c.run_id,
        candidate_signature_id: c.signature_id,
        method: 'euclidean-paa',
        distance,
        score: 1 / (1 + distance),
        rank: i + 1,
      });
    });
  }
  await write('matches', matches);

  const embeddingRun = runs[0] as DemoRun;
  await write(
    'embeddings',
    Array.from({ length: PROBE_SAMPLES }, (_, i) => {
      const vector = new Float32Array(8).map(() => random() * 2 - 1);
      return {
        run_id: embeddingRun.runId,
        sample_set: PROBE_SET,
        module: 'resid_post',
        step: STEPS,
        layer: LAYERS - 1,
        sample_id: `s${String(i).padStart(4, '0')}`,
        pooling: 'mean',
        dim: vector.length,
        vector,
      };
    }),
  );

  // Larger probe sets stay out of Parquet: the layer-2 matrix goes to an array-shards store inside
  // the lake, and embeddings rows point at its rows.
  const store = 'arrays/probe';
  const field = 'resid_post_l2';
  const matrix = new Float32Array(PROBE_SAMPLES * 8).map(() => random() * 2 - 1);
  const shards = new ShardedDatasetWriter(path.join(lake.baseOut, store), { samplesPerShard: 100 });
  let shardSample: string;
  try {
    shards.addFields([field]);
    shardSample = shards.addSample(
      { [field]: { data: matrix, shape: [PROBE_SAMPLES, 8], dtype: 'float32' } },
      { metadata: { run_id: embeddingRun.runId, step: STEPS, layer: 2, module: 'resid_post' } },
    );
  } finally {
    shards.close();
  }
  await write(
    'embeddings',
    Array.from({ length: PROBE_SAMPLES }, (_, i) => ({
      run_id: embeddingRun.runId,
      sample_set: PROBE_SET,
      module: 'resid_post',
      step: STEPS,
      layer: 2,
      sample_id: `s${String(i).padStart(4, '0')}`,
      pooling: 'mean',
      dim: 8,
      shard_ref: { store, sample_id: shardSample, field, row: i },
    })),
  );

  const attention: Row[] = [];
  for (const run of runs) {
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
  return written;
}

// Effective rank collapses by up to 60% between steps 600 and 800 and re-expands from 1200,
// deeper layers more strongly; the diverging seed re-expands to a lower level.
function demoDescriptors(
  run: DemoRun,
  layer: number,
  module: string,
  step: number,
  random: () => number,
): Record<string, number> {
  const depth = 1 + layer / LAYERS;
  const collapse = smoothStep((step - COLLAPSE_STEP) / 200);
  const recovery = smoothStep((step - REEXPANSION_STEP) / 300);
  const diverged = run.seed === DIVERGING_SEED && run.params.lr === 3e-4 ? 0.6 : 1;
  const base = (module === 'mlp_out' ? 34 : 40) - 2 * layer;
  const strength = depth / 1.75; // 1 at the last layer
  const rank =
    base * (1 - 0.6 * collapse * strength + 0.45 * recovery * diverged * strength) + (random() - 0.5);
  const effective = Math.max(2, rank);
  return {
    effective_rank: effective,
    participation_ratio: effective * 0.6,
    stable_rank: 1 + effective / 8,
    spectral_entropy: Math.log(effective),
    alpha_req: 0.6 + 12 / effective,
    alpha_req_r2: 0.97,
    anisotropy: 0.1 + 2 / effective,
    intrinsic_dim: 4 + effective / 5,
    norm_mean: 8 + step / 500,
  };
}

function smoothStep(x: number): number {
  const t = Math.min(1, Math.max(0, x));
  return t * t * (3 - 2 * t);
}

function zNormalise(values: readonly number[]): number[] {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) || 1;
  return values.map((v) => (v - mean) / std);
}

// Piecewise aggregate approximation: the mean of each of `segments` equal slices.
function paa(values: readonly number[], segments: number): number[] {
  return Array.from({ length: segments }, (_, s) => {
    const from = Math.floor((s * values.length) / segments);
    const to = Math.max(from + 1, Math.floor(((s + 1) * values.length) / segments));
    const slice = values.slice(from, to);
    return slice.reduce((a, b) => a + b, 0) / slice.length;
  });
}

function euclidean(a: readonly number[], b: readonly number[]): number {
  return Math.sqrt(a.reduce((sum, x, i) => sum + (x - (b[i] ?? 0)) ** 2, 0));
}

import type { ColumnType, DatasetDefinition, Row } from '../../src/index.js';

/**
 * Two valid rows for each Squiggle dataset: one with every column set, one with every nullable
 * column left out, so round trips cover values and nulls of every type.
 */
export const SQUIGGLE_SAMPLE_ROWS: Readonly<Record<string, readonly Row[]>> = {
  runs: [
    {
      run_id: 'run-a',
      run_name: 'pythia-160m seed 1',
      project: 'squiggles',
      grid_id: 'ab12cd34',
      seed: 1,
      model_name: 'pythia-160m',
      model_family: 'gpt-neox',
      n_params: 162_322_944,
      n_layers: 12,
      d_model: 768,
      train_dataset: 'pile-dedup',
      total_steps: 143_000,
      tokens_per_step: 2_097_152,
      status: 'finished',
      started_at: new Date('2026-11-01T12:00:00.123Z'),
      git_commit: 'deadbeef',
      tags: ['baseline', 'ünïcode ✓'],
      config_json: '{"lr":0.0006}',
      env_json: '{"torch":"2.5"}',
      owner: 'lab-7', // an extra column: runs accept them
    },
    { run_id: 'run-b' },
  ],
  checkpoints: [
    {
      run_id: 'run-a',
      step: 1000,
      tokens_seen: 2_097_152_000,
      epoch: 0.25,
      learning_rate: 6e-4,
      train_loss: 3.25,
      val_loss: 3.5,
      has_weights: true,
      checkpoint_uri: 's3://bucket/run-a/step-1000',
      wall_time: '2026-11-01T13:00:00Z',
    },
    { run_id: 'run-a', step: 0 },
  ],
  samples: [
    {
      sample_set: 'fixed_v1',
      sample_id: 's0001',
      split: 'probe',
      text: 'The cat sat.',
      tokens: [464, 3797, 3332, 13],
      n_tokens: 4,
      label: 'animal',
      source: 'wikitext',
      meta_json: '{"len":12}',
    },
    { sample_set: 'fixed_v1', sample_id: 's0002', split: 'val' },
  ],
  metrics_scalar: [
    { run_id: 'run-a', step: 10, metric_name: 'loss', value: 2.5, split: 'train', wall_time: new Date(0) },
    { run_id: 'run-a', step: 11, metric_name: 'grad_norm', value: Number.POSITIVE_INFINITY },
  ],
  geometry_state: [
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'resid_post',
      step: 1000,
      sample_id: '*',
      layer: 6,
      n_samples: 512,
      dim: 768,
      effective_rank: 41.5,
      participation_ratio: 12.25,
      stable_rank: 3.5,
      spectral_entropy: 3.75,
      alpha_req: 1.125,
      alpha_req_r2: 0.98,
      numerical_rank: 511,
      top_k: 10,
      top_k_energy: 0.625,
      anisotropy: 0.25,
      norm_mean: 17.5,
      norm_std: 2.25,
      intrinsic_dim: 9.5,
      total_variance: 120.5,
      top_eigenvalues: [40.5, 20.25, 10.125],
    },
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'mlp_out',
      step: 0,
      sample_id: 's0001',
      layer: 0,
      n_samples: 7,
      dim: 768,
    },
  ],
  geometry_dynamics: [
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'resid_post',
      step: 2000,
      step_prev: 1000,
      sample_id: '*',
      layer: 6,
      delta_effective_rank: -3.5,
      rate_effective_rank: -0.0035,
      cka_drift: 0.0625,
      cka_drift_debiased: 0.0703125,
      procrustes_distance: 0.125,
    },
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'attn_out',
      step: 1,
      step_prev: 0,
      sample_id: '*',
      layer: 11,
    },
  ],
  events: [
    {
      run_id: 'run-a',
      event_type: 'rank_collapse',
      event_id: 'e1',
      step: 3000,
      step_end: 3500,
      sample_set: 'fixed_v1',
      sample_id: 's0001',
      layer: 4,
      module: 'resid_post',
      descriptor: 'effective_rank',
      detector: 'rank-collapse/v1',
      magnitude: 0.42,
      confidence: 0.9,
      reference_run_id: 'run-b',
      params_json: '{"window":5}',
    },
    // A run-level event: no sample, layer or module.
    {
      run_id: 'run-a',
      event_type: 'phase_shift',
      event_id: 'e2',
      step: 100,
      sample_set: 'fixed_v1',
      detector: 'pelt/v1',
      magnitude: 1,
      confidence: 1,
    },
  ],
  signatures: [
    {
      run_id: 'run-a',
      signature_id: 'run-a/L6/resid_post/rank',
      sample_set: 'fixed_v1',
      layer: 6,
      module: 'resid_post',
      sample_id: 's0001',
      descriptor_set: 'effective_rank',
      method: 'paa4-z',
      grid: 'fraction',
      dim: 4,
      vector: [0.1, -0.3, 1.2, 0.5],
      event_tokens: ['rank_collapse', 'reexpansion'],
      step_min: 0,
      step_max: 143_000,
      n_points: 154,
    },
    // An aggregate signature: no layer, module or sample.
    {
      run_id: 'run-a',
      signature_id: 'run-a/all',
      sample_set: 'fixed_v1',
      descriptor_set: 'effective_rank+cka_drift',
      method: 'paa2-z',
      grid: 'log_step',
      dim: 2,
      vector: new Float32Array([1.5, -1.5]),
      event_tokens: [],
    },
  ],
  matches: [
    {
      run_id: 'run-a',
      query_signature_id: 'run-a/L6/resid_post/rank',
      candidate_run_id: 'run-b',
      candidate_signature_id: 'run-b/L6/resid_post/rank',
      method: 'dtw',
      distance: 0.75,
      score: 0.5,
      rank: 1,
      alignment: { path_length: 40, band: 4, max_deviation: 3, query_offset: -1 },
      params_json: '{"band":4}',
    },
    {
      run_id: 'run-a',
      query_signature_id: 'run-a/L6/resid_post/rank',
      candidate_run_id: 'run-c',
      candidate_signature_id: 'run-c/L6/resid_post/rank',
      method: 'cosine',
      distance: 0,
      rank: 2,
    },
  ],
  embeddings: [
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'resid_post',
      step: 1000,
      layer: 6,
      sample_id: 's0001',
      token_index: 3,
      pooling: null,
      dim: 3,
      vector: new Float32Array([0.1, 0.2, 0.3]),
    },
    {
      run_id: 'run-a',
      sample_set: 'fixed_v1',
      module: 'resid_post',
      step: 1000,
      layer: 6,
      sample_id: 's0002',
      pooling: 'mean',
      dim: 768,
      shard_ref: { store: 'shards/probe', sample_id: 'sample_000000000001', field: 'resid_post_l6', row: 1 },
    },
  ],
  attention_summary: [
    {
      run_id: 'run-a',
      step: 1000,
      sample_set: 'fixed_v1',
      sample_id: '*',
      layer: 2,
      head: 5,
      entropy: 1.75,
      top_k: 5,
      top_k_mass: 0.8125,
      diagonal_mass: 0.125,
      band_width: 4,
      band_mass: 0.5,
      first_token_mass: 0.25,
    },
    { run_id: 'run-a', step: 0, sample_set: 'fixed_v1', sample_id: 's0001', layer: 0, head: 0 },
  ],
};

/**
 * What a row reads back as through a lake view (`lake.query`): every declared column present
 * (null when not written), integers as numbers, timestamps as ISO strings, FLOAT values rounded to
 * float32, typed arrays as plain arrays, struct fields all present.
 */
export function expectedReadBack(definition: DatasetDefinition, row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of [...definition.partitionBy, ...(definition.columns ?? [])]) {
    out[column.name] = normalise(column.type, row[column.name]);
  }
  if (definition.allowExtraColumns) {
    for (const [name, value] of Object.entries(row)) if (!(name in out)) out[name] = value;
  }
  return out;
}

function normalise(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'float32':
      return Math.fround(value as number);
    case 'timestamp':
      return new Date(value as string | Date).toISOString();
    case 'list':
      return Array.from(value as ArrayLike<unknown>, (item) => normalise(type.element, item));
    case 'struct':
      return Object.fromEntries(
        type.fields.map(([name, field]) => [
          name,
          normalise(field, (value as Record<string, unknown>)[name]),
        ]),
      );
    default:
      return value;
  }
}

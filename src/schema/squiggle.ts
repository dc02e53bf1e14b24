import {
  type ColumnDefinition,
  type ColumnType,
  type DatasetDefinition,
  DatasetRegistry,
  defineDataset,
  type EnumDomain,
  type PartitionKeyDefinition,
  registerSchemaSet,
  type SchemaSet,
  t,
} from '../lake/index.js';
import { EVENT_TYPE, MODULE, SPLIT, SQUIGGLE_ENUMS } from './enums.js';
import { EVAL_DATASETS, EVAL_VIEWS } from './evals.js';

/**
 * The `sample_id` of a row that describes a whole probe set rather than one sample: geometry
 * descriptors of the n × d matrix of a sample set, or head summaries averaged over it.
 *
 * @example
 * ```ts
 * await lake.query(`SELECT * FROM geometry_state WHERE sample_id = '${ALL_SAMPLES}'`);
 * ```
 */
export const ALL_SAMPLES = '*';

// Column helpers: a key is non-null; a value is nullable unless said otherwise.
function key(name: string, type: ColumnType, description: string, domain?: EnumDomain): ColumnDefinition {
  return { name, type, nullable: false, description, ...(domain ? { enum: domain } : {}) };
}
function value(name: string, type: ColumnType, description: string, domain?: EnumDomain): ColumnDefinition {
  return { name, type, nullable: true, description, ...(domain ? { enum: domain } : {}) };
}
function partition(name: string, description: string, domain?: EnumDomain): PartitionKeyDefinition {
  return { name, type: t.string, description, ...(domain ? { enum: domain } : {}) };
}

// The spine keys, with the seed's types.
const RUN_ID = partition('run_id', 'stable ID of the training run');
const SAMPLE_SET = partition('sample_set', 'fixed probe set name, e.g. fixed_v1');
const MODULE_KEY = partition('module', 'canonical module location', MODULE);
const STEP = key('step', t.int64, 'optimizer step (global)');
const LAYER = key('layer', t.int16, 'transformer layer index (0 = first block)');

const RUN_PARTITION = 'Nearly every query is about some runs, and a run is written as a unit.';

/**
 * 00 — `runs`: one row per training run, with its configuration, environment and model. Extra
 * columns are allowed, for run metadata the schema does not name.
 *
 * @example
 * ```ts
 * await lake.write('runs', [{ run_id: 'pythia-160m-s1', model_name: 'pythia-160m', seed: 1 }]);
 * ```
 */
export const RUNS = defineDataset({
  name: 'runs',
  description: 'run metadata: configuration, environment and model info, one row per run',
  partitionBy: [RUN_ID],
  partitionReason: RUN_PARTITION,
  key: ['run_id'],
  allowExtraColumns: true,
  columns: [
    value('run_name', t.string, 'human-readable run name'),
    value('project', t.string, 'project or experiment the run belongs to'),
    value('grid_id', t.string, 'content-addressed hash of the sweep parameters (joins the grids table)'),
    value('seed', t.int64, 'random seed'),
    value('model_name', t.string, 'model name, e.g. pythia-160m'),
    value('model_family', t.string, 'architecture family, e.g. gpt-neox'),
    value('n_params', t.int64, 'number of trainable parameters'),
    value('n_layers', t.int16, 'number of transformer blocks'),
    value('d_model', t.int32, 'width of the residual stream'),
    value('train_dataset', t.string, 'training data name or version'),
    value('total_steps', t.int64, 'planned number of optimizer steps'),
    value('tokens_per_step', t.int64, 'tokens per optimizer step (batch size × sequence length)'),
    value('status', t.string, 'run state: running, finished, failed, …'),
    value('started_at', t.timestamp, 'when training started'),
    value('git_commit', t.string, 'commit of the training code'),
    value('tags', t.list(t.string), 'free-form labels'),
    value('config_json', t.string, 'the full training configuration, as JSON'),
    value('env_json', t.string, 'environment: library versions, hardware, cluster, as JSON'),
  ],
  checks: [
    {
      name: 'config_is_json',
      description: 'config_json and env_json hold JSON text',
      sql: 'coalesce(json_valid(config_json), true) AND coalesce(json_valid(env_json), true)',
      columns: ['config_json', 'env_json'],
    },
  ],
});

/**
 * 01 — `checkpoints`: one row per checkpoint or logged step summary of a run.
 *
 * @example
 * ```ts
 * await lake.write('checkpoints', [{ run_id: 'r1', step: 1000, tokens_seen: 2_048_000 }]);
 * ```
 */
export const CHECKPOINTS = defineDataset({
  name: 'checkpoints',
  description: 'checkpoint index: one row per checkpoint or logged step summary',
  partitionBy: [RUN_ID],
  partitionReason: RUN_PARTITION,
  sortBy: ['step'],
  columns: [
    STEP,
    value('tokens_seen', t.int64, 'training tokens consumed up to this step'),
    value('epoch', t.float64, 'fractional epoch'),
    value('learning_rate', t.float64, 'learning rate at this step'),
    value('train_loss', t.float64, 'training loss at this step'),
    value('val_loss', t.float64, 'validation loss at this step'),
    value('has_weights', t.bool, 'true when the weights were saved (see checkpoint_uri)'),
    value('checkpoint_uri', t.string, 'where the saved weights are'),
    value('wall_time', t.timestamp, 'when the checkpoint was taken'),
  ],
  checks: [
    {
      name: 'step_non_negative',
      description: 'steps count from 0',
      sql: 'step >= 0',
      columns: ['step'],
    },
  ],
});

/**
 * 02 — `samples`: the evaluation sample catalog, stable sample IDs per probe set with optional
 * text and tokens. Shared by all runs, so not keyed by run.
 *
 * @example
 * ```ts
 * await lake.write('samples', [{ sample_set: 'fixed_v1', sample_id: 's0001', split: 'probe', text: 'The cat' }]);
 * ```
 */
export const SAMPLES = defineDataset({
  name: 'samples',
  description: 'eval sample catalog: stable sample IDs and optional text/token payloads',
  partitionBy: [SAMPLE_SET],
  partitionReason:
    'Not run_id: the catalog describes probe sets that every run is evaluated on, and ' +
    'readers load one set at a time.',
  sortBy: ['sample_id'],
  key: ['sample_set', 'sample_id'],
  columns: [
    key('sample_id', t.string, 'stable ID of the sample within its set'),
    key('split', t.string, 'split the sample comes from', SPLIT),
    value('text', t.string, 'the sample text'),
    value('tokens', t.list(t.int32), 'token IDs'),
    value('n_tokens', t.int32, 'number of tokens'),
    value('label', t.string, 'label or target, for classification-style probes'),
    value('source', t.string, 'dataset the sample was drawn from'),
    value('meta_json', t.string, 'any other metadata, as JSON'),
  ],
  checks: [
    {
      name: 'sample_id_not_reserved',
      description: `"${ALL_SAMPLES}" is reserved for rows that describe a whole sample set`,
      sql: `sample_id <> '${ALL_SAMPLES}'`,
      columns: ['sample_id'],
    },
    {
      name: 'n_tokens_matches',
      description: 'n_tokens equals the length of tokens when both are given',
      sql: 'tokens IS NULL OR n_tokens IS NULL OR len(tokens) = n_tokens',
      columns: ['tokens', 'n_tokens'],
    },
  ],
});

/**
 * 10 — `metrics_scalar`: generic time-series metrics (`loss`, `grad_norm`, …) in long form.
 *
 * @example
 * ```ts
 * await lake.write('metrics_scalar', [{ run_id: 'r1', step: 10, metric_name: 'loss', value: 3.2 }]);
 * ```
 */
export const METRICS_SCALAR = defineDataset({
  name: 'metrics_scalar',
  description: 'scalar metrics in long form, one row per (run, step, metric)',
  partitionBy: [RUN_ID],
  partitionReason:
    'Not metric_name: runs log tens to hundreds of metrics, and a directory per metric ' +
    'would turn every flush into that many tiny files. Files are sorted by (metric_name, step) ' +
    'instead, so Parquet row-group statistics skip other metrics when a query filters on one.',
  sortBy: ['metric_name', 'step'],
  key: ['run_id', 'metric_name', 'step', 'split'],
  columns: [
    STEP,
    key('metric_name', t.string, 'metric name, e.g. loss, grad_norm, lr'),
    key('value', t.float64, 'the value (NaN and ±Inf are kept: a diverged loss is data)'),
    value('split', t.string, 'split the metric was measured on, when it has one', SPLIT),
    value('wall_time', t.timestamp, 'when the value was logged'),
  ],
});

const DESCRIPTOR_DOCS = {
  effective_rank: 'Roy & Vetterli effective rank: exp of the entropy of singular values normalised to sum 1',
  participation_ratio: '(Σλ)² / Σλ² over covariance eigenvalues λ',
  stable_rank: 'Σσ² / σ₁²: squared Frobenius norm over squared spectral norm',
  spectral_entropy: 'Shannon entropy (nats) of covariance eigenvalues normalised to sum 1',
  alpha_req: 'α-ReQ power-law decay exponent of the eigenspectrum (λ_i ∝ i^−α)',
  anisotropy: 'mean pairwise cosine similarity of the uncentred rows',
  intrinsic_dim: 'TwoNN intrinsic dimension (Facco et al. 2017)',
  norm_mean: 'mean L2 norm of the rows',
} as const;

/**
 * The descriptors `geometry_dynamics` tracks as deltas and rates: the scalar descriptors of
 * `geometry_state` that summarise a spectrum or a point cloud.
 *
 * @example
 * ```ts
 * GEOMETRY_DESCRIPTORS.includes('effective_rank'); // true
 * ```
 */
export const GEOMETRY_DESCRIPTORS = Object.keys(DESCRIPTOR_DOCS) as ReadonlyArray<
  keyof typeof DESCRIPTOR_DOCS
>;

/**
 * 20 — `geometry_state`: compact descriptors per (run_id, step, sample_id, layer, module). A row
 * with `sample_id = '*'` ({@link ALL_SAMPLES}) describes the whole probe set's matrix; other rows
 * describe one sample's token representations.
 *
 * @example
 * ```ts
 * await lake.write('geometry_state', [{ run_id: 'r1', sample_set: 'fixed_v1', module: 'resid_post',
 *   step: 1000, sample_id: '*', layer: 6, n_samples: 512, dim: 768, effective_rank: 41.2 }]);
 * ```
 */
export const GEOMETRY_STATE = defineDataset({
  name: 'geometry_state',
  description: 'geometric state layer: basis-invariant descriptors of representations',
  partitionBy: [RUN_ID, SAMPLE_SET, MODULE_KEY],
  partitionReason:
    'After run_id, sample_set and module, as the seed recommends: every trajectory query fixes ' +
    'one probe set and one module, and both are low-cardinality, so files stay few. Not step ' +
    '(too many partitions) and not layer (files per run would multiply by depth).',
  sortBy: ['layer', 'step'],
  columns: [
    STEP,
    key('sample_id', t.string, `sample the descriptors are of, or '${ALL_SAMPLES}' for the whole set`),
    LAYER,
    key('n_samples', t.int32, 'rows of the representation matrix (samples, or tokens of one sample)'),
    key('dim', t.int32, 'columns of the representation matrix (hidden size)'),
    value('effective_rank', t.float64, DESCRIPTOR_DOCS.effective_rank),
    value('participation_ratio', t.float64, DESCRIPTOR_DOCS.participation_ratio),
    value('stable_rank', t.float64, DESCRIPTOR_DOCS.stable_rank),
    value('spectral_entropy', t.float64, DESCRIPTOR_DOCS.spectral_entropy),
    value('alpha_req', t.float64, DESCRIPTOR_DOCS.alpha_req),
    value('alpha_req_r2', t.float64, 'R² of the α-ReQ log-log fit'),
    value(
      'numerical_rank',
      t.int32,
      'eigenvalues above max(n, d) · ε · λ₁: numpy matrix_rank’s relative tolerance, applied to λ = σ²',
    ),
    value('top_k', t.int16, 'k of top_k_energy'),
    value('top_k_energy', t.float64, 'share of the total variance in the top k eigenvalues'),
    value('anisotropy', t.float64, DESCRIPTOR_DOCS.anisotropy),
    value('norm_mean', t.float64, DESCRIPTOR_DOCS.norm_mean),
    value('norm_std', t.float64, 'standard deviation of the row L2 norms'),
    value('intrinsic_dim', t.float64, DESCRIPTOR_DOCS.intrinsic_dim),
    value('total_variance', t.float64, 'trace of the covariance (Σλ)'),
    value('top_eigenvalues', t.list(t.float64), 'largest covariance eigenvalues, descending'),
  ],
  checks: [
    {
      name: 'matrix_shape',
      description: 'n_samples and dim are positive',
      sql: 'n_samples > 0 AND dim > 0',
      columns: ['n_samples', 'dim'],
    },
    {
      name: 'rank_bounds',
      description: 'effective and numerical rank lie in [0, min(n_samples, dim)]',
      sql:
        'coalesce(effective_rank BETWEEN 0 AND least(n_samples, dim) + 1e-9, true) AND ' +
        'coalesce(numerical_rank BETWEEN 0 AND least(n_samples, dim), true)',
      columns: ['effective_rank', 'numerical_rank', 'n_samples', 'dim'],
    },
    {
      name: 'top_k_energy_share',
      description: 'top_k_energy is a share in [0, 1]',
      sql: 'top_k_energy IS NULL OR top_k_energy BETWEEN 0 AND 1 + 1e-9',
      columns: ['top_k_energy'],
    },
  ],
});

const dynamicsColumns = GEOMETRY_DESCRIPTORS.flatMap((name) => [
  value(`delta_${name}`, t.float64, `change in ${name} since step_prev`),
  value(`rate_${name}`, t.float64, `delta_${name} per optimizer step`),
]);

/**
 * 21 — `geometry_dynamics`: deltas and drift between consecutive checkpoints of the same
 * (run_id, sample_set, module, layer, sample_id).
 *
 * @example
 * ```ts
 * await lake.write('geometry_dynamics', [{ run_id: 'r1', sample_set: 'fixed_v1', module: 'mlp_out',
 *   step: 2000, step_prev: 1000, sample_id: '*', layer: 3, cka_drift: 0.04 }]);
 * ```
 */
export const GEOMETRY_DYNAMICS = defineDataset({
  name: 'geometry_dynamics',
  description: 'dynamics layer: descriptor deltas, rates and representational drift between steps',
  partitionBy: [RUN_ID, SAMPLE_SET, MODULE_KEY],
  partitionReason: 'As geometry_state, which it is derived from and joined with.',
  sortBy: ['layer', 'step'],
  columns: [
    STEP,
    key('step_prev', t.int64, 'the earlier checkpoint the change is measured from'),
    key('sample_id', t.string, `as in geometry_state ('${ALL_SAMPLES}' for the whole set)`),
    LAYER,
    ...dynamicsColumns,
    value('cka_drift', t.float64, '1 − linear CKA between the two steps’ representations'),
    value('cka_drift_debiased', t.float64, '1 − debiased linear CKA (U-statistic HSIC)'),
    value('procrustes_distance', t.float64, 'orthogonal Procrustes distance at unit Frobenius norm'),
  ],
  checks: [
    {
      name: 'steps_ordered',
      description: 'step_prev comes before step',
      sql: 'step_prev < step',
      columns: ['step_prev', 'step'],
    },
  ],
});

/**
 * 30 — `events`: detected transitions (collapse, re-expansion, bifurcation, …). `sample_id`,
 * `layer` and `module` are null for run-level events.
 *
 * @example
 * ```ts
 * await lake.write('events', [{ run_id: 'r1', event_type: 'rank_collapse', event_id: 'e1', step: 3000,
 *   layer: 4, module: 'resid_post', detector: 'rank_collapse/v1', magnitude: 0.42, confidence: 0.9 }]);
 * ```
 */
export const EVENTS = defineDataset({
  name: 'events',
  description: 'event layer: discrete or semi-discrete events detected from state and dynamics',
  partitionBy: [RUN_ID, partition('event_type', 'kind of event', EVENT_TYPE)],
  partitionReason:
    'After run_id, event_type (the seed’s "sometimes"): events are few per run, types are few, and ' +
    'the common query is one type across runs. Not module, which is null for run-level events.',
  sortBy: ['step'],
  columns: [
    key('event_id', t.string, 'stable ID of the event'),
    key('step', t.int64, 'step at which the event starts (its onset)'),
    value('step_end', t.int64, 'step at which it ends, for events with a duration'),
    key('sample_set', t.string, 'probe set whose state or dynamics the event was detected in'),
    value('sample_id', t.string, 'sample, or null for a run-level event'),
    value('layer', t.int16, 'layer, or null for a run-level event'),
    value('module', t.string, 'module, or null for a run-level event', MODULE),
    value('descriptor', t.string, 'descriptor the detector watched, e.g. effective_rank'),
    key('detector', t.string, 'detector name and version that produced the event'),
    key('magnitude', t.float64, 'size of the change, in the descriptor’s units'),
    key('confidence', t.float64, 'detector confidence in [0, 1]'),
    value('reference_run_id', t.string, 'for bifurcations: the run (or group) diverged from'),
    value('params_json', t.string, 'detector parameters, as JSON'),
  ],
  checks: [
    {
      name: 'confidence_range',
      description: 'confidence lies in [0, 1]',
      sql: 'confidence BETWEEN 0 AND 1',
      columns: ['confidence'],
    },
    {
      name: 'step_range',
      description: 'step_end is not before step',
      sql: 'step_end IS NULL OR step_end >= step',
      columns: ['step', 'step_end'],
    },
  ],
});

/**
 * 31 — `signatures`: compressed, matchable squiggles: a fixed-length vector plus the sequence of
 * event tokens, per (run, layer, module, descriptor set). `layer`, `module` and `sample_id` are
 * null for aggregate signatures.
 *
 * @example
 * ```ts
 * await lake.write('signatures', [{ run_id: 'r1', signature_id: 'r1/L6/resid_post/rank', sample_set: 'fixed_v1',
 *   layer: 6, module: 'resid_post', descriptor_set: 'effective_rank', method: 'paa32-z', dim: 4,
 *   vector: [0.1, -0.3, 1.2, 0.5], event_tokens: ['rank_collapse', 'reexpansion'] }]);
 * ```
 */
export const SIGNATURES = defineDataset({
  name: 'signatures',
  description: 'squiggle signatures: fixed-length vectors and event-token sequences',
  partitionBy: [RUN_ID],
  partitionReason: `${RUN_PARTITION} Not module: it is null for aggregate signatures.`,
  sortBy: ['signature_id'],
  columns: [
    key('signature_id', t.string, 'stable ID of the signature, unique in the lake'),
    key('sample_set', t.string, 'probe set the trajectory was measured on'),
    value('layer', t.int16, 'layer, or null for an aggregate signature'),
    value('module', t.string, 'module, or null for an aggregate signature', MODULE),
    value('sample_id', t.string, 'sample, or null for an aggregate signature'),
    key('descriptor_set', t.string, 'descriptors the trajectory is made of, e.g. effective_rank+cka_drift'),
    key('method', t.string, 'how the vector was made, e.g. paa32-z (resample, z-normalise, PAA to 32)'),
    key('grid', t.string, 'the common grid trajectories were resampled onto, e.g. fraction or log_step'),
    key('dim', t.int32, 'length of vector'),
    key('vector', t.list(t.float32), 'the signature vector'),
    key('event_tokens', t.list(t.string), 'event types in step order (may be empty)'),
    value('step_min', t.int64, 'first step of the trajectory'),
    value('step_max', t.int64, 'last step of the trajectory'),
    value('n_points', t.int32, 'checkpoints in the trajectory before resampling'),
  ],
  checks: [
    {
      name: 'vector_length',
      description: 'vector has dim entries',
      sql: 'len(vector) = dim',
      columns: ['vector', 'dim'],
    },
  ],
});

/**
 * 32 — `matches`: correspondence and similarity results between signatures, one row per
 * (query, candidate, method), ranked per query and method.
 *
 * @example
 * ```ts
 * await lake.write('matches', [{ run_id: 'r1', query_signature_id: 'q', candidate_run_id: 'r2',
 *   candidate_signature_id: 'c', method: 'dtw', distance: 0.8, rank: 1 }]);
 * ```
 */
export const MATCHES = defineDataset({
  name: 'matches',
  description: 'signature match results: distances, scores, ranks and alignments',
  partitionBy: [partition('run_id', 'run of the query signature')],
  partitionReason: 'The query’s run: matches are read per query run, and written per matching pass.',
  sortBy: ['query_signature_id', 'method', 'rank'],
  columns: [
    key('query_signature_id', t.string, 'the signature matched against the pool'),
    key('candidate_run_id', t.string, 'run of the candidate signature'),
    key('candidate_signature_id', t.string, 'the candidate signature'),
    key('method', t.string, 'dtw, cosine, edit, combined, …'),
    key('distance', t.float64, 'distance under the method (smaller is closer)'),
    value('score', t.float64, 'similarity score (larger is closer), e.g. the combined score'),
    key('rank', t.int32, 'rank of the candidate for this query and method, from 1'),
    value(
      'alignment',
      t.struct({ path_length: t.int32, band: t.int32, max_deviation: t.int32, query_offset: t.int32 }),
      'DTW path summary: path length, Sakoe–Chiba band, largest |i − j|, lag of the best alignment',
    ),
    value('params_json', t.string, 'matching parameters, as JSON'),
  ],
  checks: [
    { name: 'rank_positive', description: 'ranks start at 1', sql: 'rank >= 1', columns: ['rank'] },
    {
      name: 'distance_non_negative',
      description: 'distances are not negative',
      sql: 'distance >= 0',
      columns: ['distance'],
    },
  ],
});

/**
 * 40 — `embeddings`: selected raw vectors (probe sets, key steps). A vector is stored inline as a
 * FLOAT list of exactly `dim` values, or, for large probe sets, referenced in an array-shards
 * store through `shard_ref` — one of the two, never both.
 *
 * @example
 * ```ts
 * await lake.write('embeddings', [{ run_id: 'r1', sample_set: 'fixed_v1', module: 'resid_post', step: 1000,
 *   layer: 6, sample_id: 's0001', dim: 3, vector: new Float32Array([0.1, 0.2, 0.3]) }]);
 * ```
 */
export const EMBEDDINGS = defineDataset({
  name: 'embeddings',
  description: 'selected raw representation vectors, inline or referenced in an array-shards store',
  partitionBy: [RUN_ID, SAMPLE_SET, MODULE_KEY],
  partitionReason: 'As geometry_state: embeddings are read as one probe set at one module of one run.',
  sortBy: ['layer', 'step', 'sample_id'],
  columns: [
    STEP,
    LAYER,
    key('sample_id', t.string, 'sample the vector represents'),
    value('token_index', t.int32, 'token position, or null for a pooled vector'),
    value('pooling', t.string, 'how token vectors were pooled: mean, last, cls, … (null for one token)'),
    key('dim', t.int32, 'vector length'),
    value('vector', t.list(t.float32), 'the vector, inline'),
    value(
      'shard_ref',
      t.struct({ store: t.string, sample_id: t.string, field: t.string, row: t.int64 }),
      'the vector in an array-shards store: store path (relative to the lake), shard sample id, ' +
        'field, and row of the array (null when the array is the vector)',
    ),
  ],
  checks: [
    {
      name: 'vector_or_shard_ref',
      description: 'exactly one of vector and shard_ref is set',
      sql: '(vector IS NULL) <> (shard_ref IS NULL)',
      columns: ['vector', 'shard_ref'],
    },
    {
      name: 'vector_length',
      description: 'an inline vector has dim entries',
      sql: 'vector IS NULL OR len(vector) = dim',
      columns: ['vector', 'dim'],
    },
  ],
});

/**
 * 41 — `attention_summary`: head-level attention summaries (entropy, top-k mass, diagonal and
 * band mass), never full matrices.
 *
 * @example
 * ```ts
 * await lake.write('attention_summary', [{ run_id: 'r1', step: 1000, sample_set: 'fixed_v1', sample_id: '*',
 *   layer: 2, head: 5, entropy: 1.7, top_k: 5, top_k_mass: 0.81 }]);
 * ```
 */
export const ATTENTION_SUMMARY = defineDataset({
  name: 'attention_summary',
  description: 'head-level attention summaries: entropy, top-k mass, diagonal and band mass',
  partitionBy: [RUN_ID],
  partitionReason:
    `${RUN_PARTITION} Attention has one module, and sample_set is usually single, so further ` +
    'levels would only multiply files.',
  sortBy: ['layer', 'head', 'step'],
  columns: [
    STEP,
    key('sample_set', t.string, 'probe set the attention was measured on'),
    key('sample_id', t.string, `sample, or '${ALL_SAMPLES}' for the mean over the set`),
    LAYER,
    key('head', t.int16, 'attention head index'),
    value('entropy', t.float64, 'mean attention entropy over query positions (nats)'),
    value('top_k', t.int16, 'k of top_k_mass'),
    value('top_k_mass', t.float64, 'mean attention mass on the k most-attended keys'),
    value('diagonal_mass', t.float64, 'mean attention mass on the query’s own position'),
    value('band_width', t.int16, 'half-width w of the band for band_mass'),
    value('band_mass', t.float64, 'mean attention mass within w positions before the query'),
    value('first_token_mass', t.float64, 'mean attention mass on the first token (attention sink)'),
  ],
  checks: [
    {
      name: 'mass_shares',
      description: 'masses are shares in [0, 1]',
      sql:
        'coalesce(top_k_mass BETWEEN 0 AND 1 + 1e-9, true) AND coalesce(diagonal_mass BETWEEN 0 AND 1 + 1e-9, true) AND ' +
        'coalesce(band_mass BETWEEN 0 AND 1 + 1e-9, true) AND coalesce(first_token_mass BETWEEN 0 AND 1 + 1e-9, true)',
      columns: ['top_k_mass', 'diagonal_mass', 'band_mass', 'first_token_mass'],
    },
    {
      name: 'entropy_non_negative',
      description: 'entropy is not negative',
      sql: 'entropy IS NULL OR entropy >= 0',
      columns: ['entropy'],
    },
  ],
});

/** The eleven Squiggle Matching datasets, in the seed's order. */
export const SQUIGGLE_DATASETS: readonly DatasetDefinition[] = [
  RUNS,
  CHECKPOINTS,
  SAMPLES,
  METRICS_SCALAR,
  GEOMETRY_STATE,
  GEOMETRY_DYNAMICS,
  EVENTS,
  SIGNATURES,
  MATCHES,
  EMBEDDINGS,
  ATTENTION_SUMMARY,
];

/**
 * The Squiggle Matching schema set: open a lake with `{ schema: 'squiggle' }` to get a typed,
 * validated view of every dataset.
 *
 * @example
 * ```ts
 * const lake = await openLake('squiggle-lake', { schema: SQUIGGLE_SCHEMA_SET.name });
 * ```
 */
export const SQUIGGLE_SCHEMA_SET: SchemaSet = registerSchemaSet({
  name: 'squiggle',
  description: 'Squiggle Matching: runs, checkpoints, metrics, geometry, events, signatures and matches',
  registry: new DatasetRegistry([...SQUIGGLE_DATASETS, ...EVAL_DATASETS]),
  enums: SQUIGGLE_ENUMS,
  views: EVAL_VIEWS,
});

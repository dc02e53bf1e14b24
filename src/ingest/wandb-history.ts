import { InputFileError, partitionDirectory, type Row } from '../lake/index.js';
import { parseWandbJson, WandbJsonError } from './wandb-json.js';
import type { WandbFile } from './wandb-read.js';
import type { WandbSkipCounter } from './wandb-skips.js';

/** The `metrics_scalar` rows of one run (without `run_id`, which is the partition). */
export interface WandbRunMetrics {
  readonly runId: string;
  readonly rows: Row[];
}

/** The history of a W&B export as long-form `metrics_scalar` rows, grouped by run. */
export interface WandbHistory {
  readonly runs: Map<string, WandbRunMetrics>;
  /** Metric rows per metric name, over all runs (for `--wide auto`). */
  readonly metricCounts: Map<string, number>;
}

/** What a history value is, for the check that a key's type does not change midway. */
type ValueCategory = 'number' | 'string' | 'list' | 'media' | 'dict';

interface FirstSeen {
  readonly category: ValueCategory;
  readonly file: string;
  readonly where: string;
}

// Top-level keys that identify the row rather than being metrics. In dr_wandb's record form
// (`step`, `timestamp`, `runtime`, `metrics`, `wandb_metadata`) those names are structure too.
const IDENTITY_KEYS = new Set(['run_id', 'id']);
const RECORD_FORM_KEYS = new Set(['step', 'timestamp', 'runtime', 'metrics', 'wandb_metadata']);
const NUMBER_WORDS: Record<string, number> = {
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};
const SPLIT_PREFIXES: Record<string, string> = {
  train: 'train',
  val: 'val',
  valid: 'val',
  validation: 'val',
};

/**
 * Turns W&B history files into long-form `metrics_scalar` rows: every metric of every logged step
 * becomes `(step, metric_name, value, split, wall_time)`. Accepts W&B's own row shape (`_step`,
 * `_runtime`, `_timestamp` and the metrics as keys or columns) and dr_wandb's record shape
 * (`run_id`, `step`, `timestamp`, `runtime`, a `metrics` dict, `wandb_metadata`).
 *
 * - `_step` (or `step`) is required and must be an integer; `_timestamp` (epoch seconds) becomes
 *   `wall_time`; `_runtime` is kept as the metric `_runtime` (seconds since the run started).
 * - Nested dicts flatten to dotted names (`{"eval": {"acc": 0.5}}` → `eval.acc`).
 * - NaN/±Infinity (as JSON tokens, Parquet doubles or the strings `"NaN"`, `"inf"`, …) are kept;
 *   booleans become 1/0. Other strings, lists, media (`_type`) dicts, nulls and internal `_` keys
 *   are counted in `skips` by reason and key.
 * - A key whose kind of value changes within a run (number, then text; number, then a dict) is
 *   refused, naming both places.
 * - A metric name's first `/`-separated part sets `split`: `train` → train; `val`, `valid`,
 *   `validation` → val; anything else leaves it null.
 *
 * @example
 * ```ts
 * const { runs } = buildWandbHistory([await readWandbFile('runs_history.jsonl')], new WandbSkipCounter());
 * ```
 */
export function buildWandbHistory(
  files: readonly WandbFile[],
  skips: WandbSkipCounter,
  runId?: string,
): WandbHistory {
  const runs = new Map<string, WandbRunMetrics>();
  const metricCounts = new Map<string, number>();
  const seen = new Map<string, Map<string, FirstSeen>>();

  for (const { file, records } of files) {
    for (const { values, where } of records) {
      const fail = (reason: string): never => {
        throw new InputFileError(file, `${where}: ${reason}`);
      };
      const id = runIdOf(values.run_id ?? values.id ?? runId, fail);
      const recordForm = values.metrics !== undefined && values._step === undefined;
      const step = stepOf(recordForm ? values.step : values._step, recordForm ? 'step' : '_step', fail);
      const wallTime = wallTimeOf(recordForm ? values.timestamp : values._timestamp, fail);
      let run = runs.get(id);
      if (!run) {
        run = { runId: id, rows: [] };
        runs.set(id, run);
      }
      let categories = seen.get(id);
      if (!categories) {
        categories = new Map();
        seen.set(id, categories);
      }
      const rows = run.rows;
      const runCategories = categories;

      const emit = (name: string, value: number): void => {
        rows.push({ step, metric_name: name, value, split: splitOf(name), wall_time: wallTime });
        metricCounts.set(name, (metricCounts.get(name) ?? 0) + 1);
      };
      const note = (name: string, category: ValueCategory): void => {
        const first = runCategories.get(name);
        if (!first) {
          runCategories.set(name, { category, file, where });
        } else if (first.category !== category) {
          fail(
            `column "${name}" of run ${id} holds ${describeCategory(category)}, but ${first.where}` +
              `${first.file === file ? '' : ` of ${first.file}`} held ${describeCategory(first.category)}; ` +
              'a metric cannot change type midway (ints, floats, booleans and NaN/Infinity all count as numbers)',
          );
        }
      };
      const visit = (name: string, value: unknown): void => {
        if (value === null || value === undefined) {
          skips.add('null', name);
          return;
        }
        if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
          note(name, 'number');
          emit(name, typeof value === 'boolean' ? (value ? 1 : 0) : Number(value));
          return;
        }
        if (typeof value === 'string') {
          const word = NUMBER_WORDS[value.trim().toLowerCase()];
          if (word !== undefined) {
            note(name, 'number');
            emit(name, word);
          } else {
            note(name, 'string');
            skips.add('string', name);
          }
          return;
        }
        if (Array.isArray(value)) {
          note(name, 'list');
          skips.add('list', name);
          return;
        }
        if (value instanceof Date) {
          note(name, 'string');
          skips.add('string', name);
          return;
        }
        if (typeof value === 'object') {
          const entries = Object.entries(value);
          if ('_type' in value) {
            note(name, 'media');
            skips.add('media', name);
          } else if (entries.length === 0) {
            note(name, 'dict');
            skips.add('empty', name);
          } else {
            note(name, 'dict');
            for (const [key, item] of entries) visit(`${name}.${key}`, item);
          }
        }
      };

      const runtime = recordForm ? values.runtime : values._runtime;
      if (runtime !== undefined) visit('_runtime', runtime);
      for (const [key, value] of Object.entries(values)) {
        if (IDENTITY_KEYS.has(key) || (recordForm && RECORD_FORM_KEYS.has(key))) continue;
        if (key.startsWith('_')) {
          if (key !== '_step' && key !== '_timestamp' && key !== '_runtime') skips.add('internal', key);
          continue;
        }
        visit(key, value);
      }
      if (recordForm) {
        const metrics = jsonObjectOf(values.metrics, 'metrics', fail);
        for (const [key, value] of Object.entries(metrics)) {
          if (key.startsWith('_')) skips.add('internal', key);
          else visit(key, value);
        }
        if (values.wandb_metadata !== undefined && values.wandb_metadata !== null) {
          skips.add('internal', 'wandb_metadata');
        }
      }
    }
  }
  return { runs, metricCounts };
}

function describeCategory(category: ValueCategory): string {
  return { number: 'a number', string: 'text', list: 'a list', media: 'a W&B media object', dict: 'a dict' }[
    category
  ];
}

/**
 * The run id of a W&B row: text, or an integer written as text. It names a partition directory, so
 * it is checked here, before anything is written.
 *
 * @example
 * ```ts
 * runIdOf('3k9x2a1b', (reason) => { throw new Error(reason); }); // '3k9x2a1b'
 * ```
 */
export function runIdOf(value: unknown, fail: (reason: string) => never): string {
  if (value === undefined || value === null || value === '') {
    return fail('no run_id (or id) in this row; pass --run-id for a single-run history file');
  }
  const id = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof id !== 'string') return fail(`column "run_id": ${JSON.stringify(value)} is not text`);
  try {
    partitionDirectory([['run_id', id]]);
  } catch (error) {
    return fail(`column "run_id": ${(error as Error).message}`);
  }
  return id;
}

function stepOf(value: unknown, column: string, fail: (reason: string) => never): number | bigint {
  if (value === undefined || value === null) {
    return fail(`no "${column}": every history row needs its step`);
  }
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  return fail(`column "${column}": ${JSON.stringify(value)} is not a non-negative integer step`);
}

function wallTimeOf(value: unknown, fail: (reason: string) => never): Date | null {
  if (value === undefined || value === null) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? new Date(value * 1000) : null;
  if (typeof value === 'string') {
    const parsed = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
    if (!Number.isNaN(parsed.getTime())) return parsed;
  }
  return fail(`column "_timestamp": ${JSON.stringify(value)} is not epoch seconds or an ISO-8601 time`);
}

function splitOf(name: string): string | null {
  const slash = name.indexOf('/');
  return slash > 0 ? (SPLIT_PREFIXES[name.slice(0, slash).toLowerCase()] ?? null) : null;
}

/**
 * A dict-valued column of an export: an object, or JSON text holding one (Parquet exports store
 * dicts as JSON strings). Anything else is refused naming the column.
 *
 * @example
 * ```ts
 * jsonObjectOf('{"lr": 0.1}', 'config', fail); // { lr: 0.1 }
 * ```
 */
export function jsonObjectOf(
  value: unknown,
  column: string,
  fail: (reason: string) => never,
): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return {};
    try {
      parsed = parseWandbJson(value);
    } catch (error) {
      if (error instanceof WandbJsonError) {
        return fail(`column "${column}": invalid JSON at column ${error.column}: ${error.reason}`);
      }
      throw error;
    }
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed) || parsed instanceof Date) {
    return fail(
      `column "${column}": expected a dict, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`,
    );
  }
  return parsed as Record<string, unknown>;
}

import { InputFileError, partitionDirectory, type Row } from '../lake/index.js';
import { parseWandbJson, WandbJsonError } from './wandb-json.js';
import type { WandbFile } from './wandb-read.js';
import type { WandbSkipCounter } from './wandb-skips.js';
import { epochSecondsTime, parseIsoTime, WandbTime } from './wandb-time.js';

/** The `metrics_scalar` rows of one run (without `run_id`, which is the partition). */
export interface WandbRunMetrics {
  readonly runId: string;
  readonly rows: Row[];
}

/** A column of zoneless times, and the zone it was read in. */
export interface WandbNaiveTimes {
  readonly file: string;
  readonly column: string;
  /** How many values had no zone. */
  readonly count: number;
  /** The IANA zone they were read in: `--timezone`, or `UTC` when none was given. */
  readonly readAs: string;
}

/** The history of a W&B export as long-form `metrics_scalar` rows, grouped by run. */
export interface WandbHistory {
  readonly runs: Map<string, WandbRunMetrics>;
  /** Metric rows per metric name, over all runs (for `--wide auto`). */
  readonly metricCounts: Map<string, number>;
  /** Columns whose times had no zone (dr_wandb 2025-09's local `timestamp`), per file. */
  readonly naiveTimes: WandbNaiveTimes[];
}

/** Options for {@link buildWandbHistory}. */
export interface WandbHistoryOptions {
  /** The run of rows that carry no `run_id`/`id` (a single-run history file). */
  readonly runId?: string;
  /** The IANA zone zoneless history times are read in (default UTC, noted in `naiveTimes`). */
  readonly timeZone?: string;
}

/** What a history value is, for the check that a key's type does not change midway. */
type ValueCategory = 'number' | 'string' | 'list' | 'media' | 'dict';

interface FirstSeen {
  readonly category: ValueCategory;
  readonly file: string;
  readonly where: string;
}

/**
 * The three row shapes of a history file:
 * - `wandb`: W&B's own (`_step`, `_runtime`, `_timestamp`, the metrics as keys); dr_wandb's 2026-03
 *   sync engine keeps this shape and puts the metrics in a `metrics` dict (JSON text in Parquet)
 *   and the other `_` keys in `extra_cols`;
 * - `record`: dr_wandb's `HistoryEntryRecord`/`HistoryRow` (`step`, `timestamp`, `runtime`,
 *   `wandb_metadata`, a `metrics` dict, 2026-04's `extra`);
 * - `spread`: dr_wandb's 2025-09 folder export (`id`, `run_id`, `step`, `timestamp`, `runtime`, one
 *   column per metric, where pandas wrote "nan" for a step that did not log a text column).
 */
type Shape = 'wandb' | 'record' | 'spread';

const STRUCTURE: Record<Shape, ReadonlySet<string>> = {
  wandb: new Set(['run_id', 'id', '_step', '_timestamp', '_runtime', 'metrics', 'extra_cols']),
  record: new Set(['run_id', 'id', 'step', 'timestamp', 'runtime', 'metrics', 'wandb_metadata', 'extra']),
  spread: new Set(['run_id', 'id', 'step', 'timestamp', 'runtime', 'wandb_metadata']),
};

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
const NUMERIC_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function shapeOf(values: Record<string, unknown>): Shape {
  if (values._step !== undefined) return 'wandb';
  if (values.metrics !== undefined) return 'record';
  if (values.run_id !== undefined && values.step !== undefined) return 'spread';
  return 'wandb';
}

/**
 * Turns W&B history files into long-form `metrics_scalar` rows: every metric of every logged step
 * becomes `(step, metric_name, value, split, wall_time)`. Reads W&B's own row shape (`_step`,
 * `_runtime`, `_timestamp` and the metrics as keys or columns, or in a `metrics` dict or JSON
 * text), dr_wandb's record shape (`run_id`, `step`, `timestamp`, `runtime`, a `metrics` dict,
 * `wandb_metadata`) and dr_wandb's 2025-09 folder shape (one column per metric).
 *
 * - `_step` (or `step`) is required and must be an integer; `_timestamp` (epoch seconds) or
 *   `timestamp` becomes `wall_time`, to the microsecond (ISO text); a time without a zone is read in
 *   `timeZone` (default UTC) and reported in `naiveTimes`; `_runtime` is kept as the metric
 *   `_runtime` (seconds since the run started).
 * - Nested dicts flatten to dotted names (`{"eval": {"acc": 0.5}}` → `eval.acc`).
 * - NaN/±Infinity (as JSON tokens, Parquet doubles or the strings `"NaN"`, `"inf"`, …) are kept;
 *   booleans become 1/0. Other strings, lists, media (`_type`) dicts, nulls and internal `_` keys
 *   are counted in `skips` by reason and key.
 * - In the 2025-09 folder shape a null or the text `"nan"` is a step that did not log the metric
 *   (no row, not counted); `"True"`/`"False"` are 1/0 and JSON text holding a dict or list is parsed.
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
  options: WandbHistoryOptions = {},
): WandbHistory {
  const runs = new Map<string, WandbRunMetrics>();
  const metricCounts = new Map<string, number>();
  const seen = new Map<string, Map<string, FirstSeen>>();
  const naiveTimes: WandbNaiveTimes[] = [];

  for (const { file, format, records } of files) {
    const naiveCount = new Map<string, number>();
    for (const { values, where } of records) {
      const fail = (reason: string): never => {
        throw new InputFileError(file, `${where}: ${reason}`);
      };
      const shape = shapeOf(values);
      const id = runIdOf(
        values.run_id ?? (shape === 'spread' ? undefined : values.id) ?? options.runId,
        fail,
      );
      const stepColumn = shape === 'wandb' ? '_step' : 'step';
      const step = stepOf(values[stepColumn], stepColumn, fail);
      const timeColumn = shape === 'wandb' ? '_timestamp' : 'timestamp';
      const time = wallTimeOf(values[timeColumn], timeColumn, fail);
      let wallTime: string | null = null;
      if (time) {
        if (time.naive) naiveCount.set(timeColumn, (naiveCount.get(timeColumn) ?? 0) + 1);
        wallTime = (time.naive && options.timeZone ? time.inZone(options.timeZone) : time).toIso();
      }
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
        rows.push({ step, metric_name: name, value, split: metricSplit(name), wall_time: wallTime });
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
        if (value instanceof Date || value instanceof WandbTime) {
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
      const visitTop = (key: string, value: unknown): void => {
        if (key.startsWith('_')) {
          skips.add('internal', key);
          return;
        }
        // Only pandas wrote the folder export's placeholders; JSON keeps its types.
        if (shape !== 'spread' || format !== 'parquet') {
          visit(key, value);
          return;
        }
        const decoded = decodeSpreadValue(value);
        if (decoded !== NOT_LOGGED) visit(key, decoded);
      };

      const runtime = values[shape === 'wandb' ? '_runtime' : 'runtime'];
      if (runtime !== undefined && !(shape === 'spread' && runtime === null)) visit('_runtime', runtime);
      const structure = STRUCTURE[shape];
      for (const [key, value] of Object.entries(values)) {
        if (structure.has(key)) continue;
        if (shape === 'wandb' && key.startsWith('_')) {
          if (key !== '_step' && key !== '_timestamp' && key !== '_runtime') skips.add('internal', key);
          continue;
        }
        visitTop(key, value);
      }
      // A `metrics` dict (or its JSON text) holds the metrics, whatever the step column is called.
      const metrics = values.metrics;
      if (metrics !== undefined) {
        if (shape === 'wandb' && !isDictLike(metrics)) visit('metrics', metrics);
        else
          for (const [key, value] of Object.entries(jsonObjectOf(metrics, 'metrics', fail)))
            visitTop(key, value);
      }
      // W&B's other `_` keys, which dr_wandb moves into `extra_cols` (2026-03) or `extra` (2026-04).
      const extraColumn = shape === 'wandb' ? 'extra_cols' : shape === 'record' ? 'extra' : undefined;
      const extra = extraColumn === undefined ? undefined : values[extraColumn];
      if (extraColumn !== undefined && extra !== undefined && extra !== null) {
        if (isDictLike(extra)) {
          for (const key of Object.keys(jsonObjectOf(extra, extraColumn, fail))) skips.add('internal', key);
        } else {
          visit(extraColumn, extra);
        }
      }
      if (shape !== 'wandb' && values.wandb_metadata !== undefined && values.wandb_metadata !== null) {
        skips.add('internal', 'wandb_metadata');
      }
    }
    for (const [column, count] of naiveCount) {
      naiveTimes.push({ file, column, count, readAs: options.timeZone ?? 'UTC' });
    }
  }
  return { runs, metricCounts, naiveTimes };
}

const NOT_LOGGED = Symbol('not logged');

// dr_wandb 2025-09 spread each metric into a column with pandas and wrote every non-float column
// through `str()`: a step that did not log the metric is null (float columns) or "nan" (others),
// booleans are "True"/"False", dicts and lists JSON text, and numbers in a mixed column their text.
function decodeSpreadValue(value: unknown): unknown {
  if (value === null || value === undefined) return NOT_LOGGED;
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (text === 'nan') return NOT_LOGGED;
  if (text === 'True') return true;
  if (text === 'False') return false;
  if (NUMERIC_TEXT.test(text)) return Number(text);
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return parseWandbJson(text);
    } catch {
      return value;
    }
  }
  return value;
}

function isDictLike(value: unknown): boolean {
  if (typeof value === 'string') return /^\s*\{/.test(value);
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof WandbTime)
  );
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

function wallTimeOf(value: unknown, column: string, fail: (reason: string) => never): WandbTime | null {
  if (value === undefined || value === null) return null;
  let time: WandbTime | undefined;
  if (value instanceof WandbTime) time = value;
  else if (value instanceof Date && !Number.isNaN(value.getTime())) {
    time = new WandbTime(BigInt(value.getTime()) * 1000n, false);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    time = epochSecondsTime(value);
  } else if (typeof value === 'string') {
    time = parseIsoTime(value);
    const loose = time ? Number.NaN : Date.parse(value);
    if (!Number.isNaN(loose)) time = new WandbTime(BigInt(loose) * 1000n, false);
  }
  if (time && !time.representable) {
    return fail(`column "${column}": ${describeTime(value)} is outside the years -271821 to 275760`);
  }
  return time ?? fail(`column "${column}": ${describeTime(value)} is not epoch seconds or an ISO-8601 time`);
}

function describeTime(value: unknown): string {
  if (value instanceof WandbTime) return `the timestamp ${value.micros} µs`;
  return JSON.stringify(value) ?? String(value);
}

/**
 * The split a metric name implies: its first `/`-separated part, `train` → train; `val`, `valid`,
 * `validation` → val; otherwise null.
 *
 * @example
 * ```ts
 * metricSplit("val/loss"); // "val"
 * ```
 */
export function metricSplit(name: string): string | null {
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

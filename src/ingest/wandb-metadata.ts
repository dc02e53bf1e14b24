import { type ColumnType, columnTypeSql, InputFileError, t } from '../lake/index.js';
import { jsonObjectOf, runIdOf } from './wandb-history.js';
import { parseWandbJson, toJsonText } from './wandb-json.js';
import type { WandbFile } from './wandb-read.js';
import type { WandbSkipCounter } from './wandb-skips.js';
import { epochSecondsTime, parseIsoTime, WandbTime } from './wandb-time.js';

/** A `runs` row built from one metadata record, with where the record came from. */
export interface WandbRunRow {
  readonly runId: string;
  readonly row: Record<string, unknown>;
  readonly file: string;
  readonly where: string;
}

/** A flattened column whose values had different types across runs, and the type it was given. */
export interface WandbWidening {
  readonly column: string;
  /** The value types seen, e.g. `['BIGINT', 'DOUBLE']`. */
  readonly from: readonly string[];
  /** `DOUBLE`, or `VARCHAR` holding each value as JSON text. */
  readonly to: 'DOUBLE' | 'VARCHAR';
}

/** The `runs` rows of an export's metadata files. */
export interface WandbRuns {
  readonly rows: WandbRunRow[];
  readonly widened: WandbWidening[];
  /** The type of every flattened (extra) column, after widening. */
  readonly columnTypes: Map<string, ColumnType>;
}

// The kind of one flattened leaf: typed columns come from these.
type LeafKind = 'int' | 'double' | 'bool' | 'string' | 'timestamp' | 'json';

interface Leaf {
  readonly run: number;
  readonly column: string;
  readonly value: unknown;
  readonly kind: LeafKind;
}

const KIND_SQL: Record<LeafKind, string> = {
  int: 'BIGINT',
  double: 'DOUBLE',
  bool: 'BOOLEAN',
  string: 'VARCHAR',
  timestamp: 'TIMESTAMP WITH TIME ZONE',
  json: 'JSON text',
};
const KIND_TYPE: Record<LeafKind, ColumnType> = {
  int: t.int64,
  double: t.float64,
  bool: t.bool,
  string: t.string,
  timestamp: t.timestamp,
  json: t.string,
};

// Top-level fields with a place of their own; every other scalar field becomes a column of its
// own name, every other dict or list goes to system_json.
const HANDLED = new Set([
  'run_id',
  'id',
  'name',
  'run_name',
  'state',
  'project',
  'created_at',
  'createdAt',
  'tags',
  'group',
  'config',
  'summary',
  'summary_metrics',
  'wandb_metadata',
  'metadata',
]);

/**
 * Turns W&B run-metadata records into `runs` rows:
 * - identity: `run_id`/`id` → `run_id`, `name`/`run_name` → `run_name`, `project`, `state` →
 *   `status`, `created_at` → `started_at`, `tags` (a list of text), `group` → `run_group`;
 * - `config`: `{value, desc}` wrappers unwrapped, top-level `_` keys (`_wandb`) dropped (counted);
 *   the result is `config_json`, and its scalar leaves become `config.<dotted.key>` columns (lists
 *   as JSON text); an integer `seed` also fills the `seed` column;
 * - `summary`: scalar leaves become `summary.<dotted.key>` columns; what is not a scalar leaf (lists,
 *   media objects with `_type`, `_`-prefixed keys like `_wandb`, `_runtime`) is kept in
 *   `summary_json`;
 * - `wandb_metadata`/`metadata` → `env_json`; other dicts and lists (`system_metrics`,
 *   `system_attrs`, `sweep_info`, …) → `system_json`; other scalar fields keep their name.
 *
 * A flattened column takes the type of its values over all runs: BIGINT, DOUBLE, BOOLEAN, VARCHAR
 * or TIMESTAMP; BIGINT with DOUBLE widens to DOUBLE, any other mix to VARCHAR holding each value as
 * JSON text (reported in `widened`).
 *
 * @example
 * ```ts
 * const { rows } = buildWandbRuns([await readWandbFile('runs_metadata.jsonl')], new WandbSkipCounter());
 * ```
 */
export function buildWandbRuns(files: readonly WandbFile[], skips: WandbSkipCounter): WandbRuns {
  const rows: WandbRunRow[] = [];
  const leaves: Leaf[] = [];

  for (const merged of mergeRunRecords(files)) {
    const { runId, values, file, where } = merged;
    const fail = (reason: string): never => {
      throw new InputFileError(file, `${where}: ${reason}`);
    };
    const run = rows.length;
    const row: Record<string, unknown> = { run_id: runId };
    const addLeaf = (column: string, value: unknown): void => {
      const kind = leafKind(value);
      if (value instanceof WandbTime && !value.representable) {
        fail(`column "${column}": the timestamp ${value.micros} µs is outside the years -271821 to 275760`);
      }
      if (kind) leaves.push({ run, column, value: value instanceof WandbTime ? value.toIso() : value, kind });
    };

    // dr_wandb 2025-09 keeps tags and group only in system_attrs (W&B's raw run attributes).
    const attrs = dictOrEmpty(values.system_attrs);
    row.run_name = textOf(values.name ?? values.run_name, 'name', fail);
    row.project = textOf(values.project, 'project', fail);
    row.status = textOf(values.state, 'state', fail);
    row.started_at = timeOf(values.created_at ?? values.createdAt, 'created_at', fail);
    row.tags = tagsOf(values.tags ?? attrs.tags, fail);
    row.run_group = textOf(values.group ?? attrs.group, 'group', fail);

    const rawConfig = jsonObjectOf(values.config, 'config', fail);
    const config: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rawConfig)) {
      if (WANDB_CONFIG_INTERNAL.has(key)) {
        skips.add('internal', `config.${key}`);
        continue;
      }
      config[key] = unwrap(value);
    }
    row.config_json = Object.keys(config).length > 0 || values.config != null ? toJsonText(config) : null;
    flatten(config, 'config', (column, value) => addLeaf(column, value), 'keep-lists');
    const seed = config.seed;
    row.seed = typeof seed === 'number' && Number.isSafeInteger(seed) ? seed : null;

    const summary = jsonObjectOf(values.summary ?? values.summary_metrics, 'summary', fail);
    const rest: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(summary)) {
      if (key.startsWith('_')) rest[key] = value;
      else flatten({ [key]: value }, 'summary', addLeaf, 'lists-to-blob', rest);
    }
    row.summary_json = Object.keys(rest).length > 0 ? toJsonText(rest) : null;

    const env = values.wandb_metadata ?? values.metadata;
    row.env_json =
      env === undefined || env === null ? null : toJsonText(parseMaybeJson(env, 'wandb_metadata', fail));
    const system: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (HANDLED.has(key) || value === undefined) continue;
      const parsed = typeof value === 'string' ? tryJson(value) : value;
      const kind = leafKind(parsed);
      if (kind && kind !== 'json') addLeaf(key, parsed);
      else if (parsed !== null) system[key] = parsed;
    }
    // dr_wandb 2026-03 writes `summary` and `summary_metrics`, both W&B's summary; keep the second
    // only if it says something else.
    if (values.summary != null && values.summary_metrics != null) {
      const other = jsonObjectOf(values.summary_metrics, 'summary_metrics', fail);
      if (toJsonText(other) !== toJsonText(summary)) system.summary_metrics = other;
    }
    const sweep = system.sweep_info;
    if (
      sweep &&
      typeof sweep === 'object' &&
      typeof (sweep as Record<string, unknown>).sweep_id === 'string'
    ) {
      addLeaf('sweep_id', (sweep as Record<string, unknown>).sweep_id);
    }
    row.system_json = Object.keys(system).length > 0 ? toJsonText(system) : null;
    rows.push({ runId, row, file, where });
  }

  const { widened, columnTypes } = typeLeaves(rows, leaves);
  return { rows, widened, columnTypes };
}

// W&B's own config keys (`wandb.apis.public.Run` moves them out of `run.config`); every other
// top-level key, `_`-prefixed or not (Hydra's `_target_`), is the user's configuration.
const WANDB_CONFIG_INTERNAL = new Set(['_wandb', 'wandb_version']);

interface MergedRecord {
  readonly runId: string;
  readonly values: Record<string, unknown>;
  readonly file: string;
  readonly where: string;
}

/**
 * One record per run. dr_wandb 2025-09 writes each run into `runs_metadata.parquet` and again into
 * six component files (`runs_metadata_config.parquet`, …) that repeat its identity columns and
 * hold one dict each; records of one run from different files are merged field by field, and a
 * field two files give different values is refused, naming both. Within one file a run is listed
 * once. dr_wandb 2026-04 nests the run under `run` (`{"run": {…}, "exported_at": …}`).
 */
function mergeRunRecords(files: readonly WandbFile[]): MergedRecord[] {
  const byRun = new Map<string, MergedRecord & { readonly origin: Map<string, string> }>();
  for (const { file, records } of files) {
    for (const record of records) {
      const fail = (reason: string): never => {
        throw new InputFileError(file, `${record.where}: ${reason}`);
      };
      const values = unnestRun(record.values, fail);
      const runId = runIdOf(values.run_id ?? values.id, fail);
      const earlier = byRun.get(runId);
      if (!earlier) {
        const origin = new Map(Object.keys(values).map((k) => [k, `${record.where} of ${file}`]));
        byRun.set(runId, { runId, values: { ...values }, file, where: record.where, origin });
        continue;
      }
      if (earlier.file === file) {
        fail(`run ${runId} appears twice (first at ${earlier.where}); one metadata row per run`);
      }
      for (const [key, value] of Object.entries(values)) {
        const held = earlier.values[key];
        if (held === undefined || held === null) {
          earlier.values[key] = value;
          earlier.origin.set(key, `${record.where} of ${file}`);
        } else if (value !== undefined && value !== null && !sameValue(held, value)) {
          fail(
            `column "${key}" of run ${runId} differs from ${earlier.origin.get(key)}; ` +
              'files describing the same run must agree',
          );
        }
      }
    }
  }
  return [...byRun.values()];
}

function unnestRun(
  values: Record<string, unknown>,
  fail: (reason: string) => never,
): Record<string, unknown> {
  if (values.run_id !== undefined || values.id !== undefined || values.run === undefined) return values;
  const run = values.run;
  if (run === null || typeof run !== 'object' || Array.isArray(run) || run instanceof WandbTime) {
    return fail('column "run": expected the run as a dict (dr_wandb 2026-04 runs.jsonl)');
  }
  const { run: _nested, ...outer } = values;
  return { ...(run as Record<string, unknown>), ...outer };
}

function dictOrEmpty(value: unknown): Record<string, unknown> {
  const parsed = typeof value === 'string' ? tryJson(value) : value;
  return parsed !== null &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    !(parsed instanceof WandbTime)
    ? (parsed as Record<string, unknown>)
    : {};
}

// Two files agree on a field when they hold the same value, whatever the spelling: JSON text and
// its dict, keys in another order (PostgreSQL's JSONB reorders them), `5000000000.0` and `5000000000`.
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof WandbTime || b instanceof WandbTime) {
    return a instanceof WandbTime && b instanceof WandbTime && a.micros === b.micros;
  }
  return canonicalText(a) === canonicalText(b);
}

function canonicalText(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v !== null && typeof v === 'object' && !(v instanceof WandbTime) && !(v instanceof Date)) {
      const entries = Object.entries(v as Record<string, unknown>).sort(([x], [y]) =>
        x < y ? -1 : x > y ? 1 : 0,
      );
      return Object.fromEntries(entries.map(([k, item]) => [k, sorted(item)]));
    }
    return v;
  };
  return toJsonText(sorted(typeof value === 'string' ? tryJson(value) : value));
}

// Groups leaves by column, picks each column's type, and sets the values on the rows.
function typeLeaves(rows: WandbRunRow[], leaves: readonly Leaf[]) {
  const byColumn = new Map<string, Leaf[]>();
  for (const leaf of leaves) {
    const list = byColumn.get(leaf.column);
    if (list) list.push(leaf);
    else byColumn.set(leaf.column, [leaf]);
  }
  const widened: WandbWidening[] = [];
  const columnTypes = new Map<string, ColumnType>();
  for (const [column, list] of byColumn) {
    const kinds = new Set(list.map((l) => l.kind));
    let kind: LeafKind;
    if (kinds.size === 1) kind = list[0]?.kind ?? 'json';
    else if (kinds.size === 2 && kinds.has('int') && kinds.has('double')) kind = 'double';
    else kind = 'json';
    if (kinds.size > 1) {
      widened.push({
        column,
        from: [...kinds].map((k) => KIND_SQL[k]).sort(),
        to: kind === 'double' ? 'DOUBLE' : 'VARCHAR',
      });
    }
    columnTypes.set(column, KIND_TYPE[kind]);
    for (const leaf of list) {
      const row = rows[leaf.run]?.row;
      if (row) row[column] = kind === 'json' ? toJsonText(leaf.value) : leaf.value;
    }
  }
  return { widened, columnTypes };
}

/**
 * Re-types flattened columns to VARCHAR JSON text where the lake already holds them as VARCHAR
 * (the documented widening); refuses a column the lake holds with a type these values cannot
 * join, naming the column, both types and the first record.
 *
 * @example
 * ```ts
 * reconcileWithLake(runs, new Map([['config.lr', t.string]]));
 * ```
 */
export function reconcileWithLake(
  runs: WandbRuns,
  lakeTypes: ReadonlyMap<string, ColumnType>,
): WandbWidening[] {
  const widened: WandbWidening[] = [];
  for (const [column, type] of runs.columnTypes) {
    const existing = lakeTypes.get(column);
    if (!existing || existing.kind === 'null' || existing.kind === type.kind) continue;
    const numeric = new Set(['int16', 'int32', 'int64', 'float32', 'float64']);
    if (numeric.has(existing.kind) && numeric.has(type.kind)) continue;
    const first = runs.rows.find((r) => r.row[column] !== undefined && r.row[column] !== null);
    if (existing.kind === 'string' && type.kind !== 'timestamp') {
      for (const r of runs.rows) {
        const value = r.row[column];
        if (value !== undefined && value !== null && typeof value !== 'string')
          r.row[column] = toJsonText(value);
      }
      runs.columnTypes.set(column, t.string);
      widened.push({ column, from: [columnTypeSql(type), 'VARCHAR (in the lake)'], to: 'VARCHAR' });
      continue;
    }
    throw new InputFileError(
      first?.file ?? '',
      `${first?.where ?? ''}: column "${column}" is ${columnTypeSql(type)} here, but the lake's runs dataset ` +
        `holds it as ${columnTypeSql(existing)}; these cannot be widened to one type`,
    );
  }
  return widened;
}

function leafKind(value: unknown): LeafKind | undefined {
  if (value === null || value === undefined) return undefined;
  switch (typeof value) {
    case 'number':
      return Number.isSafeInteger(value) ? 'int' : 'double';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'string':
      return 'string';
    default:
      return value instanceof Date || value instanceof WandbTime ? 'timestamp' : 'json';
  }
}

// Nested dicts become dotted names. A list (or an empty dict) is a leaf kept as JSON text in
// config; in summary it goes to the blob (at its place), as do media objects (dicts with `_type`).
function flatten(
  value: Record<string, unknown>,
  prefix: string,
  addLeaf: (column: string, value: unknown) => void,
  lists: 'keep-lists' | 'lists-to-blob',
  blob: Record<string, unknown> = {},
  path: readonly string[] = [],
): void {
  for (const [key, item] of Object.entries(value)) {
    const at = [...path, key];
    const isDict =
      item !== null && typeof item === 'object' && !Array.isArray(item) && !(item instanceof Date);
    const isMedia = isDict && '_type' in item;
    if (isDict && Object.keys(item).length > 0 && !(isMedia && lists === 'lists-to-blob')) {
      flatten(item as Record<string, unknown>, prefix, addLeaf, lists, blob, at);
    } else if (lists === 'lists-to-blob' && (Array.isArray(item) || isDict)) {
      setPath(blob, at, item);
    } else {
      addLeaf(`${prefix}.${at.join('.')}`, item);
    }
  }
}

// Puts a summary value that did not become a column back at its place in summary_json.
function setPath(blob: Record<string, unknown>, parts: readonly string[], value: unknown): void {
  let node = blob;
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1) {
      node[part] = value;
      return;
    }
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
}

function unwrap(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date)
    return value;
  const keys = Object.keys(value);
  return keys.includes('value') && keys.every((k) => k === 'value' || k === 'desc')
    ? (value as { value: unknown }).value
    : value;
}

function parseMaybeJson(value: unknown, column: string, fail: (reason: string) => never): unknown {
  if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      const wrapped = jsonObjectOf(`{"list": ${trimmed}}`, column, fail);
      return wrapped.list;
    }
    return jsonObjectOf(value, column, fail);
  }
  return value;
}

// Text that holds a JSON dict or list (Parquet exports store dicts as JSON strings) is parsed;
// any other text, or text that does not parse, stays text.
function tryJson(value: string): unknown {
  if (!/^\s*[[{]/.test(value)) return value;
  try {
    return parseWandbJson(value);
  } catch {
    return value;
  }
}

function textOf(value: unknown, column: string, fail: (reason: string) => never): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return fail(`column "${column}": ${describe(value)} is not text`);
}

// W&B's createdAt is UTC in every export, zoned or not (dr_wandb 2025-09 stored it in a naive
// PostgreSQL timestamp), so a zoneless created_at is read as UTC.
function timeOf(value: unknown, column: string, fail: (reason: string) => never): string | null {
  if (value === undefined || value === null || value === '') return null;
  let time: WandbTime | undefined;
  if (value instanceof WandbTime) time = value;
  else if (value instanceof Date && !Number.isNaN(value.getTime())) {
    time = new WandbTime(BigInt(value.getTime()) * 1000n, false);
  } else if (typeof value === 'number') time = epochSecondsTime(value);
  else if (typeof value === 'string') {
    time = parseIsoTime(value);
    const loose = time ? Number.NaN : Date.parse(value);
    if (!Number.isNaN(loose)) time = new WandbTime(BigInt(loose) * 1000n, false);
  }
  if (time?.representable) return time.toIso();
  return fail(`column "${column}": ${describe(value)} is not an ISO-8601 time or epoch seconds in range`);
}

function tagsOf(value: unknown, fail: (reason: string) => never): string[] | null {
  if (value === undefined || value === null) return null;
  let list: unknown = value;
  if (typeof value === 'string') {
    list = value.trim().startsWith('[')
      ? jsonObjectOf(`{"tags": ${value}}`, 'tags', fail).tags
      : value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  }
  if (!Array.isArray(list)) return fail(`column "tags": ${describe(value)} is not a list of text`);
  return list.map((tag, i) =>
    typeof tag === 'string' ? tag : fail(`column "tags": item ${i} ${describe(tag)} is not text`),
  );
}

function describe(value: unknown): string {
  if (value instanceof Date || value instanceof WandbTime) return 'a timestamp';
  if (Array.isArray(value)) return 'a list';
  if (value !== null && typeof value === 'object') return 'a dict';
  return JSON.stringify(value) ?? String(value);
}

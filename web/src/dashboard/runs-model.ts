// The runs table's data model, kept apart from the DOM: columns (run fields, the union of grid
// parameter keys, and summary columns of metrics), the filter (filter-language.ts) and the
// numeric-aware sort. Values are precomputed once per row so filtering and sorting 10,000 runs
// never re-reads nested params.
import type { ParamValue, RunRow } from './api.js';
import { cellText, formatNumber } from './dom.js';
import { compileFilter, type FilterColumn } from './filter-language.js';

/** A summary statistic of a metric over a run's points. */
export type SummaryStat = 'final' | 'min' | 'max';

/** A summary column: one statistic of one metric, with id `<stat>:<metric>`. */
export interface SummarySpec {
  readonly stat: SummaryStat;
  readonly metric: string;
}

/** A table column: a run field (`field`), a grid parameter (`param`) or a metric summary (`summary`). */
export interface RunColumn extends FilterColumn {
  /** Unique: the field name, `params.<key>` for a parameter, `<stat>:<metric>` for a summary. */
  readonly id: string;
  /** What the header shows. */
  readonly label: string;
  readonly source: 'field' | 'param' | 'summary';
  /** The run field, parameter key, or `<stat>:<metric>`. */
  readonly key: string;
  /**
   * Why the column starts hidden: `empty` (no run has a value), `duplicate` (a run field with a
   * parameter's name: the parameter column shows it). Absent: shown.
   */
  readonly defaultHidden?: 'empty' | 'duplicate';
}

/** A run with its cell values in column order, precomputed for filter and sort. */
export interface RunEntry {
  readonly run: RunRow;
  readonly values: readonly unknown[];
  readonly texts: readonly string[];
  /** All cell texts lower-cased and joined, for free-text search. */
  readonly haystack: string;
}

// Long JSON blobs are still columns (and searchable), but last: params already show the sweep.
const LAST_FIELDS = new Set(['config_json', 'env_json', 'summary_json', 'system_json']);
const STATS: readonly SummaryStat[] = ['final', 'min', 'max'];

/**
 * Parses a summary column id `<stat>:<metric>`; undefined when it is not one.
 *
 * @example
 * ```ts
 * parseSummaryId('final:train/loss'); // { stat: 'final', metric: 'train/loss' }
 * ```
 */
export function parseSummaryId(id: string): SummarySpec | undefined {
  const colon = id.indexOf(':');
  const stat = id.slice(0, colon) as SummaryStat;
  if (colon < 0 || !STATS.includes(stat) || colon === id.length - 1) return undefined;
  return { stat, metric: id.slice(colon + 1) };
}

const isEmptyValue = (v: unknown) =>
  v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

function kindOf(values: Iterable<unknown>): FilterColumn['kind'] {
  let kind: FilterColumn['kind'] = 'empty';
  for (const v of values) {
    if (isEmptyValue(v)) continue;
    const k =
      typeof v === 'number'
        ? 'number'
        : typeof v === 'boolean'
          ? 'boolean'
          : Array.isArray(v)
            ? 'list'
            : 'text';
    if (kind === 'empty') kind = k;
    else if (kind !== k) return 'text';
  }
  return kind;
}

/**
 * Columns for `runs`: run_id and run_name first, then the parameters, the summary columns, and the
 * other run fields (JSON blobs last). A run field that no run fills, or that repeats a parameter's
 * name, is marked `defaultHidden`.
 *
 * @example
 * ```ts
 * runColumns([{ run_id: 'a', params: { lr: 0.1 }, seed: 0 }]).map((c) => c.id); // ['run_id', 'params.lr', 'seed']
 * ```
 */
export function runColumns(runs: readonly RunRow[], summaries: readonly SummarySpec[] = []): RunColumn[] {
  const fields: string[] = [];
  const seenFields = new Set<string>();
  const paramKeys = new Set<string>();
  for (const run of runs) {
    for (const key of Object.keys(run)) {
      if (key === 'params' || seenFields.has(key)) continue;
      seenFields.add(key);
      fields.push(key);
    }
    for (const key of Object.keys(run.params ?? {})) paramKeys.add(key);
  }
  const field = (key: string): RunColumn => {
    const kind = kindOf(runs.map((r) => r[key]));
    const duplicate = paramKeys.has(key);
    return {
      id: key,
      label: duplicate ? `${key} (run field)` : key,
      source: 'field',
      key,
      kind,
      ...(kind === 'empty' ? { defaultHidden: 'empty' } : duplicate ? { defaultHidden: 'duplicate' } : {}),
    };
  };
  const param = (key: string): RunColumn => {
    const kind = kindOf(runs.map((r) => r.params?.[key]));
    return {
      id: `params.${key}`,
      // A W&B config key reads without its `config.` prefix (the PARAM badge says what it is).
      label: key.startsWith('config.') ? key.slice('config.'.length) : key,
      source: 'param',
      key,
      kind,
      ...(kind === 'empty' ? { defaultHidden: 'empty' } : {}),
    };
  };
  const summaryColumns = summaries.map(
    (s): RunColumn => ({
      id: `${s.stat}:${s.metric}`,
      label: `${s.stat} ${s.metric}`,
      source: 'summary',
      key: `${s.stat}:${s.metric}`,
      kind: 'number',
    }),
  );
  return [
    ...fields.filter((f) => f === 'run_id').map(field),
    // A W&B run's id is a hash: its name says which run it is.
    ...fields.filter((f) => f === 'run_name').map(field),
    ...[...paramKeys].sort().map(param),
    ...summaryColumns,
    ...fields.filter((f) => f !== 'run_id' && f !== 'run_name' && !LAST_FIELDS.has(f)).map(field),
    ...fields.filter((f) => LAST_FIELDS.has(f)).map(field),
  ];
}

/** The sorted parameter keys of `runs` (the group-by choices). */
export function paramKeys(runs: readonly RunRow[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) for (const key of Object.keys(run.params ?? {})) keys.add(key);
  return [...keys].sort();
}

const NOT_GROUPABLE = new Set([
  'run_id',
  'run_name',
  'config_json',
  'env_json',
  'summary_json',
  'system_json',
  'started_at',
  'git_commit',
  'tags',
]);

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;

/**
 * The group-by choices: every parameter key, then run fields a group-by can use (the server looks
 * `by` names up in params first, then in runs columns). A field with two or more values is
 * offered, numbers even when every run differs (`config.lr` in a W&B sweep); ids, names,
 * timestamps and JSON are not, nor text that differs in every run (a name by another name).
 *
 * @example
 * ```ts
 * groupKeys(runs); // ['lr', 'model', 'seed', 'config.batch_size']
 * ```
 */
export function groupKeys(runs: readonly RunRow[]): string[] {
  const params = paramKeys(runs);
  const fields: string[] = [];
  const keys = new Set<string>();
  for (const run of runs) for (const key of Object.keys(run)) keys.add(key);
  for (const key of keys) {
    if (key === 'params' || NOT_GROUPABLE.has(key) || params.includes(key)) continue;
    if (/(^|_)(id|name|at|time|timestamp|json)$/i.test(key) && key !== 'grid_id') continue;
    // W&B's summary.* and system.* columns are results, not settings.
    if (/^(summary|system)\./.test(key)) continue;
    const values = new Set<unknown>();
    let scalar = true;
    let text = false;
    for (const run of runs) {
      const v = run[key];
      if (v === null || v === undefined) continue;
      if (typeof v === 'object') scalar = false;
      if (typeof v === 'string') {
        text = true;
        if (TIMESTAMP.test(v)) scalar = false;
      }
      values.add(v);
    }
    if (!scalar || values.size < 2) continue;
    if (text && values.size >= runs.length) continue;
    fields.push(key);
  }
  return [...params, ...fields];
}

/** Summary values by run id, then by summary column id (`final:loss`). */
export type SummaryValues = ReadonlyMap<string, Readonly<Record<string, number | null>>>;

/**
 * Precomputes the cell values and texts of each run; summary cells come from `summaries`.
 *
 * @example
 * ```ts
 * runEntries(runs, runColumns(runs))[0]?.texts; // ['tiny-lr0.0003-s0', '0.0003', …]
 * ```
 */
export function runEntries(
  runs: readonly RunRow[],
  columns: readonly RunColumn[],
  summaries: SummaryValues = new Map(),
): RunEntry[] {
  return runs.map((run) => {
    const summary = summaries.get(run.run_id);
    const values = columns.map((c) =>
      c.source === 'param'
        ? ((run.params?.[c.key] ?? null) as ParamValue)
        : c.source === 'summary'
          ? (summary?.[c.id] ?? null)
          : run[c.key],
    );
    const texts = values.map((v, i) =>
      columns[i]?.source === 'summary' && typeof v === 'number' ? formatNumber(v, 6) : cellText(v),
    );
    return { run, values, texts, haystack: texts.join('\u0000').toLowerCase() };
  });
}

/**
 * The entries matching `filter` (docs/web.md, "Filter language"). Throws a FilterError for a
 * filter that cannot be used (an unknown column, `lr>abc`, a bad regex).
 *
 * @example
 * ```ts
 * filterEntries(entries, columns, 'seed>=2 AND lr=0.001');
 * ```
 */
export function filterEntries(
  entries: readonly RunEntry[],
  columns: readonly RunColumn[],
  filter: string,
): RunEntry[] {
  const compiled = compileFilter(filter, columns);
  return entries.filter((e) => compiled.test(e));
}

/** Compares two cell values: numbers numerically, text with numeric collation, empty last. */
export function compareValues(a: unknown, b: unknown): number {
  const emptyA = a === null || a === undefined || a === '';
  const emptyB = b === null || b === undefined || b === '';
  if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return cellText(a).localeCompare(cellText(b), undefined, { numeric: true, sensitivity: 'base' });
}

/** Sorts entries by column `index`; empty cells stay last in both directions. Stable. */
export function sortEntries(entries: RunEntry[], index: number, direction: 'asc' | 'desc'): RunEntry[] {
  const sign = direction === 'asc' ? 1 : -1;
  return entries.sort((x, y) => {
    const a = x.values[index];
    const b = y.values[index];
    const emptyA = a === null || a === undefined || a === '';
    const emptyB = b === null || b === undefined || b === '';
    if (emptyA || emptyB) return emptyA === emptyB ? 0 : emptyA ? 1 : -1;
    return sign * compareValues(a, b);
  });
}

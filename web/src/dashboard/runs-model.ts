// The runs table's data model, kept apart from the DOM: columns (run fields, then the union of
// grid parameter keys), the text filter and the numeric-aware sort. Values are precomputed once per
// row so filtering and sorting 1000+ runs never re-reads nested params.
import type { ParamValue, RunRow } from './api.js';
import { cellText } from './dom.js';

/** A table column: a run field (`field`) or a grid parameter (`param`). */
export interface RunColumn {
  /** Unique: the field name, or `params.<key>` for a parameter. */
  readonly id: string;
  /** What the header shows. */
  readonly label: string;
  readonly source: 'field' | 'param';
  /** The run field or parameter key. */
  readonly key: string;
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
const LAST_FIELDS = new Set(['config_json', 'env_json']);

/** Columns for `runs`: run_id first, then the parameters, then the other run fields. */
export function runColumns(runs: readonly RunRow[]): RunColumn[] {
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
  const field = (key: string): RunColumn => ({ id: key, label: key, source: 'field', key });
  const ordered = [
    ...fields.filter((f) => f === 'run_id'),
    ...[...paramKeys]
      .sort()
      .map((key): RunColumn => ({ id: `params.${key}`, label: key, source: 'param', key })),
    ...fields.filter((f) => f !== 'run_id' && !LAST_FIELDS.has(f)),
    ...fields.filter((f) => LAST_FIELDS.has(f)),
  ];
  return ordered.map((c) => (typeof c === 'string' ? field(c) : c));
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
  'started_at',
  'git_commit',
  'tags',
]);

/**
 * The group-by choices: every parameter key, then run fields that split the runs into at least two
 * groups but not one per run (the server looks `by` names up in params first, then in runs columns).
 */
export function groupKeys(runs: readonly RunRow[]): string[] {
  const params = paramKeys(runs);
  const fields: string[] = [];
  for (const key of Object.keys(runs[0] ?? {})) {
    if (key === 'params' || NOT_GROUPABLE.has(key) || params.includes(key)) continue;
    const values = new Set<unknown>();
    let scalar = true;
    for (const run of runs) {
      const v = run[key];
      if (v !== null && typeof v === 'object') scalar = false;
      values.add(v);
    }
    if (scalar && values.size >= 2 && values.size < runs.length) fields.push(key);
  }
  return [...params, ...fields];
}

/** Precomputes the cell values and texts of each run. */
export function runEntries(runs: readonly RunRow[], columns: readonly RunColumn[]): RunEntry[] {
  return runs.map((run) => {
    const values = columns.map((c) =>
      c.source === 'param' ? ((run.params?.[c.key] ?? null) as ParamValue) : run[c.key],
    );
    const texts = values.map(cellText);
    return { run, values, texts, haystack: texts.join('\u0000').toLowerCase() };
  });
}

/** One parsed filter term: free text, or `key=value` (also `key!=value`, `key>value`, `key<value`). */
export type FilterTerm =
  | { readonly kind: 'text'; readonly text: string }
  | {
      readonly kind: 'compare';
      readonly key: string;
      readonly op: '=' | '!=' | '>' | '<';
      readonly value: string;
    };

/** Splits a filter into terms (whitespace-separated, all must match); `"…"` keeps spaces. */
export function parseFilter(filter: string): FilterTerm[] {
  const terms: FilterTerm[] = [];
  for (const match of filter.matchAll(/"([^"]*)"|(\S+)/g)) {
    const raw = match[1] ?? match[2] ?? '';
    if (raw === '') continue;
    const compare = match[2] !== undefined ? /^([^=!<>]+)(!=|=|>|<)(.*)$/.exec(raw) : null;
    if (compare?.[1] && compare[2] && compare[3] !== undefined) {
      terms.push({
        kind: 'compare',
        key: compare[1],
        op: compare[2] as '=' | '!=' | '>' | '<',
        value: compare[3],
      });
    } else {
      terms.push({ kind: 'text', text: raw.toLowerCase() });
    }
  }
  return terms;
}

/** The indexes of the columns a filter key names: `lr`, `params.lr` or a field name. */
function columnsForKey(columns: readonly RunColumn[], key: string): number[] {
  const k = key.toLowerCase();
  const out: number[] = [];
  columns.forEach((c, i) => {
    if (c.id.toLowerCase() === k || c.key.toLowerCase() === k) out.push(i);
  });
  return out;
}

function compareMatches(value: unknown, text: string, op: '=' | '!=' | '>' | '<', wanted: string): boolean {
  const asNumber = typeof value === 'number' ? value : Number.NaN;
  const wantedNumber = wanted.trim() === '' ? Number.NaN : Number(wanted);
  const numeric = Number.isFinite(asNumber) && Number.isFinite(wantedNumber);
  switch (op) {
    case '=':
      return numeric ? asNumber === wantedNumber : text.toLowerCase() === wanted.toLowerCase();
    case '!=':
      return numeric ? asNumber !== wantedNumber : text.toLowerCase() !== wanted.toLowerCase();
    case '>':
      return numeric ? asNumber > wantedNumber : text.localeCompare(wanted, undefined, { numeric: true }) > 0;
    case '<':
      return numeric ? asNumber < wantedNumber : text.localeCompare(wanted, undefined, { numeric: true }) < 0;
  }
}

/** The entries matching every term of `filter`. An unknown key matches nothing. */
export function filterEntries(
  entries: readonly RunEntry[],
  columns: readonly RunColumn[],
  filter: string,
): RunEntry[] {
  const terms = parseFilter(filter);
  if (terms.length === 0) return [...entries];
  const resolved = terms.map((t) =>
    t.kind === 'compare' ? { ...t, columns: columnsForKey(columns, t.key) } : t,
  );
  return entries.filter((entry) =>
    resolved.every((t) => {
      if (t.kind === 'text') return entry.haystack.includes(t.text);
      if (!('columns' in t)) return false;
      return t.columns.some((i) => compareMatches(entry.values[i], entry.texts[i] ?? '', t.op, t.value));
    }),
  );
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

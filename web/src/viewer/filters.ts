// Row filters over the frame's typed arrays. Selecting rows produces an index array (Uint32Array)
// that the table pages through and the plot aggregates over; no per-row objects, so a filter on
// 3.8M rows takes tens of milliseconds.
import type { CategoryColumn, Column, Frame } from './frame.js';

/** Columns with at most this many distinct values get a select of values. */
export const MAX_SELECT_VALUES = 200;

export interface SelectOption {
  readonly label: string;
  /** The dictionary code (category column) or the number (numeric column). */
  readonly value: number;
}

/** A filter the UI can offer for a column. */
export type FilterChoice =
  | { readonly kind: 'select'; readonly column: Column; readonly options: readonly SelectOption[] }
  | { readonly kind: 'range'; readonly column: Column; readonly min: number; readonly max: number }
  /** A list column (rows whose list holds an item) or a text column with many values (substring). */
  | { readonly kind: 'contains'; readonly column: CategoryColumn };

/** A filter the user has set. */
export type ActiveFilter =
  | { readonly kind: 'equals'; readonly column: string; readonly value: number }
  | { readonly kind: 'range'; readonly column: string; readonly min?: number; readonly max?: number }
  | { readonly kind: 'contains'; readonly column: string; readonly text: string };

const collator = new Intl.Collator('en', { numeric: true });

/**
 * The distinct values of a column when there are at most `limit` of them (sorted), else
 * undefined. Category columns list the dictionary entries that rows actually use.
 *
 * @example
 * ```ts
 * distinctValues(frame.columns[1]); // [{ label: '0', value: 0 }, …] for `layer`
 * ```
 */
export function distinctValues(column: Column, limit = MAX_SELECT_VALUES): SelectOption[] | undefined {
  if (column.kind === 'category') {
    if (column.dictionary.length > limit * 4) return undefined;
    const used = new Uint8Array(column.dictionary.length);
    const codes = column.codes;
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i] as number;
      if (c >= 0) used[c] = 1;
    }
    const options: SelectOption[] = [];
    for (let c = 0; c < used.length; c++)
      if (used[c]) options.push({ label: column.dictionary[c] ?? '', value: c });
    if (options.length > limit) return undefined;
    return options.sort((a, b) => collator.compare(a.label, b.label));
  }
  const values = column.values;
  if (column.integer) {
    // Integers with a small range: count in an array instead of a Set (3.8M rows in a few ms).
    const [min, max] = numericExtent(values);
    if (!(min <= max)) return [];
    if (max - min <= 65_536) {
      const seenAt = new Uint8Array(max - min + 1);
      for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        if (!Number.isNaN(v)) seenAt[v - min] = 1;
      }
      const options: SelectOption[] = [];
      for (let k = 0; k < seenAt.length; k++)
        if (seenAt[k]) options.push({ label: String(min + k), value: min + k });
      return options.length > limit ? undefined : options;
    }
  }
  const seen = new Set<number>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) continue; // missing
    if (!seen.has(v)) {
      seen.add(v);
      if (seen.size > limit) return undefined;
    }
  }
  return [...seen].sort((a, b) => a - b).map((v) => ({ label: String(v), value: v }));
}

/** Smallest and largest non-missing value of a numeric column (NaN, NaN when all missing). */
export function numericExtent(values: Float64Array): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? [min, max] : [Number.NaN, Number.NaN];
}

/**
 * The filters worth offering: a select of values for low-cardinality text and integer columns
 * (`variant`, `layer`, `generation_step`), a min/max range for other numeric columns (floats
 * always: a dropdown of raw float values is no filter), "contains" for list columns and for text
 * with too many values to list.
 *
 * @example
 * ```ts
 * filterChoices(frame).map((c) => `${c.column.name}:${c.kind}`); // ['variant:select', 'loss:range', 'tokens:contains']
 * ```
 */
export function filterChoices(frame: Frame, limit = MAX_SELECT_VALUES): FilterChoice[] {
  const choices: FilterChoice[] = [];
  for (const column of frame.columns) {
    if (column.kind === 'category') {
      if (column.list) {
        choices.push({ kind: 'contains', column });
        continue;
      }
      const options = distinctValues(column, limit);
      if (!options) choices.push({ kind: 'contains', column });
      else if (options.length > 1) choices.push({ kind: 'select', column, options });
      continue;
    }
    const options = column.integer ? distinctValues(column, limit) : undefined;
    if (options && options.length > 1) {
      choices.push({ kind: 'select', column, options });
    } else {
      const [min, max] = numericExtent(column.values);
      if (min < max) choices.push({ kind: 'range', column, min, max });
    }
  }
  return choices;
}

/**
 * Which dictionary entries a "contains" filter keeps: for a list column, entries whose list holds
 * an item equal to `text` (as text, or as a number); for a text column, entries holding `text`
 * (case-insensitive).
 *
 * @example
 * ```ts
 * containsMatches(tokensColumn, 'bifurcation'); // Uint8Array [1, 0, 1, …] by dictionary code
 * ```
 */
export function containsMatches(column: CategoryColumn, text: string): Uint8Array {
  const want = text.trim();
  const wantNumber = want === '' ? Number.NaN : Number(want);
  const lower = want.toLowerCase();
  const matches = new Uint8Array(column.dictionary.length);
  column.dictionary.forEach((entry, code) => {
    if (column.list) {
      let items: unknown;
      try {
        items = JSON.parse(entry);
      } catch {
        items = undefined;
      }
      if (Array.isArray(items)) {
        matches[code] = items.some(
          (item) =>
            (typeof item === 'string' && item === want) ||
            (typeof item === 'number' && item === wantNumber) ||
            (typeof item !== 'string' && typeof item !== 'number' && JSON.stringify(item) === want),
        )
          ? 1
          : 0;
        return;
      }
    }
    matches[code] = entry.toLowerCase().includes(lower) ? 1 : 0;
  });
  return matches;
}

/**
 * Indices of the rows passing every filter, or null when no filter is set (all rows). Each filter
 * narrows the previous index list, so later filters only visit surviving rows.
 *
 * @example
 * ```ts
 * selectRows(frame, [{ kind: 'equals', column: 'variant', value: 0 }])?.length;
 * ```
 */
export function selectRows(frame: Frame, filters: readonly ActiveFilter[]): Uint32Array | null {
  let rows: Uint32Array | null = null;
  for (const filter of filters) {
    const column = frame.columns.find((c) => c.name === filter.column);
    if (!column) continue;
    const source: Uint32Array | null = rows;
    const n: number = source ? source.length : frame.numRows;
    const out: Uint32Array = new Uint32Array(n);
    let kept = 0;
    if (filter.kind === 'contains') {
      if (column.kind !== 'category' || filter.text.trim() === '') continue;
      const keep = containsMatches(column, filter.text);
      const codes = column.codes;
      for (let i = 0; i < n; i++) {
        const r = source ? (source[i] as number) : i;
        const c = codes[r] as number;
        if (c >= 0 && keep[c]) out[kept++] = r;
      }
    } else if (filter.kind === 'equals') {
      const data = column.kind === 'category' ? column.codes : column.values;
      const want = filter.value;
      if (source) {
        for (let i = 0; i < n; i++) {
          const r = source[i] as number;
          if (data[r] === want) out[kept++] = r;
        }
      } else {
        for (let r = 0; r < n; r++) if (data[r] === want) out[kept++] = r;
      }
    } else {
      if (column.kind !== 'numeric') continue;
      if (filter.min === undefined && filter.max === undefined) continue;
      const data = column.values;
      const lo = filter.min ?? Number.NEGATIVE_INFINITY;
      const hi = filter.max ?? Number.POSITIVE_INFINITY;
      if (source) {
        for (let i = 0; i < n; i++) {
          const r = source[i] as number;
          const v = data[r] as number;
          if (v >= lo && v <= hi) out[kept++] = r;
        }
      } else {
        for (let r = 0; r < n; r++) {
          const v = data[r] as number;
          if (v >= lo && v <= hi) out[kept++] = r;
        }
      }
    }
    rows = out.subarray(0, kept);
  }
  return rows;
}

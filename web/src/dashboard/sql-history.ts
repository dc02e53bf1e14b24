// The SQL console's query history (kept in localStorage) and its CSV download, apart from the
// console's DOM so Node tests import them directly.
import { toCsv } from './csv.js';

/** Queries kept in the history. */
export const HISTORY_SIZE = 30;
/** The localStorage key of the history. */
export const HISTORY_KEY = 'runlake:sql-history';

/** A query the console ran. */
export interface HistoryEntry {
  readonly sql: string;
  /** ISO time it last ran. */
  readonly at: string;
  /** Rows of its answer, or undefined when it failed. */
  readonly rows?: number;
}

/**
 * Reads the history from storage (newest first); a missing or damaged entry reads as empty.
 *
 * @example
 * ```ts
 * readHistory(window.localStorage)[0]?.sql; // 'SELECT count(*) FROM runs'
 * ```
 */
export function readHistory(storage: { getItem(key: string): string | null }): HistoryEntry[] {
  try {
    const value = JSON.parse(storage.getItem(HISTORY_KEY) ?? '[]') as unknown;
    if (!Array.isArray(value)) return [];
    return value.filter(
      (e): e is HistoryEntry =>
        typeof e === 'object' && e !== null && typeof e.sql === 'string' && typeof e.at === 'string',
    );
  } catch {
    return [];
  }
}

/**
 * The history with `entry` first: an earlier run of the same SQL moves up, the oldest drop off.
 *
 * @example
 * ```ts
 * withEntry([{ sql: 'a', at: t0 }], { sql: 'b', at: t1 }).map((e) => e.sql); // ['b', 'a']
 * ```
 */
export function withEntry(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const key = entry.sql.trim();
  return [entry, ...history.filter((e) => e.sql.trim() !== key)].slice(0, HISTORY_SIZE);
}

/** The part of a `/api/query` JSON answer the CSV needs. */
export interface AnswerRows {
  readonly columns: readonly { readonly name: string }[];
  readonly rows: readonly Record<string, unknown>[];
}

const fieldText = (value: unknown): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'object'
      ? JSON.stringify(value)
      : String(value);

/**
 * A query answer as CSV (RFC 4180): a header of column names, then every row, values as the
 * server sent them (lists and structs as JSON).
 *
 * @example
 * ```ts
 * answerCsv({ columns: [{ name: 'a' }], rows: [{ a: 1 }] }); // 'a\r\n1\r\n'
 * ```
 */
export function answerCsv(answer: AnswerRows): string {
  const names = answer.columns.map((c) => c.name);
  return toCsv([names, ...answer.rows.map((row) => names.map((n) => fieldText(row[n])))]);
}

import { plainValue } from '../lake/index.js';

/** Output formats of `runlake query`. */
export const QUERY_FORMATS = ['table', 'csv', 'json', 'jsonl', 'parquet'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];

const MAX_CELL = 48;

/**
 * Renders rows as an aligned text table, as a terminal user reads it.
 *
 * @example
 * ```ts
 * renderTable([{ a: 1, b: 'x' }]); // ' a | b\n---+---\n 1 | x'
 * ```
 */
export function renderTable(
  rows: readonly Record<string, unknown>[],
  columns = Object.keys(rows[0] ?? {}),
): string {
  if (columns.length === 0) return '(no columns)';
  const cells = rows.map((row) => columns.map((c) => truncate(cellText(row[c]))));
  const widths = columns.map((c, j) => Math.max(c.length, ...cells.map((r) => (r[j] as string).length)));
  const numeric = columns.map(
    (c) =>
      rows.length > 0 &&
      rows.every((r) => r[c] === null || typeof r[c] === 'number' || typeof r[c] === 'bigint'),
  );
  const line = (values: readonly string[], alignRight: boolean) =>
    values
      .map((v, j) =>
        alignRight && numeric[j] ? v.padStart(widths[j] as number) : v.padEnd(widths[j] as number),
      )
      .join(' | ')
      .trimEnd();
  return [
    line(columns, false),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...cells.map((r) => line(r, true)),
  ].join('\n');
}

/**
 * Renders rows as RFC 4180 CSV with a header line.
 *
 * @example
 * ```ts
 * renderCsv([{ a: 'x,y' }]); // 'a\n"x,y"\n'
 * ```
 */
export function renderCsv(
  rows: readonly Record<string, unknown>[],
  columns = Object.keys(rows[0] ?? {}),
): string {
  const quoteCsv = (text: string) => (/[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  const lines = [columns.map(quoteCsv).join(',')];
  for (const row of rows)
    lines.push(
      columns.map((c) => quoteCsv(row[c] === null || row[c] === undefined ? '' : cellText(row[c]))).join(','),
    );
  return `${lines.join('\n')}\n`;
}

/**
 * Renders rows as one JSON array (`json`) or one object per line (`jsonl`).
 *
 * @example
 * ```ts
 * renderJson([{ a: 1 }], 'jsonl'); // '{"a":1}\n'
 * ```
 */
export function renderJson(rows: readonly Record<string, unknown>[], format: 'json' | 'jsonl'): string {
  const plain = rows.map((r) => plainValue(r));
  return format === 'json'
    ? `${JSON.stringify(plain, jsonReplacer, 2)}\n`
    : plain.map((r) => `${JSON.stringify(r, jsonReplacer)}\n`).join('');
}

// JSON has no NaN/Infinity; write them as strings rather than as a lossy null.
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return JSON.stringify(plainValue(value));
}

function truncate(text: string): string {
  const oneLine = text.replaceAll('\n', '\\n');
  return oneLine.length > MAX_CELL ? `${oneLine.slice(0, MAX_CELL - 1)}…` : oneLine;
}

/**
 * Formats a byte count for humans.
 *
 * @example
 * ```ts
 * formatBytes(1536); // '1.5 KiB'
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A count and its noun for CLI messages: the lake's {@link countOf} (`1 row`, `12,000 rows`). */
export { countOf } from '../lake/index.js';

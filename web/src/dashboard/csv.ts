// CSV text as RFC 4180 writes it, for the table and SQL-console downloads. No DOM, so Node tests
// import it directly.

/**
 * One CSV field, quoted as RFC 4180 asks: in double quotes (inner quotes doubled) when it holds a
 * comma, a quote, a line break, or leading/trailing space.
 *
 * @example
 * ```ts
 * csvField('a,b'); // '"a,b"'
 * csvField('say "hi"'); // '"say ""hi"""'
 * ```
 */
export function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Rows of fields as CSV text: fields joined by commas, records by CRLF (RFC 4180).
 *
 * @example
 * ```ts
 * toCsv([['run_id', 'lr'], ['a', '0.001']]); // 'run_id,lr\r\na,0.001\r\n'
 * ```
 */
export function toCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}

/**
 * Condenses a DuckDB error message to one line without dropping what a user needs to fix the
 * query. DuckDB spreads its errors over several lines: the error, then hints such as
 * `Candidate bindings: "regret", "op"` or `Did you mean "events"?`, then `LINE 1: <sql>` and a
 * caret under the offending spot. The first line alone says *that* a column is unknown but not
 * which ones exist or where the mistake is; this keeps the hints and turns the caret into
 * `at line L, column C near "…"`.
 *
 * @example
 * ```ts
 * oneLineSqlMessage(
 *   'Binder Error: Referenced column "nope" not found in FROM clause!\n' +
 *     'Candidate bindings: "regret"\n\nLINE 1: SELECT nope FROM runs\n               ^',
 * );
 * // 'Binder Error: Referenced column "nope" not found in FROM clause! Candidate bindings: "regret" (at line 1, column 8 near "nope FROM runs")'
 * ```
 */
export function oneLineSqlMessage(message: string): string {
  const lines = message.split('\n');
  const head = (lines[0] ?? '').trim();
  const hints: string[] = [];
  let where = '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const located = /^LINE (\d+): (.*)$/.exec(line);
    if (located) {
      const caret = lines[i + 1]?.indexOf('^') ?? -1;
      where = caretLocation(Number(located[1]), located[2] as string, caret - `LINE ${located[1]}: `.length);
      i++;
      continue;
    }
    if (line.trim() !== '') hints.push(line.trim());
  }
  // Long hint lists (hundreds of candidate columns) stay readable on one line.
  const hintText = hints.join(' ');
  const shown = hintText.length > 300 ? `${hintText.slice(0, 299)}…` : hintText;
  return [head, shown, where ? `(${where})` : ''].filter((part) => part !== '').join(' ');
}

/**
 * `at line L, column C near "…"` for a caret under `text` (DuckDB's `LINE n:` excerpt), the
 * column only when the excerpt is the whole line (DuckDB elides long lines with `...`).
 */
function caretLocation(line: number, text: string, offset: number): string {
  if (offset < 0 || offset > text.length) return `at line ${line}`;
  const elided = text.startsWith('...');
  const near = text.slice(offset, offset + 40).trimEnd();
  const column = elided ? '' : `, column ${offset + 1}`;
  return near === '' ? `at line ${line}${column}, at the end` : `at line ${line}${column} near "${near}"`;
}

/**
 * A 0-based character offset in `text` as a 1-based line and column, for parser positions
 * (DuckDB's `json_serialize_sql` reports a syntax error's offset).
 *
 * @example
 * ```ts
 * lineAndColumn('SELECT\n  nope', 9); // { line: 2, column: 3 }
 * ```
 */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return { line, column };
}

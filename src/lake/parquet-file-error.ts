import { RunlakeError } from './errors.js';

/**
 * A Parquet part file DuckDB cannot read: empty, truncated (a write cut short, a partial copy),
 * or not Parquet at all. Names the file, so it can be moved out of the lake or rewritten.
 *
 * @example
 * ```ts
 * e.file === '/data/lake/events/grid_id=ab12cd34/seed=1/part-….parquet';
 * ```
 */
export class ParquetFileError extends RunlakeError {
  override readonly name = 'ParquetFileError';
  constructor(
    readonly file: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${reason}`, options);
  }
}

// DuckDB's ways of saying a file is not (whole) Parquet, with the detail worth keeping.
const BROKEN_PARQUET: ReadonlyArray<readonly [RegExp, string]> = [
  [/No magic bytes found at end of file '([^']+)'/, 'no Parquet footer at its end'],
  [/File '([^']+)' too small to be a Parquet file/, 'too small to hold a Parquet footer'],
  [/[Ff]ooter length error in file '([^']+)'/, 'its footer length is wrong'],
  [/(?:Corrupt|corrupted?) (?:Parquet )?file '([^']+)'/i, 'its contents are corrupt'],
  [/Couldn't deserialize thrift.*?'([^']+\.parquet)'/i, 'its footer cannot be decoded'],
];

/**
 * Recognizes DuckDB's error for a Parquet file that is empty, truncated or not Parquet, and names
 * the file: `<file>: truncated or not a Parquet file (no Parquet footer at its end)`.
 * `undefined` for any other error.
 *
 * @example
 * ```ts
 * parquetFileError(new Error("Invalid Input Error: File '/l/e/x.parquet' too small to be a Parquet file"));
 * // ParquetFileError: /l/e/x.parquet: truncated or not a Parquet file (too small to hold a Parquet footer)
 * ```
 */
export function parquetFileError(error: unknown): ParquetFileError | undefined {
  if (error instanceof ParquetFileError) return error;
  const message = error instanceof Error ? error.message : String(error);
  for (const [pattern, detail] of BROKEN_PARQUET) {
    const file = pattern.exec(message)?.[1];
    if (file)
      return new ParquetFileError(file, `truncated or not a Parquet file (${detail})`, { cause: error });
  }
  return undefined;
}

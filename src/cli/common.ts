import {
  assertLakeDirectory,
  assertWritableLakePath,
  type Lake,
  type OpenLakeOptions,
  openLake,
  RunlakeError,
} from '../lake/index.js';
// Registers the squiggle schema set, so lakes that record it open from every command.
import '../schema/index.js';

/**
 * Opens a lake for a CLI command, refusing a path that is not a lake (see
 * {@link existingLakeDirectory}), and closes it when `use` is done.
 *
 * @example
 * ```ts
 * await withLake('results', (lake) => lake.query('SELECT 1'));
 * ```
 */
export async function withLake<T>(
  baseOut: string,
  use: (lake: Lake) => Promise<T>,
  options: OpenLakeOptions = {},
): Promise<T> {
  existingLakeDirectory(baseOut);
  const lake = await openLake(baseOut, options);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

/**
 * Refuses, with a one-line reason, a lake path a read command (`info`, `query`, `validate`,
 * `serve`, …) cannot use: one that does not exist, is not a directory, or is not a lake (an empty
 * folder, a dataset's own folder; the message names the enclosing lake when there is one).
 *
 * @example
 * ```ts
 * existingLakeDirectory('results');
 * ```
 */
export function existingLakeDirectory(baseOut: string): void {
  assertLakeDirectory(baseOut);
}

/**
 * Refuses a lake path a write command (`ingest …`) cannot create a lake at: an existing file.
 * A missing path or any directory is fine; the write creates the lake.
 *
 * @example
 * ```ts
 * writableLakeDirectory('new-lake');
 * ```
 */
export function writableLakeDirectory(baseOut: string): void {
  assertWritableLakePath(baseOut);
}

/** Writes text to stdout and resolves once it is flushed (so large outputs are not cut off). */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (error) => (error ? reject(error) : resolve())),
  );
}

/**
 * One value given either as an argument or as exp_engine's flag (`query <lake>` or `--base-out`),
 * not both differently and not neither.
 */
export function exactlyOne(
  what: string,
  argument: string | undefined,
  flag: string | undefined,
  flagName: string,
): string {
  if (argument !== undefined && flag !== undefined && argument !== flag)
    throw new RunlakeError(`${what} is given twice: "${argument}" and ${flagName} ${flag}`);
  const value = argument ?? flag;
  if (value === undefined) throw new RunlakeError(`give ${what} (as an argument or with ${flagName})`);
  return value;
}

import { statSync } from 'node:fs';
import { type Lake, openLake, RunlakeError } from '../lake/index.js';
// Registers the squiggle schema set, so lakes that record it open from every command.
import '../schema/index.js';

/**
 * Opens a lake for a CLI command, refusing a path that is not a directory, and closes it when
 * `use` is done.
 *
 * @example
 * ```ts
 * await withLake('results', (lake) => lake.query('SELECT 1'));
 * ```
 */
export async function withLake<T>(baseOut: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  existingLakeDirectory(baseOut);
  const lake = await openLake(baseOut);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

/**
 * Refuses a lake path that does not exist or is not a directory, with a one-line reason.
 *
 * @example
 * ```ts
 * existingLakeDirectory('results');
 * ```
 */
export function existingLakeDirectory(baseOut: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(baseOut).isDirectory();
  } catch {
    throw new RunlakeError(`lake directory "${baseOut}" does not exist`);
  }
  if (!isDirectory) throw new RunlakeError(`"${baseOut}" is not a directory`);
}

/** Writes text to stdout and resolves once it is flushed (so large outputs are not cut off). */
export function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (error) => (error ? reject(error) : resolve())),
  );
}

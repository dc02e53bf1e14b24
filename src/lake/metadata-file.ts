import { readFile } from 'node:fs/promises';
import { RunlakeError } from './errors.js';
import { fileSystemError } from './fs-errors.js';
import { decodeUtf8Strict, parseJsonText } from './json-text.js';

/**
 * A metadata file of a lake (`.runlake/lake.json`, a dataset manifest, a `params.json`, a saved
 * view, an enum file) that parses as JSON but does not hold what runlake expects there. Names the
 * file and what is wrong, e.g. `lake/grids/grid_id=ab12cd34/params.json: not a runlake grid
 * record: "params_hash" is missing`.
 *
 * @example
 * ```ts
 * if (e instanceof LakeMetadataError) console.error(e.file, e.reason);
 * ```
 */
export class LakeMetadataError extends RunlakeError {
  override readonly name = 'LakeMetadataError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/**
 * Reads a JSON metadata file: `undefined` when it does not exist; otherwise its parsed value,
 * refused with an error naming the file when it is not UTF-8, not JSON, nested too deep
 * (`InvalidJsonError`) or cannot be read (`FileSystemError`, e.g. EACCES).
 *
 * @example
 * ```ts
 * await readJsonMetadata('lake/.runlake/lake.json'); // { format: 1, schema: 'sweep' }
 * ```
 */
export async function readJsonMetadata(file: string): Promise<unknown | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemError(error, file, 'read');
  }
  return parseJsonText(decodeUtf8Strict(bytes, file), file);
}

/**
 * Reads a JSON metadata file and checks its shape with `problem` (which returns what is wrong,
 * or `undefined`): `undefined` when the file does not exist, else the checked record.
 *
 * @example
 * ```ts
 * const config = await readMetadataRecord<LakeConfig>(file, lakeConfigProblem);
 * ```
 */
export async function readMetadataRecord<T>(
  file: string,
  problem: (value: unknown) => string | undefined,
): Promise<T | undefined> {
  const value = await readJsonMetadata(file);
  if (value === undefined) return undefined;
  const wrong = problem(value);
  if (wrong !== undefined) throw new LakeMetadataError(file, wrong);
  return value as T;
}

/**
 * What is wrong with `value` as a JSON object: `undefined` for a plain object, else a phrase.
 *
 * @example
 * ```ts
 * objectProblem([1, 2]); // 'holds an array, not an object'
 * ```
 */
export function objectProblem(value: unknown): string | undefined {
  if (value === null) return 'holds null, not an object';
  if (Array.isArray(value)) return 'holds an array, not an object';
  if (typeof value !== 'object') return `holds a ${typeof value}, not an object`;
  return undefined;
}

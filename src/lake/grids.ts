import { link, mkdir, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeAndSync } from './atomic-file.js';
import {
  type CanonicalizeOptions,
  type CanonicalValue,
  canonicalHash,
  canonicalizeParams,
  GRID_ID_LENGTH,
  type Params,
} from './canonical-params.js';
import { GridIdCollisionError, ParamsError } from './errors.js';
import { fileSystemError } from './fs-errors.js';
import { lakePaths } from './layout.js';
import { LakeMetadataError, objectProblem, readJsonMetadata, readMetadataRecord } from './metadata-file.js';
import { stagingPath } from './staging.js';

/** The contents of `grids/grid_id=<id>/params.json`. */
export interface GridRecord {
  readonly grid_id: string;
  /** Full SHA-256 of the canonical JSON; the grid id is its first 8 hex characters. */
  readonly params_hash: string;
  /** The canonical parameters (volatile keys dropped, keys sorted). */
  readonly params: Record<string, CanonicalValue>;
}

/**
 * The grid record of a parameter set, without touching the disk. If `params` carries a
 * `grid_id`, it must be the one these params hash to.
 *
 * @example
 * ```ts
 * gridRecord({ algo: 'memorypair', seed: 3 }).grid_id.length; // 8
 * ```
 */
export function gridRecord(params: Params, options: CanonicalizeOptions = {}): GridRecord {
  const canonical = canonicalizeParams(params, options);
  const hash = canonicalHash(canonical);
  const gridId = hash.slice(0, GRID_ID_LENGTH);
  if (params.grid_id !== undefined && params.grid_id !== gridId) {
    throw new ParamsError(
      'grid_id',
      `is ${JSON.stringify(params.grid_id)}, but the params hash to ${gridId}`,
    );
  }
  return { grid_id: gridId, params_hash: hash, params: canonical };
}

/**
 * Reads the grid record stored for `gridId`, or `undefined` if there is none. A `params.json`
 * that is not JSON, or not runlake's record of this grid (e.g. an exp_engine file holding the
 * raw params), is refused with an error naming the file.
 *
 * @example
 * ```ts
 * const record = await readGridRecord('lake', 'ab12cd34');
 * ```
 */
export async function readGridRecord(baseOut: string, gridId: string): Promise<GridRecord | undefined> {
  return readMetadataRecord<GridRecord>(lakePaths(baseOut).gridParams(gridId), (value) =>
    gridRecordProblem(value, gridId),
  );
}

/**
 * What is wrong with a parsed `grids/grid_id=<gridId>/params.json`, or `undefined` when it is
 * runlake's record of that grid: a `grid_id` equal to its directory's, a 64-hex `params_hash` and a
 * `params` object. With `verifyHash` (what `runlake validate` checks; readers trust the file), the
 * grid id must also be the prefix of `params_hash`, and the params must hash to it.
 *
 * @example
 * ```ts
 * gridRecordProblem({ lr: 0.1 }, 'ab12cd34'); // 'not a runlake grid record: "grid_id" is missing …'
 * ```
 */
export function gridRecordProblem(
  value: unknown,
  gridId: string,
  options: { verifyHash?: boolean } = {},
): string | undefined {
  const wrong = (what: string) => `not a runlake grid record: ${what}`;
  const notObject = objectProblem(value);
  if (notObject) return wrong(`the file ${notObject}`);
  const record = value as Record<string, unknown>;
  const missing = ['grid_id', 'params_hash', 'params'].filter((key) => record[key] === undefined);
  if (missing.length > 0) {
    return wrong(
      `${missing.map((key) => `"${key}"`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing ` +
        '(runlake stores {grid_id, params_hash, params})',
    );
  }
  if (record.grid_id !== gridId)
    return wrong(`grid_id ${JSON.stringify(record.grid_id)} differs from its directory grid_id=${gridId}`);
  if (typeof record.params_hash !== 'string' || !/^[0-9a-f]{64}$/.test(record.params_hash))
    return wrong('"params_hash" is not a SHA-256 hex digest');
  const paramsWrong = objectProblem(record.params);
  if (paramsWrong) return wrong(`"params" ${paramsWrong}`);
  // Readers take the id as recorded: other writers (pandas scripts, exp_engine's older grid-id
  // schemes) name grids their own way. `runlake validate` reports ids that are not runlake's.
  if (options.verifyHash) {
    if (!record.params_hash.startsWith(gridId))
      return `grid_id ${gridId} is not the prefix of params_hash ${record.params_hash.slice(0, GRID_ID_LENGTH)}… (not a runlake grid id)`;
    const actual = canonicalHash(record.params as Record<string, CanonicalValue>);
    if (actual !== record.params_hash)
      return `the params hash to ${actual.slice(0, GRID_ID_LENGTH)}…, not to the recorded params_hash ${record.params_hash.slice(0, GRID_ID_LENGTH)}… (edited after it was written?)`;
  }
  return undefined;
}

/**
 * Throws a {@link GridIdCollisionError} when the lake already holds different params under this
 * record's grid id. Read-only, so a writer can check before it writes anything.
 *
 * @example
 * ```ts
 * await assertNoCollision('lake', gridRecord(params));
 * ```
 */
export async function assertNoCollision(baseOut: string, record: GridRecord): Promise<void> {
  const existing = await readGridRecord(baseOut, record.grid_id);
  if (existing && existing.params_hash !== record.params_hash) {
    throw new GridIdCollisionError(
      record.grid_id,
      existing.params_hash,
      record.params_hash,
      lakePaths(baseOut).gridParams(record.grid_id),
    );
  }
}

/**
 * Stores `grids/grid_id=<id>/params.json` once. Writing identical params again is a no-op; params
 * with a different full hash under the same 8-character id raise a {@link GridIdCollisionError}.
 * Safe under concurrent writers: the file is created with link(), which never replaces a file.
 *
 * @example
 * ```ts
 * const { record, created } = await writeGridParams('lake', { algo: 'memorypair', gamma_bar: 1 });
 * ```
 */
export async function writeGridParams(
  baseOut: string,
  params: Params,
  options: CanonicalizeOptions = {},
): Promise<{ record: GridRecord; created: boolean }> {
  const record = gridRecord(params, options);
  const paths = lakePaths(baseOut);
  const target = paths.gridParams(record.grid_id);
  await assertNoCollision(baseOut, record);
  if (await readGridRecord(baseOut, record.grid_id)) return { record, created: false };

  await mkdir(paths.staging, { recursive: true });
  const temp = stagingPath(paths, '-params.json');
  await writeAndSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  try {
    await mkdir(path.dirname(target), { recursive: true });
    await link(temp, target);
    await fsyncPath(path.dirname(target));
    return { record, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another writer created it between our check and our link: same params or a collision.
    await assertNoCollision(baseOut, record);
    return { record, created: false };
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/**
 * Every grid record in the lake, sorted by grid id. A `params.json` another tool wrote (exp_engine
 * stores the raw params, sometimes with their `grid_id`: an object without `params_hash`) is read
 * as the params of the grid its directory names, with an empty `params_hash`; `runlake validate`
 * still reports it. Anything else that is not runlake's record is refused, naming the file.
 *
 * @example
 * ```ts
 * (await listGridRecords('lake')).map((g) => g.grid_id);
 * ```
 */
export async function listGridRecords(baseOut: string): Promise<GridRecord[]> {
  const paths = lakePaths(baseOut);
  let entries: string[];
  try {
    entries = await readdir(paths.grids);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fileSystemError(error, paths.grids, 'list');
  }
  const ids = entries
    .filter((e) => e.startsWith('grid_id='))
    .map((e) => e.slice('grid_id='.length))
    .sort();
  const records = await Promise.all(ids.map((id) => readListedGridRecord(baseOut, id)));
  return records.filter((r): r is GridRecord => r !== undefined);
}

async function readListedGridRecord(baseOut: string, gridId: string): Promise<GridRecord | undefined> {
  const file = lakePaths(baseOut).gridParams(gridId);
  const value = await readJsonMetadata(file);
  if (value === undefined) return undefined;
  const problem = gridRecordProblem(value, gridId);
  if (problem === undefined) return value as GridRecord;
  if (objectProblem(value) === undefined && !Object.hasOwn(value as object, 'params_hash')) {
    const { grid_id: _, ...params } = value as Record<string, CanonicalValue>;
    return { grid_id: gridId, params_hash: '', params };
  }
  throw new LakeMetadataError(file, problem);
}

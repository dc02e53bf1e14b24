import { link, readdir, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, makeDirectory, writeAndSync } from './atomic-file.js';
import {
  type CanonicalizeOptions,
  type CanonicalValue,
  canonicalHash,
  canonicalizeParams,
  canonicalJson,
  GRID_ID_LENGTH,
  type Params,
} from './canonical-params.js';
import { GridIdCollisionError, ParamsError } from './errors.js';
import { fileSystemError } from './fs-errors.js';
import {
  canonicalParamsText,
  DEFAULT_GRID_ID_SCHEME,
  type GridIdScheme,
  gridIdFor,
} from './grid-id-scheme.js';
import { decodeUtf8Strict, parseJsonText } from './json-text.js';
import { lakePaths } from './layout.js';
import { LakeMetadataError, objectProblem, readMetadataRecord } from './metadata-file.js';
import { parsePartitionPath } from './partition-path.js';
import { type PythonJsonValue, parsePythonJson, plainJsonValue, pythonJsonDumps } from './python-json.js';
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
 * What a writer knows about the grid of its params under the lake's scheme: the id, the exact
 * canonical text the scheme hashed (collisions compare it), and runlake's record when the scheme
 * is runlake's. For exp_engine's schemes a `grid_id` in the params (exp_engine's `attach_grid_id`
 * output, lineage B's params.json) is taken off before hashing and must equal the result.
 *
 * @example
 * ```ts
 * gridIdentity({ algo: 'memorypair', gamma_bar: pyFloat(1) }, 'exp_engine-sha256-12').grid_id.length; // 12
 * ```
 */
export function gridIdentity(
  params: Params,
  scheme: GridIdScheme = DEFAULT_GRID_ID_SCHEME,
  options: CanonicalizeOptions = {},
): GridIdentity {
  if (scheme === 'runlake') {
    const record = gridRecord(params, options);
    return { grid_id: record.grid_id, scheme, canonical: canonicalJson(record.params), record };
  }
  const { grid_id: given, ...rest } = params;
  const gridId = gridIdFor(rest, scheme, options);
  if (given !== undefined && given !== gridId) {
    throw new ParamsError(
      'grid_id',
      `is ${JSON.stringify(given)}, but the params hash to ${gridId} under ${scheme}`,
    );
  }
  return { grid_id: gridId, scheme, canonical: canonicalParamsText(rest, scheme, options) };
}

/** See {@link gridIdentity}. */
export interface GridIdentity {
  readonly grid_id: string;
  readonly scheme: GridIdScheme;
  /** The exact text the scheme hashed. */
  readonly canonical: string;
  /** runlake's `params.json` record (runlake's scheme only). */
  readonly record?: GridRecord;
}

/**
 * The canonical text, under `scheme`, of the params a stored `params.json` holds: runlake's
 * record or exp_engine's raw params (without the `grid_id` lineage B stores beside them).
 */
function storedCanonical(
  text: string,
  file: string,
  scheme: GridIdScheme,
  options: CanonicalizeOptions,
): string {
  try {
    const value = (scheme === 'runlake' ? JSON.parse(text) : parsePythonJson(text)) as Record<
      string,
      unknown
    >;
    const isRecord = typeof value.params_hash === 'string' && value.params !== undefined;
    const { grid_id: _, ...params } = (isRecord ? value.params : value) as Params;
    return canonicalParamsText(params, scheme, options);
  } catch (error) {
    throw new LakeMetadataError(file, `cannot be compared with new params: ${(error as Error).message}`);
  }
}

/**
 * Throws a {@link GridIdCollisionError} when the lake already holds different params under this
 * grid's id: the stored params (whoever wrote them) and the incoming ones are compared as the
 * scheme canonicalizes them, never by a hash one of them may lack. Read-only, so a writer can
 * check before it writes anything.
 *
 * @example
 * ```ts
 * await assertNoCollision('lake', gridIdentity(params));
 * ```
 */
export async function assertNoCollision(
  baseOut: string,
  grid: GridIdentity | GridRecord,
  options: CanonicalizeOptions = {},
): Promise<void> {
  await checkStoredParams(baseOut, grid, options);
}

/**
 * {@link assertNoCollision}, returning whether the grid's `params.json` exists (it then holds
 * these params). A file this process already compared is not read again while it is the same
 * file (`params.json` is created once, by link, and never edited).
 */
async function checkStoredParams(
  baseOut: string,
  grid: GridIdentity | GridRecord,
  options: CanonicalizeOptions,
): Promise<boolean> {
  const identity = 'canonical' in grid ? grid : gridIdentity(grid.params, 'runlake');
  const file = lakePaths(baseOut).gridParams(identity.grid_id);
  let info: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint };
  try {
    info = await stat(file, { bigint: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fileSystemError(error, file, 'read');
  }
  const fileKey = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`;
  // Other volatile keys canonicalize the stored params differently: only the default is cached.
  const cacheable = options.volatileKeys === undefined;
  const matchKey = `${identity.scheme}\n${identity.canonical}`;
  if (
    cacheable &&
    matchedParams.get(file)?.fileKey === fileKey &&
    matchedParams.get(file)?.matchKey === matchKey
  )
    return true;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw fileSystemError(error, file, 'read');
  }
  const stored = storedCanonical(text, file, identity.scheme, options);
  if (stored !== identity.canonical) {
    throw new GridIdCollisionError(identity.grid_id, stored, identity.canonical, file);
  }
  if (cacheable) {
    if (matchedParams.size >= 4096) matchedParams.clear();
    matchedParams.set(file, { fileKey, matchKey });
  }
  return true;
}

// params.json files found to hold given params: by path, the file's identity and the match.
const matchedParams = new Map<string, { fileKey: string; matchKey: string }>();

/**
 * Stores `grids/grid_id=<id>/params.json` once. Writing the same params again is a no-op; other
 * params under the same id raise a {@link GridIdCollisionError}. Under runlake's scheme the file
 * is runlake's record; under exp_engine's it is what exp_engine wrote there (the raw params,
 * `json.dump(params, indent=2, sort_keys=True)`), so its own tools and the lake's older grids
 * stay alike. Safe under concurrent writers: the file is created with link(), which never
 * replaces a file.
 *
 * @example
 * ```ts
 * const { record, created } = await writeGridParams('lake', { algo: 'memorypair', gamma_bar: 1 });
 * ```
 */
export async function writeGridParams(
  baseOut: string,
  params: Params,
  options: CanonicalizeOptions & { readonly scheme?: GridIdScheme } = {},
): Promise<{ record: GridRecord; created: boolean }> {
  const identity = gridIdentity(params, options.scheme, options);
  const record: GridRecord = identity.record ?? {
    grid_id: identity.grid_id,
    params_hash: '',
    params: plainJsonValue(params as PythonJsonValue) as Record<string, CanonicalValue>,
  };
  const content = identity.record
    ? `${JSON.stringify(identity.record, null, 2)}\n`
    : pythonJsonDumps(params as PythonJsonValue, { indent: 2 });
  const paths = lakePaths(baseOut);
  const target = paths.gridParams(identity.grid_id);
  if (await checkStoredParams(baseOut, identity, options)) return { record, created: false };

  await makeDirectory(paths.staging);
  const temp = stagingPath(paths, '-params.json');
  await writeAndSync(temp, content);
  try {
    await makeDirectory(path.dirname(target));
    await link(temp, target);
    await fsyncPath(path.dirname(target));
    return { record, created: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another writer created it between our check and our link: same params or a collision.
    await assertNoCollision(baseOut, identity, options);
    return { record, created: false };
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/**
 * Every grid record in the lake, sorted by grid id. A `params.json` another tool wrote (exp_engine
 * stores the raw params, sometimes with their `grid_id`: an object without `params_hash`, possibly
 * holding `NaN` or integers beyond 2^53 as Python's `json` writes them) is read as the params of
 * the grid its directory names, with an empty `params_hash`; `runlake validate` still reports it.
 * A grid with no `params.json` whose datasets use exp_engine's oldest layout
 * (`algo=…/accountant=…/…/grid_id=…/seed=…`) gets the params its directory names spell out.
 * Anything else that is not runlake's record is refused, naming the file.
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
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileSystemError(error, paths.grids, 'list');
    entries = [];
  }
  const ids = entries
    .filter((e) => e.startsWith('grid_id='))
    .map((e) => e.slice('grid_id='.length))
    .sort();
  const records = (await Promise.all(ids.map((id) => readListedGridRecord(baseOut, id)))).filter(
    (r): r is GridRecord => r !== undefined,
  );
  const known = new Set(records.map((r) => r.grid_id));
  for (const [gridId, { params, nested }] of await partitionGridIds(paths.root)) {
    if (nested && !known.has(gridId)) records.push({ grid_id: gridId, params_hash: '', params });
  }
  return records.sort((a, b) => (a.grid_id < b.grid_id ? -1 : a.grid_id > b.grid_id ? 1 : 0));
}

async function readListedGridRecord(baseOut: string, gridId: string): Promise<GridRecord | undefined> {
  const file = lakePaths(baseOut).gridParams(gridId);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemError(error, file, 'read');
  }
  const text = decodeUtf8Strict(bytes, file);
  let value: unknown;
  try {
    value = parseJsonText(text, file);
  } catch (error) {
    // exp_engine's json.dump writes NaN and Infinity, which JSON.parse refuses.
    try {
      value = plainJsonValue(parsePythonJson(text));
    } catch {
      throw error;
    }
  }
  const problem = gridRecordProblem(value, gridId);
  if (problem === undefined) return value as GridRecord;
  if (objectProblem(value) === undefined && !Object.hasOwn(value as object, 'params_hash')) {
    const { grid_id: _, ...params } = plainJsonValue(parsePythonJson(text)) as Record<string, CanonicalValue>;
    return { grid_id: gridId, params_hash: '', params };
  }
  throw new LakeMetadataError(file, problem);
}

/**
 * The grid ids the partition directories of `events` and `seeds` name, each with the params the
 * directories above its `grid_id=` spell out (exp_engine's oldest layout; none in the standard
 * one, where `grid_id=` comes first and the walk costs one listing per dataset). `maxVisits`
 * bounds the directories listed, for a quick look.
 *
 * @example
 * ```ts
 * (await partitionGridIds('results')).get('0f3c2a9e')?.params; // { algo: 'memorypair', … }
 * ```
 */
export async function partitionGridIds(
  root: string,
  maxVisits = Number.POSITIVE_INFINITY,
): Promise<Map<string, { params: Record<string, CanonicalValue>; nested: boolean }>> {
  const found = new Map<string, { params: Record<string, CanonicalValue>; nested: boolean }>();
  let visits = 0;
  const walk = async (directory: string, params: Record<string, CanonicalValue>, depth: number) => {
    if (++visits > maxVisits) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const eq = entry.name.indexOf('=');
      if (!entry.isDirectory() || eq <= 0) continue;
      const [[key, raw]] = parsePartitionPath(entry.name) as [[string, string | null]];
      if (key === 'grid_id') {
        if (raw !== null && !found.has(raw)) found.set(raw, { params, nested: depth > 0 });
      } else if (depth < 16) {
        await walk(
          path.join(directory, entry.name),
          { ...params, [key]: partitionParamValue(raw) },
          depth + 1,
        );
      }
    }
  };
  for (const dataset of ['events', 'seeds']) await walk(path.join(root, dataset), Object.create(null), 0);
  return found;
}

/** A directory value as the param it stood for: numbers and booleans typed, the Hive default null. */
function partitionParamValue(raw: string | null): CanonicalValue {
  if (raw === null) return null;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(raw) && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

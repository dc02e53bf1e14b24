/**
 * A lake's grid-id scheme, as a setting: recorded in `.runlake/grid-id.json`, or, for a lake that
 * never recorded one (exp_engine wrote it, or an older runlake did), detected by recomputing the
 * ids of the `params.json` files it already holds. Every later write uses it, so appending the
 * same params to an exp_engine lake lands in the directory exp_engine created.
 */

import { randomUUID } from 'node:crypto';
import { link, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, makeDirectory, writeAndSync } from './atomic-file.js';
import { canonicalizeParams, type Params } from './canonical-params.js';
import { RunlakeError } from './errors.js';
import {
  DEFAULT_GRID_ID_SCHEME,
  GRID_ID_SCHEMES,
  type GridIdScheme,
  gridIdFor,
  isGridIdScheme,
  schemeOfIdLength,
} from './grid-id-scheme.js';
import { partitionGridIds } from './grids.js';
import type { LakePaths } from './layout.js';
import { LakeMetadataError, objectProblem, readMetadataRecord } from './metadata-file.js';
import { countOf } from './plural.js';
import { parsePythonJson } from './python-json.js';

/** What `.runlake/grid-id.json` holds. */
export interface GridIdSettingRecord {
  readonly format: 1;
  readonly scheme: GridIdScheme;
  /** Why this scheme: what detection found, or that a writer asked for it. */
  readonly evidence: string;
}

/** The scheme a lake uses and how runlake knows it. */
export interface GridIdSetting {
  readonly scheme: GridIdScheme;
  /**
   * `recorded`: read from `.runlake/grid-id.json`; `detected`: recomputed from the lake's files;
   * `requested`: given by the caller (a flag, an option); `default`: a lake with nothing to go by.
   */
  readonly source: 'recorded' | 'detected' | 'requested' | 'default';
  readonly evidence: string;
}

/** Thrown when a requested scheme contradicts the lake's. */
export class GridIdSchemeError extends RunlakeError {
  override readonly name = 'GridIdSchemeError';
  constructor(
    readonly lake: string,
    readonly lakeScheme: GridIdScheme,
    readonly requested: GridIdScheme,
    readonly evidence: string,
  ) {
    super(
      `${lake} uses grid-id scheme ${lakeScheme} (${evidence}); a write with ${requested} would ` +
        'give the same params another id. Leave out the scheme, or use another lake',
    );
  }
}

// Detection reads at most this many params.json files: enough to be sure, cheap on big lakes.
const MAX_SAMPLED_GRIDS = 64;

/**
 * Which schemes reproduce `gridId` from the text of its `params.json`: runlake's record
 * (`{grid_id, params_hash, params}`), or raw params as exp_engine stored them (lineage B adds the
 * id itself, which exp_engine did not hash). Empty when none does or the text is not JSON.
 *
 * @example
 * ```ts
 * schemesReproducing('{"algo": "memorypair", "gamma_bar": 1.0}', '0f3c2a9e1b7d'); // ['exp_engine-sha256-12'] if it matches
 * ```
 */
export function schemesReproducing(text: string, gridId: string): GridIdScheme[] {
  let value: unknown;
  try {
    value = parsePythonJson(text);
  } catch {
    return [];
  }
  if (objectProblem(value) !== undefined) return [];
  const record = value as Record<string, unknown>;
  if (typeof record.params_hash === 'string' && record.params !== undefined) {
    return record.params_hash.startsWith(gridId) ? ['runlake'] : [];
  }
  const { grid_id: _, ...params } = record;
  return GRID_ID_SCHEMES.filter((scheme) => {
    try {
      const input = scheme === 'runlake' ? (JSON.parse(JSON.stringify(params)) as Params) : params;
      if (scheme === 'runlake') canonicalizeParams(input);
      return gridIdFor(input, scheme) === gridId;
    } catch {
      return false; // e.g. NaN, which runlake's scheme refuses
    }
  });
}

/**
 * Works out a lake's scheme from what it holds, without writing anything: the `params.json`
 * files whose directory id one scheme reproduces (the scheme most of them agree on), else the
 * length of the ids (12 characters: exp_engine's third generation). `scheme` is undefined when
 * nothing decides it (a new lake, or 8-character ids without params).
 *
 * @example
 * ```ts
 * const { scheme, evidence } = await detectGridIdScheme(lakePaths('results'));
 * ```
 */
export async function detectGridIdScheme(
  paths: LakePaths,
): Promise<{ scheme?: GridIdScheme; evidence: string }> {
  const ids = await listGridDirectoryIds(paths.grids);
  const votes = new Map<GridIdScheme, number>();
  let read = 0;
  for (const id of ids.slice(0, MAX_SAMPLED_GRIDS)) {
    let text: string;
    try {
      text = await readFile(path.join(paths.grids, `grid_id=${id}`, 'params.json'), 'utf8');
    } catch {
      continue;
    }
    read++;
    for (const scheme of schemesReproducing(text, id)) votes.set(scheme, (votes.get(scheme) ?? 0) + 1);
  }
  const best = [...votes].sort((a, b) => b[1] - a[1])[0];
  if (best) {
    return {
      scheme: best[0],
      evidence: `${best[1]} of ${countOf(read, 'params.json file')} ${best[1] === 1 ? 'recomputes to its' : 'recompute to their'} directory's id under ${best[0]}`,
    };
  }
  // A bounded look: the ids' length only decides when no params.json does.
  const named = ids.length > 0 ? ids : [...(await partitionGridIds(paths.root, 256)).keys()];
  const lengths = new Set(named.map((id) => id.length));
  const byLength = lengths.size === 1 ? schemeOfIdLength([...lengths][0] as number) : undefined;
  if (byLength) return { scheme: byLength, evidence: `its grid ids are ${[...lengths][0]} hex characters` };
  const why =
    read > 0
      ? `none of ${countOf(read, 'params.json file')} recomputes to its directory's id under any scheme`
      : lengths.size > 0
        ? `its ${[...lengths].join('/')}-character grid ids have no params.json to recompute`
        : 'it has no grids yet';
  return { evidence: why };
}

/**
 * The lake's recorded scheme, or `undefined`. A file that is not a setting is refused, naming it.
 *
 * @example
 * ```ts
 * (await readGridIdSetting(lakePaths('results')))?.scheme;
 * ```
 */
export async function readGridIdSetting(paths: LakePaths): Promise<GridIdSettingRecord | undefined> {
  return readMetadataRecord<GridIdSettingRecord>(paths.gridIdSetting, gridIdSettingProblem);
}

/**
 * What is wrong with a parsed `.runlake/grid-id.json`, or `undefined` when it names a scheme.
 *
 * @example
 * ```ts
 * gridIdSettingProblem({ format: 1, scheme: 'md5' }); // 'not a grid-id setting: scheme "md5" is not one of …'
 * ```
 */
export function gridIdSettingProblem(value: unknown): string | undefined {
  const problem = objectProblem(value);
  if (problem) return `not a grid-id setting: the file ${problem}`;
  const scheme = (value as Record<string, unknown>).scheme;
  return isGridIdScheme(scheme)
    ? undefined
    : `not a grid-id setting: scheme ${JSON.stringify(scheme)} is not one of ${GRID_ID_SCHEMES.join(', ')}`;
}

/**
 * The scheme to use for this lake: the recorded one; else the detected one; else `requested`;
 * else runlake's default. A `requested` scheme that contradicts the recorded or detected one is
 * refused with a {@link GridIdSchemeError}; the undetermined case takes it.
 *
 * @example
 * ```ts
 * const { scheme } = await resolveGridIdScheme(lakePaths('results'));
 * ```
 */
export async function resolveGridIdScheme(
  paths: LakePaths,
  requested?: GridIdScheme,
): Promise<GridIdSetting> {
  const recorded = await readGridIdSetting(paths);
  const known: GridIdSetting | undefined = recorded
    ? { scheme: recorded.scheme, source: 'recorded', evidence: recorded.evidence }
    : await detectGridIdScheme(paths).then(({ scheme, evidence }) =>
        scheme ? { scheme, source: 'detected' as const, evidence } : undefined,
      );
  if (known) {
    if (requested && requested !== known.scheme)
      throw new GridIdSchemeError(paths.root, known.scheme, requested, known.evidence);
    return known;
  }
  if (requested) return { scheme: requested, source: 'requested', evidence: 'requested by the writer' };
  return {
    scheme: DEFAULT_GRID_ID_SCHEME,
    source: 'default',
    evidence: 'the default for a lake with nothing to detect it from',
  };
}

/**
 * Records a lake's scheme in `.runlake/grid-id.json` unless one is recorded already (racing
 * writers agree on the first). Returns the recorded setting.
 *
 * @example
 * ```ts
 * await recordGridIdSetting(lakePaths('results'), await resolveGridIdScheme(lakePaths('results')));
 * ```
 */
export async function recordGridIdSetting(
  paths: LakePaths,
  setting: GridIdSetting,
): Promise<GridIdSettingRecord> {
  const existing = await readGridIdSetting(paths);
  if (existing) return existing;
  const record: GridIdSettingRecord = { format: 1, scheme: setting.scheme, evidence: setting.evidence };
  await makeDirectory(paths.meta);
  const temp = path.join(paths.meta, `.grid-id.json.${randomUUID()}.tmp`);
  await writeAndSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  try {
    await link(temp, paths.gridIdSetting);
    await fsyncPath(paths.meta);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
  const stored = await readGridIdSetting(paths);
  if (!stored) throw new LakeMetadataError(paths.gridIdSetting, 'disappeared right after it was written');
  return stored;
}

async function listGridDirectoryIds(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory))
      .filter((e) => e.startsWith('grid_id='))
      .map((e) => e.slice('grid_id='.length))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Records the detected scheme of a lake that has grids but no recorded scheme, so that what was
 * detected when the lake was opened is what every later write uses. Best effort: a lake on a
 * read-only file system is still read. Returns the lake's setting.
 *
 * @example
 * ```ts
 * await recordDetectedGridIdScheme(lakePaths('results'));
 * ```
 */
export async function recordDetectedGridIdScheme(paths: LakePaths): Promise<GridIdSetting> {
  const setting = await resolveGridIdScheme(paths);
  if (setting.source === 'detected') {
    try {
      await recordGridIdSetting(paths, setting);
    } catch {
      // Read-only or full: the next write records it (or detects it again).
    }
  }
  return setting;
}

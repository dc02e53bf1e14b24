import { randomUUID } from 'node:crypto';
import { link, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, makeDirectory, writeAndSync } from './atomic-file.js';
import { type DatasetDefinition, type DatasetRegistry, defaultRegistry } from './dataset.js';
import type { EnumDomain } from './enum-domain.js';
import { LakeSchemaError } from './errors.js';
import type { LakePaths } from './layout.js';
import { objectProblem, readMetadataRecord } from './metadata-file.js';
import type { ViewDefinition } from './views.js';

/**
 * A named family of datasets that live together in one lake. Two sets ship with runlake: `sweep`
 * (exp_engine's open-schema `events` and `seeds`) and `squiggle` (the eleven typed Squiggle
 * Matching datasets). They cannot share a lake: both seeds name a dataset `events`, with
 * different meanings, so a lake records its set in `.runlake/lake.json` on its first write.
 */
export interface SchemaSet {
  readonly name: string;
  readonly description: string;
  readonly registry: DatasetRegistry;
  /** The enum domains the set's datasets use, for docs and `runlake schema`. */
  readonly enums: readonly EnumDomain[];
  /** Views every lake of the set gets (e.g. aggregates of an ingested table). */
  readonly views?: readonly ViewDefinition[];
}

/** What `.runlake/lake.json` holds. */
export interface LakeConfig {
  readonly format: 1;
  /** The lake's schema set. */
  readonly schema: string;
}

const schemaSets = new Map<string, SchemaSet>();

/**
 * Makes a schema set known to this process, so lakes recording its name can be opened.
 *
 * @example
 * ```ts
 * registerSchemaSet({ name: 'evals', description: 'eval results', registry, enums: [] });
 * ```
 */
export function registerSchemaSet(set: SchemaSet): SchemaSet {
  const existing = schemaSets.get(set.name);
  if (existing && existing !== set) {
    throw new LakeSchemaError('', set.name, `a different schema set "${set.name}" is already registered`);
  }
  schemaSets.set(set.name, set);
  return set;
}

/**
 * The schema set registered under `name`; throws {@link LakeSchemaError} naming the known ones.
 *
 * @example
 * ```ts
 * getSchemaSet('squiggle').registry.get('geometry_state');
 * ```
 */
export function getSchemaSet(name: string): SchemaSet {
  const set = schemaSets.get(name);
  if (!set) {
    throw new LakeSchemaError(
      '',
      name,
      `unknown schema set "${name}" (known: ${[...schemaSets.keys()].join(', ')})`,
    );
  }
  return set;
}

/**
 * Every registered schema set.
 *
 * @example
 * ```ts
 * listSchemaSets().map((s) => s.name); // ['sweep', 'squiggle']
 * ```
 */
export function listSchemaSets(): SchemaSet[] {
  return [...schemaSets.values()];
}

/**
 * exp_engine's datasets: open-schema `events` and `seeds`, partitioned by `grid_id` and `seed`.
 * Lakes written before schema sets existed are sweep lakes.
 *
 * @example
 * ```ts
 * SWEEP_SCHEMA_SET.registry.get('seeds');
 * ```
 */
export const SWEEP_SCHEMA_SET = registerSchemaSet({
  name: 'sweep',
  description: 'exp_engine sweeps: event-level and seed-level rows keyed by grid_id and seed',
  registry: defaultRegistry,
  enums: [],
});

/**
 * The path of a lake's `.runlake/lake.json`.
 *
 * @example
 * ```ts
 * lakeConfigFile(lakePaths('lake')); // '/abs/lake/.runlake/lake.json'
 * ```
 */
export function lakeConfigFile(paths: LakePaths): string {
  return path.join(paths.meta, 'lake.json');
}

/**
 * The lake's recorded configuration, or `undefined` for a lake never written by a version of
 * runlake that records one. A file that is not JSON, or not a lake configuration, is refused
 * with an error naming it.
 *
 * @example
 * ```ts
 * (await readLakeConfig(lakePaths('lake')))?.schema; // 'squiggle'
 * ```
 */
export async function readLakeConfig(paths: LakePaths): Promise<LakeConfig | undefined> {
  return readMetadataRecord<LakeConfig>(lakeConfigFile(paths), lakeConfigProblem);
}

/**
 * What is wrong with a parsed `.runlake/lake.json`, or `undefined` when it is a lake
 * configuration (`{"format": 1, "schema": "<set>"}`).
 *
 * @example
 * ```ts
 * lakeConfigProblem({ format: 1, schema: 'sweep' }); // undefined
 * lakeConfigProblem([]); // 'not a runlake lake configuration: the file holds an array, not an object'
 * ```
 */
export function lakeConfigProblem(value: unknown): string | undefined {
  const wrong = (what: string) => `not a runlake lake configuration: ${what}`;
  const notObject = objectProblem(value);
  if (notObject) return wrong(`the file ${notObject}`);
  const config = value as Record<string, unknown>;
  if (config.format !== 1)
    return wrong(`format ${JSON.stringify(config.format) ?? 'is missing'}, expected 1`);
  if (typeof config.schema !== 'string' || config.schema === '')
    return wrong(`"schema" ${JSON.stringify(config.schema) ?? 'is missing'} is not a schema set name`);
  return undefined;
}

/**
 * The schema set to open a lake with: the one it records; else `requested`; else `sweep` (the
 * set of lakes that predate `lake.json`). Refuses a request that disagrees with the record.
 *
 * @example
 * ```ts
 * const set = await resolveLakeSchemaSet(lakePaths('lake'), 'squiggle');
 * ```
 */
export async function resolveLakeSchemaSet(paths: LakePaths, requested?: string): Promise<SchemaSet> {
  const recorded = (await readLakeConfig(paths))?.schema;
  if (recorded && requested && recorded !== requested) {
    throw new LakeSchemaError(
      paths.root,
      recorded,
      `this is a "${recorded}" lake, not a "${requested}" one; use another directory for ${requested} datasets`,
    );
  }
  const name = recorded ?? requested ?? SWEEP_SCHEMA_SET.name;
  return withLake(paths, () => getSchemaSet(name));
}

/**
 * The schema set a lake already has: the one it records, else `sweep` when runlake wrote
 * datasets there before lakes recorded one, else `undefined` (a new or empty lake, which any
 * set may claim).
 *
 * @example
 * ```ts
 * (await existingLakeSchema(lakePaths('lake'))) ?? 'squiggle';
 * ```
 */
export async function existingLakeSchema(paths: LakePaths): Promise<string | undefined> {
  return (
    (await readLakeConfig(paths))?.schema ??
    ((await hasLegacyData(paths)) ? SWEEP_SCHEMA_SET.name : undefined)
  );
}

/**
 * Checks that a dataset may be written into this lake, and records the lake's schema set on its
 * first write of a set's dataset. Refused, with nothing written: a dataset whose name the lake's
 * set defines differently (sweep `events` into a Squiggle lake), and a dataset of another set.
 *
 * @example
 * ```ts
 * await claimLakeSchema(lakePaths('lake'), EVENTS_DATASET);
 * ```
 */
export async function claimLakeSchema(paths: LakePaths, dataset: DatasetDefinition): Promise<void> {
  let recorded = (await readLakeConfig(paths))?.schema;
  if (recorded === undefined) {
    const owner = listSchemaSets().find((set) => set.registry.get(dataset.name) === dataset);
    if (!owner) return; // a dataset of no set (a custom one) does not decide what the lake is
    recorded = (await hasLegacyData(paths)) ? SWEEP_SCHEMA_SET.name : owner.name;
    recorded = await recordLakeConfig(paths, { format: 1, schema: recorded });
  }
  const set = withLake(paths, () => getSchemaSet(recorded));
  const member = set.registry.get(dataset.name);
  const foreignOwner = listSchemaSets().find(
    (other) => other !== set && other.registry.get(dataset.name) === dataset,
  );
  if ((member && member !== dataset) || (!member && foreignOwner)) {
    const theirs = foreignOwner ? `the ${foreignOwner.name} dataset "${dataset.name}"` : `"${dataset.name}"`;
    throw new LakeSchemaError(
      paths.root,
      recorded,
      `this is a "${recorded}" lake${member ? `, whose "${dataset.name}" is ${member.description ?? 'another dataset'}` : ''}; ` +
        `${theirs} belongs in a lake of its own`,
    );
  }
}

/** Creates `lake.json` if absent (racing writers agree on the first one) and returns its set. */
async function recordLakeConfig(paths: LakePaths, config: LakeConfig): Promise<string> {
  const file = lakeConfigFile(paths);
  const temp = path.join(paths.meta, `.lake.json.${randomUUID()}.tmp`);
  await makeDirectory(paths.meta);
  await writeAndSync(temp, `${JSON.stringify(config, null, 2)}\n`);
  try {
    await link(temp, file);
    await fsyncPath(paths.meta);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temp).catch(() => {});
  }
  return (await readLakeConfig(paths))?.schema ?? config.schema;
}

/** True when runlake has written datasets here before lakes recorded their schema set. */
async function hasLegacyData(paths: LakePaths): Promise<boolean> {
  try {
    return (await readdir(path.join(paths.meta, 'datasets'))).some((f) => f.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function withLake<T>(paths: LakePaths, get: () => T): T {
  try {
    return get();
  } catch (error) {
    if (error instanceof LakeSchemaError && error.lake === '') {
      throw new LakeSchemaError(paths.root, error.recorded, error.reason);
    }
    throw error;
  }
}

import { access, stat } from 'node:fs/promises';
import { withFileLock, writeFileAtomic } from './atomic-file.js';
import { type ColumnType, columnTypeProblem } from './column-types.js';
import type { LakePaths } from './layout.js';
import { objectProblem, readMetadataRecord } from './metadata-file.js';

/** A named, typed column as recorded in a manifest. */
export interface ManifestColumn {
  readonly name: string;
  readonly type: ColumnType;
}

/**
 * What a lake records about one dataset, in `.runlake/datasets/<name>.json`: its directory layout
 * (partition keys in path order, with the types their values are read back as) and the type of
 * every column written so far. Writers check new rows against it; readers use it to pin
 * `hive_types` and to type empty datasets.
 */
export interface DatasetManifest {
  readonly format: 1;
  readonly dataset: string;
  readonly partitionBy: readonly ManifestColumn[];
  readonly columns: readonly ManifestColumn[];
}

/**
 * Reads a dataset's manifest, or `undefined` when the dataset has never been written by runlake.
 * A manifest that is not JSON, or not a manifest of this dataset, is refused with an error naming
 * the file (`InvalidJsonError`, `LakeMetadataError`).
 *
 * @example
 * ```ts
 * const manifest = await readManifest(lakePaths('lake'), 'events');
 * ```
 */
export async function readManifest(paths: LakePaths, dataset: string): Promise<DatasetManifest | undefined> {
  const file = paths.manifest(dataset);
  // A writer reads the manifest two or three times per call: the parsed, checked record is
  // reused while the file is the same file (manifests are replaced by rename, never edited in
  // place, so a change is a new inode, size or mtime).
  const identity = await fileIdentity(file);
  if (identity === null) return undefined;
  const cached = manifestCache.get(file);
  if (cached && identity !== undefined && cached.identity === identity) return cached.manifest;
  const manifest = await readMetadataRecord<DatasetManifest>(file, (value) =>
    manifestProblem(value, dataset),
  );
  // Cached only when the file did not change while it was read.
  if (manifest && identity !== undefined && (await fileIdentity(file)) === identity) {
    if (manifestCache.size >= 256) manifestCache.clear();
    manifestCache.set(file, { identity, manifest });
  }
  return manifest;
}

const manifestCache = new Map<string, { identity: string; manifest: DatasetManifest }>();

/** The file's identity; `null` when it does not exist, `undefined` when stat fails otherwise. */
async function fileIdentity(file: string): Promise<string | null | undefined> {
  try {
    const info = await stat(file, { bigint: true });
    return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
  } catch (error) {
    // Unreadable for another reason: the read that follows names the file and the cause.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
  }
}

/**
 * Whether runlake recorded a manifest for `dataset`, without reading it (so listing a lake's
 * datasets does not fail on one broken manifest before the command can name it).
 *
 * @example
 * ```ts
 * await manifestExists(lakePaths('lake'), 'events'); // true
 * ```
 */
export async function manifestExists(paths: LakePaths, dataset: string): Promise<boolean> {
  try {
    await access(paths.manifest(dataset));
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with a parsed manifest of `dataset`, or `undefined` when it is one: `format` 1,
 * the dataset's name, and `partitionBy` and `columns` lists of named, typed columns.
 *
 * @example
 * ```ts
 * manifestProblem({ format: 1, dataset: 'events', partitionBy: [], columns: [] }, 'events'); // undefined
 * manifestProblem({ lr: 0.1 }, 'events'); // 'not a runlake dataset manifest: "format" is missing'
 * ```
 */
export function manifestProblem(value: unknown, dataset: string): string | undefined {
  const wrong = (what: string) => `not a runlake dataset manifest: ${what}`;
  const notObject = objectProblem(value);
  if (notObject) return wrong(`the file ${notObject}`);
  const manifest = value as Record<string, unknown>;
  if (manifest.format === undefined) return wrong('"format" is missing');
  if (manifest.format !== 1) return wrong(`format ${JSON.stringify(manifest.format)} is not 1`);
  if (manifest.dataset !== dataset)
    return wrong(`it names dataset ${JSON.stringify(manifest.dataset)}, not "${dataset}"`);
  for (const key of ['partitionBy', 'columns'] as const) {
    const list = manifest[key];
    if (!Array.isArray(list)) return wrong(`"${key}" is not a list`);
    for (const [i, column] of list.entries()) {
      if (objectProblem(column) || typeof (column as { name?: unknown }).name !== 'string')
        return wrong(`${key}[${i}] has no "name"`);
      const typeWrong = columnTypeProblem((column as { type?: unknown }).type);
      if (typeWrong) return wrong(`${key}[${i}] (${(column as { name: string }).name}): ${typeWrong}`);
    }
  }
  return undefined;
}

/**
 * Read-modify-write of a manifest under an inter-process lock, so that two writers adding columns
 * at once cannot lose each other's changes or both register conflicting types. `update` may
 * throw to refuse the change; the manifest is then left as it was. `update` is first run on the
 * manifest read without the lock, and again under it only when that would change the manifest.
 *
 * @example
 * ```ts
 * await updateManifest(paths, 'events', (current) => merge(current, incoming));
 * ```
 */
export async function updateManifest(
  paths: LakePaths,
  dataset: string,
  update: (current: DatasetManifest | undefined) => DatasetManifest | Promise<DatasetManifest>,
): Promise<DatasetManifest> {
  const file = paths.manifest(dataset);
  // Most writes change nothing: checked without the lock first. A manifest only ever gains
  // columns and widens types, so a write it already accommodates stays accommodated, and a
  // refusal read here is the one the lock would give.
  const unlocked = await readManifest(paths, dataset);
  if (unlocked) {
    const next = await update(unlocked);
    if (JSON.stringify(next) === JSON.stringify(unlocked)) return unlocked;
  }
  return withFileLock(file, async () => {
    const current = await readManifest(paths, dataset);
    const next = await update(current);
    if (JSON.stringify(next) !== JSON.stringify(current)) {
      await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
    }
    return next;
  });
}

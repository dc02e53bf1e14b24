import { readFile } from 'node:fs/promises';
import { withFileLock, writeFileAtomic } from './atomic-file.js';
import type { ColumnType } from './column-types.js';
import type { LakePaths } from './layout.js';

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
 *
 * @example
 * ```ts
 * const manifest = await readManifest(lakePaths('lake'), 'events');
 * ```
 */
export async function readManifest(paths: LakePaths, dataset: string): Promise<DatasetManifest | undefined> {
  try {
    return JSON.parse(await readFile(paths.manifest(dataset), 'utf8')) as DatasetManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Read-modify-write of a manifest under an inter-process lock, so that two writers adding columns
 * at once cannot lose each other's changes or both register conflicting types. `update` may
 * throw to refuse the change; the manifest is then left as it was.
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
  return withFileLock(file, async () => {
    const current = await readManifest(paths, dataset);
    const next = await update(current);
    if (JSON.stringify(next) !== JSON.stringify(current)) {
      await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
    }
    return next;
  });
}

/**
 * Named SQL views over a lake's datasets: views a schema set defines for every lake of that set
 * (e.g. seed aggregates of an eval table), and views saved into one lake
 * (`.runlake/views/<name>.json`), which every later `openLake` recreates.
 */
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';
import { RunlakeError } from './errors.js';
import type { LakePaths } from './layout.js';
import { LakeMetadataError, objectProblem, readMetadataRecord } from './metadata-file.js';

/** A named SQL view. */
export interface ViewDefinition {
  /** A lowercase SQL identifier, unique among the lake's datasets and views. */
  readonly name: string;
  readonly description: string;
  /** The SELECT the view stands for; it may name any dataset view or `grids`. */
  readonly sql: string;
}

/** A view that could not be created when the lake was opened, and why. */
export interface ViewProblem {
  readonly view: string;
  readonly reason: string;
}

const VIEW_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Checks a view name: a lowercase identifier (so SQL needs no quoting) that names no dataset.
 *
 * @throws {RunlakeError} naming the view and the cause.
 * @example
 * ```ts
 * checkViewName('loss_wide', ['runs', 'metrics_scalar']);
 * ```
 */
export function checkViewName(name: string, datasets: readonly string[]): void {
  if (!VIEW_NAME.test(name)) {
    throw new RunlakeError(
      `view name "${name}" must be a lowercase identifier (a-z, 0-9, _; not starting with a digit)`,
    );
  }
  if (datasets.includes(name))
    throw new RunlakeError(`view name "${name}" is already a dataset of this lake`);
}

function viewsDirectory(paths: LakePaths): string {
  return path.join(paths.meta, 'views');
}

/**
 * The views saved in a lake, by name.
 *
 * @example
 * ```ts
 * (await readSavedViews(lakePaths('lake'))).map((v) => v.name); // ['loss_wide']
 * ```
 */
export async function readSavedViews(paths: LakePaths): Promise<ViewDefinition[]> {
  const directory = viewsDirectory(paths);
  let files: string[];
  try {
    files = (await readdir(directory)).filter((f) => f.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    files.map(async (file) => {
      const full = path.join(directory, file);
      const parsed = await readMetadataRecord<ViewDefinition>(full, viewDefinitionProblem);
      if (!parsed) throw new LakeMetadataError(full, 'the saved view disappeared while it was read');
      return { name: parsed.name, description: parsed.description ?? '', sql: parsed.sql };
    }),
  );
}

/**
 * What is wrong with a parsed saved view (`.runlake/views/<name>.json`), or `undefined` when it
 * has a string `name` and `sql` (and, if any, a string `description`).
 *
 * @example
 * ```ts
 * viewDefinitionProblem({ name: 'v', sql: 'SELECT 1' }); // undefined
 * ```
 */
export function viewDefinitionProblem(value: unknown): string | undefined {
  const notObject = objectProblem(value);
  if (notObject) return `not a saved view: the file ${notObject}`;
  const view = value as Record<string, unknown>;
  if (typeof view.name !== 'string' || typeof view.sql !== 'string')
    return 'not a saved view: "name" or "sql" is missing';
  if (view.description !== undefined && typeof view.description !== 'string')
    return 'not a saved view: "description" is not a string';
  return undefined;
}

/**
 * Saves (or replaces) a view definition in the lake, atomically.
 *
 * @example
 * ```ts
 * await saveViewDefinition(lakePaths('lake'), { name: 'loss_wide', description: '', sql: 'SELECT 1' });
 * ```
 */
export async function saveViewDefinition(paths: LakePaths, view: ViewDefinition): Promise<void> {
  await writeFileAtomic(
    path.join(viewsDirectory(paths), `${view.name}.json`),
    `${JSON.stringify({ name: view.name, description: view.description, sql: view.sql }, null, 2)}\n`,
  );
}

/**
 * Removes a saved view definition; returns whether there was one.
 *
 * @example
 * ```ts
 * await removeViewDefinition(lakePaths('lake'), 'loss_wide'); // true
 * ```
 */
export async function removeViewDefinition(paths: LakePaths, name: string): Promise<boolean> {
  const file = path.join(viewsDirectory(paths), `${name}.json`);
  try {
    await rm(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

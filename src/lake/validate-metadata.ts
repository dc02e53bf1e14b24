import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { enumFileProblem } from './enum-domain.js';
import { RunlakeError } from './errors.js';
import { gridIdSettingProblem, resolveGridIdScheme, schemesReproducing } from './grid-id-setting.js';
import { gridRecordProblem } from './grids.js';
import type { LakePaths } from './layout.js';
import { manifestProblem } from './manifest.js';
import { readJsonMetadata } from './metadata-file.js';
import { lakeConfigFile, lakeConfigProblem } from './schema-set.js';
import { viewDefinitionProblem } from './views.js';

/** One metadata file that is broken: not readable, not JSON, or not the record runlake expects. */
export interface MetadataProblem {
  /** The dataset the file describes (`grids` for params records, `''` for the lake itself). */
  readonly dataset: string;
  /** The file, relative to the lake directory. */
  readonly file: string;
  readonly message: string;
}

/** What {@link checkLakeMetadata} found. */
export interface MetadataCheck {
  /** Metadata files checked. */
  readonly files: number;
  readonly problems: readonly MetadataProblem[];
  /** False when `.runlake/lake.json` is broken, so the lake's schema set is unknown. */
  readonly configReadable: boolean;
}

function list(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch {
    return [];
  }
}

/**
 * Checks every metadata file of a lake, not just the ones a command happens to read: that
 * `.runlake/lake.json`, each dataset manifest (`.runlake/datasets/*.json`), saved view and enum
 * file is JSON of the expected shape, and that each `grids/grid_id=<id>/params.json` is runlake's
 * record of that grid (its grid id matches the directory, and its params hash to its
 * `params_hash`). Never throws for a broken file: each becomes a {@link MetadataProblem}.
 *
 * @example
 * ```ts
 * const { problems } = await checkLakeMetadata(lakePaths('lake'));
 * for (const p of problems) console.log(p.file, p.message);
 * ```
 */
export async function checkLakeMetadata(paths: LakePaths): Promise<MetadataCheck> {
  const problems: MetadataProblem[] = [];
  let files = 0;
  const check = async (
    dataset: string,
    file: string,
    problem: (value: unknown) => string | undefined,
  ): Promise<boolean> => {
    files++;
    const relative = path.relative(paths.root, file);
    let message: string | undefined;
    try {
      const value = await readJsonMetadata(file);
      message = value === undefined ? 'the file is missing' : problem(value);
    } catch (error) {
      if (!(error instanceof RunlakeError)) throw error;
      // The errors name the absolute path; the report names files relative to the lake.
      message = error.message.startsWith(`${file}: `) ? error.message.slice(file.length + 2) : error.message;
    }
    if (message !== undefined) problems.push({ dataset, file: relative, message });
    return message === undefined;
  };

  let configReadable = true;
  const config = lakeConfigFile(paths);
  if (list(paths.meta).some((e) => e.name === 'lake.json')) {
    configReadable = await check('', config, lakeConfigProblem);
  }
  const manifests = path.join(paths.meta, 'datasets');
  for (const entry of list(manifests)) {
    if (!entry.name.endsWith('.json') || entry.name.startsWith('.')) continue;
    const dataset = entry.name.slice(0, -'.json'.length);
    await check(dataset, path.join(manifests, entry.name), (value) => manifestProblem(value, dataset));
  }
  const views = path.join(paths.meta, 'views');
  for (const entry of list(views)) {
    if (!entry.name.endsWith('.json') || entry.name.startsWith('.')) continue;
    await check('', path.join(views, entry.name), viewDefinitionProblem);
  }
  const enums = path.join(paths.meta, 'enums');
  for (const entry of list(enums)) {
    if (!entry.name.endsWith('.json') || entry.name.startsWith('.')) continue;
    const domain = entry.name.slice(0, -'.json'.length);
    await check('', path.join(enums, entry.name), (value) => enumFileProblem(value, domain));
  }
  if (list(paths.meta).some((e) => e.name === 'grid-id.json')) {
    await check('', paths.gridIdSetting, gridIdSettingProblem);
  }
  // exp_engine's params.json (raw params) is right in a lake of its scheme when the params hash
  // to their directory's id; the scheme itself comes from the setting or from detection.
  const scheme = await resolveGridIdScheme(paths)
    .then((s) => s.scheme)
    .catch(() => undefined);
  for (const entry of list(paths.grids)) {
    const gridId = entry.name.startsWith('grid_id=') ? entry.name.slice('grid_id='.length) : undefined;
    if (gridId === undefined || !entry.isDirectory()) {
      files++;
      problems.push({
        dataset: 'grids',
        file: path.join('grids', entry.name),
        message: 'grids/ holds only grid_id=<id>/ directories with a params.json each',
      });
      continue;
    }
    const file = paths.gridParams(gridId);
    if (scheme && scheme !== 'runlake') {
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        // Unreadable or missing: the generic check below names the cause.
      }
      if (text !== undefined && !text.includes('"params_hash"')) {
        files++;
        if (!schemesReproducing(text, gridId).includes(scheme)) {
          problems.push({
            dataset: 'grids',
            file: path.relative(paths.root, file),
            message: `the params do not hash to their directory's id ${gridId} under the lake's scheme ${scheme}`,
          });
        }
        continue;
      }
    }
    await check('grids', file, (value) => gridRecordProblem(value, gridId, { verifyHash: true }));
  }
  return { files, problems, configReadable };
}

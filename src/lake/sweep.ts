import type { DuckDBConnection } from '@duckdb/node-api';
import type { CanonicalizeOptions, Params } from './canonical-params.js';
import { columnIsAllNull, inputRowCount, type WriteInput } from './column-input.js';
import type { ColumnType } from './column-types.js';
import { type DatasetDefinition, EVENTS_DATASET, SEEDS_DATASET } from './dataset.js';
import { discoverPartitionLayout } from './discover.js';
import { DatasetLayoutError, ParamsError } from './errors.js';
import type { GridIdScheme } from './grid-id-scheme.js';
import { recordGridIdSetting, resolveGridIdScheme } from './grid-id-setting.js';
import { assertNoCollision, gridIdentity, writeGridParams } from './grids.js';
import { lakePaths } from './layout.js';
import { readManifest } from './manifest.js';
import type { PartitionValue } from './partition-path.js';
import { PythonFloat } from './python-json.js';
import { writeQuery } from './write-query.js';
import { type WriteOptions, type WriteResult, writeRows } from './write-rows.js';

/** Options for {@link writeEventRows} and {@link writeSeedRows}. */
export interface SweepWriteOptions
  extends CanonicalizeOptions,
    Pick<WriteOptions, 'float32Columns' | 'fileStem'> {
  /**
   * Params to add as partition directories before `grid_id`/`seed`, in this order (exp_engine's
   * older `algo=/accountant=/gamma_bar=/…/grid_id=/seed=` layout). Fixed by a dataset's first
   * write; a dataset that already has files keeps the layout it has on disk.
   */
  readonly partitionByParams?: readonly string[];
  /**
   * The grid-id scheme. Defaults to the lake's (recorded, else detected from its `params.json`
   * files, else runlake's); a scheme that contradicts the lake's is refused.
   */
  readonly gridIdScheme?: GridIdScheme;
}

/** A write into a sweep dataset, with the grid id the params hash to. */
export interface SweepWriteResult extends WriteResult {
  /** The grid id of the params (`''` when the rows carried their own ids and no params came). */
  readonly gridId: string;
}

/**
 * exp_engine's regret normalisation, applied to every event write: `regret` takes `cum_regret`,
 * else `regret_increment`, where a row lacks it, and `cum_regret` takes `regret`. Summaries then
 * average the cumulative curve whichever column a runner logged.
 */
const REGRET_FILLS = [
  { column: 'regret', from: ['cum_regret', 'regret_increment'] },
  { column: 'cum_regret', from: ['regret'] },
] as const;

/**
 * Writes event-level rows of one grid to `<baseOut>/events/grid_id=…/seed=…/part-<uuid>.parquet`
 * and records the params once in `<baseOut>/grids/grid_id=…/params.json`, the way exp_engine's
 * `write_event_rows` does, in the lake's grid-id scheme and partition layout:
 *
 * - Each row's `seed` is its partition (falling back to `params.seed`); when no row has one, the
 *   rows go to the Hive default partition (`seed=__HIVE_DEFAULT_PARTITION__`, read as NULL).
 * - A row may repeat the params (the exp_engine `{**params, seed, …}` style); a `grid_id` in a row
 *   must match the params'. Without params (`undefined` or `{}`), each row's own `grid_id` is its
 *   partition and no `params.json` is written.
 * - `regret`/`cum_regret` are normalised as exp_engine does (see {@link REGRET_FILLS}).
 * - No rows: nothing is written, not even `params.json`.
 * - The rows may also come as columns (a column object or an Apache Arrow table, see
 *   `writeRows`): checked by the same rules, and staged without a call per value.
 *
 * @example
 * ```ts
 * const params = attachGridId({ algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 });
 * await writeEventRows([{ seed: 1, event_id: 0, op: 'insert', regret: 0.037 }], 'results', params);
 * // Columnar: the same row as a column object.
 * await writeEventRows(
 *   { seed: [1], event_id: new BigInt64Array([0n]), op: ['insert'], regret: new Float64Array([0.037]) },
 *   'results',
 *   params,
 * );
 * ```
 */
export function writeEventRows(
  rows: WriteInput,
  baseOut: string,
  params?: Params,
  options: SweepWriteOptions = {},
): Promise<SweepWriteResult> {
  return writeSweep(baseOut, EVENTS_DATASET, params, options, rows, (o) =>
    writeRows(baseOut, EVENTS_DATASET, rows, { ...o, fillColumns: REGRET_FILLS }),
  );
}

/**
 * Writes seed-level summary rows of one grid to `<baseOut>/seeds/grid_id=…/seed=…/`, like
 * {@link writeEventRows} (without the regret normalisation, as exp_engine). In a lake exp_engine
 * wrote, `seeds` is partitioned by `grid_id` alone, and the seed stays a column.
 *
 * @example
 * ```ts
 * await writeSeedRows([{ seed: 1, avg_regret_empirical: 0.12 }], 'results', params);
 * ```
 */
export function writeSeedRows(
  rows: WriteInput,
  baseOut: string,
  params?: Params,
  options: SweepWriteOptions = {},
): Promise<SweepWriteResult> {
  return writeSweep(baseOut, SEEDS_DATASET, params, options, rows, (o) =>
    writeRows(baseOut, SEEDS_DATASET, rows, o),
  );
}

/**
 * Writes the result of a DuckDB query as rows of one grid into `events` or `seeds`, like
 * {@link writeEventRows} but columnar: the rows never pass through JavaScript (see `writeQuery`).
 * A `seed` column gives each row's seed; `params.seed` is the default.
 *
 * @example
 * ```ts
 * await withStagingConnection((c) =>
 *   writeSweepQuery(EVENTS_DATASET, c, "SELECT * FROM read_csv('seed_1.csv')", 'lake', { ...params, seed: 1 }),
 * );
 * ```
 */
export function writeSweepQuery(
  dataset: DatasetDefinition,
  connection: DuckDBConnection,
  select: string,
  baseOut: string,
  params: Params,
  options: SweepWriteOptions = {},
): Promise<SweepWriteResult> {
  return writeSweep(baseOut, dataset, params, options, undefined, (o) =>
    writeQuery(baseOut, dataset, connection, select, o),
  );
}

async function writeSweep(
  baseOut: string,
  dataset: DatasetDefinition,
  params: Params | undefined,
  options: SweepWriteOptions,
  rows: WriteInput | undefined,
  write: (options: WriteOptions) => Promise<WriteResult>,
): Promise<SweepWriteResult> {
  const paths = lakePaths(baseOut);
  if (rows !== undefined && inputRowCount(rows) === 0)
    return { dataset: dataset.name, rowCount: 0, files: [], skippedFiles: 0, gridId: '' };
  const setting = await resolveGridIdScheme(paths, options.gridIdScheme);
  const hasParams = params !== undefined && Object.keys(params).length > 0;
  const grid = hasParams ? gridIdentity(params, setting.scheme, options) : undefined;
  const seed = params?.seed;
  if (seed !== undefined && !(typeof seed === 'bigint' || Number.isSafeInteger(seed))) {
    throw new ParamsError('seed', `${JSON.stringify(seed)} is not an integer`);
  }
  // Follow the layout the dataset already has on disk (exp_engine's seeds by grid_id alone, its
  // ten-key layout, whose other keys take each row's value, else the params', else the Hive
  // default partition); a new dataset gets the definition's, extra keys first.
  const onDisk =
    (await readManifest(paths, dataset.name))?.partitionBy ?? (await discoverPartitionLayout(paths, dataset));
  const partitions = sweepPartitions(dataset, params ?? {}, onDisk, grid?.grid_id, options);
  const seedless = rows !== undefined && seed === undefined && columnIsAllNull(rows, 'seed');
  // Check for a collision before any file is written; the record itself goes last, so a refused
  // batch of rows leaves no trace.
  if (grid) await assertNoCollision(baseOut, grid, options);
  const result = await write({
    ...partitions,
    nullablePartitions: seedless ? ['seed'] : [],
    float32Columns: options.float32Columns,
    fileStem: options.fileStem,
  });
  if ((result.rowCount > 0 || result.skippedFiles > 0) && params && grid) {
    await writeGridParams(baseOut, params, { ...options, scheme: setting.scheme });
    // Rows that bring their own ids say nothing about the scheme; params hashed by it do. A
    // setting read from the lake's record is recorded already.
    if (setting.source !== 'recorded') await recordGridIdSetting(paths, setting);
  }
  return { ...result, gridId: grid?.grid_id ?? '' };
}

/**
 * The partition options of a sweep write: `grid_id` (when the params have one) and the extra
 * keys asked for are fixed; `seed` and the other keys of the layout on disk default to the
 * params' values; a layout on disk other than the definition's is followed. Refuses extra keys
 * that disagree with the layout on disk.
 *
 * @example
 * ```ts
 * sweepPartitions(EVENTS_DATASET, { lr: 0.1, seed: 1 }, undefined, 'g1', {});
 * // { partitionFixed: { grid_id: 'g1' }, partitionDefaults: { seed: 1 }, extraPartitionKeys: [], layout: undefined }
 * ```
 */
export function sweepPartitions(
  dataset: DatasetDefinition,
  params: Params,
  onDisk: ReadonlyArray<{ readonly name: string; readonly type: ColumnType }> | undefined,
  gridId: string | undefined,
  options: Pick<SweepWriteOptions, 'partitionByParams'>,
): Pick<WriteOptions, 'partitionFixed' | 'partitionDefaults' | 'extraPartitionKeys' | 'layout'> {
  const extraKeys = onDisk ? [] : (options.partitionByParams ?? []);
  const asked = [...(options.partitionByParams ?? []), ...dataset.partitionBy.map((k) => k.name)].join('/');
  if (onDisk && options.partitionByParams && onDisk.map((k) => k.name).join('/') !== asked) {
    throw new DatasetLayoutError(
      dataset.name,
      `the dataset is partitioned as ${onDisk.map((k) => k.name).join('/')}, this write asks for ${asked}; ` +
        'leave out partitionByParams to follow the layout on disk',
    );
  }
  const fixed: Record<string, PartitionValue> = gridId === undefined ? {} : { grid_id: gridId };
  for (const key of extraKeys) fixed[key] = scalarParam(params, key);
  const seed = params.seed;
  const defaults: Record<string, PartitionValue> = seed === undefined ? {} : { seed: seed as PartitionValue };
  for (const key of onDisk ?? []) {
    const value = params[key.name];
    if (key.name === 'grid_id' || key.name === 'seed' || value === undefined || value === null) continue;
    const scalar = scalarParam(params, key.name);
    // A key exp_engine only ever left empty was read as text: its value goes in as text.
    defaults[key.name] = key.type.kind === 'string' ? String(scalar) : scalar;
  }
  return {
    partitionFixed: fixed,
    partitionDefaults: defaults,
    extraPartitionKeys: extraKeys,
    layout: onDisk && sameKeys(onDisk, dataset) ? undefined : onDisk,
  };
}

/** True when a layout on disk is the definition's own (no need to override it). */
function sameKeys(layout: ReadonlyArray<{ name: string }>, dataset: DatasetDefinition): boolean {
  return layout.map((k) => k.name).join('/') === dataset.partitionBy.map((k) => k.name).join('/');
}

function scalarParam(params: Params, key: string): PartitionValue {
  const value = params[key];
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (value instanceof PythonFloat) return value.value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new ParamsError(
    key,
    `cannot be a partition directory: ${value === undefined ? 'missing' : 'not a finite scalar'}`,
  );
}

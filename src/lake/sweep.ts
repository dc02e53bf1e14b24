import type { DuckDBConnection } from '@duckdb/node-api';
import type { CanonicalizeOptions, Params } from './canonical-params.js';
import { type DatasetDefinition, EVENTS_DATASET, SEEDS_DATASET } from './dataset.js';
import { ParamsError } from './errors.js';
import { assertNoCollision, gridRecord, writeGridParams } from './grids.js';
import type { PartitionValue } from './partition-path.js';
import type { Row } from './row-batch.js';
import { writeQuery } from './write-query.js';
import { type WriteOptions, type WriteResult, writeRows } from './write-rows.js';

/** Options for {@link writeEventRows} and {@link writeSeedRows}. */
export interface SweepWriteOptions
  extends CanonicalizeOptions,
    Pick<WriteOptions, 'float32Columns' | 'fileStem'> {
  /**
   * Params to add as partition directories before `grid_id`/`seed`, in this order (exp_engine's
   * older `algo=/accountant=/gamma_bar=/…/grid_id=/seed=` layout). Fixed by a dataset's first write.
   */
  readonly partitionByParams?: readonly string[];
}

/** A write into a sweep dataset, with the grid id the params hash to. */
export interface SweepWriteResult extends WriteResult {
  readonly gridId: string;
}

/**
 * Writes event-level rows of one grid to `<baseOut>/events/grid_id=…/seed=…/part-<uuid>.parquet`
 * and records the params once in `<baseOut>/grids/grid_id=…/params.json`.
 *
 * Each row's `seed` is its partition (falling back to `params.seed`). A row may repeat the params
 * (the exp_engine `{**params, seed, …}` style); a `grid_id` in a row must match the params'.
 *
 * @example
 * ```ts
 * const params = attachGridId({ algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 });
 * await writeEventRows([{ seed: 1, event_id: 0, op: 'insert', regret: 0.037 }], 'results', params);
 * ```
 */
export function writeEventRows(
  rows: readonly Row[],
  baseOut: string,
  params: Params,
  options: SweepWriteOptions = {},
): Promise<SweepWriteResult> {
  return writeSweep(baseOut, params, options, (o) => writeRows(baseOut, EVENTS_DATASET, rows, o));
}

/**
 * Writes seed-level summary rows of one grid to `<baseOut>/seeds/grid_id=…/seed=…/`, like
 * {@link writeEventRows}.
 *
 * @example
 * ```ts
 * await writeSeedRows([{ seed: 1, avg_regret_empirical: 0.12 }], 'results', params);
 * ```
 */
export function writeSeedRows(
  rows: readonly Row[],
  baseOut: string,
  params: Params,
  options: SweepWriteOptions = {},
): Promise<SweepWriteResult> {
  return writeSweep(baseOut, params, options, (o) => writeRows(baseOut, SEEDS_DATASET, rows, o));
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
  return writeSweep(baseOut, params, options, (o) => writeQuery(baseOut, dataset, connection, select, o));
}

async function writeSweep(
  baseOut: string,
  params: Params,
  options: SweepWriteOptions,
  write: (options: WriteOptions) => Promise<WriteResult>,
): Promise<SweepWriteResult> {
  const record = gridRecord(params, options);
  const extraKeys = options.partitionByParams ?? [];
  const fixed: Record<string, PartitionValue> = { grid_id: record.grid_id };
  for (const key of extraKeys) fixed[key] = scalarParam(params, key);
  const seed = params.seed;
  if (seed !== undefined && !(typeof seed === 'bigint' || Number.isSafeInteger(seed))) {
    throw new ParamsError('seed', `${JSON.stringify(seed)} is not an integer`);
  }
  // Check for a collision before any file is written; the record itself goes last, so a refused
  // batch of rows leaves no trace.
  await assertNoCollision(baseOut, record);
  const result = await write({
    partitionFixed: fixed,
    partitionDefaults: seed === undefined ? {} : { seed: seed as PartitionValue },
    extraPartitionKeys: extraKeys,
    float32Columns: options.float32Columns,
    fileStem: options.fileStem,
  });
  await writeGridParams(baseOut, params, options);
  return { ...result, gridId: record.grid_id };
}

function scalarParam(params: Params, key: string): PartitionValue {
  const value = params[key];
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new ParamsError(
    key,
    `cannot be a partition directory: ${value === undefined ? 'missing' : 'not a finite scalar'}`,
  );
}

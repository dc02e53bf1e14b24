import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type ColumnType, columnTypeFromDuckDB, quoteLiteral, t } from './column-types.js';
import type { DatasetDefinition } from './dataset.js';
import type { LakePaths } from './layout.js';
import type { DatasetManifest } from './manifest.js';
import { decodePartitionComponent, HIVE_NULL_PARTITION } from './partition-path.js';

const CANONICAL_INTEGER = /^-?(0|[1-9][0-9]{0,17})$/;
// Numbers as a writer would print them: no leading zeros, so `007` stays a string.
const DECIMAL_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

/**
 * Builds a manifest for a dataset that has Parquet files but no runlake manifest, e.g. one written
 * by pandas/pyarrow `write_to_dataset(partition_cols=…)`. Partition keys come from the directory
 * names (in path order); their types from the dataset definition when it declares them, otherwise
 * from the values found on disk (integers without leading zeros → BIGINT, other numbers → DOUBLE,
 * anything else → VARCHAR, and `grid_id` always VARCHAR). Column types come from the files.
 * Returns `undefined` when the dataset has no files.
 *
 * @example
 * ```ts
 * const manifest = await discoverDataset(connection, lakePaths('lake'), EVENTS_DATASET);
 * ```
 */
export async function discoverDataset(
  connection: DuckDBConnection,
  paths: LakePaths,
  dataset: Pick<DatasetDefinition, 'name'> & Partial<Pick<DatasetDefinition, 'partitionBy'>>,
): Promise<DatasetManifest | undefined> {
  const partitionBy = await discoverPartitionLayout(paths, dataset);
  if (!partitionBy) return undefined;
  const keys = partitionBy.map((k) => k.name);

  const glob = paths.datasetGlob(dataset.name);
  const reader = await connection.runAndReadAll(
    `SELECT * FROM read_parquet(${quoteLiteral(glob)}, hive_partitioning = false, union_by_name = true) LIMIT 0`,
  );
  const names = reader.columnNames();
  const types = reader.columnTypes();
  const partitionNames = new Set(keys);
  const columns = names
    .map((name, i) => ({ name, type: columnTypeFromDuckDB(types[i] as (typeof types)[number]) }))
    .filter((c) => !partitionNames.has(c.name));
  return { format: 1, dataset: dataset.name, partitionBy, columns };
}

/**
 * The partition keys of a dataset as its directories show them (path order), with types from the
 * definition when it declares them, else inferred from the values (see {@link discoverDataset}).
 * `undefined` when the dataset has no Parquet files.
 *
 * @example
 * ```ts
 * (await discoverPartitionLayout(lakePaths('results'), SEEDS_DATASET))?.map((k) => k.name); // ['grid_id']
 * ```
 */
export async function discoverPartitionLayout(
  paths: LakePaths,
  dataset: Pick<DatasetDefinition, 'name'> & Partial<Pick<DatasetDefinition, 'partitionBy'>>,
): Promise<Array<{ name: string; type: ColumnType }> | undefined> {
  const values = new Map<string, Set<string>>();
  const keys: string[] = [];
  if (!(await walkPartitions(paths.dataset(dataset.name), 0, keys, values))) return undefined;
  const declared = new Map((dataset.partitionBy ?? []).map((k) => [k.name, k.type]));
  return keys.map((name) => ({
    name,
    type: declared.get(name) ?? inferPartitionType(name, values.get(name)),
  }));
}

// Walks key=value directories; records the key order from the first branch and every value seen.
async function walkPartitions(
  directory: string,
  depth: number,
  keys: string[],
  values: Map<string, Set<string>>,
): Promise<boolean> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  let sawFile = entries.some((e) => e.isFile() && e.name.endsWith('.parquet'));
  for (const entry of entries) {
    const eq = entry.name.indexOf('=');
    if (!entry.isDirectory() || eq <= 0) continue;
    const key = decodePartitionComponent(entry.name.slice(0, eq));
    if (keys[depth] === undefined) keys[depth] = key;
    if (keys[depth] !== key) continue;
    const set = values.get(key) ?? new Set<string>();
    values.set(key, set);
    set.add(entry.name.slice(eq + 1));
    if (await walkPartitions(path.join(directory, entry.name), depth + 1, keys, values)) sawFile = true;
  }
  return sawFile;
}

function inferPartitionType(name: string, encodedValues: ReadonlySet<string> | undefined): ColumnType {
  if (name === 'grid_id' || !encodedValues) return t.string;
  const decoded = [...encodedValues].filter((v) => v !== HIVE_NULL_PARTITION).map(decodePartitionComponent);
  if (decoded.length === 0) return t.string;
  if (decoded.every((v) => CANONICAL_INTEGER.test(v))) return t.int64;
  if (decoded.every((v) => DECIMAL_NUMBER.test(v))) return t.float64;
  if (decoded.every((v) => v === 'true' || v === 'false')) return t.bool;
  return t.string;
}

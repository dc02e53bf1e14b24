import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  currentDatasetFiles,
  lakePaths,
  quoteLiteral,
  RunlakeError,
  type Violation,
  withStagingConnection,
} from '../lake/index.js';
import { DTYPES } from './dtype.js';
import type { NdArray } from './npy.js';
import { ShardedDatasetReader } from './reader.js';
import { INDEX_FILE } from './sqlite-index.js';

/**
 * A lake row's pointer to one vector in an array-shards store: the `shard_ref` column of the
 * Squiggle `embeddings` dataset. `store` is relative to the lake directory; `row` picks a row of a
 * 2-D array (one probe set's matrix), or is null when the array is the vector itself.
 */
export interface ShardRef {
  readonly store: string;
  readonly sample_id: string;
  readonly field: string;
  readonly row?: number | bigint | null;
}

/** A {@link ShardRef} that does not resolve: the store, sample, field or row is missing. */
export class ShardRefError extends RunlakeError {
  override readonly name = 'ShardRefError';
  constructor(
    readonly ref: ShardRef,
    readonly reason: string,
  ) {
    super(`shard_ref ${describeRef(ref)}: ${reason}`);
  }
}

function describeRef(ref: ShardRef): string {
  const row = ref.row === null || ref.row === undefined ? '' : `[${ref.row}]`;
  return `${ref.store}:${ref.sample_id}/${ref.field}${row}`;
}

/**
 * Resolves `shard_ref`s of a lake into vectors, opening each array-shards store once and reading
 * each referenced array once (a probe set's matrix serves all its rows).
 *
 * @example
 * ```ts
 * const resolver = new ShardRefResolver('squiggle-lake');
 * const vector = resolver.vector({ store: 'shards/probe', sample_id: 'sample_000000000001', field: 'resid_post_l6', row: 3 });
 * resolver.close();
 * ```
 */
export class ShardRefResolver {
  readonly #root: string;
  readonly #readers = new Map<string, ShardedDatasetReader>();
  readonly #arrays = new Map<string, NdArray>();

  constructor(lake: string) {
    this.#root = lakePaths(lake).root;
  }

  /** The referenced array (the whole matrix of a row reference). Throws {@link ShardRefError}. */
  array(ref: ShardRef): NdArray {
    const key = `${ref.store}\u0000${ref.sample_id}\u0000${ref.field}`;
    const cached = this.#arrays.get(key);
    if (cached) return cached;
    const reader = this.#reader(ref);
    if (!reader.listFields().includes(ref.field)) {
      throw new ShardRefError(
        ref,
        `the store has no field "${ref.field}" (${reader.listFields().join(', ')})`,
      );
    }
    let array: NdArray | undefined;
    try {
      array = reader.getSample(ref.sample_id, [ref.field]).arrays[ref.field];
    } catch (error) {
      throw new ShardRefError(ref, error instanceof Error ? error.message : String(error));
    }
    if (!array) throw new ShardRefError(ref, `sample ${ref.sample_id} has no ${ref.field} array`);
    this.#arrays.set(key, array);
    return array;
  }

  /**
   * The referenced vector as float32: the array itself when `row` is null (it must be 1-D), else
   * that row of a 2-D array (C or Fortran order). Throws {@link ShardRefError}.
   */
  vector(ref: ShardRef): Float32Array {
    const array = this.array(ref);
    const info = DTYPES[array.dtype];
    // Complex (two numbers per value), strings, datetimes and raw bytes are no embedding.
    if (info.lanes !== 1 || info.codec === 'raw' || info.needsDescr)
      throw new ShardRefError(
        ref,
        `the array's dtype ${array.descr ?? array.dtype} is not a real number type`,
      );
    const { shape, data } = array;
    const numeric = (i: number) => Number(data[i] as number | bigint | boolean);
    if (ref.row === null || ref.row === undefined) {
      if (shape.length !== 1)
        throw new ShardRefError(ref, `row is null, but the array has shape (${shape.join(', ')}), not 1-D`);
      return Float32Array.from({ length: shape[0] as number }, (_, i) => numeric(i));
    }
    const row = Number(ref.row);
    if (shape.length !== 2)
      throw new ShardRefError(ref, `a row reference needs a 2-D array, not shape (${shape.join(', ')})`);
    const [rows, width] = shape as [number, number];
    if (!Number.isSafeInteger(row) || row < 0 || row >= rows) {
      throw new ShardRefError(ref, `row ${ref.row} is outside the array's ${rows} rows`);
    }
    return array.order === 'C'
      ? Float32Array.from({ length: width }, (_, j) => numeric(row * width + j))
      : Float32Array.from({ length: width }, (_, j) => numeric(row + j * rows));
  }

  /** Closes every store opened. */
  close(): void {
    for (const reader of this.#readers.values()) reader.close();
    this.#readers.clear();
    this.#arrays.clear();
  }

  #reader(ref: ShardRef): ShardedDatasetReader {
    const existing = this.#readers.get(ref.store);
    if (existing) return existing;
    const root = path.resolve(this.#root, ref.store);
    if (!existsSync(path.join(root, INDEX_FILE))) {
      throw new ShardRefError(ref, `no array-shards store at ${root} (no ${INDEX_FILE})`);
    }
    const reader = new ShardedDatasetReader(root, { indexCache: 'lazy' });
    this.#readers.set(ref.store, reader);
    return reader;
  }
}

/**
 * Checks that every `shard_ref` of a lake's `embeddings` files resolves: the store, the sample and
 * the field exist, the row is inside the array, and the vector has the row's `dim` entries.
 * Returns one violation per failing row (file, 0-based row, column `shard_ref`), for
 * `validateLake(lake, { referenceChecks: [checkShardRefs] })` and `runlake validate`.
 *
 * @example
 * ```ts
 * const problems = await checkShardRefs('squiggle-lake');
 * ```
 */
export async function checkShardRefs(lake: string): Promise<Violation[]> {
  const paths = lakePaths(lake);
  const files = await currentDatasetFiles(paths, 'embeddings');
  if (files.length === 0) return [];
  const list = files.map((f) => quoteLiteral(path.join(paths.dataset('embeddings'), f))).join(', ');
  const rows = await withStagingConnection(async (connection) => {
    const source = `read_parquet([${list}], hive_partitioning = false, union_by_name = true, filename = '__file', file_row_number = true)`;
    const columns = (await connection.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames();
    if (!columns.includes('shard_ref')) return [];
    const dim = columns.includes('dim') ? 'dim' : 'NULL';
    return (
      await connection.runAndReadAll(
        `SELECT "__file", file_row_number, shard_ref, ${dim} FROM ${source} WHERE shard_ref IS NOT NULL ORDER BY 1, 2`,
      )
    ).getRowsJS();
  });
  const resolver = new ShardRefResolver(lake);
  const violations: Violation[] = [];
  try {
    for (const [file, row, ref, dim] of rows) {
      let reason: string | undefined;
      try {
        const vector = resolver.vector(ref as unknown as ShardRef);
        if (dim !== null && dim !== undefined && vector.length !== Number(dim)) {
          reason = `the vector has ${vector.length} entries, but dim is ${dim}`;
        }
      } catch (error) {
        if (!(error instanceof ShardRefError)) throw error;
        reason = error.message;
      }
      if (reason) {
        violations.push({
          dataset: 'embeddings',
          file: path.relative(paths.root, String(file)),
          row: Number(row),
          column: 'shard_ref',
          kind: 'reference',
          message: reason,
          rowsAffected: 1,
        });
      }
    }
  } finally {
    resolver.close();
  }
  return violations;
}

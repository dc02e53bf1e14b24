import { DuckDBDoubleVector, DuckDBListVector, type DuckDBValue, type DuckDBVector } from '@duckdb/node-api';
import { type QueryLimits, streamReadOnlyChunks } from './query-runner.js';
import type { SandboxedLake } from './sandbox.js';

/** A per-run result row: scalars as JS values, `LIST(DOUBLE)` columns as `Float64Array`s. */
export type RunRow = Record<string, string | number | boolean | Float64Array | null>;

/**
 * Streams a query with one row per run and hands each row to `use`, reading list columns straight
 * from DuckDB's vectors: boxing millions of points one `getColumnsJS` value at a time costs more
 * than the query.
 *
 * @example
 * ```ts
 * await forEachRunRow(lake, 'SELECT run_id, list(value) AS value FROM metrics_scalar GROUP BY run_id', limits, [], (row) => {
 *   (row.value as Float64Array).length;
 * });
 * ```
 */
export async function forEachRunRow(
  served: SandboxedLake,
  sql: string,
  limits: QueryLimits,
  params: readonly DuckDBValue[],
  use: (row: RunRow) => void,
): Promise<void> {
  await streamReadOnlyChunks(served, sql, limits, params, (chunk, names) => {
    const vectors = names.map((_, c) => chunk.getColumnVector(c));
    const flat = vectors.map((vector) =>
      vector instanceof DuckDBListVector ? flatDoubles(vector) : undefined,
    );
    for (let r = 0; r < chunk.rowCount; r++) {
      const row: RunRow = {};
      names.forEach((name, c) => {
        const vector = vectors[c] as DuckDBVector;
        row[name] =
          vector instanceof DuckDBListVector ? listItems(vector, r, flat[c]) : scalarItem(vector.getItem(r));
      });
      use(row);
    }
  });
}

function listItems(
  vector: DuckDBListVector,
  row: number,
  flat: Float64Array | undefined,
): Float64Array | null {
  const length = vector.getEntryLength(row);
  // getItem builds the whole list as values: ask it only to tell an empty list from a null one.
  if (length === 0 && vector.getItem(row) === null) return null;
  const offset = vector.getEntryOffset(row);
  if (flat) return flat.subarray(offset, offset + length);
  const child = vector.childVector;
  const items = new Float64Array(length);
  for (let i = 0; i < items.length; i++) items[i] = Number(child.getItem(offset + i) ?? Number.NaN);
  return items;
}

/**
 * A list vector's DOUBLE elements as one array, when none is null: each run's list is then a view
 * into it rather than a copy (a thousand runs' lists are 50 MB a request to copy and collect).
 * The node API keeps a double vector's values in a `Float64Array` and its validity mask null when
 * every value is valid; anything else (another version, a null value) takes the copying path.
 */
function flatDoubles(vector: DuckDBListVector): Float64Array | undefined {
  const child = vector.childVector;
  if (!(child instanceof DuckDBDoubleVector)) return undefined;
  const inside = child as unknown as { items?: unknown; validity?: { data?: unknown } };
  return inside.items instanceof Float64Array && inside.validity?.data === null ? inside.items : undefined;
}

function scalarItem(value: unknown): string | number | boolean | null {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return value;
  return typeof value === 'bigint' ? Number(value) : String(value);
}

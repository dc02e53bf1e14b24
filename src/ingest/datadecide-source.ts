/**
 * Reading a DataDecide Parquet file and turning its cells into `full_eval` values: the column
 * type families the ingesters accept, whole-number and seed checks, all failing with the file,
 * 0-based row and column.
 */
import path from 'node:path';
import { InputFileError, quoteLiteral, withStagingConnection } from '../lake/index.js';
import { DATADECIDE_SEEDS, type DataDecideSeed, dataDecideSeed } from './datadecide-names.js';

/**
 * The type family of a Parquet column, as the ingesters check it.
 *
 * @example
 * ```ts
 * const family: ColumnFamily = columnFamily('DOUBLE'); // 'float'
 * ```
 */
export type ColumnFamily = 'integer' | 'float' | 'string' | 'boolean' | 'other';

/**
 * A column of a source file: its name and DuckDB type.
 *
 * @example
 * ```ts
 * const [first]: SourceColumn[] = await sourceColumns('full_eval.parquet'); // { name: 'params', type: 'VARCHAR' }
 * ```
 */
export interface SourceColumn {
  readonly name: string;
  readonly type: string;
}

/**
 * The type family of a DuckDB column type.
 *
 * @example
 * ```ts
 * columnFamily('BIGINT'); // 'integer'
 * ```
 */
export function columnFamily(duckdbType: string): ColumnFamily {
  if (
    /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/.test(
      duckdbType,
    )
  )
    return 'integer';
  if (duckdbType === 'FLOAT' || duckdbType === 'DOUBLE') return 'float';
  if (duckdbType === 'VARCHAR') return 'string';
  if (duckdbType === 'BOOLEAN') return 'boolean';
  return 'other';
}

/**
 * How error messages name a family.
 *
 * @example
 * ```ts
 * FAMILY_NAMES.integer; // 'an integer type'
 * ```
 */
export const FAMILY_NAMES: Readonly<Record<ColumnFamily, string>> = {
  integer: 'an integer type',
  float: 'a floating type',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  other: 'another type',
};

/**
 * The `read_parquet` expression of a file (no hive partitioning: a `key=value` directory in the
 * path must not add a column).
 *
 * @example
 * ```ts
 * parquetSource('a.parquet'); // "read_parquet('/abs/a.parquet', hive_partitioning = false)"
 * ```
 */
export function parquetSource(file: string, extra = ''): string {
  return `read_parquet(${quoteLiteral(path.resolve(file))}, hive_partitioning = false${extra})`;
}

/**
 * Runs a query over a source file, turning a DuckDB failure into an {@link InputFileError}.
 *
 * @example
 * ```ts
 * const rows = await querySource('a.parquet', `SELECT count(*) AS n FROM ${parquetSource('a.parquet')}`);
 * ```
 */
export async function querySource(file: string, sql: string): Promise<Array<Record<string, unknown>>> {
  return withStagingConnection(async (connection) => {
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Array<Record<string, unknown>>;
    } catch (error) {
      throw new InputFileError(file, `cannot read as Parquet: ${(error as Error).message.split('\n')[0]}`);
    }
  });
}

/**
 * The columns of a Parquet file, in file order.
 *
 * @example
 * ```ts
 * (await sourceColumns('full_eval.parquet')).map((c) => c.name); // ['params', 'data', 'seed', …]
 * ```
 */
export async function sourceColumns(file: string): Promise<SourceColumn[]> {
  const described = await querySource(file, `DESCRIBE SELECT * FROM ${parquetSource(file)}`);
  return described.map((d) => ({ name: String(d.column_name), type: String(d.column_type) }));
}

/**
 * Throws the error of one cell: file, 0-based row, column and cause.
 *
 * @example
 * ```ts
 * const fail: CellFailure = (why) => { throw new InputFileError(file, `row ${r}, column "step": ${why}`); };
 * ```
 */
export type CellFailure = (why: string) => never;

/**
 * A whole number from an integer or whole-valued float cell (bigint where it is beyond 2^53).
 *
 * @example
 * ```ts
 * wholeNumber(12500, fail); // 12500
 * ```
 */
export function wholeNumber(value: unknown, fail: CellFailure): number | bigint {
  if (value === null || value === undefined) return fail('is null');
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  return fail(`${String(value)} is not a whole number`);
}

/**
 * As {@link wholeNumber}, with null (and, since pandas writes a missing number as NaN, NaN) as
 * null.
 *
 * @example
 * ```ts
 * optionalWhole(Number.NaN, fail); // null
 * ```
 */
export function optionalWhole(value: unknown, fail: CellFailure): number | bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' && Number.isNaN(value)) return null;
  if (typeof value === 'number' && !Number.isFinite(value)) return fail(`${value} is not a whole number`);
  return wholeNumber(value, fail);
}

/**
 * A number cell as a JS number (null stays null).
 *
 * @example
 * ```ts
 * optionalNumber(3n); // 3
 * ```
 */
export function optionalNumber(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return Number(value);
}

/**
 * A seed cell as `full_eval`'s `seed` (datadec's index) and `seed_name` (DataDecide's name),
 * through {@link DATADECIDE_SEEDS}: text is a DataDecide name or a training seed (`seed-14`,
 * `14`); an integer is datadec's index 0–4 (what datadec's own files hold). Anything else fails.
 *
 * @example
 * ```ts
 * seedCell('small aux 2', fail); // { seed: 1, seed_name: 'small aux 2' }
 * seedCell('seed-14', fail); // { seed: 1, seed_name: 'small aux 2' }
 * seedCell(1n, fail); // { seed: 1, seed_name: 'small aux 2' }
 * ```
 */
export function seedCell(value: unknown, fail: CellFailure): { seed: number; seed_name: string } {
  let seed: DataDecideSeed | undefined;
  if (typeof value === 'string') {
    seed = dataDecideSeed(value);
    if (!seed) {
      return fail(
        `"${value}" is not a DataDecide seed (a name: ${DATADECIDE_SEEDS.map((s) => s.name).join(', ')}; ` +
          `or a training seed: ${DATADECIDE_SEEDS.map((s) => `seed-${s.trainingSeed}`).join(', ')})`,
      );
    }
  } else {
    if (typeof value === 'number' && Number.isNaN(value)) {
      return fail('is NaN (datadec writes NaN for a seed name its SEED_MAP does not know)');
    }
    const index = wholeNumber(value, fail);
    seed = DATADECIDE_SEEDS.find((s) => s.index === Number(index));
    if (!seed) {
      return fail(
        `${String(index)} is not a datadec seed index (0–4); a training seed must be text, e.g. "seed-14"`,
      );
    }
  }
  return { seed: seed.index, seed_name: seed.name };
}

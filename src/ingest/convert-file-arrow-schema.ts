import { Dictionary, Field, Int32, Schema, Table, tableToIPC, Utf8 } from 'apache-arrow';
import { arrowTypeOfDuckDBName } from '../lake/index.js';

// Only the types whose Parquet storage an Arrow reader takes as this Arrow type unchanged: a
// timestamp or decimal hint would make readers reinterpret DuckDB's microseconds or decimals.
const HINTED_TYPES = new Set([
  'BIGINT',
  'INTEGER',
  'SMALLINT',
  'TINYINT',
  'DOUBLE',
  'FLOAT',
  'VARCHAR',
  'BOOLEAN',
]);

/**
 * The `ARROW:schema` Parquet metadata value (base64 of an Arrow IPC schema message, as pyarrow
 * writes it) for columns of DuckDB types, with the `dictionary` text columns typed
 * `Dictionary<Int32, Utf8>`: Arrow readers (pyarrow, arrow-rs/parquet-wasm, polars) then load those
 * columns as dictionaries (a pandas `category`, the seed's encoding) straight from the dictionary
 * pages instead of materialising every string. Returns `undefined` when a column's type has no
 * plain Arrow equivalent here (nested, temporal, decimal…): readers then infer from Parquet alone.
 *
 * @example
 * ```ts
 * const hint = arrowSchemaHint([{ name: 'variant', type: 'VARCHAR' }], new Set(['variant']));
 * // COPY … (FORMAT parquet, KV_METADATA {'ARROW:schema': hint})
 * ```
 */
export function arrowSchemaHint(
  columns: ReadonlyArray<{ readonly name: string; readonly type: string }>,
  dictionary: ReadonlySet<string>,
): string | undefined {
  const fields: Field[] = [];
  let dictionaryId = 0;
  for (const column of columns) {
    const plain = HINTED_TYPES.has(column.type) ? arrowTypeOfDuckDBName(column.type) : undefined;
    if (!plain) return undefined;
    const type =
      column.type === 'VARCHAR' && dictionary.has(column.name)
        ? new Dictionary(new Utf8(), new Int32(), dictionaryId++)
        : plain;
    fields.push(new Field(column.name, type, true));
  }
  return Buffer.from(tableToIPC(new Table(new Schema(fields)), 'stream')).toString('base64');
}

import {
  Bool,
  type DataType,
  Dictionary,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  Schema,
  Table,
  tableToIPC,
  Utf8,
} from 'apache-arrow';

const ARROW_TYPES: Record<string, () => DataType> = {
  BIGINT: () => new Int64(),
  INTEGER: () => new Int32(),
  SMALLINT: () => new Int16(),
  TINYINT: () => new Int8(),
  DOUBLE: () => new Float64(),
  FLOAT: () => new Float32(),
  VARCHAR: () => new Utf8(),
  BOOLEAN: () => new Bool(),
};

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
    const make = ARROW_TYPES[column.type];
    if (!make) return undefined;
    const type =
      column.type === 'VARCHAR' && dictionary.has(column.name)
        ? new Dictionary(new Utf8(), new Int32(), dictionaryId++)
        : make();
    fields.push(new Field(column.name, type, true));
  }
  return Buffer.from(tableToIPC(new Table(new Schema(fields)), 'stream')).toString('base64');
}

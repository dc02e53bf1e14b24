import { Bool, Float64, Int64, Table, Utf8, type Vector, vectorFromArray } from 'apache-arrow';
import { PythonFloat, parsePythonJson } from '../../lake/python-json.js';
import { FrameError } from './frame-error.js';

type Kind = 'bool' | 'int' | 'float' | 'str';

/**
 * Rows as Python's `json.dumps(rows, allow_nan=True)` wrote them (a list of flat dicts), typed as
 * pandas would type them for exp_engine's `to_parquet` (docs/tracking.md, "Sweep lakes"): a
 * column of floats is DOUBLE even when every value is whole (`1.0` stays a float), an integer
 * column with a missing value becomes DOUBLE, NaN in a float column is a null (pandas → pyarrow
 * writes it so), booleans stay booleans and text stays text. A column mixing kinds (text and
 * numbers), or holding lists or dicts, is refused naming it.
 *
 * @example
 * ```ts
 * const table = pythonRowsTable('[{"seed": 1, "regret": 1.0, "op": "insert"}]', 'frame: header.records[0].rows');
 * table.schema.fields.map((f) => String(f.type)); // ['Int64', 'Float64', 'Utf8']
 * ```
 */
export function pythonRowsTable(text: string, where: string): Table {
  let parsed: unknown;
  try {
    parsed = parsePythonJson(text);
  } catch (error) {
    throw new FrameError(`${where}: not Python JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new FrameError(`${where}: expected a list of row dicts`);
  const columns = new Map<string, unknown[]>();
  parsed.forEach((row: unknown, i: number) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row) || row instanceof PythonFloat) {
      throw new FrameError(`${where}: row ${i} is not a dict`);
    }
    for (const [name, value] of Object.entries(row)) {
      let values = columns.get(name);
      if (!values) {
        values = new Array(parsed.length).fill(null);
        columns.set(name, values);
      }
      values[i] = value;
    }
  });
  const vectors: Record<string, Vector> = {};
  for (const [name, values] of columns) vectors[name] = columnVector(name, values, where);
  return new Table(vectors);
}

function columnVector(name: string, values: unknown[], where: string): Vector {
  const kinds = new Set<Kind>();
  let nulls = 0;
  values.forEach((value, row) => {
    const kind = kindOf(value);
    if (kind === undefined) {
      throw new FrameError(`${where}: column "${name}", row ${row}: lists and dicts are not column values`);
    }
    if (kind === null) nulls++;
    else kinds.add(kind);
  });
  if (kinds.size > 1 && !(kinds.size === 2 && kinds.has('int') && kinds.has('float'))) {
    throw new FrameError(`${where}: column "${name}" mixes ${[...kinds].join(' and ')} values`);
  }
  const kind = kinds.values().next().value ?? 'float';
  if (kind === 'str') return vectorFromArray(values as (string | null)[], new Utf8());
  if (kind === 'bool') return vectorFromArray(values as (boolean | null)[], new Bool());
  if (kind === 'int' && kinds.size === 1 && nulls === 0) {
    return vectorFromArray(
      values.map((v) => BigInt(v as number | bigint)),
      new Int64(),
    );
  }
  return vectorFromArray(
    values.map((v) => {
      if (v === null) return null;
      const x = v instanceof PythonFloat ? v.value : Number(v);
      return Number.isNaN(x) ? null : x;
    }),
    new Float64(),
  );
}

function kindOf(value: unknown): Kind | null | undefined {
  if (value === null) return null;
  if (value instanceof PythonFloat) return 'float';
  switch (typeof value) {
    case 'boolean':
      return 'bool';
    case 'string':
      return 'str';
    case 'bigint':
      return 'int';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'float';
    default:
      return undefined;
  }
}

import { BIGINT, DOUBLE, HUGEINT, LIST, STRUCT, TIMESTAMP, VARCHAR } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { arrowTypeOfDuckDB, arrowTypeOfDuckDBName, arrowValueOfDuckDB } from '../src/index.js';

describe('DuckDB → Arrow type table', () => {
  it('maps scalar, nested and text-only types', () => {
    expect(String(arrowTypeOfDuckDB(BIGINT))).toBe('Int64');
    expect(String(arrowTypeOfDuckDB(DOUBLE))).toBe('Float64');
    expect(String(arrowTypeOfDuckDB(TIMESTAMP))).toBe('Timestamp<MILLISECOND>');
    expect(String(arrowTypeOfDuckDB(LIST(DOUBLE)))).toBe('List<Float64>');
    expect(String(arrowTypeOfDuckDB(STRUCT({ a: BIGINT, b: VARCHAR })))).toBe('Struct<{a:Int64, b:Utf8}>');
    expect(String(arrowTypeOfDuckDB(HUGEINT))).toBe('Utf8');
  });

  it('converts values into what each Arrow type takes', () => {
    expect(arrowValueOfDuckDB(BIGINT, 7)).toBe(7n);
    expect(arrowValueOfDuckDB(TIMESTAMP, new Date(1500))).toBe(1500);
    expect(arrowValueOfDuckDB(HUGEINT, 10n ** 30n)).toBe('1000000000000000000000000000000');
    expect(arrowValueOfDuckDB(STRUCT({ t: TIMESTAMP }), { t: new Date(2) })).toEqual({ t: 2 });
    expect(arrowValueOfDuckDB(LIST(BIGINT), [1, null])).toEqual([1n, null]);
    expect(arrowValueOfDuckDB(DOUBLE, null)).toBeNull();
  });

  it('names only flat scalar types by their DESCRIBE name', () => {
    expect(String(arrowTypeOfDuckDBName('VARCHAR'))).toBe('Utf8');
    expect(String(arrowTypeOfDuckDBName('FLOAT'))).toBe('Float32');
    for (const name of ['INTEGER[]', 'STRUCT', 'LIST', '5', 'toString', 'no_such_type']) {
      expect(arrowTypeOfDuckDBName(name)).toBeUndefined();
    }
  });
});

// What a write takes from its own COPY instead of reading the files back (row counts, schema
// fingerprints), the string columns it writes as ENUMs, and the staging entries it removes: the
// log must still describe every file exactly as a footer read would, and each file's statistics
// must be its own.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { lakePaths, loadSnapshot, t, writeEventRows, writeRows } from '../src/index.js';
import { defineDataset } from '../src/lake/dataset.js';
import { describeParquetFiles } from '../src/lake/transaction.js';
import { tempDir } from './helpers/lake-fixtures.js';

const SPLIT = defineDataset({
  name: 'split',
  description: 'rows partitioned by part',
  partitionBy: [{ name: 'part', type: t.string }],
});

async function withConnection<T>(use: (c: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<T>) {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return await use(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Every live file's log entry against its footer: rows and schema fingerprint. */
async function expectLogMatchesFooters(base: string, dataset: string): Promise<number> {
  const paths = lakePaths(base);
  const live = [...(await loadSnapshot(paths, dataset)).files.values()];
  const absolute = live.map((f) => path.join(paths.dataset(dataset), f.path));
  const described = await withConnection((c) => describeParquetFiles(c, absolute));
  for (const [i, file] of live.entries()) {
    expect({ path: file.path, rows: file.rows, schema: file.schema }).toEqual({
      path: file.path,
      ...described.get(absolute[i] as string),
    });
  }
  return live.length;
}

describe('write staging: COPY stats, ENUM strings, staging cleanup', () => {
  it('records each file as its footer describes it, across writes with and without ENUM strings', async () => {
    const base = tempDir('runlake-staging-stats-');
    // Every op in both partitions: op is written from its ENUM.
    await writeRows(base, SPLIT, {
      part: ['a', 'a', 'b', 'b', 'b'],
      op: ['x', 'y', 'y', 'x', 'x'],
      v: new Float64Array([1, 2, 3, 4, 5]),
    });
    // Partition b lacks "z": op is cast to VARCHAR, with the same schema fingerprint.
    await writeRows(base, SPLIT, {
      part: ['a', 'a', 'a', 'b'],
      op: ['x', 'z', null, 'x'],
      v: new Float64Array([6, 7, 8, 9]),
    });
    // A single partition (one file, no PARTITION_BY directory of its own).
    await writeRows(base, SPLIT, [{ part: 'c', op: 'q', v: 10 }]);
    expect(await expectLogMatchesFooters(base, 'split')).toBe(5);
    const rows = await withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT part, op, count(*)::INT FROM read_parquet('${path.join(base, 'split', '**', '*.parquet')}', hive_partitioning = true) GROUP BY ALL ORDER BY ALL`,
        )
      ).getRowsJS(),
    );
    expect(rows).toEqual([
      ['a', 'x', 2],
      ['a', 'y', 1],
      ['a', 'z', 1],
      ['a', null, 1],
      ['b', 'x', 3],
      ['b', 'y', 1],
      ['c', 'q', 1],
    ]);
  });

  it('gives each file its own string statistics, whichever way the column was written', async () => {
    const base = tempDir('runlake-staging-enum-');
    await writeRows(base, SPLIT, {
      part: ['a', 'a', 'a', 'b', 'b', 'b'],
      op: ['delete', 'query', 'zap', 'delete', 'query', 'zap'],
    });
    await writeRows(base, SPLIT, { part: ['a', 'a', 'b'], op: ['alpha', 'omega', 'alpha'] });
    const stats = await withConnection(async (c) =>
      (
        await c.runAndReadAll(
          `SELECT regexp_extract(file_name, 'part=([a-z])', 1) AS part, stats_min_value, stats_max_value, num_values::INT
           FROM parquet_metadata('${path.join(base, 'split', '**', '*.parquet')}') WHERE path_in_schema = 'op' ORDER BY ALL`,
        )
      ).getRowsJS(),
    );
    expect(stats).toEqual([
      ['a', 'alpha', 'omega', 2],
      ['a', 'delete', 'zap', 3],
      ['b', 'alpha', 'alpha', 1],
      ['b', 'delete', 'zap', 3],
    ]);
  });

  it('leaves no staging entry behind, after a write or a refused one', async () => {
    const base = tempDir('runlake-staging-clean-');
    const params = { algo: 'memorypair', gamma_bar: 1 };
    for (let i = 0; i < 3; i++) {
      await writeEventRows({ seed: [1, 2], step: new Int32Array([i, i]), op: ['a', 'b'] }, base, params);
    }
    await expect(
      writeRows(base, SPLIT, { part: ['a'], v: ['not', 'a'] as unknown as string[] }),
    ).rejects.toThrow();
    expect(readdirSync(lakePaths(base).staging)).toEqual([]);
    expect(await expectLogMatchesFooters(base, 'events')).toBe(6);
  });
});

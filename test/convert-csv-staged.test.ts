/**
 * `convertCsvSweep` reads each row-copying CSV once: the strict, typed COPY that stages its Parquet
 * file is also its check, and every staged input is committed in one commit (issue 18). These
 * tests hold the guarantees that design must keep: one commit per run, a refused input (even one
 * whose bad row lies past DuckDB's type sample) leaves the lake as it was, types that differ
 * between files agree with the manifest, a re-run after a lost ledger publishes nothing twice,
 * and the staged write API (`stageQuery` / `commitStagedQueries`) on its own.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commitStagedQueries,
  convertCsvSweep,
  datasetHistory,
  EVENTS_DATASET,
  InputFileError,
  lakePaths,
  openLake,
  readManifest,
  stageQuery,
  stagingPath,
  withStagingConnection,
} from '../src/index.js';
import { tempDir, visibleFiles } from './helpers/lake-fixtures.js';

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function eventsCsv(rows: number, offset = 0): string {
  let text = 'event_id,op,regret,acc\n';
  for (let i = 0; i < rows; i++)
    text += `${i},${i % 3 ? 'insert' : 'delete'},${(i + offset) / 7},${0.5 + i / (2 * rows)}\n`;
  return text;
}

/** A sweep in runlake's layout: `g<k>/params.json` and `g<k>/seed_<s>.csv`. */
function sweep(grids: number, seeds: number, rows: number): string {
  const root = tempDir('runlake-staged-sweep-');
  for (let g = 0; g < grids; g++) {
    write(
      path.join(root, `g${g}`, 'params.json'),
      JSON.stringify({ algo: 'memorypair', gamma_bar: g + 0.5 }),
    );
    for (let s = 1; s <= seeds; s++)
      write(path.join(root, `g${g}`, `seed_${s}.csv`), eventsCsv(rows, g * 10 + s));
  }
  return root;
}

async function counts(lakeDir: string): Promise<Array<Record<string, unknown>>> {
  const lake = await openLake(lakeDir);
  try {
    return await lake.query('SELECT grid_id, seed, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL');
  } finally {
    lake.close();
  }
}

describe('convertCsvSweep stages every input and commits once', () => {
  it('converts 3 grids x 2 seeds in one commit, with every row and one file per input', async () => {
    const root = sweep(3, 2, 50);
    const lake = path.join(tempDir(), 'lake');
    const progress: Array<[number, number]> = [];
    const summary = await convertCsvSweep(root, lake, {
      granularity: 'event',
      jobs: 2,
      onProgress: (done, total) => progress.push([done, total]),
    });
    // Each input is reported once, as it is staged.
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((done) => [done, 6]));
    expect(summary.converted).toBe(6);
    expect(summary.rows).toBe(300);
    expect(summary.files).toBe(6);
    expect(summary.inputs.every((i) => i.rows === 50 && i.files === 1 && i.gridIds.length === 1)).toBe(true);
    const history = await datasetHistory(lakePaths(lake), 'events');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ operation: 'write', filesAdded: 6, rowsAdded: 300 });
    const byPartition = await counts(lake);
    expect(byPartition).toHaveLength(6);
    expect(byPartition.every((r) => Number(r.n) === 50)).toBe(true);
    // Every grid got its params.json; the staging area is empty again.
    expect(visibleFiles(path.join(lake, 'grids')).filter((f) => f.endsWith('params.json'))).toHaveLength(3);
    expect(visibleFiles(lakePaths(lake).staging)).toEqual([]);
    // Nothing new: every input is skipped, nothing committed.
    const again = await convertCsvSweep(root, lake, { granularity: 'event', jobs: 2 });
    expect(again.skipped).toBe(6);
    expect(await datasetHistory(lakePaths(lake), 'events')).toHaveLength(1);
  });

  it('refuses a CSV whose bad value lies past the type sample, naming it and its line; the lake stays as it was', async () => {
    const root = sweep(2, 2, 20);
    // 30,000 integer rows (past DuckDB's 20,480-row sample), then text in the same column.
    let text = 'event_id,op,regret,acc\n';
    for (let i = 0; i < 30_000; i++) text += `${i},insert,0.5,0.75\n`;
    text += 'oops,insert,0.5,0.75\n';
    write(path.join(root, 'g1', 'seed_3.csv'), text);
    const fresh = path.join(tempDir(), 'lake');
    const error = await convertCsvSweep(root, fresh, { granularity: 'event', jobs: 2 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputFileError);
    expect((error as Error).message).toContain(path.join(root, 'g1', 'seed_3.csv'));
    expect((error as Error).message).toContain('line 30002');
    expect(existsSync(fresh)).toBe(false);

    // The same into a lake that already holds data: no file, manifest or ledger entry changes.
    const existing = path.join(tempDir(), 'lake');
    const good = sweep(1, 1, 10);
    await convertCsvSweep(good, existing, { granularity: 'event' });
    const before = visibleFiles(existing);
    const manifest = await readManifest(lakePaths(existing), 'events');
    await expect(convertCsvSweep(root, existing, { granularity: 'event', jobs: 2 })).rejects.toThrow(
      /seed_3\.csv: line 30002/,
    );
    expect(visibleFiles(existing)).toEqual(before);
    expect(await readManifest(lakePaths(existing), 'events')).toEqual(manifest);
  });

  it('writes a column every file of the run holds as the manifest type, integers in one and floats in another', async () => {
    const root = tempDir('runlake-staged-types-');
    write(path.join(root, 'g', 'params.json'), '{"algo": "memorypair"}');
    write(path.join(root, 'g', 'seed_1.csv'), 'event_id,acc\n0,1\n1,2\n');
    write(path.join(root, 'g', 'seed_2.csv'), 'event_id,acc\n0,0.25\n1,0.5\n');
    const lake = path.join(tempDir(), 'lake');
    await convertCsvSweep(root, lake, { granularity: 'event', jobs: 2 });
    const manifest = await readManifest(lakePaths(lake), 'events');
    expect(manifest?.columns.find((c) => c.name === 'acc')?.type).toEqual({ kind: 'float64' });
    const db = await openLake(lake);
    try {
      const files = visibleFiles(path.join(lake, 'events')).filter((f) => f.endsWith('.parquet'));
      expect(files).toHaveLength(2);
      for (const file of files) {
        const [column] = await db.query(
          `DESCRIBE SELECT acc FROM read_parquet('${path.join(lake, 'events', file)}')`,
        );
        expect(column?.column_type).toBe('DOUBLE');
      }
      expect(await db.query('SELECT seed, sum(acc) AS s FROM events GROUP BY seed ORDER BY seed')).toEqual([
        { seed: 1, s: 3 },
        { seed: 2, s: 0.75 },
      ]);
    } finally {
      db.close();
    }
  });

  it('after a lost ledger converts again without publishing any file twice', async () => {
    const root = sweep(2, 2, 30);
    const lake = path.join(tempDir(), 'lake');
    await convertCsvSweep(root, lake, { granularity: 'event' });
    const before = await counts(lake);
    rmSync(lakePaths(lake).convertLedger);
    const again = await convertCsvSweep(root, lake, { granularity: 'event', jobs: 2 });
    expect(again.converted).toBe(4);
    expect(again.rows).toBe(120);
    expect(again.files).toBe(4);
    expect(await counts(lake)).toEqual(before);
    expect(await datasetHistory(lakePaths(lake), 'events')).toHaveLength(1);
    expect(readFileSync(lakePaths(lake).convertLedger, 'utf8').trim().split('\n')).toHaveLength(4);
  });
});

describe('stageQuery / commitStagedQueries', () => {
  const fixed = (seed: number) => ({
    partitionFixed: { grid_id: 'ab12cd34' },
    partitionDefaults: { seed },
    fileStem: `stem${seed}`,
  });

  it('stages two queries without touching the lake, then commits both in one commit', async () => {
    const lake = path.join(tempDir(), 'lake');
    const stagingDir = stagingPath(lakePaths(lake));
    await withStagingConnection(async (c) => {
      const a = await stageQuery(
        lake,
        EVENTS_DATASET,
        c,
        'SELECT range AS event_id FROM range(5)',
        stagingDir,
        fixed(1),
      );
      const b = await stageQuery(
        lake,
        EVENTS_DATASET,
        c,
        'SELECT range AS event_id FROM range(3)',
        stagingDir,
        fixed(2),
      );
      expect(a?.rowCount).toBe(5);
      expect(b?.relative).toBe('grid_id=ab12cd34/seed=2/part-stem2-0.parquet');
      expect(existsSync(path.join(lake, 'events'))).toBe(false);
      expect(await readManifest(lakePaths(lake), 'events')).toBeUndefined();
      const { result, published } = await commitStagedQueries(
        lake,
        EVENTS_DATASET,
        c,
        stagingDir,
        [a, b].filter((q) => q !== undefined),
        fixed(1),
      );
      expect(result.commit?.version).toBe(0);
      expect(published.size).toBe(2);
      // A partition key that is a column of the result is left to writeQuery.
      expect(
        await stageQuery(lake, EVENTS_DATASET, c, 'SELECT 1 AS seed', stagingDir, fixed(1)),
      ).toBeUndefined();
    });
    rmSync(stagingDir, { recursive: true, force: true });
    expect(await counts(lake)).toEqual([
      { grid_id: 'ab12cd34', seed: 1, n: 5 },
      { grid_id: 'ab12cd34', seed: 2, n: 3 },
    ]);
  });

  it('widens a partition key by every staged value (1 in one file, 0.5 in another)', async () => {
    const lake = path.join(tempDir(), 'lake');
    const stagingDir = stagingPath(lakePaths(lake));
    const keyed = (seed: number, gamma: number) => ({
      partitionFixed: { grid_id: 'ab12cd34', gamma_bar: gamma },
      partitionDefaults: { seed },
      extraPartitionKeys: ['gamma_bar'],
      fileStem: `stem${seed}`,
    });
    await withStagingConnection(async (c) => {
      const a = await stageQuery(lake, EVENTS_DATASET, c, 'SELECT 1 AS event_id', stagingDir, keyed(1, 1));
      const b = await stageQuery(lake, EVENTS_DATASET, c, 'SELECT 2 AS event_id', stagingDir, keyed(2, 0.5));
      await commitStagedQueries(
        lake,
        EVENTS_DATASET,
        c,
        stagingDir,
        [a, b].filter((q) => q !== undefined),
        keyed(1, 1),
      );
    });
    rmSync(stagingDir, { recursive: true, force: true });
    const manifest = await readManifest(lakePaths(lake), 'events');
    expect(manifest?.partitionBy.map((k) => [k.name, k.type.kind])).toEqual([
      ['gamma_bar', 'float64'],
      ['grid_id', 'string'],
      ['seed', 'int64'],
    ]);
    const db = await openLake(lake);
    try {
      expect(await db.query('SELECT gamma_bar, seed FROM events ORDER BY seed')).toEqual([
        { gamma_bar: 1, seed: 1 },
        { gamma_bar: 0.5, seed: 2 },
      ]);
    } finally {
      db.close();
    }
  });

  it('names the staged query whose column conflicts, and publishes nothing', async () => {
    const lake = path.join(tempDir(), 'lake');
    const stagingDir = stagingPath(lakePaths(lake));
    const error = await withStagingConnection(async (c) => {
      const a = await stageQuery(lake, EVENTS_DATASET, c, 'SELECT 1.5 AS acc', stagingDir, fixed(1));
      const b = await stageQuery(lake, EVENTS_DATASET, c, "SELECT 'high' AS acc", stagingDir, fixed(2));
      return commitStagedQueries(
        lake,
        EVENTS_DATASET,
        c,
        stagingDir,
        [a, b].filter((q) => q !== undefined),
        fixed(1),
        (i) => `input-${i}.csv`,
      ).catch((e: unknown) => e);
    });
    rmSync(stagingDir, { recursive: true, force: true });
    expect(error).toBeInstanceOf(InputFileError);
    expect((error as Error).message).toMatch(/^input-1\.csv: .*acc/);
    expect(existsSync(path.join(lake, 'events'))).toBe(false);
    expect(await readManifest(lakePaths(lake), 'events')).toBeUndefined();
  });
});

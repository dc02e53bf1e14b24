/**
 * Lakes written before the commit log existed — by an earlier runlake, by pandas, by exp_engine —
 * open, read and accept appends: the first runlake write adopts the files already there (commit 0,
 * `adopt`) and commits its own on top, and the directory stays a plain Hive dataset that pyarrow
 * and pandas read as they are. Needs a Python with pyarrow and pandas (test/helpers/python.ts);
 * without one the suite is skipped locally and fails on CI.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  datasetHistory,
  forgetLogCaches,
  type Lake,
  lakePaths,
  listParquetFiles,
  type OpenLakeOptions,
  openLake,
  validateLake,
  writeEventRows,
  writeSeedRows,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['pyarrow', 'pyarrow.parquet', 'pandas']);
if (py.skip) console.warn(`[commits-interop.test] skipping: ${py.reason}`);

/** exp_engine's sources (see its PROVENANCE.md): `A/` is the package with seeds and events. */
const EXP_ENGINE = process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A';
const SCRIPT = path.join(repoRoot, 'test', 'python', 'commits_interop.py');

interface PythonRead {
  rows: number;
  sum: number;
  pandas_rows: number;
  pandas_sum: number | null;
  columns: string[];
}

function pyRead(directory: string, column: string): PythonRead {
  return JSON.parse(py.runPython(SCRIPT, ['read', directory, column])) as PythonRead;
}

async function withLake<T>(
  dir: string,
  use: (lake: Lake) => Promise<T>,
  options: OpenLakeOptions = {},
): Promise<T> {
  const lake = await openLake(dir, options);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

async function one(lake: Lake, sql: string): Promise<Record<string, unknown>> {
  const [row] = await lake.query(sql);
  return row ?? {};
}

function csv(dir: string, sql: string): string {
  const result = runlake('query', dir, '--sql', sql, '-f', 'csv');
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

interface HistoryRow {
  version: number;
  operation: string;
  filesAdded: number;
  rowsAdded: number;
  filesRemoved: number;
}

function cliHistory(dir: string, dataset: string): HistoryRow[] {
  const result = runlake('history', dir, dataset, '-f', 'json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as HistoryRow[];
}

const params = (gamma: number) => ({
  algo: 'memorypair',
  accountant: 'zcdp',
  gamma_bar: gamma,
  gamma_split: 0.5,
});

describe.skipIf(py.skip)(
  `lakes written before the commit log${py.skip ? ` — skipped: ${py.reason.split('\n')[0]}` : ''}`,
  () => {
    it('has pyarrow and pandas', () => {
      expect(py.reason).toBe('');
      expect(py.missing).toEqual([]);
    });

    it('a lake an earlier runlake wrote (no .runlake/log): opens, takes appends, adopts its files at version 0', async () => {
      const dir = tempDir();
      await withLake(
        dir,
        async (lake) => {
          await lake.write('metrics_scalar', [
            ...Array.from({ length: 30 }, (_, i) => ({
              run_id: 'r1',
              step: i,
              metric_name: 'loss',
              value: i,
            })),
            ...Array.from({ length: 20 }, (_, i) => ({
              run_id: 'r2',
              step: i,
              metric_name: 'loss',
              value: 1,
            })),
          ]);
          await lake.write('metrics_scalar', [{ run_id: 'r1', step: 30, metric_name: 'loss', value: 30 }]);
          await lake.write('runs', [{ run_id: 'r1' }, { run_id: 'r2' }]);
        },
        { schema: 'squiggle' },
      );
      // What a lake written before this change looks like.
      rmSync(path.join(dir, '.runlake', 'log'), { recursive: true });
      rmSync(path.join(dir, '.runlake', 'trash'), { recursive: true, force: true });
      forgetLogCaches();
      const metrics = path.join(dir, 'metrics_scalar');
      const oldFiles = await listParquetFiles(metrics);
      expect(oldFiles).toHaveLength(3);

      await withLake(dir, async (lake) => {
        expect(lake.datasets.get('metrics_scalar')).toMatchObject({ version: -1, fileCount: 3 });
        expect(await one(lake, 'SELECT count(*)::INTEGER AS n, sum(value) AS v FROM metrics_scalar')).toEqual(
          {
            n: 51,
            v: 485,
          },
        );
        const result = await lake.write(
          'metrics_scalar',
          Array.from({ length: 9 }, (_, i) => ({ run_id: 'r3', step: i, metric_name: 'loss', value: 2 })),
        );
        expect(result.version).toBe(1);
        expect(await one(lake, 'SELECT count(*)::INTEGER AS n, sum(value) AS v FROM metrics_scalar')).toEqual(
          {
            n: 60,
            v: 503,
          },
        );
        expect(lake.datasets.get('metrics_scalar')).toMatchObject({ version: 1, fileCount: 4, rowCount: 60 });
      });
      expect(csv(dir, 'SELECT count(*) AS n FROM metrics_scalar')).toBe('n\n60\n');
      const history = cliHistory(dir, 'metrics_scalar');
      expect(history.map((h) => [h.version, h.operation, h.filesAdded, h.rowsAdded])).toEqual([
        [1, 'write', 1, 9],
        [0, 'adopt', 3, 51],
      ]);
      // runs has no log until it is written to: still read by glob.
      expect(cliHistory(dir, 'runs')).toEqual([]);
      expect(csv(dir, 'SELECT count(*) AS n FROM runs')).toBe('n\n2\n');

      const read = pyRead(metrics, 'value');
      expect(read).toMatchObject({ rows: 60, sum: 503, pandas_rows: 60, pandas_sum: 503 });
      expect(read.columns).toEqual(expect.arrayContaining(['run_id', 'step', 'metric_name', 'value']));
      expect((await validateLake(dir)).ok).toBe(true);
    });

    it('a pandas to_parquet(partition_cols=…) lake: opens, takes appends and deletes, pyarrow and pandas read the result', async () => {
      const dir = tempDir();
      expect(JSON.parse(py.runPython(SCRIPT, ['pandas-events', dir]))).toEqual({ rows: 40 });
      const events = path.join(dir, 'events');
      const pandasFiles = await listParquetFiles(events);
      expect(pandasFiles).toHaveLength(8);
      expect(pandasFiles.every((f) => !path.basename(f).startsWith('part-'))).toBe(true);
      const before = pyRead(events, 'regret');
      expect(before).toMatchObject({ rows: 40, pandas_rows: 40 });

      await withLake(dir, async (lake) => {
        expect(lake.datasets.get('events')).toMatchObject({ version: -1, fileCount: 8 });
        expect(
          await lake.query(
            'SELECT grid_id, seed, count(*)::INTEGER AS n FROM events GROUP BY ALL ORDER BY grid_id, seed',
          ),
        ).toEqual([
          { grid_id: '00ff00ff', seed: 1, n: 10 },
          { grid_id: '00ff00ff', seed: 2, n: 10 },
          { grid_id: 'g1a2b3c4', seed: 1, n: 10 },
          { grid_id: 'g1a2b3c4', seed: 2, n: 10 },
        ]);
      });
      // An append through runlake: a new grid next to pandas' ones.
      const appended = await writeEventRows(
        Array.from({ length: 6 }, (_, i) => ({ seed: 3, event_id: i, op: 'insert', regret: 4 })),
        dir,
        params(0.25),
      );
      expect(appended.rowCount).toBe(6);
      expect(before.sum).toBe(260);
      expect(csv(dir, 'SELECT count(*) AS n, sum(regret) AS s FROM events')).toBe('n,s\n46,284\n');
      expect(
        cliHistory(dir, 'events').map((h) => [h.version, h.operation, h.filesAdded, h.rowsAdded]),
      ).toEqual([
        [1, 'write', 1, 6],
        [0, 'adopt', 8, 40],
      ]);
      const after = pyRead(events, 'regret');
      expect(after).toMatchObject({
        rows: 46,
        sum: before.sum + 24,
        pandas_rows: 46,
        pandas_sum: before.sum + 24,
      });

      // Deleting one of pandas' partitions removes its files (named <uuid>-0.parquet, not part-…).
      const deleted = runlake('delete', dir, 'events', '--partition', 'grid_id=00ff00ff');
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(deleted.stdout).toBe('events: deleted 4 files, version 2\n');
      expect(csv(dir, 'SELECT count(*) AS n FROM events')).toBe('n\n26\n');
      expect(pyRead(events, 'regret')).toMatchObject({ rows: 26, pandas_rows: 26 });
      const report = await validateLake(dir);
      expect(report.violations.filter((v) => v.kind === 'log' || v.kind === 'unreferenced')).toEqual([]);
    });

    it("a lake exp_engine's own writer made: opens (raw params.json read as params), takes appends, pyarrow reads it", async () => {
      expect(existsSync(path.join(EXP_ENGINE, 'exp_engine', 'engine', 'io.py')), EXP_ENGINE).toBe(true);
      const dir = tempDir();
      expect(JSON.parse(py.runPython(SCRIPT, ['exp-engine', dir, EXP_ENGINE]))).toEqual({
        events: 46,
        seeds: 4,
      });
      const events = path.join(dir, 'events');
      const seeds = path.join(dir, 'seeds');
      expect(await listParquetFiles(events)).toHaveLength(4);
      expect(await listParquetFiles(seeds)).toHaveLength(4);
      const before = pyRead(events, 'regret');
      expect(before).toMatchObject({ rows: 46, sum: 60.5, pandas_rows: 46, pandas_sum: 60.5 });

      let exp: string[] = [];
      await withLake(dir, async (lake) => {
        expect(lake.datasets.get('events')).toMatchObject({ version: -1, fileCount: 4 });
        expect(await one(lake, 'SELECT count(*)::INTEGER AS n FROM events')).toEqual({ n: 46 });
        expect(await one(lake, 'SELECT count(*)::INTEGER AS n FROM seeds')).toEqual({ n: 4 });
        // exp_engine's params.json holds the raw params; the grid id comes from its directory.
        const grids = await lake.query(
          'SELECT grid_id, gamma_bar, params_hash FROM grids ORDER BY gamma_bar',
        );
        expect(grids.map((g) => [String(g.grid_id).length, g.gamma_bar, g.params_hash])).toEqual([
          [12, 0.5, ''],
          [12, 1, ''],
        ]);
        exp = grids.map((g) => String(g.grid_id));
        // Its events join its grids.
        expect(
          await lake.query(
            'SELECT g.gamma_bar, count(*)::INTEGER AS n FROM events e JOIN grids g USING (grid_id) GROUP BY 1 ORDER BY 1',
          ),
        ).toEqual([
          { gamma_bar: 0.5, n: 23 },
          { gamma_bar: 1, n: 23 },
        ]);
      });

      // Appends through runlake use the lake's grid-id scheme (detected from exp_engine's
      // params.json files: its third generation) and land in exp_engine's own grid directory.
      const appended = await writeEventRows(
        Array.from({ length: 5 }, (_, i) => ({ seed: 1, event_id: i, op: 'insert', regret: 2, acc: 0.75 })),
        dir,
        params(0.5),
      );
      expect(appended.gridId).toHaveLength(12);
      expect(exp).toContain(appended.gridId);
      // exp_engine partitions seeds by grid_id alone: runlake's seed append follows that layout.
      const seedAppend = await writeSeedRows([{ seed: 3, avg_regret_empirical: 3 }], dir, params(0.5));
      expect(seedAppend.files.map((f) => path.relative(dir, path.dirname(f)))).toEqual([
        `seeds/grid_id=${appended.gridId}`,
      ]);
      expect(readFileSync(path.join(dir, '.runlake', 'grid-id.json'), 'utf8')).toContain(
        'exp_engine-sha256-12',
      );

      expect(csv(dir, 'SELECT count(*) AS n, sum(regret) AS s FROM events')).toBe(
        `n,s\n51,${before.sum + 10}\n`,
      );
      expect(csv(dir, 'SELECT count(*) AS n, sum(avg_regret_empirical) AS s FROM seeds')).toBe(
        'n,s\n5,7.5\n',
      );
      expect(
        cliHistory(dir, 'events').map((h) => [h.version, h.operation, h.filesAdded, h.rowsAdded]),
      ).toEqual([
        [1, 'write', 1, 5],
        [0, 'adopt', 4, 46],
      ]);
      expect(
        cliHistory(dir, 'seeds').map((h) => [h.version, h.operation, h.filesAdded, h.rowsAdded]),
      ).toEqual([
        [1, 'write', 1, 1],
        [0, 'adopt', 4, 4],
      ]);
      const history = await datasetHistory(lakePaths(dir), 'events');
      expect(history.every((h) => h.filesRemoved === 0)).toBe(true);
      await withLake(dir, async (lake) => {
        // Still exp_engine's two grids: nothing forked, nothing rewritten.
        const grids = await lake.query('SELECT grid_id, params_hash FROM grids ORDER BY grid_id');
        expect(grids.map((g) => [g.grid_id, g.params_hash])).toEqual([...exp].sort().map((id) => [id, '']));
      });

      const after = pyRead(events, 'regret');
      expect(after).toMatchObject({
        rows: 51,
        sum: before.sum + 10,
        pandas_rows: 51,
        pandas_sum: before.sum + 10,
      });
      const seedsRead = pyRead(seeds, 'avg_regret_empirical');
      expect(seedsRead).toMatchObject({ rows: 5, sum: 7.5, pandas_rows: 5, pandas_sum: 7.5 });

      // validate checks exp_engine's params.json files under the lake's scheme: they hash to
      // their ids, so nothing is reported; an edited one is.
      expect((await validateLake(dir)).violations).toEqual([]);
      const edited = path.join(dir, 'grids', `grid_id=${exp[0]}`, 'params.json');
      writeFileSync(edited, readFileSync(edited, 'utf8').replace('"zcdp"', '"rdp"'));
      expect((await validateLake(dir)).violations.map((v) => [v.kind, v.file, v.message])).toEqual([
        [
          'metadata',
          `grids/grid_id=${exp[0]}/params.json`,
          `the params do not hash to their directory's id ${exp[0]} under the lake's scheme exp_engine-sha256-12`,
        ],
      ]);
    });
  },
);

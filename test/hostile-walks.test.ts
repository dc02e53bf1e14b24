/**
 * Symlinks inside a lake or an input tree: a link back to the lake root inside a dataset, a link
 * to a directory outside it, dangling and looping links. Directory walks do not follow symlinked
 * directories (as git, rsync and DuckDB's own `**` glob), so `info`, `validate`, `query` and the
 * server's lake summary report the same numbers with and without the links, and nothing hangs.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lakeInfo, listParquetFiles, openLake } from '../src/index.js';
import { listFilesNoFollow } from '../src/lake/walk.js';
import { copyToParquet, runlake } from './helpers/cli.js';
import { treeFingerprint } from './helpers/hostile.js';
import { tempDir } from './helpers/lake-fixtures.js';

interface Numbers {
  info: { name: string; files: number; rows: number; partitions: number }[];
  validate: { dataset: string; files: number; rows: number; violations: number }[];
  count: string;
}

/** What the CLI reports about a lake: per-dataset files and rows, violations, a view's count. */
function numbers(lake: string): Numbers {
  const info = runlake('info', lake, '--json');
  expect(info.code, info.stderr).toBe(0);
  const validate = runlake('validate', lake, '--json');
  expect(validate.code, validate.stdout + validate.stderr).toBe(0);
  const count = runlake(
    'query',
    lake,
    '--sql',
    'SELECT count(*) AS n FROM metrics_scalar',
    '--format',
    'csv',
  );
  expect(count.code, count.stderr).toBe(0);
  return {
    info: (JSON.parse(info.stdout) as { datasets: Numbers['info'] }).datasets.map(
      ({ name, files, rows, partitions }) => ({ name, files, rows, partitions }),
    ),
    validate: (JSON.parse(validate.stdout) as { datasets: Numbers['validate'] }).datasets.map(
      ({ dataset, files, rows, violations }) => ({ dataset, files, rows, violations }),
    ),
    count: count.stdout.trim(),
  };
}

describe('symlinks inside a lake', () => {
  let lake: string;
  let clean: Numbers;
  beforeAll(async () => {
    lake = path.join(tempDir('runlake-hostile-walks-'), 'lake');
    const handle = await openLake(lake, { schema: 'squiggle' });
    try {
      for (const run of ['r1', 'r2'])
        await handle.write(
          'metrics_scalar',
          [10, 20, 30].map((step) => ({
            run_id: run,
            step,
            metric_name: 'loss',
            value: 4 - step / 10,
            split: 'train',
          })),
        );
      await handle.write('checkpoints', [{ run_id: 'r1', step: 0, train_loss: 4.1 }]);
    } finally {
      await handle.close();
    }
    clean = numbers(lake);
    expect(clean.count).toBe('n\n6');
    expect(clean.info.find((d) => d.name === 'metrics_scalar')).toMatchObject({ files: 2, rows: 6 });
  }, 120_000);

  it('a link to the lake root inside metrics_scalar/ changes no number and hangs nothing', async () => {
    symlinkSync(lake, path.join(lake, 'metrics_scalar', 'loop'));
    const start = Date.now();
    expect(numbers(lake)).toEqual(clean);
    expect(Date.now() - start).toBeLessThan(60_000);
    // The summary `/api/lake` serves.
    const handle = await openLake(lake);
    try {
      const info = await lakeInfo(handle);
      expect(info.datasets.find((d) => d.name === 'metrics_scalar')).toMatchObject({ files: 2, rows: 6 });
    } finally {
      await handle.close();
    }
  }, 120_000);

  it('a link to a directory of Parquet outside the lake is not read, by the walks or by the view', async () => {
    const outside = tempDir('runlake-hostile-outside-');
    await copyToParquet(
      "SELECT 'r9' AS run_id, 1::BIGINT AS step, 'loss' AS metric_name, 1.0 AS value, 'train' AS split",
      path.join(outside, 'part-foreign.parquet'),
    );
    symlinkSync(outside, path.join(lake, 'metrics_scalar', 'run_id=r9'));
    // Dangling and looping links are skipped too.
    symlinkSync(path.join(lake, 'nowhere'), path.join(lake, 'metrics_scalar', 'dangling.parquet'));
    symlinkSync('self.parquet', path.join(lake, 'metrics_scalar', 'self.parquet'));
    expect(numbers(lake)).toEqual(clean);
  }, 120_000);
});

describe('listFilesNoFollow', () => {
  it('lists files and file links, and never enters a linked directory', async () => {
    const root = tempDir('runlake-hostile-walk-');
    mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    writeFileSync(path.join(root, 'a', 'b', 'x.parquet'), '');
    writeFileSync(path.join(root, 'a', 'notes.txt'), '');
    symlinkSync(path.join(root, 'a', 'b', 'x.parquet'), path.join(root, 'a', 'y.parquet'));
    symlinkSync(root, path.join(root, 'a', 'b', 'up'));
    symlinkSync('missing.parquet', path.join(root, 'a', 'gone.parquet'));
    const before = treeFingerprint(root);
    expect(await listFilesNoFollow(root, (name) => name.endsWith('.parquet'))).toEqual([
      path.join('a', 'b', 'x.parquet'),
      path.join('a', 'y.parquet'),
    ]);
    expect(await listParquetFiles(root)).toEqual([
      path.join('a', 'b', 'x.parquet'),
      path.join('a', 'y.parquet'),
    ]);
    expect(await listFilesNoFollow(path.join(root, 'absent'), () => true)).toEqual([]);
    expect(treeFingerprint(root)).toEqual(before);
  });
});

describe('symlinks inside a CSV sweep', () => {
  it('convert reads each CSV once when a directory links back up the tree', () => {
    const sweep = tempDir('runlake-hostile-sweep-');
    mkdirSync(path.join(sweep, 'a'));
    writeFileSync(path.join(sweep, 'a', 'params.json'), JSON.stringify({ algo: 'sgd', seed: 1 }));
    writeFileSync(path.join(sweep, 'a', 'run.csv'), 'event_id,op,regret\n0,insert,0.5\n1,delete,0.25\n');
    symlinkSync(sweep, path.join(sweep, 'a', 'loop'));
    const lake = path.join(tempDir(), 'lake');
    const result = runlake('convert', sweep, lake, '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('would convert 1 input (2 rows)');
  });
});

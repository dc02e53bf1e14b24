import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLake, RunlakeError, SQUIGGLE_SCHEMA_SET } from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

/** Views every squiggle lake has (the ingested evaluation tables'), besides saved ones. */
const setViews = new Set((SQUIGGLE_SCHEMA_SET.views ?? []).map((v) => v.name));

const metric = (run: string, step: number, value: number) => ({
  run_id: run,
  step,
  metric_name: 'loss',
  value,
});

describe('named views', () => {
  const dirs: string[] = [];
  afterEach(() => {
    dirs.length = 0;
  });
  const lakeDir = () => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };

  it('saves a view, recreates it on every open, and sees rows written later', async () => {
    const dir = lakeDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    await lake.write('metrics_scalar', [metric('a', 1, 3), metric('a', 2, 2)]);
    await lake.saveView(
      'best_loss',
      'SELECT run_id, min(value) AS best FROM metrics_scalar GROUP BY run_id;',
      'best',
    );
    expect(await lake.query('SELECT * FROM best_loss')).toEqual([{ run_id: 'a', best: 2 }]);
    lake.close();

    const again = await openLake(dir);
    await again.write('metrics_scalar', [metric('b', 1, 1)]);
    expect(await again.query('SELECT * FROM best_loss ORDER BY run_id')).toEqual([
      { run_id: 'a', best: 2 },
      { run_id: 'b', best: 1 },
    ]);
    const saved = (await again.views()).filter((v) => !setViews.has(v.name));
    expect(saved.map((v) => [v.name, v.description])).toEqual([['best_loss', 'best']]);
    expect(await again.dropView('best_loss')).toBe(true);
    expect(await again.dropView('best_loss')).toBe(false);
    await expect(again.query('SELECT * FROM best_loss')).rejects.toThrow(/best_loss/);
    again.close();
  });

  it('refuses bad names, dataset names and SQL that does not bind, saving nothing', async () => {
    const dir = lakeDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await expect(lake.saveView('Bad-Name', 'SELECT 1')).rejects.toThrow(/lowercase identifier/);
      await expect(lake.saveView('runs', 'SELECT 1')).rejects.toThrow(/already a dataset/);
      await expect(lake.saveView('oops', 'SELECT no_such_column FROM runs')).rejects.toThrow(RunlakeError);
      expect((await lake.views()).filter((v) => !setViews.has(v.name))).toEqual([]);
    } finally {
      lake.close();
    }
  });

  it('opens a lake whose saved view no longer binds, and reports it instead of failing', async () => {
    const dir = lakeDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    await lake.write('runs', [{ run_id: 'r1' }]);
    await lake.saveView('fine', 'SELECT count(*) AS n FROM runs');
    lake.close();
    writeFileSync(
      path.join(dir, '.runlake', 'views', 'broken.json'),
      JSON.stringify({ name: 'broken', description: '', sql: 'SELECT gone FROM runs' }),
    );
    const again = await openLake(dir);
    try {
      expect(again.viewProblems.map((p) => p.view)).toEqual(['broken']);
      expect(await again.query('SELECT n FROM fine')).toEqual([{ n: 1 }]);
    } finally {
      again.close();
    }
    const listed = runlake('view', dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/broken\s+\| saved\s+\|\s+\| broken: /);
    expect(listed.stdout).toMatch(/fine\s+\| saved\s+\|\s+\| ok/);
  });

  it('runlake view saves, shows and drops views', async () => {
    const dir = lakeDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    await lake.write('runs', [{ run_id: 'r1' }]);
    lake.close();
    const saved = runlake(
      'view',
      dir,
      'n_runs',
      '--sql',
      'SELECT count(*) AS n FROM runs',
      '--description',
      'how many',
    );
    expect(saved.stderr).toBe('');
    expect(saved.stdout).toMatch(/saved view n_runs/);
    expect(runlake('view', dir, 'n_runs').stdout).toMatch(/SELECT count\(\*\) AS n FROM runs/);
    expect(runlake('query', dir, '--sql', 'SELECT n FROM n_runs', '--format', 'csv').stdout.trim()).toBe(
      'n\n1',
    );
    expect(runlake('view', dir, 'n_runs', '--drop').stdout).toMatch(/dropped/);
    const missing = runlake('view', dir, 'n_runs', '--drop');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no saved view "n_runs"/);
  });
});

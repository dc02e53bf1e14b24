import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { listFiles, tempDir } from './helpers/lake-fixtures.js';
import { pythonWith, REPO_ROOT } from './helpers/python.js';

// The seed's ExperimentRunner (examples/python/exp_engine_runner.py) run twice: with exp_engine
// itself (pandas writes the Parquet files) and with its import line changed to runlake.exp_engine
// (the rows go through the lake's ingest sidecar and runlake's writer). The two lakes must be the
// same lake: grid ids, params.json files and the rows runlake's views show.
const python = pythonWith(['pandas', 'pyarrow']);
const EXP_A = process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A';
const RUNNER = path.join(REPO_ROOT, 'examples', 'python', 'exp_engine_runner.py');
// The import line itself (the docstring quotes it indented).
const EXP_ENGINE_IMPORT =
  '\nfrom exp_engine.engine import attach_grid_id, write_event_rows, write_seed_rows\n';
const RUNLAKE_IMPORT = '\nfrom runlake.exp_engine import attach_grid_id, write_event_rows, write_seed_rows\n';

/** Runs the runner in `cwd` (its lake is `cwd/lake`: params carry base_out, so both must name it alike). */
function runRunner(script: string, cwd: string, env: Record<string, string>): string {
  const result = spawnSync(python.python, [script, 'lake', '--events', '40'], {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  expect(result.status, `${script}: ${result.stderr}`).toBe(0);
  return result.stderr;
}

/** `runlake query <lake> --sql <sql> -f json`, parsed. */
function query(lake: string, sql: string): Record<string, unknown>[] {
  const result = spawnSync(process.execPath, [RUNLAKE_BIN, 'query', lake, '--sql', sql, '-f', 'json'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>[];
}

/** Rows as JSON texts with sorted keys, sorted: the same rows compare equal whatever their column order. */
function sortedRows(rows: readonly Record<string, unknown>[]): string[] {
  return rows
    .map((row) =>
      JSON.stringify(
        Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      ),
    )
    .sort();
}

function gridIds(lake: string): string[] {
  return readdirSync(path.join(lake, 'grids'))
    .filter((name) => name.startsWith('grid_id='))
    .sort();
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(python.skip)('an exp_engine runner with its import changed to runlake.exp_engine', () => {
  it('writes the same lake as exp_engine: grid ids, params.json, and the rows of events, seeds and grids', async () => {
    const runtime = tempDir('runlake-xe-rt-');
    const dirX = tempDir('runlake-xe-x-');
    const dirY = tempDir('runlake-xe-y-');
    const source = readFileSync(RUNNER, 'utf8');
    expect(source.split(EXP_ENGINE_IMPORT)).toHaveLength(2);
    const scripts = path.join(runtime, 'scripts');
    mkdirSync(scripts);
    const withRunlake = path.join(scripts, 'exp_engine_runner_runlake.py');
    writeFileSync(withRunlake, source.replace(EXP_ENGINE_IMPORT, RUNLAKE_IMPORT));

    runRunner(RUNNER, dirX, { PYTHONPATH: EXP_A });
    const lakeY = path.join(dirY, 'lake');
    const lockFile = path.join(lakeY, '.runlake', 'ingest', 'server.lock');
    try {
      const stderr = runRunner(withRunlake, dirY, {
        PYTHONPATH: path.join(REPO_ROOT, 'python', 'src'),
        RUNLAKE_BIN,
        XDG_RUNTIME_DIR: runtime,
        RUNLAKE_SPOOL: path.join(runtime, 'spool'),
      });
      // Nothing spooled, nothing left unfolded: every write returned once its rows were visible.
      expect(stderr).toBe('');
      expect(existsSync(path.join(runtime, 'spool'))).toBe(false);

      const lakeX = path.join(dirX, 'lake');
      const grids = gridIds(lakeX);
      expect(grids).toHaveLength(3);
      expect(gridIds(lakeY)).toEqual(grids);
      for (const grid of grids) {
        // exp_engine's json.dump(params, indent=2, sort_keys=True), byte for byte.
        const file = path.join(grid, 'params.json');
        expect(readFileSync(path.join(lakeY, 'grids', file), 'utf8'), file).toBe(
          readFileSync(path.join(lakeX, 'grids', file), 'utf8'),
        );
      }
      for (const view of ['events', 'seeds', 'grids']) {
        // Column types (JSON would not tell 1 from 1.0), then every row. pandas writes a NaN or
        // a None in a float column as NULL (pyarrow's from_pandas); runlake's ingest does the
        // same, so no column differs (the runner logs both: sigma_step None, grad_norm NaN).
        const types = `SELECT column_name, column_type FROM (DESCRIBE ${view}) ORDER BY 1`;
        expect(query(lakeY, types), view).toEqual(query(lakeX, types));
        const sql = `SELECT * FROM ${view}`;
        const x = query(lakeX, sql);
        const y = query(lakeY, sql);
        expect(x.length, view).toBeGreaterThan(0);
        expect(sortedRows(y), view).toEqual(sortedRows(x));
      }
      const nulls =
        'SELECT count(*) FILTER (WHERE grad_norm IS NULL)::INTEGER AS nulls, count(*) FILTER (WHERE isnan(grad_norm))::INTEGER AS nans FROM events';
      expect(query(lakeY, nulls)).toEqual(query(lakeX, nulls));
      expect(query(lakeX, nulls)[0]).toMatchObject({ nans: 0 });
      // The files: events in grid_id=…/seed=… in both. seeds differ by a level: exp_engine
      // (io.py 2251c874) partitions them by grid_id alone, runlake's writer gives a new seeds
      // dataset grid_id=…/seed=… (it follows exp_engine's layout only in a lake that has it).
      const partitions = (lake: string, dataset: string) =>
        [...new Set(listFiles(path.join(lake, dataset)).map((f) => path.dirname(f)))].sort();
      expect(partitions(lakeY, 'events')).toEqual(partitions(lakeX, 'events'));
      expect(partitions(lakeX, 'seeds')).toEqual(grids);
      expect(partitions(lakeY, 'seeds')).toEqual(
        grids.flatMap((g) => [1, 2, 3].map((seed) => `${g}/seed=${seed}`)),
      );
      expect(query(lakeY, 'SELECT count(*)::INTEGER AS n FROM events')).toEqual([{ n: 3 * 3 * 40 }]);
    } finally {
      // The sidecar exits when idle; stop it now so that the temporary lake can be removed.
      if (existsSync(lockFile)) {
        const { pid } = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number };
        if (isRunning(pid)) process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 300 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 600_000);
});

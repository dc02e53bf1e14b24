/**
 * Lakes exp_engine's own writers made, in each of its generations (grid ids md5[:8], sha256[:8],
 * sha256[:12]; seeds + events, event-only, and the oldest ten-key layout), written during setup by
 * the real code (`test/python/exp_engine_generations.py` runs the files of the exp_engine sources
 * as they are). runlake opens them without converting anything, detects and records their grid-id
 * scheme, and appends with the same params into exp_engine's own grid directories, following each
 * dataset's layout, without touching a byte exp_engine wrote. Needs Python with pandas and pyarrow.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  attachGridId,
  type GridIdScheme,
  GridIdSchemeError,
  openLake,
  type PythonJsonValue,
  pyFloat,
  pythonJsonDumps,
  writeEventRows,
  writeSeedRows,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { listFiles, repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['pandas', 'pyarrow']);
if (py.skip && !process.env.CI) console.warn(`[exp-engine-lakes.test] skipping: ${py.reason}`);
const PEERS = path.dirname(process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A');
const SCRIPT = path.join(repoRoot, 'test', 'python', 'exp_engine_generations.py');

/** exp_engine's params for one grid, as a Python runner holds them (gamma_bar a float). */
const params = (gamma: number, extra: Record<string, unknown> = {}) => ({
  algo: 'memorypair',
  accountant: 'zcdp',
  gamma_bar: pyFloat(gamma),
  gamma_split: 0.5,
  out_dir: `/scratch/run-${gamma}`,
  ...extra,
});

const eventRows = (seed: number, n: number, withParams: boolean) =>
  Array.from({ length: n }, (_, i) => ({
    ...(withParams ? { algo: 'memorypair', accountant: 'zcdp' } : {}),
    seed,
    event_id: i,
    op: i % 3 ? 'insert' : 'delete',
    regret: (i + seed) / 8,
    acc: 0.5 + i / 100,
  }));

/** Writes a lake with exp_engine's writer of `generation`; returns its grid id per gamma. */
function writeWithExpEngine(dir: string, generation: string, seeds: boolean): Map<number, string> {
  const ten = generation.startsWith('ten');
  const calls: Array<{ kind: string; rows: unknown[]; params: unknown; gamma: number }> = [];
  for (const gamma of [0.5, 1]) {
    for (const seed of [1, 2]) {
      calls.push({ kind: 'events', rows: eventRows(seed, 6, ten), params: params(gamma, { seed }), gamma });
      if (seeds) {
        const summary = { seed, avg_regret_empirical: gamma + seed, N_star_emp: 4, m_emp: 2 };
        calls.push({
          kind: 'seeds',
          rows: [ten ? { ...summary, algo: 'memorypair' } : summary],
          params: params(gamma),
          gamma,
        });
      }
    }
  }
  const spec = pythonJsonDumps(calls.map(({ gamma: _, ...c }) => c) as unknown as PythonJsonValue);
  const ids = JSON.parse(py.runPython(SCRIPT, [dir, PEERS, generation], spec)) as Record<string, string>;
  const byGamma = new Map<number, string>();
  calls.forEach((call, i) => {
    const id = ids[String(i)];
    if (id) byGamma.set(call.gamma, id);
  });
  return byGamma;
}

/** SHA-256 of every file outside `.runlake/`, by relative path. */
function snapshot(dir: string): Map<string, string> {
  return new Map(
    visibleFiles(dir).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex'),
    ]),
  );
}

const GENERATIONS: Array<[string, GridIdScheme, boolean]> = [
  ['A-md5-8', 'exp_engine-md5-8', true],
  ['A-sha256-8', 'exp_engine-sha256-8', true],
  ['A-sha256-12', 'exp_engine-sha256-12', true],
  ['B', 'exp_engine-sha256-12', false],
  ['ten-md5-8', 'exp_engine-md5-8', true],
];

describe.skipIf(py.skip && !process.env.CI)("lakes exp_engine's own writers made, every generation", () => {
  it('finds the exp_engine sources', () => {
    expect(existsSync(path.join(PEERS, 'cah_versions', 'v1_md5_8.py')), PEERS).toBe(true);
  });

  it.each(GENERATIONS)(
    '%s: opens, detects %s, appends into its grids, rewrites nothing',
    async (generation, scheme, seeds) => {
      const dir = tempDir();
      const ids = writeWithExpEngine(dir, generation, seeds);
      const ten = generation.startsWith('ten');
      expect(ids.size).toBe(2);
      const before = snapshot(dir);

      // Opening detects the scheme from exp_engine's params.json files and records it.
      const lake = await openLake(dir);
      try {
        expect(lake.gridIdSetting).toMatchObject({ scheme, source: 'detected' });
        expect(lake.gridIdSetting?.evidence).toBe(
          `2 of 2 params.json files recompute to their directory's id under ${scheme}`,
        );
        const grids = await lake.query('SELECT grid_id, gamma_bar, algo FROM grids ORDER BY gamma_bar');
        expect(grids).toEqual([
          { grid_id: ids.get(0.5), gamma_bar: 0.5, algo: 'memorypair' },
          { grid_id: ids.get(1), gamma_bar: 1, algo: 'memorypair' },
        ]);
        const [counted] = await lake.query(
          'SELECT count(*)::INTEGER AS n, count(DISTINCT grid_id)::INTEGER AS g FROM events',
        );
        expect(counted).toEqual({ n: 24, g: 2 });
      } finally {
        lake.close();
      }
      expect(JSON.parse(readFileSync(path.join(dir, '.runlake', 'grid-id.json'), 'utf8'))).toMatchObject({
        scheme,
      });
      const info = runlake('info', dir);
      expect(info.stdout).toContain(`grid ids: ${scheme} (recorded: 2 of 2 params.json files recompute`);

      // Appends with the same params (other volatile values, as a rerun has) join exp_engine's grid.
      const appended = await writeEventRows(
        eventRows(3, 4, ten),
        dir,
        params(1, { out_dir: '/elsewhere', seed: 3 }),
      );
      expect(appended.gridId).toBe(ids.get(1));
      const dirs = appended.files.map((f) => path.relative(dir, path.dirname(f)));
      expect(dirs).toEqual([
        ten
          ? `events/algo=memorypair/accountant=zcdp/gamma_bar=1/gamma_split=0.5/target_PT=__HIVE_DEFAULT_PARTITION__/target_ST=__HIVE_DEFAULT_PARTITION__/delete_ratio=__HIVE_DEFAULT_PARTITION__/rho_total=__HIVE_DEFAULT_PARTITION__/grid_id=${ids.get(1)}/seed=3`
          : `events/grid_id=${ids.get(1)}/seed=3`,
      ]);
      if (seeds) {
        // Partition values come from the rows, else the params, else the Hive default partition.
        const seedWrite = await writeSeedRows([{ seed: 3, avg_regret_empirical: 9 }], dir, params(1));
        const seedDir = path.relative(dir, path.dirname(seedWrite.files[0] as string));
        expect(seedDir).toBe(
          ten
            ? `seeds/algo=memorypair/accountant=zcdp/gamma_bar=1/gamma_split=0.5/target_PT=__HIVE_DEFAULT_PARTITION__/target_ST=__HIVE_DEFAULT_PARTITION__/delete_ratio=__HIVE_DEFAULT_PARTITION__/rho_total=__HIVE_DEFAULT_PARTITION__/grid_id=${ids.get(1)}/seed=3`
            : `seeds/grid_id=${ids.get(1)}`,
        );
      }

      // Nothing exp_engine wrote changed; runlake only added files.
      const after = snapshot(dir);
      for (const [file, digest] of before) expect(after.get(file), file).toBe(digest);
      const lake2 = await openLake(dir);
      try {
        const [row] = await lake2.query(
          `SELECT count(*)::INTEGER AS n, count(DISTINCT grid_id)::INTEGER AS g, sum(cum_regret) = sum(regret) AS same FROM events WHERE seed = 3`,
        );
        // exp_engine's normalisation: cum_regret mirrors regret when a runner logs only regret.
        expect(row).toEqual({ n: 4, g: 1, same: true });
        expect((await lake2.query('SELECT count(*)::INTEGER AS n FROM grids'))[0]).toEqual({ n: 2 });
      } finally {
        lake2.close();
      }
      // exp_engine's `params = attach_grid_id(params)` habit: attachGridId with the lake's scheme
      // gives exp_engine's id, and the writers take params that carry it.
      const attached = attachGridId(params(1), { scheme });
      expect(attached.grid_id).toBe(ids.get(1));
      expect((await writeEventRows(eventRows(5, 1, ten), dir, attached)).gridId).toBe(ids.get(1));
      // A scheme that contradicts the lake's is refused, writing nothing.
      const other: GridIdScheme = scheme === 'exp_engine-md5-8' ? 'exp_engine-sha256-8' : 'exp_engine-md5-8';
      const files = listFiles(dir);
      await expect(
        writeEventRows(eventRows(4, 1, ten), dir, params(1), { gridIdScheme: other }),
      ).rejects.toThrow(GridIdSchemeError);
      expect(listFiles(dir)).toEqual(files);
    },
  );
});

describe("exp_engine's write semantics (test_io.py's intent)", () => {
  it('an empty write writes nothing, not even params.json or the setting', async () => {
    const dir = tempDir();
    const result = await writeEventRows([], dir, params(1));
    expect(result).toMatchObject({ rowCount: 0, files: [], gridId: '' });
    expect(listFiles(dir)).toEqual([]);
  });

  it('rows with no seed go to the Hive default partition, read back as NULL', async () => {
    const dir = tempDir();
    const result = await writeEventRows([{ event_id: 0, regret: 1 }], dir, { algo: 'x' });
    expect(path.relative(dir, path.dirname(result.files[0] as string))).toBe(
      `events/grid_id=${result.gridId}/seed=__HIVE_DEFAULT_PARTITION__`,
    );
    const lake = await openLake(dir);
    try {
      expect(await lake.query('SELECT seed, regret, cum_regret FROM events')).toEqual([
        { seed: null, regret: 1, cum_regret: 1 },
      ]);
    } finally {
      lake.close();
    }
  });

  it("regret normalisation fills missing values (null or NaN, as pandas' fillna) in order", async () => {
    const dir = tempDir();
    await writeEventRows(
      [
        { seed: 1, event_id: 0, regret: 0.5, cum_regret: 0.75 },
        { seed: 1, event_id: 1, regret: Number.NaN, cum_regret: 1 },
        { seed: 1, event_id: 2, regret_increment: 0.25 },
        { seed: 1, event_id: 3, cum_regret: Number.NaN, regret: 2 },
      ],
      dir,
      { algo: 'x' },
    );
    const lake = await openLake(dir);
    try {
      expect(await lake.query('SELECT event_id, regret, cum_regret FROM events ORDER BY event_id')).toEqual([
        { event_id: 0, regret: 0.5, cum_regret: 0.75 }, // both given: kept
        { event_id: 1, regret: 1, cum_regret: 1 }, // regret from cum_regret
        { event_id: 2, regret: 0.25, cum_regret: 0.25 }, // regret from regret_increment, then cum_regret
        { event_id: 3, regret: 2, cum_regret: 2 }, // cum_regret from regret
      ]);
    } finally {
      lake.close();
    }
  });

  it('rows that carry their own grid_id need no params (and get no params.json)', async () => {
    const dir = tempDir();
    const result = await writeEventRows(
      [
        { grid_id: 'aaaaaaaaaaaa', seed: 1, regret: 0.5 },
        { grid_id: 'bbbbbbbbbbbb', seed: 2, cum_regret: 0.25 },
      ],
      dir,
    );
    expect(result.rowCount).toBe(2);
    expect(visibleFiles(dir).map((f) => path.dirname(f))).toEqual([
      'events/grid_id=aaaaaaaaaaaa/seed=1',
      'events/grid_id=bbbbbbbbbbbb/seed=2',
    ]);
    const lake = await openLake(dir);
    try {
      // Regret normalised at write time: regret from cum_regret where missing, and back.
      expect(await lake.query('SELECT grid_id, regret, cum_regret FROM events ORDER BY grid_id')).toEqual([
        { grid_id: 'aaaaaaaaaaaa', regret: 0.5, cum_regret: 0.5 },
        { grid_id: 'bbbbbbbbbbbb', regret: 0.25, cum_regret: 0.25 },
      ]);
      // 12-character ids without params: exp_engine's third generation.
      expect(lake.gridIdSetting).toMatchObject({ scheme: 'exp_engine-sha256-12', source: 'detected' });
    } finally {
      lake.close();
    }
  });

  it('an exp_engine scheme takes NaN and big ints, stores params.json as exp_engine did, and compares canonical params', async () => {
    const dir = tempDir();
    const p = { algo: 'memorypair', gamma_bar: pyFloat(1), tol: Number.NaN, n: 10n ** 20n, seed: 1 };
    const first = await writeEventRows([{ seed: 1, regret: 1 }], dir, p, {
      gridIdScheme: 'exp_engine-sha256-12',
    });
    const stored = readFileSync(path.join(dir, 'grids', `grid_id=${first.gridId}`, 'params.json'), 'utf8');
    expect(stored).toBe(
      '{\n  "algo": "memorypair",\n  "gamma_bar": 1.0,\n  "n": 100000000000000000000,\n  "seed": 1,\n  "tol": NaN\n}',
    );
    // Another run of the same grid (other seed and output dir): same id, no false collision.
    const again = await writeEventRows([{ seed: 2, regret: 2 }], dir, { ...p, seed: 2, out_dir: '/tmp/x' });
    expect(again.gridId).toBe(first.gridId);
    const lake = await openLake(dir);
    try {
      expect(await lake.query('SELECT grid_id, gamma_bar, tol, n FROM grids')).toEqual([
        { grid_id: first.gridId, gamma_bar: 1, tol: 'NaN', n: '100000000000000000000' },
      ]);
    } finally {
      lake.close();
    }
  });

  it('runlake convert --grid-id-scheme starts a lake with exp_engine ids; an unknown scheme is a usage error', () => {
    const bad = runlake('convert', tempDir(), tempDir(), '--grid-id-scheme', 'md5');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown grid-id scheme "md5" (known: runlake, exp_engine-md5-8');
  });
});

describe("exp_engine's CLI flags on runlake query and info", () => {
  it('--base-out, --table (a name or SQL) and --output with the format from its extension', async () => {
    const dir = tempDir();
    await writeEventRows(eventRows(1, 5, false), dir, params(1));
    const out = path.join(tempDir(), 'deletes.csv');
    const query = runlake(
      'query',
      '--base-out',
      dir,
      '--table',
      'events',
      '--where',
      "op = 'delete'",
      '--output',
      out,
    );
    expect(query.code, query.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toContain('event_id');
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3); // header + 2 deletes
    const sql = runlake('query', dir, '--table', 'SELECT count(*) AS n FROM events', '--format', 'csv');
    expect(sql.stdout).toBe('n\n5\n');
    const parquet = path.join(tempDir(), 'all.parquet');
    expect(runlake('query', '--base-out', dir, '--output', parquet).code).toBe(0);
    expect(readFileSync(parquet).subarray(0, 4).toString()).toBe('PAR1');
    expect(runlake('info', '--base-out', dir).stdout).toContain('grid ids: runlake');
    const twice = runlake('query', dir, '--base-out', tempDir());
    expect(twice.code).not.toBe(0);
    expect(twice.stderr).toContain('the lake directory is given twice');
    expect(runlake('query').stderr).toContain('give the lake directory (as an argument or with --base-out)');
  });
});

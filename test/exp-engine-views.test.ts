/**
 * exp_engine's views in runlake (src/lake/sweep-views.ts): `events_summary`, `seeds_summary`,
 * `seeds_from_events`, `events_workload` and the regret analyses.
 *
 * The first part runs without Python: it ports the intent of every test of exp_engine's
 * test_duck.py (lineages A and B) and the regret-normalisation tests of its test_io.py (A) over
 * lakes whose files no runlake writer touched (DuckDB's COPY … PARTITION_BY, the way another
 * tool writes them), so the views' own regret semantics are what is tested.
 *
 * The second part runs the real exp_engine (test/python/exp_engine_lake.py, sources at
 * $RUNLAKE_EXP_ENGINE, lineage B beside it): lakes written by exp_engine A and B give the same
 * rows in runlake's views as in exp_engine's own `create_connection_and_views`; lakes written
 * without regret normalisation give the summaries exp_engine A gives after normalising; and
 * exp_engine's views, query functions and CLI keep working on lakes runlake wrote. It needs a
 * Python with pandas, pyarrow and duckdb (test/helpers/python.ts): skipped with a warning
 * locally, a failure on CI.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import {
  type Lake,
  type OpenLakeOptions,
  openLake,
  quoteLiteral,
  SWEEP_VIEW_NAMES,
  sweepViews,
  type ViewSourceColumn,
  writeEventRows,
  writeSeedRows,
} from '../src/index.js';
import { openSandboxedLake } from '../src/server/sandbox.js';
import { runlake } from './helpers/cli.js';
import { repoRoot, tempDir } from './helpers/lake-fixtures.js';
import { pythonWith } from './helpers/python.js';

type Row = Record<string, unknown>;

/** Writes rows as Hive-partitioned Parquet the way another tool would: no runlake writer involved. */
async function writeHive(
  dir: string,
  dataset: string,
  rows: readonly Row[],
  partitionBy = ['grid_id', 'seed'],
) {
  const json = path.join(tempDir('runlake-rows-'), 'rows.json');
  writeFileSync(json, JSON.stringify(rows));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(
      `COPY (SELECT * FROM read_json(${quoteLiteral(json)}, format = 'array')) TO ${quoteLiteral(path.join(dir, dataset))} ` +
        `(FORMAT parquet, PARTITION_BY (${partitionBy.join(', ')}), APPEND)`,
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
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

const sweepViewNames = async (lake: Lake) =>
  (await lake.views()).map((v) => v.name).filter((n) => SWEEP_VIEW_NAMES.includes(n));

/** exp_engine A's test data: seed 1's cumulative regret rises then falls; seed 2's only rises. */
const SEMANTICS_EVENTS: Row[] = [
  { grid_id: 'test1', seed: 1, event: 1, regret: 0.1, cum_regret: 0.1, op: 'insert', acc: 0.8 },
  { grid_id: 'test1', seed: 1, event: 2, regret: 0.2, cum_regret: 0.2, op: 'insert', acc: 0.85 },
  { grid_id: 'test1', seed: 1, event: 3, regret: 0.15, cum_regret: 0.15, op: 'delete', acc: 0.9 },
  { grid_id: 'test1', seed: 2, event: 1, regret: 0.05, cum_regret: 0.05, op: 'insert', acc: 0.7 },
  { grid_id: 'test1', seed: 2, event: 2, regret: 0.08, cum_regret: 0.08, op: 'insert', acc: 0.75 },
];

const params = (gamma: number) => ({
  algo: 'memorypair',
  accountant: 'zcdp',
  gamma_bar: gamma,
  gamma_split: 0.5,
});

const col = (name: string, type = 'DOUBLE'): ViewSourceColumn => ({ name, type });

describe('sweepViews (the builder)', () => {
  it('builds each view only from inputs that exist', () => {
    expect(sweepViews({})).toEqual([]);
    // A Squiggle-style events table (no grid_id/seed) gets none.
    expect(sweepViews({ events: [col('run_id', 'VARCHAR'), col('step', 'BIGINT')] })).toEqual([]);
    const key = [col('grid_id', 'VARCHAR'), col('seed', 'BIGINT')];
    expect(sweepViews({ events: key }).map((v) => v.name)).toEqual(['events_summary', 'seeds_from_events']);
    expect(
      sweepViews({ events: [...key, col('event_id', 'BIGINT'), col('cum_regret')] }).map((v) => v.name),
    ).toEqual(['events_summary', 'seeds_from_events', 'events_workload']);
    // seeds_summary needs grid_id and the four params, from seeds or else from grids.
    const seeds = [...key, col('algo', 'VARCHAR'), col('avg_regret_empirical')];
    expect(sweepViews({ seeds }).map((v) => v.name)).toEqual([]);
    const grids = [
      col('grid_id', 'VARCHAR'),
      col('accountant', 'VARCHAR'),
      col('gamma_bar'),
      col('gamma_split'),
    ];
    const [summary] = sweepViews({ seeds, grids });
    expect(summary?.name).toBe('seeds_summary');
    expect(summary?.sql).toContain('LEFT JOIN grids');
    expect(summary?.sql).toContain('s."algo" AS "algo"');
    expect(summary?.sql).toContain('g."gamma_bar" AS "gamma_bar"');
    expect(sweepViews({ seeds: [...seeds, ...grids.slice(1)], grids })[0]?.sql).not.toContain('grids');
  });

  it('reads regret as exp_engine A normalises it and orders runs by event, event_id or step', () => {
    const key = [col('grid_id', 'VARCHAR'), col('seed', 'BIGINT')];
    const summary = (events: ViewSourceColumn[]) => sweepViews({ events })[0]?.sql ?? '';
    const all = summary([
      ...key,
      col('regret'),
      col('cum_regret'),
      col('regret_increment'),
      col('step', 'BIGINT'),
    ]);
    expect(all).toContain(
      'avg(coalesce("regret", "cum_regret", "regret_increment")) AS "avg_regret_empirical"',
    );
    expect(all).toContain(
      'arg_max(coalesce("cum_regret", "regret", "regret_increment"), "step") AS "final_cum_regret"',
    );
    expect(summary([...key, col('regret_increment')])).toContain('avg("regret_increment")');
    expect(summary([...key, col('cum_regret'), col('event_id', 'BIGINT'), col('event', 'BIGINT')])).toContain(
      'arg_max("cum_regret", "event") AS "final_cum_regret"',
    );
    expect(summary([...key, col('cum_regret')])).toContain('max("cum_regret") AS "final_cum_regret"');
    // No regret column at all: no regret aggregates (nothing to normalise from).
    expect(summary([...key, col('acc')])).not.toContain('regret');
    // A text column still gets min/max but no avg (which would fail the whole view).
    const text = summary([...key, col('sample_id', 'VARCHAR'), col('loss', 'FLOAT')]);
    expect(text).not.toContain('avg("sample_id")');
    expect(text).toContain('min("sample_id") AS "min_sample_id"');
    expect(text).toContain('avg("loss") AS "avg_loss"');
  });
});

describe("exp_engine's views over files no runlake writer touched", () => {
  it('an empty lake opens without them (test_create_connection_and_views_empty_dir)', async () => {
    const dir = tempDir();
    await withLake(dir, async (lake) => {
      expect(await sweepViewNames(lake)).toEqual([]);
      expect(lake.viewProblems).toEqual([]);
      await expect(lake.query('SELECT * FROM events_summary')).rejects.toThrow(/events_summary/);
    });
  });

  it('a lake with seeds and events has them all (test_create_connection_and_views_with_data)', async () => {
    const dir = tempDir();
    await writeHive(dir, 'seeds', [
      { grid_id: 'g1', seed: 1, ...params(1), avg_regret_empirical: 0.1, N_star_emp: 100, m_emp: 10 },
    ]);
    await writeHive(dir, 'events', [
      { grid_id: 'g1', seed: 1, ...params(1), event_type: 'insert', op: 'insert', regret: 0.05, acc: 0.8 },
    ]);
    await withLake(dir, async (lake) => {
      expect(await sweepViewNames(lake)).toEqual(['events_summary', 'seeds_summary', 'seeds_from_events']);
      expect(lake.viewProblems).toEqual([]);
      for (const view of await lake.views()) expect(view.description, view.name).not.toBe('');
      expect(await lake.query('SELECT * FROM seeds_summary')).toEqual([
        {
          grid_id: 'g1',
          ...params(1),
          num_seeds: 1,
          mean_regret: 0.1,
          std_regret: null,
          mean_n_star: 100,
          mean_deletions: 10,
        },
      ]);
    });
  });

  it('querySeeds and queryEvents filter and limit (test_query_seeds, test_query_events)', async () => {
    const dir = tempDir();
    await writeHive(
      dir,
      'seeds',
      [1, 2].map((seed) => ({ grid_id: 'g1', seed, algo: 'memorypair', avg_regret_empirical: seed / 10 })),
    );
    await writeHive(dir, 'events', [
      { grid_id: 'g1', seed: 1, event_type: 'insert', op: 'insert', regret: 0.05 },
      { grid_id: 'g1', seed: 1, event_type: 'delete', op: 'delete', regret: 0.03 },
    ]);
    await withLake(dir, async (lake) => {
      const seeds = await lake.querySeeds();
      expect(seeds).toHaveLength(2);
      expect(Object.keys(seeds[0] ?? {})).toEqual(expect.arrayContaining(['seed', 'avg_regret_empirical']));
      expect((await lake.querySeeds('seed = 1')).map((r) => r.seed)).toEqual([1]);
      expect(await lake.querySeeds(undefined, 1)).toHaveLength(1);
      expect(await lake.queryEvents()).toHaveLength(2);
      expect((await lake.queryEvents("op = 'insert'")).map((r) => [r.op, r.event_type])).toEqual([
        ['insert', 'insert'],
      ]);
    });
  });

  it("openLake({ duckdb }) puts the views into the caller's connection (test_reuse_existing_connection)", async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', SEMANTICS_EVENTS);
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run('CREATE TABLE mine AS SELECT 42 AS answer');
      const lake = await openLake(dir, { duckdb: { instance, connection } });
      expect(lake.connection).toBe(connection);
      expect(lake.instance).toBe(instance);
      lake.close();
      // close() left the caller's connection open, with the lake's views and its own table.
      const read = await connection.runAndReadAll(
        'SELECT (SELECT count(*) FROM events_summary)::INTEGER AS runs, (SELECT answer FROM mine) AS answer',
      );
      expect(read.getRowObjectsJS()).toEqual([{ runs: 2, answer: 42 }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('events_summary: mean of the cumulative curve, last (not largest) cum_regret, op counts (test_events_summary_semantics)', async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', SEMANTICS_EVENTS);
    await withLake(dir, async (lake) => {
      const rows = await lake.query(
        'SELECT seed, avg_regret_empirical, final_cum_regret, inserts, deletions, total_events FROM events_summary ORDER BY seed',
      );
      expect(rows).toHaveLength(2);
      expect(rows[0]?.avg_regret_empirical).toBeCloseTo((0.1 + 0.2 + 0.15) / 3, 12);
      expect(rows[1]?.avg_regret_empirical).toBeCloseTo((0.05 + 0.08) / 2, 12);
      expect(rows.map((r) => [r.seed, r.final_cum_regret, r.inserts, r.deletions, r.total_events])).toEqual([
        [1, 0.15, 2, 1, 3],
        [2, 0.08, 2, 0, 2],
      ]);
    });
  });

  it('seeds_from_events: the per-seed rollup from events (test_seeds_from_events_view)', async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', SEMANTICS_EVENTS);
    await withLake(dir, async (lake) => {
      const rows = await lake.query('SELECT * FROM seeds_from_events ORDER BY seed');
      expect(Object.keys(rows[0] ?? {})).toEqual([
        'grid_id',
        'seed',
        'avg_regret_empirical',
        'N_star_emp',
        'm_emp',
        'total_events',
        'final_acc',
      ]);
      expect(rows[0]?.avg_regret_empirical).toBeCloseTo(0.15, 12);
      expect(rows[1]?.avg_regret_empirical).toBeCloseTo(0.065, 12);
      expect(rows.map((r) => [r.N_star_emp, r.m_emp, r.total_events, r.final_acc])).toEqual([
        [2, 1, 3, 0.9],
        [2, 0, 2, 0.75],
      ]);
    });
  });

  it('without an order column, final values fall back to the largest (test_fallback_without_event_column)', async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', [
      { grid_id: 'test1', seed: 1, regret: 0.1, cum_regret: 0.1, op: 'insert', acc: 0.8 },
      { grid_id: 'test1', seed: 1, regret: 0.2, cum_regret: 0.05, op: 'insert', acc: 0.85 },
    ]);
    await withLake(dir, async (lake) => {
      expect(await lake.query('SELECT final_cum_regret FROM events_summary')).toEqual([
        { final_cum_regret: 0.1 },
      ]);
      expect(await lake.query('SELECT final_acc FROM seeds_from_events')).toEqual([{ final_acc: 0.85 }]);
      // …and there is no workload view, which needs an order.
      expect(await sweepViewNames(lake)).not.toContain('events_workload');
    });
  });

  it("event_id or step orders a run when there is no event column (runlake's writers log those)", async () => {
    for (const order of ['event_id', 'step']) {
      const dir = tempDir();
      await writeHive(
        dir,
        'events',
        [3, 1, 2].map((i) => ({
          grid_id: 'g',
          seed: 1,
          [order]: i,
          cum_regret: [0, 0.5, 0.9, 0.2][i],
          acc: i / 10,
        })),
      );
      await withLake(dir, async (lake) => {
        expect(await lake.query('SELECT final_cum_regret FROM events_summary'), order).toEqual([
          { final_cum_regret: 0.2 },
        ]);
        expect(await lake.query('SELECT final_acc FROM seeds_from_events'), order).toEqual([
          { final_acc: 0.3 },
        ]);
      });
    }
  });

  describe('regret written without normalisation reads as exp_engine A normalises it (test_io.py)', () => {
    const summary = async (rows: Row[]) => {
      const dir = tempDir();
      await writeHive(dir, 'events', rows);
      return withLake(dir, (lake) =>
        lake.query(
          'SELECT avg_regret_empirical AS avg, final_cum_regret AS final, negative_regret_count AS negative FROM events_summary',
        ),
      );
    };
    const run = { grid_id: 'test1', seed: 1 };

    it('only cum_regret: regret is cum_regret (test_normalize_regret_missing_regret_has_cum_regret, test_regret_normalization_affects_duckdb_queries)', async () => {
      const [row] = await summary([
        { ...run, event: 1, cum_regret: 0.1, op: 'insert' },
        { ...run, event: 2, cum_regret: 0.15, op: 'insert' },
      ]);
      expect(row?.avg).toBeCloseTo(0.125, 12);
      expect(row?.final).toBe(0.15);
    });

    it('only regret: cum_regret is regret (test_normalize_regret_missing_cum_regret_has_regret)', async () => {
      const [row] = await summary([
        { ...run, event: 1, regret: 0.1, op: 'insert' },
        { ...run, event: 2, regret: 0.15, op: 'insert' },
      ]);
      expect(row?.final).toBe(0.15);
    });

    it('only regret_increment: both come from it (test_normalize_regret_fallback_to_regret_increment)', async () => {
      const [row] = await summary([
        { ...run, event: 1, regret_increment: 0.05, op: 'insert' },
        { ...run, event: 2, regret_increment: -0.03, op: 'delete' },
      ]);
      expect(row?.avg).toBeCloseTo(0.01, 12);
      expect(row).toMatchObject({ final: -0.03, negative: 1 });
    });

    it('values that are there are kept (test_normalize_regret_preserves_existing_values)', async () => {
      expect(
        await summary([
          { ...run, event: 1, regret: 0.1, cum_regret: 0.15, regret_increment: 0.05, op: 'insert' },
        ]),
      ).toEqual([{ avg: 0.1, final: 0.15, negative: 0 }]);
    });

    it('row by row, in files with different columns', async () => {
      const dir = tempDir();
      await writeHive(dir, 'events', [{ ...run, event: 1, regret: 1 }]);
      await writeHive(dir, 'events', [{ ...run, event: 2, cum_regret: 2 }]);
      await writeHive(dir, 'events', [{ ...run, event: 3, regret_increment: 4 }]);
      await withLake(dir, async (lake) => {
        expect(
          await lake.query('SELECT avg_regret_empirical AS a, final_cum_regret AS f FROM events_summary'),
        ).toEqual([{ a: 7 / 3, f: 4 }]);
      });
    });
  });

  it('events_workload counts regret from the first delete, else N_star, else the start (lineage B)', async () => {
    const dir = tempDir();
    const cum = [0.5, 1, 1.5, 1.7, 2.5, 3];
    await writeHive(dir, 'events', [
      // g1: deletes from event 3 on.
      ...cum.map((c, i) => ({
        grid_id: 'g1',
        seed: 1,
        event_id: i,
        op: i >= 3 ? 'delete' : 'insert',
        cum_regret: c,
      })),
      // g2: no deletes, N_star = 2.
      ...cum.map((c, i) => ({ grid_id: 'g2', seed: 1, event_id: i, op: 'insert', cum_regret: c, N_star: 2 })),
    ]);
    await withLake(dir, async (lake) => {
      const rows = await lake.queryWorkloadEvents("grid_id = 'g1'");
      expect(rows.map((r) => r.event_id)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(rows.map((r) => r.workload_start_event_id)).toEqual([3, 3, 3, 3, 3, 3]);
      expect(rows.map((r) => r.is_workload_phase)).toEqual([false, false, false, true, true, true]);
      expect(rows.map((r) => r.workload_events_seen)).toEqual([1, 1, 1, 1, 2, 3]);
      const avg = rows.map((r) => r.workload_avg_regret as number | null);
      expect(avg.slice(0, 3)).toEqual([null, null, null]);
      expect(avg[3]).toBe(0);
      expect(avg[4]).toBeCloseTo(0.4, 12);
      expect(avg[5]).toBeCloseTo(1.3 / 3, 12);
      // Absent noise columns read as no noise regret.
      expect(
        rows.every((r) => r.workload_noise_regret_cum === 0 && r.workload_cum_regret_with_noise === 0),
      ).toBe(true);
      const g2 = await lake.queryWorkloadEvents("grid_id = 'g2' AND is_workload_phase", 2);
      expect(g2.map((r) => [r.event_id, r.workload_start_event_id, r.workload_cum_regret])).toEqual([
        [2, 2, 0],
        [3, 2, 0.19999999999999996],
      ]);
      const analysis = await lake.workloadRegretAnalysis();
      expect(
        analysis.map((r) => [r.grid_id, r.workload_start_event_id, r.workload_events, r.pre_workload_events]),
      ).toEqual([
        ['g1', 3, 3, 3],
        ['g2', 2, 4, 2],
      ]);
      expect(analysis[0]?.final_total_avg_regret).toBeNull();
    });
  });

  it('regret analyses: per run, and the runs with negative regret', async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', [
      { grid_id: 'g1', seed: 1, event_id: 0, regret: 0.5, cum_regret: 0.5, avg_regret: 0.5 },
      { grid_id: 'g1', seed: 1, event_id: 1, regret: -0.25, cum_regret: 0.25, avg_regret: 0.125 },
      { grid_id: 'g1', seed: 2, event_id: 0, regret: 1, cum_regret: 1, avg_regret: 1 },
    ]);
    await withLake(dir, async (lake) => {
      expect(await lake.regretAnalysis()).toEqual([
        {
          grid_id: 'g1',
          seed: 1,
          total_events: 2,
          final_cum_regret: 0.5,
          final_avg_regret: 0.5,
          final_cum_regret_with_noise: null,
          final_avg_regret_with_noise: null,
          negative_count: 1,
        },
        {
          grid_id: 'g1',
          seed: 2,
          total_events: 1,
          final_cum_regret: 1,
          final_avg_regret: 1,
          final_cum_regret_with_noise: null,
          final_avg_regret_with_noise: null,
          negative_count: 0,
        },
      ]);
      expect(await lake.negativeRegretSummary()).toEqual([
        {
          grid_id: 'g1',
          seed: 1,
          negative_regret_events: 1,
          total_events: 2,
          negative_regret_pct: 50,
          min_regret: -0.25,
          avg_negative_regret: -0.25,
        },
      ]);
    });
  });

  it("a view the columns cannot support is reported, not fatal, and B's aggregates skip what they cannot average", async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', [
      { grid_id: 'g', seed: 1, event: 1, regret: 'high', acc: 0.5, sample_id: 'a7', timestamp: '2024-01-01' },
    ]);
    await withLake(dir, async (lake) => {
      const broken = lake.viewProblems.map((p) => p.view);
      expect(broken).toContain('events_summary');
      expect(lake.viewProblems.find((p) => p.view === 'events_summary')?.reason).toMatch(/avg/i);
      expect(await lake.query('SELECT count(*)::INTEGER AS n FROM events')).toEqual([{ n: 1 }]);
    });
    const other = tempDir();
    await writeHive(other, 'events', [
      {
        grid_id: 'g',
        seed: 1,
        event: 1,
        regret: 0.5,
        sample_id: 'a7',
        sc_stable: 1,
        timestamp: '2024-01-01',
      },
      {
        grid_id: 'g',
        seed: 1,
        event: 2,
        regret: 0.25,
        sample_id: 'b2',
        sc_stable: 0,
        timestamp: '2024-01-02',
      },
    ]);
    await withLake(other, async (lake) => {
      expect(lake.viewProblems).toEqual([]);
      expect(
        await lake.query(
          'SELECT min_sample_id, max_sample_id, count_true_sc_stable, start_timestamp::VARCHAR AS t FROM events_summary',
        ),
      ).toEqual([{ min_sample_id: 'a7', max_sample_id: 'b2', count_true_sc_stable: 1, t: '2024-01-01' }]);
    });
  });
});

describe("exp_engine's views in a lake runlake writes", () => {
  it('follow the columns as rows are written, in every open lake, and are listed with descriptions', async () => {
    const dir = tempDir();
    const p = params(1);
    await writeEventRows([{ seed: 1, event_id: 0, regret: 0.5 }], dir, p);
    await withLake(dir, async (lake) => {
      const columns = async () => Object.keys((await lake.query('SELECT * FROM events_summary'))[0] ?? {});
      expect(await columns()).not.toContain('inserts');
      // Another writer adds op and acc: the next query sees the views built for them.
      await writeEventRows([{ seed: 1, event_id: 1, op: 'delete', regret: 0.25, acc: 0.5 }], dir, p);
      expect(await columns()).toEqual(expect.arrayContaining(['inserts', 'deletions', 'avg_acc']));
      expect(await lake.query('SELECT deletions, final_cum_regret FROM events_summary')).toEqual([
        { deletions: 1, final_cum_regret: 0.25 },
      ]);
      // A write through this lake is followed too.
      await lake.write('events', [
        {
          grid_id: (await lake.query('SELECT grid_id FROM grids'))[0]?.grid_id as string,
          seed: 2,
          event_id: 0,
          loss: 3,
        },
      ]);
      expect(await columns()).toContain('avg_loss');
      const views = await lake.views();
      expect(views.filter((v) => SWEEP_VIEW_NAMES.includes(v.name)).map((v) => v.name)).toEqual([
        'events_summary',
        'seeds_from_events',
        'events_workload',
      ]);
      expect(views.every((v) => v.description.length > 20)).toBe(true);
      // Their names are taken: a saved view cannot hide them.
      await expect(lake.saveView('events_summary', 'SELECT 1')).rejects.toThrow(/events_summary/);
    });
  });

  it('seeds_summary takes params the seed rows lack from grids (runlake keeps them in grids/)', async () => {
    const dir = tempDir();
    for (const gamma of [0.5, 1]) {
      await writeSeedRows(
        [1, 2, 3].map((seed) => ({ seed, avg_regret_empirical: gamma * seed, N_star_emp: 10 * seed })),
        dir,
        params(gamma),
      );
    }
    await withLake(dir, async (lake) => {
      expect(await sweepViewNames(lake)).toEqual(['seeds_summary']);
      const rows = await lake.query(
        'SELECT algo, accountant, gamma_bar, gamma_split, num_seeds, mean_regret, std_regret, mean_n_star FROM seeds_summary ORDER BY gamma_bar',
      );
      expect(rows).toEqual([
        { ...params(0.5), num_seeds: 3, mean_regret: 1, std_regret: 0.5, mean_n_star: 20 },
        { ...params(1), num_seeds: 3, mean_regret: 2, std_regret: 1, mean_n_star: 20 },
      ]);
    });
  });

  it('time travel rebuilds them for the columns of the version read', async () => {
    const dir = tempDir();
    const before = new Date();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await writeEventRows([{ seed: 1, event_id: 0, regret: 0.5 }], dir, params(1));
    await writeEventRows([{ seed: 1, event_id: 1, regret: 0.25, op: 'insert' }], dir, params(1));
    await withLake(
      dir,
      async (lake) => {
        const [row] = await lake.query('SELECT * FROM events_summary');
        expect(row).toMatchObject({ total_events: 1, final_cum_regret: 0.5 });
        expect(row).not.toHaveProperty('inserts');
      },
      { version: { events: 0 } },
    );
    await withLake(dir, async (lake) => expect(await sweepViewNames(lake)).toEqual([]), { asOf: before });
  });

  it('runlake query and runlake view show them; serve serves them', async () => {
    const dir = tempDir();
    await writeHive(dir, 'events', SEMANTICS_EVENTS);
    const byName = runlake(
      'query',
      dir,
      'events_summary',
      '--columns',
      'seed,final_cum_regret',
      '--order-by',
      'seed',
      '-f',
      'csv',
    );
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toBe('seed,final_cum_regret\n1,0.15\n2,0.08\n');
    const bySql = runlake(
      'query',
      dir,
      '--sql',
      'SELECT sum(m_emp) AS m FROM seeds_from_events',
      '-f',
      'csv',
    );
    expect(bySql.code, bySql.stderr).toBe(0);
    expect(bySql.stdout).toBe('m\n1\n');
    const listed = runlake('view', dir);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/events_summary/);
    expect(listed.stdout).toMatch(/seeds_from_events/);

    const served = await openSandboxedLake(dir);
    try {
      const connection = await served.instance.connect();
      try {
        const read = await connection.runAndReadAll(
          'SELECT seed, total_events FROM events_summary ORDER BY seed',
        );
        expect(read.getRowObjectsJS()).toEqual([
          { seed: 1n, total_events: 3n },
          { seed: 2n, total_events: 2n },
        ]);
      } finally {
        connection.closeSync();
      }
    } finally {
      served.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The real exp_engine.

const py = pythonWith(['pandas', 'pyarrow', 'duckdb']);
if (py.skip) console.warn(`[exp-engine-views.test] skipping the exp_engine comparisons: ${py.reason}`);

const EXP_A = process.env.RUNLAKE_EXP_ENGINE ?? '/work/shared/peers/exp_engine/A';
const EXP_B = path.join(path.dirname(EXP_A), 'B');
const SCRIPT = path.join(repoRoot, 'test', 'python', 'exp_engine_lake.py');

interface Frame {
  columns: string[];
  rows: unknown[][];
}
interface ViewsAnswer {
  tables: string[];
  reused: boolean | null;
  results: Record<string, Frame>;
  errors: Record<string, string>;
}
interface WriteCall {
  kind: 'events' | 'seeds';
  rows: Row[];
  params?: Row | null;
}

function expWrite(root: string, lake: string, calls: WriteCall[]): void {
  py.runPython(SCRIPT, ['write', root, lake], JSON.stringify({ calls }));
}

function expViews(
  root: string,
  lake: string,
  request: { sql?: Record<string, string>; calls?: Record<string, unknown[]>; reuse?: boolean },
): ViewsAnswer {
  return JSON.parse(py.runPython(SCRIPT, ['views', root, lake], JSON.stringify(request))) as ViewsAnswer;
}

function objects(frame: Frame | undefined): Row[] {
  expect(frame, 'exp_engine gave no result').toBeDefined();
  return (frame?.rows ?? []).map((row) =>
    Object.fromEntries(frame?.columns.map((c, i) => [c, row[i]]) ?? []),
  );
}

const sortKey = (row: Row, key: readonly string[]) => JSON.stringify(key.map((k) => row[k]));

/**
 * Asserts that runlake's rows hold exp_engine's: the same rows (matched on `key`), and in each
 * every column exp_engine has (or those in `only`), numbers within 1e-12.
 */
function expectSameRows(ours: Row[], theirs: Row[], key: readonly string[], only?: readonly string[]): void {
  expect(theirs.length, 'exp_engine returned no rows').toBeGreaterThan(0);
  expect(ours.map((r) => sortKey(r, key)).sort()).toEqual(theirs.map((r) => sortKey(r, key)).sort());
  const byKey = new Map(ours.map((r) => [sortKey(r, key), r]));
  for (const their of theirs) {
    const our = byKey.get(sortKey(their, key)) ?? {};
    for (const column of only ?? Object.keys(their)) {
      const want = their[column];
      const got = our[column];
      const where = `${column} of ${sortKey(their, key)}`;
      expect(Object.hasOwn(our, column), `runlake lacks ${where}`).toBe(true);
      if (typeof want === 'number' && typeof got === 'number') {
        expect(Math.abs(got - want), `${where}: ${got} vs ${want}`).toBeLessThanOrEqual(
          1e-12 * Math.max(1, Math.abs(want)),
        );
      } else {
        expect(got, where).toEqual(want);
      }
    }
  }
}

/** A run's events with every column the two lineages summarise; cum_regret rises and falls. */
function richEvents(seed: number, count: number, first: number, shift: number): Row[] {
  let cum = 0;
  return Array.from({ length: count }, (_, k) => {
    const i = first + k;
    const regret = Math.round(Math.sin(i * 1.7 + seed + shift) * 1000) / 1000;
    cum += regret;
    return {
      seed,
      event: i,
      event_id: i,
      op: i % 3 === 2 ? 'delete' : 'insert',
      regret,
      cum_regret: cum,
      avg_regret: cum / (i + 1),
      acc: 0.5 + ((i * 7) % 10) / 40,
      loss: 2 - i / 16,
      step: i * 10,
      timestamp: 1_700_000_000 + i * 3.5,
      sample_id: (i * 37) % 101,
      segment_id: Math.floor(i / 4),
      noise: Math.cos(i) / 10,
      rho_step: 0.01 * (i + 1),
      rho_spent: 0.01 * (((i + 1) * (i + 2)) / 2),
      sigma_step: 0.5 + i / 100,
      sigma_delete: 0.25,
      sc_stable: i % 4 !== 1,
      N_star: 4,
      noise_regret_cum: cum / 2,
      cum_regret_with_noise: cum * 1.5,
      avg_regret_with_noise: (cum * 1.5) / (i + 1),
    };
  });
}

/** Lineage B's extra events_summary columns present in {@link richEvents}. */
const B_SUMMARY_EXTRAS = [
  'avg_regret_per_event',
  'negative_regret_count',
  ...[
    'loss',
    'acc',
    'step',
    'sample_id',
    'segment_id',
    'noise',
    'rho_step',
    'rho_spent',
    'sigma_step',
    'sigma_delete',
  ].flatMap((c) => [`avg_${c}`, `min_${c}`, `max_${c}`]),
  'start_timestamp',
  'end_timestamp',
  'min_sc_stable',
  'max_sc_stable',
  'count_true_sc_stable',
];

const WORKLOAD_COLUMNS = [
  'workload_start_event_id',
  'workload_baseline_cum_regret',
  'workload_baseline_noise_regret',
  'workload_baseline_cum_regret_with_noise',
  'workload_cum_regret',
  'workload_noise_regret_cum',
  'workload_cum_regret_with_noise',
  'workload_events_seen',
  'workload_avg_regret',
  'workload_avg_regret_with_noise',
  'is_workload_phase',
];

const RUN = ['grid_id', 'seed'];
const EVENT = ['grid_id', 'seed', 'event_id'];

/** Limits cut the same number of rows (which rows is up to the engine: there is no order). */
function expectSameLimit(ours: Record<string, Row[]>, a: ViewsAnswer): void {
  expect(ours.events_limit).toHaveLength(3);
  expect(objects(a.results.events_limit)).toHaveLength(3);
  expect(ours.seeds_limit).toHaveLength(3);
  expect(objects(a.results.seeds_limit)).toHaveLength(3);
}

/** Gammas of the test grids; not whole numbers, which JSON would hand pandas as integers. */
const GAMMAS = [0.5, 2.5];

const A_QUERIES = {
  sql: {
    events_summary: 'SELECT * FROM events_summary',
    seeds_summary: 'SELECT * FROM seeds_summary',
    seeds_from_events: 'SELECT * FROM seeds_from_events',
  },
  calls: {
    events_where: ['query_events', "op = 'delete' AND seed = 2"],
    events_limit: ['query_events', "op = 'delete'", 3],
    seeds_where: ['query_seeds', 'seed >= 2'],
    seeds_limit: ['query_seeds', '1=1', 3],
  },
};
const B_QUERIES = {
  sql: { events_summary: 'SELECT * FROM events_summary' },
  calls: {
    workload: ['query_workload_events'],
    workload_where: ['query_workload_events', 'is_workload_phase AND seed = 1', 4],
    workload_analysis: ['query_workload_regret_analysis'],
    regret_analysis: ['query_regret_analysis'],
    negative: ['get_negative_regret_summary'],
  },
};

/** runlake's answers to the questions of {@link A_QUERIES} and {@link B_QUERIES}. */
async function runlakeAnswers(dir: string): Promise<Record<string, Row[]>> {
  return withLake(dir, async (lake) => {
    expect(lake.viewProblems).toEqual([]);
    const views = await sweepViewNames(lake);
    const workload = views.includes('events_workload');
    return {
      events_summary: await lake.query('SELECT * FROM events_summary'),
      seeds_summary: views.includes('seeds_summary') ? await lake.query('SELECT * FROM seeds_summary') : [],
      seeds_from_events: await lake.query('SELECT * FROM seeds_from_events'),
      events_where: await lake.queryEvents("op = 'delete' AND seed = 2"),
      events_limit: await lake.queryEvents("op = 'delete'", 3),
      seeds_where: lake.datasets.has('seeds') ? await lake.querySeeds('seed >= 2') : [],
      seeds_limit: lake.datasets.has('seeds') ? await lake.querySeeds(undefined, 3) : [],
      workload: workload ? await lake.queryWorkloadEvents() : [],
      workload_where: workload ? await lake.queryWorkloadEvents('is_workload_phase AND seed = 1', 4) : [],
      workload_analysis: workload ? await lake.workloadRegretAnalysis() : [],
      regret_analysis: await lake.regretAnalysis(),
      negative: await lake.negativeRegretSummary(),
    };
  });
}

describe.skipIf(py.skip)(
  `the real exp_engine${py.skip ? ` — skipped: ${py.reason.split('\n')[0]}` : ''}`,
  () => {
    it('has pandas, pyarrow, duckdb and both exp_engine lineages', async () => {
      expect(py.available, py.reason).toBe(true);
      await expect(readFile(path.join(EXP_A, 'exp_engine', 'engine', 'duck.py'), 'utf8')).resolves.toContain(
        'seeds_from_events',
      );
      await expect(readFile(path.join(EXP_B, 'exp_engine', 'engine', 'duck.py'), 'utf8')).resolves.toContain(
        'events_workload',
      );
    });

    it("a lake exp_engine A wrote: runlake's views give exp_engine A's and B's rows", async () => {
      const dir = tempDir();
      const calls: WriteCall[] = [];
      for (const gamma of GAMMAS) {
        // Two calls for seed 1 (two files in its partition), one for seed 2.
        calls.push({ kind: 'events', rows: richEvents(1, 6, 0, gamma), params: params(gamma) });
        calls.push({ kind: 'events', rows: richEvents(1, 5, 6, gamma), params: params(gamma) });
        calls.push({ kind: 'events', rows: richEvents(2, 9, 0, gamma), params: params(gamma) });
        calls.push({
          kind: 'seeds',
          rows: [1, 2, 3].map((seed) => ({
            seed,
            ...params(gamma),
            avg_regret_empirical: gamma * seed * 0.7,
            N_star_emp: 90 + seed,
            m_emp: seed * 3,
          })),
          params: params(gamma),
        });
      }
      expWrite(EXP_A, dir, calls);
      const a = expViews(EXP_A, dir, A_QUERIES);
      const b = expViews(EXP_B, dir, B_QUERIES);
      expect(a.errors).toEqual({});
      expect(b.errors).toEqual({});
      expect(a.tables).toEqual(['events', 'events_summary', 'seeds', 'seeds_from_events', 'seeds_summary']);
      expect(b.tables).toEqual(['events', 'events_summary', 'events_workload']);
      const ours = await runlakeAnswers(dir);

      expectSameRows(ours.events_summary ?? [], objects(a.results.events_summary), RUN);
      expectSameRows(ours.events_summary ?? [], objects(b.results.events_summary), RUN);
      expect(objects(b.results.events_summary)[0]).toHaveProperty('count_true_sc_stable');
      expectSameRows(ours.seeds_summary ?? [], objects(a.results.seeds_summary), ['gamma_bar']);
      expectSameRows(ours.seeds_from_events ?? [], objects(a.results.seeds_from_events), RUN);
      expectSameRows(ours.events_where ?? [], objects(a.results.events_where), EVENT);
      expectSameRows(ours.seeds_where ?? [], objects(a.results.seeds_where), ['grid_id', 'seed']);
      expectSameLimit(ours, a);
      expectSameRows(ours.workload ?? [], objects(b.results.workload), EVENT);
      expect(ours.workload).toHaveLength(2 * 20);
      expectSameRows(ours.workload_where ?? [], objects(b.results.workload_where), EVENT);
      expectSameRows(ours.workload_analysis ?? [], objects(b.results.workload_analysis), RUN);
      expectSameRows(ours.regret_analysis ?? [], objects(b.results.regret_analysis), RUN);
      expectSameRows(ours.negative ?? [], objects(b.results.negative), RUN);
      // Same order too, where exp_engine orders.
      expect(ours.negative?.map((r) => r.negative_regret_pct)).toEqual(
        objects(b.results.negative).map((r) => r.negative_regret_pct),
      );
    });

    it('a lake exp_engine B wrote (no normalisation): runlake gives what exp_engine gives after normalising', async () => {
      // Each batch names regret differently, as scripts did: the event-only writer stores them as given.
      const batches = (gamma: number): WriteCall[] => {
        const strip = (rows: Row[], keep: (row: Row, i: number) => string[]) =>
          rows.map((row, i) => {
            const out = { ...row };
            for (const name of ['regret', 'cum_regret', 'regret_increment']) delete out[name];
            for (const name of keep(row, i))
              out[name] = name === 'regret_increment' ? row.regret : row.cum_regret;
            return out;
          });
        const p = params(gamma);
        return [
          { kind: 'events', rows: strip(richEvents(1, 6, 0, gamma), () => ['regret']), params: p },
          { kind: 'events', rows: strip(richEvents(1, 5, 6, gamma), () => ['cum_regret']), params: p },
          { kind: 'events', rows: strip(richEvents(2, 4, 0, gamma), () => ['regret_increment']), params: p },
          {
            kind: 'events',
            rows: strip(
              richEvents(2, 6, 4, gamma),
              (_, i) => [['regret'], ['cum_regret'], ['regret_increment']][i % 3] ?? [],
            ),
            params: p,
          },
        ];
      };
      const raw = tempDir();
      const normalised = tempDir();
      const calls = [...batches(0.5), ...batches(1)];
      expWrite(EXP_B, raw, calls);
      expWrite(EXP_A, normalised, calls);

      const ours = await runlakeAnswers(raw);
      const aOnNormalised = expViews(EXP_A, normalised, {
        sql: { ...A_QUERIES.sql, seeds_summary: 'SELECT 1' },
      });
      const bOnNormalised = expViews(EXP_B, normalised, B_QUERIES);
      expect(aOnNormalised.errors).toEqual({});
      expect(bOnNormalised.errors).toEqual({});
      expectSameRows(ours.events_summary ?? [], objects(aOnNormalised.results.events_summary), RUN);
      expectSameRows(ours.events_summary ?? [], objects(bOnNormalised.results.events_summary), RUN);
      expectSameRows(ours.seeds_from_events ?? [], objects(aOnNormalised.results.seeds_from_events), RUN);
      expectSameRows(ours.workload ?? [], objects(bOnNormalised.results.workload), EVENT, WORKLOAD_COLUMNS);
      expectSameRows(ours.regret_analysis ?? [], objects(bOnNormalised.results.regret_analysis), RUN);
      expectSameRows(ours.negative ?? [], objects(bOnNormalised.results.negative), RUN);
      // The same lake through runlake, written normalised or not: the same summaries.
      const oursNormalised = await runlakeAnswers(normalised);
      expectSameRows(ours.events_summary ?? [], oursNormalised.events_summary ?? [], RUN);

      // exp_engine B itself, on its own lake, agrees wherever regret was stored as regret.
      const bOnRaw = expViews(EXP_B, raw, B_QUERIES);
      expect(bOnRaw.errors).toEqual({});
      expectSameRows(ours.events_summary ?? [], objects(bOnRaw.results.events_summary), RUN, [
        'total_events',
        'inserts',
        'deletions',
        ...B_SUMMARY_EXTRAS.filter((c) => !c.includes('regret')),
      ]);
    });

    it('exp_engine A reads a lake runlake wrote: its views, query functions and CLI', async () => {
      const dir = tempDir();
      const ids: string[] = [];
      for (const gamma of GAMMAS) {
        const p = params(gamma);
        // exp_engine's {**params, seed, …} rows: seeds_summary groups by the params in the rows.
        const events = [...richEvents(1, 7, 0, gamma), ...richEvents(2, 6, 0, gamma)].map((r) => ({
          ...p,
          ...r,
        }));
        const written = await writeEventRows(events, dir, p);
        ids.push(written.gridId);
        await writeSeedRows(
          [1, 2].map((seed) => ({
            ...p,
            seed,
            avg_regret_empirical: gamma + seed / 8,
            N_star_emp: 50,
            m_emp: seed,
          })),
          dir,
          p,
        );
      }
      // A Hive reader types a partition value that looks like a number as one: these ids do not.
      expect(
        ids.every((id) => /[a-f]/.test(id)),
        ids.join(),
      ).toBe(true);

      const a = expViews(EXP_A, dir, { ...A_QUERIES, reuse: true });
      expect(a.errors).toEqual({});
      expect(a.reused).toBe(true);
      expect(a.tables).toEqual(['events', 'events_summary', 'seeds', 'seeds_from_events', 'seeds_summary']);
      const ours = await runlakeAnswers(dir);
      expectSameRows(ours.events_summary ?? [], objects(a.results.events_summary), RUN);
      expectSameRows(ours.seeds_summary ?? [], objects(a.results.seeds_summary), ['gamma_bar']);
      expect(objects(a.results.seeds_summary).map((r) => r.num_seeds)).toEqual([2, 2]);
      expectSameRows(ours.seeds_from_events ?? [], objects(a.results.seeds_from_events), RUN);
      expectSameRows(ours.events_where ?? [], objects(a.results.events_where), EVENT);
      expectSameRows(ours.seeds_where ?? [], objects(a.results.seeds_where), ['grid_id', 'seed']);
      expectSameLimit(ours, a);
      const b = expViews(EXP_B, dir, B_QUERIES);
      expect(b.errors).toEqual({});
      expectSameRows(ours.workload ?? [], objects(b.results.workload), EVENT);
      expectSameRows(ours.events_summary ?? [], objects(b.results.events_summary), RUN);

      // exp_engine's CLI.
      const cli = path.join(EXP_A, 'exp_engine', 'cli.py');
      const info = py.runPython(cli, ['info', dir]);
      expect(info).toContain('Seeds: 4 records across 2 grids');
      expect(info).toContain('Events: 26 records');
      expect(info).toContain(
        'Available views: events, events_summary, seeds, seeds_from_events, seeds_summary',
      );
      const out = path.join(tempDir('runlake-cli-'), 'seeds.csv');
      py.runPython(cli, ['query', dir, 'seeds', '--where', 'seed = 2 AND gamma_bar = 2.5', '--output', out]);
      const [header, ...lines] = (await readFile(out, 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(1);
      const row = Object.fromEntries(header?.split(',').map((c, i) => [c, lines[0]?.split(',')[i]]) ?? []);
      expect(row).toMatchObject({
        grid_id: ids[1],
        seed: '2',
        avg_regret_empirical: '2.75',
        algo: 'memorypair',
      });
    });

    it("exp_engine's own test lakes: written without grid_id, opened by runlake", async () => {
      // test_duck.py's data has no grid_id and no params: exp_engine writes the null partition.
      const dir = tempDir();
      expWrite(EXP_A, dir, [
        {
          kind: 'seeds',
          rows: [{ seed: 1, ...params(1), avg_regret_empirical: 0.1, N_star_emp: 100, m_emp: 10 }],
        },
        {
          kind: 'events',
          rows: [{ seed: 1, ...params(1), event_type: 'insert', op: 'insert', regret: 0.05, acc: 0.8 }],
        },
      ]);
      const a = expViews(EXP_A, dir, A_QUERIES);
      const ours = await runlakeAnswers(dir);
      expectSameRows(ours.events_summary ?? [], objects(a.results.events_summary), RUN);
      expectSameRows(ours.seeds_summary ?? [], objects(a.results.seeds_summary), ['algo']);
    });
  },
);

// The downsampling pyramid (src/lake/metrics-pyramid.ts, src/server/pyramid-series.ts): built
// through the commit log, it answers /api/metrics and /api/metric-groups with exactly the column
// extremes and means of the points (checked against a brute-force oracle over the points), keeps
// every spike, and stays right when files arrive that it does not cover, when a run is deleted,
// and after a compaction renames every file.
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachGridId,
  buildMetricsPyramid,
  METRICS_PYRAMID,
  openLake,
  PYRAMID_LEVELS,
  type StartedServer,
  startServer,
  writeGridParams,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const STEPS = 30_000;
const LRS = [1e-3, 3e-3];
const RUNS = ['r0', 'r1', 'r2', 'r3', 'every3'];
/** Steps a run logs: every step, or every third for `every3` (buckets with gaps). */
const stepsOf = (run: string, steps = STEPS) =>
  run === 'every3'
    ? Array.from({ length: steps / 3 }, (_, i) => i * 3)
    : Array.from({ length: steps }, (_, i) => i);

/** Distinct values (no ties, so every extreme has one step) with planted spikes. */
function lossAt(run: string, step: number): number {
  const r = run.charCodeAt(run.length - 1);
  if (step === 7_777 + r) return 90 + (r % 7);
  if (step === 21_001 + 3 * r) return -90 - (r % 5);
  const noise = Math.sin(step * 12.9898 + r * 78.233) * 43_758.5453;
  return 2 * Math.exp(-step / 9_000) + 0.1 * (noise - Math.floor(noise)) + step * 1e-9;
}

interface Series {
  run_id: string;
  total: number;
  step: (number | null)[];
  value: (number | null)[];
}
interface Answer {
  aligned: boolean;
  pyramid?: { level: number; bucketsPerColumn: number; columns: number };
  series: Series[];
}
interface Zoom {
  width: number;
  from?: number;
  to?: number;
}

/** What the pyramid must answer for `run` over `zoom`, worked out from the points themselves. */
function oracle(points: Map<string, { step: number; value: number }[]>, runs: readonly string[], zoom: Zoom) {
  const inRange = (s: number) =>
    (zoom.from === undefined || s >= zoom.from) && (zoom.to === undefined || s <= zoom.to);
  let x0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  for (const run of runs)
    for (const p of points.get(run) ?? [])
      if (inRange(p.step)) {
        x0 = Math.min(x0, p.step);
        x1 = Math.max(x1, p.step);
      }
  // The documented rule: the coarsest level with at least one bucket per pixel column, and the
  // whole number of its buckets nearest a pixel column's span.
  const span = (x1 - x0) / zoom.width;
  const level = [...PYRAMID_LEVELS].reverse().find((l) => l <= span);
  if (level === undefined) return undefined;
  const perColumn = Math.max(1, Math.round(span / level));
  const first = Math.floor(x0 / level);
  const last = Math.floor(x1 / level);
  const series = new Map<string, { total: number; step: number[]; value: number[] }>();
  for (const run of runs) {
    const columns = new Map<
      number,
      { lo: { step: number; value: number }; hi: { step: number; value: number } }
    >();
    let total = 0;
    for (const p of points.get(run) ?? []) {
      const bucket = Math.floor(p.step / level);
      if (bucket < first || bucket > last) continue;
      total++;
      const px = Math.floor((bucket - first) / perColumn);
      const c = columns.get(px);
      if (!c) columns.set(px, { lo: p, hi: p });
      else {
        if (p.value < c.lo.value) c.lo = p;
        if (p.value > c.hi.value) c.hi = p;
      }
    }
    const step: number[] = [];
    const value: number[] = [];
    for (const px of [...columns.keys()].sort((a, b) => a - b)) {
      const { lo, hi } = columns.get(px) as {
        lo: { step: number; value: number };
        hi: { step: number; value: number };
      };
      const pair = lo.step === hi.step ? [lo] : lo.step < hi.step ? [lo, hi] : [hi, lo];
      for (const p of pair) {
        step.push(p.step);
        value.push(p.value);
      }
    }
    if (total > 0) series.set(run, { total, step, value });
  }
  return { level, perColumn, columns: Math.floor((last - first) / perColumn) + 1, series };
}

describe('the downsampling pyramid', () => {
  const dir = tempDir();
  let server: StartedServer;
  // Every point written so far, by run (the oracle's input).
  const points = new Map<string, { step: number; value: number }[]>();
  const post = async (route: string, body: Record<string, unknown>) => {
    const response = await fetch(new URL(route, server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ metric: 'loss', ...body }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return response;
  };
  const metrics = async (runs: readonly string[], zoom: Zoom, extra: Record<string, unknown> = {}) =>
    (await (await post('/api/metrics', { run: runs, ...zoom, ...extra })).json()) as Answer;

  const writeRuns = async (runs: readonly string[], split?: number) => {
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await lake.write(
        'runs',
        runs.map((run_id, i) => {
          const params = { model: 'pyr', lr: LRS[i % LRS.length] as number };
          return { run_id, grid_id: attachGridId(params).grid_id, seed: i };
        }),
      );
      // Two commits, split mid-bucket, so one bucket draws on two files.
      const rows = runs.flatMap((run_id) =>
        stepsOf(run_id).map((step) => ({ run_id, step, metric_name: 'loss', value: lossAt(run_id, step) })),
      );
      const cut =
        split === undefined
          ? rows.length
          : rows.findIndex((row) => row.step === split && row.run_id === runs[0]);
      await lake.write('metrics_scalar', rows.slice(0, cut));
      if (cut < rows.length) await lake.write('metrics_scalar', rows.slice(cut));
      for (const run of runs)
        points.set(
          run,
          stepsOf(run).map((step) => ({ step, value: lossAt(run, step) })),
        );
    } finally {
      lake.close();
    }
  };

  /** Every zoom's answer is the oracle's, exactly, and comes from the pyramid. */
  const expectExact = async (runs: readonly string[], zooms: readonly Zoom[]) => {
    for (const zoom of zooms) {
      const want = oracle(points, runs, zoom);
      const answer = await metrics(runs, zoom);
      expect(want, JSON.stringify(zoom)).toBeDefined();
      if (!want) continue;
      expect(answer.pyramid, JSON.stringify(zoom)).toEqual({
        level: want.level,
        bucketsPerColumn: want.perColumn,
        columns: want.columns,
      });
      for (const series of answer.series) {
        const expected = want.series.get(series.run_id) ?? { total: 0, step: [], value: [] };
        const label = `${series.run_id} at ${JSON.stringify(zoom)}`;
        expect(series.total, label).toBe(expected.total);
        expect(series.step, label).toEqual(expected.step);
        expect(series.value, label).toEqual(expected.value);
      }
    }
  };

  /** `/api/metric-names`, answered from the pyramid, is what the points say. */
  const expectMetricNames = async () => {
    const response = await fetch(new URL('/api/metric-names', server.url));
    const answer = (await response.json()) as { metrics: unknown[] };
    const lake = await openLake(dir);
    try {
      const want = await lake.query(
        'SELECT metric_name, count(DISTINCT run_id)::INTEGER AS runs, count(*)::INTEGER AS points FROM metrics_scalar GROUP BY metric_name ORDER BY metric_name',
      );
      expect(answer.metrics).toEqual(want);
    } finally {
      lake.close();
    }
  };

  const zooms: Zoom[] = [
    { width: 1000 },
    { width: 300 },
    { width: 37 },
    { width: 200, from: 10_001, to: 25_003 },
    { width: 50, from: 100, to: 2_000 },
  ];

  beforeAll(async () => {
    for (const lr of LRS) await writeGridParams(dir, { model: 'pyr', lr });
    await writeRuns(RUNS, 12_345);
    server = await startServer(dir, { port: 0 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('is built through the commit log, once: a second build has nothing to do', async () => {
    const first = await buildMetricsPyramid(dir);
    // r0's points are in two files (two commits), every other run's in one.
    expect(first).toMatchObject({ action: 'added', sourceFiles: RUNS.length + 1, version: 0 });
    expect(await buildMetricsPyramid(dir)).toEqual({ action: 'current', sourceFiles: 0, rows: 0 });
    const lake = await openLake(dir);
    try {
      // Each level counts every point once.
      const counts = await lake.query(
        `SELECT level, sum(points)::INTEGER AS points, sum(finite)::INTEGER AS finite FROM ${METRICS_PYRAMID} GROUP BY level ORDER BY level`,
      );
      const total = RUNS.reduce((n, run) => n + stepsOf(run).length, 0);
      expect(counts).toEqual(PYRAMID_LEVELS.map((level) => ({ level, points: total, finite: total })));
    } finally {
      lake.close();
    }
  });

  it('answers /api/metrics with the exact column extremes of the points, at every zoom', async () => {
    await expectExact(RUNS, zooms);
    await expectMetricNames();
    // Too short a range for the finest level to fit a column: the points answer, as before.
    expect((await metrics(RUNS, { width: 1000, from: 100, to: 5_000 })).pyramid).toBeUndefined();
    // Smoothing needs every point.
    expect((await metrics(RUNS, { width: 300 }, { smoothing: 0.5 })).pyramid).toBeUndefined();
  });

  it('keeps every spike, aligned too, and sends an aligned x array once', async () => {
    const answer = await metrics(RUNS, { width: 300 }, { aligned: true });
    expect(answer.aligned).toBe(true);
    expect(answer.pyramid).toBeDefined();
    for (const series of answer.series) {
      for (const step of stepsOf(series.run_id)) {
        const value = lossAt(series.run_id, step);
        if (Math.abs(value) < 50) continue;
        expect(series.value, `${series.run_id} spike at ${step}`).toContain(value);
      }
    }
    const arrow = await post('/api/metrics', { run: RUNS, width: 300, aligned: true, format: 'arrow' });
    const table = tableFromIPC(new Uint8Array(await arrow.arrayBuffer()));
    const meta = JSON.parse(table.schema.metadata.get('runlake:metric-series') ?? '{}');
    expect(table.getChild('step')).toBeNull();
    expect(meta.shared_x).toEqual(answer.series[0]?.step);
    expect(meta.pyramid).toEqual(answer.pyramid);
    const value = Array.from(table.getChild('value')?.toArray() ?? []) as number[];
    const s2 = meta.series[2];
    expect(value.slice(s2.offset, s2.offset + s2.length).map((v) => (Number.isNaN(v) ? null : v))).toEqual(
      answer.series[2]?.value,
    );
  });

  it('answers /api/metric-groups with the mean ± std of the runs’ column means', async () => {
    const zoom = { width: 400 };
    const response = await post('/api/metric-groups', { run: RUNS, by: ['lr'], ...zoom });
    const answer = (await response.json()) as {
      pyramid?: { level: number; bucketsPerColumn: number };
      groups: {
        key: { lr: number };
        runs: string[];
        mean: number[];
        std: (number | null)[];
        count: number[];
      }[];
    };
    const plan = oracle(points, RUNS, zoom);
    expect(answer.pyramid).toMatchObject({ level: plan?.level, bucketsPerColumn: plan?.perColumn });
    const { level, bucketsPerColumn: perColumn } = answer.pyramid as {
      level: number;
      bucketsPerColumn: number;
    };
    const buckets = (step: number) => Math.floor(Math.floor(step / level) / perColumn);
    for (const group of answer.groups) {
      // Each run's mean per column, then their mean across runs per column.
      const perRun = group.runs.map((run) => {
        const sums = new Map<number, { n: number; v: number }>();
        for (const p of points.get(run) ?? []) {
          const c = sums.get(buckets(p.step)) ?? { n: 0, v: 0 };
          c.n++;
          c.v += p.value;
          sums.set(buckets(p.step), c);
        }
        return sums;
      });
      const columns = [...new Set(perRun.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
      const mean = columns.map((c) => {
        const values = perRun.flatMap((m) => (m.has(c) ? [(m.get(c)?.v ?? 0) / (m.get(c)?.n ?? 1)] : []));
        return values.reduce((a, b) => a + b, 0) / values.length;
      });
      expect(group.mean.length, `lr ${group.key.lr}`).toBe(mean.length);
      for (const [i, m] of group.mean.entries()) expect(m).toBeCloseTo(mean[i] as number, 10);
    }
  });

  it('stays exact when files arrive that it does not cover, and when a run is deleted', async () => {
    await writeRuns(['late']);
    const runs = [...RUNS, 'late'];
    await expectExact(runs, zooms.slice(0, 3));
    await expectMetricNames();
    const lake = await openLake(dir, { schema: 'squiggle' });
    try {
      await lake.deletePartition('metrics_scalar', { run_id: 'r1' });
    } finally {
      lake.close();
    }
    points.delete('r1');
    // The pyramid still has r1's rows, of files no longer live: they are left out.
    await expectExact(runs, zooms.slice(0, 3));
    await expectMetricNames();
    expect((await buildMetricsPyramid(dir)).action).toBe('rebuilt');
    await expectExact(runs, zooms);
  });

  it('runlake pyramid reports; runlake compact rebuilds it over the merged files', async () => {
    const up = runlake('pyramid', dir);
    expect(up.stderr).toBe('');
    expect(up.stdout).toBe('metrics_pyramid: up to date\n');
    const compact = runlake('compact', dir, 'metrics_scalar');
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stdout).toMatch(
      /^metrics_pyramid: rebuilt, [\d,]+ rows for \d+ files of metrics_scalar, version \d+$/m,
    );
    await expectExact([...RUNS, 'late'], zooms);
    const missing = runlake('pyramid', `${dir}/nope`);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });
});

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachGridId,
  emaSmooth,
  type StartedServer,
  startServer,
  writeEventRows,
  writeSeedRows,
} from '../src/index.js';
import { tempDir } from './helpers/lake-fixtures.js';

// The sweep endpoints of `runlake serve` over a lake written with writeEventRows/writeSeedRows:
// 4 grids (algo × lr) × 3 seeds × 200 events. Every number is checked against plain JS over the
// rows the test wrote.

const EVENTS = 200;
const SEEDS = [1, 2, 3];
const GRIDS = [
  { algo: 'adam', lr: 0.01 },
  { algo: 'adam', lr: 0.1 },
  { algo: 'sgd', lr: 0.01 },
  { algo: 'sgd', lr: 0.1 },
];

/** A regret curve that differs per grid and seed, with a one-event spike in seed 2. */
function regretAt(g: number, seed: number, i: number): number {
  if (seed === 2 && i === 77) return 5 + g;
  return (1 + g) / Math.sqrt(i + 1) + 0.01 * seed + 0.003 * Math.sin(i * (seed + g));
}

function accAt(g: number, seed: number, i: number): number {
  return 0.5 + (0.4 * i) / EVENTS + 0.01 * g - 0.002 * seed;
}

interface Written {
  gridId: string;
  params: { algo: string; lr: number };
  seeds: { seed: number; regret: number[]; acc: number[]; finalAcc: number }[];
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function sampleStd(values: readonly number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1));
}

/** The pixel column rule of docs/server.md, written out again. */
function column(x: number, x0: number, x1: number, width: number): number {
  return Math.min(Math.floor(((x - x0) * width) / Math.max(x1 - x0, 1)), width - 1);
}

/** A group's mean ± std band computed from the written rows: per seed mean per column, then across seeds. */
function expectedBand(series: readonly number[][], width: number) {
  const perSeed = series.map((values) => {
    const sums = new Map<number, { x: number; v: number; n: number }>();
    values.forEach((v, i) => {
      const px = column(i, 0, EVENTS - 1, width);
      const s = sums.get(px) ?? { x: 0, v: 0, n: 0 };
      sums.set(px, { x: s.x + i, v: s.v + v, n: s.n + 1 });
    });
    return new Map([...sums].map(([px, s]) => [px, { x: s.x / s.n, v: s.v / s.n }]));
  });
  const band = {
    step: [] as number[],
    mean: [] as number[],
    std: [] as (number | null)[],
    count: [] as number[],
  };
  for (let px = 0; px < width; px++) {
    const here = perSeed.map((m) => m.get(px)).filter((p) => p !== undefined);
    if (here.length === 0) continue;
    band.step.push(mean(here.map((p) => p.x)));
    band.mean.push(mean(here.map((p) => p.v)));
    band.std.push(sampleStd(here.map((p) => p.v)));
    band.count.push(here.length);
  }
  return band;
}

function expectClose(actual: readonly (number | null)[], expected: readonly (number | null)[]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    if (e === null || e === undefined) expect(a).toBeNull();
    else expect(a).toBeCloseTo(e, 10);
  });
}

describe('runlake serve: sweep endpoints over an exp_engine-style lake', () => {
  const dir = tempDir('runlake-sweep-dash-');
  const emptyDir = tempDir('runlake-sweep-empty-');
  let server: StartedServer;
  let empty: StartedServer;
  const written: Written[] = [];

  const get = (path: string, init?: RequestInit) => fetch(new URL(path, server.url), init);
  const json = async <T>(path: string, init?: RequestInit): Promise<T> => {
    const response = await get(path, init);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as T;
  };
  const byId = (gridId: string) => written.find((w) => w.gridId === gridId) as Written;

  beforeAll(async () => {
    for (const [g, raw] of GRIDS.entries()) {
      const params = attachGridId({ ...raw, epochs: 3 });
      const entry: Written = { gridId: params.grid_id, params: raw, seeds: [] };
      const events: Record<string, unknown>[] = [];
      const summaries: Record<string, unknown>[] = [];
      for (const seed of SEEDS) {
        const regret = Array.from({ length: EVENTS }, (_, i) => regretAt(g, seed, i));
        const acc = Array.from({ length: EVENTS }, (_, i) => accAt(g, seed, i));
        regret.forEach((r, i) => {
          events.push({ seed, event_id: i, op: i % 10 === 0 ? 'delete' : 'insert', regret: r, acc: acc[i] });
        });
        const finalAcc = 0.8 + 0.01 * g + 0.001 * seed;
        summaries.push({ seed, final_acc: finalAcc, converged: seed !== 3 });
        entry.seeds.push({ seed, regret, acc, finalAcc });
      }
      await writeEventRows(events, dir, params);
      await writeSeedRows(summaries, dir, params);
      written.push(entry);
    }
    server = await startServer(dir, { port: 0 });
    empty = await startServer(emptyDir, { port: 0 });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await empty?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  });

  it('GET /api/sweep describes the sweep: params, x columns, metric columns', async () => {
    const sweep = await json<{
      schemaSet: string;
      isSweep: boolean;
      grids: number;
      events: { rows: number };
      seeds: { rows: number };
      params: { name: string; distinct: number; numeric: boolean }[];
      xColumns: string[];
      metrics: string[];
      seedMetrics: string[];
    }>('/api/sweep');
    expect(sweep.schemaSet).toBe('sweep');
    expect(sweep.isSweep).toBe(true);
    expect(sweep.grids).toBe(4);
    expect(sweep.events.rows).toBe(GRIDS.length * SEEDS.length * EVENTS);
    expect(sweep.seeds.rows).toBe(GRIDS.length * SEEDS.length);
    expect(sweep.xColumns).toEqual(['event_id']);
    // cum_regret: exp_engine's regret normalisation at write time mirrors regret.
    expect([...sweep.metrics].sort()).toEqual(['acc', 'cum_regret', 'regret']);
    expect([...sweep.seedMetrics].sort()).toEqual(['converged', 'final_acc']);
    // Varying parameters first; the constant `epochs` last.
    expect(sweep.params.map((p) => p.name)).toEqual(['algo', 'lr', 'epochs']);
    expect(sweep.params.map((p) => p.distinct)).toEqual([2, 2, 1]);
    expect(sweep.params.find((p) => p.name === 'lr')?.numeric).toBe(true);
  });

  it('GET /api/sweep/grids: final (at the largest event_id) and best per seed, averaged over seeds', async () => {
    for (const best of ['min', 'max'] as const) {
      const answer = await json<{
        best: string;
        x: string;
        grids: {
          grid_id: string;
          params: Record<string, unknown>;
          seeds: number;
          points: number;
          final: number;
          final_std: number;
          best: number;
          best_std: number;
          per_seed: { seed: string; final: number; best: number }[];
          seed_means: Record<string, number>;
        }[];
      }>(`/api/sweep/grids?metric=regret&best=${best}`);
      expect(answer.x).toBe('event_id');
      expect(answer.grids.map((g) => g.grid_id)).toEqual(written.map((w) => w.gridId).sort());
      for (const row of answer.grids) {
        const w = byId(row.grid_id);
        expect(row.params).toEqual({ ...w.params, epochs: 3 });
        expect(row.seeds).toBe(3);
        expect(row.points).toBe(3 * EVENTS);
        const finals = w.seeds.map((s) => s.regret[EVENTS - 1] as number);
        const bests = w.seeds.map((s) => (best === 'min' ? Math.min(...s.regret) : Math.max(...s.regret)));
        expect(row.final).toBeCloseTo(mean(finals), 12);
        expect(row.final_std).toBeCloseTo(sampleStd(finals) as number, 12);
        expect(row.best).toBeCloseTo(mean(bests), 12);
        expect(row.best_std).toBeCloseTo(sampleStd(bests) as number, 12);
        expect(row.per_seed.map((s) => s.seed)).toEqual(['1', '2', '3']);
        row.per_seed.forEach((s, i) => {
          expect(s.final).toBeCloseTo(finals[i] as number, 12);
          expect(s.best).toBeCloseTo(bests[i] as number, 12);
        });
        expect(row.seed_means.final_acc).toBeCloseTo(mean(w.seeds.map((s) => s.finalAcc)), 12);
        expect(row.seed_means.converged).toBeCloseTo(2 / 3, 12);
      }
    }
    // The spike makes max the spike of seed 2: (5 + g + the other seeds' maxima) / 3.
    const spiky = await json<{ grids: { grid_id: string; best: number }[] }>(
      '/api/sweep/grids?metric=regret&best=max',
    );
    const g0 = spiky.grids.find((g) => g.grid_id === written[0]?.gridId);
    expect(g0?.best).toBeGreaterThan(5 / 3);
  });

  it('GET /api/sweep/curves groupBy=algo: mean ± std bands over every seed of the group', async () => {
    const width = 50;
    const answer = await json<{
      groupBy: string[];
      series: unknown[];
      groups: {
        key: Record<string, unknown>;
        grids: string[];
        runs: string[];
        step: number[];
        mean: number[];
        std: (number | null)[];
        count: number[];
      }[];
    }>(`/api/sweep/curves?metric=regret&x=event_id&groupBy=algo&width=${width}`);
    expect(answer.groupBy).toEqual(['algo']);
    expect(answer.series).toEqual([]);
    expect(answer.groups.map((g) => g.key)).toEqual([{ algo: 'adam' }, { algo: 'sgd' }]);
    for (const group of answer.groups) {
      const members = written.filter((w) => w.params.algo === group.key.algo);
      expect([...group.grids].sort()).toEqual(members.map((w) => w.gridId).sort());
      expect(group.runs).toHaveLength(6);
      const expected = expectedBand(
        members.flatMap((w) => w.seeds.map((s) => s.regret)),
        width,
      );
      expectClose(group.step, expected.step);
      expectClose(group.mean, expected.mean);
      expectClose(group.std, expected.std);
      expect(group.count).toEqual(expected.count);
    }
  });

  it('GET /api/sweep/curves groupBy=grid: one band per grid over its 3 seeds', async () => {
    const answer = await json<{ groups: { key: { grid: string }; runs: string[]; mean: number[] }[] }>(
      '/api/sweep/curves?metric=acc&groupBy=grid&width=20',
    );
    expect(answer.groups.map((g) => g.key.grid)).toEqual(written.map((w) => w.gridId).sort());
    for (const group of answer.groups) {
      const w = byId(group.key.grid);
      expect(group.runs).toEqual(SEEDS.map((s) => `${w.gridId}/${s}`));
      expectClose(
        group.mean,
        expectedBand(
          w.seeds.map((s) => s.acc),
          20,
        ).mean,
      );
    }
  });

  it('GET /api/sweep/curves without groupBy: per-seed min/max downsampling keeps the spike; narrow ranges come back whole', async () => {
    const target = written[1] as Written;
    const width = 30;
    const down = await json<{
      series: {
        run_id: string;
        grid_id: string;
        seed: string;
        total: number;
        downsampled: boolean;
        step: number[];
        value: number[];
      }[];
    }>(`/api/sweep/curves?metric=regret&width=${width}&grids=${target.gridId}`);
    expect(down.series.map((s) => s.run_id)).toEqual(SEEDS.map((s) => `${target.gridId}/${s}`));
    for (const s of down.series) {
      const raw = target.seeds.find((w) => String(w.seed) === s.seed)?.regret as number[];
      expect(s.total).toBe(EVENTS);
      expect(s.downsampled).toBe(true);
      expect(s.step.length).toBeLessThanOrEqual(2 * width);
      // Each pixel column's minimum and maximum survive, at their own event ids.
      for (let px = 0; px < width; px++) {
        const inColumn = raw
          .map((v, i) => ({ v, i }))
          .filter(({ i }) => column(i, 0, EVENTS - 1, width) === px);
        const lo = inColumn.reduce((a, b) => (b.v < a.v ? b : a));
        const hi = inColumn.reduce((a, b) => (b.v > a.v ? b : a));
        expect(s.step).toContain(lo.i);
        expect(s.step).toContain(hi.i);
        expect(s.value[s.step.indexOf(hi.i)]).toBeCloseTo(hi.v, 12);
      }
      if (s.seed === '2') expect(Math.max(...s.value)).toBeCloseTo(5 + 1, 12);
    }

    const narrow = await json<{
      series: { seed: string; downsampled: boolean; step: number[]; value: number[] }[];
    }>(`/api/sweep/curves?metric=regret&width=${width}&grids=${target.gridId}&from=100&to=129`);
    for (const s of narrow.series) {
      const raw = target.seeds.find((w) => String(w.seed) === s.seed)?.regret as number[];
      expect(s.downsampled).toBe(false);
      expect(s.step).toEqual(Array.from({ length: 30 }, (_, i) => 100 + i));
      expectClose(s.value, raw.slice(100, 130));
    }
  });

  it('smoothing is applied over each seed’s whole curve before the range cut (POST body)', async () => {
    const target = written[2] as Written;
    const response = await get('/api/sweep/curves', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        metric: 'regret',
        grids: [target.gridId],
        smoothing: 0.8,
        width: 1000,
        from: 150,
      }),
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { series: { seed: string; step: number[]; value: number[] }[] };
    expect(answer.series).toHaveLength(3);
    for (const s of answer.series) {
      const raw = target.seeds.find((w) => String(w.seed) === s.seed)?.regret as number[];
      expect(s.step[0]).toBe(150);
      expectClose(s.value, Array.from(emaSmooth(raw, 0.8)).slice(150));
    }
  });

  it('an empty grid list draws nothing; every grid when there is no list', async () => {
    const none = await json<{ series: unknown[] }>('/api/sweep/curves?metric=regret&grids=&width=10');
    expect(none.series).toEqual([]);
    const all = await json<{ series: unknown[] }>('/api/sweep/curves?metric=regret&width=10');
    expect(all.series).toHaveLength(GRIDS.length * SEEDS.length);
  });

  it('refuses names that are not the lake’s columns, with 400 and the names it could use', async () => {
    const refused = async (path: string, pattern: RegExp) => {
      const response = await get(path);
      const body = (await response.json()) as { error: string; kind: string };
      expect(response.status, body.error).toBe(400);
      expect(body.kind).toBe('bad_request');
      expect(body.error).toMatch(pattern);
    };
    await refused('/api/sweep/curves?metric=nope', /"nope" is not a numeric events column.*regret/);
    await refused(
      `/api/sweep/curves?metric=${encodeURIComponent('regret" FROM events; --')}`,
      /is not a numeric events column/,
    );
    // A text column is no metric, and a key is no metric either.
    await refused('/api/sweep/curves?metric=op', /is not a numeric events column/);
    await refused('/api/sweep/curves?metric=seed', /is not a numeric events column/);
    await refused('/api/sweep/curves?metric=regret&x=acc', /x must be one of event_id/);
    await refused('/api/sweep/curves?metric=regret&groupBy=optimizer', /cannot group by "optimizer".*algo/);
    await refused('/api/sweep/curves?metric=regret&width=0', /width must be an integer/);
    await refused('/api/sweep/grids?metric=regret&best=median', /best must be "min" or "max"/);
    await refused('/api/sweep/grids', /name the metric/);
  });

  it('a lake without events: /api/sweep says so (the dashboard shows its empty state), the curves have no metric', async () => {
    const response = await fetch(new URL('/api/sweep', empty.url));
    expect(response.status).toBe(200);
    const sweep = (await response.json()) as {
      isSweep: boolean;
      events: { rows: number } | null;
      metrics: string[];
      grids: number;
    };
    expect(sweep.isSweep).toBe(true);
    expect(sweep.events?.rows ?? 0).toBe(0);
    expect(sweep.metrics).toEqual([]);
    expect(sweep.grids).toBe(0);
    for (const path of ['/api/sweep/curves?metric=regret', '/api/sweep/grids?metric=regret']) {
      const answer = await fetch(new URL(path, empty.url));
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: string }).error).toMatch(/the lake has: \(none\)/);
    }
  });
});

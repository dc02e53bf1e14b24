// /api/metrics and /api/metric-groups on other x axes (wall time, relative time, tokens), with the
// other smoothing kinds and the groups' min/max/stderr envelopes: every number below is worked out
// by hand from the small lake the test writes.
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attachGridId,
  openLake,
  type StartedServer,
  smoothingWindow,
  smoothSeries,
  startServer,
  writeGridParams,
} from '../src/index.js';
import { tempDir } from './helpers/lake-fixtures.js';

const T0 = Date.UTC(2026, 0, 1);

interface Series {
  run_id: string;
  step: number[];
  value: number[];
  total: number;
  reason?: string;
}

describe('metric x axes, smoothing kinds and group envelopes', () => {
  const dir = tempDir();
  let server: StartedServer;
  const url = (path: string) => new URL(path, server.url);
  const json = async (path: string) => {
    const response = await fetch(url(path));
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const series = async (query: string) =>
    ((await json(`/api/metrics?${query}`)).body.series as Series[]).map((s) => ({
      run: s.run_id,
      x: s.step,
      y: s.value,
      reason: s.reason,
    }));

  beforeAll(async () => {
    const lake = await openLake(dir, { schema: 'squiggle' });
    const { grid_id } = attachGridId({ model: 'tiny', lr: 1e-3 });
    await writeGridParams(dir, { model: 'tiny', lr: 1e-3 });
    await lake.write('runs', [
      // r1 counts tokens per step; r2 only at checkpoints; r3 not at all.
      { run_id: 'r1', grid_id, seed: 0, tokens_per_step: 100 },
      { run_id: 'r2', grid_id, seed: 1 },
      { run_id: 'r3', grid_id, seed: 2 },
    ]);
    await lake.write('checkpoints', [
      { run_id: 'r2', step: 10, tokens_seen: 1000 },
      { run_id: 'r2', step: 20, tokens_seen: 3000 },
    ]);
    const rows: Record<string, unknown>[] = [];
    for (const step of [0, 5, 10, 15, 20, 25, 30]) {
      // r1 logs every 2 s from T0 + 0.25 s; r2 every 3 s from T0 + 100 s; r3 without a clock.
      rows.push({
        run_id: 'r1',
        step,
        metric_name: 'loss',
        value: step,
        wall_time: new Date(T0 + 250 + 2000 * step),
      });
      rows.push({
        run_id: 'r2',
        step,
        metric_name: 'loss',
        value: step + 2,
        wall_time: new Date(T0 + 100_000 + 3000 * step),
      });
      rows.push({ run_id: 'r3', step, metric_name: 'loss', value: step + 4 });
    }
    // r2's first point of any metric is 10 s before its first loss: its relative time starts there.
    rows.push({ run_id: 'r2', step: 0, metric_name: 'lr', value: 1, wall_time: new Date(T0 + 90_000) });
    // A spike to smooth: 0 0 0 6 0 0 0.
    [0, 0, 0, 6, 0, 0, 0].forEach((value, step) => {
      rows.push({ run_id: 'r1', step, metric_name: 'spike', value });
    });
    await lake.write('metrics_scalar', rows);
    lake.close();
    server = await startServer(dir, { port: 0 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('x=step is the default and is echoed', async () => {
    const { body } = await json('/api/metrics?run=r1&metric=loss&width=100');
    expect(body.x).toBe('step');
    expect(body.smoothingKind).toBe('ema');
    expect((body.series as Series[])[0]?.step).toEqual([0, 5, 10, 15, 20, 25, 30]);
  });

  it('x=wall_time is epoch seconds (fractions kept), and from/to are seconds', async () => {
    const [r1, , r3] = await series('run=r1,r2,r3&metric=loss&width=100&x=wall_time');
    const t0 = T0 / 1000;
    expect(r1?.x).toEqual([0, 5, 10, 15, 20, 25, 30].map((s) => t0 + 0.25 + 2 * s));
    expect(r1?.y).toEqual([0, 5, 10, 15, 20, 25, 30]);
    expect(r3?.x).toEqual([]);
    expect(r3?.reason).toMatch(/no wall_time/);
    const [cut] = await series(`run=r1&metric=loss&width=100&x=wall_time&from=${t0 + 10}&to=${t0 + 41}`);
    expect(cut?.y).toEqual([5, 10, 15, 20]);
  });

  it('x=relative_time counts from the run’s first logged point of any metric', async () => {
    const [r1, r2] = await series('run=r1,r2&metric=loss&width=100&x=relative_time');
    expect(r1?.x).toEqual([0, 5, 10, 15, 20, 25, 30].map((s) => 2 * s));
    // r2: lr at T0 + 90 s, loss from T0 + 100 s every 3 s per step.
    expect(r2?.x).toEqual([0, 5, 10, 15, 20, 25, 30].map((s) => 10 + 3 * s));
    const [cut] = await series('run=r2&metric=loss&width=100&x=relative_time&from=20&to=50');
    expect(cut?.x).toEqual([25, 40]);
  });

  it('x=tokens: step × tokens_per_step, else checkpoints interpolated; runs with neither say why', async () => {
    const [r1, r2, r3] = await series('run=r1,r2,r3&metric=loss&width=100&x=tokens');
    expect(r1?.x).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000]);
    // r2: (0, 0) → (10, 1000) → (20, 3000), then on at the last rate, 200 per step.
    expect(r2?.x).toEqual([0, 500, 1000, 2000, 3000, 4000, 5000]);
    expect(r2?.y).toEqual([2, 7, 12, 17, 22, 27, 32]);
    expect(r3?.x).toEqual([]);
    expect(r3?.reason).toMatch(/no token count/);
    expect(r1?.reason).toBeUndefined();
    const [cut] = await series('run=r2&metric=loss&width=100&x=tokens&from=1000&to=3000');
    expect(cut?.x).toEqual([1000, 2000, 3000]);
    // Binned over tokens: 2 columns over r2's 0…5000 keep each column's min and max.
    const [binned] = await series('run=r2&metric=loss&width=2&x=tokens');
    expect(binned?.x).toEqual([0, 2000, 3000, 5000]);
  });

  it('x goes in a POST body and the Arrow answer, and a bad x or kind is a 400', async () => {
    const response = await fetch(url('/api/metrics'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ run: ['r1', 'r3'], metric: 'loss', width: 100, x: 'tokens', format: 'arrow' }),
    });
    const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
    const meta = JSON.parse(table.schema.metadata.get('runlake:metric-series') ?? '{}');
    expect(meta.x).toBe('tokens');
    expect(meta.series[1].reason).toMatch(/no token count/);
    expect(Array.from(table.getChild('step')?.toArray() ?? [])).toEqual([
      0, 500, 1000, 1500, 2000, 2500, 3000,
    ]);
    const bad = await json('/api/metrics?run=r1&metric=loss&x=epoch');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('x must be one of step, wall_time, relative_time, tokens, got "epoch"');
    const badKind = await json('/api/metric-groups?run=r1&metric=loss&by=lr&smoothingKind=median');
    expect(badKind.status).toBe(400);
    expect(badKind.body.error).toMatch(/^smoothingKind must be one of ema, gaussian, running_average/);
  });

  it('running_average and gaussian smoothing match a hand computation', async () => {
    expect(smoothingWindow(0.6).points).toBe(4);
    expect(smoothingWindow(0.6).sigma).toBeCloseTo(1.5, 12);
    expect(smoothingWindow(0.5)).toEqual({ points: 3, sigma: 1 });
    // Window 4 over 0 0 0 6 0 0 0: the spike spreads over it and the next three points.
    const [ra] = await series('run=r1&metric=spike&width=100&smoothing=0.6&smoothingKind=running_average');
    expect(ra?.y).toEqual([0, 0, 0, 1.5, 1.5, 1.5, 1.5]);
    // σ = 0.5 / 0.5 = 1 point, kernel cut at 3σ: weights e^(−d²/2), renormalised at the ends.
    const [g] = await series('run=r1&metric=spike&width=100&smoothing=0.5&smoothingKind=gaussian');
    const w = (d: number) => Math.exp(-(d * d) / 2);
    const full = w(0) + 2 * (w(1) + w(2) + w(3));
    const at0 = w(0) + w(1) + w(2) + w(3); // index 0 reaches indices 0…3
    const at1 = w(0) + 2 * w(1) + w(2) + w(3) + 0; // indices 0…4
    const at2 = w(0) + 2 * w(1) + 2 * w(2) + w(3); // indices 0…5
    const expected = [
      (6 * w(3)) / at0,
      (6 * w(2)) / at1,
      (6 * w(1)) / at2,
      6 / full,
      (6 * w(1)) / at2,
      (6 * w(2)) / at1,
      (6 * w(3)) / at0,
    ];
    g?.y.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i] as number, 12);
    });
    // Non-finite values pass through and take no part.
    expect(Array.from(smoothSeries([1, Number.NaN, 3], 0.6, 'running_average'))).toEqual([1, Number.NaN, 2]);
    // The default kind is still TensorBoard's EMA.
    const [ema] = await series('run=r1&metric=spike&width=100&smoothing=0.5');
    expect(ema?.y.slice(0, 4)).toEqual([0, 0, 0, (6 * 0.5) / (1 - 0.5 ** 4)]);
  });

  it('groups carry min, max and stderr envelopes, and reasons on other axes', async () => {
    const { body } = await json('/api/metric-groups?run=r1,r2,r3&metric=loss&by=lr&width=100');
    const [group] = body.groups as {
      mean: number[];
      std: (number | null)[];
      stderr: (number | null)[];
      min: number[];
      max: number[];
      count: number[];
    }[];
    // Per step the runs log s, s + 2, s + 4: mean s + 2, std 2, stderr 2/√3, min s, max s + 4.
    expect(group?.mean).toEqual([2, 7, 12, 17, 22, 27, 32]);
    expect(group?.min).toEqual([0, 5, 10, 15, 20, 25, 30]);
    expect(group?.max).toEqual([4, 9, 14, 19, 24, 29, 34]);
    expect(group?.std).toEqual(Array(7).fill(2));
    group?.stderr.forEach((v) => {
      expect(v).toBeCloseTo(2 / Math.sqrt(3), 12);
    });
    const tokens = (await json('/api/metric-groups?run=r1,r2,r3&metric=loss&by=lr&width=100&x=tokens')).body;
    expect(tokens.x).toBe('tokens');
    expect(Object.keys(tokens.reasons as object)).toEqual(['r3']);
    const [byTokens] = tokens.groups as { step: number[]; count: number[]; stderr: (number | null)[] }[];
    // Columns over 0…5000 tokens; the first holds r1 and r2 at 0 tokens.
    expect(byTokens?.step[0]).toBe(0);
    expect(byTokens?.count[0]).toBe(2);
    // One run in a column: no std, no stderr.
    expect(byTokens?.stderr.at(-1)).toBeNull();
  });
});

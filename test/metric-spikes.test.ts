// No spike may be lost: one-step spikes planted in every run must appear in every /api/metrics
// answer that covers them, at every zoom level, on every path: the SQL min/max per column (exact
// steps), the aligned answer (shared x slots), and the smoothed path (JS binning of the smoothed
// series, whose peaks must survive as they are).
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  alignExtremes,
  attachGridId,
  openLake,
  type StartedServer,
  smoothSeries,
  startServer,
  writeGridParams,
} from '../src/index.js';
import { tempDir } from './helpers/lake-fixtures.js';

const STEPS = 5000;
const RUNS = 6;
const run = (r: number) => `s${r}`;

/**
 * Run r's spikes: three up and two down, each with its own height, and for run 0 one at the first
 * and one at the last step.
 */
function spikesOf(r: number): { step: number; value: number }[] {
  const ups = [37 + 811 * r, 2500 + 13 * r, 4100 + 97 * r].map((step, i) => ({ step, value: 50 + r + i }));
  const downs = [1200 + 7 * r, 3333 + r].map((step, i) => ({ step, value: -40 - r - i }));
  const edges =
    r === 0
      ? [
          { step: 0, value: 77 },
          { step: STEPS - 1, value: -77 },
        ]
      : [];
  return [...ups, ...downs, ...edges];
}

/**
 * The spikes of run r an answer over `zoom` must show: all in range, but for one that shares its
 * pixel column (the server's rule over the range's steps) with a taller spike the same way, as
 * then both are the same pixel and the taller is drawn.
 */
function visibleSpikes(r: number, zoom: { width: number; from?: number; to?: number }) {
  const x0 = zoom.from ?? 0;
  const x1 = Math.min(zoom.to ?? STEPS - 1, STEPS - 1);
  const column = (step: number) =>
    Math.min(Math.floor(((step - x0) * zoom.width) / Math.max(x1 - x0, 1)), zoom.width - 1);
  const inRange = spikesOf(r).filter((s) => s.step >= x0 && s.step <= x1);
  return inRange.filter(
    (s) =>
      !inRange.some(
        (t) =>
          t !== s &&
          column(t.step) === column(s.step) &&
          Math.sign(t.value) === Math.sign(s.value) &&
          Math.abs(t.value) > Math.abs(s.value),
      ),
  );
}

function lossAt(r: number, step: number): number {
  const spike = spikesOf(r).find((s) => s.step === step);
  return spike ? spike.value : 1 + Math.sin(step / 300 + r) * 0.5;
}

interface Answer {
  aligned?: boolean;
  series: { run_id: string; step: (number | null)[]; value: (number | null)[]; downsampled: boolean }[];
}

describe('spikes survive every zoom level and every path', () => {
  const dir = tempDir();
  let server: StartedServer;
  const runs = Array.from({ length: RUNS }, (_, r) => run(r));
  const post = async (body: Record<string, unknown>): Promise<Answer> => {
    const response = await fetch(new URL('/api/metrics', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ run: runs, metric: 'loss', ...body }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Answer;
  };

  beforeAll(async () => {
    const lake = await openLake(dir, { schema: 'squiggle' });
    const params = { model: 'spiky', lr: 1e-3 };
    const { grid_id } = attachGridId(params);
    await writeGridParams(dir, params);
    await lake.write(
      'runs',
      runs.map((run_id, seed) => ({ run_id, grid_id, seed })),
    );
    await lake.write(
      'metrics_scalar',
      runs.flatMap((run_id, r) =>
        Array.from({ length: STEPS }, (_, step) => ({
          run_id,
          step,
          metric_name: 'loss',
          value: lossAt(r, step),
        })),
      ),
    );
    lake.close();
    server = await startServer(dir, { port: 0 });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  const zooms: { width: number; from?: number; to?: number }[] = [
    { width: 40 },
    { width: 300 },
    { width: 1300 },
    { width: 100, from: 1000, to: 3500 },
    { width: 50, from: 2400, to: 2700 },
    { width: 500, from: 4000, to: 4999 },
    // Zoomed far enough for full resolution.
    { width: 100, from: 2490, to: 2560 },
  ];

  it('on the SQL path every spike is in the answer at its own step', async () => {
    for (const zoom of zooms) {
      const answer = await post(zoom);
      expect(answer.aligned).toBe(false);
      for (const [r, series] of answer.series.entries()) {
        for (const spike of visibleSpikes(r, zoom)) {
          const at = series.step.indexOf(spike.step);
          expect(at, `run ${r} spike at ${spike.step}, zoom ${JSON.stringify(zoom)}`).toBeGreaterThanOrEqual(
            0,
          );
          expect(series.value[at]).toBe(spike.value);
        }
      }
    }
  });

  it('on the aligned path every spike keeps its value within its pixel column, and runs share x', async () => {
    for (const zoom of zooms) {
      const answer = await post({ ...zoom, aligned: true });
      const downsampled = answer.series.some((s) => s.downsampled);
      expect(answer.aligned).toBe(downsampled);
      const x = answer.series[0]?.step ?? [];
      const span = (zoom.to ?? STEPS - 1) - (zoom.from ?? 0);
      for (const [r, series] of answer.series.entries()) {
        if (downsampled) expect(series.step).toEqual(x);
        for (const spike of visibleSpikes(r, zoom)) {
          const hits = series.value.flatMap((v, i) => (v === spike.value ? [series.step[i] as number] : []));
          expect(
            hits.length,
            `run ${r} spike at ${spike.step}, zoom ${JSON.stringify(zoom)}`,
          ).toBeGreaterThan(0);
          // Drawn within the spike's own pixel column.
          const column = span / zoom.width;
          expect(Math.min(...hits.map((h) => Math.abs(h - spike.step)))).toBeLessThanOrEqual(column);
        }
      }
      if (downsampled) expect(x.length).toBeLessThanOrEqual(2 * zoom.width);
    }
  });

  it('the aligned Arrow answer says so and repeats one x array', async () => {
    const response = await fetch(new URL('/api/metrics', server.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ run: runs, metric: 'loss', width: 200, aligned: true, format: 'arrow' }),
    });
    const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
    const meta = JSON.parse(table.schema.metadata.get('runlake:metric-series') ?? '{}');
    expect(meta.aligned).toBe(true);
    const lengths = new Set(meta.series.map((s: { length: number }) => s.length));
    expect(lengths.size).toBe(1);
    // A spike of run 3 (value 53) sits in its column even though run 3 is the only one with it.
    const value = Array.from(table.getChild('value')?.toArray() ?? []) as number[];
    const s3 = meta.series[3];
    expect(value.slice(s3.offset, s3.offset + s3.length)).toContain(53);
  });

  it('on the smoothed path each spike’s smoothed peak survives', async () => {
    for (const kind of ['ema', 'gaussian', 'running_average'] as const) {
      for (const zoom of [{ width: 60 }, { width: 400, from: 1000, to: 4500 }]) {
        const answer = await post({ ...zoom, smoothing: 0.6, smoothingKind: kind });
        for (const [r, series] of answer.series.entries()) {
          const smoothed = smoothSeries(
            Array.from({ length: STEPS }, (_, step) => lossAt(r, step)),
            0.6,
            kind,
          );
          for (const spike of visibleSpikes(r, zoom)) {
            // The smoothed spike's extreme near the spike is a local extreme: it must be sent.
            const near = Array.from(smoothed.slice(spike.step, spike.step + 4));
            const peak = spike.value > 0 ? Math.max(...near) : Math.min(...near);
            expect(series.value, `${kind}: run ${r} spike at ${spike.step}`).toContain(peak);
          }
        }
      }
    }
  });

  it('alignExtremes puts each run’s earlier extreme first', () => {
    const { x, y } = alignExtremes(
      new Map([
        ['a', { px: [0, 1], s_lo: [3, 10], v_lo: [0, 5], s_hi: [1, 10], v_hi: [9, 5] }],
        ['b', { px: [1], s_lo: [12], v_lo: [-1], s_hi: [11], v_hi: [2] }],
      ]),
    );
    expect(Array.from(x)).toEqual([1, 3, 10, 12]);
    expect(Array.from(y.get('a') ?? [])).toEqual([9, 0, 5, 5]);
    expect(Array.from(y.get('b') ?? [])).toEqual([Number.NaN, Number.NaN, 2, -1]);
  });
});

// A lake written only by tracking clients keeps a downsampling pyramid (IngestService's
// pyramidIntervalMs, buildMetricsPyramid's `auto`): none while the metrics are short, one once they
// hold PYRAMID_WORTH_ROWS rows, extended only when a tenth of the live files are new to it.
import { describe, expect, it } from 'vitest';
import {
  buildMetricsPyramid,
  encodeFrame,
  IngestService,
  lakePaths,
  latestVersion,
  loadSnapshot,
  METRICS_PYRAMID,
  openLake,
  PYRAMID_LEVELS,
  PYRAMID_WORTH_ROWS,
  type TrackingRecord,
} from '../src/index.js';
import { tempDir } from './helpers/lake-fixtures.js';

const CLIENT = 'feed00feed00feed';

/** One run's `loss` at steps `[from, from + count)`. */
function lossRecord(runId: string, from: number, count: number): TrackingRecord {
  const steps = Array.from({ length: count }, (_, i) => from + i);
  return {
    kind: 'metrics',
    runId,
    names: ['loss'],
    name: new Uint32Array(count),
    step: BigInt64Array.from(steps.map(BigInt)),
    value: Float64Array.from(steps.map((s) => Math.exp(-s / 5_000) + (s % 97) / 1e4)),
    time: Float64Array.from(steps.map((s) => 1_733_400_000 + s)),
    split: null,
  };
}

function runRecord(runId: string): TrackingRecord {
  return { kind: 'run', runId, fields: { project: 'pyr', name: runId, config: { lr: 1e-3 } } };
}

const pyramidVersion = (dir: string) => latestVersion(lakePaths(dir), METRICS_PYRAMID);

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Each level of the pyramid counts every point of metrics_scalar once. */
async function expectPyramidCountsEveryPoint(dir: string): Promise<void> {
  const lake = await openLake(dir);
  try {
    const [total] = await lake.query('SELECT count(*)::INTEGER AS n FROM metrics_scalar');
    const counts = await lake.query(
      `SELECT level, sum(points)::INTEGER AS points FROM ${METRICS_PYRAMID} GROUP BY level ORDER BY level`,
    );
    expect(counts).toEqual(PYRAMID_LEVELS.map((level) => ({ level, points: total?.n })));
  } finally {
    lake.close();
  }
}

describe('buildMetricsPyramid with auto', () => {
  it('builds at PYRAMID_WORTH_ROWS rows, then extends only when a tenth of the files are new', async () => {
    const dir = tempDir();
    const lake = await openLake(dir, { schema: 'squiggle' });
    const write = (run: string, steps: number) =>
      lake.write(
        'metrics_scalar',
        Array.from({ length: steps }, (_, step) => ({ run_id: run, step, metric_name: 'loss', value: step })),
      );
    try {
      await write('small', 1_000);
      expect(await buildMetricsPyramid(dir, { auto: true })).toEqual({
        action: 'too-small',
        sourceFiles: 0,
        rows: 0,
      });
      expect(await pyramidVersion(dir)).toBe(-1);
      // Eleven more files bring the lake past PYRAMID_WORTH_ROWS: all twelve are summarised.
      for (let i = 0; i < 11; i++) await write(`r${i}`, Math.ceil(PYRAMID_WORTH_ROWS / 11));
      expect(await buildMetricsPyramid(dir, { auto: true })).toMatchObject({
        action: 'added',
        sourceFiles: 12,
      });
      // One new file of thirteen (under a tenth): left to the server to read from its points.
      await write('late1', 500);
      expect((await buildMetricsPyramid(dir, { auto: true })).action).toBe('current');
      // Two of fourteen: extended by both.
      await write('late2', 500);
      expect(await buildMetricsPyramid(dir, { auto: true })).toMatchObject({
        action: 'added',
        sourceFiles: 2,
      });
      await expectPyramidCountsEveryPoint(dir);
      // Without auto, any uncovered file is added, however few.
      await write('late3', 500);
      expect(await buildMetricsPyramid(dir)).toMatchObject({ action: 'added', sourceFiles: 1 });
    } finally {
      lake.close();
    }
  });
});

describe('IngestService keeps the pyramid of a tracking-only lake', () => {
  const runs = ['a', 'b', 'c', 'd'];
  const perRun = Math.ceil(PYRAMID_WORTH_ROWS / runs.length / 2);

  /** Sends every run's steps in two halves (two folds), checking there is no pyramid after the first. */
  async function track(dir: string, pyramidIntervalMs: number): Promise<void> {
    const lake = await openLake(dir, { schema: 'squiggle' });
    const service = await IngestService.open(lake, { foldIntervalMs: 20, pyramidIntervalMs });
    try {
      await service.accept(
        encodeFrame({
          client: CLIENT,
          seq: 1,
          records: [...runs.map(runRecord), ...runs.map((r) => lossRecord(r, 0, perRun))],
        }),
      );
      await service.fold();
      // Half the rows: not worth a pyramid yet, however many intervals pass.
      await new Promise((resolve) => setTimeout(resolve, 4 * pyramidIntervalMs + 100));
      expect(await pyramidVersion(dir)).toBe(-1);
      await service.accept(
        encodeFrame({ client: CLIENT, seq: 2, records: runs.map((r) => lossRecord(r, perRun, perRun)) }),
      );
      await service.fold();
      if (pyramidIntervalMs > 0) {
        await waitFor('the pyramid', async () => (await pyramidVersion(dir)) >= 0);
      } else {
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    } finally {
      await service.close();
      lake.close();
    }
  }

  it('builds it once the folded metrics are worth it, covering every file', async () => {
    const dir = tempDir();
    await track(dir, 100);
    await expectPyramidCountsEveryPoint(dir);
    // Nothing left for `runlake pyramid` to do: every live file is summarised.
    expect((await buildMetricsPyramid(dir)).action).toBe('current');
  });

  it('rebuilds it over the merged files after a fold compacts them', async () => {
    const dir = tempDir();
    await track(dir, 100);
    const lake = await openLake(dir, { schema: 'squiggle' });
    // Every run's partition now holds two files: the next fold compacts it to one.
    const service = await IngestService.open(lake, {
      foldIntervalMs: 20,
      pyramidIntervalMs: 100,
      compactAfterFiles: 3,
    });
    try {
      const before = await pyramidVersion(dir);
      await service.accept(
        encodeFrame({ client: CLIENT, seq: 3, records: runs.map((r) => lossRecord(r, 2 * perRun, 1_000)) }),
      );
      await service.fold();
      await waitFor('the rebuilt pyramid', async () => (await pyramidVersion(dir)) > before);
      await service.close();
      // Compacted: one file per run.
      expect((await loadSnapshot(lakePaths(dir), 'metrics_scalar')).files.size).toBe(runs.length);
      expect((await buildMetricsPyramid(dir)).action).toBe('current');
      await expectPyramidCountsEveryPoint(dir);
    } finally {
      await service.close();
      lake.close();
    }
  });

  it('keeps none with pyramidIntervalMs 0 (runlake serve --ingest --no-pyramid)', async () => {
    const dir = tempDir();
    await track(dir, 0);
    expect(await pyramidVersion(dir)).toBe(-1);
  });
});

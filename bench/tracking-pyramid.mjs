// A lake written only by tracking clients keeps its downsampling pyramid: 200 runs × 10k steps
// of `loss` sent as tracking batches to an IngestService (what `runlake serve --ingest` runs),
// folded, with the service keeping the pyramid as it folds. Then the dashboard's request for every
// run's curve (`/api/metrics`, Arrow, aligned, 652 px) is timed on the lake served as
// `runlake serve` serves it and, in the same run, with `--no-pyramid` (every point binned per
// request), and each answer is checked for every run's planted one-step spike.
//
//   node bench/run.mjs --only tracking-pyramid [--repeat 5]
//   TRACKING_PYRAMID_RUNS=200 TRACKING_PYRAMID_STEPS=10000
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median, progress } from './lib.mjs';
import { lossSeries, spikeStep } from './web-dashboard.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const CLIENT = 'bench0bench0benc';
/** Runs per tracking batch: 20 runs × 10k steps is 200k points, about 5 MB a frame. */
const RUNS_PER_BATCH = 20;
/** The width of the dashboard's first panel at 1400 px (docs/benchmarks.md, web-dashboard). */
const WIDTH = 652;

const runId = (r) => `track-r${String(r).padStart(4, '0')}`;

/** Runs the scenario; see the file comment. */
export async function trackingPyramidScenario(options = {}) {
  const runs = Number(process.env.TRACKING_PYRAMID_RUNS ?? 200);
  const steps = Number(process.env.TRACKING_PYRAMID_STEPS ?? 10_000);
  const repeat = options.repeat ?? 5;
  const lib = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const dir = path.join(BENCH_DIR, 'out', `tracking-pyramid-${runs}x${steps}`);
  await rm(dir, { recursive: true, force: true });
  progress(`tracking-pyramid: ${runs} runs × ${steps} steps through IngestService into ${dir}`);
  const lake = await lib.openLake(dir, { schema: 'squiggle' });
  const service = await lib.IngestService.open(lake, { foldIntervalMs: 200, pyramidIntervalMs: 1000 });
  const started = performance.now();
  let folded;
  let keptAfterMs;
  try {
    let seq = 0;
    for (let r0 = 0; r0 < runs; r0 += RUNS_PER_BATCH) {
      const records = [];
      for (let r = r0; r < Math.min(runs, r0 + RUNS_PER_BATCH); r++) {
        records.push({
          kind: 'run',
          runId: runId(r),
          fields: { project: 'bench', config: { lr: 10 ** -(2 + (r % 4)) } },
        });
        records.push({
          kind: 'metrics',
          runId: runId(r),
          names: ['loss'],
          name: new Uint32Array(steps),
          step: BigInt64Array.from({ length: steps }, (_, i) => BigInt(i)),
          value: lossSeries(r, steps),
          time: Float64Array.from({ length: steps }, (_, i) => 1.7e9 + i),
          split: null,
        });
      }
      await service.accept(lib.encodeFrame({ client: CLIENT, seq: ++seq, records }));
      await service.fold();
    }
    folded = performance.now();
    // The service brings the pyramid up to date at most every second after folds: wait until a
    // build covers every live file (`runlake pyramid` would have nothing to add).
    for (;;) {
      const covered = await coveredShare(lib, dir);
      if (covered === 1) break;
      if (performance.now() - folded > 120_000) throw new Error(`the pyramid covers ${covered} of the files`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    keptAfterMs = performance.now() - folded;
  } finally {
    await service.close();
    lake.close();
  }
  const metricFiles = (await lib.loadSnapshot(lib.lakePaths(dir), 'metrics_scalar')).files.size;
  const pyramidFiles = (await lib.loadSnapshot(lib.lakePaths(dir), lib.METRICS_PYRAMID)).files.size;

  const ids = Array.from({ length: runs }, (_, r) => runId(r));
  const served = {
    pyramid: await lib.startServer(dir, { port: 0 }),
    points: await lib.startServer(dir, { port: 0, pyramid: false }),
  };
  const times = { pyramid: [], points: [] };
  const spikes = {};
  try {
    for (let round = 0; round <= repeat; round++) {
      progress(`tracking-pyramid: ${round === 0 ? 'warm-up' : `round ${round}/${repeat}`}`);
      for (const kind of ['pyramid', 'points']) {
        const ms = await curves(served[kind].url, ids);
        if (round > 0) times[kind].push(ms);
      }
    }
    for (const kind of ['pyramid', 'points']) spikes[kind] = await spikesShown(served[kind].url, ids, steps);
  } finally {
    await served.pyramid.close();
    await served.points.close();
  }
  return {
    runs,
    steps,
    repeat,
    width: WIDTH,
    foldSeconds: (folded - started) / 1000,
    pyramidKeptAfterSeconds: keptAfterMs / 1000,
    metricFiles,
    pyramidFiles,
    pyramidMs: times.pyramid,
    pyramidMedianMs: median(times.pyramid),
    pointsMs: times.points,
    pointsMedianMs: median(times.points),
    ratio: median(times.points) / median(times.pyramid),
    spikes,
  };
}

/** The share of live metrics_scalar files the pyramid summarises (1: up to date). */
async function coveredShare(lib, dir) {
  const paths = lib.lakePaths(dir);
  if ((await lib.latestVersion(paths, lib.METRICS_PYRAMID)) < 0) return 0;
  const lake = await lib.openLake(dir);
  try {
    const [row] = await lake.query(
      `SELECT count(DISTINCT source_file)::INTEGER AS n FROM ${lib.METRICS_PYRAMID} WHERE level = 8`,
    );
    const live = (await lib.loadSnapshot(paths, 'metrics_scalar')).files.size;
    return row.n / live;
  } finally {
    lake.close();
  }
}

/** Every run's loss as the dashboard asks for it (Arrow, aligned): milliseconds to the whole answer. */
async function curves(url, ids) {
  const start = performance.now();
  const response = await fetch(new URL('api/metrics', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ metric: 'loss', run: ids, width: WIDTH, format: 'arrow', aligned: true }),
  });
  if (response.status !== 200)
    throw new Error(`/api/metrics answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
  return performance.now() - start;
}

/** How many runs' planted one-step spikes the answer (as JSON) shows at their exact value. */
async function spikesShown(url, ids, steps) {
  const response = await fetch(new URL('api/metrics', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ metric: 'loss', run: ids, width: WIDTH, aligned: true }),
  });
  const answer = await response.json();
  let shown = 0;
  for (const series of answer.series) {
    const r = Number(series.run_id.slice('track-r'.length));
    if (series.value.includes(lossSeries(r, steps)[spikeStep(r, steps)])) shown++;
  }
  return shown;
}

/** Prints the scenario's table. */
export function printTrackingPyramid(result, printTable) {
  const s = (ms) => fmt.seconds(ms / 1000);
  printTable(
    `tracking-pyramid: ${fmt.int(result.runs)} runs × ${fmt.int(result.steps)} steps written by tracking batches; every run's curve at ${result.width} px (median of ${result.repeat})`,
    ['served', 'answer', 'runs whose spike shows', 'ratio'],
    [
      [
        'runlake serve (pyramid kept by the ingest)',
        s(result.pyramidMedianMs),
        `${result.spikes.pyramid} of ${result.runs}`,
        '1.00×',
      ],
      [
        '--no-pyramid (points binned per request)',
        s(result.pointsMedianMs),
        `${result.spikes.points} of ${result.runs}`,
        `${result.ratio.toFixed(2)}×`,
      ],
    ],
  );
  console.log(
    `  folded in ${fmt.seconds(result.foldSeconds)}; pyramid up to date ${fmt.seconds(result.pyramidKeptAfterSeconds)} after the last fold; ${result.metricFiles} metrics_scalar files, ${result.pyramidFiles} pyramid files`,
  );
}

// Dashboard time to draw: select every run of a lake of `loss` curves in the dashboard served by
// `runlake serve`, and time from the click to the chart's draw (`metricsDrawnMs`, set by the uPlot
// draw hook). Three lakes by default: 200 runs × 10k steps, 1000 × 10k, and 10,000 × 1k (10M
// points, the most this 2-core machine's bench keeps in one browser tab). Peers, measured in the
// same run and browser:
//   - naive: every point at full resolution (/api/query as Arrow), drawn with uPlot;
//   - the /api/metrics answer drawn the way the dashboard did before aligned answers (each run at
//     its own steps, merged onto the union of steps), against the aligned answer it asks for now;
//   - W&B's approach, sampling each run's history to 500 or 5,000 points: how many of the planted
//     one-step spikes (one per run) survive, against how many the dashboard's answer shows.
// Also the group-by view (mean ± std bands per lr), and at 10,000 runs the page load (runs table
// and first chart) and the grouped curves of all runs.
//
//   node bench/run.mjs --only web-dashboard [--repeat 3]
//   WEB_DASHBOARD_RUNS=1000 WEB_DASHBOARD_STEPS=10000 (one lake; default: the three above)
//   WEB_DASHBOARD_NAIVE_ROUNDS=1 (rounds the naive peer is drawn in, the last ones; default 1)
import { existsSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.mjs';
import { fmt, median, progress } from './lib.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const LRS = [1e-4, 3e-4, 1e-3, 3e-3];
const TIMEOUT_MS = 180_000;

/** Writes (once, then reuses) a squiggle lake with `runs` runs over 4 lr grids and `steps` loss points each. */
export async function ensureLake(dir, runs, steps) {
  const marker = path.join(dir, '.bench-complete');
  if (existsSync(marker)) return { seconds: 0, reused: true };
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const { openLake, attachGridId, writeGridParams } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const start = process.hrtime.bigint();
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    const grids = [];
    for (const lr of LRS) {
      const params = { model: 'bench-gpt', lr };
      grids.push(attachGridId(params).grid_id);
      await writeGridParams(dir, params);
    }
    const runRows = Array.from({ length: runs }, (_, r) => ({
      run_id: `bench-r${String(r).padStart(4, '0')}`,
      grid_id: grids[r % LRS.length],
      seed: Math.floor(r / LRS.length),
      status: 'finished',
    }));
    await lake.write('runs', runRows);
    // Written about 100k rows at a time (10 runs of 10k steps, 100 runs of 1k) to keep the row
    // objects' memory bounded.
    const batch = Math.max(1, Math.round(100_000 / steps));
    for (let r0 = 0; r0 < runs; r0 += batch) {
      const rows = [];
      for (let r = r0; r < Math.min(runs, r0 + batch); r++) {
        const values = lossSeries(r, steps);
        for (let step = 0; step < steps; step++) {
          rows.push({ run_id: runRows[r].run_id, step, metric_name: 'loss', value: values[step] });
        }
      }
      await lake.write('metrics_scalar', rows);
    }
  } finally {
    lake.close();
  }
  await writeFile(marker, `${runs} runs × ${steps} steps\n`);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, reused: false };
}

/**
 * Brings the lake's downsampling pyramid up to date (built once, then reused) and says what it
 * cost: the build's seconds and the pyramid's bytes on disk against metrics_scalar's.
 */
export async function ensurePyramid(dir) {
  const { buildMetricsPyramid } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const start = process.hrtime.bigint();
  const build = await buildMetricsPyramid(dir);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {
    action: build.action,
    seconds: build.action === 'current' ? null : seconds,
    bytes: await directoryBytes(path.join(dir, 'metrics_pyramid')),
    metricsBytes: await directoryBytes(path.join(dir, 'metrics_scalar')),
  };
}

async function directoryBytes(dir) {
  const { readdir, stat } = await import('node:fs/promises');
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath ?? entry.path, entry.name))).size;
  }
  return total;
}

/** Milliseconds for `POST /api/metric-groups` of every run by lr, fetched from Node. */
async function groupsFetch(url, runIds, width) {
  const start = performance.now();
  const response = await fetch(new URL('api/metric-groups', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ run: runIds, metric: 'loss', width, by: ['lr'] }),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`metric-groups answered ${response.status}: ${body.error}`);
  return { ms: performance.now() - start, pyramid: body.pyramid ?? null };
}

/** The step of run r's one planted spike: 40% into the run, one step later per run. */
export function spikeStep(r, steps) {
  return Math.floor(steps * 0.4) + (r % Math.floor(steps * 0.5));
}

/**
 * Run r's loss: a noisy decay with an lr-dependent rate and one planted one-step spike (+2) at
 * {@link spikeStep}. Deterministic, so the bench can check which spikes an answer shows.
 */
export function lossSeries(r, steps) {
  const rate = 1 + (r % LRS.length);
  const values = new Float64Array(steps);
  let noise = 0;
  for (let step = 0; step < steps; step++) {
    // Deterministic pseudo-random noise (a sine hash), smoothed into a red-noise wiggle.
    const hash = Math.sin((step + 1) * 12.9898 + r * 78.233) * 43758.5453;
    noise = 0.9 * noise + 0.05 * (hash - Math.floor(hash) - 0.5);
    const spike = step === spikeStep(r, steps) ? 2 : 0;
    values[step] = 1 + 3 * Math.exp((-rate * step) / steps) + noise + spike;
  }
  return values;
}

/**
 * Opens the dashboard with no saved workspace (a round's group-by would otherwise come back) and
 * waits for its first chart (it starts with the first 4 runs selected).
 */
async function openDashboard(page, url) {
  await page.goto(url);
  await page.evaluate(() => {
    localStorage.clear();
    sessionStorage.clear();
  });
  await page.goto(url);
  await page.waitForSelector('[data-testid="metric-chart"][data-series-count="4"] canvas', {
    timeout: TIMEOUT_MS,
  });
}

/** Milliseconds from `click()` to the next metricsDrawnMs with `selector` matching. */
async function timeToDraw(page, click, selector) {
  // The click time is taken in the page, on the same clock as metricsDrawnMs.
  await page.evaluate(() => {
    window.__benchClickAt = undefined;
    document.addEventListener(
      'click',
      () => {
        window.__benchClickAt ??= performance.now();
      },
      { capture: true, once: true },
    );
  });
  await click();
  await page.waitForFunction(
    (sel) => {
      const at = window.__benchClickAt;
      const drawn = Number(document.body.dataset.metricsDrawnMs);
      return at !== undefined && drawn > at && document.querySelector(sel) !== null;
    },
    selector,
    { timeout: TIMEOUT_MS, polling: 'raf' },
  );
  return page.evaluate(() => Number(document.body.dataset.metricsDrawnMs) - window.__benchClickAt);
}

async function dashboardAllRuns(page, url, runs, seen) {
  await openDashboard(page, url);
  // A large body (1000 runs: ~40 MB) can be evicted from the inspector's cache before it is read;
  // then its Content-Length says the size.
  const onRequest = (request) => {
    if (!new URL(request.url()).pathname.endsWith('/api/metrics')) return;
    try {
      const body = JSON.parse(request.postData() ?? '{}');
      if (Array.isArray(body.run) && body.run.length === runs) seen.width = body.width;
    } catch {
      // Not a JSON body: the width stays unknown.
    }
  };
  const onResponse = async (response) => {
    if (!new URL(response.url()).pathname.endsWith('/api/metrics')) return;
    try {
      seen.bytes = (await response.body()).length;
    } catch {
      seen.bytes = Number((await response.allHeaders())['content-length'] ?? Number.NaN);
    }
  };
  page.on('request', onRequest);
  page.on('response', onResponse);
  const ms = await timeToDraw(
    page,
    () => page.locator('[data-testid="runs-select-all"]').first().click(),
    `[data-testid="metric-chart"][data-drawn-runs="${runs}"] canvas`,
  );
  page.off('request', onRequest);
  page.off('response', onResponse);
  const series = await page.evaluate(() => {
    const u = document.querySelector('[data-testid="metric-chart"]');
    return u ? Number(u.dataset.seriesCount) : 0;
  });
  return { ms, series };
}

async function dashboardGroups(page, url, runs) {
  await openDashboard(page, url);
  await page.locator('[data-testid="runs-select-all"]').first().click();
  await page.waitForFunction(
    (n) => Number(document.querySelector('[data-testid="metric-chart"]')?.dataset.drawnRuns) >= n,
    Math.min(runs, 5),
    { timeout: TIMEOUT_MS },
  );
  // The group-by on show (the workspace's toolbar has one for every panel).
  await page.locator('[data-testid="group-by-summary"]:visible').first().click();
  return timeToDraw(
    page,
    () => page.locator('[data-testid="group-by-lr"]:visible').first().check(),
    `[data-testid="metric-chart"][data-band-count="${LRS.length}"] canvas`,
  );
}

async function naiveFullResolution(page, url, runIds) {
  await openDashboard(page, url);
  return page.evaluate(async (ids) => {
    const host = document.createElement('div');
    host.style.width = '1300px';
    document.body.prepend(host);
    const start = performance.now();
    const points = await window.runlake.drawFullResolution(host, 'loss', ids);
    return { ms: performance.now() - start, points };
  }, runIds);
}

/** The /api/metrics answer at `width`, aligned or as each run's own steps, merged and drawn by the peer. */
async function serverSeries(page, url, runIds, width, aligned) {
  await openDashboard(page, url);
  return page.evaluate(
    async ({ ids, width, aligned }) => {
      // Loading the peer module (one tiny full-resolution draw) adds drawServerSeries.
      if (!window.runlake.drawServerSeries) {
        await window.runlake.drawFullResolution(document.createElement('div'), 'loss', ids.slice(0, 1));
      }
      const host = document.createElement('div');
      host.style.width = '1300px';
      document.body.prepend(host);
      const start = performance.now();
      const out = await window.runlake.drawServerSeries(host, 'loss', ids, { width, aligned });
      return { ms: performance.now() - start, ...out };
    },
    { ids: runIds, width, aligned },
  );
}

/** Page load to the runs table's rows and the first chart (the dashboard starts with 4 runs). */
async function pageLoad(page, url) {
  await page.goto(url);
  await page.evaluate(() => localStorage.clear());
  const start = Date.now();
  await page.goto(url);
  await page.waitForSelector('[data-testid="runs-table"] tbody tr', { timeout: TIMEOUT_MS });
  const table = Date.now() - start;
  await page.waitForSelector('[data-testid="metric-chart"][data-series-count="4"] canvas', {
    timeout: TIMEOUT_MS,
  });
  return { tableMs: table, chartMs: Date.now() - start };
}

/** `/api/metric-groups` of every run by lr, from the page: what the grouped chart waits for. */
async function groupsAnswer(page, runIds, width) {
  return page.evaluate(
    async ({ ids, width }) => {
      const start = performance.now();
      const response = await fetch('api/metric-groups', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ run: ids, metric: 'loss', width, by: ['lr'] }),
      });
      const body = await response.json();
      return { ms: performance.now() - start, status: response.status, groups: body.groups?.length ?? 0 };
    },
    { ids: runIds, width },
  );
}

/** A seeded PRNG (mulberry32), so the sampling contrast is the same every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether a W&B-style uniform random sample of `n` of `steps` points (first and last kept) holds `step`. */
function sampleKeeps(random, steps, n, step) {
  if (n >= steps) return true;
  if (step === 0 || step === steps - 1) return true;
  // A uniform sample of n − 2 of the steps − 2 inner points holds a given inner point with
  // probability (n − 2) / (steps − 2); drawn per run from the seeded stream.
  return random() < (n - 2) / (steps - 2);
}

/**
 * Planted spikes (one per run) that survive: in the dashboard's /api/metrics answer at `width`
 * (aligned, as the dashboard asks), and in W&B-style samples of 500 and 5,000 points per run.
 */
async function spikeSurvival(url, runIds, steps, width) {
  const response = await fetch(new URL('api/metrics', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ run: runIds, metric: 'loss', width, aligned: true }),
  });
  const answer = await response.json();
  let shown = 0;
  answer.series.forEach((series, r) => {
    const spike = lossSeries(r, steps)[spikeStep(r, steps)];
    if (series.value.includes(spike)) shown++;
  });
  const random = prng(21);
  const sampled = {};
  for (const n of [500, 5000]) {
    let kept = 0;
    for (let r = 0; r < runIds.length; r++) if (sampleKeeps(random, steps, n, spikeStep(r, steps))) kept++;
    sampled[n] = kept;
  }
  return {
    spikes: runIds.length,
    shown,
    aligned: answer.aligned === true,
    sampled500: sampled[500],
    sampled5000: sampled[5000],
  };
}

/** The lakes to draw: `WEB_DASHBOARD_RUNS` × `WEB_DASHBOARD_STEPS` when set, else the three sizes. */
function lakeSizes() {
  if (process.env.WEB_DASHBOARD_RUNS || process.env.WEB_DASHBOARD_STEPS) {
    return [
      {
        runs: Number(process.env.WEB_DASHBOARD_RUNS ?? 200),
        steps: Number(process.env.WEB_DASHBOARD_STEPS ?? 10_000),
      },
    ];
  }
  return [
    { runs: 200, steps: 10_000 },
    { runs: 1000, steps: 10_000 },
    { runs: 10_000, steps: 1000 },
  ];
}

/**
 * The scenario: for each lake size (see {@link lakeSizes}), the server in-process, Chromium via
 * playwright-core; median of `options.repeat ?? 3` interleaved rounds after one warm-up round.
 */
export async function webDashboardScenario(options = {}) {
  const repeat = options.repeat ?? 3;
  if (!existsSync(CHROMIUM_PATH)) {
    progress(`web-dashboard: skipped, no Chromium at ${CHROMIUM_PATH}`);
    return { skipped: `no Chromium at ${CHROMIUM_PATH}` };
  }
  if (!existsSync(path.join(REPO_DIR, 'web', 'dist', 'index.html'))) {
    throw new Error('web/dist is missing: run `npm run build` first');
  }
  // A copy of the built app to serve: a build elsewhere in the checkout empties web/dist for a
  // while, which would fail a page load in the middle of a long run.
  const webRoot = path.join(BENCH_DIR, 'out', 'web-dashboard-webroot');
  await rm(webRoot, { recursive: true, force: true });
  await cp(path.join(REPO_DIR, 'web', 'dist'), webRoot, { recursive: true });
  const sizes = [];
  for (const { runs, steps } of lakeSizes()) sizes.push(await oneLake(runs, steps, repeat, webRoot));
  return { repeat, sizes };
}

// Past this many runs the dashboard's every-run draw is not measured: 10,000 runs of 1,000 steps
// at full resolution is 160 MB of answer, past the server's 64 MiB answer limit.
const MAX_DRAWN_RUNS = 1000;

async function oneLake(runs, steps, repeat, webRoot) {
  const dir = path.join(BENCH_DIR, 'out', `web-dashboard-lake-${runs}x${steps}`);
  progress(`web-dashboard: lake of ${runs} runs × ${steps} steps in ${dir}`);
  const written = await ensureLake(dir, runs, steps);
  const pyramid = await ensurePyramid(dir);
  const { startServer } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  // The naive peer's answer is every point (10M rows: ~250 MB of Arrow), past the default limits.
  const serverOptions = {
    port: 0,
    maxRows: runs * steps + 1000,
    timeoutMs: 170_000,
    maxAnswerBytes: 2 * 1024 ** 3,
    memoryBudgetBytes: 8 * 1024 ** 3,
    webRoot,
  };
  const server = await startServer(dir, serverOptions);
  // The same lake served without its pyramid: every request bins the points (the server before it).
  const pointsServer = await startServer(dir, { ...serverOptions, pyramid: false });
  const profile = await import('node:fs/promises').then((fs) =>
    fs.mkdtemp(path.join(os.tmpdir(), 'runlake-bench-chromium-')),
  );
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1400, height: 900 },
  });
  const runIds = Array.from({ length: runs }, (_, r) => `bench-r${String(r).padStart(4, '0')}`);
  const drawAll = runs <= MAX_DRAWN_RUNS;
  const naiveRounds = Math.min(repeat, Number(process.env.WEB_DASHBOARD_NAIVE_ROUNDS ?? 1));
  const timings = {
    dashboard: [],
    dashboardPoints: [],
    groupsFetch: [],
    groupsFetchPoints: [],
    groups: [],
    naive: [],
    aligned: [],
    unaligned: [],
    load: [],
    groupsAnswer: [],
  };
  const seen = { width: undefined, bytes: undefined };
  let naivePoints = 0;
  let groupsPyramid = null;
  let groupsPointsError = null;
  let naiveError = null;
  let drawnSeries = 0;
  let alignedDetail;
  let unalignedDetail;
  try {
    const page = await context.newPage();
    for (let round = 0; round <= repeat; round++) {
      const label = round === 0 ? 'warm-up' : `round ${round}/${repeat}`;
      progress(`web-dashboard ${runs}×${steps}: ${label}`);
      const keep = (name, value) => {
        if (round > 0) timings[name].push(value);
      };
      const load = await pageLoad(page, server.url);
      keep('load', load);
      if (drawAll) {
        const d = await dashboardAllRuns(page, server.url, runs, seen);
        drawnSeries = d.series;
        keep('dashboard', d.ms);
        keep('dashboardPoints', (await dashboardAllRuns(page, pointsServer.url, runs, {})).ms);
        keep('groups', await dashboardGroups(page, server.url, runs));
      }
      const width = seen.width ?? 1300;
      const g = await groupsAnswer(page, runIds, width);
      if (g.status !== 200) throw new Error(`metric-groups of ${runs} runs answered ${g.status}`);
      keep('groupsAnswer', g.ms);
      const fromPyramid = await groupsFetch(server.url, runIds, width);
      groupsPyramid = fromPyramid.pyramid;
      keep('groupsFetch', fromPyramid.ms);
      // Past 1,000 runs the points take minutes: only the last round asks for them.
      if (runs <= MAX_DRAWN_RUNS || round === repeat) {
        try {
          keep('groupsFetchPoints', (await groupsFetch(pointsServer.url, runIds, width)).ms);
        } catch (error) {
          groupsPointsError = (error.message ?? String(error)).split('\n')[0];
        }
      }
      if (drawAll) {
        alignedDetail = await serverSeries(page, server.url, runIds, width, true);
        keep('aligned', alignedDetail.ms);
        unalignedDetail = await serverSeries(page, server.url, runIds, width, false);
        keep('unaligned', unalignedDetail.ms);
      }
      // The naive peer takes 5–45 s a draw and varies little: only the last rounds draw it.
      if (round > repeat - naiveRounds) {
        try {
          const n = await naiveFullResolution(page, server.url, runIds);
          naivePoints = n.points;
          keep('naive', n.ms);
        } catch (error) {
          // Recorded, not fatal: the other rounds' numbers stand.
          naiveError = (error.message ?? String(error)).split('\n')[0];
          progress(`web-dashboard ${runs}×${steps}: naive peer failed: ${naiveError}`);
        }
      }
    }
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
  let spikes = null;
  try {
    if (drawAll) spikes = await spikeSurvival(server.url, runIds, steps, seen.width ?? 1300);
  } finally {
    await server.close();
    await pointsServer.close();
  }
  const result = {
    runs,
    steps,
    points: runs * steps,
    repeat,
    lakeWriteSeconds: written.reused ? null : written.seconds,
    pyramid,
    dashboardPointsMs: timings.dashboardPoints,
    dashboardPointsMedianMs: drawAll ? median(timings.dashboardPoints) : null,
    groupsFetchMs: timings.groupsFetch,
    groupsFetchMedianMs: median(timings.groupsFetch),
    groupsPyramid,
    groupsFetchPointsMs: timings.groupsFetchPoints,
    groupsFetchPointsMedianMs:
      timings.groupsFetchPoints.length > 0 ? median(timings.groupsFetchPoints) : null,
    groupsPointsError,
    width: seen.width ?? null,
    dashboardMs: timings.dashboard,
    dashboardMedianMs: drawAll ? median(timings.dashboard) : null,
    dashboardBytes: seen.bytes ?? null,
    dashboardSeries: drawnSeries,
    groupByMs: timings.groups,
    groupByMedianMs: drawAll ? median(timings.groups) : null,
    groups: LRS.length,
    naiveMs: timings.naive,
    naiveMedianMs: timings.naive.length > 0 ? median(timings.naive) : null,
    naivePoints,
    naiveError,
    alignedMs: timings.aligned,
    alignedMedianMs: drawAll ? median(timings.aligned) : null,
    alignedDetail: alignedDetail ?? null,
    unalignedMs: timings.unaligned,
    unalignedMedianMs: drawAll ? median(timings.unaligned) : null,
    unalignedDetail: unalignedDetail ?? null,
    loadTableMedianMs: median(timings.load.map((l) => l.tableMs)),
    loadChartMedianMs: median(timings.load.map((l) => l.chartMs)),
    groupsAnswerMs: timings.groupsAnswer,
    groupsAnswerMedianMs: median(timings.groupsAnswer),
    spikes,
  };
  result.ratio =
    drawAll && result.naiveMedianMs !== null ? result.naiveMedianMs / result.dashboardMedianMs : null;
  return result;
}

/** Prints the scenario's tables, one per lake size, and the spike survival. */
export function printWebDashboard(result, printTable) {
  if (result.skipped) {
    console.log(`\nweb-dashboard: skipped (${result.skipped})`);
    return;
  }
  const s = (ms) => fmt.seconds(ms / 1000);
  const detail = (d) =>
    d
      ? `answer ${s(d.answerMs)}, merge ${s(d.mergeMs)}, draw ${s(d.drawMs)}; ${fmt.int(d.points)} points`
      : '';
  for (const r of result.sizes ?? [result]) {
    const rows = [];
    if (r.dashboardMedianMs !== null) {
      rows.push([
        'dashboard: select all, click → drawn (aligned /api/metrics)',
        s(r.dashboardMedianMs),
        r.dashboardMs.map(s).join(' / '),
        `${r.dashboardSeries} series${r.dashboardBytes ? `, ${(r.dashboardBytes / 2 ** 20).toFixed(1)} MiB Arrow` : ''}, width ${r.width ?? '?'}`,
      ]);
      rows.push([
        'peer: the same, served without the pyramid (every point binned per request)',
        s(r.dashboardPointsMedianMs),
        r.dashboardPointsMs.map(s).join(' / '),
        '',
      ]);
      rows.push([
        'points / pyramid (click → drawn)',
        `${fmt.ratio(r.dashboardPointsMedianMs / r.dashboardMedianMs)}x`,
        '',
        '',
      ]);
      rows.push([
        'peer: aligned answer, merged and drawn',
        s(r.alignedMedianMs),
        r.alignedMs.map(s).join(' / '),
        detail(r.alignedDetail),
      ]);
      rows.push([
        'peer: unaligned answer (before), merged and drawn',
        s(r.unalignedMedianMs),
        r.unalignedMs.map(s).join(' / '),
        detail(r.unalignedDetail),
      ]);
      rows.push([
        'dashboard: group by lr (mean ± std)',
        s(r.groupByMedianMs),
        r.groupByMs.map(s).join(' / '),
        `${r.groups} bands`,
      ]);
    }
    rows.push(['page load: runs table shown', s(r.loadTableMedianMs), '', `${fmt.int(r.runs)} runs`]);
    rows.push(['page load: first chart (4 runs)', s(r.loadChartMedianMs), '', '']);
    rows.push([
      '/api/metric-groups of every run by lr',
      s(r.groupsAnswerMedianMs),
      r.groupsAnswerMs.map(s).join(' / '),
      `${r.groups} bands`,
    ]);
    rows.push([
      '/api/metric-groups of every run by lr, from Node: pyramid',
      s(r.groupsFetchMedianMs),
      r.groupsFetchMs.map(s).join(' / '),
      r.groupsPyramid
        ? `level ${r.groupsPyramid.level}, ${r.groupsPyramid.columns} columns`
        : 'points (no pyramid level fits)',
    ]);
    rows.push([
      '/api/metric-groups of every run by lr, from Node: points',
      r.groupsFetchPointsMedianMs === null ? 'failed' : s(r.groupsFetchPointsMedianMs),
      r.groupsFetchPointsMs.map(s).join(' / '),
      r.groupsPointsError ?? '',
    ]);
    if (r.groupsFetchPointsMedianMs !== null)
      rows.push([
        'points / pyramid (groups)',
        `${fmt.ratio(r.groupsFetchPointsMedianMs / r.groupsFetchMedianMs)}x`,
        '',
        '',
      ]);
    if (r.pyramid)
      rows.push([
        'pyramid: build, and size against metrics_scalar',
        r.pyramid.seconds === null ? 'reused' : `${r.pyramid.seconds.toFixed(1)} s`,
        '',
        `${(r.pyramid.bytes / 2 ** 20).toFixed(1)} MiB vs ${(r.pyramid.metricsBytes / 2 ** 20).toFixed(1)} MiB`,
      ]);
    rows.push(
      r.naiveMedianMs === null
        ? ['naive: every point via /api/query Arrow', 'failed', '', r.naiveError ?? '']
        : [
            'naive: every point via /api/query Arrow',
            s(r.naiveMedianMs),
            r.naiveMs.map(s).join(' / '),
            `${fmt.int(r.naivePoints)} points`,
          ],
    );
    if (r.ratio !== null) rows.push(['naive / dashboard', `${fmt.ratio(r.ratio)}x`, '', '']);
    if (r.unalignedMedianMs)
      rows.push(['unaligned / aligned', `${fmt.ratio(r.unalignedMedianMs / r.alignedMedianMs)}x`, '', '']);
    printTable(
      `Dashboard, ${fmt.int(r.runs)} runs × ${fmt.int(r.steps)} steps (${fmt.int(r.points)} points), median of ${r.repeat}`,
      ['approach', 'median', 'rounds', 'what is drawn'],
      rows,
    );
    if (r.spikes) {
      printTable(
        `Planted one-step spikes shown, ${fmt.int(r.runs)} runs × ${fmt.int(r.steps)} steps (one per run)`,
        ['approach', 'spikes shown', 'of'],
        [
          [
            `dashboard: min/max per pixel column, width ${r.width ?? 1300}${r.spikes.aligned ? ', aligned' : ''}`,
            fmt.int(r.spikes.shown),
            fmt.int(r.spikes.spikes),
          ],
          [
            'W&B-style: history sampled to 500 points',
            fmt.int(r.spikes.sampled500),
            fmt.int(r.spikes.spikes),
          ],
          [
            'W&B-style: history sampled to 5,000 points',
            fmt.int(r.spikes.sampled5000),
            fmt.int(r.spikes.spikes),
          ],
        ],
      );
    }
  }
}

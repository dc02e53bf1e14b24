// Dashboard time to draw: select 200 runs × 10k steps of `loss` in the dashboard served by
// `runlake serve`, and time from the click to the chart's draw (`metricsDrawnMs`, set by the
// uPlot draw hook). Peer, measured in the same run and browser: the naive approach, which fetches
// every point at full resolution (/api/query as Arrow) and draws all of them with uPlot. Also the
// group-by view (mean ± std bands per lr).
//
//   node bench/run.mjs --only web-dashboard [--repeat 3]
//   WEB_DASHBOARD_RUNS=200 WEB_DASHBOARD_STEPS=10000 (defaults)
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
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
async function ensureLake(dir, runs, steps) {
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
    // A noisy decaying loss with an lr-dependent rate and a rare spike, written a few runs at a time
    // to keep the row objects' memory bounded.
    const batch = 10;
    for (let r0 = 0; r0 < runs; r0 += batch) {
      const rows = [];
      for (let r = r0; r < Math.min(runs, r0 + batch); r++) {
        const rate = 1 + (r % LRS.length);
        let noise = 0;
        for (let step = 0; step < steps; step++) {
          // Deterministic pseudo-random noise (a sine hash), smoothed into a red-noise wiggle.
          const hash = Math.sin((step + 1) * 12.9898 + r * 78.233) * 43758.5453;
          noise = 0.9 * noise + 0.05 * (hash - Math.floor(hash) - 0.5);
          const spike = step === 4000 + r ? 2 : 0;
          rows.push({
            run_id: runRows[r].run_id,
            step,
            metric_name: 'loss',
            value: 1 + 3 * Math.exp((-rate * step) / steps) + noise + spike,
          });
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

/** Opens the dashboard and waits for its first chart (it starts with the first 4 runs selected). */
async function openDashboard(page, url) {
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

async function dashboardAllRuns(page, url, runs, sizes) {
  await openDashboard(page, url);
  // A large body (1000 runs: ~50 MB) can be evicted from the inspector's cache before it is read;
  // then its Content-Length says the size.
  const onResponse = async (response) => {
    if (!new URL(response.url()).pathname.endsWith('/api/metrics')) return;
    try {
      sizes.push((await response.body()).length);
    } catch {
      sizes.push(Number((await response.allHeaders())['content-length'] ?? Number.NaN));
    }
  };
  page.on('response', onResponse);
  const ms = await timeToDraw(
    page,
    () => page.locator('[data-testid="runs-select-all"]').click(),
    `[data-testid="metric-chart"][data-drawn-runs="${runs}"] canvas`,
  );
  page.off('response', onResponse);
  const points = await page.evaluate(() => {
    const u = document.querySelector('[data-testid="metric-chart"]');
    return u ? Number(u.dataset.seriesCount) : 0;
  });
  return { ms, series: points };
}

async function dashboardGroups(page, url) {
  await openDashboard(page, url);
  await page.locator('[data-testid="runs-select-all"]').click();
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="metric-chart"]')?.dataset.drawnRuns) > 4,
    null,
    {
      timeout: TIMEOUT_MS,
    },
  );
  await page.locator('[data-testid="group-by-summary"]').click();
  return timeToDraw(
    page,
    () => page.locator('[data-testid="group-by-lr"]').check(),
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

/**
 * The scenario: a lake of `WEB_DASHBOARD_RUNS` runs × `WEB_DASHBOARD_STEPS` steps, the server
 * in-process, Chromium via playwright-core; median of `options.repeat ?? 3` interleaved rounds
 * after one warm-up round.
 */
export async function webDashboardScenario(options = {}) {
  const runs = Number(process.env.WEB_DASHBOARD_RUNS ?? 200);
  const steps = Number(process.env.WEB_DASHBOARD_STEPS ?? 10_000);
  const repeat = options.repeat ?? 3;
  if (!existsSync(CHROMIUM_PATH)) {
    progress(`web-dashboard: skipped, no Chromium at ${CHROMIUM_PATH}`);
    return { skipped: `no Chromium at ${CHROMIUM_PATH}` };
  }
  if (!existsSync(path.join(REPO_DIR, 'web', 'dist', 'index.html'))) {
    throw new Error('web/dist is missing: run `npm run build` first');
  }
  const dir = path.join(BENCH_DIR, 'out', `web-dashboard-lake-${runs}x${steps}`);
  progress(`web-dashboard: lake of ${runs} runs × ${steps} steps in ${dir}`);
  const written = await ensureLake(dir, runs, steps);
  const { startServer } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const server = await startServer(dir, { port: 0, maxRows: runs * steps + 1000, timeoutMs: 120_000 });
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
  const dashboard = [];
  const groups = [];
  const naive = [];
  const sizes = [];
  let naivePoints = 0;
  let drawnSeries = 0;
  try {
    const page = await context.newPage();
    for (let round = 0; round <= repeat; round++) {
      const label = round === 0 ? 'warm-up' : `round ${round}/${repeat}`;
      progress(`web-dashboard: ${label}`);
      const d = await dashboardAllRuns(page, server.url, runs, sizes);
      const g = await dashboardGroups(page, server.url);
      const n = await naiveFullResolution(page, server.url, runIds);
      naivePoints = n.points;
      drawnSeries = d.series;
      if (round === 0) continue;
      dashboard.push(d.ms);
      groups.push(g);
      naive.push(n.ms);
    }
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
    await server.close();
  }
  const result = {
    runs,
    steps,
    points: runs * steps,
    repeat,
    lakeWriteSeconds: written.reused ? null : written.seconds,
    dashboardMs: dashboard,
    dashboardMedianMs: median(dashboard),
    dashboardBytes: sizes.at(-1) ?? null,
    dashboardSeries: drawnSeries,
    naiveMs: naive,
    naiveMedianMs: median(naive),
    naivePoints,
    groupByMs: groups,
    groupByMedianMs: median(groups),
    groups: LRS.length,
  };
  result.ratio = result.naiveMedianMs / result.dashboardMedianMs;
  return result;
}

/** Prints the scenario's table. */
export function printWebDashboard(result, printTable) {
  if (result.skipped) {
    console.log(`\nweb-dashboard: skipped (${result.skipped})`);
    return;
  }
  const s = (ms) => fmt.seconds(ms / 1000);
  printTable(
    `Dashboard time to draw ${result.runs} runs × ${fmt.int(result.steps)} steps (${fmt.int(result.points)} points), click → drawn, median of ${result.repeat}`,
    ['approach', 'median', 'rounds', 'what is drawn'],
    [
      [
        'dashboard: /api/metrics, min/max per pixel column',
        s(result.dashboardMedianMs),
        result.dashboardMs.map(s).join(' / '),
        `${result.dashboardSeries} series${result.dashboardBytes ? `, ${(result.dashboardBytes / 2 ** 20).toFixed(1)} MiB Arrow` : ''}`,
      ],
      [
        'naive: every point via /api/query Arrow',
        s(result.naiveMedianMs),
        result.naiveMs.map(s).join(' / '),
        `${fmt.int(result.naivePoints)} points`,
      ],
      [
        `dashboard: group by lr (mean ± std)`,
        s(result.groupByMedianMs),
        result.groupByMs.map(s).join(' / '),
        `${result.groups} bands`,
      ],
      ['naive / dashboard', `${fmt.ratio(result.ratio)}x`, '', ''],
    ],
  );
}

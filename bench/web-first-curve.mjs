// Scenario `web-first-curve`: time to the first plotted curve in the standalone file viewer
// (web/dist/viewer.html) in headless Chromium, for the seed's 3.8M-row mask_impact table as
// float32/categorical zstd Parquet against the same rows as the seed's JSON, in the same run.
//
// It writes the mask_impact JSON (writeMaskImpactJson from convert-file.mjs), converts it with
// convertFile(json, parquet, { float32: 'auto', round: 4 }), serves web/dist and the two files from
// a local node:http server (no caching), and opens `viewer.html?url=<file>` in a fresh browser
// context per run, Parquet and JSON interleaved. The time is `document.body.dataset.firstCurveMs`:
// performance.now() — milliseconds since navigation start — when uPlot first draws the mean
// l2_distance per layer by variant. Goal: under 1.5 s for Parquet. A JSON run that fails in the
// browser (out of memory, a crash, a timeout) is reported as such.
// WEB_FIRST_CURVE_ROWS overrides the row count (default min(--rows, 3.8M)); the data files are
// deleted at the end unless --keep.
import { createReadStream, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { convertFile } from '../dist/index.js';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.mjs';
import { SEED_ROWS, writeMaskImpactJson } from './convert-file.mjs';
import { fmt, median, progress, timed } from './lib.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = path.join(BENCH_DIR, 'out', 'web-first-curve');
const WEB_DIST = path.join(BENCH_DIR, '..', 'web', 'dist');
const GOAL_MS = 1500;
/** A run that has not drawn a curve by then counts as failed. */
const RUN_TIMEOUT_MS = Number(process.env.WEB_FIRST_CURVE_TIMEOUT_MS ?? 300_000);

/** Serves /viewer.html from web/dist and /data/<name> from the scenario's directory, never cached. */
async function startServer() {
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const name = path.basename(decodeURIComponent(url.pathname));
    const file = url.pathname.startsWith('/data/') ? path.join(OUT_DIR, name) : path.join(WEB_DIST, name);
    let size;
    try {
      size = statSync(file).size;
    } catch {
      response.writeHead(404).end();
      return;
    }
    const type = name.endsWith('.html')
      ? 'text/html; charset=utf-8'
      : name.endsWith('.json')
        ? 'application/json'
        : 'application/octet-stream';
    response.writeHead(200, { 'content-type': type, 'content-length': size, 'cache-control': 'no-store' });
    createReadStream(file).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** One page load: ms to the first curve, or the failure (the viewer's error text, a crash, a timeout). */
async function firstCurve(browser, base, dataFile) {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  let crashed = false;
  page.on('crash', () => {
    crashed = true;
  });
  try {
    await page.goto(`${base}/viewer.html?url=${encodeURIComponent(`${base}/data/${dataFile}`)}`);
    const outcome = await Promise.race([
      page
        .waitForFunction(
          () => document.body.dataset.firstCurveMs || document.querySelector('[data-testid="error"]'),
          null,
          { timeout: RUN_TIMEOUT_MS, polling: 50 },
        )
        .then(() => 'done'),
      new Promise((resolve) => page.once('crash', () => resolve('crash'))),
    ]);
    if (outcome === 'crash' || crashed) return { error: 'the browser tab crashed (out of memory?)' };
    const state = await page.evaluate(() => ({
      ms: Number(document.body.dataset.firstCurveMs),
      error: document.querySelector('[data-testid="error"]')?.textContent ?? undefined,
      rowsShown: document.querySelector('[data-testid="row-count"]')?.textContent ?? undefined,
      loadTime: document.querySelector('[data-testid="load-time"]')?.textContent ?? undefined,
      series: document.querySelector('[data-testid="plot"]')?.getAttribute('data-series-count') ?? undefined,
    }));
    if (state.error) return { error: state.error };
    return state;
  } catch (error) {
    return { error: crashed ? 'the browser tab crashed (out of memory?)' : String(error?.message ?? error) };
  } finally {
    await context.close().catch(() => {});
  }
}

function summarise(runs) {
  const ok = runs.filter((r) => r.error === undefined);
  if (ok.length === 0) return { ms: undefined, runs, error: runs[0]?.error };
  return {
    ms: median(ok.map((r) => r.ms)),
    runs,
    rowsShown: ok[0].rowsShown,
    series: ok[0].series,
    error: ok.length < runs.length ? runs.find((r) => r.error)?.error : undefined,
  };
}

/**
 * Runs the scenario; returns the object stored under `scenarios['web-first-curve']`.
 *
 * @example
 * ```js
 * results.scenarios['web-first-curve'] = await webFirstCurveScenario({ rows: 3_800_000 });
 * ```
 */
export async function webFirstCurveScenario(options) {
  const rows = Number(process.env.WEB_FIRST_CURVE_ROWS ?? Math.min(options.rows, SEED_ROWS));
  const repeat = options.repeat ?? 3;
  const viewerBytes = statSync(path.join(WEB_DIST, 'viewer.html')).size;
  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(OUT_DIR, { recursive: true });
  const json = path.join(OUT_DIR, 'mask_impact.json');
  const parquet = path.join(OUT_DIR, 'mask_impact.parquet');
  progress(`web-first-curve: writing a ${fmt.int(rows)}-row mask_impact JSON`);
  const generated = await timed(() => writeMaskImpactJson(json, rows));
  const jsonBytes = statSync(json).size;
  progress(`  ${fmt.mib(jsonBytes)} in ${fmt.seconds(generated.seconds)}; converting to Parquet`);
  await convertFile(json, parquet, { float32: 'auto', round: 4 });
  const parquetBytes = statSync(parquet).size;

  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
  const runs = { parquet: [], json: [] };
  try {
    // One unmeasured load warms the OS file cache and Chromium's code caches equally for both.
    await firstCurve(browser, server.base, 'mask_impact.parquet');
    for (let i = 0; i < repeat; i++) {
      for (const [kind, file] of [
        ['parquet', 'mask_impact.parquet'],
        ['json', 'mask_impact.json'],
      ]) {
        const run = await firstCurve(browser, server.base, file);
        runs[kind].push(run);
        progress(
          `  ${kind} run ${i + 1}: ${run.error ? `failed: ${run.error}` : `${fmt.int(Math.round(run.ms))} ms (${run.rowsShown})`}`,
        );
      }
    }
  } finally {
    await browser.close();
    await server.close();
    if (!options.keep) await rm(OUT_DIR, { recursive: true, force: true });
  }
  const parquetResult = summarise(runs.parquet);
  const jsonResult = summarise(runs.json);
  const ratio =
    parquetResult.ms !== undefined && jsonResult.ms !== undefined
      ? jsonResult.ms / parquetResult.ms
      : undefined;
  return {
    rows,
    repeat,
    jsonBytes,
    parquetBytes,
    viewerBytes,
    generateSeconds: generated.seconds,
    parquet: parquetResult,
    json: jsonResult,
    ratio,
    goalMs: GOAL_MS,
    goalMet: parquetResult.ms !== undefined && parquetResult.ms < GOAL_MS,
  };
}

/** Prints the scenario's table. */
export function printWebFirstCurve(s, printTable) {
  const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const ms = (r) => (r.ms === undefined ? 'failed' : `${fmt.int(Math.round(r.ms))} ms`);
  const note = (r) => (r.error ? `failed: ${r.error.slice(0, 120)}` : (r.rowsShown ?? ''));
  printTable(
    `web-first-curve: ${fmt.int(s.rows)} mask_impact rows, time to the first plotted curve in headless Chromium ` +
      `(viewer.html?url=…, median of ${s.repeat}; goal < ${fmt.int(s.goalMs)} ms for Parquet: ${s.goalMet ? 'met' : 'NOT met'})`,
    ['format', 'file size', 'first curve', 'rows shown / note'],
    [
      ['Parquet (float32, categorical, zstd)', mib(s.parquetBytes), ms(s.parquet), note(s.parquet)],
      ['JSON (seed format)', mib(s.jsonBytes), ms(s.json), note(s.json)],
      [
        'JSON / Parquet',
        s.parquetBytes ? `${fmt.ratio(s.jsonBytes / s.parquetBytes)}x` : '',
        s.ratio === undefined ? '' : `${fmt.ratio(s.ratio)}x`,
        `viewer.html ${mib(s.viewerBytes)}`,
      ],
    ],
  );
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import {
  formatCount,
  formatDuration,
  logRange,
  robustRange,
  tickLabels,
} from '../web/src/dashboard/chart-format.js';
import { defaultMetric } from '../web/src/dashboard/metric-default.js';
import { artifactPath, browser, useServedDashboard, writeDemoLake } from './helpers/browser.js';

const DOC_IMAGES = process.env.UPDATE_DOC_IMAGES === '1';
/** Where a screenshot goes: docs/images when UPDATE_DOC_IMAGES=1, else test-artifacts. */
const shot = (name: string) =>
  DOC_IMAGES ? path.join(import.meta.dirname, '..', 'docs', 'images', name) : artifactPath(name);

// The metric chart's own features (web/src/dashboard/metric-chart.ts and its parts) in Chromium,
// on the demo lake: 12 runs, loss/lr/grad_norm logged at steps 0..2000 (201 points each).

interface MetricBody {
  run: string[];
  metric: string;
  width: number;
  from?: number;
  to?: number;
  smoothing?: number;
  smoothingKind?: string;
  x?: string;
  by?: string[];
}

function bodyOf(request: Request, endpoint: string): MetricBody | undefined {
  const posted = request.method() === 'POST' && new URL(request.url()).pathname.endsWith(`/api/${endpoint}`);
  return posted ? (request.postDataJSON() as MetricBody) : undefined;
}

/** Records every text uPlot draws on a canvas (the axis tick labels), per canvas draw. */
const RECORD_CANVAS_TEXT = `
  window.__texts = [];
  const fill = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    window.__texts.push(String(text));
    return fill.call(this, text, x, y, ...rest);
  };
`;

/** The little of the page's `document` the tests read (the test tsconfig has no DOM types). */
interface PageDocument {
  body: { dataset: Record<string, string | undefined> };
  querySelector(selector: string): unknown;
}

/**
 * The demo lake plus what it lacks for the time axes: the demo logs no wall-clock times, so a
 * `throughput` metric with them. Each run starts at its own time and logs every 100 steps, 150 s apart.
 */
async function writeLakeWithTimes(dir: string): Promise<string> {
  const lakeDir = await writeDemoLake(dir);
  const lake = await openLake(lakeDir, { schema: 'squiggle' });
  const rows: Record<string, unknown>[] = [];
  ['0.0003', '0.001', '0.003'].forEach((lr, li) => {
    for (const seed of [0, 1, 2, 3]) {
      const start = Date.UTC(2026, 10, 1, 9 + li, seed * 5);
      for (let step = 0; step <= 2000; step += 100)
        rows.push({
          run_id: `tiny-lr${lr}-s${seed}`,
          step,
          metric_name: 'throughput',
          value: 1000 + seed * 50 + step / 10,
          wall_time: new Date(start + step * 1500),
        });
    }
  });
  await lake.write('metrics_scalar', rows);
  lake.close();
  return lakeDir;
}

describe.skipIf(browser.skip)('metric chart', () => {
  const dash = useServedDashboard({
    prefix: 'runlake-chart-',
    lake: writeLakeWithTimes,
    initScript: RECORD_CANVAS_TEXT,
  });

  /** The first metric panel (the workspace puts `loss` first) and its chart. */
  const panel = () => dash.page.locator('[data-testid="metric-panel"]').first();
  const chart = () => panel().locator('[data-testid="metric-chart"]');
  /** Waits for `selector` inside the first panel. */
  const inPanel = (selector: string, options: { timeout?: number } = {}) =>
    panel()
      .locator(selector)
      .first()
      .waitFor({ timeout: 20_000, ...options });
  /** A control visible on the page: the workspace toolbar's, or a lone panel's own. */
  const visible = (testid: string) => dash.page.locator(`[data-testid="${testid}"]:visible`).first();
  const sql = async <Row>(text: string): Promise<Row[]> => {
    const response = await fetch(new URL(`api/query?sql=${encodeURIComponent(text)}`, dash.url));
    expect(response.status).toBe(200);
    return ((await response.json()) as { rows: Row[] }).rows;
  };
  const waitForSeries = async (count: number) => {
    await dash.page.waitForSelector(`[data-testid="metric-chart"][data-series-count="${count}"] canvas`, {
      timeout: 20_000,
    });
  };
  const openDashboard = async () => {
    // Each test starts from the default layout, not the one the previous test saved.
    await dash.page.goto(dash.url);
    await dash.page.evaluate(() =>
      (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear(),
    );
    await dash.page.goto(dash.url);
    await dash.page.waitForSelector('[data-testid="lake-summary"]');
    await waitForSeries(4);
    await chart().locator('canvas').waitFor();
    await chart().scrollIntoViewIfNeeded();
  };
  /** Texts drawn on canvases since the last call. */
  const drawnTexts = async (): Promise<string[]> =>
    dash.page.evaluate(() => {
      const w = globalThis as unknown as { __texts: string[] };
      const texts = w.__texts;
      w.__texts = [];
      return texts;
    });
  /** Waits for the next chart draw after `action`. */
  const redraw = async (action: () => Promise<unknown>) => {
    const before = await dash.page.locator('body').getAttribute('data-metrics-drawn-ms');
    await action();
    await dash.page.waitForFunction(
      (b) => {
        const doc = (globalThis as unknown as { document: PageDocument }).document;
        return doc.body.dataset.metricsDrawnMs !== b && !doc.querySelector('[data-loading]');
      },
      before,
      { timeout: 20_000 },
    );
  };

  it('bug 1: log axes label their ticks (no "null") and log x ends where the data ends', async () => {
    await openDashboard();
    await drawnTexts();
    await redraw(() => panel().locator('[data-testid="log-y"]').check());
    const logY = await drawnTexts();
    expect(logY.length).toBeGreaterThan(3);
    expect(logY.filter((t) => t.includes('null'))).toEqual([]);
    await redraw(() => panel().locator('[data-testid="log-x"]').check());
    const logXY = await drawnTexts();
    expect(logXY.filter((t) => t.includes('null'))).toEqual([]);
    // The demo's steps run to 2,000: the x axis has a tick label at 1,000 or 2,000, none past 2,000.
    const numbers = logXY.map((t) => Number(t)).filter((n) => Number.isFinite(n));
    expect(numbers.some((n) => n === 1000 || n === 2000)).toBe(true);
    expect(numbers.filter((n) => n > 2000 && n <= 10_000 && n % 1000 === 0)).toEqual([]);
    // The drawn x range ends at the data's last step.
    const [, xMax] = String(await chart().getAttribute('data-x-range'))
      .split(':')
      .map(Number);
    expect(xMax).toBe(2000);
    await panel().screenshot({ path: artifactPath('chart-log-axes.png') });
    await panel().locator('[data-testid="log-x"]').uncheck();
    await panel().locator('[data-testid="log-y"]').uncheck();
  });

  it('bug 7: the "raw" toggle is hidden at smoothing 0 and shown, checked, once smoothing is on', async () => {
    await openDashboard();
    // Workspace panels are compact: the toolbar above them holds the shared controls.
    for (const shared of ['smoothing-slider', 'group-by-summary', 'envelope', 'x-axis'])
      expect(await panel().locator(`[data-testid="${shared}"]`).isVisible()).toBe(false);
    expect(await panel().locator('[data-testid="log-y"]').isVisible()).toBe(true);
    const slider = visible('smoothing-slider');
    const controls = slider.locator('xpath=ancestor::*[contains(@class, "smoothing")][1]');
    const raw = controls.locator('[data-testid="smoothing-raw"]');
    expect(await raw.isVisible()).toBe(false);
    const smoothed = dash.page.waitForRequest((r) => bodyOf(r, 'metrics')?.smoothing === 0.5);
    await slider.fill('0.5');
    await smoothed;
    expect(await raw.isVisible()).toBe(true);
    expect(await raw.isChecked()).toBe(true);

    // The smoothing kind goes to the server with the strength.
    const gaussian = dash.page.waitForRequest(
      (r) => bodyOf(r, 'metrics')?.smoothing === 0.5 && bodyOf(r, 'metrics')?.smoothingKind === 'gaussian',
    );
    await controls.locator('[data-testid="smoothing-kind"]').selectOption('gaussian');
    await gaussian;
    await waitForSeries(4);
    const off = dash.page.waitForRequest((r) => {
      const body = bodyOf(r, 'metrics');
      return body !== undefined && body.smoothing === undefined;
    });
    await slider.fill('0');
    await off;
    expect(await raw.isVisible()).toBe(false);
  });

  it('bug 7: a tooltip at the cursor names the nearest run and its value, and that run is highlighted', async () => {
    await openDashboard();
    // The run whose loss at step 1000 is furthest from the others', so "nearest" is unambiguous.
    const rows = await sql<{ run_id: string; value: number }>(
      `SELECT run_id, value FROM metrics_scalar WHERE metric_name = 'loss' AND step = 1000 ORDER BY run_id`,
    );
    const legendKeys = await panel()
      .locator('[data-testid="legend-item"]')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-key')));
    const drawn = rows.filter((r) => legendKeys.includes(r.run_id));
    expect(drawn).toHaveLength(4);
    const gap = (r: { value: number }) =>
      Math.min(...drawn.filter((o) => o !== r).map((o) => Math.abs(o.value - r.value)));
    const target = [...drawn].sort((a, b) => gap(b) - gap(a))[0];
    if (!target) throw new Error('no loss at step 1000');
    const [xMin, xMax] = String(await chart().getAttribute('data-x-range'))
      .split(':')
      .map(Number);
    const [yMin, yMax] = String(await chart().getAttribute('data-y-range'))
      .split(':')
      .map(Number);
    const over = chart().locator('.u-over');
    const box = await over.boundingBox();
    if (!box || xMin === undefined || xMax === undefined || yMin === undefined || yMax === undefined)
      throw new Error('no chart overlay');
    const px = box.x + ((1000 - xMin) / (xMax - xMin)) * box.width;
    const py = box.y + (1 - (target.value - yMin) / (yMax - yMin)) * box.height;
    await dash.page.mouse.move(px - 20, py);
    await dash.page.mouse.move(px, py, { steps: 4 });
    const tooltip = panel().locator('[data-testid="chart-tooltip"]');
    await tooltip.waitFor({ state: 'visible' });
    await expect(tooltip.locator('[data-testid="tooltip-x"]').textContent()).resolves.toBe('step 1000');
    const nearest = tooltip.locator('[data-testid="tooltip-row"]').first();
    await expect(nearest.getAttribute('data-key')).resolves.toBe(target.run_id);
    expect(Number(await nearest.getAttribute('data-value'))).toBeCloseTo(target.value, 9);
    expect(await tooltip.locator('[data-testid="tooltip-row"]').count()).toBe(4);
    // The tooltip sits next to the cursor, not in the legend below.
    const tip = await tooltip.boundingBox();
    expect(tip && Math.abs(tip.y - py)).toBeLessThan(60);
    await expect(chart().getAttribute('data-focused')).resolves.toBe(target.run_id);
    // The highlight layer redraws that run over a veil of the background.
    const highlight = panel().locator('[data-testid="chart-highlight"]');
    expect(await highlight.getAttribute('data-series')).not.toBeNull();
    await dash.page.screenshot({
      path: shot('web-chart-tooltip.png'),
      clip: { x: 0, y: Math.max(0, box.y - 120), width: 1400, height: 620 },
    });
    await dash.page.mouse.move(box.x + box.width / 2, box.y + box.height + 200);
    await tooltip.waitFor({ state: 'hidden' });
    expect(await chart().getAttribute('data-focused')).toBeNull();
    expect(await highlight.getAttribute('data-series')).toBeNull();
  });

  it('bug 7: a legend click hides a run (and a second click shows it again)', async () => {
    await openDashboard();
    await expect(chart().getAttribute('data-visible-count')).resolves.toBe('4');
    const first = panel().locator('[data-testid="legend-item"]').first();
    const key = await first.getAttribute('data-key');
    const before = dash.page.url();
    await first.click();
    await inPanel('[data-testid="metric-chart"][data-visible-count="3"] canvas');
    const hidden = panel().locator(`[data-testid="legend-item"][data-key="${key}"]`);
    await expect(hidden.getAttribute('data-hidden')).resolves.toBe('true');
    await expect(panel().locator('[data-testid="metric-status"]').textContent()).resolves.toContain(
      '1 hidden',
    );
    // The hidden list is panel state: the workspace saves it, and a reload restores it.
    await dash.page.waitForFunction((run) => {
      const storage = (globalThis as unknown as { localStorage: Record<string, string> }).localStorage;
      return Object.values(storage).some((v) => v.includes(`"hidden":["${run}"]`));
    }, key);
    // …and the link (the URL's state) follows it.
    await dash.page.waitForURL((url) => url.href !== before);
    await dash.page.reload();
    await inPanel('[data-testid="metric-chart"][data-visible-count="3"] canvas');
    await chart().scrollIntoViewIfNeeded();
    await expect(hidden.getAttribute('data-hidden')).resolves.toBe('true');
    // A hidden run is not offered in the tooltip.
    const box = await chart().locator('.u-over').boundingBox();
    if (!box) throw new Error('no chart overlay');
    await dash.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await panel().locator('[data-testid="tooltip-row"]').first().waitFor();
    const keys = await panel()
      .locator('[data-testid="tooltip-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    expect(keys).toHaveLength(3);
    expect(keys).not.toContain(key);
    await hidden.click();
    await inPanel('[data-testid="metric-chart"][data-visible-count="4"] canvas');
  });

  it('expectation 2: the x axis switches to tokens, wall time and relative time (request body and tick labels)', async () => {
    await openDashboard();
    const xPicker0 = dash.page
      .locator('[data-testid="ws-x"]:visible, [data-testid="x-axis"]:visible')
      .first();
    // The demo's loss has no wall times: the panel says so, with the server's reason.
    await xPicker0.selectOption('wall_time');
    await inPanel('[data-testid="state-empty"]');
    await expect(panel().locator('[data-testid="state-empty"]').textContent()).resolves.toContain(
      'against wall time',
    );
    await expect(panel().locator('[data-testid="metric-status"]').textContent()).resolves.toContain(
      'no wall_time',
    );
    await xPicker0.selectOption('step');
    await waitForSeries(4);
    await panel().locator('[data-testid="metric-select"]').selectOption('throughput');
    await inPanel('[data-testid="metric-chart"][data-series-count="4"] canvas');
    const xPicker = dash.page.locator('[data-testid="ws-x"]:visible, [data-testid="x-axis"]:visible').first();
    const cases: { x: string; tick: RegExp }[] = [
      { x: 'tokens', tick: /^(\d+(\.\d+)?[kMBT]|\d{1,3})$/ },
      { x: 'wall_time', tick: /\d\d:\d\d/ },
      { x: 'relative_time', tick: /^\d+:\d\d:\d\d$/ },
    ];
    for (const { x, tick } of cases) {
      const request = dash.page.waitForRequest((r) => bodyOf(r, 'metrics')?.x === x);
      await xPicker.selectOption(x);
      await request;
      await inPanel(`[data-testid="metric-chart"][data-x="${x}"][data-series-count="4"] canvas`, {
        timeout: 20_000,
      });
      const ticks = JSON.parse(String(await chart().getAttribute('data-x-ticks'))) as string[];
      expect(ticks.length).toBeGreaterThan(1);
      for (const t of ticks) expect(t).toMatch(tick);
      if (x === 'tokens') await panel().screenshot({ path: shot('web-chart-x-axis.png') });
    }
    // A zoom is in the axis's units: dragging on relative time asks for seconds.
    const over = chart().locator('.u-over');
    const box = await over.boundingBox();
    if (!box) throw new Error('no chart overlay');
    const [xMin, xMax] = String(await chart().getAttribute('data-x-range'))
      .split(':')
      .map(Number);
    const zoomed = dash.page.waitForRequest((r) => {
      const body = bodyOf(r, 'metrics');
      return body?.x === 'relative_time' && body.from !== undefined;
    });
    await dash.page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await dash.page.mouse.down();
    await dash.page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 6 });
    await dash.page.mouse.up();
    const body = bodyOf(await zoomed, 'metrics');
    const span = Number(xMax) - Number(xMin);
    expect(Number(body?.from)).toBeGreaterThan(Number(xMin) + span * 0.15);
    expect(Number(body?.to)).toBeLessThan(Number(xMin) + span * 0.6);
    const back = dash.page.waitForRequest((r) => {
      const b = bodyOf(r, 'metrics');
      return b !== undefined && b.x === undefined;
    });
    await xPicker.selectOption('step');
    await back;
    await waitForSeries(4);
  });

  it('expectation 10: envelopes (std, std. error, min–max, none) around group means', async () => {
    await openDashboard();
    await visible('runs-select-all').check();
    await waitForSeries(12);
    await visible('group-by-summary').click();
    const grouped = dash.page.waitForResponse((r) =>
      new URL(r.url()).pathname.endsWith('/api/metric-groups'),
    );
    await dash.page.locator('[data-testid="group-by-lr"]:visible').check();
    const answer = (await (await grouped).json()) as {
      groups: { mean: number[]; min: number[]; max: number[] }[];
    };
    expect(answer.groups).toHaveLength(3);
    await inPanel('[data-testid="metric-chart"][data-band-count="3"][data-series-count="3"] canvas');
    // Close the group-by popover, so it does not cover the chart.
    await dash.page.locator('[data-testid="group-by"][open]').evaluate((d) => d.removeAttribute('open'));
    const envelope = dash.page
      .locator('[data-testid="ws-envelope"]:visible, [data-testid="envelope"]:visible')
      .first();
    const status = panel().locator('[data-testid="metric-status"]');
    for (const [value, text, bands] of [
      ['minmax', 'min–max', 3],
      ['stderr', 'std. error', 3],
      ['none', 'mean only', 0],
      ['std', 'mean ± std', 3],
    ] as const) {
      await envelope.selectOption(value);
      await inPanel(
        `[data-testid="metric-chart"][data-envelope="${value}"][data-band-count="${bands}"][data-series-count="3"] canvas`,
      );
      await expect(status.textContent()).resolves.toContain(text);
      if (value === 'minmax') {
        await panel().screenshot({ path: shot('web-chart-envelope.png') });
        // The tooltip gives a group's mean and its min–max at the cursor.
        const box = await chart().locator('.u-over').boundingBox();
        if (!box) throw new Error('no chart overlay');
        await dash.page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 3 });
        const row = panel().locator('[data-testid="tooltip-row"]').first();
        await row.waitFor();
        const mean = Number(await row.getAttribute('data-value'));
        const [lo, hi] = String(await row.locator('.tooltip-detail').textContent())
          .split(' – ')
          .map(Number);
        expect(lo).toBeLessThanOrEqual(mean + 1e-3);
        expect(hi).toBeGreaterThanOrEqual(mean - 1e-3);
        expect(Number(hi) - Number(lo)).toBeGreaterThan(0);
        await dash.page.mouse.move(box.x + box.width / 2, box.y + box.height + 200);
      }
    }
  });

  it('expectation 10: robust y clips the range to the 1st–99th percentile and says so', async () => {
    await openDashboard();
    const [, fullMax] = String(await chart().getAttribute('data-y-range'))
      .split(':')
      .map(Number);
    await panel().locator('[data-testid="robust-y"]').check();
    await inPanel('[data-testid="metric-chart"][data-robust-y="true"] canvas');
    const [, robustMax] = String(await chart().getAttribute('data-y-range'))
      .split(':')
      .map(Number);
    // The demo's loss starts high and falls fast: the first points are above the 99th percentile.
    expect(Number(robustMax)).toBeLessThan(Number(fullMax));
    await expect(panel().locator('[data-testid="metric-status"]').textContent()).resolves.toContain(
      'clipped to the 1st–99th percentile',
    );
    await panel().locator('[data-testid="robust-y"]').uncheck();
    await inPanel('[data-testid="metric-chart"][data-robust-y="false"] canvas');
  });

  it('expectation 8: exports the chart as a PNG and as an SVG with one polyline per visible run', async () => {
    await openDashboard();
    // Hide one run: the exports draw the visible ones.
    await panel().locator('[data-testid="legend-item"]').first().click();
    await inPanel('[data-testid="metric-chart"][data-visible-count="3"] canvas');
    const canvasWidth = await chart()
      .locator('canvas')
      .evaluate((c) => (c as unknown as { width: number }).width);

    const pngDownload = dash.page.waitForEvent('download');
    await panel().locator('[data-testid="export-png"]').click();
    const png = await pngDownload;
    expect(png.suggestedFilename()).toBe('loss.png');
    const pngPath = await png.path();
    const bytes = readFileSync(pngPath);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(bytes.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect(bytes.readUInt32BE(16)).toBe(canvasWidth);
    // Taller than the chart: the title above and the legend below are drawn in.
    expect(bytes.readUInt32BE(20)).toBeGreaterThan(380);

    const svgDownload = dash.page.waitForEvent('download');
    await panel().locator('[data-testid="export-svg"]').click();
    const svg = await svgDownload;
    expect(svg.suggestedFilename()).toBe('loss.svg');
    const text = readFileSync(await svg.path(), 'utf8');
    const parsed = await dash.page.evaluate((source) => {
      const g = globalThis as unknown as {
        DOMParser: new () => {
          parseFromString(
            s: string,
            type: string,
          ): {
            querySelector(s: string): unknown;
            querySelectorAll(s: string): { length: number };
            documentElement: { tagName: string };
          };
        };
      };
      const doc = new g.DOMParser().parseFromString(source, 'image/svg+xml');
      return {
        error: doc.querySelector('parsererror') !== null,
        root: doc.documentElement.tagName,
        series: doc.querySelectorAll('polyline.series').length,
        ticks: doc.querySelectorAll('text.tick').length,
        legend: doc.querySelectorAll('g.legend text').length,
      };
    }, text);
    expect(parsed).toMatchObject({ error: false, root: 'svg', series: 3, legend: 3 });
    expect(parsed.ticks).toBeGreaterThan(4);
    await panel().locator('[data-testid="legend-item"][data-hidden="true"]').click();
    await inPanel('[data-testid="metric-chart"][data-visible-count="4"] canvas');
  });

  it('dark mode: the axes are drawn in the page’s --fg colour, redrawn on runlake:themechange', async () => {
    await openDashboard();
    await dash.page.evaluate(() => {
      const g = globalThis as unknown as {
        __styles: string[];
        CanvasRenderingContext2D: { prototype: { fillText: (...a: unknown[]) => void; fillStyle: string } };
      };
      g.__styles = [];
      const proto = g.CanvasRenderingContext2D.prototype;
      const fill = proto.fillText;
      proto.fillText = function (this: { fillStyle: string }, ...args: unknown[]) {
        g.__styles.push(this.fillStyle);
        return fill.apply(this, args);
      };
    });
    await redraw(() =>
      dash.page.evaluate(() => {
        const doc = (
          globalThis as unknown as {
            document: {
              documentElement: { style: { setProperty(n: string, v: string): void } };
              dispatchEvent(e: unknown): void;
            };
          }
        ).document;
        doc.documentElement.style.setProperty('--fg', 'rgb(1, 2, 3)');
        const E = (globalThis as unknown as { Event: new (t: string) => unknown }).Event;
        doc.dispatchEvent(new E('runlake:themechange'));
      }),
    );
    const styles = await dash.page.evaluate(() => (globalThis as unknown as { __styles: string[] }).__styles);
    expect(styles).toContain('#010203');
  });
});

describe('metric chart helpers', () => {
  it('labels log ticks without "null" and ends log ranges at the data', () => {
    expect(tickLabels([10, null, 30], (v) => String(v))).toEqual(['10', '', '30']);
    expect(logRange(10, 2000)).toEqual([10, 2000]);
    expect(logRange(13, 1870)).toEqual([10, 2000]);
    expect(logRange(0.0031, 0.87)).toEqual([0.003, 0.9]);
  });

  it('formats tokens and durations, and clips a robust range', () => {
    expect(formatCount(1_234_000)).toBe('1.23M');
    expect(formatCount(3_400_000_000)).toBe('3.4B');
    expect(formatDuration(3725)).toBe('1:02:05');
    const values = [...Array.from({ length: 99 }, (_, i) => i + 1), 1e6];
    const range = robustRange([values], false);
    expect(range?.[1]).toBeLessThan(200);
  });

  it('picks loss first and never a W&B bookkeeping metric when another exists', () => {
    const m = (...names: string[]) => names.map((metric_name) => ({ metric_name }));
    expect(defaultMetric(m('_runtime', '_step', 'acc', 'train/loss'))).toBe('train/loss');
    expect(defaultMetric(m('_runtime', 'acc', 'loss', 'val_loss'))).toBe('loss');
    expect(defaultMetric(m('_runtime', '_timestamp', 'acc'))).toBe('acc');
    expect(defaultMetric(m('_runtime'))).toBe('_runtime');
  });
});

import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachGridId, writeEventRows, writeSeedRows } from '../src/index.js';
import {
  artifactPath,
  browser,
  launchChromium,
  type ServeProcess,
  serveLake,
  type TestBrowser,
} from './helpers/browser.js';
import { tempDir } from './helpers/lake-fixtures.js';

// The dashboard's Sweep view (web/dist, built by the global setup) against `runlake serve` on a
// sweep lake: 6 grids (algo × lr) × 3 seeds × 150 events with `loss` and `acc` over `step` and
// `event_id`, and a sweep lake with seeds but no events yet for the empty state.

const ALGOS = ['adam', 'sgd'];
const LRS = [0.001, 0.01, 0.1];
const SEEDS = [0, 1, 2];
const EVENTS = 150;

interface GridAnswer {
  grids: { grid_id: string; final: number | null; best: number | null; params: Record<string, unknown> }[];
}

describe.skipIf(browser.skip)('web dashboard: the Sweep view', () => {
  const dir = tempDir('runlake-web-sweep-');
  const emptyDir = tempDir('runlake-web-sweep-empty-');
  let served: ServeProcess;
  let emptyServed: ServeProcess;
  let chromium: TestBrowser;
  const problems: string[] = [];

  const grids = () => ALGOS.length * LRS.length;
  const chart = (page: Page) => page.locator('[data-testid="metric-chart"]');
  const rowIds = (page: Page) =>
    page
      .locator('[data-testid="grids-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-grid-id')));
  const noOverflow = async (page: Page) => {
    // A string expression: this file is type-checked without the DOM library.
    const [scroll, client] = (await page.evaluate(
      '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
    )) as [number, number];
    expect(scroll).toBeLessThanOrEqual(client);
  };
  const openPage = async (width: number, url = served.url): Promise<Page> => {
    const page = await chromium.context.newPage();
    await page.setViewportSize({ width, height: 900 });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${width}px console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`${width}px page error: ${error.message}`));
    await page.goto(url);
    await page.waitForSelector('[data-testid="lake-summary"]');
    return page;
  };
  /** Waits for the curves chart to report `count` main series with `bands` bands. */
  const waitForCurves = (page: Page, count: number, bands: number) =>
    page.waitForSelector(
      `[data-testid="metric-chart"][data-series-count="${count}"][data-band-count="${bands}"] canvas`,
      { timeout: 20_000 },
    );

  beforeAll(async () => {
    let g = 0;
    for (const algo of ALGOS) {
      for (const lr of LRS) {
        const params = attachGridId({ algo, lr, width: 64 });
        const events: Record<string, unknown>[] = [];
        for (const seed of SEEDS) {
          for (let i = 0; i < EVENTS; i++) {
            events.push({
              seed,
              step: i * 10,
              event_id: i,
              op: i % 7 === 0 ? 'delete' : 'insert',
              loss: (1 + g) / Math.sqrt(i + 1) + 0.02 * seed,
              acc: 0.5 + (0.4 * i) / EVENTS - 0.01 * g + 0.005 * seed,
            });
          }
        }
        await writeEventRows(events, dir, params);
        await writeSeedRows(
          SEEDS.map((seed) => ({ seed, final_loss: (1 + g) / Math.sqrt(EVENTS) + 0.02 * seed })),
          dir,
          params,
        );
        g++;
      }
    }
    // A sweep lake whose training wrote its seed summaries but no event rows yet.
    await writeSeedRows([{ seed: 0, final_loss: 0.5 }], emptyDir, attachGridId({ algo: 'adam', lr: 0.1 }));
    served = await serveLake(dir);
    emptyServed = await serveLake(emptyDir);
    chromium = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await chromium?.close();
    await served?.stop();
    await emptyServed?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(emptyDir, { recursive: true, force: true });
  });

  it('opens the Sweep view at 1400 px: bands per grid, metric and group-by switch, the table sorts, the scatter draws', async () => {
    const page = await openPage(1400);
    await expect(page.locator('[data-testid="tab-sweep"]').isVisible()).resolves.toBe(true);
    await expect(page.locator('[data-testid="tab-runs"]').isVisible()).resolves.toBe(false);
    expect(await page.locator('text=has no runs dataset').count()).toBe(0);

    // Every grid listed; the first screen draws them all (6 ≤ 8), one band per grid.
    await page.waitForSelector('[data-testid="grids-row"]');
    expect(await rowIds(page)).toHaveLength(grids());
    await waitForCurves(page, grids(), grids());
    await expect(page.locator('[data-testid="sweep-x"]').inputValue()).resolves.toBe('event_id');

    // Another metric: accuracy's best is its maximum, and the curves and table follow.
    const curves = page.waitForRequest(
      (r) => r.url().endsWith('/api/sweep/curves') && r.postDataJSON()?.metric === 'acc',
    );
    const table = page.waitForResponse((r) => r.url().includes('/api/sweep/grids?metric=acc'));
    await page.locator('[data-testid="metric-select"]').selectOption('acc');
    await curves;
    await table;
    await expect(page.locator('[data-testid="best-toggle"]').inputValue()).resolves.toBe('max');
    await waitForCurves(page, grids(), grids());

    // Group by algo instead of grid: two bands, each over 3 grids × 3 seeds.
    await page.locator('[data-testid="group-by-summary"]').click();
    await page.locator('[data-testid="group-by-grid_id"]').uncheck();
    await page.locator('[data-testid="group-by-algo"]').check();
    await waitForCurves(page, 2, 2);
    await expect(chart(page).getAttribute('data-drawn-runs')).resolves.toBe(String(grids() * SEEDS.length));
    const legend = await page.locator('[data-testid="legend-item"]').allTextContents();
    expect(legend.join(' ')).toMatch(/algo=adam \(n=9\).*algo=sgd \(n=9\)/);
    await page.locator('[data-testid="group-by-summary"]').click();

    // Back to loss over step; the x column reaches the axis and the request.
    const byStep = page.waitForRequest(
      (r) => r.url().endsWith('/api/sweep/curves') && r.postDataJSON()?.x === 'step',
    );
    await page.locator('[data-testid="metric-select"]').selectOption('loss');
    await page.locator('[data-testid="sweep-x"]').selectOption('step');
    await byStep;
    await waitForCurves(page, 2, 2);

    // The table sorts by final loss, both ways, as the server's numbers order it.
    const answer = (await (
      await fetch(new URL('api/sweep/grids?metric=loss&x=step&best=min', served.url))
    ).json()) as GridAnswer;
    const byFinal = [...answer.grids].sort((a, b) => (a.final ?? 0) - (b.final ?? 0)).map((g) => g.grid_id);
    await page.waitForSelector('[data-testid="grids-header"][data-column="final"]');
    await page.locator('[data-testid="grids-header"][data-column="final"]').click();
    await expect.poll(() => rowIds(page)).toEqual(byFinal);
    await page.locator('[data-testid="grids-header"][data-column="final"]').click();
    await expect.poll(() => rowIds(page)).toEqual([...byFinal].reverse());
    // By a text parameter: adam before sgd.
    await page.locator('[data-testid="grids-header"][data-column="param:algo"]').click();
    const algos = await page
      .locator('[data-testid="grids-row"] td[data-column="param:algo"]')
      .allTextContents();
    expect(algos).toEqual([...algos].sort());

    // Clicking a grid hides its curves; the group keeps the other grids' seeds.
    const first = (await rowIds(page))[0] as string;
    await page.locator(`[data-testid="grids-row"][data-grid-id="${first}"]`).click();
    await expect
      .poll(() => chart(page).getAttribute('data-drawn-runs'))
      .toBe(String((grids() - 1) * SEEDS.length));
    await expect(
      page.locator(`[data-testid="grids-row"][data-grid-id="${first}"]`).getAttribute('class'),
    ).resolves.not.toContain('selected');

    // The scatter: one point per grid, then per seed; hovering names the grid and its params.
    const scatter = page.locator('[data-testid="scatter-chart"]');
    await expect.poll(() => scatter.getAttribute('data-point-count')).toBe(String(grids()));
    await page.locator('[data-testid="scatter-param"]').selectOption('lr');
    await page.locator('[data-testid="scatter-unit"]').selectOption('seed');
    await expect.poll(() => scatter.getAttribute('data-point-count')).toBe(String(grids() * SEEDS.length));
    // Positions are in viewport pixels: bring the chart into view before reading them.
    await scatter.scrollIntoViewIfNeeded();
    const points = (await page.evaluate('window.runlake.sweep?.scatter?.pointsOnPage() ?? []')) as {
      gridId: string;
      x: number;
      y: number;
    }[];
    expect(points).toHaveLength(grids() * SEEDS.length);
    const target = points[Math.floor(points.length / 2)] as { gridId: string; x: number; y: number };
    await page.mouse.move(target.x - 20, target.y - 20);
    await page.mouse.move(target.x, target.y, { steps: 4 });
    const tooltip = page.locator('[data-testid="scatter-tooltip"]');
    await expect.poll(() => tooltip.isVisible()).toBe(true);
    const tip = await tooltip.textContent();
    const grid = answer.grids.find((g) => g.grid_id === target.gridId);
    expect(tip).toContain(target.gridId);
    expect(tip).toContain(`lr=${grid?.params.lr}`);
    expect(await page.locator('[data-testid="scatter-chart"] .u-axis').count()).toBeGreaterThanOrEqual(2);
    expect(await page.locator('[data-testid="scatter-chart"]').textContent()).toContain('lr');

    await noOverflow(page);
    await page.screenshot({ path: artifactPath('dashboard-sweep.png'), fullPage: true });
    await page.close();
    expect(problems).toEqual([]);
  }, 120_000);

  it('fits 800 px: curves, table and scatter without horizontal overflow', async () => {
    const page = await openPage(800);
    await page.waitForSelector('[data-testid="grids-row"]');
    await waitForCurves(page, grids(), grids());
    await expect
      .poll(() => page.locator('[data-testid="scatter-chart"]').getAttribute('data-point-count'))
      .toBe(String(grids()));
    const canvasWidth = await page
      .locator('[data-testid="metric-chart"] canvas')
      .first()
      .evaluate((c) => c.getBoundingClientRect().width);
    expect(canvasWidth).toBeLessThanOrEqual(800);
    await noOverflow(page);
    await page.screenshot({ path: artifactPath('dashboard-sweep-800.png'), fullPage: true });
    await page.close();
    expect(problems).toEqual([]);
  }, 60_000);

  it('a sweep lake without events points to commands that write events, not to import … runs', async () => {
    const page = await openPage(1400, emptyServed.url);
    await expect(page.locator('[data-testid="tab-sweep"]').isVisible()).resolves.toBe(true);
    await page.waitForSelector('[data-testid="sweep-view"] [data-testid="state-empty"]');
    const text = (await page.locator('[data-testid="sweep-view"]').textContent()) ?? '';
    expect(text).toContain('runlake convert <csv-dir> <lake>');
    expect(text).toContain('writeEventRows');
    expect(text).not.toMatch(/import .* runs/);
    await page.close();
    expect(problems).toEqual([]);
  }, 60_000);
});

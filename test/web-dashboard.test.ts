import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import { artifactPath, browser, serveLake, useServedDashboard } from './helpers/browser.js';

// The dashboard (web/dist, built by the global setup) against `runlake serve` on the demo lake:
// 12 runs in three lr grids (tiny-lr0.0003-s0..s3 probed; tiny-lr0.001-* and tiny-lr0.003-* with
// metrics only), loss/lr/grad_norm with 201 points each, geometry for the probed runs' 4 layers ×
// resid_post/mlp_out with detected events, signatures and matches.

const TOKEN = 'dash-token-42';

interface QueryAnswer<Row> {
  rows: Row[];
}

/** What the dashboard POSTs to `/api/metrics` and `/api/metric-groups`. */
interface MetricBody {
  run: string[];
  metric: string;
  width: number;
  from?: number;
  to?: number;
  smoothing?: number;
  by?: string[];
}

/** The JSON body of a POST to `/api/<endpoint>`, or undefined for any other request. */
function bodyOf(request: Request, endpoint: string): MetricBody | undefined {
  const posted = request.method() === 'POST' && new URL(request.url()).pathname.endsWith(`/api/${endpoint}`);
  return posted ? (request.postDataJSON() as MetricBody) : undefined;
}

describe.skipIf(browser.skip)('web dashboard over runlake serve', () => {
  const dash = useServedDashboard({ prefix: 'runlake-dashboard-' });
  // The names the tests below use, over the fixture's getters.
  const { dir } = dash;
  const served = dash;
  const chromium = dash;
  let lakeDir = '';
  let page: Page;
  beforeAll(() => {
    ({ lakeDir, page } = dash);
  });

  const sql = async <Row>(text: string): Promise<Row[]> => {
    const response = await fetch(new URL(`api/query?sql=${encodeURIComponent(text)}`, served.url));
    expect(response.status).toBe(200);
    return ((await response.json()) as QueryAnswer<Row>).rows;
  };
  /** The loss panel's chart: the runs view is a workspace of panels, one per metric (loss first). */
  const LOSS_CHART = '[data-testid="ws-panel"][data-metric="loss"] [data-testid="metric-chart"]';
  const chart = () => page.locator(LOSS_CHART);
  /** Waits until the loss chart reports `count` series drawn. */
  const waitForSeries = async (count: number) => {
    await page.waitForSelector(`${LOSS_CHART}[data-series-count="${count}"] canvas`, {
      timeout: 20_000,
    });
  };
  /** The workspace toolbar, whose settings apply to every panel. */
  const toolbar = () => page.locator('[data-testid="ws-toolbar"]');
  const openDashboard = async (hash = '') => {
    await page.goto(`${served.url}${hash}`);
    await page.waitForSelector('[data-testid="lake-summary"]');
  };

  it('loads: the lake header and a runs table with the 12 demo runs', async () => {
    await openDashboard();
    const summary = page.locator('[data-testid="lake-summary"]');
    await expect(summary.getAttribute('data-schema-set')).resolves.toBe('squiggle');
    const runsChip = page.locator('[data-testid="dataset-chip"][data-dataset="runs"]');
    await expect(runsChip.getAttribute('data-rows')).resolves.toBe('12');
    await page.waitForSelector('[data-testid="runs-row"]');
    const ids = await page
      .locator('[data-testid="runs-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
    expect(ids).toEqual(
      ['0.0003', '0.001', '0.003'].flatMap((lr) => [0, 1, 2, 3].map((seed) => `tiny-lr${lr}-s${seed}`)),
    );
    // One column per run field and per grid parameter.
    const headers = await page
      .locator('[data-testid="runs-header"]')
      .evaluateAll((ths) => ths.map((th) => th.getAttribute('data-column')));
    expect(headers).toEqual(expect.arrayContaining(['run_id', 'seed', 'params.lr', 'params.model']));
    await page.screenshot({ path: artifactPath('dashboard.png'), fullPage: true });
  });

  it('draws one uPlot series per selected run, and 2 when 2 of 12 are selected', async () => {
    await openDashboard();
    await page.locator('[data-testid="runs-select-all"]').check();
    await waitForSeries(12);
    await expect(chart().getAttribute('data-drawn-runs')).resolves.toBe('12');
    expect(await page.locator(`${LOSS_CHART} canvas`).count()).toBe(1);
    const drawnAt = Number(await page.locator('body').getAttribute('data-metrics-drawn-ms'));
    expect(drawnAt).toBeGreaterThan(0);
    expect(
      await page.evaluate(() => performance.getEntriesByName('runlake:metrics-drawn').length),
    ).toBeGreaterThan(0);

    const sent: MetricBody[] = [];
    const record = (r: Request) => {
      const body = bodyOf(r, 'metrics');
      if (body) sent.push(body);
    };
    page.on('request', record);
    const request = page.waitForRequest((r) => bodyOf(r, 'metrics') !== undefined);
    await page.locator('[data-testid="runs-clear"]').click();
    const boxes = page.locator('[data-testid="runs-row"] [data-testid="run-checkbox"]');
    await boxes.nth(1).click();
    await request;
    await boxes.nth(3).click();
    await waitForSeries(2);
    await expect(chart().getAttribute('data-drawn-runs')).resolves.toBe('2');
    await expect(page.locator('[data-testid="runs-count"]').textContent()).resolves.toContain('2 selected');
    page.off('request', record);
    // The series really are those two runs: the last metrics request names exactly them.
    expect(sent.at(-1)?.run).toEqual(['tiny-lr0.0003-s1', 'tiny-lr0.0003-s3']);
  });

  it('keeps runs picked while the metric names are still loading', async () => {
    const slow = await chromium.context.newPage();
    try {
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      await slow.route('**/api/metric-names', async (route) => {
        await held;
        await route.continue();
      });
      await slow.goto(served.url);
      await slow.waitForSelector('[data-testid="runs-row"]');
      await slow.locator('[data-testid="runs-select-all"]').check();
      release();
      await slow.waitForSelector(`${LOSS_CHART}[data-series-count="12"] canvas`, {
        timeout: 20_000,
      });
      await expect(slow.locator('[data-testid="runs-count"]').textContent()).resolves.toContain(
        '12 selected',
      );
    } finally {
      await slow.close();
    }
  });

  it('filters the runs table by key=value and by text, and sorts on a header click', async () => {
    await openDashboard();
    await page.waitForSelector('[data-testid="runs-row"]');
    const table = page.locator('[data-testid="runs-table"]');
    await page.locator('[data-testid="runs-filter"]').fill('seed=2');
    await page.waitForSelector('[data-testid="runs-table"][data-row-count="3"]');
    await page.locator('[data-testid="runs-filter"]').fill('seed=2 lr=0.0003');
    await page.waitForSelector('[data-testid="runs-table"][data-row-count="1"]');
    await expect(page.locator('[data-testid="runs-row"]').getAttribute('data-run-id')).resolves.toBe(
      'tiny-lr0.0003-s2',
    );
    await page.locator('[data-testid="runs-filter"]').fill('lr=0.0003 s3');
    await page.waitForSelector('[data-testid="runs-table"][data-row-count="1"]');
    await page.locator('[data-testid="runs-filter"]').fill('lr=0.1');
    await page.waitForSelector('[data-testid="runs-table"][data-row-count="0"]');
    await page.locator('[data-testid="runs-filter"]').fill('');
    await page.waitForSelector('[data-testid="runs-table"][data-row-count="12"]');
    expect(await table.getAttribute('data-row-count')).toBe('12');
    const seedHeader = page.locator('[data-testid="runs-header"][data-column="seed"]');
    await seedHeader.click();
    await seedHeader.click();
    await expect(seedHeader.getAttribute('aria-sort')).resolves.toBe('descending');
    await expect(
      page.locator('[data-testid="runs-row"]').first().getAttribute('data-run-id'),
    ).resolves.toMatch(/-s3$/);
  });

  it('keeps 1500 runs responsive: only the rows in view are in the DOM, select-all takes the filtered runs', async () => {
    const many = await chromium.context.newPage();
    try {
      const runs = Array.from({ length: 1500 }, (_, i) => ({
        run_id: `r${String(i).padStart(4, '0')}`,
        seed: i % 50,
        status: i % 7 === 0 ? 'failed' : 'finished',
        params: { lr: [1e-4, 3e-4, 1e-3][i % 3], model: i % 2 ? 'small' : 'tiny' },
      }));
      await many.route('**/api/runs', (route) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify({ runs, truncated: false }) }),
      );
      await many.goto(served.url);
      await many.waitForSelector('[data-testid="runs-table"][data-row-count="1500"]');
      expect(await many.locator('[data-testid="runs-row"]').count()).toBeLessThan(80);
      await many.locator('.runs-scroll').evaluate((el) => {
        el.scrollTop = el.scrollHeight;
      });
      await many.waitForSelector('[data-testid="runs-row"][data-run-id="r1499"]');
      expect(await many.locator('[data-testid="runs-row"]').count()).toBeLessThan(80);

      const started = Date.now();
      await many.locator('[data-testid="runs-filter"]').fill('lr=0.001 model=tiny status!=failed');
      // i % 3 == 2 and i even and i % 7 != 0: 250 runs with lr 1e-3 and tiny, less the failed ones.
      const expected = runs.filter(
        (r) => r.params.lr === 1e-3 && r.params.model === 'tiny' && r.status !== 'failed',
      ).length;
      await many.waitForSelector(`[data-testid="runs-table"][data-row-count="${expected}"]`);
      expect(Date.now() - started).toBeLessThan(2000);
      // The page starts with the first 4 runs selected; clear them so select-all is all there is.
      await many.locator('[data-testid="runs-clear"]').click();
      await many.locator('[data-testid="runs-select-all"]').check();
      await expect(many.locator('[data-testid="runs-count"]').textContent()).resolves.toContain(
        `${expected} selected`,
      );
    } finally {
      await many.close();
    }
  });

  it('refetches the zoomed range with from/to on a drag, and the full range on a double-click', async () => {
    await openDashboard();
    await waitForSeries(4);
    const over = page.locator(`${LOSS_CHART} .u-over`);
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    if (!box) throw new Error('no chart overlay');
    const zoomed = page.waitForRequest((r) => {
      const body = bodyOf(r, 'metrics');
      return body?.from !== undefined && body.to !== undefined;
    });
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    const request = bodyOf(await zoomed, 'metrics');
    const from = Number(request?.from);
    const to = Number(request?.to);
    // The demo's steps run 0..2000: a drag over 25%–40% of the plot asks for about 500..800.
    expect(from).toBeGreaterThan(300);
    expect(to).toBeLessThan(1000);
    expect(to).toBeGreaterThan(from);
    await page.waitForSelector(`${LOSS_CHART}[data-zoomed="${from}:${to}"]`);
    await page.screenshot({ path: artifactPath('dashboard-zoomed.png') });

    const reset = page.waitForRequest((r) => {
      const body = bodyOf(r, 'metrics');
      return body !== undefined && body.from === undefined;
    });
    await page.locator(`${LOSS_CHART} .u-over`).dblclick();
    await reset;
    await page.waitForSelector(`${LOSS_CHART}[data-zoomed=""]`);
  });

  it('sends the smoothing weight to the server', async () => {
    await openDashboard();
    await waitForSeries(4);
    const smoothed = page.waitForRequest((r) => bodyOf(r, 'metrics')?.smoothing === 0.6);
    await toolbar().locator('[data-testid="smoothing-slider"]').fill('0.6');
    await smoothed;
    await waitForSeries(4);
  });

  it('refetches at the new width when the window grows, so columns stay one pixel wide', async () => {
    await page.setViewportSize({ width: 900, height: 900 });
    try {
      const first = page.waitForRequest((r) => bodyOf(r, 'metrics') !== undefined);
      await openDashboard();
      const narrow = Number(bodyOf(await first, 'metrics')?.width);
      await waitForSeries(4);
      const wider = page.waitForRequest((r) => Number(bodyOf(r, 'metrics')?.width) > narrow * 1.2);
      await page.setViewportSize({ width: 1400, height: 900 });
      expect(Number(bodyOf(await wider, 'metrics')?.width)).toBeGreaterThan(narrow * 1.2);
      await waitForSeries(4);
    } finally {
      await page.setViewportSize({ width: 1400, height: 900 });
    }
  });

  it('groups by a parameter: one mean ± std band per group', async () => {
    await openDashboard();
    await waitForSeries(4);
    await page.locator('[data-testid="runs-select-all"]').check();
    await waitForSeries(12);
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/metric-groups'));
    await toolbar().locator('[data-testid="group-by-summary"]').click();
    await toolbar().locator('[data-testid="group-by-lr"]').check();
    const response = await answer;
    expect(response.status()).toBe(200);
    const body = (await response.json()) as { groups: { key: Record<string, unknown>; runs: string[] }[] };
    // Three learning rates, four seeds each.
    expect(body.groups.map((g) => g.key)).toEqual([{ lr: 3e-4 }, { lr: 1e-3 }, { lr: 3e-3 }]);
    expect(body.groups.map((g) => g.runs.length)).toEqual([4, 4, 4]);
    const groups = body.groups.length;
    await page.waitForSelector(`${LOSS_CHART}[data-band-count="${groups}"] canvas`);
    await expect(chart().getAttribute('data-series-count')).resolves.toBe(String(groups));
    await expect(chart().getAttribute('data-drawn-runs')).resolves.toBe('12');
    await page.screenshot({ path: artifactPath('dashboard-groups.png') });
    // The workspace (grouping, smoothing) is saved for the lake: start the next tests from the defaults.
    await page.locator('[data-testid="ws-reset"]').click();
  });

  it('draws an event marker where the lake has an event, on the matching layer × module chart', async () => {
    const [event] = await sql<{
      run_id: string;
      event_type: string;
      step: number;
      layer: number;
      module: string;
    }>(
      `SELECT run_id, event_type, step, layer, module FROM events
       WHERE event_type = 'rank_collapse' AND layer IS NOT NULL AND module IS NOT NULL
       ORDER BY run_id DESC, step LIMIT 1`,
    );
    if (!event) throw new Error('the demo lake has no rank_collapse event');
    await openDashboard('#geometry');
    await page.waitForSelector('[data-testid="geometry-chart"]');
    await page.locator('[data-testid="geometry-run"]').selectOption(event.run_id);
    const marker = page.locator(
      `[data-testid="geometry-chart"][data-layer="${event.layer}"][data-module="${event.module}"] ` +
        `.event-marker[data-event-type="${event.event_type}"][data-step="${event.step}"]`,
    );
    await marker.first().waitFor({ timeout: 20_000 });
    // It sits over the chart at the step's x position, and says what it is (its badge's label;
    // hovering or focusing it shows the same in a tooltip).
    const title = await marker.first().locator('.event-label').getAttribute('aria-label');
    expect(title).toContain(event.event_type);
    expect(title).toContain(`step ${event.step}`);
    const left = await marker
      .first()
      .evaluate((el) =>
        Number.parseFloat(el.getAttribute('style')?.match(/left:\s*([-\d.]+)px/)?.[1] ?? 'NaN'),
      );
    expect(left).toBeGreaterThan(0);
    // 4 layers × 2 modules.
    expect(await page.locator('[data-testid="geometry-chart"]').count()).toBe(8);
    await page.screenshot({ path: artifactPath('dashboard-geometry.png'), fullPage: true });
  });

  it('shows a signature’s top-k matches as a ranked list and overlays them aligned by DTW', async () => {
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/api/matches'));
    await openDashboard('#matches');
    const body = (await (await answer).json()) as {
      signature: { vector: number[] };
      matches: { aligned_vector: number[] | null }[];
    };
    // The server sends each candidate warped onto the query's points, and the chart draws those.
    expect(body.matches[0]?.aligned_vector).toHaveLength(body.signature.vector.length);
    await page.waitForSelector('[data-testid="match-chart"][data-aligned="true"] canvas');
    await page.waitForSelector('[data-testid="match-item"]', { timeout: 20_000 });
    expect(await page.locator('[data-testid="match-item"]').count()).toBe(5);
    const ranks = await page
      .locator('[data-testid="match-item"]')
      .evaluateAll((items) => items.map((i) => Number(i.getAttribute('data-rank'))));
    expect(ranks).toEqual([1, 2, 3, 4, 5]);
    await page.waitForSelector('[data-testid="match-chart"][data-series-count="6"] canvas');
    await page.locator('[data-testid="match-k"]').selectOption('3');
    await page.waitForSelector('[data-testid="match-chart"][data-series-count="4"] canvas');
    expect(await page.locator('[data-testid="match-item"]').count()).toBe(3);
    await page.screenshot({ path: artifactPath('dashboard-matches.png'), fullPage: true });
    await page.locator('[data-testid="match-align"]').uncheck();
    await page.waitForSelector(
      '[data-testid="match-chart"][data-aligned="false"][data-series-count="4"] canvas',
    );
  });

  it('shows an API error with its message, and a 401 as "needs a token"', async () => {
    const context = chromium.context;
    const errorPage = await context.newPage();
    await errorPage.route('**/api/metric-names', (route) =>
      route.fulfill({
        status: 500,
        contentType: 'application/json',
        body: JSON.stringify({ error: 'boom: the metrics view failed', kind: 'internal' }),
      }),
    );
    await errorPage.goto(served.url);
    const error = errorPage.locator('[data-testid="state-error"]');
    await error.waitFor();
    expect(await error.textContent()).toContain('boom: the metrics view failed');
    await errorPage.unroute('**/api/metric-names');

    await errorPage.route('**/api/**', (route) =>
      route.fulfill({
        status: 401,
        contentType: 'application/json',
        body: JSON.stringify({ error: 'the token is wrong', kind: 'unauthorized' }),
      }),
    );
    await errorPage.goto(served.url);
    const unauthorized = errorPage.locator('[data-testid="state-error"][data-kind="unauthorized"]');
    await unauthorized.waitFor();
    expect(await unauthorized.textContent()).toContain('?token=');
    await errorPage.screenshot({ path: artifactPath('dashboard-401.png') });
    await errorPage.close();
  });

  it('works behind --token when opened with ?token=, and is refused without it', async () => {
    const guarded = await serveLake(lakeDir, '--token', TOKEN);
    const tokenPage = await chromium.context.newPage();
    try {
      const refused = await tokenPage.goto(guarded.url);
      expect(refused?.status()).toBe(401);
      expect(await tokenPage.textContent('body')).toContain('needs a token');

      const requests: { url: string; auth: string | undefined }[] = [];
      tokenPage.on('request', (r) => {
        if (r.url().includes('/api/')) requests.push({ url: r.url(), auth: r.headers().authorization });
      });
      await tokenPage.goto(`${guarded.url}?token=${TOKEN}`);
      await tokenPage.waitForSelector(`${LOSS_CHART}[data-series-count="4"] canvas`, {
        timeout: 20_000,
      });
      expect(requests.length).toBeGreaterThan(0);
      for (const r of requests) expect(r.auth).toBe(`Bearer ${TOKEN}`);
    } finally {
      await tokenPage.close();
      await guarded.stop();
    }
  });

  it('says what to run on an empty lake', async () => {
    const emptyDir = path.join(dir, 'empty');
    mkdirSync(emptyDir);
    const lake = await openLake(emptyDir, { schema: 'squiggle' });
    lake.close();
    const emptyServed = await serveLake(emptyDir);
    const emptyPage = await chromium.context.newPage();
    try {
      await emptyPage.goto(emptyServed.url);
      const empty = emptyPage.locator('[data-testid="state-empty"]');
      await empty.first().waitFor();
      const text = await empty.first().textContent();
      expect(text).toContain('no runs');
      expect(text).toContain('runlake import <lake> runs runs.jsonl');
      expect(text).toContain('npm run demo');
      await emptyPage.goto(`${emptyServed.url}#geometry`);
      await emptyPage.waitForSelector('[data-testid="view-geometry"] [data-testid="state-empty"]');
      await emptyPage.goto(`${emptyServed.url}#matches`);
      const noSignatures = emptyPage.locator('[data-testid="view-matches"] [data-testid="state-empty"]');
      await noSignatures.first().waitFor();
      expect(await noSignatures.first().textContent()).toContain('runlake analyze');
      await emptyPage.screenshot({ path: artifactPath('dashboard-empty.png') });
    } finally {
      await emptyPage.close();
      await emptyServed.stop();
    }
  });
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  artifactPath,
  browser,
  type ServeProcess,
  serveLake,
  useServedDashboard,
} from './helpers/browser.js';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { repoRoot } from './helpers/lake-fixtures.js';

// The runs table (web/src/dashboard/runs-table.ts) in Chromium over the demo lake (12 runs: lr
// 0.0003/0.001/0.003 × seeds 0-3, loss/lr/grad_norm): the filter language and its errors, the
// empty result, filtered runs leaving the chart, summary columns computed in DuckDB, hide / pin /
// reorder, CSV export, saved views, the state API, float noise; and a W&B-ingested lake
// (test/fixtures/wandb): no empty leading columns, configs as parameter columns, group-by on
// config.lr. The W&B lake is a second, tiny `runlake serve` (its listRuns is what is under test).

const UPDATE_DOCS = process.env.UPDATE_DOC_IMAGES === '1';
const docImage = (name: string) =>
  UPDATE_DOCS ? path.join(repoRoot, 'docs', 'images', name) : artifactPath(name);

interface QueryAnswer<Row> {
  rows: Row[];
}

/** What the dashboard POSTs to `/api/metrics`. */
interface MetricBody {
  run: string[];
}

function metricsBody(request: Request): MetricBody | undefined {
  const posted = request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/api/metrics');
  return posted ? (request.postDataJSON() as MetricBody) : undefined;
}

/** The SQL of a POST /api/query, or undefined. */
function querySql(request: Request): string | undefined {
  const posted = request.method() === 'POST' && new URL(request.url()).pathname.endsWith('/api/query');
  return posted ? (request.postDataJSON() as { sql: string }).sql : undefined;
}

/** Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF records). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}

describe.skipIf(browser.skip)('runs table in Chromium', () => {
  const dash = useServedDashboard({ prefix: 'runlake-runs-table-' });
  let wandb: ServeProcess;

  const sql = async <Row>(text: string): Promise<Row[]> => {
    const response = await fetch(new URL(`api/query?sql=${encodeURIComponent(text)}`, dash.url));
    expect(response.status).toBe(200);
    return ((await response.json()) as QueryAnswer<Row>).rows;
  };
  const rowCount = (n: number) =>
    dash.page.waitForSelector(`[data-testid="runs-table"][data-row-count="${n}"]`);
  /** Types a filter and waits until the table has applied it. */
  const filter = async (text: string) => {
    await dash.page.locator('[data-testid="runs-filter"]').fill(text);
    await dash.page.waitForFunction(
      (applied) =>
        (
          globalThis as unknown as {
            document: { querySelector(s: string): { dataset: Record<string, string> } | null };
          }
        ).document.querySelector('[data-testid="runs-table"]')?.dataset.filter === applied,
      text.trim(),
    );
  };
  /** Types a filter the table refuses. */
  const badFilter = (text: string) => dash.page.locator('[data-testid="runs-filter"]').fill(text);
  const rowIds = () =>
    dash.page
      .locator('[data-testid="runs-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
  const headers = () =>
    dash.page
      .locator('[data-testid="runs-header"]')
      .evaluateAll((ths) => ths.map((th) => th.getAttribute('data-column')));
  const open = async (p: Page, url: string) => {
    await p.goto(url);
    await p.waitForSelector('[data-testid="runs-row"]');
  };

  // The second lake: the W&B fixture ingested, served beside the demo lake.
  beforeAll(async () => {
    const wandbLake = path.join(dash.dir, 'wandb');
    const ingest = spawnSync(
      process.execPath,
      [RUNLAKE_BIN, 'ingest', 'wandb', path.join(repoRoot, 'test', 'fixtures', 'wandb'), wandbLake],
      { encoding: 'utf8' },
    );
    expect(ingest.status, ingest.stderr).toBe(0);
    wandb = await serveLake(wandbLake);
  });

  afterAll(async () => {
    await wandb?.stop();
  });

  it('filters with the filter language: >=, <=, AND/OR/NOT, parentheses, regex on names, tags', async () => {
    await open(dash.page, dash.url);
    await rowCount(12);
    // Bug 2: `seed>=2` was read as seed > "=2" (a text comparison) and matched the wrong runs.
    await filter('seed>=2');
    await rowCount(6);
    expect(await rowIds()).toEqual(
      ['0.0003', '0.001', '0.003'].flatMap((lr) => [2, 3].map((s) => `tiny-lr${lr}-s${s}`)),
    );
    await filter('seed <= 1 AND lr<=0.001');
    await rowCount(4);
    await filter('(seed=0 OR seed=3) AND NOT lr=0.003');
    await rowCount(4);
    expect(await rowIds()).toEqual([
      'tiny-lr0.0003-s0',
      'tiny-lr0.0003-s3',
      'tiny-lr0.001-s0',
      'tiny-lr0.001-s3',
    ]);
    await filter('name ~ /seed=[12]$/ lr=0.0003');
    await rowCount(2);
    await filter('run_id !~ /-s[0-2]$/');
    await rowCount(3);
    const baseline = await sql<{ n: number }>(
      "SELECT count(*)::INT AS n FROM runs WHERE list_contains(tags, 'baseline')",
    );
    await filter('tag:baseline');
    await rowCount(baseline[0]?.n ?? -1);
    await filter('tags has diverges');
    await rowCount(1);
    expect(await rowIds()).toEqual(['tiny-lr0.0003-s2']);
    await filter('');
    await rowCount(12);
  });

  it('shows one clear error line for a bad filter and keeps the last good one (bug 2)', async () => {
    await open(dash.page, dash.url);
    const error = dash.page.locator('[data-testid="runs-filter-error"]');
    await filter('seed=1');
    await rowCount(3);
    expect(await error.isVisible()).toBe(false);
    // `lr>abc` used to show 0 runs without a word.
    await badFilter('seed=1 lr>abc');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe(
      'Filter not applied: lr>abc: "abc" is not a number (lr is a numeric column) (still showing seed=1)',
    );
    await rowCount(3);
    await expect(dash.page.locator('[data-testid="runs-filter"]').getAttribute('aria-invalid')).resolves.toBe(
      'true',
    );
    await badFilter('seed=1 bogus=2');
    await dash.page.waitForFunction(() =>
      /bogus=2: no column "bogus"/.test(
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
        ).document.querySelector('[data-testid="runs-filter-error"]')?.textContent ?? '',
      ),
    );
    await badFilter('run_id ~ /s[12/');
    await dash.page.waitForFunction(() =>
      /run_id ~ \/s\[12\/: bad regex: /.test(
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
        ).document.querySelector('[data-testid="runs-filter-error"]')?.textContent ?? '',
      ),
    );
    await rowCount(3);
    const box = await error.boundingBox();
    expect(box && box.y + box.height < 900 && box.x >= 0 && box.x < 1400).toBe(true);
    await dash.page
      .locator('.runs-section')
      .screenshot({ path: docImage('web-filter-error.png') })
      .catch(async () =>
        dash.page.screenshot({
          path: docImage('web-filter-error.png'),
          clip: { x: 0, y: 0, width: 1400, height: 520 },
        }),
      );
    await filter('seed=2');
    await rowCount(3);
    await error.waitFor({ state: 'hidden' });
  });

  it('says so visibly when nothing matches, with a clear-filter button (bug 2)', async () => {
    await open(dash.page, dash.url);
    await filter('lr=0.1');
    await rowCount(0);
    const empty = dash.page.locator('[data-testid="runs-empty"]');
    await empty.waitFor({ state: 'visible' });
    expect(await empty.textContent()).toContain('0 of 12 runs — no run matches lr=0.1');
    // In view at 1400×900: not centred in a cell thousands of pixels wide.
    const box = await empty.boundingBox();
    expect(box).not.toBeNull();
    expect((box?.x ?? -1) >= 0 && (box?.x ?? 0) + (box?.width ?? 0) <= 1400 && (box?.y ?? 900) < 900).toBe(
      true,
    );
    await dash.page.locator('[data-testid="runs-empty-clear"]').click();
    await rowCount(12);
    await expect(dash.page.locator('[data-testid="runs-filter"]').inputValue()).resolves.toBe('');
    expect(await empty.isVisible()).toBe(false);
  });

  it('stops plotting runs the filter hides, and brings them back when it is cleared (bug 2)', async () => {
    await open(dash.page, dash.url);
    await filter('');
    await dash.page.locator('[data-testid="runs-clear"]').click();
    await dash.page.locator('[data-testid="runs-select-all"]').check();
    await dash.page.waitForSelector('[data-testid="metric-chart"][data-series-count="12"] canvas', {
      timeout: 20_000,
    });
    const asked = dash.page.waitForRequest((r) => (metricsBody(r)?.run.length ?? 0) === 4);
    await filter('lr=0.001');
    const body = metricsBody(await asked);
    expect(body?.run).toEqual([0, 1, 2, 3].map((s) => `tiny-lr0.001-s${s}`));
    await dash.page.waitForSelector('[data-testid="metric-chart"][data-series-count="4"] canvas', {
      timeout: 20_000,
    });
    await expect(dash.page.locator('[data-testid="runs-count"]').textContent()).resolves.toBe(
      '4 of 12 runs · 12 selected (8 hidden by the filter)',
    );
    await filter('');
    await dash.page.waitForSelector('[data-testid="metric-chart"][data-series-count="12"] canvas', {
      timeout: 20_000,
    });
  });

  it('adds summary columns (final/min/max) from DuckDB in one query; sorts and filters on them', async () => {
    await open(dash.page, dash.url);
    const queries: string[] = [];
    const record = (r: Request) => {
      const text = querySql(r);
      if (text?.includes('metrics_scalar')) queries.push(text);
    };
    dash.page.on('request', record);
    await dash.page.locator('[data-testid="runs-columns-button"]').click();
    await dash.page.waitForSelector('[data-testid="summary-metric"] option[value="loss"]', {
      state: 'attached',
    });
    await dash.page.locator('[data-testid="summary-metric"]').selectOption('loss');
    await dash.page.locator('[data-testid="summary-stat"]').selectOption('min');
    await dash.page.locator('[data-testid="summary-add"]').click();
    await dash.page.waitForSelector('[data-testid="runs-table"][data-summaries="ready"]');
    await dash.page.locator('[data-testid="summary-stat"]').selectOption('final');
    await dash.page.locator('[data-testid="summary-add"]').click();
    await dash.page.waitForSelector('[data-testid="runs-header"][data-column="final:loss"]');
    await dash.page.waitForSelector('[data-testid="runs-table"][data-summaries="ready"]');
    // One statement for every run: the first column of a metric fetches its final, min and max,
    // so the second (final of the same metric) needs no query; another metric needs one more.
    expect(queries).toHaveLength(1);
    expect(queries[0]).toContain('min(value)');
    expect(queries[0]).toContain('arg_max(value, step)');
    await dash.page.locator('[data-testid="summary-metric"]').selectOption('grad_norm');
    await dash.page.locator('[data-testid="summary-stat"]').selectOption('max');
    await dash.page.locator('[data-testid="summary-add"]').click();
    await dash.page.waitForSelector('[data-testid="runs-header"][data-column="max:grad_norm"]');
    await dash.page.waitForSelector('[data-testid="runs-table"][data-summaries="ready"]');
    expect(queries).toHaveLength(2);
    expect(queries[1]).toContain("IN ('grad_norm')");
    await dash.page
      .locator('[data-testid="column-menu-item"][data-column="max:grad_norm"] [data-testid="column-remove"]')
      .click();
    await dash.page.keyboard.press('Escape');
    dash.page.off('request', record);
    expect(await headers()).not.toContain('max:grad_norm');

    const truth = await sql<{ run_id: string; final: number; min: number }>(
      "SELECT run_id, arg_max(value, step) AS final, min(value) AS min FROM metrics_scalar WHERE metric_name = 'loss' GROUP BY run_id ORDER BY run_id",
    );
    expect(truth).toHaveLength(12);
    const cells = await dash.page.locator('[data-testid="runs-row"]').evaluateAll((rows) =>
      rows.map((r) => {
        const ths = [...(r.closest('table')?.querySelectorAll('thead th') ?? [])];
        const col = (id: string) => ths.findIndex((th) => th.getAttribute('data-column') === id);
        const tds = r.querySelectorAll('td');
        return {
          id: r.getAttribute('data-run-id'),
          min: Number(tds[col('min:loss')]?.textContent),
          final: Number(tds[col('final:loss')]?.textContent),
        };
      }),
    );
    for (const t of truth) {
      const cell = cells.find((c) => c.id === t.run_id);
      expect(cell?.min).toBeCloseTo(t.min, 4);
      expect(cell?.final).toBeCloseTo(t.final, 4);
    }

    // Sort by final loss, ascending then descending.
    const header = dash.page.locator('[data-testid="runs-header"][data-column="final:loss"]');
    await header.click();
    const ascending = [...truth].sort((a, b) => a.final - b.final).map((t) => t.run_id);
    expect(await rowIds()).toEqual(ascending);
    await header.click();
    expect(await rowIds()).toEqual([...ascending].reverse());

    // Filter on a summary column.
    const median = Number(([...truth].sort((a, b) => a.final - b.final)[6]?.final ?? 0).toPrecision(3));
    await filter(`final:loss<${median}`);
    await rowCount(truth.filter((t) => t.final < median).length);
    await filter(`final:loss<${median} seed>=1`);
    await rowCount(truth.filter((t) => t.final < median && !t.run_id.endsWith('-s0')).length);
    await dash.page.screenshot({
      path: docImage('web-runs-table.png'),
      clip: { x: 0, y: 0, width: 1400, height: 560 },
    });
    await filter('');
  });

  it('hides, pins and reorders columns (buttons and keyboard), and exports the table as shown to CSV', async () => {
    await open(dash.page, dash.url);
    const menuItem = (id: string) =>
      dash.page.locator(`[data-testid="column-menu-item"][data-column="${id}"]`);
    await dash.page.locator('[data-testid="runs-columns-button"]').click();
    // Hide status.
    await menuItem('status').locator('[data-testid="column-visible"]').uncheck();
    expect(await headers()).not.toContain('status');
    // Pin seed: it moves right after the checkbox column and sticks when the table scrolls sideways.
    await menuItem('seed').locator('[data-testid="column-pin"]').click();
    expect((await headers())[0]).toBe('seed');
    // Move params.model left of params.lr (buttons), then run_id right with Alt+→ on its header.
    await menuItem('params.model').locator('[data-testid="column-left"]').click();
    let order = await headers();
    expect(order.indexOf('params.model')).toBeLessThan(order.indexOf('params.lr'));
    await dash.page.keyboard.press('Escape');
    await dash.page.locator('[data-testid="runs-header"][data-column="run_id"]').focus();
    await dash.page.keyboard.press('Alt+ArrowRight');
    order = await headers();
    expect(order.slice(0, 3)).toEqual(['seed', 'run_name', 'run_id']);
    await expect(
      dash.page.evaluate(() =>
        (
          globalThis as unknown as { document: { activeElement: { getAttribute(n: string): string } } }
        ).document.activeElement.getAttribute('data-column'),
      ),
    ).resolves.toBe('run_id');
    // Drag a header onto another: params.lr goes where params.model is.
    await dash.page
      .locator('[data-testid="runs-header"][data-column="params.lr"]')
      .dragTo(dash.page.locator('[data-testid="runs-header"][data-column="params.model"]'));
    order = await headers();
    expect(order.indexOf('params.lr')).toBeLessThan(order.indexOf('params.model'));
    const seedHeader = dash.page.locator('[data-testid="runs-header"][data-column="seed"]');
    const before = await seedHeader.boundingBox();
    await dash.page.locator('.runs-scroll').evaluate((el) => {
      el.scrollLeft = 400;
    });
    await dash.page.waitForFunction(() => true);
    const after = await seedHeader.boundingBox();
    expect(after?.x).toBeCloseTo(before?.x ?? -1, 0);

    await filter('lr=0.001 OR lr=0.003 seed>=2');
    await dash.page.locator('[data-testid="runs-header"][data-column="run_id"]').click();
    await dash.page.locator('[data-testid="runs-header"][data-column="run_id"]').click();
    const shown = await rowIds();
    const [download] = await Promise.all([
      dash.page.waitForEvent('download'),
      dash.page.locator('[data-testid="runs-csv"]').click(),
    ]);
    expect(download.suggestedFilename()).toBe('runs.csv');
    const file = artifactPath('runs-table.csv');
    await download.saveAs(file);
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    const csv = parseCsv(text);
    expect(csv[0]).toEqual(await headers());
    expect(csv.slice(1).map((r) => r[csv[0]?.indexOf('run_id') ?? 0])).toEqual(shown);
    // The tags list holds commas: quoted, so it stays one field.
    expect(text).toContain('"demo, metrics-only, baseline"');
    expect(csv.slice(1).every((r) => r.length === csv[0]?.length)).toBe(true);
    await filter('');

    // At 800 px the toolbar wraps and the menu opens towards the side with room, on screen.
    await dash.page.setViewportSize({ width: 800, height: 900 });
    try {
      await dash.page.locator('[data-testid="runs-columns-button"]').click();
      const menu = await dash.page.locator('[data-testid="column-menu"]').boundingBox();
      expect(menu && menu.x >= 0 && menu.x + menu.width <= 800).toBe(true);
      await dash.page.keyboard.press('Escape');
      expect(await dash.page.locator('[data-testid="column-menu"]').isVisible()).toBe(false);
    } finally {
      await dash.page.setViewportSize({ width: 1400, height: 900 });
    }
  });

  it('saves named views per lake and restores filter, columns and sort from the menu', async () => {
    await open(dash.page, dash.url);
    await filter('seed>=2');
    await rowCount(6);
    await dash.page.locator('[data-testid="runs-header"][data-column="seed"]').click();
    await dash.page.locator('[data-testid="runs-view-save"]').click();
    await dash.page.locator('[data-testid="runs-view-name"]').fill('late seeds');
    await dash.page.locator('[data-testid="runs-view-confirm"]').click();
    await filter('');
    await rowCount(12);
    // A reload keeps it (localStorage, keyed by the lake).
    await open(dash.page, dash.url);
    await dash.page.locator('[data-testid="runs-views"]').selectOption('late seeds');
    await rowCount(6);
    await expect(dash.page.locator('[data-testid="runs-filter"]').inputValue()).resolves.toBe('seed>=2');
    await expect(
      dash.page.locator('[data-testid="runs-header"][data-column="seed"]').getAttribute('aria-sort'),
    ).resolves.toBe('ascending');
    // Another lake does not see it.
    const other = await dash.context.newPage();
    try {
      await open(other, wandb.url);
      const options = await other.locator('[data-testid="runs-views"] option').allTextContents();
      expect(options).not.toContain('late seeds');
    } finally {
      await other.close();
    }
    await dash.page.locator('[data-testid="runs-view-delete"]').click();
    expect(await dash.page.locator('[data-testid="runs-views"] option').allTextContents()).not.toContain(
      'late seeds',
    );
  });

  it('has a state API (getState/setState; onStateChange reaches the URL), an external filter chip, and run_id links', async () => {
    await open(dash.page, dash.url);
    type Handle = {
      runlake: {
        table: {
          getState(): Record<string, unknown>;
          setState(s: Record<string, unknown>): void;
          setExternalFilter(ids: Set<string> | null, label?: string): void;
        };
      };
    };
    await dash.page.evaluate(() =>
      (globalThis as unknown as Handle).runlake.table.setState({
        filter: 'seed=1',
        sort: { column: 'params.lr', direction: 'desc' },
        hiddenColumns: ['status', 'tags'],
      }),
    );
    await rowCount(3);
    expect(await rowIds()).toEqual(['tiny-lr0.003-s1', 'tiny-lr0.001-s1', 'tiny-lr0.0003-s1']);
    expect(await headers()).not.toContain('status');
    const state = await dash.page.evaluate(() => (globalThis as unknown as Handle).runlake.table.getState());
    expect(state).toMatchObject({
      filter: 'seed=1',
      sort: { column: 'params.lr', direction: 'desc' },
      summaryColumns: [],
    });
    expect(state.hiddenColumns).toEqual(expect.arrayContaining(['status', 'tags']));

    await dash.page.evaluate(() =>
      (globalThis as unknown as Handle).runlake.table.setExternalFilter(
        new Set(['tiny-lr0.001-s1', 'tiny-lr0.001-s2']),
        'lr 0.001',
      ),
    );
    await rowCount(1);
    const chip = dash.page.locator('[data-testid="runs-external-filter"]');
    expect(await chip.textContent()).toContain('brushed: lr 0.001');
    await dash.page.locator('[data-testid="runs-external-clear"]').click();
    await rowCount(3);
    expect(await chip.isVisible()).toBe(false);

    // A change made by hand reaches onStateChange: the page's URL state carries it to a new page.
    await filter('seed>=2 lr<=0.001');
    await dash.page.locator('[data-testid="runs-header"][data-column="seed"]').click();
    await dash.page.waitForFunction(
      (hash) => (globalThis as unknown as { location: { hash: string } }).location.hash !== hash,
      new URL(dash.page.url()).hash,
    );
    const shared = dash.page.url();
    const other = await dash.context.newPage();
    try {
      await other.goto(shared);
      await other.waitForSelector('[data-testid="runs-table"][data-row-count="4"]');
      const restored = await other.evaluate(() => (globalThis as unknown as Handle).runlake.table.getState());
      expect(restored).toMatchObject({
        filter: 'seed>=2 lr<=0.001',
        sort: { column: 'seed', direction: 'asc' },
      });
    } finally {
      await other.close();
    }
    await filter('seed=1');

    // The run id is a link to its run page; the checkbox still selects.
    const link = dash.page.locator(
      '[data-testid="runs-row"][data-run-id="tiny-lr0.001-s1"] [data-testid="run-link"]',
    );
    await expect(link.getAttribute('href')).resolves.toBe('#run/tiny-lr0.001-s1');
    const box = dash.page.locator(
      '[data-testid="runs-row"][data-run-id="tiny-lr0.001-s1"] [data-testid="run-checkbox"]',
    );
    const wasChecked = await box.isChecked();
    await box.click();
    expect(await box.isChecked()).toBe(!wasChecked);
  });

  it('shows one d_model column on the demo lake, and numbers without float noise (bug 7)', async () => {
    await open(dash.page, dash.url);
    const cols = await headers();
    expect(cols).toContain('params.d_model');
    expect(cols).not.toContain('d_model');
    expect(cols).not.toContain('n_layers');
    const noisy = await dash.context.newPage();
    try {
      const runs = [
        {
          run_id: 'a',
          params: { lr: 0.4140000000000003, wd: 0.1 + 0.2 },
          config_json: '{"x":0.30000000000000004}',
        },
        { run_id: 'b', params: { lr: 0.00031415, wd: 1e-9 }, config_json: null },
      ];
      await noisy.route('**/api/runs', (route) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify({ runs, truncated: false }) }),
      );
      await open(noisy, dash.url);
      const texts = await noisy
        .locator('[data-testid="runs-row"]')
        .evaluateAll((rows) =>
          rows.map((r) => [...r.querySelectorAll('td')].slice(1).map((td) => td.textContent)),
        );
      expect(texts).toEqual([
        ['a', '0.414', '0.3', '{"x":0.3}'],
        ['b', '0.00031415', '1e-9', ''],
      ]);
    } finally {
      await noisy.close();
    }
  });

  it('keeps 10,000 runs interactive with summary columns', async () => {
    const many = await dash.context.newPage();
    try {
      const runs = Array.from({ length: 10_000 }, (_, i) => ({
        run_id: `r${String(i).padStart(5, '0')}`,
        seed: i % 5,
        status: i % 7 === 0 ? 'failed' : 'finished',
        params: { lr: [1e-4, 3e-4, 1e-3, 3e-3][i % 4] ?? 0, model: i % 2 ? 'small' : 'tiny' },
      }));
      const loss = (i: number) => 1 + ((i * 7919) % 10_000) / 10_000;
      await many.route('**/api/runs', (route) =>
        route.fulfill({ contentType: 'application/json', body: JSON.stringify({ runs, truncated: false }) }),
      );
      await many.route('**/api/query', (route) => {
        const rows = runs.map((r, i) => ({ run_id: r.run_id, metric_name: 'loss', final: loss(i) }));
        return route.fulfill({
          contentType: 'application/json',
          body: JSON.stringify({ columns: [], rows, rowCount: rows.length, truncated: false }),
        });
      });
      await many.goto(dash.url);
      await many.waitForSelector('[data-testid="runs-table"][data-row-count="10000"]');
      const timings = await many.evaluate(async () => {
        type T = {
          runlake: { table: { setState(s: Record<string, unknown>): void } };
          document: { querySelector(s: string): { dataset: Record<string, string> } };
        };
        const g = globalThis as unknown as T;
        const table = g.document.querySelector('[data-testid="runs-table"]');
        const wait = async (check: () => boolean) => {
          while (!check()) await new Promise((r) => setTimeout(r, 5));
        };
        let t = performance.now();
        g.runlake.table.setState({ summaryColumns: ['final:loss'] });
        await wait(() => table.dataset.summaries === 'ready');
        const summaries = performance.now() - t;
        t = performance.now();
        g.runlake.table.setState({ sort: { column: 'final:loss', direction: 'asc' } });
        const sort = performance.now() - t;
        t = performance.now();
        g.runlake.table.setState({ filter: 'final:loss<1.5 AND lr>=3e-4 AND NOT status=failed' });
        const filter = performance.now() - t;
        return { summaries, sort, filter, rows: Number(table.dataset.rowCount) };
      });
      const expected = runs.filter(
        (r, i) => loss(i) < 1.5 && r.params.lr >= 3e-4 && r.status !== 'failed',
      ).length;
      expect(timings.rows).toBe(expected);
      expect(await many.locator('[data-testid="runs-row"]').count()).toBeLessThan(100);
      const first = await many.locator('[data-testid="runs-row"]').first().getAttribute('data-run-id');
      const best = runs
        .map((r, i) => ({ r, l: loss(i) }))
        .filter(({ r, l }) => l < 1.5 && r.params.lr >= 3e-4 && r.status !== 'failed')
        .sort((a, b) => a.l - b.l)[0]?.r.run_id;
      expect(first).toBe(best);
      console.log(`10,000 runs (client): ${JSON.stringify(timings)}`);
    } finally {
      await many.close();
    }
  });

  it('W&B lake: no empty leading columns, configs as parameters, group-by on config.lr (bug 5)', async () => {
    const response = await fetch(new URL('api/runs', wandb.url));
    const { runs } = (await response.json()) as {
      runs: { run_id: string; params: Record<string, unknown> | null }[];
    };
    expect(runs.find((r) => r.run_id === '3k9x2a1b')?.params).toMatchObject({
      'config.lr': 0.0003,
      'config.model.d_model': 768,
      'config.optimizer.betas': '[0.9,0.95]',
    });
    await open(dash.page, wandb.url);
    const cols = await headers();
    // Every shown column has a value in some run; the first ones are the config parameters.
    const emptyShown = await dash.page.locator('[data-testid="runs-table"]').evaluate((table) => {
      const ths = [...table.querySelectorAll('thead th')].slice(1);
      const rows = [...table.querySelectorAll('tbody tr[data-run-id]')];
      return ths
        .filter((_, i) => rows.every((r) => (r.querySelectorAll('td')[i + 1]?.textContent ?? '') === ''))
        .map((th) => th.getAttribute('data-column'));
    });
    expect(emptyShown).toEqual([]);
    expect(cols[0]).toBe('run_id');
    // The name follows the id (a W&B id is a hash), then the config parameters, read without
    // their config. prefix.
    expect(cols[1]).toBe('run_name');
    expect(cols[2]).toBe('params.config.batch_size');
    await expect(
      dash.page.locator('[data-testid="runs-header"][data-column="params.config.lr"]').textContent(),
    ).resolves.toBe('paramlr');
    await filter('lr>=0.0005 AND name ~ /pythia/');
    await rowCount(2);
    await filter('');
    expect(cols).toContain('params.config.lr');
    // config.lr is both a column of the W&B runs and a config key: shown once.
    expect(cols).not.toContain('config.lr');
    // The empty columns are listed (hidden) in the column menu.
    await dash.page.locator('[data-testid="runs-columns-button"]').click();
    const emptyItem = dash.page.locator('[data-testid="column-menu-item"][data-column="model_family"]');
    expect(await emptyItem.textContent()).toContain('empty for every run');
    expect(await emptyItem.locator('[data-testid="column-visible"]').isChecked()).toBe(false);
    await dash.page.keyboard.press('Escape');
    // Group by config.lr, though every run has its own lr.
    await dash.page.waitForSelector('[data-testid="group-by"]', { timeout: 20_000 });
    expect(await dash.page.locator('[data-testid="group-by-config.lr"]').count()).toBeGreaterThan(0);
    await dash.page.screenshot({
      path: artifactPath('runs-table-wandb.png'),
      clip: { x: 0, y: 0, width: 1400, height: 500 },
    });
  });
});

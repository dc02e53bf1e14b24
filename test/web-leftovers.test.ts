import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import { artifactPath, browser, useServedDashboard, writeDemoLake } from './helpers/browser.js';

// Three leftovers of issue 21, in Chromium on one served lake: every legend entry of a chart of
// many runs can be clicked (the "+N more" list), the Matches view's state is in the URL, and the
// viewer's lake file picker pages through GET /api/files instead of loading every file.

const DOC_IMAGES = process.env.UPDATE_DOC_IMAGES === '1';
/** Where a screenshot goes: docs/images when UPDATE_DOC_IMAGES=1, else test-artifacts. */
const shot = (name: string) =>
  DOC_IMAGES ? path.join(import.meta.dirname, '..', 'docs', 'images', name) : artifactPath(name);

const EXTRA_RUNS = 120;

/**
 * The demo lake (12 runs, signatures and matches) plus 120 runs logging `loss`: 132 curves for
 * one chart, and 240 more part files (one per run in `runs` and in `metrics_scalar`).
 */
async function writeLakeWithManyRuns(dir: string): Promise<string> {
  const lakeDir = await writeDemoLake(dir);
  const lake = await openLake(lakeDir, { schema: 'squiggle' });
  const ids = Array.from({ length: EXTRA_RUNS }, (_, i) => `extra-${String(i).padStart(3, '0')}`);
  await lake.write(
    'runs',
    ids.map((run_id) => ({ run_id })),
  );
  const rows: Record<string, unknown>[] = [];
  ids.forEach((run_id, i) => {
    for (let step = 0; step <= 2000; step += 200)
      rows.push({ run_id, step, metric_name: 'loss', value: 3 + i / 100 - step / 1000 });
  });
  await lake.write('metrics_scalar', rows);
  lake.close();
  return lakeDir;
}

/** The Matches part of a link's state, as the address holds it. */
interface MatchesLink {
  signature?: string;
  candidate?: string;
  find?: string;
  method?: string;
  k?: number;
  align?: boolean;
  sameLayer?: boolean;
  sameModule?: boolean;
}

/** The little of the page's globals the tests read (the test tsconfig has no DOM types). */
interface PageGlobals {
  location: { hash: string };
  document: { body: { dataset: Record<string, string | undefined> } };
}

describe.skipIf(browser.skip)('issue 21 leftovers', () => {
  const dash = useServedDashboard({ prefix: 'runlake-leftovers-', lake: writeLakeWithManyRuns });

  const panel = () => dash.page.locator('[data-testid="metric-panel"]').first();
  const chart = () => panel().locator('[data-testid="metric-chart"]');
  const allRuns = EXTRA_RUNS + 12;

  it('legend: every entry of a 132-run chart can be hidden, the rest listed only when opened', async () => {
    await dash.page.goto(dash.url);
    await dash.page.evaluate(() =>
      (globalThis as unknown as { localStorage: { clear(): void } }).localStorage.clear(),
    );
    await dash.page.goto(dash.url);
    await dash.page.waitForSelector('[data-testid="runs-select-all"]', { timeout: 30_000 });
    await dash.page.locator('[data-testid="runs-select-all"]').check();
    await dash.page.waitForSelector(
      `[data-testid="metric-chart"][data-series-count="${allRuns}"][data-visible-count="${allRuns}"] canvas`,
      { timeout: 30_000 },
    );
    await chart().scrollIntoViewIfNeeded();
    const items = panel().locator('[data-testid="legend-item"]');
    // Closed: 24 entries in the page, not 132.
    expect(await items.count()).toBe(24);
    const more = panel().locator('[data-testid="legend-more"]');
    expect((await more.textContent())?.trim()).toBe(`+${allRuns - 24} more`);
    expect(await more.getAttribute('aria-expanded')).toBe('false');
    await more.click();
    const list = panel().locator('[data-testid="legend-rest-list"] [data-testid="legend-item"]');
    expect(await list.count()).toBe(allRuns - 24);
    expect(await items.count()).toBe(allRuns);
    // The last entry, deep in the scrolling list, hides its run.
    const last = list.last();
    const key = (await last.getAttribute('data-key')) ?? '';
    const firstKeys = await items.evaluateAll((els) =>
      els.slice(0, 24).map((e) => e.getAttribute('data-key')),
    );
    expect(key).not.toBe('');
    expect(firstKeys).not.toContain(key);
    const findKey = (await list.nth(50).getAttribute('data-key')) ?? '';
    expect(findKey).toMatch(/^extra-\d{3}$/);
    await last.scrollIntoViewIfNeeded();
    await last.click();
    await dash.page.waitForSelector(`[data-testid="metric-chart"][data-visible-count="${allRuns - 1}"]`);
    const hidden = panel().locator(`[data-testid="legend-item"][data-key="${key}"]`);
    expect(await hidden.getAttribute('data-hidden')).toBe('true');
    // The redraw kept the list open, and the clicked entry has the focus again.
    expect(await panel().locator('[data-testid="legend-rest"]').isVisible()).toBe(true);
    await dash.page.waitForFunction(
      (k) =>
        (
          globalThis as unknown as { document: { activeElement: { getAttribute(a: string): string | null } } }
        ).document.activeElement?.getAttribute('data-key') === k,
      key,
    );
    expect((await more.textContent())?.trim()).toBe(`− ${allRuns - 24} more, 1 hidden`);
    await panel().screenshot({ path: shot('web-legend-more.png') });
    // The find field narrows the list; a click there hides that run too.
    await panel().locator('[data-testid="legend-find"]').fill(findKey);
    expect(await list.count()).toBe(1);
    await list.first().click();
    await dash.page.waitForSelector(`[data-testid="metric-chart"][data-visible-count="${allRuns - 2}"]`);
    expect(await panel().locator('[data-testid="legend-find"]').inputValue()).toBe(findKey);
    expect(await list.first().getAttribute('data-hidden')).toBe('true');
    // Shown again by a second click.
    await list.first().click();
    await dash.page.waitForSelector(`[data-testid="metric-chart"][data-visible-count="${allRuns - 1}"]`);
    // Closing drops the rest from the page again.
    await more.click();
    expect(await items.count()).toBe(24);
    expect(await panel().locator('[data-testid="legend-rest"]').isHidden()).toBe(true);
  });

  it('matches: the query, its filters, the method, top k and the selected row come back from a link', async () => {
    await dash.page.goto(`${dash.url}#matches`);
    await dash.page.waitForSelector('[data-testid="match-item"]', { timeout: 30_000 });
    const options = dash.page.locator('[data-testid="signature-select"] option:not(.muted)');
    expect(await options.count()).toBeGreaterThan(1);
    // The second signature with matches, found by its run's name in the filter.
    const wanted = (await options.nth(1).getAttribute('value')) ?? '';
    const run = ((await options.nth(1).textContent()) ?? '').split(' · ')[0] ?? '';
    await dash.page.locator('[data-testid="signature-filter"]').fill(run);
    await dash.page.locator('[data-testid="signature-select"]').selectOption(wanted);
    await dash.page.waitForSelector(`[data-testid="match-query"] code >> text=${wanted}`);
    await dash.page.locator('[data-testid="match-method"]').selectOption('edit');
    await dash.page.locator('[data-testid="match-k"]').selectOption('10');
    await dash.page.locator('[data-testid="match-align"]').uncheck();
    await dash.page.locator('[data-testid="match-same-module"]').check();
    await dash.page.waitForSelector(
      '[data-testid="match-list"][data-method="edit"][data-same-module="true"]',
    );
    const second = dash.page.locator('[data-testid="match-item"][data-rank="2"]');
    const candidate = (await second.getAttribute('data-candidate')) ?? '';
    await second.click();
    await dash.page.waitForSelector('[data-testid="match-chart"][data-selected-rank="2"]');
    // The URL follows a moment later: read the state the address holds until it has the click.
    const linkState = (page: Page = dash.page) =>
      page.evaluate(async () => {
        const hash = (globalThis as unknown as PageGlobals).location.hash;
        const encoded = new URLSearchParams(hash.slice(hash.indexOf('?') + 1)).get('s') ?? '';
        if (!encoded.startsWith('z')) return undefined;
        const bytes = Uint8Array.from(atob(encoded.slice(1).replaceAll('-', '+').replaceAll('_', '/')), (c) =>
          c.charCodeAt(0),
        );
        const json = await new Response(
          new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')),
        ).text();
        return (JSON.parse(json) as { matches?: MatchesLink }).matches;
      });
    /** Waits until the state in `page`'s address passes `done` (each miss waits for the next write). */
    const untilLinked = async (done: (m: MatchesLink | undefined) => boolean, page: Page = dash.page) => {
      for (let i = 0; i < 20; i++) {
        const before = await page.evaluate(
          () => (globalThis as unknown as PageGlobals).document.body.dataset.urlState ?? '',
        );
        if (done(await linkState(page))) return;
        await page.waitForFunction(
          (n) => (globalThis as unknown as PageGlobals).document.body.dataset.urlState !== n,
          before,
        );
      }
    };
    await untilLinked((m) => m?.candidate === candidate);
    const link = dash.page.url();
    expect(link).toContain('#matches?s=');
    expect(await linkState()).toEqual({
      signature: wanted,
      candidate,
      find: run,
      method: 'edit',
      k: 10,
      align: false,
      sameLayer: false,
      sameModule: true,
    });

    // A fresh profile opens the link: the same view.
    const context = await dash.context.browser()?.newContext({ viewport: { width: 1400, height: 900 } });
    if (!context) throw new Error('no browser to open a second profile in');
    try {
      const other = await context.newPage();
      await other.goto(link);
      await other.waitForSelector('[data-testid="match-list"][data-method="edit"]', { timeout: 30_000 });
      expect(await other.locator('[data-testid="match-query"] code').textContent()).toBe(wanted);
      expect(await other.locator('[data-testid="signature-filter"]').inputValue()).toBe(run);
      expect(await other.locator('[data-testid="signature-select"]').inputValue()).toBe(wanted);
      expect(await other.locator('[data-testid="match-method"]').inputValue()).toBe('edit');
      expect(await other.locator('[data-testid="match-k"]').inputValue()).toBe('10');
      expect(await other.locator('[data-testid="match-align"]').isChecked()).toBe(false);
      expect(await other.locator('[data-testid="match-same-layer"]').isChecked()).toBe(false);
      expect(await other.locator('[data-testid="match-same-module"]').isChecked()).toBe(true);
      expect(await other.locator('[data-testid="match-list"]').getAttribute('data-same-module')).toBe('true');
      const selected = other.locator('[data-testid="match-item"][aria-selected="true"]');
      expect(await selected.getAttribute('data-candidate')).toBe(candidate);
      expect(await other.locator('[data-testid="match-chart"]').getAttribute('data-selected-rank')).toBe('2');
      expect(await other.locator('[data-testid="match-chart"]').getAttribute('data-aligned')).toBe('false');
      // Changed there and pasted into the first page (a hash change): applied there too.
      await other.locator('[data-testid="match-method"]').selectOption('dtw');
      await other.locator('[data-testid="match-same-module"]').uncheck();
      await untilLinked((m) => m?.method === 'dtw' && m.sameModule === false, other);
      const pasted = new URL(other.url()).hash;
      await dash.page.evaluate((h) => {
        (globalThis as unknown as PageGlobals).location.hash = h;
      }, pasted);
      await dash.page.waitForSelector(
        '[data-testid="match-list"][data-method="dtw"][data-same-module="false"]',
      );
      expect(await dash.page.locator('[data-testid="match-same-module"]').isChecked()).toBe(false);
      expect(await dash.page.locator('[data-testid="match-query"] code').textContent()).toBe(wanted);
    } finally {
      await context.close();
    }
  });

  it('viewer: the lake file picker lists a page of files, loads the next on demand, and filters by dataset', async () => {
    const listing = async (query: string) => {
      const response = await fetch(new URL(`api/files${query}`, dash.url));
      expect(response.status).toBe(200);
      return (await response.json()) as {
        total: number;
        datasets: { name: string; total: number; files: { path: string }[] }[];
      };
    };
    const counts = await listing('?limit=0');
    expect(counts.total).toBeGreaterThan(300);
    const runsTotal = counts.datasets.find((d) => d.name === 'runs')?.total ?? 0;
    expect(runsTotal).toBe(allRuns);
    const requests: string[] = [];
    dash.page.on('request', (request) => {
      if (new URL(request.url()).pathname.endsWith('/api/files'))
        requests.push(new URL(request.url()).search);
    });
    await dash.page.goto(new URL('viewer.html', dash.url).href);
    await dash.page.waitForSelector('[data-testid="lake-box"]:not([hidden])');
    const picker = dash.page.locator('[data-testid="lake-file"]');
    const options = picker.locator('option');
    expect(await options.count()).toBe(100);
    expect(await picker.getAttribute('data-total')).toBe(String(counts.total));
    const more = dash.page.locator('[data-testid="lake-file-more"]');
    expect(await more.textContent()).toBe('Load 100 more');
    expect(await dash.page.locator('[data-testid="lake-file-count"]').textContent()).toBe(
      `100 of ${counts.total} files listed`,
    );
    await dash.page
      .locator('[data-testid="lake-box"]')
      .screenshot({ path: shot('web-viewer-lake-pages.png') });
    // The first page is the listing's first 100 files, in its order.
    const first = await listing('?limit=100');
    const expected = first.datasets.flatMap((d) => d.files.map((f) => `${d.name}/${f.path}`));
    const shown = await options.evaluateAll((os) =>
      os.map((o) => `${o.getAttribute('data-dataset')}/${o.getAttribute('data-path')}`),
    );
    expect(shown).toEqual(expected);
    await more.click();
    await picker.locator('option').nth(199).waitFor({ state: 'attached' });
    expect(await options.count()).toBe(200);
    // One dataset: its own pages.
    await dash.page.locator('[data-testid="lake-dataset"]').selectOption('runs');
    await dash.page.waitForSelector(`[data-testid="lake-file"][data-total="${runsTotal}"]`);
    expect(await picker.getAttribute('data-total')).toBe(String(runsTotal));
    expect(await options.count()).toBe(100);
    await more.click();
    await picker
      .locator('option')
      .nth(runsTotal - 1)
      .waitFor({ state: 'attached' });
    expect(await options.count()).toBe(runsTotal);
    expect(await more.isHidden()).toBe(true);
    const datasets = await options.evaluateAll((os) => [
      ...new Set(os.map((o) => o.getAttribute('data-dataset'))),
    ]);
    expect(datasets).toEqual(['runs']);
    // A listed file still opens.
    await picker.selectOption({ index: runsTotal - 1 });
    await dash.page.click('[data-testid="lake-file-open"]');
    await dash.page.waitForSelector('[data-testid="file-format"]', { timeout: 20_000 });
    expect(await dash.page.locator('[data-testid="file-format"]').textContent()).toBe('PARQUET');
    expect(requests).toEqual([
      '?offset=0&limit=100',
      '?offset=100&limit=100',
      '?dataset=runs&offset=0&limit=100',
      '?dataset=runs&offset=100&limit=100',
    ]);
  });

  it('logged no console error on any page above', () => {
    expect(dash.consoleErrors).toEqual([]);
  });
});

import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import { artifactPath, browser, launchChromium, useServedDashboard } from './helpers/browser.js';

// The dashboard's workspace (issue 21, expectations 1, 6, 9, 10 and bug 7) against `runlake serve`
// on the demo lake: 12 runs, metrics loss / lr / grad_norm.

// The page's globals, for the functions page.evaluate runs in the browser (the tests' tsconfig has
// no DOM lib).
// biome-ignore lint/suspicious/noExplicitAny: typed by the browser, not by this program
declare const document: any, window: any, localStorage: any, navigator: any, getComputedStyle: any;

// On a loaded machine (the tests beside this file, the server still answering an earlier view's
// geometry and matches queries) a page can take a while to be ready: room for that, not a timing.
vi.setConfig({ testTimeout: 120_000 });

/** Screenshots for docs/web.md go to docs/images when UPDATE_DOC_IMAGES=1, else to test-artifacts. */
const docImage = (name: string) =>
  process.env.UPDATE_DOC_IMAGES === '1'
    ? path.join(import.meta.dirname, '..', 'docs', 'images', name)
    : artifactPath(name);

/** What the dashboard POSTs to `/api/metrics`. */
interface MetricBody {
  run: string[];
  metric: string;
  width: number;
  from?: number;
  to?: number;
  smoothing?: number;
  by?: string[];
}

/** The part of `window.runlake.state()` the test reads. */
interface PageState {
  view: string;
  selection?: string[];
  table?: { filter?: string };
  workspace?: {
    shared: { smoothing: number };
    panels: { metric: string; size: string; own?: { zoom?: { from: number; to: number } } }[];
    collapsed: string[];
  };
}

function metricsBody(request: Request): MetricBody | undefined {
  const url = new URL(request.url());
  const posted =
    request.method() === 'POST' &&
    (url.pathname.endsWith('/api/metrics') || url.pathname.endsWith('/api/metric-groups'));
  return posted ? (request.postDataJSON() as MetricBody) : undefined;
}

describe.skipIf(browser.skip)('dashboard workspace, URL state, dark mode, shortcuts, keyboard tabs', () => {
  const dash = useServedDashboard({ prefix: 'runlake-workspace-' });

  const openDashboard = async (hash = '') => {
    await dash.page.goto(`${dash.url}${hash}`);
    await dash.page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  };
  const panel = (metric: string) => dash.page.locator(`[data-testid="ws-panel"][data-metric="${metric}"]`);
  const chartOf = (metric: string, extra = '') =>
    `[data-testid="ws-panel"][data-metric="${metric}"] [data-testid="metric-chart"]${extra}`;
  const panelMetrics = () =>
    dash.page
      .locator('[data-testid="ws-panel"]')
      .evaluateAll((cards) =>
        cards.map((c) => `${c.getAttribute('data-metric')}:${c.getAttribute('data-size')}`),
      );
  /** Drags across the loss panel's chart (fractions of its width) until it reports a zoom. */
  const zoomLoss = async (from: number, to: number): Promise<string> => {
    const lossPanel = '[data-testid="ws-panel"][data-metric="loss"] [data-testid="metric-panel"]';
    for (let attempt = 0; ; attempt++) {
      await dash.page.waitForSelector(
        `${lossPanel}:not([data-loading]) [data-testid="metric-chart"] canvas`,
        {
          timeout: 20_000,
        },
      );
      const over = dash.page.locator(chartOf('loss', ' .u-over'));
      const box = await over
        .scrollIntoViewIfNeeded({ timeout: 5000 })
        .then(() => over.boundingBox())
        .catch(() => null);
      if (box) {
        await dash.page.mouse.move(box.x + box.width * from, box.y + box.height / 2);
        await dash.page.mouse.down();
        await dash.page.mouse.move(box.x + box.width * to, box.y + box.height / 2, { steps: 8 });
        await dash.page.mouse.up();
      }
      const zoomed = chartOf('loss', ':not([data-zoomed=""])[data-zoomed] canvas');
      // A redraw between finding the chart and the drag (a late answer) loses the drag: try again.
      const ok = await dash.page
        .waitForSelector(zoomed, { timeout: attempt < 3 ? 5000 : 20_000 })
        .then(() => true)
        .catch(() => false);
      if (ok) return (await dash.page.locator(chartOf('loss')).getAttribute('data-zoomed')) ?? '';
      if (attempt >= 3) throw new Error('the loss chart never zoomed');
    }
  };
  /** Scrolls so the workspace's toolbar sits just under the sticky header (for the doc screenshots). */
  const scrollToWorkspace = () =>
    dash.page.evaluate(() => {
      const top =
        document.querySelector('[data-testid="workspace"]').getBoundingClientRect().top + window.scrollY;
      const header = document.querySelector('header.top').getBoundingClientRect().height;
      window.scrollTo(0, top - header - 8);
    });
  const focused = () => dash.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');

  it('bug 7: the view tabs are a tablist reached with Tab, moved with the arrows, opened with Enter/Space', async () => {
    await openDashboard();
    await dash.page.locator('body').click({ position: { x: 5, y: 5 } });
    await dash.page.keyboard.press('Tab');
    expect(await focused()).toBe('tab-runs');
    expect(await dash.page.locator('[role="tablist"] [role="tab"]').count()).toBeGreaterThanOrEqual(3);
    await expect(dash.page.locator('[data-testid="tab-runs"]').getAttribute('aria-selected')).resolves.toBe(
      'true',
    );
    await dash.page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-geometry');
    await dash.page.keyboard.press('Enter');
    await dash.page.waitForSelector('[data-testid="view-geometry"]:not([hidden])');
    expect(await dash.page.locator('[data-testid="view-runs"]').isHidden()).toBe(true);
    await expect(
      dash.page.locator('[data-testid="tab-geometry"]').getAttribute('aria-selected'),
    ).resolves.toBe('true');
    expect(new URL(dash.page.url()).hash).toMatch(/^#geometry/);
    await dash.page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-matches');
    await dash.page.keyboard.press(' ');
    await dash.page.waitForSelector('[data-testid="view-matches"]:not([hidden])');
    // Home goes to the first tab; ArrowLeft from the first wraps to the last.
    await dash.page.keyboard.press('Home');
    expect(await focused()).toBe('tab-runs');
    await dash.page.keyboard.press('Enter');
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    // The focused tab has a visible focus ring.
    const outline = await dash.page
      .locator('[data-testid="tab-runs"]')
      .evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe('none');
  });
  it('expectation 1: a panel per metric, add / remove / resize, saved per lake, reset', async () => {
    const lake = (await (await fetch(new URL('api/lake', dash.url))).json()) as {
      name: string;
      id: string;
    };
    expect(lake.name).toBe(path.basename(dash.lakeDir));
    expect(lake.id).toBe(createHash('sha256').update(path.resolve(dash.lakeDir)).digest('hex').slice(0, 16));
    await openDashboard();
    await dash.page.evaluate(() => localStorage.clear());
    await openDashboard();
    // The demo's three metrics have no prefix: one "metrics" section, loss first.
    expect(await panelMetrics()).toEqual(['loss:M', 'grad_norm:M', 'lr:M']);
    const sections = await dash.page
      .locator('[data-testid="ws-section"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-section')));
    expect(sections).toEqual(['metrics']);
    // Every panel in view draws the table's four selected runs.
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    await dash.page.waitForSelector(chartOf('grad_norm', '[data-series-count="4"] canvas'), {
      timeout: 20_000,
    });

    // Resize: L takes the row, S a third, M half.
    const grid = await dash.page.locator('.ws-grid').first().boundingBox();
    if (!grid) throw new Error('no workspace grid');
    await panel('loss').locator('[data-testid="ws-size-L"]').click();
    await panel('grad_norm').locator('[data-testid="ws-size-S"]').click();
    const widthOf = async (metric: string) => (await panel(metric).boundingBox())?.width ?? 0;
    expect(await widthOf('loss')).toBeCloseTo(grid.width, -1);
    expect(await widthOf('grad_norm')).toBeCloseTo((grid.width - 2 * 12) / 3, -1);
    expect(await widthOf('lr')).toBeCloseTo((grid.width - 12) / 2, -1);
    // The loss chart follows its card: a wider chart refetches at the new width.
    await dash.page.waitForFunction(
      (sel) => (document.querySelector(sel)?.querySelector('canvas')?.width ?? 0) > 900,
      chartOf('loss'),
    );

    // At 800 px every panel takes the whole row, and nothing spills out sideways.
    await dash.page.setViewportSize({ width: 800, height: 900 });
    try {
      await dash.page.waitForFunction(() => {
        const grid = document.querySelector('.ws-grid').getBoundingClientRect().width;
        return [...document.querySelectorAll('[data-testid="ws-panel"]')].every(
          (c) => Math.abs(c.getBoundingClientRect().width - grid) < 2,
        );
      });
      // The charts follow their cards down (the L one was 1,300 px wide).
      await dash.page.waitForFunction(() => document.documentElement.scrollWidth <= 800);
    } finally {
      await dash.page.setViewportSize({ width: 1400, height: 900 });
    }

    // Remove, then add from the picker (at the end of its section).
    await panel('lr').locator('[data-testid="ws-remove"]').click();
    expect(await panelMetrics()).toEqual(['loss:L', 'grad_norm:S']);
    await dash.page.locator('[data-testid="ws-add"]').selectOption('lr');
    await dash.page.locator('[data-testid="ws-add"]').selectOption('loss');
    expect(await panelMetrics()).toEqual(['loss:L', 'grad_norm:S', 'lr:M', 'loss:M']);
    await expect(dash.page.locator('[data-testid="ws-count"]').textContent()).resolves.toBe('4 panels');
    // Reorder: lr one place earlier, then back.
    await panel('lr').locator('[data-testid="ws-move-earlier"]').click();
    expect(await panelMetrics()).toEqual(['loss:L', 'lr:M', 'grad_norm:S', 'loss:M']);
    await panel('lr').locator('[data-testid="ws-move-later"]').click();

    // Saved under the lake's id, and back after a reload (no state in the URL).
    const saved = await dash.page.evaluate(
      (key) => localStorage.getItem(key),
      `runlake:workspace:${lake.id}`,
    );
    expect(
      (JSON.parse(saved ?? '{}') as { panels: { metric: string; size: string }[] }).panels.map(
        (p) => `${p.metric}:${p.size}`,
      ),
    ).toEqual(['loss:L', 'grad_norm:S', 'lr:M', 'loss:M']);
    await openDashboard();
    expect(await panelMetrics()).toEqual(['loss:L', 'grad_norm:S', 'lr:M', 'loss:M']);
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });

    await dash.page.locator('[data-testid="ws-reset"]').click();
    expect(await panelMetrics()).toEqual(['loss:M', 'grad_norm:M', 'lr:M']);
  });

  it('expectation 1: panels out of view are built and fetch only when scrolled to', async () => {
    const lake = (await (await fetch(new URL('api/lake', dash.url))).json()) as { id: string };
    const panels = Array.from({ length: 9 }, (_, i) => ({
      metric: ['loss', 'grad_norm', 'lr'][i % 3],
      size: 'L',
    }));
    await dash.page.evaluate(
      ([key, value]) => localStorage.setItem(key as string, value as string),
      [`runlake:workspace:${lake.id}`, JSON.stringify({ panels, collapsed: [] })],
    );
    const requests: MetricBody[] = [];
    const record = (r: Request) => {
      const body = metricsBody(r);
      if (body) requests.push(body);
    };
    dash.page.on('request', record);
    try {
      await openDashboard();
      await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
      const loaded = await dash.page.locator('[data-testid="ws-panel"][data-loaded="true"]').count();
      expect(loaded).toBeGreaterThan(0);
      expect(loaded).toBeLessThan(4);
      await dash.page.waitForFunction(
        (n) =>
          document.querySelectorAll('[data-testid="metric-chart"][data-series-count="4"] canvas').length >= n,
        loaded,
      );
      // One request per built panel, none for the six below the fold.
      expect(requests.length).toBe(loaded);
      await dash.page.locator('[data-testid="ws-panel"]').last().scrollIntoViewIfNeeded();
      await dash.page.waitForFunction(
        () =>
          document.querySelectorAll('[data-testid="ws-panel"]:last-child [data-series-count="4"] canvas')
            .length === 1,
        undefined,
        { timeout: 20_000 },
      );
      expect(requests.length).toBeGreaterThan(loaded);
      expect(await dash.page.locator('[data-testid="ws-panel"][data-loaded="true"]').count()).toBeLessThan(9);
    } finally {
      dash.page.off('request', record);
    }
    await dash.page.locator('[data-testid="ws-reset"]').click();
  });

  it('expectation 1: the toolbar sets smoothing and group-by on every panel, and folds sections', async () => {
    await openDashboard();
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    const toolbar = dash.page.locator('[data-testid="ws-toolbar"]');
    const smoothedLoss = dash.page.waitForRequest(
      (r) => metricsBody(r)?.metric === 'loss' && metricsBody(r)?.smoothing === 0.6,
    );
    const smoothedNorm = dash.page.waitForRequest(
      (r) => metricsBody(r)?.metric === 'grad_norm' && metricsBody(r)?.smoothing === 0.6,
    );
    await toolbar.locator('[data-testid="smoothing-slider"]').fill('0.6');
    await Promise.all([smoothedLoss, smoothedNorm]);
    // The panel below the fold gets the setting when it is built.
    const smoothedLr = dash.page.waitForRequest(
      (r) => metricsBody(r)?.metric === 'lr' && metricsBody(r)?.smoothing === 0.6,
    );
    await panel('lr').scrollIntoViewIfNeeded();
    await smoothedLr;

    await dash.page.locator('[data-testid="runs-select-all"]').check();
    await toolbar.locator('[data-testid="group-by-summary"]').click();
    await toolbar.locator('[data-testid="group-by-lr"]').check();
    for (const metric of ['loss', 'grad_norm', 'lr']) {
      await panel(metric).scrollIntoViewIfNeeded();
      await dash.page.waitForSelector(chartOf(metric, '[data-band-count="3"] canvas'), { timeout: 20_000 });
    }
    await dash.page.keyboard.press('Escape');
    await scrollToWorkspace();
    await dash.page.screenshot({ path: docImage('web-workspace.png') });

    // Folding a section is saved too.
    await dash.page.locator('[data-testid="ws-section"][data-section="metrics"] > summary').click();
    expect(await panel('loss').isVisible()).toBe(false);
    await dash.page.waitForFunction(() => window.runlake.state().workspace?.collapsed.includes('metrics'));
    await dash.page.locator('[data-testid="ws-reset"]').click();
    expect(await panel('loss').isVisible()).toBe(true);
  });

  it('expectation 6: the URL holds selection, panels, smoothing, zoom and filter; a fresh browser opens the same view', async () => {
    await dash.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: dash.url });
    await openDashboard();
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    const picked = ['tiny-lr0.0003-s1', 'tiny-lr0.001-s2', 'tiny-lr0.003-s3'];
    await dash.page.locator('[data-testid="runs-clear"]').click();
    for (const id of picked) {
      await dash.page
        .locator(`[data-testid="runs-row"][data-run-id="${id}"] [data-testid="run-checkbox"]`)
        .click();
    }
    await dash.page.locator('[data-testid="runs-filter"]').fill('seed>=1');
    await dash.page.waitForSelector('[data-testid="runs-table"][data-row-count="9"]');
    await dash.page.locator('[data-testid="ws-toolbar"] [data-testid="smoothing-slider"]').fill('0.5');
    await panel('grad_norm').locator('[data-testid="ws-size-S"]').click();
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="3"] canvas'), { timeout: 20_000 });
    // Zoom the loss panel by a drag.
    const zoomed = await zoomLoss(0.3, 0.6);

    await dash.page.locator('[data-testid="copy-link"]').click();
    await dash.page.waitForSelector('[data-testid="copy-link"][data-copied]');
    const url = dash.page.url();
    const copied = await dash.page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(url);
    expect(new URL(url).hash).toMatch(/^#runs\?s=z[\w-]+$/);
    expect(url.length).toBeLessThan(1200);
    const state = (await dash.page.evaluate(() => window.runlake.state())) as PageState;
    expect(state.selection).toEqual(picked);
    expect(state.table?.filter).toBe('seed>=1');
    expect(state.workspace?.shared.smoothing).toBe(0.5);
    expect(state.workspace?.panels.map((p) => p.size)).toEqual(['M', 'S', 'M']);
    expect(state.workspace?.panels[0]?.own?.zoom).toBeDefined();

    const fresh = await launchChromium();
    try {
      const other = await fresh.context.newPage();
      const sent: MetricBody[] = [];
      other.on('request', (r) => {
        const body = metricsBody(r);
        if (body) sent.push(body);
      });
      await other.goto(url);
      await other.waitForSelector('body[data-state="ready"]');
      await other.waitForSelector(
        chartOf('loss', `[data-zoomed="${zoomed}"][data-series-count="3"] canvas`),
        {
          timeout: 20_000,
        },
      );
      const otherState = (await other.evaluate(() => window.runlake.state())) as PageState;
      expect(JSON.stringify(otherState, null, 1)).toBe(JSON.stringify(state, null, 1));
      const loss = sent.find((b) => b.metric === 'loss');
      const [from, to] = (zoomed ?? '').split(':').map(Number);
      expect(loss).toMatchObject({ run: picked, smoothing: 0.5, from, to });
      await expect(other.locator('[data-testid="runs-filter"]').inputValue()).resolves.toBe('seed>=1');
      await expect(other.locator('[data-testid="runs-table"]').getAttribute('data-row-count')).resolves.toBe(
        '9',
      );
    } finally {
      await fresh.close();
    }

    // The URL wins over the saved workspace: reset it (saved: defaults), then open the link.
    await dash.page.locator('[data-testid="ws-reset"]').click();
    await dash.page.goto('about:blank');
    await dash.page.goto(url);
    await dash.page.waitForSelector('body[data-state="ready"]');
    const reopened = (await dash.page.evaluate(() => window.runlake.state())) as PageState;
    expect(reopened.workspace).toEqual(state.workspace);
    // Pasted into the address bar of the open page (a hash change, no reload), it applies too.
    await dash.page.locator('[data-testid="ws-reset"]').click();
    await dash.page.waitForFunction(() => window.runlake.state().workspace.panels[1].size === 'M');
    // The URL follows the reset (it is rewritten a moment after a change).
    await dash.page.waitForFunction((u) => window.location.href !== u, url);
    await dash.page.goto(url);
    await dash.page.waitForFunction(() => window.runlake.state().workspace.panels[1].size === 'S');
    expect(((await dash.page.evaluate(() => window.runlake.state())) as PageState).workspace).toEqual(
      state.workspace,
    );
    // A damaged link says so in one line and opens the page as usual.
    await dash.page.goto(`${dash.url}#runs?s=zNOT-DEFLATE`);
    await dash.page.waitForSelector('body[data-state="ready"]');
    await expect(dash.page.locator('[data-testid="url-notice"]').textContent()).resolves.toMatch(/damaged/);
    await dash.page.locator('[data-testid="ws-reset"]').click();
    await dash.page.locator('[data-testid="runs-filter"]').fill('');
  });

  it('expectation 10: dark mode follows the system, toggles with d or the button, is saved, and recolours the charts', async () => {
    await openDashboard();
    await dash.page.evaluate(() => localStorage.removeItem('runlake:theme'));
    await dash.page.emulateMedia({ colorScheme: 'dark' });
    await openDashboard();
    const theme = () => dash.page.evaluate(() => document.documentElement.dataset.theme);
    expect(await theme()).toBe('dark');
    await dash.page.emulateMedia({ colorScheme: 'light' });
    await dash.page.waitForFunction(() => document.documentElement.dataset.theme === 'light');
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    const variable = (name: string) =>
      dash.page.evaluate((n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim(), name);
    /** Mean luminance (0–255) of the opaque pixels of the loss chart's canvas: mostly the axis text. */
    const canvasLuminance = () =>
      dash.page.evaluate(
        (sel) => {
          const canvas = document.querySelector(sel);
          const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
          let sum = 0;
          let n = 0;
          for (let i = 0; i < data.length; i += 4) {
            if ((data[i + 3] ?? 0) < 200) continue;
            sum += 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0);
            n++;
          }
          return n ? sum / n : 0;
        },
        chartOf('loss', ' canvas'),
      );
    const panelBackground = () => panel('loss').evaluate((el) => getComputedStyle(el).backgroundColor);
    const lightBg = await variable('--bg');
    const lightFg = await variable('--fg');
    const lightLum = await canvasLuminance();
    const lightPanel = await panelBackground();

    await dash.page.locator('body').click({ position: { x: 5, y: 5 } });
    await dash.page.keyboard.press('d');
    expect(await theme()).toBe('dark');
    expect(await variable('--bg')).not.toBe(lightBg);
    expect(await variable('--fg')).not.toBe(lightFg);
    expect(await panelBackground()).not.toBe(lightPanel);
    // The chart redrew its axes in the dark theme's colours: light text on the dark card.
    await dash.page.waitForFunction(
      ([sel, before]) => {
        const canvas = document.querySelector(sel as string);
        const data = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let sum = 0;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          if ((data[i + 3] ?? 0) < 200) continue;
          sum += 0.299 * (data[i] ?? 0) + 0.587 * (data[i + 1] ?? 0) + 0.114 * (data[i + 2] ?? 0);
          n++;
        }
        return n > 0 && sum / n > (before as number) + 20;
      },
      [chartOf('loss', ' canvas'), lightLum],
    );
    expect(await canvasLuminance()).toBeGreaterThan(lightLum);
    await expect(
      dash.page.locator('[data-testid="theme-toggle"]').getAttribute('aria-pressed'),
    ).resolves.toBe('true');
    // Saved: a reload (even with a light system) stays dark.
    expect(await dash.page.evaluate(() => localStorage.getItem('runlake:theme'))).toBe('dark');
    await openDashboard();
    expect(await theme()).toBe('dark');
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    await dash.page.waitForSelector(chartOf('grad_norm', '[data-series-count="4"] canvas'), {
      timeout: 20_000,
    });
    await scrollToWorkspace();
    await dash.page.screenshot({ path: docImage('web-dark.png') });
    await dash.page.locator('[data-testid="theme-toggle"]').click();
    expect(await theme()).toBe('light');
    await dash.page.evaluate(() => localStorage.removeItem('runlake:theme'));
  });

  it('expectation 10: keyboard shortcuts: ? help, / filter, 1–5 and g-letter views, Esc, never while typing', async () => {
    await openDashboard();
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    await dash.page.locator('body').click({ position: { x: 5, y: 5 } });
    await dash.page.keyboard.press('?');
    const help = dash.page.locator('[data-testid="shortcuts-help"]');
    await help.waitFor({ state: 'visible' });
    expect(await help.textContent()).toContain('Focus the runs filter');
    await dash.page.screenshot({ path: artifactPath('workspace-shortcuts.png') });
    await dash.page.keyboard.press('Escape');
    await help.waitFor({ state: 'hidden' });

    await dash.page.keyboard.press('/');
    expect(await focused()).toBe('runs-filter');
    await dash.page.keyboard.type('2d?');
    // Typed into the filter: no view switch, no theme change, no help.
    expect(await dash.page.locator('[data-testid="runs-filter"]').inputValue()).toBe('2d?');
    expect(await dash.page.evaluate(() => document.body.dataset.view)).toBe('runs');
    expect(await dash.page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');
    expect(await help.isHidden()).toBe(true);
    await dash.page.locator('[data-testid="runs-filter"]').fill('');
    await dash.page.locator('body').click({ position: { x: 5, y: 5 } });

    await dash.page.keyboard.press('2');
    await dash.page.waitForSelector('[data-testid="view-geometry"]:not([hidden])');
    await dash.page.keyboard.press('g');
    await dash.page.keyboard.press('m');
    await dash.page.waitForSelector('[data-testid="view-matches"]:not([hidden])');
    await dash.page.keyboard.press('g');
    await dash.page.keyboard.press('r');
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    expect(new URL(dash.page.url()).hash).toMatch(/^#runs/);

    // Esc resets a zoomed chart.
    await dash.page.waitForSelector(chartOf('loss', '[data-series-count="4"] canvas'), { timeout: 20_000 });
    await zoomLoss(0.3, 0.5);
    await dash.page.keyboard.press('Escape');
    await dash.page.waitForSelector(chartOf('loss', '[data-zoomed=""] canvas'), { timeout: 20_000 });
  });

  it('expectation 9: a live indicator with the last refresh time, and a pause toggle', async () => {
    await openDashboard();
    const live = dash.page.locator('[data-testid="live-toggle"]');
    await dash.page.waitForSelector('[data-testid="live-toggle"][data-last-refresh]');
    expect(await live.textContent()).toMatch(/^live · \d\d:\d\d:\d\d$/);
    const first = Number(await live.getAttribute('data-last-refresh'));
    await dash.page.waitForFunction(
      (t) =>
        Number(document.querySelector('[data-testid="live-toggle"]')?.getAttribute('data-last-refresh')) > t,
      first,
    );
    await live.click();
    await expect(live.getAttribute('data-live')).resolves.toBe('paused');
    await expect(live.getAttribute('aria-pressed')).resolves.toBe('true');
    const polls: string[] = [];
    const record = (r: Request) => {
      if (new URL(r.url()).pathname.endsWith('/api/changes')) polls.push(r.url());
    };
    dash.page.on('request', record);
    // Paused: not one poll in two poll periods.
    await dash.page.waitForTimeout(2200);
    expect(polls).toEqual([]);
    const resumed = dash.page.waitForRequest((r) => new URL(r.url()).pathname.endsWith('/api/changes'));
    await live.click();
    await resumed;
    dash.page.off('request', record);
    await expect(live.getAttribute('data-live')).resolves.toBe('on');
  });
  it('wires the Compare and SQL tabs and the run page route (#run/<id>), with the browser back button', async () => {
    await openDashboard();
    await dash.page.locator('body').click({ position: { x: 5, y: 5 } });
    await dash.page.keyboard.press('5');
    await dash.page.waitForSelector('[data-testid="view-sql"]:not([hidden]) [data-testid="sql-editor"]');
    await dash.page.keyboard.press('g');
    await dash.page.keyboard.press('c');
    await dash.page.waitForSelector('[data-testid="view-compare"]:not([hidden])');
    await dash.page.keyboard.press('1');
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    const id = 'tiny-lr0.001-s2';
    await dash.page.locator(`[data-testid="runs-row"][data-run-id="${id}"] a[href^="#run/"]`).click();
    await dash.page.waitForSelector('[data-testid="view-run"]:not([hidden]) [data-testid="run-page"]');
    expect(decodeURIComponent(new URL(dash.page.url()).hash)).toMatch(new RegExp(`^#run/${id}(\\?|$)`));
    // The runs tab stays the tablist's stop while the run page (no tab of its own) is shown.
    await expect(dash.page.locator('[data-testid="tab-runs"]').getAttribute('tabindex')).resolves.toBe('0');
    await dash.page.goBack();
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    // A link followed while the URL is being written is not lost. The write's encoding is made
    // synchronous here (as it is without CompressionStream), so the write ends before the link's
    // hashchange, and it must not replace the link's hash with the runs view's.
    const linked = 'tiny-lr0.001-s1';
    await dash.page.evaluate((runId: string) => {
      Object.defineProperty(navigator, 'clipboard', { value: { writeText: async () => {} } });
      window.CompressionStream = undefined;
      window.location.hash = `#run/${runId}`;
      document.querySelector('[data-testid="copy-link"]').click();
    }, linked);
    await dash.page.waitForSelector(
      `[data-testid="view-run"]:not([hidden]) [data-testid="run-page"][data-run-id="${linked}"]`,
    );
    await dash.page.goBack();
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    // A tab click shows its view in the same task: no hashchange comes between for a URL write
    // (a replaceState on the old view) to overtake, which once lost a click under CI load.
    const shownAtOnce = await dash.page.evaluate(() =>
      ['compare', 'runs', 'sql'].map((view) => {
        document.querySelector(`[data-testid="tab-${view}"]`)?.click();
        return document.querySelector(`[data-testid="view-${view}"]`)?.hidden === false;
      }),
    );
    expect(shownAtOnce).toEqual([true, true, true]);
    expect(new URL(dash.page.url()).hash).toMatch(/^#sql/);
    // Each click is a history entry: back goes to the tab before.
    await dash.page.goBack();
    await dash.page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    await dash.page.goBack();
    await dash.page.waitForSelector('[data-testid="view-compare"]:not([hidden])');
  });
  it("expectation 6: the Geometry view's picks are in the link too", async () => {
    await openDashboard('#geometry');
    await dash.page.waitForSelector('[data-testid="geometry-chart"]', { timeout: 30_000 });
    const run = 'tiny-lr0.0003-s2';
    await dash.page.locator('[data-testid="geometry-run"]').selectOption(run);
    await dash.page.waitForFunction((r) => window.runlake.state().geometry?.runs?.[0] === r, run);
    await dash.page.locator('[data-testid="copy-link"]').click();
    await dash.page.waitForSelector('[data-testid="copy-link"][data-copied]');
    const url = dash.page.url();
    expect(new URL(url).hash).toMatch(/^#geometry\?s=/);
    const other = await dash.context.newPage();
    try {
      await other.goto(url);
      await other.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
      await other.waitForFunction(
        (r) => document.querySelector('[data-testid="geometry-run"]')?.value === r,
        run,
        { timeout: 30_000 },
      );
      await other.waitForSelector(
        '[data-testid="view-geometry"]:not([hidden]) [data-testid="geometry-chart"]',
      );
    } finally {
      await other.close();
    }
  });
});

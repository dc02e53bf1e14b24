import path from 'node:path';
import type { Locator } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { assignLanes, groupEvents } from '../web/src/dashboard/event-lanes.js';
import { signatureMatches, type TieRow, tieExplanation } from '../web/src/dashboard/match-filters.js';
import { artifactPath, browser, useServedDashboard } from './helpers/browser.js';
import { repoRoot } from './helpers/lake-fixtures.js';

// The Geometry and Matches views of the dashboard (web/dist) against `runlake serve` on the demo
// lake: geometry for the four probed runs (tiny-lr0.0003-s0…s3, one grid) over 4 layers ×
// resid_post/mlp_out, events stacked at steps 600 and 1200, signatures (z128 and paa32-z) and
// their top-10 matches per method.

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Whether two boxes share any area (touching edges do not count). */
function overlaps(a: Box, b: Box): boolean {
  const eps = 0.5;
  return (
    a.x + a.width - eps > b.x &&
    b.x + b.width - eps > a.x &&
    a.y + a.height - eps > b.y &&
    b.y + b.height - eps > a.y
  );
}

/** Pairs of boxes in `boxes` that overlap, as index pairs. */
function overlappingPairs(boxes: readonly Box[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++)
      if (overlaps(boxes[i] as Box, boxes[j] as Box)) pairs.push([i, j]);
  return pairs;
}

async function boxes(locator: Locator): Promise<Box[]> {
  return locator.evaluateAll((els) =>
    els.map((el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }),
  );
}

/** Writes a doc screenshot to docs/images when UPDATE_DOC_IMAGES=1, else to test-artifacts/. */
function docImage(name: string): string {
  return process.env.UPDATE_DOC_IMAGES === '1'
    ? path.join(repoRoot, 'docs', 'images', name)
    : artifactPath(name);
}

describe.skipIf(browser.skip)('dashboard geometry and matches views', () => {
  const dash = useServedDashboard({ prefix: 'runlake-geometry-matches-' });

  const sql = async <Row>(text: string): Promise<Row[]> => {
    const response = await fetch(new URL(`api/query?sql=${encodeURIComponent(text)}`, dash.url));
    expect(response.status).toBe(200);
    return ((await response.json()) as { rows: Row[] }).rows;
  };
  const open = async (hash: string) => {
    await dash.page.goto(`${dash.url}${hash}`);
    await dash.page.waitForSelector('[data-testid="lake-summary"]');
  };
  /** The small-multiple figures: none overlaps another, and each fits inside the grid and the viewport. */
  const gridProblems = async (): Promise<string[]> =>
    dash.page.locator('[data-testid="geometry-grid"]').evaluate((grid) => {
      const g = grid.getBoundingClientRect();
      const viewport: number = grid.ownerDocument.defaultView.innerWidth;
      const figures = [...grid.querySelectorAll('[data-testid="geometry-figure"]')];
      if (figures.length === 0) return ['no figures'];
      const problems: string[] = [];
      const rects = figures.map((f) => f.getBoundingClientRect());
      rects.forEach((r, i) => {
        if (r.right > g.right + 0.5)
          problems.push(`figure ${i} overflows the grid (${r.right} > ${g.right})`);
        if (r.right > viewport + 0.5) problems.push(`figure ${i} runs off screen`);
        const canvas = figures[i]?.querySelector('canvas')?.getBoundingClientRect();
        if (canvas && canvas.right > r.right + 0.5) problems.push(`chart ${i} is wider than its cell`);
        rects.forEach((s, j) => {
          if (
            j > i &&
            r.right - 0.5 > s.left &&
            s.right - 0.5 > r.left &&
            r.bottom - 0.5 > s.top &&
            s.bottom - 0.5 > r.top
          )
            problems.push(`figures ${i} and ${j} overlap`);
        });
      });
      return problems;
    });

  it('lists only runs with geometry, lays charts out without overlap at 1400 and 800 px, with axis labels', async () => {
    const withGeometry = (
      await sql<{ run_id: string }>('SELECT DISTINCT run_id FROM geometry_state ORDER BY run_id')
    ).map((r) => r.run_id);
    expect(withGeometry).toHaveLength(4);
    await dash.page.setViewportSize({ width: 1400, height: 900 });
    await open('#geometry');
    await dash.page.waitForSelector('[data-testid="geometry-chart"] canvas', { timeout: 20_000 });
    expect(await dash.page.locator('[data-testid="geometry-figure"]').count()).toBe(8);
    expect(await gridProblems()).toEqual([]);
    // Axis labels: x is the step, y the descriptor shown.
    const descriptor = await dash.page.locator('[data-testid="geometry-descriptor"]').inputValue();
    const first = dash.page.locator('[data-testid="geometry-figure"]').first();
    expect(await first.locator('[data-testid="axis-x-label"]').textContent()).toBe('step');
    expect(await first.locator('[data-testid="axis-y-label"]').textContent()).toBe(descriptor);
    await expect(first.locator('[data-testid="axis-y-label"]').isVisible()).resolves.toBe(true);

    // Resized to 800 px: the charts shrink with their cells, none overlapping or spilling out.
    await dash.page.setViewportSize({ width: 800, height: 900 });
    // (Each chart follows its cell's width once the ResizeObserver has fired.)
    await dash.page.waitForFunction(
      `[...document.querySelectorAll('[data-testid="geometry-figure"]')].every((f) => {
        const c = f.querySelector('canvas')?.getBoundingClientRect();
        return c !== undefined && c.right <= f.getBoundingClientRect().right + 0.5;
      })`,
      undefined,
      { timeout: 10_000 },
    );
    expect(await gridProblems()).toEqual([]);
    // Loaded at 800 px from the start.
    await open('#geometry');
    await dash.page.waitForSelector('[data-testid="geometry-chart"] canvas', { timeout: 20_000 });
    expect(await gridProblems()).toEqual([]);
    await dash.page.screenshot({ path: artifactPath('geometry-800.png'), fullPage: true });
    await dash.page.setViewportSize({ width: 1400, height: 900 });
    // The run picker offers only the runs that have geometry.
    const options = await dash.page
      .locator('[data-testid="geometry-run"] option')
      .evaluateAll((os) => os.map((o) => o.getAttribute('value')));
    expect(options).toEqual(withGeometry);
  });

  it('stacks event badges in lanes so none hides another, every legend type visible, with a tooltip', async () => {
    await open('#geometry');
    await dash.page.waitForSelector('[data-testid="geometry-chart"] canvas', { timeout: 20_000 });
    await dash.page.locator('[data-testid="geometry-run"]').selectOption('tiny-lr0.0003-s0');
    await dash.page.waitForSelector('[data-testid="geometry-chart"] .event-marker', { timeout: 20_000 });
    const charts = dash.page.locator('[data-testid="geometry-chart"]');
    const count = await charts.count();
    for (let i = 0; i < count; i++) {
      const labels = await boxes(charts.nth(i).locator('.event-label'));
      expect(overlappingPairs(labels), `badges overlap on chart ${i}`).toEqual([]);
    }
    // Each type the legend counts has at least one badge that is on top where it is drawn.
    const types = await dash.page
      .locator('[data-testid="event-filter"] input[type="checkbox"]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-event-type')));
    expect(types).toContain('reexpansion');
    for (const type of types) {
      const visible = await dash.page
        .locator(`.event-marker[data-event-type="${type}"] .event-label`)
        .evaluateAll((labels) =>
          labels.some((label) => {
            const r = label.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) return false;
            const hit = label.ownerDocument.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit !== null && label.contains(hit);
          }),
        );
      expect(visible, `no visible ${type} badge`).toBe(true);
    }
    // A real tooltip on hover, and on keyboard focus.
    const badge = dash.page.locator('.event-marker[data-event-type="reexpansion"] .event-label').first();
    await badge.hover();
    const tooltip = dash.page.locator('[data-testid="geometry-tooltip"]');
    await tooltip.waitFor({ state: 'visible' });
    expect(await tooltip.textContent()).toContain('reexpansion');
    expect(await tooltip.textContent()).toContain('step 1200');
    await dash.page.mouse.move(5, 5);
    await tooltip.waitFor({ state: 'hidden' });
    await dash.page
      .locator('.event-marker[data-event-type="stability_plateau"] .event-label')
      .first()
      .focus();
    await tooltip.waitFor({ state: 'visible' });
    expect(await tooltip.textContent()).toContain('stability_plateau');
    await dash.page.screenshot({ path: artifactPath('geometry-badges.png') });
  });

  it('overlays all seeds of a grid, one colour per run with a legend, events toggled per run', async () => {
    await open('#geometry');
    await dash.page.waitForSelector('[data-testid="geometry-chart"] canvas', { timeout: 20_000 });
    await dash.page.locator('[data-testid="geometry-run"]').selectOption('tiny-lr0.0003-s0');
    await dash.page.waitForSelector('[data-testid="geometry-chart"][data-run-count="1"] canvas');
    await dash.page.locator('[data-testid="geometry-all-seeds"]').click();
    await dash.page.waitForSelector('[data-testid="geometry-chart"][data-run-count="4"] canvas', {
      timeout: 20_000,
    });
    const legend = dash.page.locator('[data-testid="geometry-run-legend"] [data-testid="geometry-run-chip"]');
    expect(await legend.count()).toBe(4);
    const colours = await legend.evaluateAll((els) =>
      els.map((e) => /--c:\s*([^;]+)/.exec(e.getAttribute('style') ?? '')?.[1]),
    );
    expect(new Set(colours).size).toBe(4);
    const runsOnChart = await dash.page
      .locator('[data-testid="geometry-chart"]')
      .first()
      .getAttribute('data-runs');
    expect(runsOnChart?.split(',')).toEqual([
      'tiny-lr0.0003-s0',
      'tiny-lr0.0003-s1',
      'tiny-lr0.0003-s2',
      'tiny-lr0.0003-s3',
    ]);
    // Events of every run are drawn, and one run's can be hidden.
    const s2Markers = dash.page.locator('.event-marker[data-runs*="tiny-lr0.0003-s2"]');
    expect(await s2Markers.count()).toBeGreaterThan(0);
    await dash.page.locator('[data-testid="geometry-run-events"][data-run="tiny-lr0.0003-s2"]').uncheck();
    await dash.page.waitForFunction(
      `document.querySelectorAll('.event-marker[data-runs*="tiny-lr0.0003-s2"]').length === 0`,
    );
    expect(await dash.page.locator('.event-marker[data-runs*="tiny-lr0.0003-s0"]').count()).toBeGreaterThan(
      0,
    );
    await dash.page.locator('[data-testid="geometry-run-events"][data-run="tiny-lr0.0003-s2"]').check();
    // Still no overlap with four runs' badges.
    const charts = dash.page.locator('[data-testid="geometry-chart"]');
    for (let i = 0; i < (await charts.count()); i++)
      expect(overlappingPairs(await boxes(charts.nth(i).locator('.event-label')))).toEqual([]);
    expect(await gridProblems()).toEqual([]);
    await dash.page.screenshot({ path: docImage('web-geometry-overlay.png') });

    // The view's state (for URL state and workspaces) names the runs, and restoring another state
    // redraws it: two seeds, layer 2, another descriptor.
    type Handle = { runlake: { geometry: { getState(): unknown; setState(s: unknown): void } } };
    const state = await dash.page.evaluate(() =>
      (globalThis as unknown as Handle).runlake.geometry.getState(),
    );
    expect(state).toMatchObject({
      runs: ['tiny-lr0.0003-s0', 'tiny-lr0.0003-s1', 'tiny-lr0.0003-s2', 'tiny-lr0.0003-s3'],
      layer: null,
      module: null,
      descriptor: 'effective_rank',
    });
    await dash.page.evaluate(() =>
      (globalThis as unknown as Handle).runlake.geometry.setState({
        runs: ['tiny-lr0.0003-s1', 'tiny-lr0.0003-s3'],
        layer: 2,
        descriptor: 'intrinsic_dim',
      }),
    );
    await dash.page.waitForSelector(
      '[data-testid="geometry-chart"][data-runs="tiny-lr0.0003-s1,tiny-lr0.0003-s3"] canvas',
    );
    await dash.page.waitForSelector('[data-testid="geometry-grid"][data-descriptor="intrinsic_dim"]');
    expect(await dash.page.locator('[data-testid="geometry-figure"]').count()).toBe(2);
    expect(await dash.page.locator('[data-testid="geometry-layer"]').inputValue()).toBe('2');
    // The layer picker still offers every layer of the run, not just the one shown.
    expect(await dash.page.locator('[data-testid="geometry-layer"] option').count()).toBe(5);
    expect(await dash.page.locator('[data-testid="axis-y-label"]').first().textContent()).toBe(
      'intrinsic_dim',
    );
  });

  it('filters signatures by all whitespace-separated tokens, and says so when nothing matches', async () => {
    await open('#matches');
    await dash.page.waitForSelector('[data-testid="match-item"]', { timeout: 20_000 });
    const filter = dash.page.locator('[data-testid="signature-filter"]');
    await filter.fill('s2 resid_post');
    const labels = await dash.page
      .locator('[data-testid="signature-select"] option')
      .evaluateAll((os) => os.map((o) => o.textContent ?? ''));
    expect(labels.length).toBeGreaterThan(0);
    for (const label of labels) {
      expect(label).toContain('s2');
      expect(label).toContain('resid_post');
    }
    await filter.fill('s2 no-such-module');
    const empty = dash.page.locator('[data-testid="signature-empty"]');
    await empty.waitFor({ state: 'visible' });
    expect(await empty.textContent()).toContain('no-such-module');
    await filter.fill('');
    await empty.waitFor({ state: 'hidden' });
  });

  it('explains the numbers, selects a clicked match, links its run, and draws the Sakoe–Chiba band', async () => {
    await open('#matches');
    await dash.page.waitForSelector('[data-testid="match-item"]', { timeout: 20_000 });
    // Column headers carry explanations, and a legend line says what offset/max dev/z128 mean.
    const headers = dash.page.locator('[data-testid="match-list"] th');
    const titles = await headers.evaluateAll((ths) =>
      Object.fromEntries(ths.map((th) => [th.textContent?.trim() ?? '', th.getAttribute('title') ?? ''])),
    );
    expect(titles.offset).toMatch(/later|earlier/);
    expect(titles['max dev']).toMatch(/band/);
    const legend = await dash.page.locator('[data-testid="match-legend"]').textContent();
    expect(legend).toContain('offset');
    expect(legend).toContain('max dev');
    expect(legend).toContain('z128');
    // Clicking the second row selects it in the overlay.
    const second = dash.page.locator('[data-testid="match-item"][data-rank="2"]');
    await second.click();
    await dash.page.waitForSelector('[data-testid="match-chart"][data-selected-rank="2"] canvas');
    expect(await second.getAttribute('aria-selected')).toBe('true');
    const run = await second.getAttribute('data-run');
    expect(await second.locator('a[data-testid="match-run-link"]').getAttribute('href')).toBe(`#run/${run}`);
    // The selected match's DTW band is drawn (the allowed region around the warped candidate).
    const band = await dash.page.locator('[data-testid="match-chart"]').getAttribute('data-band');
    expect(Number(band)).toBeGreaterThan(0);
    expect(await dash.page.locator('[data-testid="match-band-note"]').textContent()).toContain(`±${band}`);
    await dash.page.screenshot({ path: docImage('web-matches.png') });
    // At 800 px the table and the overlay fit the page (the chart follows its box).
    await dash.page.setViewportSize({ width: 800, height: 900 });
    await dash.page.waitForFunction(
      `(() => {
        const canvas = document.querySelector('[data-testid="match-chart"] canvas');
        const results = document.querySelector('[data-testid="match-results"]');
        return canvas && results && canvas.getBoundingClientRect().right <= results.getBoundingClientRect().right + 0.5;
      })()`,
      undefined,
      { timeout: 10_000 },
    );
    const fits = await dash.page
      .locator('[data-testid="match-results"]')
      .evaluate((el) => el.getBoundingClientRect().right <= el.ownerDocument.defaultView.innerWidth + 0.5);
    expect(fits).toBe(true);
    await dash.page.screenshot({ path: artifactPath('matches-800.png'), fullPage: true });
    await dash.page.setViewportSize({ width: 1400, height: 900 });
  });

  it('filters candidates to the same layer / module, and shows event tokens and ties for edit', async () => {
    await open('#matches');
    await dash.page.waitForSelector('[data-testid="match-item"]', { timeout: 20_000 });
    const query = await dash.page.locator('[data-testid="match-query"]').getAttribute('data-layer');
    const module = await dash.page.locator('[data-testid="match-query"]').getAttribute('data-module');
    await dash.page.locator('[data-testid="match-same-layer"]').check();
    await dash.page.waitForSelector('[data-testid="match-list"][data-same-layer="true"]');
    const layers = await dash.page
      .locator('[data-testid="match-item"]')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-layer')));
    expect(layers.length).toBeGreaterThan(0);
    for (const l of layers) expect(l).toBe(query);
    await dash.page.locator('[data-testid="match-same-module"]').check();
    await dash.page.waitForSelector('[data-testid="match-list"][data-same-module="true"]');
    const modules = await dash.page
      .locator('[data-testid="match-item"]')
      .evaluateAll((items) => items.map((i) => i.getAttribute('data-module')));
    for (const m of modules) expect(m).toBe(module);
    await dash.page.locator('[data-testid="match-same-layer"]').uncheck();
    await dash.page.locator('[data-testid="match-same-module"]').uncheck();

    await dash.page.locator('[data-testid="match-method"]').selectOption('edit');
    await dash.page.locator('[data-testid="match-k"]').selectOption('10');
    await dash.page.waitForSelector('[data-testid="match-list"][data-method="edit"]');
    const queryTokens = dash.page.locator('[data-testid="match-query"] [data-testid="match-tokens"]');
    expect((await queryTokens.textContent())?.length).toBeGreaterThan(0);
    const rowTokens = await dash.page
      .locator('[data-testid="match-item"] [data-testid="match-tokens"]')
      .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    expect(rowTokens.length).toBeGreaterThan(0);
    const ties = dash.page.locator('[data-testid="match-ties"]');
    await ties.waitFor({ state: 'visible' });
    expect(await ties.textContent()).toMatch(/\d+ candidates tie at distance \d/);
    await dash.page.screenshot({ path: artifactPath('matches-edit.png') });
  });

  it('logged no console error on any of the pages above', () => {
    // Console errors and uncaught exceptions of the page (e.g. a ResizeObserver loop).
    expect(dash.consoleErrors).toEqual([]);
  });
});

describe('geometry and matches helpers', () => {
  it('puts overlapping badges in separate lanes and reuses a lane once there is room', () => {
    expect(
      assignLanes(
        [
          [0, 20],
          [10, 30],
          [25, 40],
          [15, 18],
        ],
        3,
      ),
    ).toEqual([0, 1, 0, 2]);
    // A badge flipped to the left of its line (starting before an earlier one) is still checked
    // against every badge in a lane, not just the last.
    expect(
      assignLanes(
        [
          [100, 130],
          [60, 98],
        ],
        3,
      ),
    ).toEqual([0, 1]);
    expect(assignLanes([], 3)).toEqual([]);
  });

  it('groups events of one type at one step across runs, in step order', () => {
    const event = (type: string, step: number, id: string) => ({
      event_id: id,
      event_type: type,
      step,
      step_end: null,
      layer: 0,
      module: 'mlp_out',
      descriptor: 'effective_rank',
      detector: 'd',
      magnitude: 1,
      confidence: 1,
    });
    const groups = groupEvents([
      { run: 'b', event: event('rank_collapse', 600, '1') },
      { run: 'a', event: event('phase_shift', 300, '2') },
      { run: 'a', event: event('rank_collapse', 600, '3') },
    ]);
    expect(groups.map((g) => [g.eventType, g.step, g.events.map((e) => e.run)])).toEqual([
      ['phase_shift', 300, ['a']],
      ['rank_collapse', 600, ['b', 'a']],
    ]);
  });

  it('matches signatures on every word, each in some field', () => {
    const sig = {
      signature_id: 'tiny-s2/fixed_v1/resid_post/L1/*/effective_rank#z128',
      run_id: 'tiny-s2',
      layer: 1,
      module: 'resid_post',
      sample_id: '*',
      descriptor_set: 'effective_rank',
      method: 'z128',
      grid: 'fraction',
      dim: 128,
      n_matches: 40,
    };
    expect(signatureMatches(sig, 's2 resid_post')).toBe(true);
    expect(signatureMatches(sig, '  RESID_post   l1 ')).toBe(true);
    expect(signatureMatches(sig, 's2 mlp_out')).toBe(false);
    expect(signatureMatches(sig, '')).toBe(true);
  });

  it('explains ties: no events on either side, the same sequence, or equally far', () => {
    const row = (
      distance: number,
      tokens: string[],
      id: string,
    ): TieRow & { candidate_signature_id: string } => ({
      distance,
      candidate_event_tokens: tokens,
      candidate_signature_id: id,
    });
    expect(tieExplanation([row(0, [], 'a'), row(0, [], 'b')], [], 'edit')).toMatch(
      /^2 candidates tie at distance 0: no events on either side/,
    );
    expect(tieExplanation([row(0, ['x'], 'a'), row(0, ['x'], 'b'), row(1, [], 'c')], ['x'], 'edit')).toMatch(
      /^2 candidates tie at distance 0: each has exactly the query’s event sequence/,
    );
    expect(tieExplanation([row(1, ['y'], 'a'), row(1, [], 'b')], ['x'], 'edit')).toMatch(
      /equally many edits/,
    );
    expect(tieExplanation([row(0.1, [], 'a'), row(0.2, [], 'b')], [], 'dtw')).toBeUndefined();
  });
});

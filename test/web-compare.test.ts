import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactPath, browser, useServedDashboard } from './helpers/browser.js';
import { runlake } from './helpers/cli.js';
import { repoRoot } from './helpers/lake-fixtures.js';

// The run page (`#run/<id>`) and the Compare tab (config diff, parallel coordinates, hyperparameter
// scatter) of the dashboard, against `runlake serve` on the demo lake: 12 runs, lr ∈ {3e-4, 1e-3,
// 3e-3} × seeds 0–3, loss/lr/grad_norm with 201 points each. Every value the page shows is checked
// against the lake through /api/query, computed independently of the dashboard's own SQL.

interface QueryAnswer<Row> {
  rows: Row[];
}

/** Writes a doc screenshot to docs/images when UPDATE_DOC_IMAGES=1, else to test-artifacts/. */
function docImage(name: string): string {
  return process.env.UPDATE_DOC_IMAGES === '1'
    ? path.join(repoRoot, 'docs', 'images', name)
    : artifactPath(name);
}

interface Range {
  kind: 'range';
  lo: number;
  hi: number;
}

describe.skipIf(browser.skip)('dashboard: run page and Compare view', () => {
  const dash = useServedDashboard({ prefix: 'runlake-compare-' });

  const sql = async <Row>(text: string): Promise<Row[]> => {
    const response = await fetch(new URL('api/query', dash.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sql: text, format: 'json' }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as QueryAnswer<Row>).rows;
  };
  const compare = () => dash.page.locator('[data-testid="compare-view"]');
  const brushed = async () => {
    const text = (await compare().getAttribute('data-brushed')) ?? '';
    return text === '' ? [] : text.split(',').sort();
  };
  /** Drags on the page from one point to another with the mouse. */
  const drag = async (from: { x: number; y: number }, to: { x: number; y: number }) => {
    await dash.page.mouse.move(from.x, from.y);
    await dash.page.mouse.down();
    await dash.page.mouse.move(to.x, to.y, { steps: 6 });
    await dash.page.mouse.up();
  };
  /**
   * Screenshots one element for the docs: the whole page's picture, scrolled to the top, clipped
   * to the element, so the sticky header does not cover the element as in a scrolled element shot.
   */
  const docShot = async (selector: string, name: string) => {
    const box = (await dash.page.evaluate(
      `(() => { window.scrollTo(0, 0); const r = document.querySelector('${selector}').getBoundingClientRect(); return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height }; })()`,
    )) as { x: number; y: number; width: number; height: number };
    await dash.page.screenshot({ path: docImage(name), fullPage: true, clip: box });
  };
  /** Scrolls an element to the middle of the viewport (the mouse reaches only what is in view). */
  const centre = (selector: string) =>
    dash.page
      .locator(selector)
      .first()
      .evaluate((element) => element.scrollIntoView({ block: 'center' }));
  /** Where a value of a parallel-coordinates axis is on the page. */
  const axisPoint = async (key: string, value: number) => {
    const point = (await dash.page.evaluate(
      `window.runlake.compare?.parallelPoint(${JSON.stringify(key)}, ${value})`,
    )) as { x: number; y: number } | undefined;
    if (!point) throw new Error(`no point for ${key}=${value} on the parallel coordinates`);
    return point;
  };

  it('run page: header, searchable config, a summary equal to the lake, one chart per metric', async () => {
    const runId = 'tiny-lr0.001-s2';
    await dash.page.goto(`${dash.url}#run/${runId}`);
    const runPage = dash.page.locator('[data-testid="run-page"]');
    await dash.page.waitForSelector(`[data-testid="run-page"][data-run-id="${runId}"][data-state="ready"]`, {
      timeout: 20_000,
    });
    await expect(runPage.locator('[data-testid="run-name"]').textContent()).resolves.toBe(
      'tiny-gpt lr=0.001 seed=2',
    );
    await expect(runPage.locator('[data-testid="run-status"]').textContent()).resolves.toBe('finished');

    // Config: the grid's params and the run's fields, each with the lake's value.
    const [lakeRun] = await sql<{ seed: number; lr: number; d_model: number; warmup_steps: number }>(
      `SELECT r.seed, g.lr, g.d_model, g.warmup_steps FROM runs r JOIN grids g USING (grid_id) WHERE r.run_id = '${runId}'`,
    );
    const configValue = (key: string) =>
      runPage.locator(`[data-testid="run-config-row"][data-key="${key}"] td`).textContent();
    await expect(configValue('lr')).resolves.toBe(String(lakeRun?.lr));
    await expect(configValue('seed')).resolves.toBe(String(lakeRun?.seed));
    await expect(configValue('d_model')).resolves.toBe(String(lakeRun?.d_model));
    await expect(configValue('config.warmup_steps')).resolves.toBe(String(lakeRun?.warmup_steps));
    // Search narrows the rows to the keys or values containing the text.
    const allRows = await runPage.locator('[data-testid="run-config-row"]').count();
    await runPage.locator('[data-testid="run-config-search"]').fill('warmup');
    const searched = await runPage
      .locator('[data-testid="run-config-row"]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    expect(searched).toEqual(['warmup_steps', 'config.warmup_steps']);
    await runPage.locator('[data-testid="run-config-search"]').fill('');
    expect(await runPage.locator('[data-testid="run-config-row"]').count()).toBe(allRows);

    // Summary: final / min / max / last step of every metric, against the raw points.
    const points = await sql<{ metric_name: string; step: number; value: number }>(
      `SELECT metric_name, step, value FROM metrics_scalar WHERE run_id = '${runId}' ORDER BY metric_name, step`,
    );
    const expected = new Map<string, { final: number; min: number; max: number; last: number }>();
    for (const p of points) {
      const e = expected.get(p.metric_name) ?? { final: Number.NaN, min: Infinity, max: -Infinity, last: -1 };
      if (p.step >= e.last) {
        e.last = p.step;
        e.final = p.value;
      }
      e.min = Math.min(e.min, p.value);
      e.max = Math.max(e.max, p.value);
      expected.set(p.metric_name, e);
    }
    const shown = await runPage.locator('[data-testid="summary-row"]').evaluateAll((rows) =>
      rows.map((r) => ({
        metric: r.getAttribute('data-metric'),
        final: Number(r.getAttribute('data-final')),
        min: Number(r.getAttribute('data-min')),
        max: Number(r.getAttribute('data-max')),
        last: Number(r.getAttribute('data-last-step')),
      })),
    );
    expect(shown.map((s) => s.metric).sort()).toEqual([...expected.keys()].sort());
    for (const s of shown) {
      const e = expected.get(s.metric ?? '');
      expect(s).toEqual({ metric: s.metric, final: e?.final, min: e?.min, max: e?.max, last: e?.last });
    }
    // The demo logs no system metrics: the panel says so instead of an empty table.
    await expect(runPage.locator('[data-testid="run-system"]').textContent()).resolves.toContain(
      'None logged',
    );

    // Curves: one chart per metric, each drawn from its own downsampled series.
    await dash.page.waitForSelector('[data-testid="run-chart"][data-state="drawn"]', { timeout: 20_000 });
    await dash.page.waitForFunction(
      `[...document.querySelectorAll('[data-testid="run-chart"]')].every((c) => c.dataset.state === 'drawn')`,
      undefined,
      { timeout: 20_000 },
    );
    const charts = await runPage.locator('[data-testid="run-chart"]').evaluateAll((cells) =>
      cells.map((c) => ({
        metric: c.getAttribute('data-metric'),
        points: Number(c.getAttribute('data-points')),
        canvases: c.querySelectorAll('canvas').length,
      })),
    );
    expect(charts.map((c) => c.metric).sort()).toEqual(['grad_norm', 'loss', 'lr']);
    for (const c of charts) {
      expect(c.points).toBeGreaterThan(100);
      expect(c.canvases).toBe(1);
    }
    await runPage.locator('[data-testid="run-config-search"]').blur();
    await docShot('[data-testid="run-page"]', 'web-run-page.png');

    // An unknown run says so in one line.
    await dash.page.goto(`${dash.url}#run/no-such-run`);
    await expect(
      dash.page.locator('[data-testid="run-page-missing"]').textContent({ timeout: 20_000 }),
    ).resolves.toContain('No run “no-such-run” in this lake.');
  });

  it('config diff: exactly the keys that differ, highlighted and first; "only differences"', async () => {
    const picked = ['tiny-lr0.0003-s0', 'tiny-lr0.001-s1', 'tiny-lr0.003-s3'];
    await dash.page.goto(`${dash.url}#compare`);
    await dash.page.waitForSelector('[data-testid="compare-view"]', { state: 'visible', timeout: 20_000 });
    await dash.page.evaluate(`window.runlake.table?.setSelection(${JSON.stringify(picked)})`);
    const diff = dash.page.locator('[data-testid="config-diff"]');
    await dash.page.waitForSelector('[data-testid="config-diff"][data-run-count="3"]');

    // The differing keys, from the lake: runs columns and grid params with more than one value.
    const inList = picked.map((id) => `'${id}'`).join(', ');
    const columns = (await sql<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE runs)`)).map(
      (c) => c.column_name,
    );
    const fields = columns.filter((c) => !['run_id', 'config_json', 'env_json'].includes(c));
    const [fieldCounts] = await sql<Record<string, number>>(
      `SELECT ${fields.map((f) => `count(DISTINCT coalesce(CAST("${f}" AS VARCHAR), '∅')) AS "${f}"`).join(', ')} FROM runs WHERE run_id IN (${inList})`,
    );
    const params = ['d_model', 'lr', 'model', 'n_layers', 'warmup_steps'];
    const [paramCounts] = await sql<Record<string, number>>(
      `SELECT ${params.map((p) => `count(DISTINCT g."${p}") AS "${p}"`).join(', ')} FROM runs r JOIN grids g USING (grid_id) WHERE r.run_id IN (${inList})`,
    );
    const differing = [
      // A runs column named like a param (d_model, n_layers) is shown as run.<name>.
      ...fields.filter((f) => Number(fieldCounts?.[f]) > 1).map((f) => (params.includes(f) ? `run.${f}` : f)),
      ...params.filter((p) => Number(paramCounts?.[p]) > 1),
      // config_json holds the grid's params and its id: those that differ are lr and grid_id.
      'config.lr',
      'config.grid_id',
    ].sort();
    expect(differing).toEqual(expect.arrayContaining(['lr', 'seed']));

    const rows = await diff.locator('[data-testid="diff-row"]').evaluateAll((trs) =>
      trs.map((tr) => ({
        key: tr.getAttribute('data-key'),
        differs: tr.getAttribute('data-differs') === 'true',
        highlighted: tr.classList.contains('differs'),
      })),
    );
    const backgrounds = (await dash.page.evaluate(
      `[...document.querySelectorAll('[data-testid="diff-row"] td')].filter((td) => td.cellIndex === 1).map((td) => getComputedStyle(td).backgroundColor)`,
    )) as string[];
    expect(
      rows
        .filter((r) => r.differs)
        .map((r) => r.key)
        .sort(),
    ).toEqual(differing);
    // Differing rows come first and are the only ones highlighted.
    const firstSame = rows.findIndex((r) => !r.differs);
    expect(firstSame).toBe(differing.length);
    expect(rows.every((r) => r.highlighted === r.differs)).toBe(true);
    expect(backgrounds[0]).not.toBe(backgrounds[firstSame]);
    // Each run's lr column shows its own learning rate.
    const lrCells = await diff
      .locator('[data-testid="diff-row"][data-key="lr"] td')
      .evaluateAll((tds) => tds.map((td) => td.textContent));
    expect(lrCells).toEqual(['0.0003', '0.001', '0.003']);

    await diff.locator('[data-testid="diff-only-differences"]').check();
    const onlyDiff = await diff
      .locator('[data-testid="diff-row"]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-key')));
    expect(onlyDiff.sort()).toEqual(differing);
    await docShot('[data-testid="config-diff"]', 'web-config-diff.png');
    await diff.locator('[data-testid="diff-only-differences"]').uncheck();

    // Numbers compare as numbers: a config that says "1e-3" (text) equals one that says 0.001.
    const runsAnswer = (await (await fetch(new URL('api/runs', dash.url))).json()) as {
      runs: { run_id: string; config_json: string }[];
    };
    const [first, second] = runsAnswer.runs.filter((r) => r.run_id.startsWith('tiny-lr0.001-'));
    const spelled = (run: typeof first, lr: unknown) => ({
      ...run,
      config_json: JSON.stringify({ ...JSON.parse(run?.config_json ?? '{}'), lr }),
    });
    await dash.page.evaluate(
      `(() => { const c = window.runlake.compare; c.setRuns(${JSON.stringify([spelled(first, '1e-3'), spelled(second, 0.001)])}); c.setSelection(${JSON.stringify([first?.run_id, second?.run_id])}); })()`,
    );
    const lrRow = diff.locator('[data-testid="diff-row"][data-key="config.lr"]');
    await expect(lrRow.getAttribute('data-differs')).resolves.toBe('false');
    await expect(lrRow.locator('td').allTextContents()).resolves.toEqual(['1e-3', '0.001']);
    await dash.page.evaluate(
      `(() => { const c = window.runlake.compare; c.setRuns(${JSON.stringify(runsAnswer.runs)}); c.setSelection(${JSON.stringify(picked)}); })()`,
    );
  });

  it('parallel coordinates: brushing an lr range, then final loss, leaves exactly the lake’s runs', async () => {
    await dash.page.goto(`${dash.url}#compare`);
    await dash.page.waitForSelector('[data-testid="parcoords"][data-axes="lr,seed,final:loss"]', {
      timeout: 20_000,
    });
    expect(await dash.page.locator('[data-testid="parcoords"]').getAttribute('data-lines')).toBe('12');
    await centre('[data-testid="parcoords"]');

    // Drag on the lr axis from above 1e-3 down past 3e-4: the two lower learning rates.
    const top = await axisPoint('lr', 0.001);
    const bottom = await axisPoint('lr', 0.0003);
    await drag({ x: top.x, y: top.y - 12 }, { x: bottom.x, y: bottom.y + 8 });
    const lrBrush = JSON.parse((await compare().getAttribute('data-brushes')) ?? '{}').lr as Range;
    expect(lrBrush.kind).toBe('range');
    const inLr = await sql<{ run_id: string }>(
      `SELECT run_id FROM runs JOIN grids USING (grid_id) WHERE lr BETWEEN ${lrBrush.lo} AND ${lrBrush.hi} ORDER BY run_id`,
    );
    expect(inLr).toHaveLength(8);
    expect(await brushed()).toEqual(inLr.map((r) => r.run_id));
    await expect(compare().getAttribute('data-brush-label')).resolves.toMatch(/^lr<1\.\d+e-3$/);
    // The runs table shows the brushed runs only, under a chip naming the brush.
    await dash.page.locator('[data-testid="tab-runs"]').click();
    await dash.page.waitForFunction(
      `document.querySelectorAll('[data-testid="runs-row"]').length === ${inLr.length}`,
      undefined,
      { timeout: 10_000 },
    );
    const tableIds = await dash.page
      .locator('[data-testid="runs-row"]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run-id')).sort());
    expect(tableIds).toEqual(inLr.map((r) => r.run_id));
    await expect(dash.page.locator('[data-testid="runs-external-filter"]').textContent()).resolves.toContain(
      'lr<',
    );
    await dash.page.locator('[data-testid="tab-compare"]').click();
    await dash.page.waitForSelector('[data-testid="parcoords"]', { state: 'visible' });
    await centre('[data-testid="parcoords"]');

    // A second brush on the final-loss axis ANDs with the first: the lower half of its range.
    const lossTop = await axisPoint('final:loss', 1.4);
    const lossBottom = await axisPoint('final:loss', 1.2);
    const middle = (lossTop.y + lossBottom.y) / 2;
    await drag({ x: lossTop.x, y: middle }, { x: lossTop.x, y: lossBottom.y + 30 });
    const lossBrush = JSON.parse((await compare().getAttribute('data-brushes')) ?? '{}')[
      'final:loss'
    ] as Range;
    const both = await sql<{ run_id: string }>(
      `SELECT run_id FROM runs JOIN grids USING (grid_id)
       JOIN (SELECT run_id, arg_max(value, step) AS final FROM metrics_scalar WHERE metric_name = 'loss' GROUP BY run_id) USING (run_id)
       WHERE lr BETWEEN ${lrBrush.lo} AND ${lrBrush.hi} AND final BETWEEN ${lossBrush.lo} AND ${lossBrush.hi} ORDER BY run_id`,
    );
    expect(both.length).toBeGreaterThan(0);
    expect(both.length).toBeLessThan(inLr.length);
    expect(await brushed()).toEqual(both.map((r) => r.run_id));
    await expect(compare().getAttribute('data-brush-label')).resolves.toMatch(
      /^lr<[^,]+, final loss<[\d.]+$/,
    );
    await docShot('[data-testid="compare-plots"]', 'web-parallel-coords.png');

    // Hovering a line names its run: lr=3e-3 to seed 3 is the only line along the top.
    await centre('[data-testid="parcoords"]');
    const lrTop = await axisPoint('lr', 0.003);
    const seedTop = await axisPoint('seed', 3);
    await dash.page.mouse.move((lrTop.x + seedTop.x) / 2, (lrTop.y + seedTop.y) / 2);
    await expect(dash.page.locator('[data-testid="parcoords"]').getAttribute('data-hovered')).resolves.toBe(
      'tiny-lr0.003-s3',
    );
    await expect(dash.page.locator('[data-testid="parcoords-tooltip"]').textContent()).resolves.toContain(
      'seed: 3',
    );
    // Clicking it opens that run's page; the Compare tab still has the brushes.
    await dash.page.mouse.down();
    await dash.page.mouse.up();
    await dash.page.waitForSelector(
      '[data-testid="run-page"][data-run-id="tiny-lr0.003-s3"][data-state="ready"]',
      {
        timeout: 20_000,
      },
    );
    await dash.page.locator('[data-testid="tab-compare"]').click();
    await dash.page.waitForSelector('[data-testid="parcoords"]', { state: 'visible' });
    expect(JSON.parse((await compare().getAttribute('data-brushes')) ?? '{}')).toHaveProperty('lr');
    await centre('[data-testid="parcoords"]');
    await dash.page.mouse.move(5, 5);

    // A click on the lr axis clears its brush: only the loss brush is left.
    await centre('[data-testid="parcoords"]');
    const lrAxis = await axisPoint('lr', 0.001);
    await dash.page.mouse.click(lrAxis.x, lrAxis.y);
    expect(JSON.parse((await compare().getAttribute('data-brushes')) ?? '{}')).not.toHaveProperty('lr');
    // Clearing every brush restores the table.
    await dash.page.locator('[data-testid="compare-clear"]').click();
    expect(await brushed()).toEqual([]);
    await dash.page.locator('[data-testid="tab-runs"]').click();
    await dash.page.waitForFunction(
      `document.querySelectorAll('[data-testid="runs-row"]').length === 12`,
      undefined,
      { timeout: 10_000 },
    );
    expect(await dash.page.locator('[data-testid="runs-external-filter"]').isHidden()).toBe(true);
  });

  it('scatter: a box around the lr=3e-3 points brushes exactly those runs', async () => {
    await dash.page.goto(`${dash.url}#compare`);
    await dash.page.waitForSelector('[data-testid="hp-scatter-chart"][data-point-count="12"]', {
      timeout: 20_000,
    });
    // lr on x, on a log axis (the defaults for the demo, set here so the test does not rely on them).
    await dash.page.locator('[data-testid="hp-scatter-param"]').selectOption('lr');
    await dash.page.locator('[data-testid="hp-scatter-log-x"]').check();
    await dash.page.waitForSelector('[data-testid="hp-scatter-chart"][data-point-count="12"]');
    await centre('[data-testid="hp-scatter-chart"]');
    expect(await dash.page.evaluate('window.runlake.compare.getState().scatterX')).toBe('lr');
    const points = (await dash.page.evaluate('window.runlake.compare?.scatterPoints() ?? []')) as {
      runId: string;
      x: number;
      y: number;
    }[];
    const lr = await sql<{ run_id: string; lr: number }>(
      `SELECT run_id, lr FROM runs JOIN grids USING (grid_id)`,
    );
    const lrOf = new Map(lr.map((r) => [r.run_id, r.lr]));
    const target = points.filter((p) => lrOf.get(p.runId) === 0.003);
    expect(target).toHaveLength(4);
    const xs = target.map((p) => p.x);
    const ys = target.map((p) => p.y);
    // From below-left of the points to above-right, both inside the plot: uPlot follows the mouse
    // only over the plot, so a drag that ends outside it ends wherever the last move inside was.
    const plot = (await dash.page.evaluate(
      `(() => { const r = document.querySelector('[data-testid="hp-scatter-chart"] .u-over').getBoundingClientRect(); return { left: r.left, top: r.top, right: r.right, bottom: r.bottom }; })()`,
    )) as { left: number; top: number; right: number; bottom: number };
    const inside = (x: number, y: number) => ({
      x: Math.min(plot.right - 1, Math.max(plot.left + 1, x)),
      y: Math.min(plot.bottom - 1, Math.max(plot.top + 1, y)),
    });
    await drag(
      inside(Math.min(...xs) - 15, Math.max(...ys) + 15),
      inside(Math.max(...xs) + 15, Math.min(...ys) - 15),
    );
    const box = JSON.parse((await compare().getAttribute('data-scatter-brush')) ?? 'null') as {
      x: Range;
      y: { lo: number; hi: number };
    };
    const inBox = await sql<{ run_id: string }>(
      `SELECT run_id FROM runs JOIN grids USING (grid_id)
       JOIN (SELECT run_id, arg_max(value, step) AS final FROM metrics_scalar WHERE metric_name = 'loss' GROUP BY run_id) USING (run_id)
       WHERE lr BETWEEN ${box.x.lo} AND ${box.x.hi} AND final BETWEEN ${box.y.lo} AND ${box.y.hi} ORDER BY run_id`,
    );
    expect(inBox.map((r) => r.run_id)).toEqual(target.map((p) => p.runId).sort());
    // The box reaches past the largest lr and final loss, so the label says "greater than".
    expect(await brushed()).toEqual(inBox.map((r) => r.run_id));
    await expect(compare().getAttribute('data-brush-label')).resolves.toMatch(
      /^lr>[\d.e-]+, final loss>[\d.]+$/,
    );
    // "Select these runs" selects them in the table, so the diff compares them.
    await dash.page.locator('[data-testid="compare-select"]').click();
    await dash.page.waitForSelector('[data-testid="config-diff"][data-run-count="4"]');
    // A click without a drag clears the box.
    const chart = dash.page.locator('[data-testid="hp-scatter-chart"] .u-over');
    await chart.click({ position: { x: 20, y: 20 } });
    expect(await brushed()).toEqual([]);
    // A click on a point opens its run's page.
    await centre('[data-testid="hp-scatter-chart"]');
    const [point] = (await dash.page.evaluate(
      'window.runlake.compare?.scatterPoints() ?? []',
    )) as typeof points;
    if (!point) throw new Error('the scatter has no points');
    await dash.page.mouse.click(point.x, point.y);
    await dash.page.waitForSelector(
      `[data-testid="run-page"][data-run-id="${point.runId}"][data-state="ready"]`,
      {
        timeout: 20_000,
      },
    );
  });

  it('state: brushes, statistic, scatter and diff toggle restore from getState(), before and after loading', async () => {
    const state = {
      metric: 'loss',
      stat: 'min',
      brushes: { lr: { kind: 'range', lo: 0.0002, hi: 0.0005 } },
      scatterX: 'seed',
      scatterLogX: false,
      scatterBox: { x: { kind: 'range', lo: 0.5, hi: 3.5 }, y: { lo: 0, hi: 10 } },
      onlyDifferences: true,
    };
    // Restored before the Compare tab ever loaded: it applies once the summaries arrive.
    await dash.page.goto(`${dash.url}`);
    await dash.page.reload();
    await dash.page.waitForSelector('[data-testid="runs-row"]', { timeout: 20_000 });
    // The Compare view is built once the metric names arrive, which may be after the first rows.
    await dash.page.waitForFunction('window.runlake?.compare !== undefined', undefined, { timeout: 20_000 });
    await dash.page.evaluate(`window.runlake.compare.setState(${JSON.stringify(state)})`);
    await dash.page.locator('[data-testid="tab-compare"]').click();
    await dash.page.waitForFunction(
      `document.querySelector('[data-testid="compare-view"]')?.dataset.brushLabel?.startsWith('lr')`,
      undefined,
      { timeout: 20_000 },
    );
    const expected = await sql<{ run_id: string }>(
      `SELECT run_id FROM runs JOIN grids USING (grid_id) WHERE lr BETWEEN 0.0002 AND 0.0005 AND seed BETWEEN 0.5 AND 3.5 ORDER BY run_id`,
    );
    expect(expected).toHaveLength(3);
    expect(await brushed()).toEqual(expected.map((r) => r.run_id));
    await expect(compare().getAttribute('data-brush-label')).resolves.toMatch(
      // Both ranges reach past their axis (lr up from its smallest value, seed beyond 3): < and >.
      /^lr<5e-4, seed>0\.5, min loss∈\[0,10\]$/,
    );
    expect(await dash.page.evaluate('window.runlake.compare.getState()')).toEqual(state);
    expect(await dash.page.locator('[data-testid="diff-only-differences"]').isChecked()).toBe(true);
    await expect(dash.page.locator('[data-testid="hp-scatter-param"]').inputValue()).resolves.toBe('seed');
    await expect(dash.page.locator('[data-testid="compare-stat"]').inputValue()).resolves.toBe('min');
    // The runs table got the restored brush as its filter.
    await dash.page.locator('[data-testid="tab-runs"]').click();
    await dash.page.waitForFunction(
      `document.querySelectorAll('[data-testid="runs-row"]').length === 3`,
      undefined,
      {
        timeout: 10_000,
      },
    );
    // Restored into a loaded view: an empty state clears the brushes and the table's filter.
    await dash.page.locator('[data-testid="tab-compare"]').click();
    await dash.page.evaluate(
      `window.runlake.compare.setState({ stat: 'final', brushes: {}, scatterX: 'lr', scatterLogX: true, onlyDifferences: false })`,
    );
    expect(await brushed()).toEqual([]);
    await dash.page.locator('[data-testid="tab-runs"]').click();
    await dash.page.waitForFunction(
      `document.querySelectorAll('[data-testid="runs-row"]').length === 12`,
      undefined,
      {
        timeout: 10_000,
      },
    );
  });

  it('link: brushes survive in the URL, the brushed chip clears them, run names label legend and diff', async () => {
    await dash.page.goto(`${dash.url}`);
    await dash.page.waitForSelector('[data-testid="runs-row"]', { timeout: 20_000 });
    // Run names (run_name), not ids, in the loss panel's legend.
    const names = await sql<{ run_id: string; run_name: string }>(
      'SELECT run_id, run_name FROM runs ORDER BY run_id',
    );
    const nameOf = new Map(names.map((r) => [r.run_id, r.run_name]));
    await dash.page.waitForSelector('[data-testid="legend-item"]', { timeout: 20_000 });
    const legend = await dash.page.locator('[data-testid="legend-item"]').first().textContent();
    expect([...nameOf.values()].some((name) => legend?.includes(name))).toBe(true);

    const urlWrites = async () => Number(await dash.page.evaluate('document.body.dataset.urlState ?? 0'));
    // The tab click writes the URL a moment later: let that write land before counting from it.
    const beforeTab = await urlWrites();
    await dash.page.locator('[data-testid="tab-compare"]').click();
    await dash.page.waitForFunction(`Number(document.body.dataset.urlState ?? 0) > ${beforeTab}`);
    const before = await urlWrites();
    await dash.page.evaluate(
      `window.runlake.compare.setState({ brushes: { lr: { kind: 'range', lo: 0.0002, hi: 0.0005 } } })`,
    );
    await dash.page.waitForFunction(
      `document.querySelector('[data-testid="compare-view"]')?.dataset.brushLabel?.startsWith('lr')`,
      undefined,
      { timeout: 20_000 },
    );
    const expected = await sql<{ run_id: string }>(
      'SELECT run_id FROM runs JOIN grids USING (grid_id) WHERE lr BETWEEN 0.0002 AND 0.0005 ORDER BY run_id',
    );
    expect(expected).toHaveLength(4);
    // setState does not report a change; the user's next one (the statistic) writes the URL.
    await dash.page.locator('[data-testid="compare-stat"]').selectOption('max');
    await dash.page.waitForFunction(`Number(document.body.dataset.urlState ?? 0) > ${before}`);
    await dash.page.waitForFunction(`window.location.hash.includes('?s=')`);
    const link = dash.page.url();

    const other = await dash.context.newPage();
    try {
      await other.goto(link);
      await other.waitForFunction(
        `document.querySelector('[data-testid="compare-view"]')?.dataset.brushLabel?.startsWith('lr')`,
        undefined,
        { timeout: 20_000 },
      );
      const restored = (await other.evaluate('window.runlake.compare.getState()')) as {
        brushes: Record<string, unknown>;
        stat: string;
      };
      expect(restored.brushes).toEqual({ lr: { kind: 'range', lo: 0.0002, hi: 0.0005 } });
      expect(restored.stat).toBe('max');
      // The runs table shows the brushed runs under a chip; its × clears the brushes too.
      await other.locator('[data-testid="tab-runs"]').click();
      await other.waitForFunction(`document.querySelectorAll('[data-testid="runs-row"]').length === 4`);
      await other.locator('[data-testid="runs-external-clear"]').click();
      await other.waitForFunction(`document.querySelectorAll('[data-testid="runs-row"]').length === 12`);
      expect(await other.evaluate('window.runlake.compare.getState().brushes')).toEqual({});
      // The diff's column headers name the runs.
      await other.evaluate(
        `window.runlake.table.setSelection(${JSON.stringify(expected.map((r) => r.run_id))})`,
      );
      await other.locator('[data-testid="tab-compare"]').click();
      const header =
        (await other.locator('[data-testid="compare-view"] .diff-table thead').textContent()) ?? '';
      expect(header).toContain(nameOf.get(expected[0]?.run_id ?? '') ?? '?');
    } finally {
      await other.close();
    }
    await dash.page.evaluate(`window.runlake.compare.setState({ stat: 'final', brushes: {} })`);
  });

  it('fits 800 px: the Compare view and the run page stay inside the window, plots at its width', async () => {
    await dash.page.setViewportSize({ width: 800, height: 900 });
    try {
      await dash.page.goto(`${dash.url}#compare`);
      await dash.page.waitForSelector('[data-testid="parcoords"][data-lines="12"]', { timeout: 20_000 });
      await dash.page.waitForFunction(
        `document.querySelector('[data-testid="parcoords-canvas"]').getBoundingClientRect().right <= 800`,
        undefined,
        { timeout: 10_000 },
      );
      const right = (selector: string) =>
        dash.page.evaluate(
          `document.querySelector('${selector}').getBoundingClientRect().right`,
        ) as Promise<number>;
      for (const selector of ['[data-testid="compare-view"]', '[data-testid="hp-scatter-chart"] canvas']) {
        expect(await right(selector)).toBeLessThanOrEqual(800);
      }
      // The canvas fills its panel (it was not left at the width of an earlier, wider window).
      expect(await right('[data-testid="parcoords-canvas"]')).toBeGreaterThan(700);
      await dash.page.goto(`${dash.url}#run/tiny-lr0.003-s1`);
      await dash.page.waitForSelector(
        '[data-testid="run-page"][data-run-id="tiny-lr0.003-s1"][data-state="ready"]',
        {
          timeout: 20_000,
        },
      );
      // One column at 800 px: the curves are below the fold, and load as they scroll into view.
      await centre('[data-testid="run-chart"]');
      await dash.page.waitForSelector('[data-testid="run-chart"][data-state="drawn"]', { timeout: 20_000 });
      expect(await right('[data-testid="run-page"]')).toBeLessThanOrEqual(800);
      expect(await right('[data-testid="run-chart"] canvas')).toBeLessThanOrEqual(800);
    } finally {
      await dash.page.setViewportSize({ width: 1400, height: 900 });
    }
  });

  it('draws and brushes 1,500 runs', async () => {
    await dash.page.goto(`${dash.url}#compare`);
    await dash.page.waitForSelector('[data-testid="parcoords"][data-lines="12"]', { timeout: 20_000 });
    // 1,500 runs over a log-uniform lr and 7 seeds (they have no metrics: their lines stop at seed).
    const synthetic = Array.from({ length: 1500 }, (_, i) => ({
      run_id: `synth-${i}`,
      seed: i % 7,
      params: { lr: 10 ** (-5 + 3 * ((i * 0.6180339887) % 1)), model: ['a', 'b', 'c'][i % 3] },
    }));
    const original = (await (await fetch(new URL('api/runs', dash.url))).json()) as { runs: unknown[] };
    await dash.page.evaluate(`window.runlake.compare.setRuns(${JSON.stringify(synthetic)})`);
    await dash.page.waitForSelector('[data-testid="parcoords"][data-lines="1500"]', { timeout: 20_000 });
    await expect(dash.page.locator('[data-testid="parcoords"]').getAttribute('data-axes')).resolves.toBe(
      'lr,model,seed,final:loss',
    );
    await centre('[data-testid="parcoords"]');
    const from = await axisPoint('lr', 1e-4);
    const to = await axisPoint('lr', 1e-3);
    await drag(from, to);
    const brush = JSON.parse((await compare().getAttribute('data-brushes')) ?? '{}').lr as Range;
    const expected = synthetic
      .filter((r) => r.params.lr >= brush.lo && r.params.lr <= brush.hi)
      .map((r) => r.run_id);
    expect(expected.length).toBeGreaterThan(400);
    expect(await brushed()).toEqual(expected.sort());
    await dash.page.locator('[data-testid="compare-clear"]').click();
    await dash.page.evaluate(`window.runlake.compare.setRuns(${JSON.stringify(original.runs)})`);
    await dash.page.waitForSelector('[data-testid="parcoords"][data-lines="12"]');
  });

  // Last: it adds a 13th run to the lake.
  it('run page: a run written after the page loaded opens too', async () => {
    await dash.page.goto(`${dash.url}#runs`);
    await dash.page.waitForSelector('[data-testid="runs-row"]', { timeout: 20_000 });
    const file = path.join(dash.dir, 'late-run.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify({ run_id: 'late-run', run_name: 'written later', status: 'running', config_json: '{"lr":0.01}' })}\n`,
    );
    const imported = runlake('import', dash.lakeDir, 'runs', file);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    await dash.page.goto(`${dash.url}#run/late-run`);
    await dash.page.waitForSelector('[data-testid="run-page"][data-run-id="late-run"][data-state="ready"]', {
      timeout: 20_000,
    });
    await expect(dash.page.locator('[data-testid="run-name"]').textContent()).resolves.toBe('written later');
    await expect(
      dash.page.locator('[data-testid="run-config-row"][data-key="config.lr"] td').textContent(),
    ).resolves.toBe('0.01');
    // It has no metrics yet, and most of the lake's run columns are empty for it: both said so.
    await expect(dash.page.locator('[data-testid="run-summary"]').textContent()).resolves.toContain(
      'This run logged no training metrics',
    );
    await expect(dash.page.locator('[data-testid="run-config-count"]').textContent()).resolves.toMatch(
      /\(\d+ empty fields? hidden\)/,
    );
    expect(await dash.page.locator('[data-testid="run-config-row"][data-key="git_commit"]').count()).toBe(0);
  });

  it('logged no console errors', () => {
    expect(dash.consoleErrors).toEqual([]);
  });
});

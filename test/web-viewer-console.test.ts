/**
 * The file viewer on lake exports and lake answers, and the dashboard's SQL console, in Chromium
 * against `runlake serve --token` on the demo lake (issue 21: bug 4, expectation 8):
 * - a `metrics_scalar` export (long form) plots one metric (loss), a series per run, not the mean
 *   of loss, grad_norm and lr; a `geometry_state` export never plots a key column (layer) as y;
 * - the page fits the viewport (the table scrolls inside its panel); float columns get min/max
 *   ranges, list columns a "contains" filter, low-cardinality text a dropdown;
 * - the server's own answers open: `format=arrow` (Arrow IPC, detected by its magic bytes) and JSON
 *   (`{columns, rows}`, and records nested under one key);
 * - served by `runlake serve`, the viewer offers the lake's files (GET /api/files) and an
 *   "open SQL answer" box;
 * - the SQL console: run a query (rows equal /api/query's), a bad query shows the server's one
 *   line, history, CSV download, "open in viewer".
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { answerCsv, HISTORY_SIZE, readHistory, withEntry } from '../web/src/dashboard/sql-history.js';
import { detectFormat, isArrowIpc } from '../web/src/viewer/detect-format.js';
import { filterChoices, selectRows } from '../web/src/viewer/filters.js';
import type { CategoryColumn } from '../web/src/viewer/frame.js';
import { parseCsv } from '../web/src/viewer/parse-csv.js';
import { parseJsonText } from '../web/src/viewer/parse-json.js';
import { defaultPlot, firstColumns } from '../web/src/viewer/plot-data.js';
import { artifactPath, browser, useServedDashboard, writeDemoLake } from './helpers/browser.js';
import { runlake } from './helpers/cli.js';
import { repoRoot } from './helpers/lake-fixtures.js';

const TOKEN = 'viewer-console-token';
const DOC_IMAGES = process.env.UPDATE_DOC_IMAGES === '1';
/** Where a screenshot goes: docs/images when UPDATE_DOC_IMAGES=1, else test-artifacts. */
const shotPath = (name: string) =>
  DOC_IMAGES ? path.join(repoRoot, 'docs', 'images', name) : artifactPath(name);

interface QueryAnswer {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
}

/**
 * The demo lake, and beside it the files the viewer opens: two exports of the lake (metrics_scalar in
 * long form, geometry_state) and a JSON file with a list column.
 */
async function writeLakeAndFiles(dir: string): Promise<string> {
  const lakeDir = await writeDemoLake(dir);
  const out = (select: string, name: string) => {
    const result = runlake('query', lakeDir, '--sql', select, '-f', 'parquet', '-o', path.join(dir, name));
    if (result.code !== 0) throw new Error(result.stderr);
  };
  out(
    'SELECT run_id, step, metric_name, value FROM metrics_scalar ORDER BY run_id, metric_name, step',
    'metrics_scalar.parquet',
  );
  out('SELECT * FROM geometry_state', 'geometry_state.parquet');
  writeFileSync(
    path.join(dir, 'tags.json'),
    JSON.stringify([
      { id: 1, tags: ['warmup', 'bf16'], loss: 0.5 },
      { id: 2, tags: ['bf16'], loss: 0.25 },
      { id: 3, tags: [], loss: 0.125 },
    ]),
  );
  return lakeDir;
}

describe.skipIf(browser.skip)('file viewer on lake data, and the SQL console', () => {
  const dash = useServedDashboard({
    prefix: 'runlake-viewer-console-',
    lake: writeLakeAndFiles,
    serveArgs: ['--token', TOKEN, '--max-rows', '20000'],
    timeout: 120_000,
  });
  const fixture = (name: string) => path.join(dash.dir, name);
  const api = (pathAndQuery: string) =>
    fetch(new URL(pathAndQuery, dash.url), { headers: { Authorization: `Bearer ${TOKEN}` } });
  const sql = async (text: string): Promise<QueryAnswer> => {
    const response = await api(`api/query?sql=${encodeURIComponent(text)}`);
    expect(response.status).toBe(200);
    return (await response.json()) as QueryAnswer;
  };
  const text = async (testid: string) =>
    (await dash.page.locator(`[data-testid="${testid}"]`).first().textContent()) ?? '';
  const waitSettled = () =>
    dash.page.waitForSelector('body[data-state="ready"], body[data-state="error"]', {
      state: 'attached',
      timeout: 30_000,
    });
  const viewerUrl = (params: Record<string, string> = {}) => {
    const url = new URL('viewer.html', dash.url);
    url.searchParams.set('token', TOKEN);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.href;
  };
  async function openFile(file: string | { name: string; mimeType: string; buffer: Buffer }) {
    await dash.page.setInputFiles('[data-testid="file-input"]', file);
    await waitSettled();
    const error = await dash.page.locator('[data-testid="error"]').count();
    expect(error, error ? await text('error') : '').toBe(0);
  }

  it('plots one metric of a long-form metrics_scalar export, a series per run', async () => {
    await dash.page.goto(viewerUrl());
    await openFile(fixture('metrics_scalar.parquet'));
    const counts = await sql(
      'SELECT count(*)::INT AS n, count(DISTINCT run_id)::INT AS runs FROM metrics_scalar',
    );
    const loss = await sql("SELECT count(*)::INT AS n FROM metrics_scalar WHERE metric_name = 'loss'");
    const total = counts.rows[0]?.n as number;
    expect(await dash.page.locator('[data-testid="plot-y"]').inputValue()).toBe('value');
    expect(await dash.page.locator('[data-testid="plot-x"]').inputValue()).toBe('step');
    expect(await dash.page.locator('[data-testid="plot-group"]').inputValue()).toBe('run_id');
    // Filtered to loss (the filter shows it), not the mean of loss, grad_norm and lr.
    const metricFilter = dash.page.locator('[data-testid="filter-metric_name"]');
    expect(await metricFilter.locator('option:checked').textContent()).toBe('loss');
    expect(await text('row-count')).toBe(
      `${Number(loss.rows[0]?.n).toLocaleString('en-US')} of ${total.toLocaleString('en-US')} rows`,
    );
    expect(await dash.page.locator('[data-testid="plot"]').getAttribute('data-series-count')).toBe(
      String(counts.rows[0]?.runs),
    );
    expect(await dash.page.locator('[data-testid="plot"]').getAttribute('data-y-label')).toBe(
      'value of loss',
    );
    await dash.page.screenshot({ path: shotPath('web-viewer-metrics.png') });
    await dash.page.selectOption('[data-testid="filter-metric_name"]', { label: 'lr' });
    expect(await dash.page.locator('[data-testid="plot"]').getAttribute('data-y-label')).toBe('value of lr');
  });

  it('never plots a key column as y, fits the viewport, and filters floats by range and lists by item', async () => {
    await openFile(fixture('geometry_state.parquet'));
    const y = await dash.page.locator('[data-testid="plot-y"]').inputValue();
    expect(['layer', 'step', 'seed', 'n_samples', 'dim', 'top_k']).not.toContain(y);
    expect(y).toBe('effective_rank');
    expect(await dash.page.locator('[data-testid="plot-x"]').inputValue()).toBe('step');
    // The page is as wide as the window; the table scrolls inside its panel.
    const widths = (await dash.page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth, document.querySelector(".table-scroll").scrollWidth, document.querySelector(".table-scroll").clientWidth]',
    )) as number[];
    expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);
    expect(widths[2]).toBeGreaterThan(widths[3] as number);
    // At 800 px too: every panel stays inside the window.
    await dash.page.setViewportSize({ width: 800, height: 900 });
    const narrow = (await dash.page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth, Math.max(...[...document.querySelectorAll(".content > section")].map((s) => s.getBoundingClientRect().right))]',
    )) as number[];
    expect(narrow[0]).toBeLessThanOrEqual(narrow[1] as number);
    expect(narrow[2]).toBeLessThanOrEqual(narrow[1] as number);
    await dash.page.setViewportSize({ width: 1400, height: 900 });
    // Floats: a min/max range, never a dropdown of raw values; the list column: "contains".
    expect(await dash.page.locator('[data-testid="filter-effective_rank"]').count()).toBe(0);
    expect(await dash.page.locator('[data-testid="filter-effective_rank-min"]').count()).toBe(1);
    expect(await dash.page.locator('[data-testid="filter-top_eigenvalues-contains"]').count()).toBe(1);
    expect(await dash.page.locator('select[data-testid="filter-module"]').count()).toBe(1);

    await openFile(fixture('tags.json'));
    await dash.page.fill('[data-testid="filter-tags-contains"]', 'bf16');
    await dash.page.locator('[data-testid="filter-tags-contains"]').dispatchEvent('change');
    expect(await text('row-count')).toBe('2 of 3 rows');
    await dash.page.fill('[data-testid="filter-tags-contains"]', 'warmup');
    await dash.page.locator('[data-testid="filter-tags-contains"]').dispatchEvent('change');
    expect(await text('row-count')).toBe('1 of 3 rows');
  });

  it("opens the server's own answers: Arrow IPC by its magic bytes, JSON {columns, rows} and records under a key", async () => {
    const select =
      'SELECT run_id, step, value FROM metrics_scalar WHERE metric_name = $$loss$$ ORDER BY run_id, step';
    const expected = await sql(select);
    const arrow = await api(`api/query?format=arrow&sql=${encodeURIComponent(select)}`);
    expect(arrow.status).toBe(200);
    const rows = expected.rows.length.toLocaleString('en-US');
    // No extension: the format comes from the bytes (it was read as CSV: "line 3: expected 1 fields").
    await openFile({
      name: 'query',
      mimeType: 'application/octet-stream',
      buffer: Buffer.from(await arrow.arrayBuffer()),
    });
    expect(await text('file-format')).toBe('ARROW');
    expect(await text('row-count')).toBe(`${rows} rows`);
    const json = await api(`api/query?format=json&sql=${encodeURIComponent(select)}`);
    await openFile({
      name: 'query',
      mimeType: 'application/json',
      buffer: Buffer.from(await json.arrayBuffer()),
    });
    expect(await text('row-count')).toBe(`${rows} rows`);
    expect(await dash.page.locator('[data-testid="column-value"]').count()).toBe(1);
    const runs = await api('api/runs');
    const runCount = ((await runs.clone().json()) as { runs: unknown[] }).runs.length;
    await openFile({
      name: 'runs.json',
      mimeType: 'application/json',
      buffer: Buffer.from(await runs.arrayBuffer()),
    });
    expect(await text('row-count')).toBe(`${runCount} rows`);
    expect(await dash.page.locator('[data-testid="column-run_id"]').count()).toBe(1);
  });

  it('served by runlake serve, opens a lake file from the picker and a SQL answer from the box', async () => {
    await dash.page.goto(viewerUrl());
    await dash.page.waitForSelector('[data-testid="lake-box"]:not([hidden])');
    const listing = (await (await api('api/files')).json()) as {
      datasets: { name: string; files: { path: string; rows: number }[] }[];
    };
    const metrics = listing.datasets.find((d) => d.name === 'metrics_scalar');
    const first = metrics?.files[0];
    if (!first) throw new Error('no metrics_scalar file listed');
    const picker = dash.page.locator('[data-testid="lake-file"]');
    expect(await picker.locator('option').count()).toBe(
      listing.datasets.reduce((n, d) => n + d.files.length, 0),
    );
    await picker.selectOption({
      label:
        (await picker.locator('option', { hasText: `metrics_scalar/${first.path}` }).textContent()) ?? '',
    });
    await dash.page.click('[data-testid="lake-file-open"]');
    await waitSettled();
    expect(await text('file-name')).toBe(`metrics_scalar/${first.path}`);
    expect(await text('file-format')).toBe('PARQUET');
    // A part file holds one run (run_id is its partition key, not a column): still one metric.
    expect(await dash.page.locator('[data-testid="plot-y"]').inputValue()).toBe('value');
    expect(await text('row-count')).toMatch(new RegExp(` of ${first.rows.toLocaleString('en-US')} rows$`));

    await dash.page.fill(
      '[data-testid="sql-input"]',
      'SELECT run_id, count(*) AS n FROM metrics_scalar GROUP BY run_id',
    );
    await dash.page.click('[data-testid="sql-open"]');
    await waitSettled();
    const runs = await sql('SELECT count(DISTINCT run_id)::INT AS n FROM metrics_scalar');
    expect(await text('file-format')).toBe('ARROW');
    expect(await text('row-count')).toBe(`${runs.rows[0]?.n} rows`);
    expect(await dash.page.locator('[data-testid="file-note"]').count()).toBe(0);
    // An answer the server cut at --max-rows says so.
    await dash.page.fill('[data-testid="sql-input"]', 'SELECT i FROM range(30000) t(i)');
    await dash.page.click('[data-testid="sql-open"]');
    await waitSettled();
    expect(await text('row-count')).toBe('20,000 rows');
    expect(await text('file-note')).toMatch(/cut the answer at 20,000 rows/);
    await dash.page.fill('[data-testid="sql-input"]', 'SELECT nope FROM metrics_scalar');
    await dash.page.click('[data-testid="sql-open"]');
    await waitSettled();
    expect(await text('error')).toMatch(/nope/);

    // From file:// the picker is not there and nothing fails.
    await dash.page.goto(`file://${path.join(repoRoot, 'web', 'dist', 'viewer.html')}`);
    await dash.page.waitForSelector('[data-testid="empty"]');
    expect(await dash.page.locator('[data-testid="lake-box"]').isHidden()).toBe(true);
  });

  it('SQL console: runs a query (rows equal /api/query), shows the server line for bad SQL, keeps history, downloads CSV, opens the answer in the viewer', async () => {
    await dash.page.setViewportSize({ width: 1400, height: 900 });
    await dash.page.goto(new URL(`?token=${TOKEN}#sql`, dash.url).href);
    await dash.page.waitForSelector('[data-testid="sql-console"]');
    // The lake's datasets (with columns) and views: a click inserts the name at the cursor.
    await dash.page.waitForSelector('[data-testid="sql-dataset-metrics_scalar"]');
    const editor = dash.page.locator('[data-testid="sql-editor"]');
    await editor.fill('SELECT * FROM ');
    await dash.page.click('[data-testid="sql-dataset-metrics_scalar"] summary .sql-name');
    expect(await editor.inputValue()).toBe('SELECT * FROM metrics_scalar');
    await dash.page.click('[data-testid="sql-dataset-metrics_scalar"] summary .muted');
    await dash.page.click('[data-testid="sql-dataset-metrics_scalar"] [data-insert="metric_name"]');
    expect(await editor.inputValue()).toBe('SELECT * FROM metrics_scalar metric_name');

    const query =
      'SELECT run_id, metric_name, count(*) AS points, round(avg(value), 6) AS mean FROM metrics_scalar GROUP BY ALL ORDER BY run_id, metric_name';
    await editor.fill(query);
    await editor.press('Control+Enter');
    await dash.page.waitForSelector('[data-testid="sql-console"][data-state="ready"]');
    const expected = await sql(query);
    const cells = (await dash.page
      .locator('[data-testid="sql-table"] tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
      )) as string[][];
    expect(cells).toEqual(
      expected.rows.map((r) => [r.run_id, r.metric_name, String(r.points), String(r.mean)]),
    );
    expect(await dash.page.locator('[data-testid="sql-table"] th').allTextContents()).toEqual([
      'run_id',
      'metric_name',
      'points',
      'mean',
    ]);
    expect(await text('sql-status')).toMatch(new RegExp(`^${expected.rows.length} rows · \\d+ ms$`));
    await dash.page.screenshot({ path: shotPath('web-sql-console.png') });

    // CSV of the answer.
    const [download] = await Promise.all([
      dash.page.waitForEvent('download'),
      dash.page.click('[data-testid="sql-csv"]'),
    ]);
    expect(download.suggestedFilename()).toBe('query.csv');
    const csv = readFileSync((await download.path()) as string, 'utf8')
      .trimEnd()
      .split('\r\n');
    expect(csv[0]).toBe('run_id,metric_name,points,mean');
    expect(csv.length).toBe(expected.rows.length + 1);
    const first = expected.rows[0] as Record<string, unknown>;
    expect(csv[1]).toBe(`${first.run_id},${first.metric_name},${first.points},${first.mean}`);

    // Open in viewer: the same answer, through /api/query?format=arrow.
    const [popup] = await Promise.all([
      dash.page.context().waitForEvent('page'),
      dash.page.click('[data-testid="sql-open-viewer"]'),
    ]);
    await popup.waitForSelector('body[data-state="ready"], body[data-state="error"]', {
      state: 'attached',
      timeout: 30_000,
    });
    expect(await popup.locator('[data-testid="row-count"]').textContent()).toBe(
      `${expected.rows.length} rows`,
    );
    expect(await popup.locator('[data-testid="file-format"]').textContent()).toBe('ARROW');
    await popup.close();

    // A long answer: the table is capped (with a note), the server's own cut is named.
    await editor.fill('SELECT i FROM range(30000) t(i)');
    await editor.press('Control+Enter');
    await dash.page.waitForSelector('[data-testid="sql-console"][data-rows="20000"]');
    expect(await dash.page.locator('[data-testid="sql-table"] tbody tr').count()).toBe(1000);
    expect(await text('sql-capped')).toContain('first 1,000 of 20,000 rows');
    expect(await text('sql-truncated')).toContain('cut the answer at 20,000 rows');

    // A bad query: the server's one line, nothing else.
    await editor.fill('SELECT no_such_column FROM runs');
    await dash.page.click('[data-testid="sql-run"]');
    await dash.page.waitForSelector('[data-testid="sql-console"][data-state="error"]');
    const bad = await api(`api/query?sql=${encodeURIComponent('SELECT no_such_column FROM runs')}`);
    const serverLine = ((await bad.json()) as { error: string }).error;
    expect(await text('sql-error')).toBe(serverLine);
    expect(serverLine).toContain('no_such_column');
    expect(serverLine).not.toContain('\n');
    await editor.fill('DELETE FROM runs');
    await editor.press('Control+Enter');
    // The earlier error stays until this answer replaces it.
    await expect.poll(() => text('sql-error')).not.toBe(serverLine);
    expect(await text('sql-error')).toMatch(/read-only|SELECT|not allowed/i);

    // History: newest first, kept across reloads, a click puts the query back.
    const history = dash.page.locator('[data-testid="sql-history"] .sql-history-item');
    expect(await history.first().textContent()).toBe('DELETE FROM runs');
    await dash.page.reload();
    await dash.page.waitForSelector('[data-testid="sql-console"]');
    expect(await history.allTextContents()).toEqual([
      'DELETE FROM runs',
      'SELECT no_such_column FROM runs',
      'SELECT i FROM range(30000) t(i)',
      query,
    ]);
    await history.nth(3).click();
    expect(await editor.inputValue()).toBe(query);
  });

  it('raised no uncaught errors in the viewer', () => {
    expect(dash.pageErrors).toEqual([]);
    expect(readFileSync(fixture('tags.json'), 'utf8')).toContain('warmup');
  });
});

describe('viewer defaults, filters and formats (unit)', () => {
  const metrics = ['run_id,step,metric_name,value'];
  for (const run of ['a', 'b', 'c'])
    for (let step = 0; step < 4; step++)
      for (const [metric, value] of [
        ['grad_norm', 3 + step],
        ['loss', 2 - step / 10],
        ['lr', 0.001],
      ] as const)
        metrics.push(`${run},${step},${metric},${value}`);
  const long = parseCsv(`${metrics.join('\n')}\n`, 'metrics_scalar.csv');

  it('plots a long-form metric table one metric at a time (loss first), a series per run', () => {
    expect(defaultPlot(long)).toEqual({
      x: 'step',
      y: 'value',
      group: 'run_id',
      filter: { column: 'metric_name', value: 'loss' },
    });
    // Decoded first from a wide Parquet file: the plot's columns and the metric column.
    expect(
      firstColumns([
        { name: 'run_id', numeric: false },
        { name: 'step', numeric: true, integer: true },
        { name: 'metric_name', numeric: false },
        { name: 'value', numeric: true, integer: false },
        { name: 'extra', numeric: true, integer: false },
      ]),
    ).toEqual(['run_id', 'step', 'metric_name', 'value']);
  });

  it('never picks a key column (layer, step, seed, index) as y; groups by a small key column', () => {
    const rows = ['step,layer,seed,index,effective_rank'];
    for (let step = 0; step < 3; step++)
      for (let layer = 0; layer < 4; layer++)
        rows.push(`${step},${layer},1,${step * 4 + layer},${layer + step / 3}`);
    const frame = parseCsv(`${rows.join('\n')}\n`, 'geometry.csv');
    expect(defaultPlot(frame)).toEqual({ x: 'step', y: 'effective_rank', group: 'layer' });
  });

  it('filters floats by range, lists by item, and offers dropdowns only for few text or integer values', () => {
    const frame = parseJsonText(
      JSON.stringify([
        { id: 1, tags: ['warmup', 'bf16'], loss: 0.5, split: 'train', note: 'first run' },
        { id: 2, tags: ['bf16'], loss: 0.25, split: 'eval', note: 'second' },
        { id: 3, tags: [], loss: 0.125, split: 'train', note: 'third, bf16 on' },
      ]),
      'tags.json',
    );
    const kinds = Object.fromEntries(filterChoices(frame, 2).map((c) => [c.column.name, c.kind]));
    expect(kinds).toEqual({
      id: 'range',
      tags: 'contains',
      loss: 'range',
      split: 'select',
      note: 'contains',
    });
    expect((frame.columns.find((c) => c.name === 'tags') as CategoryColumn).list).toBe(true);
    const count = (column: string, text: string) =>
      selectRows(frame, [{ kind: 'contains', column, text }])?.length;
    expect(count('tags', 'bf16')).toBe(2);
    expect(count('tags', 'bf')).toBe(0); // an item, not a substring
    expect(count('note', 'BF16')).toBe(1); // text: a substring, any case
  });

  it('detects Arrow IPC by its magic bytes and reads query answers and records under a key', () => {
    const stream = Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x78, 0, 0, 0, 0x10, 0]);
    expect(isArrowIpc(stream)).toBe(true);
    expect(detectFormat('query', stream)).toBe('arrow');
    expect(detectFormat('query', new TextEncoder().encode('ARROW1\0\0....'))).toBe('arrow');
    expect(detectFormat('query', new TextEncoder().encode('a,b\n1,2\n'))).toBe('csv');
    const answer = parseJsonText(
      JSON.stringify({
        columns: [
          { name: 'run_id', type: 'VARCHAR' },
          { name: 'n', type: 'BIGINT' },
          { name: 'empty', type: 'INTEGER' },
        ],
        rows: [
          { run_id: 'a', n: 1, empty: null },
          { run_id: 'b', n: 2, empty: null },
        ],
        rowCount: 2,
        truncated: false,
      }),
      'answer.json',
    );
    expect(answer.numRows).toBe(2);
    expect(answer.columns.map((c) => c.name)).toEqual(['run_id', 'n', 'empty']);
    const nested = parseJsonText(
      JSON.stringify({ runs: [{ run_id: 'a' }, { run_id: 'b' }, { run_id: 'c' }], truncated: false }),
      'runs.json',
    );
    expect(nested.numRows).toBe(3);
    // Equal-length column arrays still read as columns.
    expect(parseJsonText('{"x":[1,2,3],"y":["a","b","c"]}', 'cols.json').numRows).toBe(3);
  });
});

describe('SQL console helpers (unit)', () => {
  it('writes CSV with quoting, nulls as empty and lists as JSON', () => {
    // A whole /api/query answer, not only the fields the CSV reads.
    const answer = {
      columns: [
        { name: 'name', type: 'VARCHAR' },
        { name: 'v', type: 'DOUBLE' },
        { name: 'tags', type: 'VARCHAR[]' },
      ],
      rows: [
        { name: 'a, "b"', v: 0.5, tags: ['x', 'y'] },
        { name: 'line\nbreak', v: null, tags: null },
      ],
      rowCount: 2,
      truncated: false,
    };
    const csv = answerCsv(answer);
    expect(csv).toBe('name,v,tags\r\n"a, ""b""",0.5,"[""x"",""y""]"\r\n"line\nbreak",,\r\n');
  });

  it('keeps the newest query first, once, and at most HISTORY_SIZE', () => {
    let history = readHistory({ getItem: () => 'not json' });
    expect(history).toEqual([]);
    for (let i = 0; i < HISTORY_SIZE + 5; i++) history = withEntry(history, { sql: `SELECT ${i}`, at: 't' });
    history = withEntry(history, { sql: ' SELECT 10 ', at: 'u', rows: 1 });
    expect(history.length).toBe(HISTORY_SIZE);
    expect(history[0]).toEqual({ sql: ' SELECT 10 ', at: 'u', rows: 1 });
    expect(history.filter((e) => e.sql.trim() === 'SELECT 10').length).toBe(1);
    expect(readHistory({ getItem: () => JSON.stringify(history) })).toEqual(history);
  });
});

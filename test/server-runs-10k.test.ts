import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRuns, openLake, openSandboxedLake, writeGridParams } from '../src/index.js';
import { runsCacheStats } from '../src/server/runs-cache.js';
import { artifactPath, browser, useServedDashboard } from './helpers/browser.js';

// A lake with thousands of runs, each its own `runs` part file (the dataset is partitioned by
// run_id): GET /api/runs answers from the query process's per-snapshot cache, which must show
// exactly what the `runs` view shows, through runs added, removed and replaced.
const RUNS = 3_000;
const runId = (i: number) => `r${String(i).padStart(5, '0')}`;

function runRow(i: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    run_id: runId(i),
    run_name: i % 7 === 0 ? null : `run ${i}`,
    project: i % 2 === 0 ? 'even' : 'odd',
    seed: i % 5,
    n_params: 2 ** 40 + i,
    n_layers: 2 + (i % 4),
    status: i % 11 === 0 ? 'crashed' : 'finished',
    started_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000),
    tags: i % 3 === 0 ? ['baseline', `t${i % 4}`] : null,
    // Every third run belongs to a grid; the others carry a config object.
    config_json: i % 3 === 1 ? JSON.stringify({ lr: i / 1e5, model: { d: 64 + (i % 2) * 64 } }) : null,
    ...extra,
  };
}

async function writeLake(dir: string): Promise<string> {
  const lakeDir = path.join(dir, 'lake');
  const lake = await openLake(lakeDir, { schema: 'squiggle' });
  const grids: string[] = [];
  for (const params of [
    { lr: 0.001, model: 'tiny' },
    { lr: 0.003, model: 'tiny' },
  ]) {
    grids.push((await writeGridParams(lakeDir, params)).record.grid_id);
  }
  const rows = Array.from({ length: RUNS }, (_, i) =>
    runRow(i, i % 3 === 0 ? { grid_id: grids[i % 2] } : {}),
  );
  for (let from = 0; from < rows.length; from += 1_000)
    await lake.write('runs', rows.slice(from, from + 1_000));
  await lake.write('metrics_scalar', [
    { run_id: runId(0), step: 0, metric_name: 'loss', value: 2 },
    { run_id: runId(0), step: 1, metric_name: 'loss', value: 1 },
  ]);
  lake.close();
  return lakeDir;
}

describe.skipIf(browser.skip)('GET /api/runs on a lake of thousands of runs', () => {
  const dash = useServedDashboard({ prefix: 'runlake-runs-10k-', lake: writeLake, timeout: 120_000 });
  const get = async (url: string) => {
    const response = await fetch(new URL(url, dash.url));
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
  const listed = async () =>
    (await get('/api/runs')) as { runs: Record<string, unknown>[]; truncated: boolean };
  /** The runs view read by a client query, in run_id order: what /api/runs must list. */
  const viewRows = async () =>
    (
      (await get(`/api/query?sql=${encodeURIComponent('SELECT * FROM runs ORDER BY run_id, status')}`)) as {
        rows: Record<string, unknown>[];
      }
    ).rows;
  // Rows of one run (a run written twice) come in either order: compare them by status too.
  const key = (run: Record<string, unknown>) => `${String(run.run_id)}\u0000${String(run.status)}`;
  const withoutParams = (runs: Record<string, unknown>[]) =>
    runs
      .map(({ params: _p, ...run }) => run)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

  it('lists every run as the runs view shows it, with grid or config params', async () => {
    const { runs, truncated } = await listed();
    expect(truncated).toBe(false);
    expect(runs).toHaveLength(RUNS);
    expect(withoutParams(runs)).toEqual(await viewRows());
    expect(runs[0]).toMatchObject({
      run_id: runId(0),
      n_params: 2 ** 40,
      started_at: '2026-01-01T00:00:00.000Z',
      tags: ['baseline', 't0'],
      params: { lr: 0.001, model: 'tiny' },
    });
    expect(runs[1]?.params).toEqual({ 'config.lr': 1e-5, 'config.model.d': 128 });
    expect(runs[2]?.params).toBeNull();
    // Listed twice, the same (the second from memory).
    expect((await listed()).runs).toEqual(runs);
  });

  it('follows runs added, removed and replaced', async () => {
    const lake = await openLake(dash.lakeDir, { schema: 'squiggle' });
    try {
      await lake.write('runs', [runRow(RUNS), runRow(RUNS + 1)]);
      await lake.deletePartition('runs', { run_id: runId(5) });
      await lake.replace('runs', [runRow(9, { status: 'rerun', seed: 42 })], {
        partition: { run_id: runId(9) },
        stem: 'rerun',
      });
    } finally {
      lake.close();
    }
    const { runs } = await listed();
    const ids = runs.map((r) => r.run_id);
    // Two runs added, one removed, and run 9 holds two rows (see below).
    expect(runs).toHaveLength(RUNS + 2);
    expect(ids).toContain(runId(RUNS + 1));
    expect(ids).not.toContain(runId(5));
    expect(withoutParams(runs)).toEqual(await viewRows());
    // The replace wrote run 9 again beside its first row (replace removes only its own stem's
    // files): the view shows both rows, and so does the list.
    const nine = runs.filter((r) => r.run_id === runId(9));
    expect(nine.map((r) => r.status).sort()).toEqual(['finished', 'rerun']);

    // Removing the first row of run 9 (its partition, then writing the rerun back) leaves one.
    const again = await openLake(dash.lakeDir, { schema: 'squiggle' });
    try {
      await again.deletePartition('runs', { run_id: runId(9) });
      await again.write('runs', [runRow(9, { status: 'rerun', seed: 42 })]);
    } finally {
      again.close();
    }
    const after = await listed();
    expect(after.runs.filter((r) => r.run_id === runId(9)).map((r) => [r.status, r.seed])).toEqual([
      ['rerun', 42],
    ]);
    expect(after.runs).toHaveLength(RUNS + 1);
    expect(withoutParams(after.runs)).toEqual(await viewRows());
  });

  it('refuses client SQL that writes, and the list stays as it was', async () => {
    const before = await listed();
    for (const sql of [
      'CREATE TABLE runs_copy AS SELECT * FROM runs',
      "COPY (SELECT * FROM runs) TO 'runs.csv'",
      "INSERT INTO grids VALUES ('x', '{}')",
    ]) {
      const response = await fetch(new URL(`/api/query?sql=${encodeURIComponent(sql)}`, dash.url));
      expect(response.status, sql).toBeGreaterThanOrEqual(400);
    }
    expect((await listed()).runs).toEqual(before.runs);
  });

  it('answers a subset (what metric grouping asks for), caps at maxRows, reads only new files', async () => {
    const served = await openSandboxedLake(dash.lakeDir);
    try {
      const limits = { maxRows: 100, timeoutMs: 30_000, maxAnswerBytes: 64 * 2 ** 20 };
      const some = await listRuns(served, limits, [runId(12), runId(6), 'no-such-run']);
      expect(some.runs.map((r) => r.run_id)).toEqual([runId(6), runId(12)]);
      expect(some.runs[0]?.params).toEqual({ lr: 0.001, model: 'tiny' });
      const capped = await listRuns(served, limits);
      expect(capped.truncated).toBe(true);
      expect(capped.runs).toHaveLength(100);
      // The cached runs are shared: they cannot be changed by whoever gets them.
      expect(() => {
        (capped.runs[0] as Record<string, unknown>).status = 'changed';
      }).toThrow();
    } finally {
      served.close();
    }
    // A later snapshot with one more run reads that run's file only.
    const lake = await openLake(dash.lakeDir, { schema: 'squiggle' });
    await lake.write('runs', [runRow(RUNS + 2)]);
    lake.close();
    const before = runsCacheStats().filesRead;
    const next = await openSandboxedLake(dash.lakeDir);
    try {
      const limits = { maxRows: 10_000, timeoutMs: 30_000, maxAnswerBytes: 64 * 2 ** 20 };
      expect((await listRuns(next, limits)).runs).toHaveLength(RUNS + 2);
      expect(runsCacheStats().filesRead - before).toBe(1);
    } finally {
      next.close();
    }
  });

  it('shows the runs table after a 503, drawing only the rows in view', async () => {
    const { page } = dash;
    // The first answer is the 503 a page opened while the server still reads the runs gets: the
    // table says so and asks again.
    let asked = 0;
    await page.route('**/api/runs', async (route) => {
      asked++;
      if (asked > 1) return route.continue();
      await route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({
          error: 'the runs table (3002 part files) is still being read after 30000 ms',
          kind: 'unavailable',
        }),
      });
    });
    await page.goto(dash.url);
    const count = page.getByTestId('runs-count');
    await count.waitFor();
    await expect.poll(() => count.textContent(), { timeout: 30_000 }).toMatch(/^3002 runs/);
    const drawn = await page.locator('.runs-table tbody tr[data-run-id]').count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(200);
    // Scrolled to the end, the last run is drawn.
    await page.locator('.runs-scroll').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await expect
      .poll(() => page.locator(`tr[data-run-id="${runId(RUNS + 2)}"]`).count(), { timeout: 10_000 })
      .toBe(1);
    expect(asked).toBe(2);
    await page.screenshot({ path: artifactPath('runs-10k-table.png') });
    // The browser logs the 503 it was given; nothing else went wrong.
    expect(dash.consoleErrors.filter((e) => !/status of 503/.test(e))).toEqual([]);
  });
});

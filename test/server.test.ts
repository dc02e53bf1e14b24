import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  analyzeLake,
  attachGridId,
  dtwWarp,
  minMaxPerColumn,
  openLake,
  type PixelGrid,
  pixelGridOf,
  type StartedServer,
  startServer,
  syntheticRuns,
  writeGridParams,
  writeSyntheticEmbeddings,
} from '../src/index.js';
import { RUNLAKE_BIN, startServe } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const TOKEN = 'test-token-123';
const MAX_ROWS = 500;
const TIMEOUT_MS = 1000;
const SPIKE_STEP = 1234;

/** The `loss` the fixture logs: a smooth curve, with one spike up and one down in the first run. */
function lossAt(run: number, step: number): number {
  if (run === 0 && step === SPIKE_STEP) return 100;
  if (run === 0 && step === SPIKE_STEP + 1) return -50;
  return 1 + Math.sin(step / 500);
}

describe('runlake serve: read-only query API over a squiggle lake', () => {
  const dir = tempDir();
  let server: StartedServer;
  let runIds: string[] = [];

  const get = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, server.url), {
      ...init,
      headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
    });
  const query = (sql: string, format = 'json') =>
    get(`/api/query?format=${format}&sql=${encodeURIComponent(sql)}`);

  beforeAll(async () => {
    const sweep = syntheticRuns({
      seeds: 3,
      divergingSeed: 2,
      layers: 1,
      modules: ['resid_post'],
      samples: 24,
      dim: 12,
    });
    const lake = await openLake(dir, { schema: 'squiggle' });
    const { grid_id } = attachGridId({ model: 'tiny', lr: 3e-4 });
    await writeGridParams(dir, { model: 'tiny', lr: 3e-4 });
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
    runIds = sweep.runs.map((r) => r.runId);
    await writeSyntheticEmbeddings(lake, sweep, { steps: sweep.steps });
    await analyzeLake(lake, { workers: 1 });
    // 5000 smooth points per run, one spike up and one down in the first run.
    const metrics = runIds.flatMap((runId, r) =>
      Array.from({ length: 5000 }, (_, step) => ({
        run_id: runId,
        step,
        metric_name: 'loss',
        value: lossAt(r, step),
      })),
    );
    await lake.write('metrics_scalar', metrics);
    // A flat, short series: its pixel columns hold tied pairs, which min/max alone would halve.
    await lake.write(
      'metrics_scalar',
      Array.from({ length: 150 }, (_, step) => ({ run_id: runIds[0], step, metric_name: 'flat', value: 1 })),
    );
    lake.close();
    server = await startServer(dir, { port: 0, token: TOKEN, maxRows: MAX_ROWS, timeoutMs: TIMEOUT_MS });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds to 127.0.0.1, serves the built web app at / and lists its endpoints at /api', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const app = await get('/');
    expect(app.status).toBe(200);
    expect(app.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await app.text()).toMatch(/<title>runlake/);
    const response = await get('/api');
    expect(response.status).toBe(200);
    const body = (await response.json()) as { endpoints: { path: string }[] };
    expect(body.endpoints.map((e) => e.path).join(' ')).toContain('/api/metric-groups');
  });

  it('answers a SELECT as JSON', async () => {
    const response = await query('SELECT run_id, seed FROM runs ORDER BY run_id');
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      rows: { run_id: string; seed: number }[];
      truncated: boolean;
      columns: { name: string; type: string }[];
    };
    expect(body.rows.map((r) => r.run_id)).toEqual([...runIds].sort());
    expect(typeof body.rows[0]?.seed).toBe('number');
    expect(body.columns).toEqual([
      { name: 'run_id', type: 'VARCHAR' },
      { name: 'seed', type: 'BIGINT' },
    ]);
    expect(body.truncated).toBe(false);
  });

  it('answers a SELECT as Arrow IPC with DuckDB types kept', async () => {
    const response = await query(
      "SELECT run_id, seed, 1.5::DOUBLE AS x, [1, 2]::INTEGER[] AS l, TIMESTAMP '2024-01-02 03:04:05' AS ts FROM runs ORDER BY run_id",
      'arrow',
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    expect(response.headers.get('x-runlake-truncated')).toBe('false');
    const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
    expect(table.numRows).toBe(runIds.length);
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({ run_id: 'Utf8', seed: 'Int64', x: 'Float64', l: 'List<Int32>' });
    expect(types.ts).toMatch(/^Timestamp/);
    expect(table.getChild('seed')?.get(0)).toBeTypeOf('bigint');
    expect([...(table.getChild('l')?.get(0) ?? [])]).toEqual([1, 2]);
    expect(table.getChild('ts')?.get(0)).toBe(Date.UTC(2024, 0, 2, 3, 4, 5));
  });

  it('accepts POST with a JSON body', async () => {
    const response = await get('/api/query', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sql: "SELECT count(*) AS n FROM metrics_scalar WHERE metric_name = 'loss'" }),
    });
    expect(await response.json()).toMatchObject({ rows: [{ n: 5000 * runIds.length }] });
  });

  it.each([
    ['INSERT', "INSERT INTO grids (grid_id) VALUES ('x')"],
    ['CREATE', 'CREATE TABLE t AS SELECT 1'],
    ['UPDATE', "UPDATE grids SET grid_id = 'x'"],
    ['DELETE', 'DELETE FROM grids'],
    ['DROP', 'DROP VIEW runs'],
    ['COPY … TO', `COPY (SELECT 1) TO '${dir}/leak.csv'`],
    ['ATTACH', "ATTACH ':memory:' AS other"],
    ['ATTACH a file', `ATTACH '${dir}/other.duckdb'`],
    ['INSTALL', 'INSTALL httpfs'],
    ['LOAD', 'LOAD httpfs'],
    ['read_csv outside the lake', "SELECT * FROM read_csv('/etc/passwd')"],
    ['read_parquet outside the lake', "SELECT * FROM read_parquet('/etc/x.parquet')"],
    ['a path escaping the lake', `SELECT * FROM read_text('${dir}/../../etc/passwd')`],
    ['glob outside the lake', "SELECT * FROM glob('/etc/*')"],
    ['a second statement', 'SELECT 1; DROP VIEW runs'],
    ['SET', 'SET threads = 1'],
    ['PRAGMA', 'PRAGMA threads = 1'],
    ['enabling external access', 'SET enable_external_access = true'],
    ['a transaction', 'BEGIN'],
    ['CALL', 'CALL checkpoint()'],
    ['EXPORT', `EXPORT DATABASE '${dir}/export'`],
  ])('refuses %s with 403', async (_name, sql) => {
    const response = await query(sql);
    const body = (await response.json()) as { error: string; kind: string };
    expect(response.status, body.error).toBe(403);
    expect(body.kind).toBe('forbidden');
    expect(body.error).not.toBe('');
  });

  it('still reads the lake after the refusals', async () => {
    const response = await query('SELECT count(*) AS n FROM runs');
    expect(await response.json()).toMatchObject({ rows: [{ n: runIds.length }] });
  });

  it('answers a bad query with 400 naming DuckDB’s reason', async () => {
    const response = await query('SELECT nope FROM runs');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ kind: 'sql', error: expect.stringContaining('nope') });
  });

  it('refuses a missing or wrong token with 401 and accepts the right one', async () => {
    const url = new URL('/api/lake', server.url);
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { Authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(new URL('/api/lake?token=wrong', server.url))).status).toBe(401);
    expect((await fetch(new URL('/', server.url))).status).toBe(401);
    const body = (await (await fetch(url)).json()) as { kind: string };
    expect(body.kind).toBe('unauthorized');
    expect((await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(new URL(`/api/lake?token=${TOKEN}`, server.url))).status).toBe(200);
  });

  it('caps an oversized result and flags it (JSON and Arrow)', async () => {
    const json = (await (await query('SELECT * FROM range(100000)')).json()) as {
      rows: unknown[];
      truncated: boolean;
      rowCount: number;
    };
    expect(json.rows).toHaveLength(MAX_ROWS);
    expect(json.rowCount).toBe(MAX_ROWS);
    expect(json.truncated).toBe(true);
    const arrow = await query('SELECT * FROM range(100000)', 'arrow');
    expect(arrow.headers.get('x-runlake-truncated')).toBe('true');
    expect(tableFromIPC(new Uint8Array(await arrow.arrayBuffer())).numRows).toBe(MAX_ROWS);
  });

  it('interrupts a slow query at the time limit with 408', async () => {
    const started = Date.now();
    const response = await query('SELECT count(*) FROM range(1000000000) a, range(1000) b');
    const elapsed = Date.now() - started;
    expect(response.status).toBe(408);
    expect(await response.json()).toMatchObject({ kind: 'timeout' });
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 3000);
  });

  it('describes the lake: schema set, datasets with rows and columns, views', async () => {
    const body = (await (await get('/api/lake')).json()) as {
      schemaSet: string;
      datasets: { name: string; rows: number; columns: { name: string }[] }[];
      views: { name: string }[];
    };
    expect(body.schemaSet).toBe('squiggle');
    const metrics = body.datasets.find((d) => d.name === 'metrics_scalar');
    expect(metrics?.rows).toBe(5000 * runIds.length + 150);
    expect(metrics?.columns.map((c) => c.name)).toContain('metric_name');
    expect(body.views.length).toBeGreaterThan(0);
  });

  it('lists runs with their sweep params', async () => {
    const body = (await (await get('/api/runs')).json()) as { runs: { run_id: string; params: unknown }[] };
    expect(body.runs).toHaveLength(runIds.length);
    expect(body.runs[0]?.params).toEqual({ lr: 3e-4, model: 'tiny' });
  });

  it('downsamples metrics to min/max per pixel column and keeps the spikes', async () => {
    const run = runIds[0] as string;
    const body = (await (await get(`/api/metrics?run=${run},${runIds[1]}&metric=loss&width=100`)).json()) as {
      series: { run_id: string; total: number; downsampled: boolean; step: number[]; value: number[] }[];
    };
    const [first, second] = body.series;
    expect(first?.total).toBe(5000);
    expect(first?.downsampled).toBe(true);
    expect(first?.step.length).toBeLessThanOrEqual(200);
    expect(Math.max(...(first?.value ?? []))).toBe(100);
    expect(Math.min(...(first?.value ?? []))).toBe(-50);
    expect(first?.step).toContain(SPIKE_STEP);
    expect(first?.step).toEqual([...(first?.step ?? [])].sort((a, b) => a - b));
    expect(second?.run_id).toBe(runIds[1]);
    expect(Math.max(...(second?.value ?? []))).toBeLessThanOrEqual(2);
    // Zoomed in, the range comes back at full resolution.
    const zoom = (await (
      await get(`/api/metrics?run=${run}&metric=loss&width=100&from=1200&to=1300`)
    ).json()) as {
      series: { downsampled: boolean; step: number[] }[];
    };
    expect(zoom.series[0]?.downsampled).toBe(false);
    expect(zoom.series[0]?.step).toEqual(Array.from({ length: 101 }, (_, i) => 1200 + i));
  });

  it('sends a metrics answer as Arrow: step and value columns, the runs in the schema metadata', async () => {
    const runs = `${runIds[0]},${runIds[1]},no-such-run`;
    const json = (await (
      await get(`/api/metrics?run=${runs}&metric=loss&width=100&smoothing=0.5`)
    ).json()) as {
      metric: string;
      width: number;
      smoothing: number;
      series: { run_id: string; total: number; downsampled: boolean; step: number[]; value: number[] }[];
    };
    const response = await get(`/api/metrics?run=${runs}&metric=loss&width=100&smoothing=0.5&format=arrow`);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.arrow.stream');
    const table = tableFromIPC(new Uint8Array(await response.arrayBuffer()));
    expect(table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual(['step:Float64', 'value:Float64']);
    const meta = JSON.parse(table.schema.metadata.get('runlake:metric-series') ?? '{}') as {
      metric: string;
      width: number;
      smoothing: number;
      series: { run_id: string; total: number; downsampled: boolean; offset: number; length: number }[];
    };
    expect({ metric: meta.metric, width: meta.width, smoothing: meta.smoothing }).toEqual({
      metric: json.metric,
      width: json.width,
      smoothing: json.smoothing,
    });
    const step = table.getChild('step')?.toArray() as Float64Array;
    const value = table.getChild('value')?.toArray() as Float64Array;
    const decoded = meta.series.map((s) => ({
      run_id: s.run_id,
      total: s.total,
      downsampled: s.downsampled,
      step: Array.from(step.subarray(s.offset, s.offset + s.length)),
      value: Array.from(value.subarray(s.offset, s.offset + s.length)),
    }));
    expect(decoded).toEqual(json.series);
    expect(decoded[2]).toMatchObject({ run_id: 'no-such-run', total: 0, step: [] });
    expect((await get(`/api/metrics?run=${runs}&metric=loss&format=csv`)).status).toBe(400);
  });

  it('sends a short run whole even where its columns hold ties', async () => {
    const body = (await (await get(`/api/metrics?run=${runIds[0]}&metric=flat&width=100`)).json()) as {
      series: { total: number; downsampled: boolean; step: number[]; value: number[] }[];
    };
    expect(body.series[0]?.downsampled).toBe(false);
    expect(body.series[0]?.step).toEqual(Array.from({ length: 150 }, (_, step) => step));
    expect(body.series[0]?.value.every((v) => v === 1)).toBe(true);
  });

  it('takes the metric parameters as a JSON body, for run lists too long for a URL', async () => {
    const post = (path: string, body: unknown) =>
      get(path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    // 3000 run ids of 40 characters: about 120 kB, far past Node's 16 kB limit on a request line.
    const missing = Array.from(
      { length: 3000 },
      (_, i) => `a-run-that-is-not-in-this-lake-${String(i).padStart(8, '0')}`,
    );
    expect((await get(`/api/metrics?metric=loss&run=${missing.join(',')}`)).status).toBe(431);
    const response = await post('/api/metrics', { run: [...missing, runIds[0]], metric: 'loss', width: 100 });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { series: { run_id: string; total: number }[] };
    expect(body.series).toHaveLength(3001);
    expect(body.series.at(-1)).toMatchObject({ run_id: runIds[0], total: 5000 });
    const viaGet = (await (
      await get(`/api/metrics?run=${runIds[0]}&metric=loss&width=100`)
    ).json()) as unknown;
    expect(body.series.at(-1)).toEqual((viaGet as { series: unknown[] }).series[0]);

    const groups = await post('/api/metric-groups', {
      run: runIds,
      metric: 'loss',
      width: 50,
      by: ['seed'],
      smoothing: 0.5,
    });
    expect(groups.status).toBe(200);
    expect(((await groups.json()) as { groups: unknown[] }).groups).toHaveLength(runIds.length);

    const refused = async (payload: string, pattern: RegExp) => {
      const answer = await get('/api/metrics', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: payload,
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: string }).error).toMatch(pattern);
    };
    await refused('{"run": ["a"', /not JSON/);
    await refused('["a"]', /must be a JSON object/);
    await refused(
      JSON.stringify({ run: [{ id: 'a' }], metric: 'loss' }),
      /"run" must be a string or a number/,
    );
    await refused(JSON.stringify({ run: [], metric: 'loss' }), /name at least one run/);
    await refused(JSON.stringify({ run: ['a'], metric: 'loss', smoothing: 2 }), /smoothing must be/);
  });

  it('refuses bad metrics parameters with 400', async () => {
    expect((await get('/api/metrics?metric=loss')).status).toBe(400);
    expect((await get(`/api/metrics?run=${runIds[0]}&metric=loss&width=abc`)).status).toBe(400);
    // User input is bound, never spliced into SQL.
    const body = (await (
      await get(`/api/metrics?run=${encodeURIComponent("x') OR 1=1 --")}&metric=loss`)
    ).json()) as {
      series: { total: number }[];
    };
    expect(body.series[0]?.total).toBe(0);
  });

  it('smooths each whole series before cutting the range and downsampling, so zoom keeps the curve', async () => {
    const run = runIds[0] as string;
    type Series = { series: { step: number[]; value: number[]; downsampled: boolean }[]; smoothing: number };
    const zoom = (await (
      await get(`/api/metrics?run=${run}&metric=loss&width=100&from=1200&to=1300&smoothing=0.9`)
    ).json()) as Series;
    expect(zoom.smoothing).toBe(0.9);
    // The EMA carries the history before `from`: it is not restarted at the zoom's left edge.
    const raw = Array.from({ length: 5000 }, (_, step) => lossAt(0, step));
    let last = 0;
    const expected = raw.map((v, i) => {
      last = 0.9 * last + 0.1 * v;
      return last / (1 - 0.9 ** (i + 1));
    });
    const zoomed = zoom.series[0];
    expect(zoomed?.downsampled).toBe(false);
    expect(zoomed?.step).toEqual(Array.from({ length: 101 }, (_, i) => 1200 + i));
    zoomed?.value.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[1200 + i] as number, 9);
    });
    // The smoothed spike is smaller than the raw one, and the full view shows the same values.
    const full = (await (
      await get(`/api/metrics?run=${run}&metric=loss&width=100&smoothing=0.9`)
    ).json()) as Series;
    const fullSeries = full.series[0];
    expect(fullSeries?.downsampled).toBe(true);
    expect(Math.max(...(fullSeries?.value ?? []))).toBeLessThan(100);
    fullSeries?.step.forEach((step, i) => {
      expect(fullSeries.value[i]).toBeCloseTo(expected[step] as number, 9);
    });
    expect((await get(`/api/metrics?run=${run}&metric=loss&smoothing=1`)).status).toBe(400);
    expect((await get(`/api/metrics?run=${run}&metric=loss&smoothing=-0.1`)).status).toBe(400);
  });

  it('bins the same way in DuckDB and in the smoothing path', async () => {
    const run = runIds[0] as string;
    const sql = (await (await get(`/api/metrics?run=${run}&metric=loss&width=64`)).json()) as {
      series: { step: number[]; value: number[] }[];
    };
    const steps = Array.from({ length: 5000 }, (_, step) => step);
    const series = { step: steps, value: steps.map((step) => lossAt(0, step)) };
    const grid = pixelGridOf([series], 64);
    expect(grid).toBeDefined();
    expect(minMaxPerColumn(series, grid as PixelGrid)).toEqual({
      step: sql.series[0]?.step,
      value: sql.series[0]?.value,
    });
  });

  it('draws mean ± std bands over the seeds of each parameter group', async () => {
    type Groups = {
      by: string[];
      groups: {
        key: Record<string, unknown>;
        runs: string[];
        step: number[];
        mean: number[];
        std: (number | null)[];
        count: number[];
      }[];
    };
    const runs = runIds.join(',');
    const byLr = (await (
      await get(`/api/metric-groups?run=${runs}&metric=loss&by=lr&width=50`)
    ).json()) as Groups;
    expect(byLr.by).toEqual(['lr']);
    expect(byLr.groups).toHaveLength(1);
    const group = byLr.groups[0];
    expect(group?.key).toEqual({ lr: 3e-4 });
    expect(group?.runs).toEqual(runIds);
    expect(group?.count.every((n) => n === runIds.length)).toBe(true);
    expect(group?.mean).toHaveLength(50);
    // Column 0 holds steps 0..99 of every run; only run 0's spike column differs between seeds.
    const column0 = Array.from({ length: 100 }, (_, step) => 1 + Math.sin(step / 500));
    const mean0 = column0.reduce((a, b) => a + b, 0) / 100;
    expect(group?.mean[0]).toBeCloseTo(mean0, 9);
    expect(group?.std[0]).toBeCloseTo(0, 9);
    // Run 0's mean in the spike column is higher by d, so the spread over [d, 0, 0] is d/√3.
    const spikeColumn = Math.floor((SPIKE_STEP * 50) / 4999);
    const d = (100 - lossAt(1, SPIKE_STEP) + (-50 - lossAt(1, SPIKE_STEP + 1))) / 100;
    expect(group?.std[spikeColumn]).toBeCloseTo(d / Math.sqrt(3), 9);
    // One group per seed: a single run per group has no spread.
    const bySeed = (await (
      await get(`/api/metric-groups?run=${runs}&metric=loss&by=seed&width=50`)
    ).json()) as Groups;
    expect(bySeed.groups.map((g) => g.key)).toEqual(runIds.map((_, seed) => ({ seed })));
    expect(bySeed.groups.every((g) => g.std.every((s) => s === null))).toBe(true);
    // Smoothed bands come from the smoothed runs.
    const smoothed = (await (
      await get(`/api/metric-groups?run=${runs}&metric=loss&by=lr,model&width=50&smoothing=0.99`)
    ).json()) as Groups;
    expect(smoothed.groups[0]?.key).toEqual({ lr: 3e-4, model: 'tiny' });
    expect(smoothed.groups[0]?.std[spikeColumn]).toBeLessThan(group?.std[spikeColumn] as number);
    const unknown = await get(`/api/metric-groups?run=${runs}&metric=loss&by=warmup`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/"warmup".*\blr\b.*\bseed\b/);
    expect((await get(`/api/metric-groups?run=${runs}&metric=loss`)).status).toBe(400);
  });

  it('returns geometry trajectories and events of a run', async () => {
    const diverging = runIds[2] as string;
    const body = (await (await get(`/api/geometry?run=${diverging}&layer=0&module=resid_post`)).json()) as {
      trajectories: {
        layer: number;
        module: string;
        step: number[];
        descriptors: Record<string, number[]>;
      }[];
      events: { event_type: string; step: number }[];
    };
    expect(body.trajectories.length).toBeGreaterThan(0);
    const trajectory = body.trajectories[0];
    expect(trajectory?.module).toBe('resid_post');
    expect(trajectory?.descriptors.effective_rank).toHaveLength(trajectory?.step.length ?? -1);
    expect(body.events.length).toBeGreaterThan(0);
    expect(body.events[0]?.event_type).toBeTypeOf('string');
  });

  it('returns a signature’s matches, and 404 for an unknown one', async () => {
    const listed = (await (await query('SELECT query_signature_id AS id FROM matches LIMIT 1')).json()) as {
      rows: { id: string }[];
    };
    const signature = listed.rows[0];
    expect(signature).toBeDefined();
    const body = (await (
      await get(`/api/matches?signature=${encodeURIComponent(signature?.id ?? '')}`)
    ).json()) as {
      signature: { signature_id: string; vector: number[] };
      matches: {
        rank: number;
        method: string;
        candidate_vector: number[];
        aligned_vector: number[] | null;
        alignment: { band: number } | null;
      }[];
    };
    expect(body.signature.signature_id).toBe(signature?.id);
    expect(body.matches.length).toBeGreaterThan(0);
    expect(body.matches[0]?.rank).toBe(1);
    // Each candidate comes warped onto the query's points along its DTW path, as dtwWarp does.
    const queryVector = Float64Array.from(body.signature.vector);
    for (const m of body.matches
      .filter((r) => r.candidate_vector?.length === queryVector.length)
      .slice(0, 5)) {
      const band = m.alignment?.band ?? Math.round(queryVector.length / 10);
      const expected = Array.from(dtwWarp(queryVector, Float64Array.from(m.candidate_vector), band));
      expect(m.aligned_vector).toHaveLength(queryVector.length);
      m.aligned_vector?.forEach((v, i) => {
        expect(v).toBeCloseTo(expected[i] as number, 12);
      });
    }
    // Warping can only bring a candidate nearer its query.
    const first = body.matches.find((m) => m.method === 'dtw' && m.aligned_vector);
    expect(first).toBeDefined();
    if (first?.aligned_vector) {
      const gap = (v: readonly number[]) =>
        v.reduce((sum, x, i) => sum + (x - (queryVector[i] as number)) ** 2, 0);
      expect(gap(first.aligned_vector)).toBeLessThanOrEqual(gap(first.candidate_vector) + 1e-9);
    }
    const missing = await get('/api/matches?signature=nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: 'not_found' });
  });

  it('answers unknown paths with 404 and does not serve files outside the web root', async () => {
    expect((await get('/api/nope')).status).toBe(404);
    expect((await get('/..%2f..%2fpackage.json')).status).toBe(404);
  });

  it('runlake serve starts, prints the URL, and answers', async () => {
    const served = await startServe(dir);
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const response = await fetch(new URL('/api/query?sql=SELECT%2042%20AS%20x', served.url));
      expect(await response.json()).toMatchObject({ rows: [{ x: 42 }] });
      expect(await served.stop()).toBe(0);
    } finally {
      served.kill();
    }
  }, 30_000);
});

describe('runlake demo --serve', () => {
  const root = tempDir();
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints the serve command, then serves the Squiggle demo lake until SIGTERM', async () => {
    const out = `${root}/demo`;
    const child: ChildProcess = spawn(
      process.execPath,
      [RUNLAKE_BIN, 'demo', '--out', out, '--events', '50', '--serve', '--port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          const match = /runlake serving .* at (http:\/\/\S+)/.exec(stdout);
          if (match?.[1]) resolve(match[1]);
        });
        child.stderr?.on('data', (chunk: Buffer) => {
          err += chunk.toString();
        });
        child.on('exit', (code) => reject(new Error(`demo exited with ${code}: ${err}`)));
      });
      expect(stdout).toMatch(new RegExp(` serve ${out}-squiggle`));
      const response = await fetch(
        new URL(
          "/api/query?sql=SELECT%20count(*)%20AS%20n%20FROM%20events%20WHERE%20event_type%3D'bifurcation'",
          url,
        ),
      );
      expect(await response.json()).toMatchObject({ rows: [{ n: 8 }] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});

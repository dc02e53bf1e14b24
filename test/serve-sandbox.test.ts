import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachGridId, createServer, openLake, type RunlakeServer, writeGridParams } from '../src/index.js';
import { RUNLAKE_BIN, runlake } from './helpers/cli.js';
import { treeFingerprint } from './helpers/hostile.js';
import { tempDir } from './helpers/lake-fixtures.js';

// The sandbox attack suite (issue 13 §1–3): every payload below once wrote to the lake, changed
// state other clients see, read outside the lake or crossed sites. Each must be refused, and the
// lake must be byte-identical after all of them.

const TOKEN = 'sandbox-token-1';
const RUNS = ['r1', 'r2', 'r3'];

describe('serve sandbox: hostile SQL, cross-site requests and tokens', () => {
  const dir = tempDir();
  const outside = tempDir('runlake-outside-');
  let server: RunlakeServer;
  let before: string[];
  let gridId = '';
  let gridParams = '';
  const cwdTmp = path.join(process.cwd(), '.tmp');

  const request = (url: string, init: RequestInit = {}) =>
    server.app.fetch(
      new Request(new URL(url, 'http://127.0.0.1:8787'), {
        ...init,
        headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string>) },
      }),
    );

  beforeAll(async () => {
    const lake = await openLake(dir, { schema: 'squiggle' });
    const params = { model: 'tiny', lr: 1e-3 };
    gridId = attachGridId(params).grid_id;
    await writeGridParams(dir, params);
    await lake.write(
      'runs',
      RUNS.map((run_id, seed) => ({ run_id, grid_id: gridId, seed })),
    );
    await lake.write(
      'metrics_scalar',
      RUNS.flatMap((run_id) =>
        Array.from({ length: 100 }, (_, step) => ({
          run_id,
          step,
          metric_name: 'loss',
          value: 1 / (step + 1),
        })),
      ),
    );
    lake.close();
    gridParams = path.join(dir, 'grids', `grid_id=${gridId}`, 'params.json');
    writeFileSync(path.join(outside, 'secret.csv'), 'secret\nhunter2\n');
    mkdirSync(cwdTmp, { recursive: true });
    writeFileSync(path.join(cwdTmp, 'secret.txt'), 'temp secret');
    server = await createServer(dir, { token: TOKEN, timeoutMs: 5_000 });
    before = treeFingerprint(dir);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    rmSync(path.join(cwdTmp, 'secret.txt'), { force: true });
    // Only remove the directory if this test made it and DuckDB never used it.
    if (readdirSync(cwdTmp).length === 0) rmSync(cwdTmp, { recursive: true });
  });

  const lakeJson = () => path.join(dir, '.runlake', 'lake.json');
  const partition = () => path.join(dir, 'metrics_scalar', 'run_id=r1', 'evil.parquet');
  const q = (s: string) => s.replaceAll("'", "''");

  // Statements that write a file or change the catalog, each one wrapped every way that once
  // smuggled it past the guard.
  const writes = (): string[] => [
    `COPY (SELECT 'garbage') TO '${q(lakeJson())}' (FORMAT csv, HEADER false)`,
    `COPY (SELECT '{}') TO '${q(gridParams)}' (FORMAT csv, HEADER false)`,
    `COPY (SELECT 1 AS x) TO '${q(partition())}' (FORMAT parquet)`,
    `COPY (SELECT 1) TO '.tmp/owned.csv'`,
    'CREATE MACRO count_star() AS 42',
    'CREATE OR REPLACE MACRO lower(x) AS 1',
    'CREATE TEMP MACRO count_star() AS 42',
    'CREATE TABLE owned AS SELECT 1',
    'CREATE OR REPLACE VIEW runs AS SELECT 1 AS run_id',
    'ALTER VIEW runs RENAME TO runs_gone',
    'DROP VIEW runs',
    'DROP TABLE grids',
    "INSERT INTO grids (grid_id) VALUES ('evil')",
    "UPDATE grids SET grid_id = 'evil'",
    'DELETE FROM grids',
    `ATTACH '${q(path.join(dir, 'owned.duckdb'))}' AS owned`,
    'INSTALL httpfs',
    'LOAD httpfs',
    'SET enable_external_access = true',
    "SET allowed_directories = ['/']",
    'PRAGMA enable_profiling',
    `CALL enable_logging(storage = 'file', storage_path = '${q(dir)}')`,
    `EXPORT DATABASE '${q(path.join(dir, 'export'))}'`,
    'CHECKPOINT',
    'SET VARIABLE x = 1',
    'CREATE SEQUENCE s',
    'BEGIN TRANSACTION',
    'USE system',
    'DETACH memory',
    "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')",
  ];
  const wrappers: readonly ((statement: string) => string)[] = [
    (s) => s,
    (s) => `EXPLAIN ${s}`,
    (s) => `EXPLAIN ANALYZE ${s}`,
    (s) => `explain   analyze\n${s}`,
    (s) => `/* comment */ EXPLAIN ANALYZE ${s}`,
    (s) => `SELECT 1; ${s}`,
    (s) => `WITH x AS (SELECT 1) ${s}`,
  ];

  // Table functions that read files, each pointed outside the lake.
  const fileReaders = (): string[] => {
    const secret = q(path.join(outside, 'secret.csv'));
    const temp = q(path.join(cwdTmp, 'secret.txt'));
    return [
      `SELECT * FROM read_csv('${secret}')`,
      `SELECT * FROM read_csv_auto('${secret}')`,
      `SELECT * FROM sniff_csv('${secret}')`,
      `SELECT * FROM read_json('${secret}')`,
      `SELECT * FROM read_json_auto('${secret}')`,
      `SELECT * FROM read_json_objects('${secret}')`,
      `SELECT * FROM read_ndjson('${secret}')`,
      `SELECT * FROM read_ndjson_objects('${secret}')`,
      `SELECT * FROM read_text('${secret}')`,
      `SELECT * FROM read_blob('${secret}')`,
      `SELECT * FROM read_parquet('${secret}')`,
      `SELECT * FROM parquet_metadata('${secret}')`,
      `SELECT * FROM parquet_schema('${secret}')`,
      `SELECT * FROM glob('${q(outside)}/*')`,
      `SELECT * FROM '${secret}'`,
      `SELECT * FROM read_text('${temp}')`,
      `SELECT * FROM glob('${q(cwdTmp)}/*')`,
      `SELECT * FROM read_text('${q(dir)}/../${q(path.basename(outside))}/secret.csv')`,
      `SELECT * FROM read_text('${q(dir)}/escape_link/secret.csv')`,
      "SELECT * FROM read_text('/etc/passwd')",
      "SELECT * FROM read_csv('/proc/self/environ')",
      `SELECT * FROM read_duckdb('${q(path.join(outside, 'x.duckdb'))}')`,
      `WITH t AS (SELECT * FROM read_text('${secret}')) SELECT * FROM t`,
      `SELECT * FROM (PIVOT (SELECT * FROM read_csv('${secret}')) ON secret IN ('x') USING count(*))`,
      `EXPLAIN ANALYZE SELECT * FROM read_text('${secret}')`,
    ];
  };

  // Functions that are not reads of the lake, inside otherwise plain SELECTs.
  const stateFunctions = [
    "SELECT * FROM query('SELECT 42')",
    "SELECT * FROM query_table('runs')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
    'SELECT * FROM enable_logging()',
    'SELECT * FROM disable_logging()',
    'SELECT * FROM truncate_duckdb_logs()',
    'SELECT * FROM checkpoint()',
    'SELECT * FROM force_checkpoint()',
    'SELECT * FROM enable_profiling()',
    'SELECT * FROM duckdb_secrets()',
    'SELECT * FROM arrow_scan(0, 0, 0)',
    'SELECT setseed(0.5)',
    "SELECT nextval('s')",
    'SELECT sleep_ms(100000)',
    "SELECT write_log('x')",
    'SELECT (SELECT count(*) FROM enable_logging()) AS n',
    'SELECT * FROM runs WHERE run_id IN (SELECT * FROM query($$SELECT 1$$))',
  ];

  it('refuses every write, whatever wraps it, on GET, text/plain POST and JSON POST', async () => {
    const payloads = writes().flatMap((statement) => wrappers.map((wrap) => wrap(statement)));
    expect(payloads.length).toBeGreaterThanOrEqual(200);
    for (const [i, sql] of payloads.entries()) {
      const response =
        i % 3 === 0
          ? await request(`/api/query?sql=${encodeURIComponent(sql)}`)
          : i % 3 === 1
            ? await request('/api/query', {
                method: 'POST',
                body: sql,
                headers: { 'Content-Type': 'text/plain' },
              })
            : await request('/api/query', {
                method: 'POST',
                body: JSON.stringify({ sql }),
                headers: { 'Content-Type': 'application/json' },
              });
      const body = (await response.json()) as { error: string; kind: string };
      expect([400, 403], `${sql} → ${response.status} ${body.error}`).toContain(response.status);
    }
  }, 120_000);

  it('refuses every file reader outside the lake (other directories, the temp directory, symlinks, ..)', async () => {
    symlinkSync(outside, path.join(dir, 'escape_link'));
    try {
      for (const sql of fileReaders()) {
        const response = await request(`/api/query?sql=${encodeURIComponent(sql)}`);
        const body = (await response.json()) as { error: string };
        expect([400, 403], `${sql} → ${response.status} ${body.error}`).toContain(response.status);
        expect(JSON.stringify(body)).not.toContain('hunter2');
        expect(JSON.stringify(body)).not.toContain('temp secret');
      }
    } finally {
      rmSync(path.join(dir, 'escape_link'));
    }
  });

  it('refuses table and scalar functions that are not reads of the lake', async () => {
    for (const sql of stateFunctions) {
      const response = await request(`/api/query?sql=${encodeURIComponent(sql)}`);
      const body = (await response.json()) as { error: string };
      expect([400, 403], `${sql} → ${response.status} ${body.error}`).toContain(response.status);
    }
  });

  it('names the refused statement rather than "INVALID"', async () => {
    const response = await request(`/api/query?sql=${encodeURIComponent('EXPLAIN ANALYZE DROP VIEW runs')}`);
    expect(response.status).toBe(403);
    const { error } = (await response.json()) as { error: string };
    expect(error).toContain('EXPLAIN ANALYZE of a DROP statement');
    expect(error).not.toContain('INVALID');
  });

  it('treats every other endpoint parameter as data, never as SQL', async () => {
    const injections = [
      "r1' OR '1'='1",
      "r1'); DROP VIEW runs; --",
      'r1" OR 1=1 --',
      "'; COPY (SELECT 1) TO 'x.csv'; --",
    ];
    for (const injection of injections) {
      const urls = [
        `/api/metrics?run=${encodeURIComponent(injection)}&metric=loss`,
        `/api/metrics?run=r1&metric=${encodeURIComponent(injection)}`,
        `/api/metric-groups?run=r1&metric=loss&by=${encodeURIComponent(injection)}`,
        `/api/geometry?run=${encodeURIComponent(injection)}`,
        `/api/matches?signature=${encodeURIComponent(injection)}`,
      ];
      for (const url of urls) {
        const response = await request(url);
        expect([200, 400, 404], `${url} → ${response.status}`).toContain(response.status);
        if (response.status === 200 && url.startsWith('/api/metrics?run=')) {
          const { series } = (await response.json()) as { series: { total: number }[] };
          expect(series.every((s) => s.total === 0)).toBe(true);
        } else await response.arrayBuffer();
      }
    }
  });

  it('leaves the lake byte-identical, the catalog intact, and nothing in the temp directory', async () => {
    expect(treeFingerprint(dir)).toEqual(before);
    const response = await request(
      `/api/query?sql=${encodeURIComponent("SELECT count(*) AS n, (SELECT count(*) FROM grids) AS g, lower('X') AS l FROM runs")}`,
    );
    expect(await response.json()).toMatchObject({ rows: [{ n: 3, g: 1, l: 'x' }] });
    expect(readdirSync(cwdTmp)).toEqual(['secret.txt']);
    expect(existsSync(path.join(dir, 'export'))).toBe(false);
  });

  it('refuses foreign Host headers (DNS rebinding) and cross-site Origins on every endpoint', async () => {
    const endpoints = [
      '/api',
      '/api/lake',
      '/api/runs',
      '/api/metric-names',
      '/api/metrics?run=r1&metric=loss',
      '/api/query?sql=SELECT%201',
      '/',
    ];
    for (const url of endpoints) {
      for (const headers of [
        { Host: 'evil.example:8787' } as Record<string, string>,
        { Host: 'attacker.localhost.evil.example' },
        { Origin: 'https://evil.example' },
        { Origin: 'null' },
        { Origin: 'http://127.0.0.1:9999' },
        { 'Sec-Fetch-Site': 'cross-site' },
      ]) {
        const response = await request(url, { headers });
        expect(response.status, `${url} ${JSON.stringify(headers)}`).toBe(403);
        expect(((await response.json()) as { kind: string }).kind).toBe('cross_site');
      }
    }
    const post = await request('/api/query', {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'Content-Type': 'text/plain', Origin: 'https://evil.example' },
    });
    expect(post.status).toBe(403);
  });

  it('answers its own origin, IP hosts, localhost, and the origins and hosts it is told to allow', async () => {
    for (const headers of [
      { Origin: 'http://127.0.0.1:8787' } as Record<string, string>,
      { Host: 'localhost:8787', Origin: 'http://localhost:8787' },
      { Host: '[::1]:8787' },
      { Host: '10.1.2.3:8787' },
      { 'Sec-Fetch-Site': 'same-origin' },
    ]) {
      const response = await request('/api/query?sql=SELECT%201%20AS%20x', { headers });
      expect(response.status, JSON.stringify(headers)).toBe(200);
    }
    const allowing = await createServer(dir, {
      allowOrigins: ['https://dash.example.org'],
      allowHosts: ['lake.example.org'],
    });
    try {
      const ok = await allowing.app.fetch(
        new Request('http://lake.example.org/api/query?sql=SELECT%201', {
          headers: { Origin: 'https://dash.example.org' },
        }),
      );
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://dash.example.org');
      const preflight = await allowing.app.fetch(
        new Request('http://lake.example.org/api/query', {
          method: 'OPTIONS',
          headers: { Origin: 'https://dash.example.org', 'Access-Control-Request-Method': 'POST' },
        }),
      );
      expect(preflight.status).toBe(204);
      const other = await allowing.app.fetch(
        new Request('http://lake.example.org/api/query?sql=SELECT%201', {
          headers: { Origin: 'https://evil.example' },
        }),
      );
      expect(other.status).toBe(403);
    } finally {
      await allowing.close();
    }
  });

  it('checks tokens: missing, wrong, malformed and empty are refused', async () => {
    const raw = (headers: Record<string, string>, query = '') =>
      server.app.fetch(new Request(`http://127.0.0.1:8787/api/lake${query}`, { headers }));
    expect((await raw({})).status).toBe(401);
    expect((await raw({ Authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await raw({ Authorization: 'Bearer ' })).status).toBe(401);
    expect((await raw({ Authorization: `Basic ${TOKEN}` })).status).toBe(401);
    expect((await raw({}, '?token=')).status).toBe(401);
    expect((await raw({}, '?token=wrong')).status).toBe(401);
    expect((await raw({}, `?token=${TOKEN}`)).status).toBe(200);
    expect((await raw({ Authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    await expect(createServer(dir, { token: '' })).rejects.toThrow(/non-empty/);
    const cli = runlake('serve', dir, '--token', '', '--port', '0');
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/token must be a non-empty string/);
  });

  it('says in one line that a port is busy, naming it and what to do', async () => {
    const busy = http.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((busy.address() as AddressInfo).port);
      const cli = runlake('serve', dir, '--port', port);
      expect(cli.code).toBe(1);
      expect(cli.stderr.trim().split('\n')).toEqual([
        `runlake: port ${port} on 127.0.0.1 is already in use; pick another with --port (--port 0 takes any free one)`,
      ]);
    } finally {
      busy.close();
    }
  });

  it('warns about a token-less server reachable from other machines, and only then', async () => {
    const firstStderr = async (host: string): Promise<string> => {
      const child: ChildProcess = spawn(
        process.execPath,
        [RUNLAKE_BIN, 'serve', dir, '--host', host, '--port', '0'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      try {
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        await new Promise<void>((resolve, reject) => {
          child.stdout?.on('data', (chunk: Buffer) => {
            if (chunk.toString().includes('runlake serving')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        return stderr;
      } finally {
        child.kill('SIGKILL');
      }
    };
    expect(await firstStderr('127.0.0.2')).not.toContain('warning');
    expect(await firstStderr('0.0.0.0')).toContain('reachable from other machines and no --token');
  }, 60_000);
});

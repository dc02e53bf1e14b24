/**
 * `GET /api/files` and `GET /api/files/<dataset>/<path>` (src/server/lake-files.ts): the listing
 * of each dataset's current snapshot, streaming one part file byte for byte, the token, and every
 * way out of the lake refused (encoded slashes, dot segments, files the snapshot does not list, a
 * symlink leading outside).
 */
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLake } from '../src/lake/index.js';
import { fileRequestPath, type LakeFilesResponse } from '../src/server/lake-files.js';
import { type StartedServer, startServer } from '../src/server/server.js';
import { copyToParquet } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

const TOKEN = 'files-token';

describe('lake files routes', () => {
  const dir = tempDir('runlake-lake-files-');
  const lakeDir = path.join(dir, 'lake');
  let server: StartedServer;
  const get = (url: string, token: string | null = TOKEN) =>
    fetch(new URL(url, server.url), { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  /** A request sent as written: no client-side normalisation of `..` or `%2e`. */
  const raw = (urlPath: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { hostname, port } = new URL(server.url);
      const request = http.request(
        { hostname, port, path: urlPath, headers: { Authorization: `Bearer ${TOKEN}` } },
        (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      );
      request.on('error', reject);
      request.end();
    });

  beforeAll(async () => {
    const lake = await openLake(lakeDir, { schema: 'squiggle' });
    await lake.write('runs', [
      { run_id: 'r1', seed: 1 },
      { run_id: 'r2', seed: 2 },
    ]);
    await lake.write(
      'metrics_scalar',
      Array.from({ length: 30 }, (_, step) => ({
        run_id: 'r1',
        step,
        metric_name: 'loss',
        value: 1 / (step + 1),
      })),
    );
    lake.close();
    // A dataset another tool wrote (no commit log), a secret outside the lake linked into it,
    // and a stray file in a logged dataset that no commit lists.
    mkdirSync(path.join(lakeDir, 'extra'));
    await copyToParquet('SELECT i AS k FROM range(5) t(i)', path.join(lakeDir, 'extra', 'part-0.parquet'));
    await copyToParquet("SELECT 'secret' AS s", path.join(dir, 'outside.parquet'));
    symlinkSync(path.join(dir, 'outside.parquet'), path.join(lakeDir, 'extra', 'link.parquet'));
    writeFileSync(path.join(lakeDir, 'runs', 'stray.parquet'), 'not listed');
    server = await startServer(lakeDir, { port: 0, token: TOKEN });
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs the token when the server has one', async () => {
    expect((await get('/api/files', null)).status).toBe(401);
    expect((await get('/api/files', 'wrong')).status).toBe(401);
    const listing = (await (await get('/api/files')).json()) as LakeFilesResponse;
    const file = listing.datasets.find((d) => d.name === 'runs')?.files[0]?.path ?? '';
    expect((await get(`/api/files/runs/${file}`, null)).status).toBe(401);
    expect((await get(`/api/files/runs/${file}?token=${TOKEN}`, null)).status).toBe(200);
  });

  it('lists every dataset with the files and sizes of its current snapshot', async () => {
    const response = await get('/api/files');
    expect(response.status).toBe(200);
    const { datasets } = (await response.json()) as LakeFilesResponse;
    expect(datasets.map((d) => d.name)).toEqual(['extra', 'metrics_scalar', 'runs']);
    const runs = datasets.find((d) => d.name === 'runs');
    expect(runs?.version).toBe(0);
    expect(runs?.files.map((f) => f.rows)).toEqual([1, 1]);
    expect(runs?.files.some((f) => f.path === 'stray.parquet')).toBe(false);
    for (const dataset of datasets)
      for (const file of dataset.files)
        expect(file.size).toBe(statSync(path.join(lakeDir, dataset.name, file.path)).size);
    const extra = datasets.find((d) => d.name === 'extra');
    expect(extra?.version).toBe(-1);
    expect(extra?.files.map((f) => [f.path, f.rows])).toEqual([
      ['link.parquet', null],
      ['part-0.parquet', null],
    ]);
  });

  it('streams a listed Parquet file byte for byte', async () => {
    const { datasets } = (await (await get('/api/files')).json()) as LakeFilesResponse;
    const metrics = datasets.find((d) => d.name === 'metrics_scalar');
    const file = metrics?.files[0];
    if (!file) throw new Error('no metrics file listed');
    const response = await get(
      `/api/files/metrics_scalar/${file.path.split('/').map(encodeURIComponent).join('/')}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    expect(Number(response.headers.get('content-length'))).toBe(file.size);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(readFileSync(path.join(lakeDir, 'metrics_scalar', file.path)))).toBe(true);
    expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
    expect((await get('/api/files/extra/part-0.parquet')).status).toBe(200);
  });

  it('refuses paths leading out of the lake and files the snapshot does not list', async () => {
    for (const bad of [
      '/api/files/runs/..%2F..%2Foutside.parquet',
      '/api/files/runs/%2e%2e%2Foutside.parquet',
      '/api/files/runs/a%5C..%5C..%5Coutside.parquet',
      '/api/files/runs/x%00.parquet',
      '/api/files/Runs/x.parquet',
      '/api/files/runs',
    ]) {
      const response = await raw(bad);
      expect(response.status, bad).toBe(400);
      expect(response.body).not.toContain('secret');
    }
    for (const outside of ['/api/files/runs/../../outside.parquet', '/api/files/%2e%2e/outside.parquet']) {
      const response = await raw(outside);
      expect([400, 404], outside).toContain(response.status);
      expect(response.body).not.toContain('secret');
    }
    expect((await raw('/api/files/runs/stray.parquet')).status).toBe(404);
    expect((await raw('/api/files/nope/part-0.parquet')).status).toBe(404);
    // Listed (it is a .parquet in the dataset) but it leads outside the lake: not served.
    const link = await raw('/api/files/extra/link.parquet');
    expect(link.status).toBe(404);
    expect(link.body).not.toContain('secret');
    expect(JSON.parse(link.body).error).toMatch(/not readable inside the lake/);
  });

  it('pages the listing and filters it by dataset, with totals and one-line 400s', async () => {
    const page = async (query: string) => {
      const response = await get(`/api/files${query}`);
      expect(response.status, query).toBe(200);
      return (await response.json()) as LakeFilesResponse;
    };
    const flat = (answer: LakeFilesResponse) =>
      answer.datasets.flatMap((d) => d.files.map((f) => `${d.name}/${f.path}`));
    const all = await page('');
    // Five files: extra ×2, metrics_scalar ×1, runs ×2; the default page (1,000) holds them all.
    expect(all.total).toBe(5);
    expect(all.offset).toBe(0);
    expect(all.limit).toBe(1000);
    expect(all.datasets.map((d) => [d.name, d.total])).toEqual([
      ['extra', 2],
      ['metrics_scalar', 1],
      ['runs', 2],
    ]);
    const every = flat(all);
    expect(every).toHaveLength(5);
    // Pages of 2 walk the same files in the same order, each dataset keeping its total.
    const walked: string[] = [];
    for (let offset = 0; offset < all.total; offset += 2) {
      const answer = await page(`?limit=2&offset=${offset}`);
      expect(answer.total).toBe(5);
      expect(answer.limit).toBe(2);
      expect(flat(answer).length).toBeLessThanOrEqual(2);
      expect(answer.datasets.map((d) => d.total)).toEqual([2, 1, 2]);
      walked.push(...flat(answer));
    }
    expect(walked).toEqual(every);
    expect(flat(await page('?offset=5'))).toEqual([]);
    expect(flat(await page('?offset=99&limit=3'))).toEqual([]);
    // limit=0: the datasets and their counts only.
    const counts = await page('?limit=0');
    expect(counts.total).toBe(5);
    expect(flat(counts)).toEqual([]);
    // One dataset.
    const runs = await page('?dataset=runs&limit=1&offset=1');
    expect(runs.datasets.map((d) => d.name)).toEqual(['runs']);
    expect(runs.total).toBe(2);
    expect(flat(runs)).toEqual([every[4]]);
    const missing = await get('/api/files?dataset=nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('the lake has no dataset "nope"');
    for (const [query, message] of [
      ['?limit=-1', 'limit must be a whole number from 0 to 10,000, not "-1"'],
      ['?limit=abc', 'limit must be a whole number from 0 to 10,000, not "abc"'],
      ['?limit=10001', 'limit must be a whole number from 0 to 10,000, not "10001"'],
      ['?offset=1.5', 'offset must be a whole number from 0 to 9,007,199,254,740,991, not "1.5"'],
      ['?dataset=..%2Fruns', 'dataset must be a dataset name (a-z, 0-9, _), not "../runs"'],
    ] as const) {
      const response = await get(`/api/files${query}`);
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { error: string };
      expect(body.error).toBe(message);
      expect(body.error).not.toContain('\n');
    }
  });

  it('decodes and checks each path segment', () => {
    expect(fileRequestPath('runs/run_id%3Dr1/part-0.parquet')).toEqual({
      dataset: 'runs',
      file: 'run_id=r1/part-0.parquet',
    });
    expect(() => fileRequestPath('runs/..%2Fx')).toThrow(/without empty/);
    expect(() => fileRequestPath('runs//x')).toThrow(/without empty/);
    expect(() => fileRequestPath('runs/%E0%A4%A')).toThrow(/malformed/);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { gridHash, openLake } from '../src/index.js';
import { listFiles, repoRoot, tempDir, visibleFiles } from './helpers/lake-fixtures.js';

const writerScript = path.join(repoRoot, 'test/scripts/sweep-writer.mjs');
const params = { algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 };

function runWriter(args: string[]): { child: ChildProcess; done: number[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [writerScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const done: number[] = [];
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (text: string) => {
    for (const match of text.matchAll(/done (\d+)/g)) done.push(Number(match[1]));
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(stderr);
      resolve(code);
    }),
  );
  return { child, done, exited };
}

async function batchCounts(base: string): Promise<Map<string, number>> {
  const lake = await openLake(base);
  try {
    const rows = await lake.query(
      'SELECT writer, batch, count(*)::INT AS n, count(DISTINCT i)::INT AS d FROM events GROUP BY ALL',
    );
    for (const row of rows) expect(row.d).toBe(row.n); // no row duplicated inside a batch
    return new Map(rows.map((r) => [`${r.writer}/${r.batch}`, r.n as number]));
  } finally {
    lake.close();
  }
}

describe('concurrent writers', () => {
  it('4 processes writing the same grid and seed at once: every row present exactly once', async () => {
    const base = tempDir();
    const writers = [0, 1, 2, 3].map((w) => runWriter([base, String(w), '8', '2000']));
    expect(await Promise.all(writers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);
    const counts = await batchCounts(base);
    expect(counts.size).toBe(32);
    expect([...counts.values()].every((n) => n === 2000)).toBe(true);
    const files = visibleFiles(base);
    expect(files.filter((f) => f.startsWith('grids/'))).toEqual([
      `grids/grid_id=${gridHash(params)}/params.json`,
    ]);
    expect(files.filter((f) => f.startsWith('events/'))).toHaveLength(32);
  });

  it('4 worker threads writing at once: every row present exactly once', async () => {
    const base = tempDir();
    const workers = [0, 1, 2, 3].map(
      (writer) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(path.join(repoRoot, 'test/scripts/thread-writer.mjs'), {
            workerData: { base, writer, batches: 6, rowsPerBatch: 1500 },
          });
          worker.on('message', () => resolve());
          worker.on('error', reject);
          worker.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`)),
          );
        }),
    );
    await Promise.all(workers);
    const counts = await batchCounts(base);
    expect(counts.size).toBe(24);
    expect([...counts.values()].every((n) => n === 1500)).toBe(true);
  });
});

describe('crash safety', () => {
  // Kill points spread over one write: the gap between two returned writes is measured, and the
  // kill lands at a fraction of it after the second one returned.
  for (const fraction of [0.3, 0.6, 0.8, 0.9, 0.97]) {
    it(`a writer killed with SIGKILL ${Math.round(fraction * 100)}% into a write leaves no partial part and loses no returned write`, async () => {
      const base = tempDir();
      const rowsPerBatch = 150_000;
      const writer = runWriter([base, '0', 'forever', String(rowsPerBatch)]);
      const seenAt: number[] = [];
      await new Promise<void>((resolve, reject) => {
        const timer = setInterval(() => {
          while (seenAt.length < writer.done.length) seenAt.push(performance.now());
          if (seenAt.length >= 3) {
            clearInterval(timer);
            const gap = (seenAt[2] as number) - (seenAt[1] as number);
            setTimeout(resolve, gap * fraction);
          }
        }, 1);
        writer.exited.then(() => {
          clearInterval(timer);
          reject(new Error('writer exited on its own'));
        });
      });
      writer.child.kill('SIGKILL');
      expect(await writer.exited).toBeNull();
      const returned = [...writer.done];

      // Every visible file is a complete Parquet file (reading all of them succeeds), every write
      // that returned is there in full, and a write cut short is either whole or absent.
      const counts = await batchCounts(base);
      for (const batch of returned) expect(counts.get(`0/${batch}`)).toBe(rowsPerBatch);
      for (const [key, n] of counts) {
        expect(n, `batch ${key}`).toBe(rowsPerBatch);
      }
      const parts = visibleFiles(base).filter((f) => f.startsWith('events/'));
      expect(parts.every((f) => /\/part-[0-9a-f-]{36}\.parquet$/.test(f))).toBe(true);
      expect(parts.length).toBeGreaterThanOrEqual(returned.length);
      expect(parts.length).toBeLessThanOrEqual(returned.length + 1);
    });
  }

  it('a writer killed the moment its part file appears in staging leaves only whole files behind', async () => {
    const base = tempDir();
    const rowsPerBatch = 150_000;
    const writer = runWriter([base, '0', 'forever', String(rowsPerBatch)]);
    const staging = path.join(base, '.runlake/staging');
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        // Watch for DuckDB's output while the COPY runs: the write is then between staging and publish.
        if (writer.done.length >= 1 && listFiles(staging).some((f) => f.endsWith('.parquet'))) {
          clearInterval(timer);
          writer.child.kill('SIGKILL');
          resolve();
        }
      }, 1);
      writer.exited.then(() => {
        clearInterval(timer);
        reject(new Error('writer exited before it was killed'));
      });
    });
    await writer.exited;
    const returned = [...writer.done];
    const staged = listFiles(staging).filter((f) => f.endsWith('.parquet'));
    const parts = visibleFiles(base).filter((f) => f.startsWith('events/'));
    // The kill landed inside a write: its file was still staged, or published but not yet returned.
    expect(staged.length > 0 || parts.length === returned.length + 1).toBe(true);
    const counts = await batchCounts(base);
    for (const batch of returned) expect(counts.get(`0/${batch}`)).toBe(rowsPerBatch);
    for (const [key, n] of counts) expect(n, `batch ${key}`).toBe(rowsPerBatch);
  });
});

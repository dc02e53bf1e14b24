// Serve under load: 50 concurrent clients against `runlake serve` for a fixed time, on
// /api/metrics (4 runs × 2,000 steps downsampled to 800 px) and /api/query (a per-run aggregate),
// counting answers per second, latency percentiles and errors. Peer, measured in the same run on
// the same lake (and runlake with --threads 1): the server as it was before the sandbox and resource limits of issue 13 (built
// from git at SERVE_LOAD_BASELINE, default da30b13), which ran DuckDB inside the HTTP process.
//
//   node bench/run.mjs --only serve-load
//   SERVE_LOAD_CLIENTS=50 SERVE_LOAD_SECONDS=10 SERVE_LOAD_RUNS=200 SERVE_LOAD_BASELINE=da30b13
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { baselineDist, fmt, progress } from './lib.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const STEPS = 2000;

async function ensureLake(dir, runs) {
  const marker = path.join(dir, '.bench-complete');
  if (existsSync(marker)) return;
  await rm(dir, { recursive: true, force: true });
  const { openLake } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    const ids = Array.from({ length: runs }, (_, r) => `load-r${String(r).padStart(4, '0')}`);
    await lake.write(
      'runs',
      ids.map((run_id, seed) => ({ run_id, seed })),
    );
    for (let r0 = 0; r0 < runs; r0 += 20) {
      const rows = [];
      for (const run_id of ids.slice(r0, r0 + 20)) {
        for (let step = 0; step < STEPS; step++) {
          rows.push({ run_id, step, metric_name: 'loss', value: 1 / (1 + step) + Math.sin(step) * 0.01 });
        }
      }
      await lake.write('metrics_scalar', rows);
    }
  } finally {
    lake.close();
  }
  await (await import('node:fs/promises')).writeFile(marker, '');
}

/** The CLI of the baseline commit, built once into the bench output directory. */
async function baselineCli(outDir, commit) {
  return path.join(await baselineDist(outDir, commit, 'serve-baseline'), 'cli', 'main.js');
}

/** Starts `runlake serve` from `cli` and resolves with its URL and a stop function. */
function startServe(cli, lakeDir, extraArgs = []) {
  const child = spawn(process.execPath, [cli, 'serve', lakeDir, '--port', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /at (http:\/\/\S+)/.exec(out);
      if (match) resolve({ url: match[1], stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

/** `clients` loops asking `nextUrl()` for `seconds`; answers per second, p50/p99 latency, errors. */
async function load(base, nextUrl, clients, seconds) {
  const latencies = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const client = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      try {
        const response = await fetch(new URL(nextUrl(), base));
        await response.arrayBuffer();
        if (response.status !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    perSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
    answers: latencies.length,
  };
}

export async function serveLoadScenario(options) {
  const clients = Number(process.env.SERVE_LOAD_CLIENTS ?? 50);
  const seconds = Number(process.env.SERVE_LOAD_SECONDS ?? 10);
  const runs = Number(process.env.SERVE_LOAD_RUNS ?? 200);
  const commit = process.env.SERVE_LOAD_BASELINE ?? 'da30b13';
  const outDir = options.outDir ?? path.join(os.tmpdir(), 'runlake-bench');
  const lakeDir = path.join(outDir, `serve-load-${runs}`);
  progress(`serve-load: lake of ${runs} runs × ${STEPS} steps`);
  await ensureLake(lakeDir, runs);
  progress(`serve-load: baseline build (${commit})`);
  const cli = path.join(REPO_DIR, 'dist', 'cli', 'main.js');
  const servers = {
    runlake: [cli],
    'runlake --threads 1': [cli, ['--threads', '1']],
    baseline: [await baselineCli(outDir, commit)],
  };
  let seed = 1;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const run = () => `load-r${String(Math.floor(random() * runs)).padStart(4, '0')}`;
  const endpoints = {
    metrics: () => `/api/metrics?metric=loss&width=800&run=${[run(), run(), run(), run()].join(',')}`,
    query: () =>
      `/api/query?sql=${encodeURIComponent(`SELECT run_id, count(*) AS n, min(value) AS best FROM metrics_scalar WHERE run_id = '${run()}' GROUP BY 1`)}`,
  };
  const result = { clients, seconds, runs, baseline: commit, endpoints: {} };
  for (const [endpoint, nextUrl] of Object.entries(endpoints)) {
    result.endpoints[endpoint] = {};
    for (const [name, [serverCli, extraArgs]] of Object.entries(servers)) {
      const server = await startServe(serverCli, lakeDir, extraArgs);
      try {
        await load(server.url, nextUrl, 4, 1); // warm-up
        progress(`serve-load: ${endpoint} on ${name}, ${clients} clients × ${seconds} s`);
        result.endpoints[endpoint][name] = await load(server.url, nextUrl, clients, seconds);
      } finally {
        server.stop();
      }
    }
  }
  return result;
}

export function printServeLoad(result, printTable) {
  printTable(
    `serve-load: ${result.clients} clients × ${result.seconds} s, ${result.runs} runs (baseline ${result.baseline})`,
    ['endpoint', 'server', 'answers/s', 'p50', 'p99', 'errors', 'ratio'],
    Object.entries(result.endpoints).flatMap(([endpoint, byServer]) =>
      Object.entries(byServer).map(([server, r]) => [
        endpoint,
        server,
        r.perSecond.toFixed(1),
        `${r.p50Ms.toFixed(0)} ms`,
        `${r.p99Ms.toFixed(0)} ms`,
        String(r.errors),
        server === 'baseline' ? '' : `${fmt.ratio(r.perSecond / byServer.baseline.perSecond)}×`,
      ]),
    ),
  );
}

// Tracking (issue 19): the Python client's `log()` cost, end-to-end throughput into the lake with
// 1, 8 and 64 client processes, bytes on disk, flush() round trips and the delay from log() to
// visible in a query, side by side with tensorboardX (a SummaryWriter per process, as TensorBoard
// users log) and a raw floor (the same points appended to a file with one write(2) per call).
//
//   RUNLAKE_PYTHON=.venv/bin/python node bench/run.mjs --only tracking
//   TRACKING_CALLS=400000 TRACKING_OVERHEAD_CALLS=200000 TRACKING_CLIENTS=1,8,64
//
// Every call logs 10 scalars. "Until queryable" for runlake means every client's
// flush(visible=True) returned and a reader counts every point; for the peers, their files are
// written and closed (neither can be queried).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { diskBytes, median, progress } from './lib.mjs';
import { locatePython } from './python-peer.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const PEER = path.join(BENCH_DIR, 'tracking_peer.py');
const KINDS = ['runlake', 'tensorboardx', 'raw'];

function runPeer(python, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [PEER, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => {
      if (code !== 0)
        return reject(new Error(`tracking_peer.py ${args.join(' ')} exited ${code}: ${err.slice(-1500)}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)));
    });
  });
}

function hasModule(python, module) {
  return new Promise((resolve) => {
    const child = spawn(python, ['-c', `import ${module}`], { stdio: 'ignore' });
    child.on('close', (code) => resolve(code === 0));
    child.on('error', () => resolve(false));
  });
}

/** Runs the tracking scenario; see the file comment. */
export async function trackingScenario(options) {
  const located = locatePython();
  if (!located.python) return { skipped: located.reason };
  const python = located.python;
  const outDir = path.join(BENCH_DIR, 'out', 'tracking');
  await rm(outDir, { recursive: true, force: true });
  const runtime = path.join(outDir, 'rt');
  mkdirSync(runtime, { recursive: true });
  const env = {
    ...process.env,
    PYTHONPATH: path.join(REPO_DIR, 'python', 'src'),
    RUNLAKE_BIN: path.join(REPO_DIR, 'dist', 'cli', 'main.js'),
    XDG_RUNTIME_DIR: runtime,
    RUNLAKE_SPOOL: path.join(runtime, 'spool'),
  };
  const kinds = [];
  for (const kind of KINDS) {
    if (kind === 'tensorboardx' && !(await hasModule(python, 'tensorboardX'))) {
      progress(
        'tracking: tensorboardX is not installed in this Python (pip install tensorboardX); its rows are skipped',
      );
      continue;
    }
    kinds.push(kind);
  }
  const repeat = options.repeat ?? 3;
  const { openLake } = await import(path.join(REPO_DIR, 'dist', 'index.js'));
  const countPoints = async (lake) => {
    const reader = await openLake(lake);
    try {
      const [row] = await reader.query('SELECT count(*)::BIGINT AS n FROM metrics_scalar');
      return Number(row.n);
    } finally {
      reader.close();
    }
  };

  // 1. log() per call, in a loop.
  const overheadCalls = Number(process.env.TRACKING_OVERHEAD_CALLS ?? 200_000);
  const overhead = {};
  for (let r = 0; r < repeat; r++) {
    for (const kind of kinds) {
      const dir = path.join(outDir, `overhead-${kind}-${r}`);
      mkdirSync(dir, { recursive: true });
      progress(`tracking: log() overhead, ${kind}, round ${r + 1}/${repeat}`);
      const result = await runPeer(
        python,
        [
          'overhead',
          '--kind',
          kind,
          '--calls',
          // tensorboardX takes ~0.35 ms a call: a tenth of the calls gives the same percentiles.
          String(kind === 'tensorboardx' ? Math.ceil(overheadCalls / 10) : overheadCalls),
          '--dir',
          dir,
          '--lake',
          path.join(dir, 'lake'),
        ],
        env,
      );
      overhead[kind] = [...(overhead[kind] ?? []), result];
    }
  }

  // 2. Throughput until queryable, 1 / 8 / 64 clients.
  const totalCalls = Number(process.env.TRACKING_CALLS ?? 400_000);
  const clientCounts = (process.env.TRACKING_CLIENTS ?? '1,8,64').split(',').map(Number);
  const throughput = [];
  for (const clients of clientCounts) {
    for (const kind of kinds) {
      // tensorboardX writes ~20k points/s: a tenth of the points measures its rate in seconds, not minutes.
      const calls = Math.ceil(totalCalls / clients / (kind === 'tensorboardx' ? 10 : 1));
      const runs = [];
      for (let r = 0; r < repeat; r++) {
        const dir = path.join(outDir, `throughput-${kind}-${clients}-${r}`);
        const lake = path.join(dir, 'lake');
        mkdirSync(dir, { recursive: true });
        if (kind === 'runlake') {
          // The sidecar is started by a warm-up client and kept (it stops 10 s after its last
          // client): start-up is not throughput.
          await runPeer(
            python,
            ['client', '--kind', kind, '--calls', '1', '--dir', dir, '--lake', lake, '--index', '-1'],
            env,
          );
        }
        progress(`tracking: throughput, ${kind}, ${clients} clients, round ${r + 1}/${repeat}`);
        const start = performance.now();
        await Promise.all(
          Array.from({ length: clients }, (_, i) =>
            runPeer(
              python,
              [
                'client',
                '--kind',
                kind,
                '--calls',
                String(calls),
                '--dir',
                dir,
                '--lake',
                lake,
                '--index',
                String(i),
              ],
              env,
            ),
          ),
        );
        const seconds = (performance.now() - start) / 1000;
        const points = clients * calls * 10;
        let bytes;
        if (kind === 'runlake') {
          const counted = await countPoints(lake);
          if (counted !== points + 10)
            throw new Error(`tracking: the lake holds ${counted} points, expected ${points + 10}`);
          bytes = diskBytes(path.join(lake, 'metrics_scalar'));
        } else {
          bytes = diskBytes(dir);
        }
        runs.push({ seconds, points, bytes });
      }
      const seconds = median(runs.map((r) => r.seconds));
      throughput.push({
        kind,
        clients,
        points: runs[0].points,
        seconds,
        pointsPerSecond: runs[0].points / seconds,
        bytesPerMillion: (median(runs.map((r) => r.bytes)) / runs[0].points) * 1e6,
      });
    }
  }

  // 3. flush() round trips, 4. log() → visible in a query (with the default fold interval).
  const flushLake = path.join(outDir, 'flush', 'lake');
  mkdirSync(flushLake, { recursive: true });
  progress('tracking: flush() round trips');
  const flush = await runPeer(python, ['flush', '--calls', '300', '--lake', flushLake], env);
  const latencyLake = path.join(outDir, 'latency', 'lake');
  mkdirSync(latencyLake, { recursive: true });
  progress('tracking: log() → visible in a query');
  const delays = [];
  const seen = new Set();
  let done = false;
  const logger = runPeer(
    python,
    ['latency', '--lake', latencyLake, '--seconds', '12', '--every', '0.25'],
    env,
  ).finally(() => {
    done = true;
  });
  while (!done) {
    await new Promise((r) => setTimeout(r, 20));
    let rows = [];
    try {
      const reader = await openLake(latencyLake);
      try {
        rows = await reader.query("SELECT step, value FROM metrics_scalar WHERE metric_name = 'marker'");
      } finally {
        reader.close();
      }
    } catch {
      continue; // no metrics yet
    }
    const now = Date.now() / 1000;
    for (const { step, value } of rows) {
      if (seen.has(step)) continue;
      seen.add(step);
      delays.push(now - value);
    }
  }
  await logger;
  // The first markers wait for the sidecar to start; the steady state is what a user sees.
  const steady = delays.slice(4).sort((a, b) => a - b);
  const latency = {
    markers: delays.length,
    p50_s: steady[Math.floor(steady.length / 2)],
    max_s: steady.at(-1),
  };
  return { overheadCalls, overhead, totalCalls, throughput, flush, latency, kinds };
}

/** Prints the tracking tables. */
export function printTracking(result, printTable) {
  if (result.skipped) {
    process.stdout.write(`\ntracking: skipped (${result.skipped})\n`);
    return;
  }
  const tbx = result.overhead.tensorboardx
    ? median(result.overhead.tensorboardx.map((r) => r.p50_us))
    : undefined;
  printTable(
    `tracking: log() of 10 scalars, ${result.overheadCalls} calls in a loop (tensorboardX a tenth; median of rounds)`,
    ['peer', 'p50 µs', 'p99 µs', 'mean µs', 'close s', 'p50 vs tensorboardX'],
    Object.entries(result.overhead).map(([kind, runs]) => {
      const p50 = median(runs.map((r) => r.p50_us));
      return [
        kind,
        num(p50, 2),
        num(median(runs.map((r) => r.p99_us)), 2),
        num(median(runs.map((r) => r.mean_us)), 2),
        num(median(runs.map((r) => r.close_s)), 2),
        tbx ? `${num(tbx / p50, 1)}×` : '',
      ];
    }),
  );
  printTable(
    `tracking: ${result.totalCalls * 10} points end to end (tensorboardX a tenth; runlake: until queryable)`,
    ['peer', 'clients', 'points', 'seconds', 'points/s', 'bytes per 1M points'],
    result.throughput.map((t) => [
      t.kind,
      String(t.clients),
      String(t.points),
      num(t.seconds, 2),
      num(t.pointsPerSecond, 0),
      num(t.bytesPerMillion, 0),
    ]),
  );
  printTable(
    'tracking: flush() and visibility',
    ['measure', 'p50', 'worst'],
    [
      ['flush() round trip (ms)', num(result.flush.p50_ms, 2), `${num(result.flush.p99_ms, 2)} (p99)`],
      [
        'log() → visible in a query (s)',
        num(result.latency.p50_s, 2),
        `${num(result.latency.max_s, 2)} (max)`,
      ],
    ],
  );
}

function num(value, digits) {
  return value === undefined || value === null || Number.isNaN(value)
    ? ''
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

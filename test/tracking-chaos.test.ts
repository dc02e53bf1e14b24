import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';
import { pythonWith, runTrackingClient } from './helpers/python.js';

const python = pythonWith([]);
// The load: 64 clients for 60 s, the server killed at least 20 times. Smaller with
// RUNLAKE_CHAOS_CLIENTS / RUNLAKE_CHAOS_SECONDS for a quick local run.
const CLIENTS = Number(process.env.RUNLAKE_CHAOS_CLIENTS ?? 64);
const SECONDS = Number(process.env.RUNLAKE_CHAOS_SECONDS ?? 60);
// A kill comes at least KILL_EVERY_MS after the previous one, and only once the server holding
// the lake has been up for MIN_UP_MS (the lock's `started`): a server is not killed before it has
// had a chance to take batches, however slowly the loaded machine restarts it.
const KILL_EVERY_MS = 1500;
const MIN_UP_MS = 1000;
// At least 20 kills in 60 s (a kill every 3 s on average, restart included).
const MIN_KILLS = Math.min(20, Math.floor((SECONDS * 1000) / 3000));

interface ClientReport {
  readonly runId: string;
  /** The last step covered by a flush() that returned (acknowledged or spooled). */
  readonly flushedThrough: number;
  readonly results: readonly string[];
}

async function startClient(lake: string, runId: string, runtime: string): Promise<ClientReport> {
  const out = await runTrackingClient(
    python.python,
    'tracking_chaos_client.py',
    [lake, runId, String(SECONDS)],
    runtime,
  );
  let flushedThrough = -1;
  const results: string[] = [];
  for (const line of out.trim().split('\n')) {
    const [, step, result] = /^(?:flushed|finished) (-?\d+) (\w+)$/.exec(line) ?? [];
    if (step === undefined || result === undefined) throw new Error(`${runId}: unexpected output ${line}`);
    flushedThrough = Math.max(flushedThrough, Number(step));
    results.push(result);
  }
  return { runId, flushedThrough, results };
}

/**
 * Whether a process exists, a zombie included: a killed sidecar whose client has exited waits
 * for init to reap it, and until then the server's lock check (kill(pid, 0)) takes it for alive.
 */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(python.skip)('tracking under chaos', () => {
  it(
    `${CLIENTS} clients log for ${SECONDS} s while the server is SIGKILLed (${MIN_KILLS}+ times, each after ≥ ${MIN_UP_MS / 1000} s up): every flushed point lands exactly once`,
    async () => {
      const lake = tempDir('runlake-chaos-');
      const runtime = tempDir('runlake-chaos-rt-');
      const lockFile = path.join(lake, '.runlake', 'ingest', 'server.lock');
      const killed = new Set<number>();
      let stop = false;
      const uptimes: number[] = [];
      // From each kill to the next server's lock (clients noticing, node starting, log recovery).
      const restarts: number[] = [];
      const killer = (async () => {
        let lastKill = Date.now();
        let restarted = true;
        while (!stop) {
          await new Promise((r) => setTimeout(r, 50));
          if (stop || !existsSync(lockFile)) continue;
          try {
            const { pid, started } = JSON.parse(readFileSync(lockFile, 'utf8')) as {
              pid: number;
              started: string;
            };
            if (!restarted && !killed.has(pid)) {
              restarts.push(Date.parse(started) - lastKill);
              restarted = true;
            }
            const up = Date.now() - Date.parse(started);
            if (Date.now() - lastKill < KILL_EVERY_MS || killed.has(pid) || !(up >= MIN_UP_MS)) continue;
            process.kill(pid, 'SIGKILL');
            killed.add(pid);
            uptimes.push(up);
            lastKill = Date.now();
            restarted = false;
          } catch {
            // Between a kill and the next server's start (no lock file, or a half-written one):
            // nothing to kill yet.
          }
        }
      })();
      const clients = Array.from({ length: CLIENTS }, (_, i) => startClient(lake, `chaos-${i}`, runtime));
      let reports: ClientReport[];
      try {
        reports = await Promise.all(clients);
      } finally {
        stop = true;
        await killer;
      }
      const timeline = `${killed.size} kills; ms from a kill to the next server: ${restarts.join(' ')}`;
      expect(killed.size, timeline).toBeGreaterThanOrEqual(MIN_KILLS);

      // Every server stopped first: the lock's holder (the last sidecar may be exiting on its
      // own, idle, and a socket it is closing would refuse the upload) and the sidecar a client
      // started last (recorded next to the socket: it may come up after its clients have gone).
      // Then what clients spooled while no server answered is uploaded by `runlake sync`
      // opening the lake itself.
      const socketDir = path.join(runtime, `runlake-${process.getuid?.() ?? 0}`);
      const records = [
        lockFile,
        ...(existsSync(socketDir) ? readdirSync(socketDir) : [])
          .filter((f) => f.endsWith('.start.lock'))
          .map((f) => path.join(socketDir, f)),
      ];
      const pids = new Set<number>();
      for (const file of records) {
        try {
          pids.add((JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid);
        } catch {
          // No such record (or an empty one): nothing to stop.
        }
      }
      for (const pid of pids) {
        if (exists(pid)) process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 600 && exists(pid); i++) await new Promise((r) => setTimeout(r, 100));
        expect(exists(pid), `server ${pid} did not stop`).toBe(false);
      }
      const spool = path.join(runtime, 'spool');
      if (existsSync(spool)) {
        const sync = spawnSync(process.execPath, [RUNLAKE_BIN, 'sync', spool, '--to', lake], {
          encoding: 'utf8',
        });
        expect(sync.stderr).toBe('');
        expect(sync.status).toBe(0);
      }
      // Anything a killed server left in its log is folded by the next one to open the lake.
      const final = spawnSync(process.execPath, [RUNLAKE_BIN, 'sync', tempDir(), '--to', lake], {
        encoding: 'utf8',
      });
      expect(final.status).toBe(0);

      const reader = await openLake(lake);
      const rows = (await reader.query(
        `SELECT run_id, metric_name, count(*)::INTEGER AS n, count(DISTINCT step)::INTEGER AS distinct_steps,
                min(step)::BIGINT AS first, max(step)::BIGINT AS last,
                bool_and(value = step * 10 + CAST(substr(metric_name, 2) AS INTEGER)) AS values_ok
           FROM metrics_scalar GROUP BY ALL`,
      )) as {
        run_id: string;
        metric_name: string;
        n: number;
        distinct_steps: number;
        first: number;
        last: number;
        values_ok: boolean;
      }[];
      reader.close();
      const byRun = new Map<string, typeof rows>();
      for (const row of rows) byRun.set(row.run_id, [...(byRun.get(row.run_id) ?? []), row]);
      let points = 0;
      for (const report of reports) {
        const metrics = byRun.get(report.runId) ?? [];
        expect(metrics.map((m) => m.metric_name).sort(), report.runId).toEqual(
          Array.from({ length: 10 }, (_, k) => `m${k}`).sort(),
        );
        for (const m of metrics) {
          const what = `${report.runId} ${m.metric_name} (flushed through ${report.flushedThrough}, last results ${report.results.slice(-5).join(' ')})`;
          // Exactly once: no step twice; every flushed step present (steps are 0, 1, 2, … with none skipped).
          expect(m.n, what).toBe(m.distinct_steps);
          expect(m.first, what).toBe(0);
          expect(m.last, what).toBeGreaterThanOrEqual(report.flushedThrough);
          expect(m.n, what).toBe(m.last + 1);
          expect(m.values_ok, what).toBe(true);
          points += m.n;
        }
      }
      const validate = spawnSync(process.execPath, [RUNLAKE_BIN, 'validate', lake], { encoding: 'utf8' });
      expect(validate.status, validate.stdout + validate.stderr).toBe(0);
      console.log(
        `chaos: ${CLIENTS} clients, ${SECONDS} s, ${killed.size} server kills (up ${Math.min(...uptimes)}–${Math.max(...uptimes)} ms when killed; restarted after ${Math.min(...restarts)}–${Math.max(...restarts)} ms), ${points} points, results ${JSON.stringify(
          reports
            .flatMap((r) => r.results)
            .reduce<Record<string, number>>((acc, r) => {
              acc[r] = (acc[r] ?? 0) + 1;
              return acc;
            }, {}),
        )}`,
      );
    },
    (SECONDS + 240) * 1000,
  );
});

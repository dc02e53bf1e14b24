import { describe, expect, it } from 'vitest';
import { openLake } from '../src/index.js';
import { serveLake } from './helpers/browser.js';
import { tempDir } from './helpers/lake-fixtures.js';
import { pythonWith, runTrackingClient } from './helpers/python.js';

// The client's core needs only the standard library: no module beyond it is probed.
const python = pythonWith([]);

function client(lake: string, runId: string, rank: number, steps: number, runtimeDir: string) {
  return runTrackingClient(
    python.python,
    'tracking_client.py',
    [lake, runId, String(rank), String(steps)],
    runtimeDir,
  );
}

describe.skipIf(python.skip)('the Python client against the real sidecar', () => {
  it('two processes log to one run through one sidecar they start; every point lands once', async () => {
    const lake = tempDir();
    const runtime = tempDir();
    const steps = 500;
    const outputs = await Promise.all([
      client(lake, 'ddp-run', 0, steps, runtime),
      client(lake, 'ddp-run', 1, steps, runtime),
    ]);
    for (const out of outputs) expect(out.trim()).toBe('acknowledged');
    const reader = await openLake(lake);
    expect(
      await reader.query(
        'SELECT metric_name, count(*)::INTEGER AS n, count(DISTINCT step)::INTEGER AS steps, sum(CASE WHEN isnan(value) THEN 1 ELSE 0 END)::INTEGER AS nans FROM metrics_scalar GROUP BY ALL ORDER BY 1',
      ),
    ).toEqual([
      { metric_name: 'flag', n: 2 * steps, steps, nans: 0 },
      { metric_name: 'grad.norm0', n: steps, steps, nans: 0 },
      { metric_name: 'grad.norm1', n: steps, steps, nans: 0 },
      { metric_name: 'rank0/loss', n: steps, steps, nans: 1 },
      { metric_name: 'rank1/loss', n: steps, steps, nans: 1 },
    ]);
    // finish() returns once its records are folded: both processes have ended, so the run is finished.
    const runs = await reader.query('SELECT * FROM runs');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      run_id: 'ddp-run',
      project: 'tracking-test',
      run_name: 'two ranks',
      run_group: 'ddp',
      tags: ['ci'],
      status: 'finished',
      seed: 7,
      'config.lr': 0.001,
      'config.model.d': 64,
      'summary.best': 0.25,
    });
    expect(await reader.query('SELECT step, tokens_seen, has_weights FROM checkpoints')).toEqual([
      { step: steps - 1, tokens_seen: steps * 1024, has_weights: true },
    ]);
    reader.close();
  }, 120_000);

  it('remote mode: a client on the write token logs over TCP; the read token is refused for writes', async () => {
    const lake = tempDir();
    const runtime = tempDir();
    const served = await serveLake(lake, '--ingest', '--write-token', 'w-remote', '--token', 'r-remote');
    try {
      const ok = await runTrackingClient(
        python.python,
        'tracking_remote_client.py',
        [served.url, 'w-remote', 'remote-1', '200'],
        runtime,
      );
      expect(ok.trim()).toBe('acknowledged');
      const refused = await runTrackingClient(
        python.python,
        'tracking_remote_client.py',
        [served.url, 'r-remote', 'remote-2', '5'],
        runtime,
      );
      expect(refused).toMatch(/401|token/);
      const answer = await fetch(
        new URL(
          `api/query?sql=${encodeURIComponent('SELECT run_id, count(*)::INTEGER AS n FROM metrics_scalar GROUP BY ALL')}`,
          served.url,
        ),
        {
          headers: { Authorization: 'Bearer r-remote' },
        },
      );
      expect(((await answer.json()) as { rows: unknown[] }).rows).toEqual([{ run_id: 'remote-1', n: 200 }]);
    } finally {
      await served.stop();
    }
  }, 120_000);
});

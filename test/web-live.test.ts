import { describe, expect, it } from 'vitest';
import { encodeFrame, type TrackingRecord } from '../src/index.js';
import { browser, useServedDashboard } from './helpers/browser.js';

const WRITE_TOKEN = 'live-write-token';
const CLIENT = 'live0000live0000';

function loss(runId: string, steps: number[], name = 'train/loss'): TrackingRecord {
  return {
    kind: 'metrics',
    runId,
    names: [name],
    name: new Uint32Array(steps.length),
    step: BigInt64Array.from(steps.map(BigInt)),
    value: Float64Array.from(steps.map((s) => 3 / (1 + s))),
    time: Float64Array.from(steps.map(() => Date.now() / 1000)),
    split: null,
  };
}

describe.skipIf(browser.skip)(
  'live dashboard: runs and points appear while a run logs, without a reload',
  () => {
    // An empty lake (the directory itself, nothing written yet) that accepts ingest.
    const dash = useServedDashboard({
      prefix: 'runlake-live-',
      lake: async (dir) => dir,
      serveArgs: ['--ingest', '--write-token', WRITE_TOKEN, '--fold-interval', '500'],
      timeout: 120_000,
    });
    let seq = 0;

    const send = async (records: TrackingRecord[]) => {
      seq += 1;
      const response = await fetch(new URL('api/ingest/v1/batches', dash.url), {
        method: 'POST',
        headers: { Authorization: `Bearer ${WRITE_TOKEN}`, 'Content-Type': 'application/x-runlake-batch' },
        body: encodeFrame({ client: CLIENT, seq, records }),
      });
      expect(await response.json()).toEqual({ client: CLIENT, seq, stored: true });
    };

    it('an empty lake fills in, new points extend the curve, a new run joins the table', async () => {
      await dash.page.goto(dash.url);
      await dash.page.waitForSelector('body[data-state="ready"]');
      expect(await dash.page.locator('[data-testid="runs-table"]').count()).toBe(0);

      await send([
        { kind: 'run', runId: 'live-1', fields: { name: 'first', project: 'live', config: { lr: 0.01 } } },
        loss('live-1', [0, 1, 2, 3]),
      ]);
      await dash.page.waitForSelector('[data-testid="runs-table"] >> text=first', { timeout: 20_000 });
      await dash.page.waitForSelector('[data-testid="metric-chart"][data-last-x="3"] canvas', {
        timeout: 20_000,
      });

      await send([loss('live-1', [4, 5, 6, 7, 8])]);
      await dash.page.waitForSelector('[data-testid="metric-chart"][data-last-x="8"] canvas', {
        timeout: 20_000,
      });

      await send([
        { kind: 'run', runId: 'live-2', fields: { name: 'second', project: 'live' } },
        loss('live-2', [0, 1]),
      ]);
      await dash.page.waitForSelector('[data-testid="runs-table"] >> text=second', { timeout: 20_000 });
      // The first run stays selected and drawn through the refreshes.
      await dash.page.waitForSelector(
        '[data-testid="metric-chart"][data-drawn-runs="1"][data-last-x="8"] canvas',
      );
      expect(Number(await dash.page.getAttribute('body', 'data-live-refreshes'))).toBeGreaterThanOrEqual(3);

      // A metric the run starts logging later gets its own workspace panel, and every panel
      // follows the new points.
      const panelChart = (metric: string) =>
        `[data-testid="ws-panel"][data-metric="${metric}"] [data-testid="metric-chart"]`;
      await send([loss('live-1', [0, 4, 8], 'train/acc')]);
      await dash.page.waitForSelector(`${panelChart('train/acc')}[data-last-x="8"] canvas`, {
        timeout: 20_000,
      });
      await send([loss('live-1', [9, 10]), loss('live-1', [9, 10], 'train/acc')]);
      await dash.page.waitForSelector(`${panelChart('train/loss')}[data-last-x="10"] canvas`, {
        timeout: 20_000,
      });
      await dash.page.waitForSelector(`${panelChart('train/acc')}[data-last-x="10"] canvas`, {
        timeout: 20_000,
      });
      expect(dash.pageErrors).toEqual([]);
    }, 120_000);
  },
);

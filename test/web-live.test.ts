import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, type TrackingRecord } from '../src/index.js';
import {
  browser,
  launchChromium,
  type ServeProcess,
  serveLake,
  type TestBrowser,
} from './helpers/browser.js';
import { tempDir } from './helpers/lake-fixtures.js';

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
    const dir = tempDir('runlake-live-');
    let served: ServeProcess;
    let chromium: TestBrowser;
    let page: Page;
    let seq = 0;

    const send = async (records: TrackingRecord[]) => {
      seq += 1;
      const response = await fetch(new URL('api/ingest/v1/batches', served.url), {
        method: 'POST',
        headers: { Authorization: `Bearer ${WRITE_TOKEN}`, 'Content-Type': 'application/x-runlake-batch' },
        body: encodeFrame({ client: CLIENT, seq, records }),
      });
      expect(await response.json()).toEqual({ client: CLIENT, seq, stored: true });
    };

    beforeAll(async () => {
      served = await serveLake(dir, '--ingest', '--write-token', WRITE_TOKEN, '--fold-interval', '500');
      chromium = await launchChromium();
      page = await chromium.context.newPage();
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await served?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('an empty lake fills in, new points extend the curve, a new run joins the table', async () => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(served.url);
      await page.waitForSelector('body[data-state="ready"]');
      expect(await page.locator('[data-testid="runs-table"]').count()).toBe(0);

      await send([
        { kind: 'run', runId: 'live-1', fields: { name: 'first', project: 'live', config: { lr: 0.01 } } },
        loss('live-1', [0, 1, 2, 3]),
      ]);
      await page.waitForSelector('[data-testid="runs-table"] >> text=first', { timeout: 20_000 });
      await page.waitForSelector('[data-testid="metric-chart"][data-last-x="3"] canvas', { timeout: 20_000 });

      await send([loss('live-1', [4, 5, 6, 7, 8])]);
      await page.waitForSelector('[data-testid="metric-chart"][data-last-x="8"] canvas', { timeout: 20_000 });

      await send([
        { kind: 'run', runId: 'live-2', fields: { name: 'second', project: 'live' } },
        loss('live-2', [0, 1]),
      ]);
      await page.waitForSelector('[data-testid="runs-table"] >> text=second', { timeout: 20_000 });
      // The first run stays selected and drawn through the refreshes.
      await page.waitForSelector('[data-testid="metric-chart"][data-drawn-runs="1"][data-last-x="8"] canvas');
      expect(Number(await page.getAttribute('body', 'data-live-refreshes'))).toBeGreaterThanOrEqual(3);

      // A metric the run starts logging later gets its own workspace panel, and every panel
      // follows the new points.
      const panelChart = (metric: string) =>
        `[data-testid="ws-panel"][data-metric="${metric}"] [data-testid="metric-chart"]`;
      await send([loss('live-1', [0, 4, 8], 'train/acc')]);
      await page.waitForSelector(`${panelChart('train/acc')}[data-last-x="8"] canvas`, { timeout: 20_000 });
      await send([loss('live-1', [9, 10]), loss('live-1', [9, 10], 'train/acc')]);
      await page.waitForSelector(`${panelChart('train/loss')}[data-last-x="10"] canvas`, { timeout: 20_000 });
      await page.waitForSelector(`${panelChart('train/acc')}[data-last-x="10"] canvas`, { timeout: 20_000 });
      expect(errors).toEqual([]);
    }, 120_000);
  },
);

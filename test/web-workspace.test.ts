import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browser,
  launchChromium,
  type ServeProcess,
  serveLake,
  type TestBrowser,
  writeDemoLake,
} from './helpers/browser.js';
import { tempDir } from './helpers/lake-fixtures.js';

// The dashboard's workspace (issue 21, expectations 1, 6, 9, 10 and bug 7) against `runlake serve`
// on the demo lake: 12 runs, metrics loss / lr / grad_norm.

describe.skipIf(browser.skip)('dashboard workspace, URL state, dark mode, shortcuts, keyboard tabs', () => {
  const dir = tempDir('runlake-workspace-');
  let lakeDir = '';
  let served: ServeProcess;
  let chromium: TestBrowser;
  let page: Page;

  const openDashboard = async (hash = '') => {
    await page.goto(`${served.url}${hash}`);
    await page.waitForSelector('body[data-state="ready"]');
  };
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');

  beforeAll(async () => {
    lakeDir = await writeDemoLake(dir);
    served = await serveLake(lakeDir);
    chromium = await launchChromium();
    page = await chromium.context.newPage();
  }, 180_000);

  afterAll(async () => {
    await chromium?.close();
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bug 7: the view tabs are a tablist reached with Tab, moved with the arrows, opened with Enter/Space', async () => {
    await openDashboard();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('tab-runs');
    expect(await page.locator('[role="tablist"] [role="tab"]').count()).toBeGreaterThanOrEqual(3);
    await expect(page.locator('[data-testid="tab-runs"]').getAttribute('aria-selected')).resolves.toBe(
      'true',
    );
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-geometry');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="view-geometry"]:not([hidden])');
    expect(await page.locator('[data-testid="view-runs"]').isHidden()).toBe(true);
    await expect(page.locator('[data-testid="tab-geometry"]').getAttribute('aria-selected')).resolves.toBe(
      'true',
    );
    expect(new URL(page.url()).hash).toMatch(/^#geometry/);
    await page.keyboard.press('ArrowRight');
    expect(await focused()).toBe('tab-matches');
    await page.keyboard.press(' ');
    await page.waitForSelector('[data-testid="view-matches"]:not([hidden])');
    // Home goes to the first tab; ArrowLeft from the first wraps to the last.
    await page.keyboard.press('Home');
    expect(await focused()).toBe('tab-runs');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="view-runs"]:not([hidden])');
    // The focused tab has a visible focus ring.
    const outline = await page
      .locator('[data-testid="tab-runs"]')
      .evaluate((el) => getComputedStyle(el).outlineStyle);
    expect(outline).not.toBe('none');
  });
});

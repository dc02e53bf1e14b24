import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from '../../bench/chromium.mjs';
import { RUNLAKE_BIN } from './cli.js';
import { repoRoot, tempDir } from './lake-fixtures.js';

export { CHROMIUM_PATH };

/**
 * Browser tests skip only on a developer machine without Chromium; on CI (`CI` set) a missing
 * browser fails them, because `.ci/run` installs it.
 */
export const browser = {
  available: existsSync(CHROMIUM_PATH),
  skip: !existsSync(CHROMIUM_PATH) && !process.env.CI,
} as const;

/** Where browser tests leave screenshots (`test-artifacts/`, kept by CI). */
export const ARTIFACTS_DIR = path.join(repoRoot, 'test-artifacts');

/** The built web app (`npm run build` / the test global setup writes it). */
export const WEB_DIST = path.join(repoRoot, 'web', 'dist');

/** A headless Chromium with a fresh profile; `close()` also removes the profile. */
export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless through playwright-core, offline, with a new empty profile.
 *
 * @example
 * ```ts
 * const { context, close } = await launchChromium();
 * const page = await context.newPage();
 * await close();
 * ```
 */
export async function launchChromium(): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'runlake-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS],
    viewport: { width: 1400, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The path a test's screenshot is saved to, under `test-artifacts/`. */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return path.join(ARTIFACTS_DIR, name);
}

/** A `runlake serve` child process and the URL it printed. */
export interface ServeProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `runlake serve <lake> --port 0 …extra` (the built CLI) and resolves with the URL it
 * prints.
 *
 * @example
 * ```ts
 * const served = await serveLake('runlake-demo-squiggle');
 * await served.stop();
 * ```
 */
export function serveLake(lakeDir: string, ...extra: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [RUNLAKE_BIN, 'serve', lakeDir, '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /at (http:\/\/\S+)/.exec(out)?.[1];
      if (url) resolve({ url, child, stop });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`runlake serve exited with ${code}: ${err || out}`)));
  });
}

/**
 * Writes the demo lakes (`runlake demo --out <dir>/sweep`) once per test file and returns the
 * Squiggle lake's path.
 */
export function writeDemoLake(dir: string): Promise<string> {
  const sweep = path.join(dir, 'sweep');
  const squiggle = path.join(dir, 'sweep-squiggle');
  const child = spawn(process.execPath, [RUNLAKE_BIN, 'demo', '--out', sweep, '--events', '200'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0 ? resolve(squiggle) : reject(new Error(`runlake demo exited with ${code}: ${err}`)),
    );
  });
}

/** What {@link useServedDashboard} serves and how it opens the page. */
export interface ServedDashboardOptions {
  /** Prefix of the temporary directory the lake is written in (removed after the file). */
  readonly prefix: string;
  /**
   * Writes the lake into `dir` and returns the directory to serve; by default the demo lake
   * ({@link writeDemoLake}).
   */
  readonly lake?: (dir: string) => Promise<string>;
  /** More `runlake serve` arguments (`--token …`, `--ingest`, …). */
  readonly serveArgs?: readonly string[];
  /** A script every page of the browser runs before its own (`context.addInitScript`). */
  readonly initScript?: string;
  /** The `beforeAll` timeout in ms (writing the lake, starting the server and Chromium). */
  readonly timeout?: number;
}

/** The served lake, the browser and its page, readable from the tests once `beforeAll` has run. */
export interface ServedDashboard {
  /** The temporary directory the lake and any other files of the test live in. */
  readonly dir: string;
  /** The lake `runlake serve` serves. */
  readonly lakeDir: string;
  /** The dashboard's URL (`http://127.0.0.1:<port>/`). */
  readonly url: string;
  /** The browser context, for more pages or permissions. */
  readonly context: BrowserContext;
  /** The page the tests drive (1400×900, not navigated yet). */
  readonly page: Page;
  /** The page's console errors and uncaught errors, as `console: …` and `page error: …`. */
  readonly consoleErrors: readonly string[];
  /** The page's uncaught errors only (their messages). */
  readonly pageErrors: readonly string[];
}

/**
 * Registers, in the enclosing `describe`, a `beforeAll` that writes a lake into a temporary
 * directory, serves it with `runlake serve` and opens a page in a fresh Chromium, collecting the
 * page's console and uncaught errors; and an `afterAll` that closes the browser, stops the server
 * and removes the directory. The returned getters throw until `beforeAll` has run.
 *
 * @example
 * ```ts
 * describe.skipIf(browser.skip)('the runs view', () => {
 *   const dash = useServedDashboard({ prefix: 'runlake-runs-view-' });
 *   it('loads', async () => {
 *     await dash.page.goto(dash.url);
 *     expect(dash.consoleErrors).toEqual([]);
 *   });
 * });
 * ```
 */
export function useServedDashboard(options: ServedDashboardOptions): ServedDashboard {
  const dir = tempDir(options.prefix);
  let lakeDir: string | undefined;
  let served: ServeProcess | undefined;
  let chromium: TestBrowser | undefined;
  let page: Page | undefined;
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    lakeDir = await (options.lake ?? writeDemoLake)(dir);
    served = await serveLake(lakeDir, ...(options.serveArgs ?? []));
    chromium = await launchChromium();
    if (options.initScript !== undefined) await chromium.context.addInitScript(options.initScript);
    page = await chromium.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => {
      consoleErrors.push(`page error: ${error.message}`);
      pageErrors.push(error.message);
    });
  }, options.timeout ?? 180_000);

  afterAll(async () => {
    await chromium?.close();
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`useServedDashboard: the ${what} exists only once beforeAll ran`);
    return value;
  };
  return {
    dir,
    get lakeDir() {
      return ready(lakeDir, 'lake');
    },
    get url() {
      return ready(served, 'server').url;
    },
    get context() {
      return ready(chromium, 'browser').context;
    },
    get page() {
      return ready(page, 'page');
    },
    consoleErrors,
    pageErrors,
  };
}

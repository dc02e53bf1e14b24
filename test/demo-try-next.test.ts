/**
 * The demo's "Try next" lines run as printed: each one (but `serve`, which runs until
 * interrupted) is parsed from the demo's output and run by a shell in the directory the demo ran
 * in, and everything they write stays inside the demo's own directories.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runlakeInvocation, shellWord } from '../src/cli/invocation.js';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { repoRoot, tempDir } from './helpers/lake-fixtures.js';
import { resolvePython } from './helpers/python.js';

/** The PATH a user with the test suite's Python (and its pyarrow) would have. */
function userPath(): string {
  const python = resolvePython();
  const base = process.env.PATH ?? '';
  return python.includes(path.sep) ? `${path.dirname(python)}${path.delimiter}${base}` : base;
}

function sh(line: string, cwd: string) {
  return spawnSync('sh', ['-c', line], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PATH: userPath() },
  });
}

/** Runs `runlake demo` (small) in `cwd` with its default output directories; returns stdout. */
function runDemo(cwd: string): string {
  const demo = spawnSync(process.execPath, [RUNLAKE_BIN, 'demo', '--seeds', '1', '--events', '100'], {
    cwd,
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(demo.status, demo.stderr).toBe(0);
  return demo.stdout;
}

describe('runlake demo: Try next', () => {
  let cwd: string;
  let lines: string[];
  beforeAll(() => {
    cwd = tempDir('runlake-try-next-');
    const tail = runDemo(cwd).split('\nTry next:\n')[1] ?? '';
    lines = tail
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
  }, 300_000);

  it('prints commands this machine can run, not a bare `runlake` that is not on the PATH', () => {
    expect(lines.length).toBeGreaterThanOrEqual(12);
    const cli = `node ${shellWord(RUNLAKE_BIN)}`;
    for (const line of lines.filter((l) => !l.startsWith('python3 ')))
      expect(line.startsWith(`${cli} `), line).toBe(true);
  });

  it('runs every line as printed, writing only into the demo directories', () => {
    const python = sh('python3 -c "import pyarrow"', cwd).status === 0;
    let ran = 0;
    for (const line of lines) {
      if (/ serve /.test(line)) continue; // runs until interrupted; test/server.test.ts serves the demo
      if (line.startsWith('python3 ') && !python) continue; // the line says it needs pyarrow
      const result = sh(line, cwd);
      expect(result.status, `${line}\n${result.stdout}\n${result.stderr}`).toBe(0);
      ran++;
    }
    expect(ran).toBeGreaterThanOrEqual(11);
    expect(readdirSync(cwd).sort()).toEqual(['runlake-demo', 'runlake-demo-squiggle']);
    // The import hint loaded the sample file the demo wrote.
    const count = sh(
      `${lines[0]?.split(' info ')[0]} query runlake-demo-squiggle --sql "SELECT count(*) AS n FROM metrics_scalar WHERE run_id = 'my-run'" --format csv`,
      cwd,
    );
    expect(count.stdout.trim()).toBe('n\n5');
  }, 600_000);

  it("runs the README's quick-start lines as printed from a clone's root", () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('Requirements:'));
    const commands = quickStart.split('\n').filter((line) => line.startsWith('node dist/cli/main.js '));
    expect(commands.length).toBeGreaterThanOrEqual(8);
    // A fresh directory stands in for the clone: the demo lakes, and dist/ as `npm ci` builds it.
    const clone = tempDir('runlake-readme-');
    runDemo(clone);
    mkdirSync(path.join(clone, 'dist', 'cli'), { recursive: true });
    symlinkSync(RUNLAKE_BIN, path.join(clone, 'dist', 'cli', 'main.js'));
    for (const line of commands) {
      if (/ serve /.test(line)) continue;
      const result = sh(line, clone);
      expect(result.status, `${line}\n${result.stdout}\n${result.stderr}`).toBe(0);
    }
    expect(readdirSync(clone).sort()).toEqual(['dist', 'runlake-demo', 'runlake-demo-squiggle']);
  }, 600_000);
});

describe('runlakeInvocation', () => {
  it('says npx runlake under a project that links this CLI, runlake on the PATH, node <path> otherwise', () => {
    const project = tempDir('runlake-invocation-');
    const bin = path.join(project, 'node_modules', '.bin');
    mkdirSync(bin, { recursive: true });
    const inner = path.join(project, 'src');
    mkdirSync(inner);
    expect(runlakeInvocation(inner, RUNLAKE_BIN, '')).toBe(`node ${RUNLAKE_BIN}`);
    symlinkSync(RUNLAKE_BIN, path.join(bin, 'runlake'));
    expect(runlakeInvocation(inner, RUNLAKE_BIN, '')).toBe('npx runlake');
    const global = tempDir('runlake-global-bin-');
    symlinkSync(RUNLAKE_BIN, path.join(global, 'runlake'));
    const elsewhere = tempDir('runlake-elsewhere-');
    expect(runlakeInvocation(elsewhere, RUNLAKE_BIN, global)).toBe('runlake');
    // A node_modules/.bin on the PATH is npm's, for scripts; the user's shell does not have it.
    expect(runlakeInvocation(elsewhere, RUNLAKE_BIN, bin)).toBe(`node ${RUNLAKE_BIN}`);
    expect(runlakeInvocation(path.dirname(path.dirname(path.dirname(RUNLAKE_BIN))), RUNLAKE_BIN, '')).toBe(
      `node ${path.join('dist', 'cli', 'main.js')}`,
    );
  });
});

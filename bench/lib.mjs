// Small helpers shared by the bench scripts: argument parsing, timing, statistics, file sizes and
// the results table.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = [
  'write-events',
  'query-events',
  'single-grid-pruning',
  'convert-csv',
  'shards',
  'squiggle-write',
  'geometry-descriptors',
  'signature-search',
  'analyze-pipeline',
  'convert-file',
  'web-first-curve',
  'web-dashboard',
  'tracking-pyramid',
  'serve-load',
  'commit-bind',
  'commit-compact',
  'commit-write',
  'commit-tiny',
  'commits',
  'tracking',
];

const USAGE = `usage: node bench/run.mjs [--rows N] [--only <scenario>] [--repeat K] [--keep]

  --rows N        event rows to generate (default 10_000_000; underscores and 1e6 notation accepted);
                  convert-csv uses min(N, 4_000_000) rows, spread over its 40 CSVs;
                  squiggle-write min(N, 5_000_000) metrics_scalar rows; analyze-pipeline is sized
                  by ANALYZE_SAMPLES, ANALYZE_DIM (256) and ANALYZE_CHECKPOINTS (11) instead;
                  convert-file writes min(N, 3_800_000) rows of JSON (CONVERT_FILE_ROWS overrides), and
                  web-first-curve the same mask_impact rows (WEB_FIRST_CURVE_ROWS overrides);
                  web-dashboard draws 200 runs x 10k steps (WEB_DASHBOARD_RUNS, _STEPS override);
                  tracking-pyramid sends 200 runs x 10k steps as tracking batches (TRACKING_PYRAMID_RUNS, _STEPS);
                  serve-load runs 50 clients x 10 s (SERVE_LOAD_CLIENTS, _SECONDS, _RUNS, _BASELINE);
                  commit-write writes N event rows, commit-tiny 1,000 10-row writes
                  (COMMIT_TINY_WRITES); commit-bind and commit-compact use 2M metrics_scalar rows
                  (COMMIT_BIND_FILES, COMMIT_COMPACT_FILES); commits runs every commit-* scenario
  --only S        run one scenario: ${SCENARIOS.join(', ')}
  --repeat K      runs per measurement (default: 3 for query scenarios; for write scenarios 1 at
                  >= 5M rows, else 3; for convert-csv 1 at >= 1M rows, else 3; commit-write 5,
                  commit-compact 3, commit-tiny 2, commit-bind 5, and 3 at 100,000 files)
  --keep          keep the peers' output (raw DuckDB, pandas, JSONL, CSV; convert-csv's lakes and
                  Python output) under bench/out/
`;

/** Parses the command line; exits with the usage text on a bad flag. */
export function parseArgs(argv) {
  const options = { rows: 10_000_000, only: undefined, repeat: undefined, keep: false };
  const fail = (message) => {
    process.stderr.write(`${message}\n\n${USAGE}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--rows':
        options.rows = positiveInteger(flag, value(), fail);
        break;
      case '--repeat':
        options.repeat = positiveInteger(flag, value(), fail);
        break;
      case '--only': {
        const name = value();
        if (!SCENARIOS.includes(name)) fail(`unknown scenario "${name}"`);
        options.only = name;
        break;
      }
      case '--keep':
        options.keep = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        fail(`unknown argument "${arg}"`);
    }
  }
  return options;
}

function positiveInteger(flag, text, fail) {
  const n = Number(String(text).replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n <= 0) fail(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

/** Seconds since `start` (a `process.hrtime.bigint()` value). */
export function secondsSince(start) {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Runs `fn` and returns `{ seconds, value }`. */
export async function timed(fn) {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: secondsSince(start), value };
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Total bytes of the files under `target` (a file or a directory), 0 when absent. */
export function diskBytes(target) {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.size;
  let total = 0;
  for (const entry of readdirSync(target, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}

/** Relative paths of the files under `directory` whose name ends with `suffix`. */
export function listFiles(directory, suffix) {
  try {
    return readdirSync(directory, { recursive: true })
      .filter((f) => f.endsWith(suffix))
      .sort();
  } catch {
    return [];
  }
}

export const fmt = {
  seconds: (s) =>
    s === undefined || s === null ? '' : s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`,
  rate: (r) => (r === undefined || r === null ? '' : `${(r / 1e6).toFixed(2)} M/s`),
  ratio: (x) => (x === undefined || x === null ? '' : x.toFixed(2)),
  mib: (b) => (b === undefined || b === null ? '' : `${(b / 2 ** 20).toFixed(0)} MiB`),
  int: (n) => n.toLocaleString('en-US'),
};

/** Prints rows of cells as an aligned text table (first row is the header). */
export function printTable(title, header, rows) {
  const table = [header, ...rows].map((row) => row.map((cell) => String(cell ?? '')));
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c]?.length ?? 0)));
  const line = (row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  console.log(`\n${title}`);
  console.log(line(table[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.slice(1)) console.log(line(row));
}

/** Logs a progress line to stderr (stdout carries the tables). */
export function progress(message) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * `dist/` of an earlier commit, built once into `<outDir>/<prefix>-<commit>/` from `git archive`
 * (the repository's `node_modules` linked in), so a scenario can run it side by side with this
 * tree.
 */
export async function baselineDist(outDir, commit, prefix = 'baseline') {
  const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  const dir = path.join(outDir, `${prefix}-${commit}`);
  const dist = path.join(dir, 'dist');
  if (existsSync(path.join(dist, 'index.js'))) return dist;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  // The source through a file: it is larger than spawnSync's buffer.
  const archive = path.join(dir, 'source.tar');
  const files = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
  execFileSync('git', ['-C', repo, 'archive', '-o', archive, commit, ...files]);
  execFileSync('tar', ['-x', '-f', archive, '-C', dir]);
  await symlink(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: dir },
  );
  return dist;
}

// The commit protocol (issue 14): what binding a view to a snapshot's file list costs as the file
// count grows, what compaction costs, and what committing adds to writes.
//
//   node bench/run.mjs --only commit-bind      # 1. open + query vs file count (10 … 100,000 files)
//   node bench/run.mjs --only commit-compact   # 2. compactDataset vs a raw DuckDB COPY
//   node bench/run.mjs --only commit-write     # 3. write-events, this tree vs 1064eca
//   node bench/run.mjs --only commit-tiny      # 4. 1,000 tiny lake.write calls, this tree vs 1064eca
//   node bench/run.mjs --only commits          # all four
//
//   COMMIT_BIND_FILES=10,1000,10000,100000  COMMIT_COMPACT_FILES=2000  COMMIT_TINY_WRITES=1000
//   COMMITS_BASELINE=1064eca (the commit before the protocol; built from git into bench/out/)
//
// commit-bind: a squiggle `metrics_scalar` dataset of 2,000,000 rows (1,000 runs × 500 steps × 4
// metrics; the 10-file point has 10 runs × 50,000 steps, since a run is a partition directory and
// so at least one file) written as N files straight with DuckDB's partitioned COPY into runlake's
// layout, then recorded with one `adoptDataset` commit. Every measurement runs in a fresh Node
// process (a fresh DuckDB, no runlake caches; the OS page cache is warm): open, a filtered
// aggregate (one run, one metric), then an unfiltered one, through
//   snapshot   openLake of this tree: the view reads the snapshot's file list;
//   glob       openLake of the baseline build: the view reads `<dataset>/**/*.parquet` with
//              union_by_name (today's view before this change);
//   raw list   a bare DuckDB read_parquet([the same files], hive_partitioning) (the list is built
//              before the clock starts): DuckDB's own floor for that many files;
//   compacted  openLake of this tree after compactDataset merged each run into one file (the log
//              then holds the adopt commit and the compaction);
//   compacted, fresh log   the compacted files adopted into a new log (one 1,000-file commit).
// The filtered and unfiltered queries run in the same process, one after the other. A second
// table times openLake's steps one by one (read the log, build the view's SQL, DuckDB's schema
// probe and CREATE VIEW, binding and running the filtered query).
// The generated lakes and their compacted copies are kept under bench/out/commits/ and reused by
// later runs (a reused compaction's time is reported as cached); delete that folder to rebuild.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { baselineDist, diskBytes, fmt, median, progress, secondsSince } from './lib.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const CURRENT_DIST = path.join(REPO_DIR, 'dist');
const DUCKDB_CONFIG = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' };
const METRICS = ['grad_norm', 'loss', 'lr', 'val_loss'];
const TOTAL_ROWS = 2_000_000;
const BIG_TARGET = 1024 * 1024 * 1024;
// Bumped when the generated data changes, so cached lakes are rebuilt.
const DATA_VERSION = 1;
const execFileAsync = promisify(execFile);

const distIndex = (dist) => pathToFileURL(path.join(dist, 'index.js')).href;
const sqlText = (text) => `'${text.replaceAll("'", "''")}'`;
const loadText = (r) =>
  `  load average (1/5/15 min) before ${r.loadBefore.map((x) => x.toFixed(1)).join('/')}, after ${r.loadAfter.map((x) => x.toFixed(1)).join('/')} on ${os.availableParallelism()} cores`;
const plain = (value) => (typeof value === 'bigint' ? Number(value) : value);

// ---------------------------------------------------------------------------------------------
// baseline build

// ---------------------------------------------------------------------------------------------
// generated lakes

/**
 * `.runlake/lake.json` and the `metrics_scalar` manifest exactly as runlake writes them, taken
 * from a one-row lake written through `lake.write` (a lake without a manifest would make
 * `openLake` discover the schema with a glob over every file, which no runlake-written lake does).
 */
async function templateMetadata(workDir) {
  const dir = path.join(workDir, 'template');
  await rm(dir, { recursive: true, force: true });
  const { openLake } = await import(distIndex(CURRENT_DIST));
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    await lake.write('metrics_scalar', [{ run_id: 'r0000', step: 0, metric_name: 'loss', value: 1 }]);
  } finally {
    lake.close();
  }
  return {
    lakeJson: path.join(dir, '.runlake', 'lake.json'),
    manifest: path.join(dir, '.runlake', 'datasets', 'metrics_scalar.json'),
  };
}

async function newDuckDB(threads) {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    ...DUCKDB_CONFIG,
    ...(threads ? { threads: String(threads) } : {}),
  });
  const connection = await instance.connect();
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Writes `runs` × `steps` × 4 metrics rows of metrics_scalar as `filesPerRun` files per run,
 * straight into runlake's layout (`metrics_scalar/run_id=<id>/part-<uuid>.parquet`, columns
 * step, metric_name, value, split, wall_time as runlake writes them, each file sorted by
 * (metric_name, step)), adds the lake's metadata and adopts the files in one commit.
 * One DuckDB thread, so each (run, chunk) is exactly one file.
 */
async function generateLake(dir, { runs, steps, filesPerRun }, template) {
  await rm(dir, { recursive: true, force: true });
  const scratch = `${dir}.partitions`;
  await rm(scratch, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const db = await newDuckDB(1);
  try {
    const metrics = METRICS.map((m) => `(${sqlText(m)})`).join(', ');
    await db.connection.run(
      `COPY (
        SELECT 'r' || lpad(r::VARCHAR, 4, '0') AS run_id, (s * ${filesPerRun}) // ${steps} AS chunk,
          s::BIGINT AS step, m AS metric_name,
          exp(-s / ${steps / 4}) + ((r * 7 + s) % 97) / 1000.0 + (hash(m) % 13) / 100.0 AS value,
          CASE WHEN m = 'val_loss' THEN 'val' ELSE 'train' END AS split,
          TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(s * 10) AS wall_time
        FROM range(${runs}) t(r), range(${steps}) u(s), (VALUES ${metrics}) v(m)
        ORDER BY run_id, chunk, metric_name, step
      ) TO ${sqlText(scratch)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (run_id, chunk),
        FILENAME_PATTERN 'part-{uuid}')`,
    );
  } finally {
    db.close();
  }
  const dataset = path.join(dir, 'metrics_scalar');
  let files = 0;
  for (const run of await readdir(scratch)) {
    await mkdir(path.join(dataset, run), { recursive: true });
    for (const chunk of await readdir(path.join(scratch, run))) {
      for (const name of await readdir(path.join(scratch, run, chunk))) {
        await rename(path.join(scratch, run, chunk, name), path.join(dataset, run, name));
        files++;
      }
    }
  }
  await rm(scratch, { recursive: true, force: true });
  await mkdir(path.join(dir, '.runlake', 'datasets'), { recursive: true });
  await copyFile(template.lakeJson, path.join(dir, '.runlake', 'lake.json'));
  await copyFile(template.manifest, path.join(dir, '.runlake', 'datasets', 'metrics_scalar.json'));
  const generateSeconds = secondsSince(started);
  const adoptSeconds = await adopt(dir);
  return { files, generateSeconds, adoptSeconds, bytes: diskBytes(dataset) };
}

/** One `adoptDataset` commit of every file of the lake's metrics_scalar; returns its seconds. */
async function adopt(dir) {
  const { adoptDataset, lakePaths, withStagingConnection } = await import(distIndex(CURRENT_DIST));
  const started = process.hrtime.bigint();
  await withStagingConnection((connection) => adoptDataset(lakePaths(dir), connection, 'metrics_scalar'));
  return secondsSince(started);
}

/** A generated lake kept under `dir` across runs (rebuilt when its shape or the log format changed). */
async function cachedLake(dir, shape, template) {
  const { LOG_FORMAT } = await import(distIndex(CURRENT_DIST));
  const marker = path.join(dir, '.bench-complete');
  const wanted = { ...shape, dataVersion: DATA_VERSION, logFormat: LOG_FORMAT };
  try {
    const info = JSON.parse(await readFile(marker, 'utf8'));
    if (Object.entries(wanted).every(([k, v]) => info[k] === v)) return { ...info, cached: true };
  } catch {}
  progress(
    `  generating ${fmt.int(shape.runs * shape.filesPerRun)} files (${shape.runs} runs × ${shape.filesPerRun}) in ${path.relative(REPO_DIR, dir)}`,
  );
  const info = {
    ...wanted,
    ...(await generateLake(dir, shape, await template())),
    generatedAt: new Date().toISOString(),
  };
  await writeFile(marker, `${JSON.stringify(info)}\n`);
  progress(
    `    generated in ${fmt.seconds(info.generateSeconds)}, adopted in ${fmt.seconds(info.adoptSeconds)}`,
  );
  return { ...info, cached: false };
}

/** A hard-linked copy (compaction moves files, so it runs on a copy of the cached lake). */
async function linkCopy(from, to) {
  await rm(to, { recursive: true, force: true });
  execFileSync('cp', ['-al', from, to]);
}

/**
 * The generated lake compacted with compactDataset (on a hard-linked copy, `compacted`), and the
 * compacted files adopted into a new log (`fresh`): built once per generated lake and kept.
 */
async function cachedCompaction(pristine, pristineInfo, compacted, fresh) {
  const marker = path.join(compacted, '.bench-complete');
  try {
    const info = JSON.parse(await readFile(marker, 'utf8'));
    if (
      pristineInfo.generatedAt &&
      info.from === pristineInfo.generatedAt &&
      existsSync(path.join(fresh, '.bench-complete'))
    )
      return { ...info, cached: true };
  } catch {}
  const { compactDataset, METRICS_SCALAR } = await import(distIndex(CURRENT_DIST));
  await rm(fresh, { recursive: true, force: true });
  await linkCopy(pristine, compacted);
  await rm(path.join(compacted, '.bench-complete'), { force: true });
  progress(`  compactDataset (target ${fmt.mib(BIG_TARGET)})`);
  const start = process.hrtime.bigint();
  const result = await compactDataset(compacted, METRICS_SCALAR, { targetSize: BIG_TARGET });
  const seconds = secondsSince(start);
  progress(
    `    ${fmt.seconds(seconds)}: ${fmt.int(result.filesBefore)} files in ${result.partitions} partitions -> ${fmt.int(result.filesAfter)}`,
  );
  await mkdir(path.join(fresh, '.runlake', 'datasets'), { recursive: true });
  execFileSync('cp', ['-al', path.join(compacted, 'metrics_scalar'), path.join(fresh, 'metrics_scalar')]);
  for (const f of ['lake.json', path.join('datasets', 'metrics_scalar.json')])
    await copyFile(path.join(pristine, '.runlake', f), path.join(fresh, '.runlake', f));
  await adopt(fresh);
  await writeFile(path.join(fresh, '.bench-complete'), '');
  const info = { ...result, seconds, from: pristineInfo.generatedAt, at: new Date().toISOString() };
  await writeFile(marker, `${JSON.stringify(info)}\n`);
  return { ...info, cached: false };
}

/** Absolute paths of a lake's live metrics_scalar files, from its log. */
async function liveFiles(dir) {
  const { lakePaths, loadSnapshot, forgetLogCaches } = await import(distIndex(CURRENT_DIST));
  const snapshot = await loadSnapshot(lakePaths(dir), 'metrics_scalar');
  forgetLogCaches();
  return [...snapshot.files.keys()].map((p) => path.join(path.resolve(dir), 'metrics_scalar', p));
}

// ---------------------------------------------------------------------------------------------
// probes (each in a fresh process)

const FILTERED = (run) =>
  `SELECT count(*) AS n, avg(value) AS mean FROM metrics_scalar WHERE run_id = '${run}' AND metric_name = 'loss'`;
const UNFILTERED = 'SELECT count(*) AS n, avg(value) AS mean FROM metrics_scalar';

/** Runs in the child: open, the filtered aggregate, the unfiltered one; prints JSON timings. */
async function probe(spec) {
  const filteredSql = FILTERED(spec.run);
  if (spec.kind === 'raw') {
    const files = JSON.parse(await readFile(spec.listFile, 'utf8'));
    const source = `read_parquet([${files.map(sqlText).join(', ')}], hive_partitioning = true, hive_types = {'run_id': 'VARCHAR'})`;
    const filtered = filteredSql.replace('FROM metrics_scalar', `FROM ${source}`);
    const unfiltered = UNFILTERED.replace('FROM metrics_scalar', `FROM ${source}`);
    await import('@duckdb/node-api'); // loaded before the clock starts, as openLake's is
    const started = process.hrtime.bigint();
    const db = await newDuckDB();
    const open = secondsSince(started);
    const run = async (sql) => {
      const start = process.hrtime.bigint();
      const reader = await db.connection.runAndReadAll(sql);
      const row = reader.getRowObjectsJS()[0];
      return { seconds: secondsSince(start), n: plain(row.n), mean: plain(row.mean) };
    };
    const a = await run(filtered);
    const b = await run(unfiltered);
    db.close();
    return { open, filtered: a, unfiltered: b, files: files.length };
  }
  if (spec.kind === 'phases') return phases(spec);
  const { openLake } = await import(distIndex(spec.dist));
  const started = process.hrtime.bigint();
  const lake = await openLake(spec.lake);
  const open = secondsSince(started);
  const run = async (sql) => {
    const start = process.hrtime.bigint();
    const [row] = await lake.query(sql);
    return { seconds: secondsSince(start), n: plain(row.n), mean: plain(row.mean) };
  };
  const a = await run(filteredSql);
  const b = await run(UNFILTERED);
  const files = lake.datasets.get('metrics_scalar')?.fileCount;
  lake.close();
  return { open, filtered: a, unfiltered: b, files };
}

/**
 * Where openLake's time goes for metrics_scalar, step by step with the library's own functions:
 * reading the log, building the view's SQL, DuckDB's schema probe and CREATE VIEW over that SQL,
 * binding the filtered query (EXPLAIN, no execution), then running it.
 */
async function phases(spec) {
  const m = await import(distIndex(spec.dist));
  const paths = m.lakePaths(spec.lake);
  const out = {};
  let start = process.hrtime.bigint();
  const lap = (name) => {
    out[name] = secondsSince(start);
    start = process.hrtime.bigint();
  };
  const snapshot = await m.loadSnapshot(paths, 'metrics_scalar');
  lap('readLog');
  const files = await m.resolveSnapshotFiles(paths, snapshot);
  const manifest = await m.readManifest(paths, 'metrics_scalar');
  const source = m.snapshotSourceSql(files, manifest);
  lap('buildSql');
  const db = await newDuckDB();
  start = process.hrtime.bigint();
  await db.connection.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`);
  lap('schemaProbe');
  await db.connection.run(`CREATE OR REPLACE VIEW metrics_scalar AS SELECT * FROM ${source}`);
  lap('createView');
  await db.connection.runAndReadAll(`EXPLAIN ${FILTERED(spec.run)}`);
  lap('bindFiltered');
  await db.connection.runAndReadAll(FILTERED(spec.run));
  lap('runFiltered');
  db.close();
  return { ...out, files: files.length, sqlChars: source.length };
}

async function runProbe(spec) {
  const { stdout } = await execFileAsync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--probe', JSON.stringify(spec)],
    { maxBuffer: 16 * 2 ** 20 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

// ---------------------------------------------------------------------------------------------
// 1. commit-bind

function bindShapes() {
  const counts = (process.env.COMMIT_BIND_FILES ?? '10,1000,10000,100000')
    .split(',')
    .map((s) => Number(s.replaceAll('_', '')));
  return counts.map((files) => {
    // A run is a partition directory: fewer files than runs means fewer runs (10 files: 10 runs).
    const runs = Math.min(1000, files);
    if (files % runs !== 0) throw new Error(`COMMIT_BIND_FILES: ${files} is not a multiple of ${runs}`);
    const steps = TOTAL_ROWS / METRICS.length / runs;
    return {
      files,
      shape: { runs, steps, filesPerRun: files / runs },
      run: runs >= 1000 ? 'r0042' : 'r0004',
    };
  });
}

export async function commitBindScenario(options) {
  const outDir = path.join(options.outDir, 'commits');
  await mkdir(outDir, { recursive: true });
  const commit = process.env.COMMITS_BASELINE ?? '1064eca';
  progress(`commit-bind: baseline build (${commit})`);
  const oldDist = await baselineDist(options.outDir, commit);
  let template;
  const getTemplate = async () => {
    template ??= await templateMetadata(outDir);
    return template;
  };
  const { forgetLogCaches } = await import(distIndex(CURRENT_DIST));
  const result = { baseline: commit, totalRows: TOTAL_ROWS, loadBefore: os.loadavg(), points: [] };
  for (const { files, shape, run } of bindShapes()) {
    const repeat = options.repeat ?? (files >= 100_000 ? 3 : 5);
    progress(`commit-bind: ${fmt.int(files)} files`);
    const pristine = path.join(outDir, `bind-${files}`);
    const info = await cachedLake(pristine, shape, getTemplate);
    const listFile = path.join(outDir, `bind-${files}.files.json`);
    await writeFile(listFile, JSON.stringify(await liveFiles(pristine)));

    // (d) the same data compacted (kept with the generated lake, like it).
    const compacted = path.join(outDir, `bind-${files}-compacted`);
    const fresh = path.join(outDir, `bind-${files}-fresh-log`);
    const compaction = await cachedCompaction(pristine, info, compacted, fresh);
    forgetLogCaches();

    const variants = {
      snapshot: { kind: 'lake', dist: CURRENT_DIST, lake: pristine, run },
      glob: { kind: 'lake', dist: oldDist, lake: pristine, run },
      raw: { kind: 'raw', listFile, run },
      compacted: { kind: 'lake', dist: CURRENT_DIST, lake: compacted, run },
      compactedFreshLog: { kind: 'lake', dist: CURRENT_DIST, lake: fresh, run },
    };
    const names = Object.keys(variants);
    const runs = Object.fromEntries(names.map((n) => [n, []]));
    for (let i = 0; i < repeat; i++) {
      // Rotate the order each round so no variant always follows the same one.
      const order = names.map((_, j) => names[(i + j) % names.length]);
      for (const name of order) {
        const r = await runProbe(variants[name]);
        runs[name].push(r);
        progress(
          `  [${i + 1}/${repeat}] ${name}: open ${fmt.seconds(r.open)}, filtered ${fmt.seconds(r.filtered.seconds)}, unfiltered ${fmt.seconds(r.unfiltered.seconds)} (${fmt.int(r.files ?? 0)} files)`,
        );
      }
    }
    const breakdown = {};
    for (const name of ['snapshot', 'compacted']) {
      breakdown[name] = await runProbe({ ...variants[name], kind: 'phases' });
    }
    const summary = (list) => {
      const openFiltered = list.map((r) => r.open + r.filtered.seconds);
      const openUnfiltered = list.map((r) => r.open + r.unfiltered.seconds);
      return {
        files: list[0].files,
        open: median(list.map((r) => r.open)),
        filtered: median(list.map((r) => r.filtered.seconds)),
        unfiltered: median(list.map((r) => r.unfiltered.seconds)),
        openFiltered: median(openFiltered),
        openUnfiltered: median(openUnfiltered),
        openFilteredRuns: openFiltered,
        result: { filtered: list[0].filtered, unfiltered: list[0].unfiltered },
      };
    };
    const byVariant = Object.fromEntries(names.map((n) => [n, summary(runs[n])]));
    const close = (a, b) => a.n === b.n && Math.abs(a.mean - b.mean) <= 1e-9 * Math.max(1, Math.abs(a.mean));
    const sameResults = names.every(
      (n) =>
        close(byVariant[n].result.filtered, byVariant.snapshot.result.filtered) &&
        close(byVariant[n].result.unfiltered, byVariant.snapshot.result.unfiltered),
    );
    result.points.push({
      files,
      runs: shape.runs,
      filesPerRun: shape.filesPerRun,
      filterRun: run,
      repeat,
      bytes: info.bytes,
      generateSeconds: info.generateSeconds,
      adoptSeconds: info.adoptSeconds,
      cachedLake: info.cached,
      compaction,
      variants: byVariant,
      breakdown,
      sameResults,
      filteredRows: byVariant.snapshot.result.filtered.n,
    });
    await rm(listFile, { force: true });
  }
  result.loadAfter = os.loadavg();
  return result;
}

export function printCommitBind(result, printTable) {
  const s = fmt.seconds;
  const rows = [];
  for (const p of result.points) {
    const v = p.variants;
    const label = {
      snapshot: 'a. snapshot view (openLake)',
      glob: `b. glob view (openLake @${result.baseline})`,
      raw: 'c. raw read_parquet([list])',
      compacted: 'd. compacted, snapshot view',
      compactedFreshLog: '   compacted, log re-adopted',
    };
    for (const [name, text] of Object.entries(label)) {
      const x = v[name];
      rows.push([
        name === 'snapshot' ? fmt.int(p.files) : '',
        text,
        fmt.int(x.files ?? 0),
        s(x.open),
        s(x.filtered),
        s(x.openFiltered),
        s(x.unfiltered),
        s(x.openUnfiltered),
        name === 'snapshot'
          ? ''
          : `${fmt.ratio(v.snapshot.openFiltered / x.openFiltered)} / ${fmt.ratio(v.snapshot.openUnfiltered / x.openUnfiltered)}`,
      ]);
    }
  }
  printTable(
    `commit-bind: ${fmt.int(result.totalRows)} metrics_scalar rows as N files, each probe a fresh process (median); ratio = snapshot / row (filtered / unfiltered, open included)`,
    [
      'N files',
      'view',
      'files',
      'open',
      'filtered',
      'open+filt',
      'unfiltered',
      'open+unfilt',
      'snapshot / this',
    ],
    rows,
  );
  const phaseNames = ['readLog', 'buildSql', 'schemaProbe', 'createView', 'bindFiltered', 'runFiltered'];
  printTable(
    'commit-bind: where the snapshot view time goes (one fresh process each; the library functions openLake calls, then DuckDB)',
    [
      'N files',
      'lake',
      'read log',
      'build SQL',
      'schema probe',
      'CREATE VIEW',
      'bind filtered',
      'run filtered',
      'SQL text',
    ],
    result.points.flatMap((p) =>
      Object.entries(p.breakdown).map(([name, b]) => [
        name === 'snapshot' ? fmt.int(p.files) : '',
        name === 'snapshot' ? 'as generated' : 'compacted',
        ...phaseNames.map((k) => s(b[k])),
        `${(b.sqlChars / 2 ** 20).toFixed(1)} MiB`,
      ]),
    ),
  );
  for (const p of result.points) {
    const v = p.variants;
    const goal2x = v.snapshot.openFiltered <= 2 * v.compacted.openFiltered;
    const goalGlob = v.snapshot.openFiltered < v.glob.openFiltered;
    console.log(
      `  ${fmt.int(p.files)} files (${p.runs} runs × ${p.filesPerRun}, filter run_id = '${p.filterRun}': ${fmt.int(p.filteredRows)} rows; ${fmt.mib(p.bytes)}; median of ${p.repeat}): ` +
        `same results ${p.sameResults ? 'yes' : 'NO'}; within 2× of compacted: ${goal2x ? 'yes' : 'NO'}; ahead of glob: ${goalGlob ? 'yes' : 'NO'}; ` +
        `generate ${fmt.seconds(p.generateSeconds)}, adopt ${fmt.seconds(p.adoptSeconds)}${p.cachedLake ? ' (cached lake)' : ''}; ` +
        `compactDataset ${fmt.seconds(p.compaction.seconds)} (${fmt.int(p.compaction.filesBefore)} -> ${fmt.int(p.compaction.filesAfter)} files${p.compaction.cached ? `, cached from ${p.compaction.at}` : ''})`,
    );
  }
  console.log(loadText(result));
}

// ---------------------------------------------------------------------------------------------
// 2. commit-compact

export async function commitCompactScenario(options) {
  const outDir = path.join(options.outDir, 'commits');
  await mkdir(outDir, { recursive: true });
  const files = Number(process.env.COMMIT_COMPACT_FILES ?? 2000);
  const steps = TOTAL_ROWS / METRICS.length;
  const repeat = options.repeat ?? 3;
  const pristine = path.join(outDir, `compact-${files}`);
  progress(`commit-compact: one partition of ${fmt.int(files)} files, ${fmt.int(TOTAL_ROWS)} rows`);
  const info = await cachedLake(pristine, { runs: 1, steps, filesPerRun: files }, () =>
    templateMetadata(outDir),
  );
  const inputs = await liveFiles(pristine);
  const { compactDataset, METRICS_SCALAR, forgetLogCaches } = await import(distIndex(CURRENT_DIST));
  const work = path.join(outDir, `compact-${files}-work`);
  const rawOut = path.join(outDir, 'compact-raw.parquet');
  const rawDir = path.join(outDir, 'compact-raw-as-issued');
  const db = await newDuckDB();
  const list = `[${inputs.map(sqlText).join(', ')}]`;
  const runs = { runlake: [], raw: [], rawAsIssued: [] };
  const loadBefore = os.loadavg();
  const outputs = {};
  try {
    const peers = {
      // a. compactDataset on a hard-linked copy of the lake (the copy is not timed).
      runlake: async () => {
        await linkCopy(pristine, work);
        forgetLogCaches();
        const start = process.hrtime.bigint();
        const r = await compactDataset(work, METRICS_SCALAR, { targetSize: BIG_TARGET });
        const seconds = secondsSince(start);
        outputs.runlake = { files: r.filesAfter, bytes: r.bytesAfter, rows: r.rows };
        return seconds;
      },
      // b. the reference: one sorted COPY of the same files, nothing else.
      raw: async () => {
        await rm(rawOut, { recursive: true, force: true });
        const start = process.hrtime.bigint();
        await db.connection.run(
          `COPY (SELECT * FROM read_parquet(${list}) ORDER BY metric_name, step) TO ${sqlText(rawOut)} (FORMAT parquet, COMPRESSION zstd)`,
        );
        const seconds = secondsSince(start);
        outputs.raw = { files: 1, bytes: diskBytes(rawOut) };
        return seconds;
      },
      // c. (info) the two statements compactDataset issues: a schema probe and the COPY, both
      // with union_by_name, to separate DuckDB's part from runlake's bookkeeping.
      rawAsIssued: async () => {
        await rm(rawDir, { recursive: true, force: true });
        const start = process.hrtime.bigint();
        const source = `read_parquet(${list}, union_by_name = true, hive_partitioning = false)`;
        await db.connection.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`);
        await db.connection.run(
          `COPY (SELECT * FROM ${source} ORDER BY metric_name, step) TO ${sqlText(rawDir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${BIG_TARGET}, FILENAME_PATTERN 'part-compact-{uuid}')`,
        );
        return secondsSince(start);
      },
    };
    const names = Object.keys(peers);
    // Warm-up (not timed).
    for (const name of names) await peers[name]();
    for (let i = 0; i < repeat; i++) {
      const order = names.map((_, j) => names[(i + j) % names.length]);
      for (const name of order) {
        runs[name].push(await peers[name]());
        progress(`  [${i + 1}/${repeat}] ${name}: ${fmt.seconds(runs[name].at(-1))}`);
      }
    }
  } finally {
    db.close();
    await rm(rawOut, { recursive: true, force: true });
    await rm(rawDir, { recursive: true, force: true });
    if (!options.keep) await rm(work, { recursive: true, force: true });
  }
  const summary = (list) => ({
    medianSeconds: median(list),
    seconds: list,
    rowsPerSecond: TOTAL_ROWS / median(list),
  });
  return {
    files,
    rows: TOTAL_ROWS,
    repeat,
    bytes: info.bytes,
    runlake: { ...summary(runs.runlake), ...outputs.runlake },
    raw: { ...summary(runs.raw), ...outputs.raw },
    rawAsIssued: summary(runs.rawAsIssued),
    ratio: median(runs.raw) / median(runs.runlake),
    loadBefore,
    loadAfter: os.loadavg(),
  };
}

export function printCommitCompact(result, printTable) {
  printTable(
    `commit-compact: one partition, ${fmt.int(result.files)} files (${fmt.mib(result.bytes)}), ${fmt.int(result.rows)} rows; median of ${result.repeat}; ratio = throughput / raw COPY throughput`,
    ['peer', 'time', 'rows/s', 'vs raw', 'notes'],
    [
      [
        'a. compactDataset',
        fmt.seconds(result.runlake.medianSeconds),
        fmt.rate(result.runlake.rowsPerSecond),
        fmt.ratio(result.ratio),
        `${result.runlake.files} file(s), ${fmt.mib(result.runlake.bytes)}; commit + ${fmt.int(result.files)} inputs to the trash`,
      ],
      [
        'b. raw COPY … ORDER BY',
        fmt.seconds(result.raw.medianSeconds),
        fmt.rate(result.raw.rowsPerSecond),
        '1.00',
        `reference; ${fmt.mib(result.raw.bytes)}`,
      ],
      [
        '   raw, as compactDataset issues it',
        fmt.seconds(result.rawAsIssued.medianSeconds),
        fmt.rate(result.rawAsIssued.rowsPerSecond),
        fmt.ratio(result.raw.medianSeconds / result.rawAsIssued.medianSeconds),
        'info: schema probe + COPY, both union_by_name',
      ],
    ],
  );
  console.log(loadText(result));
}

// ---------------------------------------------------------------------------------------------
// 3. commit-write

async function writeSweep(writeEventRows, grids, rowsByGrid, base) {
  await rm(base, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  for (const grid of grids) {
    const result = await writeEventRows(rowsByGrid[grid.index], base, grid.params);
    if (result.gridId !== grid.gridId) throw new Error(`grid id ${result.gridId} != ${grid.gridId}`);
  }
  return secondsSince(start);
}

export async function commitWriteScenario(options, grids) {
  const outDir = path.join(options.outDir, 'commits');
  await mkdir(outDir, { recursive: true });
  const commit = process.env.COMMITS_BASELINE ?? '1064eca';
  progress(`commit-write: baseline build (${commit})`);
  const oldDist = await baselineDist(options.outDir, commit);
  const now = await import(distIndex(CURRENT_DIST));
  const old = await import(distIndex(oldDist));
  const peers = await import('./write-peers.mjs');
  const { generateSweep } = await import('./data.mjs');
  const rows = options.rows;
  const repeat = options.repeat ?? 5;
  const dirs = {
    now: path.join(outDir, 'write-now'),
    baseline: path.join(outDir, 'write-baseline'),
    raw: path.join(outDir, 'write-raw'),
  };
  progress(`commit-write: generating ${fmt.int(rows)} event rows`);
  const rowsByGrid = generateSweep(rows, grids);
  const db = await newDuckDB();
  const writes = { now: [], baseline: [], raw: [] };
  const loadBefore = os.loadavg();
  try {
    // Warm-up (not timed): JIT, each build's staging DuckDB, the raw connection.
    const small = rowsByGrid.map((r) => r.slice(0, Math.min(r.length, 20_000)));
    await writeSweep(now.writeEventRows, grids, small, dirs.now);
    await writeSweep(old.writeEventRows, grids, small, dirs.baseline);
    await peers.writeRawDuckDB(db.connection, grids, small, dirs.raw);
    const writers = {
      now: () => writeSweep(now.writeEventRows, grids, rowsByGrid, dirs.now),
      baseline: () => writeSweep(old.writeEventRows, grids, rowsByGrid, dirs.baseline),
      raw: async () => (await peers.writeRawDuckDB(db.connection, grids, rowsByGrid, dirs.raw)).seconds,
    };
    const names = Object.keys(writers);
    for (let i = 0; i < repeat; i++) {
      const order = names.map((_, j) => names[(i + j) % names.length]);
      for (const name of order) {
        writes[name].push(await writers[name]());
        progress(`  [${i + 1}/${repeat}] write-events ${name}: ${fmt.seconds(writes[name].at(-1))}`);
      }
    }
  } finally {
    db.close();
    if (!options.keep) for (const dir of Object.values(dirs)) await rm(dir, { recursive: true, force: true });
  }
  const w = (list) => ({ medianSeconds: median(list), seconds: list, rowsPerSecond: rows / median(list) });
  const result = {
    baseline: commit,
    rows,
    repeat,
    now: w(writes.now),
    old: w(writes.baseline),
    raw: w(writes.raw),
    loadBefore,
    loadAfter: os.loadavg(),
  };
  result.throughputNowOverBaseline = result.old.medianSeconds / result.now.medianSeconds;
  return result;
}

export function printCommitWrite(result, printTable) {
  const raw = result.raw.medianSeconds;
  const spread = (list) => list.map((x) => fmt.seconds(x)).join(' / ');
  const row = (label, s, vsBaseline) => [
    label,
    fmt.seconds(s.medianSeconds),
    spread(s.seconds),
    fmt.rate(s.rowsPerSecond),
    fmt.ratio(raw / s.medianSeconds),
    vsBaseline,
  ];
  printTable(
    `commit-write: write-events (${fmt.int(result.rows)} rows, 4 grids × 5 seeds), this tree vs ${result.baseline}, interleaved, median of ${result.repeat}; ratios of throughput`,
    ['writer', 'time', 'runs', 'rows/s', 'vs raw', 'vs baseline'],
    [
      row('runlake writeEventRows (this tree)', result.now, fmt.ratio(result.throughputNowOverBaseline)),
      row(`runlake writeEventRows (${result.baseline})`, result.old, '1.00'),
      row('raw DuckDB appender + COPY', result.raw, ''),
    ],
  );
  console.log(
    `  goal: this tree within 10% of ${result.baseline} (ratio >= 0.90): ${result.throughputNowOverBaseline >= 0.9 ? 'met' : 'NOT met'}`,
  );
  console.log(loadText(result));
}

// ---------------------------------------------------------------------------------------------
// 4. commit-tiny

/** `count` calls of `lake.write` with 10 metrics_scalar rows each, all into one run. */
async function tinyWrites(dist, dir, count) {
  await rm(dir, { recursive: true, force: true });
  const { openLake } = await import(distIndex(dist));
  const lake = await openLake(dir, { schema: 'squiggle' });
  const latencies = [];
  const start = process.hrtime.bigint();
  try {
    for (let i = 0; i < count; i++) {
      const rows = Array.from({ length: 10 }, (_, j) => ({
        run_id: 'tiny',
        step: i * 10 + j,
        metric_name: 'loss',
        value: 1 / (1 + i * 10 + j),
      }));
      const callStart = process.hrtime.bigint();
      await lake.write('metrics_scalar', rows);
      latencies.push(secondsSince(callStart));
    }
  } finally {
    lake.close();
  }
  return {
    seconds: secondsSince(start),
    first100Median: median(latencies.slice(0, 100)),
    last100Median: median(latencies.slice(-100)),
  };
}

export async function commitTinyScenario(options) {
  const outDir = path.join(options.outDir, 'commits');
  await mkdir(outDir, { recursive: true });
  const commit = process.env.COMMITS_BASELINE ?? '1064eca';
  progress(`commit-tiny: baseline build (${commit})`);
  const oldDist = await baselineDist(options.outDir, commit);
  const count = Number(process.env.COMMIT_TINY_WRITES ?? 1000);
  const repeat = options.repeat ?? 2;
  const dists = { now: CURRENT_DIST, baseline: oldDist };
  const runs = { now: [], baseline: [] };
  const loadBefore = os.loadavg();
  try {
    for (const [name, dist] of Object.entries(dists))
      await tinyWrites(dist, path.join(outDir, `tiny-${name}`), 20);
    for (let i = 0; i < repeat; i++) {
      const order = i % 2 === 0 ? ['now', 'baseline'] : ['baseline', 'now'];
      for (const name of order) {
        runs[name].push(await tinyWrites(dists[name], path.join(outDir, `tiny-${name}`), count));
        const r = runs[name].at(-1);
        progress(
          `  [${i + 1}/${repeat}] ${fmt.int(count)} tiny writes, ${name}: ${fmt.seconds(r.seconds)} (median per write: first 100 ${fmt.seconds(r.first100Median)}, last 100 ${fmt.seconds(r.last100Median)})`,
        );
      }
    }
  } finally {
    if (!options.keep)
      for (const name of Object.keys(dists))
        await rm(path.join(outDir, `tiny-${name}`), { recursive: true, force: true });
  }
  const t = (list) => ({
    medianSeconds: median(list.map((r) => r.seconds)),
    seconds: list.map((r) => r.seconds),
    first100Median: median(list.map((r) => r.first100Median)),
    last100Median: median(list.map((r) => r.last100Median)),
  });
  const result = {
    baseline: commit,
    count,
    repeat,
    now: t(runs.now),
    old: t(runs.baseline),
    loadBefore,
    loadAfter: os.loadavg(),
  };
  result.timeNowOverBaseline = result.now.medianSeconds / result.old.medianSeconds;
  return result;
}

export function printCommitTiny(result, printTable) {
  const spread = (list) => list.map((x) => fmt.seconds(x)).join(' / ');
  const row = (label, s, ratio) => [
    label,
    fmt.seconds(s.medianSeconds),
    spread(s.seconds),
    fmt.seconds(s.first100Median),
    fmt.seconds(s.last100Median),
    ratio,
  ];
  printTable(
    `commit-tiny: ${fmt.int(result.count)} × lake.write('metrics_scalar', 10 rows) into one run of one open lake; interleaved, median of ${result.repeat}`,
    ['writer', 'total', 'runs', 'per write, first 100', 'per write, last 100', 'time vs baseline'],
    [
      row('this tree (write + commit)', result.now, fmt.ratio(result.timeNowOverBaseline)),
      row(result.baseline, result.old, '1.00'),
    ],
  );
  console.log(loadText(result));
}

// ---------------------------------------------------------------------------------------------

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--probe') {
  const result = await probe(JSON.parse(process.argv[3]));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The lake (and its DuckDB) is closed; exit without waiting for the staging instance.
  process.exit(0);
}

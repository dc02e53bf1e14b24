#!/usr/bin/env node
// runlake benchmarks: write throughput against a raw DuckDB reference and other peers, view query
// overhead, partition pruning, and legacy CSV sweep conversion (convertCsvSweep against an
// exp_engine-style pandas converter). Prints result tables and writes bench/out/results.json.
//
//   npm run bench                                  # builds dist/, then the full 10M-row run
//   node bench/run.mjs --rows 1_000_000            # quick check (needs a built dist/)
//   node bench/run.mjs --only query-events --repeat 5
//   node bench/run.mjs --only convert-csv            # 4M rows in 40 CSVs, about a minute
//   node bench/run.mjs --only commits                # the commit protocol: bind, compact, writes
//
// Machines are noisy: compare each scenario with its peer measured in the same run (the ratios),
// not absolute times across runs. See docs/benchmarks.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import {
  geometryDescriptorsScenario,
  printGeometryDescriptors,
  printSignatureSearch,
  signatureSearchScenario,
} from './geometry.mjs';
import {
  diskBytes,
  fmt,
  listFiles,
  median,
  parseArgs,
  printTable,
  progress,
  secondsSince,
  timed,
} from './lib.mjs';
import { printShards, shardsScenario } from './shards.mjs';
import { printTracking, trackingScenario } from './tracking.mjs';

const HEAP_MB = 12000;
const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const OUT_DIR = path.join(BENCH_DIR, 'out');
const LAKE_DIR = path.join(OUT_DIR, 'lake');
const LAKE_INFO = path.join(OUT_DIR, 'lake-info.json');
const WRITE_TARGET = 0.8;
// write-events' small-batch case: batches of SMALL_BATCH_ROWS rows, SMALL_BATCHES_PER_GRID per grid.
const SMALL_BATCH_ROWS = 1_000;
const SMALL_BATCHES_PER_GRID = 100;
const QUERY_TARGET = 1.1;
const DUCKDB_CONFIG = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' };

// 10M row objects need a few GB of heap: re-run this script in a child with a larger old space,
// so `npm run bench` works as is. Node flags given to the parent (e.g. --cpu-prof) are passed on.
const heapLimitMb = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
if (heapLimitMb < HEAP_MB * 0.9 && process.env.RUNLAKE_BENCH_CHILD !== '1') {
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      `--max-old-space-size=${HEAP_MB}`,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env: { ...process.env, RUNLAKE_BENCH_CHILD: '1' } },
  );
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  await main(parseArgs(process.argv.slice(2)));
}

async function main(options) {
  if (!existsSync(path.join(REPO_DIR, 'dist', 'index.js'))) {
    console.error('dist/index.js is missing: run `npm run build` first (`npm run bench` does).');
    process.exit(1);
  }
  await mkdir(OUT_DIR, { recursive: true });
  const run = (name) => !options.only || options.only === name;
  const { makeGrids } = await import('./data.mjs');
  const grids = makeGrids();
  const machine = await machineInfo();
  const results = {
    startedAt: new Date().toISOString(),
    command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    options: { rows: options.rows, only: options.only ?? null, repeat: options.repeat ?? null },
    machine,
    grids: grids.map((g) => ({ gridId: g.gridId, params: g.params })),
    scenarios: {},
  };
  progress(
    `rows=${fmt.int(options.rows)} cores=${machine.nproc} node=${machine.node} duckdb=${machine.duckdb} heap limit=${Math.round(heapLimitMb)} MiB`,
  );

  if (run('write-events')) results.scenarios['write-events'] = await writeEventsScenario(options, grids);
  if (run('query-events') || run('single-grid-pruning')) {
    await ensureLake(options.rows, grids);
    const { queryEvents, singleGridPruning } = await import('./query-peers.mjs');
    const repeat = options.repeat ?? 3;
    if (run('query-events')) {
      progress(`query-events: warm-up + ${repeat} interleaved runs each`);
      results.scenarios['query-events'] = await queryEvents(LAKE_DIR, repeat);
    }
    if (run('single-grid-pruning')) {
      progress(`single-grid-pruning: warm-up + ${repeat} interleaved runs each`);
      results.scenarios['single-grid-pruning'] = await singleGridPruning(LAKE_DIR, grids[0].gridId, repeat);
    }
  }
  if (run('convert-csv')) {
    const { convertCsvScenario } = await import('./convert-csv.mjs');
    results.scenarios['convert-csv'] = await convertCsvScenario(options);
  }
  if (run('shards')) results.scenarios.shards = await shardsScenario(options);
  if (run('squiggle-write')) {
    const { squiggleWriteScenario } = await import('./squiggle-write.mjs');
    results.scenarios['squiggle-write'] = await squiggleWriteScenario(options, OUT_DIR);
  }
  if (run('geometry-descriptors'))
    results.scenarios['geometry-descriptors'] = await geometryDescriptorsScenario(options);
  if (run('signature-search')) results.scenarios['signature-search'] = await signatureSearchScenario(options);
  if (run('convert-file')) {
    const { convertFileScenario } = await import('./convert-file.mjs');
    results.scenarios['convert-file'] = await convertFileScenario(options);
  }
  if (run('web-first-curve')) {
    const { webFirstCurveScenario } = await import('./web-first-curve.mjs');
    results.scenarios['web-first-curve'] = await webFirstCurveScenario(options);
  }
  if (run('web-dashboard')) {
    const { webDashboardScenario } = await import('./web-dashboard.mjs');
    results.scenarios['web-dashboard'] = await webDashboardScenario(options);
  }
  if (run('tracking-pyramid')) {
    const { trackingPyramidScenario } = await import('./tracking-pyramid.mjs');
    results.scenarios['tracking-pyramid'] = await trackingPyramidScenario(options);
  }
  if (run('serve-load')) {
    const { serveLoadScenario } = await import('./serve-load.mjs');
    results.scenarios['serve-load'] = await serveLoadScenario({ ...options, outDir: OUT_DIR });
  }
  const runCommits = (name) => run(name) || options.only === 'commits';
  if (runCommits('commit-write')) {
    const { commitWriteScenario } = await import('./commits.mjs');
    results.scenarios['commit-write'] = await commitWriteScenario({ ...options, outDir: OUT_DIR }, grids);
  }
  if (runCommits('commit-tiny')) {
    const { commitTinyScenario } = await import('./commits.mjs');
    results.scenarios['commit-tiny'] = await commitTinyScenario({ ...options, outDir: OUT_DIR });
  }
  if (runCommits('commit-compact')) {
    const { commitCompactScenario } = await import('./commits.mjs');
    results.scenarios['commit-compact'] = await commitCompactScenario({ ...options, outDir: OUT_DIR });
  }
  if (runCommits('commit-bind')) {
    const { commitBindScenario } = await import('./commits.mjs');
    results.scenarios['commit-bind'] = await commitBindScenario({ ...options, outDir: OUT_DIR });
  }
  if (run('tracking')) results.scenarios.tracking = await trackingScenario(options);
  if (run('analyze-pipeline')) {
    const { analyzeScenario } = await import('./analyze.mjs');
    results.scenarios['analyze-pipeline'] = await analyzeScenario(options);
  }
  results.finishedAt = new Date().toISOString();

  await printResults(results);
  const file = path.join(OUT_DIR, 'results.json');
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(REPO_DIR, file)}`);
}

async function machineInfo() {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', DUCKDB_CONFIG);
  const connection = await instance.connect();
  const duckdb = String((await connection.runAndReadAll('SELECT version()')).getRows()[0][0]);
  connection.closeSync();
  instance.closeSync();
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {}
  let fileSystem;
  try {
    fileSystem = execFileSync('findmnt', ['-no', 'FSTYPE', '-T', OUT_DIR], { encoding: 'utf8' }).trim();
  } catch {}
  return {
    nproc,
    cpuModel: os.cpus()[0]?.model,
    totalMemGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    duckdb,
    duckdbNodeApi: JSON.parse(
      await readFile(path.join(REPO_DIR, 'node_modules/@duckdb/node-api/package.json'), 'utf8'),
    ).version,
    fileSystem,
  };
}

// ---------------------------------------------------------------------------------------------
// write-events

async function writeEventsScenario(options, grids) {
  const { generateSweep, partitionCounts, SEEDS } = await import('./data.mjs');
  const peers = await import('./write-peers.mjs');
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const { buildRowBatch } = await import('../dist/lake/row-batch.js');
  const { t } = await import('../dist/index.js');
  const rows = options.rows;
  const repeat = options.repeat ?? (rows >= 5_000_000 ? 1 : 3);
  const dirs = {
    columns: path.join(OUT_DIR, 'runlake-columns'),
    arrow: path.join(OUT_DIR, 'runlake-arrow'),
    batches: path.join(OUT_DIR, 'batches'),
    raw: path.join(OUT_DIR, 'raw-duckdb'),
    pandas: path.join(OUT_DIR, 'pandas'),
    jsonl: path.join(OUT_DIR, 'jsonl'),
    csv: path.join(OUT_DIR, 'csv'),
    warmup: path.join(OUT_DIR, 'warmup'),
  };
  await rm(LAKE_INFO, { force: true });

  progress(`write-events: generating ${fmt.int(rows)} rows as JS objects (4 grids x 5 seeds)`);
  const generated = await timed(() => generateSweep(rows, grids));
  let rowsByGrid = generated.value;
  const heapAfterGenerate = process.memoryUsage().heapUsed;
  progress(`  generated in ${fmt.seconds(generated.seconds)}, heap used ${fmt.mib(heapAfterGenerate)}`);
  // The same values as columns, as a columnar producer holds them (not timed).
  const converted = await timed(() => {
    const columns = rowsByGrid.map(peers.rowsToColumns);
    return { columns, arrow: columns.map(peers.columnsToArrow) };
  });
  let { columns: columnsByGrid, arrow: arrowByGrid } = converted.value;
  progress(`  as column objects and Arrow tables in ${fmt.seconds(converted.seconds)} (not timed)`);

  const instance = await DuckDBInstance.create(':memory:', DUCKDB_CONFIG);
  const connection = await instance.connect();
  const scenario = {
    rows,
    repeat,
    generateSeconds: generated.seconds,
    heapUsedAfterGenerate: heapAfterGenerate,
  };
  try {
    // Warm-up (not timed): JIT, runlake's staging DuckDB instance, the raw connection.
    const small = rowsByGrid.map((r) => r.slice(0, Math.min(r.length, 20_000)));
    const smallColumns = columnsByGrid.map((c) => peers.sliceColumns(c, 0, 20_000));
    await peers.writeRunlake(grids, small, path.join(dirs.warmup, 'runlake'));
    await peers.writeRunlake(grids, smallColumns, path.join(dirs.warmup, 'columns'));
    await peers.writeRunlake(grids, smallColumns.map(peers.columnsToArrow), path.join(dirs.warmup, 'arrow'));
    await peers.writeRawDuckDB(connection, grids, small, path.join(dirs.warmup, 'raw'));
    await rm(dirs.warmup, { recursive: true, force: true });

    // a (rows), a2 (column objects), a3 (Arrow) and b, interleaved; the order rotates each round.
    const variants = {
      runlake: { label: 'a. runlake writeEventRows (rows)', inputs: rowsByGrid, dir: LAKE_DIR, runs: [] },
      columns: {
        label: 'a2. runlake writeEventRows (column objects)',
        inputs: columnsByGrid,
        dir: dirs.columns,
        runs: [],
      },
      arrow: {
        label: 'a3. runlake writeEventRows (Arrow tables)',
        inputs: arrowByGrid,
        dir: dirs.arrow,
        runs: [],
      },
      raw: { label: 'b. raw DuckDB appender + COPY', dir: dirs.raw, runs: [] },
    };
    const names = Object.keys(variants);
    for (let i = 0; i < repeat; i++) {
      const order = names.map((_, k) => names[(k + i) % names.length]);
      for (const which of order) {
        const variant = variants[which];
        progress(`  [${i + 1}/${repeat}] ${variant.label}`);
        variant.runs.push(
          which === 'raw'
            ? await peers.writeRawDuckDB(connection, grids, rowsByGrid, dirs.raw)
            : await peers.writeRunlake(grids, variant.inputs, variant.dir),
        );
        progress(`    ${fmt.seconds(variant.runs.at(-1).seconds)}`);
      }
    }
    const rawRuns = variants.raw.runs;

    // Every runlake variant and the raw peer must hold exactly the generated rows per partition.
    const expected = partitionCounts(rows);
    const check = await verifyOutputs(
      connection,
      grids,
      SEEDS,
      expected,
      Object.fromEntries(names.map((name) => [name, variants[name].dir])),
    );

    // Many small writes (a tracking server's flushes): the first SMALL_BATCH_ROWS x
    // SMALL_BATCHES_PER_GRID rows of seed 1 of each grid, one call per batch, grids interleaved.
    const batchCase = await smallBatchCase(connection, grids, peers, dirs, repeat);

    // What runlake's validation + type-inference pass alone costs on these rows (info, not a peer).
    const validation = await timed(() => {
      for (const grid of grids) {
        buildRowBatch('events', rowsByGrid[grid.index], [
          { name: 'grid_id', type: t.string, fixedValue: grid.gridId },
          { name: 'seed', type: t.int64 },
        ]);
      }
    });

    // d + e: plain Node text peers on the same rows.
    const jsonlRuns = [];
    const csvRuns = [];
    for (let i = 0; i < repeat; i++) {
      progress(`  [${i + 1}/${repeat}] d. JSONL`);
      jsonlRuns.push(await peers.writeJsonl(grids, rowsByGrid, dirs.jsonl));
      progress(`    ${fmt.seconds(jsonlRuns.at(-1).seconds)}`);
      progress(`  [${i + 1}/${repeat}] e. CSV`);
      csvRuns.push(await peers.writeCsv(grids, rowsByGrid, dirs.csv));
      progress(`    ${fmt.seconds(csvRuns.at(-1).seconds)}`);
    }

    // Drop the JS rows before the Python phase so the heap can be collected.
    rowsByGrid = null;
    columnsByGrid = null;
    arrowByGrid = null;

    const python = await pythonPhase(rows, grids, repeat, dirs.pandas);
    const pythonBatches = await pythonPhase(
      batchCase.rows,
      grids,
      repeat,
      path.join(dirs.batches, 'pandas'),
      {
        batch_rows: SMALL_BATCH_ROWS,
        batches: batchCase.calls,
      },
    );

    const summary = (runs) => {
      const seconds = median(runs.map((r) => r.seconds));
      // The run nearest the median, whose breakdown the table shows.
      const medianRun = runs.reduce(
        (best, r, i) => (Math.abs(r.seconds - seconds) < Math.abs(runs[best].seconds - seconds) ? i : best),
        0,
      );
      return {
        medianSeconds: seconds,
        rowsPerSecond: rows / seconds,
        seconds: runs.map((r) => r.seconds),
        medianRun,
      };
    };
    const raw = summary(rawRuns);
    const pandasSeconds = python.skipped ? undefined : median(python.runs.map((r) => r.seconds));
    const withRatio = (s) => ({
      ...s,
      throughputRatioVsRaw: raw.medianSeconds / s.medianSeconds,
      ...(pandasSeconds ? { throughputRatioVsPandas: pandasSeconds / s.medianSeconds } : {}),
    });
    const runlakeVariant = (name) => ({
      ...withRatio(summary(variants[name].runs)),
      target: WRITE_TARGET,
      calls: variants[name].runs.map((r) => r.calls),
      files: check[name].files,
      bytes: diskBytes(path.join(variants[name].dir, 'events')),
    });
    Object.assign(scenario, {
      runlake: runlakeVariant('runlake'),
      runlakeColumns: runlakeVariant('columns'),
      runlakeArrow: runlakeVariant('arrow'),
      columnarInputSeconds: converted.seconds,
      smallBatches: summariseBatches(batchCase, pythonBatches, summary),
      rawDuckDB: {
        ...raw,
        appendSeconds: rawRuns.map((r) => r.appendSeconds),
        copySeconds: rawRuns.map((r) => r.copySeconds),
        files: check.raw.files,
        bytes: diskBytes(dirs.raw),
      },
      pandas: python.skipped
        ? { skipped: python.skipped }
        : {
            ...withRatio(summary(python.runs)),
            dataframeSeconds: python.runs.map((r) => r.dataframe_seconds),
            fromPandasSeconds: python.runs.map((r) => r.from_pandas_seconds),
            writeSeconds: python.runs.map((r) => r.write_seconds),
            files: listFiles(dirs.pandas, '.parquet').length,
            bytes: diskBytes(dirs.pandas),
            versions: python.versions,
            python: python.python,
            note: 'Python generates its own rows with numpy (same shape); timed inside Python: DataFrame build + from_pandas + write_to_dataset',
          },
      jsonl: { ...withRatio(summary(jsonlRuns)), bytes: diskBytes(dirs.jsonl) },
      csv: { ...withRatio(summary(csvRuns)), bytes: diskBytes(dirs.csv) },
      runlakeValidationPassSeconds: validation.seconds,
      check,
    });
    await writeFile(
      LAKE_INFO,
      `${JSON.stringify({ rows, gridIds: grids.map((g) => g.gridId), writtenAt: new Date().toISOString() })}\n`,
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
    if (!options.keep) {
      for (const dir of [dirs.columns, dirs.arrow, dirs.batches, dirs.raw, dirs.pandas, dirs.jsonl, dirs.csv])
        await rm(dir, { recursive: true, force: true });
    }
  }
  return scenario;
}

/**
 * Times many small `writeEventRows` calls (rows, column objects, Arrow) and the raw peer doing the
 * same batches (append + COPY per batch), interleaved, and checks every output's row counts.
 */
async function smallBatchCase(connection, grids, peers, dirs, repeat) {
  const { generateGridRows, SEEDS } = await import('./data.mjs');
  const perGrid = SMALL_BATCH_ROWS * SMALL_BATCHES_PER_GRID;
  const rowsByGrid = grids.map((g) => generateGridRows(g.index, [perGrid, 0, 0, 0, 0]));
  const batches = { rows: [], columns: [], arrow: [] };
  for (let b = 0; b < SMALL_BATCHES_PER_GRID; b++) {
    for (const grid of grids) {
      const slice = rowsByGrid[grid.index].slice(b * SMALL_BATCH_ROWS, (b + 1) * SMALL_BATCH_ROWS);
      const columns = peers.rowsToColumns(slice);
      batches.rows.push({ grid, input: slice });
      batches.columns.push({ grid, input: columns });
      batches.arrow.push({ grid, input: peers.columnsToArrow(columns) });
    }
  }
  const calls = batches.rows.length;
  const labels = {
    rows: 'a. runlake writeEventRows (rows)',
    columns: 'a2. runlake writeEventRows (column objects)',
    arrow: 'a3. runlake writeEventRows (Arrow tables)',
    raw: 'b. raw DuckDB appender + COPY per batch',
  };
  const dir = (name) => path.join(dirs.batches, name);
  const runs = { rows: [], columns: [], arrow: [], raw: [] };
  const names = Object.keys(runs);
  await peers.writeRunlakeBatches(batches.columns.slice(0, 8), path.join(dirs.warmup, 'batches'));
  await rm(dirs.warmup, { recursive: true, force: true });
  for (let i = 0; i < repeat; i++) {
    const order = names.map((_, k) => names[(k + i) % names.length]);
    for (const name of order) {
      progress(
        `  [${i + 1}/${repeat}] small batches (${calls} calls x ${SMALL_BATCH_ROWS} rows): ${labels[name]}`,
      );
      runs[name].push(
        name === 'raw'
          ? await peers.writeRawDuckDBBatches(connection, batches.rows, dir(name))
          : await peers.writeRunlakeBatches(batches[name], dir(name)),
      );
      progress(`    ${fmt.seconds(runs[name].at(-1).seconds)}`);
    }
  }
  const expected = grids.map(() => SEEDS.map((_, s) => (s === 0 ? perGrid : 0)));
  const check = await verifyOutputs(
    connection,
    grids,
    SEEDS.slice(0, 1),
    expected,
    Object.fromEntries(names.map((name) => [name === 'rows' ? 'runlake' : name, dir(name)])),
  );
  return { calls, rows: calls * SMALL_BATCH_ROWS, runs, labels, check };
}

function summariseBatches(batchCase, python, summary) {
  const raw = summary(batchCase.runs.raw);
  const pandasSeconds = python.skipped ? undefined : median(python.runs.map((r) => r.seconds));
  const out = {
    calls: batchCase.calls,
    rowsPerCall: SMALL_BATCH_ROWS,
    totalRows: batchCase.rows,
    check: batchCase.check,
    pandas: python.skipped
      ? { skipped: python.skipped }
      : { ...summary(python.runs), throughputRatioVsRaw: raw.medianSeconds / pandasSeconds },
  };
  for (const [name, runs] of Object.entries(batchCase.runs)) {
    const s = summary(runs);
    out[name] = {
      label: batchCase.labels[name],
      ...s,
      rowsPerSecond: batchCase.rows / s.medianSeconds,
      throughputRatioVsRaw: raw.medianSeconds / s.medianSeconds,
      ...(pandasSeconds ? { throughputRatioVsPandas: pandasSeconds / s.medianSeconds } : {}),
    };
  }
  if (out.pandas.medianSeconds) out.pandas.rowsPerSecond = batchCase.rows / out.pandas.medianSeconds;
  return out;
}

async function pythonPhase(rows, grids, repeat, outDir, extra = {}) {
  const { checkPython, runPandasPeer } = await import('./python-peer.mjs');
  const { SEEDS } = await import('./data.mjs');
  const found = await checkPython();
  if (found.skipped) {
    progress(`  c. pandas + pyarrow: skipped (${found.skipped})`);
    return { skipped: found.skipped };
  }
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    progress(`  [${i + 1}/${repeat}] c. pandas + pyarrow write_to_dataset (Python subprocess, own rows)`);
    const report = await runPandasPeer(found.python, {
      rows,
      out: outDir,
      grid_ids: grids.map((g) => g.gridId),
      seeds: SEEDS,
      ...extra,
    });
    if (report.skipped) {
      progress(`    skipped (${report.skipped})`);
      return { skipped: report.skipped };
    }
    progress(`    ${fmt.seconds(report.seconds)} (timed in Python)`);
    runs.push(report);
  }
  return { runs, versions: found.versions, python: found.python };
}

/** Row counts per (grid, seed) in both outputs must equal what was generated. */
async function verifyOutputs(connection, grids, seeds, expected, dirs) {
  const out = {};
  for (const [name, dir] of Object.entries(dirs)) {
    const root = name === 'runlake' ? path.join(dir, 'events') : dir;
    const glob = path.join(root, '**', '*.parquet').replaceAll("'", "''");
    const reader = await connection.runAndReadAll(
      `SELECT grid_id, seed, count(*) AS n FROM read_parquet('${glob}', hive_partitioning = true, ` +
        "hive_types = {'grid_id': 'VARCHAR', 'seed': 'BIGINT'}) GROUP BY ALL",
    );
    const counts = new Map(reader.getRowObjectsJS().map((r) => [`${r.grid_id}/${r.seed}`, Number(r.n)]));
    let ok = counts.size === grids.length * seeds.length;
    for (const grid of grids) {
      seeds.forEach((seed, s) => {
        if (counts.get(`${grid.gridId}/${seed}`) !== expected[grid.index][s]) ok = false;
      });
    }
    out[name] = { ok, partitions: counts.size, files: listFiles(root, '.parquet').length };
    if (!ok) progress(`  WARNING: ${name} output does not hold the generated rows per partition`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// query scenarios

async function ensureLake(rows, grids) {
  try {
    const info = JSON.parse(await readFile(LAKE_INFO, 'utf8'));
    const sameGrids = grids.every((g) => info.gridIds.includes(g.gridId));
    if (info.rows === rows && sameGrids && existsSync(path.join(LAKE_DIR, 'events'))) return;
  } catch {}
  progress(`no ${fmt.int(rows)}-row lake in bench/out/lake: writing one with runlake (not timed)`);
  const { generateSweep } = await import('./data.mjs');
  const { writeRunlake } = await import('./write-peers.mjs');
  const start = process.hrtime.bigint();
  await writeRunlake(grids, generateSweep(rows, grids), LAKE_DIR);
  await writeFile(
    LAKE_INFO,
    `${JSON.stringify({ rows, gridIds: grids.map((g) => g.gridId), writtenAt: new Date().toISOString() })}\n`,
  );
  progress(`  lake written in ${fmt.seconds(secondsSince(start))}`);
}

// ---------------------------------------------------------------------------------------------
// output

function spread(seconds) {
  return `${fmt.seconds(Math.min(...seconds))} - ${fmt.seconds(Math.max(...seconds))}`;
}

async function printResults(results) {
  const m = results.machine;
  console.log(
    `\nrunlake bench: ${fmt.int(results.options.rows)} rows; ${m.nproc} cores (${m.cpuModel}), ` +
      `${m.totalMemGiB} GiB; node ${m.node}; DuckDB ${m.duckdb} (@duckdb/node-api ${m.duckdbNodeApi}); ${m.fileSystem ?? ''}`,
  );
  const w = results.scenarios['write-events'];
  if (w) {
    const row = (label, s, notes) =>
      s.skipped
        ? [label, '', '', '', '', '', `skipped: ${s.skipped}`]
        : [
            label,
            fmt.seconds(s.medianSeconds),
            fmt.rate(s.rowsPerSecond),
            fmt.ratio(s.throughputRatioVsRaw ?? 1),
            s.throughputRatioVsPandas ? fmt.ratio(s.throughputRatioVsPandas) : '',
            s.bytes === undefined ? '' : fmt.mib(s.bytes),
            notes,
          ];
    const raw = w.rawDuckDB;
    const a = w.runlake;
    const runlakeNotes = (s) =>
      `target >= ${s.target}: ${s.throughputRatioVsRaw >= s.target ? 'met' : 'NOT met'}; ${s.files} files`;
    printTable(
      `write-events (${fmt.int(w.rows)} rows, 4 grids x 5 seeds; median of ${w.repeat}; ratio = throughput / peer's throughput)`,
      ['peer', 'time', 'rows/s', 'vs raw', 'vs pandas', 'on disk', 'notes'],
      [
        row('a. runlake writeEventRows (rows)', a, runlakeNotes(a)),
        row('a2. runlake writeEventRows (column objects)', w.runlakeColumns, runlakeNotes(w.runlakeColumns)),
        row('a3. runlake writeEventRows (Arrow tables)', w.runlakeArrow, runlakeNotes(w.runlakeArrow)),
        row(
          'b. raw DuckDB appender + COPY',
          raw,
          `reference; append ${fmt.seconds(raw.appendSeconds[raw.medianRun])} + COPY ${fmt.seconds(raw.copySeconds[raw.medianRun])}; ${raw.files} files`,
        ),
        row(
          'c. pandas + pyarrow write_to_dataset',
          w.pandas,
          w.pandas.skipped
            ? ''
            : `Python-generated rows; timed in Python (DataFrame ${fmt.seconds(w.pandas.dataframeSeconds[w.pandas.medianRun])}, ` +
                `from_pandas ${fmt.seconds(w.pandas.fromPandasSeconds[w.pandas.medianRun])}, write ${fmt.seconds(w.pandas.writeSeconds[w.pandas.medianRun])})`,
        ),
        row('d. JSONL (JSON.stringify per row)', w.jsonl, 'one file per grid'),
        row('e. CSV (hand-joined lines)', w.csv, 'one file per grid'),
      ],
    );
    const checks = Object.entries(w.check)
      .map(([name, c]) => `${name} ${c.ok ? 'ok' : 'MISMATCH'}`)
      .join(', ');
    console.log(
      `  info: runlake's validation + type-inference pass alone (buildRowBatch): ${fmt.seconds(w.runlakeValidationPassSeconds)}; ` +
        `row generation ${fmt.seconds(w.generateSeconds)}; rows to columns + Arrow (not timed) ${fmt.seconds(w.columnarInputSeconds)}; output check: ${checks}`,
    );
    const b = w.smallBatches;
    if (b) {
      printTable(
        `write-events, small batches (${fmt.int(b.calls)} calls x ${fmt.int(b.rowsPerCall)} rows = ${fmt.int(b.totalRows)} rows, one partition per call; median of ${w.repeat})`,
        ['peer', 'time', 'rows/s', 'vs raw', 'vs pandas', 'on disk', 'notes'],
        [
          ...['rows', 'columns', 'arrow', 'raw'].map((name) =>
            row(b[name].label, b[name], `${fmt.seconds(b[name].medianSeconds / b.calls)} per call`),
          ),
          row(
            'c. pandas + pyarrow write_to_dataset per batch',
            b.pandas,
            b.pandas.skipped
              ? ''
              : `${fmt.seconds(b.pandas.medianSeconds / b.calls)} per call; timed in Python`,
          ),
        ],
      );
      console.log(
        `  info: output check: ${Object.entries(b.check)
          .map(([name, c]) => `${name} ${c.ok ? 'ok' : 'MISMATCH'}`)
          .join(', ')}`,
      );
    }
  }
  const q = results.scenarios['query-events'];
  if (q) {
    printTable(
      `query-events (${q.files} files; warm-up, then median of ${q.repeat} interleaved runs)`,
      ['query path', 'median', 'min - max', 'notes'],
      [
        [
          'openLake view `events`',
          fmt.seconds(q.view.medianSeconds),
          spread(q.view.seconds),
          `ratio view/raw ${fmt.ratio(q.ratioViewOverRaw)} (target <= ${QUERY_TARGET}: ${q.ratioViewOverRaw <= QUERY_TARGET ? 'met' : 'NOT met'})`,
        ],
        [
          'raw read_parquet(hive_partitioning)',
          fmt.seconds(q.raw.medianSeconds),
          spread(q.raw.seconds),
          `same result: ${q.resultsMatch ? 'yes' : 'NO'}`,
        ],
      ],
    );
    console.log(`  sql: ${q.sql}`);
  }
  const p = results.scenarios['single-grid-pruning'];
  if (p) {
    printTable(
      `single-grid-pruning (grid ${p.gridId}; median of ${p.repeat} interleaved runs)`,
      ['query', 'median', 'files read (EXPLAIN ANALYZE)', 'notes'],
      [
        [
          `view WHERE grid_id = '${p.gridId}'`,
          fmt.seconds(p.grid.medianSeconds),
          `${p.view.filesRead} (scanning ${p.view.scanned}/${p.view.candidates})`,
          `grid dir holds ${p.gridFiles} of ${p.totalFiles} files: ${p.prunedToGrid ? 'pruned to the grid' : 'NOT pruned'}; ${fmt.int(p.grid.rows)} rows`,
        ],
        [
          'view, whole lake',
          fmt.seconds(p.full.medianSeconds),
          `${p.fullLake.filesRead}`,
          `grid/full time ratio ${fmt.ratio(p.ratioGridOverFull)}; ${fmt.int(p.full.rows)} rows`,
        ],
        [
          'raw read_parquet, same grid filter',
          '',
          `${p.raw.filesRead} (scanning ${p.raw.scanned}/${p.raw.candidates})`,
          'for comparison (not timed)',
        ],
      ],
    );
  }
  const c = results.scenarios['convert-csv'];
  if (c) {
    const { printConvertCsv } = await import('./convert-csv.mjs');
    printConvertCsv(c, printTable);
  }
  if (results.scenarios.shards) printShards(results.scenarios.shards, printTable);
  if (results.scenarios.tracking) printTracking(results.scenarios.tracking, printTable);
  if (results.scenarios['geometry-descriptors']) {
    printGeometryDescriptors(results.scenarios['geometry-descriptors'], printTable);
  }
  if (results.scenarios['signature-search'])
    printSignatureSearch(results.scenarios['signature-search'], printTable);
  if (results.scenarios['analyze-pipeline']) {
    const { printAnalyze } = await import('./analyze.mjs');
    printAnalyze(results.scenarios['analyze-pipeline'], printTable);
  }
  if (results.scenarios['convert-file']) {
    const { printConvertFile } = await import('./convert-file.mjs');
    printConvertFile(results.scenarios['convert-file'], printTable);
  }
  if (results.scenarios['web-first-curve']) {
    const { printWebFirstCurve } = await import('./web-first-curve.mjs');
    printWebFirstCurve(results.scenarios['web-first-curve'], printTable);
  }
  if (results.scenarios['serve-load']) {
    const { printServeLoad } = await import('./serve-load.mjs');
    printServeLoad(results.scenarios['serve-load'], printTable);
  }
  if (results.scenarios['tracking-pyramid']) {
    const { printTrackingPyramid } = await import('./tracking-pyramid.mjs');
    printTrackingPyramid(results.scenarios['tracking-pyramid'], printTable);
  }
  if (results.scenarios['web-dashboard']) {
    const { printWebDashboard } = await import('./web-dashboard.mjs');
    printWebDashboard(results.scenarios['web-dashboard'], printTable);
  }
  for (const [name, printer] of [
    ['commit-write', 'printCommitWrite'],
    ['commit-tiny', 'printCommitTiny'],
    ['commit-compact', 'printCommitCompact'],
    ['commit-bind', 'printCommitBind'],
  ]) {
    if (results.scenarios[name])
      (await import('./commits.mjs'))[printer](results.scenarios[name], printTable);
  }
  if (results.scenarios['squiggle-write']) {
    const { printSquiggleWrite } = await import('./squiggle-write.mjs');
    printSquiggleWrite(results.scenarios['squiggle-write']);
  }
}

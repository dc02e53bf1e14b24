// The convert-csv scenario: a legacy CSV sweep (8 grids x 5 seeds, one params.json per grid
// directory, seed_<n>.csv files) converted into a lake by `convertCsvSweep` with jobs 1 and 2,
// incremental re-runs, and exp_engine's own design in Python (pd.read_csv + write_to_dataset,
// sequential and with a 2-process pool) on the same files.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { convertCsvSweep, gridRecord, openLake, quoteLiteral } from '../dist/index.js';
import { rng } from './data.mjs';
import { diskBytes, fmt, listFiles, median, progress, timed } from './lib.mjs';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.dirname(BENCH_DIR);
const OUT_DIR = path.join(BENCH_DIR, 'out');
const CSV_DIR = path.join(OUT_DIR, 'csv-sweep');
const WARMUP_DIR = path.join(OUT_DIR, 'csv-sweep-warmup');
const LAKES = {
  1: path.join(OUT_DIR, 'convert-lake-jobs1'),
  2: path.join(OUT_DIR, 'convert-lake-jobs2'),
};
const WARMUP_LAKE = path.join(OUT_DIR, 'convert-lake-warmup');
const PYTHON_OUT = path.join(OUT_DIR, 'convert-python');

/** The cap on the sweep's total rows (the scenario's default size): 100,000 rows per CSV. */
export const MAX_CONVERT_ROWS = 4_000_000;
export const CSV_GRID_COUNT = 8;
export const CSV_SEEDS = [1, 2, 3, 4, 5];
const OPS = ['insert', 'delete', 'query', 'update'];
const DUCKDB_CONFIG = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' };

/** 8 grids: algo/accountant/gamma_bar vary, as in an exp_engine sweep. No seed in the params. */
export function csvGrids() {
  return Array.from({ length: CSV_GRID_COUNT }, (_, index) => {
    const params = {
      algo: 'memorypair',
      accountant: index % 2 === 0 ? 'zcdp' : 'rdp',
      gamma_bar: [0.5, 1, 2, 4][index >> 1],
      lambda_: 0.01,
      stream: 'rotmnist',
    };
    // Not "gamma…": a directory named like exp_engine's grid directories (grid, split, gamma,
    // ratio) is read with exp_engine's rules, which also copy the params into every event row.
    // This scenario measures runlake's own layout (a params.json per run directory).
    const dirName = `${params.algo}_${params.accountant}_g${params.gamma_bar}`;
    return { index, params, dirName, gridId: gridRecord(params).grid_id };
  });
}

/** One seed's CSV: `event_id,op,regret,acc,step`, floats in JS shortest round-trip form. */
async function writeSeedCsv(file, rows, randomSeed) {
  const random = rng(randomSeed);
  const stream = createWriteStream(file);
  const closed = once(stream, 'close');
  let buffer = 'event_id,op,regret,acc,step\n';
  for (let eventId = 0; eventId < rows; eventId++) {
    const op = OPS[(random() * OPS.length) | 0];
    const u = random();
    buffer += `${eventId},${op},${u * u + 1e-9},${0.5 + 0.49 * random()},${eventId >> 2}\n`;
    if (buffer.length >= 1 << 20) {
      if (!stream.write(buffer)) await once(stream, 'drain');
      buffer = '';
    }
  }
  stream.write(buffer);
  stream.end();
  await closed;
}

/**
 * Writes the sweep under `dir` (replacing it): one directory per grid with its params.json and
 * `seed_<n>.csv` per seed. Returns the expected row count per `<grid_id>/<seed>`.
 */
async function generateCsvSweep(dir, grids, totalRows) {
  await rm(dir, { recursive: true, force: true });
  const inputs = grids.length * CSV_SEEDS.length;
  const base = Math.floor(totalRows / inputs);
  const extra = totalRows % inputs;
  const expected = new Map();
  for (const grid of grids) {
    const gridDir = path.join(dir, grid.dirName);
    await mkdir(gridDir, { recursive: true });
    await writeFile(path.join(gridDir, 'params.json'), `${JSON.stringify(grid.params, null, 2)}\n`);
    for (const [s, seed] of CSV_SEEDS.entries()) {
      const rows = base + (grid.index * CSV_SEEDS.length + s < extra ? 1 : 0);
      await writeSeedCsv(path.join(gridDir, `seed_${seed}.csv`), rows, 0xc5f0 + grid.index * 100 + seed);
      expected.set(`${grid.gridId}/${seed}`, rows);
    }
  }
  return expected;
}

async function countsViaLake(lakeDir) {
  const lake = await openLake(lakeDir);
  try {
    const rows = await lake.query('SELECT grid_id, seed, count(*) AS n FROM events GROUP BY ALL');
    return new Map(rows.map((r) => [`${r.grid_id}/${r.seed}`, Number(r.n)]));
  } finally {
    lake.close();
  }
}

async function countsViaParquet(dir) {
  const instance = await DuckDBInstance.create(':memory:', DUCKDB_CONFIG);
  const connection = await instance.connect();
  try {
    const glob = quoteLiteral(path.join(dir, '**', '*.parquet'));
    const reader = await connection.runAndReadAll(
      `SELECT grid_id, seed, count(*) AS n FROM read_parquet(${glob}, hive_partitioning = true, ` +
        "hive_types = {'grid_id': 'VARCHAR', 'seed': 'BIGINT'}) GROUP BY ALL",
    );
    return new Map(reader.getRowObjectsJS().map((r) => [`${r.grid_id}/${r.seed}`, Number(r.n)]));
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

function sameCounts(a, b) {
  if (a.size !== b.size) return false;
  for (const [key, n] of a) if (b.get(key) !== n) return false;
  return true;
}

const percent = (x) => `${(100 * x).toFixed(0)}%`;
const sum = (counts) => [...counts.values()].reduce((a, b) => a + b, 0);

async function convertFresh(jobs) {
  const lake = LAKES[jobs];
  await rm(lake, { recursive: true, force: true });
  // How busy the main thread was (event-loop utilization) and how many cores the process used:
  // with a busy main thread, jobs 2 has nothing to overlap.
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const { seconds, value } = await timed(() =>
    convertCsvSweep(CSV_DIR, lake, { granularity: 'event', jobs }),
  );
  const cpuUsed = process.cpuUsage(cpu);
  if (value.converted !== CSV_GRID_COUNT * CSV_SEEDS.length || value.skipped !== 0) {
    throw new Error(`jobs ${jobs}: converted ${value.converted}, skipped ${value.skipped}`);
  }
  return {
    seconds,
    converted: value.converted,
    rows: value.rows,
    files: value.files,
    mainThreadBusy: performance.eventLoopUtilization(elu).utilization,
    processCores: (cpuUsed.user + cpuUsed.system) / 1e6 / seconds,
    cpuSeconds: (cpuUsed.user + cpuUsed.system) / 1e6,
  };
}

export async function convertCsvScenario(options) {
  const totalRows = Math.min(options.rows, MAX_CONVERT_ROWS);
  const repeat = options.repeat ?? (totalRows >= 1_000_000 ? 1 : 3);
  const grids = csvGrids();
  const inputs = grids.length * CSV_SEEDS.length;

  progress(
    `convert-csv: generating ${fmt.int(totalRows)} rows as ${inputs} CSVs (${grids.length} grids x ${CSV_SEEDS.length} seeds) in ${path.relative(REPO_DIR, CSV_DIR)}`,
  );
  const generated = await timed(() => generateCsvSweep(CSV_DIR, grids, totalRows));
  const expected = generated.value;
  const csvBytes = diskBytes(CSV_DIR);
  progress(`  generated in ${fmt.seconds(generated.seconds)}, ${fmt.mib(csvBytes)} of CSV`);

  // Warm-up (not timed): the staging DuckDB instance, the JIT, the CSV reader.
  await generateCsvSweep(WARMUP_DIR, grids.slice(0, 2), 2 * CSV_SEEDS.length * 2_000);
  await rm(WARMUP_LAKE, { recursive: true, force: true });
  await convertCsvSweep(WARMUP_DIR, WARMUP_LAKE, { granularity: 'event', jobs: 2 });
  await rm(WARMUP_DIR, { recursive: true, force: true });
  await rm(WARMUP_LAKE, { recursive: true, force: true });

  // jobs 1 and jobs 2, each into a fresh lake; the order flips each round.
  const runs = { 1: [], 2: [] };
  for (let i = 0; i < repeat; i++) {
    for (const jobs of i % 2 === 0 ? [1, 2] : [2, 1]) {
      progress(`  [${i + 1}/${repeat}] runlake convertCsvSweep jobs ${jobs} into a fresh lake`);
      runs[jobs].push(await convertFresh(jobs));
      const last = runs[jobs].at(-1);
      progress(
        `    ${fmt.seconds(last.seconds)}; main thread busy ${percent(last.mainThreadBusy)}, ${last.processCores.toFixed(2)} cores`,
      );
    }
  }
  const jobs1 = median(runs[1].map((r) => r.seconds));
  const jobs2 = median(runs[2].map((r) => r.seconds));

  const counts1 = await countsViaLake(LAKES[1]);
  const counts2 = await countsViaLake(LAKES[2]);
  const check = {
    jobs1AllRows: sum(counts1) === totalRows && sameCounts(counts1, expected),
    jobs2AllRows: sum(counts2) === totalRows && sameCounts(counts2, expected),
    sameCountsJobs1Jobs2: sameCounts(counts1, counts2),
    partitions: counts2.size,
  };
  if (!check.jobs1AllRows || !check.jobs2AllRows || !check.sameCountsJobs1Jobs2) {
    progress('  WARNING: the two lakes do not hold the generated rows per (grid_id, seed)');
  }

  const jobs2Output = {
    files: listFiles(path.join(LAKES[2], 'events'), '.parquet').length,
    bytes: diskBytes(path.join(LAKES[2], 'events')),
  };

  // Incremental: nothing new (every input skipped), then one new CSV.
  progress('  incremental re-run on the jobs 2 lake (nothing new)');
  const noop = await timed(() => convertCsvSweep(CSV_DIR, LAKES[2], { granularity: 'event', jobs: 2 }));
  progress(
    `    ${fmt.seconds(noop.seconds)}: ${noop.value.converted} converted, ${noop.value.skipped} skipped`,
  );

  const newSeed = CSV_SEEDS.length + 1;
  const newRows = Math.floor(totalRows / inputs);
  const newFile = path.join(CSV_DIR, grids[0].dirName, `seed_${newSeed}.csv`);
  await writeSeedCsv(newFile, newRows, 0xc5f0 + 99_999);
  progress(`  incremental re-run after adding ${path.relative(CSV_DIR, newFile)} (${fmt.int(newRows)} rows)`);
  const oneNew = await timed(() => convertCsvSweep(CSV_DIR, LAKES[2], { granularity: 'event', jobs: 2 }));
  progress(
    `    ${fmt.seconds(oneNew.seconds)}: ${oneNew.value.converted} converted, ${oneNew.value.skipped} skipped`,
  );
  const countsAfter = await countsViaLake(LAKES[2]);
  check.incremental =
    noop.value.converted === 0 &&
    noop.value.skipped === inputs &&
    oneNew.value.converted === 1 &&
    oneNew.value.skipped === inputs &&
    sum(countsAfter) === totalRows + newRows &&
    countsAfter.get(`${grids[0].gridId}/${newSeed}`) === newRows;
  if (!check.incremental) progress('  WARNING: the incremental re-runs did not do what was expected');
  // The Python peer converts the same 40 CSVs as the timed runlake runs.
  await unlink(newFile);

  const python = await pythonPhase(repeat, expected);

  const scenario = {
    rows: totalRows,
    inputs,
    rowsPerInput: Math.floor(totalRows / inputs),
    repeat,
    csvBytes,
    generateSeconds: generated.seconds,
    runlake: {
      jobs1: {
        medianSeconds: jobs1,
        seconds: runs[1].map((r) => r.seconds),
        rowsPerSecond: totalRows / jobs1,
        mainThreadBusy: runs[1].map((r) => r.mainThreadBusy),
        processCores: runs[1].map((r) => r.processCores),
      },
      jobs2: {
        medianSeconds: jobs2,
        seconds: runs[2].map((r) => r.seconds),
        mainThreadBusy: runs[2].map((r) => r.mainThreadBusy),
        processCores: runs[2].map((r) => r.processCores),
        cpuSeconds: runs[2].map((r) => r.cpuSeconds),
        rowsPerSecond: totalRows / jobs2,
        ...jobs2Output,
      },
      speedupJobs2OverJobs1: jobs1 / jobs2,
      incrementalNothingNew: {
        seconds: noop.seconds,
        converted: noop.value.converted,
        skipped: noop.value.skipped,
        fractionOfConversion: noop.seconds / jobs2,
      },
      incrementalOneNew: {
        seconds: oneNew.seconds,
        rows: newRows,
        converted: oneNew.value.converted,
        skipped: oneNew.value.skipped,
        fractionOfConversion: oneNew.seconds / jobs2,
      },
    },
    python,
    check,
  };
  if (!python.skipped) {
    scenario.ratios = {
      // Throughput ratios: > 1 means runlake jobs 2 is faster.
      runlakeJobs2VsPythonSequential: python.sequential.medianSeconds / jobs2,
      runlakeJobs2VsPythonParallel: python.parallel.medianSeconds / jobs2,
    };
  }
  if (!options.keep) {
    for (const dir of [LAKES[1], LAKES[2], PYTHON_OUT]) await rm(dir, { recursive: true, force: true });
  }
  return scenario;
}

async function pythonPhase(repeat, expected) {
  const { checkPython, runCsvConvertPeer } = await import('./python-peer.mjs');
  const found = await checkPython();
  if (found.skipped) {
    progress(`  Python peer: skipped (${found.skipped})`);
    return { skipped: found.skipped };
  }
  const runs = { 1: [], 2: [] };
  for (let i = 0; i < repeat; i++) {
    for (const workers of i % 2 === 0 ? [1, 2] : [2, 1]) {
      progress(
        `  [${i + 1}/${repeat}] Python pd.read_csv + write_to_dataset, ${workers === 1 ? 'sequential' : `ProcessPoolExecutor(${workers})`}`,
      );
      const report = await runCsvConvertPeer(found.python, {
        root: CSV_DIR,
        out: PYTHON_OUT,
        workers,
      });
      if (report.skipped) {
        progress(`    skipped (${report.skipped})`);
        return { skipped: report.skipped };
      }
      progress(`    ${fmt.seconds(report.seconds)} (timed in Python)`);
      runs[workers].push(report);
    }
  }
  // The last run's output (parallel in odd rounds, sequential in even) is what is left to check.
  const counts = await countsViaParquet(PYTHON_OUT);
  const summary = (list) => {
    const seconds = median(list.map((r) => r.seconds));
    const medianRun = list.reduce(
      (best, r, i) => (Math.abs(r.seconds - seconds) < Math.abs(list[best].seconds - seconds) ? i : best),
      0,
    );
    return {
      medianSeconds: seconds,
      seconds: list.map((r) => r.seconds),
      cpuSeconds: list.map((r) => r.cpu_seconds),
      readCsvSeconds: list[medianRun].read_csv_seconds,
      attachSeconds: list[medianRun].attach_seconds,
      writeSeconds: list[medianRun].write_seconds,
    };
  };
  return {
    sequential: summary(runs[1]),
    parallel: { ...summary(runs[2]), workers: 2 },
    files: listFiles(PYTHON_OUT, '.parquet').length,
    bytes: diskBytes(PYTHON_OUT),
    sameCountsAsGenerated: sameCounts(counts, expected),
    versions: found.versions,
    python: found.python,
  };
}

/** Prints the scenario's table (called from run.mjs's printResults). */
export function printConvertCsv(c, printTable) {
  const r = c.runlake;
  const p = c.python;
  const rows = [
    [
      'runlake convertCsvSweep, jobs 1',
      fmt.seconds(r.jobs1.medianSeconds),
      fmt.rate(r.jobs1.rowsPerSecond),
      fmt.ratio(r.jobs2.medianSeconds / r.jobs1.medianSeconds),
      `${c.inputs} inputs converted; lake counts ${c.check.jobs1AllRows ? 'ok' : 'MISMATCH'}`,
    ],
    [
      'runlake convertCsvSweep, jobs 2',
      fmt.seconds(r.jobs2.medianSeconds),
      fmt.rate(r.jobs2.rowsPerSecond),
      '1.00',
      `speedup jobs2/jobs1 ${fmt.ratio(r.speedupJobs2OverJobs1)}; ${r.jobs2.files} files, ${fmt.mib(r.jobs2.bytes)}; ` +
        `counts ${c.check.jobs2AllRows ? 'ok' : 'MISMATCH'}, same as jobs 1: ${c.check.sameCountsJobs1Jobs2 ? 'yes' : 'NO'}`,
    ],
    [
      're-run, nothing new (jobs 2)',
      fmt.seconds(r.incrementalNothingNew.seconds),
      '',
      '',
      `${r.incrementalNothingNew.skipped} skipped = ${(100 * r.incrementalNothingNew.fractionOfConversion).toFixed(1)}% of the conversion`,
    ],
    [
      're-run, 1 new CSV (jobs 2)',
      fmt.seconds(r.incrementalOneNew.seconds),
      '',
      '',
      `${r.incrementalOneNew.converted} converted (${fmt.int(r.incrementalOneNew.rows)} rows), ${r.incrementalOneNew.skipped} skipped = ` +
        `${(100 * r.incrementalOneNew.fractionOfConversion).toFixed(1)}% of the conversion; check ${c.check.incremental ? 'ok' : 'FAILED'}`,
    ],
  ];
  if (p.skipped) {
    rows.push(['Python peer', '', '', '', `skipped: ${p.skipped}`]);
  } else {
    const py = (label, s, notes) => [
      label,
      fmt.seconds(s.medianSeconds),
      fmt.rate(c.rows / s.medianSeconds),
      fmt.ratio(r.jobs2.medianSeconds / s.medianSeconds),
      notes,
    ];
    rows.push(
      py(
        'Python read_csv + write_to_dataset, sequential',
        p.sequential,
        `runlake jobs 2 is ${fmt.ratio(c.ratios.runlakeJobs2VsPythonSequential)}x its throughput; ` +
          `read_csv ${fmt.seconds(p.sequential.readCsvSeconds)}, attach + from_pandas ${fmt.seconds(p.sequential.attachSeconds)}, write ${fmt.seconds(p.sequential.writeSeconds)}`,
      ),
      py(
        'Python, ProcessPoolExecutor(2)',
        p.parallel,
        `runlake jobs 2 is ${fmt.ratio(c.ratios.runlakeJobs2VsPythonParallel)}x its throughput; ` +
          `${p.files} files, ${fmt.mib(p.bytes)}; counts ${p.sameCountsAsGenerated ? 'ok' : 'MISMATCH'}`,
      ),
    );
  }
  printTable(
    `convert-csv (${fmt.int(c.rows)} rows in ${c.inputs} CSVs, ${fmt.mib(c.csvBytes)}; median of ${c.repeat}; ` +
      'vs jobs 2 = throughput / runlake jobs 2 throughput)',
    ['converter', 'time', 'rows/s', 'vs jobs 2', 'notes'],
    rows,
  );
  const busy = (j) =>
    `${j.mainThreadBusy.map(percent).join(', ')} (${j.processCores.map((x) => x.toFixed(2)).join(', ')} cores)`;
  console.log(
    `  info: main thread busy during the conversion: jobs 1 ${busy(r.jobs1)}; jobs 2 ${busy(r.jobs2)}`,
  );
  if (!p.skipped && r.jobs2.cpuSeconds && p.parallel.cpuSeconds?.every((x) => typeof x === 'number')) {
    // CPU time is what a loaded machine distorts least: with both converters keeping 2 cores
    // busy, it predicts their wall-time ratio on an idle machine.
    const cpu = (list) => median(list).toFixed(2);
    console.log(
      `  info: CPU seconds (median): runlake jobs 2 ${cpu(r.jobs2.cpuSeconds)}, Python pool ${cpu(p.parallel.cpuSeconds)}; ` +
        `pool / runlake ${fmt.ratio(median(p.parallel.cpuSeconds) / median(r.jobs2.cpuSeconds))}`,
    );
  }
  console.log(`  info: CSV generation ${fmt.seconds(c.generateSeconds)} (not timed)`);
}

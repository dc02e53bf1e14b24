// The squiggle-write scenario: what a typed, validated write costs. The same metrics_scalar rows
// (long-form training metrics of 20 runs) are written three ways, interleaved, median of K runs:
//   a. lake.write('metrics_scalar', rows): per-value type, enum and null checks against the schema,
//      files sorted by (metric_name, step), manifest, staging, atomic publish;
//   b. writeRows with an open-schema dataset of the same layout: the foundation's write path
//      (type inference, no schema checks, no sort), to isolate what the schema adds;
//   c. raw DuckDB: the rows appended through a data-chunk appender, then one partitioned zstd COPY
//      with the same ORDER BY, no validation at all (the reference).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { BIGINT, DOUBLE, DuckDBDataChunk, DuckDBInstance, VARCHAR } from '@duckdb/node-api';
import { defineDataset, openLake, t, writeRows } from '../dist/index.js';
import { fmt, median, printTable, progress, secondsSince } from './lib.mjs';

const RUNS = 20;
const METRICS = ['loss', 'grad_norm', 'lr', 'val_loss', 'tokens_per_sec'];
const CHUNK_ROWS = 2048;

function makeRows(count) {
  const rows = new Array(count);
  const perRun = Math.ceil(count / RUNS);
  for (let i = 0; i < count; i++) {
    const run = Math.floor(i / perRun);
    const within = i - run * perRun;
    const metric = METRICS[within % METRICS.length];
    rows[i] = {
      run_id: `run-${String(run).padStart(3, '0')}`,
      step: Math.floor(within / METRICS.length),
      metric_name: metric,
      value: Math.exp(-within / 1e5) + (i % 97) / 1000,
      split: metric === 'val_loss' ? 'val' : 'train',
    };
  }
  return rows;
}

const OPEN_METRICS = defineDataset({
  name: 'metrics_open',
  partitionBy: [{ name: 'run_id', type: t.string }],
});

async function writeTyped(rows, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  const lake = await openLake(dir, { schema: 'squiggle' });
  try {
    await lake.write('metrics_scalar', rows);
  } finally {
    lake.close();
  }
  return secondsSince(start);
}

async function writeOpen(rows, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  await writeRows(dir, OPEN_METRICS, rows);
  return secondsSince(start);
}

async function writeRaw(connection, rows, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  await connection.run(
    'CREATE OR REPLACE TABLE raw_metrics (run_id VARCHAR, step BIGINT, metric_name VARCHAR, value DOUBLE, split VARCHAR)',
  );
  const appender = await connection.createAppender('raw_metrics');
  const chunk = DuckDBDataChunk.create([VARCHAR, BIGINT, VARCHAR, DOUBLE, VARCHAR], CHUNK_ROWS);
  const columns = [
    (r) => r.run_id,
    (r) => BigInt(r.step),
    (r) => r.metric_name,
    (r) => r.value,
    (r) => r.split,
  ];
  for (let begin = 0; begin < rows.length; begin += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rows.length - begin);
    chunk.rowCount = count;
    for (let j = 0; j < columns.length; j++) {
      const vector = chunk.getColumnVector(j);
      for (let r = 0; r < count; r++) vector.setItem(r, columns[j](rows[begin + r]));
      vector.flush();
    }
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
  appender.closeSync();
  await connection.run(
    `COPY (SELECT * FROM raw_metrics ORDER BY metric_name, step) TO '${dir.replaceAll("'", "''")}' ` +
      "(FORMAT parquet, PARTITION_BY (run_id), COMPRESSION zstd, FILENAME_PATTERN 'part-{uuid}')",
  );
  await connection.run('DROP TABLE raw_metrics');
  return secondsSince(start);
}

/** Runs the scenario; returns the results object printed by {@link printSquiggleWrite}. */
export async function squiggleWriteScenario(options, outDir) {
  const count = Math.min(options.rows, 5_000_000);
  const repeat = options.repeat ?? 3;
  progress(
    `squiggle-write: ${fmt.int(count)} metrics_scalar rows, ${RUNS} runs, ${repeat} interleaved runs each`,
  );
  const rows = makeRows(count);
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  const times = { typed: [], open: [], raw: [] };
  try {
    for (let k = 0; k < repeat; k++) {
      times.typed.push(await writeTyped(rows, path.join(outDir, 'squiggle-typed')));
      times.open.push(await writeOpen(rows, path.join(outDir, 'squiggle-open')));
      times.raw.push(await writeRaw(connection, rows, path.join(outDir, 'squiggle-raw')));
      progress(
        `  [${k + 1}/${repeat}] typed ${fmt.seconds(times.typed[k])}, open ${fmt.seconds(times.open[k])}, raw ${fmt.seconds(times.raw[k])}`,
      );
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
    if (!options.keep) {
      for (const name of ['squiggle-typed', 'squiggle-open', 'squiggle-raw']) {
        await rm(path.join(outDir, name), { recursive: true, force: true });
      }
    }
  }
  const raw = median(times.raw);
  const row = (name, seconds, note) => ({
    name,
    seconds,
    rowsPerSecond: count / seconds,
    vsRaw: raw / seconds,
    note,
  });
  return {
    rows: count,
    repeat,
    peers: [
      row(
        'a. runlake lake.write (typed, validated, sorted)',
        median(times.typed),
        'schema checks + enum + sort',
      ),
      row('b. runlake writeRows, open schema', median(times.open), 'inferred types, no checks, unsorted'),
      row('c. raw DuckDB appender + sorted COPY', raw, 'reference: no validation'),
    ],
  };
}

/** Prints the scenario's table. */
export function printSquiggleWrite(result) {
  printTable(
    `squiggle-write (${fmt.int(result.rows)} metrics_scalar rows, ${RUNS} runs; median of ${result.repeat}; ratio = throughput / raw DuckDB throughput)`,
    ['peer', 'time', 'rows/s', 'vs raw', 'notes'],
    result.peers.map((p) => [
      p.name,
      fmt.seconds(p.seconds),
      fmt.rate(p.rowsPerSecond),
      p.vsRaw.toFixed(2),
      p.note,
    ]),
  );
}

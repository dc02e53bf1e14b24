// Query scenarios: runlake's views (openLake) against plain read_parquet in a bare DuckDB
// connection over the same files, and partition pruning of a single-grid filter.
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openLake } from '../dist/index.js';
import { listFiles, median, secondsSince } from './lib.mjs';

export const FILTERED_AGGREGATE =
  "SELECT seed, count(*) AS n, avg(regret) AS avg_regret, max(acc) AS max_acc FROM events WHERE op = 'insert' AND regret < 0.5 GROUP BY seed ORDER BY seed";

const plain = (value) => (typeof value === 'bigint' ? Number(value) : value);

async function rows(connection, sql) {
  const reader = await connection.runAndReadAll(sql);
  return reader
    .getRowObjectsJS()
    .map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
}

async function time(connection, sql) {
  const start = process.hrtime.bigint();
  const result = await rows(connection, sql);
  return { seconds: secondsSince(start), result };
}

/** A bare DuckDB connection with `events` as a view over plain `read_parquet`. */
async function openRaw(base) {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  const glob = path.join(path.resolve(base), 'events', '**', '*.parquet').replaceAll("'", "''");
  const source = `read_parquet('${glob}', hive_partitioning = true)`;
  return {
    connection,
    source,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Runs `a` and `b` once each to warm up, then `repeat` times each, interleaved (the order flips
 * every round so neither always runs on a cache the other just warmed). Returns the timings.
 */
async function interleaved(repeat, a, b) {
  const first = { a: await a(), b: await b() };
  const seconds = { a: [], b: [] };
  for (let i = 0; i < repeat; i++) {
    const order = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    for (const key of order) seconds[key].push((await (key === 'a' ? a : b)()).seconds);
  }
  return { first, seconds };
}

function sameResult(x, y) {
  const norm = (r) =>
    JSON.stringify(r, (_, v) =>
      typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(12)) : v,
    );
  return norm(x) === norm(y);
}

/** Scenario query-events: the filtered aggregate through the lake view vs raw read_parquet. */
export async function queryEvents(base, repeat) {
  const lake = await openLake(base);
  const raw = await openRaw(base);
  try {
    const rawSql = FILTERED_AGGREGATE.replace('FROM events', `FROM ${raw.source}`);
    const { first, seconds } = await interleaved(
      repeat,
      () => time(lake.connection, FILTERED_AGGREGATE),
      () => time(raw.connection, rawSql),
    );
    const view = median(seconds.a);
    const rawMedian = median(seconds.b);
    return {
      sql: FILTERED_AGGREGATE,
      rawSql,
      repeat,
      files: lake.datasets.get('events')?.fileCount,
      view: { medianSeconds: view, seconds: seconds.a, warmupSeconds: first.a.seconds },
      raw: { medianSeconds: rawMedian, seconds: seconds.b, warmupSeconds: first.b.seconds },
      ratioViewOverRaw: view / rawMedian,
      resultsMatch: sameResult(first.a.result, first.b.result),
      result: first.a.result,
    };
  } finally {
    raw.close();
    lake.close();
  }
}

/** Reads DuckDB 1.5's EXPLAIN ANALYZE text: `Scanning Files: k/n` and `Total Files Read: k`. */
export function parseFilesRead(explainText) {
  const scanning = /Scanning Files:\s*(\d+)\s*\/\s*(\d+)/.exec(explainText);
  const totalRead = /Total Files Read:\s*(\d+)/.exec(explainText);
  return {
    scanned: scanning ? Number(scanning[1]) : undefined,
    candidates: scanning ? Number(scanning[2]) : undefined,
    filesRead: totalRead ? Number(totalRead[1]) : undefined,
  };
}

async function explainAnalyze(connection, sql) {
  const reader = await connection.runAndReadAll(`EXPLAIN ANALYZE ${sql}`);
  return reader
    .getRows()
    .map((row) => String(row[1]))
    .join('\n');
}

/**
 * Scenario single-grid-pruning: `WHERE grid_id = '<id>'` through the view must open only that
 * grid's files. Compares the files DuckDB reports reading with the files under that grid's
 * directory and the whole dataset, and the time with the same aggregate over the whole lake.
 */
export async function singleGridPruning(base, gridId, repeat) {
  const eventsDir = path.join(path.resolve(base), 'events');
  const totalFiles = listFiles(eventsDir, '.parquet').length;
  const gridFiles = listFiles(path.join(eventsDir, `grid_id=${gridId}`), '.parquet').length;
  const gridSql = `SELECT count(*) AS n, avg(regret) AS avg_regret FROM events WHERE grid_id = '${gridId}'`;
  const fullSql = 'SELECT count(*) AS n, avg(regret) AS avg_regret FROM events';
  const lake = await openLake(base);
  const raw = await openRaw(base);
  try {
    const viewExplain = parseFilesRead(await explainAnalyze(lake.connection, gridSql));
    const rawExplain = parseFilesRead(
      await explainAnalyze(raw.connection, gridSql.replace('FROM events', `FROM ${raw.source}`)),
    );
    const fullExplain = parseFilesRead(await explainAnalyze(lake.connection, fullSql));
    const { first, seconds } = await interleaved(
      repeat,
      () => time(lake.connection, gridSql),
      () => time(lake.connection, fullSql),
    );
    const grid = median(seconds.a);
    const full = median(seconds.b);
    return {
      sql: gridSql,
      fullSql,
      repeat,
      gridId,
      totalFiles,
      gridFiles,
      view: viewExplain,
      raw: rawExplain,
      fullLake: fullExplain,
      prunedToGrid: viewExplain.filesRead === gridFiles && gridFiles > 0 && gridFiles < totalFiles,
      grid: { medianSeconds: grid, seconds: seconds.a, rows: first.a.result[0]?.n },
      full: { medianSeconds: full, seconds: seconds.b, rows: first.b.result[0]?.n },
      ratioGridOverFull: grid / full,
    };
  } finally {
    raw.close();
    lake.close();
  }
}

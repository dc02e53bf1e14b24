// The write paths the write-events scenario times, all starting from the same in-memory data (one
// array of row objects per grid, or the same values as columns): runlake from rows, from column
// objects and from Arrow tables, the raw DuckDB reference, JSONL and CSV.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { BIGINT, DOUBLE, DuckDBDataChunk, VARCHAR } from '@duckdb/node-api';
import { tableFromArrays } from 'apache-arrow';
import { writeEventRows } from '../dist/index.js';
import { secondsSince } from './lib.mjs';

/**
 * runlake: one `writeEventRows` call per grid (each call holds that grid's 5 seeds). `inputsByGrid`
 * holds each grid's rows, column object or Arrow table.
 */
export async function writeRunlake(grids, rowsByGrid, base) {
  await rm(base, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  const calls = [];
  for (const grid of grids) {
    const callStart = process.hrtime.bigint();
    const result = await writeEventRows(rowsByGrid[grid.index], base, grid.params);
    if (result.gridId !== grid.gridId) throw new Error(`grid id ${result.gridId} != ${grid.gridId}`);
    calls.push({
      gridId: result.gridId,
      rows: result.rowCount,
      files: result.files.length,
      seconds: secondsSince(callStart),
    });
  }
  return { seconds: secondsSince(start), calls };
}

/**
 * The rows of one grid as a column object, the shape a columnar producer holds (not timed):
 * `seed` and `step` as `Int32Array`, `event_id` as `BigInt64Array`, floats as `Float64Array`,
 * strings as a plain array. Integer typed arrays are BIGINT columns, as the rows' integers are.
 */
export function rowsToColumns(rows) {
  const n = rows.length;
  const seed = new Int32Array(n);
  const eventId = new BigInt64Array(n);
  const step = new Int32Array(n);
  const regret = new Float64Array(n);
  const acc = new Float64Array(n);
  const op = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    seed[i] = row.seed;
    eventId[i] = BigInt(row.event_id);
    op[i] = row.op;
    regret[i] = row.regret;
    acc[i] = row.acc;
    step[i] = row.step;
  }
  return { seed, event_id: eventId, op, regret, acc, step };
}

/** A column object as an Apache Arrow table (`op` becomes a dictionary column), not timed. */
export function columnsToArrow(columns) {
  return tableFromArrays(columns);
}

/** Rows `[start, end)` of a column object (typed arrays as views, no copy). */
export function sliceColumns(columns, start, end) {
  return Object.fromEntries(
    Object.entries(columns).map(([name, values]) => [
      name,
      ArrayBuffer.isView(values) ? values.subarray(start, end) : values.slice(start, end),
    ]),
  );
}

/**
 * Many small writes, as a tracking server flushes them: `batches` is a list of `{ grid, input }`
 * (each input one partition's next rows, as rows, a column object or an Arrow table), written in
 * order with one `writeEventRows` call each.
 */
export async function writeRunlakeBatches(batches, base) {
  await rm(base, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  let rows = 0;
  for (const { grid, input } of batches) {
    const result = await writeEventRows(input, base, grid.params);
    rows += result.rowCount;
  }
  return { seconds: secondsSince(start), calls: batches.length, rows };
}

/**
 * The raw reference in small batches: per batch, the rows appended to a fresh DuckDB table as in
 * {@link writeRawDuckDB}, then one partitioned COPY of that table (each COPY writes new files).
 */
export async function writeRawDuckDBBatches(connection, batches, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  let appendSeconds = 0;
  let copySeconds = 0;
  for (const { grid, input } of batches) {
    const grids = [{ ...grid, index: 0 }];
    const result = await writeRawDuckDB(connection, grids, [input], dir, { keepDir: true });
    appendSeconds += result.appendSeconds;
    copySeconds += result.copySeconds;
  }
  return { seconds: secondsSince(start), appendSeconds, copySeconds };
}

// DuckDB's vector size, as in src/lake/appender.ts.
const CHUNK_ROWS = 2048;
const toBigInt = (v) => (typeof v === 'bigint' ? v : BigInt(v));
const toNumber = (v) => (typeof v === 'number' ? v : Number(v));
const asIs = (v) => v;

/**
 * The reference: the same JS rows appended to one DuckDB table through a DuckDBDataChunk appender
 * (the loop of src/lake/appender.ts, with hand-written column accessors and `grid_id` as a column),
 * then one partitioned zstd COPY into the same Hive layout. No validation, no type inference, no
 * manifest, no staging, no params.json.
 */
export async function writeRawDuckDB(connection, grids, rowsByGrid, dir, { keepDir = false } = {}) {
  if (!keepDir) await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  await connection.run(
    'CREATE OR REPLACE TABLE raw_events (grid_id VARCHAR, seed BIGINT, event_id BIGINT, op VARCHAR, ' +
      'regret DOUBLE, acc DOUBLE, step BIGINT)',
  );
  const appender = await connection.createAppender('raw_events');
  try {
    const chunk = DuckDBDataChunk.create(
      [VARCHAR, BIGINT, BIGINT, VARCHAR, DOUBLE, DOUBLE, BIGINT],
      CHUNK_ROWS,
    );
    for (const grid of grids) {
      const rows = rowsByGrid[grid.index];
      const { gridId } = grid;
      const columns = [
        { valueAt: () => gridId, convert: asIs },
        { valueAt: (r) => rows[r].seed, convert: toBigInt },
        { valueAt: (r) => rows[r].event_id, convert: toBigInt },
        { valueAt: (r) => rows[r].op, convert: asIs },
        { valueAt: (r) => rows[r].regret, convert: toNumber },
        { valueAt: (r) => rows[r].acc, convert: toNumber },
        { valueAt: (r) => rows[r].step, convert: toBigInt },
      ];
      for (let begin = 0; begin < rows.length; begin += CHUNK_ROWS) {
        const count = Math.min(CHUNK_ROWS, rows.length - begin);
        chunk.rowCount = count;
        for (let j = 0; j < columns.length; j++) {
          const vector = chunk.getColumnVector(j);
          const { valueAt, convert } = columns[j];
          for (let r = 0; r < count; r++) {
            const value = valueAt(begin + r);
            vector.setItem(r, value === undefined || value === null ? null : convert(value));
          }
          vector.flush();
        }
        appender.appendDataChunk(chunk);
      }
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
  const appendSeconds = secondsSince(start);
  const copyStart = process.hrtime.bigint();
  await connection.run(
    `COPY raw_events TO '${dir.replaceAll("'", "''")}' ` +
      "(FORMAT parquet, PARTITION_BY (grid_id, seed), COMPRESSION zstd, FILENAME_PATTERN 'part-{uuid}'" +
      `${keepDir ? ', APPEND' : ''})`,
  );
  const copySeconds = secondsSince(copyStart);
  await connection.run('DROP TABLE raw_events');
  return { seconds: secondsSince(start), appendSeconds, copySeconds };
}

const FLUSH_CHARS = 1 << 20;

async function writeLines(file, rows, header, toLine) {
  const stream = createWriteStream(file);
  const closed = once(stream, 'close');
  let buffer = header;
  for (let r = 0; r < rows.length; r++) {
    buffer += toLine(rows[r]);
    if (buffer.length >= FLUSH_CHARS) {
      if (!stream.write(buffer)) await once(stream, 'drain');
      buffer = '';
    }
  }
  if (buffer) stream.write(buffer);
  stream.end();
  await closed;
}

/** JSON lines, one file per grid (`<dir>/grid_id=<id>.jsonl`): `JSON.stringify` per row. */
export async function writeJsonl(grids, rowsByGrid, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  await mkdir(dir, { recursive: true });
  for (const grid of grids) {
    await writeLines(
      path.join(dir, `grid_id=${grid.gridId}.jsonl`),
      rowsByGrid[grid.index],
      '',
      (row) => `${JSON.stringify(row)}\n`,
    );
  }
  return { seconds: secondsSince(start) };
}

/** CSV, one file per grid, lines joined by hand (the values need no quoting). */
export async function writeCsv(grids, rowsByGrid, dir) {
  await rm(dir, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  await mkdir(dir, { recursive: true });
  for (const grid of grids) {
    await writeLines(
      path.join(dir, `grid_id=${grid.gridId}.csv`),
      rowsByGrid[grid.index],
      'seed,event_id,op,regret,acc,step\n',
      (row) => `${row.seed},${row.event_id},${row.op},${row.regret},${row.acc},${row.step}\n`,
    );
  }
  return { seconds: secondsSince(start) };
}

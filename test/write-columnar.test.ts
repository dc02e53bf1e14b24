// Columnar writes (column objects and Apache Arrow tables) against the row path: the same data
// through each must give the same lake (values, types, nulls, partitions, manifest), and bad input
// the same one-line error, leaving the lake byte-identical.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  Bool,
  type DataType,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  makeData,
  makeVector,
  Null,
  type RecordBatch,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  tableFromArrays,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINTS,
  type ColumnObject,
  defineDataset,
  EVENTS_DATASET,
  lakePaths,
  METRICS_SCALAR,
  openLake,
  type Row,
  RowValidationError,
  t,
  type WriteInput,
  writeEventRows,
  writeRows,
  writeSeedRows,
} from '../src/index.js';
import { listFiles, tempDir } from './helpers/lake-fixtures.js';

const params = { algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 };

/** Every row of a dataset with each column's type, in a stable order, through the lake's view. */
async function contents(base: string, dataset: string, order: string) {
  const lake = await openLake(base);
  try {
    const rows = await lake.query(`SELECT * FROM ${dataset} ORDER BY ${order}`);
    const types = await lake.query(`SELECT column_name, column_type FROM (DESCRIBE ${dataset}) ORDER BY 1`);
    return { rows, types };
  } finally {
    lake.close();
  }
}

/** What the Parquet files themselves hold, read without the view: per-file schemas and row counts. */
async function files(base: string, dataset: string) {
  const lake = await openLake(base);
  try {
    const root = path.join(base, dataset).replaceAll("'", "''");
    const schema = await lake.query(
      `SELECT regexp_replace(file_name, '^.*/${dataset}/|part-[^/]*$', '', 'g') AS dir, name, type, converted_type
       FROM parquet_schema('${root}/**/*.parquet') ORDER BY 1, 2`,
    );
    const counts = await lake.query(
      `SELECT regexp_replace(filename, '^.*/${dataset}/|part-[^/]*$', '', 'g') AS dir, count(*) AS n
       FROM read_parquet('${root}/**/*.parquet', filename = true) GROUP BY 1 ORDER BY 1`,
    );
    return { schema, counts };
  } finally {
    lake.close();
  }
}

function manifest(base: string, dataset: string): unknown {
  return JSON.parse(readFileSync(lakePaths(base).manifest(dataset), 'utf8'));
}

/** Every file under a lake with a hash of its bytes. */
function snapshot(base: string): Record<string, string> {
  return Object.fromEntries(
    listFiles(base).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(path.join(base, f)))
        .digest('hex'),
    ]),
  );
}

/** Writes the same data through rows and each columnar form; returns their lake directories. */
async function writeEach(
  inputs: Record<string, WriteInput>,
  write: (input: WriteInput, base: string) => Promise<unknown>,
): Promise<Record<string, string>> {
  const bases: Record<string, string> = {};
  for (const [name, input] of Object.entries(inputs)) {
    bases[name] = tempDir(`runlake-columnar-${name}-`);
    await write(input, bases[name]);
  }
  return bases;
}

async function expectSameLakes(bases: Record<string, string>, dataset: string, order: string) {
  const [first, ...others] = Object.entries(bases);
  const [, reference] = first as [string, string];
  const expected = await contents(reference, dataset, order);
  const expectedFiles = await files(reference, dataset);
  expect(expected.rows.length).toBeGreaterThan(0);
  for (const [name, base] of others) {
    expect({ name, ...(await contents(base, dataset, order)) }).toEqual({ name, ...expected });
    expect({ name, ...(await files(base, dataset)) }).toEqual({ name, ...expectedFiles });
    expect({ name, manifest: manifest(base, dataset) }).toEqual({
      name,
      manifest: manifest(reference, dataset),
    });
  }
  return expected;
}

// Event rows with two seeds, nulls, NaN and integers; the same data as rows, columns and Arrow.
const n = 9;
const seeds = Array.from({ length: n }, (_, i) => 1 + (i % 2));
const eventIds = Array.from({ length: n }, (_, i) => i);
const ops = Array.from({ length: n }, (_, i) => (i === 4 ? null : ['insert', 'delete', 'query'][i % 3]));
const regrets = Array.from({ length: n }, (_, i) => (i === 3 ? Number.NaN : i / 7));
const accs = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? null : 0.5 + i / 100));
const eventRows: Row[] = seeds.map((seed, i) => ({
  seed,
  event_id: eventIds[i],
  op: ops[i],
  regret: regrets[i],
  acc: accs[i],
}));

describe('writeEventRows: rows, column objects and Arrow write the same lake', () => {
  it('gives the same values, types, nulls, partitions, files and manifest', async () => {
    const columns: ColumnObject = {
      seed: new Int32Array(seeds),
      event_id: new BigInt64Array(eventIds.map(BigInt)),
      op: ops,
      regret: new Float64Array(regrets),
      acc: accs,
    };
    const arrow = new Table({
      seed: vectorFromArray(seeds.map(BigInt), new Int64()),
      event_id: vectorFromArray(eventIds, new Int32()),
      op: vectorFromArray(ops, new Utf8()),
      regret: vectorFromArray(regrets, new Float64()),
      acc: vectorFromArray(accs, new Float64()),
    });
    const bases = await writeEach(
      {
        rows: eventRows,
        columns,
        plainArrays: { seed: seeds, event_id: eventIds, op: ops, regret: regrets, acc: accs },
        arrow,
        arrowDictionary: new Table({
          seed: vectorFromArray(new BigInt64Array(seeds.map(BigInt))),
          event_id: vectorFromArray(new BigInt64Array(eventIds.map(BigInt))),
          op: vectorFromArray(ops),
          regret: vectorFromArray(new Float64Array(regrets)),
          acc: vectorFromArray(accs, new Float64()),
        }),
        recordBatch: arrow.batches[0] as RecordBatch,
      },
      (input, base) => writeEventRows(input, base, params),
    );
    const { rows, types } = await expectSameLakes(bases, 'events', 'seed, event_id');
    expect(types).toEqual([
      { column_name: 'acc', column_type: 'DOUBLE' },
      { column_name: 'cum_regret', column_type: 'DOUBLE' },
      { column_name: 'event_id', column_type: 'BIGINT' },
      { column_name: 'grid_id', column_type: 'VARCHAR' },
      { column_name: 'op', column_type: 'VARCHAR' },
      { column_name: 'regret', column_type: 'DOUBLE' },
      { column_name: 'seed', column_type: 'BIGINT' },
    ]);
    // Nulls stay nulls, NaN stays NaN, the regret fill ran.
    const byId = new Map(rows.map((r) => [r.event_id, r]));
    expect(byId.get(4)?.op).toBeNull();
    expect(byId.get(0)?.acc).toBeNull();
    expect(Number.isNaN(byId.get(3)?.regret)).toBe(true);
    expect(byId.get(5)?.cum_regret).toBe(5 / 7);
    expect(listFiles(path.join(bases.columns as string, 'events')).map((f) => path.dirname(f))).toHaveLength(
      2,
    );
  });

  it('writes a column object with many small batches as many files, as rows do', async () => {
    const rowsBase = tempDir();
    const columnsBase = tempDir();
    for (let call = 0; call < 5; call++) {
      const slice = eventRows.slice(call, call + 3);
      await writeEventRows(slice, rowsBase, params);
      await writeEventRows(
        {
          seed: slice.map((r) => r.seed),
          event_id: new Float64Array(slice.map((r) => r.event_id as number)),
          op: slice.map((r) => r.op),
          regret: new Float64Array(slice.map((r) => r.regret as number)),
          acc: slice.map((r) => r.acc),
        },
        columnsBase,
        params,
      );
    }
    const a = await contents(rowsBase, 'events', 'seed, event_id, regret');
    const b = await contents(columnsBase, 'events', 'seed, event_id, regret');
    // A Float64Array fixes its column as DOUBLE even when its values are integral (a row's
    // integral number is BIGINT): the manifest widens event_id, the values stay the same.
    expect(b.types.find((c) => c.column_name === 'event_id')?.column_type).toBe('DOUBLE');
    expect(b.rows).toEqual(a.rows);
  });
});

describe('writeSeedRows takes columns too', () => {
  it('gives the same seeds lake as rows', async () => {
    const bases = await writeEach(
      {
        rows: [
          { seed: 1, avg_regret_empirical: 0.12, n_events: 10 },
          { seed: 2, avg_regret_empirical: 0.1, n_events: 12 },
        ],
        columns: {
          seed: new Int32Array([1, 2]),
          avg_regret_empirical: new Float64Array([0.12, 0.1]),
          n_events: [10, 12],
        },
      },
      (input, base) => writeSeedRows(input, base, params),
    );
    await expectSameLakes(bases, 'seeds', 'seed');
  });
});

describe('open datasets: inference per column follows the row rules', () => {
  const OPEN = defineDataset({ name: 'open', partitionBy: [{ name: 'run', type: t.string }] });
  const when = [new Date('2024-01-02T03:04:05.678Z'), null, new Date('2025-06-07T08:09:10.000Z')];
  const data = {
    run: ['a', 'b', 'a'],
    ints: [1, 2, 3],
    mixed: [1, 2.5, null],
    big: [1n, 2n ** 60n, null],
    flag: [true, null, false],
    text: ['x', 'y', 'x'],
    when,
    tags: [['a', 'b'], [], null],
    point: [{ x: 1, y: 'p' }, null, { x: 3, y: 'q' }],
    allNull: [null, null, null],
  };
  const rows: Row[] = data.run.map((_, i) =>
    Object.fromEntries(Object.entries(data).map(([k, v]) => [k, (v as unknown[])[i]])),
  );

  it('rows, plain arrays and Arrow give the same lake', async () => {
    const arrow = new Table({
      run: vectorFromArray(data.run, new Utf8()),
      ints: vectorFromArray(data.ints.map(BigInt), new Int64()),
      mixed: vectorFromArray(data.mixed, new Float64()),
      big: vectorFromArray(data.big, new Int64()),
      flag: vectorFromArray(data.flag, new Bool()),
      text: vectorFromArray(data.text, new Utf8()),
      when: vectorFromArray(when, new TimestampMillisecond()),
      tags: vectorFromArray(data.tags, new List(new Field('item', new Utf8(), true))),
      point: vectorFromArray(
        data.point,
        new Struct([new Field('x', new Float64(), true), new Field('y', new Utf8(), true)]),
      ),
      allNull: vectorFromArray([null, null, null], new Null()),
    });
    const bases = await writeEach({ rows, columns: data, arrow }, (input, base) =>
      writeRows(base, OPEN, input),
    );
    const { types } = await expectSameLakes(bases, 'open', 'ints');
    expect(Object.fromEntries(types.map((c) => [c.column_name, c.column_type]))).toEqual({
      run: 'VARCHAR',
      ints: 'BIGINT',
      mixed: 'DOUBLE',
      big: 'BIGINT',
      flag: 'BOOLEAN',
      text: 'VARCHAR',
      when: 'TIMESTAMP WITH TIME ZONE',
      tags: 'VARCHAR[]',
      point: 'STRUCT(x BIGINT, y VARCHAR)',
      allNull: 'INTEGER', // null in every row: in no file, typed by the view
    });
  });

  it('float32Columns applies to columns as to rows', async () => {
    const bases = await writeEach(
      { rows, columns: { run: data.run, mixed: new Float64Array([1, 2.5, 3]) } },
      (input, base) =>
        writeRows(
          base,
          OPEN,
          Array.isArray(input) ? input.map((r) => ({ run: r.run, mixed: r.mixed ?? 3 })) : input,
          {
            float32Columns: ['mixed'],
          },
        ),
    );
    const { types } = await expectSameLakes(bases, 'open', 'mixed');
    expect(types.find((c) => c.column_name === 'mixed')?.column_type).toBe('FLOAT');
  });
});

describe('batches over many data chunks', () => {
  it('nulls across chunk boundaries, a dictionary too large for an ENUM, bigints past 2^53', async () => {
    const OPEN = defineDataset({ name: 'wide', partitionBy: [{ name: 'part', type: t.int64 }] });
    const count = 60_000; // > 2048-row chunks, and more distinct strings than an ENUM is given
    const column = <T>(make: (i: number) => T) => Array.from({ length: count }, (_, i) => make(i));
    const data = {
      part: column((i) => i % 3),
      unique: column((i) => (i % 7 === 0 ? null : `name-${i}`)),
      few: column((i) => (i % 2049 === 0 ? null : ['a', 'b', 'c'][i % 3])),
      big: column((i) => (i % 5 === 0 ? null : 2n ** 60n + BigInt(i))),
      flag: column((i) => (i % 11 === 0 ? null : i % 2 === 0)),
      value: column((i) => (i % 4097 === 0 ? null : i / 3)),
      // Integers are staged as 32-bit when all of them fit: the int32 limits, and one past them.
      fits: column((i) => (i % 13 === 0 ? null : i % 2 === 0 ? 2147483647 : -2147483648)),
      past: column((i) => (i === count - 1 ? 2147483648 : -2147483648)),
    };
    const rows: Row[] = data.part.map((_, i) =>
      Object.fromEntries(Object.entries(data).map(([k, v]) => [k, (v as unknown[])[i]])),
    );
    const arrow = new Table({
      part: vectorFromArray(new BigInt64Array(data.part.map(BigInt))),
      unique: vectorFromArray(data.unique, new Utf8()),
      few: vectorFromArray(data.few),
      big: vectorFromArray(data.big, new Int64()),
      flag: vectorFromArray(data.flag, new Bool()),
      value: vectorFromArray(data.value, new Float64()),
      fits: vectorFromArray(
        data.fits.map((v) => (v === null ? null : BigInt(v))),
        new Int64(),
      ),
      past: vectorFromArray(data.past.map(BigInt), new Int64()),
    });
    const bases = await writeEach({ rows, columns: data, arrow }, (input, base) =>
      writeRows(base, OPEN, input),
    );
    const { rows: read, types } = await expectSameLakes(
      bases,
      'wide',
      'value NULLS FIRST, "unique" NULLS FIRST, big NULLS FIRST',
    );
    expect(read).toHaveLength(count);
    expect(Object.fromEntries(types.map((c) => [c.column_name, c.column_type]))).toEqual({
      part: 'BIGINT',
      unique: 'VARCHAR',
      few: 'VARCHAR',
      big: 'BIGINT',
      flag: 'BOOLEAN',
      value: 'DOUBLE',
      fits: 'BIGINT',
      past: 'BIGINT',
    });
    const lake = await openLake(bases.columns as string);
    try {
      expect(
        await lake.query(
          'SELECT count("unique") AS u, count(few) AS f, count(big) AS b, count(flag) AS g, count(value) AS v, max(big) AS m, ' +
            'min(fits) AS f0, max(fits) AS f1, count(fits) AS fn, min(past) AS p0, max(past) AS p1 FROM wide',
        ),
      ).toEqual([
        {
          u: 51_428,
          f: 59_970,
          b: 48_000,
          g: 54_545,
          v: 59_985,
          m: String(2n ** 60n + 59_999n),
          f0: -2147483648,
          f1: 2147483647,
          fn: 55_384,
          p0: -2147483648,
          p1: 2147483648,
        },
      ]);
    } finally {
      lake.close();
    }
  });
});

describe('Arrow timestamps are staged as microseconds, without a Date per value', () => {
  it('every unit, nulls and sub-millisecond precision over several data chunks', async () => {
    const n = 5000;
    const micros = (i: number) => 1_733_400_000_000_000n + BigInt(i) * 1_234_567n; // µs, not whole ms
    const valid = (i: number) => i % 7 !== 3;
    const column = (type: DataType, scale: (us: bigint) => bigint) =>
      makeVector(
        makeData({
          type: type as TimestampMicrosecond,
          length: n,
          nullCount: Array.from({ length: n }, (_, i) => i).filter((i) => !valid(i)).length,
          nullBitmap: Uint8Array.from({ length: (n + 7) >> 3 }, (_, byte) => {
            let bits = 0;
            for (let b = 0; b < 8; b++) if (byte * 8 + b < n && valid(byte * 8 + b)) bits |= 1 << b;
            return bits;
          }),
          data: BigInt64Array.from({ length: n }, (_, i) => scale(micros(i))),
        }),
      );
    const table = new Table({
      i: vectorFromArray(Int32Array.from({ length: n }, (_, i) => i)),
      us: column(new TimestampMicrosecond('UTC'), (us) => us),
      ns: column(new TimestampNanosecond(), (us) => us * 1000n + 999n),
      ms: column(new TimestampMillisecond(), (us) => us / 1000n),
      s: column(new TimestampSecond(), (us) => us / 1_000_000n),
    });
    const base = tempDir();
    await writeRows(base, defineDataset({ name: 'times', partitionBy: [] }), table);
    const lake = await openLake(base);
    const rows = await lake.query(
      'SELECT i, epoch_us(us) AS us, epoch_us(ns) AS ns, epoch_us(ms) AS ms, epoch_us(s) AS s, typeof(us) AS type FROM times ORDER BY i',
    );
    lake.close();
    expect(rows).toHaveLength(n);
    for (const row of rows) {
      const i = row.i as number;
      const us = micros(i);
      const expected = valid(i)
        ? {
            us: Number(us),
            ns: Number(us),
            ms: Number((us / 1000n) * 1000n),
            s: Number((us / 1_000_000n) * 1_000_000n),
          }
        : { us: null, ns: null, ms: null, s: null };
      expect({ us: row.us, ns: row.ns, ms: row.ms, s: row.s }, `row ${i}`).toEqual(expected);
      expect(row.type).toBe('TIMESTAMP WITH TIME ZONE');
    }
  });
});

describe('typed datasets: declared types, enums, row checks and sort order', () => {
  const wall = [
    new Date('2024-01-01T00:00:00Z'),
    new Date('2024-01-01T00:01:00Z'),
    null,
    new Date('2024-01-01T00:03:00Z'),
  ];
  const checkpointRows: Row[] = [0, 1, 2, 3].map((i) => ({
    run_id: i < 2 ? 'r1' : 'r2',
    step: 100 - i * 10,
    tokens_seen: i * 1000,
    epoch: i / 3,
    has_weights: i % 2 === 0,
    checkpoint_uri: i === 1 ? null : `s3://b/${i}`,
    wall_time: wall[i],
  }));

  it('checkpoints: rows, column objects and Arrow give the same lake', async () => {
    const columns: ColumnObject = {
      run_id: checkpointRows.map((r) => r.run_id),
      step: new Float64Array(checkpointRows.map((r) => r.step as number)),
      tokens_seen: new Int32Array(checkpointRows.map((r) => r.tokens_seen as number)),
      epoch: new Float64Array(checkpointRows.map((r) => r.epoch as number)),
      has_weights: checkpointRows.map((r) => r.has_weights),
      checkpoint_uri: checkpointRows.map((r) => r.checkpoint_uri),
      wall_time: wall,
    };
    const arrow = new Table({
      run_id: vectorFromArray(checkpointRows.map((r) => r.run_id as string)),
      step: vectorFromArray(new BigInt64Array(checkpointRows.map((r) => BigInt(r.step as number)))),
      tokens_seen: vectorFromArray(new Int32Array(checkpointRows.map((r) => r.tokens_seen as number))),
      epoch: vectorFromArray(new Float64Array(checkpointRows.map((r) => r.epoch as number))),
      has_weights: vectorFromArray(
        checkpointRows.map((r) => r.has_weights as boolean),
        new Bool(),
      ),
      checkpoint_uri: vectorFromArray(
        checkpointRows.map((r) => r.checkpoint_uri as string | null),
        new Utf8(),
      ),
      wall_time: vectorFromArray(wall, new TimestampMillisecond()),
    });
    const bases = await writeEach({ rows: checkpointRows, columns, arrow }, (input, base) =>
      writeRows(base, CHECKPOINTS, input),
    );
    const { types } = await expectSameLakes(bases, 'checkpoints', 'run_id, step');
    expect(Object.fromEntries(types.map((c) => [c.column_name, c.column_type]))).toMatchObject({
      step: 'BIGINT',
      tokens_seen: 'BIGINT',
      epoch: 'DOUBLE',
      has_weights: 'BOOLEAN',
      wall_time: 'TIMESTAMP WITH TIME ZONE',
      learning_rate: 'DOUBLE',
    });
  });

  it('a declared column null in every row is written typed, as rows write it', async () => {
    const bases = await writeEach(
      {
        rows: [
          { run_id: 'r1', step: 1, checkpoint_uri: null, has_weights: null },
          { run_id: 'r1', step: 2, checkpoint_uri: null, has_weights: null },
        ],
        columns: {
          run_id: ['r1', 'r1'],
          step: new Int32Array([1, 2]),
          checkpoint_uri: [null, null],
          has_weights: [null, undefined],
        },
        arrow: new Table({
          run_id: vectorFromArray(['r1', 'r1']),
          step: vectorFromArray(new Int32Array([1, 2])),
          checkpoint_uri: vectorFromArray([null, null], new Utf8()),
          has_weights: vectorFromArray([null, null], new Bool()),
        }),
      },
      (input, base) => writeRows(base, CHECKPOINTS, input),
    );
    const { rows } = await expectSameLakes(bases, 'checkpoints', 'step');
    expect(rows.map((r) => [r.checkpoint_uri, r.has_weights])).toEqual([
      [null, null],
      [null, null],
    ]);
  });

  it('metrics_scalar through lake.write: enum values recorded, files sorted as declared', async () => {
    const rows: Row[] = [
      { run_id: 'r1', step: 2, metric_name: 'loss', value: 2.5, split: 'train' },
      { run_id: 'r1', step: 1, metric_name: 'loss', value: Number.POSITIVE_INFINITY, split: 'val' },
      { run_id: 'r1', step: 1, metric_name: 'acc', value: Number.NaN, split: null },
    ];
    const arrow = new Table({
      run_id: vectorFromArray(['r1', 'r1', 'r1']),
      step: vectorFromArray(new BigInt64Array([2n, 1n, 1n])),
      metric_name: vectorFromArray(['loss', 'loss', 'acc']),
      value: vectorFromArray(new Float64Array([2.5, Number.POSITIVE_INFINITY, Number.NaN])),
      split: vectorFromArray(['train', 'val', null], new Utf8()),
    });
    const bases = await writeEach(
      {
        rows,
        columns: {
          run_id: ['r1', 'r1', 'r1'],
          step: [2, 1, 1],
          metric_name: ['loss', 'loss', 'acc'],
          value: [2.5, Number.POSITIVE_INFINITY, Number.NaN],
          split: ['train', 'val', null],
        },
        arrow,
      },
      async (input, base) => {
        const lake = await openLake(base, { schema: 'squiggle' });
        try {
          await lake.write('metrics_scalar', input);
        } finally {
          lake.close();
        }
      },
    );
    // File order (no ORDER BY): sorted by (metric_name, step) in every variant.
    for (const base of Object.values(bases)) {
      const lake = await openLake(base);
      try {
        const glob = path.join(base, 'metrics_scalar', '**', '*.parquet').replaceAll("'", "''");
        const order = await lake.query(`SELECT metric_name, step FROM read_parquet('${glob}')`);
        expect(order).toEqual([
          { metric_name: 'acc', step: 1 },
          { metric_name: 'loss', step: 1 },
          { metric_name: 'loss', step: 2 },
        ]);
      } finally {
        lake.close();
      }
    }
    await expectSameLakes(bases, 'metrics_scalar', 'metric_name, step');
    expect(METRICS_SCALAR.sortBy).toEqual(['metric_name', 'step']);
  });
});

describe('bad input: the same one-line error as rows, and the lake untouched', () => {
  /**
   * Writes good data first, then the bad input as rows and as each columnar form: every form must
   * throw a RowValidationError with the rows' message, and leave every file byte-identical.
   */
  async function expectRefused(
    bad: Record<string, WriteInput>,
    write: (input: WriteInput, base: string) => Promise<unknown>,
    good: WriteInput,
    message: string | RegExp,
  ) {
    const base = tempDir();
    await write(good, base);
    const before = snapshot(base);
    const messages: Record<string, string> = {};
    for (const [name, input] of Object.entries(bad)) {
      const error = await write(input, base).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(RowValidationError);
      messages[name] = (error as Error).message;
      expect(messages[name], name).not.toContain('\n');
      expect(snapshot(base), name).toEqual(before);
    }
    for (const text of Object.values(messages)) expect(text).toMatch(message);
    expect(new Set(Object.values(messages)).size, JSON.stringify(messages)).toBe(1);
  }

  const writeEvents = (input: WriteInput, base: string) => writeEventRows(input, base, params);
  const writeCheckpoints = (input: WriteInput, base: string) => writeRows(base, CHECKPOINTS, input);
  const goodCheckpoint: Row[] = [{ run_id: 'r1', step: 1 }];

  it('columns of different lengths name the short column and its first missing row', async () => {
    const base = tempDir();
    await writeEvents(eventRows, base);
    const before = snapshot(base);
    await expect(
      writeEvents({ seed: [1, 1, 1], event_id: new Float64Array(3), regret: new Float64Array(2) }, base),
    ).rejects.toThrow('events: row 2, column "regret": column has 2 values but column "seed" has 3');
    await expect(writeEvents({ seed: [1], op: 'insert' as never }, base)).rejects.toThrow(
      'events: row 0, column "op": column values are a string, not an array or a typed array',
    );
    expect(snapshot(base)).toEqual(before);
  });

  it('a value whose type conflicts with earlier rows (open dataset)', async () => {
    await expectRefused(
      {
        rows: [
          { seed: 1, x: 1 },
          { seed: 1, x: 2 },
          { seed: 1, x: 'three' },
        ],
        columns: { seed: [1, 1, 1], x: [1, 2, 'three'] },
      },
      writeEvents,
      eventRows,
      'events: row 2, column "x": "three" is VARCHAR, but earlier rows (from row 0) hold BIGINT',
    );
  });

  it('a number after strings in a plain array (checked while the strings are encoded)', async () => {
    await expectRefused(
      {
        rows: [
          { seed: 1, x: 'one' },
          { seed: 1, x: null },
          { seed: 1, x: 3 },
        ],
        columns: { seed: [1, 1, 1], x: ['one', null, 3] },
      },
      writeEvents,
      eventRows,
      'events: row 2, column "x": 3 is BIGINT, but earlier rows (from row 0) hold VARCHAR',
    );
  });

  it('the first bad row wins across columns, a partition problem first within a row', async () => {
    await expectRefused(
      {
        rows: [
          { seed: 1, x: 1 },
          { seed: Number.NaN, x: 'two' },
        ],
        columns: { seed: [1, Number.NaN], x: [1, 'two'] },
        typed: { seed: new Float64Array([1, Number.NaN]), x: [1, 'two'] },
        arrow: tableFromArrays({ seed: new Float64Array([1, Number.NaN]), x: new Float64Array([1, 2]) }),
      },
      writeEvents,
      eventRows,
      'events: row 1, column "seed": partition value NaN is not a BIGINT',
    );
  });

  it('a value of the wrong type for a typed column', async () => {
    await expectRefused(
      {
        rows: [
          { run_id: 'r1', step: 1 },
          { run_id: 'r1', step: 2.5 },
        ],
        columns: { run_id: ['r1', 'r1'], step: [1, 2.5] },
        typed: { run_id: ['r1', 'r1'], step: new Float64Array([1, 2.5]) },
        arrow: tableFromArrays({ run_id: ['r1', 'r1'], step: new Float64Array([1, 2.5]) }),
      },
      writeCheckpoints,
      goodCheckpoint,
      'checkpoints: row 1, column "step": schema says BIGINT: 2.5 is not an integer',
    );
    await expectRefused(
      {
        rows: [{ run_id: 'r1', step: 1, checkpoint_uri: 7 }],
        columns: { run_id: ['r1'], step: [1], checkpoint_uri: new Int32Array([7]) },
      },
      writeCheckpoints,
      goodCheckpoint,
      'checkpoints: row 0, column "checkpoint_uri": schema says VARCHAR: 7 is not a string',
    );
  });

  it('a null in a non-null column; NaN is a value, as in rows', async () => {
    await expectRefused(
      {
        rows: [
          { run_id: 'r1', step: 1 },
          { run_id: 'r1', step: null },
        ],
        columns: { run_id: ['r1', 'r1'], step: [1, null] },
        arrow: new Table({
          run_id: vectorFromArray(['r1', 'r1']),
          step: vectorFromArray([1n, null], new Int64()),
        }),
      },
      writeCheckpoints,
      goodCheckpoint,
      'checkpoints: row 1, column "step": null in a non-null column',
    );
    await expectRefused(
      { rows: [{ run_id: 'r1' }], columns: { run_id: ['r1'], epoch: new Float64Array([0.5]) } },
      writeCheckpoints,
      goodCheckpoint,
      'checkpoints: row 0, column "step": null in a non-null column',
    );
    // NaN in a DOUBLE column is data (a diverged loss), through every form.
    const bases = await writeEach(
      {
        rows: [{ run_id: 'r1', step: 1, epoch: Number.NaN }],
        columns: { run_id: ['r1'], step: new BigInt64Array([1n]), epoch: new Float64Array([Number.NaN]) },
      },
      writeCheckpoints,
    );
    const { rows } = await expectSameLakes(bases, 'checkpoints', 'step');
    expect(Number.isNaN(rows[0]?.epoch)).toBe(true);
  });

  it('an unknown column of a typed dataset', async () => {
    await expectRefused(
      {
        rows: [{ run_id: 'r1', step: 1, stpe: 2 }],
        columns: { run_id: ['r1'], step: [1], stpe: [2] },
        arrow: tableFromArrays({ run_id: ['r1'], step: new Int32Array([1]), stpe: new Int32Array([2]) }),
      },
      writeCheckpoints,
      goodCheckpoint,
      /^checkpoints: row 0, column "stpe": column is not in the checkpoints schema \(run_id, step, /,
    );
  });

  it('a row check and an enum value', async () => {
    await expectRefused(
      {
        rows: [
          { run_id: 'r1', step: 1 },
          { run_id: 'r1', step: -5 },
        ],
        columns: { run_id: ['r1', 'r1'], step: new BigInt64Array([1n, -5n]) },
      },
      writeCheckpoints,
      goodCheckpoint,
      'checkpoints: row 1, column "step": fails check step_non_negative: steps count from 0 (step >= 0)',
    );
    const writeMetrics = (input: WriteInput, base: string) => writeRows(base, METRICS_SCALAR, input);
    await expectRefused(
      {
        rows: [
          { run_id: 'r1', step: 1, metric_name: 'loss', value: 1, split: 'train' },
          { run_id: 'r1', step: 2, metric_name: 'loss', value: 1, split: 'tset' },
        ],
        columns: {
          run_id: ['r1', 'r1'],
          step: [1, 2],
          metric_name: ['loss', 'loss'],
          value: [1, 1],
          split: ['train', 'tset'],
        },
        arrow: tableFromArrays({
          run_id: ['r1', 'r1'],
          step: new Int32Array([1, 2]),
          metric_name: ['loss', 'loss'],
          value: new Float64Array([1, 1]),
          split: ['train', 'tset'],
        }),
      },
      writeMetrics,
      [{ run_id: 'r1', step: 0, metric_name: 'loss', value: 1 }],
      /^metrics_scalar: row 1, column "split": "tset" is not a valid split \(/,
    );
  });

  it('an Arrow type a lake cannot hold', async () => {
    const base = tempDir();
    const table = new Table({ x: vectorFromArray([1, 2], new Float64()) });
    await writeEvents({ seed: [1, 1], x: [1, 2] }, base);
    const before = snapshot(base);
    const binary = new Table({
      seed: vectorFromArray([1n], new Int64()),
      blob: vectorFromArray([new Uint8Array([1])], new (await import('apache-arrow')).Binary()),
    });
    await expect(writeEvents(binary, base)).rejects.toThrow(
      /^events: row 0, column "blob": Arrow type Binary/,
    );
    expect(snapshot(base)).toEqual(before);
    expect(table.numRows).toBe(2);
  });
});

it('EVENTS_DATASET is open (the events tests above rely on inference)', () => {
  expect(EVENTS_DATASET.columns).toBeUndefined();
});

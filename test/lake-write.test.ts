import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  attachGridId,
  ColumnValidationError,
  type DatasetDefinition,
  DatasetLayoutError,
  defineDataset,
  detectGridIdScheme,
  EVENTS_DATASET,
  GridIdCollisionError,
  gridHash,
  lakePaths,
  openLake,
  ParamsError,
  RowValidationError,
  RunlakeError,
  readGridRecord,
  SchemaConflictError,
  sweepStaleStaging,
  t,
  withStagingConnection,
  writeEventRows,
  writeQuery,
  writeRows,
  writeSeedRows,
  writeSweepQuery,
} from '../src/index.js';
import { tempDir, visibleFiles } from './helpers/lake-fixtures.js';

const params = { algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0, gamma_split: 0.5 };

function events(n: number, seed: number) {
  return Array.from({ length: n }, (_, i) => ({
    seed,
    event_id: i,
    op: i % 2 ? 'insert' : 'delete',
    regret: i / n,
  }));
}

async function withLake<T>(
  base: string,
  use: (lake: Awaited<ReturnType<typeof openLake>>) => Promise<T>,
): Promise<T> {
  const lake = await openLake(base);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

describe('writeEventRows layout', () => {
  it('writes zstd Parquet under events/grid_id=…/seed=…/part-<uuid>.parquet and params.json once', async () => {
    const base = tempDir();
    const result = await writeEventRows([...events(10, 1), ...events(5, 2)], base, params);
    const gridId = gridHash(params);
    expect(result.gridId).toBe(gridId);
    expect(result.rowCount).toBe(15);
    const files = visibleFiles(base);
    expect(files).toHaveLength(3);
    expect(files).toContain(`grids/grid_id=${gridId}/params.json`);
    for (const seed of [1, 2]) {
      expect(
        files.some((f) =>
          new RegExp(`^events/grid_id=${gridId}/seed=${seed}/part-[0-9a-f-]{36}\\.parquet$`).test(f),
        ),
      ).toBe(true);
    }
    const record = JSON.parse(readFileSync(path.join(base, `grids/grid_id=${gridId}/params.json`), 'utf8'));
    expect(record.params).toEqual({ accountant: 'zcdp', algo: 'memorypair', gamma_bar: 1, gamma_split: 0.5 });
    expect(record.params_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(record.params_hash.slice(0, 8)).toBe(gridId);

    await withLake(base, async (lake) => {
      const codecs = await lake.query(
        `SELECT DISTINCT compression FROM parquet_metadata('${base}/events/**/*.parquet')`,
      );
      expect(codecs).toEqual([{ compression: 'ZSTD' }]);
      const rows = await lake.query(
        'SELECT grid_id, seed, count(*)::INT AS n FROM events GROUP BY ALL ORDER BY seed',
      );
      expect(rows).toEqual([
        { grid_id: gridId, seed: 1, n: 10 },
        { grid_id: gridId, seed: 2, n: 5 },
      ]);
    });
  });

  it('leaves params.json untouched when identical params are written again', async () => {
    const base = tempDir();
    await writeEventRows(events(3, 1), base, params);
    const file = path.join(base, `grids/grid_id=${gridHash(params)}/params.json`);
    const before = readFileSync(file, 'utf8');
    // Same params in another key order, with volatile keys: same grid.
    const again = {
      gamma_split: 0.5,
      gamma_bar: 1,
      accountant: 'zcdp',
      algo: 'memorypair',
      seed: 9,
      base_out: '/x',
    };
    const result = await writeEventRows(events(3, 2), base, again);
    expect(result.gridId).toBe(gridHash(params));
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(visibleFiles(base).filter((f) => f.startsWith('grids/'))).toHaveLength(1);
  });

  it('refuses params whose 8-character id collides with different stored params, writing nothing', async () => {
    const base = tempDir();
    const gridId = gridHash(params);
    // Plant a record for other params under this id, as a real prefix collision would leave it.
    mkdirSync(path.join(base, `grids/grid_id=${gridId}`), { recursive: true });
    writeFileSync(
      path.join(base, `grids/grid_id=${gridId}/params.json`),
      JSON.stringify({ grid_id: gridId, params_hash: `${gridId}${'0'.repeat(56)}`, params: { other: true } }),
    );
    const before = visibleFiles(base);
    const error = await writeEventRows(events(3, 1), base, params).catch((e) => e);
    expect(error).toBeInstanceOf(GridIdCollisionError);
    expect(error.gridId).toBe(gridId);
    expect(error.message).toContain('collision');
    expect(visibleFiles(base)).toEqual(before);
  });

  it('refuses a grid_id in params that is not the hash of the params', async () => {
    const base = tempDir();
    const error = await writeEventRows(events(2, 1), base, { ...params, grid_id: 'deadbeef' }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ParamsError);
    expect(error.message).toContain('deadbeef');
    expect(visibleFiles(base)).toEqual([]);
  });

  it("accepts rows in exp_engine's {**params, seed, …} style and takes the seed from params when rows lack it", async () => {
    const base = tempDir();
    const p = attachGridId(params);
    await writeEventRows([{ ...p, seed: 1, event_id: 0, regret: 0.1 }], base, p);
    await writeSeedRows([{ avg_regret: 0.2 }], base, { ...params, seed: 4 });
    await withLake(base, async (lake) => {
      const [event] = await lake.query('SELECT * FROM events');
      expect(event).toMatchObject({ grid_id: p.grid_id, seed: 1, algo: 'memorypair', event_id: 0 });
      expect(await lake.querySeeds('seed = 4')).toEqual([{ avg_regret: 0.2, grid_id: p.grid_id, seed: 4 }]);
    });
  });

  it('adds partition directories from params before grid_id/seed (the older exp_engine layout)', async () => {
    const base = tempDir();
    const options = { partitionByParams: ['algo', 'accountant', 'gamma_bar'] };
    await writeEventRows(events(4, 1), base, params, options);
    await writeEventRows(events(4, 1), base, { ...params, gamma_bar: 0.5 }, options);
    const parts = visibleFiles(base).filter((f) => f.startsWith('events/'));
    expect(parts.map((f) => path.dirname(f)).sort()).toEqual([
      `events/algo=memorypair/accountant=zcdp/gamma_bar=0.5/grid_id=${gridHash({ ...params, gamma_bar: 0.5 })}/seed=1`,
      `events/algo=memorypair/accountant=zcdp/gamma_bar=1/grid_id=${gridHash(params)}/seed=1`,
    ]);
    await withLake(base, async (lake) => {
      const rows = await lake.query(
        'SELECT DISTINCT algo, gamma_bar, typeof(gamma_bar) AS ty FROM events ORDER BY gamma_bar',
      );
      expect(rows).toEqual([
        { algo: 'memorypair', gamma_bar: 0.5, ty: 'DOUBLE' },
        { algo: 'memorypair', gamma_bar: 1, ty: 'DOUBLE' },
      ]);
    });
    // The layout is fixed by the first write: later writes follow it (as appends to exp_engine's
    // lakes must), and asking for another one is refused.
    await writeEventRows(events(1, 2), base, params);
    expect(visibleFiles(base).filter((f) => f.includes('/seed=2/'))[0]).toMatch(
      new RegExp(`^events/algo=memorypair/accountant=zcdp/gamma_bar=1/grid_id=${gridHash(params)}/seed=2/`),
    );
    const error = await writeEventRows(events(1, 1), base, params, { partitionByParams: ['algo'] }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(DatasetLayoutError);
    expect(error.message).toContain('algo/accountant/gamma_bar/grid_id/seed');
  });
});

describe('types and schema evolution', () => {
  it('keeps int64, float64, float32, bool, string, timestamp, null, lists and structs', async () => {
    const base = tempDir();
    const when = new Date('2026-01-02T03:04:05.678Z');
    await writeEventRows(
      [
        {
          seed: 1,
          i: 7,
          big: 2n ** 62n,
          f: 0.1,
          f32: 0.1,
          b: true,
          s: 'héllo',
          ts: when,
          maybe: null,
          xs: [1.5, 2.5],
          tags: ['a', 'b'],
          nested: { lr: 0.01, name: 'adam', betas: [0.9, 0.999] },
          loss: Number.NaN,
        },
        {
          seed: 1,
          i: -3,
          big: 1n,
          f: 2,
          f32: 3,
          b: false,
          s: '',
          ts: when,
          maybe: null,
          xs: [],
          tags: [],
          nested: null,
          loss: 1,
        },
      ],
      base,
      params,
      { float32Columns: ['f32'] },
    );
    await withLake(base, async (lake) => {
      const types = Object.fromEntries(
        (await lake.query('DESCRIBE events')).map((c) => [c.column_name, c.column_type]),
      );
      expect(types).toMatchObject({
        i: 'BIGINT',
        big: 'BIGINT',
        f: 'DOUBLE',
        f32: 'FLOAT',
        b: 'BOOLEAN',
        s: 'VARCHAR',
        ts: 'TIMESTAMP WITH TIME ZONE',
        xs: 'DOUBLE[]',
        tags: 'VARCHAR[]',
        nested: 'STRUCT(lr DOUBLE, "name" VARCHAR, betas DOUBLE[])',
        loss: 'DOUBLE',
        grid_id: 'VARCHAR',
        seed: 'BIGINT',
      });
      // A column that has only ever been null is still visible, as NULL.
      expect(types.maybe).toBeDefined();
      const rows = await lake.query(
        'SELECT i, big::VARCHAR AS big, f, f32, b, s, epoch_ms(ts) AS ts, maybe, xs, tags, nested, isnan(loss) AS nan FROM events ORDER BY i DESC',
      );
      expect(rows[0]).toEqual({
        i: 7,
        big: (2n ** 62n).toString(),
        f: 0.1,
        f32: Math.fround(0.1),
        b: true,
        s: 'héllo',
        ts: when.getTime(),
        maybe: null,
        xs: [1.5, 2.5],
        tags: ['a', 'b'],
        nested: { lr: 0.01, name: 'adam', betas: [0.9, 0.999] },
        nan: true,
      });
      expect(rows[1]).toMatchObject({
        i: -3,
        f: 2,
        f32: 3,
        b: false,
        s: '',
        xs: [],
        tags: [],
        nested: null,
        nan: false,
      });
    });
  });

  it('lets later writes add columns and shows NULL where a file lacks them', async () => {
    const base = tempDir();
    await writeEventRows([{ seed: 1, step: 1, loss: 0.5 }], base, params);
    await writeEventRows([{ seed: 2, step: 1, loss: 0.4, grad_norm: 3.5, note: 'warmup' }], base, params);
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT seed, loss, grad_norm, note FROM events ORDER BY seed')).toEqual([
        { seed: 1, loss: 0.5, grad_norm: null, note: null },
        { seed: 2, loss: 0.4, grad_norm: 3.5, note: 'warmup' },
      ]);
    });
  });

  it('widens int64 to float64 across writes and refuses a real type conflict, writing nothing', async () => {
    const base = tempDir();
    await writeEventRows([{ seed: 1, acc: 1 }], base, params);
    await writeEventRows([{ seed: 1, acc: 0.75 }], base, params);
    const before = visibleFiles(base);
    const error = await writeEventRows([{ seed: 1, acc: 'high' }], base, params).catch((e) => e);
    expect(error).toBeInstanceOf(SchemaConflictError);
    expect(error.column).toBe('acc');
    expect(error.message).toContain('DOUBLE');
    expect(error.message).toContain('VARCHAR');
    expect(visibleFiles(base)).toEqual(before);
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT acc, typeof(acc) AS ty FROM events ORDER BY acc')).toEqual([
        { acc: 0.75, ty: 'DOUBLE' },
        { acc: 1, ty: 'DOUBLE' },
      ]);
    });
  });
});

describe('bad input', () => {
  const cases: Array<[string, Record<string, unknown>[], number, string, string]> = [
    ['a missing partition key', [{ seed: 1, x: 1 }, { x: 2 }], 1, 'seed', 'partition key is missing'],
    ['a non-integer seed', [{ seed: 1.5, x: 1 }], 0, 'seed', 'is not a BIGINT'],
    ['a string seed', [{ seed: '1', x: 1 }], 0, 'seed', 'is not a BIGINT'],
    [
      'mixed types within a column',
      [
        { seed: 1, x: 1 },
        { seed: 1, x: 2 },
        { seed: 1, x: 'three' },
      ],
      2,
      'x',
      'earlier rows',
    ],
    ['a list mixing types', [{ seed: 1, xs: [1, 'a'] }], 0, 'xs', 'list mixes'],
    ['a function value', [{ seed: 1, f: () => 1 }], 0, 'f', 'function'],
    ['a class instance', [{ seed: 1, m: new Map() }], 0, 'm', 'Map'],
    [
      'a row that is not an object',
      [{ seed: 1 }, 42 as unknown as Record<string, unknown>],
      1,
      '',
      'not an object',
    ],
    [
      'a grid_id that disagrees with the params',
      [{ seed: 1, grid_id: 'ffffffff' }],
      0,
      'grid_id',
      'ffffffff',
    ],
    ['an invalid Date', [{ seed: 1, ts: new Date('nope') }], 0, 'ts', 'invalid Date'],
  ];
  for (const [name, rows, rowIndex, column, reason] of cases) {
    it(`refuses ${name}, naming row ${rowIndex} and column "${column}", and writes nothing`, async () => {
      const base = tempDir();
      const error = await writeEventRows(rows, base, params).catch((e) => e);
      expect(error).toBeInstanceOf(RowValidationError);
      expect(error.rowIndex).toBe(rowIndex);
      expect(error.column).toBe(column);
      expect(error.message).toContain(reason);
      expect(error.message).toContain(`row ${rowIndex}`);
      expect(visibleFiles(base)).toEqual([]);
    });
  }

  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`refuses non-finite params (${bad}) with the param's path, writing nothing`, async () => {
      const base = tempDir();
      const error = await writeEventRows(events(2, 1), base, { ...params, optim: { lr: bad } }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ParamsError);
      expect(error.path).toBe('optim.lr');
      expect(visibleFiles(base)).toEqual([]);
    });
  }

  it('refuses a partition value too long for a directory name', async () => {
    const base = tempDir();
    const error = await writeEventRows(
      events(1, 1),
      base,
      { ...params, variant: 'é'.repeat(100) },
      {
        partitionByParams: ['variant'],
      },
    ).catch((e) => e);
    // The row path names the row and the column (callers reading a file add the file).
    expect(error).toBeInstanceOf(RowValidationError);
    expect(error).toMatchObject({ rowIndex: 0, column: 'variant' });
    expect(error.message).toContain('255 bytes');
    expect(visibleFiles(base)).toEqual([]);
  });

  it('refuses a missing or non-scalar partition param', async () => {
    const base = tempDir();
    await expect(writeEventRows(events(1, 1), base, params, { partitionByParams: ['nope'] })).rejects.toThrow(
      /params\.nope: cannot be a partition directory: missing/,
    );
    await expect(
      writeEventRows(events(1, 1), base, { ...params, opt: { lr: 1 } }, { partitionByParams: ['opt'] }),
    ).rejects.toThrow(/not a finite scalar/);
  });
});

describe('partition values', () => {
  const awkward = [
    'a/b',
    'x=y%z',
    'with space',
    'héllo wörld ✓',
    '',
    '..',
    '.',
    '0012',
    'back\\slash',
    'quote\'"',
    '__HIVE_DEFAULT_PARTITION__x',
  ];

  it('round-trip every awkward string through DuckDB and never leave the lake directory', async () => {
    const base = tempDir();
    for (const [i, variant] of awkward.entries()) {
      await writeEventRows(
        [{ seed: 1, i }],
        base,
        { ...params, variant },
        { partitionByParams: ['variant'] },
      );
    }
    for (const file of visibleFiles(base)) {
      expect(path.resolve(base, file).startsWith(`${path.resolve(base)}/`)).toBe(true);
      const segments = file.split('/');
      expect(segments.every((s) => s !== '..' && s !== '.')).toBe(true);
    }
    await withLake(base, async (lake) => {
      const rows = await lake.query('SELECT i, variant FROM events ORDER BY i');
      expect(rows).toEqual(awkward.map((variant, i) => ({ i, variant })));
    });
  });

  it('keeps leading zeros of all-digit grid ids and string partitions (pinned hive_types)', async () => {
    const base = tempDir();
    let n = 0;
    while (!/^0[0-9]{7}$/.test(gridHash({ probe: n }))) n++;
    const gridId = gridHash({ probe: n });
    await writeEventRows([{ seed: 3, x: 1 }], base, { probe: n });
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT grid_id, typeof(grid_id) AS g, typeof(seed) AS s FROM events')).toEqual(
        [{ grid_id: gridId, g: 'VARCHAR', s: 'BIGINT' }],
      );
      expect(await lake.query(`SELECT count(*)::INT AS n FROM events WHERE grid_id = '${gridId}'`)).toEqual([
        { n: 1 },
      ]);
      expect(await lake.query('SELECT grid_id FROM grids')).toEqual([{ grid_id: gridId }]);
    });
    expect(await readGridRecord(base, gridId)).toMatchObject({ grid_id: gridId, params: { probe: n } });
  });
});

describe('openLake', () => {
  it('gives typed empty views for datasets with no files', async () => {
    const base = tempDir();
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT count(*)::INT AS n FROM events')).toEqual([{ n: 0 }]);
      expect(await lake.query('SELECT count(*)::INT AS n FROM seeds')).toEqual([{ n: 0 }]);
      expect(await lake.query('SELECT count(*)::INT AS n FROM grids')).toEqual([{ n: 0 }]);
      const types = (await lake.query('DESCRIBE events')).map((c) => [c.column_name, c.column_type]);
      expect(types).toEqual([
        ['grid_id', 'VARCHAR'],
        ['seed', 'BIGINT'],
      ]);
    });
  });

  it('flattens params into typed grid columns with params_json', async () => {
    const base = tempDir();
    await writeEventRows(events(1, 1), base, {
      ...params,
      optim: { lr: 0.001, betas: [0.9, 0.99] },
      layers: 4,
    });
    await writeEventRows(events(1, 1), base, {
      ...params,
      optim: { lr: 0.01, betas: [0.9, 0.99] },
      layers: 'auto',
      schedule: [
        { step: 0, lr: 0.1 },
        { step: 100, lr: 0.01, warm: true },
      ],
    });
    await withLake(base, async (lake) => {
      const types = Object.fromEntries(
        (await lake.query('DESCRIBE grids')).map((c) => [c.column_name, c.column_type]),
      );
      expect(types).toMatchObject({
        grid_id: 'VARCHAR',
        algo: 'VARCHAR',
        gamma_bar: 'BIGINT',
        'optim.lr': 'DOUBLE',
        'optim.betas': 'DOUBLE[]',
        // 4 in one grid and "auto" in another: kept as JSON text rather than dropped.
        layers: 'VARCHAR',
        schedule: 'STRUCT(lr DOUBLE, step BIGINT, warm BOOLEAN)[]',
        params_json: 'VARCHAR',
      });
      const rows = await lake.query('SELECT "optim.lr", layers, schedule FROM grids ORDER BY "optim.lr"');
      expect(rows).toEqual([
        { 'optim.lr': 0.001, layers: '4', schedule: null },
        {
          'optim.lr': 0.01,
          layers: '"auto"',
          schedule: [
            { step: 0, lr: 0.1, warm: null },
            { step: 100, lr: 0.01, warm: true },
          ],
        },
      ]);
    });
  });

  it('answers queryEvents/querySeeds and refuses bad SQL with a SqlError', async () => {
    const base = tempDir();
    await writeEventRows(events(10, 1), base, params);
    await withLake(base, async (lake) => {
      expect(await lake.queryEvents("op = 'insert' AND regret >= 0.5", 2)).toHaveLength(2);
      expect(await lake.queryEvents('regret > 100')).toEqual([]);
      await expect(lake.query('SELECT nope FROM events')).rejects.toThrow(/SQL error: Binder Error/);
      expect(() => lake.datasetSql('nope')).toThrow(/no dataset "nope"/);
    });
  });

  it('treats only directories with a manifest or Parquet files as datasets', async () => {
    const base = tempDir();
    await writeEventRows(events(2, 1), base, params);
    mkdirSync(path.join(base, 'plots'));
    writeFileSync(path.join(base, 'plots', 'loss.png'), 'not parquet');
    await withLake(base, async (lake) => {
      expect([...lake.datasets.keys()]).toEqual(['events', 'seeds']);
    });
  });

  it('sees files written after it opened once refreshed', async () => {
    const base = tempDir();
    await withLake(base, async (lake) => {
      await writeEventRows(events(3, 1), base, params);
      await lake.refresh();
      expect(await lake.query('SELECT count(*)::INT AS n FROM events')).toEqual([{ n: 3 }]);
      expect(await lake.query('SELECT count(*)::INT AS n FROM grids')).toEqual([{ n: 1 }]);
    });
  });
});

describe('typed datasets', () => {
  const metrics = defineDataset({
    name: 'metrics',
    partitionBy: [{ name: 'run_id', type: t.string }],
    columns: [
      { name: 'step', type: t.int64, nullable: false },
      { name: 'value', type: t.float64 },
    ],
  });

  it('writes rows that fit and refuses unknown columns, wrong types and nulls in non-null columns', async () => {
    const base = tempDir();
    await writeRows(base, metrics, [{ run_id: 'r1', step: 1, value: 2 }]);
    const refused: Array<[Record<string, unknown>[], number, string, string]> = [
      [[{ run_id: 'r1', step: 1, extra: 1 }], 0, 'extra', 'not in the metrics schema (run_id, step, value)'],
      [
        [
          { run_id: 'r1', step: 1, value: 1 },
          { run_id: 'r1', step: 2, value: 'x' },
        ],
        1,
        'value',
        'schema says DOUBLE',
      ],
      [
        [
          { run_id: 'r1', step: 1 },
          { run_id: 'r1', value: 1 },
        ],
        1,
        'step',
        'null in a non-null column',
      ],
    ];
    for (const [rows, rowIndex, column, reason] of refused) {
      const error = await writeRows(base, metrics, rows).catch((e) => e);
      expect(error).toBeInstanceOf(RowValidationError);
      expect([error.rowIndex, error.column]).toEqual([rowIndex, column]);
      expect(error.message).toContain(reason);
    }
    expect(visibleFiles(base).filter((f) => f.startsWith('metrics/'))).toHaveLength(1);
    expect(existsSync(path.join(base, '.runlake/datasets/metrics.json'))).toBe(true);
  });
});

describe('staging sweep', () => {
  it('removes only entries of dead writers that are over an hour old', async () => {
    const base = tempDir();
    const paths = lakePaths(base);
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const make = (name: string, mtime: Date) => {
      const dir = path.join(paths.staging, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'part.parquet'), 'x');
      utimesSync(dir, mtime, mtime);
    };
    make(`${deadPid}-old`, old);
    make(`${deadPid}-fresh`, new Date());
    make(`${process.pid}-mine`, old);
    expect(await sweepStaleStaging(paths)).toBe(1);
    expect(readdirSync(paths.staging).sort()).toEqual([`${deadPid}-fresh`, `${process.pid}-mine`].sort());
    // Once per lake per process: a second call does not rescan.
    expect(await sweepStaleStaging(paths)).toBe(0);
  });
});

describe('writeQuery (columnar writes from DuckDB)', () => {
  it('writes a query result with partition keys from columns and defaults, cast to the dataset types', async () => {
    const base = tempDir();
    await writeEventRows([{ seed: 1, acc: 0.5 }], base, params);
    const result = await withStagingConnection((connection) =>
      writeSweepQuery(
        EVENTS_DATASET,
        connection,
        'SELECT * FROM (VALUES (2::INTEGER, 1::INTEGER), (NULL, 0::INTEGER)) v(seed, acc)',
        base,
        { ...params, seed: 7 },
      ),
    );
    expect(result.rowCount).toBe(2);
    expect(result.files).toHaveLength(2);
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT seed, acc, typeof(acc) AS ty FROM events ORDER BY seed')).toEqual([
        { seed: 1, acc: 0.5, ty: 'DOUBLE' },
        { seed: 2, acc: 1, ty: 'DOUBLE' },
        { seed: 7, acc: 0, ty: 'DOUBLE' },
      ]);
      // Each new file holds the dataset's type, not DuckDB's INTEGER.
      for (const file of result.files) {
        const [column] = await lake.query(`DESCRIBE SELECT acc FROM read_parquet('${file}')`);
        expect(column?.column_type).toBe('DOUBLE');
      }
    });
  });

  it('refuses null or mistyped partition columns, and schema conflicts, writing nothing', async () => {
    const base = tempDir();
    await writeEventRows([{ seed: 1, acc: 0.5 }], base, params);
    const before = visibleFiles(base);
    const attempt = (select: string, p: Record<string, unknown> = params) =>
      withStagingConnection((c) => writeSweepQuery(EVENTS_DATASET, c, select, base, p)).catch((e) => e);
    const nullSeed = await attempt('SELECT * FROM (VALUES (1, 0.1), (NULL, 0.2)) v(seed, acc)');
    expect(nullSeed).toBeInstanceOf(ColumnValidationError);
    expect(nullSeed.message).toContain('"seed": partition key is null in 1 row, first row 1');
    const textSeed = await attempt("SELECT 'one' AS seed, 0.1 AS acc");
    expect(textSeed.message).toContain('holds VARCHAR, but partition key "seed" needs BIGINT');
    const noSeed = await attempt('SELECT 0.1 AS acc');
    expect(noSeed.message).toContain('partition key is missing');
    const conflict = await attempt("SELECT 1 AS seed, 'high' AS acc");
    expect(conflict).toBeInstanceOf(SchemaConflictError);
    expect(visibleFiles(base)).toEqual(before);
  });

  it('counts the refused rows in its messages: "1 row", "2 rows"', async () => {
    const base = tempDir();
    const gridId = gridHash(params);
    const refusal = async (select: string, dataset: DatasetDefinition = EVENTS_DATASET): Promise<string> => {
      const error = await withStagingConnection((c) =>
        dataset === EVENTS_DATASET
          ? writeSweepQuery(EVENTS_DATASET, c, select, base, params)
          : writeQuery(base, dataset, c, select),
      ).catch((e) => e);
      expect(error).toBeInstanceOf(ColumnValidationError);
      return (error as ColumnValidationError).reason;
    };
    await expect(
      refusal('SELECT * FROM (VALUES (NULL, 0.1), (1, 0.2), (NULL, 0.3)) v(seed, acc)'),
    ).resolves.toBe('partition key is null in 2 rows, first row 0 (and no default was given)');
    // A grid_id column that is not the params' grid id.
    await expect(refusal("SELECT 1 AS seed, 0.1 AS acc, 'other' AS grid_id")).resolves.toBe(
      `1 row disagrees with grid_id=${gridId} of this write, first row 0`,
    );
    await expect(
      refusal(
        `SELECT * FROM (VALUES (1, 0.1, '${gridId}'), (1, 0.2, 'other'), (1, 0.3, 'other')) v(seed, acc, grid_id)`,
      ),
    ).resolves.toBe(`2 rows disagree with grid_id=${gridId} of this write, first row 1`);
    const metrics = defineDataset({
      name: 'metrics',
      partitionBy: [{ name: 'run_id', type: t.string }],
      columns: [{ name: 'step', type: t.int64, nullable: false }],
    });
    await expect(
      refusal("SELECT * FROM (VALUES ('r1', 1), ('r1', NULL)) v(run_id, step)", metrics),
    ).resolves.toBe('null in 1 row of a non-null column, first row 1');
    await expect(
      refusal("SELECT * FROM (VALUES ('r1', NULL), ('r1', NULL)) v(run_id, step)", metrics),
    ).resolves.toBe('null in 2 rows of a non-null column, first row 0');
    expect(visibleFiles(base)).toEqual([]);
  });

  it('says how many params.json files decided the grid-id scheme: "1 of 1 params.json file"', async () => {
    const base = tempDir();
    await writeEventRows([{ seed: 1, acc: 0.5 }], base, params);
    const { scheme, evidence } = await detectGridIdScheme(lakePaths(base));
    expect(scheme).toBeDefined();
    expect(evidence).toBe(`1 of 1 params.json file recomputes to its directory's id under ${scheme}`);
  });
});

describe('partition pruning', () => {
  it('a single-grid filter through the view reads only that grid’s files', async () => {
    const base = tempDir();
    const grids = [1, 2, 3].map((lr) => ({ ...params, lr }));
    for (const p of grids) await writeEventRows([...events(5, 1), ...events(5, 2)], base, p);
    const gridId = gridHash(grids[1] as Record<string, unknown>);
    await withLake(base, async (lake) => {
      const plan = await lake.query(
        `EXPLAIN ANALYZE SELECT count(*) FROM events WHERE grid_id = '${gridId}'`,
      );
      const text = plan.map((row) => Object.values(row).join('\n')).join('\n');
      expect(text).toMatch(/Scanning Files: 2\/6/);
      expect(await lake.query(`SELECT count(*)::INT AS n FROM events WHERE grid_id = '${gridId}'`)).toEqual([
        { n: 10 },
      ]);
    });
  });
});

describe('lake paths', () => {
  it('refuses a lake path with glob characters DuckDB would expand, for reads and writes', async () => {
    const base = path.join(tempDir(), 'sweep[1]');
    mkdirSync(base);
    const write = await writeEventRows(events(1, 1), base, params).catch((e) => e);
    expect(write).toBeInstanceOf(RunlakeError);
    expect(write.message).toContain('glob character');
    await expect(openLake(base)).rejects.toThrow(/glob character/);
    expect(visibleFiles(base)).toEqual([]);
  });

  it('accepts spaces and quotes in the lake path', async () => {
    const base = path.join(tempDir(), "it's a lake");
    await writeEventRows(events(3, 1), base, params);
    await withLake(base, async (lake) => {
      expect(await lake.query('SELECT count(*)::INT AS n FROM events')).toEqual([{ n: 3 }]);
    });
  });
});

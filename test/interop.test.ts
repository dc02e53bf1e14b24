/**
 * Interop with the Python data stack: a lake written by runlake must read back identically in
 * pyarrow, polars and pandas, and a Hive-partitioned dataset written by pandas/pyarrow must open
 * (and take appends) in runlake. Needs a Python with pyarrow, pandas and polars (see
 * test/helpers/python.ts); without one the suite is skipped locally and fails on CI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EVENTS_DATASET,
  encodePartitionComponent,
  gridHash,
  HIVE_NULL_PARTITION,
  type Lake,
  listParquetFiles,
  openLake,
  type Params,
  parsePartitionPath,
  writeEventRows,
  writeRows,
} from '../src/index.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['pyarrow', 'pyarrow.dataset', 'pyarrow.parquet', 'pandas', 'polars']);
if (py.skip) console.warn(`[interop.test] skipping the Python interop tests: ${py.reason}`);

type Engine = 'pyarrow' | 'polars' | 'pandas';
type PartitionType = 'string' | 'int64' | 'float64' | 'bool';
type JsonRow = Record<string, unknown>;

interface ReadResult {
  /** Column name → the engine's type name (`str(type)` in Python). */
  readonly schema: Record<string, string>;
  readonly rows: JsonRow[];
}

interface ParquetColumn {
  readonly path: string;
  readonly physical: string;
  readonly logical: string;
  readonly converted: string;
  readonly compression: string;
}

/** The partition layout of the sweep lakes below, with the schema every reader should be given. */
const SWEEP_PARTITIONS: ReadonlyArray<readonly [string, PartitionType]> = [
  ['algo', 'string'],
  ['variant', 'string'],
  ['grid_id', 'string'],
  ['seed', 'int64'],
];
const PLAIN_PARTITIONS: ReadonlyArray<readonly [string, PartitionType]> = [
  ['grid_id', 'string'],
  ['seed', 'int64'],
];

/** Partition values that are awkward as directory names. */
const AWKWARD_VARIANTS = ['a/b', 'x=y%z', 'with space', 'héllo wörld ✓', '', '..', '0012'];

const tempDirs: string[] = [];

function freshDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runlake-interop-${label}-`));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function readWith(
  engine: Engine,
  datasetDir: string,
  partitions: ReadonlyArray<readonly [string, PartitionType]> | 'infer',
  options: { unify?: boolean; sort?: readonly string[] } = {},
): ReadResult {
  const args = ['--engine', engine, '--dataset', datasetDir];
  if (partitions !== 'infer') {
    for (const [name, type] of partitions) args.push('--partition', `${name}:${type}`);
  }
  if (options.unify) args.push('--unify');
  for (const column of options.sort ?? ['event_id']) args.push('--sort', column);
  const out = JSON.parse(py.runPython('read_dataset.py', args)) as {
    schema: [string, string][];
    rows: JsonRow[];
  };
  return { schema: Object.fromEntries(out.schema), rows: out.rows };
}

function parquetSchema(file: string): ParquetColumn[] {
  return (JSON.parse(py.runPython('parquet_schema.py', [file])) as { columns: ParquetColumn[] }).columns;
}

async function withLake<T>(base: string, use: (lake: Lake) => Promise<T>): Promise<T> {
  const lake = await openLake(base);
  try {
    return await use(lake);
  } finally {
    lake.close();
  }
}

async function duckTypes(lake: Lake, view: string): Promise<Record<string, string>> {
  const rows = await lake.query(`DESCRIBE ${view}`);
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/** Finds params whose grid id is all digits with a leading zero (about 1 in 430 params). */
function paramsWithAllDigitGridId(base: Params): { params: Params; gridId: string } {
  for (let trial = 0; trial < 100_000; trial++) {
    const params = { ...base, trial };
    const gridId = gridHash(params);
    if (/^0[0-9]{7}$/.test(gridId)) return { params, gridId };
  }
  throw new Error('no all-digit grid id found');
}

describe.skipIf(py.skip)(
  `Python interop (pyarrow, pandas, polars)${py.skip ? ` — skipped: ${py.reason.split('\n')[0]}` : ''}`,
  () => {
    beforeAll(() => {
      // On CI `skip` is false even without the modules: fail here instead of skipping.
      if (!py.available) throw new Error(py.reason);
    });

    it('has a Python with pyarrow, pandas and polars', () => {
      expect(py.reason).toBe('');
      expect(py.missing).toEqual([]);
      expect(Object.keys(py.versions)).toEqual(expect.arrayContaining(['pyarrow', 'pandas', 'polars']));
    });

    describe('runlake → pyarrow / polars / pandas', () => {
      const ALGOS = ['adam', 'sgd', 'lion'] as const;
      const LRS = [0.1, 0.003, 1e-7] as const;
      let base: string;
      let expected: JsonRow[];
      let gridIds: string[];

      beforeAll(async () => {
        base = freshDir('sweep');
        expected = [];
        gridIds = [];
        for (const [i, variant] of AWKWARD_VARIANTS.entries()) {
          const algo = ALGOS[i % ALGOS.length] as string;
          const lr = (LRS[i % LRS.length] as number) * (i + 1);
          const params: Params = {
            algo,
            variant,
            lr,
            layers: i + 1,
            optim: { momentum: 0.9, nesterov: i % 2 === 0 },
          };
          const rows = [1, 2].flatMap((seed) =>
            [0, 1, 2].map((step) => ({
              seed,
              event_id: i * 100 + seed * 10 + step,
              step,
              loss: lr / (step + 1) + seed / 7,
              f32: 0.1 * (step + 1) + i,
              ok: (step + seed) % 2 === 0,
              label: `it's "${variant}" #${step} ✓`,
              maybe: step === 1 ? null : step * 0.5 + i + 0.25,
              at: new Date(Date.UTC(2024, 0, 1 + i, seed, step, 7, 123)),
              xs: [step + 0.5, lr, -1.25],
              st: { k: step, name: `n${step}`, w: 0.25 * seed },
            })),
          );
          const result = await writeEventRows(rows, base, params, {
            partitionByParams: ['algo', 'variant'],
            float32Columns: ['f32'],
          });
          gridIds.push(result.gridId);
          for (const row of rows) {
            expected.push({
              ...row,
              f32: Math.fround(row.f32),
              at: row.at.getTime() * 1000,
              algo,
              variant,
              grid_id: result.gridId,
            });
          }
        }
        expected.sort((a, b) => (a.event_id as number) - (b.event_id as number));
      });

      const columns =
        'event_id, step, loss, f32, ok, label, maybe, epoch_us("at") AS "at", xs, st, algo, variant, grid_id, seed';

      it('DuckDB (openLake) returns exactly the rows written', async () => {
        const rows = await withLake(base, (lake) =>
          lake.query(`SELECT ${columns} FROM events ORDER BY event_id`),
        );
        expect(rows).toEqual(expected);
      });

      it('DuckDB types of every runlake column type', async () => {
        const types = await withLake(base, (lake) => duckTypes(lake, 'events'));
        expect(types).toEqual({
          event_id: 'BIGINT',
          step: 'BIGINT',
          loss: 'DOUBLE',
          f32: 'FLOAT',
          ok: 'BOOLEAN',
          label: 'VARCHAR',
          maybe: 'DOUBLE',
          at: 'TIMESTAMP WITH TIME ZONE',
          xs: 'DOUBLE[]',
          st: 'STRUCT(k BIGINT, "name" VARCHAR, w DOUBLE)',
          algo: 'VARCHAR',
          variant: 'VARCHAR',
          grid_id: 'VARCHAR',
          seed: 'BIGINT',
        });
      });

      it('Parquet files: physical/logical types and zstd, as written by DuckDB', async () => {
        const files = await listParquetFiles(path.join(base, 'events'));
        expect(files.length).toBe(AWKWARD_VARIANTS.length * 2);
        const byPath = Object.fromEntries(
          parquetSchema(path.join(base, 'events', files[0] as string)).map((c) => [c.path, c]),
        );
        const logical = (p: string) => [byPath[p]?.physical, byPath[p]?.logical];
        expect(logical('event_id')).toEqual(['INT64', 'Int(bitWidth=64, isSigned=true)']);
        expect(logical('loss')).toEqual(['DOUBLE', 'None']);
        expect(logical('f32')).toEqual(['FLOAT', 'None']);
        expect(logical('ok')).toEqual(['BOOLEAN', 'None']);
        expect(logical('label')).toEqual(['BYTE_ARRAY', 'String']);
        expect(logical('at')).toEqual([
          'INT64',
          'Timestamp(isAdjustedToUTC=true, timeUnit=microseconds, is_from_converted_type=false, force_set_converted_type=false)',
        ]);
        expect(byPath.at?.converted).toBe('TIMESTAMP_MICROS');
        expect(logical('xs.list.element')).toEqual(['DOUBLE', 'None']);
        expect(logical('st.k')).toEqual(['INT64', 'Int(bitWidth=64, isSigned=true)']);
        expect(logical('st.name')).toEqual(['BYTE_ARRAY', 'String']);
        // Partition columns live in the directory names only.
        expect(Object.keys(byPath)).not.toEqual(expect.arrayContaining(['grid_id']));
        expect(Object.keys(byPath)).not.toEqual(expect.arrayContaining(['seed']));
        expect(new Set(Object.values(byPath).map((c) => c.compression))).toEqual(new Set(['ZSTD']));
      });

      it('pyarrow.dataset with an explicit hive partitioning schema: same rows, Arrow types', () => {
        const { schema, rows } = readWith('pyarrow', path.join(base, 'events'), SWEEP_PARTITIONS);
        expect(rows).toEqual(expected);
        expect(['string', 'large_string']).toContain(schema.label);
        expect({ ...schema, label: 'string' }).toEqual({
          event_id: 'int64',
          step: 'int64',
          loss: 'double',
          f32: 'float',
          ok: 'bool',
          label: 'string',
          maybe: 'double',
          at: 'timestamp[us, tz=UTC]',
          xs: 'list<element: double>',
          st: 'struct<k: int64, name: string, w: double>',
          algo: 'string',
          variant: 'string',
          grid_id: 'string',
          seed: 'int64',
        });
      });

      it('polars scan_parquet(hive_partitioning, hive_schema): same rows and types', () => {
        const { schema, rows } = readWith('polars', path.join(base, 'events'), SWEEP_PARTITIONS);
        expect(rows).toEqual(expected);
        expect(schema).toEqual({
          event_id: 'Int64',
          step: 'Int64',
          loss: 'Float64',
          f32: 'Float32',
          ok: 'Boolean',
          label: 'String',
          maybe: 'Float64',
          at: "Datetime(time_unit='us', time_zone='UTC')",
          xs: 'List(Float64)',
          st: "Struct({'k': Int64, 'name': String, 'w': Float64})",
          algo: 'String',
          variant: 'String',
          grid_id: 'String',
          seed: 'Int64',
        });
      });

      it('pandas read_parquet(partitioning=…, dtype_backend="pyarrow"): same rows and types', () => {
        const { schema, rows } = readWith('pandas', path.join(base, 'events'), SWEEP_PARTITIONS);
        expect(rows).toEqual(expected);
        expect(schema).toEqual({
          event_id: 'int64[pyarrow]',
          step: 'int64[pyarrow]',
          loss: 'double[pyarrow]',
          f32: 'float[pyarrow]',
          ok: 'bool[pyarrow]',
          label: 'string[pyarrow]',
          maybe: 'double[pyarrow]',
          at: 'timestamp[us, tz=UTC][pyarrow]',
          xs: 'list<element: double>[pyarrow]',
          st: 'struct<k: int64, name: string, w: double>[pyarrow]',
          algo: 'string[pyarrow]',
          variant: 'string[pyarrow]',
          grid_id: 'string[pyarrow]',
          seed: 'int64[pyarrow]',
        });
      });

      it('DuckDB read_json reads the grids/ records', async () => {
        const glob = path.join(base, 'grids', '*', 'params.json');
        const records = await withLake(base, (lake) =>
          lake.query(`SELECT grid_id, params.variant AS variant FROM read_json('${glob}') ORDER BY grid_id`),
        );
        const byGrid = new Map(expected.map((r) => [r.grid_id, r.variant]));
        expect(records).toEqual(
          [...byGrid]
            .sort(([a], [b]) => (String(a) < String(b) ? -1 : 1))
            .map(([grid_id, variant]) => ({ grid_id, variant })),
        );
      });

      it("pyarrow partitioning='hive' (inferred) reads a hex grid id as string, the seed as int32", () => {
        expect(gridIds.some((id) => /[a-f]/.test(id))).toBe(true);
        const { schema, rows } = readWith('pyarrow', path.join(base, 'events'), 'infer');
        expect(schema.grid_id).toBe('string');
        expect(schema.variant).toBe('string');
        expect(schema.seed).toBe('int32');
        expect(rows.map((r) => [r.event_id, r.grid_id, r.variant])).toEqual(
          expected.map((r) => [r.event_id, r.grid_id, r.variant]),
        );
      });
    });

    describe('all-digit partition values (grid id like 01234567, string param "007")', () => {
      let base: string;
      let gridId: string;

      beforeAll(async () => {
        base = freshDir('digits');
        const found = paramsWithAllDigitGridId({ algo: 'digits', run: '007' });
        gridId = found.gridId;
        const rows = [1, 2].map((seed) => ({ seed, event_id: seed, loss: seed / 4 }));
        const result = await writeEventRows(rows, base, found.params, { partitionByParams: ['run'] });
        expect(result.gridId).toBe(gridId);
      });

      it('runlake (openLake) keeps them as VARCHAR with their zeros', async () => {
        await withLake(base, async (lake) => {
          const glob = path.join(base, 'grids', '*', 'params.json');
          expect(await lake.query(`SELECT typeof(grid_id) AS t, grid_id FROM read_json('${glob}')`)).toEqual([
            { t: 'VARCHAR', grid_id: gridId },
          ]);
          expect(await duckTypes(lake, 'events')).toMatchObject({
            run: 'VARCHAR',
            grid_id: 'VARCHAR',
            seed: 'BIGINT',
          });
          expect(await lake.query('SELECT DISTINCT run, grid_id FROM events')).toEqual([
            { run: '007', grid_id: gridId },
          ]);
        });
      });

      /** A copy of the lake without `.runlake/`, as if another tool had written the files. */
      function withoutManifest(): string {
        const copy = freshDir('digits-copy');
        fs.cpSync(path.join(base, 'events'), path.join(copy, 'events'), { recursive: true });
        return copy;
      }

      it('without a manifest (discovered layout) grid_id stays VARCHAR', async () => {
        await withLake(withoutManifest(), async (lake) => {
          expect(await lake.query('SELECT DISTINCT typeof(grid_id) AS t, grid_id FROM events')).toEqual([
            { t: 'VARCHAR', grid_id: gridId },
          ]);
        });
      });

      it('without a manifest a leading-zero param partition ("007") stays VARCHAR', async () => {
        await withLake(withoutManifest(), async (lake) => {
          expect(await lake.query('SELECT DISTINCT typeof(run) AS t, run FROM events')).toEqual([
            { t: 'VARCHAR', run: '007' },
          ]);
        });
      });

      it('plain DuckDB read_parquet without hive_types: leading zeros stay VARCHAR, other digits become BIGINT', async () => {
        const rawTypes = (lakeDir: string) =>
          withLake(base, (lake) =>
            lake.query(
              `SELECT DISTINCT typeof(grid_id) AS t, CAST(grid_id AS VARCHAR) AS grid_id FROM ` +
                `read_parquet('${path.join(lakeDir, 'events', '**', '*.parquet')}', hive_partitioning = true)`,
            ),
          );
        expect(await rawTypes(base)).toEqual([{ t: 'VARCHAR', grid_id: gridId }]);
        const runType = await withLake(base, (lake) =>
          lake.query(
            `SELECT DISTINCT typeof(run) AS t, run FROM ` +
              `read_parquet('${path.join(base, 'events', '**', '*.parquet')}', hive_partitioning = true)`,
          ),
        );
        expect(runType).toEqual([{ t: 'VARCHAR', run: '007' }]);

        // A grid id that is all digits without a leading zero (written with writeRows directly).
        const plain = freshDir('digits-plain');
        await writeRows(plain, EVENTS_DATASET, [{ event_id: 1 }], {
          partitionFixed: { grid_id: '12345678' },
          partitionDefaults: { seed: 1 },
        });
        expect(await rawTypes(plain)).toEqual([{ t: 'BIGINT', grid_id: '12345678' }]);
        await withLake(plain, async (lake) => {
          expect(await lake.query('SELECT typeof(grid_id) AS t, grid_id FROM events')).toEqual([
            { t: 'VARCHAR', grid_id: '12345678' },
          ]);
        });
        expect(readWith('pyarrow', path.join(plain, 'events'), 'infer').schema.grid_id).toBe('int32');
        expect(readWith('pyarrow', path.join(plain, 'events'), PLAIN_PARTITIONS).rows).toEqual([
          { event_id: 1, grid_id: '12345678', seed: 1 },
        ]);
      });

      it("pyarrow partitioning='hive' infers int32 and loses the leading zeros", () => {
        const { schema, rows } = readWith('pyarrow', path.join(base, 'events'), 'infer');
        expect(schema).toMatchObject({ run: 'int32', grid_id: 'int32', seed: 'int32' });
        expect(rows.map((r) => [r.run, r.grid_id])).toEqual([
          [7, Number(gridId)],
          [7, Number(gridId)],
        ]);
      });

      it('pyarrow with the explicit partition schema keeps the strings', () => {
        const partitions = [['run', 'string'], ...PLAIN_PARTITIONS] as const;
        const { schema, rows } = readWith('pyarrow', path.join(base, 'events'), partitions);
        expect(schema).toMatchObject({ run: 'string', grid_id: 'string', seed: 'int64' });
        expect(rows).toEqual([
          { event_id: 1, loss: 0.25, run: '007', grid_id: gridId, seed: 1 },
          { event_id: 2, loss: 0.5, run: '007', grid_id: gridId, seed: 2 },
        ]);
      });

      it('polars: inferred hive types lose the zeros, hive_schema keeps them', () => {
        const inferred = readWith('polars', path.join(base, 'events'), 'infer');
        expect(inferred.schema).toMatchObject({ run: 'Int64', grid_id: 'Int64', seed: 'Int64' });
        expect(inferred.rows[0]).toMatchObject({ run: 7, grid_id: Number(gridId) });
        const partitions = [['run', 'string'], ...PLAIN_PARTITIONS] as const;
        const explicit = readWith('polars', path.join(base, 'events'), partitions);
        expect(explicit.rows[0]).toMatchObject({ run: '007', grid_id: gridId, seed: 1 });
      });
    });

    describe('schema evolution (a column widened BIGINT → DOUBLE, a column added later)', () => {
      let base: string;

      beforeAll(async () => {
        base = freshDir('evolve');
        const first = await writeEventRows([{ seed: 1, event_id: 1, score: 1 }], base, { g: 1 });
        const second = await writeEventRows([{ seed: 1, event_id: 2, score: 1.5, extra: 'x' }], base, {
          g: 2,
        });
        // Readers that take one file's schema take the first in path order: the BIGINT one here.
        expect(first.gridId < second.gridId).toBe(true);
      });

      it('DuckDB union_by_name, and pyarrow/polars with a unified schema, see every row and column', async () => {
        const rows = await withLake(base, (lake) =>
          lake.query('SELECT event_id, score, extra FROM events ORDER BY event_id'),
        );
        expect(rows).toEqual([
          { event_id: 1, score: 1, extra: null },
          { event_id: 2, score: 1.5, extra: 'x' },
        ]);
        for (const engine of ['pyarrow', 'polars'] as const) {
          const read = readWith(engine, path.join(base, 'events'), PLAIN_PARTITIONS, { unify: true });
          expect(read.rows.map(({ event_id, score, extra }) => ({ event_id, score, extra }))).toEqual(rows);
        }
      });

      it('pyarrow and polars without unifying fail on the widened column', () => {
        // Old files keep BIGINT; the first file's schema wins, and 1.5 does not fit an int64.
        expect(() => readWith('pyarrow', path.join(base, 'events'), PLAIN_PARTITIONS)).toThrow(
          /truncated converting to int64/,
        );
        expect(() => readWith('polars', path.join(base, 'events'), PLAIN_PARTITIONS)).toThrow(
          /data type mismatch for column score/,
        );
      });
    });

    describe('pandas / pyarrow → runlake', () => {
      const EPOCH_2024_US = Date.UTC(2024, 0, 1) * 1000;
      const COLUMNS = [
        ['grid_id', 'string'],
        ['seed', 'int64'],
        ['event_id', 'int64'],
        ['step', 'int64'],
        ['loss', 'float64'],
        ['label', 'string'],
        ['ok', 'bool'],
        ['at', 'timestamp_us_utc'],
      ];
      const pandasRows: JsonRow[] = [
        ['00012345', 1, 1, 0, 0.5],
        ['00012345', 1, 2, 1, null],
        ['00012345', 2, 3, 0, 0.125],
        ['abc00123', 1, 4, 0, 1e-9],
      ].map(([grid_id, seed, event_id, step, loss]) => ({
        grid_id,
        seed,
        event_id,
        step,
        loss,
        label: `pandas ${event_id} é`,
        ok: (event_id as number) % 2 === 0,
        at: EPOCH_2024_US + (event_id as number) * 1_000_123,
      }));
      const pyarrowRows: JsonRow[] = [
        {
          grid_id: '12345678',
          seed: 3,
          event_id: 5,
          step: 0,
          loss: 2.5,
          label: 'arrow',
          ok: true,
          at: EPOCH_2024_US,
        },
      ];

      function writeForeignLake(base: string, withParams: boolean): string[] {
        const write = (writer: string, rows: JsonRow[], grids: unknown[]) =>
          JSON.parse(
            py.runPython(
              'write_dataset.py',
              [],
              JSON.stringify({
                root: base,
                dataset: 'events',
                writer,
                partition_cols: ['grid_id', 'seed'],
                columns: COLUMNS,
                rows,
                grids,
              }),
            ),
          ) as { files: string[] };
        write(
          'pandas',
          pandasRows,
          withParams ? [{ grid_id: '00012345', params: { algo: 'pandas', lr: 0.5 } }] : [],
        );
        return write('pyarrow', pyarrowRows, []).files;
      }

      const selectAll =
        'SELECT event_id, step, loss, label, ok, epoch_us("at") AS "at", grid_id, seed FROM events';

      it.each([
        { withParams: false, label: 'no grids/ records' },
        { withParams: true, label: 'one grids/grid_id=…/params.json' },
      ])(
        'opens a pandas+pyarrow Hive dataset ($label), then takes runlake appends',
        async ({ withParams }) => {
          const base = freshDir('foreign');
          const files = writeForeignLake(base, withParams);
          expect(files.map((f) => path.dirname(f)).sort()).toEqual([
            'grid_id=00012345/seed=1',
            'grid_id=00012345/seed=2',
            'grid_id=12345678/seed=3',
            'grid_id=abc00123/seed=1',
          ]);
          const foreign = [...pandasRows, ...pyarrowRows];
          expect(fs.existsSync(path.join(base, '.runlake'))).toBe(false);

          await withLake(base, async (lake) => {
            expect(lake.datasets.get('events')?.manifest.partitionBy).toEqual([
              { name: 'grid_id', type: { kind: 'string' } },
              { name: 'seed', type: { kind: 'int64' } },
            ]);
            expect(await duckTypes(lake, 'events')).toEqual({
              event_id: 'BIGINT',
              step: 'BIGINT',
              loss: 'DOUBLE',
              label: 'VARCHAR',
              ok: 'BOOLEAN',
              at: 'TIMESTAMP WITH TIME ZONE',
              grid_id: 'VARCHAR',
              seed: 'BIGINT',
            });
            expect(await lake.query(`${selectAll} ORDER BY event_id`)).toEqual(foreign);
            const grids = await lake.query('SELECT * FROM grids ORDER BY grid_id');
            if (withParams) {
              expect(grids).toMatchObject([{ grid_id: '00012345', algo: 'pandas', lr: 0.5 }]);
              expect(
                await lake.query(
                  "SELECT count(*) AS n FROM events JOIN grids USING (grid_id) WHERE algo = 'pandas'",
                ),
              ).toEqual([{ n: 3 }]);
            } else {
              expect(grids).toEqual([]);
            }
          });

          // Append with runlake: the dataset has no manifest, so the layout is discovered from disk.
          const appended = [
            {
              seed: 4,
              event_id: 6,
              step: 0,
              loss: 0.75,
              label: 'runlake',
              ok: false,
              at: new Date(Date.UTC(2024, 1, 2)),
            },
            {
              seed: 4,
              event_id: 7,
              step: 1,
              loss: 0.5,
              label: 'runlake',
              ok: true,
              at: new Date(Date.UTC(2024, 1, 3)),
              grad_norm: 3.5,
            },
          ];
          const result = await writeEventRows(appended, base, { algo: 'runlake', lr: 0.25 });
          expect(result.files.map((f) => path.relative(path.join(base, 'events'), path.dirname(f)))).toEqual([
            `grid_id=${result.gridId}/seed=4`,
          ]);
          const manifest = JSON.parse(
            fs.readFileSync(path.join(base, '.runlake', 'datasets', 'events.json'), 'utf8'),
          );
          expect(manifest.partitionBy.map((k: { name: string }) => k.name)).toEqual(['grid_id', 'seed']);

          const union: JsonRow[] = [
            ...foreign.map((r) => ({ ...r, grad_norm: null })),
            ...appended.map((r) => ({
              ...r,
              at: r.at.getTime() * 1000,
              grid_id: result.gridId,
              grad_norm: r.grad_norm ?? null,
            })),
          ];
          await withLake(base, async (lake) => {
            expect(
              await lake.query(
                `SELECT * EXCLUDE ("at"), epoch_us("at") AS "at" FROM events ORDER BY event_id`,
              ),
            ).toEqual(union);
            expect(await lake.query('SELECT count(*) AS n FROM grids')).toEqual([{ n: withParams ? 2 : 1 }]);
          });

          const datasetDir = path.join(base, 'events');
          const arrow = readWith('pyarrow', datasetDir, PLAIN_PARTITIONS, { unify: true });
          expect(arrow.rows).toEqual(union);
          expect(arrow.schema).toMatchObject({ grid_id: 'string', seed: 'int64', grad_norm: 'double' });
          const polars = readWith('polars', datasetDir, PLAIN_PARTITIONS, { unify: true });
          expect(polars.rows).toEqual(union);
          // Without unifying, pyarrow takes the schema of one file (here a pandas one) and drops the
          // column only runlake's file has: still every row, but no grad_norm.
          const firstFileOnly = readWith('pyarrow', datasetDir, PLAIN_PARTITIONS);
          expect(firstFileOnly.rows.map((r) => r.event_id)).toEqual(union.map((r) => r.event_id));
          expect(firstFileOnly.schema.grad_norm).toBeUndefined();
        },
      );
    });

    describe('awkward partition values round-trip', () => {
      const VALUES = [
        ...AWKWARD_VARIANTS,
        '%',
        '%2F',
        ' lead',
        'trail ',
        'a\\b',
        "quo'te",
        'tab\there',
        '😀',
        '1e5',
        'true',
        '-1',
        '.',
        '~',
      ];
      let base: string;
      const gridOf = new Map<string, string>();

      beforeAll(async () => {
        base = freshDir('awkward');
        for (const [i, variant] of VALUES.entries()) {
          const result = await writeEventRows(
            [{ seed: 1, event_id: i }],
            base,
            { variant },
            { partitionByParams: ['variant'] },
          );
          gridOf.set(variant, result.gridId);
        }
      });

      const expectedRows = () =>
        VALUES.map((variant, i) => ({ event_id: i, variant, grid_id: gridOf.get(variant), seed: 1 }));

      it('directory names are the percent-encoding of encodePartitionComponent, and parse back', async () => {
        const files = await listParquetFiles(path.join(base, 'events'));
        const directories = new Set(files.map((f) => f.split('/')[0]));
        expect(directories).toEqual(new Set(VALUES.map((v) => `variant=${encodePartitionComponent(v)}`)));
        const parsed = files.map((f) => parsePartitionPath(f)[0]?.[1]);
        expect(new Set(parsed)).toEqual(new Set(VALUES));
      });

      it('DuckDB (openLake) reads every value back unchanged', async () => {
        await withLake(base, async (lake) => {
          expect(
            await lake.query('SELECT event_id, variant, grid_id, seed FROM events ORDER BY event_id'),
          ).toEqual(expectedRows());
          // Filters on the partition column see the decoded value.
          for (const value of VALUES) {
            const where = `variant = '${value.replaceAll("'", "''")}'`;
            expect(await lake.query(`SELECT count(*) AS n FROM events WHERE ${where}`)).toEqual([{ n: 1 }]);
          }
        });
      });

      it('pyarrow and polars read every value back unchanged', () => {
        const partitions = [['variant', 'string'], ...PLAIN_PARTITIONS] as const;
        for (const engine of ['pyarrow', 'polars'] as const) {
          expect(readWith(engine, path.join(base, 'events'), partitions).rows).toEqual(expectedRows());
        }
      });
    });

    describe('number and boolean params as partition directories', () => {
      const LRS = [1e-7, 0.1 * 3, 2, -0.5];
      let base: string;

      beforeAll(async () => {
        base = freshDir('numeric');
        for (const [i, lr] of LRS.entries()) {
          await writeEventRows(
            [{ seed: 1, event_id: i }],
            base,
            { lr, flag: i % 2 === 0 },
            { partitionByParams: ['lr', 'flag'] },
          );
        }
      });

      it('read back as DOUBLE / BOOLEAN in DuckDB and, with an explicit schema, in pyarrow', async () => {
        const expected = LRS.map((lr, i) => ({ event_id: i, lr, flag: i % 2 === 0 }));
        await withLake(base, async (lake) => {
          expect(await duckTypes(lake, 'events')).toMatchObject({ lr: 'DOUBLE', flag: 'BOOLEAN' });
          expect(await lake.query('SELECT event_id, lr, flag FROM events ORDER BY event_id')).toEqual(
            expected,
          );
        });
        const partitions = [['lr', 'float64'], ['flag', 'bool'], ...PLAIN_PARTITIONS] as const;
        const { schema, rows } = readWith('pyarrow', path.join(base, 'events'), partitions);
        expect(schema).toMatchObject({ lr: 'double', flag: 'bool' });
        expect(rows.map(({ event_id, lr, flag }) => ({ event_id, lr, flag }))).toEqual(expected);
        // Inferred, pyarrow keeps '1e-7' and 'true' as strings.
        expect(readWith('pyarrow', path.join(base, 'events'), 'infer').schema).toMatchObject({
          lr: 'string',
          flag: 'string',
        });
      });
    });

    describe("string partition values that spell NULL ('NULL', 'null', 'Null')", () => {
      const VALUES = ['NULL', 'null', 'Null'];
      let base: string;

      beforeAll(async () => {
        base = freshDir('nulls');
        for (const [i, variant] of VALUES.entries()) {
          await writeEventRows(
            [{ seed: 1, event_id: i }],
            base,
            { variant },
            { partitionByParams: ['variant'] },
          );
        }
      });

      it('are written with their first character escaped, so no engine reads them as NULL', async () => {
        const files = await listParquetFiles(path.join(base, 'events'));
        expect(new Set(files.map((f) => f.split('/')[0]))).toEqual(
          new Set(['variant=%4EULL', 'variant=%6Eull', 'variant=%4Eull']),
        );
        const partitions = [['variant', 'string'], ...PLAIN_PARTITIONS] as const;
        for (const engine of ['pyarrow', 'polars'] as const) {
          const { rows } = readWith(engine, path.join(base, 'events'), partitions);
          expect(rows.map((r) => r.variant)).toEqual(VALUES);
        }
      });

      it('round-trip through openLake', async () => {
        await withLake(base, async (lake) => {
          const rows = await lake.query('SELECT variant FROM events ORDER BY event_id');
          expect(rows.map((r) => r.variant)).toEqual(VALUES);
        });
      });

      it('refuses the Hive NULL marker itself as a string value, writing nothing', async () => {
        const dir = freshDir('hive-null');
        await expect(
          writeEventRows(
            [{ seed: 1, event_id: 0 }],
            dir,
            { variant: HIVE_NULL_PARTITION },
            { partitionByParams: ['variant'] },
          ),
        ).rejects.toThrow(/Hive marker for NULL/);
        expect(await listParquetFiles(path.join(dir, 'events'))).toEqual([]);
      });
    });
  },
);

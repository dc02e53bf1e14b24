/**
 * Parity with the real synthefy-dataset-utils package (reference copy under
 * /work/shared/peers/synthefy, or $RUNLAKE_SYNTHEFY), run through test/python/shards_parity.py: the
 * real writer stores every dtype numpy has and runlake reads each array byte-equal; runlake
 * writes every dtype and the real reader loads each one byte-equal; query, field selection,
 * metadata and update semantics side by side on the same store (docs/shards.md, "Compatibility
 * with synthefy-dataset-utils"). Skipped locally without numpy or the package, fails on CI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  arrayValues,
  bytesArray,
  convertOptionsFromConfig,
  convertParquetToShards,
  datetimeArray,
  datetimeUnit,
  decodeNpy,
  encodeNpy,
  halfToFloat,
  type NdArray,
  ndarray,
  npyStrings,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  shardPath,
  structuredField,
  UnsupportedDtypeError,
  unicodeArray,
} from '../src/shards/index.js';
import { NumpyRng } from '../src/shards/numpy-random.js';
import { pythonWith, runPython } from './helpers/python.js';

const PKG = process.env.RUNLAKE_SYNTHEFY ?? '/work/shared/peers/synthefy';
const py = pythonWith(['numpy']);
const missingPkg = !fs.existsSync(path.join(PKG, 'synthefy_dataset_utils'));
const skip = py.skip || (missingPkg && !process.env.CI);
if (skip) console.warn(`[shards-parity.test] skipping: ${py.reason || `no reference package at ${PKG}`}`);

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function freshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-parity-'));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}

function parity<T>(...args: string[]): T {
  return JSON.parse(runPython('shards_parity.py', args, undefined, { python: py.python })) as T;
}

/** The `.npy` bytes of an array as runlake writes them. */
function npyBytes(array: NdArray): Buffer {
  const { header, data } = encodeNpy(array);
  return Buffer.concat([header, data]);
}

describe.skipIf(skip)('synthefy-dataset-utils parity: dtypes', () => {
  const realRoot = freshRoot();
  let cases: Record<string, { npy_b64: string }> = {};

  it('reads every dtype the real writer stores, byte-equal (re-encoded .npy == numpy.save)', () => {
    cases = parity('write-real', realRoot);
    expect(Object.keys(cases).length).toBeGreaterThan(30);
    const reader = new ShardedDatasetReader(realRoot);
    const problems: string[] = [];
    for (const [name, { npy_b64 }] of Object.entries(cases)) {
      const expected = Buffer.from(npy_b64, 'base64');
      const array = reader.getSample(name).arrays.a as NdArray;
      const got = npyBytes(array);
      if (!got.equals(expected))
        problems.push(
          `${name}: re-encoded ${JSON.stringify(got.subarray(0, 160).toString('latin1'))} != numpy ${JSON.stringify(expected.subarray(0, 160).toString('latin1'))}`,
        );
      // And the decoder alone agrees with the reader.
      if (!npyBytes(decodeNpy(expected)).equals(expected)) problems.push(`${name}: decodeNpy round trip`);
    }
    // The values, not only the bytes, are numpy's.
    const a = (name: string) => reader.getSample(name).arrays.a as NdArray;
    expect(npyStrings(a('unicode'))).toEqual(['a', 'héllo', '', '𝄞x']);
    expect(npyStrings(a('unicode_be'))).toEqual(['ab', 'ü']);
    expect(npyStrings(a('bytes'))).toEqual(['ab', '', '\u0000ÿz']);
    expect(arrayValues(a('complex128_be'))).toEqual([
      [1, 2],
      [-0, -1],
    ]);
    expect(Array.from(a('datetime64').data as BigInt64Array)).toEqual([1704067200123456789n, -(2n ** 63n)]);
    expect([datetimeUnit(a('datetime64_day')), datetimeUnit(a('timedelta64_generic'))]).toEqual([
      'D',
      'generic',
    ]);
    expect(Array.from(a('int32_be').data as Int32Array)).toEqual([1, -2, 2 ** 31 - 1]);
    expect(Array.from(structuredField(a('structured'), 'y').data as BigInt64Array)).toEqual([2n, -7n]);
    expect(npyStrings(structuredField(a('structured_nested'), 'q'))).toEqual(['xyz']);
    reader.close();
    expect(problems).toEqual([]);
  });

  it('refuses object arrays with a clear error, as np.load(allow_pickle=False) does', () => {
    const reader = new ShardedDatasetReader(realRoot);
    expect(() => reader.getSample('object')).toThrow(UnsupportedDtypeError);
    expect(() => reader.getSample('object')).toThrow(/object arrays \(\|O\) need pickle/);
    reader.close();
  });

  it('writes every dtype so that the real reader loads it byte-equal', () => {
    const source = new ShardedDatasetReader(realRoot);
    const root = freshRoot();
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 5 });
    writer.addField('a');
    for (const name of Object.keys(cases))
      writer.addSample({ a: source.getSample(name).arrays.a as NdArray }, { sampleId: name });
    writer.close();
    source.close();
    // runlake wrote exactly numpy's bytes (long double padding included): the .npy member in the
    // tar, read raw at the offset the index records, equals numpy.save's output…
    const written = new ShardedDatasetReader(root);
    for (const [name, { npy_b64 }] of Object.entries(cases)) {
      const [row] = written.sql(
        'SELECT a_shard AS shard, a_offset AS offset, a_size AS size FROM samples WHERE id = ?',
        [name],
      ) as { shard: number; offset: number; size: number }[];
      const fd = fs.openSync(shardPath(root, 'a', row?.shard as number), 'r');
      const member = Buffer.alloc(row?.size as number);
      fs.readSync(fd, member, 0, member.length, (row?.offset as number) + 512);
      fs.closeSync(fd);
      expect(member.equals(Buffer.from(npy_b64, 'base64')), name).toBe(true);
    }
    written.close();
    // … and the real reader loads every one of them as the same array.
    const result = parity<Record<string, string | null>>(
      'read-real',
      root,
      JSON.stringify(Object.keys(cases)),
    );
    expect(Object.entries(result).filter(([, problem]) => problem !== null)).toEqual([]);
  });
});

/** The operations both writers run, as test/python/shards_parity.py `ops` takes them. */
const OPS = [
  { op: 'add_fields', args: { names: ['target', 'history'] } },
  {
    op: 'add_sample',
    args: { id: 'b', arrays: { history: [1, 2], target: [3] }, metadata: { ok: true, n: 1 } },
  },
  {
    op: 'add_sample',
    args: { id: '123', arrays: { history: [4], target: [5] }, metadata: { ok: true, n: 2 } },
  },
  {
    op: 'add_sample',
    args: { id: 'a', arrays: { history: [6], target: [7] }, metadata: { ok: false, n: 3 } },
  },
  { op: 'add_sample', args: { id: 'c', arrays: { history: [8] }, metadata: { x: '__nan__', y: 1.5 } } },
  { op: 'add_sample', args: { id: 'l', arrays: { history: [9] }, metadata: [1, 'two'] } },
  { op: 'add_sample', args: { id: 's', arrays: { history: [10] }, metadata: 'hello' } },
  // An existing id: arrays replaced, metadata kept (INSERT OR IGNORE).
  { op: 'add_sample', args: { id: 'b', arrays: { history: [11, 12] }, metadata: { ok: false, n: 99 } } },
  // metadata=None keeps the metadata.
  { op: 'update_sample', args: { id: 'a', arrays: { target: [13] } } },
  { op: 'update_sample', args: { id: '123', arrays: {}, metadata: { n: 20 } } },
  // Each item of a given metadata list is stored as given: None → null, {} → {}.
  { op: 'register_samples', args: { ids: ['r0', 'r1', 'r2'], metadata: [null, {}, { k: 1 }] } },
];

/** The reader calls compared side by side. */
const CALLS = [
  { op: 'len' },
  { op: 'list_fields' },
  { op: 'query_ids' },
  { op: 'query_ids', args: [null, [], 0] },
  { op: 'query_ids', args: [null, [], 2] },
  { op: 'query_ids', args: [null, [], -1] },
  { op: 'query_ids', args: ["id LIKE 'r%'"] },
  { op: 'query_ids', args: ['meta_json IS ?', ['null']] },
  { op: 'query_ids', args: ['1=1 ORDER BY id DESC'] },
  { op: 'query_ids', args: ["id > 'a' LIMIT 1"] },
  { op: 'query_ids', args: ['id = ?', [123]] },
  { op: 'query_ids', args: ["json_extract(meta_json, '$.ok') = ?", [true]] },
  { op: 'query_ids', args: ['target_offset IS NOT NULL'] },
  { op: 'query_ids', args: ['nope >'] },
  { op: 'get_sample', args: ['b'] },
  { op: 'get_sample', args: ['a', []] },
  { op: 'get_sample', args: ['c', ['target', 'nope', 'history']] },
  { op: 'get_sample', args: ['c'] },
  { op: 'get_sample', args: ['l'] },
  { op: 'get_sample', args: ['s'] },
  { op: 'get_sample', args: ['123'] },
  { op: 'get_sample', args: ['ghost'] },
  { op: 'get_sample', args: ['r0'] },
  { op: 'get_sample', args: ['r1'] },
  { op: 'get_many', args: [['a', 'c', 'b'], ['target']] },
];

type Outcome = { ok: unknown } | { error: string };

/** Python's JSON answers: non-finite floats as repr, arrays as dtype, shape and npy bytes. */
function plain(value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value))
    return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf';
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    if ('data' in value && 'shape' in value && 'dtype' in value) {
      const array = value as NdArray;
      return { dtype: 'ignored', shape: [...array.shape], npy_b64: npyBytes(array).toString('base64') };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** The same calls on runlake's reader, answered in the Python script's shape. */
function runlakeCalls(root: string): Outcome[] {
  const reader = new ShardedDatasetReader(root);
  const out = CALLS.map((call): Outcome => {
    const args = (call.args ?? []) as unknown[];
    try {
      switch (call.op) {
        case 'len':
          return { ok: reader.size };
        case 'list_fields':
          return { ok: reader.listFields() };
        case 'query_ids':
          return {
            ok: reader.queryIds(
              (args[0] as string | null) ?? undefined,
              (args[1] as unknown[]) ?? [],
              (args[2] as number | null) ?? undefined,
            ),
          };
        case 'get_sample': {
          const s = reader.getSample(args[0] as string, args[1] as string[] | undefined);
          return {
            ok: plain({ fields: Object.keys(s.arrays).sort(), arrays: s.arrays, metadata: s.metadata }),
          };
        }
        case 'get_many':
          return {
            ok: reader
              .getMany(args[0] as string[], args[1] as string[])
              .map((s) => plain({ fields: Object.keys(s.arrays).sort(), metadata: s.metadata })),
          };
        default:
          throw new Error(call.op);
      }
    } catch (error) {
      return { error: (error as Error).name };
    }
  });
  reader.close();
  return out;
}

/** Python answers with the array dtypes blanked (runlake reports names, numpy descrs). */
function normalise(outcomes: Outcome[]): Outcome[] {
  return JSON.parse(JSON.stringify(outcomes), (key, value) =>
    key === 'dtype' ? 'ignored' : value,
  ) as Outcome[];
}

/** runlake's writer running OPS (the Python script's `ops` command, in TypeScript). */
function runlakeOps(root: string): void {
  const writer = new ShardedDatasetWriter(root);
  for (const { op, args } of OPS as { op: string; args: Record<string, unknown> }[]) {
    const arrays = Object.fromEntries(
      Object.entries((args.arrays ?? {}) as Record<string, number[]>).map(([k, v]) => [
        k,
        new Float64Array(v),
      ]),
    );
    const metadata = JSON.parse(JSON.stringify(args.metadata ?? null), (_k, v) =>
      v === '__nan__' ? Number.NaN : v,
    );
    if (op === 'add_fields') writer.addFields(args.names as string[]);
    else if (op === 'add_sample') writer.addSample(arrays, { sampleId: args.id as string, metadata });
    else if (op === 'update_sample') writer.updateSample(args.id as string, arrays, { metadata });
    else if (op === 'register_samples') writer.registerSamples(args.ids as string[], metadata as unknown[]);
  }
  writer.close();
}

describe.skipIf(skip)('synthefy-dataset-utils parity: arrays built in TypeScript', () => {
  it('writes helper-built strings, bytes, datetimes, complex and float16 NaN payloads as numpy does', () => {
    const root = freshRoot();
    const writer = new ShardedDatasetWriter(root);
    writer.addField('a');
    const add = (name: string, array: NdArray) => writer.addSample({ a: array }, { sampleId: `${name}:ts` });
    add('unicode', unicodeArray(['a', 'héllo', '', '𝄞x']));
    add('unicode_2d', unicodeArray(['ab', 'c', '', 'xyz'], [2, 2]));
    add('bytes', bytesArray(['ab', '', new Uint8Array([0, 255, 0x7a])]));
    add('datetime64', datetimeArray(new BigInt64Array([1704067200123456789n, -(2n ** 63n)]), 'ns'));
    add(
      'timedelta64',
      datetimeArray(new BigInt64Array([1n, -5n, -(2n ** 63n)]), 's', { kind: 'timedelta64' }),
    );
    add('complex128', ndarray(new Float64Array([1, 2, 3, -4]), [1, 2], { dtype: 'complex128' }));
    add('int32_be', ndarray(new Int32Array([1, -2, 2 ** 31 - 1]), [3], { descr: '>i4' }));
    const halves = new Uint16Array([0x7e01, 0xfe00, 0x7c01, 0xfc3f, 0x8000, 0x7c00, 0x0001, 0x3c00]);
    add('float16', ndarray(halfToFloat(halves), [8], { dtype: 'float16' }));
    add('float16_be', ndarray(halfToFloat(halves), [8], { descr: '>f2' }));
    writer.close();
    // Streaming writes (openShard) of registered samples, read by the real reader too.
    const streaming = new ShardedDatasetWriter(root);
    streaming.registerSamples(['float32:stream', 'structured:stream']);
    const shard = streaming.openShard('a', 3);
    shard.addSample('float32:stream', new Float32Array([1.5, -0, Number.POSITIVE_INFINITY, Number.NaN]));
    shard.addSample(
      'structured:stream',
      ndarray(structuredBytes(), [2], { descr: "[('x', '<f4'), ('y', '<i8'), ('z', '<u2', (2,))]" }),
    );
    shard.close();
    streaming.close();
    const names = new ShardedDatasetReader(root).queryIds();
    const result = parity<Record<string, string | null>>('read-real', root, JSON.stringify(names));
    expect(Object.entries(result).filter(([, problem]) => problem !== null)).toEqual([]);
    expect(Object.keys(result)).toHaveLength(11);
  });
});

/** The bytes numpy stores for the "structured" case: (1.5, 2, [1, 2]), (-1.0, -7, [3, 4]). */
function structuredBytes(): Uint8Array {
  const out = Buffer.alloc(2 * 16);
  out.writeFloatLE(1.5, 0);
  out.writeBigInt64LE(2n, 4);
  out.writeUInt16LE(1, 12);
  out.writeUInt16LE(2, 14);
  out.writeFloatLE(-1, 16);
  out.writeBigInt64LE(-7n, 20);
  out.writeUInt16LE(3, 28);
  out.writeUInt16LE(4, 30);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

describe.skipIf(skip)('synthefy-dataset-utils parity: semantics', () => {
  // '__nan__' in OPS is NaN (math.nan in Python): the real writer stores {"x": NaN}.
  const ops = JSON.stringify(OPS);

  it('answers queries, field selections and metadata as the real reader does, on a store the real writer made', () => {
    const root = freshRoot();
    parity('ops', root, ops);
    const real = normalise(parity<Outcome[]>('query', root, JSON.stringify(CALLS)));
    const ours = normalise(runlakeCalls(root));
    // Errors differ in name (KeyError vs UnknownSampleError, OperationalError vs ShardsQueryError):
    // compare that both failed.
    const shape = (o: Outcome[]) => o.map((x) => ('error' in x ? 'error' : x));
    const differ = CALLS.map((call, i) => ({ call, ours: shape(ours)[i], real: shape(real)[i] })).filter(
      (d, i) =>
        JSON.stringify(d.ours) !== JSON.stringify(d.real) &&
        // SQLite before 3.42 (Python's, here 3.40) refuses json_extract over the NaN token the
        // Python writer itself stored; better-sqlite3's SQLite reads it (JSON5). Documented.
        !String((real[i] as { error?: string }).error).includes('malformed JSON'),
    );
    expect(differ).toEqual([]);
  });

  it('writes what the real writer writes: same answers from the real reader on both stores', () => {
    const realRoot = freshRoot();
    parity('ops', realRoot, ops);
    const ourRoot = freshRoot();
    runlakeOps(ourRoot);
    const calls = JSON.stringify(CALLS);
    expect(normalise(parity<Outcome[]>('query', ourRoot, calls))).toEqual(
      normalise(parity<Outcome[]>('query', realRoot, calls)),
    );
  });
});

describe.skipIf(skip)('synthefy-dataset-utils parity: convert', () => {
  it("shuffles as numpy's default_rng(seed).shuffle does (the converter's splits)", () => {
    for (const seed of [0, 7, 42, 2 ** 40 + 3]) {
      const sizes = [10, 5, 1, 0, 300, 70000];
      const rng = new NumpyRng(seed);
      const ours = sizes.map((n) => rng.shuffle(Array.from({ length: n }, (_, i) => i)));
      expect(ours).toEqual(parity('shuffle', String(seed), JSON.stringify(sizes)));
    }
  });
});

describe.skipIf(skip || pythonWith(['numpy', 'pandas', 'pyarrow']).skip)(
  'synthefy-dataset-utils parity: convert_to_sharded',
  () => {
    type Split = { fields: string[]; samples: { meta: unknown; arrays: Record<string, unknown> }[] } | null;

    async function compare(custom: boolean, config: Record<string, unknown>): Promise<void> {
      const dir = path.dirname(freshRoot());
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, 'vitals.parquet');
      parity('make-parquet', file, custom ? 'custom' : 'plain');
      const configFile = path.join(dir, 'config.json');
      fs.writeFileSync(configFile, JSON.stringify({ filename: 'vitals.parquet', ...config }));
      const real = parity<Record<string, Split>>('convert', configFile, dir, path.join(dir, 'real'));
      const report = await convertParquetToShards(
        file,
        path.join(dir, 'ours'),
        convertOptionsFromConfig(config),
      );
      for (const split of ['train', 'val', 'test'] as const) {
        const expected = real[`vitals_${split}`] ?? null;
        const ours = report.splits[split];
        if (!expected) {
          expect(ours, split).toBeNull();
          continue;
        }
        expect(ours, split).not.toBeNull();
        const reader = new ShardedDatasetReader(ours?.dir as string);
        const samples = reader.queryIds().map((id) => {
          const s = reader.getSample(id);
          return { meta: plain(s.metadata), arrays: plain(s.arrays) };
        });
        expect(reader.listFields(), split).toEqual(expected.fields);
        reader.close();
        expect(samples.length, split).toBeGreaterThan(0);
        expect(normalise(samples as never), split).toEqual(normalise(expected.samples as never));
      }
    }

    it('builds the same splits, windows and metadata as convert_to_sharded (ratio split, seed)', () =>
      compare(false, {
        timeseries: { cols: ['ppg', 'ecg'] },
        group_labels: { cols: ['subject'] },
        discrete: { cols: ['site'] },
        continuous: { cols: ['temp'] },
        window_size: 12,
        stride: 5,
        history_forecast_split: { history_length: 9 },
        train_val_split: { train: 0.6, val: 0.25 },
        seed: 7,
        samples_per_shard: 16,
      }));

    it('follows a custom_split column, and a time split', async () => {
      await compare(true, {
        timeseries: { cols: ['ppg'] },
        window_size: 8,
        stride: 3,
        history_forecast_split: { history_ratio: 0.75 },
      });
      await compare(false, {
        timeseries: { cols: ['ppg'] },
        group_labels: { cols: ['subject', 'site'] },
        window_size: 6,
        stride: 4,
        train_val_split: {
          method: 'timestamp',
          timestamp_column: 'ts',
          train_end: '2024-01-02T00:00:00',
          val_end: '2024-01-02 12:00:00',
        },
      });
    });
  },
);

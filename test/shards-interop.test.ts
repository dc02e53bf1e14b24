/**
 * Array shards ⇄ numpy: Python's tarfile lists runlake's shards and numpy.load reads every member
 * with the right dtype, shape and values; runlake reads (and appends to) a dataset whose shards
 * were written by tarfile + numpy.save and whose index was written by sqlite3 in the seed's
 * layout, pax headers (long and non-ASCII names) included. Skipped locally without numpy, fails
 * on CI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArrayInput,
  type NdArray,
  ndarray,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  verifyShards,
} from '../src/index.js';
import { pythonWith } from './helpers/python.js';

const py = pythonWith(['numpy']);
if (py.skip) console.warn(`[shards-interop.test] skipping: ${py.reason}`);

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function freshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-py-'));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}

interface PyArray {
  readonly descr: string;
  readonly shape: number[];
  readonly fortran: boolean;
  readonly data_b64: string;
}
interface PyMember extends PyArray {
  readonly name: string;
  readonly offset: number;
  readonly offset_data: number;
  readonly size: number;
}

const DESCR: Record<string, string> = {
  bool: '|b1',
  int8: '|i1',
  uint8: '|u1',
  int16: '<i2',
  uint16: '<u2',
  int32: '<i4',
  uint32: '<u4',
  int64: '<i8',
  uint64: '<u8',
  float16: '<f2',
  float32: '<f4',
  float64: '<f8',
};

/** Little-endian bytes of an array's values as numpy would store them (float16 as halves). */
function littleEndianBytes(array: NdArray): Buffer {
  if (array.dtype === 'float16') {
    const bits = new Uint16Array(array.data.length);
    const view = new DataView(bits.buffer);
    const f = array.data as Float32Array;
    // Exact: every value came from a half.
    for (let i = 0; i < f.length; i++) view.setUint16(i * 2, halfBits(f[i] as number), true);
    return Buffer.from(bits.buffer);
  }
  return Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
}
function halfBits(value: number): number {
  const f = new Float32Array([value]);
  const x = new Uint32Array(f.buffer)[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  const mantissa = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0) return sign;
  if (exponent <= 0) return sign | ((mantissa | 0x800000) >> (14 - exponent));
  return sign | (exponent << 10) | (mantissa >> 13);
}

function expectSameArray(ours: NdArray, theirs: PyArray): void {
  expect(DESCR[ours.dtype]?.slice(1)).toBe(theirs.descr.slice(1));
  expect(ours.shape).toEqual(theirs.shape);
  if (ours.shape.length > 1) expect(ours.order === 'F').toBe(theirs.fortran);
  expect(littleEndianBytes(ours).toString('base64')).toBe(theirs.data_b64);
}

describe.skipIf(py.skip)(`array shards ⇄ numpy${py.skip ? ' (skipped: no numpy)' : ''}`, () => {
  beforeAll(() => {
    if (!py.available) throw new Error(py.reason);
  });

  it('Python tarfile lists our shards and numpy.load reads every member exactly', () => {
    const root = freshRoot();
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 3 });
    writer.addFields(['history', 'target']);
    const inputs: Record<string, ArrayInput>[] = [
      {
        history: new Float32Array([1.5, -2, 3]),
        target: ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3], { order: 'F' }),
      },
      {
        history: ndarray(new Float32Array([0.5, -1, 65504, 0]), [2, 2], { dtype: 'float16' }),
        target: ndarray(new Float64Array([7]), []),
      },
      {
        history: ndarray(new Float32Array(0), [0, 4]),
        target: ndarray(new Uint8Array([1, 0, 1]), [3], { dtype: 'bool' }),
      },
      { history: new Int8Array([-128, 127]), target: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) },
      { history: new Uint16Array([65535, 1]), target: new BigUint64Array([2n ** 64n - 1n]) },
      { history: new Int16Array([-300]), target: new Uint32Array([2 ** 32 - 1]) },
      { history: ndarray(new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2]), target: new Uint8Array([9]) },
    ];
    const ids = inputs.map((arrays, i) =>
      writer.addSample(arrays, {
        sampleId: i === 6 ? `long_${'z'.repeat(130)}` : undefined,
        metadata: { i },
      }),
    );
    writer.addSample({ history: new Float32Array([8]) }, { sampleId: 'ünïcode_id' });
    ids.push('ünïcode_id');
    writer.updateSample(ids[0] as string, { history: new Float32Array([42, 43]) });
    writer.close();

    const listing = JSON.parse(py.runPython('shards_read.py', [root])) as Record<string, PyMember[]>;
    const reader = new ShardedDatasetReader(root);
    const seen = new Set<string>();
    for (const [key, members] of Object.entries(listing)) {
      const field = key.split('/')[0] as string;
      for (const member of members) {
        const sampleId = member.name.replace(/\.npy$/, '');
        // The index points at the member's header, as tarfile's TarInfo.offset.
        const offsetIsLive =
          reader.queryIds(`${field}_offset = ? AND ${field}_shard = ?`, [
            member.offset,
            Number(key.slice(-8, -4)),
          ]).length > 0;
        if (!offsetIsLive) continue; // the member replaced by updateSample
        seen.add(`${field}/${sampleId}`);
        expectSameArray(reader.getSample(sampleId, [field]).arrays[field] as NdArray, member);
      }
    }
    reader.close();
    expect(seen.size).toBe(15);
    // The replaced member is still a valid tar member (dead bytes until compaction).
    expect(Object.values(listing).flat().length).toBe(16);
  });

  it("reads a dataset indexed the seed writer's way (offsets that are running sums), by member name", () => {
    const root = freshRoot();
    const expected = JSON.parse(py.runPython('shards_write.py', [root, '4', 'seed'])) as Record<
      string,
      { metadata: Record<string, unknown>; arrays: Record<string, PyArray> }
    >;
    const ids = Object.keys(expected);
    const reader = new ShardedDatasetReader(root, { indexCache: 'off' });
    try {
      for (const sample of reader.getMany(ids)) {
        for (const [field, array] of Object.entries(expected[sample.sampleId]?.arrays ?? {}))
          expectSameArray(sample.arrays[field] as NdArray, array);
      }
      expect([...reader.scanField('history')].map((s) => s.sampleId).sort()).toEqual([...ids].sort());
    } finally {
      reader.close();
    }
    // verify accepts it, and says which rows are found by name rather than by offset.
    const report = verifyShards(root);
    expect(report.ok).toBe(true);
    expect(report.warnings.length).toBeGreaterThan(0);
    expect(report.warnings[0]?.message).toMatch(
      /is not the header offset of the newest member of that name \(\d+\); readers find it by name/,
    );

    // Once a row is indexed by runlake (an update), it is read strictly by its header offset.
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    writer.updateSample(ids[1] as string, { history: new Float32Array([7, 8, 9]) });
    writer.close();
    const again = new ShardedDatasetReader(root);
    try {
      expect([...(again.getSample(ids[1] as string, ['history']).arrays.history?.data ?? [])]).toEqual([
        7, 8, 9,
      ]);
    } finally {
      again.close();
    }
  });

  it('reads and appends to a dataset written by tarfile + numpy.save + sqlite3', () => {
    const root = freshRoot();
    const expected = JSON.parse(py.runPython('shards_write.py', [root, '4'])) as Record<
      string,
      { metadata: Record<string, unknown>; arrays: Record<string, PyArray> }
    >;
    const ids = Object.keys(expected);
    expect(ids.some((id) => id.length > 100)).toBe(true);
    const check = () => {
      const reader = new ShardedDatasetReader(root, { indexCache: 'off' });
      try {
        expect(reader.queryIds()).toEqual(expect.arrayContaining(ids));
        expect(reader.listFields()).toEqual(['history', 'target']);
        for (const sample of reader.getMany(ids)) {
          const want = expected[sample.sampleId];
          expect(sample.metadata).toEqual(want?.metadata);
          for (const [field, array] of Object.entries(want?.arrays ?? {}))
            expectSameArray(sample.arrays[field] as NdArray, array);
        }
        expect(reader.queryIds("json_extract(meta_json, '$.length') >= ?", [100]).length).toBe(3);
        const scanned = [...reader.scanField('target')].map((s) => s.sampleId);
        expect(scanned.sort()).toEqual([...reader.queryIds()].sort());
      } finally {
        reader.close();
      }
    };
    check();
    expect(verifyShards(root).ok).toBe(true);

    // Our writer adopts the Python shards and appends after their last member.
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    const added = writer.addSample({ history: new Float32Array([1, 2]), target: new Float64Array([3]) });
    writer.updateSample(ids[0] as string, { target: new Float64Array([-1]) });
    writer.close();
    expect(added).toBe('sample_000000000014');
    expected[added] = {
      metadata: {},
      arrays: {
        history: {
          descr: '<f4',
          shape: [2],
          fortran: false,
          data_b64: Buffer.from(new Float32Array([1, 2]).buffer).toString('base64'),
        },
        target: {
          descr: '<f8',
          shape: [1],
          fortran: false,
          data_b64: Buffer.from(new Float64Array([3]).buffer).toString('base64'),
        },
      },
    };
    (expected[ids[0] as string] as { arrays: Record<string, PyArray> }).arrays.target = {
      descr: '<f8',
      shape: [1],
      fortran: false,
      data_b64: Buffer.from(new Float64Array([-1]).buffer).toString('base64'),
    };
    ids.push(added);
    check();
    expect(verifyShards(root).ok).toBe(true);
    // And Python still lists and loads every shard after our appends.
    const listing = JSON.parse(py.runPython('shards_read.py', [root])) as Record<string, PyMember[]>;
    expect(Object.values(listing).flat().length).toBe(2 * 13 + 3);
  });
});

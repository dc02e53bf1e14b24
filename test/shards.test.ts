/**
 * Array shards: the npy and tar codecs, the writer and reader API of the seed, crash recovery on
 * reopen, indexed metadata, compaction, verification, and typed errors for bad input.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ArrayInputError,
  arrayValues,
  bytesArray,
  compactShards,
  DuplicateSampleError,
  datetimeArray,
  datetimeUnit,
  decodeNpy,
  encodeNpy,
  floatToHalf,
  halfToFloat,
  MissingFieldError,
  memberHeader,
  type NdArray,
  NpyFormatError,
  ndarray,
  npyByteRows,
  npyStrings,
  parseNpyHeader,
  readMemberAt,
  ShardCorruptionError,
  ShardDatasetError,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  ShardsQueryError,
  shardPath,
  shardsInfo,
  structuredField,
  structuredFields,
  TruncatedShardError,
  UnknownFieldError,
  UnknownSampleError,
  UnsupportedDtypeError,
  unicodeArray,
  verifyShards,
  WriterLockedError,
} from '../src/index.js';

const tempDirs: string[] = [];
function freshRoot(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runlake-shards-${label}-`));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function npyBytes(array: ReturnType<typeof ndarray>): Uint8Array {
  const { header, data } = encodeNpy(array);
  return Buffer.concat([header, data]);
}

/** A dataset of `n` samples with float32 `history` (i, i+1, i+2) and int32 `target` (i). */
function writeDataset(root: string, n: number, samplesPerShard = 4): string[] {
  const writer = new ShardedDatasetWriter(root, { samplesPerShard });
  writer.addFields(['history', 'target']);
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push(
      writer.addSample(
        { history: new Float32Array([i, i + 1, i + 2]), target: new Int32Array([i]) },
        { metadata: { length: i * 10, source: i % 2 ? 'odd' : 'even' } },
      ),
    );
  writer.close();
  return ids;
}

function withReader<T>(root: string, use: (r: ShardedDatasetReader) => T): T {
  const reader = new ShardedDatasetReader(root);
  try {
    return use(reader);
  } finally {
    reader.close();
  }
}

describe('npy codec', () => {
  const cases = [
    ndarray(new Float32Array([1.5, -2, 3])),
    ndarray(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3], { order: 'F' }),
    ndarray(new Int8Array([-128, 127])),
    ndarray(new Int16Array([-3, 4]), [1, 2]),
    ndarray(new Int32Array([-(2 ** 31), 2 ** 31 - 1])),
    ndarray(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n])),
    ndarray(new Uint8Array([0, 255])),
    ndarray(new Uint16Array([65535])),
    ndarray(new Uint32Array([2 ** 32 - 1])),
    ndarray(new BigUint64Array([2n ** 64n - 1n])),
    ndarray(new Uint8Array([1, 0, 1]), [3], { dtype: 'bool' }),
    ndarray(new Float32Array([0.5, -1, 65504]), [3], { dtype: 'float16' }),
    ndarray(new Float64Array([7]), []),
    ndarray(new Float32Array(0), [0, 5]),
  ];
  it.each(cases.map((c) => [`${c.dtype} [${c.shape}] ${c.order}`, c] as const))(
    'round-trips %s',
    (_, array) => {
      const bytes = npyBytes(array);
      expect((bytes.length - array.data.byteLength / (array.dtype === 'float16' ? 2 : 1)) % 64).toBe(0);
      const back = decodeNpy(bytes);
      expect(back.dtype).toBe(array.dtype);
      expect(back.shape).toEqual(array.shape);
      expect(back.order).toBe(array.order);
      expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(array.data as ArrayLike<number>));
    },
  );

  it('writes the header numpy writes', () => {
    const header = parseNpyHeader(npyBytes(ndarray(new Float32Array(12), [3, 4])));
    expect(header.descr).toBe('<f4');
    expect(header.dataOffset).toBe(128);
    const text = Buffer.from(npyBytes(ndarray(new Float32Array(3))).subarray(10, 128)).toString('latin1');
    expect(text.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
    expect(text.endsWith('\n')).toBe(true);
  });

  it('reads big-endian data and returns little-endian data as an aligned view', () => {
    const header = "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }";
    const prefix = 10;
    const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
    const bytes = new Uint8Array(total + 8);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, total - prefix, 0]);
    bytes.set(Buffer.from(`${header.padEnd(total - prefix - 1, ' ')}\n`, 'latin1'), prefix);
    new DataView(bytes.buffer).setInt32(total, -5, false);
    new DataView(bytes.buffer).setInt32(total + 4, 70000, false);
    expect(Array.from(decodeNpy(bytes).data as Int32Array)).toEqual([-5, 70000]);
    const little = npyBytes(ndarray(new Float64Array([1, 2])));
    expect(decodeNpy(little).data.buffer).toBe(little.buffer);
  });

  it('rounds float16 to nearest even as numpy does', () => {
    const bits = floatToHalf([1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520, 1e-8, -0, Number.NaN]);
    expect(Array.from(bits.slice(0, 6))).toEqual([0x3c00, 0x3c00, 0x3c02, 0x7c00, 0, 0x8000]);
    expect(Number.isNaN(halfToFloat(bits)[6])).toBe(true);
    expect(halfToFloat(new Uint16Array([0x0001]))[0]).toBe(2 ** -24);
  });

  it.each([
    ['an oversized header', (b: Uint8Array) => b.set([0xff, 0xff], 8), /exceeds the 10000-byte limit/],
    [
      'a negative shape',
      (b: Uint8Array) => rewriteHeader(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"),
      /negative shape entry -3/,
    ],
    [
      'a huge shape',
      (b: Uint8Array) =>
        rewriteHeader(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 9999999), }"),
      /too large/,
    ],
    [
      'a shape longer than the data',
      (b: Uint8Array) => rewriteHeader(b, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"),
      /needs 16 data bytes but the member holds 12/,
    ],
    [
      'an unknown dtype',
      (b: Uint8Array) => rewriteHeader(b, "{'descr': '<q4', 'fortran_order': False, 'shape': (3,), }"),
      /unknown dtype <q4/,
    ],
    [
      'an object field in a structured dtype',
      (b: Uint8Array) =>
        rewriteHeader(b, "{'descr': [('a', '|O')], 'fortran_order': False, 'shape': (3,), }"),
      /object arrays \(\|O\) need pickle/,
    ],
    ['bad magic', (b: Uint8Array) => b.set([0x50], 0), /bad magic/],
    [
      'a missing key',
      (b: Uint8Array) => rewriteHeader(b, "{'descr': '<f4', 'shape': (3,), }"),
      /keys must be/,
    ],
  ])('refuses %s with NpyFormatError', (_, corrupt, message) => {
    const bytes = npyBytes(ndarray(new Float32Array(3)));
    corrupt(bytes);
    let error: unknown;
    try {
      decodeNpy(bytes, { shard: 's.tar', offset: 512, sampleId: 'a' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NpyFormatError);
    expect((error as NpyFormatError).message).toMatch(message);
    expect((error as NpyFormatError).message).toContain('s.tar @ byte 512');
    expect((error as NpyFormatError).sampleId).toBe('a');
  });

  it('raises UnsupportedDtypeError carrying the descr', () => {
    const bytes = npyBytes(ndarray(new Float32Array(3)));
    rewriteHeader(bytes, "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }");
    expect(() => decodeNpy(bytes)).toThrow(UnsupportedDtypeError);
  });

  it('validates writer input', () => {
    const writerInput = (input: unknown) => () => encodeNpy(ndarray(input as Float32Array, [2]));
    expect(writerInput(new Float32Array(3))).toThrow(ArrayInputError);
    expect(() => ndarray(new Float32Array(2), [2], { dtype: 'int32' })).toThrow(/cannot hold dtype int32/);
  });
});

function rewriteHeader(bytes: Uint8Array, dict: string): void {
  const length = (bytes[8] as number) | ((bytes[9] as number) << 8);
  bytes.set(Buffer.from(`${dict.padEnd(length - 1, ' ')}\n`, 'latin1'), 10);
}

describe('dtypes without a native JS type', () => {
  const roundTrip = (array: NdArray) => decodeNpy(npyBytes(array));

  it('round-trips strings, bytes, datetimes, complex, long double and structured arrays', () => {
    const names = roundTrip(unicodeArray(['alice', '', '𝄞'], [3]));
    expect(names.descr).toBe('<U5');
    expect(npyStrings(names)).toEqual(['alice', '', '𝄞']);
    const tags = roundTrip(bytesArray(['ab', new Uint8Array([0, 255])]));
    expect(tags.descr).toBe('|S2');
    expect(npyByteRows(tags)).toEqual([new Uint8Array([0x61, 0x62]), new Uint8Array([0, 255])]);
    const when = roundTrip(datetimeArray(new BigInt64Array([1n, -(2n ** 63n)]), 'D'));
    expect([when.dtype, when.descr, datetimeUnit(when)]).toEqual(['datetime64', '<M8[D]', 'D']);
    const z = roundTrip(ndarray(new Float32Array([1, 2, 3, 4]), [2], { dtype: 'complex64' }));
    expect(arrayValues(z)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const big = roundTrip(ndarray(new Float64Array([1, 2]), [1], { descr: '>c16' }));
    expect([big.descr, Array.from(big.data as Float64Array)]).toEqual(['>c16', [1, 2]]);
    const long = roundTrip(ndarray(new Uint8Array(32).fill(7), [2], { dtype: 'longdouble' }));
    expect([long.descr, long.data.length]).toEqual([undefined, 32]);
    const rec = roundTrip(ndarray(new Uint8Array(12), [2], { descr: "[('a', '<i2'), ('b', '|S4')]" }));
    expect([rec.dtype, rec.descr]).toEqual(['structured', "[('a', '<i2'), ('b', '|S4')]"]);
  });

  it('takes structured records apart field by field', () => {
    const bytes = Buffer.alloc(2 * 16);
    bytes.writeFloatLE(1.5, 0);
    bytes.writeBigInt64LE(2n, 4);
    bytes.writeUInt16LE(1, 12);
    bytes.writeUInt16LE(2, 14);
    bytes.writeFloatLE(-1, 16);
    bytes.writeBigInt64LE(-7n, 20);
    bytes.writeUInt16LE(3, 28);
    bytes.writeUInt16LE(4, 30);
    const records = ndarray(new Uint8Array(bytes), [2], {
      descr: "[('x', '<f4'), ('y', '<i8'), ('z', '<u2', (2,))]",
    });
    expect(structuredFields(records).map((f) => [f.name, f.offset, f.itemsize])).toEqual([
      ['x', 0, 4],
      ['y', 4, 8],
      ['z', 12, 4],
    ]);
    expect(Array.from(structuredField(records, 'x').data as Float32Array)).toEqual([1.5, -1]);
    expect(Array.from(structuredField(records, 'y').data as BigInt64Array)).toEqual([2n, -7n]);
    const z = structuredField(records, 'z');
    expect([z.shape, Array.from(z.data as Uint16Array)]).toEqual([
      [2, 2],
      [1, 2, 3, 4],
    ]);
    expect(() => structuredField(records, 'w')).toThrow(/no field "w"/);
  });

  it('keeps float16 NaN payloads and signs bit for bit, in both byte orders', () => {
    const bits = new Uint16Array([0x7e01, 0xfe00, 0x7c01, 0xfc3f, 0x8000, 0x7c00, 0xfc00, 0x0001]);
    for (const descr of ['<f2', '>f2']) {
      const array = roundTrip(ndarray(halfToFloat(bits), [bits.length], { descr }));
      const { data } = encodeNpy(array);
      const back = new Uint16Array(bits.length);
      const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      for (let i = 0; i < bits.length; i++)
        back[i] = descr === '<f2' ? view.readUInt16LE(2 * i) : view.readUInt16BE(2 * i);
      expect(Array.from(back)).toEqual(Array.from(bits));
    }
  });

  it('explains what it refuses', () => {
    expect(() => ndarray(new Uint32Array(2), [2], { dtype: 'unicode' })).toThrow(/needs a descr/);
    expect(() => ndarray(new Uint8Array(3), [2], { descr: '|S2' })).toThrow(/holds 2 values of \|S2/);
    expect(() => ndarray(new Uint8Array(3), [3], { descr: '|O' })).toThrow(/need pickle/);
  });
});

describe('tar headers', () => {
  it('writes ustar headers, with a pax header for long or non-ASCII names', () => {
    expect(memberHeader('a.npy', 10).length).toBe(512);
    for (const name of [`${'x'.repeat(150)}.npy`, 'é.npy']) {
      const header = memberHeader(name, 10);
      expect(header.length).toBe(1536);
      const file = Buffer.concat([header, Buffer.alloc(512)]);
      const member = readMemberAt((p, l) => file.subarray(p, p + l), 0, {});
      expect(member).toMatchObject({ name, size: 10, headerOffset: 0, dataOffset: 1536 });
    }
  });

  it('detects a checksum mismatch', () => {
    const header = memberHeader('a.npy', 10);
    header[0] = 0x62;
    expect(() => readMemberAt((p, l) => header.subarray(p, p + l), 0, { shard: 'x.tar' })).toThrow(
      /x\.tar @ byte 0: tar header checksum mismatch/,
    );
  });
});

describe('writer and reader', () => {
  it('writes the seed layout and reads samples, fields and metadata back', () => {
    const root = freshRoot('basic');
    const ids = writeDataset(root, 10, 4);
    expect(ids[0]).toBe('sample_000000000001');
    expect(ids[9]).toBe('sample_000000000010');
    expect(fs.readdirSync(path.join(root, 'history_shards')).sort()).toEqual([
      'shard_0000.tar',
      'shard_0001.tar',
      'shard_0002.tar',
    ]);
    withReader(root, (reader) => {
      expect(reader.size).toBe(10);
      expect(reader.listFields()).toEqual(['history', 'target']);
      expect(reader.shardCounts('history')).toEqual({ 0: 4, 1: 4, 2: 2 });
      const { arrays, metadata } = reader.getSample('sample_000000000005');
      expect(Array.from((arrays.history as NdArray).data as Float32Array)).toEqual([4, 5, 6]);
      expect(arrays.history?.shape).toEqual([3]);
      expect(arrays.target?.dtype).toBe('int32');
      expect(metadata).toEqual({ length: 40, source: 'even' });
      expect(Object.keys(reader.getSample(ids[0] as string, ['target']).arrays)).toEqual(['target']);
      expect(reader.getMany([ids[3] as string, ids[1] as string]).map((s) => s.metadata.length)).toEqual([
        30, 10,
      ]);
      const scanned = [...reader.scanField('history', { chunkBytes: 2048 })];
      expect(scanned.map((s) => s.sampleId)).toEqual(ids);
      expect(scanned.map((s) => (s.array.data as Float32Array)[0])).toEqual(ids.map((_, i) => i));
    });
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    const row = db.prepare('SELECT * FROM samples WHERE id = ?').get('sample_000000000002') as Record<
      string,
      number
    >;
    expect(Object.keys(row)).toEqual(
      expect.arrayContaining([
        'id',
        'meta_json',
        'history_offset',
        'history_shard',
        'target_offset',
        'target_shard',
      ]),
    );
    expect(row.history_offset).toBe(1024); // second member of shard 0: after a 512 B header and 140 B of npy padded to 512
    db.close();
  });

  it('queries ids with SQL over the samples table', () => {
    const root = freshRoot('query');
    const ids = writeDataset(root, 12);
    withReader(root, (reader) => {
      expect(reader.queryIds()).toEqual(ids);
      expect(reader.queryIds("json_extract(meta_json, '$.length') > ?", [80])).toEqual(ids.slice(9));
      expect(reader.queryIds("json_extract(meta_json, '$.source') = 'odd'", [], 2)).toEqual([ids[1], ids[3]]);
      expect(reader.queryIds('history_offset IS NOT NULL', [], 3)).toEqual(ids.slice(0, 3));
      expect(() => reader.queryIds('nope >')).toThrow(ShardsQueryError);
      expect(() => reader.queryIds('1; DROP TABLE samples')).toThrow(ShardsQueryError);
    });
  });

  it('queries as the Python reader does: id order, verbatim conditions, limit 0, integer binding', () => {
    const root = freshRoot('query-compat');
    const writer = new ShardedDatasetWriter(root);
    writer.addField('history');
    for (const id of ['b', '123', 'a', 'c'])
      writer.addSample({ history: new Float32Array(1) }, { sampleId: id, metadata: { ok: id !== 'a' } });
    writer.close();
    withReader(root, (reader) => {
      expect(reader.queryIds()).toEqual(['123', 'a', 'b', 'c']); // the primary-key index, not insertion
      expect(reader.queryIds(undefined, [], 0)).toEqual(['123', 'a', 'b', 'c']); // 0: no limit
      expect(reader.queryIds(undefined, [], 2)).toEqual(['123', 'a']);
      expect(reader.queryIds('1=1 ORDER BY id DESC')).toEqual(['c', 'b', 'a', '123']);
      expect(reader.queryIds("id > 'a' LIMIT 1")).toEqual(['b']);
      expect(reader.queryIds('id = ?', [123])).toEqual(['123']); // 123 binds as INTEGER
      // A condition on meta_json scans the table: rowid order, as in Python (same SQL, same plan).
      expect(reader.queryIds("json_extract(meta_json, '$.ok') = ?", [true])).toEqual(['b', '123', 'c']);
      expect(reader.queryIds('id = :id', { id: 123 })).toEqual(['123']);
      expect(reader.sql('SELECT count(*) AS n FROM samples')).toEqual([{ n: 4 }]);
      expect(() => reader.sql('DELETE FROM samples')).toThrow(ShardsQueryError);
    });
    const strict = new ShardedDatasetReader(root, { strict: true });
    expect(strict.queryIds()).toEqual(['b', '123', 'a', 'c']); // insertion order
    expect(strict.queryIds(undefined, [], 0)).toEqual([]);
    expect(() => strict.queryIds('1=1 ORDER BY id DESC')).toThrow(ShardsQueryError);
    expect(strict.queryIds('id = ?', [123])).toEqual(['123']);
    strict.close();
  });

  it('gives raw SQL access to index metadata as the reference README does', () => {
    const root = freshRoot('raw-sql');
    const ids = writeDataset(root, 10);
    const writer = new ShardedDatasetWriter(root);
    expect(writer.sql('ALTER TABLE samples ADD COLUMN length INTEGER')).toEqual({ changes: 0 });
    expect(writer.sql("UPDATE samples SET length = json_extract(meta_json, '$.length')")).toEqual({
      changes: 10,
    });
    writer.sql('CREATE INDEX idx_length ON samples(length)');
    expect(writer.sql('SELECT count(*) AS n FROM samples WHERE length > ?', [50])).toEqual([{ n: 4 }]);
    expect(() => writer.sql('SELEKT 1')).toThrow(ShardsQueryError);
    // The writer keeps working after a schema change.
    const id = writer.addSample({ history: new Float32Array(1) }, { metadata: { length: 999 } });
    writer.sql('UPDATE samples SET length = 999 WHERE id = ?', [id]);
    writer.close();
    withReader(root, (reader) => {
      expect(reader.queryIds('length > ?', [80])).toEqual([ids[9], id]);
      const plan = reader.sql('EXPLAIN QUERY PLAN SELECT id FROM samples WHERE length > ?', [80]);
      expect(JSON.stringify(plan)).toMatch(/idx_length/);
      expect(Object.keys(reader.getSample(id).arrays)).toEqual(['history']);
    });
  });

  it('reads in one pass without keeping shard files open (cacheTars: false)', () => {
    const root = freshRoot('one-pass');
    const ids = writeDataset(root, 12, 3);
    const openShards = () =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return (
            fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(fs.realpathSync(root)) &&
            /\.tar$/.test(fs.readlinkSync(`/proc/self/fd/${fd}`))
          );
        } catch {
          return false;
        }
      }).length;
    const onePass = new ShardedDatasetReader(root, { cacheTars: false });
    for (const id of ids) onePass.getSample(id);
    onePass.getMany(ids);
    expect(openShards()).toBe(0);
    onePass.close();
    const cached = new ShardedDatasetReader(root);
    for (const id of ids) cached.getSample(id);
    expect(openShards()).toBeGreaterThan(0);
    cached.close();
    expect(openShards()).toBe(0);
  });

  it('promotes metadata keys to indexed generated columns', () => {
    const root = freshRoot('indexed');
    const ids = writeDataset(root, 20);
    const writer = new ShardedDatasetWriter(root);
    writer.indexMetadata('length', { type: 'INTEGER' });
    writer.indexMetadata('length', { type: 'INTEGER' }); // idempotent
    expect(() => writer.indexMetadata('length', { column: 'len2' })).toThrow(/already indexed/);
    writer.addSample({ history: new Float32Array(1) }, { metadata: { length: 999 } });
    writer.close();
    withReader(root, (reader) => {
      expect(reader.queryIds('length >= ?', [180])).toEqual([ids[18], ids[19], 'sample_000000000021']);
      expect(reader.queryIds("json_extract(meta_json, '$.length') = 999")).toEqual(['sample_000000000021']);
    });
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(';');
    expect(plan('SELECT id FROM samples WHERE length > 5')).toMatch(/USING INDEX idx_samples_length/);
    expect(plan("SELECT id FROM samples WHERE json_extract(meta_json, '$.length') > 5")).toMatch(
      /USING INDEX/,
    );
    db.close();
    expect(shardsInfo(root).indexedMetadata).toEqual({ length: 'length' });
  });

  it('raises typed errors for unknown samples, unknown and missing fields, duplicates (strict)', () => {
    const root = freshRoot('errors');
    const writer = new ShardedDatasetWriter(root, { strict: true });
    writer.addFields(['history', 'forecast']);
    const id = writer.addSample({ history: new Float32Array(2) }, { sampleId: 'custom' });
    expect(id).toBe('custom');
    expect(() => writer.addSample({ history: new Float32Array(2) }, { sampleId: 'custom' })).toThrow(
      DuplicateSampleError,
    );
    expect(() => writer.addSample({ nope: new Float32Array(2) })).toThrow(UnknownFieldError);
    expect(() => writer.addSample({ history: { data: [1, 2, 3], shape: [2] } })).toThrow(ArrayInputError);
    expect(() => writer.updateSample('ghost', { history: new Float32Array(1) })).toThrow(UnknownSampleError);
    expect(() => writer.addField('bad name')).toThrow(/identifier/);
    // A rejected sample leaves nothing behind and does not burn the next generated id.
    expect(writer.addSample({ history: new Float32Array(1) })).toBe('sample_000000000001');
    writer.close();
    const strict = new ShardedDatasetReader(root, { strict: true });
    expect(strict.size).toBe(2);
    expect(() => strict.getSample('ghost')).toThrow(UnknownSampleError);
    expect(() => strict.getSample('custom', ['nope'])).toThrow(UnknownFieldError);
    expect(() => strict.getSample('custom', ['forecast'])).toThrow(MissingFieldError);
    expect(() => strict.getMany(['custom'], ['forecast'])).toThrow(MissingFieldError);
    expect(Object.keys(strict.getSample('custom').arrays)).toEqual(['history']);
    expect(Object.keys(strict.getSample('custom', []).arrays)).toEqual([]);
    expect(() => strict.shardCounts('nope')).toThrow(UnknownFieldError);
    strict.close();
    // The Python package's semantics (the default): unknown and missing fields are skipped, []
    // means every field.
    withReader(root, (reader) => {
      expect(() => reader.getSample('ghost')).toThrow(UnknownSampleError);
      expect(Object.keys(reader.getSample('custom', ['nope', 'forecast', 'history']).arrays)).toEqual([
        'history',
      ]);
      expect(Object.keys(reader.getSample('custom', []).arrays)).toEqual(['history']);
      expect(reader.getMany(['custom'], ['forecast']).map((s) => Object.keys(s.arrays))).toEqual([[]]);
    });
    expect(() => new ShardedDatasetReader(path.join(root, 'history_shards'))).toThrow(ShardDatasetError);
  });

  it('updates samples by appending members and repointing the index', () => {
    const root = freshRoot('update');
    const ids = writeDataset(root, 6, 4);
    const reader = new ShardedDatasetReader(root);
    expect(Array.from(reader.getSample(ids[0] as string).arrays.history?.data as Float32Array)).toEqual([
      0, 1, 2,
    ]);
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    writer.addField('forecast');
    writer.updateSample(
      ids[0] as string,
      { history: new Float32Array([42]), forecast: new Float64Array([1, 2]) },
      {
        metadata: { length: -1 },
      },
    );
    // The reader sees the update at its next call (its cached index row is dropped).
    const { arrays, metadata } = reader.getSample(ids[0] as string);
    expect(Array.from((arrays.history as NdArray).data as Float32Array)).toEqual([42]);
    expect(Array.from((arrays.forecast as NdArray).data as Float64Array)).toEqual([1, 2]);
    expect(metadata).toEqual({ length: -1 });
    expect(reader.listFields()).toEqual(['forecast', 'history', 'target']);
    writer.close();
    reader.close();
    expect(verifyShards(root).ok).toBe(true);
  });

  it('scans a field once per live sample, walking clean shards and following the index elsewhere', () => {
    const root = freshRoot('scan');
    const ids = writeDataset(root, 13, 4);
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    writer.updateSample(ids[5] as string, { history: new Float32Array([-5]) });
    writer.updateSample(ids[12] as string, { history: new Float32Array([-12]) });
    writer.addSample(
      { history: new Float32Array([`${'x'.repeat(120)}`.length]) },
      { sampleId: 'y'.repeat(120) },
    );
    writer.close();
    withReader(root, (reader) => {
      for (const chunkBytes of [64 * 1024, 1 << 23]) {
        const scanned = [...reader.scanField('history', { chunkBytes })];
        expect(scanned.map((s) => s.sampleId).sort()).toEqual([...ids, 'y'.repeat(120)].sort());
        const first = Object.fromEntries(scanned.map((s) => [s.sampleId, (s.array.data as Float32Array)[0]]));
        expect(first[ids[5] as string]).toBe(-5);
        expect(first[ids[12] as string]).toBe(-12);
        expect(first[ids[6] as string]).toBe(6);
      }
    });
  });

  it('walks clean shards holding pax members and arrays larger than the scan chunk', () => {
    const root = freshRoot('scan-pax');
    const writer = new ShardedDatasetWriter(root);
    writer.addField('h');
    writer.addSample({ h: new Float32Array([1]) }, { sampleId: 'a' });
    writer.addSample({ h: new Float32Array([2]) }, { sampleId: `long-${'z'.repeat(150)}` });
    writer.addSample({ h: new Float64Array(20_000).fill(3) }, { sampleId: 'big' });
    writer.addSample({ h: new Float32Array([4]) }, { sampleId: 'é' });
    writer.close();
    withReader(root, (reader) => {
      const scanned = [...reader.scanField('h', { chunkBytes: 64 * 1024 })];
      expect(scanned.map((s) => [s.sampleId, Number((s.array.data as Float32Array)[0])])).toEqual([
        ['a', 1],
        [`long-${'z'.repeat(150)}`, 2],
        ['big', 3],
        ['é', 4],
      ]);
      expect(scanned[2]?.array.data.length).toBe(20_000);
    });
  });

  it('registers samples and writes whole shards or streams into one', () => {
    const root = freshRoot('streams');
    const writer = new ShardedDatasetWriter(root);
    writer.addFields(['history', 'target']);
    writer.registerSamples(['a', 'b', 'c'], [{ k: 1 }, { k: 2 }, { k: 3 }]);
    writer.writeShard(
      'history',
      0,
      ['a', 'b', 'c'],
      [new Float32Array([1]), new Float32Array([2]), new Float32Array([3])],
    );
    expect(() => writer.writeShard('history', 1, ['zzz'], [new Float32Array(1)])).toThrow(UnknownSampleError);
    const stream = writer.openShard('target', 5);
    stream.addSample('b', new Int16Array([7, 8]));
    stream.addSample('c', new Int16Array([9]));
    expect(() => stream.addSample('ghost', new Int16Array(1))).toThrow(UnknownSampleError);
    stream.close();
    writer.close();
    withReader(root, (reader) => {
      expect(reader.queryIds()).toEqual(['a', 'b', 'c']);
      expect(reader.getSample('a').metadata).toEqual({ k: 1 });
      expect(Object.keys(reader.getSample('a').arrays)).toEqual(['history']);
      expect(Array.from(reader.getSample('b').arrays.target?.data as Int16Array)).toEqual([7, 8]);
      expect(reader.shardCounts('target')).toEqual({ 5: 2 });
      expect(reader.queryIds('target_offset IS NOT NULL')).toEqual(['b', 'c']);
    });
    expect(fs.existsSync(shardPath(root, 'target', 5))).toBe(true);
  });

  it('appends on reopen, continuing ids and the current shard', () => {
    const root = freshRoot('reopen');
    writeDataset(root, 5, 4);
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    expect(writer.addSample({ history: new Float32Array([5, 6, 7]), target: new Int32Array([5]) })).toBe(
      'sample_000000000006',
    );
    writer.closeTars();
    writer.addSample({ history: new Float32Array([6, 7, 8]) });
    writer.close();
    withReader(root, (reader) => {
      expect(reader.size).toBe(7);
      expect(reader.shardCounts('history')).toEqual({ 0: 4, 1: 3 });
      expect([...reader.scanField('history')].map((s) => (s.array.data as Float32Array)[0])).toEqual([
        0, 1, 2, 3, 4, 5, 6,
      ]);
    });
    expect(verifyShards(root)).toMatchObject({ ok: true, membersChecked: 13 });
  });

  it('refuses a second writer with WriterLockedError and allows one after close', () => {
    const root = freshRoot('lock');
    const writer = new ShardedDatasetWriter(root);
    expect(() => new ShardedDatasetWriter(root)).toThrow(WriterLockedError);
    expect(() => compactShards(root)).toThrow(WriterLockedError);
    writer.close();
    new ShardedDatasetWriter(root).close();
  });

  it('truncates a half-written member on reopen and keeps every committed sample', () => {
    const root = freshRoot('torn');
    const ids = writeDataset(root, 3, 100);
    const file = shardPath(root, 'history', 0);
    const committed = fs.statSync(file).size;
    // What a writer killed in the middle of a member leaves: a header and part of its data.
    fs.truncateSync(file, committed - 1024);
    const torn = Buffer.concat([memberHeader('sample_000000000004.npy', 140), Buffer.alloc(60, 7)]);
    fs.appendFileSync(file, torn);
    withReader(root, (reader) => expect(reader.size).toBe(3));
    expect(verifyShards(root).warnings.length).toBe(1);
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 100 });
    expect(fs.statSync(file).size).toBe(committed);
    writer.addSample({ history: new Float32Array([9, 9, 9]) });
    writer.close();
    withReader(root, (reader) => {
      expect(reader.getMany(ids).map((s) => ((s.arrays.history as NdArray).data as Float32Array)[0])).toEqual(
        [0, 1, 2],
      );
      expect(
        Array.from(reader.getSample('sample_000000000004').arrays.history?.data as Float32Array),
      ).toEqual([9, 9, 9]);
    });
    expect(verifyShards(root)).toMatchObject({ ok: true, warnings: [] });
  });

  it('compacts away dead bytes atomically and readers keep working', () => {
    const root = freshRoot('compact');
    const ids = writeDataset(root, 8, 4);
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    for (const id of ids.slice(0, 3)) writer.updateSample(id, { history: new Float32Array([-1]) });
    writer.close();
    const reader = new ShardedDatasetReader(root);
    const before = reader
      .getMany(ids)
      .map((s) => Array.from((s.arrays.history as NdArray).data as Float32Array));
    const report = compactShards(root);
    expect(report.bytesReclaimed).toBe(3 * 1024);
    expect(report.fields.find((f) => f.field === 'history')?.shardsRewritten).toBe(1);
    expect(
      reader.getMany(ids).map((s) => Array.from((s.arrays.history as NdArray).data as Float32Array)),
    ).toEqual(before);
    reader.close();
    expect(compactShards(root).bytesReclaimed).toBe(0);
    expect(verifyShards(root).ok).toBe(true);
    const writer2 = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    writer2.addSample({ history: new Float32Array([100]) });
    writer2.close();
    withReader(root, (r) => expect(r.size).toBe(9));
    expect(verifyShards(root).ok).toBe(true);
  });

  it('recovers from a compaction interrupted before or after its commit', () => {
    const root = freshRoot('compact-crash');
    writeDataset(root, 4, 4);
    // Before the commit: a new shard file the index never mentions.
    fs.copyFileSync(shardPath(root, 'history', 0), shardPath(root, 'history', 7));
    new ShardedDatasetWriter(root).close();
    expect(fs.existsSync(shardPath(root, 'history', 7))).toBe(false);
    expect(verifyShards(root).ok).toBe(true);
  });
});

describe('bad shards', () => {
  function corruptAndRead(
    corrupt: (root: string, offset: number) => void,
    expected: new (...args: never[]) => Error,
    message: RegExp,
  ): void {
    const root = freshRoot('corrupt');
    writeDataset(root, 3, 10);
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    const offset = db
      .prepare("SELECT history_offset FROM samples WHERE id = 'sample_000000000002'")
      .pluck()
      .get() as number;
    db.close();
    corrupt(root, offset);
    for (const indexCache of ['preload', 'off'] as const) {
      const reader = new ShardedDatasetReader(root, { indexCache });
      let error: unknown;
      try {
        reader.getSample('sample_000000000002', ['history']);
      } catch (e) {
        error = e;
      }
      reader.close();
      expect(error).toBeInstanceOf(expected);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).toContain('shard_0000.tar');
      expect((error as Error).message).toContain('sample_000000000002');
    }
    const report = verifyShards(root);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.sampleId)).toContain('sample_000000000002');
  }

  const patch = (root: string, at: number, bytes: number[] | Buffer) => {
    const fd = fs.openSync(shardPath(root, 'history', 0), 'r+');
    fs.writeSync(fd, Buffer.from(bytes), 0, bytes.length, at);
    fs.closeSync(fd);
  };

  it('reports a corrupted tar header checksum', () =>
    corruptAndRead(
      (root, offset) => patch(root, offset + 3, [0x21]),
      ShardCorruptionError,
      /checksum mismatch/,
    ));
  it('reports a truncated shard', () =>
    corruptAndRead(
      (root, offset) => fs.truncateSync(shardPath(root, 'history', 0), offset + 600),
      TruncatedShardError,
      /truncated/,
    ));
  it('reports an oversized npy header', () =>
    corruptAndRead((root, offset) => patch(root, offset + 512 + 8, [0xff, 0xff]), NpyFormatError, /exceeds/));
  it('reports a negative shape', () =>
    corruptAndRead(
      (root, offset) =>
        patch(
          root,
          offset + 512 + 10,
          Buffer.from("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }"),
        ),
      NpyFormatError,
      /negative shape/,
    ));
  it('reports a huge shape', () =>
    corruptAndRead(
      (root, offset) =>
        patch(
          root,
          offset + 512 + 10,
          Buffer.from("{'descr': '<f4', 'fortran_order': False, 'shape': (4000000000,), }"),
        ),
      NpyFormatError,
      /needs 16000000000 data bytes/,
    ));
  it('reports an unknown dtype', () =>
    corruptAndRead(
      (root, offset) => patch(root, offset + 512 + 22, Buffer.from('q4')),
      UnsupportedDtypeError,
      /<q4/,
    ));
  it('reports an index offset that does not point at the member', () =>
    corruptAndRead(
      (root, offset) => {
        const db = new Database(path.join(root, 'index.sqlite'));
        // As runlake repoints (size cleared first): a row that keeps its size through an update of
        // its offset is another writer's, and is looked up by name instead.
        const size = db
          .prepare("SELECT history_size FROM samples WHERE id = 'sample_000000000002'")
          .pluck()
          .get();
        db.prepare("UPDATE samples SET history_size = NULL WHERE id = 'sample_000000000002'").run();
        db.prepare(
          "UPDATE samples SET history_offset = ?, history_size = ? WHERE id = 'sample_000000000002'",
        ).run(offset - 1024, size);
        db.close();
      },
      ShardCorruptionError,
      /index expects "sample_000000000002.npy"/,
    ));
  it('reports a missing shard file', () =>
    corruptAndRead((root) => fs.rmSync(shardPath(root, 'history', 0)), ShardCorruptionError, /missing/));
});

describe('getMany batches', () => {
  it('returns every array of a batch intact, aligned and independent, across arena boundaries', () => {
    const root = freshRoot('many');
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 50 });
    writer.addFields(['x', 'y']);
    // Odd sizes (so slices do not line up by accident) and a total well over one 1 MiB arena.
    const ids = Array.from({ length: 160 }, (_, n) => {
      const x = Float64Array.from({ length: 1 + ((n * 37) % 1500) }, (_, k) => n * 10_000 + k);
      const y = Int16Array.from({ length: 3 + (n % 7) }, (_, k) => n - k);
      return writer.addSample({ x, y }, { metadata: { n } });
    });
    writer.close();
    const reader = new ShardedDatasetReader(root);
    const batch = [...ids].reverse();
    const many = reader.getMany(batch);
    const x = (sample: { arrays: Record<string, NdArray> } | undefined) =>
      sample?.arrays.x?.data as Float64Array;
    for (const [i, sample] of many.entries()) {
      const single = reader.getSample(batch[i] as string);
      expect(sample.sampleId).toBe(batch[i]);
      expect(Array.from(sample.arrays.x?.data as Float64Array)).toEqual(
        Array.from(single.arrays.x?.data as Float64Array),
      );
      expect(Array.from(sample.arrays.y?.data as Int16Array)).toEqual(
        Array.from(single.arrays.y?.data as Int16Array),
      );
      expect(x(sample).byteOffset % 64).toBe(0);
    }
    // Writing into one returned array leaves the others (which may share its arena) unchanged.
    x(many[0]).fill(-1);
    expect(x(many[1])[0]).toBe(158 * 10_000);
    expect(reader.getSample(batch[0] as string).arrays.x?.data[0]).toBe(159 * 10_000);
    reader.close();
  });
});

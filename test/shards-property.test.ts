/**
 * Property tests for array shards: random arrays round-trip through the npy codec and through a
 * dataset; random corruptions of npy bytes, tar headers and whole shards give typed errors (or
 * readable data) and never a crash, a foreign exception or a hang.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DTYPES,
  type DType,
  decodeNpy,
  descrOf,
  encodeNpy,
  halfToFloat,
  type NdArray,
  ndarray,
  parseDescr,
  RunlakeError,
  readMemberAt,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  shardPath,
  type TypedArray,
  verifyShards,
} from '../src/index.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function freshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-prop-'));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}

/** The dtypes with a fixed width and one typed-array element per value (the others need a descr). */
const DTYPE_NAMES = Object.values(DTYPES)
  .filter((d) => !d.needsDescr && d.codec !== 'raw' && d.lanes === 1)
  .map((d) => d.name) as DType[];

/** A random array: any dtype, up to 3 dimensions of 0..5, C or F order, random bit patterns. */
const arbArray: fc.Arbitrary<NdArray> = fc
  .record({
    dtype: fc.constantFrom(...DTYPE_NAMES),
    shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
    order: fc.constantFrom('C' as const, 'F' as const),
    seed: fc.uint8Array({ minLength: 8 * 125, maxLength: 8 * 125 }),
  })
  .map(({ dtype, shape, order, seed }) => {
    const info = DTYPES[dtype];
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = seed.slice(0, count * info.itemsize);
    let data: TypedArray;
    if (dtype === 'float16') data = halfToFloat(new Uint16Array(bytes.buffer, 0, count));
    else if (dtype === 'bool') data = bytes.map((b) => b & 1);
    else
      data = new (info.arrayType as new (b: ArrayBuffer, o: number, n: number) => TypedArray)(
        bytes.buffer,
        0,
        count,
      );
    return ndarray(data, shape, { dtype, order });
  });

function sameArray(a: NdArray, b: NdArray): boolean {
  if (a.dtype !== b.dtype || a.order !== b.order || a.shape.join() !== b.shape.join()) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

function onlyTypedErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof RunlakeError)) throw error;
  }
}

describe('array shards: properties', () => {
  it('round-trips random arrays through the npy codec', () => {
    fc.assert(
      fc.property(arbArray, (array) => {
        const { header, data } = encodeNpy(array);
        expect(header.length % 64).toBe(0);
        expect(sameArray(decodeNpy(Buffer.concat([header, data])), array)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips random bytes of the descr-carrying dtypes bit for bit', () => {
    const descrs = [
      '<c8',
      '>c16',
      '<U3',
      '>U2',
      '|S4',
      '<M8[ns]',
      '>m8[s]',
      '|V3',
      '<f16',
      '>i8',
      '>f2',
      "[('a', '<i2'), ('b', '|S3'), ('c', '>f8', (2,))]",
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...descrs),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        fc.constantFrom('C' as const, 'F' as const),
        fc.uint8Array({ minLength: 2048, maxLength: 2048 }),
        (descr, shape, order, seed) => {
          const parsed = parseDescr(descr.startsWith('[') ? undefined : descr);
          const itemsize = parsed?.itemsize ?? 21;
          const count = shape.reduce((a, b) => a * b, 1);
          const bytes = seed.slice(0, count * itemsize);
          const info = parsed?.dtype ?? DTYPES.structured;
          const data =
            info.codec === 'half'
              ? halfToFloat(new Uint16Array(bytes.buffer, 0, count))
              : new (info.arrayType as new (b: ArrayBuffer, o: number, n: number) => TypedArray)(
                  bytes.buffer,
                  0,
                  bytes.length / info.arrayType.BYTES_PER_ELEMENT,
                );
          const array = ndarray(data, shape, { descr, order });
          const encoded = encodeNpy(array);
          const back = decodeNpy(Buffer.concat([encoded.header, encoded.data]));
          expect(back.descr ?? descrOf(DTYPES[back.dtype])).toBe(descr);
          const again = encodeNpy(back);
          expect(Buffer.from(again.data).equals(Buffer.from(encoded.data))).toBe(true);
          expect(Buffer.from(again.header).equals(Buffer.from(encoded.header))).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('round-trips random arrays through a dataset, across reopen', () => {
    const root = freshRoot();
    const written = new Map<string, NdArray[]>();
    let writer = new ShardedDatasetWriter(root, { samplesPerShard: 7 });
    writer.addFields(['a', 'b']);
    fc.assert(
      fc.property(arbArray, arbArray, fc.boolean(), (a, b, reopen) => {
        if (reopen) {
          writer.close();
          writer = new ShardedDatasetWriter(root, { samplesPerShard: 7 });
        }
        const id = writer.addSample({ a, b });
        written.set(id, [a, b]);
        return true;
      }),
      { numRuns: 120 },
    );
    writer.close();
    const reader = new ShardedDatasetReader(root);
    for (const [id, [a, b]] of written) {
      const { arrays } = reader.getSample(id);
      expect(sameArray(arrays.a as NdArray, a as NdArray)).toBe(true);
      expect(sameArray(arrays.b as NdArray, b as NdArray)).toBe(true);
    }
    let scanned = 0;
    for (const { sampleId, array } of reader.scanField('a', { chunkBytes: 4096 })) {
      expect(sameArray(array, written.get(sampleId)?.[0] as NdArray)).toBe(true);
      scanned++;
    }
    expect(scanned).toBe(written.size);
    reader.close();
    expect(verifyShards(root).ok).toBe(true);
  });

  it('decodes corrupted npy bytes or throws NpyFormatError', () => {
    fc.assert(
      fc.property(
        arbArray,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat()),
        (array, flips, cut) => {
          const { header, data } = encodeNpy(array);
          let bytes: Uint8Array = Buffer.concat([header, data]);
          for (const [at, value] of flips) bytes[at % Math.min(bytes.length, 140)] = value;
          if (cut !== null) bytes = bytes.subarray(0, cut % (bytes.length + 1));
          onlyTypedErrors(() => decodeNpy(bytes, { shard: 'x.tar', offset: 0 }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('reads corrupted tar headers or throws ShardCorruptionError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat({ max: 2048 }),
        (bytes, offset) => {
          onlyTypedErrors(() => readMemberAt((p, l) => bytes.subarray(p, p + l), offset, { shard: 'x.tar' }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('survives random corruption and truncation of whole shards', () => {
    const pristine = freshRoot();
    const writer = new ShardedDatasetWriter(pristine, { samplesPerShard: 4 });
    writer.addFields(['h']);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(writer.addSample({ h: ndarray(new Float64Array(i * 3), [i, 3]) }));
    writer.close();
    const files = [0, 1, 2].map((s) => shardPath(pristine, 'h', s));
    const originals = files.map((f) => fs.readFileSync(f));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.option(fc.nat()),
        (which, flips, cut) => {
          const original = originals[which] as Buffer;
          let bytes = Buffer.from(original);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          if (cut !== null) bytes = bytes.subarray(0, cut % (bytes.length + 1));
          fs.writeFileSync(files[which] as string, bytes);
          try {
            const reader = new ShardedDatasetReader(pristine, { indexCache: 'off' });
            try {
              for (const id of ids) onlyTypedErrors(() => reader.getSample(id));
              onlyTypedErrors(() => [...reader.scanField('h')]);
            } finally {
              reader.close();
            }
            const report = verifyShards(pristine);
            if (cut === null && flips.length === 0) expect(report.ok).toBe(true);
          } finally {
            fs.writeFileSync(files[which] as string, original);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkShardRefs,
  openLake,
  type Row,
  ShardedDatasetWriter,
  ShardRefError,
  ShardRefResolver,
  validateLake,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';

// A 3 × 4 probe matrix: row i is [10i, 10i + 1, 10i + 2, 10i + 3].
const MATRIX = Float32Array.from({ length: 12 }, (_, k) => 10 * Math.floor(k / 4) + (k % 4));

let lake: string;
let cOrder: string;
let fOrder: string;
let vectorSample: string;

function embedding(sampleId: string, shardRef: Record<string, unknown>, dim = 4): Row {
  return {
    run_id: 'r1',
    sample_set: 'fixed_v1',
    module: 'resid_post',
    step: 100,
    layer: 2,
    sample_id: sampleId,
    dim,
    shard_ref: shardRef,
  };
}

beforeAll(async () => {
  lake = tempDir('runlake-shard-refs-');
  const writer = new ShardedDatasetWriter(path.join(lake, 'arrays', 'probe'), { samplesPerShard: 10 });
  try {
    writer.addFields(['resid_post_l2', 'pooled']);
    cOrder = writer.addSample({ resid_post_l2: { data: MATRIX, shape: [3, 4], dtype: 'float32' } });
    // The same matrix in Fortran order: column-major data.
    const columnMajor = Float32Array.from(
      { length: 12 },
      (_, k) => MATRIX[(k % 3) * 4 + Math.floor(k / 3)] as number,
    );
    fOrder = writer.addSample({
      resid_post_l2: { data: columnMajor, shape: [3, 4], dtype: 'float32', order: 'F' },
    });
    vectorSample = writer.addSample({ pooled: new Float64Array([0.5, 1.5, 2.5, 3.5]) });
  } finally {
    writer.close();
  }
});

describe('shard_ref: embeddings that point into an array-shards store', () => {
  it('resolves rows of C- and Fortran-order matrices, and whole 1-D arrays, as float32 vectors', () => {
    const resolver = new ShardRefResolver(lake);
    try {
      const ref = (sample_id: string, row: number | null, field = 'resid_post_l2') => ({
        store: 'arrays/probe',
        sample_id,
        field,
        row,
      });
      expect([...resolver.vector(ref(cOrder, 1))]).toEqual([10, 11, 12, 13]);
      expect([...resolver.vector(ref(fOrder, 2))]).toEqual([20, 21, 22, 23]);
      expect([...resolver.vector(ref(vectorSample, null, 'pooled'))]).toEqual([0.5, 1.5, 2.5, 3.5]);
      expect(() => resolver.vector(ref(cOrder, 3))).toThrow(/row 3 is outside the array's 3 rows/);
      expect(() => resolver.vector(ref(cOrder, null))).toThrow(ShardRefError);
    } finally {
      resolver.close();
    }
  });

  it('validates clean when every reference resolves with dim entries', async () => {
    const squiggle = await openLake(lake, { schema: 'squiggle' });
    try {
      await squiggle.write('embeddings', [
        embedding('s0', { store: 'arrays/probe', sample_id: cOrder, field: 'resid_post_l2', row: 0 }),
        embedding('s1', { store: 'arrays/probe', sample_id: fOrder, field: 'resid_post_l2', row: 1 }),
        embedding('s2', { store: 'arrays/probe', sample_id: vectorSample, field: 'pooled', row: null }),
      ]);
    } finally {
      squiggle.close();
    }
    expect(await checkShardRefs(lake)).toEqual([]);
    const report = await validateLake(lake, { referenceChecks: [checkShardRefs] });
    expect(report.ok).toBe(true);
  });

  it('reports each broken reference with its file, row and reason, and runlake validate exits 1', async () => {
    const broken = tempDir('runlake-shard-refs-broken-');
    const writer = new ShardedDatasetWriter(path.join(broken, 'arrays', 'probe'), { samplesPerShard: 10 });
    let sample: string;
    try {
      writer.addFields(['resid_post_l2']);
      sample = writer.addSample({ resid_post_l2: { data: MATRIX, shape: [3, 4], dtype: 'float32' } });
    } finally {
      writer.close();
    }
    const ref = (overrides: Record<string, unknown>) => ({
      store: 'arrays/probe',
      sample_id: sample,
      field: 'resid_post_l2',
      row: 0,
      ...overrides,
    });
    const squiggle = await openLake(broken, { schema: 'squiggle' });
    try {
      await squiggle.write('embeddings', [
        embedding('ok', ref({})),
        embedding('no-store', ref({ store: 'arrays/missing' })),
        embedding('no-sample', ref({ sample_id: 'sample_999999999999' })),
        embedding('no-field', ref({ field: 'attn_out_l2' })),
        embedding('bad-row', ref({ row: 7 })),
        embedding('bad-dim', ref({}), 5),
      ]);
    } finally {
      squiggle.close();
    }
    // Files are sorted by (layer, step, sample_id), so file rows follow the sample ids.
    const violations = await checkShardRefs(broken);
    expect(violations.map((v) => [v.row, v.column, v.kind])).toEqual([
      [0, 'shard_ref', 'reference'],
      [1, 'shard_ref', 'reference'],
      [2, 'shard_ref', 'reference'],
      [3, 'shard_ref', 'reference'],
      [4, 'shard_ref', 'reference'],
    ]);
    const messages = violations.map((v) => v.message);
    expect(messages[0]).toBe('the vector has 4 entries, but dim is 5'); // bad-dim
    expect(messages[1]).toContain("row 7 is outside the array's 3 rows"); // bad-row
    expect(messages[2]).toContain('the store has no field "attn_out_l2" (resid_post_l2)'); // no-field
    expect(messages[3]).toContain('sample_999999999999'); // no-sample
    expect(messages[4]).toContain('no array-shards store at'); // no-store
    expect(new Set(violations.map((v) => v.file)).size).toBe(1);
    expect(violations[0]?.file).toMatch(
      /^embeddings\/run_id=r1\/sample_set=fixed_v1\/module=resid_post\/part-.*\.parquet$/,
    );

    const cli = runlake('validate', broken);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain(
      `row 1, column "shard_ref": shard_ref arrays/probe:${sample}/resid_post_l2[7]`,
    );
    expect(cli.stderr.trim()).toBe('runlake: 5 violations in 1 file');
  });
});

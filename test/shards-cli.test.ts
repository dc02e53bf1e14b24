/**
 * `runlake shards info|ls|get|query|verify|compact|convert`, run as a user runs them (the built CLI).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeNpy,
  encodeNpy,
  ndarray,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  shardPath,
  unicodeArray,
} from '../src/shards/index.js';
import { runlake } from './helpers/cli.js';

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-cli-'));
  tempDirs.push(dir);
  return dir;
}

describe('runlake shards', () => {
  let root: string;
  beforeAll(() => {
    root = path.join(tempDir(), 'ds');
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
    writer.addFields(['history', 'target']);
    for (let i = 0; i < 10; i++)
      writer.addSample(
        {
          history: ndarray(new Float32Array([i, i + 0.5, i + 1, i + 1.5]), [2, 2]),
          target: new BigInt64Array([BigInt(i)]),
        },
        { metadata: { length: i * 10, source: 'cli' } },
      );
    writer.updateSample('sample_000000000001', { history: ndarray(new Float32Array([7, 7, 7, 7]), [2, 2]) });
    writer.close();
  });

  it('has --help for every subcommand', () => {
    for (const sub of ['info', 'ls', 'get', 'query', 'verify', 'compact', 'convert']) {
      const result = runlake('shards', sub, '--help');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: runlake shards/);
    }
  });

  it('info shows fields, samples, shards and bytes', () => {
    const text = runlake('shards', 'info', root);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('samples: 10   fields: 2');
    expect(text.stdout).toMatch(/history\s+\|\s+10\s+\|\s+3\s+\|/);
    const json = JSON.parse(runlake('shards', 'info', root, '--json').stdout);
    expect(json.samples).toBe(10);
    expect(json.fields.map((f: { name: string }) => f.name)).toEqual(['history', 'target']);
    expect(json.fields[0].bytes).toBeGreaterThan(json.fields[0].liveBytes);
  });

  it('ls lists samples with their fields and metadata', () => {
    const text = runlake('shards', 'ls', root, '--limit', '3');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('sample_000000000002');
    expect(text.stdout).toContain('history[2x2] target[1]');
    expect(text.stdout).toContain('(3 of 10 samples)');
  });

  it('get summarises arrays or writes them as .npy files', () => {
    const text = runlake('shards', 'get', root, 'sample_000000000003');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('history: float32 [2, 2] C  min 2  max 3.5  mean 2.75  [2, 2.5, 3, 3.5]');
    expect(text.stdout).toContain('target: int64 [1] C');
    expect(text.stdout).toContain('"length":20');
    const out = path.join(tempDir(), 'arrays');
    expect(
      runlake('shards', 'get', root, 'sample_000000000001', '--out', out, '--fields', 'history').code,
    ).toBe(0);
    const array = decodeNpy(fs.readFileSync(path.join(out, 'history.npy')));
    expect(Array.from(array.data as Float32Array)).toEqual([7, 7, 7, 7]);
    const json = JSON.parse(runlake('shards', 'get', root, 'sample_000000000002', '--json').stdout);
    expect(json.arrays.target).toEqual({ dtype: 'int64', shape: [1], order: 'C', values: ['1'] });
  });

  it('query takes a --where clause and parameters', () => {
    const text = runlake(
      'shards',
      'query',
      root,
      '--where',
      "json_extract(meta_json, '$.length') >= ?",
      '--params',
      '[70]',
    );
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout.trim().split('\n')).toEqual([
      'sample_000000000008',
      'sample_000000000009',
      'sample_000000000010',
    ]);
    expect(runlake('shards', 'query', root, '--limit', '2', '--json').stdout.trim()).toBe(
      '["sample_000000000001","sample_000000000002"]',
    );
  });

  it('reports bad input as one-line errors with exit code 1', () => {
    const cases = [
      [['shards', 'get', root, 'ghost'], /^runlake: .*no sample "ghost"/],
      [['shards', 'get', root, 'sample_000000000001', '--fields', 'nope'], /^runlake: .*no field "nope"/],
      [['shards', 'query', root, '--where', 'nope >'], /^runlake: SQL error/],
      [['shards', 'info', path.join(root, 'missing')], /^runlake: .*does not exist/],
      [['shards', 'info', path.join(root, 'history_shards')], /^runlake: .*not a shard dataset/],
    ] as const;
    for (const [args, message] of cases) {
      const result = runlake(...args);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('verify reports corruption with the shard, offset and sample; compact reclaims dead bytes', () => {
    const copy = path.join(tempDir(), 'ds');
    fs.cpSync(root, copy, { recursive: true });
    const ok = runlake('shards', 'verify', copy);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('checked 20 members of 10 samples');
    const compact = runlake('shards', 'compact', copy);
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stdout).toContain('history: 1 shard rewritten');
    expect(compact.stdout).toContain('reclaimed 1.0 KiB');
    expect(runlake('shards', 'verify', copy).code).toBe(0);
    expect(runlake('shards', 'get', copy, 'sample_000000000001').stdout).toContain('min 7  max 7');
    // Flip one byte of a member name in the last target shard.
    const file = shardPath(copy, 'target', 2);
    const bytes = fs.readFileSync(file);
    bytes[5] = (bytes[5] as number) ^ 1;
    fs.writeFileSync(file, bytes);
    const bad = runlake('shards', 'verify', copy);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /problem: .*shard_0002\.tar @ byte 0 \(sample "sample_000000000009", field "target"\): tar header checksum mismatch/,
    );
    expect(bad.stderr).toMatch(/^runlake: .*1 indexed member failed verification/);
  });
});

describe('runlake shards get --out and convert', () => {
  it('get --out writes each array with the descr it was read with (byte order, string width)', () => {
    const root = path.join(tempDir(), 'ds');
    const arrays = {
      be: ndarray(new Int32Array([1, -2, 3]), [3], { descr: '>i4' }),
      names: unicodeArray(['a', 'héllo']),
    };
    const writer = new ShardedDatasetWriter(root);
    writer.addFields(['be', 'names']);
    writer.addSample(arrays, { sampleId: 's', metadata: { x: Number.NaN, big: 2n ** 64n, list: [1] } });
    writer.close();
    // Metadata the Python writer stores (NaN tokens, big integers) prints instead of crashing.
    const ls = runlake('shards', 'ls', root, '--json');
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('"metadata":{"x":"NaN","big":18446744073709551616,"list":[1]}');
    expect(runlake('shards', 'get', root, 's').stdout).toContain(
      'metadata {"x":NaN,"big":18446744073709551616',
    );
    const out = path.join(tempDir(), 'out');
    const result = runlake('shards', 'get', root, 's', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    for (const [field, array] of Object.entries(arrays)) {
      const { header, data } = encodeNpy(array);
      expect(
        fs.readFileSync(path.join(out, `${field}.npy`)).equals(Buffer.concat([header, data])),
        field,
      ).toBe(true);
    }
    expect(fs.readFileSync(path.join(out, 'be.npy')).includes("'descr': '>i4'")).toBe(true);
    const json = JSON.parse(runlake('shards', 'get', root, 's', '--json').stdout);
    expect(json.arrays.names).toMatchObject({ dtype: 'unicode', descr: '<U5', values: ['a', 'héllo'] });
    expect(json.arrays.be).toMatchObject({ descr: '>i4', values: [1, -2, 3] });
    const bad = runlake('shards', 'get', root, 's', '--fields', 'nope');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/no field "nope"/);
  });

  it('convert cuts a Parquet table into train/val/test shard datasets', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'vitals.parquet');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    await connection.run(
      `COPY (SELECT CASE WHEN i < 50 THEN 'a' ELSE 'b' END AS subject, sin(i) AS ppg, i * 1.0 AS temp
             FROM range(100) t(i)) TO '${file}' (FORMAT parquet)`,
    );
    connection.closeSync();
    const out = path.join(dir, 'sharded');
    const result = runlake(
      'shards',
      'convert',
      file,
      out,
      '--timeseries',
      'ppg',
      '--group',
      'subject',
      '--continuous',
      'temp',
      '--window-size',
      '10',
      '--stride',
      '5',
      '--history-length',
      '8',
      '--seed',
      '1',
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.samples).toBe(18); // 9 windows per subject
    expect(report.fields).toEqual(['history', 'target', 'temp', 'temp_future']);
    const counts = Object.fromEntries(
      Object.entries(report.splits as Record<string, { samples: number } | null>).map(([k, v]) => [
        k,
        v?.samples,
      ]),
    );
    expect(counts).toEqual({ train: 14, val: undefined, test: 4 }); // int(9 × 0.1) = 0 per group
    const reader = new ShardedDatasetReader(path.join(out, 'vitals_train'));
    const sample = reader.getSample(reader.queryIds()[0] as string);
    expect(sample.arrays.history?.shape).toEqual([8]);
    expect(sample.arrays.target?.dtype).toBe('float32');
    expect(sample.metadata).toMatchObject({ dataset: 'vitals_ppg', history_length: 8, prediction_length: 2 });
    reader.close();
    expect(fs.existsSync(path.join(out, 'vitals_val'))).toBe(false); // an empty split writes nothing
    const missing = runlake('shards', 'convert', file, out, '--window-size', '10');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no time-series columns/);
  });
});

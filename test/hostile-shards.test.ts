/**
 * Hostile array-shards stores: an index that is empty, garbage, foreign, truncated or missing
 * beside existing shards, and a garbage shard. Every shards command refuses with one line naming
 * the file and the cause, and leaves the store byte-identical; the library refuses the same way
 * and never creates a fresh index over existing shards.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  CompactRefusedError,
  compactShards,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  ShardIndexError,
  shardPath,
  verifyShards,
} from '../src/index.js';
import { runlake } from './helpers/cli.js';
import { expectRefused, treeFingerprint } from './helpers/hostile.js';
import { tempDir } from './helpers/lake-fixtures.js';

/** A closed dataset of 10 samples in 3 shards, with dead bytes (so compaction has work to do). */
function store(name: string): string {
  const root = path.join(tempDir('runlake-hostile-shards-'), name);
  const writer = new ShardedDatasetWriter(root, { samplesPerShard: 4 });
  writer.addFields(['history']);
  for (let i = 0; i < 10; i++)
    writer.addSample({ history: new Float32Array([i, i + 1, i + 2]) }, { metadata: { i } });
  writer.updateSample('sample_000000000001', { history: new Float32Array([7, 7, 7]) });
  writer.close();
  return root;
}

const INDEX = 'index.sqlite';

/** Replaces the index with what `damage` writes (a fresh SQLite file when it takes a Database). */
const damagedIndexes: readonly [string, (file: string) => void, readonly (string | RegExp)[]][] = [
  ['a zero-byte index', (file) => fs.writeFileSync(file, ''), ['empty (0 bytes)', '3 shard files']],
  [
    'a garbage index',
    (file) => fs.writeFileSync(file, Buffer.alloc(45056, 0x5a)),
    ['not an SQLite database'],
  ],
  [
    'an SQLite index without its tables',
    (file) => {
      fs.rmSync(file);
      const db = new Database(file);
      db.exec('CREATE TABLE notes (text TEXT)');
      db.close();
    },
    ['no "samples" or "fields" table', 'tables: notes'],
  ],
  [
    'an SQLite index with no tables at all',
    (file) => {
      fs.rmSync(file);
      const db = new Database(file);
      db.exec('CREATE TABLE t (x); DROP TABLE t');
      db.close();
    },
    ['no tables', '3 shard files'],
  ],
  ['a truncated index', (file) => fs.truncateSync(file, 8192), ['unreadable SQLite index', 'malformed']],
  ['a missing index beside shards', (file) => fs.rmSync(file), ['missing', '3 shard files']],
];

describe('shards commands on a damaged index', () => {
  for (const [what, damage, mentions] of damagedIndexes) {
    it(`refuse ${what} with one line and change nothing`, () => {
      const root = store('ds');
      damage(path.join(root, INDEX));
      for (const command of ['info', 'verify', 'compact', 'ls'])
        expectRefused(['shards', command, root], {
          mentions: [path.join(root, INDEX), ...mentions],
          unchanged: [path.dirname(root)],
        });
    });
  }

  it('the library refuses too: no fresh index, no lock file, no -wal/-shm', () => {
    for (const [, damage] of damagedIndexes) {
      const root = store('lib');
      damage(path.join(root, INDEX));
      fs.rmSync(path.join(root, 'writer.lock'));
      const before = treeFingerprint(root);
      expect(() => new ShardedDatasetWriter(root)).toThrow(ShardIndexError);
      expect(() => new ShardedDatasetReader(root)).toThrow(ShardIndexError);
      expect(() => compactShards(root)).toThrow(ShardIndexError);
      expect(() => verifyShards(root)).toThrow(ShardIndexError);
      expect(treeFingerprint(root)).toEqual(before);
      fs.rmSync(path.dirname(root), { recursive: true });
    }
  });

  it('still starts a dataset where there is nothing to orphan', () => {
    // An empty index without shard files is what a writer killed before its first commit leaves.
    const root = path.join(tempDir('runlake-hostile-shards-'), 'new');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, INDEX), '');
    const writer = new ShardedDatasetWriter(root);
    writer.addFields(['history']);
    writer.addSample({ history: new Float32Array([1]) });
    writer.close();
    expect(verifyShards(root)).toMatchObject({ ok: true, samples: 1 });
  });
});

describe('shards commands on a garbage shard', () => {
  function garbageShard(): string {
    const root = store('ds');
    const file = shardPath(root, 'history', 1);
    // Same size, so nothing but the content tells it apart from a good shard.
    fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size, 0xa5));
    return root;
  }

  it('compact refuses before rewriting or truncating anything', () => {
    const root = garbageShard();
    expectRefused(['shards', 'compact', root], {
      mentions: ['shard_0001.tar', 'checksum', 'compact refused'],
      unchanged: [path.dirname(root)],
    });
    expect(() => compactShards(root)).toThrow(CompactRefusedError);
  });

  it('verify exits 1 naming the first bad shard, and changes nothing', () => {
    const root = garbageShard();
    expectRefused(['shards', 'verify', root], {
      mentions: ['failed verification', 'shard_0001.tar', 'checksum'],
      unchanged: [path.dirname(root)],
    });
  });

  it('info and ls of the good shards still work and change nothing', () => {
    const root = garbageShard();
    const before = treeFingerprint(root);
    const info = runlake('shards', 'info', root);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain('samples: 10');
    const get = runlake('shards', 'get', root, 'sample_000000000010');
    expect(get.code, get.stderr).toBe(0);
    expect(treeFingerprint(root)).toEqual(before);
  });

  it('compact still recovers bytes a killed writer left after the committed end', () => {
    const root = store('ds');
    const file = shardPath(root, 'history', 2);
    fs.appendFileSync(file, Buffer.alloc(700, 0x33));
    expect(verifyShards(root)).toMatchObject({ ok: true, warnings: [{ kind: 'uncommitted-tail' }] });
    const compact = runlake('shards', 'compact', root);
    expect(compact.code, compact.stderr).toBe(0);
    expect(verifyShards(root)).toMatchObject({ ok: true, warnings: [] });
  });
});

/**
 * runlake and the reference synthefy-dataset-utils package on one dataset: the real writer's
 * stores read by runlake (every write path, several sessions), runlake's stores read by the real
 * reader, and both writers alternating on one store with SIGKILLs of each. Every array is checked
 * byte for byte, no sample may be lost and no id reused. The reference package is run from
 * $RUNLAKE_SYNTHEFY (default /work/shared/peers/synthefy) by test/python/shards_mixed.py; the
 * runlake side runs in a child process (test/fixtures/shards/mixed-runlake.mjs, on dist/) so that
 * it can be killed too. Skipped locally without numpy or the package, fails on CI.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compactShards,
  type NdArray,
  reindexShards,
  ShardedDatasetReader,
  verifyShards,
} from '../src/index.js';
import { runlake as runlakeCli } from './helpers/cli.js';
import { PYTHON_SCRIPTS_DIR, pythonWith } from './helpers/python.js';

const SYNTHEFY = process.env.RUNLAKE_SYNTHEFY ?? '/work/shared/peers/synthefy';
const hasPackage = fs.existsSync(path.join(SYNTHEFY, 'synthefy_dataset_utils', 'sharded_dataset_writer.py'));
const py = pythonWith(['numpy']);
const skip = py.skip || (!hasPackage && !process.env.CI);
if (skip) console.warn(`[shards-mixed-writers.test] skipping: ${py.reason || `no package at ${SYNTHEFY}`}`);

const RUNLAKE = fileURLToPath(new URL('./fixtures/shards/mixed-runlake.mjs', import.meta.url));
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function freshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-mixed-'));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}

type Spec = { v: number; n: number };
type Op = Record<string, unknown> & { op: string };
interface Ack {
  op: string;
  id?: string;
  samples?: Record<
    string,
    { arrays?: Record<string, PyArray>; meta?: Record<string, unknown>; error?: string }
  >;
  value?: number;
}
interface PyArray {
  sha1: string;
  v: number | null;
  n: number;
}

function run(command: string, args: string[], ops: Op[], env: Record<string, string> = {}): Ack[] {
  const result = spawnSync(command, args, {
    input: JSON.stringify(ops),
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, RUNLAKE_SYNTHEFY: SYNTHEFY, PYTHONDONTWRITEBYTECODE: '1', ...env },
  });
  if (result.error) throw result.error;
  const killed =
    result.signal === 'SIGKILL' &&
    ops.some(
      (o) =>
        o.op === 'kill' || env.RUNLAKE_SHARDS_KILL_BEFORE_COMMIT || env.RUNLAKE_SHARDS_KILL_BEFORE_RENAME,
    );
  if (result.status !== 0 && !killed)
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}`,
    );
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ack);
}
const python = (ops: Op[]) => run(py.python, [path.join(PYTHON_SCRIPTS_DIR, 'shards_mixed.py')], ops);
const runlake = (ops: Op[], env: Record<string, string> = {}) => run(process.execPath, [RUNLAKE], ops, env);

function build(spec: Spec): Float32Array {
  const a = new Float32Array(spec.n);
  for (let i = 0; i < spec.n; i++) a[i] = Math.fround(Math.fround(spec.v) + Math.fround(i * 0.25));
  return a;
}
function sha1Of(descr: string, shape: readonly number[], bytes: Uint8Array): string {
  return crypto
    .createHash('sha1')
    .update(descr)
    .update(`[${shape.join(', ')}]`)
    .update(bytes)
    .digest('hex');
}
const specSha = (s: Spec) => sha1Of('<f4', [s.n], new Uint8Array(build(s).buffer));
function arraySha(a: NdArray): string {
  expect(a.dtype).toBe('float32');
  return sha1Of('<f4', a.shape, new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
}

/** What each sample must hold: its acknowledged arrays (by field) and metadata. */
type Ledger = Map<string, { arrays: Record<string, Spec>; meta: Record<string, unknown> }>;

/** Both readers return exactly the ledger for every sample in it. */
function checkBoth(root: string, ledger: Ledger): void {
  const reader = new ShardedDatasetReader(root);
  try {
    for (const [id, want] of ledger) {
      const got = reader.getSample(id);
      expect(Object.keys(got.arrays).sort(), id).toEqual(Object.keys(want.arrays).sort());
      for (const [field, spec] of Object.entries(want.arrays))
        expect(arraySha(got.arrays[field] as NdArray), `runlake ${id}.${field} = v${spec.v}`).toBe(
          specSha(spec),
        );
      expect(got.metadata, id).toEqual(want.meta);
    }
  } finally {
    reader.close();
  }
  const [read] = python([{ op: 'read', root, ids: [...ledger.keys()] }]);
  for (const [id, want] of ledger) {
    const got = read?.samples?.[id];
    expect(got?.error, `python ${id}`).toBeUndefined();
    for (const [field, spec] of Object.entries(want.arrays))
      expect(got?.arrays?.[field]?.sha1, `python ${id}.${field} = v${spec.v}`).toBe(specSha(spec));
    expect(got?.meta, id).toEqual(want.meta);
  }
}

describe.skipIf(skip)('runlake beside the reference synthefy-dataset-utils writer', () => {
  it('reads the new array after the real writer updates samples runlake wrote (no stale first member)', () => {
    const root = freshRoot();
    const ledger: Ledger = new Map();
    const ops: Op[] = [
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add_fields', names: ['x'] },
    ];
    for (let i = 1; i <= 30; i++) ops.push({ op: 'add', arrays: { x: { v: i, n: 8 } }, meta: { i } });
    ops.push({ op: 'close' });
    for (const ack of runlake(ops).filter((a) => a.op === 'add'))
      ledger.set(ack.id as string, {
        arrays: { x: { v: Number(ack.id?.slice(7)), n: 8 } },
        meta: { i: Number(ack.id?.slice(7)) },
      });
    // The real writer recomputes the field for every sample in one session.
    const update: Op[] = [{ op: 'open', root, samples_per_shard: 10 }];
    for (const id of ledger.keys()) {
      update.push({ op: 'update', id, arrays: { x: { v: 1000 + Number(id.slice(7)), n: 8 } } });
      (ledger.get(id) as { arrays: Record<string, Spec> }).arrays.x = { v: 1000 + Number(id.slice(7)), n: 8 };
    }
    update.push({ op: 'close' });
    python(update);
    checkBoth(root, ledger);
    // A full pass sees every sample once, with its new array (no runlake writer has reopened the
    // store: its shards table still says every member is live).
    const scanner = new ShardedDatasetReader(root);
    const scanned = new Map<string, string>();
    for (const { sampleId, array } of scanner.scanField('x')) {
      expect(scanned.has(sampleId), sampleId).toBe(false);
      scanned.set(sampleId, arraySha(array));
    }
    scanner.close();
    expect(scanned).toEqual(new Map([...ledger].map(([id, w]) => [id, specSha(w.arrays.x as Spec)])));
    const report = verifyShards(root);
    expect(report.problems).toEqual([]);
    expect(report.warnings.filter((w) => w.kind === 'found-by-name').length).toBe(30);
    compactShards(root);
    checkBoth(root, ledger);
    expect(verifyShards(root).warnings).toEqual([]);
  });

  it('keeps the real writer appends and shards when a runlake writer reopens', () => {
    const root = freshRoot();
    runlake([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add_fields', names: ['x', 'y'] },
      ...[1, 2, 3].map((i) => ({ op: 'add', arrays: { x: { v: i, n: 4 }, y: { v: -i, n: 2 } } })),
      { op: 'close' },
    ]);
    python([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add', arrays: { x: { v: 4, n: 4 }, y: { v: -4, n: 2 } } },
      { op: 'close' },
    ]);
    runlake([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add', arrays: { x: { v: 5, n: 4 }, y: { v: -5, n: 2 } } },
      { op: 'close' },
    ]);
    const ledger: Ledger = new Map();
    for (let i = 1; i <= 5; i++)
      ledger.set(`sample_${String(i).padStart(12, '0')}`, {
        arrays: { x: { v: i, n: 4 }, y: { v: -i, n: 2 } },
        meta: {},
      });
    checkBoth(root, ledger);
    expect(fs.readdirSync(path.join(path.dirname(root), 'ds', 'y_shards'))).toContain('shard_0000.tar');
  });

  it('keeps counters.sample_id in step with every generated id, even when the writer is killed', () => {
    const root = freshRoot();
    runlake([
      { op: 'open', root },
      { op: 'add_fields', names: ['x'] },
      { op: 'add', arrays: { x: { v: 1, n: 3 } } },
      { op: 'add', arrays: { x: { v: 2, n: 3 } } },
      { op: 'add', arrays: { x: { v: 3, n: 3 } }, id: 'sample_000000000007' },
      { op: 'kill' },
    ]);
    const [counter] = python([{ op: 'counter', root }]);
    expect(counter?.value).toBe(7);
    const acks = python([
      { op: 'open', root },
      { op: 'add', arrays: { x: { v: 8, n: 3 } } },
      { op: 'close' },
    ]);
    expect(acks[1]?.id).toBe('sample_000000000008');
  });

  it('stores base_dir as the real writer does, so it writes into the dataset from any directory', () => {
    const root = freshRoot();
    runlake([
      { op: 'open', root },
      { op: 'add_fields', names: ['x'] },
      { op: 'add', arrays: { x: { v: 1, n: 3 } } },
      { op: 'close' },
    ]);
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    expect(db.prepare("SELECT base_dir FROM fields WHERE name = 'x'").pluck().get()).toBe(
      path.resolve(root, 'x_shards'),
    );
    db.close();
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-cwd-'));
    tempDirs.push(elsewhere);
    python([
      { op: 'chdir', dir: elsewhere },
      { op: 'open', root },
      { op: 'add', arrays: { x: { v: 2, n: 3 } } },
      { op: 'close' },
    ]);
    expect(fs.existsSync(path.join(elsewhere, 'x_shards'))).toBe(false);
    checkBoth(
      root,
      new Map([
        ['sample_000000000001', { arrays: { x: { v: 1, n: 3 } }, meta: {} }],
        ['sample_000000000002', { arrays: { x: { v: 2, n: 3 } }, meta: {} }],
      ]),
    );
  });

  it('never shows an update that was not acknowledged (killed between writing and indexing it)', () => {
    const root = freshRoot();
    runlake([
      { op: 'open', root, samples_per_shard: 100 },
      { op: 'add_fields', names: ['x'] },
      { op: 'add', arrays: { x: { v: 1, n: 5 } }, meta: { version: 1 } },
      { op: 'close' },
    ]);
    runlake(
      [
        { op: 'open', root, samples_per_shard: 100 },
        { op: 'update', id: 'sample_000000000001', arrays: { x: { v: 2, n: 5 } }, meta: { version: 2 } },
      ],
      { RUNLAKE_SHARDS_KILL_BEFORE_COMMIT: '1' },
    );
    const ledger: Ledger = new Map([
      ['sample_000000000001', { arrays: { x: { v: 1, n: 5 } }, meta: { version: 1 } }],
    ]);
    checkBoth(root, ledger);
    runlake([{ op: 'open', root }, { op: 'close' }]);
    checkBoth(root, ledger);
  });

  it('writeShard/openShard into the shard a sample is indexed in: no reader sees it before the commit', () => {
    const root = freshRoot();
    const x = (v: number) => ({ v, n: 6 });
    runlake([
      { op: 'open', root },
      { op: 'add_fields', names: ['x'] },
      { op: 'register', ids: ['s1', 's2'] },
      { op: 'write_shard', field: 'x', shard: 0, ids: ['s1', 's2'], arrays: [x(1), x(1)] },
      { op: 'close' },
    ]);
    const ledger: Ledger = new Map([
      ['s1', { arrays: { x: x(1) }, meta: {} }],
      ['s2', { arrays: { x: x(1) }, meta: {} }],
    ]);
    // Killed after writing the new member into shard 0 and before the commit: neither reader may
    // see it (the real reader takes the newest member of a name in the shard the index names).
    runlake(
      [
        { op: 'open', root },
        { op: 'write_shard', field: 'x', shard: 0, ids: ['s1'], arrays: [x(2)] },
      ],
      { RUNLAKE_SHARDS_KILL_BEFORE_COMMIT: '1' },
    );
    checkBoth(root, ledger);
    // Killed after the commit and before the rename: runlake reads the committed array, the
    // real reader the previous one until the next runlake writer finishes the rename.
    runlake(
      [
        { op: 'open', root },
        { op: 'open_shard', field: 'x', shard: 0, items: [['s2', x(3)]] },
      ],
      { RUNLAKE_SHARDS_KILL_BEFORE_RENAME: '1' },
    );
    const reader = new ShardedDatasetReader(root);
    expect(arraySha(reader.getSample('s2').arrays.x as NdArray)).toBe(specSha(x(3)));
    reader.close();
    expect(python([{ op: 'read', root, ids: ['s2'] }])[0]?.samples?.s2?.arrays?.x?.v).toBe(1);
    const pending = verifyShards(root);
    expect(pending.problems).toEqual([]);
    expect(pending.warnings.map((w) => [w.kind, w.sampleId])).toEqual([['pending-name', 's2']]);
    runlake([{ op: 'open', root }, { op: 'close' }]);
    ledger.set('s2', { arrays: { x: x(3) }, meta: {} });
    checkBoth(root, ledger);
    // Acknowledged in-place writes are visible to both readers, over several sessions and with
    // the real writer taking its turn on the same shard.
    runlake([
      { op: 'open', root },
      { op: 'write_shard', field: 'x', shard: 0, ids: ['s1', 's2'], arrays: [x(4), x(5)] },
      { op: 'open_shard', field: 'x', shard: 0, items: [['s1', x(6)]] },
      { op: 'close' },
    ]);
    ledger.set('s1', { arrays: { x: x(6) }, meta: {} });
    ledger.set('s2', { arrays: { x: x(5) }, meta: {} });
    checkBoth(root, ledger);
    // The real writer's write_shard truncates the shard it writes (mode "w"): give it a shard of
    // its own, then write in place into that shard (its offsets are not byte offsets).
    python([
      { op: 'open', root },
      { op: 'write_shard', field: 'x', shard: 1, ids: ['s2'], arrays: [x(7)] },
      { op: 'close' },
    ]);
    ledger.set('s2', { arrays: { x: x(7) }, meta: {} });
    checkBoth(root, ledger);
    runlake([
      { op: 'open', root },
      { op: 'write_shard', field: 'x', shard: 1, ids: ['s2'], arrays: [x(8)] },
      { op: 'close' },
    ]);
    ledger.set('s2', { arrays: { x: x(8) }, meta: {} });
    checkBoth(root, ledger);
    const clean = verifyShards(root);
    expect(clean.problems).toEqual([]);
    expect(clean.warnings.filter((w) => w.kind === 'pending-name')).toEqual([]);
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    const table = db.prepare("SELECT name FROM sqlite_master WHERE name = 'runlake_pending_names'").get();
    db.close();
    expect(table).toBeUndefined();
    compactShards(root);
    checkBoth(root, ledger);
  });

  it('reads every write path of the real writer over several sessions, and the real reader reads runlake', () => {
    const root = freshRoot();
    const ledger: Ledger = new Map();
    const acks1 = python([
      { op: 'open', root, samples_per_shard: 4 },
      { op: 'add_fields', names: ['x', 'y'] },
      ...[1, 2, 3, 4, 5, 6].map((i) => ({
        op: 'add',
        arrays: { x: { v: i, n: 6 }, y: { v: -i, n: 3 } },
        meta: { i },
      })),
      { op: 'add', id: 'custom-a', arrays: { x: { v: 100, n: 6 } }, meta: { c: 'a' } },
      { op: 'close' },
    ]);
    for (const ack of acks1.filter((a) => a.op === 'add' && a.id !== 'custom-a')) {
      const i = Number(ack.id?.slice(7));
      ledger.set(ack.id as string, { arrays: { x: { v: i, n: 6 }, y: { v: -i, n: 3 } }, meta: { i } });
    }
    ledger.set('custom-a', { arrays: { x: { v: 100, n: 6 } }, meta: { c: 'a' } });
    python([
      { op: 'open', root, samples_per_shard: 4 },
      { op: 'update', id: 'sample_000000000002', arrays: { x: { v: 202, n: 6 } }, meta: { i: 2, u: 1 } },
      { op: 'update', id: 'sample_000000000005', arrays: { y: { v: -205, n: 3 } } },
      { op: 'register', ids: ['r1', 'r2', 'r3'], meta: [{ r: 1 }, { r: 2 }, { r: 3 }] },
      {
        op: 'write_shard',
        field: 'x',
        shard: 7,
        ids: ['r1', 'r2'],
        arrays: [
          { v: 301, n: 2 },
          { v: 302, n: 2 },
        ],
      },
      {
        op: 'open_shard',
        field: 'y',
        shard: 8,
        items: [
          ['r3', { v: 303, n: 1 }],
          ['r1', { v: 304, n: 1 }],
        ],
      },
      { op: 'close' },
    ]);
    (ledger.get('sample_000000000002') as { arrays: Record<string, Spec>; meta: object }).arrays.x = {
      v: 202,
      n: 6,
    };
    (ledger.get('sample_000000000002') as { meta: object }).meta = { i: 2, u: 1 };
    (ledger.get('sample_000000000005') as { arrays: Record<string, Spec> }).arrays.y = { v: -205, n: 3 };
    ledger.set('r1', { arrays: { x: { v: 301, n: 2 }, y: { v: 304, n: 1 } }, meta: { r: 1 } });
    ledger.set('r2', { arrays: { x: { v: 302, n: 2 } }, meta: { r: 2 } });
    ledger.set('r3', { arrays: { y: { v: 303, n: 1 } }, meta: { r: 3 } });
    checkBoth(root, ledger);
    // runlake appends and updates; then the real writer again; then the real reader reads it all.
    const acks3 = runlake([
      { op: 'open', root, samples_per_shard: 4 },
      { op: 'add', arrays: { x: { v: 7, n: 6 } }, meta: { i: 7 } },
      { op: 'update', id: 'sample_000000000001', arrays: { x: { v: 401, n: 6 } } },
      { op: 'update', id: 'r2', arrays: { x: { v: 402, n: 2 } } },
      { op: 'close' },
    ]);
    expect(acks3[1]?.id).toBe('sample_000000000007');
    ledger.set('sample_000000000007', { arrays: { x: { v: 7, n: 6 } }, meta: { i: 7 } });
    (ledger.get('sample_000000000001') as { arrays: Record<string, Spec> }).arrays.x = { v: 401, n: 6 };
    (ledger.get('r2') as { arrays: Record<string, Spec> }).arrays.x = { v: 402, n: 2 };
    const acks4 = python([
      { op: 'open', root, samples_per_shard: 4 },
      { op: 'add', arrays: { x: { v: 8, n: 6 } }, meta: { i: 8 } },
      { op: 'update', id: 'sample_000000000007', arrays: { x: { v: 507, n: 6 } } },
      { op: 'close' },
    ]);
    expect(acks4[1]?.id).toBe('sample_000000000008');
    ledger.set('sample_000000000008', { arrays: { x: { v: 8, n: 6 } }, meta: { i: 8 } });
    (ledger.get('sample_000000000007') as { arrays: Record<string, Spec> }).arrays.x = { v: 507, n: 6 };
    checkBoth(root, ledger);
    expect(verifyShards(root).problems).toEqual([]);
  });

  it('reindex records true byte offsets that both readers read, and runlake reads them on its fast path', () => {
    const root = freshRoot();
    const ledger: Ledger = new Map();
    const acks = python([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add_fields', names: ['x'] },
      ...Array.from({ length: 25 }, (_, i) => ({ op: 'add', arrays: { x: { v: i, n: 16 } }, meta: { i } })),
      { op: 'update', id: 'sample_000000000003', arrays: { x: { v: 333, n: 16 } } },
      { op: 'close' },
    ]);
    for (const [k, ack] of acks.filter((a) => a.op === 'add').entries())
      ledger.set(ack.id as string, { arrays: { x: { v: k, n: 16 } }, meta: { i: k } });
    (ledger.get('sample_000000000003') as { arrays: Record<string, Spec> }).arrays.x = { v: 333, n: 16 };
    const report = reindexShards(root);
    expect(report.rowsReindexed).toBe(25);
    checkBoth(root, ledger);
    expect(verifyShards(root).warnings).toEqual([]);
    const reader = new ShardedDatasetReader(root);
    for (const id of ledger.keys()) reader.getSample(id);
    expect(reader.readPaths).toEqual({ fast: 25, careful: 0, byName: 0 });
    reader.close();
  });

  it('handles a store an older runlake wrote (no size guard, relative base_dir) that the real writer then updated', () => {
    const root = freshRoot();
    runlake([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add_fields', names: ['x'] },
      ...Array.from({ length: 12 }, (_, i) => ({ op: 'add', arrays: { x: { v: i + 1, n: 6 } } })),
      { op: 'close' },
    ]);
    // What runlake before the size guard left: no trigger, base_dir relative.
    const db = new Database(path.join(root, 'index.sqlite'));
    db.exec("DROP TRIGGER runlake_x_location; UPDATE fields SET base_dir = 'x_shards'");
    db.close();
    const ledger: Ledger = new Map();
    for (let i = 1; i <= 12; i++)
      ledger.set(`sample_${String(i).padStart(12, '0')}`, { arrays: { x: { v: i, n: 6 } }, meta: {} });
    python([
      // From the dataset directory, where the relative base_dir works for the real writer.
      { op: 'chdir', dir: root },
      { op: 'open', root: '.', samples_per_shard: 10 },
      { op: 'update', id: 'sample_000000000001', arrays: { x: { v: 501, n: 6 } } },
      { op: 'update', id: 'sample_000000000011', arrays: { x: { v: 511, n: 6 } } },
      { op: 'close' },
    ]);
    (ledger.get('sample_000000000001') as { arrays: Record<string, Spec> }).arrays.x = { v: 501, n: 6 };
    (ledger.get('sample_000000000011') as { arrays: Record<string, Spec> }).arrays.x = { v: 511, n: 6 };
    // The reader alone (no writer has installed the guard): sizes are not trusted.
    checkBoth(root, ledger);
    // A runlake writer installs the guard and clears the sizes the real writer left stale.
    runlake([
      { op: 'open', root, samples_per_shard: 10 },
      { op: 'add', arrays: { x: { v: 13, n: 6 } } },
      { op: 'close' },
    ]);
    ledger.set('sample_000000000013', { arrays: { x: { v: 13, n: 6 } }, meta: {} });
    checkBoth(root, ledger);
    const check = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    expect(check.prepare("SELECT base_dir FROM fields WHERE name = 'x'").pluck().get()).toBe(
      path.resolve(root, 'x_shards'),
    );
    check.close();
    reindexShards(root);
    checkBoth(root, ledger);
    expect(verifyShards(root).warnings).toEqual([]);
  });

  it('`runlake shards reindex` reindexes a store the real writer made, and says what it did', () => {
    const root = freshRoot();
    python([
      { op: 'open', root, samples_per_shard: 3 },
      { op: 'add_fields', names: ['x'] },
      ...Array.from({ length: 7 }, (_, i) => ({ op: 'add', arrays: { x: { v: i, n: 5 } } })),
      { op: 'close' },
    ]);
    expect(verifyShards(root).warnings.filter((w) => w.kind === 'found-by-name').length).toBeGreaterThan(0);
    const result = runlakeCli('shards', 'reindex', root);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('x: 7 rows reindexed');
    expect(verifyShards(root).warnings).toEqual([]);
    const again = runlakeCli('shards', 'reindex', root, '--json');
    expect(JSON.parse(again.stdout).rowsReindexed).toBe(0);
  });

  it('alternates both writers on one store for many rounds, killing each, and loses nothing', () => {
    const root = freshRoot();
    // A tiny deterministic PRNG: failures replay.
    let state = Number(process.env.RUNLAKE_SOAK_SEED ?? 12345);
    const rand = (n: number) => {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      // The high bits: the low bits of this generator cycle with short periods.
      return (state >>> 12) % n;
    };
    const ledger: Ledger = new Map();
    const everIssued = new Set<string>();
    /** Samples whose last write was not acknowledged: any of these values (or none) may be there. */
    const uncertain = new Map<string, Spec[]>();
    runlake([
      { op: 'open', root, samples_per_shard: 5 },
      { op: 'add_fields', names: ['x', 'y'] },
      { op: 'close' },
    ]);
    let v = 1;
    let custom = 0;
    /** Samples runlake wrote with write_shard, by the shard it chose. */
    const chosenShard = new Map<string, number>();
    let nextShard = 0;
    for (let round = 0; round < 24; round++) {
      const side = round % 2 === 0 ? 'runlake' : 'python';
      const kill = rand(3) === 0;
      const ops: Op[] = [{ op: 'open', root, samples_per_shard: 5 }];
      const planned: { op: Op; apply: () => void }[] = [];
      const count = 3 + rand(6);
      for (let k = 0; k < count; k++) {
        const ids = [...ledger.keys()].filter((id) => !uncertain.has(id));
        const choice = rand(10);
        const rewritable = ids.filter((id) => chosenShard.has(id));
        if (choice >= 7 && choice <= 8 && side === 'runlake' && rewritable.length > 0) {
          // write_shard again into the shard runlake chose before: in place when the sample is
          // still indexed there (the real writer may have moved it by an update since).
          const id = rewritable[rand(rewritable.length)] as string;
          const spec = { v: v++, n: 1 + rand(40) };
          planned.push({
            op: { op: 'write_shard', field: 'x', shard: chosenShard.get(id), ids: [id], arrays: [spec] },
            apply: () => {
              (ledger.get(id) as { arrays: Record<string, Spec> }).arrays.x = spec;
            },
          });
        } else if (choice === 9) {
          // register_samples + write_shard into a shard of its own (the reference writer's
          // write_shard truncates the shard it writes, so never one that holds other samples).
          const fresh = [`${side}-w${round}-${custom++}`, `${side}-w${round}-${custom++}`];
          const specs = fresh.map(() => ({ v: v++, n: 1 + rand(40) }));
          // Never a shard the other writer may use: the real writer sets num_shards to the shard
          // it writes + 1 (down as well as up), and runlake allocates new shards from there.
          const shard = side === 'runlake' ? 300 + nextShard++ : 200 - nextShard++;
          planned.push({
            op: { op: 'register', ids: fresh, meta: specs.map((sp) => ({ w: sp.v })) },
            apply: () => {},
          });
          planned.push({
            op: {
              op: 'write_shard',
              field: 'x',
              shard,
              ids: fresh,
              arrays: specs,
            },
            apply: () => {
              fresh.forEach((id, i) => {
                const sp = specs[i] as Spec;
                ledger.set(id, { arrays: { x: sp }, meta: { w: sp.v } });
                if (side === 'runlake') chosenShard.set(id, shard);
              });
            },
          });
        } else if (choice < 4 || ids.length === 0) {
          const spec = { v: v++, n: 1 + rand(40) };
          const op: Op = { op: 'add', arrays: { x: spec, y: { v: -spec.v, n: 2 } }, meta: { v: spec.v } };
          if (rand(3) === 0) op.id = `${side}-${round}-${custom++}`;
          planned.push({ op, apply: () => {} });
        } else {
          const id = ids[rand(ids.length)] as string;
          const spec = { v: v++, n: 1 + rand(40) };
          planned.push({
            op: { op: 'update', id, arrays: { x: spec }, meta: { v: spec.v } },
            apply: () => {
              const entry = ledger.get(id) as { arrays: Record<string, Spec>; meta: Record<string, unknown> };
              entry.arrays.x = spec;
              entry.meta = { v: spec.v };
            },
          });
        }
      }
      ops.push(...planned.map((p) => p.op));
      // runlake is killed either between calls or inside a commit (members written, index not).
      const inCommit = kill && side === 'runlake' && rand(2) === 0;
      const killAt = kill ? 1 + rand(planned.length) : -1;
      if (kill && !inCommit) ops.splice(killAt, 0, { op: 'kill' });
      else ops.push({ op: 'close' });
      const acks =
        side === 'runlake'
          ? runlake(ops, inCommit ? { RUNLAKE_SHARDS_KILL_BEFORE_COMMIT: String(killAt) } : {})
          : python(ops);
      // The real writer commits its index only at close (or when it generates an id, which also
      // commits earlier rows whose tar bytes may still sit in its buffer): a killed session
      // acknowledges nothing. runlake acknowledges every returned call.
      const acked = side === 'runlake' ? acks.length - 1 : kill ? 0 : planned.length;
      planned.forEach((p, k) => {
        if (p.op.op !== 'add' && p.op.op !== 'update') {
          if (k < acked) p.apply();
          return;
        }
        const addId = p.op.op === 'add' ? (acks[k + 1]?.id ?? (p.op.id as string | undefined)) : undefined;
        if (addId) {
          expect(everIssued.has(addId), `id ${addId} reused`).toBe(false);
          if (acks[k + 1]?.id) everIssued.add(addId);
        }
        const spec = (p.op.arrays as Record<string, Spec>).x as Spec;
        if (k < acked) {
          if (addId)
            ledger.set(addId, {
              arrays: { x: spec, y: { v: -spec.v, n: 2 } },
              meta: { v: spec.v },
            });
          else p.apply();
        } else if (p.op.op === 'update') {
          const id = p.op.id as string;
          uncertain.set(id, [...(uncertain.get(id) ?? [ledger.get(id)?.arrays.x as Spec]), spec]);
        }
      });
      // runlake reads every acknowledged sample after every session.
      const reader = new ShardedDatasetReader(root);
      try {
        for (const [id, want] of ledger) {
          if (uncertain.has(id)) continue;
          const got = reader.getSample(id);
          expect(arraySha(got.arrays.x as NdArray), `round ${round} ${side}: ${id}`).toBe(
            specSha(want.arrays.x as Spec),
          );
          expect(got.metadata).toEqual(want.meta);
        }
      } finally {
        reader.close();
      }
      // The real reader sees exactly what runlake acknowledged, even right after a killed runlake.
      if (side === 'runlake') {
        const [read] = python([
          { op: 'read', root, ids: [...ledger.keys()].filter((id) => !uncertain.has(id)) },
        ]);
        for (const [id, got] of Object.entries(read?.samples ?? {}))
          expect(got.arrays?.x?.sha1, `round ${round} python ${id}`).toBe(
            specSha(ledger.get(id)?.arrays.x as Spec),
          );
      }
      // An update the real writer did not acknowledge may or may not be there: settle it.
      if (uncertain.size) {
        const r = new ShardedDatasetReader(root);
        for (const [id, options] of uncertain) {
          let got: NdArray | undefined;
          try {
            got = r.getSample(id).arrays.x as NdArray;
          } catch {}
          const match = options.find((s) => got && specSha(s) === arraySha(got));
          if (match) {
            const entry = ledger.get(id) as { arrays: Record<string, Spec>; meta: Record<string, unknown> };
            entry.arrays.x = match;
            entry.meta = r.getSample(id).metadata;
            uncertain.delete(id);
          }
        }
        r.close();
      }
    }
    runlake([{ op: 'open', root, samples_per_shard: 5 }, { op: 'close' }]);
    for (const id of uncertain.keys()) ledger.delete(id);
    checkBoth(root, ledger);
    // Rows the real writer committed (through its id counter's commit) for members still in its
    // buffer when it was killed point at nothing, for both readers; no acknowledged sample may.
    const problems = verifyShards(root).problems.filter(
      (p) => p.sampleId === undefined || ledger.has(p.sampleId),
    );
    expect(problems).toEqual([]);
    expect(ledger.size).toBeGreaterThan(15);
  }, 120_000);
});

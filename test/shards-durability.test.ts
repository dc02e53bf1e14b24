/**
 * Array shards under crashes and concurrency: a writer SIGKILLed at random moments leaves a
 * dataset that opens, with every acknowledged sample readable and nothing half-written indexed;
 * readers running beside a writer see consistent snapshots; a second writer process is refused.
 * The writer runs in a child process (test/fixtures/shards/writer-loop.mjs, on the built dist/).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeNpy,
  isRunlakeHeader,
  memberHeader,
  type NdArray,
  ndarray,
  ShardedDatasetReader,
  ShardedDatasetWriter,
  shardPath,
  verifyShards,
  walkTar,
} from '../src/index.js';

const LOOP = fileURLToPath(new URL('./fixtures/shards/writer-loop.mjs', import.meta.url));
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
function freshRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runlake-shards-dur-'));
  tempDirs.push(dir);
  return path.join(dir, 'ds');
}

interface Acks {
  added: string[];
  updated: Map<string, number>;
  ready: boolean;
}

function startLoop(root: string, first: number, args: string[] = []): { child: ChildProcess; acks: Acks } {
  const child = spawn(process.execPath, [LOOP, root, String(first), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acks: Acks = { added: [], updated: new Map(), ready: false };
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [kind, id, version] = line.split(' ');
      if (kind === 'ready') acks.ready = true;
      if (kind === 'added' && id) acks.added.push(id);
      if (kind === 'updated' && id) acks.updated.set(id, Number(version));
    }
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL') console.error(`writer loop exited ${code} ${signal}: ${stderr}`);
  });
  return { child, acks };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve()),
  );

async function waitFor(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting for the writer loop');
    await sleep(5);
  }
}

function seqOf(id: string): number {
  return Number(id.slice(1));
}

/** Checks a sample's two fields and metadata come from one version of one write. */
function checkSample(reader: ShardedDatasetReader, id: string): number {
  const { arrays, metadata } = reader.getSample(id);
  const target = ((arrays.target as NdArray).data as Int32Array)[0] as number;
  const history = arrays.history?.data as Float32Array;
  expect(history.every((v) => v === target)).toBe(true);
  const version = metadata.version as number;
  expect(target).toBe(version === 0 ? seqOf(id) : version);
  return version;
}

describe('array shards: crashes and concurrency', () => {
  it('survives SIGKILL at random moments during addSample and updateSample', async () => {
    const root = freshRoot();
    const acked: string[] = [];
    const updated = new Map<string, number>();
    let next = 0;
    // A fixed sequence of kill delays (deterministic runs), spread over startup and steady state.
    const delays = [40, 260, 90, 330, 150, 25, 410, 200, 120, 300];
    for (const delay of delays) {
      const { child, acks } = startLoop(root, next, ['--update-every', '7', '--per-shard', '40']);
      await waitFor(() => acks.ready);
      await sleep(delay);
      child.kill('SIGKILL');
      await exited(child);
      acked.push(...acks.added);
      for (const [id, v] of acks.updated) updated.set(id, v);
      // Next round starts after every id that may have been written (acked or not).
      next = Math.max(next, ...acks.added.map(seqOf)) + 1000;

      const reader = new ShardedDatasetReader(root, { indexCache: 'off' });
      try {
        for (const id of acked) {
          const version = checkSample(reader, id);
          // An acknowledged update is never lost; a later unacknowledged one may have landed.
          expect(version).toBeGreaterThanOrEqual(updated.get(id) ?? 0);
        }
        // Nothing beyond the acknowledged samples is indexed, except the one in flight per round.
        expect(reader.size - acked.length).toBeLessThanOrEqual(delays.indexOf(delay) + 1);
        for (const id of reader.queryIds()) checkSample(reader, id);
      } finally {
        reader.close();
      }
      const report = verifyShards(root);
      expect(report.problems).toEqual([]);
    }
    expect(acked.length).toBeGreaterThan(20);
    expect(updated.size).toBeGreaterThan(1);
    // After the last kill a writer reopens, cleans the shards, and they verify with no warnings.
    new ShardedDatasetWriter(root).close();
    expect(verifyShards(root)).toMatchObject({ ok: true, warnings: [] });
  });

  it('gives readers consistent snapshots while a writer appends and updates', async () => {
    const root = freshRoot();
    const { child, acks } = startLoop(root, 0, [
      '--update-every',
      '3',
      '--per-shard',
      '30',
      '--limit',
      '2000',
    ]);
    await waitFor(() => acks.ready && acks.added.length > 5);
    const reader = new ShardedDatasetReader(root);
    let lastSize = 0;
    let rounds = 0;
    while (child.exitCode === null && rounds < 400) {
      rounds++;
      const size = reader.size;
      expect(size).toBeGreaterThanOrEqual(lastSize);
      lastSize = size;
      const ids = reader.queryIds();
      expect(ids.length).toBeGreaterThanOrEqual(size);
      // Every id the index lists is fully readable: both fields, from the same write.
      for (const sample of reader.getMany(ids.slice(-40))) {
        const target = ((sample.arrays.target as NdArray).data as Int32Array)[0];
        expect(((sample.arrays.history as NdArray).data as Float32Array).every((v) => v === target)).toBe(
          true,
        );
      }
      for (const id of ids.slice(0, 20)) checkSample(reader, id);
      await sleep(2);
    }
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(rounds).toBeGreaterThan(0);
    for (const id of acks.added) checkSample(reader, id);
    for (const [id, version] of acks.updated)
      expect(reader.getSample(id).metadata.version).toBeGreaterThanOrEqual(version);
    reader.close();
  });

  it('refuses a second writer process with a clear error', () => {
    const root = freshRoot();
    const writer = new ShardedDatasetWriter(root);
    try {
      const result = spawnSync(process.execPath, [LOOP, root, '0', '--limit', '1'], { encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/WriterLockedError: .*another writer holds the dataset/);
    } finally {
      writer.close();
    }
    const result = spawnSync(process.execPath, [LOOP, root, '0', '--limit', '3'], { encoding: 'utf8' });
    expect(result.stdout).toContain('done');
  });

  it('keeps every acknowledged sample with sync: full', async () => {
    const root = freshRoot();
    const { child, acks } = startLoop(root, 0, ['--sync', 'full']);
    await waitFor(() => acks.added.length >= 20);
    child.kill('SIGKILL');
    await exited(child);
    const reader = new ShardedDatasetReader(root);
    for (const id of acks.added) checkSample(reader, id);
    reader.close();
    expect(verifyShards(root).ok).toBe(true);
  });
});

/** A tar member as runlake writes it, or (foreign) as another writer would: owner name empty. */
function member(name: string, values: number[], foreign: boolean): Buffer {
  const npy = encodeNpy(ndarray(Float32Array.from(values), [values.length], { dtype: 'float32' }));
  const header = Buffer.from(memberHeader(name, npy.byteLength, 0));
  if (foreign) {
    header.fill(0, 265, 297);
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  }
  const padding = Buffer.alloc((512 - (npy.byteLength % 512)) % 512);
  return Buffer.concat([header, Buffer.from(npy.header), Buffer.from(npy.data), padding]);
}

function names(file: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    const readAt = (p: number, l: number) => {
      const b = Buffer.alloc(l);
      return b.subarray(0, fs.readSync(fd, b, 0, l, p));
    };
    return [...walkTar(readAt, fs.fstatSync(fd).size, { shard: file })].map((m) => m.name);
  } finally {
    fs.closeSync(fd);
  }
}

describe('reopening after other writers and killed writers', () => {
  it('takes over what another writer appended or created, and removes only its own unacknowledged bytes', () => {
    const root = freshRoot();
    const writer = new ShardedDatasetWriter(root, { samplesPerShard: 100 });
    writer.addFields(['x']);
    writer.addSample({ x: new Float32Array([1, 2]) });
    writer.addSample({ x: new Float32Array([3, 4]) });
    writer.close();
    expect(isRunlakeHeader(member('a.npy', [1], false))).toBe(true);
    expect(isRunlakeHeader(member('a.npy', [1], true))).toBe(false);
    // After the committed end: a foreign member (a writer killed before indexing it, or one that
    // indexes at close), runlake's own unacknowledged member, and a torn header.
    const shard0 = shardPath(root, 'x', 0);
    const end = fs.statSync(shard0).size - 1024;
    const tail = Buffer.concat([
      member('foreign_1.npy', [9], true),
      member('runlake_unacked.npy', [8], false),
      member('torn.npy', [7], true).subarray(0, 300),
    ]);
    fs.truncateSync(shard0, end);
    fs.appendFileSync(shard0, tail);
    // Shards the table does not know: runlake's own uncommitted one, and another writer's.
    const own = shardPath(root, 'x', 5);
    const theirs = shardPath(root, 'x', 6);
    fs.writeFileSync(own, Buffer.concat([member('r.npy', [1], false), Buffer.alloc(1024)]));
    fs.writeFileSync(theirs, Buffer.concat([member('f.npy', [2], true), Buffer.alloc(10240 - 1024)]));
    // And a file named like a shard that is no tar archive at all: not ours to touch.
    const stranger = shardPath(root, 'x', 7);
    fs.writeFileSync(stranger, "not a tar archive, but somebody else's file");
    new ShardedDatasetWriter(root).close();
    expect(names(shard0)).toEqual(['sample_000000000001.npy', 'sample_000000000002.npy', 'foreign_1.npy']);
    const lastEnd = end + member('foreign_1.npy', [9], true).length;
    expect(fs.statSync(shard0).size).toBe(lastEnd + 1024);
    expect(fs.existsSync(own)).toBe(false);
    expect(names(theirs)).toEqual(['f.npy']);
    expect(fs.readFileSync(stranger, 'utf8')).toBe("not a tar archive, but somebody else's file");
    const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
    expect(
      db
        .prepare("SELECT shard, end_offset, members, dead FROM shards WHERE field = 'x' ORDER BY shard")
        .raw()
        .all(),
    ).toEqual([
      [0, lastEnd, 3, 1],
      [6, 1024, 1, 1],
    ]);
    db.close();
    const report = verifyShards(root);
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    const reader = new ShardedDatasetReader(root);
    expect([...(reader.getSample('sample_000000000002').arrays.x?.data ?? [])]).toEqual([3, 4]);
    reader.close();
  });
});

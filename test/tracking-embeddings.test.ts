import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeFrame,
  EMBEDDINGS_FIELD,
  type EmbeddingsRecord,
  embeddingsStore,
  encodeFrame,
  FrameError,
  IngestService,
  type Lake,
  openLake,
  openTrackingLake,
  ShardedDatasetReader,
  ShardRefResolver,
} from '../src/index.js';
import { RUNLAKE_BIN } from './helpers/cli.js';
import { tempDir } from './helpers/lake-fixtures.js';
import { pythonWith, REPO_ROOT, runTrackingClient } from './helpers/python.js';

const python = pythonWith(['numpy']);
const MODULES = ['resid_pre', 'attn_out', 'mlp_out', 'resid_post'];

interface Sent {
  readonly step: number;
  readonly layer: number;
  readonly module: string;
  readonly ids: string[];
  readonly values: string;
}

/** tracking_embeddings.py for one run; resolves with its stdout and what it sent. */
async function logEmbeddings(
  lake: string,
  runId: string,
  steps: number,
  order: 'sorted' | 'reversed',
  runtime: string,
  env: Record<string, string> = {},
): Promise<{ out: string; sent: Sent[] }> {
  const manifest = path.join(runtime, `${runId}.json`);
  const args = [lake, runId, String(steps), order, manifest];
  const out = await runTrackingClient(python.python, 'tracking_embeddings.py', args, runtime, env);
  return { out, sent: JSON.parse(readFileSync(manifest, 'utf8')) as Sent[] };
}

const utf8Order = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * Checks every matrix a run sent against the lake: one `embeddings` row per sample whose
 * `shard_ref`s, in `sample_id` order, are rows 0…n−1 of one array of the store, and that array
 * holds the float32 values sent, bit for bit (rows in `sample_id` order).
 */
async function expectStored(
  lake: Lake,
  lakeDir: string,
  runId: string,
  sent: readonly Sent[],
): Promise<void> {
  const rows = await lake.query(
    `SELECT step, layer, module, sample_id, pooling, dim, vector, shard_ref FROM embeddings WHERE run_id = '${runId}' ORDER BY step, layer, module, sample_id`,
  );
  expect(rows).toHaveLength(sent.length * 12);
  const resolver = new ShardRefResolver(lakeDir);
  try {
    for (const matrix of sent) {
      const mine = rows.filter(
        (r) => r.step === matrix.step && r.layer === matrix.layer && r.module === matrix.module,
      );
      const sortedIds = [...matrix.ids].sort(utf8Order);
      expect(mine.map((r) => r.sample_id)).toEqual(sortedIds);
      const refs = mine.map(
        (r) => r.shard_ref as { store: string; sample_id: string; field: string; row: bigint },
      );
      expect(new Set(refs.map((r) => r.sample_id)).size).toBe(1);
      expect(refs.map((r) => Number(r.row))).toEqual(sortedIds.map((_, i) => i));
      expect(refs[0]).toMatchObject({ store: embeddingsStore('probe_v1'), field: EMBEDDINGS_FIELD });
      expect(mine.every((r) => r.vector === null && r.pooling === 'mean' && r.dim === 6)).toBe(true);
      const array = resolver.array(refs[0] as (typeof refs)[0]);
      expect(array.dtype).toBe('float32');
      expect(array.shape).toEqual([12, 6]);
      const values = new Float32Array(new Uint8Array(Buffer.from(matrix.values, 'base64')).buffer);
      const expected = new Float32Array(12 * 6);
      sortedIds.forEach((id, row) => {
        const from = matrix.ids.indexOf(id);
        expected.set(values.subarray(from * 6, from * 6 + 6), row * 6);
      });
      expect(
        Buffer.from((array.data as Float32Array).buffer, array.data.byteOffset, array.data.byteLength),
      ).toEqual(Buffer.from(expected.buffer));
    }
  } finally {
    resolver.close();
  }
}

/** Waits for a condition the sidecar brings about (a fold after a restart), checked every 100 ms. */
async function eventually(condition: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`${what}: not reached`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(python.skip)('run.log_embeddings through the real sidecar', () => {
  it('two runs log every layer and module at each checkpoint; runlake analyze reads them all', async () => {
    expect(python.available, python.reason).toBe(true);
    const lakeDir = tempDir();
    const runtime = tempDir();
    const steps = 3;
    const [a, b] = await Promise.all([
      logEmbeddings(lakeDir, 'run-a', steps, 'sorted', runtime),
      logEmbeddings(lakeDir, 'run-b', steps, 'reversed', runtime),
    ]);
    for (const result of [a, b])
      expect(result.out.trim().split('\n')).toEqual(['acknowledged', 'acknowledged']);
    const lake = await openLake(lakeDir);
    try {
      await expectStored(lake, lakeDir, 'run-a', a.sent);
      await expectStored(lake, lakeDir, 'run-b', b.sent);
      // One array per logged matrix, in the sample set's store.
      const store = new ShardedDatasetReader(path.join(lakeDir, embeddingsStore('probe_v1')));
      expect(store.size).toBe(2 * steps * 2 * MODULES.length);
      store.close();
      // Every shard_ref resolves to a row of its array with dim values (runlake validate's check).
      const validated = spawnSync(process.execPath, [RUNLAKE_BIN, 'validate', lakeDir], { encoding: 'utf8' });
      expect(validated.status, validated.stdout + validated.stderr).toBe(0);
      const analyzed = spawnSync(
        process.execPath,
        [RUNLAKE_BIN, 'analyze', lakeDir, '--no-progress', '--json'],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      expect(analyzed.status, analyzed.stderr).toBe(0);
      const states = await lake.query(
        `SELECT run_id, module, layer, step, sample_set, sample_id FROM geometry_state ORDER BY ALL`,
      );
      const expected = ['run-a', 'run-b']
        .flatMap((run) =>
          MODULES.flatMap((module) =>
            [0, 1].flatMap((layer) =>
              [0, 50, 100].map((step) => ({
                run_id: run,
                module,
                layer,
                step,
                sample_set: 'probe_v1',
                sample_id: '*',
              })),
            ),
          ),
        )
        .sort((x, y) =>
          x.run_id !== y.run_id
            ? utf8Order(x.run_id, y.run_id)
            : x.module !== y.module
              ? utf8Order(x.module, y.module)
              : x.layer - y.layer || x.step - y.step,
        );
      expect(states).toEqual(expected);
    } finally {
      lake.close();
    }
  }, 180_000);

  it('a server killed between writing the arrays and committing their rows loses and duplicates nothing', async () => {
    const lakeDir = tempDir();
    const runtime = tempDir();
    const marker = path.join(runtime, 'killed');
    const { sent } = await logEmbeddings(lakeDir, 'run-k', 2, 'sorted', runtime, {
      RUNLAKE_INGEST_KILL_AFTER_ARRAYS: marker,
    });
    // The first fold of the embeddings wrote the arrays and then killed its server; the client
    // started the next one, whose recovery folds the segment again.
    expect(existsSync(marker)).toBe(true);
    // On a loaded machine the restart may outlast the client's 3 s of retries: what it spooled
    // then is uploaded here (through the live sidecar, or folded in this process).
    const spool = path.join(runtime, 'spool');
    mkdirSync(spool, { recursive: true });
    const sync = spawnSync(process.execPath, [RUNLAKE_BIN, 'sync', spool, '--to', lakeDir], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(sync.status, sync.stderr).toBe(0);
    await eventually(async () => {
      const lake = await openLake(lakeDir);
      try {
        if (!lake.datasets.has('embeddings')) return false;
        return Number((await lake.query('SELECT count(*) AS n FROM embeddings'))[0]?.n) >= sent.length * 12;
      } finally {
        lake.close();
      }
    }, 'the restarted server folds the embeddings');
    const lake = await openLake(lakeDir);
    try {
      await expectStored(lake, lakeDir, 'run-k', sent);
      const store = new ShardedDatasetReader(path.join(lakeDir, embeddingsStore('probe_v1')));
      expect(store.size).toBe(sent.length);
      store.close();
    } finally {
      lake.close();
    }
  }, 180_000);

  it('an offline run spools its embeddings; runlake sync brings them into the lake', async () => {
    const lakeDir = tempDir();
    const runtime = tempDir();
    const spool = path.join(runtime, 'offline');
    const { out, sent } = await logEmbeddings(`spool:${spool}`, 'run-off', 1, 'reversed', runtime);
    expect(out.trim().split('\n')).toEqual(['spooled', 'spooled']);
    const sync = spawnSync(process.execPath, [RUNLAKE_BIN, 'sync', spool, '--to', lakeDir], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(sync.status, sync.stderr).toBe(0);
    const lake = await openLake(lakeDir);
    try {
      await expectStored(lake, lakeDir, 'run-off', sent);
    } finally {
      lake.close();
    }
  }, 120_000);
});

function record(step: number, layer: number, overrides: Partial<EmbeddingsRecord> = {}): EmbeddingsRecord {
  const values = Float32Array.from({ length: 4 * 3 }, (_, i) => step + layer / 10 + i / 100);
  return {
    kind: 'embeddings',
    runId: 'r1',
    step,
    layer,
    module: 'resid_post',
    sampleSet: 'probe',
    pooling: 'mean',
    sampleIds: ['d', 'b', 'a', 'c'],
    dim: 3,
    values,
    ...overrides,
  };
}

/** The frame with another header (the same data section). */
function withHeader(frame: Uint8Array, header: unknown): Uint8Array {
  const align8 = (n: number) => (n + 7) & ~7;
  const oldLength = new DataView(frame.buffer, frame.byteOffset).getUint32(4, true);
  const data = frame.subarray(align8(8 + oldLength));
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(align8(8 + bytes.byteLength) + data.byteLength);
  out.set(frame.subarray(0, 4), 0);
  new DataView(out.buffer).setUint32(4, bytes.byteLength, true);
  out.set(bytes, 8);
  out.set(data, align8(8 + bytes.byteLength));
  return out;
}

describe('embeddings records in the ingest service', () => {
  it("decode Python's golden frame and encode it back to the same bytes", () => {
    const golden = new Uint8Array(
      readFileSync(path.join(REPO_ROOT, 'python', 'tests', 'golden', 'frame-v1-embeddings.rlb')),
    );
    const batch = decodeFrame(golden);
    expect(batch.records[1]).toEqual({
      kind: 'embeddings',
      runId: 'r1',
      step: 100,
      layer: 3,
      module: 'resid_post',
      sampleSet: 'probe_v1',
      pooling: 'mean',
      sampleIds: ['ünï', 'b'],
      dim: 3,
      values: new Float32Array([0.5, -1.25, 3.0, 1e-3, 2 ** -20, -0]),
    });
    expect(Object.is((batch.records[1] as EmbeddingsRecord).values[5], -0)).toBe(true);
    expect(Buffer.from(encodeFrame(batch))).toEqual(Buffer.from(golden));
  });

  it('round-trip through a frame, and bad ones are refused naming the field', () => {
    const frame = encodeFrame({ client: 'abcdefgh12345678', seq: 1, records: [record(5, 1)] });
    const [decoded] = decodeFrame(frame).records as EmbeddingsRecord[];
    expect(decoded).toEqual(record(5, 1));
    const bad = (changes: Partial<EmbeddingsRecord>, message: RegExp) =>
      expect(() =>
        decodeFrame(encodeFrame({ client: 'abcdefgh12345678', seq: 1, records: [record(5, 1, changes)] })),
      ).toThrow(message);
    bad(
      { values: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, Number.NaN]) },
      /row 3 \(sample "c"\), column 2 is NaN; embeddings must be finite/,
    );
    bad({ sampleIds: ['a', 'b', 'a', 'c'] }, /sample_ids\[2\]: "a" repeats sample_ids\[0\]/);
    // A count that disagrees with the ids (encodeFrame always writes the right one).
    const header = JSON.parse(
      new TextDecoder().decode(frame.subarray(8, 8 + new DataView(frame.buffer).getUint32(4, true))),
    );
    header.records[0].count = 5;
    expect(() => decodeFrame(withHeader(frame, header))).toThrow(
      /sample_ids: expected a JSON list of 5 sample ids/,
    );
    bad({ dim: 4 }, /values: 48 bytes for 4×4 float32 values \(64 bytes\)/);
    bad({ sampleSet: '../up' }, /sample_set: "..\/up" must be 1 to 128 characters/);
    bad({ layer: 40_000 }, /layer: expected an integer from 0 to 32767/);
    bad({ pooling: '' }, /pooling: expected a string of 1 to 256 UTF-8 bytes/);
  });

  it('refuses an unknown module before acknowledging, and a fold repeated after its commit adds nothing', async () => {
    const lakeDir = tempDir();
    const service = await IngestService.open(await openTrackingLake(lakeDir), { foldIntervalMs: 0 });
    const unknownModule = encodeFrame({
      client: 'abcdefgh12345678',
      seq: 1,
      records: [record(0, 0, { module: 'mlp' })],
    });
    await expect(service.accept(unknownModule)).rejects.toBeInstanceOf(FrameError);
    await expect(service.accept(unknownModule)).rejects.toThrow(
      /module: "mlp" is not a module \(resid_pre, attn_out, mlp_out, resid_post, logits\)/,
    );
    await service.accept(
      encodeFrame({
        client: 'abcdefgh12345678',
        seq: 1,
        records: [record(0, 0), record(0, 1), record(10, 0)],
      }),
    );
    // The segment as it stands before the fold: put back after it, as if the server had died
    // between committing the rows and deleting the segment.
    const wal = path.join(lakeDir, '.runlake', 'ingest', 'wal');
    const saved = tempDir();
    const segments = readdirSync(wal);
    for (const name of segments) copyFileSync(path.join(wal, name), path.join(saved, name));
    await service.close();
    const count = async () => {
      const lake = await openLake(lakeDir);
      try {
        const [row] = await lake.query(
          `SELECT count(*)::INTEGER AS n, count(DISTINCT (step, layer, sample_id))::INTEGER AS distinct_rows FROM embeddings`,
        );
        return row;
      } finally {
        lake.close();
      }
    };
    expect(await count()).toEqual({ n: 12, distinct_rows: 12 });
    for (const name of segments) copyFileSync(path.join(saved, name), path.join(wal, name));
    const again = await IngestService.open(await openTrackingLake(lakeDir), { foldIntervalMs: 0 });
    await again.whenRecovered();
    expect(again.status().foldedBatches).toBe(1);
    expect(again.status()).toMatchObject({ segments: 0, lastFoldError: null });
    await again.close();
    expect(await count()).toEqual({ n: 12, distinct_rows: 12 });
    const store = new ShardedDatasetReader(path.join(lakeDir, embeddingsStore('probe')));
    expect(store.size).toBe(3);
    // Rows are stored in sample_id order: a, b, c, d were sent as rows 2, 1, 3, 0.
    const array = store.getSample('abcdefgh12345678-1-0', [EMBEDDINGS_FIELD]).arrays[EMBEDDINGS_FIELD];
    const sent = record(0, 0).values;
    if (!array) throw new Error('the first array is missing');
    expect([...(array.data as Float32Array)]).toEqual(
      [2, 1, 3, 0].flatMap((from) => [...sent.subarray(from * 3, from * 3 + 3)]),
    );
    store.close();
  });
});

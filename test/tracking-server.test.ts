import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createServer,
  decodeFrame,
  encodeFrame,
  FrameError,
  IngestService,
  lakePaths,
  loadSnapshot,
  openLake,
  SequenceGapError,
  sweepRecord,
  type TrackingRecord,
} from '../src/index.js';
import { RUNLAKE_BIN, runlake } from './helpers/cli.js';
import { listFiles, tempDir } from './helpers/lake-fixtures.js';

const CLIENT = 'c0ffee00c0ffee00';

function metrics(runId: string, names: string[], points: [number, number, number][]): TrackingRecord {
  return {
    kind: 'metrics',
    runId,
    names,
    name: Uint32Array.from(points.map((p) => p[0])),
    step: BigInt64Array.from(points.map((p) => BigInt(p[1]))),
    value: Float64Array.from(points.map((p) => p[2])),
    time: Float64Array.from(points.map((_, i) => 1_733_400_000 + i)),
    split: null,
  };
}

function frame(seq: number, records: TrackingRecord[], client = CLIENT): Uint8Array {
  return encodeFrame({ client, seq, records });
}

async function newLake(dir: string) {
  return openLake(dir, { schema: 'squiggle' });
}

describe('tracking frames', () => {
  it('round-trip through encodeFrame and decodeFrame, columns intact', () => {
    const bytes = frame(7, [
      { kind: 'run', runId: 'r1', fields: { project: 'p', config: { lr: 0.1 } } },
      metrics(
        'r1',
        ['train/loss', 'grad.norm'],
        [
          [0, 0, 2.5],
          [1, 0, Number.NaN],
          [0, 1, Number.POSITIVE_INFINITY],
        ],
      ),
    ]);
    expect(bytes.byteLength % 8).toBe(0);
    const batch = decodeFrame(bytes);
    expect(batch).toMatchObject({ client: CLIENT, seq: 7, points: 3 });
    const m = batch.records[1];
    if (m?.kind !== 'metrics') throw new Error('expected metrics');
    expect([...m.name]).toEqual([0, 1, 0]);
    expect([...m.step]).toEqual([0n, 0n, 1n]);
    expect(m.value[1]).toBeNaN();
    expect(m.value[2]).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses broken frames with one line naming the byte or field', () => {
    const good = frame(1, [metrics('r1', ['loss'], [[0, 0, 1]])]);
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 5), /shorter than the 8-byte preamble/],
      [Uint8Array.from([...Buffer.from('XXXX'), ...good.subarray(4)]), /byte 0: expected the magic/],
      [good.subarray(0, 20), /runs past the frame's end/],
      [good.subarray(0, good.byteLength - 8), /past the data's/],
      [frame(0, []), /header.seq: expected an integer ≥ 1/],
      [frame(1, [], 'bad id!'), /header.client/],
      [frame(1, [metrics('r1', ['loss'], [[3, 0, 1]])]), /point 0 names index 3, past the 1 names/],
      [frame(1, [metrics('r1', ['loss'], [[0, -1, 1]])]), /negative step/],
      [frame(1, [{ kind: 'run', runId: 'a/b', fields: {} }]), /run_id: expected 1 to 256 characters/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => decodeFrame(bytes)).toThrow(FrameError);
      expect(() => decodeFrame(bytes)).toThrow(message);
    }
    const header = JSON.stringify({ client: CLIENT, seq: 1, records: [{ kind: 'gauge', run_id: 'r1' }] });
    const unknown = new Uint8Array(8 + header.length);
    unknown.set(Buffer.from('RLB1'));
    new DataView(unknown.buffer).setUint32(4, header.length, true);
    unknown.set(Buffer.from(header), 8);
    expect(() => decodeFrame(unknown)).toThrow(/"gauge" is not a record kind/);
  });
});

describe('IngestService: write-ahead log, deduplication, folding', () => {
  it('folds runs, metrics and checkpoints into the lake; retries are stored once; gaps refused', async () => {
    const dir = tempDir();
    const lake = await newLake(dir);
    const service = await IngestService.open(lake, { foldIntervalMs: 0 });
    try {
      const first = frame(1, [
        {
          kind: 'run',
          runId: 'r1',
          fields: {
            project: 'grok',
            name: 'wd-0.1',
            group: 'sweep',
            tags: ['a'],
            config: { lr: 0.001, model: { d: 128 }, seed: 3 },
            status: 'running',
            started_at: 1_733_400_000,
          },
        },
        metrics(
          'r1',
          ['train/loss', 'val/acc', 'grad.norm'],
          [
            [0, 0, 2.5],
            [1, 0, 0.1],
            [2, 0, 1.5],
            [0, 1, 2.0],
          ],
        ),
      ]);
      expect(await service.accept(first)).toEqual({ client: CLIENT, seq: 1, stored: true });
      expect(await service.accept(first)).toEqual({ client: CLIENT, seq: 1, stored: false });
      await expect(service.accept(frame(3, []))).rejects.toThrow(SequenceGapError);
      await service.accept(
        frame(2, [
          { kind: 'summary', runId: 'r1', values: { best: 0.9, nested: { x: 1 } } },
          { kind: 'config', runId: 'r1', values: { wd: 0.1 } },
          { kind: 'checkpoint', runId: 'r1', rows: [{ step: 1, tokens_seen: 4096, has_weights: true }] },
          { kind: 'finish', runId: 'r1', status: 'finished', finishedAt: 1_733_400_100 },
        ]),
      );
      await expect(
        service.accept(frame(3, [{ kind: 'checkpoint', runId: 'r1', rows: [{ step: 2, epoch: 'one' }] }])),
      ).rejects.toThrow(/records\[0\]\.rows: .*epoch/);
      expect(service.acknowledged(CLIENT)).toBe(2);
      expect(await service.fold()).toBe(2);
      const reader = await newLake(dir);
      const points = await reader.query(
        'SELECT metric_name, step, value, split FROM metrics_scalar ORDER BY metric_name, step',
      );
      expect(points).toEqual([
        { metric_name: 'grad.norm', step: 0, value: 1.5, split: null },
        { metric_name: 'train/loss', step: 0, value: 2.5, split: 'train' },
        { metric_name: 'train/loss', step: 1, value: 2.0, split: 'train' },
        { metric_name: 'val/acc', step: 0, value: 0.1, split: 'val' },
      ]);
      // The file itself is sorted by (metric_name, step) as the schema declares (the names arrive
      // as train/loss, val/acc, grad.norm; the fold sorts on dictionary codes in code-point order).
      const [file] = listFiles(path.join(dir, 'metrics_scalar')).filter((f) => f.endsWith('.parquet'));
      const inFile = await reader.query(
        `SELECT metric_name, step FROM read_parquet('${path.join(dir, 'metrics_scalar', file as string)}')`,
      );
      expect(inFile.map((r) => `${r.metric_name}@${r.step}`)).toEqual([
        'grad.norm@0',
        'train/loss@0',
        'train/loss@1',
        'val/acc@0',
      ]);
      // Each point keeps the time log() was called (the frame's `time`, seconds; here 1733400000 + i).
      expect(
        await reader.query(
          "SELECT epoch_us(wall_time) AS us FROM metrics_scalar WHERE metric_name = 'grad.norm'",
        ),
      ).toEqual([{ us: 1_733_400_002_000_000 }]);
      const [run] = await reader.query('SELECT * FROM runs');
      expect(run).toMatchObject({
        run_id: 'r1',
        run_name: 'wd-0.1',
        project: 'grok',
        run_group: 'sweep',
        status: 'finished',
        seed: 3,
        'config.lr': 0.001,
        'config.model.d': 128,
        'config.wd': 0.1,
        'summary.best': 0.9,
        'summary.nested.x': 1,
      });
      expect(JSON.parse(run?.config_json as string)).toEqual({
        lr: 0.001,
        model: { d: 128 },
        seed: 3,
        wd: 0.1,
      });
      expect(await reader.query('SELECT step, tokens_seen, has_weights FROM checkpoints')).toEqual([
        { step: 1, tokens_seen: 4096, has_weights: true },
      ]);
      reader.close();
      // The ledger survives the fold: a retry after it is still a duplicate.
      expect(await service.accept(first)).toMatchObject({ stored: false });
    } finally {
      await service.close();
      lake.close();
    }
  });

  it('replays the log after a crash, cuts a torn record, and folds a segment twice without duplicates', async () => {
    const dir = tempDir();
    const walDir = path.join(dir, '.runlake', 'ingest', 'wal');
    const lakeA = await newLake(dir);
    const a = await IngestService.open(lakeA, { foldIntervalMs: 0 });
    for (let seq = 1; seq <= 3; seq++) {
      await a.accept(frame(seq, [metrics('r1', ['loss'], [[0, seq, seq / 10]])]));
    }
    // "Crash": the service is abandoned without close(); a half-written record follows.
    const [segment] = readdirSync(walDir);
    appendFileSync(path.join(walDir, segment as string), Buffer.from([200, 0, 0, 0, 1, 2, 3]));
    await a.log.close();
    const lakeB = await newLake(dir);
    const b = await IngestService.open(lakeB, { foldIntervalMs: 0 }); // the same pid takes the lock over
    expect(b.acknowledged(CLIENT)).toBe(3);
    await b.whenRecovered();
    expect(await b.accept(frame(3, [metrics('r1', ['loss'], [[0, 3, 0.3]])]))).toMatchObject({
      stored: false,
    });
    const count = async () => {
      const reader = await newLake(dir);
      const [row] = await reader.query('SELECT count(*)::INTEGER AS n FROM metrics_scalar');
      reader.close();
      return row?.n;
    };
    expect(await count()).toBe(3);

    // A fold that committed but died before deleting its segment: the segment comes back.
    await b.accept(frame(4, [metrics('r1', ['loss'], [[0, 4, 0.4]])]));
    const open = readdirSync(walDir)[0] as string;
    const saved = readFileSync(path.join(walDir, open));
    await b.fold();
    expect(readdirSync(walDir)).toEqual([]);
    writeFileSync(path.join(walDir, open), saved);
    await b.log.close();
    const lakeC = await newLake(dir);
    const c = await IngestService.open(lakeC, { foldIntervalMs: 0 });
    await c.whenRecovered();
    expect(await count()).toBe(4);
    await c.close();

    // Every segment folded and deleted: a new server must not number its first segment 1 again
    // (the folded files are named after the segment, and a name already published is skipped).
    for (let round = 0; round < 2; round++) {
      const again = await newLake(dir);
      const service = await IngestService.open(again, { foldIntervalMs: 0 });
      await service.accept(frame(5 + round, [metrics('r1', ['loss'], [[0, 5 + round, 0.5]])]));
      await service.close();
      again.close();
    }
    expect(await count()).toBe(6);
    for (const l of [lakeA, lakeB, lakeC]) l.close();
  });

  it('a config leaf the lake holds as another type stays in config_json; a segment no fold can write is set aside', async () => {
    const dir = tempDir();
    const lake = await newLake(dir);
    const errors: string[] = [];
    const service = await IngestService.open(lake, {
      foldIntervalMs: 0,
      onFoldError: (e) => errors.push((e as Error).message),
    });
    try {
      await service.accept(frame(1, [{ kind: 'run', runId: 'r1', fields: { config: { lr: 1 } } }]));
      await service.fold();
      await service.accept(
        frame(2, [
          { kind: 'run', runId: 'r2', fields: { config: { lr: 'fast' } } },
          { kind: 'summary', runId: 'r2', values: {} },
        ]),
      );
      await service.fold();
      const reader = await newLake(dir);
      expect(await reader.query('SELECT run_id, "config.lr", config_json FROM runs ORDER BY run_id')).toEqual(
        [
          { run_id: 'r1', 'config.lr': 1, config_json: '{"lr":1}' },
          { run_id: 'r2', 'config.lr': null, config_json: '{"lr":"fast"}' },
        ],
      );
      reader.close();

      // Folding segment 3 fails every time (a write the lake refuses): after three tries it is set
      // aside with its reason, and segment 4 still reaches the lake.
      const write = lake.write.bind(lake);
      let failing = true;
      lake.write = (async (...args: Parameters<typeof write>) => {
        if (failing) throw new Error('refused by the test');
        return write(...args);
      }) as typeof lake.write;
      await service.accept(frame(3, [metrics('r1', ['loss'], [[0, 1, 1]])]));
      for (let attempt = 1; attempt < 3; attempt++)
        await expect(service.fold()).rejects.toThrow(/refused by the test/);
      expect(service.status()).toMatchObject({ pendingBatches: 1, rejectedSegments: 0 });
      expect(await service.fold()).toBe(1);
      failing = false;
      expect(service.status()).toMatchObject({ pendingBatches: 0, rejectedSegments: 1 });
      expect(errors.at(-1)).toMatch(/set aside in .*rejected after 3 failed folds: refused by the test/);
      const rejected = readdirSync(path.join(dir, '.runlake', 'ingest', 'rejected')).sort();
      expect(rejected).toHaveLength(2);
      expect(
        readFileSync(path.join(dir, '.runlake', 'ingest', 'rejected', rejected[1] as string), 'utf8'),
      ).toMatch(/refused by the test/);
      await service.accept(frame(4, [metrics('r1', ['loss'], [[0, 2, 2]])]));
      await service.fold();
      const after = await newLake(dir);
      expect(await after.query('SELECT step FROM metrics_scalar')).toEqual([{ step: 2 }]);
      after.close();
    } finally {
      await service.close();
      lake.close();
    }
  });

  it('a second live service on the same lake is refused, naming the holder', async () => {
    const dir = tempDir();
    const lock = path.join(dir, '.runlake', 'ingest', 'server.lock');
    const lake = await newLake(dir);
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    mkdirSync(path.dirname(lock), { recursive: true });
    try {
      writeFileSync(
        lock,
        JSON.stringify({
          pid: holder.pid,
          host: (await import('node:os')).hostname(),
          address: '/x.sock',
          started: '',
        }),
      );
      await expect(IngestService.open(lake)).rejects.toThrow(/ingests this lake already \(at \/x\.sock\)/);
    } finally {
      holder.kill('SIGKILL');
      lake.close();
    }
    await new Promise((r) => holder.once('exit', r));
    const lakeAgain = await newLake(dir);
    const service = await IngestService.open(lakeAgain); // the holder is dead: taken over
    await service.close();
    lakeAgain.close();
    expect(existsSync(lock)).toBe(false);

    // A killed holder its parent has not reaped (a zombie answers kill(pid, 0)) is dead too.
    const parent = spawn('python3', [
      '-c',
      'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)',
    ]);
    try {
      const zombie = Number(
        await new Promise<string>((resolve) =>
          parent.stdout.once('data', (d: Buffer) => resolve(d.toString())),
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(readFileSync(`/proc/${zombie}/stat`, 'utf8')).toMatch(/\) Z /);
      writeFileSync(
        lock,
        JSON.stringify({ pid: zombie, host: (await import('node:os')).hostname(), address: '', started: '' }),
      );
      const lakeThird = await newLake(dir);
      const third = await IngestService.open(lakeThird);
      await third.close();
      lakeThird.close();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('compacts a run that logs for many folds into one file, every point kept', async () => {
    const dir = tempDir();
    const lake = await newLake(dir);
    const service = await IngestService.open(lake, { foldIntervalMs: 0, compactAfterFiles: 4 });
    try {
      for (let seq = 1; seq <= 10; seq++) {
        await service.accept(frame(seq, [metrics('r1', ['loss'], [[0, seq, seq / 10]])]));
        await service.fold();
      }
      // Each fold writes a part file under its segment's stem; once the segment has left the
      // log, nothing looks for that file by name, so the fold's compaction merges it.
      const files = [...(await loadSnapshot(lakePaths(dir), 'metrics_scalar')).files.keys()];
      expect(files.length).toBeLessThan(4);
      expect(await lake.query('SELECT step, value FROM metrics_scalar ORDER BY step')).toEqual(
        Array.from({ length: 10 }, (_, i) => ({ step: i + 1, value: (i + 1) / 10 })),
      );
    } finally {
      await service.close();
      lake.close();
    }
  });
});

function socketRequest(socketPath: string, method: string, route: string, body?: Uint8Array) {
  return new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
    const request = http.request(
      {
        socketPath,
        method,
        path: route,
        headers: body
          ? { 'Content-Type': 'application/x-runlake-batch', 'Content-Length': body.byteLength }
          : {},
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

describe('runlake serve --ingest', () => {
  it('--socket: the sidecar takes batches on a Unix socket, folds them, and exits once idle', async () => {
    const dir = tempDir();
    const socketPath = path.join(tempDir(), 's.sock');
    const child = spawn(
      process.execPath,
      [RUNLAKE_BIN, 'serve', dir, '--ingest', '--socket', socketPath, '--exit-when-idle', '--idle-exit', '1'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const ok = await socketRequest(
      socketPath,
      'POST',
      '/api/ingest/v1/batches',
      frame(1, [metrics('r9', ['loss'], [[0, 0, 1.25]])]),
    );
    expect(ok).toEqual({ status: 200, json: { client: CLIENT, seq: 1, stored: true } });
    const gap = await socketRequest(socketPath, 'POST', '/api/ingest/v1/batches', frame(5, []));
    expect(gap.status).toBe(409);
    expect(gap.json.error).toMatch(/next batch must be 2/);
    const bad = await socketRequest(socketPath, 'POST', '/api/ingest/v1/batches', Buffer.from('nonsense!'));
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/magic/);
    expect((await socketRequest(socketPath, 'GET', `/api/ingest/v1/clients/${CLIENT}`)).json).toEqual({
      client: CLIENT,
      acknowledged: 1,
    });
    expect((await socketRequest(socketPath, 'POST', '/api/ingest/v1/fold')).json).toEqual({ folded: 1 });
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/no client for 1 s, shutting down/);
    expect(existsSync(socketPath)).toBe(false);
    const reader = await newLake(dir);
    expect(await reader.query('SELECT run_id, value FROM metrics_scalar')).toEqual([
      { run_id: 'r9', value: 1.25 },
    ]);
    expect(await reader.query('SELECT run_id, status FROM runs')).toEqual([
      { run_id: 'r9', status: 'running' },
    ]);
    reader.close();
  });

  it('over TCP: writes need the write token, which does not open reads, and --ingest refuses to run without one', async () => {
    const dir = tempDir();
    const lake = await newLake(dir);
    const service = await IngestService.open(lake, { foldIntervalMs: 0 });
    const server = await createServer(dir, {
      token: 'read-1',
      ingest: { service, writeToken: 'write-1', maxBatchBytes: 4096 },
    });
    try {
      const post = (token: string) =>
        server.app.fetch(
          new Request('http://127.0.0.1/api/ingest/v1/batches', {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/x-runlake-batch' },
            body: frame(1, []),
          }),
        );
      expect((await post('read-1')).status).toBe(401);
      expect((await post('write-1')).status).toBe(200);
      // The read server's cross-site rules hold for writes: a page of another site cannot post.
      const crossSite = await server.app.fetch(
        new Request('http://127.0.0.1/api/ingest/v1/batches', {
          method: 'POST',
          headers: {
            Authorization: 'Bearer write-1',
            'Content-Type': 'application/x-runlake-batch',
            Origin: 'https://evil.example',
          },
          body: frame(2, []),
        }),
      );
      expect(crossSite.status).toBe(403);
      const rebound = await server.app.fetch(
        new Request('http://evil.example/api/ingest/v1/batches', {
          method: 'POST',
          headers: { Authorization: 'Bearer write-1', 'Content-Type': 'application/x-runlake-batch' },
          body: frame(2, []),
        }),
      );
      expect(rebound.status).toBe(403);
      const big = await server.app.fetch(
        new Request('http://127.0.0.1/api/ingest/v1/batches', {
          method: 'POST',
          headers: { Authorization: 'Bearer write-1', 'Content-Type': 'application/x-runlake-batch' },
          body: frame(2, [
            metrics(
              'r1',
              ['loss'],
              Array.from({ length: 200 }, (_, i) => [0, i, i] as [number, number, number]),
            ),
          ]),
        }),
      );
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: string }).error).toMatch(
        /more than the 4096-byte limit \(--max-batch-bytes\)/,
      );
      const read = await server.app.fetch(
        new Request('http://127.0.0.1/api/lake', { headers: { Authorization: 'Bearer write-1' } }),
      );
      expect(read.status).toBe(401);
    } finally {
      await server.close();
      await service.close();
      lake.close();
    }
    const refused = spawn(process.execPath, [RUNLAKE_BIN, 'serve', dir, '--ingest', '--port', '0'], {
      env: { ...process.env, RUNLAKE_WRITE_TOKEN: '' },
    });
    let text = '';
    refused.stderr.on('data', (c: Buffer) => {
      text += c.toString();
    });
    expect(await new Promise((r) => refused.once('exit', r))).not.toBe(0);
    expect(text).toMatch(/--ingest over TCP needs --write-token/);
  });
});

describe('runlake sync', () => {
  function spoolOf(dir: string, client: string, seqs: number[], runId: string) {
    mkdirSync(path.join(dir, client), { recursive: true });
    for (const seq of seqs) {
      writeFileSync(
        path.join(dir, client, `${seq}.rlb`),
        frame(seq, [metrics(runId, ['loss'], [[0, seq, seq]])], client),
      );
    }
  }

  it('uploads every client in order, idempotently, into a lake no server holds and through a live sidecar', async () => {
    const lakeDir = tempDir();
    const spool = tempDir();
    spoolOf(spool, 'clientAAAAAAAAAA', [1, 2, 3], 'ra');
    spoolOf(spool, 'clientBBBBBBBBBB', [1, 2], 'rb');
    const first = runlake('sync', spool, '--to', lakeDir, '--keep');
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/synced 2 client\(s\): 5 batch\(es\) stored, 0 already there/);
    const again = runlake('sync', spool, '--to', lakeDir);
    expect(again.stdout).toMatch(/0 batch\(es\) stored, 5 already there/);
    expect(readdirSync(spool)).toEqual([]);

    // A gap (batch 5 of a client the lake knows up to 3) is named, and the rest still syncs.
    spoolOf(spool, 'clientAAAAAAAAAA', [5], 'ra');
    spoolOf(spool, 'clientCCCCCCCCCC', [1], 'rc');
    const socketPath = path.join(tempDir(), 'sync.sock');
    const sidecar = spawn(process.execPath, [
      RUNLAKE_BIN,
      'serve',
      lakeDir,
      '--ingest',
      '--socket',
      socketPath,
    ]);
    await new Promise<void>((resolve) => sidecar.stdout.once('data', () => resolve()));
    try {
      const third = runlake('sync', spool, '--to', lakeDir);
      expect(third.code).toBe(1);
      expect(third.stderr).toMatch(
        /5\.rlb: client clientAAAAAAAAAA: batch 5 arrived, but the next batch must be 4/,
      );
      expect(third.stdout).toMatch(/1 batch\(es\) stored/);
    } finally {
      sidecar.kill('SIGTERM');
      await new Promise((r) => sidecar.once('exit', r));
    }
    const reader = await newLake(lakeDir);
    expect(
      await reader.query('SELECT run_id, count(*)::INTEGER AS n FROM metrics_scalar GROUP BY ALL ORDER BY 1'),
    ).toEqual([
      { run_id: 'ra', n: 3 },
      { run_id: 'rb', n: 2 },
      { run_id: 'rc', n: 1 },
    ]);
    reader.close();
  });
});

describe('IngestService on a sweep lake: exp_engine events and seeds from Python', () => {
  it('types rows as pandas would, hashes params with their float-ness, and folds each record once', async () => {
    const dir = tempDir();
    const lake = await openLake(dir, { schema: 'sweep' });
    const service = await IngestService.open(lake, { foldIntervalMs: 0 });
    try {
      const params = '{"algo": "memorypair", "accountant": "zcdp", "gamma_bar": 1.0, "seed": 3}';
      const rows = JSON.stringify([
        { seed: 3, event_id: 0, op: 'insert', regret: 0.5, acc: 1, flag: true },
        { seed: 3, event_id: 1, op: 'delete', regret: null, acc: null, flag: false },
      ]).replace('"regret":null', '"regret":NaN');
      const events = sweepRecord('events', rows, params);
      expect(events.table.schema.fields.map((f) => `${f.name}:${f.type}`)).toEqual([
        'seed:Int64',
        'event_id:Int64',
        'op:Utf8',
        'regret:Float64',
        'acc:Float64', // an integer column with a missing value: float64, as pandas makes it
        'flag:Bool',
      ]);
      await service.accept(
        frame(1, [events, sweepRecord('seeds', '[{"seed": 3, "avg_regret": 0.25}]', params)]),
      );
      await expect(service.accept(frame(2, [metrics('r1', ['loss'], [[0, 0, 1]])]))).rejects.toThrow(
        /is a sweep lake; it takes "events" and "seeds" records, not "metrics"/,
      );
      expect(() => sweepRecord('events', '[{"op": "x"}, {"op": 1}]', null)).toThrow(
        /column "op" mixes str and int values/,
      );
      expect(await service.fold()).toBe(1);
      const reader = await openLake(dir);
      const gridIds = await reader.query('SELECT grid_id, gamma_bar FROM grids');
      expect(gridIds).toHaveLength(1);
      expect(
        await reader.query('SELECT event_id, op, regret, cum_regret, acc FROM events ORDER BY event_id'),
      ).toEqual([
        { event_id: 0, op: 'insert', regret: 0.5, cum_regret: 0.5, acc: 1 },
        { event_id: 1, op: 'delete', regret: null, cum_regret: null, acc: null },
      ]);
      expect(await reader.query('SELECT seed, avg_regret FROM seeds')).toEqual([
        { seed: 3, avg_regret: 0.25 },
      ]);
      reader.close();
    } finally {
      await service.close();
      lake.close();
    }
    // The same params hash to the same grid id as the library's attachGridId under the lake's scheme.
    const { attachGridId, pyFloat } = await import('../src/index.js');
    const reader = await openLake(dir);
    const [grid] = await reader.query('SELECT grid_id FROM grids');
    reader.close();
    expect(grid?.grid_id).toBe(
      attachGridId({ algo: 'memorypair', accountant: 'zcdp', gamma_bar: pyFloat(1), seed: 3 }).grid_id,
    );
  });

  it("a record's grid-id scheme is taken by a new lake and refused by a lake with another", async () => {
    const dir = tempDir();
    const lake = await openLake(dir, { schema: 'sweep' });
    const service = await IngestService.open(lake, { foldIntervalMs: 0 });
    try {
      const params = '{"algo": "memorypair", "gamma_bar": 1.0}';
      await service.accept(
        frame(1, [
          sweepRecord('events', '[{"seed": 1, "regret": 0.5}]', params, 'events', 'exp_engine-sha256-12'),
        ]),
      );
      await expect(
        service.accept(
          frame(2, [sweepRecord('events', '[{"seed": 2}]', params, 'events', 'exp_engine-md5-8')]),
        ),
      ).rejects.toThrow(/records\[0\]\.scheme: .*exp_engine-sha256-12/);
      await service.fold();
      const reader = await openLake(dir);
      const [grid] = await reader.query('SELECT grid_id FROM grids');
      reader.close();
      const { gridIdFor, pyFloat } = await import('../src/index.js');
      expect(grid?.grid_id).toBe(
        gridIdFor({ algo: 'memorypair', gamma_bar: pyFloat(1) }, 'exp_engine-sha256-12'),
      );
    } finally {
      await service.close();
      lake.close();
    }
  });

  it('a Squiggle lake refuses sweep records', async () => {
    const dir = tempDir();
    const lake = await newLake(dir);
    const service = await IngestService.open(lake, { foldIntervalMs: 0 });
    try {
      await expect(service.accept(frame(1, [sweepRecord('events', '[{"seed": 1}]', null)]))).rejects.toThrow(
        /is a Squiggle lake; "events" records go to a sweep lake/,
      );
      await service.accept(frame(1, [metrics('r1', ['loss'], [[0, 5, 1]])]));
      expect(await service.runState('r1')).toEqual({ exists: true, lastStep: 5 });
      await service.fold();
      await service.accept(frame(2, [metrics('r1', ['loss'], [[0, 2, 1]])]));
      expect(await service.runState('r1')).toEqual({ exists: true, lastStep: 5 });
      expect(await service.runState('nobody')).toEqual({ exists: false, lastStep: null });
    } finally {
      await service.close();
      lake.close();
    }
  });
});

// The `shards` bench scenario: array shards (tar + .npy + SQLite index) against
//   - a Python implementation of the seed's design (tarfile + numpy + sqlite3, bench/shards_peer.py),
//   - @lancedb/lancedb taking the same rows by offset (bench-only package: npm --prefix bench/peers ci),
//   - a raw positioned read of the same bytes (fs.readSync at the member's data offset),
// on random getSample of one 4 KiB float32 field (p50/p99), a sequential scan of the field against
// raw file reads, and addSample ingest throughput.
//
//   npm run build && node bench/run.mjs --only shards
//   SHARDS_SAMPLES=20000 node bench/run.mjs --only shards     # quick check
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rng } from './data.mjs';
import { diskBytes, fmt, progress, SCENARIOS } from './lib.mjs';

// Registered here so that the one-line hook in run.mjs is enough for `--only shards`.
if (!SCENARIOS.includes('shards')) SCENARIOS.push('shards');

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = path.join(BENCH_DIR, 'out', 'shards');
const PEERS_DIR = path.join(BENCH_DIR, 'peers');
const PEER_SCRIPT = path.join(BENCH_DIR, 'shards_peer.py');
const ELEMENTS = 1024; // 4 KiB of float32
const PER_SHARD = 1000; // the seed's default
const ROUNDS = 3;
const SCAN_ROUNDS = 7;
const LANCE_READS = 20_000;
const TARGETS = { vsPython: 5, vsLance: 10, vsRaw: 2, scan: 0.5 };
const MANY_BATCHES = 200;
const REAL_READS = 20_000;
/** Where the reference package (synthefy-dataset-utils) lives: the directory holding synthefy_dataset_utils/. */
const SYNTHEFY = process.env.RUNLAKE_SYNTHEFY ?? '/work/shared/peers/synthefy';

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
function latencies(nanos) {
  const sorted = Float64Array.from(nanos).sort();
  return { p50: percentile(sorted, 50) / 1000, p99: percentile(sorted, 99) / 1000, count: sorted.length };
}
function medianOf(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function shuffled(n, seed) {
  const random = rng(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

function pool(seed) {
  const random = rng(seed);
  return Array.from({ length: 1000 }, () => Float32Array.from({ length: ELEMENTS }, () => random() * 2 - 1));
}

async function ingestRunlake(root, samples) {
  const { ShardedDatasetWriter } = await import('../dist/index.js');
  fs.rmSync(root, { recursive: true, force: true });
  const arrays = pool(7);
  const writer = new ShardedDatasetWriter(root, { samplesPerShard: PER_SHARD });
  writer.addField('x');
  const start = process.hrtime.bigint();
  for (let n = 0; n < samples; n++) writer.addSample({ x: arrays[n % arrays.length] }, { metadata: { n } });
  writer.close();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { seconds, mbPerSecond: (samples * ELEMENTS * 4) / seconds / 1e6 };
}

function runPythonPeer(payload) {
  return new Promise((resolve) => {
    const python =
      process.env.RUNLAKE_PYTHON ??
      (fs.existsSync(path.join(BENCH_DIR, '..', '.venv', 'bin', 'python'))
        ? path.join(BENCH_DIR, '..', '.venv', 'bin', 'python')
        : 'python3');
    const child = spawn(python, [PEER_SCRIPT, JSON.stringify(payload)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (error) => resolve({ skipped: `${python}: ${error.message}` }));
    child.on('close', (code) => {
      if (code !== 0) resolve({ skipped: `${python} failed: ${stderr.trim().split('\n').at(-1)}` });
      else resolve({ ...JSON.parse(stdout.trim().split('\n').at(-1)), python });
    });
  });
}

/** Random getSample against raw positioned reads of the same bytes, interleaved in rounds. */
async function randomReads(root, samples) {
  const { ShardedDatasetReader, shardPath } = await import('../dist/index.js');
  const Database = (await import('better-sqlite3')).default;
  const ids = Array.from({ length: samples }, (_, n) => `sample_${String(n + 1).padStart(12, '0')}`);
  // The raw peer knows each member's data offset and length (the npy bytes), untimed.
  const db = new Database(path.join(root, 'index.sqlite'), { readonly: true });
  const rows = new Map(
    db
      .prepare('SELECT id, x_shard, x_offset, x_size FROM samples')
      .raw()
      .all()
      .map((r) => [r[0], r]),
  );
  db.close();
  const fds = new Map();
  const fdOf = (shard) => {
    let fd = fds.get(shard);
    if (fd === undefined) {
      fd = fs.openSync(shardPath(root, 'x', shard), 'r');
      fds.set(shard, fd);
    }
    return fd;
  };
  const raw = ids.map((id) => {
    const [, shard, offset, size] = rows.get(id);
    return { fd: fdOf(shard), position: offset + 512, size };
  });
  const reader = new ShardedDatasetReader(root);
  const result = { runlake: [], raw: [] };
  let checksum = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = shuffled(samples, 100 + round);
    // Warm-up (JIT, index preload, page cache) on the first round only.
    if (round === 0) {
      for (const i of order.slice(0, 5000)) {
        reader.getSample(ids[i]);
        const r = raw[i];
        fs.readSync(r.fd, Buffer.allocUnsafeSlow(r.size), 0, r.size, r.position);
      }
    }
    // Separate passes over the same order (so neither reads pages the other just touched), the
    // first pass alternating between rounds.
    const ours = new Float64Array(samples);
    const theirs = new Float64Array(samples);
    const oursPass = () => {
      for (let k = 0; k < samples; k++) {
        const t = process.hrtime.bigint();
        const { arrays } = reader.getSample(ids[order[k]]);
        ours[k] = Number(process.hrtime.bigint() - t);
        checksum += arrays.x.data[0];
      }
    };
    const rawPass = () => {
      for (let k = 0; k < samples; k++) {
        const r = raw[order[k]];
        const t = process.hrtime.bigint();
        const buffer = Buffer.allocUnsafeSlow(r.size);
        fs.readSync(r.fd, buffer, 0, r.size, r.position);
        theirs[k] = Number(process.hrtime.bigint() - t);
        checksum += buffer[200];
      }
    };
    if (round % 2 === 0) {
      oursPass();
      rawPass();
    } else {
      rawPass();
      oursPass();
    }
    result.runlake.push(latencies(ours));
    result.raw.push(latencies(theirs));
  }
  reader.close();
  for (const fd of fds.values()) fs.closeSync(fd);
  const summary = (runs) => ({
    p50: medianOf(runs.map((r) => r.p50)),
    p99: medianOf(runs.map((r) => r.p99)),
    rounds: runs,
  });
  return { runlake: summary(result.runlake), raw: summary(result.raw), checksum };
}

/**
 * getSample, getMany(128) and scanField on one store, the way a training loop uses them: random
 * single reads (p50/p99), random batches of 128 (p50 per batch) and a full pass (MB/s of array
 * data). Also reports how members were located (`readPaths`: fast / careful / by name).
 */
async function storeReads(root, samples, reads) {
  const { ShardedDatasetReader } = await import('../dist/index.js');
  const ids = Array.from({ length: samples }, (_, n) => `sample_${String(n + 1).padStart(12, '0')}`);
  const order = shuffled(samples, 300).map((i) => ids[i]);
  const reader = new ShardedDatasetReader(root);
  let checksum = 0;
  for (const id of order.slice(0, 5000)) checksum += reader.getSample(id).arrays.x.data[0];
  const single = new Float64Array(Math.min(reads, samples));
  for (let k = 0; k < single.length; k++) {
    const t = process.hrtime.bigint();
    const { arrays } = reader.getSample(order[k]);
    single[k] = Number(process.hrtime.bigint() - t);
    checksum += arrays.x.data[0];
  }
  const batches = Math.min(MANY_BATCHES, Math.floor(samples / 128));
  const many = new Float64Array(batches);
  for (let b = 0; b < batches; b++) {
    const batch = order.slice(b * 128, b * 128 + 128);
    const t = process.hrtime.bigint();
    const got = reader.getMany(batch);
    many[b] = Number(process.hrtime.bigint() - t);
    checksum += got[0].arrays.x.data[0];
  }
  const readPaths = reader.readPaths ? { ...reader.readPaths } : undefined;
  reader.close();
  const scans = [];
  for (let round = 0; round < 3; round++) {
    const r = new ShardedDatasetReader(root, { cacheTars: false });
    const t = process.hrtime.bigint();
    for (const { array } of r.scanField('x')) checksum += array.data[0];
    scans.push(Number(process.hrtime.bigint() - t) / 1e9);
    r.close();
  }
  const single50 = latencies(single);
  return {
    p50: single50.p50,
    p99: single50.p99,
    many128P50: latencies(many).p50,
    scanSeconds: medianOf(scans),
    scanMBps: (samples * ELEMENTS * 4) / medianOf(scans) / 1e6,
    readPaths,
    checksum,
  };
}

/** scanField over the whole field against plain sequential reads of the same shard files. */
async function sequentialScan(root) {
  const { ShardedDatasetReader } = await import('../dist/index.js');
  const dir = path.join(root, 'x_shards');
  const files = fs
    .readdirSync(dir)
    .sort()
    .map((f) => path.join(dir, f));
  const fileBytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  const chunk = 8 * 1024 * 1024;
  const rawPass = () => {
    let sum = 0;
    for (const file of files) {
      const fd = fs.openSync(file, 'r');
      for (let position = 0; ; position += chunk) {
        const buffer = Buffer.allocUnsafeSlow(chunk);
        const n = fs.readSync(fd, buffer, 0, chunk, position);
        if (n === 0) break;
        sum += buffer[0];
        if (n < chunk) break;
      }
      fs.closeSync(fd);
    }
    return sum;
  };
  const oursPass = () => {
    const reader = new ShardedDatasetReader(root, { cacheTars: false });
    let sum = 0;
    for (const { array } of reader.scanField('x', { chunkBytes: chunk })) sum += array.data[0];
    reader.close();
    return sum;
  };
  rawPass();
  oursPass();
  const raw = [];
  const ours = [];
  for (let round = 0; round < SCAN_ROUNDS; round++) {
    let t = process.hrtime.bigint();
    rawPass();
    raw.push(Number(process.hrtime.bigint() - t) / 1e9);
    t = process.hrtime.bigint();
    oursPass();
    ours.push(Number(process.hrtime.bigint() - t) / 1e9);
  }
  const rawSeconds = medianOf(raw);
  const oursSeconds = medianOf(ours);
  return {
    fileBytes,
    rawSeconds,
    oursSeconds,
    rawMBps: fileBytes / rawSeconds / 1e6,
    oursMBps: fileBytes / oursSeconds / 1e6,
    ratio: rawSeconds / oursSeconds,
  };
}

/** LanceDB takeOffsets on the same rows, or `{ skipped }` without bench/peers/node_modules. */
async function lancePeer(samples) {
  if (!fs.existsSync(path.join(PEERS_DIR, 'node_modules', '@lancedb', 'lancedb'))) {
    return {
      skipped:
        'bench/peers/node_modules is absent: run `npm --prefix bench/peers ci` to include the LanceDB peer',
    };
  }
  const require = createRequire(path.join(PEERS_DIR, 'package.json'));
  let lancedb;
  let arrow;
  try {
    lancedb = require('@lancedb/lancedb');
    arrow = require('apache-arrow');
  } catch (error) {
    return { skipped: `cannot load @lancedb/lancedb: ${error.message.split('\n')[0]}` };
  }
  const dir = path.join(OUT_DIR, 'lance');
  fs.rmSync(dir, { recursive: true, force: true });
  const db = await lancedb.connect(dir);
  const arrays = pool(7);
  const listType = new arrow.FixedSizeList(ELEMENTS, new arrow.Field('item', new arrow.Float32(), true));
  const batchRows = 10_000;
  let table;
  const start = process.hrtime.bigint();
  for (let first = 0; first < samples; first += batchRows) {
    const n = Math.min(batchRows, samples - first);
    const values = new Float32Array(n * ELEMENTS);
    for (let i = 0; i < n; i++) values.set(arrays[(first + i) % arrays.length], i * ELEMENTS);
    const child = arrow.makeData({ type: new arrow.Float32(), length: values.length, data: values });
    const x = arrow.makeVector(arrow.makeData({ type: listType, length: n, child }));
    const id = arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => `sample_${String(first + i + 1).padStart(12, '0')}`),
      new arrow.Utf8(),
    );
    const data = new arrow.Table({ id, x });
    if (!table) table = await db.createTable('samples', data);
    else await table.add(data);
  }
  const ingestSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const order = shuffled(samples, 200).slice(0, LANCE_READS);
  for (const i of order.slice(0, 1000)) await table.takeOffsets([i]).toArrow();
  const timings = new Float64Array(order.length);
  let checksum = 0;
  for (let k = 0; k < order.length; k++) {
    const t = process.hrtime.bigint();
    const result = await table.takeOffsets([order[k]]).toArrow();
    const values = result.getChild('x').get(0).toArray();
    timings[k] = Number(process.hrtime.bigint() - t);
    checksum += values[0];
  }
  const versionOf = (name) =>
    JSON.parse(fs.readFileSync(path.join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
  const versions = { lancedb: versionOf('@lancedb/lancedb'), apacheArrow: versionOf('apache-arrow') };
  return {
    ...latencies(timings),
    ingestSeconds,
    ingestMBps: (samples * ELEMENTS * 4) / ingestSeconds / 1e6,
    bytes: diskBytes(dir),
    versions,
    checksum,
  };
}

/**
 * Runs the scenario; returns the results object stored under `scenarios.shards`.
 *
 * @example
 * ```js
 * results.scenarios.shards = await shardsScenario(options);
 * ```
 */
export async function shardsScenario() {
  const samples = Number(process.env.SHARDS_SAMPLES ?? 100_000);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const root = path.join(OUT_DIR, 'runlake');
  progress(
    `shards: ${fmt.int(samples)} samples of one ${ELEMENTS * 4}-byte float32 field, ${PER_SHARD} per shard`,
  );
  progress('  a. runlake addSample ingest');
  const ingest = await ingestRunlake(root, samples);
  progress(`    ${fmt.seconds(ingest.seconds)}, ${ingest.mbPerSecond.toFixed(0)} MB/s`);
  // The scan runs first, on a young heap: the random-read phase leaves 100k-entry maps for the
  // collector, whose pauses would land in scan passes (allocating) and not in raw ones.
  progress(`  b. sequential scan vs raw file reads: ${SCAN_ROUNDS} interleaved passes`);
  const scan = await sequentialScan(root);
  progress(`    ${scan.oursMBps.toFixed(0)} MB/s vs raw ${scan.rawMBps.toFixed(0)} MB/s`);
  progress('  c. Python peer (tarfile + numpy + sqlite3): ingest, then random get_sample');
  const pythonRoot = path.join(OUT_DIR, 'python');
  fs.rmSync(pythonRoot, { recursive: true, force: true });
  const python = await runPythonPeer({
    root: pythonRoot,
    samples,
    elements: ELEMENTS,
    samples_per_shard: PER_SHARD,
    reads: samples,
    seed: 7,
  });
  progress(python.skipped ? `    skipped: ${python.skipped}` : `    p50 ${python.p50_us.toFixed(1)} µs`);
  fs.rmSync(pythonRoot, { recursive: true, force: true });
  progress(
    `  d. random getSample vs raw positioned read: ${ROUNDS} interleaved rounds of ${fmt.int(samples)}`,
  );
  const reads = await randomReads(root, samples);
  progress(`    runlake p50 ${reads.runlake.p50.toFixed(1)} µs, raw p50 ${reads.raw.p50.toFixed(1)} µs`);
  progress(`  e. LanceDB takeOffsets (${fmt.int(LANCE_READS)} random reads)`);
  let lance;
  try {
    lance = await lancePeer(samples);
  } catch (error) {
    lance = { skipped: `LanceDB peer failed: ${error.message.split('\n')[0]}` };
  }
  progress(lance.skipped ? `    skipped: ${lance.skipped}` : `    p50 ${lance.p50.toFixed(1)} µs`);
  fs.rmSync(path.join(OUT_DIR, 'lance'), { recursive: true, force: true });
  progress(`  f. runlake getSample / getMany(128) / scanField on its own store`);
  const own = await storeReads(root, samples, REAL_READS);
  progress(
    `    p50 ${own.p50.toFixed(1)} µs, getMany(128) ${own.many128P50.toFixed(0)} µs, scan ${own.scanMBps.toFixed(0)} MB/s`,
  );
  progress(
    '  g. the reference package (synthefy-dataset-utils): add_sample, get_sample, get_many(128), full pass',
  );
  const realRoot = path.join(OUT_DIR, 'real');
  fs.rmSync(realRoot, { recursive: true, force: true });
  const real = fs.existsSync(path.join(SYNTHEFY, 'synthefy_dataset_utils'))
    ? await runPythonPeer({
        mode: 'real',
        synthefy: SYNTHEFY,
        root: realRoot,
        samples,
        elements: ELEMENTS,
        samples_per_shard: PER_SHARD,
        reads: REAL_READS,
        batches: MANY_BATCHES,
        seed: 7,
      })
    : { skipped: `no synthefy_dataset_utils in ${SYNTHEFY} (set RUNLAKE_SYNTHEFY)` };
  progress(
    real.skipped
      ? `    skipped: ${real.skipped}`
      : `    p50 ${real.p50_us.toFixed(1)} µs, get_many(128) ${real.many128_p50_us.toFixed(0)} µs, pass ${real.scan_mbps.toFixed(0)} MB/s`,
  );
  let onReal;
  if (!real.skipped) {
    progress(
      "  h. runlake on the reference writer's store: as written (found by name), then after reindexShards",
    );
    const asWritten = await storeReads(realRoot, samples, REAL_READS);
    const { reindexShards } = await import('../dist/index.js');
    let reindexed;
    let reindexSeconds;
    if (reindexShards) {
      const t = process.hrtime.bigint();
      reindexShards(realRoot);
      reindexSeconds = Number(process.hrtime.bigint() - t) / 1e9;
      reindexed = await storeReads(realRoot, samples, REAL_READS);
    }
    onReal = { asWritten, reindexed, reindexSeconds };
    progress(
      `    as written p50 ${asWritten.p50.toFixed(1)} µs, scan ${asWritten.scanMBps.toFixed(0)} MB/s` +
        (reindexed
          ? `; reindexed (${reindexSeconds.toFixed(2)} s) p50 ${reindexed.p50.toFixed(1)} µs, scan ${reindexed.scanMBps.toFixed(0)} MB/s`
          : ''),
    );
  }
  fs.rmSync(realRoot, { recursive: true, force: true });
  const bytes = diskBytes(root);
  fs.rmSync(root, { recursive: true, force: true });
  const ratio = (theirs, ours) => (theirs === undefined ? undefined : theirs / ours);
  return {
    samples,
    elements: ELEMENTS,
    samplesPerShard: PER_SHARD,
    bytes,
    ingest,
    reads,
    scan,
    python,
    lance,
    own,
    real,
    onReal,
    ratios: {
      p50VsReal: ratio(real.p50_us, own.p50),
      many128VsReal: ratio(real.many128_p50_us, own.many128P50),
      scanVsReal: real.scan_mbps === undefined ? undefined : own.scanMBps / real.scan_mbps,
      realStoreP50OverOwn: onReal ? onReal.asWritten.p50 / own.p50 : undefined,
      realStoreScanOverOwn: onReal ? onReal.asWritten.scanMBps / own.scanMBps : undefined,
      reindexedP50OverOwn: onReal?.reindexed ? onReal.reindexed.p50 / own.p50 : undefined,
      reindexedScanOverOwn: onReal?.reindexed ? onReal.reindexed.scanMBps / own.scanMBps : undefined,
      p50VsPython: ratio(python.p50_us, reads.runlake.p50),
      p99VsPython: ratio(python.p99_us, reads.runlake.p99),
      p50VsLance: ratio(lance.p50, reads.runlake.p50),
      p99VsLance: ratio(lance.p99, reads.runlake.p99),
      p50OverRaw: reads.runlake.p50 / reads.raw.p50,
      p99OverRaw: reads.runlake.p99 / reads.raw.p99,
      scanVsRaw: scan.ratio,
      ingestVsPython:
        python.ingest_seconds === undefined ? undefined : python.ingest_seconds / ingest.seconds,
    },
    targets: TARGETS,
  };
}

/**
 * Prints the scenario's tables.
 *
 * @example
 * ```js
 * printShards(results.scenarios.shards, printTable);
 * ```
 */
export function printShards(s, printTable) {
  const us = (x) => (x === undefined ? '' : `${x.toFixed(1)} µs`);
  const times = (x) => (x === undefined ? '' : `${x.toFixed(1)}x`);
  const met = (ok) => (ok ? 'met' : 'NOT met');
  const r = s.ratios;
  printTable(
    `shards: random getSample of one ${s.elements * 4}-byte float32 field over ${fmt.int(s.samples)} samples (median of ${ROUNDS} rounds)`,
    ['peer', 'p50', 'p99', 'runlake speedup (p50 / p99)', 'notes'],
    [
      [
        'a. runlake getSample',
        us(s.reads.runlake.p50),
        us(s.reads.runlake.p99),
        '',
        'index cached (preload), checksum + npy checks',
      ],
      [
        'b. Python seed design',
        us(s.python.p50_us),
        us(s.python.p99_us),
        s.python.skipped ? '' : `${times(r.p50VsPython)} / ${times(r.p99VsPython)}`,
        s.python.skipped
          ? `skipped: ${s.python.skipped}`
          : `tarfile+numpy+sqlite3; target >= ${TARGETS.vsPython}x: ${met(r.p50VsPython >= TARGETS.vsPython && r.p99VsPython >= TARGETS.vsPython)}`,
      ],
      [
        'c. LanceDB takeOffsets',
        us(s.lance.p50),
        us(s.lance.p99),
        s.lance.skipped ? '' : `${times(r.p50VsLance)} / ${times(r.p99VsLance)}`,
        s.lance.skipped
          ? `skipped: ${s.lance.skipped}`
          : `${fmt.int(s.lance.count)} reads; target >= ${TARGETS.vsLance}x: ${met(r.p50VsLance >= TARGETS.vsLance && r.p99VsLance >= TARGETS.vsLance)}`,
      ],
      [
        'd. raw positioned read',
        us(s.reads.raw.p50),
        us(s.reads.raw.p99),
        `runlake/raw ${r.p50OverRaw.toFixed(2)} / ${r.p99OverRaw.toFixed(2)}`,
        `same npy bytes into a new buffer; target <= ${TARGETS.vsRaw}: ${met(r.p50OverRaw <= TARGETS.vsRaw && r.p99OverRaw <= TARGETS.vsRaw)}`,
      ],
    ],
  );
  if (s.own) {
    const x = (v) => (v === undefined ? '' : `${v.toFixed(1)}x`);
    const paths = (p) => (p ? `fast ${p.fast}, careful ${p.careful}, by name ${p.byName}` : '');
    const rows = [
      [
        'runlake, its own store',
        us(s.own.p50),
        `${s.own.many128P50.toFixed(0)} µs`,
        s.own.scanMBps.toFixed(0),
        paths(s.own.readPaths),
      ],
      [
        'reference package (get_sample, get_many, get_many pass)',
        s.real.skipped ? '' : us(s.real.p50_us),
        s.real.skipped ? '' : `${s.real.many128_p50_us.toFixed(0)} µs`,
        s.real.skipped ? '' : s.real.scan_mbps.toFixed(0),
        s.real.skipped
          ? `skipped: ${s.real.skipped}`
          : `runlake faster: p50 ${x(r.p50VsReal)}, getMany ${x(r.many128VsReal)}, scan ${x(r.scanVsReal)}`,
      ],
    ];
    if (s.onReal) {
      rows.push([
        'runlake on the reference store, as written',
        us(s.onReal.asWritten.p50),
        `${s.onReal.asWritten.many128P50.toFixed(0)} µs`,
        s.onReal.asWritten.scanMBps.toFixed(0),
        paths(s.onReal.asWritten.readPaths),
      ]);
      if (s.onReal.reindexed)
        rows.push([
          `… after reindexShards (${s.onReal.reindexSeconds.toFixed(2)} s)`,
          us(s.onReal.reindexed.p50),
          `${s.onReal.reindexed.many128P50.toFixed(0)} µs`,
          s.onReal.reindexed.scanMBps.toFixed(0),
          paths(s.onReal.reindexed.readPaths),
        ]);
    }
    printTable(
      `shards: runlake vs the reference package synthefy-dataset-utils (${fmt.int(REAL_READS)} random reads, ${MANY_BATCHES} batches, scan MB/s of array data)`,
      ['reader / store', 'getSample p50', 'getMany(128) p50', 'scan MB/s', 'notes'],
      rows,
    );
  }
  printTable(
    'shards: sequential scan and ingest',
    ['measure', 'runlake', 'peer', 'ratio', 'notes'],
    [
      [
        'scan one field (MB/s of shard files)',
        s.scan.oursMBps.toFixed(0),
        `raw read ${s.scan.rawMBps.toFixed(0)}`,
        s.scan.ratio.toFixed(2),
        `median of ${SCAN_ROUNDS} passes; scanField vs 8 MiB reads; target >= ${TARGETS.scan}: ${met(s.scan.ratio >= TARGETS.scan)}`,
      ],
      [
        'addSample ingest (MB/s of array data)',
        s.ingest.mbPerSecond.toFixed(0),
        s.python.skipped
          ? ''
          : `Python ${(s.python.payload_bytes / s.python.ingest_seconds / 1e6).toFixed(0)}`,
        r.ingestVsPython === undefined ? '' : r.ingestVsPython.toFixed(2),
        'runlake commits every sample (crash-safe); the Python seed commits every 10,000',
      ],
      [
        'LanceDB ingest (MB/s, 10k-row batches)',
        '',
        s.lance.skipped ? '' : s.lance.ingestMBps.toFixed(0),
        '',
        s.lance.skipped
          ? ''
          : `lancedb ${s.lance.versions.lancedb}, apache-arrow ${s.lance.versions.apacheArrow}`,
      ],
    ],
  );
}

import { existsSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fsyncPath, writeFileAtomic } from '../../lake/atomic-file.js';
import { quoteLiteral } from '../../lake/column-types.js';
import { RunlakeError } from '../../lake/errors.js';
import { FileSystemError, fileSystemError } from '../../lake/fs-errors.js';
import { recordGridIdSetting, resolveGridIdScheme } from '../../lake/grid-id-setting.js';
import { type Lake, openLake } from '../../lake/lake.js';
import { lakePaths } from '../../lake/layout.js';
import { buildMetricsPyramid } from '../../lake/metrics-pyramid.js';
import { claimLakeSchema, existingLakeSchema } from '../../lake/schema-set.js';
import { writeEventRows, writeSeedRows } from '../../lake/sweep.js';
import { validateTypedRows } from '../../lake/typed-rows.js';
import { WriterLockedError } from '../../shards/errors.js';
import { type PlacedEmbeddings, writeEmbeddingArrays } from './embeddings-fold.js';
import { decodeFrame, FrameError, isSweepRecord, type MetricsRecord, type TrackingBatch } from './frame.js';
import { IngestLock } from './ingest-lock.js';
import { metricTable } from './metric-table.js';
import {
  applyRunRecord,
  newTrackedRun,
  readTrackedRun,
  TRACKING_STEM,
  type TrackedRun,
  trackedRunRow,
} from './tracked-runs.js';
import { segmentPath, WriteAheadLog } from './write-ahead-log.js';

/**
 * A batch whose sequence number skips ahead of the client's last acknowledged one (HTTP 409).
 *
 * @example
 * ```ts
 * if (e instanceof SequenceGapError) console.log(e.expected);
 * ```
 */
export class SequenceGapError extends RunlakeError {
  override readonly name = 'SequenceGapError';
  constructor(
    readonly client: string,
    readonly seq: number,
    readonly expected: number,
  ) {
    super(
      `client ${client}: batch ${seq} arrived, but the next batch must be ${expected} (one was lost; send them in order)`,
    );
  }
}

/**
 * The ingest service is stopping and takes no more batches (HTTP 503; retry).
 *
 * @example
 * ```ts
 * if (e instanceof IngestClosedError) retryLater();
 * ```
 */
export class IngestClosedError extends RunlakeError {
  override readonly name = 'IngestClosedError';
}

/** Options for {@link IngestService.open}. */
export interface IngestServiceOptions {
  /** Fold the log into Parquet this often while it holds batches, in ms (default 1000; 0: only on demand). */
  readonly foldIntervalMs?: number;
  /** Compact a partition once it holds this many small files (default 64). */
  readonly compactAfterFiles?: number;
  /** Where the listener is, recorded in the lock file for clients and operators. */
  readonly address?: string;
  /** Called with a fold that failed (the batches stay in the log and the fold is retried). */
  readonly onFoldError?: (error: unknown) => void;
  /**
   * After folds, bring a Squiggle lake's downsampling pyramid up to date at most this often, in ms
   * (default 30000; 0: never). It is built once the metrics hold enough rows to be worth it
   * (`buildMetricsPyramid`'s `auto`), so a lake written only by tracking clients draws long runs
   * from buckets too.
   */
  readonly pyramidIntervalMs?: number;
  /** Called with a pyramid build that failed (the metrics are folded; the next interval retries). */
  readonly onPyramidError?: (error: unknown) => void;
}

/** What {@link IngestService.accept} did with a batch. */
export interface AcceptResult {
  readonly client: string;
  readonly seq: number;
  /** False for a retry of a batch already stored. */
  readonly stored: boolean;
}

/** The service's state, for `GET /api/ingest/v1/status`. */
export interface IngestStatus {
  readonly version: 1;
  readonly lake: string;
  /** The lake's schema set: `squiggle` (runs, metrics) or `sweep` (events, seeds). */
  readonly schema: string;
  readonly segments: number;
  readonly pendingBatches: number;
  readonly clients: number;
  readonly foldedBatches: number;
  /** Segments set aside in `.runlake/ingest/rejected/` because no fold could write them. */
  readonly rejectedSegments: number;
  readonly lastFoldError: string | null;
}

const INGEST_DIR = path.join('.runlake', 'ingest');
const LEDGER_FILE = 'clients.json';

/** Consecutive failed folds of one segment (not file-system errors) before it is set aside. */
const QUARANTINE_AFTER_FAILURES = 3;

/** The datasets folds append small files to, compacted once a partition holds many. */
const COMPACTED_DATASETS = ['metrics_scalar', 'checkpoints', 'embeddings', 'events', 'seeds'];

/** The stems a fold writes under: `track-<segment>`, and `track-<segment>-<i>` for sweep records. */
const FOLD_STEM = new RegExp(`^${TRACKING_STEM}-(\\d+)(-\\d+)?$`);

/**
 * Test hook (test/tracking-embeddings.test.ts): a path; when set and no file is there yet, the
 * server creates it and SIGKILLs itself after a fold has written a segment's embedding arrays and
 * before it commits their `embeddings` rows (once: the restarted server sees the file).
 */
const KILL_AFTER_ARRAYS = process.env.RUNLAKE_INGEST_KILL_AFTER_ARRAYS ?? '';

/** The datasets tracking writes, by the lake's schema set (the first is the one claimed at open). */
const LAKE_DATASETS: Readonly<Record<string, readonly string[]>> = {
  squiggle: ['runs', 'metrics_scalar', 'checkpoints'],
  sweep: ['events', 'seeds'],
};

/**
 * Opens a lake for tracking writes: as the schema set it records (or has data of), else as
 * `schema` (default `squiggle`; `sweep` for exp_engine's events and seeds).
 *
 * @example
 * ```ts
 * const lake = await openTrackingLake('results', 'sweep');
 * ```
 */
export async function openTrackingLake(dir: string, schema = 'squiggle'): Promise<Lake> {
  return openLake(dir, { schema: (await existingLakeSchema(lakePaths(dir))) ?? schema });
}

/**
 * The write side of tracking (docs/tracking.md): takes batch frames, makes each durable in the
 * write-ahead log before acknowledging it, deduplicates retries by `(client, seq)`, and folds the
 * log into the lake's `runs`, `metrics_scalar` and `checkpoints` through the commit protocol.
 * One service per lake at a time (it holds `.runlake/ingest/server.lock`).
 *
 * @example
 * ```ts
 * const lake = await openLake('results', { schema: 'squiggle' });
 * const service = await IngestService.open(lake);
 * await service.accept(frameBytes); // { client, seq, stored: true }
 * await service.fold(); // visible in queries now
 * await service.close();
 * ```
 */
export class IngestService {
  readonly #acknowledged = new Map<string, number>();
  readonly #inFlight = new Map<string, { seq: number; done: Promise<unknown> }>();
  /** Decoded batches per segment not yet folded, in arrival order. */
  readonly #unfolded = new Map<number, TrackingBatch[]>();
  readonly #runs = new Map<string, TrackedRun>();
  #foldChain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #foldedBatches = 0;
  #recovery: Promise<void> = Promise.resolve();
  #rejectedSegments = 0;
  readonly #foldFailures = new Map<number, number>();
  #lastFoldError: string | null = null;
  /** Folds committed metrics since the pyramid was last brought up to date. */
  #pyramidDue = false;
  #pyramidAt = 0;
  /** The pyramid build under way: folds go on meanwhile, but do not compact. */
  #pyramidBuild: Promise<void> | undefined;

  private constructor(
    readonly lake: Lake,
    readonly directory: string,
    readonly log: WriteAheadLog,
    readonly lock: IngestLock,
    readonly options: IngestServiceOptions,
  ) {}

  /**
   * Takes the lake's ingest lock, recovers the log (a torn last record is cut off), folds every
   * segment left from before, and starts the fold timer.
   */
  static async open(lake: Lake, options: IngestServiceOptions = {}): Promise<IngestService> {
    const datasets = LAKE_DATASETS[lake.schemaSet.name];
    if (!datasets) {
      throw new RunlakeError(
        `${lake.baseOut} is a "${lake.schemaSet.name}" lake; tracking writes go to Squiggle lakes (runs, metrics) or sweep lakes (events, seeds)`,
      );
    }
    // Recorded now, not at the first fold: a reader opening the lake meanwhile must see its kind.
    await claimLakeSchema(lakePaths(lake.baseOut), lake.definition(datasets[0] as string));
    const directory = path.join(lake.baseOut, INGEST_DIR);
    const lock = await IngestLock.acquire(path.join(directory, 'server.lock'), options.address ?? '');
    try {
      const ledger = await readLedger(path.join(directory, LEDGER_FILE));
      const { log, recovered } = await WriteAheadLog.open(path.join(directory, 'wal'), ledger.lastSegment);
      const service = new IngestService(lake, directory, log, lock, options);
      for (const [client, seq] of Object.entries(ledger.clients)) service.#acknowledged.set(client, seq);
      for (const segment of recovered) {
        const batches = segment.frames.map((frame, i) => {
          try {
            return decodeFrame(frame);
          } catch (error) {
            throw new RunlakeError(
              `${log.directory}: segment ${segment.number}, record ${i}: ${(error as Error).message}`,
            );
          }
        });
        for (const batch of batches) {
          if (batch.seq > (service.#acknowledged.get(batch.client) ?? 0))
            service.#acknowledged.set(batch.client, batch.seq);
        }
        service.#unfolded.set(segment.number, batches);
      }
      // Folded in the background: a restarted server takes batches at once (a client whose batch
      // waits on a long recovery spools instead), and the log it recovered is folded meanwhile.
      if (service.#unfolded.size > 0) {
        service.#recovery = service.fold().then(
          () => undefined,
          (error: unknown) => options.onFoldError?.(error),
        );
      }
      const interval = options.foldIntervalMs ?? 1000;
      if (interval > 0) service.#timer = setInterval(() => void service.#tick(), interval);
      service.#timer?.unref();
      return service;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /**
   * Stores one batch frame: decodes and checks it, appends it to the log and waits for the sync.
   * A retry of a stored batch answers `stored: false` without storing it again.
   */
  async accept(frame: Uint8Array): Promise<AcceptResult> {
    if (this.#closed) throw new IngestClosedError('the ingest server is stopping; retry');
    const batch = decodeFrame(frame);
    const { client, seq } = batch;
    const inFlight = this.#inFlight.get(client);
    if (inFlight && inFlight.seq === seq) {
      await inFlight.done;
      return { client, seq, stored: false };
    }
    const acknowledged = this.#acknowledged.get(client) ?? 0;
    if (seq <= acknowledged) return { client, seq, stored: false };
    if (seq !== acknowledged + 1 || inFlight) throw new SequenceGapError(client, seq, acknowledged + 1);
    await this.#check(batch);
    const done = this.log.append(frame.slice());
    this.#inFlight.set(client, { seq, done: done.catch(() => {}) });
    try {
      const segment = await done;
      this.#acknowledged.set(client, seq);
      const list = this.#unfolded.get(segment);
      if (list) list.push(batch);
      else this.#unfolded.set(segment, [batch]);
      return { client, seq, stored: true };
    } finally {
      this.#inFlight.delete(client);
    }
  }

  /**
   * Resolves once the log left by an earlier server (recovered at open) is folded, or its fold
   * failed (reported to `onFoldError`; later folds retry it).
   */
  whenRecovered(): Promise<void> {
    return this.#recovery;
  }

  /** The last sequence number acknowledged for a client (0 for one never seen). */
  acknowledged(client: string): number {
    return this.#acknowledged.get(client) ?? 0;
  }

  /**
   * Folds every batch acknowledged before the call into the lake; resolves once it is committed
   * (visible to a reader that opens the lake afterwards) with the number of batches folded.
   */
  fold(): Promise<number> {
    const run = this.#foldChain.then(async () => {
      await this.log.rotate();
      return this.#foldClosed();
    });
    this.#foldChain = run.catch(() => {});
    return run;
  }

  /**
   * What `resume` needs about a run: whether the lake or the log knows it, and the largest step
   * logged so far (folded or still in the log), or null.
   */
  async runState(runId: string): Promise<{ readonly exists: boolean; readonly lastStep: number | null }> {
    let last: bigint | null = null;
    let exists = false;
    for (const batches of this.#unfolded.values()) {
      for (const batch of batches) {
        for (const record of batch.records) {
          if (isSweepRecord(record) || record.runId !== runId) continue;
          exists = true;
          if (record.kind !== 'metrics') continue;
          for (const step of record.step) if (last === null || step > last) last = step;
        }
      }
    }
    if (this.lake.schemaSet.name === 'squiggle') {
      if (this.#runs.has(runId) || (await readTrackedRun(this.lake, runId))) exists = true;
      if (this.lake.datasets.has('metrics_scalar')) {
        const [row] = await this.lake.query(
          `SELECT max(step) AS last FROM metrics_scalar WHERE run_id = ${quoteLiteral(runId)}`,
        );
        const folded = row?.last;
        if (folded !== null && folded !== undefined) {
          exists = true;
          const value = BigInt(folded as number | bigint);
          if (last === null || value > last) last = value;
        }
      }
    }
    return { exists, lastStep: last === null ? null : Number(last) };
  }

  /** The service's counters. */
  status(): IngestStatus {
    let pending = 0;
    for (const list of this.#unfolded.values()) pending += list.length;
    return {
      version: 1,
      lake: this.lake.baseOut,
      schema: this.lake.schemaSet.name,
      segments: this.#unfolded.size,
      pendingBatches: pending,
      clients: this.#acknowledged.size,
      foldedBatches: this.#foldedBatches,
      rejectedSegments: this.#rejectedSegments,
      lastFoldError: this.#lastFoldError,
    };
  }

  /** Stops taking batches, folds what the log holds, and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.all([...this.#inFlight.values()].map((f) => f.done));
    await this.#pyramidBuild;
    try {
      await this.fold();
    } finally {
      await this.log.close();
      await this.lock.release();
    }
  }

  async #tick(): Promise<void> {
    if (this.log.records > 0 || this.#unfolded.size > 0) {
      try {
        await this.fold();
      } catch (error) {
        this.options.onFoldError?.(error);
      }
    }
    this.#keepPyramid();
  }

  /**
   * Brings the pyramid up to date when folds have written since, at most every
   * `pyramidIntervalMs`. Beside the folds, not in their chain (a rebuild of a large lake takes
   * seconds, and new points stay visible within the fold interval); folds skip compaction
   * meanwhile, so no file the build reads is renamed under it.
   */
  #keepPyramid(): void {
    const interval = this.options.pyramidIntervalMs ?? 30_000;
    if (!this.#pyramidDue || interval <= 0 || this.lake.schemaSet.name !== 'squiggle') return;
    if (this.#pyramidBuild || this.#closed || Date.now() - this.#pyramidAt < interval) return;
    this.#pyramidDue = false;
    this.#pyramidAt = Date.now();
    // After the folds already queued (one may be compacting), not before.
    this.#pyramidBuild = this.#foldChain
      .then(() => buildMetricsPyramid(this.lake.baseOut, { auto: true }))
      .then(
        () => {
          this.#pyramidBuild = undefined;
        },
        (error: unknown) => {
          this.#pyramidBuild = undefined;
          this.#pyramidDue = true;
          this.options.onPyramidError?.(error);
        },
      );
  }

  /** Checks what decoding cannot: values against the lake's schema, before anything is acknowledged. */
  async #check(batch: TrackingBatch): Promise<void> {
    const sweepLake = this.lake.schemaSet.name === 'sweep';
    const splits = sweepLake
      ? undefined
      : this.lake.definition('metrics_scalar').columns?.find((c) => c.name === 'split')?.enum;
    const modules = sweepLake
      ? undefined
      : this.lake.definition('embeddings').partitionBy?.find((c) => c.name === 'module')?.enum;
    for (const [i, record] of batch.records.entries()) {
      const where = `frame: header.records[${i}]`;
      if (isSweepRecord(record) !== sweepLake) {
        throw new FrameError(
          sweepLake
            ? `${where}.kind: ${this.lake.baseOut} is a sweep lake; it takes "events" and "seeds" records, not "${record.kind}"`
            : `${where}.kind: ${this.lake.baseOut} is a Squiggle lake; "${record.kind}" records go to a sweep lake`,
        );
      }
      if (isSweepRecord(record) && record.scheme !== null) {
        // Settled now, not at the fold: a record the fold would refuse must not be acknowledged.
        const paths = lakePaths(this.lake.baseOut);
        let setting: Awaited<ReturnType<typeof resolveGridIdScheme>>;
        try {
          setting = await resolveGridIdScheme(paths, record.scheme);
        } catch (error) {
          throw new FrameError(`${where}.scheme: ${(error as Error).message}`);
        }
        if (setting.source === 'requested') await recordGridIdSetting(paths, setting);
      }
      if (record.kind === 'metrics' && record.split !== null && splits && !splits.has(record.split)) {
        throw new FrameError(
          `${where}.split: "${record.split}" is not a split (${splits.list().join(', ')})`,
        );
      }
      if (record.kind === 'embeddings' && modules && !modules.has(record.module)) {
        throw new FrameError(
          `${where}.module: "${record.module}" is not a module (${modules.list().join(', ')})`,
        );
      }
      if (record.kind === 'checkpoint') {
        try {
          validateTypedRows(
            this.lake.definition('checkpoints'),
            record.rows.map((r) => checkpointRow(record.runId, r)),
            new Map(),
          );
        } catch (error) {
          throw new FrameError(`${where}.rows: ${(error as Error).message}`);
        }
      }
    }
  }

  async #foldClosed(): Promise<number> {
    const open = this.log.segment;
    const segments = [...this.#unfolded.keys()].filter((n) => n !== open).sort((a, b) => a - b);
    let folded = 0;
    try {
      for (const segment of segments) {
        const batches = this.#unfolded.get(segment) ?? [];
        try {
          await this.#foldSegment(segment, batches);
        } catch (error) {
          const failures = (this.#foldFailures.get(segment) ?? 0) + 1;
          this.#foldFailures.set(segment, failures);
          // A full disk or a permission problem is retried for as long as it lasts; anything
          // else that fails the same segment again and again would hold every later batch back.
          // So is an array-shards store another writer holds for a while (a compaction).
          if (
            error instanceof FileSystemError ||
            error instanceof WriterLockedError ||
            failures < QUARANTINE_AFTER_FAILURES
          )
            throw error;
          await this.#quarantine(segment, error);
        }
        // Every acknowledged number, folded or not: the unfolded ones are still in the log's
        // later segments, which a restart reads again.
        await writeFileAtomic(
          this.#ledgerPath(),
          `${JSON.stringify({ format: 1, lastSegment: segment, clients: Object.fromEntries(this.#acknowledged) })}\n`,
        );
        await this.log.remove(segment);
        this.#unfolded.delete(segment);
        this.#foldFailures.delete(segment);
        this.#foldedBatches += batches.length;
        folded += batches.length;
      }
      this.#lastFoldError = null;
    } catch (error) {
      this.#lastFoldError = (error as Error).message;
      throw error;
    }
    if (folded > 0) this.#pyramidDue = true;
    if (folded > 0 && !this.#pyramidBuild) {
      const minFiles = this.options.compactAfterFiles ?? 64;
      for (const dataset of COMPACTED_DATASETS) {
        if (this.lake.datasets.has(dataset)) {
          await this.lake.compact(dataset, { minFiles, mergeStem: (stem) => this.#folded(stem) });
        }
      }
    }
    return folded;
  }

  /**
   * Whether a file stem is a fold's (`track-<segment>`, `track-<segment>-<i>`) whose segment has
   * left the log: no fold will look for its files by name again, so they may be merged.
   */
  #folded(stem: string): boolean {
    const match = FOLD_STEM.exec(stem);
    return match !== null && !this.#unfolded.has(Number(match[1]));
  }

  /**
   * Keeps a segment no fold can write in `.runlake/ingest/rejected/` (its records intact, with
   * the reason beside it) so that the batches after it reach the lake. Nothing acknowledged is
   * dropped: `runlake serve --ingest` prints it, `status()` counts it, docs/tracking.md says how to
   * replay it once the cause is fixed.
   */
  async #quarantine(segment: number, error: unknown): Promise<void> {
    const directory = path.join(this.directory, 'rejected');
    await mkdir(directory, { recursive: true });
    const name = path.basename(segmentPath(this.log.directory, segment));
    await writeFileAtomic(path.join(directory, `${name}.error.txt`), `${(error as Error).message}\n`);
    await copyFile(segmentPath(this.log.directory, segment), path.join(directory, name));
    await fsyncPath(path.join(directory, name));
    await fsyncPath(directory);
    this.#rejectedSegments += 1;
    this.options.onFoldError?.(
      new RunlakeError(
        `segment ${segment} was set aside in ${directory} after ${QUARANTINE_AFTER_FAILURES} failed folds: ${(error as Error).message}`,
      ),
    );
  }

  /**
   * Writes one segment's batches: metrics and checkpoints with the file stem `track-<segment>`
   * (published once: folding the segment again after a crash adds nothing); embedding arrays into
   * their array-shards stores (under ids fixed by the batch, skipped when a store has them), then
   * their `embeddings` rows under the same stem; then the `runs` rows the segment changed.
   */
  async #foldSegment(segment: number, batches: readonly TrackingBatch[]): Promise<void> {
    const stem = `${TRACKING_STEM}-${segment}`;
    const metrics: MetricsRecord[] = [];
    const checkpoints: Record<string, unknown>[] = [];
    const embeddings: PlacedEmbeddings[] = [];
    const changed = new Set<string>();
    let sweepIndex = 0;
    for (const batch of batches) {
      for (const [index, record] of batch.records.entries()) {
        if (isSweepRecord(record)) {
          // One commit per record, under a stem unique in the segment: folding it again adds nothing.
          const write = record.kind === 'events' ? writeEventRows : writeSeedRows;
          await write(record.table, this.lake.baseOut, record.params ?? undefined, {
            ...(record.scheme ? { gridIdScheme: record.scheme } : {}),
            fileStem: `${stem}-${sweepIndex++}`,
          });
          continue;
        }
        if (record.kind === 'metrics') {
          if (record.step.length > 0) metrics.push(record);
        } else if (record.kind === 'checkpoint') {
          for (const row of record.rows) checkpoints.push(checkpointRow(record.runId, row));
        } else if (record.kind === 'embeddings') {
          embeddings.push({ record, arrayId: `${batch.client}-${batch.seq}-${index}` });
        }
        const run = await this.#run(record.runId, changed);
        if (applyRunRecord(run, record)) changed.add(record.runId);
      }
    }
    if (metrics.length > 0) await this.lake.write('metrics_scalar', metricTable(metrics), { fileStem: stem });
    if (checkpoints.length > 0) await this.lake.write('checkpoints', checkpoints, { fileStem: stem });
    if (embeddings.length > 0) {
      // Arrays first (durable when this returns), then the rows that point into them: a crash in
      // between leaves arrays no row names yet, which the fold repeated on restart finds and keeps.
      const rows = await writeEmbeddingArrays(this.lake.baseOut, embeddings);
      if (KILL_AFTER_ARRAYS !== '' && !existsSync(KILL_AFTER_ARRAYS)) {
        writeFileSync(KILL_AFTER_ARRAYS, `${process.pid}\n`);
        process.kill(process.pid, 'SIGKILL');
      }
      await this.lake.write('embeddings', rows, { fileStem: stem });
    }
    for (const runId of changed) {
      const run = this.#runs.get(runId);
      if (!run) continue;
      await this.lake.replace('runs', [trackedRunRow(this.lake, run)], {
        partition: { run_id: runId },
        stem: TRACKING_STEM,
      });
    }
  }

  /** A run's state: cached, else read from the lake, else new (and then written by this fold). */
  async #run(runId: string, changed: Set<string>): Promise<TrackedRun> {
    let run = this.#runs.get(runId);
    if (run) return run;
    run = await readTrackedRun(this.lake, runId);
    if (!run) {
      run = newTrackedRun(runId);
      changed.add(runId);
    }
    this.#runs.set(runId, run);
    return run;
  }

  #ledgerPath(): string {
    return path.join(this.directory, LEDGER_FILE);
  }
}

function checkpointRow(runId: string, row: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { run_id: runId, ...row };
  if (typeof row.wall_time === 'number') out.wall_time = new Date(row.wall_time * 1000);
  return out;
}

/** `clients.json`: every acknowledged sequence number, and the last segment folded. */
interface Ledger {
  readonly lastSegment: number;
  readonly clients: Record<string, number>;
}

async function readLedger(file: string): Promise<Ledger> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { lastSegment: 0, clients: {} };
    if (error instanceof SyntaxError) throw new RunlakeError(`${file}: not JSON (${error.message})`);
    throw fileSystemError(error, file, 'read');
  }
  const ledger = parsed as Partial<Ledger> | null;
  if (
    typeof ledger !== 'object' ||
    ledger === null ||
    typeof ledger.clients !== 'object' ||
    ledger.clients === null ||
    !Number.isSafeInteger(ledger.lastSegment)
  ) {
    throw new RunlakeError(
      `${file}: expected {"format": 1, "lastSegment": n, "clients": {client id: sequence number}}`,
    );
  }
  return { lastSegment: ledger.lastSegment as number, clients: ledger.clients };
}

import type { Table } from 'apache-arrow';
import type { Params } from '../../lake/canonical-params.js';
import { GRID_ID_SCHEMES, type GridIdScheme, isGridIdScheme } from '../../lake/grid-id-scheme.js';
import { parsePythonJson } from '../../lake/python-json.js';
import { FrameError } from './frame-error.js';
import { pythonRowsTable } from './python-rows.js';

export { FrameError } from './frame-error.js';

/** The four bytes every batch frame starts with (docs/tracking.md, "Frames"). */
export const FRAME_MAGIC = 'RLB1';
/** The largest header a frame may carry, in bytes. */
export const MAX_FRAME_HEADER_BYTES = 1 << 20;
/** The most points one batch may carry. */
export const MAX_BATCH_POINTS = 1_000_000;
/** The longest metric name, in UTF-8 bytes. */
export const MAX_METRIC_NAME_BYTES = 256;

const CLIENT_ID = /^[A-Za-z0-9_-]{8,64}$/;
const RUN_ID = /^[^/\\\0]{1,256}$/;

/** Scalar points of one run, as columns. */
export interface MetricsRecord {
  readonly kind: 'metrics';
  readonly runId: string;
  readonly names: readonly string[];
  /** Index into `names` per point. */
  readonly name: Uint32Array;
  readonly step: BigInt64Array;
  readonly value: Float64Array;
  /** Seconds since the Unix epoch, per point. */
  readonly time: Float64Array;
  /** The record's split, or null to derive it from each name. */
  readonly split: string | null;
}

/** Creates a run or updates the fields it gives. */
export interface RunRecord {
  readonly kind: 'run';
  readonly runId: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Merges keys into a run's summary or config. */
export interface MergeRecord {
  readonly kind: 'summary' | 'config';
  readonly runId: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** Rows for a run's `checkpoints`. */
export interface CheckpointRecord {
  readonly kind: 'checkpoint';
  readonly runId: string;
  readonly rows: readonly Readonly<Record<string, unknown>>[];
}

/** Ends a run with a status. */
export interface FinishRecord {
  readonly kind: 'finish';
  readonly runId: string;
  readonly status: string;
  /** Seconds since the Unix epoch, when given. */
  readonly finishedAt: number | null;
}

/** Rows for a sweep lake's `events` or `seeds`, as Python wrote them (docs/tracking.md, "Sweep lakes"). */
export interface SweepRecord {
  readonly kind: 'events' | 'seeds';
  /** The rows' Python JSON text, and the same rows typed as pandas would type them. */
  readonly rowsText: string;
  readonly table: Table;
  /** The params' Python JSON text (null when the rows carry their grid ids), and the parsed params. */
  readonly paramsText: string | null;
  readonly params: Params | null;
  /**
   * The grid-id scheme the client hashed `params` with (its `attach_grid_id`), or null to use the
   * lake's. A lake with no scheme yet takes it; one with another refuses the write.
   */
  readonly scheme: GridIdScheme | null;
}

/**
 * The probe embeddings of one `(step, layer, module)` of a run (docs/tracking.md, "Embeddings"):
 * an n×d float32 matrix, C order, whose row i is the sample `sampleIds[i]`.
 */
export interface EmbeddingsRecord {
  readonly kind: 'embeddings';
  readonly runId: string;
  readonly step: number;
  readonly layer: number;
  readonly module: string;
  readonly sampleSet: string;
  readonly pooling: string;
  /** The n distinct sample ids, one per row. */
  readonly sampleIds: readonly string[];
  /** d, the number of columns. */
  readonly dim: number;
  /** The n·d values, row after row; every one finite. */
  readonly values: Float32Array;
}

/** One record of a batch, applied in order. */
export type TrackingRecord =
  | MetricsRecord
  | RunRecord
  | MergeRecord
  | CheckpointRecord
  | FinishRecord
  | EmbeddingsRecord
  | SweepRecord;

/** A probe-set name: it names an `embeddings` partition and the store `arrays/embeddings/<sample_set>`. */
export const SAMPLE_SET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** The longest sample id (and pooling name) an `embeddings` record may carry, in UTF-8 bytes. */
export const MAX_SAMPLE_ID_BYTES = 256;
/** The largest layer index (the lake's `layer` column is a 16-bit integer). */
export const MAX_LAYER = 32767;

/** The records that name a run (every kind but the sweep ones). */
export type RunScopedRecord = Exclude<TrackingRecord, SweepRecord>;

/**
 * Whether a record is a sweep lake's (`events`/`seeds`) rather than a run's.
 *
 * @example
 * ```ts
 * batch.records.filter(isSweepRecord);
 * ```
 */
export function isSweepRecord(record: TrackingRecord): record is SweepRecord {
  return record.kind === 'events' || record.kind === 'seeds';
}

/**
 * A sweep record from Python JSON texts (what a client puts in a frame), checked and typed as
 * {@link decodeFrame} would.
 *
 * @example
 * ```ts
 * sweepRecord('events', '[{"seed": 1, "regret": 0.5}]', '{"algo": "memorypair", "gamma_bar": 1.0}');
 * ```
 */
export function sweepRecord(
  kind: 'events' | 'seeds',
  rowsText: string,
  paramsText: string | null,
  where: string = kind,
  scheme: GridIdScheme | null = null,
): SweepRecord {
  const table = pythonRowsTable(rowsText, `${where}.rows`);
  let params: Params | null = null;
  if (paramsText !== null) {
    let parsed: unknown;
    try {
      parsed = parsePythonJson(paramsText);
    } catch (error) {
      throw new FrameError(`${where}.params: not Python JSON (${(error as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new FrameError(`${where}.params: expected a dict`);
    }
    params = parsed as Params;
  }
  return { kind, rowsText, table, paramsText, params, scheme };
}

/** A decoded batch: who sent it, its sequence number, and its records. */
export interface TrackingBatch {
  readonly client: string;
  readonly seq: number;
  readonly records: readonly TrackingRecord[];
  /** Points over all metrics records. */
  readonly points: number;
}

/** The fields a `run` record may carry besides `kind` and `run_id`. */
const RUN_FIELDS = new Set(['project', 'name', 'group', 'tags', 'config', 'status', 'started_at', 'notes']);
const CHECKPOINT_FIELDS = new Set([
  'step',
  'tokens_seen',
  'epoch',
  'learning_rate',
  'train_loss',
  'val_loss',
  'has_weights',
  'checkpoint_uri',
  'wall_time',
]);

type Json = Record<string, unknown>;

/**
 * Decodes and checks one batch frame (docs/tracking.md, "Frames"). Column data is viewed in
 * place when it is 8-byte aligned in memory, copied otherwise.
 *
 * @example
 * ```ts
 * const batch = decodeFrame(new Uint8Array(await request.arrayBuffer()));
 * batch.client; // '3f9c0d6a1b2e4c7d8e9f0a1b2c3d4e5f'
 * batch.seq; // 42
 * ```
 */
export function decodeFrame(bytes: Uint8Array): TrackingBatch {
  if (bytes.byteLength < 8)
    throw new FrameError(`frame: ${bytes.byteLength} bytes is shorter than the 8-byte preamble`);
  const magic = String.fromCharCode(bytes[0] ?? 0, bytes[1] ?? 0, bytes[2] ?? 0, bytes[3] ?? 0);
  if (magic !== FRAME_MAGIC) throw new FrameError(`frame: byte 0: expected the magic "${FRAME_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getUint32(4, true);
  if (headerBytes > MAX_FRAME_HEADER_BYTES) {
    throw new FrameError(
      `frame: byte 4: a header of ${headerBytes} bytes is over the ${MAX_FRAME_HEADER_BYTES}-byte limit`,
    );
  }
  if (8 + headerBytes > bytes.byteLength) {
    throw new FrameError(
      `frame: byte 4: the header (${headerBytes} bytes) runs past the frame's end (${bytes.byteLength} bytes)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (error) {
    throw new FrameError(`frame: byte 8: the header is not UTF-8 JSON (${(error as Error).message})`);
  }
  const dataStart = align8(8 + headerBytes);
  const data = bytes.subarray(Math.min(dataStart, bytes.byteLength));
  if (!isObject(header)) throw new FrameError('frame: header: expected a JSON object');
  refuseUnknown(header, new Set(['client', 'seq', 'records']), 'header');
  const client = header.client;
  if (typeof client !== 'string' || !CLIENT_ID.test(client)) {
    throw new FrameError('frame: header.client: expected 8 to 64 characters [A-Za-z0-9_-]');
  }
  const seq = header.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new FrameError('frame: header.seq: expected an integer ≥ 1');
  }
  if (!Array.isArray(header.records)) throw new FrameError('frame: header.records: expected a list');
  const records: TrackingRecord[] = [];
  let points = 0;
  header.records.forEach((raw: unknown, index: number) => {
    const where = `header.records[${index}]`;
    const record = decodeRecord(raw, where, data);
    if (record.kind === 'metrics') {
      points += record.step.length;
      if (points > MAX_BATCH_POINTS)
        throw new FrameError(`frame: ${where}: the batch holds more than ${MAX_BATCH_POINTS} points`);
    }
    records.push(record);
  });
  return { client, seq, records, points };
}

function decodeRecord(raw: unknown, where: string, data: Uint8Array): TrackingRecord {
  if (!isObject(raw)) throw new FrameError(`frame: ${where}: expected a JSON object`);
  if (raw.kind === 'events' || raw.kind === 'seeds') {
    refuseUnknown(raw, new Set(['kind', 'params', 'rows', 'scheme']), where);
    const scheme = raw.scheme ?? null;
    if (scheme !== null && !isGridIdScheme(scheme)) {
      throw new FrameError(
        `frame: ${where}.scheme: ${JSON.stringify(scheme)} is not a grid-id scheme (${GRID_ID_SCHEMES.join(', ')})`,
      );
    }
    const text = (field: string) =>
      new TextDecoder().decode(new Uint8Array(byteRange(raw, field, where, data)));
    const paramsText = raw.params === null || raw.params === undefined ? null : text('params');
    return sweepRecord(raw.kind, text('rows'), paramsText, `frame: ${where}`, scheme);
  }
  const runId = raw.run_id;
  if (typeof runId !== 'string' || !RUN_ID.test(runId)) {
    throw new FrameError(`frame: ${where}.run_id: expected 1 to 256 characters without "/", "\\" or NUL`);
  }
  switch (raw.kind) {
    case 'metrics':
      return decodeMetrics(raw, runId, where, data);
    case 'run': {
      const fields: Json = {};
      for (const [key, value] of Object.entries(raw)) {
        if (key === 'kind' || key === 'run_id') continue;
        if (!RUN_FIELDS.has(key))
          throw new FrameError(`frame: ${where}.${key}: not a field of a "run" record`);
        fields[key] = value;
      }
      if (fields.config !== undefined && fields.config !== null && !isObject(fields.config)) {
        throw new FrameError(`frame: ${where}.config: expected an object`);
      }
      if (fields.tags !== undefined && fields.tags !== null) {
        if (!Array.isArray(fields.tags) || fields.tags.some((t) => typeof t !== 'string')) {
          throw new FrameError(`frame: ${where}.tags: expected a list of strings`);
        }
      }
      for (const key of ['project', 'name', 'group', 'status', 'notes']) {
        const value = fields[key];
        if (value !== undefined && value !== null && typeof value !== 'string') {
          throw new FrameError(`frame: ${where}.${key}: expected a string or null`);
        }
      }
      if (
        fields.started_at !== undefined &&
        fields.started_at !== null &&
        !isFiniteNumber(fields.started_at)
      ) {
        throw new FrameError(`frame: ${where}.started_at: expected seconds since the Unix epoch`);
      }
      return { kind: 'run', runId, fields };
    }
    case 'summary':
    case 'config': {
      refuseUnknown(raw, new Set(['kind', 'run_id', raw.kind]), where);
      const values = raw[raw.kind];
      if (!isObject(values)) throw new FrameError(`frame: ${where}.${raw.kind}: expected an object`);
      return { kind: raw.kind, runId, values };
    }
    case 'checkpoint': {
      refuseUnknown(raw, new Set(['kind', 'run_id', 'rows']), where);
      if (!Array.isArray(raw.rows)) throw new FrameError(`frame: ${where}.rows: expected a list`);
      raw.rows.forEach((row: unknown, i: number) => {
        if (!isObject(row)) throw new FrameError(`frame: ${where}.rows[${i}]: expected an object`);
        refuseUnknown(row, CHECKPOINT_FIELDS, `${where}.rows[${i}]`);
        if (typeof row.step !== 'number' || !Number.isSafeInteger(row.step) || row.step < 0) {
          throw new FrameError(`frame: ${where}.rows[${i}].step: expected an integer ≥ 0`);
        }
      });
      return { kind: 'checkpoint', runId, rows: raw.rows as Json[] };
    }
    case 'embeddings':
      return decodeEmbeddings(raw, runId, where, data);
    case 'finish': {
      refuseUnknown(raw, new Set(['kind', 'run_id', 'status', 'finished_at']), where);
      if (typeof raw.status !== 'string' || raw.status === '') {
        throw new FrameError(`frame: ${where}.status: expected a non-empty string`);
      }
      const at = raw.finished_at;
      if (at !== undefined && at !== null && !isFiniteNumber(at)) {
        throw new FrameError(`frame: ${where}.finished_at: expected seconds since the Unix epoch`);
      }
      return { kind: 'finish', runId, status: raw.status, finishedAt: typeof at === 'number' ? at : null };
    }
    default:
      throw new FrameError(
        `frame: ${where}.kind: ${JSON.stringify(raw.kind)} is not a record kind (run, metrics, summary, config, checkpoint, embeddings, finish, events, seeds)`,
      );
  }
}

const METRICS_FIELDS = new Set([
  'kind',
  'run_id',
  'names',
  'count',
  'name',
  'step',
  'value',
  'time',
  'split',
]);

function decodeMetrics(raw: Json, runId: string, where: string, data: Uint8Array): MetricsRecord {
  refuseUnknown(raw, METRICS_FIELDS, where);
  const count = raw.count;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0 || count > MAX_BATCH_POINTS) {
    throw new FrameError(`frame: ${where}.count: expected an integer from 0 to ${MAX_BATCH_POINTS}`);
  }
  if (!Array.isArray(raw.names)) throw new FrameError(`frame: ${where}.names: expected a list of strings`);
  const names = raw.names as unknown[];
  const encoder = new TextEncoder();
  names.forEach((name, i) => {
    if (typeof name !== 'string' || name === '' || encoder.encode(name).length > MAX_METRIC_NAME_BYTES) {
      throw new FrameError(
        `frame: ${where}.names[${i}]: expected a name of 1 to ${MAX_METRIC_NAME_BYTES} UTF-8 bytes`,
      );
    }
  });
  const split = raw.split ?? null;
  if (split !== null && typeof split !== 'string')
    throw new FrameError(`frame: ${where}.split: expected a string or null`);
  const name = new Uint32Array(column(raw, 'name', count, 4, where, data));
  const step = new BigInt64Array(column(raw, 'step', count, 8, where, data));
  const value = new Float64Array(column(raw, 'value', count, 8, where, data));
  const time = new Float64Array(column(raw, 'time', count, 8, where, data));
  for (let i = 0; i < count; i++) {
    if ((name[i] as number) >= names.length) {
      throw new FrameError(
        `frame: ${where}.name: point ${i} names index ${name[i]}, past the ${names.length} names`,
      );
    }
    if ((step[i] as bigint) < 0n)
      throw new FrameError(`frame: ${where}.step: point ${i} has the negative step ${step[i]}`);
  }
  return { kind: 'metrics', runId, names: names as string[], name, step, value, time, split };
}

const EMBEDDINGS_FIELDS = new Set([
  'kind',
  'run_id',
  'step',
  'layer',
  'module',
  'sample_set',
  'pooling',
  'count',
  'dim',
  'sample_ids',
  'values',
]);

function decodeEmbeddings(raw: Json, runId: string, where: string, data: Uint8Array): EmbeddingsRecord {
  refuseUnknown(raw, EMBEDDINGS_FIELDS, where);
  const integer = (field: string, min: number, max: number): number => {
    const value = raw[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new FrameError(`frame: ${where}.${field}: expected an integer from ${min} to ${max}`);
    }
    return value;
  };
  const step = integer('step', 0, Number.MAX_SAFE_INTEGER);
  const layer = integer('layer', 0, MAX_LAYER);
  const count = integer('count', 1, Number.MAX_SAFE_INTEGER);
  const dim = integer('dim', 1, Number.MAX_SAFE_INTEGER);
  const encoder = new TextEncoder();
  const text = (field: string): string => {
    const value = raw[field];
    if (typeof value !== 'string' || value === '' || encoder.encode(value).length > MAX_SAMPLE_ID_BYTES) {
      throw new FrameError(
        `frame: ${where}.${field}: expected a string of 1 to ${MAX_SAMPLE_ID_BYTES} UTF-8 bytes`,
      );
    }
    return value;
  };
  const module = text('module');
  const pooling = text('pooling');
  const sampleSet = text('sample_set');
  if (!SAMPLE_SET_NAME.test(sampleSet)) {
    throw new FrameError(
      `frame: ${where}.sample_set: ${JSON.stringify(sampleSet)} must be 1 to 128 characters [A-Za-z0-9._-], starting with a letter or digit`,
    );
  }
  let ids: unknown;
  try {
    ids = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(byteRange(raw, 'sample_ids', where, data)),
    );
  } catch (error) {
    if (error instanceof FrameError) throw error;
    throw new FrameError(`frame: ${where}.sample_ids: not UTF-8 JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(ids) || ids.length !== count) {
    throw new FrameError(
      `frame: ${where}.sample_ids: expected a JSON list of ${count} sample ids (one per row)`,
    );
  }
  const seen = new Map<string, number>();
  ids.forEach((id: unknown, i: number) => {
    if (typeof id !== 'string' || id === '' || encoder.encode(id).length > MAX_SAMPLE_ID_BYTES) {
      throw new FrameError(
        `frame: ${where}.sample_ids[${i}]: expected a sample id of 1 to ${MAX_SAMPLE_ID_BYTES} UTF-8 bytes`,
      );
    }
    const first = seen.get(id);
    if (first !== undefined) {
      throw new FrameError(
        `frame: ${where}.sample_ids[${i}]: ${JSON.stringify(id)} repeats sample_ids[${first}]`,
      );
    }
    seen.set(id, i);
  });
  const bytes = byteRange(raw, 'values', where, data);
  if (bytes.byteLength !== count * dim * 4) {
    throw new FrameError(
      `frame: ${where}.values: ${bytes.byteLength} bytes for ${count}×${dim} float32 values (${count * dim * 4} bytes)`,
    );
  }
  const values = new Float32Array(bytes);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i] as number)) {
      throw new FrameError(
        `frame: ${where}.values: row ${Math.floor(i / dim)} (sample ${JSON.stringify(ids[Math.floor(i / dim)])}), column ${i % dim} is ${values[i]}; embeddings must be finite`,
      );
    }
  }
  return {
    kind: 'embeddings',
    runId,
    step,
    layer,
    module,
    sampleSet,
    pooling,
    sampleIds: ids as string[],
    dim,
    values,
  };
}

/** A `[start, end)` byte range of the data section, checked, copied out. */
function byteRange(raw: Json, field: string, where: string, data: Uint8Array): ArrayBuffer {
  const range = raw[field];
  if (
    !Array.isArray(range) ||
    range.length !== 2 ||
    !range.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) ||
    (range[1] as number) < (range[0] as number)
  ) {
    throw new FrameError(`frame: ${where}.${field}: expected a [start, end) byte range`);
  }
  const [start, end] = range as [number, number];
  if (start % 8 !== 0)
    throw new FrameError(`frame: ${where}.${field}: the start ${start} is not a multiple of 8`);
  if (end > data.byteLength) {
    throw new FrameError(
      `frame: ${where}.${field}: the range ends at ${end}, past the data's ${data.byteLength} bytes`,
    );
  }
  // A copy (`Buffer#slice` would be a view): the frame's memory may be pooled by Node, and the
  // columns outlive the request.
  return new Uint8Array(data.subarray(start, end)).buffer;
}

/** A column's bytes, `count` values of `width` bytes (an 8-aligned copy). */
function column(
  raw: Json,
  field: string,
  count: number,
  width: number,
  where: string,
  data: Uint8Array,
): ArrayBuffer {
  const bytes = byteRange(raw, field, where, data);
  if (bytes.byteLength !== count * width) {
    throw new FrameError(
      `frame: ${where}.${field}: ${bytes.byteLength} bytes for ${count} points of ${width} bytes`,
    );
  }
  return bytes;
}

function refuseUnknown(object: Json, known: ReadonlySet<unknown>, where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) throw new FrameError(`frame: ${where}.${key}: unknown field`);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Encodes a batch as a frame: the inverse of {@link decodeFrame}, for clients written in
 * TypeScript, `runlake sync` and tests.
 *
 * @example
 * ```ts
 * const bytes = encodeFrame({ client: 'abcdef0123456789', seq: 1, records: [{ kind: 'finish', runId: 'r1', status: 'finished', finishedAt: null }] });
 * ```
 */
export function encodeFrame(batch: Omit<TrackingBatch, 'points'>): Uint8Array {
  const chunks: Uint8Array[] = [];
  let dataBytes = 0;
  const place = (array: ArrayBufferView): [number, number] => {
    const start = dataBytes;
    const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    chunks.push(bytes);
    dataBytes += bytes.byteLength;
    const pad = align8(dataBytes) - dataBytes;
    if (pad > 0) {
      chunks.push(new Uint8Array(pad));
      dataBytes += pad;
    }
    return [start, start + bytes.byteLength];
  };
  const recordJson = (record: TrackingRecord): Json => {
    if (record.kind === 'metrics') {
      return {
        kind: 'metrics',
        run_id: record.runId,
        names: record.names,
        count: record.step.length,
        name: place(record.name),
        step: place(record.step),
        value: place(record.value),
        time: place(record.time),
        split: record.split,
      };
    }
    if (record.kind === 'run') return { kind: 'run', run_id: record.runId, ...record.fields };
    if (record.kind === 'checkpoint') return { kind: 'checkpoint', run_id: record.runId, rows: record.rows };
    if (isSweepRecord(record)) {
      const encoder = new TextEncoder();
      return {
        kind: record.kind,
        params: record.paramsText === null ? null : place(encoder.encode(record.paramsText)),
        rows: place(encoder.encode(record.rowsText)),
        ...(record.scheme ? { scheme: record.scheme } : {}),
      };
    }
    if (record.kind === 'finish') {
      return { kind: 'finish', run_id: record.runId, status: record.status, finished_at: record.finishedAt };
    }
    if (record.kind === 'embeddings') {
      return {
        kind: 'embeddings',
        run_id: record.runId,
        step: record.step,
        layer: record.layer,
        module: record.module,
        sample_set: record.sampleSet,
        pooling: record.pooling,
        count: record.sampleIds.length,
        dim: record.dim,
        sample_ids: place(new TextEncoder().encode(JSON.stringify(record.sampleIds))),
        values: place(record.values),
      };
    }
    return { kind: record.kind, run_id: record.runId, [record.kind]: record.values };
  };
  const records = batch.records.map(recordJson);
  const header = new TextEncoder().encode(JSON.stringify({ client: batch.client, seq: batch.seq, records }));
  const dataStart = align8(8 + header.byteLength);
  const out = new Uint8Array(dataStart + dataBytes);
  out.set(new TextEncoder().encode(FRAME_MAGIC), 0);
  new DataView(out.buffer).setUint32(4, header.byteLength, true);
  out.set(header, 8);
  let at = dataStart;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * Folding `embeddings` records (docs/tracking.md, "Embeddings"): each record's matrix becomes one
 * sample of the lake's array-shards store `arrays/embeddings/<sample_set>`, and its n rows become
 * `embeddings` rows whose `shard_ref`s are rows 0…n−1 of that array, so `analyzeLake` reads the
 * matrix with no per-row copy.
 */
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Row } from '../../lake/index.js';
import { DuplicateSampleError, type SampleInput, ShardedDatasetWriter } from '../../shards/index.js';
import type { EmbeddingsRecord } from './frame.js';

/** The directory (relative to the lake) under which each sample set has its array-shards store. */
export const EMBEDDINGS_STORE_DIR = 'arrays/embeddings';
/** The store's one field: every record's matrix is its `embedding` array. */
export const EMBEDDINGS_FIELD = 'embedding';
/** Members per tar shard of an embeddings store. */
const SAMPLES_PER_SHARD = 256;
/** Bytes of arrays written per store commit (a segment's records are written in pieces this large). */
const COMMIT_BYTES = 32 << 20;

/**
 * The array-shards store of a sample set, relative to the lake.
 *
 * @example
 * ```ts
 * embeddingsStore('probe_v1'); // 'arrays/embeddings/probe_v1'
 * ```
 */
export function embeddingsStore(sampleSet: string): string {
  return `${EMBEDDINGS_STORE_DIR}/${sampleSet}`;
}

/** An `embeddings` record of a batch with the store sample id it is written under. */
export interface PlacedEmbeddings {
  readonly record: EmbeddingsRecord;
  /**
   * `<client>-<seq>-<record index>`: the same on every fold of the batch, and never another
   * batch's (the client id is 128 random bits), so a fold repeated after a crash finds the array
   * it already wrote.
   */
  readonly arrayId: string;
}

/**
 * The record's rows in `sample_id` order (UTF-8 byte order, as DuckDB sorts), which is the order
 * `analyzeLake` reads a checkpoint's rows in: the stored array's row i is the i-th id of
 * `ids`, so the refs are rows 0…n−1 in that order.
 */
function sortedRows(record: EmbeddingsRecord): { ids: string[]; values: Float32Array } {
  const { sampleIds, dim, values } = record;
  const keys = sampleIds.map((id) => Buffer.from(id, 'utf8'));
  const order = sampleIds
    .map((_, i) => i)
    .sort((a, b) => Buffer.compare(keys[a] as Buffer, keys[b] as Buffer));
  if (order.every((from, to) => from === to)) return { ids: [...sampleIds], values };
  const sorted = new Float32Array(values.length);
  order.forEach((from, to) => {
    sorted.set(values.subarray(from * dim, (from + 1) * dim), to * dim);
  });
  return { ids: order.map((i) => sampleIds[i] as string), values: sorted };
}

/**
 * Writes the records' matrices into their stores, one commit per 32 MiB (yielding to the event
 * loop between commits) and skipping any array id a store already holds (a fold repeated after a
 * crash), and returns the `embeddings` rows pointing into them. Each
 * store is closed before this returns, which fdatasyncs its shards and checkpoints its index: the
 * arrays are durable before the caller commits the rows and drops the write-ahead log segment.
 *
 * @example
 * ```ts
 * const rows = await writeEmbeddingArrays(lake.baseOut, [{ record, arrayId: 'abc-1-0' }]);
 * await lake.write('embeddings', rows, { fileStem: 'track-7' });
 * ```
 */
export async function writeEmbeddingArrays(
  lakeDir: string,
  placed: readonly PlacedEmbeddings[],
): Promise<Row[]> {
  const rows: Row[] = [];
  const byStore = new Map<string, PlacedEmbeddings[]>();
  for (const item of placed) {
    const store = embeddingsStore(item.record.sampleSet);
    const list = byStore.get(store);
    if (list) list.push(item);
    else byStore.set(store, [item]);
  }
  for (const [store, items] of byStore) {
    const writer = new ShardedDatasetWriter(path.join(lakeDir, store), {
      samplesPerShard: SAMPLES_PER_SHARD,
      strict: true,
    });
    try {
      if (!writer.listFields().includes(EMBEDDINGS_FIELD)) writer.addField(EMBEDDINGS_FIELD);
      let pending: SampleInput[] = [];
      let bytes = 0;
      const flush = async () => {
        if (pending.length > 0) addOnce(writer, pending);
        pending = [];
        bytes = 0;
        // The store's writes are synchronous: between commits the server answers batches.
        await nextTurn();
      };
      for (const { record, arrayId } of items) {
        const { ids, values } = sortedRows(record);
        const n = ids.length;
        pending.push({
          sampleId: arrayId,
          arrays: { [EMBEDDINGS_FIELD]: { data: values, shape: [n, record.dim], dtype: 'float32' } },
          metadata: {
            run_id: record.runId,
            sample_set: record.sampleSet,
            module: record.module,
            step: record.step,
            layer: record.layer,
            pooling: record.pooling,
            rows: n,
            dim: record.dim,
          },
        });
        bytes += values.byteLength;
        if (bytes >= COMMIT_BYTES) await flush();
        ids.forEach((sampleId, row) => {
          rows.push({
            run_id: record.runId,
            sample_set: record.sampleSet,
            module: record.module,
            step: record.step,
            layer: record.layer,
            sample_id: sampleId,
            pooling: record.pooling,
            dim: record.dim,
            shard_ref: { store, sample_id: arrayId, field: EMBEDDINGS_FIELD, row },
          });
        });
      }
      await flush();
    } finally {
      writer.close();
    }
  }
  return rows;
}

/**
 * Adds samples in one commit; when the store already holds one of them (this fold ran before and
 * was cut short), adds them one by one and keeps the arrays already there: they were written from
 * the same record.
 */
function addOnce(writer: ShardedDatasetWriter, samples: readonly SampleInput[]): void {
  try {
    writer.addSamples(samples);
    return;
  } catch (error) {
    if (!(error instanceof DuplicateSampleError)) throw error;
  }
  for (const sample of samples) {
    try {
      writer.addSample(sample.arrays, sample);
    } catch (error) {
      if (!(error instanceof DuplicateSampleError)) throw error;
    }
  }
}

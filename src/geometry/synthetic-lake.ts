/**
 * Writes the probe embeddings of a {@link SyntheticSweep} into a Squiggle lake, the input of
 * `analyzeLake`: per module either inline `vector`s or one float32 array per (run, step, layer)
 * in an array-shards store with `shard_ref` rows.
 */
import path from 'node:path';
import { type Lake, type Row, RunlakeError } from '../lake/index.js';
import { ShardedDatasetWriter } from '../shards/index.js';
import type { SyntheticSweep } from './synthetic-runs.js';

/** Options for {@link writeSyntheticEmbeddings}. */
export interface SyntheticEmbeddingOptions {
  /** Probe-set name (default `fixed_v1`). */
  readonly sampleSet?: string;
  /** Modules whose matrices go to the array-shards store (default: all); the rest are inline. */
  readonly shardModules?: readonly string[];
  /** Array-shards store, relative to the lake (default `arrays/probe`); must not exist yet. */
  readonly store?: string;
  /** Only these checkpoints (default: all of the sweep's). */
  readonly steps?: readonly number[];
}

/**
 * Writes the sweep's probe matrices as `embeddings` rows (sample ids `s0000`, `s0001`, …) and
 * returns how many rows it wrote.
 *
 * @example
 * ```ts
 * const sweep = syntheticRuns({ seeds: 3, layers: 2 });
 * await writeSyntheticEmbeddings(lake, sweep, { shardModules: ['resid_post'] });
 * await analyzeLake(lake);
 * ```
 */
export async function writeSyntheticEmbeddings(
  lake: Lake,
  sweep: SyntheticSweep,
  options: SyntheticEmbeddingOptions = {},
): Promise<number> {
  const sampleSet = options.sampleSet ?? 'fixed_v1';
  const sharded = new Set(options.shardModules ?? sweep.modules);
  const store = options.store ?? 'arrays/probe';
  const steps = options.steps ?? sweep.steps;
  const unknown = steps.filter((s) => !sweep.steps.includes(s));
  if (unknown.length > 0) throw new RunlakeError(`the sweep has no checkpoint at step ${unknown.join(', ')}`);
  const sampleId = (i: number) => `s${String(i).padStart(4, '0')}`;
  const key = (runId: string, step: number, layer: number, module: string) => ({
    run_id: runId,
    sample_set: sampleSet,
    module,
    step,
    layer,
    pooling: 'mean',
    dim: sweep.dim,
  });
  let written = 0;
  const shardModules = sweep.modules.filter((m) => sharded.has(m));
  if (shardModules.length > 0) {
    const rows: Row[] = [];
    const writer = new ShardedDatasetWriter(path.join(lake.baseOut, store), { samplesPerShard: 64 });
    try {
      writer.addFields(shardModules);
      for (const run of sweep.runs) {
        for (const step of steps) {
          for (let layer = 0; layer < sweep.layers; layer++) {
            for (const module of shardModules) {
              const stored = writer.addSample(
                {
                  [module]: {
                    data: sweep.matrix(run.runId, step, layer, module),
                    shape: [sweep.samples, sweep.dim],
                    dtype: 'float32',
                  },
                },
                { metadata: { run_id: run.runId, step, layer, module } },
              );
              for (let i = 0; i < sweep.samples; i++) {
                rows.push({
                  ...key(run.runId, step, layer, module),
                  sample_id: sampleId(i),
                  shard_ref: { store, sample_id: stored, field: module, row: i },
                });
              }
            }
          }
        }
      }
    } finally {
      writer.close();
    }
    await lake.write('embeddings', rows);
    written += rows.length;
  }
  for (const module of sweep.modules.filter((m) => !sharded.has(m))) {
    for (const run of sweep.runs) {
      const rows: Row[] = [];
      for (const step of steps) {
        for (let layer = 0; layer < sweep.layers; layer++) {
          const matrix = sweep.matrix(run.runId, step, layer, module);
          for (let i = 0; i < sweep.samples; i++) {
            rows.push({
              ...key(run.runId, step, layer, module),
              sample_id: sampleId(i),
              vector: matrix.subarray(i * sweep.dim, (i + 1) * sweep.dim),
            });
          }
        }
      }
      await lake.write('embeddings', rows);
      written += rows.length;
    }
  }
  return written;
}

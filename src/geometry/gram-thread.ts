/**
 * A helper thread for the work geometryDescriptors can overlap: when n > d it needs both the d×d
 * scatter (for the spectrum) and TwoNN's nearest distances (from the n×n Gram). A persistent
 * worker thread takes part of the scatter's tiles and then the TwoNN distances, while the calling
 * thread forms the rest of the scatter and decomposes it; the call blocks (Atomics.wait) only for
 * what is left. (covarianceSpectrum with `keepGram` hands it the whole Gram instead.) The API stays
 * synchronous, and results are bitwise those of the single-threaded path: the worker runs the
 * same kernels.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isMainThread, Worker } from 'node:worker_threads';
import type { RowMatrix } from './gram.js';
import type { TridiagonalLink } from './tridiagonal.js';

/** Below this many entries (n·d) a hand-off costs more than it saves. */
const MIN_ENTRIES = 1 << 17;
/** How long to wait for the helper before computing the Gram on the calling thread instead. */
const WAIT_MS = 120_000;

/**
 * control[0]: job state (0 idle/running, 1 done, 2 failed); control[1]: 1 once the worker runs;
 * control[2]: the state of a descriptor job's scatter part (0 running, 1 done, 2 failed).
 */
interface Helper {
  readonly worker: Worker;
  readonly control: Int32Array;
  busy: boolean;
  dead: boolean;
  /** The last job's shared buffers, reused while the shapes repeat (every layer of a model). */
  buffers: { input: Float32Array | Float64Array; means: Float64Array; output: Float64Array } | null;
  /** The same for descriptor jobs: the scatter (d×d) and the TwoNN distances (2n). */
  descriptorBuffers: {
    input: Float32Array | Float64Array;
    means: Float64Array;
    scatter: Float64Array;
    neighbours: Float64Array;
  } | null;
}

let helper: Helper | null | undefined;
const stats = { handedOff: 0, failed: 0 };

/**
 * How often the helper thread took the Gram product, and how often it failed (the calling thread
 * computed it instead), in this thread since start. For tests and diagnostics.
 *
 * @example
 * ```ts
 * gramHelperStats(); // { handedOff: 12, failed: 0 }
 * ```
 */
export function gramHelperStats(): { handedOff: number; failed: number } {
  return { ...stats };
}

/** A Gram product running on the helper thread. */
export interface PendingGram {
  /** Blocks until the helper has written the Gram; null if it failed (compute it here then). */
  wait(): Float64Array | null;
}

/**
 * Starts X̃X̃ᵀ (n×n, with the given column means subtracted) on the helper thread, or returns null
 * when there is none to use: off the main thread (the analysis already runs one task per core),
 * on a single core, with `RUNLAKE_GEOMETRY_THREADS=1`, for small matrices, while the helper is
 * still starting or busy, or when the compiled worker script is absent (running from sources).
 *
 * @example
 * ```ts
 * const pending = startGram(x, mean, n, d);
 * const gram = pending?.wait() ?? centredGram(x, n, d);
 * ```
 */
export function startGram(x: RowMatrix, mean: Float64Array, n: number, d: number): PendingGram | null {
  if (n * d < MIN_ENTRIES) return null;
  const h = obtainHelper();
  if (!h || h.dead || h.busy || Atomics.load(h.control, 1) !== 1) return null;
  const buffers = sharedBuffers(h, x, n, d);
  buffers.input.set(x);
  buffers.means.set(mean);
  const { input, means, output } = buffers;
  h.busy = true;
  stats.handedOff++;
  Atomics.store(h.control, 0, 0);
  h.worker.postMessage({ kind: 'gram', input, means, output, n, d });
  return {
    wait(): Float64Array | null {
      const outcome = Atomics.wait(h.control, 0, 0, WAIT_MS);
      h.busy = false;
      if (outcome === 'timed-out' || Atomics.load(h.control, 0) !== 1) {
        h.dead = true; // never trust it again in this process
        stats.failed++;
        return null;
      }
      // A copy: the shared buffer is the next job's, and callers may keep the Gram.
      return output.slice();
    },
  };
}

function obtainHelper(): Helper | null {
  if (helper !== undefined) return helper;
  helper = null;
  if (!isMainThread || availableParallelism() < 2 || process.env.RUNLAKE_GEOMETRY_THREADS === '1')
    return null;
  const script = new URL('./gram-thread-worker.js', import.meta.url);
  if (!existsSync(script)) return null;
  const control = new Int32Array(new SharedArrayBuffer(16));
  const worker = new Worker(script, { workerData: { control } });
  worker.unref(); // an idle helper never keeps the process alive
  const h: Helper = { worker, control, busy: false, dead: false, buffers: null, descriptorBuffers: null };
  worker.on('error', () => {
    h.dead = true;
  });
  worker.on('exit', () => {
    h.dead = true;
  });
  helper = h;
  return h;
}

/** A descriptor job running on the helper thread (see {@link startDescriptorJob}). */
export interface PendingDescriptorJob {
  /**
   * The shared d×d scatter the caller writes its own tile rows into (the helper writes the rest).
   */
  readonly scatter: Float64Array;
  /** Blocks until the helper's tile rows are in `scatter`; false if it failed (compute them here). */
  waitScatter(): boolean;
  /** Blocks until the TwoNN distances are written; null if the helper failed or was not asked. */
  waitNeighbours(): Float64Array | null;
}

/**
 * Starts the helper's share of geometryDescriptors on a tall n×d X (n > d): the scatter's tile rows
 * [from, to) into a shared d×d matrix (the caller computes rows [0, from) into the same matrix),
 * then, given a `tridiagonal` link, the second half of each large step of the scatter's
 * tridiagonalisation until the caller releases it, then, if `neighbours`, TwoNN's two nearest
 * squared distances per row. Null under the same conditions as {@link startGram}.
 *
 * @example
 * ```ts
 * const job = startDescriptorJob(x, mean, n, d, 30, 192, true);
 * ```
 */
export function startDescriptorJob(
  x: RowMatrix,
  mean: Float64Array,
  n: number,
  d: number,
  from: number,
  to: number,
  neighbours: boolean,
  tridiagonal: TridiagonalLink | null = null,
): PendingDescriptorJob | null {
  if (n * d < MIN_ENTRIES) return null;
  const h = obtainHelper();
  if (!h || h.dead || h.busy || Atomics.load(h.control, 1) !== 1) return null;
  const b = descriptorBuffers(h, x, n, d);
  b.input.set(x);
  b.means.set(mean);
  h.busy = true;
  stats.handedOff++;
  Atomics.store(h.control, 0, 0);
  Atomics.store(h.control, 2, 0);
  h.worker.postMessage({
    kind: 'descriptors',
    ...b,
    n,
    d,
    from,
    to,
    wantNeighbours: neighbours,
    tridiagonal,
  });
  let scatterOk: boolean | undefined;
  const fail = (): void => {
    h.dead = true; // never trust it again in this process
    h.busy = false;
    stats.failed++;
  };
  return {
    scatter: b.scatter,
    waitScatter(): boolean {
      if (scatterOk !== undefined) return scatterOk;
      const outcome = Atomics.wait(h.control, 2, 0, WAIT_MS);
      scatterOk = outcome !== 'timed-out' && Atomics.load(h.control, 2) === 1;
      if (!scatterOk) fail();
      return scatterOk;
    },
    waitNeighbours(): Float64Array | null {
      if (scatterOk === false) return null;
      const outcome = Atomics.wait(h.control, 0, 0, WAIT_MS);
      if (outcome === 'timed-out' || Atomics.load(h.control, 0) !== 1) {
        fail();
        return null;
      }
      h.busy = false;
      return neighbours ? b.neighbours.slice() : null;
    },
  };
}

function descriptorBuffers(
  h: Helper,
  x: RowMatrix,
  n: number,
  d: number,
): NonNullable<Helper['descriptorBuffers']> {
  const b = h.descriptorBuffers;
  const sameType =
    b && (x instanceof Float32Array ? b.input instanceof Float32Array : b.input instanceof Float64Array);
  if (b && sameType && b.input.length === x.length && b.means.length === d && b.neighbours.length === 2 * n)
    return b;
  const input =
    x instanceof Float32Array
      ? new Float32Array(new SharedArrayBuffer(x.byteLength))
      : new Float64Array(new SharedArrayBuffer(x.byteLength));
  h.descriptorBuffers = {
    input,
    means: new Float64Array(new SharedArrayBuffer(d * 8)),
    scatter: new Float64Array(new SharedArrayBuffer(d * d * 8)),
    neighbours: new Float64Array(new SharedArrayBuffer(2 * n * 8)),
  };
  return h.descriptorBuffers;
}

function sharedBuffers(h: Helper, x: RowMatrix, n: number, d: number): NonNullable<Helper['buffers']> {
  const b = h.buffers;
  const sameType =
    b && (x instanceof Float32Array ? b.input instanceof Float32Array : b.input instanceof Float64Array);
  if (b && sameType && b.input.length === x.length && b.means.length === d && b.output.length === n * n)
    return b;
  const input =
    x instanceof Float32Array
      ? new Float32Array(new SharedArrayBuffer(x.byteLength))
      : new Float64Array(new SharedArrayBuffer(x.byteLength));
  h.buffers = {
    input,
    means: new Float64Array(new SharedArrayBuffer(d * 8)),
    output: new Float64Array(new SharedArrayBuffer(n * n * 8)),
  };
  return h.buffers;
}

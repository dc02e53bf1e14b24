/**
 * Entry of the geometry helper thread (see gram-thread.ts): per message, either one centred Gram
 * into the shared output, or a descriptor job's scatter tile rows and then its TwoNN distances,
 * flagging the calling thread through the shared control words after each part.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { gramMatrix } from './gram.js';
import { gramPanelRows } from './tiles.js';
import { serveTridiagonal, type TridiagonalLink, tridiagonalPosted } from './tridiagonal.js';
import { twoNearestSquaredDistances } from './two-nn.js';

interface GramJob {
  readonly kind: 'gram';
  readonly input: Float32Array | Float64Array;
  readonly means: Float64Array;
  readonly output: Float64Array;
  readonly n: number;
  readonly d: number;
}

interface DescriptorJob {
  readonly kind: 'descriptors';
  readonly input: Float32Array | Float64Array;
  readonly means: Float64Array;
  readonly scatter: Float64Array;
  readonly neighbours: Float64Array;
  readonly n: number;
  readonly d: number;
  readonly from: number;
  readonly to: number;
  readonly wantNeighbours: boolean;
  readonly tridiagonal: TridiagonalLink | null;
}

function runDescriptorJob(job: DescriptorJob): void {
  try {
    gramPanelRows(job.input, job.means, job.n, job.d, true, job.from, job.to, job.scatter, false);
    Atomics.store(control, 2, 1);
  } catch {
    Atomics.store(control, 2, 2);
    Atomics.store(control, 0, 2);
    Atomics.notify(control, 2);
    Atomics.notify(control, 0);
    return;
  }
  Atomics.notify(control, 2);
  // The calling thread decomposes the scatter next: as soon as it posts the first step, serve half
  // of each large step, pausing the TwoNN screen (which starts while the caller still forms its
  // larger share of the scatter); if the screen gets there first, serve before its last passes.
  const link = job.tridiagonal;
  let served = link === null;
  const serve = (): void => {
    served = true;
    try {
      serveTridiagonal(link as TridiagonalLink);
    } catch {
      // The caller times out on its side and finishes alone.
    }
  };
  const between = (gramDone: boolean): void => {
    if (!served && (gramDone || tridiagonalPosted(link as TridiagonalLink))) serve();
  };
  try {
    if (job.wantNeighbours)
      twoNearestSquaredDistances(job.input, job.means, job.n, job.d, job.neighbours, between);
    if (!served) serve();
    Atomics.store(control, 0, 1);
  } catch {
    Atomics.store(control, 0, 2);
  }
  Atomics.notify(control, 0);
}

const control = (workerData as { control: Int32Array }).control;
Atomics.store(control, 1, 1);
parentPort?.on('message', (job: GramJob | DescriptorJob) => {
  if (job.kind === 'descriptors') {
    runDescriptorJob(job);
    return;
  }
  try {
    job.output.set(gramMatrix(job.input, job.n, job.d, { mean: job.means }));
    Atomics.store(control, 0, 1);
  } catch {
    Atomics.store(control, 0, 2);
  }
  Atomics.notify(control, 0);
});

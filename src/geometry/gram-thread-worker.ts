/**
 * Entry of the geometry helper thread (see gram-thread.ts): computes one centred Gram per message
 * into the shared output and flags the calling thread through the shared control word.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { gramMatrix } from './gram.js';

interface GramJob {
  readonly input: Float32Array | Float64Array;
  readonly means: Float64Array;
  readonly output: Float64Array;
  readonly n: number;
  readonly d: number;
}

const control = (workerData as { control: Int32Array }).control;
Atomics.store(control, 1, 1);
parentPort?.on('message', (job: GramJob) => {
  try {
    job.output.set(gramMatrix(job.input, job.n, job.d, { mean: job.means }));
    Atomics.store(control, 0, 1);
  } catch {
    Atomics.store(control, 0, 2);
  }
  Atomics.notify(control, 0);
});

/**
 * Worker-thread entry of the analysis pipeline: runs each {@link AnalysisTask} it is sent, or a
 * share of the signature matching, and posts back the result, or the error message.
 */
import { parentPort } from 'node:worker_threads';
import { type AnalysisTask, runAnalysisTask } from './analysis-task.js';
import type { StoredSignature } from './signature-pool.js';

/** What analyze.ts posts to a worker. */
export type AnalysisWorkerMessage =
  | { readonly kind: 'task'; readonly task: AnalysisTask }
  | {
      readonly kind: 'match';
      readonly pool: readonly StoredSignature[];
      readonly topK: number;
      readonly from: number;
      readonly to: number;
    };

parentPort?.on('message', async (message: AnalysisWorkerMessage) => {
  try {
    if (message.kind === 'task') {
      parentPort?.postMessage({ result: runAnalysisTask(message.task) });
    } else {
      // Loaded on first use, so that the descriptor stage's start-up does not pay for it.
      const { matchPoolQueries } = await import('./trajectory-stages.js');
      const { pool, topK, from, to } = message;
      parentPort?.postMessage({ result: matchPoolQueries(pool, topK, from, to) });
    }
  } catch (error) {
    parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});

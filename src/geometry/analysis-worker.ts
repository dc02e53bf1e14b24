/**
 * Worker-thread entry of the analysis pipeline: runs each {@link AnalysisTask} it is sent and
 * posts back the rows, or the error message.
 */
import { parentPort } from 'node:worker_threads';
import { type AnalysisTask, runAnalysisTask } from './analysis-task.js';

parentPort?.on('message', (task: AnalysisTask) => {
  try {
    parentPort?.postMessage({ result: runAnalysisTask(task) });
  } catch (error) {
    parentPort?.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});

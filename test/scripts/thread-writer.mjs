// Worker-thread entry for the concurrency test: same rows as sweep-writer.mjs, reported by message.
import { parentPort, workerData } from 'node:worker_threads';
import { writeEventRows } from '../../dist/index.js';

const { base, writer, batches, rowsPerBatch } = workerData;
const params = { algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 };
for (let batch = 0; batch < batches; batch++) {
  const rows = [];
  for (let i = 0; i < rowsPerBatch; i++) rows.push({ seed: 1, writer, batch, i, regret: Math.random() });
  await writeEventRows(rows, base, params);
}
parentPort.postMessage('finished');

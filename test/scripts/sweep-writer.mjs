// A writer process for the concurrency and crash tests: writes `batches` batches of `rows` event
// rows for one grid and prints `done <batch>` after each write has returned.
// Usage: node sweep-writer.mjs <lake> <writer-id> <batches|forever> <rows> [seed]
import { writeEventRows } from '../../dist/index.js';

const [base, writer, batchesArg, rowsArg, seedArg] = process.argv.slice(2);
const params = { algo: 'memorypair', accountant: 'zcdp', gamma_bar: 1.0 };
const rowsPerBatch = Number(rowsArg);
const batches = batchesArg === 'forever' ? Number.POSITIVE_INFINITY : Number(batchesArg);
const seed = seedArg === undefined ? 1 : Number(seedArg);

for (let batch = 0; batch < batches; batch++) {
  const rows = [];
  for (let i = 0; i < rowsPerBatch; i++) {
    rows.push({ seed, writer: Number(writer), batch, i, regret: Math.random(), tag: `w${writer}-b${batch}` });
  }
  await writeEventRows(rows, base, params);
  process.stdout.write(`done ${batch}\n`);
}

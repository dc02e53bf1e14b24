// A writer process for the commit chaos test: appends batches of metrics_scalar rows with unique
// keys and prints `ack <batch>` only after `lake.write` returned. The test kills it at random.
// Batch b of incarnation k of writer w is batch number k*1000+b, written as metric `w<w>` with
// steps batch*1000 .. batch*1000+rows-1 into one of the shared run partitions. Before its first
// write it prints `recovered <files>` for each dead process's staging entry it cleaned up.
// Usage: node chaos-writer.mjs <lake> <writer-id> <incarnation> <rows-per-batch>
import { lakePaths, openLake, sweepStaleStaging } from '../../dist/index.js';

const [base, writerArg, incarnationArg, rowsArg] = process.argv.slice(2);
const writer = Number(writerArg);
const incarnation = Number(incarnationArg);
const rowsPerBatch = Number(rowsArg);
const RUNS = ['r0', 'r1', 'r2', 'derived'];

const lake = await openLake(base, { schema: 'squiggle', threads: 1 });
process.stdout.write('ready\n');
// What every process's first write does anyway, made visible: recover the writers killed before.
await sweepStaleStaging(lakePaths(base), Date.now(), {
  found: (_entry, files) => process.stdout.write(`recovered ${files.length}\n`),
});
for (let b = 0; b < 1000; b++) {
  const batch = incarnation * 1000 + b;
  const run_id = RUNS[(writer + batch) % RUNS.length];
  const rows = [];
  for (let i = 0; i < rowsPerBatch; i++) {
    rows.push({ run_id, metric_name: `w${writer}`, step: batch * 1000 + i, value: i });
  }
  await lake.write('metrics_scalar', rows);
  process.stdout.write(`ack ${batch}\n`);
}
lake.close();

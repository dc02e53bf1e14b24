// The replacer of the commit chaos test: replaces the `chaos` stem's rows of partition
// run_id=derived again and again with a new generation of `rows` rows (metric `gen`, steps
// 0..rows-1, value = the generation) and prints `ack gen <g>` after each replace returned.
// Usage: node chaos-replacer.mjs <lake> <incarnation> <rows>
import { openLake } from '../../dist/index.js';

const [base, incarnationArg, rowsArg] = process.argv.slice(2);
const incarnation = Number(incarnationArg);
const rowsPerGeneration = Number(rowsArg);

const lake = await openLake(base, { schema: 'squiggle', threads: 1 });
process.stdout.write('ready\n');
for (let k = 0; k < 1000; k++) {
  const generation = incarnation * 1000 + k;
  const rows = [];
  for (let i = 0; i < rowsPerGeneration; i++) {
    rows.push({ run_id: 'derived', metric_name: 'gen', step: i, value: generation });
  }
  await lake.replace('metrics_scalar', rows, { partition: { run_id: 'derived' }, stem: 'chaos' });
  process.stdout.write(`ack gen ${generation}\n`);
}
lake.close();

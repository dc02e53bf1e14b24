// A compactor of the commit chaos test: compacts metrics_scalar over and over with a small
// target size, so merged files are merged again while writers append and the replacer replaces.
// Prints `compacted <version>` after each compaction that committed and `conflict` when one gave
// up because concurrent commits kept removing its inputs; any other error fails the process.
// Usage: node chaos-compactor.mjs <lake> <target-size>
import { CommitConflictError, compactDataset, METRICS_SCALAR } from '../../dist/index.js';

const [base, targetArg] = process.argv.slice(2);
const targetSize = Number(targetArg);

process.stdout.write('ready\n');
for (;;) {
  let version;
  try {
    version = (await compactDataset(base, METRICS_SCALAR, { targetSize })).version;
    if (version !== undefined) process.stdout.write(`compacted ${version}\n`);
  } catch (error) {
    if (!(error instanceof CommitConflictError)) throw error;
    process.stdout.write('conflict\n');
  }
  // Nothing to merge: wait for more small files.
  if (version === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
}

import type { Command } from 'commander';
import { RunlakeError } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { countOf } from './output.js';
import { partitionArgument } from './parse.js';

/**
 * `runlake delete <lake> <dataset> --partition key=value`: deletes one partition's rows in one
 * commit. The files move to the trash, where time travel reads them until `vacuum`.
 *
 * @example
 * ```sh
 * runlake delete squiggle-lake metrics_scalar --partition run_id=r1
 * ```
 */
export function registerDeleteCommand(program: Command): void {
  program
    .command('delete')
    .description(
      'delete the rows of one partition in one commit (undo: query --version; vacuum makes it final)',
    )
    .argument('<lake>', 'lake directory')
    .argument('<dataset>', 'dataset')
    .requiredOption(
      '--partition <key=value,…>',
      'the partition (a leading prefix of its keys)',
      partitionArgument,
    )
    .action(async (baseOut: string, dataset: string, options: { partition: Record<string, string> }) => {
      await withLake(baseOut, async (lake) => {
        if (!lake.datasets.has(dataset)) {
          throw new RunlakeError(
            `no dataset "${dataset}" in ${baseOut} (have: ${[...lake.datasets.keys()].join(', ')})`,
          );
        }
        const result = await lake.deletePartition(dataset, options.partition);
        await writeStdout(
          result.removedFiles
            ? `${dataset}: deleted ${countOf(result.removedFiles, 'file')}, version ${result.version}\n`
            : `${dataset}: the partition holds no files; nothing deleted\n`,
        );
      });
    });
}

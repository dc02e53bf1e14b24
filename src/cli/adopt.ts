import type { Command } from 'commander';
import { adoptDataset, listDatasetNames, RunlakeError, withStagingConnection } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { countOf } from './output.js';

/**
 * `runlake adopt <lake> [dataset]`: records in the commit log the Parquet files another tool
 * (pandas, pyarrow, exp_engine, an older runlake) wrote into a dataset, so runlake's readers see
 * them. A dataset without a log gets one.
 *
 * @example
 * ```sh
 * runlake adopt results events
 * ```
 */
export function registerAdoptCommand(program: Command): void {
  program
    .command('adopt')
    .description('take Parquet files other tools wrote into a dataset into its commit log')
    .argument('<lake>', 'lake directory')
    .argument('[dataset]', 'dataset (default: every dataset)')
    .action(async (baseOut: string, dataset: string | undefined) => {
      await withLake(baseOut, async (lake) => {
        if (dataset && !lake.datasets.has(dataset)) {
          throw new RunlakeError(
            `no dataset "${dataset}" in ${baseOut} (have: ${[...lake.datasets.keys()].join(', ')})`,
          );
        }
        const names = dataset ? [dataset] : await listDatasetNames(lake.paths, lake.registry);
        const lines: string[] = [];
        await withStagingConnection(async (connection) => {
          for (const name of names) {
            const files = await adoptDataset(lake.paths, connection, name, { unreferenced: true });
            const rows = files.reduce((n, f) => n + f.rows, 0);
            lines.push(
              `${name}: ${files.length ? `adopted ${countOf(files.length, 'file')}, ${countOf(rows, 'row')}` : 'nothing to adopt'}`,
            );
          }
        });
        await writeStdout(`${lines.join('\n')}\n`);
      });
    });
}

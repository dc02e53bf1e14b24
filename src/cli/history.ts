import type { Command } from 'commander';
import { Option } from 'commander';
import { datasetHistory, type HistoryEntry, listDatasetNames, RunlakeError } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { renderJson, renderTable } from './output.js';
import { positiveInteger } from './parse.js';

interface HistoryCommandOptions {
  limit: number;
  format: 'table' | 'json';
}

/**
 * `runlake history <lake> [dataset]`: the commits of a dataset (or of every dataset), newest
 * first: version, time, operation, files and rows added and removed, writer.
 *
 * @example
 * ```sh
 * runlake history squiggle-lake metrics_scalar --limit 20
 * ```
 */
export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('list the commits of a dataset, newest first (time travel: query --as-of / --at-version)')
    .argument('<lake>', 'lake directory')
    .argument('[dataset]', 'dataset (default: every dataset)')
    .option('-l, --limit <n>', 'commits shown per dataset', positiveInteger, 50)
    .addOption(
      new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .action(async (baseOut: string, dataset: string | undefined, options: HistoryCommandOptions) => {
      await withLake(baseOut, async (lake) => {
        const names = dataset ? [dataset] : await listDatasetNames(lake.paths, lake.registry);
        if (dataset && !lake.datasets.has(dataset)) {
          throw new RunlakeError(
            `no dataset "${dataset}" in ${baseOut} (have: ${[...lake.datasets.keys()].join(', ')})`,
          );
        }
        const entries: HistoryEntry[] = [];
        for (const name of names) entries.push(...(await datasetHistory(lake.paths, name, options.limit)));
        const rows = entries.map((e) => ({
          dataset: e.dataset,
          version: e.version,
          time: e.timestamp,
          operation: e.operation,
          files: `+${e.filesAdded} -${e.filesRemoved}`,
          rows: `+${e.rowsAdded} -${e.rowsRemoved}`,
          writer: e.writer,
          details: e.details,
        }));
        if (options.format === 'json')
          await writeStdout(renderJson(entries as unknown as Record<string, unknown>[], 'json'));
        else if (rows.length === 0)
          await writeStdout(
            `no commits: ${dataset ?? 'no dataset of this lake'} has no commit log yet (its first write creates it)\n`,
          );
        else await writeStdout(`${renderTable(rows)}\n`);
      });
    });
}

import path from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseRetention, type RunlakeError, vacuumLake } from '../lake/index.js';
import { existingLakeDirectory, writeStdout } from './common.js';
import { formatBytes } from './output.js';

interface VacuumCommandOptions {
  retain: number;
  dryRun?: boolean;
}

function retention(text: string): number {
  try {
    return parseRetention(text);
  } catch (error) {
    throw new InvalidArgumentError((error as RunlakeError).message);
  }
}

/**
 * `runlake vacuum <lake>`: deletes removed part files older than the retention, log files no
 * retained version needs, and what dead writers left; lists files no commit references.
 *
 * @example
 * ```sh
 * runlake vacuum squiggle-lake --retain 7d --dry-run
 * ```
 */
export function registerVacuumCommand(program: Command): void {
  program
    .command('vacuum')
    .description('delete files no snapshot within the retention reads, and dead writers’ leftovers')
    .argument('<lake>', 'lake directory')
    .option(
      '--retain <duration>',
      'keep what time travel within this period reads (7d, 12h, 30m, 0)',
      retention,
      retention('7d'),
    )
    .option('--dry-run', 'list what would be deleted; delete nothing')
    .action(async (baseOut: string, options: VacuumCommandOptions) => {
      existingLakeDirectory(baseOut);
      const result = await vacuumLake(baseOut, { retainMs: options.retain, dryRun: options.dryRun });
      const verb = options.dryRun ? 'would delete' : 'deleted';
      const show = (file: string) => path.relative(path.resolve(baseOut), file);
      const lines = [
        ...result.trashFiles.map((f) => `${verb} ${show(f)} (removed by a commit)`),
        ...result.staging.map(
          (f) => `${options.dryRun ? 'would clean up' : 'cleaned up'} ${show(f)} (its writer died)`,
        ),
        ...result.unreferenced.map(
          (f) => `kept ${show(f)}: no commit references it (runlake adopt takes it in)`,
        ),
        `${verb} ${result.trashFiles.length} removed files (${formatBytes(result.bytes)}), ` +
          `${result.logFiles.length} log files, ${result.staging.length} dead writers' staging entries` +
          (result.unreferenced.length ? `; ${result.unreferenced.length} unreferenced files kept` : ''),
      ];
      await writeStdout(`${lines.join('\n')}\n`);
    });
}

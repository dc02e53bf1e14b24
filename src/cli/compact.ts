import { type Command, Option } from 'commander';
import { buildMetricsPyramid, DEFAULT_TARGET_FILE_SIZE, PYRAMID_WORTH_ROWS } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { countOf, formatBytes } from './output.js';
import { byteSize, partitionArgument, positiveInteger } from './parse.js';
import { pyramidLine } from './pyramid.js';

interface CompactCommandOptions {
  partition?: Record<string, string>;
  targetSize: number;
  minFiles: number;
  dryRun?: boolean;
}

/**
 * `runlake compact <lake> [dataset]`: merges each partition's small part files into files of a
 * target size, sorted by the dataset's sort key, one commit per dataset. After merging
 * `metrics_scalar` files it rebuilds the downsampling pyramid over them (`runlake pyramid`) when
 * the lake has one or the metrics hold at least {@link PYRAMID_WORTH_ROWS} rows.
 *
 * @example
 * ```sh
 * runlake compact squiggle-lake metrics_scalar --partition run_id=r1 --target-size 64MiB
 * ```
 */
export function registerCompactCommand(program: Command): void {
  program
    .command('compact')
    .description("merge each partition's small files into files of a target size (one commit per dataset)")
    .argument('<lake>', 'lake directory')
    .argument('[dataset]', 'dataset to compact (default: every dataset)')
    .option(
      '--partition <key=value,…>',
      'only this partition (a leading prefix of its keys)',
      partitionArgument,
    )
    .addOption(
      // The default shown as a size: commander would print the byte count after a hand-written one.
      new Option('--target-size <size>', 'size of the merged files')
        .argParser(byteSize)
        .default(DEFAULT_TARGET_FILE_SIZE, formatBytes(DEFAULT_TARGET_FILE_SIZE)),
    )
    .option(
      '--min-files <n>',
      'merge a partition only when it holds at least this many small files',
      positiveInteger,
      2,
    )
    .option('--dry-run', 'list what would be merged; write nothing')
    .action(async (baseOut: string, dataset: string | undefined, options: CompactCommandOptions) => {
      await withLake(baseOut, async (lake) => {
        const names = dataset ? [dataset] : [...lake.datasets.keys()];
        const lines: string[] = [];
        let compactedMetrics = false;
        for (const name of names) {
          if (!dataset && lake.datasets.get(name)?.fileCount === 0) continue;
          const result = await lake.compact(name, {
            partition: options.partition,
            targetSize: options.targetSize,
            minFiles: options.minFiles,
            dryRun: options.dryRun,
          });
          if (name === 'metrics_scalar' && result.partitions > 0) compactedMetrics = true;
          if (result.partitions === 0) {
            lines.push(`${name}: nothing to compact`);
          } else if (options.dryRun) {
            lines.push(
              `${name}: would merge ${countOf(result.filesBefore, 'file')} (${formatBytes(result.bytesBefore)}, ` +
                `${countOf(result.rows, 'row')}) in ${countOf(result.partitions, 'partition')}`,
            );
          } else {
            lines.push(
              `${name}: merged ${countOf(result.filesBefore, 'file')} (${formatBytes(result.bytesBefore)}) into ` +
                `${result.filesAfter} (${formatBytes(result.bytesAfter)}) in ${countOf(result.partitions, 'partition')}, ` +
                `${countOf(result.rows, 'row')}, version ${result.version}`,
            );
          }
        }
        // Compaction renames metrics_scalar's files: a pyramid is rebuilt over the merged ones, and
        // one is built when the metrics are long enough to be drawn from it.
        if (compactedMetrics && !options.dryRun) {
          const build = await buildMetricsPyramid(baseOut, { auto: true });
          if (build.action !== 'too-small') lines.push(pyramidLine(build));
        }
        await writeStdout(`${lines.join('\n')}\n`);
      });
    });
}

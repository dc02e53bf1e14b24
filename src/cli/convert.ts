import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { Option } from 'commander';
import { type ConvertOptions, convertCsvSweep, type Granularity } from '../ingest/index.js';
import { writeStdout } from './common.js';
import { renderTable } from './output.js';
import { commaList, positiveInteger } from './parse.js';

interface ConvertCliOptions {
  granularity: Granularity;
  dryRun?: boolean;
  jobs: number;
  paramColumns?: string[];
  partitionByParams?: string[];
  progress: boolean;
}

/**
 * `runlake convert <csv-dir> <lake>` (alias `rollup`): incremental, parallel conversion of legacy
 * CSV sweeps into the lake.
 *
 * @example
 * ```sh
 * runlake convert experiments/results results --granularity event --jobs 4
 * ```
 */
export function registerConvertCommand(program: Command): void {
  program
    .command('convert')
    .alias('rollup')
    .description('convert legacy CSV sweeps into the lake, incrementally and in parallel (alias: rollup)')
    .argument('<csv-dir>', 'directory searched recursively for *.csv (params from params.json beside them)')
    .argument('<lake>', 'lake directory (created if missing)')
    .addOption(
      new Option('-g, --granularity <level>', 'event rows → events/, seed summaries → seeds/')
        .choices(['event', 'seed'])
        .default('event'),
    )
    .option('-n, --dry-run', 'show what would be converted, write nothing')
    .option('-j, --jobs <n>', 'inputs converted in parallel', positiveInteger, 2)
    .option(
      '--param-columns <list>',
      'CSV columns holding the params when there is no params.json',
      commaList,
    )
    .option(
      '--partition-by-params <list>',
      'params to add as partition directories before grid_id/seed',
      commaList,
    )
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nLayout: every *.csv under <csv-dir>. Params come from the nearest params.json in the CSV directory\n' +
        'or above it, or from --param-columns (one grid per distinct combination). The seed comes from a\n' +
        '"seed" column, else params.json, else the path (seed_3.csv, seed=3/). Inputs already converted\n' +
        '(same content hash) are skipped. See docs/convert.md.',
    )
    .action(async (csvDir: string, baseOut: string, options: ConvertCliOptions) => {
      const bar =
        options.progress && process.stderr.isTTY && !options.dryRun
          ? new SingleBar({
              format: 'converting [{bar}] {value}/{total} inputs | {source}',
              stream: process.stderr,
              hideCursor: true,
            })
          : undefined;
      let started = false;
      const convertOptions: ConvertOptions = {
        granularity: options.granularity,
        dryRun: options.dryRun,
        jobs: options.jobs,
        paramColumns: options.paramColumns,
        partitionByParams: options.partitionByParams,
        onProgress: (done, total, input) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, 0, { source: '' });
            started = true;
          }
          bar.update(done, { source: input.source });
        },
      };
      let summary: Awaited<ReturnType<typeof convertCsvSweep>>;
      try {
        summary = await convertCsvSweep(csvDir, baseOut, convertOptions);
      } finally {
        bar?.stop();
      }
      if (options.dryRun) {
        const plan = summary.inputs.map((i) => ({
          input: i.source,
          action: i.status === 'skipped' ? 'skip (already converted)' : 'convert',
          rows: i.rows,
          grid_ids: i.gridIds.join(' '),
          seeds: i.seeds.join(' '),
        }));
        await writeStdout(`${renderTable(plan)}\n`);
      }
      const verb = options.dryRun ? 'would convert' : 'converted';
      await writeStdout(
        `${verb} ${options.dryRun ? summary.inputs.length - summary.skipped : summary.converted} inputs ` +
          `(${summary.rows} rows${options.dryRun ? '' : `, ${summary.files} files`}) into ${baseOut}; ` +
          `skipped ${summary.skipped} already converted\n`,
      );
    });
}

import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  type ConvertedInput,
  type ConvertOptions,
  type ConvertSummary,
  convertCsvSweep,
  type Granularity,
  rollupCsvSweep,
} from '../ingest/index.js';
import { GRID_ID_SCHEMES, type GridIdScheme, parseGridIdScheme } from '../lake/index.js';
import { writeStdout } from './common.js';
import { countOf, renderTable } from './output.js';
import { commaList, positiveInteger } from './parse.js';

interface SweepCliOptions {
  dryRun?: boolean;
  jobs: number;
  cores?: number;
  csvDir?: string;
  baseOut?: string;
  paramColumns?: string[];
  partitionByParams?: string[];
  copySeedRows?: boolean;
  gridIdScheme?: GridIdScheme;
  progress: boolean;
}

/** `--grid-id-scheme`: one of the known schemes, else a usage error naming them. */
function gridIdSchemeArgument(value: string): GridIdScheme {
  try {
    return parseGridIdScheme(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

interface ConvertCliOptions extends SweepCliOptions {
  granularity: Granularity;
}

const LAYOUT_HELP =
  '\nLayouts (see docs/convert.md): every *.csv under <csv-dir>. Params come from --param-columns; else the\n' +
  "nearest params.json when it is below the CSV's grid directory (the first directory up whose name holds\n" +
  "grid/split/gamma/ratio, else <csv-dir>); else, as exp_engine: the grid directory's *.json, config.yaml\n" +
  'or params.yaml, else its name (split_0.7-0.3_q0.95_k10_default), with algo=memorypair and\n' +
  'accountant=zcdp as defaults and the algorithm of the file name (seed_001_baseline_….csv). The seed\n' +
  'comes from the file name or the params (and a "seed" column first, for events). Inputs already\n' +
  'converted (same content hash) are skipped.';

/**
 * `runlake convert <csv-dir> <lake>`: incremental, parallel conversion of legacy CSV sweeps into
 * the lake at one granularity; and `runlake rollup`: both granularities in one run, seed summaries
 * then events, as exp_engine's Snakemake rollup. exp_engine's flag names are accepted too
 * (`--granularity`, `--dry-run`; `rollup --csv-dir D --base-out O --cores N`).
 *
 * @example
 * ```sh
 * runlake convert experiments/results results --granularity event --jobs 4
 * runlake rollup --csv-dir experiments/results --base-out results --cores 4
 * ```
 */
export function registerConvertCommand(program: Command): void {
  const convert = program
    .command('convert')
    .description('convert legacy CSV sweeps into the lake at one granularity, incrementally and in parallel')
    .argument('[csv-dir]', 'directory searched recursively for *.csv (exp_engine: csv_dir)')
    .argument('[lake]', 'lake directory, created if missing (exp_engine: output_dir)')
    .addOption(
      new Option(
        '-g, --granularity <level>',
        'event: CSV rows → events/; seed: one summary row per CSV → seeds/',
      )
        .choices(['event', 'seed'])
        .default('event'),
    );
  sweepOptions(convert)
    .addHelpText('after', LAYOUT_HELP)
    .action(async (csvArg: string | undefined, lakeArg: string | undefined, options: ConvertCliOptions) => {
      const [csvDir, baseOut] = sweepPaths(csvArg, lakeArg, options);
      const bar = progressBar(options);
      let summary: ConvertSummary;
      try {
        summary = await convertCsvSweep(csvDir, baseOut, {
          ...convertOptions(options, bar),
          granularity: options.granularity,
        });
      } finally {
        bar?.stop();
      }
      await report(summary, baseOut, options);
    });

  const rollup = program
    .command('rollup')
    .description(
      "convert legacy CSV sweeps at both granularities in one run (seed summaries, then events), as exp_engine's rollup",
    )
    .argument('[csv-dir]', 'directory searched recursively for *.csv (or --csv-dir)')
    .argument('[lake]', 'lake directory, created if missing (or --base-out)');
  sweepOptions(rollup)
    .option('--cores <n>', "exp_engine's name for --jobs", positiveInteger)
    .addHelpText('after', `${LAYOUT_HELP}\nEach granularity has its own ledger entry per input.`)
    .action(async (csvArg: string | undefined, lakeArg: string | undefined, options: SweepCliOptions) => {
      const [csvDir, baseOut] = sweepPaths(csvArg, lakeArg, options);
      const bar = progressBar(options);
      let summaries: Awaited<ReturnType<typeof rollupCsvSweep>>;
      try {
        summaries = await rollupCsvSweep(csvDir, baseOut, {
          ...convertOptions(options, bar),
          jobs: options.cores ?? options.jobs,
        });
      } finally {
        bar?.stop();
      }
      await report(summaries.seeds, baseOut, options);
      await report(summaries.events, baseOut, options);
    });
}

/** The options `convert` and `rollup` share. */
function sweepOptions(command: Command): Command {
  return command
    .option('--csv-dir <dir>', "the CSV directory, instead of <csv-dir> (exp_engine's rollup flag)")
    .option('--base-out <dir>', "the lake, instead of <lake> (exp_engine's rollup flag)")
    .option('-n, --dry-run', 'show what would be converted, write nothing')
    .option('-j, --jobs <n>', 'inputs converted in parallel', positiveInteger, 2)
    .option(
      '--param-columns <list>',
      'CSV columns holding the params (rows copied, one grid per combination)',
      commaList,
    )
    .option(
      '--copy-seed-rows',
      'seed granularity: copy the CSV rows as seed rows instead of one summary per CSV',
    )
    .option(
      '--partition-by-params <list>',
      'params to add as partition directories before grid_id/seed',
      commaList,
    )
    .option(
      '--grid-id-scheme <scheme>',
      `grid ids for new grids: ${GRID_ID_SCHEMES.join(', ')} (default: the lake's, detected from its params.json files; runlake for a new lake)`,
      gridIdSchemeArgument,
    )
    .option('--no-progress', 'no progress bar');
}

/**
 * The CSV directory and the lake, from the positional arguments or exp_engine's flags. There are
 * no defaults: exp_engine's (`experiments/deletion_capacity/results`, `results/parquet`) would
 * make a mistyped command write a lake into whatever directory it was run from.
 */
function sweepPaths(
  csvArg: string | undefined,
  lakeArg: string | undefined,
  options: SweepCliOptions,
): [string, string] {
  const pick = (positional: string | undefined, flag: string | undefined, what: string, name: string) => {
    if (positional !== undefined && flag !== undefined && positional !== flag) {
      throw new InvalidArgumentError(`${what} given twice: "${positional}" and ${name} "${flag}"`);
    }
    const value = positional ?? flag;
    if (value === undefined) throw new InvalidArgumentError(`missing the ${what} (<${what}> or ${name})`);
    return value;
  };
  // With only --csv-dir, a single positional argument is the lake.
  if (
    csvArg !== undefined &&
    lakeArg === undefined &&
    options.csvDir !== undefined &&
    options.baseOut === undefined
  ) {
    return [options.csvDir, csvArg];
  }
  return [
    pick(csvArg, options.csvDir, 'csv-dir', '--csv-dir'),
    pick(lakeArg, options.baseOut, 'lake', '--base-out'),
  ];
}

function progressBar(options: SweepCliOptions): SingleBar | undefined {
  return options.progress && process.stderr.isTTY && !options.dryRun
    ? new SingleBar({
        format: 'converting [{bar}] {value}/{total} inputs | {source}',
        stream: process.stderr,
        hideCursor: true,
      })
    : undefined;
}

function convertOptions(
  options: SweepCliOptions,
  bar: SingleBar | undefined,
): Omit<ConvertOptions, 'granularity'> {
  let started = false;
  return {
    dryRun: options.dryRun,
    jobs: options.jobs,
    paramColumns: options.paramColumns,
    copySeedRows: options.copySeedRows,
    partitionByParams: options.partitionByParams,
    gridIdScheme: options.gridIdScheme,
    onProgress: (done: number, total: number, input: ConvertedInput) => {
      if (!bar) return;
      if (!started) {
        bar.start(total, 0, { source: '' });
        started = true;
      }
      bar.update(done, { source: `${input.source} (${input.granularity})` });
    },
  };
}

async function report(summary: ConvertSummary, baseOut: string, options: SweepCliOptions): Promise<void> {
  const dataset = summary.granularity === 'event' ? 'events' : 'seeds';
  if (options.dryRun) {
    const plan = summary.inputs.map((i) => ({
      input: i.source,
      dataset,
      action: i.status === 'skipped' ? 'skip (already converted)' : 'convert',
      params_from: i.paramsSource,
      rows: i.rows,
      grid_ids: i.gridIds.join(' '),
      seeds: i.seeds.join(' '),
    }));
    await writeStdout(`${renderTable(plan)}\n`);
  }
  const verb = options.dryRun ? 'would convert' : 'converted';
  await writeStdout(
    `${verb} ${countOf(options.dryRun ? summary.inputs.length - summary.skipped : summary.converted, 'input')} ` +
      `(${countOf(summary.rows, 'row')}${options.dryRun ? '' : `, ${countOf(summary.files, 'file')}`}) into ${baseOut} ${dataset}/; ` +
      `skipped ${summary.skipped} already converted\n`,
  );
}

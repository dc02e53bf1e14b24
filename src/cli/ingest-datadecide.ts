import path from 'node:path';
import type { Command } from 'commander';
import { CommanderError } from 'commander';
import { ingestDataDecide } from '../ingest/datadecide.js';
import { existingLakeSchema, lakePaths, openLake } from '../lake/index.js';
import { writableLakeDirectory, writeStdout } from './common.js';
import { countOf } from './output.js';

interface DataDecideCommandOptions {
  skipBadMetrics?: boolean;
  removeSource?: string[];
  json?: boolean;
}

/**
 * Splits `<input…> <lake>` (commander allows a variadic argument only last): every path but the
 * last is an input, the last is the lake. With fewer than two paths the lake (or the input) is
 * missing: that is a usage error, reported like commander's own, naming the missing argument.
 *
 * @example
 * ```ts
 * splitInputsAndLake(['a.parquet', 'b.parquet', 'lake']); // { inputs: ['a.parquet', 'b.parquet'], lake: 'lake' }
 * splitInputsAndLake(['a.parquet']); // throws: "error: missing required argument 'lake' …"
 * ```
 */
export function splitInputsAndLake(paths: readonly string[]): { inputs: string[]; lake: string } {
  if (paths.length < 2) {
    throw new CommanderError(
      1,
      'commander.missingArgument',
      `error: missing required argument '${paths.length === 0 ? 'inputs' : 'lake'}' ` +
        '(give one or more inputs, then the lake directory, last)',
    );
  }
  const lake = paths[paths.length - 1] as string;
  writableLakeDirectory(lake);
  return { inputs: paths.slice(0, -1), lake };
}

/**
 * `runlake ingest datadecide <input…> <lake>`: loads DataDecide results into `full_eval` (long
 * form): allenai/DataDecide-eval-results and -ppl-results files, drothermel/datadec's wide
 * outputs, or a datadec output folder as one input; datadec's mean_eval / std_eval files are
 * compared with the views. Re-ingesting a file or folder replaces its rows.
 *
 * @example
 * ```sh
 * runlake ingest datadecide data/train-0000*.parquet squiggle-lake
 * runlake ingest datadecide data/datadecide squiggle-lake
 * ```
 */
export function registerIngestDatadecide(ingest: Command): void {
  ingest
    .command('datadecide')
    .description(
      'DataDecide eval / perplexity results, or datadec outputs (files or its output folder) → full_eval, ' +
        'with mean_eval / std_eval views over seeds',
    )
    .usage('[options] <parquet-or-folder...> <lake>')
    .argument(
      '<paths...>',
      'DataDecide results Parquet files or datadec output folders (data/datadecide), then the lake directory (last)',
    )
    .option('--skip-bad-metrics', 'skip rows whose metrics text does not parse (counted), instead of failing')
    .option(
      '--remove-source <file>',
      "remove the full_eval rows of an earlier ingested source file (base name), whose results this call's inputs give instead (repeatable)",
      (value: string, earlier: string[] = []) => [...earlier, value],
    )
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], options: DataDecideCommandOptions) => {
      const { inputs, lake: baseOut } = splitInputsAndLake(paths);
      const schema = (await existingLakeSchema(lakePaths(baseOut))) ?? 'squiggle';
      const lake = await openLake(baseOut, { schema });
      try {
        const summary = await ingestDataDecide(lake, inputs, {
          skipBadMetrics: options.skipBadMetrics,
          removeSources: options.removeSource,
        });
        if (options.json) {
          await writeStdout(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        const n = (x: number) => x.toLocaleString('en-US');
        let text =
          `ingested ${countOf(summary.sourceRows, 'row')} from ${summary.files} file${summary.files === 1 ? '' : 's'} ` +
          `as ${countOf(summary.rows, 'full_eval row')} (params: ${summary.partitions.join(', ') || 'none'})` +
          (summary.replacedFiles > 0
            ? `, replacing ${countOf(summary.replacedFiles, 'part file')} of an earlier ingest`
            : '') +
          '\n';
        for (const s of summary.supplements) {
          const of = path.basename(s.of);
          text +=
            `from ${s.file}: ${countOf(s.rows, 'full_eval row')} ${of} lacks` +
            (s.metrics.length > 0 ? ` (${s.metrics.join(', ')})` : '') +
            `; ${n(s.shadowed)} values ${of} also gives came from ${of}` +
            (s.chinchillaFilled > 0 ? `; its chinchilla filled ${n(s.chinchillaFilled)} rows of ${of}` : '') +
            '\n';
        }
        if (summary.removedSourceFiles > 0)
          text += `removed ${countOf(summary.removedSourceFiles, 'part file')} of ${(options.removeSource ?? []).join(', ')}\n`;
        if (summary.emptyMetricRows > 0)
          text += `${countOf(summary.emptyMetricRows, 'row')} had an empty metrics dict\n`;
        if (summary.missingCells > 0)
          text += `${n(summary.missingCells)} metric cells of wide files were empty (NaN: no result) and gave no row\n`;
        for (const s of summary.notIngested) text += `not ingested: ${s.file}: ${s.reason}\n`;
        for (const c of summary.checks) {
          text +=
            `checked ${c.file} against ${c.view}: ${n(c.cells)} cells, max |difference| ${c.maxAbsDiff.toExponential(2)}, ` +
            `${c.mismatches === 0 ? 'no mismatches' : `${n(c.mismatches)} mismatches, e.g. ${c.example}`}\n`;
        }
        if (summary.skippedRows > 0) {
          text += `skipped ${countOf(summary.skippedRows, 'row')} with unparseable metrics, e.g.:\n`;
          for (const s of summary.skipped) text += `  ${s.file} row ${s.row}: ${s.reason}\n`;
        }
        await writeStdout(text);
      } finally {
        lake.close();
      }
    });
}

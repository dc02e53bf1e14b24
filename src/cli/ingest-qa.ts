import type { Command } from 'commander';
import { ingestQaOutputs } from '../ingest/qa.js';
import { existingLakeSchema, lakePaths, openLake } from '../lake/index.js';
import { writeStdout } from './common.js';
import { splitInputsAndLake } from './ingest-datadecide.js';
import { countOf } from './output.js';

interface QaCommandOptions {
  run?: string;
  task?: string;
  correctFrom?: string;
  json?: boolean;
}

/**
 * `runlake ingest qa <jsonl|dir|tar.gz…> <lake>`: loads per-question eval outputs into
 * `qa_outputs`, OLMES prediction trees and their `step-N.tar.gz` tarballs included (streamed);
 * re-ingesting a (task, run) replaces its rows. `qa_task_summary` aggregates them.
 *
 * @example
 * ```sh
 * runlake ingest qa instances_extracted/ squiggle-lake
 * ```
 */
export function registerIngestQa(ingest: Command): void {
  ingest
    .command('qa')
    .description(
      'per-question QA eval outputs (JSONL, OLMES trees and tarballs) → qa_outputs, with qa_task_summary',
    )
    .usage('[options] <jsonl|dir|tar.gz...> <lake>')
    .argument(
      '<paths...>',
      'JSONL files, OLMES trees (directories, searched recursively), .tar.gz/.tgz/.tar archives (streamed), then the lake directory (last)',
    )
    .option(
      '--run <id>',
      'run id for records that name none (default: the directory below the one given, or the OLMES checkpoint <recipe>/<size>/seed-N/step-N)',
    )
    .option(
      '--task <name>',
      'task for records that name none (default: from the file name, <task>-predictions.jsonl)',
    )
    .option(
      '--correct-from <score>',
      'score (0/1) that says whether an answer is correct, when records have no correct field (default: the task primary metric of OLMES records, then exact_match, acc, acc_raw)',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], options: QaCommandOptions) => {
      const { inputs, lake: baseOut } = splitInputsAndLake(paths);
      const schema = (await existingLakeSchema(lakePaths(baseOut))) ?? 'squiggle';
      const lake = await openLake(baseOut, { schema });
      try {
        const summary = await ingestQaOutputs(lake, inputs, {
          run: options.run,
          task: options.task,
          correctFrom: options.correctFrom,
        });
        if (options.json) {
          await writeStdout(`${JSON.stringify(summary, null, 2)}\n`);
          return;
        }
        const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
        const notes = [
          summary.archives > 0 ? `read ${plural(summary.archives, 'archive')}` : '',
          summary.metricsFiles > 0
            ? `${plural(summary.metricsFiles, 'metrics file')} for primary metrics`
            : '',
          summary.skipped > 0 ? `skipped ${plural(summary.skipped, 'side file')}` : '',
        ].filter(Boolean);
        const warnings = [
          summary.unknownRecipes.length > 0
            ? `note: recipe${summary.unknownRecipes.length === 1 ? '' : 's'} not in DataDecide's table (data left null): ${summary.unknownRecipes.join(', ')}\n`
            : '',
          summary.unknownSeeds.length > 0
            ? `note: seed-N directories not in DataDecide's table (seed left null): ${summary.unknownSeeds.map((s) => `seed-${s}`).join(', ')}\n`
            : '',
        ].join('');
        await writeStdout(
          `ingested ${countOf(summary.rows, 'qa_outputs row')} from ${plural(summary.files, 'file')} ` +
            `(${plural(summary.tasks.length, 'task')}, ${plural(summary.runs, 'run')})` +
            (summary.replacedFiles > 0
              ? `, replacing ${countOf(summary.replacedFiles, 'part file')} of an earlier ingest`
              : '') +
            (notes.length ? `; ${notes.join(', ')}` : '') +
            '\n' +
            warnings,
        );
      } finally {
        lake.close();
      }
    });
}

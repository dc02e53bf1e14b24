import type { Command } from 'commander';
import { ingestQaOutputs } from '../ingest/qa.js';
import { existingLakeSchema, lakePaths, openLake } from '../lake/index.js';
import { writeStdout } from './common.js';
import { splitInputsAndLake } from './ingest-datadecide.js';

interface QaCommandOptions {
  run?: string;
  task?: string;
  correctFrom?: string;
  json?: boolean;
}

/**
 * `runlake ingest qa <jsonl|dir…> <lake>`: loads per-question eval outputs into `qa_outputs`;
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
      'per-question QA eval outputs (JSONL files or directories) → qa_outputs, with qa_task_summary',
    )
    .usage('[options] <jsonl|dir...> <lake>')
    .argument('<paths...>', 'JSONL files or directories of them, then the lake directory (last)')
    .option('--run <id>', 'run id for records that name none (default: the directory below the one given)')
    .option(
      '--task <name>',
      'task for records that name none (default: from the file name, <task>-predictions.jsonl)',
    )
    .option(
      '--correct-from <score>',
      'score (0/1) that says whether an answer is correct, when records have no correct field',
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
        await writeStdout(
          `ingested ${summary.rows.toLocaleString('en-US')} qa_outputs rows from ${summary.files} file${summary.files === 1 ? '' : 's'} ` +
            `(${summary.tasks.length} task${summary.tasks.length === 1 ? '' : 's'}, ${summary.runs} run${summary.runs === 1 ? '' : 's'})` +
            (summary.replacedFiles > 0
              ? `, replacing ${summary.replacedFiles} part files of an earlier ingest`
              : '') +
            '\n',
        );
      } finally {
        lake.close();
      }
    });
}

import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { IMPORT_FORMATS, type ImportFormat, importFile } from '../ingest/index.js';
import { writeStdout } from './common.js';
import { countOf } from './output.js';

interface ImportCommandOptions {
  format?: ImportFormat;
  schema?: string;
  value: Record<string, string>;
}

/** Parses repeated `--value key=value` options; the import converts the text to the column's type. */
function keyValue(text: string, previous: Record<string, string>): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${text}"`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

/**
 * `runlake import <lake> <dataset> <file>`: loads a JSONL, JSON, CSV or Parquet file into a
 * dataset through the schema's validation; a refused file writes nothing.
 *
 * @example
 * ```sh
 * runlake import squiggle-lake metrics_scalar loss.csv --value run_id=r1
 * ```
 */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('load a .jsonl/.json/.csv/.parquet file into a dataset, validated against its schema')
    .argument('<lake>', 'lake directory (created if missing)')
    .argument('<dataset>', 'dataset to write, e.g. metrics_scalar')
    .argument('<file>', 'input file')
    .addOption(
      new Option('--format <format>', 'input format (default: from the extension)').choices(IMPORT_FORMATS),
    )
    .option('--schema <set>', 'schema set for a lake that has none yet (default: squiggle)')
    .option(
      '--value <key=value>',
      'value for a column the file lacks (repeatable), e.g. run_id=r1',
      keyValue,
      {},
    )
    .action(async (baseOut: string, dataset: string, file: string, options: ImportCommandOptions) => {
      const result = await importFile(baseOut, dataset, file, {
        format: options.format,
        schema: options.schema,
        values: options.value,
      });
      await writeStdout(
        `imported ${countOf(result.rowCount, 'row')} from ${file} into ${dataset} ` +
          `(${countOf(result.files.length, 'file')})\n`,
      );
    });
}

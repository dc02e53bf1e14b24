import type { Command } from 'commander';
import { RunlakeError, validateLake } from '../lake/index.js';
import { checkShardRefs } from '../shards/index.js';
import { existingLakeDirectory, writeStdout } from './common.js';
import { countOf } from './output.js';
import { commaList, positiveInteger } from './parse.js';

interface ValidateOptions {
  schema?: string;
  datasets?: string[];
  rowsPerRule: number;
  json?: boolean;
}

/** Raised after the report is printed, so the command exits non-zero with a one-line summary. */
class ValidationFailedError extends RunlakeError {
  override readonly name = 'ValidationFailedError';
}

/**
 * `runlake validate <lake>`: checks every file of every dataset against the lake's schemas and
 * lists each violation with its file, row and column; exits 1 when there is any.
 *
 * @example
 * ```sh
 * runlake validate squiggle-lake --datasets events,signatures
 * ```
 */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check every file of every dataset against the schemas; exit 1 on any violation')
    .argument('<lake>', 'lake directory')
    .option('--schema <set>', 'schema set to check against when the lake records none')
    .option('--datasets <list>', 'comma-separated datasets to check (default: all)', commaList)
    .option('--rows-per-rule <n>', 'rows listed per rule and file; the rest are counted', positiveInteger, 5)
    .option('--json', 'print the report as JSON')
    .action(async (baseOut: string, options: ValidateOptions) => {
      existingLakeDirectory(baseOut);
      const report = await validateLake(baseOut, {
        schema: options.schema,
        datasets: options.datasets,
        rowsPerRule: options.rowsPerRule,
        referenceChecks: [checkShardRefs],
      });
      const metadataProblems = report.violations.filter((v) => v.kind === 'metadata').length;
      const violations = report.datasets.reduce((n, d) => n + d.violations, metadataProblems);
      const files = new Set(report.violations.map((v) => v.file)).size;
      if (options.json) {
        await writeStdout(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = report.violations.map((v) => {
          if (v.kind === 'metadata') return `${v.file}: ${v.message} [metadata]`;
          const where = v.row === null ? `${v.file}` : `${v.file}: row ${v.row}`;
          const more = v.rowsAffected > 1 ? ` (${v.rowsAffected} rows in this file)` : '';
          return `${where}, column "${v.column}": ${v.message} [${v.kind}]${more}`;
        });
        const rows = report.datasets.reduce((n, d) => n + d.rows, 0);
        const fileCount = report.datasets.reduce((n, d) => n + d.files, 0);
        const checked =
          `${countOf(report.datasets.length, 'dataset')} (${report.schemaSet} schema), ${countOf(fileCount, 'file')}, ` +
          `${countOf(rows, 'row')}`;
        if (report.schemaSet === 'unknown') {
          lines.push(
            'datasets not checked: the schema set is unknown until .runlake/lake.json is fixed (or pass --schema)',
          );
        }
        lines.push(report.ok ? `ok: ${checked}, no violations` : `checked ${checked}`);
        await writeStdout(`${lines.join('\n')}\n`);
      }
      if (!report.ok) {
        // Broken metadata is named on the error line too: it is what to fix first.
        const metadata = report.violations.filter((v) => v.kind === 'metadata').map((v) => v.file);
        const named = metadata.length
          ? `; broken metadata: ${metadata.slice(0, 3).join(', ')}${metadata.length > 3 ? `, +${metadata.length - 3} more` : ''}`
          : '';
        throw new ValidationFailedError(
          `${violations} violation${violations === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}${named}`,
        );
      }
    });
}

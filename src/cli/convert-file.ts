import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  CONVERT_COMPRESSIONS,
  CONVERT_INPUT_FORMATS,
  type ConvertCompression,
  type ConvertFileSummary,
  type ConvertInputFormat,
  convertFile,
} from '../ingest/index.js';
import { RunlakeError } from '../lake/index.js';
import { writeStdout } from './common.js';
import { commaList, nonNegativeInteger } from './parse.js';

interface ConvertFileCliOptions {
  format?: ConvertInputFormat;
  float32?: string;
  round?: number;
  dictionary: string;
  compression: ConvertCompression | 'none';
  csv?: boolean;
  json?: boolean;
}

/**
 * `runlake convert-file <in> <out.parquet>`: streams a JSON array, JSONL or CSV file into one
 * compact Parquet file (optional float32 + rounding, dictionary-encoded strings, zstd), atomically.
 *
 * @example
 * ```sh
 * runlake convert-file mask_impact.json mask_impact.parquet --float32 auto --round 4 --csv
 * ```
 */
export function registerConvertFileCommand(program: Command): void {
  program
    .command('convert-file')
    .description('convert a JSON array, JSONL or CSV file into one compact Parquet file (streamed, atomic)')
    .argument('<in>', 'input file: .json (array or JSONL), .jsonl/.ndjson, .csv or .tsv')
    .argument('<out>', 'output Parquet file (replaced atomically; nothing is written on error)')
    .addOption(
      new Option('--format <format>', 'input format instead of the extension').choices(CONVERT_INPUT_FORMATS),
    )
    .option(
      '--float32 <columns>',
      'store floating-point columns as FLOAT: "auto" (every DOUBLE column) or col,col',
    )
    .option(
      '--round <n>',
      'round to n decimals before the float32 cast (without --float32: every DOUBLE column)',
      roundDigits,
    )
    .option(
      '--dictionary <columns>',
      '"auto" (DuckDB decides per row group) or col,col that must be dictionary-encoded',
      'auto',
    )
    .addOption(
      new Option('--compression <codec>', 'Parquet compression')
        .choices([...CONVERT_COMPRESSIONS, 'none'])
        .default('zstd'),
    )
    .option('--csv', 'also write a CSV of the converted values beside the output (out.parquet → out.csv)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nTypes are detected over the whole file (JSON) or the first 20,480 rows (CSV); a column whose type\n' +
        'changes midway is refused with its line and row, except integer → float, which widens to DOUBLE.\n' +
        'See docs/convert-file.md.',
    )
    .action(async (input: string, output: string, options: ConvertFileCliOptions) => {
      const summary = await convertFile(input, output, {
        format: options.format,
        float32: columnChoice(options.float32),
        round: options.round,
        dictionary: columnChoice(options.dictionary),
        compression: options.compression === 'none' ? 'uncompressed' : options.compression,
        csv: options.csv,
      });
      await writeStdout(options.json ? `${JSON.stringify(summary, null, 2)}\n` : describeSummary(summary));
    });
}

function roundDigits(text: string): number {
  const n = nonNegativeInteger(text);
  if (n > 15) throw new InvalidArgumentError(`expected 0 to 15 decimals, got "${text}"`);
  return n;
}

function columnChoice(text: string | undefined): 'auto' | string[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === 'auto') return 'auto';
  const list = commaList(text);
  if (list.length === 0)
    throw new RunlakeError(`expected "auto" or a comma-separated column list, got "${text}"`);
  return list;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function describeSummary(s: ConvertFileSummary): string {
  const lines = [
    `converted ${s.input} → ${s.output}`,
    `  rows        ${s.rows.toLocaleString('en-US')}`,
    `  input       ${bytes(s.inputBytes)} (${s.format})`,
    `  output      ${bytes(s.outputBytes)} (${s.compression}), ${(s.sizeRatio * 100).toFixed(2)}% of the input, ` +
      (s.reduction >= 0
        ? `${(s.reduction * 100).toFixed(2)}% smaller`
        : `larger (Parquet's fixed footer outweighs so small an input)`),
    `  time        ${s.seconds.toFixed(2)} s, ${Math.round(s.rowsPerSecond).toLocaleString('en-US')} rows/s`,
  ];
  if (s.float32Columns.length > 0) {
    lines.push(
      `  float32     ${s.float32Columns.join(', ')}${s.round !== undefined ? ` (rounded to ${s.round} decimals)` : ''}`,
    );
  } else if (s.round !== undefined) lines.push(`  rounded     DOUBLE columns to ${s.round} decimals`);
  lines.push(`  dictionary  ${s.dictionaryColumns.length > 0 ? s.dictionaryColumns.join(', ') : '(none)'}`);
  if (s.categoricalColumns.length > 0) {
    lines.push(
      `  categorical ${s.categoricalColumns.join(', ')} (read as Arrow dictionaries / pandas category)`,
    );
  }
  if (s.csv) lines.push(`  csv         ${s.csv.path} (${bytes(s.csv.bytes)})`);
  return `${lines.join('\n')}\n`;
}

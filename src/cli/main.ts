#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { RunlakeError } from '../lake/index.js';
import { registerAnalyzeCommand } from './analyze.js';
import { registerConvertCommand } from './convert.js';
import { registerConvertFileCommand } from './convert-file.js';
import { registerDemoCommand } from './demo.js';
import { registerEnumCommand } from './enum.js';
import { registerExportViewerCommand } from './export-viewer.js';
import { registerImportCommand } from './import.js';
import { registerInfoCommand } from './info.js';
import { registerIngestCommand } from './ingest.js';
import { registerIngestDatadecide } from './ingest-datadecide.js';
import { registerIngestQa } from './ingest-qa.js';
import { registerIngestWandbCommand } from './ingest-wandb.js';
import { registerMatchCommand } from './match.js';
import { registerQueryCommand } from './query.js';
import { registerSchemaCommand } from './schema.js';
import { registerServeCommand } from './serve.js';
import { registerShardsCommand } from './shards.js';
import { registerValidateCommand } from './validate.js';
import { registerViewCommand } from './view.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/**
 * Builds the `runlake` command tree. Exported for tests; `main` runs it against `process.argv`.
 *
 * @example
 * ```ts
 * await buildProgram().parseAsync(['node', 'runlake', 'info', 'results']);
 * ```
 */
export function buildProgram(): Command {
  const program = new Command()
    .name('runlake')
    .description(
      'One lake for everything a training sweep produces: Hive-partitioned Parquet, grid ids, DuckDB SQL.',
    )
    .version(version)
    .option('--verbose', 'print stack traces on errors')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerQueryCommand(program);
  registerInfoCommand(program);
  registerConvertCommand(program);
  registerConvertFileCommand(program);
  registerImportCommand(program);
  registerValidateCommand(program);
  registerSchemaCommand(program);
  registerEnumCommand(program);
  registerDemoCommand(program);
  registerShardsCommand(program);
  registerAnalyzeCommand(program);
  registerMatchCommand(program);
  registerViewCommand(program);
  registerServeCommand(program);
  registerExportViewerCommand(program);
  const ingest = registerIngestCommand(program);
  registerIngestDatadecide(ingest);
  registerIngestQa(ingest);
  registerIngestWandbCommand(ingest);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander already printed it
    const verbose = argv.includes('--verbose');
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    process.stderr.write(`runlake: ${message}\n`);
    if (verbose && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    else if (!(error instanceof RunlakeError))
      process.stderr.write('(unexpected error; run with --verbose for the stack trace)\n');
    return error instanceof RunlakeError ? 1 : 2;
  }
}

process.exitCode = await main(process.argv);

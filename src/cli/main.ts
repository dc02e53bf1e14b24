#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import {
  duckdbFileSystemError,
  fileSystemError,
  oneLineSqlMessage,
  parquetFileError,
  RunlakeError,
  SqlError,
} from '../lake/index.js';
import { registerAdoptCommand } from './adopt.js';
import { registerAnalyzeCommand } from './analyze.js';
import { registerCompactCommand } from './compact.js';
import { registerConvertCommand } from './convert.js';
import { registerConvertFileCommand } from './convert-file.js';
import { registerDeleteCommand } from './delete.js';
import { registerDemoCommand } from './demo.js';
import { registerEnumCommand } from './enum.js';
import { registerExportViewerCommand } from './export-viewer.js';
import { registerHistoryCommand } from './history.js';
import { registerImportCommand } from './import.js';
import { registerInfoCommand } from './info.js';
import { registerIngestCommand } from './ingest.js';
import { registerIngestDatadecide } from './ingest-datadecide.js';
import { registerIngestQa } from './ingest-qa.js';
import { registerIngestWandbCommand } from './ingest-wandb.js';
import { registerMatchCommand } from './match.js';
import { registerPyramidCommand } from './pyramid.js';
import { registerQueryCommand } from './query.js';
import { registerSchemaCommand } from './schema.js';
import { registerServeCommand } from './serve.js';
import { registerShardsCommand } from './shards.js';
import { registerSyncCommand } from './sync.js';
import { registerVacuumCommand } from './vacuum.js';
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
  registerSyncCommand(program);
  registerInfoCommand(program);
  registerConvertCommand(program);
  registerConvertFileCommand(program);
  registerImportCommand(program);
  registerValidateCommand(program);
  registerCompactCommand(program);
  registerPyramidCommand(program);
  registerVacuumCommand(program);
  registerHistoryCommand(program);
  registerAdoptCommand(program);
  registerDeleteCommand(program);
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
  // Commander prints the usage errors it finds itself; a CommanderError thrown by an action
  // (e.g. an InvalidArgumentError for a missing lake argument) is printed here, never swallowed.
  let commanderPrinted = false;
  const configure = (command: Command) => {
    command.configureOutput({
      writeErr: (text) => {
        commanderPrinted = true;
        process.stderr.write(text);
      },
    });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (!commanderPrinted && error.exitCode !== 0) {
        process.stderr.write(`${error.message.startsWith('error:') ? '' : 'error: '}${error.message}\n`);
      }
      return error.exitCode;
    }
    const verbose = argv.includes('--verbose');
    const named = namedError(error);
    const message = named instanceof Error ? oneLineSqlMessage(named.message) : String(named);
    process.stderr.write(`runlake: ${message}\n`);
    if (verbose && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    else if (!(named instanceof RunlakeError))
      process.stderr.write('(unexpected error; run with --verbose for the stack trace)\n');
    return named instanceof RunlakeError ? 1 : 2;
  }
}

// Errors that reach the top without a name for the thing at fault, named where they can be: an
// errno error (ENOSPC, EROFS, ENOTDIR…) with the path Node recorded, a DuckDB IO error of a full
// or read-only disk with its file. Anything else is returned as it is.
function namedError(error: unknown): unknown {
  // Errors runlake already named (an input file, a row) keep their name; a SqlError only carries
  // DuckDB's text, which may be about a broken part file or a full disk.
  if (error instanceof RunlakeError && !(error instanceof SqlError)) return error;
  const fromFs = fileSystemError(error);
  if (fromFs !== error) return fromFs;
  if (error instanceof Error) {
    const fromDuckdb = duckdbFileSystemError(error.message) ?? parquetFileError(error);
    if (fromDuckdb) return fromDuckdb;
  }
  return error;
}

// A reader that stops early (`runlake query … | head`) closes the pipe: that is the reader's
// choice, not an error, so exit quietly as Unix tools do instead of printing a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
process.exitCode = await main(process.argv);

import { readdirSync, statSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { isLoopbackHost, SERVER_LIMIT_DEFAULTS, startServer } from '../server/index.js';
import { existingLakeDirectory } from './common.js';
import { byteSize, commaList, nonNegativeInteger, positiveInteger } from './parse.js';

/** Options of {@link serveUntilSignal} (the `runlake serve` flags). */
export interface ServeOptions {
  port: number;
  host: string;
  token?: string;
  maxRows: number;
  timeoutMs: number;
  memoryBudget?: number;
  maxBodyBytes?: number;
  maxSqlBytes?: number;
  maxRuns?: number;
  maxAnswerBytes?: number;
  allowHost?: string[];
  allowOrigin?: string[];
  threads?: number;
}

function isEmptyDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

// A token must be something: `--token ""` would otherwise look like protection and be none.
function token(text: string): string {
  if (!/^\S+$/.test(text))
    throw new InvalidArgumentError('the token must be a non-empty string without spaces');
  return text;
}

const MIB = 1024 ** 2;

/**
 * `runlake serve <lake>`: serve a read-only query API (JSON and Arrow) and the web app over a lake,
 * on 127.0.0.1 by default, until SIGINT or SIGTERM.
 *
 * @example
 * ```sh
 * runlake serve results --port 8787 --token s3cret
 * curl -H 'Authorization: Bearer s3cret' 'http://127.0.0.1:8787/api/query?sql=SELECT+count(*)+FROM+runs'
 * ```
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve a read-only query API and the web app over a lake (127.0.0.1 by default)')
    .argument('<lake>', 'lake directory')
    .option('-p, --port <n>', 'port to listen on (0 picks a free one)', nonNegativeInteger, 8787)
    .option('--host <host>', 'interface to bind; 0.0.0.0 exposes the lake to the network', '127.0.0.1')
    .option('--token <token>', 'require this token on every request (Bearer header or ?token=)', token)
    .option(
      '--max-rows <n>',
      'rows a query returns at most (longer results are flagged truncated)',
      positiveInteger,
      SERVER_LIMIT_DEFAULTS.maxRows,
    )
    .option(
      '--timeout-ms <ms>',
      'milliseconds a request may take, query and encoding together',
      positiveInteger,
      SERVER_LIMIT_DEFAULTS.timeoutMs,
    )
    .option(
      '--memory-budget <size>',
      `memory the query process may use, e.g. 4GiB (default ${SERVER_LIMIT_DEFAULTS.memoryBudgetBytes / 1024 ** 3} GiB)`,
      byteSize,
    )
    .option(
      '--max-body-bytes <size>',
      `largest request body (default ${SERVER_LIMIT_DEFAULTS.maxBodyBytes / MIB} MiB)`,
      byteSize,
    )
    .option(
      '--max-sql-bytes <size>',
      `longest SQL text (default ${SERVER_LIMIT_DEFAULTS.maxSqlBytes / 1024} KiB)`,
      byteSize,
    )
    .option(
      '--max-runs <n>',
      `most runs in one metrics request (default ${SERVER_LIMIT_DEFAULTS.maxRuns})`,
      positiveInteger,
    )
    .option(
      '--max-answer-bytes <size>',
      `largest answer (default ${SERVER_LIMIT_DEFAULTS.maxAnswerBytes / MIB} MiB)`,
      byteSize,
    )
    .option(
      '--threads <n>',
      'DuckDB threads for queries (default: one per core; 1 answers many small concurrent requests faster)',
      positiveInteger,
    )
    .option('--allow-host <names>', 'host names to answer to besides IP addresses and localhost', commaList)
    .option(
      '--allow-origin <origins>',
      'origins whose pages may call the API, e.g. https://dash.example.org',
      commaList,
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  runlake serve results\n' +
        '  runlake serve results --port 9000 --token s3cret\n' +
        "  curl 'http://127.0.0.1:8787/api/query?sql=SELECT+*+FROM+runs&format=json'",
    )
    .action(async (lakeDir: string, options: ServeOptions) => {
      // An empty folder is served (a dashboard opened before the first run writes says how to fill
      // it), with a warning; a dataset's folder or another directory that is not a lake is refused.
      if (isEmptyDirectory(lakeDir)) {
        process.stderr.write(`warning: ${lakeDir} is empty, not a lake yet; serving it anyway\n`);
      } else existingLakeDirectory(lakeDir);
      await serveUntilSignal(lakeDir, options);
    });
}

/**
 * Starts the server on a lake, prints its URL, and runs until SIGINT or SIGTERM (`runlake serve`,
 * `runlake demo --serve`).
 *
 * @example
 * ```ts
 * await serveUntilSignal('runlake-demo-squiggle', { port: 8787, host: '127.0.0.1', maxRows: 100_000, timeoutMs: 30_000 });
 * ```
 */
export async function serveUntilSignal(lakeDir: string, options: ServeOptions): Promise<void> {
  const started = await startServer(lakeDir, {
    port: options.port,
    host: options.host,
    token: options.token,
    maxRows: options.maxRows,
    timeoutMs: options.timeoutMs,
    memoryBudgetBytes: options.memoryBudget,
    maxBodyBytes: options.maxBodyBytes,
    maxSqlBytes: options.maxSqlBytes,
    maxRuns: options.maxRuns,
    maxAnswerBytes: options.maxAnswerBytes,
    threads: options.threads,
    allowHosts: options.allowHost,
    allowOrigins: options.allowOrigin,
  });
  process.stdout.write(`runlake serving ${lakeDir} at ${started.url}\n`);
  if (options.token === undefined && !isLoopbackHost(options.host)) {
    process.stderr.write(`warning: ${options.host} is reachable from other machines and no --token is set\n`);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`runlake: ${signal}, shutting down\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      started.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

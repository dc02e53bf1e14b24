import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { IngestLockedError, IngestService, openTrackingLake } from '../ingest/tracking/index.js';
import { isLoopbackHost, listenIngestSocket, SERVER_LIMIT_DEFAULTS, startServer } from '../server/index.js';
import { existingLakeDirectory, writableLakeDirectory } from './common.js';
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
  pyramid?: boolean;
  ingest?: boolean;
  writeToken?: string;
  socket?: string;
  exitWhenIdle?: boolean;
  idleExit?: number;
  foldInterval?: number;
  maxBatchBytes?: number;
  schema?: string;
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
    .option(
      '--no-pyramid',
      "bin every point on each request instead of reading the lake's downsampling pyramid (with --ingest: nor keep one)",
    )
    .option('--ingest', 'also accept tracking writes from runlake.init() clients (docs/tracking.md)')
    .option(
      '--write-token <token>',
      'the token tracking writes must carry over TCP (or RUNLAKE_WRITE_TOKEN); distinct from --token',
      token,
    )
    .option(
      '--socket <path>',
      'with --ingest: serve only tracking writes, on this Unix socket (the local sidecar)',
    )
    .option(
      '--exit-when-idle',
      'with --socket: stop once no client has been connected for --idle-exit seconds',
    )
    .option(
      '--idle-exit <s>',
      'seconds without a client before --exit-when-idle stops the server',
      positiveInteger,
      10,
    )
    .option(
      '--fold-interval <ms>',
      'fold the write-ahead log into Parquet this often',
      nonNegativeInteger,
      1000,
    )
    .option('--max-batch-bytes <size>', 'largest tracking batch (default 16 MiB)', byteSize)
    .option(
      '--schema <set>',
      'with --ingest: what a lake with no schema set yet becomes: squiggle (runs, metrics) or sweep (exp_engine events, seeds)',
      'squiggle',
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
        "  curl 'http://127.0.0.1:8787/api/query?sql=SELECT+*+FROM+runs&format=json'\n" +
        '  runlake serve results --ingest --write-token w1 --host 0.0.0.0 --token r1   # remote tracking\n' +
        '  runlake serve results --ingest --socket /tmp/results.sock --exit-when-idle    # the local sidecar',
    )
    .action(async (lakeDir: string, options: ServeOptions) => {
      if (options.ingest) {
        await serveIngest(lakeDir, options);
        return;
      }
      if (options.socket || options.writeToken) {
        throw new InvalidArgumentError('--socket and --write-token need --ingest');
      }
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
export async function serveUntilSignal(
  lakeDir: string,
  options: ServeOptions,
  ingest?: { service: IngestService; writeToken: string },
): Promise<void> {
  const started = await startServer(lakeDir, {
    ingest: ingest && { ...ingest, maxBatchBytes: options.maxBatchBytes },
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
    pyramid: options.pyramid,
    allowHosts: options.allowHost,
    allowOrigins: options.allowOrigin,
  });
  process.stdout.write(
    `runlake serving ${lakeDir} at ${started.url}${ingest ? ` (tracking writes at ${started.url}api/ingest/v1)` : ''}\n`,
  );
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

/**
 * `runlake serve <lake> --ingest`: the tracking server (docs/tracking.md). With `--socket`, the
 * local sidecar: tracking routes only, on a Unix socket, optionally stopping when its last client
 * has gone. Without, the read API and web app plus tracking routes over TCP, which need
 * `--write-token`. A lake another live server ingests already is one line naming it, exit 3.
 */
async function serveIngest(lakeDir: string, options: ServeOptions): Promise<void> {
  writableLakeDirectory(lakeDir);
  const writeToken = options.writeToken ?? process.env.RUNLAKE_WRITE_TOKEN;
  if (!options.socket && !writeToken) {
    throw new InvalidArgumentError(
      '--ingest over TCP needs --write-token (or RUNLAKE_WRITE_TOKEN): anyone who can reach the port could write otherwise',
    );
  }
  if (options.exitWhenIdle && !options.socket)
    throw new InvalidArgumentError('--exit-when-idle needs --socket');
  const lake = await openTrackingLake(lakeDir, options.schema);
  let service: IngestService;
  try {
    service = await IngestService.open(lake, {
      foldIntervalMs: options.foldInterval,
      address: options.socket ? path.resolve(options.socket) : `http://${options.host}:${options.port}/`,
      onFoldError: (error) =>
        process.stderr.write(
          `runlake: fold failed (kept in the log, retried): ${(error as Error).message}\n`,
        ),
      // --no-pyramid serves without one, so the ingest does not keep one either.
      ...(options.pyramid === false ? { pyramidIntervalMs: 0 } : {}),
      onPyramidError: (error) =>
        process.stderr.write(
          `runlake: pyramid update failed (the metrics are folded; retried): ${(error as Error).message}\n`,
        ),
    });
  } catch (error) {
    lake.close();
    if (error instanceof IngestLockedError) {
      process.stderr.write(`runlake: ${error.message}\n`);
      process.exitCode = 3;
      return;
    }
    throw error;
  }
  try {
    if (!options.socket) {
      await serveUntilSignal(lakeDir, options, { service, writeToken: writeToken as string });
      return;
    }
    let stopRequested: (reason: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => {
      stopRequested = resolve;
    });
    const socket = await listenIngestSocket(service, options.socket, {
      maxBatchBytes: options.maxBatchBytes,
      idleExitMs: options.exitWhenIdle ? (options.idleExit ?? 10) * 1000 : undefined,
      onIdle: () => stopRequested(`no client for ${options.idleExit ?? 10} s`),
    });
    process.stdout.write(`runlake tracking ${lakeDir} at ${socket.path}\n`);
    const onSignal = (signal: NodeJS.Signals) => stopRequested(signal);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const reason = await stopped;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.stderr.write(`runlake: ${reason}, shutting down\n`);
    await socket.close();
  } finally {
    await service.close();
    lake.close();
  }
}

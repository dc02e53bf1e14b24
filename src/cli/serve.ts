import type { Command } from 'commander';
import { startServer } from '../server/index.js';
import { existingLakeDirectory } from './common.js';
import { nonNegativeInteger, positiveInteger } from './parse.js';

/** Options of {@link serveUntilSignal} (the `runlake serve` flags). */
export interface ServeOptions {
  port: number;
  host: string;
  token?: string;
  maxRows: number;
  timeoutMs: number;
}

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
    .option('--token <token>', 'require this token on every request (Bearer header or ?token=)')
    .option(
      '--max-rows <n>',
      'rows a query returns at most (longer results are flagged truncated)',
      positiveInteger,
      100_000,
    )
    .option(
      '--timeout-ms <ms>',
      'milliseconds a query may run before it is interrupted',
      positiveInteger,
      30_000,
    )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  runlake serve results\n' +
        '  runlake serve results --port 9000 --token s3cret\n' +
        "  curl 'http://127.0.0.1:8787/api/query?sql=SELECT+*+FROM+runs&format=json'",
    )
    .action(async (lakeDir: string, options: ServeOptions) => {
      existingLakeDirectory(lakeDir);
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
  });
  process.stdout.write(`runlake serving ${lakeDir} at ${started.url}\n`);
  if (options.token === undefined && !['127.0.0.1', 'localhost', '::1'].includes(options.host)) {
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

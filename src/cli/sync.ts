import { type Command, InvalidArgumentError } from 'commander';
import { syncSpool } from '../ingest/tracking/index.js';
import { RunlakeError } from '../lake/index.js';
import { writeStdout } from './common.js';

interface SyncOptions {
  to: string;
  token?: string;
  keep?: boolean;
}

/**
 * `runlake sync <spool> --to <lake|url>`: uploads what a Python client spooled while the server
 * was unreachable (docs/tracking.md, "The spool"), idempotently; exits 1 naming each client whose
 * frames could not all be uploaded.
 *
 * @example
 * ```sh
 * runlake sync ~/.cache/runlake/spool --to results
 * runlake sync spool/ --to http://tracker:8787 --token "$RUNLAKE_WRITE_TOKEN"
 * ```
 */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description('upload a tracking spool (written while the server was unreachable) to a lake or server')
    .argument('<spool>', 'spool directory (runlake.init(spool=…), RUNLAKE_SPOOL or ~/.cache/runlake/spool)')
    .requiredOption('--to <lake|url>', 'a lake directory, or http(s)://host:port of `runlake serve --ingest`')
    .option('--token <token>', 'the write token of a remote server (or RUNLAKE_WRITE_TOKEN)')
    .option('--keep', 'keep the spooled files after uploading them')
    .action(async (spool: string, options: SyncOptions) => {
      const remote = /^https?:\/\//.test(options.to);
      const token = options.token ?? process.env.RUNLAKE_WRITE_TOKEN;
      if (!remote && options.token) throw new InvalidArgumentError('--token is for a URL target');
      const result = await syncSpool(spool, remote ? { url: options.to, token } : { lake: options.to }, {
        keep: options.keep,
      });
      await writeStdout(
        `synced ${result.clients} client(s): ${result.stored} batch(es) stored, ${result.duplicates} already there\n`,
      );
      if (result.problems.length > 0) {
        throw new RunlakeError(
          `${result.problems.length} client(s) not fully synced:\n${result.problems.join('\n')}`,
        );
      }
    });
}

import type { Command } from 'commander';

/**
 * `runlake ingest <source> …`: the command group of the ingesters (W&B exports, DataDecide
 * results, QA outputs). Each source registers its subcommand on the returned command.
 *
 * @example
 * ```ts
 * const ingest = registerIngestCommand(program);
 * ingest.command('wandb').argument('<files...>').action(…);
 * ```
 */
export function registerIngestCommand(program: Command): Command {
  return program
    .command('ingest')
    .description('load exports of other tools into typed lake datasets (re-ingesting is idempotent)');
}

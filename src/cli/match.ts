import type { Command } from 'commander';
import { Option } from 'commander';
import { matchSignatures, prepareSignaturePool, readSignaturePool } from '../geometry/index.js';
import { RunlakeError } from '../lake/index.js';
import { withLake, writeStdout } from './common.js';
import { renderJson, renderTable } from './output.js';
import { nonNegativeInteger, positiveInteger } from './parse.js';

const METHODS = ['combined', 'dtw', 'cosine', 'edit'] as const;

interface MatchCliOptions {
  run: string;
  layer?: number;
  module?: string;
  descriptor: string;
  top: number;
  method: (typeof METHODS)[number];
  band?: number;
  sameRun?: boolean;
  json?: boolean;
}

/**
 * `runlake match <lake> --run ID`: ranks the signatures of other runs against a run's signatures
 * (DTW, cosine, event edit distance and their combined score) and prints the top K per query.
 *
 * @example
 * ```sh
 * runlake match squiggle-lake --run tiny-s2 --layer 2 --module resid_post --top 5
 * ```
 */
export function registerMatchCommand(program: Command): void {
  program
    .command('match')
    .description(
      "rank other runs' trajectory signatures against a run's (DTW + cosine + event edit distance)",
    )
    .argument('<lake>', 'squiggle lake directory (after runlake analyze)')
    .requiredOption('--run <id>', 'run whose signatures are the queries')
    .option('--layer <n>', 'only the query signatures of this layer', nonNegativeInteger)
    .option('--module <name>', 'only the query signatures of this module')
    .option('--descriptor <name>', 'descriptor whose signatures are matched', 'effective_rank')
    .option('-k, --top <k>', 'candidates per query', positiveInteger, 10)
    .addOption(new Option('--method <m>', 'ranking to print').choices(METHODS).default('combined'))
    .option('--band <n>', 'Sakoe–Chiba band in points (default 10% of the series length)', nonNegativeInteger)
    .option('--same-run', "also match against the run's own other signatures")
    .option('--json', 'print the rows as JSON')
    .action(async (baseOut: string, options: MatchCliOptions) => {
      const rows = await withLake(baseOut, async (lake) => {
        const queries = await readSignaturePool(lake, {
          runId: options.run,
          layer: options.layer,
          module: options.module,
          descriptorSet: options.descriptor,
        });
        if (queries.length === 0) {
          const where = [
            `run "${options.run}"`,
            options.layer !== undefined ? `layer ${options.layer}` : null,
            options.module !== undefined ? `module "${options.module}"` : null,
            `descriptor "${options.descriptor}"`,
          ].filter(Boolean);
          throw new RunlakeError(
            `no signatures for ${where.join(', ')} in ${baseOut} (run \`runlake analyze ${baseOut}\` first)`,
          );
        }
        const pool = prepareSignaturePool(
          await readSignaturePool(lake, { descriptorSet: options.descriptor }),
        );
        const keyOf = new Map(pool.candidates.map((c) => [c.signatureId, c]));
        return queries.flatMap((query) =>
          matchSignatures(query, pool, {
            topK: options.top,
            band: options.band,
            excludeRunIds: options.sameRun ? undefined : new Set([options.run]),
          })
            .filter((m) => m.method === options.method)
            .map((m) => {
              const candidate = keyOf.get(m.candidateSignatureId) as (typeof queries)[number] | undefined;
              return {
                query: `L${query.layer ?? '-'} ${query.module ?? '-'}`,
                rank: m.rank,
                run: m.candidateRunId,
                layer: candidate?.layer ?? null,
                module: candidate?.module ?? null,
                distance: Number(m.distance.toPrecision(4)),
                score: m.score === null ? null : Number(m.score.toPrecision(4)),
                events: candidate?.eventTokens.join(' ') ?? '',
                lag: m.alignment?.query_offset ?? null,
              };
            }),
        );
      });
      await writeStdout(options.json ? renderJson(rows, 'json') : `${renderTable(rows)}\n`);
    });
}

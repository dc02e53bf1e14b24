import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { ANALYZE_STAGES, type AnalyzeStage, analyzeLake } from '../geometry/index.js';
import { withLake, writeStdout } from './common.js';
import { countOf, renderTable } from './output.js';
import { commaList, nonNegativeInteger, positiveInteger } from './parse.js';

interface AnalyzeCliOptions {
  run?: string[];
  stage: AnalyzeStage;
  workers?: number;
  descriptors?: string[];
  matchTop: number;
  progress: boolean;
  json?: boolean;
}

/**
 * `runlake analyze <lake>`: probe embeddings → geometry_state and geometry_dynamics (new
 * checkpoints only, on worker threads) → events, signatures and matches of the runs that changed.
 *
 * @example
 * ```sh
 * runlake analyze squiggle-lake --run pythia-160m-s1 --workers 2
 * ```
 */
export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description(
      'compute geometry, dynamics, events, signatures and matches from probe embeddings (incremental)',
    )
    .argument('<lake>', 'squiggle lake directory')
    .option('--run <id...>', 'analyse only these runs (default: every run with embeddings)')
    .option(
      '--stage <stage>',
      'all; descriptors (state and dynamics only, locking only its runs, so several run at once); ' +
        'trajectories (events, signatures and matches of --run, default every analysed run)',
      stageArgument,
      'all',
    )
    .option(
      '-w, --workers <n>',
      'worker threads for the descriptor stage (default: available cores, ≤ 8)',
      positiveInteger,
    )
    .option(
      '--descriptors <list>',
      'descriptors that get a signature (default effective_rank,intrinsic_dim)',
      commaList,
    )
    .option(
      '--match-top <k>',
      'matches kept per signature and method; 0 skips matching',
      nonNegativeInteger,
      10,
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nIncremental: a checkpoint is analysed once; rerunning after new embeddings arrive processes only\n' +
        'those, then recomputes events, signatures and matches of the runs (and grids) that changed.\n' +
        'See docs/geometry.md.',
    )
    .action(async (baseOut: string, options: AnalyzeCliOptions) => {
      const bar =
        options.progress && process.stderr.isTTY
          ? new SingleBar({
              format: 'analysing [{bar}] {value}/{total} checkpoints | {keys} trajectories',
              stream: process.stderr,
              hideCursor: true,
            })
          : undefined;
      let started = false;
      const summary = await withLake(baseOut, async (lake) => {
        try {
          return await analyzeLake(lake, {
            runs: options.run,
            stage: options.stage,
            workers: options.workers,
            signatureDescriptors: options.descriptors,
            matchTop: options.matchTop,
            onProgress: (p) => {
              if (!bar) return;
              if (!started) {
                bar.start(p.checkpointsTotal, 0, { keys: '' });
                started = true;
              }
              bar.update(p.checkpointsDone, { keys: `${p.keysDone}/${p.keysTotal}` });
            },
          });
        } finally {
          bar?.stop();
        }
      });
      if (options.json) {
        await writeStdout(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      if (options.stage === 'trajectories') {
        if (!summary.stages) lines.push(`no analysed runs in ${baseOut}`);
      } else if (summary.checkpoints === 0) {
        lines.push(`nothing new to analyse in ${baseOut}`);
      } else {
        lines.push(
          `analysed ${summary.checkpoints} checkpoints of ${summary.keys} trajectories on ${summary.workers} ` +
            `worker${summary.workers === 1 ? '' : 's'} in ${summary.seconds.toFixed(1)} s ` +
            `(${(summary.checkpoints / summary.seconds).toFixed(1)} checkpoints/s): ` +
            `${summary.stateRows} geometry_state, ${summary.dynamicsRows} geometry_dynamics rows`,
        );
      }
      if (options.stage === 'descriptors' && summary.runsWritten.length > 0) {
        lines.push(
          `trajectory stages due for ${summary.runsWritten.length} run${summary.runsWritten.length === 1 ? '' : 's'}: ` +
            `runlake analyze ${baseOut} --stage trajectories --run ${summary.runsWritten.join(' ')}`,
        );
      }
      if (summary.stages) {
        const s = summary.stages;
        lines.push(
          `recomputed ${countOf(s.runs.length, 'run')}: ${countOf(s.events, 'event')}, ${countOf(s.signatures, 'signature')}, ${countOf(s.matches, 'match', 'matches')}`,
        );
        const types = Object.entries(s.eventsByType).map(([event_type, events]) => ({ event_type, events }));
        if (types.length > 0) lines.push(renderTable(types));
      }
      for (const problem of summary.problems) lines.push(`skipped: ${problem}`);
      await writeStdout(`${lines.join('\n')}\n`);
    });
}

function stageArgument(text: string): AnalyzeStage {
  if (!(ANALYZE_STAGES as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`expected one of ${ANALYZE_STAGES.join(', ')}, got "${text}"`);
  }
  return text as AnalyzeStage;
}

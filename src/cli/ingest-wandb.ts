import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import {
  ingestWandb,
  WANDB_KINDS,
  WANDB_WIDE_DEFAULTS,
  type WandbIngestSummary,
  type WandbKind,
} from '../ingest/index.js';
import { buildMetricsPyramid, openLake, PYRAMID_WORTH_ROWS } from '../lake/index.js';
import { writeStdout } from './common.js';
import { splitInputsAndLake } from './ingest-datadecide.js';
import { countOf } from './output.js';
import { pyramidLine } from './pyramid.js';

interface IngestWandbOptions {
  kind?: WandbKind;
  runId?: string;
  wide?: string;
  wideTop: number;
  wideView?: string;
  timezone?: string;
  json?: boolean;
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  return n;
}

/**
 * `runlake ingest wandb <files|dir…> <lake>`: loads W&B run-metadata exports into `runs` and
 * history exports into `metrics_scalar` (long form), optionally saving a wide view. Re-ingesting
 * the same export is idempotent; a bad input writes nothing.
 *
 * @example
 * ```sh
 * runlake ingest wandb export/ squiggle-lake --wide train/loss,eval.acc
 * ```
 */
export function registerIngestWandbCommand(ingest: Command): void {
  ingest
    .command('wandb')
    .description(
      'W&B exports (W&B runs_metadata / runs_history, and every dr_wandb export format, as .parquet, .json or .jsonl files or their folder) → runs and metrics_scalar',
    )
    .argument('<inputs...>', 'export files or directories, then the lake directory (created if missing)')
    .addOption(
      new Option('--kind <kind>', 'treat every input as this kind (default: from the columns)').choices(
        WANDB_KINDS,
      ),
    )
    .option('--run-id <id>', 'run of history rows without run_id (a single-run history file)')
    .option('--wide <metrics>', 'save a view pivoting these metrics (comma-separated, or "auto") to columns')
    .option(
      '--wide-top <n>',
      'how many of the most frequent metrics --wide auto picks',
      positiveInteger,
      WANDB_WIDE_DEFAULTS.top,
    )
    .option('--wide-view <name>', `name of the wide view (default ${WANDB_WIDE_DEFAULTS.view})`)
    .option(
      '--timezone <zone>',
      'IANA zone (e.g. America/New_York) of history times written without one (dr_wandb 2025-09 wrote local time); default UTC, with a note',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (args: string[], options: IngestWandbOptions) => {
      const { inputs, lake: baseOut } = splitInputsAndLake(args);
      const wide =
        options.wide === undefined
          ? undefined
          : options.wide.trim() === 'auto'
            ? ('auto' as const)
            : options.wide.split(',');
      const lake = await openLake(baseOut, { schema: 'squiggle' });
      let summary: WandbIngestSummary;
      try {
        summary = await ingestWandb(lake, inputs, {
          kind: options.kind,
          runId: options.runId,
          wide,
          wideTop: options.wideTop,
          wideView: options.wideView,
          timeZone: options.timezone,
        });
      } finally {
        lake.close();
      }
      // A large history is drawn from the downsampling pyramid: build it while the data is at hand.
      const pyramid =
        summary.metricRows >= PYRAMID_WORTH_ROWS
          ? pyramidLine(await buildMetricsPyramid(baseOut))
          : undefined;
      await writeStdout(
        options.json
          ? `${JSON.stringify(pyramid ? { ...summary, pyramid } : summary, null, 2)}\n`
          : `${formatSummary(summary, baseOut)}${pyramid ? `${pyramid}\n` : ''}`,
      );
    });
}

function formatSummary(summary: WandbIngestSummary, baseOut: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `ingested ${summary.files.length} file${summary.files.length === 1 ? '' : 's'} into ${baseOut}: ` +
      `${n(summary.runs)} run${summary.runs === 1 ? '' : 's'} into runs, ` +
      `${countOf(summary.metricRows, 'metric row')} of ${n(summary.historyRuns)} run${summary.historyRuns === 1 ? '' : 's'} into metrics_scalar` +
      (summary.replacedFiles > 0
        ? ` (replaced ${countOf(summary.replacedFiles, 'file')} of an earlier ingest)`
        : ''),
  ];
  for (const f of summary.files) lines.push(`  ${f.file}: ${f.kind}, ${countOf(f.records, 'row')}`);
  for (const f of summary.ignoredFiles)
    lines.push(`  ${f}: ignored (dr_wandb's manifest or state, not rows)`);
  if (summary.skipped.length > 0) {
    const total = summary.skipped.reduce((sum, s) => sum + s.count, 0);
    lines.push(`skipped ${n(total)} values (see docs/ingest.md, "W&B exports"):`);
    for (const s of summary.skipped) lines.push(`  ${s.reason.padEnd(8)} ${s.key} × ${n(s.count)}`);
  }
  for (const t of summary.naiveTimes) {
    lines.push(
      `note: ${t.file}: ${n(t.count)} "${t.column}" times have no time zone; read as ${t.readAs}` +
        (t.readAs === 'UTC'
          ? " (dr_wandb 2025-09 wrote the exporting machine's local time: pass --timezone <IANA zone> of that machine)"
          : ''),
    );
  }
  for (const w of summary.widened) lines.push(`widened ${w.column}: ${w.from.join(' + ')} → ${w.to}`);
  if (summary.wideView) {
    lines.push(`saved view ${summary.wideView.name}: ${summary.wideView.metrics.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

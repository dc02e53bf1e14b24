import {
  type ColumnType,
  InputFileError,
  type Lake,
  quoteIdentifier,
  quoteLiteral,
  RowValidationError,
  RunlakeError,
  validateTypedRows,
} from '../lake/index.js';
import { buildWandbHistory, type WandbHistory, type WandbNaiveTimes } from './wandb-history.js';
import { buildWandbRuns, reconcileWithLake, type WandbRuns, type WandbWidening } from './wandb-metadata.js';
import {
  listWandbInputs,
  readWandbFile,
  type WandbFile,
  type WandbFormat,
  type WandbKind,
} from './wandb-read.js';
import { type WandbSkip, WandbSkipCounter } from './wandb-skips.js';
import { isTimeZone } from './wandb-time.js';

export type { WandbNaiveTimes } from './wandb-history.js';
export { parseWandbJson, toJsonText, WandbJsonError } from './wandb-json.js';
export type { WandbWidening } from './wandb-metadata.js';
export { WANDB_KINDS, type WandbKind } from './wandb-read.js';
export type { WandbSkip, WandbSkipReason } from './wandb-skips.js';
export { epochSecondsTime, isTimeZone, parseIsoTime, WandbTime } from './wandb-time.js';

/**
 * The `stem` of the part files a W&B ingest writes; a re-ingest replaces exactly these.
 *
 * @example
 * ```ts
 * await lake.replace('metrics_scalar', rows, { partition: { run_id: 'r1' }, stem: WANDB_STEM });
 * ```
 */
export const WANDB_STEM = 'wandb';

/**
 * Default name of the wide view, and how many metrics `wide: 'auto'` picks.
 *
 * @example
 * ```ts
 * await lake.query(`SELECT * FROM ${WANDB_WIDE_DEFAULTS.view}`);
 * ```
 */
export const WANDB_WIDE_DEFAULTS = { view: 'metrics_wide', top: 20 } as const;

/** Options for {@link ingestWandb}. */
export interface WandbIngestOptions {
  /** Treat every input as this kind instead of telling it from the columns. */
  readonly kind?: WandbKind;
  /** The run of history rows that carry no `run_id`/`id` (a single-run history file). */
  readonly runId?: string;
  /**
   * Save a wide view pivoting these metrics to DOUBLE columns, one row per (run_id, step); `'auto'`
   * picks the `wideTop` most frequent metrics of this ingest (names starting with `_` left out).
   */
  readonly wide?: readonly string[] | 'auto';
  /** How many metrics `wide: 'auto'` picks (default 20). */
  readonly wideTop?: number;
  /** Name of the wide view (default `metrics_wide`). */
  readonly wideView?: string;
  /**
   * The IANA time zone (`America/New_York`) of history times written without one: dr_wandb's
   * 2025-09 folder export wrote the exporting machine's local time. Default: read as UTC, and
   * reported in `naiveTimes`.
   */
  readonly timeZone?: string;
}

/** One input file of an ingest. */
export interface WandbFileSummary {
  readonly file: string;
  readonly format: WandbFormat;
  readonly kind: WandbKind;
  /** Rows (runs or logged steps) the file holds. */
  readonly records: number;
}

/** What {@link ingestWandb} did. */
export interface WandbIngestSummary {
  readonly files: readonly WandbFileSummary[];
  /** `runs` rows written (one per run of the metadata files). */
  readonly runs: number;
  /** Runs that got `metrics_scalar` rows. */
  readonly historyRuns: number;
  /** `metrics_scalar` rows written. */
  readonly metricRows: number;
  /** Part files of earlier W&B ingests of the same runs that were replaced. */
  readonly replacedFiles: number;
  /** Values that did not become rows or columns, by reason and key. */
  readonly skipped: readonly WandbSkip[];
  /** Flattened metadata columns whose types were widened. */
  readonly widened: readonly WandbWidening[];
  /** The wide view saved, if one was asked for. */
  readonly wideView?: { readonly name: string; readonly metrics: readonly string[] };
  /** History time columns without a zone, and the zone they were read in. */
  readonly naiveTimes: readonly WandbNaiveTimes[];
  /** Files of a directory input left out: dr_wandb's manifest and state files. */
  readonly ignoredFiles: readonly string[];
}

/**
 * Ingests W&B exports into a Squiggle lake: run-metadata files (`runs_metadata`: one row per run
 * with `config`, `summary` and system columns) into `runs`, history files (`runs_history`: one
 * row per logged step) into `metrics_scalar` in long form. Inputs are files or directories
 * (their `.parquet`/`.json`/`.jsonl` files); each file's kind is told from its columns.
 *
 * Everything is read and checked before anything is written, so a bad input (truncated JSON, a
 * history row without `_step`, a metric whose type flips midway, …) writes nothing and names the
 * file, the line or row, and the column. Each run's rows replace the rows earlier W&B ingests
 * wrote for that run (`lake.replace` with stem `wandb`), so re-ingesting an export is idempotent.
 * Give all of one run's history files in one call: a later call replaces that run's history.
 *
 * @example
 * ```ts
 * const lake = await openLake('squiggle-lake', { schema: 'squiggle' });
 * const summary = await ingestWandb(lake, ['export/'], { wide: ['train/loss', 'eval.acc'] });
 * summary.metricRows; // 1234
 * lake.close();
 * ```
 */
export async function ingestWandb(
  lake: Lake,
  inputs: readonly string[],
  options: WandbIngestOptions = {},
): Promise<WandbIngestSummary> {
  const runsDefinition = lake.definition('runs');
  const metricsDefinition = lake.definition('metrics_scalar');
  if (options.timeZone !== undefined && !isTimeZone(options.timeZone)) {
    throw new RunlakeError(
      `--timezone: "${options.timeZone}" is not an IANA time zone (e.g. America/New_York, Europe/Berlin, UTC)`,
    );
  }
  const ignoredFiles: string[] = [];
  const paths = await listWandbInputs(inputs, ignoredFiles);
  const files: WandbFile[] = [];
  for (const file of paths) files.push(await readWandbFile(file, options.kind));

  const skips = new WandbSkipCounter();
  const runs = buildWandbRuns(
    files.filter((f) => f.kind === 'metadata'),
    skips,
  );
  const history = buildWandbHistory(
    files.filter((f) => f.kind === 'history'),
    skips,
    { runId: options.runId, timeZone: options.timeZone },
  );

  // Checks before any write: the lake's existing column types, the schema, the view's metrics.
  const lakeTypes = new Map<string, ColumnType>(
    (lake.datasets.get('runs')?.manifest.columns ?? []).map((c) => [c.name, c.type]),
  );
  const widened = [...runs.widened, ...reconcileWithLake(runs, lakeTypes)];
  checkRunRows(runs, runsDefinition);
  for (const run of history.runs.values()) {
    try {
      validateTypedRows(metricsDefinition, run.rows, new Map(), { run_id: run.runId });
    } catch (error) {
      if (error instanceof RowValidationError) {
        throw new RunlakeError(`history of run ${run.runId}: ${error.message}`);
      }
      throw error;
    }
  }
  const wide = options.wide ? await wideMetrics(lake, history, options.wide, options.wideTop) : undefined;
  const viewName = options.wideView ?? WANDB_WIDE_DEFAULTS.view;

  let replacedFiles = 0;
  for (const { runId, row } of runs.rows) {
    const result = await lake.replace('runs', [row], { partition: { run_id: runId }, stem: WANDB_STEM });
    replacedFiles += result.removedFiles;
  }
  let metricRows = 0;
  for (const run of history.runs.values()) {
    const result = await lake.replace('metrics_scalar', run.rows, {
      partition: { run_id: run.runId },
      stem: WANDB_STEM,
    });
    replacedFiles += result.removedFiles;
    metricRows += result.rowCount;
  }
  if (wide) await lake.saveView(viewName, wideViewSql(wide), wideDescription(wide));

  return {
    files: files.map((f) => ({ file: f.file, format: f.format, kind: f.kind, records: f.records.length })),
    runs: runs.rows.length,
    historyRuns: history.runs.size,
    metricRows,
    replacedFiles,
    skipped: skips.list(),
    widened,
    ...(wide ? { wideView: { name: viewName, metrics: wide } } : {}),
    naiveTimes: history.naiveTimes,
    ignoredFiles,
  };
}

function checkRunRows(runs: WandbRuns, definition: ReturnType<Lake['definition']>): void {
  try {
    validateTypedRows(
      definition,
      runs.rows.map((r) => r.row),
      new Map(),
    );
  } catch (error) {
    if (error instanceof RowValidationError) {
      const source = runs.rows[error.rowIndex];
      throw new InputFileError(
        source?.file ?? '',
        `${source?.where ?? `run ${error.rowIndex}`}: column "${error.column}" of runs: ${error.reason}`,
      );
    }
    throw error;
  }
}

const VIEW_KEYS = new Set(['run_id', 'step', 'wall_time']);

async function wideMetrics(
  lake: Lake,
  history: WandbHistory,
  wide: readonly string[] | 'auto',
  top: number = WANDB_WIDE_DEFAULTS.top,
): Promise<string[]> {
  if (wide === 'auto') {
    if (!Number.isSafeInteger(top) || top < 1)
      throw new RunlakeError(`--wide-top must be a positive integer, got ${top}`);
    let counts = [...history.metricCounts];
    if (counts.length === 0) {
      const rows = await lake.query('SELECT metric_name, count(*) AS n FROM metrics_scalar GROUP BY 1');
      counts = rows.map((r) => [String(r.metric_name), Number(r.n)]);
    }
    const chosen = counts
      .filter(([name]) => !name.startsWith('_') && !VIEW_KEYS.has(name))
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, top)
      .map(([name]) => name);
    if (chosen.length === 0) throw new RunlakeError('--wide auto: there are no metrics to pivot');
    return chosen;
  }
  const names = [...new Set(wide.map((n) => n.trim()).filter((n) => n !== ''))];
  if (names.length === 0) throw new RunlakeError('--wide: name at least one metric (or auto)');
  const clash = names.find((n) => VIEW_KEYS.has(n));
  if (clash) {
    throw new RunlakeError(
      `--wide: a metric named "${clash}" would collide with the view's key column "${clash}"`,
    );
  }
  const missing = names.filter((n) => !history.metricCounts.has(n));
  if (missing.length > 0) {
    const found = await lake.query(
      `SELECT DISTINCT metric_name FROM metrics_scalar WHERE metric_name IN (${missing.map(quoteLiteral).join(', ')})`,
    );
    const inLake = new Set(found.map((r) => String(r.metric_name)));
    const unknown = missing.filter((n) => !inLake.has(n));
    if (unknown.length > 0) {
      const known = [...history.metricCounts.keys()].slice(0, 10).join(', ');
      throw new RunlakeError(
        `--wide: no metric ${unknown.map((n) => `"${n}"`).join(', ')} in this export or the lake` +
          (known ? ` (this export has: ${known}${history.metricCounts.size > 10 ? ', …' : ''})` : ''),
      );
    }
  }
  return names;
}

/**
 * The SQL of the wide view over `metrics_scalar`: one row per (run_id, step), the latest
 * `wall_time`, and one DOUBLE column per metric (`max(value) FILTER (WHERE metric_name = …)`, NULL
 * where the metric was not logged at that step).
 *
 * @example
 * ```ts
 * await lake.saveView('metrics_wide', wideViewSql(['loss', 'eval.acc']));
 * ```
 */
export function wideViewSql(metrics: readonly string[]): string {
  const columns = metrics.map(
    (m) =>
      `CAST(max(value) FILTER (WHERE metric_name = ${quoteLiteral(m)}) AS DOUBLE) AS ${quoteIdentifier(m)}`,
  );
  return [
    `SELECT run_id, step, max(wall_time) AS wall_time, ${columns.join(', ')}`,
    'FROM metrics_scalar',
    `WHERE metric_name IN (${metrics.map(quoteLiteral).join(', ')})`,
    'GROUP BY run_id, step',
  ].join(' ');
}

function wideDescription(metrics: readonly string[]): string {
  return `W&B metrics pivoted to columns, one row per (run_id, step): ${metrics.join(', ')}`;
}

// Summaries of scalar metrics (final, min, max, last step) read with one read-only SQL statement
// through `/api/query`, and how metric names are sorted into groups on the run page: system
// metrics (`system/…`, `gpu…`, `_runtime`, …) apart, the rest by their prefix (`train/`, `eval/`).
import { api, sqlString } from './api.js';

/** One run's summary of one metric. */
export interface MetricSummary {
  readonly run_id: string;
  readonly metric_name: string;
  /** The value at the run's last step (null when that value is not finite). */
  readonly final: number | null;
  /** The smallest and largest finite values (null when there are none). */
  readonly min: number | null;
  readonly max: number | null;
  readonly last_step: number;
  readonly points: number;
}

/** A summary statistic of a metric. */
export type SummaryStat = 'final' | 'min' | 'max';

/**
 * The SQL of the summaries: one row per run and metric, optionally only some runs or metrics.
 * `final` is the value at the largest step; min and max leave NaN and ±inf out.
 *
 * @example
 * ```ts
 * summarySql({ runs: ['r1'] }); // SELECT run_id, metric_name, arg_max(value, step) AS final, … WHERE run_id IN ('r1') …
 * ```
 */
export function summarySql(filter: { runs?: readonly string[]; metrics?: readonly string[] } = {}): string {
  const where: string[] = [];
  if (filter.runs) where.push(`run_id IN (${filter.runs.map(sqlString).join(', ') || 'NULL'})`);
  if (filter.metrics) where.push(`metric_name IN (${filter.metrics.map(sqlString).join(', ') || 'NULL'})`);
  return [
    'SELECT run_id, metric_name,',
    '  arg_max(value, step) AS final,',
    '  min(value) FILTER (WHERE isfinite(value)) AS min,',
    '  max(value) FILTER (WHERE isfinite(value)) AS max,',
    '  max(step) AS last_step, count(*) AS points',
    'FROM metrics_scalar',
    where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    'GROUP BY run_id, metric_name ORDER BY run_id, metric_name',
  ]
    .filter(Boolean)
    .join('\n');
}

interface SummaryRow {
  run_id: string;
  metric_name: string;
  final: number | string | null;
  min: number | string | null;
  max: number | string | null;
  last_step: number | string;
  points: number | string;
}

/** A JSON number cell: the query API sends big integers and non-finite doubles as text. */
function num(value: number | string | null): number | null {
  if (value === null) return null;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/**
 * Reads the summaries of `filter`'s runs and metrics with one query.
 *
 * @example
 * ```ts
 * const rows = await fetchSummaries({ metrics: ['loss'] }); // every run's loss summary
 * ```
 */
export async function fetchSummaries(
  filter: { runs?: readonly string[]; metrics?: readonly string[] } = {},
  signal?: AbortSignal,
): Promise<{ rows: MetricSummary[]; truncated: boolean }> {
  const answer = await api.query<SummaryRow>(summarySql(filter), signal);
  return {
    truncated: answer.truncated,
    rows: answer.rows.map((r) => ({
      run_id: r.run_id,
      metric_name: r.metric_name,
      final: num(r.final),
      min: num(r.min),
      max: num(r.max),
      last_step: num(r.last_step) ?? 0,
      points: num(r.points) ?? 0,
    })),
  };
}

const SYSTEM_METRIC =
  /^(system[/.]|sys[/.]|_)|(^|[/._])(gpu|cpu|memory|mem|disk|network|net|proc|power|temp|temperature)([/._\d]|$)|_runtime$|_timestamp$/i;

/**
 * Whether a metric name looks like a system metric (hardware and bookkeeping, not training):
 * `system/…`, `_runtime`, names with a `gpu`, `cpu`, `memory`, `disk`, `network` part.
 *
 * @example
 * ```ts
 * isSystemMetric('system/gpu.0.memory'); // true
 * isSystemMetric('train/loss'); // false
 * ```
 */
export function isSystemMetric(name: string): boolean {
  return SYSTEM_METRIC.test(name);
}

/**
 * The group a metric is drawn in on the run page: `system` for system metrics, else the part
 * before the first `/` or `.` (`train`, `eval`), else `metrics`.
 *
 * @example
 * ```ts
 * metricGroup('eval/acc'); // 'eval'
 * metricGroup('loss'); // 'metrics'
 * ```
 */
export function metricGroup(name: string): string {
  if (isSystemMetric(name)) return 'system';
  // `train/loss`, or `eval.acc` (a W&B history's nested dict flattened with dots).
  const cut = name.search(/[/.]/);
  return cut > 0 ? name.slice(0, cut) : 'metrics';
}

/** The statistic's value of a summary. */
export function statOf(summary: MetricSummary | undefined, stat: SummaryStat): number | null {
  return summary ? summary[stat] : null;
}

// Summary columns of the runs table (final / min / max of a metric per run), computed in DuckDB
// through the read-only `/api/query`: one statement for every run and every chosen summary, so the
// cost is one scan of the chosen metrics' rows however many runs and columns there are.
import { api, sqlString } from './api.js';
import type { SummarySpec, SummaryStat, SummaryValues } from './runs-model.js';

/** What {@link fetchRunSummaries} answers: the values, and whether the server cut the answer short. */
export interface RunSummaries {
  readonly values: SummaryValues;
  readonly truncated: boolean;
}

const STAT_SQL: Record<SummaryStat, string> = {
  // The value at the run's last step (a diverged run's final NaN included).
  final: 'arg_max(value, step)',
  // NaN and ±inf would win min/max; they are left out (a NaN-only run has none).
  min: 'min(value) FILTER (WHERE isfinite(value))',
  max: 'max(value) FILTER (WHERE isfinite(value))',
};

/**
 * The SQL of {@link fetchRunSummaries}: one row per run and metric with a column per statistic
 * asked for.
 *
 * @example
 * ```ts
 * summarySql([{ stat: 'final', metric: 'loss' }]);
 * // SELECT run_id, metric_name, arg_max(value, step) AS "final" FROM metrics_scalar WHERE metric_name IN ('loss') GROUP BY run_id, metric_name
 * ```
 */
export function summarySql(specs: readonly SummarySpec[]): string {
  const stats = (['final', 'min', 'max'] as const).filter((s) => specs.some((spec) => spec.stat === s));
  const metrics = [...new Set(specs.map((s) => s.metric))];
  return [
    `SELECT run_id, metric_name, ${stats.map((s) => `${STAT_SQL[s]} AS "${s}"`).join(', ')}`,
    `FROM metrics_scalar WHERE metric_name IN (${metrics.map(sqlString).join(', ')})`,
    'GROUP BY run_id, metric_name',
  ].join(' ');
}

/**
 * Computes the summary columns `specs` for every run in one read-only query.
 *
 * @example
 * ```ts
 * const { values } = await fetchRunSummaries([{ stat: 'min', metric: 'loss' }]);
 * values.get('tiny-lr0.001-s0')?.['min:loss']; // 2.31
 * ```
 */
export async function fetchRunSummaries(
  specs: readonly SummarySpec[],
  signal?: AbortSignal,
): Promise<RunSummaries> {
  if (specs.length === 0) return { values: new Map(), truncated: false };
  const answer = await api.query<Record<string, unknown>>(summarySql(specs), signal);
  const values = new Map<string, Record<string, number | null>>();
  for (const row of answer.rows) {
    const runId = String(row.run_id);
    let cells = values.get(runId);
    if (!cells) {
      cells = {};
      values.set(runId, cells);
    }
    for (const spec of specs) {
      if (spec.metric !== row.metric_name) continue;
      const v = row[spec.stat];
      cells[`${spec.stat}:${spec.metric}`] = typeof v === 'number' ? v : v === 'NaN' ? Number.NaN : null;
    }
  }
  return { values, truncated: answer.truncated };
}

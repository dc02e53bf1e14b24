/**
 * Which per-question score says whether an OLMES answer was correct: the task's primary metric.
 * oe-eval records it in each task's `<task>-metrics.json` (`task_config.primary_metric`, the
 * metric its `primary_score` averages); this table is the fallback for predictions that come
 * without that file.
 */

/**
 * DataDecide's primary metric per task, as danielle-rothermel/datadec `configs/olmes.toml`
 * `[metrics.aggregate_primary_metric]` (commit 098d35b) lists it; `mmlu` covers every
 * `mmlu_<subject>` task. Used when no `<task>-metrics.json` with a `task_config.primary_metric`
 * accompanies the predictions.
 *
 * @example
 * ```ts
 * DATADECIDE_PRIMARY_METRICS.arc_easy; // 'acc_per_char'
 * ```
 */
export const DATADECIDE_PRIMARY_METRICS: Readonly<Record<string, string>> = {
  mmlu: 'acc_raw',
  arc_challenge: 'acc_uncond',
  arc_easy: 'acc_per_char',
  boolq: 'acc_raw',
  csqa: 'acc_uncond',
  hellaswag: 'acc_per_char',
  openbookqa: 'acc_uncond',
  piqa: 'acc_per_char',
  socialiqa: 'acc_per_char',
  winogrande: 'acc_raw',
};

/**
 * A task's primary metric from {@link DATADECIDE_PRIMARY_METRICS} (`mmlu_*` as `mmlu`), or
 * undefined for a task DataDecide does not list.
 *
 * @example
 * ```ts
 * dataDecidePrimaryMetric('mmlu_astronomy'); // 'acc_raw'
 * ```
 */
export function dataDecidePrimaryMetric(task: string): string | undefined {
  const name = task.toLowerCase();
  return DATADECIDE_PRIMARY_METRICS[name] ?? (name.startsWith('mmlu_') ? 'acc_raw' : undefined);
}

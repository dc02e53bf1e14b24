// Which metric a chart shows first. W&B-ingested lakes carry bookkeeping metrics (`_runtime`,
// `_step`, `_timestamp`) that sort first by name and mean nothing as a first chart.
/**
 * The metric to show first: `loss` if there is one, else the first name containing `loss` (not
 * starting with `_`), else the first name not starting with `_`, else the first.
 *
 * @example
 * ```ts
 * defaultMetric([
 *   { metric_name: '_runtime', runs: 2, points: 9 },
 *   { metric_name: 'train/loss', runs: 2, points: 9 },
 * ]); // 'train/loss'
 * ```
 */
export function defaultMetric(metrics: readonly { readonly metric_name: string }[]): string | undefined {
  const names = metrics.map((m) => m.metric_name);
  const visible = names.filter((n) => !n.startsWith('_'));
  return names.find((n) => n === 'loss') ?? visible.find((n) => /loss/i.test(n)) ?? visible[0] ?? names[0];
}

/**
 * How the wide DataDecide files name their metric columns, and the one long-form name each gets
 * in `full_eval`. datadec (drothermel/datadec `src/datadec/parsing.py`,
 * `pivot_task_metrics_to_columns`) names a downstream metric `<task>_<metric>`; perplexities are
 * `<set>-valppl` in datadec's files (`PPL_NAME_MAP` in `constants.py`),
 * `eval/<set>-validation/Perplexity` in allenai/DataDecide-ppl-results, and `<set>_valppl` with
 * `-` written `_` in danielle-rothermel/datadec's processed table (`config/ppl.py`, 00daa4b). All
 * land as task `<set>` (DataDecide's spelling, e.g. `dolma_common-crawl`), metric `perplexity`,
 * so a checkpoint ingested from any of the files gives the same `full_eval` rows.
 */
import { DATADECIDE_METRICS } from '../schema/index.js';

/**
 * The metric names datadec spreads into `<task>_<metric>` columns (its `METRIC_NAMES`, commit
 * 6207b06), plus the keys it drops (`DROP_METRICS`), which other wide exports may keep.
 *
 * @example
 * ```ts
 * DATADEC_METRIC_NAMES.includes('norm_correct_prob_per_char'); // true
 * ```
 */
export const DATADEC_METRIC_NAMES: readonly string[] = [
  // datadec's METRIC_NAMES are the 28 OLMES metrics `full_eval_wide` pivots.
  ...DATADECIDE_METRICS,
  'predicted_index_raw',
  'predicted_index_per_token',
  'predicted_index_per_char',
  'predicted_index_per_byte',
  'predicted_index_uncond',
  'logits_per_byte_corr',
];

/**
 * The downstream tasks DataDecide evaluates (OLMES cloze formulation), besides the `mmlu_*`
 * subjects: a column that starts with one of them (or `mmlu_`) and a `_` is a metric column even
 * when its metric name is not in {@link DATADEC_METRIC_NAMES}, so a new metric is ingested rather
 * than mistaken for a model or dataset feature.
 *
 * @example
 * ```ts
 * DATADEC_TASKS.includes('arc_easy'); // true
 * ```
 */
export const DATADEC_TASKS: readonly string[] = [
  'arc_challenge',
  'arc_easy',
  'boolq',
  'csqa',
  'hellaswag',
  'openbookqa',
  'piqa',
  'socialiqa',
  'winogrande',
];

/**
 * `full_eval.metric_name` of every perplexity row.
 *
 * @example
 * ```ts
 * await lake.query(`SELECT task, value FROM full_eval WHERE metric_name = '${PERPLEXITY_METRIC}'`);
 * ```
 */
export const PERPLEXITY_METRIC = 'perplexity';

/**
 * Where a wide column's values go in `full_eval`.
 *
 * @example
 * ```ts
 * const { task, metricName } = wideMetricColumn('arc_easy_acc_raw') as WideMetricColumn;
 * ```
 */
export interface WideMetricColumn {
  readonly task: string;
  readonly metricName: string;
  /** Which spelling the column had. */
  readonly kind: 'downstream' | 'datadec-perplexity' | 'raw-perplexity' | 'processed-perplexity';
}

// Longest first, so `arc_easy_norm_correct_prob` splits at `norm_correct_prob`, not `correct_prob`.
const BY_LENGTH = [...DATADEC_METRIC_NAMES].sort((a, b) => b.length - a.length);
const RAW_PERPLEXITY = /^eval\/(.+)-validation\/Perplexity$/;
const DATADEC_PERPLEXITY = /^(.+)-valppl$/;
const PROCESSED_PERPLEXITY = /^(.+)_valppl$/;

/**
 * DataDecide's perplexity validation sets, as its ppl results spell them
 * (`eval/<set>-validation/Perplexity`).
 *
 * @example
 * ```ts
 * DATADECIDE_PERPLEXITY_SETS.includes('dolma_common-crawl'); // true
 * ```
 */
export const DATADECIDE_PERPLEXITY_SETS: readonly string[] = [
  'wikitext_103',
  'pile',
  'c4_en',
  'm2d2_s2orc',
  'ice',
  'dolma_wiki',
  'dolma_stack',
  'dolma_reddit',
  'dolma_pes2o',
  'dolma_common-crawl',
  'dolma_books',
];
// The processed table writes `-` as `_`; map its names back to DataDecide's.
const SET_BY_UNDERSCORED = new Map(DATADECIDE_PERPLEXITY_SETS.map((set) => [set.replaceAll('-', '_'), set]));

/**
 * The task and metric a wide column holds, or undefined when the column is not a metric column
 * (an id, LR or feature column). Perplexities, in either spelling, become task `<set>` and
 * metric `perplexity`; `<task>_<metric>` splits at the longest known metric name, else after a
 * known task.
 *
 * @example
 * ```ts
 * wideMetricColumn('c4_en-valppl'); // { task: 'c4_en', metricName: 'perplexity', kind: 'datadec-perplexity' }
 * wideMetricColumn('eval/c4_en-validation/Perplexity'); // { task: 'c4_en', metricName: 'perplexity', kind: 'raw-perplexity' }
 * wideMetricColumn('dolma_common_crawl_valppl'); // { task: 'dolma_common-crawl', metricName: 'perplexity', kind: 'processed-perplexity' }
 * wideMetricColumn('mmlu_average_acc_raw'); // { task: 'mmlu_average', metricName: 'acc_raw', kind: 'downstream' }
 * wideMetricColumn('lr_max'); // undefined
 * ```
 */
export function wideMetricColumn(column: string): WideMetricColumn | undefined {
  const raw = RAW_PERPLEXITY.exec(column);
  if (raw) return { task: raw[1] as string, metricName: PERPLEXITY_METRIC, kind: 'raw-perplexity' };
  const datadec = DATADEC_PERPLEXITY.exec(column);
  if (datadec) {
    return { task: datadec[1] as string, metricName: PERPLEXITY_METRIC, kind: 'datadec-perplexity' };
  }
  const processed = PROCESSED_PERPLEXITY.exec(column);
  if (processed) {
    const set = processed[1] as string;
    return {
      task: SET_BY_UNDERSCORED.get(set) ?? set,
      metricName: PERPLEXITY_METRIC,
      kind: 'processed-perplexity',
    };
  }
  for (const metric of BY_LENGTH) {
    if (column.length > metric.length + 1 && column.endsWith(`_${metric}`)) {
      return { task: column.slice(0, -metric.length - 1), metricName: metric, kind: 'downstream' };
    }
  }
  for (const task of DATADEC_TASKS) {
    if (column.startsWith(`${task}_`)) {
      return { task, metricName: column.slice(task.length + 1), kind: 'downstream' };
    }
  }
  // An mmlu subject is itself `mmlu_<words>`, so an unknown metric cannot be split off it.
  return undefined;
}

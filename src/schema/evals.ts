/**
 * Ingested evaluation datasets of the Squiggle lake: DataDecide's per-checkpoint downstream
 * results (`full_eval`, long form) and per-question QA outputs (`qa_outputs`), with the views
 * that aggregate them. They live in the training-run lake so evals join runs and metrics.
 */
import {
  type ColumnDefinition,
  type ColumnType,
  type DatasetDefinition,
  defineDataset,
  t,
  type ViewDefinition,
} from '../lake/index.js';

function key(name: string, type: ColumnType, description: string): ColumnDefinition {
  return { name, type, nullable: false, description };
}
function value(name: string, type: ColumnType, description: string): ColumnDefinition {
  return { name, type, nullable: true, description };
}

/**
 * `full_eval`: DataDecide evaluation results, one row per (model size, data recipe, task,
 * checkpoint step, seed, metric): downstream metrics and perplexities, from the Hugging Face
 * releases and from datadec's wide outputs alike (long form, because the metric keys differ
 * between tasks, releases and datadec versions). Perplexities are task `<validation set>`,
 * metric `perplexity`.
 *
 * @example
 * ```ts
 * await lake.query(`SELECT data, value FROM full_eval WHERE params = '150M' AND task = 'arc_easy'
 *   AND metric_name = 'acc_per_char' AND step = 37500`);
 * ```
 */
export const FULL_EVAL = defineDataset({
  name: 'full_eval',
  description:
    'DataDecide eval results (downstream metrics and perplexities) in long form: one row per (params, data, task, step, seed, metric)',
  partitionBy: [
    {
      name: 'params',
      type: t.string,
      description: 'model size as DataDecide labels it: 4M, 6M, … 150M, 300M, 530M, 750M, 1B',
    },
  ],
  partitionReason:
    'By model size only: DataDecide decisions compare data recipes at one size, so a query reads one ' +
    'size directory; 14 sizes keep directories few. Not data (25 recipes × 14 sizes would make ' +
    'hundreds of small directories) and not task or metric: files are sorted by (data, task, ' +
    'metric_name, step), so Parquet row-group statistics skip the rest.',
  sortBy: ['data', 'task', 'metric_name', 'step'],
  columns: [
    key('data', t.string, 'pretraining data recipe, e.g. Dolma1.7, DCLM-Baseline (QC 10%)'),
    key(
      'task',
      t.string,
      'evaluation task, e.g. arc_challenge, mmlu_astronomy (OLMES cloze formulation), mmlu_average (datadec); ' +
        'for a perplexity the validation set, e.g. c4_en, dolma_books',
    ),
    key('step', t.int64, 'training step of the checkpoint evaluated'),
    key(
      'seed',
      t.int32,
      "seed as datadec's index (its SEED_MAP: default = 0, small aux 2 = 1, small aux 3 = 2, large aux 2 = 3, " +
        'large aux 3 = 4); a DataDecide name or training seed (seed-14, OLMES directories) maps through the one ' +
        'seed table, an integer in a file is this index',
    ),
    value(
      'seed_name',
      t.string,
      "DataDecide's name of the seed (default, small aux 2, …), whichever way the file gave it",
    ),
    value('tokens', t.int64, 'training tokens seen up to this checkpoint'),
    value(
      'compute',
      t.float64,
      'training compute up to this checkpoint, in FLOPs (about 6 · parameters · tokens)',
    ),
    value(
      'chinchilla',
      t.string,
      'the chinchilla column as the file gives it (numbers as their decimal text)',
    ),
    value(
      'chinchilla_multiple',
      t.float64,
      'the chinchilla column as a multiple of the Chinchilla-optimal token budget (20 tokens per parameter): ' +
        '5 for "5xC" or 5; null when the text is not of that form',
    ),
    value('lr_at_step', t.float64, 'learning rate at this step, where the file has the LR-curve columns'),
    value('cumulative_lr', t.float64, 'sum of the learning rate over steps up to this one, where present'),
    value(
      'features',
      t.string,
      "datadec's model and dataset feature columns of the source row (total_steps, lr_max, d_model, …, " +
        "pct_code, …) as a JSON object, NaN as null; null for files without them. Query: features->>'lr_max'",
    ),
    key(
      'metric_name',
      t.string,
      'key of the metrics dict; keys of nested dicts join with "." (and list items by index)',
    ),
    value(
      'value',
      t.float64,
      'the metric as a number: ints and floats as DOUBLE, True/False as 1/0, NaN and ±Inf kept; null for None or text ' +
        '(a null or NaN cell of a wide file is no result and gives no row)',
    ),
    value('value_text', t.string, 'the metric when it is text (then value is null)'),
    key(
      'source_file',
      t.string,
      'base name of the Parquet file the row came from (the unit re-ingest replaces)',
    ),
    key('source_row', t.int64, '0-based row of that file'),
  ],
  checks: [
    {
      name: 'one_value_kind',
      description: 'a metric is a number or text, not both',
      sql: 'value IS NULL OR value_text IS NULL',
      columns: ['value', 'value_text'],
    },
  ],
});

/**
 * `qa_outputs`: per-question evaluation outputs, one row per (task, run, instance), with the
 * prediction, the label, whether it was correct and every numeric per-instance score.
 *
 * @example
 * ```ts
 * await lake.query(`SELECT run_id, avg(correct::INT) FROM qa_outputs WHERE task = 'arc_easy' GROUP BY 1`);
 * ```
 */
export const QA_OUTPUTS = defineDataset({
  name: 'qa_outputs',
  description: 'per-question eval outputs: one row per (task, run, instance)',
  partitionBy: [{ name: 'task', type: t.string, description: 'evaluation task, e.g. arc_challenge, boolq' }],
  partitionReason:
    'By task: the common queries compare runs on one task, and tasks are tens where runs (model × ' +
    'checkpoint) are thousands, so a directory per run would mean thousands of tiny ones. Files ' +
    'are sorted by (run_id, instance_id).',
  sortBy: ['run_id', 'instance_id'],
  key: ['task', 'run_id', 'instance_id'],
  columns: [
    key(
      'run_id',
      t.string,
      'run (model checkpoint) the outputs are of; joins runs.run_id when the run is in the lake',
    ),
    value(
      'params',
      t.string,
      'model size from an OLMES path <recipe>/<params>/seed-<N>/step-<N> (e.g. 150M; joins full_eval.params); null for other paths',
    ),
    value(
      'data',
      t.string,
      'DataDecide display name of the recipe directory (e.g. DCLM-Baseline; joins full_eval.data); null when the slug is not DataDecide’s',
    ),
    value('recipe', t.string, 'the recipe directory of an OLMES path, as written (e.g. dclm-baseline)'),
    value(
      'seed',
      t.int32,
      'datadec seed index of the seed-<N> directory (seed-2 = 0 default, seed-14 = 1 small aux 2, seed-15 = 2 small aux 3, ' +
        'seed-4 = 3 large aux 2, seed-5 = 4 large aux 3; joins full_eval.seed); null for other seeds',
    ),
    value('seed_name', t.string, 'DataDecide name of that seed (e.g. small aux 2), as full_eval.seed_name'),
    value('training_seed', t.int32, 'the N of the seed-<N> directory, as written'),
    value('step', t.int64, 'training step of the step-<N> directory (joins full_eval.step)'),
    key(
      'instance_id',
      t.string,
      'question id within the task (the record’s instance_id, native_id, doc_id or id, as text)',
    ),
    value('doc_id', t.int64, 'integer position of the question in the task, when the record has one'),
    value('prediction', t.string, 'the model’s answer (text; other JSON values as their JSON text)'),
    value('label', t.string, 'the gold answer (text; other JSON values as their JSON text)'),
    value(
      'correct',
      t.bool,
      'whether the prediction was judged correct: the record’s correct field, else its primary-metric score ' +
        '(OLMES: task_config.primary_metric of <task>-metrics.json, else DataDecide’s table) when 0/1; null when unjudged',
    ),
    value(
      'correct_from',
      t.string,
      'what decided correct: the field (correct, is_correct), the score (e.g. acc_per_char), or "prediction = label"',
    ),
    key(
      'score_names',
      t.list(t.string),
      'names of the numeric per-question scores (nested keys joined with ".")',
    ),
    key('score_values', t.list(t.float64), 'the scores, in the order of score_names (True/False as 1/0)'),
    value('extra_json', t.string, 'every other field of the record, as JSON (e.g. model_output, task_hash)'),
    key(
      'source_file',
      t.string,
      'JSONL file the row came from, relative to the directory ingested; an archive member as <archive>!<member>',
    ),
    key('source_line', t.int64, '1-based line of that file'),
  ],
  checks: [
    {
      name: 'scores_paired',
      description: 'score_names and score_values have the same length',
      sql: 'len(score_names) = len(score_values)',
      columns: ['score_names', 'score_values'],
    },
  ],
});

/**
 * The ingested evaluation datasets, in the order docs list them.
 *
 * @example
 * ```ts
 * EVAL_DATASETS.map((d) => d.name); // ['full_eval', 'qa_outputs']
 * ```
 */
export const EVAL_DATASETS: readonly DatasetDefinition[] = [FULL_EVAL, QA_OUTPUTS];

/**
 * The metric names DataDecide's OLMES results carry, which `full_eval_wide` turns into columns.
 *
 * @example
 * ```ts
 * DATADECIDE_METRICS.includes('acc_per_char'); // true
 * ```
 */
export const DATADECIDE_METRICS: readonly string[] = [
  'primary_metric',
  'acc_raw',
  'acc_per_token',
  'acc_per_char',
  'acc_per_byte',
  'acc_uncond',
  'correct_choice',
  'no_answer',
  'sum_logits_corr',
  'logits_per_token_corr',
  'logits_per_char_corr',
  'bits_per_byte_corr',
  'correct_prob',
  'correct_prob_per_token',
  'correct_prob_per_char',
  'margin',
  'margin_per_token',
  'margin_per_char',
  'total_prob',
  'total_prob_per_token',
  'total_prob_per_char',
  'uncond_correct_prob',
  'uncond_correct_prob_per_token',
  'uncond_correct_prob_per_char',
  'uncond_total_prob',
  'norm_correct_prob',
  'norm_correct_prob_per_token',
  'norm_correct_prob_per_char',
];

const SEED_AGGREGATE = (statistic: string) =>
  `SELECT params, data, task, step, metric_name, count(value) AS n_seeds, ${statistic} AS value,\n` +
  '       any_value(tokens) AS tokens, any_value(compute) AS compute,\n' +
  '       any_value(chinchilla_multiple) AS chinchilla_multiple,\n' +
  '       any_value(lr_at_step) AS lr_at_step, any_value(cumulative_lr) AS cumulative_lr\n' +
  // NaN is skipped like null, as pandas' mean and std skip it (datadec's mean_eval / std_eval).
  'FROM full_eval WHERE value IS NOT NULL AND NOT isnan(value)\n' +
  'GROUP BY params, data, task, step, metric_name';

/**
 * The views every Squiggle lake gets over the ingested eval datasets: seed aggregates of
 * `full_eval`, its wide form, the QA scores in long form and the per-task QA summary.
 *
 * @example
 * ```ts
 * await lake.query("SELECT data, value FROM mean_eval WHERE params = '1B' AND metric_name = 'primary_metric'");
 * ```
 */
export const EVAL_VIEWS: readonly ViewDefinition[] = [
  {
    name: 'mean_eval',
    description:
      'full_eval averaged over seeds: one row per (params, data, task, step, metric) with the mean value and ' +
      'n_seeds, the seeds with a numeric value (NaN skipped, as pandas does); tokens, compute and the LR columns ' +
      '(equal for every seed) are kept',
    sql: SEED_AGGREGATE('avg(value)'),
  },
  {
    name: 'std_eval',
    description:
      'full_eval spread over seeds: as mean_eval, with value the sample standard deviation over seeds ' +
      "(null when only one seed has the checkpoint, NaN when a seed's value is infinite, as pandas gives)",
    // DuckDB's stddev_samp raises "out of range" on ±inf; pandas' std of a group holding one is
    // NaN, so such a group is NaN here and the other groups' spread is computed as before.
    sql: SEED_AGGREGATE(
      "CASE WHEN count(value) < 2 THEN NULL WHEN bool_or(isinf(value)) THEN 'NaN'::DOUBLE\n" +
        '       ELSE stddev_samp(value) FILTER (WHERE NOT isinf(value)) END',
    ),
  },
  {
    name: 'full_eval_wide',
    description:
      'full_eval in wide form: one row per (params, data, task, step, seed) and one DOUBLE column per ' +
      'DataDecide OLMES metric, and perplexity for the perplexity rows (task = validation set; other metrics stay in full_eval)',
    sql:
      'SELECT params, data, task, step, seed, any_value(tokens) AS tokens, any_value(compute) AS compute,\n' +
      '       any_value(lr_at_step) AS lr_at_step, any_value(cumulative_lr) AS cumulative_lr,\n' +
      // 'perplexity' is the metric of every perplexity row (PERPLEXITY_METRIC of the DataDecide ingest).
      [...DATADECIDE_METRICS, 'perplexity']
        .map((m) => `       max(value) FILTER (WHERE metric_name = '${m}') AS ${m}`)
        .join(',\n') +
      '\nFROM full_eval\nGROUP BY params, data, task, step, seed',
  },
  {
    name: 'qa_scores',
    description: 'qa_outputs scores in long form: one row per (task, run, instance, score)',
    sql:
      'SELECT task, run_id, instance_id, unnest(score_names) AS score_name, unnest(score_values) AS score_value\n' +
      'FROM qa_outputs',
  },
  {
    name: 'qa_task_summary',
    description:
      'per task and run: the OLMES checkpoint (params, data, recipe, seed, step; null for other runs), questions (n), ' +
      'questions judged (n_judged), n_correct, accuracy = n_correct / n_judged, ' +
      "and mean_scores, a MAP from score name to its mean (mean_scores['acc_per_char'])",
    sql:
      'WITH per_score AS (\n' +
      '  SELECT task, run_id, name AS score_name, avg(score) AS mean_score\n' +
      '  FROM (SELECT task, run_id, unnest(score_names) AS name, unnest(score_values) AS score FROM qa_outputs)\n' +
      '  GROUP BY task, run_id, name\n' +
      '), scores AS (\n' +
      '  SELECT task, run_id, map(list(score_name ORDER BY score_name), list(mean_score ORDER BY score_name)) AS mean_scores\n' +
      '  FROM per_score GROUP BY task, run_id\n' +
      ')\n' +
      'SELECT o.task, o.run_id, any_value(o.params) AS params, any_value(o.data) AS data,\n' +
      '       any_value(o.recipe) AS recipe, any_value(o.seed) AS seed, any_value(o.step) AS step,\n' +
      '       count(*) AS n, count(o.correct) AS n_judged,\n' +
      '       count(*) FILTER (WHERE o.correct) AS n_correct, avg(o.correct::DOUBLE) AS accuracy,\n' +
      '       any_value(s.mean_scores) AS mean_scores\n' +
      'FROM qa_outputs o LEFT JOIN scores s ON s.task = o.task AND s.run_id = o.run_id\n' +
      'GROUP BY o.task, o.run_id',
  },
];

/**
 * exp_engine's analysis views, rebuilt for runlake: `events_summary`, `seeds_summary`,
 * `seeds_from_events` and `events_workload` over a sweep lake's `events`, `seeds` and `grids`.
 *
 * exp_engine looked at the columns a lake has before it wrote a view's SQL (an aggregate of a
 * column that does not exist would fail the whole view), and so does this module: it is pure —
 * the columns go in, view definitions come out — and the lake calls it again whenever the
 * columns of `events` or `seeds` change.
 *
 * Regret is read the way exp_engine's lineage-A writer leaves it: that writer filled a missing
 * `regret` from `cum_regret`, then from `regret_increment`, and a missing `cum_regret` from the
 * filled `regret`. Files written without that step (exp_engine's event-only lineage, pandas
 * scripts, runlake before its writer did it) get the same fill here, at read time, so they give
 * the same summaries. Filling an already-filled value changes nothing, so lakes written either
 * way agree.
 */
import { quoteIdentifier } from './column-types.js';
import type { ViewDefinition } from './views.js';

/** A column of a dataset as DuckDB describes it (`DESCRIBE events`). */
export interface ViewSourceColumn {
  readonly name: string;
  /** DuckDB's type name, e.g. `DOUBLE`, `BIGINT`, `VARCHAR`, `BOOLEAN`. */
  readonly type: string;
}

/**
 * The columns of the tables exp_engine's views read. A dataset without files is left out
 * (`undefined`): its views are not built.
 */
export interface SweepViewColumns {
  readonly events?: readonly ViewSourceColumn[];
  readonly seeds?: readonly ViewSourceColumn[];
  readonly grids?: readonly ViewSourceColumn[];
}

/**
 * The views {@link sweepViews} can build, in the order it creates them.
 *
 * @example
 * ```ts
 * (await lake.views()).filter((v) => SWEEP_VIEW_NAMES.includes(v.name));
 * ```
 */
export const SWEEP_VIEW_NAMES: readonly string[] = [
  'events_summary',
  'seeds_summary',
  'seeds_from_events',
  'events_workload',
];

/** Columns whose row order gives "the last row" of a run, most specific first. */
const ORDER_COLUMNS = ['event', 'event_id', 'step'] as const;
/** The event-only lineage orders its workload by `event_id`; the other names are accepted too. */
const WORKLOAD_ORDER_COLUMNS = ['event_id', 'event', 'step'] as const;

/** The per-run columns lineage B's `events_summary` summarises with avg/min/max, in its order. */
const B_NUMERIC_COLUMNS = [
  'loss',
  'acc',
  'step',
  'timestamp',
  'sample_id',
  'segment_id',
  'noise',
  'rho_step',
  'rho_spent',
  'sigma_step',
  'sigma_delete',
] as const;

/** What `seeds_summary` groups by, as exp_engine did. */
const SEEDS_SUMMARY_GROUP = ['grid_id', 'algo', 'accountant', 'gamma_bar', 'gamma_split'] as const;

const NUMERIC_TYPE = /^(U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)$/i;

/**
 * The columns of one table, by name, with helpers that quote them and substitute NULL for the
 * ones that are absent.
 */
class Columns {
  readonly #types = new Map<string, string>();

  constructor(
    readonly columns: readonly ViewSourceColumn[],
    /** The table alias to qualify columns with (`e.`), or '' for none. */
    readonly alias = '',
  ) {
    for (const c of columns) this.#types.set(c.name, c.type);
  }

  /** The same columns, qualified with a table alias. */
  qualified(alias: string): Columns {
    return new Columns(this.columns, alias);
  }

  has(name: string): boolean {
    return this.#types.has(name);
  }

  numeric(name: string): boolean {
    return NUMERIC_TYPE.test(this.#types.get(name) ?? '');
  }

  type(name: string): string | undefined {
    return this.#types.get(name);
  }

  /** The column, quoted and qualified; NULL when the table lacks it. */
  ref(name: string): string {
    if (!this.has(name)) return 'NULL';
    return `${this.alias ? `${this.alias}.` : ''}${quoteIdentifier(name)}`;
  }

  first(names: readonly string[]): string | undefined {
    return names.find((n) => this.has(n));
  }

  /** `coalesce` over the columns among `names` that exist, or undefined when none does. */
  coalesce(names: readonly string[]): string | undefined {
    const present = names.filter((n) => this.has(n)).map((n) => this.ref(n));
    if (present.length === 0) return undefined;
    return present.length === 1 ? present[0] : `coalesce(${present.join(', ')})`;
  }

  /** The per-event regret as exp_engine A's writer leaves it, or undefined without any. */
  regret(): string | undefined {
    return this.coalesce(['regret', 'cum_regret', 'regret_increment']);
  }

  /** The cumulative regret as exp_engine A's writer leaves it (`cum_regret`, else the regret). */
  cumRegret(): string | undefined {
    return this.coalesce(['cum_regret', 'regret', 'regret_increment']);
  }
}

const alias = (expression: string, name: string) => `${expression} AS ${quoteIdentifier(name)}`;

/** The value of `value` on the run's last row by `order`, or its maximum when there is no order. */
const lastOrMax = (value: string, order: string | undefined) =>
  order ? `arg_max(${value}, ${quoteIdentifier(order)})` : `max(${value})`;

const countWhere = (condition: string) => `sum(CASE WHEN ${condition} THEN 1 ELSE 0 END)`;

/**
 * The SELECT list of `events_summary`: exp_engine A's columns, then the ones the event-only
 * lineage B added (their names never clash, so one view carries both).
 */
function eventsSummarySelect(events: Columns): string[] {
  const order = events.first(ORDER_COLUMNS);
  const regret = events.regret();
  const cum = events.cumRegret();
  const select = [alias('grid_id', 'grid_id'), alias('seed', 'seed'), alias('count(*)', 'total_events')];
  if (events.has('op')) {
    select.push(
      alias(countWhere(`op = 'insert'`), 'inserts'),
      alias(countWhere(`op = 'delete'`), 'deletions'),
    );
  }
  // "Average regret" of a run is the mean of its cumulative curve, as exp_engine's CSV rollup had it.
  if (regret) select.push(alias(`avg(${regret})`, 'avg_regret_empirical'));
  // The last value, not the largest: a cumulative curve can come down (deletions refund regret).
  if (cum) select.push(alias(lastOrMax(cum, order), 'final_cum_regret'));
  if (regret) {
    select.push(
      alias(`avg(${regret})`, 'avg_regret_per_event'),
      alias(countWhere(`${regret} < 0`), 'negative_regret_count'),
    );
  }
  for (const name of B_NUMERIC_COLUMNS) {
    if (!events.has(name)) continue;
    const column = events.ref(name);
    if (name === 'timestamp') {
      select.push(alias(`min(${column})`, 'start_timestamp'), alias(`max(${column})`, 'end_timestamp'));
      continue;
    }
    // avg of a text column is a type error that would cost the whole view; its min/max still say something.
    if (events.numeric(name)) select.push(alias(`avg(${column})`, `avg_${name}`));
    select.push(alias(`min(${column})`, `min_${name}`), alias(`max(${column})`, `max_${name}`));
  }
  if (events.has('sc_stable')) {
    const column = events.ref('sc_stable');
    const truth = /^BOOLEAN$/i.test(events.type('sc_stable') ?? '')
      ? column
      : `TRY_CAST(${column} AS BOOLEAN)`;
    select.push(
      alias(`min(${column})`, 'min_sc_stable'),
      alias(`max(${column})`, 'max_sc_stable'),
      alias(countWhere(truth), 'count_true_sc_stable'),
    );
  }
  return select;
}

/** The SELECT list of `seeds_from_events`: exp_engine's per-seed rollup computed from events. */
function seedsFromEventsSelect(events: Columns): string[] {
  const order = events.first(ORDER_COLUMNS);
  const regret = events.regret();
  const select = [alias('grid_id', 'grid_id'), alias('seed', 'seed')];
  if (regret) select.push(alias(`avg(${regret})`, 'avg_regret_empirical'));
  if (events.has('op')) {
    select.push(
      alias(countWhere(`op = 'insert'`), 'N_star_emp'),
      alias(countWhere(`op = 'delete'`), 'm_emp'),
    );
  }
  select.push(alias('count(*)', 'total_events'));
  if (events.has('acc')) select.push(alias(lastOrMax(events.ref('acc'), order), 'final_acc'));
  return select;
}

/**
 * `seeds_summary`: seeds grouped by grid and its main params. A param the seed rows do not carry
 * (runlake's writer keeps params in `grids/`, not in every row) is taken from `grids`.
 */
function seedsSummarySql(seeds: Columns, grids: Columns | undefined): string | undefined {
  if (!seeds.has('grid_id')) return undefined;
  const group: string[] = [];
  let joinGrids = false;
  for (const name of SEEDS_SUMMARY_GROUP) {
    if (seeds.has(name)) group.push(alias(`s.${quoteIdentifier(name)}`, name));
    else if (grids?.has(name)) {
      group.push(alias(`g.${quoteIdentifier(name)}`, name));
      joinGrids = true;
    } else return undefined;
  }
  const column = (name: string) => `s.${quoteIdentifier(name)}`;
  const aggregates = [alias('count(*)', 'num_seeds')];
  if (seeds.has('avg_regret_empirical')) {
    aggregates.push(
      alias(`avg(${column('avg_regret_empirical')})`, 'mean_regret'),
      alias(`stddev(${column('avg_regret_empirical')})`, 'std_regret'),
    );
  }
  if (seeds.has('N_star_emp')) aggregates.push(alias(`avg(${column('N_star_emp')})`, 'mean_n_star'));
  if (seeds.has('m_emp')) aggregates.push(alias(`avg(${column('m_emp')})`, 'mean_deletions'));
  const from = joinGrids ? 'seeds AS s LEFT JOIN grids AS g ON g.grid_id = s.grid_id' : 'seeds AS s';
  return (
    `SELECT ${[...group, ...aggregates].join(', ')} FROM ${from} ` +
    `GROUP BY ${group.map((_, i) => i + 1).join(', ')}`
  );
}

/**
 * `events_workload` (exp_engine B): every event of a run with regret counted from the start of
 * its workload phase — the run's first delete, else the first event at or past `N_star`, else its
 * first event.
 */
function eventsWorkloadSql(events: Columns): string | undefined {
  const orderName = events.first(WORKLOAD_ORDER_COLUMNS);
  const e = events.qualified('e');
  const cum = e.cumRegret();
  if (!orderName || !events.has('grid_id') || !events.has('seed') || !cum) return undefined;
  const order = quoteIdentifier(orderName);
  const eOrder = `e.${order}`;
  const starts = [
    ...(events.has('op') ? [`min(CASE WHEN op = 'delete' THEN ${order} END)`] : []),
    ...(events.has('N_star')
      ? [`min(CASE WHEN "N_star" IS NOT NULL AND ${order} >= "N_star" THEN ${order} END)`]
      : []),
    `min(${order})`,
  ];
  const start = starts.length === 1 ? starts[0] : `coalesce(${starts.join(', ')})`;
  // Absent optional columns read as NULL, which the coalesce(…, 0.0) below turns into no regret.
  const noise = e.ref('noise_regret_cum');
  const withNoise = e.ref('cum_regret_with_noise');
  const since = (value: string, baseline: string) => `greatest(0.0, coalesce(${value}, 0.0) - b.${baseline})`;
  const seen = `greatest(1, ${eOrder} - b.workload_start_event_id + 1)`;
  const inWorkload = `${eOrder} >= b.workload_start_event_id`;
  return [
    'WITH starts AS (',
    `  SELECT grid_id, seed, ${start} AS workload_start_event_id FROM events GROUP BY grid_id, seed`,
    '), baselines AS (',
    '  SELECT s.grid_id, s.seed, s.workload_start_event_id,',
    `    coalesce(${cum}, 0.0) AS workload_baseline_cum_regret,`,
    `    coalesce(${noise}, 0.0) AS workload_baseline_noise_regret,`,
    `    coalesce(${withNoise}, 0.0) AS workload_baseline_cum_regret_with_noise`,
    '  FROM starts AS s LEFT JOIN events AS e',
    `    ON e.grid_id = s.grid_id AND e.seed = s.seed AND ${eOrder} = s.workload_start_event_id`,
    ')',
    'SELECT e.*, b.workload_start_event_id, b.workload_baseline_cum_regret,',
    '  b.workload_baseline_noise_regret, b.workload_baseline_cum_regret_with_noise,',
    `  ${since(cum, 'workload_baseline_cum_regret')} AS workload_cum_regret,`,
    `  ${since(noise, 'workload_baseline_noise_regret')} AS workload_noise_regret_cum,`,
    `  ${since(withNoise, 'workload_baseline_cum_regret_with_noise')} AS workload_cum_regret_with_noise,`,
    `  ${seen} AS workload_events_seen,`,
    `  CASE WHEN ${inWorkload} THEN ${since(cum, 'workload_baseline_cum_regret')} / ${seen} END AS workload_avg_regret,`,
    `  CASE WHEN ${inWorkload} THEN ${since(withNoise, 'workload_baseline_cum_regret_with_noise')} / ${seen} END`,
    '    AS workload_avg_regret_with_noise,',
    `  CASE WHEN ${inWorkload} THEN TRUE ELSE FALSE END AS is_workload_phase`,
    'FROM events AS e JOIN baselines AS b ON e.grid_id = b.grid_id AND e.seed = b.seed',
    `ORDER BY e.grid_id, e.seed, ${eOrder}`,
  ].join('\n');
}

/**
 * exp_engine's views for a lake with these columns: each view whose inputs exist, built from the
 * columns that do (see the module comment for the regret semantics).
 *
 * @example
 * ```ts
 * const views = sweepViews({
 *   events: [
 *     { name: 'grid_id', type: 'VARCHAR' },
 *     { name: 'seed', type: 'BIGINT' },
 *     { name: 'event_id', type: 'BIGINT' },
 *     { name: 'op', type: 'VARCHAR' },
 *     { name: 'regret', type: 'DOUBLE' },
 *   ],
 * });
 * views.map((v) => v.name); // ['events_summary', 'seeds_from_events', 'events_workload']
 * ```
 */
export function sweepViews(columns: SweepViewColumns): ViewDefinition[] {
  const views: ViewDefinition[] = [];
  const events = columns.events ? new Columns(columns.events) : undefined;
  const grouped = events?.has('grid_id') && events.has('seed');
  if (events && grouped) {
    views.push({
      name: 'events_summary',
      description:
        'per run (grid_id, seed): event counts, mean and final cumulative regret, and avg/min/max of the logged metrics (exp_engine)',
      sql: `SELECT ${eventsSummarySelect(events).join(', ')} FROM events GROUP BY grid_id, seed`,
    });
  }
  const seedsSql = columns.seeds
    ? seedsSummarySql(new Columns(columns.seeds), columns.grids && new Columns(columns.grids))
    : undefined;
  if (seedsSql) {
    views.push({
      name: 'seeds_summary',
      description:
        'per grid and algo/accountant/gamma_bar/gamma_split: seeds, mean and std of avg_regret_empirical (exp_engine)',
      sql: seedsSql,
    });
  }
  if (events && grouped) {
    views.push({
      name: 'seeds_from_events',
      description:
        "per run: exp_engine's seed-level rollup (regret, inserts, deletes, final accuracy) from events",
      sql: `SELECT ${seedsFromEventsSelect(events).join(', ')} FROM events GROUP BY grid_id, seed`,
    });
  }
  const workload = events && eventsWorkloadSql(events);
  if (workload) {
    views.push({
      name: 'events_workload',
      description:
        'every event with regret counted from the start of its workload phase (first delete, else N_star) (exp_engine)',
      sql: workload,
    });
  }
  return views;
}

/**
 * SQL of exp_engine's `query_regret_analysis`: per run its events, final (largest) cumulative
 * regret and average regret, with and without noise, and its negative-regret events. Columns the
 * events lack read as NULL; undefined when events have no `grid_id`/`seed`.
 *
 * @example
 * ```ts
 * regretAnalysisSql([{ name: 'grid_id', type: 'VARCHAR' }, { name: 'seed', type: 'BIGINT' }]);
 * ```
 */
export function regretAnalysisSql(events: readonly ViewSourceColumn[]): string | undefined {
  const e = new Columns(events);
  if (!e.has('grid_id') || !e.has('seed')) return undefined;
  const regret = e.regret() ?? 'NULL';
  return [
    'SELECT grid_id, seed, count(*) AS total_events,',
    `  max(${e.cumRegret() ?? 'NULL'}) AS final_cum_regret,`,
    `  max(${e.ref('avg_regret')}) AS final_avg_regret,`,
    `  max(${e.ref('cum_regret_with_noise')}) AS final_cum_regret_with_noise,`,
    `  max(${e.ref('avg_regret_with_noise')}) AS final_avg_regret_with_noise,`,
    `  ${countWhere(`${regret} < 0`)} AS negative_count`,
    'FROM events GROUP BY grid_id, seed ORDER BY grid_id, seed',
  ].join('\n');
}

/**
 * SQL of exp_engine's `query_workload_regret_analysis`: per run, its workload start, events
 * before and in the workload, and final workload regret over `events_workload`. Undefined when
 * the lake has no `events_workload` view (see {@link sweepViews}).
 *
 * @example
 * ```ts
 * workloadRegretAnalysisSql(eventColumns); // 'SELECT grid_id, seed, workload_start_event_id, …'
 * ```
 */
export function workloadRegretAnalysisSql(events: readonly ViewSourceColumn[]): string | undefined {
  const e = new Columns(events);
  if (!eventsWorkloadSql(e)) return undefined;
  const avg = e.ref('avg_regret');
  return [
    'SELECT grid_id, seed, workload_start_event_id,',
    '  count(*) FILTER (WHERE is_workload_phase) AS workload_events,',
    '  count(*) FILTER (WHERE NOT is_workload_phase) AS pre_workload_events,',
    '  max(workload_cum_regret) AS final_workload_cum_regret,',
    '  max(workload_avg_regret) AS final_workload_avg_regret,',
    '  max(workload_cum_regret_with_noise) AS final_workload_cum_regret_with_noise,',
    '  max(workload_avg_regret_with_noise) AS final_workload_avg_regret_with_noise,',
    `  max(${avg}) AS final_total_avg_regret,`,
    `  max(workload_avg_regret) - max(${avg}) AS workload_vs_total_avg_regret_diff,`,
    `  ${countWhere('is_workload_phase AND workload_avg_regret < 0')} AS negative_workload_regret_count`,
    'FROM events_workload GROUP BY grid_id, seed, workload_start_event_id ORDER BY grid_id, seed',
  ].join('\n');
}

/**
 * SQL of exp_engine's `get_negative_regret_summary`: the runs that have events with negative
 * regret, how many and what share, most affected first. Undefined without grid_id/seed or regret.
 *
 * @example
 * ```ts
 * negativeRegretSummarySql(eventColumns); // 'SELECT grid_id, seed, count(*) FILTER …'
 * ```
 */
export function negativeRegretSummarySql(events: readonly ViewSourceColumn[]): string | undefined {
  const e = new Columns(events);
  const regret = e.regret();
  if (!regret || !e.has('grid_id') || !e.has('seed')) return undefined;
  const negative = `count(*) FILTER (WHERE ${regret} < 0)`;
  return [
    `SELECT grid_id, seed, ${negative} AS negative_regret_events, count(*) AS total_events,`,
    `  ${negative} * 100.0 / count(*) AS negative_regret_pct,`,
    `  min(${regret}) AS min_regret,`,
    `  avg(${regret}) FILTER (WHERE ${regret} < 0) AS avg_negative_regret`,
    `FROM events GROUP BY grid_id, seed HAVING ${negative} > 0`,
    'ORDER BY negative_regret_pct DESC, grid_id, seed',
  ].join('\n');
}

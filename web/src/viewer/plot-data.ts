// Curves from rows: the mean of y per distinct x, one series per value of a group column. This is
// how 3.8M mask_impact rows become 2 readable lines of 36 points (mean l2_distance per layer per
// variant). x values that are not a small set of integers are binned instead.

import { distinctValues } from './filters.js';
import type { CategoryColumn, Column, Frame } from './frame.js';

export interface Curve {
  readonly label: string;
  /** Mean y per x point; null where the group has no rows at that x. */
  readonly ys: (number | null)[];
  readonly rows: number;
}

export interface CurveSet {
  readonly xs: number[];
  /** Labels of category x values, indexed by x (only when x is a text column). */
  readonly xLabels?: readonly string[];
  readonly curves: Curve[];
  /** Groups present before `maxSeries` cut the list. */
  readonly totalGroups: number;
  /** True when x was binned (too many distinct values). */
  readonly binned: boolean;
}

export interface CurveOptions {
  readonly maxSeries?: number;
  /** Bins used when x has too many distinct values. */
  readonly bins?: number;
}

/** Largest dense integer x range aggregated point by point; wider ranges are binned. */
const MAX_DENSE_X = 100_000;
/** Cap on accumulator cells (groups × x points). */
const MAX_CELLS = 4_000_000;

/**
 * Aggregates `y` by `x` (and by `group`) over the selected rows (null: all rows).
 *
 * @example
 * ```ts
 * const set = aggregateCurves(frame, null, 'layer', 'l2_distance', 'variant');
 * set.curves.map((c) => c.label); // ['mask_image', 'mask_text']
 * ```
 */
export function aggregateCurves(
  frame: Frame,
  rows: Uint32Array | null,
  xName: string,
  yName: string,
  groupName?: string,
  options: CurveOptions = {},
): CurveSet {
  const maxSeries = options.maxSeries ?? 24;
  const xColumn = column(frame, xName);
  const yColumn = column(frame, yName);
  if (yColumn.kind !== 'numeric') throw new Error(`y column "${yName}" is not numeric`);
  const groupColumn = groupName ? column(frame, groupName) : undefined;
  const n = rows ? rows.length : frame.numRows;

  // Group key per row: a dense index into `groupLabels`.
  let groupLabels = ['all'];
  let groupCodes: Int32Array | undefined;
  let groupValues: ArrayLike<number> | undefined;
  let groupLookup: Map<number, number> | undefined;
  if (groupColumn) {
    const options = distinctValues(groupColumn, 1000) ?? [];
    groupLabels = options.map((o) => o.label);
    if (groupColumn.kind === 'category') {
      // Dictionary code → position in the sorted label list.
      const byCode = new Int32Array(groupColumn.dictionary.length).fill(-1);
      options.forEach((o, i) => {
        byCode[o.value] = i;
      });
      groupCodes = byCode;
      groupValues = groupColumn.codes;
    } else {
      groupLookup = new Map(options.map((o, i) => [o.value, i]));
      groupValues = groupColumn.values;
    }
  }
  const groups = Math.max(groupLabels.length, 1);

  // x key per row: dense integers, distinct values, or bins.
  const xData: ArrayLike<number> = xColumn.kind === 'category' ? xColumn.codes : xColumn.values;
  let xMin = Number.POSITIVE_INFINITY;
  let xMax = Number.NEGATIVE_INFINITY;
  let integral = true;
  for (let i = 0; i < n; i++) {
    const v = xData[rows ? (rows[i] as number) : i] as number;
    if (Number.isNaN(v) || (xColumn.kind === 'category' && v < 0)) continue;
    if (v < xMin) xMin = v;
    if (v > xMax) xMax = v;
    if (integral && v !== Math.floor(v)) integral = false;
  }
  const cellsPerGroup = Math.max(16, Math.floor(MAX_CELLS / groups));
  let mode: 'dense' | 'bins' = 'dense';
  let keys = 0;
  let binWidth = 1;
  if (xMin > xMax) {
    keys = 0;
  } else if (integral && xMax - xMin + 1 <= Math.min(MAX_DENSE_X, cellsPerGroup)) {
    keys = xMax - xMin + 1;
  } else {
    mode = 'bins';
    keys = Math.min(options.bins ?? 1000, cellsPerGroup);
    binWidth = (xMax - xMin) / keys || 1;
  }

  const sums = new Float64Array(keys * groups);
  const counts = new Uint32Array(keys * groups);
  const yData = yColumn.values;
  const isCategoryX = xColumn.kind === 'category';
  for (let i = 0; i < n; i++) {
    const r = rows ? (rows[i] as number) : i;
    const x = xData[r] as number;
    const y = yData[r] as number;
    if (Number.isNaN(x) || Number.isNaN(y) || (isCategoryX && x < 0)) continue;
    let g = 0;
    if (groupValues) {
      const gv = groupValues[r] as number;
      g = groupCodes ? (gv >= 0 ? (groupCodes[gv] as number) : -1) : (groupLookup?.get(gv) ?? -1);
      if (g < 0) continue;
    }
    let k = mode === 'dense' ? x - xMin : Math.floor((x - xMin) / binWidth);
    if (k >= keys) k = keys - 1;
    const cell = g * keys + k;
    sums[cell] = (sums[cell] as number) + y;
    counts[cell] = (counts[cell] as number) + 1;
  }

  // Keep x points where some group has rows.
  const used: number[] = [];
  for (let k = 0; k < keys; k++) {
    for (let g = 0; g < groups; g++) {
      if ((counts[g * keys + k] as number) > 0) {
        used.push(k);
        break;
      }
    }
  }
  const xs = used.map((k) => (mode === 'dense' ? xMin + k : xMin + (k + 0.5) * binWidth));
  const curves: Curve[] = [];
  for (let g = 0; g < groups; g++) {
    let total = 0;
    const ys = used.map((k) => {
      const c = counts[g * keys + k] as number;
      total += c;
      return c > 0 ? (sums[g * keys + k] as number) / c : null;
    });
    if (total > 0) curves.push({ label: groupLabels[g] ?? String(g), ys, rows: total });
  }
  const totalGroups = curves.length;
  // Too many series is unreadable: keep the groups with the most rows, in label order.
  const kept =
    curves.length > maxSeries
      ? new Set([...curves].sort((a, b) => b.rows - a.rows).slice(0, maxSeries))
      : new Set(curves);
  const result: CurveSet = {
    xs,
    curves: curves.filter((c) => kept.has(c)),
    totalGroups,
    binned: mode === 'bins',
  };
  if (xColumn.kind === 'category') return { ...result, xLabels: xColumn.dictionary };
  return result;
}

function column(frame: Frame, name: string): Column {
  const found = frame.columns.find((c) => c.name === name);
  if (!found) throw new Error(`no column "${name}"`);
  return found;
}

/** What defaultPlot needs to know of a column. */
export interface ColumnKind {
  readonly name: string;
  readonly numeric: boolean;
  /** Whole numbers (an integer type, or only whole values); undefined when not known yet. */
  readonly integer?: boolean;
}

/** The plot the viewer draws first. */
export interface DefaultPlot {
  readonly x: string;
  readonly y: string;
  readonly group?: string;
  /**
   * A row filter the plot needs to mean something: for a long-form metric table (one row per
   * run, step and metric), the one metric plotted (`metric_name = loss`).
   */
  readonly filter?: { readonly column: string; readonly value: string };
}

/**
 * Names of key-like columns (indices, ids, partition keys): good x axes and series, never a
 * default y (the mean `layer` per `step` says nothing).
 */
const KEY_NAME =
  /^(step|steps|global_step|epoch|epochs|iter|iteration|layer|layers|seed|index|idx|i|row|rank|generation_step|timestep|time_step|position|pos|batch|shard|partition|part|fold|k|n_samples|n_layers|d_model|dim|top_k|grid|trial)$|(_id|_idx|_index|_step|_seed|_layer)$/i;
/** x axes in order of preference. */
const X_NAMES = [
  'step',
  'global_step',
  '_step',
  'generation_step',
  'epoch',
  'iteration',
  'iter',
  'tokens_seen',
  'tokens',
  'layer',
  'wall_time',
  'relative_time',
  'timestamp',
  'time',
];
/** The metric-name column of a long-form metric table (`metrics_scalar`). */
const METRIC_NAME_COLUMNS = ['metric_name', 'metric', 'metric_key', 'key', 'tag', 'name', 'variable'];
/** Its value column. */
const METRIC_VALUE_COLUMNS = ['value', 'metric_value', 'val', 'score', 'y'];
/** Columns naming a run, the natural series of a long-form table. */
const RUN_COLUMNS = ['run_id', 'run', 'run_name', 'grid_id', 'trial_id', 'experiment'];

/**
 * Whether a column name reads as a key (step, layer, seed, index, `*_id`…) rather than a value.
 *
 * @example
 * ```ts
 * isKeyLike('layer'); // true
 * isKeyLike('effective_rank'); // false
 * ```
 */
export function isKeyLike(name: string): boolean {
  return KEY_NAME.test(name);
}

/**
 * The plot the viewer draws first: mean `l2_distance` per `layer` by `variant` for mask_impact
 * files; for a long-form metric table (`run_id, step, metric_name, value`) one metric (`loss`
 * when there is one) per step, a series per run; otherwise the first step-like numeric column
 * against the first value column (never a key such as `layer`, `seed` or `index`), by the first
 * text column with 2–24 values when there is one.
 *
 * @example
 * ```ts
 * defaultPlot(metricsScalarFrame); // { x: 'step', y: 'value', group: 'run_id', filter: { column: 'metric_name', value: 'loss' } }
 * ```
 */
export function defaultPlot(frame: Frame): DefaultPlot | undefined {
  const kinds = frame.columns.map((c) => ({
    name: c.name,
    numeric: c.kind === 'numeric',
    integer: c.kind === 'numeric' ? c.integer : undefined,
  }));
  const group = frame.columns.find(
    (c) => c.kind === 'category' && c.dictionary.length > 1 && c.dictionary.length <= 24,
  )?.name;
  const plot = plotColumns(kinds, group);
  if (plot && !plot.group && !plot.filter) {
    // No text series: a small key column (layer, seed) with 2–24 values is one.
    const key = frame.columns.find(
      (c) =>
        c.kind === 'numeric' &&
        c.integer &&
        c.name !== plot.x &&
        c.name !== plot.y &&
        isKeyLike(c.name) &&
        (distinctValues(c, 24)?.length ?? 0) > 1,
    );
    if (key) return { ...plot, group: key.name };
  }
  if (!plot?.filter) return plot;
  const metricColumn = frame.columns.find((c) => c.name === plot.filter?.column);
  if (metricColumn?.kind !== 'category') return plot;
  const metric = preferredMetric(metricColumn);
  return metric === undefined
    ? { ...plot, filter: undefined }
    : { ...plot, filter: { column: metricColumn.name, value: metric } };
}

/** The metric a long-form table is first plotted with: `loss`, else a `…loss…`, else the most frequent. */
function preferredMetric(column: CategoryColumn): string | undefined {
  const counts = new Uint32Array(column.dictionary.length);
  for (let i = 0; i < column.codes.length; i++) {
    const c = column.codes[i] as number;
    if (c >= 0) counts[c] = (counts[c] as number) + 1;
  }
  const used = column.dictionary.filter((_, i) => (counts[i] as number) > 0);
  const exact = used.find((m) => m === 'loss' || m === 'train/loss' || m === 'train_loss');
  if (exact) return exact;
  const lossy = used.filter((m) => /loss/i.test(m)).sort((a, b) => a.length - b.length)[0];
  if (lossy) return lossy;
  let best = -1;
  for (let i = 0; i < counts.length; i++)
    if (best < 0 || (counts[i] as number) > (counts[best] as number)) best = i;
  return best >= 0 ? column.dictionary[best] : undefined;
}

function plotColumns(columns: readonly ColumnKind[], group: string | undefined): DefaultPlot | undefined {
  const byName = new Map(columns.map((c) => [c.name, c]));
  const has = (name: string) => byName.has(name);
  if (has('layer') && has('l2_distance')) {
    return has('variant')
      ? { x: 'layer', y: 'l2_distance', group: 'variant' }
      : { x: 'layer', y: 'l2_distance' };
  }
  const numeric = columns.filter((c) => c.numeric);
  const preferredX = () =>
    X_NAMES.map((n) => byName.get(n)).find((c) => c?.numeric) ??
    numeric.find((c) => isKeyLike(c.name)) ??
    numeric[0];

  // Long form: one row per (run, step, metric), the metric named in a text column.
  const metricName = METRIC_NAME_COLUMNS.map((n) => byName.get(n)).find((c) => c && !c.numeric);
  const metricValue = METRIC_VALUE_COLUMNS.map((n) => byName.get(n)).find((c) => c?.numeric);
  if (metricName && metricValue) {
    const x = preferredX();
    if (x && x !== metricValue) {
      const run = RUN_COLUMNS.map((n) => byName.get(n)).find((c) => c && c !== metricName && c !== x);
      return {
        x: x.name,
        y: metricValue.name,
        ...(run ? { group: run.name } : {}),
        filter: { column: metricName.name, value: '' },
      };
    }
  }

  const x = preferredX();
  if (!x) return undefined;
  const others = numeric.filter((c) => c !== x);
  const values = others.filter((c) => !isKeyLike(c.name));
  const y = values.find((c) => c.integer === false) ?? values[0] ?? others[0];
  if (!y) return undefined;
  return group ? { x: x.name, y: y.name, group } : { x: x.name, y: y.name };
}

/**
 * The columns to decode first so the default plot can be drawn before the rest of a wide file is
 * read: the plot's columns (and its filter column), plus every non-numeric one (a candidate series
 * column) when the plot has no series yet; undefined when that would be every column anyway.
 *
 * @example
 * ```ts
 * firstColumns(fields); // ['layer', 'l2_distance', 'variant']
 * ```
 */
export function firstColumns(columns: readonly ColumnKind[]): string[] | undefined {
  const plot = plotColumns(columns, undefined);
  if (!plot) return undefined;
  const wanted = new Set([
    plot.x,
    plot.y,
    ...(plot.group ? [plot.group] : []),
    ...(plot.filter ? [plot.filter.column] : []),
  ]);
  if (!plot.group && !(plot.x === 'layer' && plot.y === 'l2_distance')) {
    for (const c of columns) if (!c.numeric) wanted.add(c.name);
  }
  const names = columns.filter((c) => wanted.has(c.name)).map((c) => c.name);
  return names.length < columns.length ? names : undefined;
}

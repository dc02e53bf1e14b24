// The hyperparameter axes of the Compare view: every configuration key whose value varies across
// the runs (grid params, flattened `config_json` keys, `seed`), numeric or categorical, plus a
// summary metric; how a value maps onto an axis (log when a positive range spans a decade), and
// the brushes (a value range, or a set of categories) that filter runs on an axis.
import type { ParamValue, RunRow } from './api.js';
import { numericValue, runConfig, sameValue } from './config-diff.js';
import type { CompareBrush } from './panel-state.js';

/** An axis: a hyperparameter or the summary metric, numeric (maybe log) or categorical. */
export interface HparamAxis {
  readonly key: string;
  readonly label: string;
  readonly kind: 'numeric' | 'categorical';
  readonly log: boolean;
  /** The finite range of a numeric axis (min = max for one value). */
  readonly min: number;
  readonly max: number;
  /** The categories of a categorical axis, sorted. */
  readonly categories: readonly string[];
  /** Each run's value on this axis, in the runs' order (undefined: the run has none). */
  readonly values: readonly (ParamValue | undefined)[];
}

/** A brush on an axis: a closed numeric range, or a set of categories (serialisable). */
export type AxisBrush = CompareBrush;

/** Categorical keys with more distinct values than this are names or ids, not hyperparameters. */
const MAX_CATEGORIES = 40;
/** Run fields that are hyperparameters (other fields are bookkeeping: names, times, status). */
const HPARAM_FIELDS = /(^|_)seed$/i;

/** A category's text (null as `null`). */
export function categoryOf(value: ParamValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value === null ? 'null' : String(value);
}

/**
 * Builds an axis from each run's value: numeric when every value present reads as a number
 * (log when all are positive and max/min ≥ 10), categorical otherwise.
 *
 * @example
 * ```ts
 * makeAxis('lr', 'lr', [0.0003, 0.001, 0.003]).log; // true
 * ```
 */
export function makeAxis(
  key: string,
  label: string,
  values: readonly (ParamValue | undefined)[],
): HparamAxis {
  const present = values.filter((v): v is ParamValue => v !== undefined && v !== null);
  const numbers = present.map(numericValue);
  const numeric = present.length > 0 && numbers.every((n) => n !== undefined);
  if (numeric) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const n of numbers as number[]) {
      if (!Number.isFinite(n)) continue;
      min = Math.min(min, n);
      max = Math.max(max, n);
    }
    if (min > max) [min, max] = [0, 1];
    const log = min > 0 && max / min >= 10;
    return { key, label, kind: 'numeric', log, min, max, categories: [], values };
  }
  const categories = [...new Set(values.map(categoryOf).filter((c): c is string => c !== undefined))].sort(
    (a, b) => a.localeCompare(b, undefined, { numeric: true }),
  );
  return { key, label, kind: 'categorical', log: false, min: 0, max: 0, categories, values };
}

/**
 * The hyperparameter axes of `runs`: params, flattened config keys (leaving out copies of a
 * param, like `config.lr` next to `lr`) and `seed`, each only when its value varies.
 *
 * @example
 * ```ts
 * hparamAxes(demoRuns).map((a) => a.key); // ['lr', 'seed']
 * ```
 */
export function hparamAxes(runs: readonly RunRow[]): HparamAxis[] {
  const configs = runs.map((run) => new Map(runConfig(run).map((e) => [e.key, e])));
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const config of configs) {
    for (const [key, entry] of config) {
      if (seen.has(key)) continue;
      seen.add(key);
      if (entry.source === 'env') continue;
      if (entry.source === 'field' && !HPARAM_FIELDS.test(key)) continue;
      if (entry.source === 'config' && /(^|\.)(grid_id|run_id|run_name|name|id)$/.test(key)) continue;
      keys.push(key);
    }
  }
  const axes: HparamAxis[] = [];
  for (const key of keys) {
    const values = configs.map((c) => c.get(key)?.value);
    const first = values[0];
    if (values.every((v) => sameValue(v, first))) continue;
    // `config.lr` that equals the param `lr` in every run is the same axis twice.
    if (key.startsWith('config.')) {
      const bare = key.slice('config.'.length);
      const param = configs.map((c) => c.get(bare));
      if (param.every((e, i) => e?.source === 'param' && sameValue(e.value, values[i]))) continue;
    }
    // The same values under another name (a W&B run's `seed` field and its `config.seed`): once.
    if (axes.some((a) => a.values.every((v, i) => sameValue(v, values[i])))) continue;
    const axis = makeAxis(key, key, values);
    if (axis.kind === 'categorical' && axis.categories.length > MAX_CATEGORIES) continue;
    axes.push(axis);
  }
  // `config.lr` reads as `lr` when no other axis is called that.
  const names = new Set(axes.map((a) => a.key));
  return axes.map((a) => {
    const bare = a.key.startsWith('config.') ? a.key.slice('config.'.length) : a.key;
    return bare !== a.key && !names.has(bare) ? { ...a, label: bare } : a;
  });
}

/**
 * Where a value sits on an axis, from 0 (bottom) to 1 (top); undefined when the run has no value
 * there (or a non-positive value on a log axis).
 *
 * @example
 * ```ts
 * axisPosition(makeAxis('lr', 'lr', [0.001, 0.01, 0.1]), 0.01); // 0.5
 * ```
 */
export function axisPosition(axis: HparamAxis, value: ParamValue | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (axis.kind === 'categorical') {
    const index = axis.categories.indexOf(categoryOf(value) ?? '');
    if (index < 0) return undefined;
    return axis.categories.length === 1 ? 0.5 : index / (axis.categories.length - 1);
  }
  const n = numericValue(value);
  if (n === undefined || !Number.isFinite(n)) return undefined;
  if (axis.max === axis.min) return 0.5;
  if (axis.log) {
    if (n <= 0) return undefined;
    return (Math.log(n) - Math.log(axis.min)) / (Math.log(axis.max) - Math.log(axis.min));
  }
  return (n - axis.min) / (axis.max - axis.min);
}

/** The value at a position of a numeric axis (the inverse of axisPosition). */
export function axisValueAt(axis: HparamAxis, position: number): number {
  if (axis.max === axis.min || position <= 0) return axis.min;
  if (position >= 1) return axis.max;
  if (axis.log) return Math.exp(Math.log(axis.min) + position * (Math.log(axis.max) - Math.log(axis.min)));
  return axis.min + position * (axis.max - axis.min);
}

/**
 * The brush covering positions `[from, to]` (0..1) of an axis: a value range, or the categories
 * whose places fall inside.
 */
export function brushBetween(axis: HparamAxis, from: number, to: number): AxisBrush {
  const lo = Math.min(from, to);
  const hi = Math.max(from, to);
  if (axis.kind === 'categorical') {
    return {
      kind: 'categories',
      values: axis.categories.filter((c) => {
        const p = axisPosition(axis, c) ?? -1;
        return p >= lo && p <= hi;
      }),
    };
  }
  return { kind: 'range', lo: axisValueAt(axis, lo), hi: axisValueAt(axis, hi) };
}

/** Whether a value passes a brush (a run without a value never does). */
export function inBrush(brush: AxisBrush, value: ParamValue | undefined): boolean {
  if (value === undefined || value === null) return false;
  if (brush.kind === 'categories') return brush.values.includes(categoryOf(value) ?? '');
  const n = numericValue(value);
  return n !== undefined && n >= brush.lo && n <= brush.hi;
}

/**
 * A short number for labels: 3 significant digits, exponent form for small and large magnitudes
 * (`3e-4`, `2.1`, `1.5e+6`).
 *
 * @example
 * ```ts
 * shortNumber(0.00030000001); // '3e-4'
 * ```
 */
export function shortNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs < 1e-2 || abs >= 1e5) {
    const [mantissa = '', exponent = ''] = value.toExponential(2).split('e');
    return `${String(Number(mantissa))}e${exponent.replace('+', '')}`;
  }
  return String(Number(value.toPrecision(3)));
}

/**
 * A brush in words: `lr∈[1e-4,3e-4]`, `final loss<2.1` when the range starts at the axis's
 * minimum, `>…` when it ends at its maximum, `model∈{a,b}`.
 */
export function brushLabel(axis: HparamAxis, brush: AxisBrush): string {
  if (brush.kind === 'categories') return `${axis.label}∈{${brush.values.join(',')}}`;
  const atMin = brush.lo <= axis.min;
  const atMax = brush.hi >= axis.max;
  if (atMin && !atMax) return `${axis.label}<${shortNumber(brush.hi)}`;
  if (atMax && !atMin) return `${axis.label}>${shortNumber(brush.lo)}`;
  return `${axis.label}∈[${shortNumber(brush.lo)},${shortNumber(brush.hi)}]`;
}

const VIRIDIS = ['#440154', '#414487', '#2a788e', '#22a884', '#7ad151', '#fde725'];

/** A colour for t in [0, 1] on a viridis-like ramp (dark purple → yellow). */
export function rampColor(t: number): string {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i] ?? '#000000';
  const b = VIRIDIS[i + 1] ?? '#000000';
  const mix = (k: number) =>
    Math.round(Number.parseInt(a.slice(k, k + 2), 16) * (1 - f) + Number.parseInt(b.slice(k, k + 2), 16) * f);
  return `rgb(${mix(1)}, ${mix(3)}, ${mix(5)})`;
}

/** The CSS gradient of the ramp (for the colour legend). */
export const RAMP_GRADIENT = `linear-gradient(to right, ${VIRIDIS.join(', ')})`;

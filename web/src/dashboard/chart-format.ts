// Pure formatting and range helpers of the metric chart (no DOM, so Node tests import them):
// what the x axis measures (step, wall time, relative time, tokens) and how its ticks read, tick
// labels that survive uPlot's log-scale filter (which passes null for the ticks it leaves
// unlabelled), log ranges that end where the data ends, and the outlier-robust y range.
import type { XAxis } from './panel-state.js';

/** The x axes offered, with their labels. */
export const X_AXES: readonly (readonly [XAxis, string])[] = [
  ['step', 'Step'],
  ['wall_time', 'Wall time'],
  ['relative_time', 'Relative time'],
  ['tokens', 'Tokens'],
];

/**
 * The axis title of an x kind.
 *
 * @example
 * ```ts
 * xAxisTitle('relative_time'); // 'relative time (h:mm:ss)'
 * ```
 */
export function xAxisTitle(x: XAxis): string {
  switch (x) {
    case 'wall_time':
      return 'wall time';
    case 'relative_time':
      return 'relative time (h:mm:ss)';
    case 'tokens':
      return 'tokens';
    default:
      return 'step';
  }
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * Seconds as `h:mm:ss` (negative with a sign; fractions below a second dropped unless < 10 s).
 *
 * @example
 * ```ts
 * formatDuration(3725); // '1:02:05'
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(seconds);
  if (s < 10 && !Number.isInteger(s)) return `${sign}0:00:0${s.toFixed(1)}`;
  s = Math.round(s);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  return `${sign}${hours}:${pad2(minutes)}:${pad2(s % 60)}`;
}

/**
 * A count in short form: 950, 12.5k, 1.2M, 3.4B, 1.1T.
 *
 * @example
 * ```ts
 * formatCount(3_400_000_000); // '3.4B'
 * ```
 */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  for (const [scale, unit] of [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    if (abs >= scale) return `${Number((value / scale).toPrecision(3))}${unit}`;
  }
  return String(Number(value.toPrecision(3)));
}

/**
 * Epoch seconds as a local date/time, as fine as `span` (the visible range, seconds) needs: the
 * date over 3 days or more, month-day and hh:mm over 10 minutes, else hh:mm:ss.
 *
 * @example
 * ```ts
 * formatWallTime(Date.UTC(2026, 10, 1, 9, 25) / 1000, 3600); // '11-01 09:25' in UTC
 * ```
 */
export function formatWallTime(seconds: number, span: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const d = new Date(seconds * 1000);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  if (span >= 3 * 86_400) return date;
  if (span >= 600) return `${date.slice(5)} ${hm}`;
  return `${hm}:${pad2(d.getSeconds())}`;
}

/** Tick increments (seconds) for time axes, so ticks land on whole minutes, hours and days. */
export const TIME_INCRS: readonly number[] = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800,
  604_800, 2_592_000, 31_536_000,
];

/**
 * uPlot's `values` for an axis: formats every tick, and leaves the ones uPlot's log-scale filter
 * passed as null (or any non-finite one) unlabelled instead of printing "null".
 *
 * @example
 * ```ts
 * tickLabels([10, null, 30], (v) => String(v)); // ['10', '', '30']
 * ```
 */
export function tickLabels(splits: readonly (number | null)[], format: (v: number) => string): string[] {
  return splits.map((v) => (v === null || v === undefined || !Number.isFinite(v) ? '' : format(v)));
}

/**
 * A log scale's range: from the data's minimum rounded down to its leading digit to the maximum
 * rounded up to its leading digit (2,000 stays 2,000; uPlot's own rounds to whole decades, so
 * a run ending at step 2,000 was drawn to 10,000). Non-positive or missing bounds fall back to 1.
 *
 * @example
 * ```ts
 * logRange(10, 2000); // [10, 2000]
 * logRange(13, 1870); // [10, 2000]
 * ```
 */
export function logRange(min: number | null, max: number | null): [number, number] {
  const lo = min !== null && min > 0 && Number.isFinite(min) ? min : 1;
  let hi = max !== null && max > 0 && Number.isFinite(max) ? max : lo * 10;
  if (hi <= lo) hi = lo * 10;
  const down = 10 ** Math.floor(Math.log10(lo));
  const up = 10 ** Math.floor(Math.log10(hi));
  // Round in the decade's units; toPrecision removes float noise (0.30000000000000004).
  const from = Number((Math.floor(lo / down + 1e-9) * down).toPrecision(12));
  const to = Number((Math.ceil(hi / up - 1e-9) * up).toPrecision(12));
  return [from, to > from ? to : from * 10];
}

/**
 * The outlier-robust y range: the 1st–99th percentile of `values` (nulls and non-finite values
 * skipped; on a log scale only positive ones) with a 5% margin (in log space on a log scale).
 * Undefined when fewer than 2 values remain.
 *
 * @example
 * ```ts
 * const values = [...Array.from({ length: 99 }, (_, i) => i + 1), 1e6];
 * robustRange([values], false); // about [-3, 104]: the spike at 1e6 is left out
 * ```
 */
export function robustRange(
  series: readonly ArrayLike<number | null | undefined>[],
  log: boolean,
): [number, number] | undefined {
  const values: number[] = [];
  for (const s of series)
    for (let i = 0; i < s.length; i++) {
      const v = s[i];
      if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) continue;
      values.push(log ? Math.log10(v) : v);
    }
  if (values.length < 2) return undefined;
  values.sort((a, b) => a - b);
  const at = (q: number) =>
    values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))] as number;
  let lo = at(0.01);
  let hi = at(0.99);
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const margin = (hi - lo) * 0.05;
  lo -= margin;
  hi += margin;
  return log ? [10 ** lo, 10 ** hi] : [lo, hi];
}

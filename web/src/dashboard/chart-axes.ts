// The metric chart's DOM-side axis helpers: the formatter of each x axis's values (ticks and
// tooltip), and the theme colours read from the page's CSS variables (the dark theme sets them).
import { formatCount, formatDuration, formatWallTime } from './chart-format.js';
import { formatNumber } from './dom.js';
import type { XAxis } from './panel-state.js';

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The formatter of x values of kind `x`: ticks read at the visible `span`, the tooltip with
 * `span` 0 (full precision).
 *
 * @example
 * ```ts
 * xFormatter('tokens')(16_400_000, 1e7); // '16.4M'
 * ```
 */
export function xFormatter(x: XAxis): (value: number, span: number) => string {
  switch (x) {
    case 'wall_time':
      return (v, span) => (span === 0 ? `${fullDate(v)} ${formatWallTime(v, 0)}` : formatWallTime(v, span));
    case 'relative_time':
      return (v) => formatDuration(v);
    case 'tokens':
      return (v) => formatCount(v);
    default:
      return (v) => formatNumber(v);
  }
}

function fullDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
}

/** The chart's colours, from the page's CSS variables (the dark theme sets them). */
export interface ChartTheme {
  readonly fg: string;
  readonly muted: string;
  readonly grid: string;
  readonly bg: string;
}

/**
 * Reads `--fg` (or `--text`), `--muted`, `--grid`, `--panel`/`--bg` from the document, with light
 * defaults.
 *
 * @example
 * ```ts
 * const { fg, grid } = chartTheme();
 * ```
 */
export function chartTheme(): ChartTheme {
  const style = getComputedStyle(document.documentElement);
  const read = (...names: string[]) => {
    for (const name of names) {
      const v = style.getPropertyValue(name).trim();
      if (v) return v;
    }
    return '';
  };
  return {
    fg: read('--fg', '--text') || '#1f2937',
    muted: read('--muted') || '#6b7280',
    grid: read('--grid') || 'rgba(0, 0, 0, 0.07)',
    bg: read('--panel', '--bg') || '#ffffff',
  };
}

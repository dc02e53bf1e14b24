// The metric chart's floating tooltip: at the cursor, the x value and the series nearest the
// cursor (by vertical pixel distance at that x), then the next few by proximity. The nearest
// series is also the one the chart highlights.
import type uPlot from 'uplot';
import type { LegendEntry } from './chart-legend.js';
import { formatNumber, h } from './dom.js';

/** A series near the cursor: its legend entry, its value at (or next to) the cursor's x, and how far it is. */
export interface NearSeries {
  readonly entry: LegendEntry;
  readonly value: number;
  /** Vertical pixel distance from the cursor. */
  readonly distance: number;
  /** The data index the value is at (the cursor's, or the nearest where the series has a point). */
  readonly index: number;
}

/** How far (in data indices) to look for a series' point when it has none at the cursor's x. */
const REACH = 64;

/**
 * The visible entries' values at data index `idx` (or the nearest index within reach where the
 * series has a point, since merged runs have gaps), sorted by vertical distance from `top` (CSS
 * pixels in the plot).
 *
 * @example
 * ```ts
 * const [nearest] = nearestSeries(u, entries, u.cursor.idx ?? 0, u.cursor.top ?? 0);
 * ```
 */
export function nearestSeries(
  u: uPlot,
  entries: readonly LegendEntry[],
  idx: number,
  top: number,
): NearSeries[] {
  const near: NearSeries[] = [];
  for (const entry of entries) {
    if (entry.hidden) continue;
    const ys = u.data[entry.seriesIndex] as ArrayLike<number | null | undefined> | undefined;
    if (!ys) continue;
    let index = idx;
    let value: number | null | undefined = ys[idx];
    for (let d = 1; (value === null || value === undefined) && d <= REACH; d++) {
      if (ys[idx - d] !== null && ys[idx - d] !== undefined) index = idx - d;
      else if (ys[idx + d] !== null && ys[idx + d] !== undefined) index = idx + d;
      else continue;
      value = ys[index];
    }
    if (value === null || value === undefined || !Number.isFinite(value)) continue;
    const y = u.valToPos(value, 'y');
    near.push({
      entry,
      value,
      index,
      distance: Number.isFinite(y) ? Math.abs(y - top) : Number.POSITIVE_INFINITY,
    });
  }
  near.sort((a, b) => a.distance - b.distance);
  return near;
}

/** The tooltip element, filled and placed by `show`, emptied by `hide`. */
export interface ChartTooltip {
  readonly element: HTMLElement;
  /** Shows `near` (the first is the nearest) at (`left`, `top`) in `bounds` (the host's size). */
  show(
    xText: string,
    near: readonly NearSeries[],
    left: number,
    top: number,
    bounds: { width: number },
    /** Extra text after a row's value (a group's envelope). */
    detail?: (n: NearSeries) => string,
  ): void;
  hide(): void;
}

/** How many series the tooltip lists. */
export const TOOLTIP_ROWS = 5;

/**
 * A floating tooltip for a chart host (absolutely positioned inside it).
 *
 * @example
 * ```ts
 * const tooltip = chartTooltip();
 * host.append(tooltip.element);
 * tooltip.show('step 400', nearestSeries(u, entries, idx, top), 120, 80, { width: 900 });
 * ```
 */
export function chartTooltip(): ChartTooltip {
  const element = h('div', {
    class: 'chart-tooltip',
    'data-testid': 'chart-tooltip',
    role: 'tooltip',
    hidden: true,
  });
  return {
    element,
    show(xText, near, left, top, bounds, detail) {
      const rows = near.slice(0, TOOLTIP_ROWS).map((n, i) =>
        h(
          'div',
          {
            class: `tooltip-row${i === 0 ? ' nearest' : ''}`,
            'data-testid': 'tooltip-row',
            'data-key': n.entry.key ?? n.entry.label,
            'data-value': String(n.value),
          },
          h('span', { class: 'legend-swatch', style: `--c: ${n.entry.color}` }),
          h('span', { class: 'tooltip-label' }, n.entry.label),
          h('span', { class: 'tooltip-value' }, formatNumber(n.value)),
          detail ? h('span', { class: 'tooltip-detail' }, detail(n)) : null,
        ),
      );
      const more =
        near.length > TOOLTIP_ROWS
          ? h('div', { class: 'tooltip-more' }, `+${near.length - TOOLTIP_ROWS} more`)
          : null;
      element.replaceChildren(h('div', { class: 'tooltip-x', 'data-testid': 'tooltip-x' }, xText), ...rows);
      if (more) element.append(more);
      element.hidden = false;
      // Right of the cursor, or left of it near the right edge.
      const width = element.offsetWidth;
      const x = left + 14 + width > bounds.width ? Math.max(0, left - 14 - width) : left + 14;
      element.style.transform = `translate(${Math.round(x)}px, ${Math.round(Math.max(0, top + 10))}px)`;
    },
    hide() {
      element.hidden = true;
    },
  };
}

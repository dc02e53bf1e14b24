// A compact legend under a chart, in place of uPlot's table legend: with hundreds of runs uPlot's
// legend is a DOM row per series, so this one lists the first entries and updates their values on
// hover. A click on an entry hides its series (a second click shows it again).
import { formatNumber, h } from './dom.js';

export interface LegendEntry {
  /** What the legend shows (a run's name, a group's label). */
  readonly label: string;
  /** What hiding records (a run id, a group label); defaults to the label. */
  readonly key?: string;
  readonly color: string;
  /** The uPlot series index whose value is shown on hover. */
  readonly seriesIndex: number;
  /** Drawn as a band (mean ± envelope) rather than a line. */
  readonly band?: boolean;
  /** Hidden by a click (drawn with `show: false`). */
  readonly hidden?: boolean;
}

const SHOWN = 24;

/**
 * The key an entry is hidden under.
 *
 * @example
 * ```ts
 * legendKey({ label: 'tiny-gpt seed 0', key: 'run-0', color: '#1f77b4', seriesIndex: 1 }); // 'run-0'
 * ```
 */
export function legendKey(entry: LegendEntry): string {
  return entry.key ?? entry.label;
}

/**
 * The legend element and a function that shows the values at data index `idx`; `onToggle`
 * (when given) makes the entries buttons that hide or show their series.
 *
 * @example
 * ```ts
 * const legend = chartLegend([{ label: 'run-a', color: '#1f77b4', seriesIndex: 1 }], 'step', (key) => hide(key));
 * host.append(legend.element);
 * legend.showValues(chart.data, chart.cursor.idx ?? null);
 * ```
 */
export function chartLegend(
  entries: readonly LegendEntry[],
  xLabel = 'step',
  onToggle?: (key: string, entry: LegendEntry) => void,
  formatX: (x: number) => string = formatNumber,
): {
  element: HTMLElement;
  showValues(data: readonly (ArrayLike<number | null | undefined> | undefined)[], idx: number | null): void;
} {
  const valueSpans: HTMLElement[] = [];
  const step = h('span', { class: 'legend-step' });
  const items = entries.slice(0, SHOWN).map((entry) => {
    const value = h('span', { class: 'legend-value' });
    valueSpans.push(value);
    const attrs = {
      class: `legend-item${entry.hidden ? ' legend-hidden' : ''}`,
      'data-testid': 'legend-item',
      'data-key': legendKey(entry),
      'data-hidden': entry.hidden ? 'true' : 'false',
      title: onToggle ? `${entry.label} (click to ${entry.hidden ? 'show' : 'hide'})` : entry.label,
    };
    const children = [
      h('span', { class: `legend-swatch${entry.band ? ' band' : ''}`, style: `--c: ${entry.color}` }),
      h('span', { class: 'legend-label' }, entry.label),
      value,
    ];
    if (!onToggle) return h('span', attrs, ...children);
    const button = h(
      'button',
      { type: 'button', 'aria-pressed': entry.hidden ? 'false' : 'true', ...attrs },
      ...children,
    );
    button.addEventListener('click', () => onToggle(legendKey(entry), entry));
    return button;
  });
  const more =
    entries.length > SHOWN ? h('span', { class: 'legend-more' }, `+${entries.length - SHOWN} more`) : null;
  const element = h('div', { class: 'chart-legend' }, step, ...items, more);
  return {
    element,
    showValues(data, idx) {
      const x = idx === null ? undefined : data[0]?.[idx];
      step.textContent = x === undefined || x === null ? '' : `${xLabel} ${formatX(x)}`;
      entries.slice(0, SHOWN).forEach((entry, i) => {
        const v = idx === null || entry.hidden ? null : data[entry.seriesIndex]?.[idx];
        const span = valueSpans[i];
        if (span) span.textContent = v === null || v === undefined ? '' : formatNumber(v);
      });
    },
  };
}

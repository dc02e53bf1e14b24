// A compact legend under a chart, in place of uPlot's table legend: with hundreds of runs uPlot's
// legend is a DOM row per series, so this one lists the first entries and updates their values on
// hover.
import { formatNumber, h } from './dom.js';

export interface LegendEntry {
  readonly label: string;
  readonly color: string;
  /** The uPlot series index whose value is shown on hover. */
  readonly seriesIndex: number;
  /** Drawn as a band (mean ± std) rather than a line. */
  readonly band?: boolean;
}

const SHOWN = 24;

/** The legend element and a function that shows the values at data index `idx`. */
export function chartLegend(
  entries: readonly LegendEntry[],
  xLabel = 'step',
): {
  element: HTMLElement;
  showValues(data: readonly (ArrayLike<number | null | undefined> | undefined)[], idx: number | null): void;
} {
  const valueSpans: HTMLElement[] = [];
  const step = h('span', { class: 'legend-step' });
  const items = entries.slice(0, SHOWN).map((entry) => {
    const value = h('span', { class: 'legend-value' });
    valueSpans.push(value);
    return h(
      'span',
      { class: 'legend-item', 'data-testid': 'legend-item', title: entry.label },
      h('span', { class: `legend-swatch${entry.band ? ' band' : ''}`, style: `--c: ${entry.color}` }),
      h('span', { class: 'legend-label' }, entry.label),
      value,
    );
  });
  const more =
    entries.length > SHOWN ? h('span', { class: 'legend-more' }, `+${entries.length - SHOWN} more`) : null;
  const element = h('div', { class: 'chart-legend' }, step, ...items, more);
  return {
    element,
    showValues(data, idx) {
      const x = idx === null ? undefined : data[0]?.[idx];
      step.textContent = x === undefined || x === null ? '' : `${xLabel} ${formatNumber(x)}`;
      entries.slice(0, SHOWN).forEach((entry, i) => {
        const v = idx === null ? null : data[entry.seriesIndex]?.[idx];
        const span = valueSpans[i];
        if (span) span.textContent = v === null || v === undefined ? '' : formatNumber(v);
      });
    },
  };
}

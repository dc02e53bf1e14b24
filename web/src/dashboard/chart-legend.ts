// A compact legend under a chart, in place of uPlot's table legend: with hundreds of runs uPlot's
// legend is a DOM row per series, so this one lists the first entries and updates their values on
// hover. A click on an entry hides its series (a second click shows it again). The rest sit behind
// a "+N more" button: opened, they are listed in a scrolling box with a find field, each one
// clickable too. That box is built only while it is open, so a chart of 1,000 runs draws 24
// entries, not 1,000.
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
 * What the "+N more" part of a legend keeps across redraws (a click redraws the chart and its
 * legend): whether it is open, the find text, where the list was scrolled, and the entry to focus
 * again. The chart owns one and passes it to every {@link chartLegend} it builds.
 */
export interface LegendMoreState {
  open: boolean;
  find: string;
  scrollTop: number;
  /** The key of the entry clicked last, focused again in the rebuilt legend. */
  focusKey?: string;
}

/**
 * A fresh, closed {@link LegendMoreState}.
 *
 * @example
 * ```ts
 * const more = legendMoreState(); // { open: false, find: '', scrollTop: 0 }
 * chartLegend(entries, 'step', toggle, formatNumber, more);
 * ```
 */
export function legendMoreState(): LegendMoreState {
  return { open: false, find: '', scrollTop: 0 };
}

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
 * (when given) makes the entries buttons that hide or show their series. Past the first 24
 * entries a "+N more" button opens the rest (built then, not before); `more` keeps that part's
 * state across legends the same chart builds.
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
  more: LegendMoreState = legendMoreState(),
): {
  element: HTMLElement;
  showValues(data: readonly (ArrayLike<number | null | undefined> | undefined)[], idx: number | null): void;
} {
  const valueSpans: HTMLElement[] = [];
  const step = h('span', { class: 'legend-step' });
  const toggle = onToggle
    ? (entry: LegendEntry) => {
        more.focusKey = legendKey(entry);
        onToggle(legendKey(entry), entry);
      }
    : undefined;
  const items = entries.slice(0, SHOWN).map((entry) => {
    const value = h('span', { class: 'legend-value' });
    valueSpans.push(value);
    return legendItem(entry, value, toggle);
  });
  const rest = entries.slice(SHOWN);
  const element = h('div', { class: 'chart-legend' }, step, ...items);
  if (rest.length > 0) element.append(...restOfLegend(rest, more, toggle));
  const focusKey = more.focusKey;
  if (focusKey !== undefined) {
    more.focusKey = undefined;
    // Focus the clicked entry again once the chart has put the new legend in the page.
    queueMicrotask(() => {
      const again = [...element.querySelectorAll<HTMLElement>('button.legend-item')].find(
        (b) => b.dataset.key === focusKey,
      );
      if (again?.isConnected) again.focus({ preventScroll: true });
    });
  }
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

/** One entry: a button when it can be clicked, else a plain span. */
function legendItem(
  entry: LegendEntry,
  value: HTMLElement | null,
  toggle?: (entry: LegendEntry) => void,
): HTMLElement {
  const attrs = {
    class: `legend-item${entry.hidden ? ' legend-hidden' : ''}`,
    'data-testid': 'legend-item',
    'data-key': legendKey(entry),
    'data-hidden': entry.hidden ? 'true' : 'false',
    title: toggle ? `${entry.label} (click to ${entry.hidden ? 'show' : 'hide'})` : entry.label,
  };
  const children = [
    h('span', { class: `legend-swatch${entry.band ? ' band' : ''}`, style: `--c: ${entry.color}` }),
    h('span', { class: 'legend-label' }, entry.label),
    value,
  ];
  if (!toggle) return h('span', attrs, ...children);
  const button = h(
    'button',
    { type: 'button', 'aria-pressed': entry.hidden ? 'false' : 'true', ...attrs },
    ...children,
  );
  button.addEventListener('click', () => toggle(entry));
  return button;
}

/** The "+N more" button and, while it is open, the rest of the entries with a find field. */
function restOfLegend(
  rest: readonly LegendEntry[],
  more: LegendMoreState,
  toggle?: (entry: LegendEntry) => void,
): HTMLElement[] {
  const hiddenCount = rest.filter((e) => e.hidden).length;
  const button = h('button', {
    type: 'button',
    class: 'legend-more',
    'data-testid': 'legend-more',
    'aria-expanded': 'false',
    title: 'List the other entries (each one can be clicked to hide or show its series)',
  });
  const box = h('div', { class: 'legend-rest', 'data-testid': 'legend-rest', hidden: true });
  const label = (open: boolean) => {
    const hidden = hiddenCount ? `, ${hiddenCount} hidden` : '';
    button.textContent = open ? `− ${rest.length} more${hidden}` : `+${rest.length} more${hidden}`;
    button.setAttribute('aria-expanded', String(open));
  };
  const open = () => {
    const find = h('input', {
      type: 'search',
      class: 'legend-find',
      'data-testid': 'legend-find',
      'aria-label': 'Find a legend entry',
      title: 'Show only the entries whose name holds this text',
    });
    find.value = more.find;
    const list = h('div', { class: 'legend-rest-list', 'data-testid': 'legend-rest-list' });
    const fill = () => {
      const text = more.find.trim().toLowerCase();
      const shown = text ? rest.filter((e) => e.label.toLowerCase().includes(text)) : rest;
      list.replaceChildren(
        ...(shown.length
          ? shown.map((entry) => legendItem(entry, null, toggle))
          : [h('span', { class: 'muted' }, `no entry holds “${more.find.trim()}”`)]),
      );
    };
    find.addEventListener('input', () => {
      more.find = find.value;
      fill();
    });
    list.addEventListener('scroll', () => {
      more.scrollTop = list.scrollTop;
    });
    fill();
    box.replaceChildren(h('label', { class: 'legend-find-label muted' }, 'find ', find), list);
    box.hidden = false;
    // Back where the list was before a click redrew the chart.
    const top = more.scrollTop;
    if (top > 0) requestAnimationFrame(() => (list.scrollTop = top));
    label(true);
  };
  const close = () => {
    box.replaceChildren();
    box.hidden = true;
    label(false);
  };
  button.addEventListener('click', () => {
    more.open = !more.open;
    if (more.open) open();
    else {
      more.scrollTop = 0;
      close();
    }
  });
  if (more.open) open();
  else label(false);
  return [button, box];
}

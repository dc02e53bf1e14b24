// Metric curves of the selected runs, drawn with uPlot from the server's downsampled series.
// Zooming (drag on x) refetches the visible range, so a zoomed view is at full resolution; grouping
// by parameters draws one mean line per group with an envelope (std, standard error or min/max)
// from /api/metric-groups. The x axis is the step, wall time, time since the run's start, or
// tokens. Hovering shows a tooltip of the nearest series and highlights it; a legend click hides a
// series; the chart exports as PNG and SVG. Everything the user can change is a
// `MetricPanelState`, read with `getState()` and restored with `setState()`.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './chart.css';
import {
  api,
  type MetricGroup,
  type MetricGroupsResponse,
  type MetricName,
  type MetricQuery,
  type MetricSeries,
  type MetricsResponse,
  type ParamValue,
} from './api.js';
import { chartTheme, xFormatter } from './chart-axes.js';
import { chartPng, chartSvg, type Tick } from './chart-export.js';
import { logRange, robustRange, TIME_INCRS, tickLabels, X_AXES, xAxisTitle } from './chart-format.js';
import { type HighlightLayer, highlightLayer } from './chart-highlight.js';
import { chartLegend, type LegendEntry, legendKey, legendMoreState } from './chart-legend.js';
import { chartTooltip, type NearSeries, nearestSeries } from './chart-tooltip.js';
import { formatNumber, h, selectOf } from './dom.js';
import { downloadBlob } from './download.js';
import { groupByPicker } from './group-by-picker.js';
import { type AlignedData, guardLogScales, mergeSeries, type XYSeries } from './merge-series.js';
import { defaultMetric } from './metric-default.js';
import { seriesColor, withAlpha } from './palette.js';
import type { Envelope, MetricPanelState, SmoothingKind, XAxis } from './panel-state.js';
import { smoothingControl } from './smoothing-control.js';
import { emptyState, errorState, isAbort } from './states.js';

const CHART_HEIGHT = 380;

/**
 * Where the panel's curves come from. The runs view reads `/api/metrics` and `/api/metric-groups`;
 * the sweep view reads a sweep's `events` through `/api/sweep/curves` (its "runs" are grids, its
 * series seeds). Both answer with the same shapes, so one chart draws both.
 */
export interface CurveSource {
  series(query: MetricQuery, signal: AbortSignal): Promise<MetricsResponse>;
  groups(query: MetricQuery, by: readonly string[], signal: AbortSignal): Promise<MetricGroupsResponse>;
}

/** The runs view's source: `/api/metrics` (Arrow) and `/api/metric-groups`. */
const RUNS_SOURCE: CurveSource = {
  series: (query, signal) => api.metrics(query, signal),
  groups: (query, by, signal) => api.metricGroups(query, by, signal),
};

/** The envelopes offered around a group's mean, with their labels. */
export const ENVELOPES: readonly (readonly [Envelope, string])[] = [
  ['std', 'mean ± std'],
  ['stderr', 'mean ± std. error'],
  ['minmax', 'min–max'],
  ['none', 'mean only'],
];

export interface MetricPanelOptions {
  readonly metrics: readonly MetricName[];
  readonly paramKeys: readonly string[];
  /** The colour of a run (shared with the runs table's swatches). */
  readonly colorOf: (runId: string) => string;
  /** A run's name in the legend and tooltip (default: its id). */
  readonly labelOf?: (runId: string) => string;
  /** Where curves come from (default: the runs endpoints, with the x-axis picker). */
  readonly source?: CurveSource;
  /** The x axis's name (default: the picked x axis; a custom `source` names its own). */
  readonly xLabel?: () => string;
  /** More toolbar controls, placed after the metric picker. */
  readonly controls?: readonly HTMLElement[];
  /** Keys checked in the group-by picker at first. */
  readonly initialGroupBy?: readonly string[];
  /** The state to start from (over the defaults; `initialGroupBy` is the same as `groupBy` here). */
  readonly initialState?: Partial<MetricPanelState>;
  /** Called after every user change (controls, zoom, a legend click), with the whole state. */
  readonly onStateChange?: (state: MetricPanelState) => void;
  /**
   * Hides the controls a workspace sets for all panels at once through `setState` (x axis,
   * smoothing and its kind, group-by, envelope); the metric picker, log axes, robust y, reset zoom
   * and export stay.
   */
  readonly compact?: boolean;
  /** A group's colour (default: the palette by group order). */
  readonly groupColorOf?: (key: Record<string, ParamValue>, index: number, by: readonly string[]) => string;
  /** A metric's label in the picker (default `name (N runs)`). */
  readonly metricLabel?: (metric: MetricName) => string;
  /** Called when the user picks another metric. */
  readonly onMetricChange?: (metric: string) => void;
  /** What to do to see curves, shown while nothing is selected. */
  readonly hint?: string;
}

/** The query the panel sends: the shared metric query plus the x axis and smoothing kind. */
type PanelQuery = MetricQuery & { readonly x?: XAxis; readonly smoothingKind?: SmoothingKind };

/** A group as /api/metric-groups answers it, with the envelopes newer servers add. */
type GroupWithEnvelopes = MetricGroup & {
  readonly min?: readonly (number | null)[];
  readonly max?: readonly (number | null)[];
  readonly stderr?: readonly (number | null)[];
};

/** What one load draws: uPlot data, series options, bands and the legend. */
interface Drawing {
  readonly data: AlignedData;
  readonly series: uPlot.Series[];
  readonly bands: uPlot.Band[];
  readonly legend: LegendEntry[];
  /** Main series drawn (runs, or group means). */
  readonly seriesCount: number;
  readonly drawnRuns: number;
  readonly note: string;
  /** The envelope drawn around group means (grouped drawings only). */
  readonly envelope?: Envelope;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export { defaultMetric };

/**
 * The metric panel: controls, the chart and its status line.
 *
 * @example
 * ```ts
 * const panel = new MetricPanel({ metrics, paramKeys: ['lr'], colorOf, compact: true, onStateChange: save });
 * host.append(panel.element);
 * panel.setRuns(['run-a', 'run-b']);
 * panel.setState({ x: 'tokens' });
 * panel.destroy();
 * ```
 */
export class MetricPanel {
  readonly element: HTMLElement;
  private runs: string[] = [];
  private readonly state: Mutable<MetricPanelState>;
  private chart: uPlot | undefined;
  /** The legend's "+N more" list (open, find text, scroll), kept across redraws. */
  private readonly legendMore = legendMoreState();
  /** The last drawing, kept to redraw on a theme change or a legend click without refetching. */
  private drawing: Drawing | undefined;
  /** The pixel width the drawn series were downsampled for. */
  private fetchedWidth = 0;
  private controller: AbortController | undefined;
  private readonly chartHost: HTMLElement;
  private readonly body: HTMLElement;
  private readonly status: HTMLElement;
  private readonly loading: HTMLElement;
  private readonly metricSelect: HTMLSelectElement;
  private readonly xSelect: HTMLSelectElement | undefined;
  private readonly envelopeSelect: HTMLSelectElement;
  private readonly logX: HTMLInputElement;
  private readonly logY: HTMLInputElement;
  private readonly robustY: HTMLInputElement;
  private readonly smoothing;
  private readonly groupBy;
  private readonly resetZoom: HTMLButtonElement;
  private readonly exportPng: HTMLButtonElement;
  private readonly exportSvg: HTMLButtonElement;
  private readonly tooltip = chartTooltip();
  /** Veils the chart and redraws the hovered series on top. */
  private highlight: HighlightLayer | undefined;
  /** The ticks the chart last drew, for the SVG export and the tests. */
  private ticks: { x: Tick[]; y: Tick[] } = { x: [], y: [] };
  private readonly listeners: [EventTarget, string, EventListener][] = [];
  private resizeTimer: number | undefined;
  /** Set by `destroy()`: a late debounced change (the smoothing slider's) then loads nothing. */
  private destroyed = false;

  constructor(private readonly options: MetricPanelOptions) {
    const metrics = options.metrics;
    const initial = options.initialState ?? {};
    this.state = {
      metric: defaultMetric(metrics) ?? '',
      x: 'step',
      smoothing: 0,
      smoothingKind: 'ema',
      showRaw: true,
      groupBy: [...(options.initialGroupBy ?? [])],
      envelope: 'std',
      logX: false,
      logY: false,
      robustY: false,
      hidden: [],
      ...stripUndefined(initial),
    };
    this.metricSelect = selectOf(
      metrics.map(
        (m) => [m.metric_name, options.metricLabel?.(m) ?? `${m.metric_name} (${m.runs} runs)`] as const,
      ),
      this.state.metric,
      { 'data-testid': 'metric-select', 'aria-label': 'Metric' },
    );
    this.metricSelect.addEventListener('change', () => {
      this.state.metric = this.metricSelect.value;
      this.state.zoom = undefined;
      options.onMetricChange?.(this.metricSelect.value);
      this.userChange();
    });
    if (!options.source) {
      this.xSelect = selectOf(
        X_AXES.map(([x, label]) => [x, label] as const),
        this.state.x,
        { 'data-testid': 'x-axis', 'aria-label': 'x axis' },
      );
      this.xSelect.addEventListener('change', () => {
        this.state.x = (this.xSelect?.value ?? 'step') as XAxis;
        // A zoom is in the old axis's units.
        this.state.zoom = undefined;
        this.userChange();
      });
    }
    this.envelopeSelect = selectOf(
      ENVELOPES.map(([e, label]) => [e, label] as const),
      this.state.envelope,
      { 'data-testid': 'envelope', 'aria-label': 'Envelope around group means' },
    );
    this.envelopeSelect.addEventListener('change', () => {
      this.state.envelope = this.envelopeSelect.value as Envelope;
      this.userChange();
    });
    this.logX = h('input', { type: 'checkbox', 'data-testid': 'log-x' });
    this.logY = h('input', { type: 'checkbox', 'data-testid': 'log-y' });
    this.robustY = h('input', { type: 'checkbox', 'data-testid': 'robust-y' });
    this.logX.addEventListener('change', () => {
      this.state.logX = this.logX.checked;
      this.userChange();
    });
    this.logY.addEventListener('change', () => {
      this.state.logY = this.logY.checked;
      this.userChange();
    });
    this.robustY.addEventListener('change', () => {
      this.state.robustY = this.robustY.checked;
      // The y range is computed from the drawn points: no refetch needed.
      this.userChange(false);
      this.redraw();
    });
    this.smoothing = smoothingControl(
      this.state.smoothing,
      () => {
        this.state.smoothing = this.smoothing.value();
        this.state.smoothingKind = this.smoothing.kind();
        this.state.showRaw = this.smoothing.showRaw();
        this.userChange();
      },
      // The sweep's curves (a custom source) smooth with EMA only.
      { kinds: !options.source },
    );
    this.groupBy = groupByPicker(
      options.paramKeys,
      () => {
        this.state.groupBy = this.groupBy.value();
        this.userChange();
      },
      this.state.groupBy,
    );
    this.resetZoom = h(
      'button',
      { type: 'button', 'data-testid': 'reset-zoom', disabled: true },
      'Reset zoom',
    );
    this.resetZoom.addEventListener('click', () => this.unzoom());
    this.exportPng = h(
      'button',
      {
        type: 'button',
        'data-testid': 'export-png',
        title: 'Download the chart as a PNG image',
        disabled: true,
      },
      'PNG',
    );
    this.exportSvg = h(
      'button',
      {
        type: 'button',
        'data-testid': 'export-svg',
        title: 'Download the chart as an SVG drawing',
        disabled: true,
      },
      'SVG',
    );
    this.exportPng.addEventListener('click', () => void this.export('png'));
    this.exportSvg.addEventListener('click', () => void this.export('svg'));

    this.chartHost = h('div', { class: 'chart-host' });
    this.loading = h(
      'div',
      { class: 'chart-loading', hidden: true, 'data-testid': 'metric-loading' },
      h('span', { class: 'spinner' }),
      'Loading…',
    );
    this.status = h('div', { class: 'chart-status', 'data-testid': 'metric-status' });
    this.body = h('div', { class: 'chart-body' }, this.chartHost, this.tooltip.element, this.loading);
    // The shared controls: a workspace sets them for every panel, so a compact panel hides them.
    const shared = [
      this.xSelect ? h('label', { class: 'control' }, 'x ', this.xSelect) : null,
      this.groupBy.element,
      h(
        'label',
        { class: 'control envelope', title: 'The band drawn around each group’s mean' },
        'Band ',
        this.envelopeSelect,
      ),
      this.smoothing.element,
    ].filter((e): e is HTMLElement => e !== null);
    for (const e of shared) {
      e.classList.add('shared-control');
      if (options.compact) e.hidden = true;
    }
    this.element = h(
      'section',
      { class: `panel metric-panel${options.compact ? ' compact' : ''}`, 'data-testid': 'metric-panel' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'control' }, 'Metric ', this.metricSelect),
        ...(options.controls ?? []),
        ...shared,
        h('label', { class: 'control inline' }, this.logX, ' log x'),
        h('label', { class: 'control inline' }, this.logY, ' log y'),
        h(
          'label',
          {
            class: 'control inline',
            title:
              'Clip y to the 1st–99th percentile of the drawn points, so a spike does not flatten the rest',
          },
          this.robustY,
          ' robust y',
        ),
        this.resetZoom,
        h(
          'span',
          { class: 'control export', title: 'Export the chart' },
          'Export ',
          this.exportPng,
          this.exportSvg,
        ),
      ),
      this.body,
      this.status,
    );
    this.chartHost.dataset.testid = 'metric-chart';
    this.chartHost.dataset.seriesCount = '0';
    this.syncControls();
    this.showHint();

    // A wider chart than the one fetched for has more pixel columns than points per column, so a
    // marked widening refetches at the new width; anything else only resizes the canvas.
    this.listen(window, 'resize', () => {
      window.clearTimeout(this.resizeTimer);
      this.resizeTimer = window.setTimeout(() => {
        const width = this.width();
        if (this.chart && width > this.fetchedWidth * 1.2) void this.load();
        else this.chart?.setSize({ width, height: CHART_HEIGHT });
      }, 150);
    });
    // The dark theme changes the CSS variables the axes are drawn with.
    this.listen(document, 'runlake:themechange', () => this.redraw());
  }

  private listen(target: EventTarget, type: string, listener: EventListener): void {
    target.addEventListener(type, listener);
    this.listeners.push([target, type, listener]);
  }

  /** Plots `runIds` (the table's selection). */
  setRuns(runIds: readonly string[]): void {
    this.runs = [...runIds];
    void this.load();
  }

  /**
   * Adds metrics that appeared since the panel was built (the live refresh), keeping the pick,
   * and redraws the current view with the points logged since, keeping the zoom.
   */
  refresh(metrics: readonly MetricName[]): void {
    const known = new Set([...this.metricSelect.options].map((o) => o.value));
    for (const m of metrics) {
      if (known.has(m.metric_name)) continue;
      const label = this.options.metricLabel?.(m) ?? `${m.metric_name} (${m.runs} runs)`;
      this.metricSelect.appendChild(h('option', { value: m.metric_name }, label));
    }
    if (!this.state.metric && this.metricSelect.value) this.state.metric = this.metricSelect.value;
    if (this.runs.length > 0) void this.load();
  }

  /** The metric picked. */
  metric(): string {
    return this.state.metric;
  }

  /**
   * The panel's state: metric, x axis, smoothing, grouping, envelope, scales, zoom and hidden
   * series.
   *
   * @example
   * ```ts
   * const saved = panel.getState();
   * other.setState(saved);
   * ```
   */
  getState(): MetricPanelState {
    const s = this.state;
    return {
      ...s,
      groupBy: [...s.groupBy],
      hidden: [...s.hidden],
      ...(s.zoom ? { zoom: { ...s.zoom } } : {}),
    };
  }

  /**
   * Applies `partial` over the current state (a `zoom: undefined` key clears the zoom), updates
   * the controls and reloads once. Does not call `onStateChange` (that reports user changes).
   *
   * @example
   * ```ts
   * panel.setState({ x: 'tokens', smoothing: 0.6, smoothingKind: 'gaussian' });
   * ```
   */
  setState(partial: Partial<MetricPanelState>): void {
    const next = stripUndefined(partial);
    if ('zoom' in partial && partial.zoom === undefined) this.state.zoom = undefined;
    Object.assign(this.state, next);
    if (next.groupBy) this.state.groupBy = [...next.groupBy];
    if (next.hidden) this.state.hidden = [...next.hidden];
    if (next.metric && ![...this.metricSelect.options].some((o) => o.value === next.metric)) {
      // A saved metric not (yet) listed: offer it, so the pick is kept and drawn if it exists.
      this.metricSelect.appendChild(h('option', { value: next.metric }, next.metric));
    }
    this.syncControls();
    void this.load();
  }

  /** Removes the window and document listeners and destroys the chart. */
  destroy(): void {
    this.destroyed = true;
    this.controller?.abort();
    window.clearTimeout(this.resizeTimer);
    for (const [target, type, listener] of this.listeners) target.removeEventListener(type, listener);
    this.listeners.length = 0;
    this.groupBy.destroy();
    this.destroyChart();
  }

  /** Draws from the full range again (after a change of x column, say). */
  reset(): void {
    this.state.zoom = undefined;
    void this.load();
  }

  private syncControls(): void {
    const s = this.state;
    if (s.metric) this.metricSelect.value = s.metric;
    if (this.xSelect) this.xSelect.value = s.x;
    this.envelopeSelect.value = s.envelope;
    this.logX.checked = s.logX;
    this.logY.checked = s.logY;
    this.robustY.checked = s.robustY;
    this.smoothing.set({ smoothing: s.smoothing, smoothingKind: s.smoothingKind, showRaw: s.showRaw });
    this.groupBy.set(s.groupBy);
    this.envelopeSelect.disabled = s.groupBy.length === 0;
  }

  /** A user changed something: report the state, and reload unless only the drawing changes. */
  private userChange(reload = true): void {
    this.envelopeSelect.disabled = this.state.groupBy.length === 0;
    this.options.onStateChange?.(this.getState());
    if (reload) void this.load();
  }

  private xKind(): XAxis {
    return this.options.source ? 'step' : this.state.x;
  }

  private xTitle(): string {
    return this.options.xLabel?.() ?? xAxisTitle(this.xKind());
  }

  private width(): number {
    return Math.max(200, Math.floor(this.body.clientWidth || this.element.clientWidth || 800));
  }

  private unzoom(): void {
    if (!this.state.zoom) return;
    this.state.zoom = undefined;
    this.userChange();
  }

  private showHint(): void {
    this.destroyChart();
    this.drawing = undefined;
    this.chartHost.replaceChildren(
      h(
        'div',
        { class: 'state state-hint', 'data-testid': 'metric-hint' },
        this.options.hint ?? 'Select runs in the table to plot their curves.',
      ),
    );
    this.chartHost.dataset.seriesCount = '0';
    this.chartHost.dataset.drawnRuns = '0';
    this.status.textContent = '';
  }

  private destroyChart(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.highlight?.destroy();
    this.highlight = undefined;
    this.tooltip.hide();
    delete this.chartHost.dataset.focused;
    this.exportPng.disabled = true;
    this.exportSvg.disabled = true;
  }

  /** Fetches and draws the current selection; a newer load aborts an older one. */
  async load(): Promise<void> {
    this.controller?.abort();
    if (this.destroyed) return;
    const metric = this.state.metric;
    if (this.runs.length === 0 || !metric) {
      this.loading.hidden = true;
      this.showHint();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    const width = this.width();
    const { smoothing, smoothingKind, zoom, envelope } = this.state;
    const by = [...this.state.groupBy];
    const x = this.xKind();
    const query: PanelQuery = {
      runs: this.runs,
      metric,
      width,
      from: zoom?.from,
      to: zoom?.to,
      smoothing,
      ...(smoothing > 0 && smoothingKind !== 'ema' ? { smoothingKind } : {}),
      ...(x !== 'step' ? { x } : {}),
    };
    const source = this.options.source ?? RUNS_SOURCE;
    this.loading.hidden = false;
    this.element.dataset.loading = 'true';
    try {
      let drawing: Drawing;
      if (by.length > 0) {
        const groups = await source.groups(query, by, controller.signal);
        drawing = groupDrawing(
          groups.groups,
          groups.reasons ?? {},
          by,
          envelope,
          new Set(this.state.hidden),
          smoothing > 0 && groups.smoothing === undefined,
          this.options.groupColorOf,
        );
      } else {
        const wantRaw = smoothing > 0 && this.state.showRaw;
        const [main, raw] = await Promise.all([
          source.series(query, controller.signal),
          wantRaw ? source.series({ ...query, smoothing: 0 }, controller.signal) : Promise.resolve(undefined),
        ]);
        drawing = runDrawing(
          main.series,
          raw?.series,
          this.options.colorOf,
          this.options.labelOf ?? ((id) => id),
          new Set(this.state.hidden),
          smoothing > 0 && main.smoothing === undefined,
        );
      }
      if (controller.signal.aborted) return;
      this.fetchedWidth = width;
      this.draw(drawing, width);
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      this.destroyChart();
      this.chartHost.replaceChildren(errorState(error, `load ${metric}`));
      this.chartHost.dataset.seriesCount = '0';
    } finally {
      if (this.controller === controller) {
        this.loading.hidden = true;
        delete this.element.dataset.loading;
      }
    }
  }

  /** Draws the last drawing again (theme change, robust y), at the current width. */
  private redraw(): void {
    if (this.drawing && this.chart) this.draw(this.drawing, this.width());
  }

  /** Hides or shows the series of a legend entry (and its raw curve or envelope). */
  private toggle(key: string): void {
    const hidden = new Set(this.state.hidden);
    if (hidden.has(key)) hidden.delete(key);
    else hidden.add(key);
    this.state.hidden = [...hidden];
    this.userChange(false);
    const drawing = this.drawing;
    if (!drawing) return;
    // Flip `show` on every series of that key and draw again from the same data.
    const series = drawing.series.map((s) => {
      const k = (s as { key?: string }).key;
      return k === undefined ? s : { ...s, show: !hidden.has(k) };
    });
    const legend = drawing.legend.map((e) => ({ ...e, hidden: hidden.has(legendKey(e)) }));
    this.draw({ ...drawing, series, legend }, this.width());
  }

  private draw(drawing: Drawing, width: number): void {
    this.destroyChart();
    this.drawing = drawing;
    const host = this.chartHost;
    host.replaceChildren();
    if (drawing.seriesCount === 0) {
      const axis = this.xKind() === 'step' ? '' : ` against ${xAxisTitle(this.xKind())}`;
      host.append(
        emptyState(
          `No ${this.state.metric} points for the selected runs${axis}${this.state.zoom ? ' in this range' : ''}.`,
        ),
      );
      host.dataset.seriesCount = '0';
      host.dataset.drawnRuns = '0';
      this.status.textContent = drawing.note;
      return;
    }
    const { logX, logY, robustY } = this.state;
    const data = guardLogScales(drawing.data, logX, logY);
    const xKind = this.xKind();
    const xTitle = this.xTitle();
    const formatX = xFormatter(xKind);
    const legend = chartLegend(
      drawing.legend,
      xTitle,
      (key) => this.toggle(key),
      (v) => formatX(v, 0),
      this.legendMore,
    );
    const many = drawing.series.length > 24;
    const theme = chartTheme();
    let reported = false;
    const zoom = this.state.zoom;
    // The robust range covers the visible main series (not raw curves or envelopes).
    const visibleMain = drawing.legend.filter((e) => !e.hidden).map((e) => data[e.seriesIndex] ?? []);
    const yRobust = robustY ? robustRange(visibleMain, logY) : undefined;
    const xs = data[0];
    const xMin = xs.length > 0 ? (xs[0] as number) : null;
    const xMax = xs.length > 0 ? (xs[xs.length - 1] as number) : null;
    const ticks: { x: Tick[]; y: Tick[] } = { x: [], y: [] };
    const axis =
      (key: 'x' | 'y', format: (v: number, span: number) => string): uPlot.Axis.Values =>
      (u, splits) => {
        const scale = u.scales[key];
        const span = (scale?.max ?? 0) - (scale?.min ?? 0);
        const labels = tickLabels(splits, (v) => format(v, span));
        ticks[key] = splits.map((v, i) => ({ value: v, label: labels[i] ?? '' }));
        return labels;
      };
    const timeAxis = xKind === 'wall_time' || xKind === 'relative_time';
    const opts: uPlot.Options = {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      scales: {
        x: {
          time: false,
          distr: logX ? 3 : 1,
          ...(logX
            ? {
                // Leading-digit rounding, not uPlot's whole decades (a run ending at 2,000 drew to 10,000).
                range: (_u, min, max): uPlot.Range.MinMax =>
                  logRange(zoom && zoom.from > 0 ? zoom.from : (xMin ?? min), zoom ? zoom.to : (xMax ?? max)),
              }
            : zoom
              ? { range: (): uPlot.Range.MinMax => [zoom.from, zoom.to] }
              : {}),
        },
        y: {
          distr: logY ? 3 : 1,
          ...(yRobust
            ? { range: (): uPlot.Range.MinMax => yRobust }
            : logY
              ? { range: (_u, min, max): uPlot.Range.MinMax => logRange(min, max) }
              : {}),
        },
      },
      axes: [
        {
          label: xTitle,
          size: 40,
          stroke: theme.fg,
          grid: { stroke: theme.grid },
          ticks: { stroke: theme.grid },
          ...(timeAxis && !logX ? { incrs: [...TIME_INCRS] } : {}),
          space: xKind === 'wall_time' ? 90 : 60,
          values: axis('x', formatX),
        },
        {
          label: this.state.metric,
          size: 64,
          stroke: theme.fg,
          grid: { stroke: theme.grid },
          ticks: { stroke: theme.grid },
          values: axis('y', (v) => formatNumber(v)),
        },
      ],
      series: [{ label: xTitle }, ...drawing.series],
      bands: drawing.bands,
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: !many },
        // The panel finds the nearest series itself (for the tooltip) and highlights it.
        focus: { prox: -1 },
      },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width: w } = u.select;
            if (w < 3) return;
            const from = u.posToVal(left, 'x');
            const to = u.posToVal(left + w, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.state.zoom = { from: Math.floor(from), to: Math.ceil(to) };
            this.userChange();
          },
        ],
        setCursor: [
          (u) => {
            legend.showValues(u.data, u.cursor.idx ?? null);
            this.hover(u, drawing.legend, (v) => formatX(v, 0), xTitle);
          },
        ],
        draw: [
          (u) => {
            this.ticks = ticks;
            host.dataset.xTicks = JSON.stringify(ticks.x.map((t) => t.label).filter(Boolean));
            host.dataset.yTicks = JSON.stringify(ticks.y.map((t) => t.label).filter(Boolean));
            host.dataset.xRange = `${u.scales.x?.min}:${u.scales.x?.max}`;
            host.dataset.yRange = `${u.scales.y?.min}:${u.scales.y?.max}`;
            // The benchmark and tests read these: when the chart finished drawing, and how many runs.
            if (reported) return;
            reported = true;
            host.dataset.seriesCount = String(drawing.seriesCount);
            host.dataset.visibleCount = String(drawing.legend.filter((e) => !e.hidden).length);
            host.dataset.drawnRuns = String(drawing.drawnRuns);
            host.dataset.bandCount = String(drawing.bands.length);
            host.dataset.zoomed = zoom ? `${zoom.from}:${zoom.to}` : '';
            host.dataset.x = xKind;
            host.dataset.envelope = drawing.envelope ?? '';
            host.dataset.robustY = yRobust ? 'true' : 'false';
            // The last x drawn: the live test watches it grow as a run logs.
            host.dataset.lastX = xs.length > 0 ? String(xs[xs.length - 1]) : '';
            performance.mark('runlake:metrics-drawn');
            document.body.dataset.metricsDrawnMs = String(performance.now());
          },
        ],
      },
    };
    this.chart = new uPlot(opts, data as uPlot.AlignedData, host);
    this.highlight = highlightLayer(this.chart, theme.bg, this.body);
    const over = this.chart.over;
    over.addEventListener('dblclick', () => this.unzoom());
    over.addEventListener('mouseleave', () => {
      this.tooltip.hide();
      this.highlight?.clear();
      delete host.dataset.focused;
    });
    host.append(legend.element);
    this.resetZoom.disabled = !zoom;
    this.exportPng.disabled = false;
    this.exportSvg.disabled = false;
    const zoomNote = zoom
      ? `Zoomed to ${xTitle} ${formatX(zoom.from, zoom.to - zoom.from)}–${formatX(zoom.to, zoom.to - zoom.from)} (double-click to reset).`
      : 'Drag across the chart to zoom; the zoomed range is refetched at full resolution.';
    const hiddenCount = drawing.legend.filter((e) => e.hidden).length;
    const notes = [
      drawing.note,
      hiddenCount ? `${hiddenCount} hidden (click a legend entry to show it again).` : '',
      robustY && yRobust
        ? `y range clipped to the 1st–99th percentile of the drawn points (${formatNumber(yRobust[0])} to ${formatNumber(yRobust[1])}); points outside are cut off.`
        : '',
      zoomNote,
    ];
    this.status.textContent = notes.filter(Boolean).join(' ');
  }

  /** The tooltip and highlight at the cursor. */
  private hover(
    u: uPlot,
    entries: readonly LegendEntry[],
    formatX: (v: number) => string,
    xTitle: string,
  ): void {
    const idx = u.cursor.idx;
    const left = u.cursor.left ?? -1;
    const top = u.cursor.top ?? -1;
    if (idx === null || idx === undefined || left < 0 || top < 0) {
      this.tooltip.hide();
      return;
    }
    const near = nearestSeries(u, entries, idx, top);
    const nearest = near[0];
    const x = u.data[0][idx];
    if (!nearest || x === undefined) {
      this.tooltip.hide();
      return;
    }
    const key = legendKey(nearest.entry);
    if (this.chartHost.dataset.focused !== key) {
      this.chartHost.dataset.focused = key;
      const series = u.series[nearest.entry.seriesIndex];
      this.highlight?.show(nearest.entry.seriesIndex, nearest.entry.color, series?.width ?? 1.5);
    }
    // The over layer's position inside the chart body, where the tooltip is placed.
    const overBox = u.over.getBoundingClientRect();
    const bodyBox = this.body.getBoundingClientRect();
    // A group's row also gives its envelope at that x (the two series after its mean).
    const detail = (n: NearSeries): string => {
      if (!n.entry.band) return '';
      const hi = u.data[n.entry.seriesIndex + 1]?.[n.index];
      const lo = u.data[n.entry.seriesIndex + 2]?.[n.index];
      return hi === null || hi === undefined || lo === null || lo === undefined
        ? ''
        : `${formatNumber(lo)} – ${formatNumber(hi)}`;
    };
    this.tooltip.show(
      `${xTitle} ${formatX(x)}`,
      near,
      overBox.left - bodyBox.left + left,
      overBox.top - bodyBox.top + top,
      { width: bodyBox.width },
      detail,
    );
  }

  private async export(kind: 'png' | 'svg'): Promise<void> {
    const chart = this.chart;
    const drawing = this.drawing;
    if (!chart || !drawing) return;
    const input = {
      chart,
      title: this.state.metric,
      xTitle: this.xTitle(),
      yTitle: this.state.metric,
      ticks: this.ticks,
      legend: drawing.legend.filter((e) => !e.hidden),
      theme: chartTheme(),
      bands: drawing.bands,
    };
    const name = `${this.state.metric.replace(/[^\w.-]+/g, '_') || 'chart'}.${kind}`;
    try {
      const blob =
        kind === 'png' ? await chartPng(input) : new Blob([chartSvg(input)], { type: 'image/svg+xml' });
      downloadBlob(blob, name);
    } catch (error) {
      this.status.textContent = `Could not export the chart: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}

/** `partial` without its undefined values (so they do not overwrite defaults). */
function stripUndefined<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** uPlot series options with the legend key they hide under. */
type KeyedSeries = uPlot.Series & { key?: string };

/** Series, legend and data for one line per run (and faint raw lines behind, when given). */
function runDrawing(
  series: readonly MetricSeries[],
  raw: readonly MetricSeries[] | undefined,
  colorOf: (runId: string) => string,
  labelOf: (runId: string) => string,
  hidden: ReadonlySet<string>,
  smoothingUnsupported: boolean,
): Drawing {
  const drawn = series.filter((s) => s.step.length > 0);
  const rawDrawn = (raw ?? []).filter((s) => s.step.length > 0);
  const xy: XYSeries[] = [];
  const opts: KeyedSeries[] = [];
  for (const s of rawDrawn) {
    xy.push({ x: s.step, y: s.value });
    opts.push({
      key: s.run_id,
      label: `${labelOf(s.run_id)} (raw)`,
      stroke: withAlpha(colorOf(s.run_id), 0.22),
      width: 1,
      spanGaps: true,
      show: !hidden.has(s.run_id),
      points: { show: false },
    });
  }
  const legend: LegendEntry[] = [];
  for (const s of drawn) {
    xy.push({ x: s.step, y: s.value });
    const color = colorOf(s.run_id);
    const label = labelOf(s.run_id);
    opts.push({
      key: s.run_id,
      label,
      stroke: color,
      width: 1.5,
      spanGaps: true,
      show: !hidden.has(s.run_id),
      points: { show: false },
    });
    legend.push({ label, key: s.run_id, color, seriesIndex: opts.length, hidden: hidden.has(s.run_id) });
  }
  const downsampled = drawn.filter((s) => s.downsampled).length;
  const points = drawn.reduce((n, s) => n + s.total, 0);
  const missing = series.length - drawn.length;
  // The server says why a run has no points on this x axis (no wall_time, no token count).
  const reason = series.find((s) => s.step.length === 0 && s.reason)?.reason;
  const note = [
    `${drawn.length} run${drawn.length === 1 ? '' : 's'}, ${points.toLocaleString('en-US')} points in range`,
    downsampled ? `${downsampled} downsampled to min/max per pixel` : 'full resolution',
    missing
      ? `${missing} selected run${missing === 1 ? ' has' : 's have'} no points${reason ? ` (${reason})` : ''}`
      : '',
    smoothingUnsupported ? 'this server does not smooth yet (drawn unsmoothed)' : '',
    !smoothingUnsupported && raw ? 'smoothed on the server, raw curves faint behind' : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    data: mergeSeries(xy),
    series: opts,
    bands: [],
    legend,
    seriesCount: drawn.length,
    drawnRuns: drawn.length,
    note: `${note}.`,
  };
}

/** A group's label, e.g. `lr=0.001, model=tiny`. */
export function groupLabel(key: Record<string, ParamValue>, by: readonly string[]): string {
  return by.map((k) => `${k}=${key[k] === null || key[k] === undefined ? '∅' : String(key[k])}`).join(', ');
}

/**
 * A group's envelope as upper and lower arrays, or undefined when the answer lacks it. The
 * standard error falls back to std / √count on a server that sends only std.
 */
function envelopeOf(
  g: GroupWithEnvelopes,
  envelope: Envelope,
): { upper: (number | null)[]; lower: (number | null)[]; name: string } | undefined {
  const around = (width: readonly (number | null | undefined)[], name: string) => ({
    upper: g.mean.map((m, i) =>
      width[i] === null || width[i] === undefined ? null : m + (width[i] as number),
    ),
    lower: g.mean.map((m, i) =>
      width[i] === null || width[i] === undefined ? null : m - (width[i] as number),
    ),
    name,
  });
  switch (envelope) {
    case 'std':
      return around(g.std, 'std');
    case 'stderr':
      return around(
        g.stderr ??
          g.std.map((s, i) => {
            const n = g.count[i] ?? 0;
            return s === null || n < 1 ? null : s / Math.sqrt(n);
          }),
        'std. error',
      );
    case 'minmax':
      if (!g.min || !g.max) return undefined;
      return { upper: [...g.max], lower: [...g.min], name: 'min–max' };
    default:
      return undefined;
  }
}

/** One mean line and one envelope band per group. */
function groupDrawing(
  groups: readonly GroupWithEnvelopes[],
  reasons: Readonly<Record<string, string>>,
  by: readonly string[],
  envelope: Envelope,
  hidden: ReadonlySet<string>,
  smoothingUnsupported: boolean,
  colorOf: MetricPanelOptions['groupColorOf'],
): Drawing {
  const xy: XYSeries[] = [];
  const opts: KeyedSeries[] = [];
  const bands: uPlot.Band[] = [];
  const legend: LegendEntry[] = [];
  const drawn = groups.filter((g) => g.step.length > 0);
  let missingEnvelope = false;
  drawn.forEach((g, gi) => {
    const color = colorOf?.(g.key, gi, by) ?? seriesColor(gi);
    const label = groupLabel(g.key, by);
    const show = !hidden.has(label);
    xy.push({ x: g.step, y: g.mean });
    opts.push({
      key: label,
      label: `${label} (mean of ${g.runs.length})`,
      stroke: color,
      width: 2,
      spanGaps: true,
      show,
      points: { show: false },
    });
    const meanIndex = opts.length;
    const env = envelopeOf(g, envelope);
    if (envelope !== 'none' && !env) missingEnvelope = true;
    if (env) {
      xy.push({ x: g.step, y: env.upper }, { x: g.step, y: env.lower });
      const edge = (sign: string): KeyedSeries => ({
        key: label,
        label: `${label} ${sign}${env.name}`,
        stroke: withAlpha(color, 0.35),
        width: 0.5,
        spanGaps: true,
        show,
        points: { show: false },
      });
      opts.push(edge('upper '), edge('lower '));
      bands.push({ series: [meanIndex + 1, meanIndex + 2], fill: withAlpha(color, 0.16) });
    }
    legend.push({
      label: `${label} (n=${g.runs.length})`,
      key: label,
      color,
      seriesIndex: meanIndex,
      band: env !== undefined,
      hidden: !show,
    });
  });
  const runs = drawn.reduce((n, g) => n + g.runs.length, 0);
  const envelopeName = ENVELOPES.find(([e]) => e === envelope)?.[1] ?? envelope;
  const note = [
    `${drawn.length} group${drawn.length === 1 ? '' : 's'} by ${by.join(', ')} over ${runs} runs, ${envelopeName}`,
    missingEnvelope ? 'this server does not send min/max per group yet (drawn without the band)' : '',
    // Runs the server could not place on this x axis (no wall_time, no token count).
    Object.keys(reasons).length > 0
      ? `${Object.keys(reasons).length} run${Object.keys(reasons).length === 1 ? ' has' : 's have'} no points (${Object.values(reasons)[0]})`
      : '',
    smoothingUnsupported ? 'this server does not smooth yet (drawn unsmoothed)' : '',
  ]
    .filter(Boolean)
    .join(' · ');
  return {
    data: mergeSeries(xy),
    series: opts,
    bands,
    legend,
    seriesCount: drawn.length,
    drawnRuns: runs,
    note: `${note}.`,
    envelope,
  };
}

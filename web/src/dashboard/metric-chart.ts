// Metric curves of the selected runs, drawn with uPlot from the server's downsampled series.
// Zooming (drag on x) refetches the visible range, so a zoomed view is at full resolution; grouping
// by parameters draws one mean ± std band per group from /api/metric-groups.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
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
import { chartLegend, type LegendEntry } from './chart-legend.js';
import { formatNumber, h, selectOf } from './dom.js';
import { groupByPicker } from './group-by-picker.js';
import { type AlignedData, guardLogScales, mergeSeries, type XYSeries } from './merge-series.js';
import { seriesColor, withAlpha } from './palette.js';
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

export interface MetricPanelOptions {
  readonly metrics: readonly MetricName[];
  readonly paramKeys: readonly string[];
  /** The colour of a run (shared with the runs table's swatches). */
  readonly colorOf: (runId: string) => string;
  /** Where curves come from (default: the runs endpoints). */
  readonly source?: CurveSource;
  /** The x axis's name (default `step`). */
  readonly xLabel?: () => string;
  /** More toolbar controls, placed after the metric picker. */
  readonly controls?: readonly HTMLElement[];
  /** Keys checked in the group-by picker at first. */
  readonly initialGroupBy?: readonly string[];
  /** A group's colour (default: the palette by group order). */
  readonly groupColorOf?: (key: Record<string, ParamValue>, index: number, by: readonly string[]) => string;
  /** A metric's label in the picker (default `name (N runs)`). */
  readonly metricLabel?: (metric: MetricName) => string;
  /** Called when the user picks another metric. */
  readonly onMetricChange?: (metric: string) => void;
  /** What to do to see curves, shown while nothing is selected. */
  readonly hint?: string;
}

interface Zoom {
  readonly from: number;
  readonly to: number;
}

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
}

/** The metric panel: controls, the chart and its status line. */
export class MetricPanel {
  readonly element: HTMLElement;
  private runs: string[] = [];
  private zoom: Zoom | undefined;
  private chart: uPlot | undefined;
  /** The pixel width the drawn series were downsampled for. */
  private fetchedWidth = 0;
  private controller: AbortController | undefined;
  private readonly chartHost: HTMLElement;
  private readonly body: HTMLElement;
  private readonly status: HTMLElement;
  private readonly loading: HTMLElement;
  private readonly metricSelect: HTMLSelectElement;
  private readonly logX: HTMLInputElement;
  private readonly logY: HTMLInputElement;
  private readonly smoothing;
  private readonly groupBy;
  private readonly resetZoom: HTMLButtonElement;

  constructor(private readonly options: MetricPanelOptions) {
    const metrics = options.metrics;
    const preferred = metrics.find((m) => m.metric_name === 'loss') ?? metrics[0];
    this.metricSelect = selectOf(
      metrics.map(
        (m) => [m.metric_name, options.metricLabel?.(m) ?? `${m.metric_name} (${m.runs} runs)`] as const,
      ),
      preferred?.metric_name,
      { 'data-testid': 'metric-select', 'aria-label': 'Metric' },
    );
    this.metricSelect.addEventListener('change', () => {
      this.zoom = undefined;
      options.onMetricChange?.(this.metricSelect.value);
      void this.load();
    });
    this.logX = h('input', { type: 'checkbox', 'data-testid': 'log-x' });
    this.logY = h('input', { type: 'checkbox', 'data-testid': 'log-y' });
    this.logX.addEventListener('change', () => void this.load());
    this.logY.addEventListener('change', () => void this.load());
    this.smoothing = smoothingControl(0, () => void this.load());
    this.groupBy = groupByPicker(options.paramKeys, () => void this.load(), options.initialGroupBy);
    this.resetZoom = h(
      'button',
      { type: 'button', 'data-testid': 'reset-zoom', disabled: true },
      'Reset zoom',
    );
    this.resetZoom.addEventListener('click', () => this.unzoom());

    this.chartHost = h('div', { class: 'chart-host' });
    this.loading = h(
      'div',
      { class: 'chart-loading', hidden: true, 'data-testid': 'metric-loading' },
      h('span', { class: 'spinner' }),
      'Loading…',
    );
    this.status = h('div', { class: 'chart-status', 'data-testid': 'metric-status' });
    this.body = h('div', { class: 'chart-body' }, this.chartHost, this.loading);
    this.element = h(
      'section',
      { class: 'panel metric-panel', 'data-testid': 'metric-panel' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'control' }, 'Metric ', this.metricSelect),
        ...(options.controls ?? []),
        this.groupBy.element,
        this.smoothing.element,
        h('label', { class: 'control inline' }, this.logX, ' log x'),
        h('label', { class: 'control inline' }, this.logY, ' log y'),
        this.resetZoom,
      ),
      this.body,
      this.status,
    );
    this.chartHost.dataset.testid = 'metric-chart';
    this.chartHost.dataset.seriesCount = '0';
    this.showHint();

    // A wider chart than the one fetched for has more pixel columns than points per column, so a
    // marked widening refetches at the new width; anything else only resizes the canvas.
    let resizeTimer: number | undefined;
    window.addEventListener('resize', () => {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => {
        const width = this.width();
        if (this.chart && width > this.fetchedWidth * 1.2) void this.load();
        else this.chart?.setSize({ width, height: CHART_HEIGHT });
      }, 150);
    });
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
    if (this.runs.length > 0) void this.load();
  }

  /** The metric picked. */
  metric(): string {
    return this.metricSelect.value;
  }

  /** Draws from the full range again (after a change of x column, say). */
  reset(): void {
    this.zoom = undefined;
    void this.load();
  }

  private width(): number {
    return Math.max(200, Math.floor(this.body.clientWidth || this.element.clientWidth || 800));
  }

  private unzoom(): void {
    if (!this.zoom) return;
    this.zoom = undefined;
    void this.load();
  }

  private showHint(): void {
    this.destroyChart();
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
  }

  /** Fetches and draws the current selection; a newer load aborts an older one. */
  async load(): Promise<void> {
    this.controller?.abort();
    const metric = this.metricSelect.value;
    if (this.runs.length === 0 || !metric) {
      this.loading.hidden = true;
      this.showHint();
      return;
    }
    const controller = new AbortController();
    this.controller = controller;
    const width = this.width();
    const smoothing = this.smoothing.value();
    const by = this.groupBy.value();
    const query = { runs: this.runs, metric, width, from: this.zoom?.from, to: this.zoom?.to, smoothing };
    const source = this.options.source ?? RUNS_SOURCE;
    this.loading.hidden = false;
    this.element.dataset.loading = 'true';
    try {
      let drawing: Drawing;
      if (by.length > 0) {
        const groups = await source.groups(query, by, controller.signal);
        drawing = groupDrawing(
          groups.groups,
          by,
          smoothing > 0 && groups.smoothing === undefined,
          this.options.groupColorOf,
        );
      } else {
        const wantRaw = smoothing > 0 && this.smoothing.showRaw();
        const [main, raw] = await Promise.all([
          source.series(query, controller.signal),
          wantRaw ? source.series({ ...query, smoothing: 0 }, controller.signal) : Promise.resolve(undefined),
        ]);
        drawing = runDrawing(
          main.series,
          raw?.series,
          this.options.colorOf,
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

  private draw(drawing: Drawing, width: number): void {
    this.destroyChart();
    const host = this.chartHost;
    host.replaceChildren();
    if (drawing.seriesCount === 0) {
      host.append(
        emptyState(
          `No ${this.metricSelect.value} points for the selected runs${this.zoom ? ' in this range' : ''}.`,
        ),
      );
      host.dataset.seriesCount = '0';
      host.dataset.drawnRuns = '0';
      this.status.textContent = drawing.note;
      return;
    }
    const logX = this.logX.checked;
    const logY = this.logY.checked;
    const data = guardLogScales(drawing.data, logX, logY);
    const xLabel = this.options.xLabel?.() ?? 'step';
    const legend = chartLegend(drawing.legend, xLabel);
    const many = drawing.series.length > 24;
    let reported = false;
    const zoom = this.zoom;
    const opts: uPlot.Options = {
      width,
      height: CHART_HEIGHT,
      legend: { show: false },
      scales: {
        x: {
          time: false,
          distr: logX ? 3 : 1,
          // A log scale cannot start at step 0, so a zoom from 0 keeps the automatic range there.
          ...(zoom && !(logX && zoom.from <= 0)
            ? { range: (): uPlot.Range.MinMax => [zoom.from, zoom.to] }
            : {}),
        },
        y: { distr: logY ? 3 : 1 },
      },
      axes: [
        { label: xLabel, size: 40, values: (_u, splits) => splits.map((v) => formatNumber(v)) },
        {
          label: this.metricSelect.value,
          size: 64,
          values: (_u, splits) => splits.map((v) => formatNumber(v)),
        },
      ],
      series: [{ label: xLabel }, ...drawing.series],
      bands: drawing.bands,
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { show: !many },
        focus: { prox: 16 },
      },
      focus: { alpha: 0.35 },
      hooks: {
        setSelect: [
          (u) => {
            const { left, width: w } = u.select;
            if (w < 3) return;
            const from = u.posToVal(left, 'x');
            const to = u.posToVal(left + w, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            this.zoom = { from: Math.floor(from), to: Math.ceil(to) };
            void this.load();
          },
        ],
        setCursor: [(u) => legend.showValues(u.data, u.cursor.idx ?? null)],
        draw: [
          () => {
            // The benchmark and tests read these: when the chart finished drawing, and how many runs.
            if (reported) return;
            reported = true;
            host.dataset.seriesCount = String(drawing.seriesCount);
            host.dataset.drawnRuns = String(drawing.drawnRuns);
            host.dataset.bandCount = String(drawing.bands.length);
            host.dataset.zoomed = zoom ? `${zoom.from}:${zoom.to}` : '';
            // The last x drawn: the live test watches it grow as a run logs.
            const xs = drawing.data[0] as ArrayLike<number> | undefined;
            host.dataset.lastX = xs && xs.length > 0 ? String(xs[xs.length - 1]) : '';
            performance.mark('runlake:metrics-drawn');
            document.body.dataset.metricsDrawnMs = String(performance.now());
          },
        ],
      },
    };
    this.chart = new uPlot(opts, data as uPlot.AlignedData, host);
    this.chart.over.addEventListener('dblclick', () => this.unzoom());
    host.append(legend.element);
    this.resetZoom.disabled = !zoom;
    const zoomNote = zoom
      ? `Zoomed to ${xLabel} ${formatNumber(zoom.from)}–${formatNumber(zoom.to)} (double-click to reset).`
      : 'Drag across the chart to zoom; the zoomed range is refetched at full resolution.';
    this.status.textContent = `${drawing.note} ${zoomNote}`;
  }
}

/** Series, legend and data for one line per run (and faint raw lines behind, when given). */
function runDrawing(
  series: readonly MetricSeries[],
  raw: readonly MetricSeries[] | undefined,
  colorOf: (runId: string) => string,
  smoothingUnsupported: boolean,
): Drawing {
  const drawn = series.filter((s) => s.step.length > 0);
  const rawDrawn = (raw ?? []).filter((s) => s.step.length > 0);
  const xy: XYSeries[] = [];
  const opts: uPlot.Series[] = [];
  for (const s of rawDrawn) {
    xy.push({ x: s.step, y: s.value });
    opts.push({
      label: `${s.run_id} (raw)`,
      stroke: withAlpha(colorOf(s.run_id), 0.22),
      width: 1,
      spanGaps: true,
      points: { show: false },
    });
  }
  const legend: LegendEntry[] = [];
  for (const s of drawn) {
    xy.push({ x: s.step, y: s.value });
    const color = colorOf(s.run_id);
    opts.push({ label: s.run_id, stroke: color, width: 1.5, spanGaps: true, points: { show: false } });
    legend.push({ label: s.run_id, color, seriesIndex: opts.length });
  }
  const downsampled = drawn.filter((s) => s.downsampled).length;
  const points = drawn.reduce((n, s) => n + s.total, 0);
  const missing = series.length - drawn.length;
  const note = [
    `${drawn.length} run${drawn.length === 1 ? '' : 's'}, ${points.toLocaleString('en-US')} points in range`,
    downsampled ? `${downsampled} downsampled to min/max per pixel` : 'full resolution',
    missing ? `${missing} selected run${missing === 1 ? ' has' : 's have'} no points` : '',
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

/** One mean line and one mean ± std band per group. */
function groupDrawing(
  groups: readonly MetricGroup[],
  by: readonly string[],
  smoothingUnsupported: boolean,
  colorOf: MetricPanelOptions['groupColorOf'],
): Drawing {
  const xy: XYSeries[] = [];
  const opts: uPlot.Series[] = [];
  const bands: uPlot.Band[] = [];
  const legend: LegendEntry[] = [];
  const drawn = groups.filter((g) => g.step.length > 0);
  drawn.forEach((g, gi) => {
    const color = colorOf?.(g.key, gi, by) ?? seriesColor(gi);
    const label = groupLabel(g.key, by);
    const upper = g.mean.map((m, i) =>
      g.std[i] === null || g.std[i] === undefined ? null : m + (g.std[i] as number),
    );
    const lower = g.mean.map((m, i) =>
      g.std[i] === null || g.std[i] === undefined ? null : m - (g.std[i] as number),
    );
    xy.push({ x: g.step, y: g.mean }, { x: g.step, y: upper }, { x: g.step, y: lower });
    const meanIndex = opts.length + 1;
    opts.push(
      {
        label: `${label} (mean of ${g.runs.length})`,
        stroke: color,
        width: 2,
        spanGaps: true,
        points: { show: false },
      },
      {
        label: `${label} +std`,
        stroke: withAlpha(color, 0.35),
        width: 0.5,
        spanGaps: true,
        points: { show: false },
      },
      {
        label: `${label} −std`,
        stroke: withAlpha(color, 0.35),
        width: 0.5,
        spanGaps: true,
        points: { show: false },
      },
    );
    bands.push({ series: [meanIndex + 1, meanIndex + 2], fill: withAlpha(color, 0.16) });
    legend.push({ label: `${label} (n=${g.runs.length})`, color, seriesIndex: meanIndex, band: true });
  });
  const runs = drawn.reduce((n, g) => n + g.runs.length, 0);
  const note = [
    `${drawn.length} group${drawn.length === 1 ? '' : 's'} by ${by.join(', ')} over ${runs} runs, mean ± std`,
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
  };
}

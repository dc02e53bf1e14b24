// One hyperparameter against the summary metric: a uPlot scatter, one point per run, coloured by
// the metric like the parallel coordinates. Dragging a box brushes the runs inside it (a filter
// like an axis brush); a click without a drag, or a double-click, clears it. A categorical
// parameter gets one slot per category, its runs spread sideways so they do not hide each other.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { chartTheme } from './chart-axes.js';
import { numericValue } from './config-diff.js';
import { h, selectOf } from './dom.js';
import {
  type AxisBrush,
  axisPosition,
  brushLabel,
  categoryOf,
  type HparamAxis,
  inBrush,
  rampColor,
  shortNumber,
} from './hparam-axes.js';
import { distinctNumbers } from './parallel-coords.js';
import { drawDot, paddedRange } from './scatter-axes.js';
import { THEME_EVENT } from './theme.js';
import './compare.css';

const HEIGHT = 320;
const RADIUS = 4;
const MUTED = '#9aa4b2';

/** A box brush: an x brush on the parameter's axis and a y range on the metric. */
export interface ScatterBrush {
  readonly x: AxisBrush;
  readonly y: { readonly lo: number; readonly hi: number };
}

interface Point {
  readonly runId: string;
  readonly x: number;
  readonly y: number;
  /** The colour-ramp position (the metric's place on its axis). */
  readonly t: number;
}

export interface HparamsScatterOptions {
  /** Called when the box is drawn or cleared (undefined). */
  readonly onBrush: (brush: ScatterBrush | undefined) => void;
  /** A selected run's colour (its ring); undefined for runs not selected. */
  readonly colorOf: (runId: string) => string | undefined;
  readonly labelOf: (runId: string) => string;
  /** Called when the user picks another x parameter or toggles log x. */
  readonly onViewChange?: () => void;
}

/** The hyperparameter scatter. */
export class HparamsScatter {
  readonly element: HTMLElement;
  private readonly host: HTMLElement;
  private readonly paramSelect: HTMLSelectElement;
  private readonly logX: HTMLInputElement;
  private readonly tooltip: HTMLElement;
  private chart: uPlot | undefined;
  private runIds: readonly string[] = [];
  private axes: readonly HparamAxis[] = [];
  private metricAxis: HparamAxis | undefined;
  private highlighted: ReadonlySet<string> | undefined;
  private points: Point[] = [];
  private brush: ScatterBrush | undefined;

  constructor(private readonly options: HparamsScatterOptions) {
    this.paramSelect = selectOf([], undefined, {
      'data-testid': 'hp-scatter-param',
      'aria-label': 'Parameter',
    });
    this.logX = h('input', { type: 'checkbox', 'data-testid': 'hp-scatter-log-x' });
    this.paramSelect.addEventListener('change', () => {
      this.setBrush(undefined);
      this.draw();
      options.onViewChange?.();
    });
    this.logX.addEventListener('change', () => {
      this.draw();
      options.onViewChange?.();
    });
    this.host = h('div', { class: 'scatter-host', 'data-testid': 'hp-scatter-chart' });
    this.host.dataset.pointCount = '0';
    this.tooltip = h('div', { class: 'scatter-tooltip', 'data-testid': 'hp-scatter-tooltip', hidden: true });
    this.element = h(
      'div',
      { class: 'hp-scatter', 'data-testid': 'hp-scatter' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'control' }, 'x ', this.paramSelect),
        h('label', { class: 'control inline' }, this.logX, ' log x'),
        h('span', { class: 'muted' }, 'Drag a box to filter the runs; click to clear.'),
      ),
      this.host,
    );
    // Canvas colours follow the theme.
    document.addEventListener(THEME_EVENT, () => this.draw());
    // Follow the page's width, and the view being shown after it was drawn hidden.
    let resizeTimer: number | undefined;
    new ResizeObserver(() => {
      const chart = this.chart;
      const width = Math.floor(this.host.clientWidth);
      if (!chart || width === 0 || width === chart.width) return;
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => chart.setSize({ width: this.width(), height: HEIGHT }), 100);
    }).observe(this.host);
  }

  /** Plots the runs: the parameter choices are `axes`, y is `metricAxis`. */
  setData(runIds: readonly string[], axes: readonly HparamAxis[], metricAxis: HparamAxis | undefined): void {
    this.runIds = runIds;
    this.axes = axes;
    this.metricAxis = metricAxis;
    const previous = this.paramSelect.value;
    const first = axes.find((a) => a.key === previous)?.key ?? axes[0]?.key;
    this.paramSelect.replaceChildren(
      ...axes.map((a) => {
        const option = h('option', { value: a.key }, a.label);
        option.selected = a.key === first;
        return option;
      }),
    );
    // A log-spaced parameter (lr) starts on a log axis.
    if (first !== previous) this.logX.checked = axes.find((a) => a.key === first)?.log ?? false;
    if (this.brush && first !== previous) this.setBrush(undefined);
    this.draw();
  }

  /** Marks the runs passing every filter (undefined: none brushed) and redraws. */
  setHighlight(highlighted: ReadonlySet<string> | undefined): void {
    this.highlighted = highlighted;
    this.chart?.redraw(false, false);
  }

  /** Redraws with the current selection colours. */
  refresh(): void {
    this.chart?.redraw(false, false);
  }

  /** The x parameter picked and whether its axis is log. */
  view(): { x: string | undefined; logX: boolean } {
    return { x: this.paramSelect.value || undefined, logX: this.logX.checked };
  }

  /**
   * Restores a view (a shared link): the x parameter when it is one of the axes, log x, and the
   * box, without reporting them.
   */
  setView(view: { x?: string; logX?: boolean; box?: ScatterBrush }): void {
    if (view.x !== undefined && this.axes.some((a) => a.key === view.x)) this.paramSelect.value = view.x;
    if (view.logX !== undefined) this.logX.checked = view.logX;
    this.brush = view.box;
    this.element.dataset.brushed = view.box ? 'true' : 'false';
    this.draw();
  }

  /** The box brush, if any. */
  currentBrush(): ScatterBrush | undefined {
    return this.brush;
  }

  /** Clears the box (and reports it). */
  clear(): void {
    if (this.brush) this.setBrush(undefined);
    this.chart?.redraw(false, false);
  }

  /** Whether the `index`-th run passes the box (true when there is none). */
  passes(index: number): boolean {
    const brush = this.brush;
    const axis = this.xAxis();
    if (!brush || !axis || !this.metricAxis) return true;
    const y = numericValue(this.metricAxis.values[index]);
    return inBrush(brush.x, axis.values[index]) && y !== undefined && y >= brush.y.lo && y <= brush.y.hi;
  }

  /** The box in words: `lr∈[1e-4,3e-4], final loss<2.1`. */
  label(): string {
    const brush = this.brush;
    const axis = this.xAxis();
    const metric = this.metricAxis;
    if (!brush || !axis || !metric) return '';
    return `${brushLabel(axis, brush.x)}, ${brushLabel(metric, { kind: 'range', ...brush.y })}`;
  }

  /** Where a run's point is on the page (CSS pixels), for tests and the console. */
  pointsOnPage(): { runId: string; x: number; y: number }[] {
    const chart = this.chart;
    if (!chart) return [];
    const box = chart.over.getBoundingClientRect();
    return this.points.map((p) => ({
      runId: p.runId,
      x: box.left + chart.valToPos(p.x, 'x'),
      y: box.top + chart.valToPos(p.y, 'y'),
    }));
  }

  private xAxis(): HparamAxis | undefined {
    return this.axes.find((a) => a.key === this.paramSelect.value);
  }

  private setBrush(brush: ScatterBrush | undefined): void {
    this.brush = brush;
    this.element.dataset.brushed = brush ? 'true' : 'false';
    this.options.onBrush(brush);
  }

  private width(): number {
    return Math.max(280, Math.floor(this.host.clientWidth || this.element.clientWidth || 700));
  }

  private draw(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.host.replaceChildren();
    this.points = [];
    this.host.dataset.pointCount = '0';
    const axis = this.xAxis();
    const metric = this.metricAxis;
    if (!axis || !metric) {
      const why = !metric
        ? 'This lake has no scalar metrics to plot the hyperparameters against.'
        : 'No hyperparameter varies across these runs.';
      this.host.append(h('p', { class: 'empty-state', 'data-testid': 'hp-scatter-empty' }, why));
      return;
    }
    const categories = axis.kind === 'categorical' ? axis.categories : undefined;
    this.logX.disabled = categories !== undefined || axis.min <= 0;
    const logX = !this.logX.disabled && this.logX.checked;
    // Runs of one category spread over ±0.3 of its slot, in run order.
    const perCategory = new Map<string, number>();
    const counts = new Map<string, number>();
    if (categories)
      for (const v of axis.values) {
        const c = categoryOf(v);
        if (c !== undefined) counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    const points: Point[] = [];
    this.runIds.forEach((runId, i) => {
      const y = numericValue(metric.values[i]);
      if (y === undefined || !Number.isFinite(y)) return;
      let x: number | undefined;
      if (categories) {
        const c = categoryOf(axis.values[i]);
        if (c === undefined) return;
        const k = perCategory.get(c) ?? 0;
        perCategory.set(c, k + 1);
        const n = counts.get(c) ?? 1;
        x = categories.indexOf(c) + (n > 1 ? (k / (n - 1) - 0.5) * 0.6 : 0);
      } else {
        x = numericValue(axis.values[i]);
      }
      if (x === undefined || !Number.isFinite(x) || (logX && x <= 0)) return;
      points.push({ runId, x, y, t: axisPosition(metric, y) ?? 0 });
    });
    this.points = points;
    if (points.length === 0) {
      this.host.append(
        h('p', { class: 'empty-state' }, `No run has both ${axis.label} and ${metric.label}.`),
      );
      return;
    }
    const data: uPlot.AlignedData = [points.map((p) => p.x), points.map((p) => p.y)];
    const theme = chartTheme();
    const axisColors = { stroke: theme.fg, grid: { stroke: theme.grid }, ticks: { stroke: theme.grid } };
    const distinct = categories ? [] : distinctNumbers(axis).filter((v) => !logX || v > 0);
    const opts: uPlot.Options = {
      width: this.width(),
      height: HEIGHT,
      legend: { show: false },
      // The cursor only drives the box select: no crosshair, no zoom.
      cursor: { x: false, y: false, points: { show: false }, drag: { x: true, y: true, setScale: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: categories
          ? { time: false, range: (): uPlot.Range.MinMax => [-0.5, categories.length - 0.5] }
          : {
              time: false,
              distr: logX ? 3 : 1,
              range: (): uPlot.Range.MinMax =>
                paddedRange(
                  points.map((p) => p.x),
                  logX,
                ),
            },
        y: {
          range: (): uPlot.Range.MinMax =>
            paddedRange(
              points.map((p) => p.y),
              false,
            ),
        },
      },
      axes: [
        {
          ...axisColors,
          label: axis.label,
          size: 44,
          ...(categories
            ? {
                splits: () => categories.map((_, i) => i),
                values: (_u: uPlot, splits: number[]) => splits.map((i) => categories[i] ?? ''),
              }
            : {
                // A few distinct values (a sweep grid): a tick at each, on a log axis too.
                // uPlot's log filter blanks every label but powers of ten: keep the distinct values'.
                ...(distinct.length <= 8
                  ? { splits: () => distinct, filter: (_u: uPlot, splits: number[]) => splits }
                  : {}),
                values: (_u: uPlot, splits: (number | null)[]) =>
                  splits.map((v) => (v === null ? '' : shortNumber(v))),
              }),
        },
        {
          ...axisColors,
          label: metric.label,
          size: 64,
          values: (_u, splits: (number | null)[]) => splits.map((v) => (v === null ? '' : shortNumber(v))),
        },
      ],
      series: [{ label: axis.label }, { label: metric.label, paths: () => null, points: { show: false } }],
      hooks: {
        draw: [(u) => this.drawPoints(u)],
        setSelect: [
          (u) => {
            const { left, top, width, height } = u.select;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (width < 3 || height < 3) {
              if (this.brush) this.setBrush(undefined);
              u.redraw(false, false);
              return;
            }
            const x0 = u.posToVal(left, 'x');
            const x1 = u.posToVal(left + width, 'x');
            const yLo = u.posToVal(top + height, 'y');
            const yHi = u.posToVal(top, 'y');
            const x: AxisBrush = categories
              ? {
                  kind: 'categories',
                  values: categories.filter(
                    (_, i) => i >= Math.min(x0, x1) - 0.35 && i <= Math.max(x0, x1) + 0.35,
                  ),
                }
              : { kind: 'range', lo: Math.min(x0, x1), hi: Math.max(x0, x1) };
            this.setBrush({ x, y: { lo: Math.min(yLo, yHi), hi: Math.max(yLo, yHi) } });
            u.redraw(false, false);
          },
        ],
      },
    };
    const chart = new uPlot(opts, data, this.host);
    this.chart = chart;
    chart.over.append(this.tooltip);
    chart.over.addEventListener('dblclick', () => this.clear());
    // A click without a drag opens the run under the pointer, or else clears the box (uPlot
    // reports no select for it).
    let down: { x: number; y: number } | undefined;
    chart.over.addEventListener('mousedown', (event) => {
      down = { x: event.clientX, y: event.clientY };
    });
    chart.over.addEventListener('click', (event) => {
      if (down && Math.abs(event.clientX - down.x) < 3 && Math.abs(event.clientY - down.y) < 3) {
        const point = this.nearest(event);
        if (point) window.location.hash = `#run/${encodeURIComponent(point.runId)}`;
        else this.clear();
      }
      down = undefined;
    });
    chart.over.addEventListener('mousemove', (event) => this.hover(event));
    chart.over.addEventListener('mouseleave', () => {
      this.tooltip.hidden = true;
    });
  }

  private drawPoints(u: uPlot): void {
    const ctx = u.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
    const highlighted = this.highlighted;
    // Filtered-out runs first, muted, so the matching ones sit on top.
    const ordered = highlighted
      ? [
          ...this.points.filter((p) => !highlighted.has(p.runId)),
          ...this.points.filter((p) => highlighted.has(p.runId)),
        ]
      : this.points;
    const ratio = window.devicePixelRatio || 1;
    for (const p of ordered) {
      const on = !highlighted || highlighted.has(p.runId);
      const x = u.valToPos(p.x, 'x', true);
      const y = u.valToPos(p.y, 'y', true);
      drawDot(ctx, x, y, RADIUS, on ? rampColor(p.t) : MUTED, on ? 0.9 : 0.4);
      const ring = this.options.colorOf(p.runId);
      if (ring && on) {
        ctx.globalAlpha = 1;
        ctx.lineWidth = 2 * ratio;
        ctx.strokeStyle = ring;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    const brush = this.brush;
    const axis = this.xAxis();
    if (brush && axis) {
      let x0: number;
      let x1: number;
      if (brush.x.kind === 'range') {
        x0 = u.valToPos(brush.x.lo, 'x', true);
        x1 = u.valToPos(brush.x.hi, 'x', true);
      } else {
        const places = brush.x.values.map((c) => axis.categories.indexOf(c));
        x0 = u.valToPos(Math.min(...places) - 0.4, 'x', true);
        x1 = u.valToPos(Math.max(...places) + 0.4, 'x', true);
      }
      const y0 = u.valToPos(brush.y.hi, 'y', true);
      const y1 = u.valToPos(brush.y.lo, 'y', true);
      ctx.fillStyle = 'rgba(37, 99, 235, 0.12)';
      ctx.strokeStyle = '#2563eb';
      ctx.lineWidth = ratio;
      ctx.fillRect(Math.min(x0, x1), y0, Math.abs(x1 - x0), y1 - y0);
      ctx.strokeRect(Math.min(x0, x1), y0, Math.abs(x1 - x0), y1 - y0);
    }
    ctx.restore();
    this.host.dataset.pointCount = String(this.points.length);
    this.host.dataset.drawn = String(Number(this.host.dataset.drawn ?? 0) + 1);
  }

  /** The point within 10 px of the pointer, nearest first. */
  private nearest(event: MouseEvent): Point | undefined {
    const chart = this.chart;
    if (!chart) return undefined;
    let found: Point | undefined;
    let distance = 10 * 10;
    for (const p of this.points) {
      const dx = chart.valToPos(p.x, 'x') - event.offsetX;
      const dy = chart.valToPos(p.y, 'y') - event.offsetY;
      if (dx * dx + dy * dy <= distance) {
        distance = dx * dx + dy * dy;
        found = p;
      }
    }
    return found;
  }

  private hover(event: MouseEvent): void {
    const chart = this.chart;
    if (!chart || event.buttons !== 0) return;
    const found = this.nearest(event);
    chart.over.style.cursor = found ? 'pointer' : '';
    if (!found) {
      this.tooltip.hidden = true;
      return;
    }
    const axis = this.xAxis();
    const i = this.runIds.indexOf(found.runId);
    const xValue = axis ? axis.values[i] : undefined;
    this.tooltip.replaceChildren(
      h('b', {}, this.options.labelOf(found.runId)),
      h('div', {}, `${axis?.label ?? 'x'}: ${xValue === undefined ? '—' : String(xValue)}`),
      h('div', {}, `${this.metricAxis?.label ?? 'y'}: ${shortNumber(found.y)}`),
    );
    this.tooltip.hidden = false;
    const left = chart.valToPos(found.x, 'x');
    const flip = left > chart.over.clientWidth / 2;
    this.tooltip.style.left = flip ? '' : `${left + 10}px`;
    this.tooltip.style.right = flip ? `${chart.over.clientWidth - left + 10}px` : '';
    this.tooltip.style.top = `${Math.max(0, Math.min(chart.valToPos(found.y, 'y') - 10, chart.over.clientHeight - 60))}px`;
  }
}

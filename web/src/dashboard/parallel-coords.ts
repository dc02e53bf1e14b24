// Parallel coordinates on a canvas: one vertical axis per hyperparameter that varies, plus the
// summary metric as the last axis, and one polyline per run coloured by that metric. Dragging along
// an axis brushes a range (several axes AND together); a click on an axis clears its brush. Lines
// are batched by colour into one path each, so a thousand runs draw in a few milliseconds.
import { chartTheme } from './chart-axes.js';
import { numericValue } from './config-diff.js';
import { h } from './dom.js';
import {
  type AxisBrush,
  axisPosition,
  brushBetween,
  type HparamAxis,
  RAMP_GRADIENT,
  rampColor,
  shortNumber,
} from './hparam-axes.js';
import { THEME_EVENT } from './theme.js';
import './compare.css';

const HEIGHT = 360;
const MARGIN = { left: 70, right: 90, top: 44, bottom: 30 };
/** How close (CSS px) to an axis a drag must start to brush it. */
const GRAB = 16;
const BUCKETS = 24;
const MUTED = 'rgba(154, 164, 178, 0.25)';

export interface ParallelCoordsOptions {
  /** Called with every axis's brush after one is drawn or cleared. */
  readonly onBrush: (brushes: ReadonlyMap<string, AxisBrush>) => void;
  /** A run's display name, for the hover tooltip (default: its id). */
  readonly labelOf?: (runId: string) => string;
}

/** What the plot draws: the runs, their axes (the colour axis last) and which runs pass the filters. */
export interface ParallelData {
  readonly runIds: readonly string[];
  readonly axes: readonly HparamAxis[];
  /** The axis whose value colours the lines (usually the summary metric). */
  readonly colorAxis: HparamAxis | undefined;
  /** Runs passing every filter; undefined when nothing is brushed. */
  readonly highlighted: ReadonlySet<string> | undefined;
}

/** The parallel-coordinates plot. */
export class ParallelCoords {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private data: ParallelData = { runIds: [], axes: [], colorAxis: undefined, highlighted: undefined };
  private brushes = new Map<string, AxisBrush>();
  /** The brush being dragged: its axis and positions (0..1). */
  private dragging: { key: string; from: number; to: number } | undefined;
  private cssWidth = 0;
  /** Each axis's position (0..1) of each run, from the last draw. */
  private positions: (number | undefined)[][] = [];
  /** The run under the pointer (its index), drawn bold with a tooltip. */
  private hovered: number | undefined;
  private readonly tooltip: HTMLElement;

  constructor(private readonly options: ParallelCoordsOptions) {
    this.canvas = h('canvas', { class: 'parcoords-canvas', 'data-testid': 'parcoords-canvas' });
    this.legend = h('div', { class: 'ramp-legend' });
    this.tooltip = h('div', { class: 'scatter-tooltip', 'data-testid': 'parcoords-tooltip', hidden: true });
    this.element = h(
      'div',
      { class: 'parcoords', 'data-testid': 'parcoords' },
      this.canvas,
      this.tooltip,
      this.legend,
    );
    this.element.dataset.lines = '0';
    this.canvas.addEventListener('pointerdown', (event) => this.pointerDown(event));
    this.canvas.addEventListener('pointermove', (event) => this.pointerMove(event));
    this.canvas.addEventListener('pointerup', (event) => this.pointerUp(event));
    this.canvas.addEventListener('dblclick', () => this.clear());
    this.canvas.addEventListener('pointerleave', () => this.hover(undefined));
    // Canvas colours follow the theme.
    document.addEventListener(THEME_EVENT, () => this.draw());
    // Redraw at the new width when the page resizes or the view is shown after being hidden.
    let resizeTimer: number | undefined;
    new ResizeObserver(() => {
      const width = Math.floor(this.element.clientWidth);
      if (width === 0 || width === this.cssWidth) return;
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => this.draw(), 100);
    }).observe(this.element);
  }

  /** Draws new data; brushes on axes that are gone are dropped (and reported). */
  setData(data: ParallelData): void {
    this.data = data;
    const keys = new Set(data.axes.map((a) => a.key));
    let dropped = false;
    for (const key of [...this.brushes.keys()]) {
      if (!keys.has(key)) {
        this.brushes.delete(key);
        dropped = true;
      }
    }
    this.draw();
    if (dropped) this.options.onBrush(this.brushes);
  }

  /** The brushes drawn, by axis key. */
  currentBrushes(): ReadonlyMap<string, AxisBrush> {
    return this.brushes;
  }

  /** Replaces the brushes (a restored state) without reporting them; unknown axes are skipped. */
  setBrushes(brushes: ReadonlyMap<string, AxisBrush>): void {
    const keys = new Set(this.data.axes.map((a) => a.key));
    this.brushes = new Map([...brushes].filter(([key]) => keys.has(key)));
    this.draw();
  }

  /** Removes every brush (and reports it). */
  clear(): void {
    if (this.brushes.size === 0) return;
    this.brushes.clear();
    this.draw();
    this.options.onBrush(this.brushes);
  }

  /**
   * Where a value of axis `key` is on the page (CSS pixels), for tests and the console; undefined
   * for an unknown axis or a value off it.
   */
  pointOnPage(key: string, value: number | string): { x: number; y: number } | undefined {
    const index = this.data.axes.findIndex((a) => a.key === key);
    const axis = this.data.axes[index];
    if (!axis) return undefined;
    const p = axisPosition(axis, value);
    if (p === undefined) return undefined;
    const box = this.canvas.getBoundingClientRect();
    return { x: box.left + this.axisX(index), y: box.top + this.posY(p) };
  }

  private plotHeight(): number {
    return HEIGHT - MARGIN.top - MARGIN.bottom;
  }

  private posY(position: number): number {
    return MARGIN.top + (1 - position) * this.plotHeight();
  }

  private yPos(y: number): number {
    return Math.max(0, Math.min(1, 1 - (y - MARGIN.top) / this.plotHeight()));
  }

  private axisX(index: number): number {
    const n = this.data.axes.length;
    const span = this.cssWidth - MARGIN.left - MARGIN.right;
    return n <= 1 ? MARGIN.left + span / 2 : MARGIN.left + (index * span) / (n - 1);
  }

  private axisAt(x: number): number {
    let best = -1;
    let distance = GRAB;
    this.data.axes.forEach((_, i) => {
      const d = Math.abs(this.axisX(i) - x);
      if (d <= distance) {
        distance = d;
        best = i;
      }
    });
    return best;
  }

  private pointerDown(event: PointerEvent): void {
    const index = this.axisAt(event.offsetX);
    const axis = this.data.axes[index];
    if (!axis) {
      // A click on a line (away from the axes) opens its run's page.
      const line = this.lineAt(event.offsetX, event.offsetY);
      const id = line === undefined ? undefined : this.data.runIds[line];
      if (id !== undefined) window.location.hash = `#run/${encodeURIComponent(id)}`;
      return;
    }
    const p = this.yPos(event.offsetY);
    this.dragging = { key: axis.key, from: p, to: p };
    this.canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  }

  private pointerMove(event: PointerEvent): void {
    if (!this.dragging) {
      const onAxis = this.axisAt(event.offsetX) >= 0;
      const line = onAxis ? undefined : this.lineAt(event.offsetX, event.offsetY);
      this.canvas.style.cursor = onAxis ? 'ns-resize' : line !== undefined ? 'pointer' : '';
      this.hover(line);
      return;
    }
    this.dragging.to = this.yPos(event.offsetY);
    this.draw();
  }

  private pointerUp(event: PointerEvent): void {
    const drag = this.dragging;
    if (!drag) return;
    this.dragging = undefined;
    this.canvas.releasePointerCapture(event.pointerId);
    const axis = this.data.axes.find((a) => a.key === drag.key);
    // A click (no real drag) clears the axis's brush, as does a drag that catches no category.
    const moved = Math.abs(drag.to - drag.from) * this.plotHeight() >= 3;
    const brush = axis && moved ? brushBetween(axis, drag.from, drag.to) : undefined;
    if (brush && !(brush.kind === 'categories' && brush.values.length === 0))
      this.brushes.set(drag.key, brush);
    else this.brushes.delete(drag.key);
    this.draw();
    this.options.onBrush(this.brushes);
  }

  /** The run whose line passes within a few pixels of (x, y) (CSS pixels), nearest first. */
  private lineAt(x: number, y: number): number | undefined {
    const xs = this.data.axes.map((_, i) => this.axisX(i));
    const a = xs.findIndex((left, i) => i + 1 < xs.length && x >= left && x <= (xs[i + 1] as number));
    if (a < 0) return undefined;
    const x0 = xs[a] as number;
    const t = (x - x0) / ((xs[a + 1] as number) - x0);
    const left = this.positions[a];
    const right = this.positions[a + 1];
    if (!left || !right) return undefined;
    let best: number | undefined;
    let distance = 6;
    for (let r = 0; r < left.length; r++) {
      const p0 = left[r];
      const p1 = right[r];
      if (p0 === undefined || p1 === undefined) continue;
      const d = Math.abs(this.posY(p0 + (p1 - p0) * t) - y);
      if (d < distance) {
        distance = d;
        best = r;
      }
    }
    return best;
  }

  /** Marks run `index` as hovered: bold on top, its values in the tooltip. */
  private hover(index: number | undefined): void {
    if (index === this.hovered) return;
    this.hovered = index;
    const id = index === undefined ? undefined : this.data.runIds[index];
    if (index === undefined || id === undefined) {
      this.tooltip.hidden = true;
      delete this.element.dataset.hovered;
    } else {
      this.tooltip.replaceChildren(
        h('b', {}, this.options.labelOf?.(id) ?? id),
        ...this.data.axes.map((axis) => {
          const v = axis.values[index];
          const text = v === undefined ? '—' : typeof v === 'number' ? shortNumber(v) : String(v);
          return h('div', {}, `${axis.label}: ${text}`);
        }),
      );
      this.tooltip.hidden = false;
      this.element.dataset.hovered = id;
    }
    this.draw();
  }

  /** Places the tooltip next to the hovered line's first point, inside the plot. */
  private placeTooltip(x: number, y: number): void {
    const flip = x > this.cssWidth / 2;
    this.tooltip.style.left = flip ? '' : `${x + 12}px`;
    this.tooltip.style.right = flip ? `${this.cssWidth - x + 12}px` : '';
    this.tooltip.style.top = `${Math.max(0, Math.min(y - 10, HEIGHT - 80))}px`;
  }

  /** The positions (0..1) a brush covers on its axis. */
  private brushSpan(axis: HparamAxis, brush: AxisBrush): [number, number] {
    if (brush.kind === 'range') {
      const lo = axisPosition(axis, brush.lo) ?? 0;
      const hi = axisPosition(axis, brush.hi) ?? 1;
      return [Math.max(0, lo), Math.min(1, hi)];
    }
    const places = brush.values.map((v) => axisPosition(axis, v) ?? 0);
    const pad = axis.categories.length > 1 ? 0.35 / (axis.categories.length - 1) : 0.1;
    return [Math.max(0, Math.min(...places) - pad), Math.min(1, Math.max(...places) + pad)];
  }

  private draw(): void {
    const { runIds, axes, colorAxis, highlighted } = this.data;
    const width = Math.max(320, Math.floor(this.element.clientWidth || 800));
    this.cssWidth = width;
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(HEIGHT * ratio);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${HEIGHT}px`;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const theme = chartTheme();
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    if (axes.length === 0) {
      this.element.dataset.lines = '0';
      return;
    }
    const xs = axes.map((_, i) => this.axisX(i));
    // Each run's positions, computed once.
    const positions = axes.map((axis) => axis.values.map((v) => axisPosition(axis, v)));
    this.positions = positions;
    const colorPositions = colorAxis ? colorAxis.values.map((v) => axisPosition(colorAxis, v)) : undefined;
    const muted = new Path2D();
    const buckets = Array.from({ length: BUCKETS + 1 }, () => new Path2D());
    let drawnLines = 0;
    for (let r = 0; r < runIds.length; r++) {
      const id = runIds[r] as string;
      const on = !highlighted || highlighted.has(id);
      const t = colorPositions?.[r];
      const path = on ? buckets[t === undefined ? BUCKETS : Math.round(t * (BUCKETS - 1))] : muted;
      if (!path) continue;
      let pen = false;
      for (let a = 0; a < axes.length; a++) {
        const p = positions[a]?.[r];
        if (p === undefined) {
          pen = false;
          continue;
        }
        const x = xs[a] as number;
        const y = this.posY(p);
        if (pen) path.lineTo(x, y);
        else path.moveTo(x, y);
        // One axis alone has no lines to draw between: a short tick marks each run.
        if (axes.length === 1) path.lineTo(x + 10, y);
        pen = true;
      }
      drawnLines++;
    }
    const many = runIds.length > 300;
    ctx.lineWidth = many ? 1 : 1.5;
    ctx.strokeStyle = MUTED;
    ctx.stroke(muted);
    ctx.globalAlpha = many ? 0.5 : 0.85;
    buckets.forEach((path, i) => {
      ctx.strokeStyle = i === BUCKETS ? '#9aa4b2' : rampColor(i / (BUCKETS - 1));
      ctx.stroke(path);
    });
    ctx.globalAlpha = 1;
    const hovered = this.hovered;
    if (hovered !== undefined && hovered < runIds.length) {
      const path = new Path2D();
      let pen = false;
      let first: [number, number] | undefined;
      axes.forEach((_, a) => {
        const p = positions[a]?.[hovered];
        if (p === undefined) {
          pen = false;
          return;
        }
        const x = xs[a] as number;
        const y = this.posY(p);
        first ??= [x, y];
        if (pen) path.lineTo(x, y);
        else path.moveTo(x, y);
        pen = true;
      });
      ctx.lineWidth = 3;
      ctx.strokeStyle = theme.fg;
      ctx.stroke(path);
      if (first) this.placeTooltip(first[0], first[1]);
    }

    // Axes, ticks, labels and brushes over the lines.
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    axes.forEach((axis, i) => {
      const x = xs[i] as number;
      ctx.strokeStyle = theme.muted;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, MARGIN.top);
      ctx.lineTo(x, MARGIN.top + this.plotHeight());
      ctx.stroke();
      ctx.fillStyle = theme.fg;
      ctx.textAlign = 'center';
      ctx.font = 'bold 12px system-ui, sans-serif';
      // Crowded axes: labels alternate between two rows and shrink to fit their room.
      const spacing = axes.length > 1 ? (xs[1] as number) - (xs[0] as number) : 200;
      const stagger = spacing < 120 && i % 2 === 1 ? 14 : 0;
      ctx.fillText(
        axis.label + (axis.log ? ' (log)' : ''),
        x,
        12 + stagger,
        Math.max(40, Math.min(180, spacing * 1.8 - 8)),
      );
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillStyle = theme.muted;
      ctx.textAlign = 'right';
      for (const [p, text] of this.ticks(axis)) {
        const y = this.posY(p);
        ctx.fillText(text, x - 6, y, Math.max(30, Math.min(MARGIN.left - 10, spacing - 14)));
        ctx.beginPath();
        ctx.moveTo(x - 3, y);
        ctx.lineTo(x, y);
        ctx.stroke();
      }
      const brush = this.brushes.get(axis.key);
      const span: [number, number] | undefined =
        this.dragging?.key === axis.key
          ? [Math.min(this.dragging.from, this.dragging.to), Math.max(this.dragging.from, this.dragging.to)]
          : brush
            ? this.brushSpan(axis, brush)
            : undefined;
      if (span) {
        const top = this.posY(span[1]);
        const bottom = this.posY(span[0]);
        ctx.fillStyle = 'rgba(37, 99, 235, 0.18)';
        ctx.strokeStyle = '#2563eb';
        ctx.fillRect(x - 8, top, 16, bottom - top);
        ctx.strokeRect(x - 8, top, 16, bottom - top);
      }
    });
    this.element.dataset.lines = String(drawnLines);
    this.element.dataset.axes = axes.map((a) => a.key).join(',');
    this.element.dataset.drawn = String(Number(this.element.dataset.drawn ?? 0) + 1);
    if (colorAxis?.kind === 'numeric') {
      this.legend.replaceChildren(
        h('span', {}, `${colorAxis.label}: ${shortNumber(colorAxis.min)}`),
        h('span', { class: 'ramp', style: `background:${RAMP_GRADIENT}` }),
        h('span', {}, shortNumber(colorAxis.max)),
      );
    } else {
      this.legend.replaceChildren();
    }
  }

  /** Tick positions and texts of an axis: categories, decades of a log axis, or 5 even steps. */
  private ticks(axis: HparamAxis): [number, string][] {
    if (axis.kind === 'categorical') {
      return axis.categories.map((c) => [axisPosition(axis, c) ?? 0, c]);
    }
    if (axis.max === axis.min) return [[0.5, shortNumber(axis.min)]];
    // A handful of distinct values (a seed, a grid of learning rates): a tick at each.
    const distinct = distinctNumbers(axis);
    if (distinct.length <= 8) return distinct.map((v) => [axisPosition(axis, v) ?? 0, shortNumber(v)]);
    const out: [number, string][] = [
      [0, shortNumber(axis.min)],
      [1, shortNumber(axis.max)],
    ];
    if (axis.log) {
      for (let e = Math.ceil(Math.log10(axis.min)); e <= Math.floor(Math.log10(axis.max)); e++) {
        const p = axisPosition(axis, 10 ** e) ?? 0;
        if (p > 0.06 && p < 0.94) out.push([p, shortNumber(10 ** e)]);
      }
    } else {
      for (let i = 1; i < 4; i++) out.push([i / 4, shortNumber(axis.min + ((axis.max - axis.min) * i) / 4)]);
    }
    return out;
  }
}

/** The distinct finite values of a numeric axis, sorted (stops counting past 9). */
export function distinctNumbers(axis: HparamAxis): number[] {
  const seen = new Set<number>();
  for (const v of axis.values) {
    const n = numericValue(v);
    if (n === undefined || !Number.isFinite(n)) continue;
    seen.add(n);
    if (seen.size > 8) break;
  }
  return [...seen].sort((a, b) => a - b);
}

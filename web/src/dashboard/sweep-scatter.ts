// Params vs metric: a uPlot scatter of one grid parameter against a summary of the chosen metric
// (final or best, from /api/sweep/grids), one point per grid or per seed. uPlot draws axes and
// scales; the points are drawn in a draw hook so each can take its grid's colour, and hovering
// shows the nearest point's grid and parameters. A text parameter becomes a categorical axis
// (seeds jittered sideways so they do not hide each other). Clicking a point toggles its grid.
import uPlot from 'uplot';
import type { ParamValue, SweepGridRow, SweepGridsResponse, SweepParam } from './api.js';
import { formatNumber, h, selectOf } from './dom.js';
import { drawDot, paddedRange } from './scatter-axes.js';
import { emptyState } from './states.js';
import { paramsLine } from './sweep-model.js';

const HEIGHT = 320;
const RADIUS = 4;
const MUTED = '#9aa4b2';

/** One point of the scatter. */
export interface ScatterPoint {
  readonly x: number;
  readonly y: number;
  readonly gridId: string;
  readonly seed?: string;
  readonly value: ParamValue;
}

/** What the scatter plots: which parameter, which summary, per grid or per seed. */
export interface ScatterChoice {
  readonly param: string;
  /** `final`, `best`, or `seeds:<column>` (a seeds column's mean). */
  readonly y: string;
  readonly unit: 'grid' | 'seed';
}

/**
 * The points of a scatter choice, with the categories of a text parameter (x is then the
 * category's index, plus a small deterministic jitter per seed). Grids without a value of the
 * parameter or the summary are left out.
 *
 * @example
 * ```ts
 * scatterPoints(answer.grids, { param: 'lr', y: 'final', unit: 'grid' }).points.length; // grids with a final value
 * ```
 */
export function scatterPoints(
  grids: readonly SweepGridRow[],
  choice: ScatterChoice,
): { points: ScatterPoint[]; categories: string[] | undefined } {
  const values = grids.map((g) => g.params[choice.param] ?? null);
  const numeric = values.every((v) => v === null || typeof v === 'number');
  const categories = numeric
    ? undefined
    : [...new Set(values.filter((v) => v !== null).map(String))].sort((a, b) =>
        a.localeCompare(b, undefined, { numeric: true }),
      );
  const xOf = (value: ParamValue): number | undefined => {
    if (value === null) return undefined;
    return categories ? categories.indexOf(String(value)) : (value as number);
  };
  const points: ScatterPoint[] = [];
  for (const grid of grids) {
    const value = grid.params[choice.param] ?? null;
    const x = xOf(value);
    if (x === undefined) continue;
    if (choice.unit === 'seed' && (choice.y === 'final' || choice.y === 'best')) {
      const seeds = grid.per_seed;
      seeds.forEach((seed, i) => {
        const y = choice.y === 'final' ? seed.final : seed.best;
        // Seeds of a category spread over ±0.2 of its slot; numeric x stays exact.
        const jitter = categories && seeds.length > 1 ? (i / (seeds.length - 1) - 0.5) * 0.4 : 0;
        if (Number.isFinite(y))
          points.push({ x: x + jitter, y, gridId: grid.grid_id, seed: seed.seed, value });
      });
      continue;
    }
    const y = summaryOf(grid, choice.y);
    if (y !== null) points.push({ x, y, gridId: grid.grid_id, value });
  }
  points.sort((a, b) => a.x - b.x);
  return { points, categories };
}

function summaryOf(grid: SweepGridRow, y: string): number | null {
  if (y === 'final') return grid.final;
  if (y === 'best') return grid.best;
  if (y.startsWith('seeds:')) return grid.seed_means[y.slice('seeds:'.length)] ?? null;
  return null;
}

export interface SweepScatterOptions {
  readonly params: readonly SweepParam[];
  /** A selected grid's colour; undefined draws it muted. */
  readonly colorOf: (gridId: string) => string | undefined;
  readonly onToggle: (gridId: string) => void;
}

/** The scatter panel: its pickers and the chart. */
export class SweepScatter {
  readonly element: HTMLElement;
  private answer: SweepGridsResponse | undefined;
  private chart: uPlot | undefined;
  private drawn: ScatterPoint[] = [];
  private readonly host: HTMLElement;
  private readonly status: HTMLElement;
  private readonly paramSelect: HTMLSelectElement;
  private readonly ySelect: HTMLSelectElement;
  private readonly unitSelect: HTMLSelectElement;
  private readonly logX: HTMLInputElement;

  constructor(private readonly options: SweepScatterOptions) {
    // A varying parameter first: plotting against a constant says nothing.
    const params = options.params;
    const first = params.find((p) => p.distinct > 1) ?? params[0];
    this.paramSelect = selectOf(
      params.map((p) => [p.name, p.distinct > 1 ? p.name : `${p.name} (constant)`] as const),
      first?.name,
      { 'data-testid': 'scatter-param', 'aria-label': 'Parameter' },
    );
    this.ySelect = selectOf([], undefined, { 'data-testid': 'scatter-y', 'aria-label': 'Summary' });
    this.unitSelect = selectOf(
      [
        ['grid', 'per grid'],
        ['seed', 'per seed'],
      ],
      'grid',
      { 'data-testid': 'scatter-unit', 'aria-label': 'One point per' },
    );
    this.logX = h('input', { type: 'checkbox', 'data-testid': 'scatter-log-x' });
    for (const control of [this.paramSelect, this.ySelect, this.unitSelect, this.logX]) {
      control.addEventListener('change', () => this.draw());
    }
    this.host = h('div', { class: 'scatter-host', 'data-testid': 'scatter-chart' });
    this.host.dataset.pointCount = '0';
    this.status = h('div', { class: 'chart-status', 'data-testid': 'scatter-status' });
    this.element = h(
      'section',
      { class: 'panel scatter-panel', 'data-testid': 'scatter-panel' },
      h('h2', {}, 'Params vs metric'),
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'control' }, 'x ', this.paramSelect),
        h('label', { class: 'control' }, 'y ', this.ySelect),
        this.unitSelect,
        h('label', { class: 'control inline' }, this.logX, ' log x'),
      ),
      this.host,
      this.status,
    );
    let resizeTimer: number | undefined;
    window.addEventListener('resize', () => {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(
        () => this.chart?.setSize({ width: this.width(), height: HEIGHT }),
        150,
      );
    });
  }

  /** Plots a new `/api/sweep/grids` answer (the y choices follow its metric and seeds columns). */
  setData(answer: SweepGridsResponse): void {
    this.answer = answer;
    const previous = this.ySelect.value || 'final';
    const choices: [string, string][] = [
      ['final', `${answer.metric} final`],
      ['best', `${answer.metric} best (${answer.best})`],
      ...answer.seedMetrics.map((name): [string, string] => [`seeds:${name}`, `seeds: ${name}`]),
    ];
    this.ySelect.replaceChildren(
      ...choices.map(([value, label]) => {
        const option = h('option', { value }, label);
        option.selected = value === previous;
        return option;
      }),
    );
    this.draw();
  }

  /** Where each drawn point is on the page (CSS pixels), for tests and the console. */
  pointsOnPage(): { gridId: string; seed?: string; x: number; y: number }[] {
    const chart = this.chart;
    if (!chart) return [];
    const box = chart.over.getBoundingClientRect();
    return this.drawn.map((p) => ({
      gridId: p.gridId,
      seed: p.seed,
      x: box.left + chart.valToPos(p.x, 'x'),
      y: box.top + chart.valToPos(p.y, 'y'),
    }));
  }

  /** Redraws with the current colours (after the selection changed). */
  refresh(): void {
    this.chart?.redraw(false, false);
  }

  private width(): number {
    return Math.max(240, Math.floor(this.host.clientWidth || this.element.clientWidth || 600));
  }

  private draw(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.host.replaceChildren();
    this.host.dataset.pointCount = '0';
    this.drawn = [];
    const answer = this.answer;
    const param = this.paramSelect.value;
    if (!answer || !param) {
      this.host.append(emptyState('The grids have no parameters to plot against.'));
      return;
    }
    const bySeedColumn = this.ySelect.value.startsWith('seeds:');
    this.unitSelect.disabled = bySeedColumn;
    const choice: ScatterChoice = {
      param,
      y: this.ySelect.value || 'final',
      unit: bySeedColumn ? 'grid' : (this.unitSelect.value as 'grid' | 'seed'),
    };
    const { points, categories } = scatterPoints(answer.grids, choice);
    this.drawn = points;
    const logX = this.logX.checked && !categories && points.every((p) => p.x > 0);
    this.logX.disabled = categories !== undefined;
    if (points.length === 0) {
      this.host.append(
        emptyState(`No grid has both ${param} and a ${this.ySelect.selectedOptions[0]?.text ?? 'value'}.`),
      );
      this.status.textContent = '';
      return;
    }
    const byGrid = new Map(answer.grids.map((g) => [g.grid_id, g]));
    const yLabel = this.ySelect.selectedOptions[0]?.text ?? choice.y;
    const tooltip = h('div', { class: 'scatter-tooltip', 'data-testid': 'scatter-tooltip', hidden: true });
    const data: uPlot.AlignedData = [points.map((p) => p.x), points.map((p) => p.y)];
    const opts: uPlot.Options = {
      width: this.width(),
      height: HEIGHT,
      legend: { show: false },
      cursor: { show: false, drag: { x: false, y: false } },
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
      },
      axes: [
        {
          label: param,
          size: 44,
          ...(categories
            ? {
                splits: () => categories.map((_, i) => i),
                values: (_u: uPlot, splits: number[]) => splits.map((i) => categories[i] ?? ''),
              }
            : { values: (_u: uPlot, splits: number[]) => splits.map((v) => formatNumber(v)) }),
        },
        { label: yLabel, size: 64, values: (_u, splits) => splits.map((v) => formatNumber(v)) },
      ],
      // One series only for the scales: the points are drawn below, each in its grid's colour.
      series: [{ label: param }, { label: yLabel, paths: () => null, points: { show: false } }],
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.beginPath();
            ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
            ctx.clip();
            // Unselected grids first, so the selected ones' colours sit on top.
            const ordered = [...points].sort(
              (a, b) =>
                Number(this.options.colorOf(a.gridId) !== undefined) -
                Number(this.options.colorOf(b.gridId) !== undefined),
            );
            for (const p of ordered) {
              const color = this.options.colorOf(p.gridId);
              drawDot(
                ctx,
                u.valToPos(p.x, 'x', true),
                u.valToPos(p.y, 'y', true),
                RADIUS,
                color ?? MUTED,
                color ? 0.9 : 0.55,
              );
            }
            ctx.restore();
            this.host.dataset.pointCount = String(points.length);
            this.host.dataset.drawn = String(Number(this.host.dataset.drawn ?? 0) + 1);
          },
        ],
      },
    };
    const chart = new uPlot(opts, data, this.host);
    this.chart = chart;
    chart.over.append(tooltip);
    const nearest = (event: MouseEvent): ScatterPoint | undefined => {
      let found: ScatterPoint | undefined;
      let distance = 12 * 12;
      for (const p of points) {
        const dx = chart.valToPos(p.x, 'x') - event.offsetX;
        const dy = chart.valToPos(p.y, 'y') - event.offsetY;
        if (dx * dx + dy * dy <= distance) {
          distance = dx * dx + dy * dy;
          found = p;
        }
      }
      return found;
    };
    chart.over.addEventListener('mousemove', (event) => {
      if (event.target !== chart.over) return;
      const p = nearest(event);
      if (!p) {
        tooltip.hidden = true;
        chart.over.style.cursor = '';
        return;
      }
      const grid = byGrid.get(p.gridId);
      tooltip.replaceChildren(
        h('b', {}, p.seed === undefined ? `grid ${p.gridId}` : `grid ${p.gridId}, seed ${p.seed}`),
        h('div', {}, `${yLabel}: ${formatNumber(p.y)}`),
        h('div', { class: 'muted' }, grid ? paramsLine(grid.params, answer.params) : ''),
      );
      tooltip.hidden = false;
      // Keep the box inside the plot: flip it to the left of the point on the right half.
      const left = chart.valToPos(p.x, 'x');
      const top = chart.valToPos(p.y, 'y');
      const flip = left > chart.over.clientWidth / 2;
      tooltip.style.left = flip ? '' : `${left + 10}px`;
      tooltip.style.right = flip ? `${chart.over.clientWidth - left + 10}px` : '';
      tooltip.style.top = `${Math.max(0, Math.min(top - 10, chart.over.clientHeight - 60))}px`;
      tooltip.dataset.gridId = p.gridId;
      chart.over.style.cursor = 'pointer';
    });
    chart.over.addEventListener('mouseleave', () => {
      tooltip.hidden = true;
    });
    chart.over.addEventListener('click', (event) => {
      const p = nearest(event);
      if (p) this.options.onToggle(p.gridId);
    });
    const grids = new Set(points.map((p) => p.gridId)).size;
    this.status.textContent =
      `${points.length} point${points.length === 1 ? '' : 's'} from ${grids} grid${grids === 1 ? '' : 's'}` +
      `${choice.unit === 'seed' ? ', one per seed' : ', one per grid (mean over seeds)'}. ` +
      'Hover a point for its parameters; click it to draw or hide its grid.';
  }
}

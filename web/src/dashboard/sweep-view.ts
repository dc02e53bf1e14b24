// The Sweep view, for sweep lakes (exp_engine's layout: `events` and `seeds` keyed by grid_id and
// seed, plus the `grids` table of parameters). Three panels over one chosen metric:
//   - Curves: the metric chart of the runs view (metric-chart.ts), fed by /api/sweep/curves, with
//     the seeds as its series and mean ± std bands per grid or per parameter value;
//   - Grids: one row per grid with its final and best value (grids table, /api/sweep/grids);
//   - Params vs metric: a scatter of a parameter against a grid summary.
// Grids are the unit of selection: a selected grid has one colour in all three panels.
import {
  ApiError,
  api,
  type LakeResponse,
  type MetricGroupsResponse,
  type MetricsResponse,
  type ParamValue,
  type SweepGridsResponse,
  type SweepResponse,
} from './api.js';
import { h, selectOf } from './dom.js';
import { type CurveSource, MetricPanel } from './metric-chart.js';
import { seriesColor } from './palette.js';
import { emptyState, errorState, isAbort, showError, showLoading } from './states.js';
import { SweepGridsTable } from './sweep-grids-table.js';
import { SweepScatter } from './sweep-scatter.js';

/** Grids drawn when the view opens: the best ones of the table, up to this many. */
const FIRST_SELECTION = 8;

/** Commands that write events into a sweep lake (never `import … runs`: a sweep lake has no runs). */
export const SWEEP_WRITE_COMMANDS = [
  'runlake convert <csv-dir> <lake> --granularity event     # exp_engine CSVs, one per grid/seed',
  "writeEventRows(rows, '<lake>', params)                   # from TypeScript (the runlake package)",
  "write_event_rows(rows, '<lake>', params)                 # from Python (exp_engine)",
  'npm run demo && runlake serve runlake-demo                # or look at the demo sweep',
];

/**
 * Whether the dashboard should open the Sweep view: the lake's schema set is `sweep`, or it has no
 * `runs` and its `events` or `seeds` are keyed by grid_id and seed (a Squiggle lake's `events`
 * are keyed by run_id, so a Squiggle lake without runs still gets the runs view and its hints).
 *
 * @example
 * ```ts
 * isSweepLake(await api.lake()); // true for runlake-demo, false for runlake-demo-squiggle
 * ```
 */
export function isSweepLake(lake: LakeResponse): boolean {
  if (lake.schemaSet === 'sweep') return true;
  const names = new Set(lake.datasets.map((d) => d.name));
  if (names.has('runs')) return false;
  return lake.datasets.some(
    (d) =>
      (d.name === 'events' || d.name === 'seeds') &&
      d.columns.some((c) => c.name === 'grid_id') &&
      d.columns.some((c) => c.name === 'seed'),
  );
}

/** Whether the best value of `metric` is most likely its maximum (accuracies, scores, rewards). */
function higherIsBetter(metric: string): boolean {
  return /acc|score|auc|reward|f1|precision|recall|return|success/i.test(metric);
}

/** The Sweep view: curves, grids table and scatter over one metric, sharing the grid selection. */
export class SweepView {
  readonly element: HTMLElement;
  panel: MetricPanel | undefined;
  table: SweepGridsTable | undefined;
  scatter: SweepScatter | undefined;
  private summary: SweepResponse | undefined;
  private grids: SweepGridsResponse | undefined;
  /** Every grid's colour index, by grid id order, so a grid keeps its colour when others toggle. */
  private readonly gridIndex = new Map<string, number>();
  private readonly selected = new Set<string>();
  private loaded: Promise<void> | undefined;
  private gridsController: AbortController | undefined;
  private xSelect: HTMLSelectElement | undefined;
  private bestSelect: HTMLSelectElement | undefined;
  private gridsHost: HTMLElement | undefined;
  private gridsCount: HTMLElement | undefined;

  constructor() {
    this.element = h('div', { class: 'sweep-view', 'data-testid': 'sweep-view' });
  }

  /** Loads the sweep's description and builds the panels, once. */
  ensureLoaded(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  /** The selected grids, in grid id order. */
  selection(): string[] {
    return [...this.selected].sort((a, b) => (this.gridIndex.get(a) ?? 0) - (this.gridIndex.get(b) ?? 0));
  }

  /** Replaces the selected grids (unknown ids are ignored). */
  setSelection(gridIds: readonly string[]): void {
    this.selected.clear();
    for (const id of gridIds) if (this.gridIndex.has(id)) this.selected.add(id);
    this.selectionChanged();
  }

  /** A selected grid's colour; undefined when it is not selected. */
  colorOf(gridId: string): string | undefined {
    return this.selected.has(gridId) ? seriesColor(this.gridIndex.get(gridId) ?? 0) : undefined;
  }

  private async load(): Promise<void> {
    showLoading(this.element, 'the sweep');
    let summary: SweepResponse;
    try {
      summary = await api.sweep();
    } catch (error) {
      showError(this.element, error, 'describe the sweep');
      return;
    }
    this.summary = summary;
    if (!summary.events || summary.events.rows === 0) {
      this.element.replaceChildren(
        emptyState(
          'This sweep lake has no events yet. Write event rows (one per event or step, with grid_id and seed) with one of:',
          ...SWEEP_WRITE_COMMANDS,
        ),
      );
      return;
    }
    if (summary.metrics.length === 0 || summary.xColumns.length === 0) {
      this.element.replaceChildren(
        emptyState(
          summary.metrics.length === 0
            ? 'The events dataset has no numeric column to plot (besides its keys and x columns).'
            : 'The events dataset has no x column to plot against: log event_id, event or step with each row.',
        ),
      );
      return;
    }
    this.build(summary);
    await this.loadGrids(true);
  }

  private build(summary: SweepResponse): void {
    const xColumns = summary.xColumns;
    const xSelect = selectOf(
      xColumns.map((x) => [x, x] as const),
      xColumns[0],
      { 'data-testid': 'sweep-x', 'aria-label': 'x column', disabled: xColumns.length < 2 },
    );
    this.xSelect = xSelect;
    const source: CurveSource = {
      series: async (query, signal): Promise<MetricsResponse> => {
        const answer = await api.sweepCurves({ ...query, x: xSelect.value }, [], signal);
        return {
          metric: answer.metric,
          width: answer.width,
          smoothing: answer.smoothing,
          series: answer.series.map((s) => ({
            run_id: s.run_id,
            total: s.total,
            downsampled: s.downsampled,
            step: Float64Array.from(s.step),
            value: Float64Array.from(s.value),
          })),
        };
      },
      groups: async (query, by, signal): Promise<MetricGroupsResponse> => {
        const answer = await api.sweepCurves({ ...query, x: xSelect.value }, by, signal);
        return {
          metric: answer.metric,
          by: answer.groupBy,
          width: answer.width,
          smoothing: answer.smoothing,
          groups: answer.groups,
        };
      },
    };
    const metrics = summary.metrics.map((name) => ({
      metric_name: name,
      runs: summary.grids,
      points: summary.events?.rows ?? 0,
    }));
    const panel = new MetricPanel({
      metrics,
      paramKeys: ['grid_id', ...summary.params.map((p) => p.name)],
      initialGroupBy: ['grid_id'],
      colorOf: (runId) => this.colorOf(runId.slice(0, runId.indexOf('/'))) ?? seriesColor(0),
      groupColorOf: (key, index, by) => this.groupColor(key, index, by),
      source,
      xLabel: () => xSelect.value,
      controls: [h('label', { class: 'control' }, 'x ', xSelect)],
      metricLabel: (m) => m.metric_name,
      onMetricChange: () => {
        this.syncBest();
        void this.loadGrids(false);
      },
      hint: 'Click grids in the table below to draw their curves.',
    });
    panel.element.prepend(
      h(
        'h2',
        {},
        'Curves ',
        h(
          'span',
          { class: 'muted' },
          '(one line per seed; group by a parameter for mean ± std bands over seeds)',
        ),
      ),
    );
    panel.element.dataset.testid = 'sweep-curves';
    this.panel = panel;
    xSelect.addEventListener('change', () => {
      panel.reset();
      void this.loadGrids(false);
    });

    const bestSelect = selectOf(
      [
        ['min', 'best = min'],
        ['max', 'best = max'],
      ],
      higherIsBetter(panel.metric()) ? 'max' : 'min',
      { 'data-testid': 'best-toggle', 'aria-label': 'Best value is the' },
    );
    bestSelect.addEventListener('change', () => void this.loadGrids(false));
    this.bestSelect = bestSelect;
    const table = new SweepGridsTable({
      onToggle: (id) => this.toggle(id),
      onSelectAll: (all) => this.setSelection(all ? [...this.gridIndex.keys()] : []),
      colorOf: (id) => this.colorOf(id),
    });
    this.table = table;
    this.gridsHost = h('div', { class: 'grids-host' }, table.element);
    this.gridsCount = h('span', { class: 'runs-count', 'data-testid': 'grids-count' });
    const gridsPanel = h(
      'section',
      { class: 'panel grids-panel', 'data-testid': 'grids-panel' },
      h('h2', {}, 'Grids'),
      h('div', { class: 'toolbar' }, bestSelect, this.gridsCount),
      this.gridsHost,
    );
    const scatter = new SweepScatter({
      params: summary.params,
      colorOf: (id) => this.colorOf(id),
      onToggle: (id) => this.toggle(id),
    });
    this.scatter = scatter;
    this.element.replaceChildren(panel.element, gridsPanel, scatter.element);
  }

  /** The best direction follows the metric's name when the user picks another metric. */
  private syncBest(): void {
    if (this.bestSelect && this.panel)
      this.bestSelect.value = higherIsBetter(this.panel.metric()) ? 'max' : 'min';
  }

  /** A group's colour: its grid's when grouping by grid alone, the palette otherwise. */
  private groupColor(key: Record<string, ParamValue>, index: number, by: readonly string[]): string {
    if (by.length === 1 && (by[0] === 'grid_id' || by[0] === 'grid')) {
      const id = String(key[by[0]]);
      return seriesColor(this.gridIndex.get(id) ?? index);
    }
    return seriesColor(index);
  }

  /** Fetches the grids table for the current metric, x and best direction. */
  private async loadGrids(first: boolean): Promise<void> {
    if (!this.panel || !this.table || !this.scatter || !this.gridsHost) return;
    this.gridsController?.abort();
    const controller = new AbortController();
    this.gridsController = controller;
    const best = (this.bestSelect?.value ?? 'min') as 'min' | 'max';
    this.gridsHost.dataset.loading = 'true';
    try {
      const answer = await api.sweepGrids(
        this.panel.metric(),
        this.xSelect?.value ?? '',
        best,
        controller.signal,
      );
      if (controller.signal.aborted) return;
      this.grids = answer;
      if (this.gridIndex.size === 0) {
        for (const [i, g] of answer.grids.entries()) this.gridIndex.set(g.grid_id, i);
      }
      this.table.setData(answer);
      this.gridsHost.replaceChildren(this.table.element);
      this.scatter.setData(answer);
      const withEvents = answer.grids.filter((g) => g.seeds > 0).length;
      if (this.gridsCount) {
        this.gridsCount.textContent = `${answer.grids.length} grids, ${withEvents} with ${answer.metric} values · click a row to draw or hide its curves`;
      }
      if (first) {
        // Start with the best grids drawn, so the first screen already compares something.
        const order = this.table.order().filter((id) => answer.grids.find((g) => g.grid_id === id)?.seeds);
        this.setSelection(order.slice(0, FIRST_SELECTION));
      }
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      this.gridsHost.replaceChildren(errorState(error, `summarise ${this.panel.metric()} per grid`));
      if (first && error instanceof ApiError) this.panel.setRuns([]);
    } finally {
      if (this.gridsController === controller) delete this.gridsHost.dataset.loading;
    }
  }

  private toggle(gridId: string): void {
    if (this.selected.has(gridId)) this.selected.delete(gridId);
    else this.selected.add(gridId);
    this.selectionChanged();
  }

  private selectionChanged(): void {
    this.table?.refresh();
    this.scatter?.refresh();
    this.panel?.setRuns(this.selection());
    this.element.dataset.selected = String(this.selected.size);
  }

  /** The sweep's description (`/api/sweep`), once loaded. */
  description(): SweepResponse | undefined {
    return this.summary;
  }

  /** The current grids answer, once loaded. */
  gridsAnswer(): SweepGridsResponse | undefined {
    return this.grids;
  }
}

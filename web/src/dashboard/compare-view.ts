// The Compare tab: the config diff of the selected runs, and every run's hyperparameters against
// a summary metric (final / min / max, one SQL query over metrics_scalar) as parallel coordinates
// and a scatter. Brushes on the axes and the scatter's box AND together into one filter, handed to
// the runs table through `onBrush` with a label like `lr∈[1e-4,3e-4], final loss<2.1`.
import type { MetricName, RunRow } from './api.js';
import { ConfigDiffTable } from './config-diff.js';
import { h, selectOf } from './dom.js';
import { type AxisBrush, brushLabel, type HparamAxis, hparamAxes, inBrush, makeAxis } from './hparam-axes.js';
import { HparamsScatter, type ScatterBrush } from './hparams-scatter.js';
import { fetchSummaries, isSystemMetric, type MetricSummary, type SummaryStat } from './metric-summary.js';
import type { CompareState } from './panel-state.js';
import { ParallelCoords } from './parallel-coords.js';
import { errorState, isAbort, isMissingDataset, showLoading } from './states.js';
import './compare.css';

/** What the Compare view needs from the dashboard. */
export interface CompareViewOptions {
  readonly runs: RunRow[];
  readonly metrics: MetricName[];
  /** A selected run's colour (undefined for runs not selected). */
  readonly colorOf: (runId: string) => string | undefined;
  /** A run's display name. */
  readonly labelOf: (runId: string) => string;
  /** The brushed runs and the brush in words; null when every brush is cleared. */
  readonly onBrush: (ids: ReadonlySet<string> | null, label: string) => void;
  /** Select these runs (in the runs table, so the diff and the charts show them). */
  readonly onSelect: (ids: string[]) => void;
}

const STATS: readonly (readonly [SummaryStat, string])[] = [
  ['final', 'final'],
  ['min', 'min'],
  ['max', 'max'],
];

/**
 * The Compare tab.
 *
 * @example
 * ```ts
 * const compare = new CompareView({ runs, metrics, colorOf, labelOf, onBrush: (ids, label) => table.setExternalFilter(ids, label), onSelect: (ids) => table.setSelection(ids) });
 * section.append(compare.element);
 * await compare.ensureLoaded();
 * ```
 */
export class CompareView {
  readonly element: HTMLElement;
  private runs: RunRow[];
  private selection: string[] = [];
  private readonly diff: ConfigDiffTable;
  private readonly parallel: ParallelCoords;
  private readonly scatter: HparamsScatter;
  private readonly metricSelect: HTMLSelectElement;
  private readonly statSelect: HTMLSelectElement;
  private readonly clearButton: HTMLButtonElement;
  private readonly selectButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly plots: HTMLElement;
  private readonly plotsBody: HTMLElement;
  /** The summaries of the metric picked, by run id. */
  private summaries = new Map<string, MetricSummary>();
  private loaded: Promise<void> | undefined;
  private controller: AbortController | undefined;
  private brushedIds: ReadonlySet<string> | undefined;
  private axes: HparamAxis[] = [];
  private metricAxis: HparamAxis | undefined;
  /** A restored state's brushes and scatter view, applied once the axes are known. */
  private pending: Partial<CompareState> | undefined;
  /** Called after the user changes the metric, the statistic, a brush, the scatter or the diff toggle. */
  onStateChange: ((state: CompareState) => void) | undefined;

  constructor(private readonly options: CompareViewOptions) {
    this.runs = options.runs;
    // Training metrics first: a summary of `_runtime` is rarely the point.
    const metrics = [...options.metrics].sort(
      (a, b) => Number(isSystemMetric(a.metric_name)) - Number(isSystemMetric(b.metric_name)),
    );
    const preferred =
      metrics.find((m) => /(^|\/)loss$/.test(m.metric_name)) ??
      metrics.find((m) => !isSystemMetric(m.metric_name)) ??
      metrics[0];
    this.metricSelect = selectOf(
      metrics.map((m) => [m.metric_name, m.metric_name] as const),
      preferred?.metric_name,
      { 'data-testid': 'compare-metric', 'aria-label': 'Summary metric' },
    );
    this.statSelect = selectOf(STATS, 'final', { 'data-testid': 'compare-stat', 'aria-label': 'Statistic' });
    this.metricSelect.addEventListener('change', () => {
      this.loaded = this.loadSummaries();
      this.notify();
    });
    this.statSelect.addEventListener('change', () => {
      this.rebuild();
      this.notify();
    });
    this.clearButton = h(
      'button',
      { type: 'button', 'data-testid': 'compare-clear', disabled: true },
      'Clear brushes',
    );
    this.clearButton.addEventListener('click', () => this.clearBrushes());
    this.selectButton = h(
      'button',
      { type: 'button', 'data-testid': 'compare-select', disabled: true },
      'Select these runs',
    );
    this.selectButton.addEventListener('click', () => {
      if (this.brushedIds)
        options.onSelect(this.runs.map((r) => r.run_id).filter((id) => this.brushedIds?.has(id)));
    });
    this.status = h('div', { class: 'chart-status', 'data-testid': 'compare-status' });
    this.diff = new ConfigDiffTable({
      labelOf: options.labelOf,
      colorOf: options.colorOf,
      onToggle: () => this.notify(),
    });
    this.parallel = new ParallelCoords({ onBrush: () => this.applyBrushes(), labelOf: options.labelOf });
    this.scatter = new HparamsScatter({
      onBrush: () => this.applyBrushes(),
      colorOf: options.colorOf,
      labelOf: options.labelOf,
      onViewChange: () => this.notify(),
    });
    this.plotsBody = h('div', { class: 'compare-plots-body' });
    this.plots = h(
      'section',
      { class: 'panel compare-plots', 'data-testid': 'compare-plots' },
      h(
        'div',
        { class: 'toolbar' },
        h('h2', {}, 'Hyperparameters vs metric'),
        metrics.length > 0 ? h('label', { class: 'control' }, 'Metric ', this.metricSelect) : null,
        metrics.length > 0 ? h('label', { class: 'control' }, this.statSelect) : null,
        this.clearButton,
        this.selectButton,
      ),
      h(
        'p',
        { class: 'muted hint' },
        'Drag along an axis to keep the runs in that range (several axes combine); click an axis to clear its brush. The runs table shows the brushed runs.',
      ),
      this.plotsBody,
      this.status,
    );
    this.element = h(
      'div',
      { class: 'compare-view', 'data-testid': 'compare-view' },
      this.diff.element,
      this.plots,
    );
    this.element.dataset.brushed = '';
  }

  /** Loads the summaries and draws the plots (once; later calls wait for the same load). */
  ensureLoaded(): Promise<void> {
    this.loaded ??= this.loadSummaries();
    return this.loaded;
  }

  /**
   * The view's state (panel-state.ts): metric, statistic, brushes, scatter and diff toggle.
   *
   * @example
   * ```ts
   * compare.getState(); // { metric: 'loss', stat: 'final', brushes: { lr: { kind: 'range', lo: 0.0003, hi: 0.001 } }, … }
   * ```
   */
  getState(): CompareState {
    const pending = this.pending;
    const box = pending ? pending.scatterBox : this.scatter.currentBrush();
    const view = this.scatter.view();
    const scatterX = pending?.scatterX ?? view.x;
    return {
      ...(this.metricSelect.value ? { metric: this.metricSelect.value } : {}),
      stat: this.statSelect.value as SummaryStat,
      brushes: pending?.brushes ?? Object.fromEntries(this.parallel.currentBrushes()),
      ...(scatterX !== undefined ? { scatterX } : {}),
      scatterLogX: pending?.scatterLogX ?? view.logX,
      ...(box ? { scatterBox: box } : {}),
      onlyDifferences: this.diff.onlyDifferences(),
    };
  }

  /**
   * Restores a state (a shared link, a saved workspace). Brushes and the scatter apply once the
   * summaries are loaded; the brushed runs then go to `onBrush` as if drawn by hand. Does not call
   * `onStateChange`.
   */
  setState(state: Partial<CompareState>): void {
    const metricBefore = this.metricSelect.value;
    if (state.metric !== undefined && [...this.metricSelect.options].some((o) => o.value === state.metric)) {
      this.metricSelect.value = state.metric;
    }
    if (state.stat !== undefined) this.statSelect.value = state.stat;
    if (state.onlyDifferences !== undefined) this.diff.setOnlyDifferences(state.onlyDifferences);
    this.pending = {
      brushes: state.brushes ?? {},
      scatterLogX: state.scatterLogX ?? this.scatter.view().logX,
      ...(state.scatterX !== undefined ? { scatterX: state.scatterX } : {}),
      ...(state.scatterBox ? { scatterBox: state.scatterBox } : {}),
    };
    if (!this.loaded) return;
    if (this.metricSelect.value !== metricBefore) this.loaded = this.loadSummaries();
    else this.rebuild();
  }

  /**
   * Clears every brush (the axes' and the scatter's box) and reports `onBrush(null, '')`: for the
   * runs table's chip, when the user clears the brushed filter there.
   */
  clearBrushes(): void {
    this.parallel.clear();
    this.scatter.clear();
  }

  /** Where a value of a parallel-coordinates axis is on the page (tests and the console). */
  parallelPoint(key: string, value: number | string): { x: number; y: number } | undefined {
    return this.parallel.pointOnPage(key, value);
  }

  /** Where each run's scatter point is on the page (tests and the console). */
  scatterPoints(): { runId: string; x: number; y: number }[] {
    return this.scatter.pointsOnPage();
  }

  /** The runs whose configurations the diff compares (the table's selection, in its order). */
  setSelection(runIds: readonly string[]): void {
    this.selection = [...runIds];
    const byId = new Map(this.runs.map((r) => [r.run_id, r]));
    this.diff.setRuns(this.selection.map((id) => byId.get(id)).filter((r): r is RunRow => r !== undefined));
    this.scatter.refresh();
  }

  /** New runs (the live refresh): the axes and the diff follow. */
  setRuns(runs: RunRow[]): void {
    this.runs = runs;
    this.setSelection(this.selection);
    if (this.loaded) this.loaded = this.loadSummaries();
  }

  private async loadSummaries(): Promise<void> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const metric = this.metricSelect.value;
    // Without scalar metrics the hyperparameters alone are still worth comparing.
    if (!metric) {
      this.summaries = new Map();
      this.rebuild();
      return;
    }
    if (this.summaries.size === 0) showLoading(this.plotsBody, `${metric} summaries`);
    try {
      const { rows, truncated } = await fetchSummaries({ metrics: [metric] }, controller.signal);
      if (controller.signal.aborted) return;
      this.summaries = new Map(rows.map((r) => [r.run_id, r]));
      this.element.dataset.summaryTruncated = String(truncated);
    } catch (error) {
      if (isAbort(error)) return;
      if (!isMissingDataset(error)) {
        this.plotsBody.replaceChildren(errorState(error, `summarise ${metric}`));
        return;
      }
      this.summaries = new Map();
    }
    this.rebuild();
  }

  /** Rebuilds the axes (after new runs, metric or statistic) and redraws both plots. */
  private rebuild(): void {
    const metric = this.metricSelect.value;
    const stat = this.statSelect.value as SummaryStat;
    const ids = this.runs.map((r) => r.run_id);
    this.axes = hparamAxes(this.runs);
    this.metricAxis = metric
      ? makeAxis(
          `${stat}:${metric}`,
          `${stat} ${metric}`,
          ids.map((id) => this.summaries.get(id)?.[stat] ?? undefined),
        )
      : undefined;
    if (
      this.plotsBody.querySelector(
        '[data-testid="state-loading"], [data-testid="state-error"], [data-testid="state-empty"]',
      ) ||
      this.plotsBody.childElementCount === 0
    ) {
      this.plotsBody.replaceChildren(
        h('h3', {}, 'Parallel coordinates'),
        this.parallel.element,
        h('h3', {}, 'Scatter'),
        this.scatter.element,
      );
    }
    this.scatter.setData(ids, this.axes, this.metricAxis);
    this.parallel.setData({
      runIds: ids,
      axes: this.metricAxis ? [...this.axes, this.metricAxis] : this.axes,
      colorAxis: this.metricAxis,
      highlighted: this.brushedIds,
    });
    const pending = this.pending;
    if (pending) {
      // A restored state: the brushed runs still go to onBrush, but it is not a user change.
      this.pending = undefined;
      this.parallel.setBrushes(new Map(Object.entries(pending.brushes ?? {})));
      this.scatter.setView({
        ...(pending.scatterX !== undefined ? { x: pending.scatterX } : {}),
        ...(pending.scatterLogX !== undefined ? { logX: pending.scatterLogX } : {}),
        ...(pending.scatterBox ? { box: pending.scatterBox } : {}),
      });
    }
    this.applyBrushes(pending !== undefined);
  }

  private notify(): void {
    this.onStateChange?.(this.getState());
  }

  /** ANDs the axis brushes and the scatter box, tells the dashboard, and redraws both plots. */
  private applyBrushes(restoring = false): void {
    const brushes = this.parallel.currentBrushes();
    const allAxes = this.metricAxis ? [...this.axes, this.metricAxis] : this.axes;
    const active: [HparamAxis, AxisBrush][] = [];
    for (const axis of allAxes) {
      const brush = brushes.get(axis.key);
      if (brush) active.push([axis, brush]);
    }
    const box: ScatterBrush | undefined = this.scatter.currentBrush();
    const labels = active.map(([axis, brush]) => brushLabel(axis, brush));
    if (box) labels.push(this.scatter.label());
    const label = labels.join(', ');
    let ids: Set<string> | undefined;
    if (active.length > 0 || box) {
      ids = new Set();
      this.runs.forEach((run, i) => {
        if (active.every(([axis, brush]) => inBrush(brush, axis.values[i])) && this.scatter.passes(i)) {
          ids?.add(run.run_id);
        }
      });
    }
    const changed = label !== (this.element.dataset.brushLabel ?? '') || !sameSet(ids, this.brushedIds);
    this.brushedIds = ids;
    this.element.dataset.brushLabel = label;
    this.element.dataset.brushed = ids ? [...ids].join(',') : '';
    this.element.dataset.brushedCount = ids ? String(ids.size) : '';
    this.element.dataset.brushes = JSON.stringify(Object.fromEntries(active.map(([a, b]) => [a.key, b])));
    this.element.dataset.scatterBrush = box ? JSON.stringify(box) : '';
    this.clearButton.disabled = !ids;
    this.selectButton.disabled = !ids || ids.size === 0;
    this.parallel.setData({
      runIds: this.runs.map((r) => r.run_id),
      axes: allAxes,
      colorAxis: this.metricAxis,
      highlighted: ids,
    });
    this.scatter.setHighlight(ids);
    const withMetric = this.runs.filter((r) => this.summaries.has(r.run_id)).length;
    const metric = this.metricSelect.value;
    const varying =
      this.axes.length === 1 ? '1 hyperparameter varies' : `${this.axes.length} hyperparameters vary`;
    this.status.textContent =
      `${this.runs.length} runs${metric ? `, ${withMetric} with ${metric}` : ''}; ${varying}` +
      (ids ? `. Brushed: ${ids.size} run${ids.size === 1 ? '' : 's'} (${label}).` : '.');
    if (changed) {
      this.options.onBrush(ids ?? null, label);
      if (!restoring) this.notify();
    }
  }
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (!a || !b) return a === b;
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

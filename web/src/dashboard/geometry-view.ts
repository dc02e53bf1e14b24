// The geometry view: a run's descriptor trajectories as small multiples, one chart per layer ×
// module (a series per sample set / sample), with the run's events drawn as markers at their step
// on the matching chart. Run-level events (null layer or module) appear on every chart they fit.
import uPlot from 'uplot';
import {
  api,
  type GeometryEvent,
  type GeometryResponse,
  type GeometryTrajectory,
  type RunRow,
} from './api.js';
import { formatNumber, h, selectOf } from './dom.js';
import { eventMarkersPlugin } from './event-markers.js';
import { mergeSeries } from './merge-series.js';
import { eventColor, seriesColor } from './palette.js';
import { emptyState, errorState, isAbort, isMissingDataset, showLoading } from './states.js';

const SMALL_HEIGHT = 200;

/** The chart key of a trajectory or event: layer and module. */
interface Cell {
  readonly layer: number | null;
  readonly module: string;
  readonly trajectories: GeometryTrajectory[];
}

/** Whether `event` belongs on the chart of `cell` (null layer/module: every chart). */
export function eventOnCell(event: GeometryEvent, cell: { layer: number | null; module: string }): boolean {
  return (
    (event.layer === null || event.layer === cell.layer) &&
    (event.module === null || event.module === cell.module)
  );
}

export class GeometryView {
  readonly element: HTMLElement;
  private readonly runSelect: HTMLSelectElement;
  private readonly layerSelect: HTMLSelectElement;
  private readonly moduleSelect: HTMLSelectElement;
  private readonly descriptorSelect: HTMLSelectElement;
  private readonly eventFilter: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly hiddenTypes = new Set<string>();
  private charts: uPlot[] = [];
  private data: GeometryResponse | undefined;
  private controller: AbortController | undefined;
  private loadedRun: string | undefined;

  constructor(runs: readonly RunRow[]) {
    this.runSelect = selectOf(
      runs.map((r) => [r.run_id, r.run_id] as const),
      runs[0]?.run_id,
      { 'data-testid': 'geometry-run', 'aria-label': 'Run' },
    );
    this.layerSelect = selectOf([['', 'all layers']], '', {
      'data-testid': 'geometry-layer',
      'aria-label': 'Layer',
    });
    this.moduleSelect = selectOf([['', 'all modules']], '', {
      'data-testid': 'geometry-module',
      'aria-label': 'Module',
    });
    this.descriptorSelect = selectOf([], undefined, {
      'data-testid': 'geometry-descriptor',
      'aria-label': 'Descriptor',
    });
    this.eventFilter = h('div', { class: 'event-filter', 'data-testid': 'event-filter' });
    this.grid = h('div', { class: 'small-multiples', 'data-testid': 'geometry-grid' });
    this.runSelect.addEventListener('change', () => void this.load());
    this.layerSelect.addEventListener('change', () => void this.load());
    this.moduleSelect.addEventListener('change', () => void this.load());
    this.descriptorSelect.addEventListener('change', () => this.render());
    this.element = h(
      'section',
      { class: 'panel geometry-panel', 'data-testid': 'geometry-view' },
      h(
        'div',
        { class: 'toolbar' },
        h('label', { class: 'control' }, 'Run ', this.runSelect),
        h('label', { class: 'control' }, 'Layer ', this.layerSelect),
        h('label', { class: 'control' }, 'Module ', this.moduleSelect),
        h('label', { class: 'control' }, 'Descriptor ', this.descriptorSelect),
      ),
      this.eventFilter,
      this.grid,
    );
    if (runs.length === 0) {
      this.grid.replaceChildren(emptyState('This lake has no runs, so there is no geometry to show.'));
    }
  }

  /** Shows `runId` (e.g. when the view is opened from a link). */
  showRun(runId: string): void {
    if (this.runSelect.value !== runId) {
      this.runSelect.value = runId;
      this.layerSelect.value = '';
      this.moduleSelect.value = '';
    }
    void this.load();
  }

  /** Loads the chosen run (first call: the first run) unless it is already shown. */
  ensureLoaded(): void {
    if (!this.data && this.runSelect.value) void this.load();
  }

  async load(): Promise<void> {
    const run = this.runSelect.value;
    if (!run) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    // A new run starts unfiltered: its layers and modules are not known yet.
    if (run !== this.loadedRun) {
      this.layerSelect.value = '';
      this.moduleSelect.value = '';
    }
    const layer = this.layerSelect.value === '' ? undefined : Number(this.layerSelect.value);
    const module = this.moduleSelect.value || undefined;
    this.destroyCharts();
    showLoading(this.grid, `geometry of ${run}`);
    this.element.dataset.loading = 'true';
    try {
      const data = await api.geometry(run, { layer, module }, controller.signal);
      if (controller.signal.aborted) return;
      this.data = data;
      if (run !== this.loadedRun) {
        this.loadedRun = run;
        this.fillPickers(data);
      }
      this.render();
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      this.data = undefined;
      this.grid.replaceChildren(
        isMissingDataset(error)
          ? emptyState(
              'This lake has no geometry yet. Compute it from probe embeddings:',
              'runlake analyze <lake>',
              'or try: npm run demo && runlake serve runlake-demo-squiggle',
            )
          : errorState(error, `load the geometry of ${run}`),
      );
    } finally {
      if (this.controller === controller) delete this.element.dataset.loading;
    }
  }

  private fillPickers(data: GeometryResponse): void {
    const layers = [
      ...new Set(data.trajectories.map((t) => t.layer).filter((l): l is number => l !== null)),
    ].sort((a, b) => a - b);
    const modules = [...new Set(data.trajectories.map((t) => t.module))].sort();
    this.layerSelect.replaceChildren(
      h('option', { value: '' }, 'all layers'),
      ...layers.map((l) => h('option', { value: l }, `layer ${l}`)),
    );
    this.moduleSelect.replaceChildren(
      h('option', { value: '' }, 'all modules'),
      ...modules.map((m) => h('option', { value: m }, m)),
    );
    const present = new Set<string>();
    for (const t of data.trajectories) {
      for (const [name, values] of Object.entries(t.descriptors))
        if (values.some((v) => v !== null)) present.add(name);
    }
    const previous = this.descriptorSelect.value;
    const names = [...present];
    this.descriptorSelect.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    this.descriptorSelect.value = names.includes(previous)
      ? previous
      : names.includes('effective_rank')
        ? 'effective_rank'
        : (names[0] ?? '');
  }

  private renderEventFilter(events: readonly GeometryEvent[]): void {
    const counts = new Map<string, number>();
    for (const e of events) counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1);
    if (counts.size === 0) {
      this.eventFilter.replaceChildren(h('span', { class: 'muted' }, 'No events detected on this run.'));
      return;
    }
    this.eventFilter.replaceChildren(
      h('span', { class: 'muted' }, 'Events: '),
      ...[...counts].map(([type, n]) => {
        const box = h('input', { type: 'checkbox', 'data-testid': `event-toggle-${type}` });
        box.checked = !this.hiddenTypes.has(type);
        box.addEventListener('change', () => {
          if (box.checked) this.hiddenTypes.delete(type);
          else this.hiddenTypes.add(type);
          this.render();
        });
        return h(
          'label',
          { class: 'inline event-chip', style: `--c: ${eventColor(type)}` },
          box,
          h('span', { class: 'event-chip-swatch' }),
          `${type} (${n})`,
        );
      }),
    );
  }

  private destroyCharts(): void {
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  /** Draws the small multiples for the loaded data and the chosen descriptor. */
  render(): void {
    const data = this.data;
    if (!data) return;
    this.destroyCharts();
    this.renderEventFilter(data.events);
    if (data.trajectories.length === 0) {
      this.grid.replaceChildren(
        emptyState(
          `No geometry for ${this.runSelect.value}${this.layerSelect.value || this.moduleSelect.value ? ' with this layer/module' : ''}. Compute it from the run's probe embeddings:`,
          'runlake analyze <lake>',
        ),
      );
      return;
    }
    const descriptor = this.descriptorSelect.value;
    const cells = new Map<string, Cell>();
    for (const t of data.trajectories) {
      const key = `${t.module}\u0000${t.layer}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = { layer: t.layer, module: t.module, trajectories: [] };
        cells.set(key, cell);
      }
      cell.trajectories.push(t);
    }
    const ordered = [...cells.values()].sort(
      (a, b) => a.module.localeCompare(b.module) || (a.layer ?? -1) - (b.layer ?? -1),
    );
    const events = data.events.filter((e) => !this.hiddenTypes.has(e.event_type));
    const columns = Math.min(4, ordered.length);
    const gridWidth = this.grid.clientWidth || this.element.clientWidth || 1200;
    const chartWidth = Math.max(220, Math.floor((gridWidth - (columns - 1) * 12) / columns) - 2);
    this.grid.style.setProperty('--cols', String(columns));
    const figures = ordered.map((cell) => {
      const host = h('div', {
        class: 'small-chart',
        'data-testid': 'geometry-chart',
        'data-layer': cell.layer ?? '',
        'data-module': cell.module,
        'data-series-count': cell.trajectories.length,
      });
      const cellEvents = events.filter((e) => eventOnCell(e, cell));
      host.dataset.eventCount = String(cellEvents.length);
      return {
        cell,
        host,
        cellEvents,
        figure: h(
          'figure',
          { class: 'small-figure' },
          h('figcaption', {}, `${cell.layer === null ? 'all layers' : `L${cell.layer}`} · ${cell.module}`),
          host,
        ),
      };
    });
    this.grid.replaceChildren(...figures.map((f) => f.figure));
    const multiSet = new Set(data.trajectories.map((t) => t.sample_set)).size > 1;
    for (const { cell, host, cellEvents } of figures) {
      const aligned = mergeSeries(
        cell.trajectories.map((t) => ({ x: t.step, y: t.descriptors[descriptor] ?? t.step.map(() => null) })),
      );
      const series: uPlot.Series[] = [
        { label: 'step' },
        ...cell.trajectories.map((t, i) => ({
          label: `${multiSet ? `${t.sample_set} ` : ''}${t.sample_id === '*' || t.sample_id === null ? 'all samples' : t.sample_id}`,
          stroke: seriesColor(i),
          width: 1.5,
          spanGaps: true,
          points: { show: true, size: 3 },
        })),
      ];
      const chart = new uPlot(
        {
          width: chartWidth,
          height: SMALL_HEIGHT,
          legend: { show: false },
          scales: { x: { time: false } },
          axes: [
            { size: 30, values: (_u, splits) => splits.map((v) => formatNumber(v)) },
            { size: 50, values: (_u, splits) => splits.map((v) => formatNumber(v)) },
          ],
          series,
          cursor: { sync: { key: 'runlake-geometry' }, drag: { x: true, y: false } },
          plugins: [eventMarkersPlugin(cellEvents)],
        },
        aligned as uPlot.AlignedData,
        host,
      );
      this.charts.push(chart);
    }
    this.grid.dataset.descriptor = descriptor;
  }
}

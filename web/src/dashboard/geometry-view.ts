// The geometry view: descriptor trajectories as small multiples, one chart per layer × module, with
// detected events drawn as badges at their step on the matching chart. Run-level events (null layer
// or module) appear on every chart they fit.
//
// One run, or several overlaid (e.g. all seeds of a grid, one click): each chart then draws one
// line per run in the run's colour, with a legend of runs whose events can be toggled one by one.
// The charts sit in a responsive grid and follow their cells' width (ResizeObserver), so they never
// overlap or overflow when the window is resized.
import './geometry.css';
import uPlot from 'uplot';
import {
  api,
  type GeometryEvent,
  type GeometryResponse,
  type GeometryTrajectory,
  type RunRow,
} from './api.js';
import { chartTheme } from './chart-axes.js';
import { formatNumber, h, selectOf } from './dom.js';
import {
  type EventGroup,
  eventMarkersPlugin,
  eventTitle,
  LANE_HEIGHT,
  type RunEvent,
} from './event-markers.js';
import { mergeSeries } from './merge-series.js';
import { eventColor, seriesColor } from './palette.js';
import { emptyState, errorState, isAbort, isMissingDataset, showLoading } from './states.js';
import { THEME_EVENT } from './theme.js';

const SMALL_HEIGHT = 220;
/** Room for two lanes of event badges above each chart's plotting area. */
const BADGE_STRIP = 2 * LANE_HEIGHT + 2;

/** Geometry requests in flight at once when several runs are overlaid (the server has few workers). */
const FETCHES_AT_ONCE = 4;

/**
 * `fn` over `items` with at most `limit` calls pending at once; results in input order.
 *
 * @example
 * ```ts
 * await mapLimited(['a', 'b', 'c'], 2, async (run) => api.geometry(run)); // two requests at a time
 * ```
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** A trajectory and the run it belongs to. */
interface RunTrajectory {
  readonly run: string;
  readonly trajectory: GeometryTrajectory;
}

/** The chart key of a trajectory or event: layer and module. */
interface Cell {
  readonly layer: number | null;
  readonly module: string;
  readonly trajectories: RunTrajectory[];
}

/**
 * Whether `event` belongs on the chart of `cell` (null layer/module: every chart).
 *
 * @example
 * ```ts
 * eventOnCell({ ...event, layer: null, module: 'mlp_out' }, { layer: 2, module: 'mlp_out' }); // true
 * ```
 */
export function eventOnCell(event: GeometryEvent, cell: { layer: number | null; module: string }): boolean {
  return (
    (event.layer === null || event.layer === cell.layer) &&
    (event.module === null || event.module === cell.module)
  );
}

/**
 * The runs that share `run`'s grid (same `grid_id`, i.e. the seeds of one configuration), in the
 * order of `runs`; just `run` when it has no grid.
 *
 * @example
 * ```ts
 * sameGridRuns(runs, 'tiny-lr0.0003-s0'); // ['tiny-lr0.0003-s0', …, 'tiny-lr0.0003-s3']
 * ```
 */
export function sameGridRuns(runs: readonly RunRow[], run: string): string[] {
  const grid = runs.find((r) => r.run_id === run)?.grid_id;
  if (grid === null || grid === undefined || grid === '') return [run];
  return runs.filter((r) => r.grid_id === grid).map((r) => r.run_id);
}

/**
 * What the Geometry view shows, for URL state and saved workspaces ({@link GeometryView.getState}).
 * Absent fields of a `setState` argument are left as they are.
 */
export interface GeometryViewState {
  /** The picked run first, then the overlaid runs. */
  readonly runs: readonly string[];
  /** The layer filter (null: all layers). */
  readonly layer: number | null;
  /** The module filter (null: all modules). */
  readonly module: string | null;
  readonly descriptor: string;
  /** Event types switched off in the event legend. */
  readonly hiddenEventTypes: readonly string[];
  /** Runs whose events are switched off in the run legend. */
  readonly hiddenEventRuns: readonly string[];
}

/**
 * The Geometry view: a run picker (runs with geometry only), an overlay of several runs, layer /
 * module / descriptor pickers, a run legend, event-type toggles, and the small multiples.
 *
 * @example
 * ```ts
 * const view = new GeometryView(runs);
 * section.append(view.element);
 * view.ensureLoaded(); // when the tab is first shown
 * view.showRuns(['tiny-lr0.0003-s0', 'tiny-lr0.0003-s2']); // overlay two seeds
 * ```
 */
export class GeometryView {
  readonly element: HTMLElement;
  private readonly runSelect: HTMLSelectElement;
  private readonly compareBox: HTMLElement;
  private readonly compareSummary: HTMLElement;
  private readonly allSeeds: HTMLButtonElement;
  private readonly layerSelect: HTMLSelectElement;
  private readonly moduleSelect: HTMLSelectElement;
  private readonly descriptorSelect: HTMLSelectElement;
  private readonly runLegend: HTMLElement;
  private readonly eventFilter: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly tooltip: HTMLElement;
  private readonly hiddenTypes = new Set<string>();
  /** Runs whose events are hidden. */
  private readonly hiddenEventRuns = new Set<string>();
  /** Runs overlaid besides the one picked in the run select. */
  private readonly compared = new Set<string>();
  private readonly cache = new Map<string, GeometryResponse>();
  private readonly resizer: ResizeObserver;
  private readonly chartOf = new Map<Element, uPlot>();
  /** Runs with geometry (all runs until the lake has told which). */
  private geometryRuns: RunRow[];
  private charts: uPlot[] = [];
  private data: RunTrajectory[] | undefined;
  private events: RunEvent[] = [];
  private controller: AbortController | undefined;
  private loadedRun: string | undefined;
  private started = false;
  /** Filters asked for by `setState`, applied once the pickers know the run's layers and modules. */
  private pending: Partial<Pick<GeometryViewState, 'layer' | 'module' | 'descriptor'>> | undefined;
  /** Called after every redraw with the view's state (URL state, workspace saving). */
  onStateChange: ((state: GeometryViewState) => void) | undefined;

  constructor(private readonly runs: readonly RunRow[]) {
    this.geometryRuns = [...runs];
    this.runSelect = selectOf(
      runs.map((r) => [r.run_id, r.run_id] as const),
      runs[0]?.run_id,
      { 'data-testid': 'geometry-run', 'aria-label': 'Run' },
    );
    this.compareSummary = h('summary', {}, 'Overlay runs');
    this.compareBox = h(
      'details',
      { class: 'geometry-compare', 'data-testid': 'geometry-compare' },
      this.compareSummary,
    );
    this.allSeeds = h(
      'button',
      {
        type: 'button',
        class: 'button',
        'data-testid': 'geometry-all-seeds',
        title: "Overlay every run of this run's grid (its seeds), one colour per run",
      },
      'All seeds of this grid',
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
    this.runLegend = h('div', { class: 'geometry-run-legend', 'data-testid': 'geometry-run-legend' });
    this.eventFilter = h('div', { class: 'event-filter', 'data-testid': 'event-filter' });
    this.grid = h('div', { class: 'small-multiples', 'data-testid': 'geometry-grid' });
    this.tooltip = h('div', {
      class: 'geometry-tooltip',
      role: 'tooltip',
      id: 'geometry-tooltip',
      'data-testid': 'geometry-tooltip',
      hidden: true,
    });
    this.resizer = new ResizeObserver((entries) => {
      for (const entry of entries) {
        const chart = this.chartOf.get(entry.target);
        const width = Math.floor(entry.contentRect.width);
        if (chart && width > 0 && Math.abs(chart.width - width) >= 1)
          chart.setSize({ width, height: SMALL_HEIGHT });
      }
    });
    this.runSelect.addEventListener('change', () => {
      this.compared.clear();
      void this.load();
    });
    this.allSeeds.addEventListener('click', () => {
      const primary = this.runSelect.value;
      const withGeometry = new Set(this.geometryRuns.map((r) => r.run_id));
      for (const run of sameGridRuns(this.runs, primary))
        if (run !== primary && withGeometry.has(run)) this.compared.add(run);
      void this.load();
    });
    this.layerSelect.addEventListener('change', () => void this.load());
    this.moduleSelect.addEventListener('change', () => void this.load());
    this.descriptorSelect.addEventListener('change', () => this.render());
    // Canvases do not follow CSS: redraw in the new theme's colours.
    document.addEventListener(THEME_EVENT, () => this.render());
    this.element = h(
      'section',
      { class: 'panel geometry-panel', 'data-testid': 'geometry-view' },
      h(
        'div',
        { class: 'toolbar geometry-toolbar' },
        h('label', { class: 'control' }, 'Run ', this.runSelect),
        this.compareBox,
        this.allSeeds,
        h('label', { class: 'control' }, 'Layer ', this.layerSelect),
        h('label', { class: 'control' }, 'Module ', this.moduleSelect),
        h('label', { class: 'control' }, 'Descriptor ', this.descriptorSelect),
      ),
      this.runLegend,
      this.eventFilter,
      this.grid,
      this.tooltip,
    );
    this.fillCompare();
    if (runs.length === 0) {
      this.grid.replaceChildren(emptyState('This lake has no runs, so there is no geometry to show.'));
    }
  }

  /** Shows `runId` alone (e.g. when the view is opened from a link). */
  showRun(runId: string): void {
    if (this.runSelect.value !== runId) {
      this.runSelect.value = runId;
      this.layerSelect.value = '';
      this.moduleSelect.value = '';
    }
    this.compared.clear();
    void this.load();
  }

  /** Overlays `runIds` (the first one is the run the pickers follow). */
  showRuns(runIds: readonly string[]): void {
    const [first, ...rest] = runIds;
    if (!first) return;
    this.runSelect.value = first;
    this.compared.clear();
    for (const run of rest) this.compared.add(run);
    void this.load();
  }

  /**
   * The runs, filters, descriptor and hidden events shown.
   *
   * @example
   * ```ts
   * view.getState(); // { runs: ['tiny-lr0.0003-s0', 'tiny-lr0.0003-s2'], layer: null, module: null, descriptor: 'effective_rank', … }
   * ```
   */
  getState(): GeometryViewState {
    const primary = this.runSelect.value;
    const pending = this.pending;
    const layer = pending && pending.layer !== undefined ? pending.layer : this.layerSelect.value;
    const module = pending && pending.module !== undefined ? pending.module : this.moduleSelect.value;
    return {
      runs: [primary, ...this.selectedRuns().filter((r) => r !== primary)].filter(Boolean),
      layer: layer === null || layer === '' ? null : Number(layer),
      module: module === null || module === '' ? null : module,
      descriptor: pending?.descriptor ?? this.descriptorSelect.value,
      hiddenEventTypes: [...this.hiddenTypes],
      hiddenEventRuns: [...this.hiddenEventRuns],
    };
  }

  /**
   * Shows `state` (fields left out keep their value) and loads what it needs.
   *
   * @example
   * ```ts
   * view.setState({ runs: ['tiny-lr0.0003-s1', 'tiny-lr0.0003-s3'], layer: 2, descriptor: 'intrinsic_dim' });
   * ```
   */
  setState(state: Partial<GeometryViewState>): void {
    const [first, ...rest] = state.runs ?? [];
    if (first) {
      this.runSelect.value = first;
      this.compared.clear();
      for (const run of rest) this.compared.add(run);
    }
    if (state.hiddenEventTypes) {
      this.hiddenTypes.clear();
      for (const t of state.hiddenEventTypes) this.hiddenTypes.add(t);
    }
    if (state.hiddenEventRuns) {
      this.hiddenEventRuns.clear();
      for (const r of state.hiddenEventRuns) this.hiddenEventRuns.add(r);
    }
    const pending = {
      ...(state.layer !== undefined ? { layer: state.layer } : {}),
      ...(state.module !== undefined ? { module: state.module } : {}),
      ...(state.descriptor !== undefined ? { descriptor: state.descriptor } : {}),
    };
    this.pending = Object.keys(pending).length > 0 ? { ...this.pending, ...pending } : this.pending;
    if (!this.started) this.ensureLoaded();
    else void this.load();
  }

  /** Loads the chosen run (first call: the first run with geometry) unless it is already shown. */
  ensureLoaded(): void {
    if (this.started || this.runs.length === 0) return;
    this.started = true;
    void this.start();
  }

  /** Finds the runs that have geometry, narrows the run picker to them, and loads the first. */
  private async start(): Promise<void> {
    showLoading(this.grid, 'the runs with geometry');
    try {
      const answer = await api.query<{ run_id: string }>(
        'SELECT DISTINCT run_id FROM geometry_state ORDER BY run_id',
      );
      const has = new Set(answer.rows.map((r) => r.run_id));
      const runs = this.runs.filter((r) => has.has(r.run_id));
      if (runs.length > 0) {
        const previous = this.runSelect.value;
        this.geometryRuns = runs;
        this.runSelect.replaceChildren(...runs.map((r) => h('option', { value: r.run_id }, r.run_id)));
        this.runSelect.value = has.has(previous) ? previous : (runs[0]?.run_id ?? '');
        this.fillCompare();
      }
    } catch {
      // No geometry_state dataset (or no SQL access): load() says what is missing.
    }
    await this.load();
  }

  /** The overlaid runs: the picked run and the compared ones, in the run picker's order. */
  private selectedRuns(): string[] {
    const primary = this.runSelect.value;
    return this.geometryRuns.map((r) => r.run_id).filter((run) => run === primary || this.compared.has(run));
  }

  /** The colour of a run: its place among the runs with geometry, so it keeps it when others are toggled. */
  private runColor(run: string): string {
    return seriesColor(
      Math.max(
        0,
        this.geometryRuns.findIndex((r) => r.run_id === run),
      ),
    );
  }

  private fillCompare(): void {
    const primary = this.runSelect.value;
    const boxes = this.geometryRuns.map((r) => {
      const box = h('input', { type: 'checkbox', 'data-run': r.run_id });
      box.checked = r.run_id === primary || this.compared.has(r.run_id);
      box.disabled = r.run_id === primary;
      box.addEventListener('change', () => {
        if (box.checked) this.compared.add(r.run_id);
        else this.compared.delete(r.run_id);
        void this.load();
      });
      return h(
        'label',
        { class: 'inline', style: `--c: ${this.runColor(r.run_id)}` },
        box,
        h('span', { class: 'run-swatch' }),
        r.run_id,
      );
    });
    const n = this.selectedRuns().length;
    this.compareSummary.textContent = n > 1 ? `Overlay runs (${n})` : 'Overlay runs';
    this.compareBox.replaceChildren(
      this.compareSummary,
      h('div', { class: 'geometry-compare-list' }, ...boxes),
    );
    const seeds = sameGridRuns(this.runs, primary).filter((run) =>
      this.geometryRuns.some((r) => r.run_id === run),
    );
    this.allSeeds.disabled = seeds.length < 2;
    this.allSeeds.textContent =
      seeds.length > 1 ? `All seeds of this grid (${seeds.length})` : 'All seeds of this grid';
  }

  async load(): Promise<void> {
    const primary = this.runSelect.value;
    if (!primary) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    // A new run starts unfiltered: its layers and modules are not known yet.
    if (primary !== this.loadedRun) {
      this.layerSelect.value = '';
      this.moduleSelect.value = '';
    }
    this.fillCompare();
    const pending = this.pending;
    let layer = this.layerSelect.value === '' ? undefined : Number(this.layerSelect.value);
    let module = this.moduleSelect.value || undefined;
    if (pending?.layer !== undefined) layer = pending.layer ?? undefined;
    if (pending?.module !== undefined) module = pending.module ?? undefined;
    const runs = this.selectedRuns();
    this.destroyCharts();
    showLoading(this.grid, `geometry of ${runs.length > 1 ? `${runs.length} runs` : primary}`);
    this.element.dataset.loading = 'true';
    // A run shown for the first time is fetched unfiltered, so its pickers list all its layers and
    // modules; filters asked for by setState are then applied here.
    const newRun = primary !== this.loadedRun;
    const fetchLayer = newRun ? undefined : layer;
    const fetchModule = newRun ? undefined : module;
    try {
      const answers = await mapLimited(runs, FETCHES_AT_ONCE, async (run) => {
        const key = JSON.stringify([run, fetchLayer ?? null, fetchModule ?? null]);
        const cached = this.cache.get(key);
        if (cached) return { run, data: cached };
        const data = await api.geometry(run, { layer: fetchLayer, module: fetchModule }, controller.signal);
        this.cache.set(key, data);
        return { run, data };
      });
      if (controller.signal.aborted) return;
      const all = answers.flatMap(({ run, data }) =>
        data.trajectories.map((trajectory) => ({ run, trajectory })),
      );
      if (newRun) {
        this.loadedRun = primary;
        this.fillPickers(all);
      }
      this.data = all.filter(
        ({ trajectory: t }) =>
          (layer === undefined || t.layer === layer) && (module === undefined || t.module === module),
      );
      this.events = answers.flatMap(({ run, data }) =>
        data.events
          .filter(
            (e) =>
              (layer === undefined || e.layer === null || e.layer === layer) &&
              (module === undefined || e.module === null || e.module === module),
          )
          .map((event) => ({ run, event })),
      );
      if (pending && this.pending === pending) {
        // The pickers now hold the run's layers and modules: show the filters asked for.
        this.layerSelect.value = layer === undefined ? '' : String(layer);
        this.moduleSelect.value = module ?? '';
        const descriptor = pending.descriptor;
        if (descriptor && [...this.descriptorSelect.options].some((o) => o.value === descriptor))
          this.descriptorSelect.value = descriptor;
        this.pending = undefined;
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
          : errorState(error, `load the geometry of ${runs.join(', ')}`),
      );
    } finally {
      if (this.controller === controller) delete this.element.dataset.loading;
    }
  }

  private fillPickers(data: readonly RunTrajectory[]): void {
    const layers = [
      ...new Set(data.map((t) => t.trajectory.layer).filter((l): l is number => l !== null)),
    ].sort((a, b) => a - b);
    const modules = [...new Set(data.map((t) => t.trajectory.module))].sort();
    this.layerSelect.replaceChildren(
      h('option', { value: '' }, 'all layers'),
      ...layers.map((l) => h('option', { value: l }, `layer ${l}`)),
    );
    this.moduleSelect.replaceChildren(
      h('option', { value: '' }, 'all modules'),
      ...modules.map((m) => h('option', { value: m }, m)),
    );
    const present = new Set<string>();
    for (const { trajectory } of data) {
      for (const [name, values] of Object.entries(trajectory.descriptors))
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

  /** The legend of the drawn runs: colour, name, and a toggle for the run's events. */
  private renderRunLegend(runs: readonly string[]): void {
    const counts = new Map<string, number>();
    for (const { run } of this.events) counts.set(run, (counts.get(run) ?? 0) + 1);
    this.runLegend.replaceChildren(
      ...runs.map((run) => {
        const box = h('input', {
          type: 'checkbox',
          'data-testid': 'geometry-run-events',
          'data-run': run,
          'aria-label': `Events of ${run}`,
        });
        box.checked = !this.hiddenEventRuns.has(run);
        box.addEventListener('change', () => {
          if (box.checked) this.hiddenEventRuns.delete(run);
          else this.hiddenEventRuns.add(run);
          this.render();
        });
        return h(
          'span',
          {
            class: 'geometry-run-chip',
            'data-testid': 'geometry-run-chip',
            'data-run': run,
            style: `--c: ${this.runColor(run)}`,
          },
          h('span', { class: 'run-line' }),
          h('strong', {}, run),
          h('label', { class: 'inline muted' }, box, `events (${counts.get(run) ?? 0})`),
        );
      }),
    );
  }

  private renderEventFilter(events: readonly RunEvent[]): void {
    const counts = new Map<string, number>();
    for (const { event: e } of events) counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1);
    if (counts.size === 0) {
      this.eventFilter.replaceChildren(
        h('span', { class: 'muted' }, 'No events detected on the runs shown.'),
      );
      return;
    }
    this.eventFilter.replaceChildren(
      h('span', { class: 'muted' }, 'Events: '),
      ...[...counts].map(([type, n]) => {
        const box = h('input', {
          type: 'checkbox',
          'data-testid': `event-toggle-${type}`,
          'data-event-type': type,
        });
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

  /** Shows the tooltip of an event badge next to it, or hides it. */
  private hover(anchor: HTMLElement, group: EventGroup | undefined): void {
    if (!group) {
      this.tooltip.hidden = true;
      anchor.removeAttribute('aria-describedby');
      return;
    }
    const runs = new Set(group.events.map((e) => e.run));
    this.tooltip.replaceChildren(
      h(
        'div',
        { class: 'tooltip-title', style: `--c: ${eventColor(group.eventType)}` },
        `${group.eventType} at step ${group.step}`,
        group.events.length > 1 ? ` · ${group.events.length} events` : '',
      ),
      ...group.events.map(({ run, event }) =>
        h(
          'div',
          { class: 'tooltip-event' },
          runs.size > 1 || this.selectedRuns().length > 1
            ? h('div', { class: 'tooltip-run', style: `--c: ${this.runColor(run)}` }, run)
            : null,
          ...eventTitle(event)
            .split('\n')
            .slice(1)
            .map((line) => h('div', {}, line)),
          event.step_end !== null && event.step_end !== event.step
            ? h('div', {}, `until step ${event.step_end}`)
            : null,
        ),
      ),
    );
    this.tooltip.hidden = false;
    anchor.setAttribute('aria-describedby', this.tooltip.id);
    const a = anchor.getBoundingClientRect();
    const t = this.tooltip.getBoundingClientRect();
    const left = Math.min(Math.max(4, a.left), window.innerWidth - t.width - 4);
    const below = a.bottom + 6;
    const top = below + t.height > window.innerHeight - 4 ? Math.max(4, a.top - t.height - 6) : below;
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${top}px`;
  }

  private destroyCharts(): void {
    this.resizer.disconnect();
    this.chartOf.clear();
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    this.tooltip.hidden = true;
  }

  /** Draws the small multiples for the loaded data and the chosen descriptor. */
  render(): void {
    const data = this.data;
    if (!data) return;
    this.destroyCharts();
    const runs = this.selectedRuns();
    this.renderRunLegend(runs);
    const eventsShown = this.events.filter((e) => !this.hiddenEventRuns.has(e.run));
    this.renderEventFilter(eventsShown);
    if (data.length === 0) {
      this.grid.replaceChildren(
        emptyState(
          `No geometry for ${runs.join(', ')}${this.layerSelect.value || this.moduleSelect.value ? ' with this layer/module' : ''}. Compute it from the run's probe embeddings:`,
          'runlake analyze <lake>',
        ),
      );
      return;
    }
    const descriptor = this.descriptorSelect.value;
    const cells = new Map<string, Cell>();
    for (const t of data) {
      const key = `${t.trajectory.module}\u0000${t.trajectory.layer}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = { layer: t.trajectory.layer, module: t.trajectory.module, trajectories: [] };
        cells.set(key, cell);
      }
      cell.trajectories.push(t);
    }
    const ordered = [...cells.values()].sort(
      (a, b) => a.module.localeCompare(b.module) || (a.layer ?? -1) - (b.layer ?? -1),
    );
    const events = eventsShown.filter((e) => !this.hiddenTypes.has(e.event.event_type));
    const figures = ordered.map((cell) => {
      const cellRuns = runs.filter((run) => cell.trajectories.some((t) => t.run === run));
      const host = h('div', {
        class: 'small-chart',
        'data-testid': 'geometry-chart',
        'data-layer': cell.layer ?? '',
        'data-module': cell.module,
        'data-series-count': cell.trajectories.length,
        'data-run-count': cellRuns.length,
        'data-runs': cellRuns.join(','),
      });
      const cellEvents = events.filter((e) => eventOnCell(e.event, cell));
      host.dataset.eventCount = String(cellEvents.length);
      return {
        cell,
        host,
        cellEvents,
        figure: h(
          'figure',
          { class: 'small-figure', 'data-testid': 'geometry-figure' },
          h('figcaption', {}, `${cell.layer === null ? 'all layers' : `L${cell.layer}`} · ${cell.module}`),
          h(
            'div',
            { class: 'small-plot' },
            h('span', { class: 'axis-y-label', 'data-testid': 'axis-y-label' }, descriptor),
            host,
          ),
          h('div', { class: 'axis-x-label', 'data-testid': 'axis-x-label' }, 'step'),
        ),
      };
    });
    this.grid.replaceChildren(...figures.map((f) => f.figure));
    const overlay = runs.length > 1;
    const theme = chartTheme();
    const axis = (size: number): uPlot.Axis => ({
      size,
      stroke: theme.muted,
      grid: { stroke: theme.grid },
      ticks: { stroke: theme.grid },
      values: (_u, splits) => splits.map((v) => formatNumber(v)),
    });
    const multiSet = new Set(data.map((t) => t.trajectory.sample_set)).size > 1;
    for (const { cell, host, cellEvents } of figures) {
      const aligned = mergeSeries(
        cell.trajectories.map(({ trajectory: t }) => ({
          x: t.step,
          y: t.descriptors[descriptor] ?? t.step.map(() => null),
        })),
      );
      const series: uPlot.Series[] = [
        { label: 'step' },
        ...cell.trajectories.map(({ run, trajectory: t }, i) => {
          const sample = `${multiSet ? `${t.sample_set} ` : ''}${t.sample_id === '*' || t.sample_id === null ? 'all samples' : t.sample_id}`;
          return {
            label: overlay ? `${run} ${sample}` : sample,
            stroke: overlay ? this.runColor(run) : seriesColor(i),
            width: 1.5,
            spanGaps: true,
            points: { show: true, size: 3 },
          };
        }),
      ];
      const chart = new uPlot(
        {
          width: Math.max(120, Math.floor(host.clientWidth) || 260),
          height: SMALL_HEIGHT,
          legend: { show: false },
          padding: [cellEvents.length > 0 ? BADGE_STRIP + 4 : 10, 18, 0, 0],
          scales: { x: { time: false } },
          axes: [axis(30), axis(46)],
          series,
          cursor: { sync: { key: 'runlake-geometry' }, drag: { x: true, y: false } },
          plugins: [
            eventMarkersPlugin(cellEvents, {
              strip: cellEvents.length > 0 ? BADGE_STRIP : 0,
              onHover: (anchor, group) => this.hover(anchor, group),
            }),
          ],
        },
        aligned as uPlot.AlignedData,
        host,
      );
      this.charts.push(chart);
      this.chartOf.set(host, chart);
      this.resizer.observe(host);
    }
    this.grid.dataset.descriptor = descriptor;
    this.onStateChange?.(this.getState());
  }
}

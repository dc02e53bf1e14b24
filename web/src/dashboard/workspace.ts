// The workspace of the runs view: one metric panel per metric (the first WORKSPACE_DEFAULT_PANELS,
// the rest addable), in collapsible sections by name prefix (`train/`, `eval/`, `system/`, no
// prefix → "metrics"). A toolbar sets the x axis, smoothing, group-by and envelope of every panel;
// each panel keeps its own zoom, log axes and hidden legend entries, and can be resized (S/M/L: a
// third, half or all of a row), moved within its section, or removed. Every panel draws the
// table's selection in its colours. The layout is saved per lake in localStorage. Panels are built
// and fetch only once they come near the viewport (IntersectionObserver), and one scrolled away
// defers its refetches until it is back, so twelve panels over a thousand runs do not all fetch
// at once.
import type { MetricName } from './api.js';
import { h, selectOf } from './dom.js';
import { groupByPicker } from './group-by-picker.js';
import { MetricPanel } from './metric-chart.js';
import type { Envelope, MetricPanelState, XAxis } from './panel-state.js';
import { smoothingControl } from './smoothing-control.js';
import {
  DEFAULT_SHARED,
  type OwnPanelState,
  type PanelSize,
  parseWorkspace,
  type SharedPanelSettings,
  type WorkspacePanel,
  type WorkspaceState,
} from './url-state.js';

/** How many metrics get a panel in a new workspace. */
export const WORKSPACE_DEFAULT_PANELS = 12;

/** The localStorage key of a lake's saved workspace. */
export function workspaceKey(lakeId: string): string {
  return `runlake:workspace:${lakeId}`;
}

const X_AXIS_LABELS: readonly (readonly [XAxis, string])[] = [
  ['step', 'step'],
  ['wall_time', 'wall time'],
  ['relative_time', 'relative time'],
  ['tokens', 'tokens'],
];
const ENVELOPE_LABELS: readonly (readonly [Envelope, string])[] = [
  ['std', 'mean ± std'],
  ['stderr', 'mean ± std. error'],
  ['minmax', 'min–max'],
  ['none', 'mean only'],
];
const SIZE_LABELS: readonly (readonly [PanelSize, string])[] = [
  ['S', 'a third of a row'],
  ['M', 'half a row'],
  ['L', 'the whole row'],
];

/**
 * The section of a metric: the part before its first `/` (`train/loss` → `train`), `system` for
 * W&B's own `_runtime`-style names, `metrics` for the rest.
 *
 * @example
 * ```ts
 * metricSection('eval/acc'); // 'eval'
 * metricSection('loss'); // 'metrics'
 * ```
 */
export function metricSection(metric: string): string {
  if (metric.startsWith('_')) return 'system';
  const slash = metric.indexOf('/');
  return slash > 0 ? metric.slice(0, slash) : 'metrics';
}

/** Sections in display order: unprefixed first, then train, eval, the others by name, system last. */
function sectionRank(section: string): [number, string] {
  const fixed: Record<string, number> = { metrics: 0, train: 1, eval: 2, val: 3, test: 4, system: 9 };
  return [fixed[section] ?? 5, section];
}

function compareSections(a: string, b: string): number {
  const [ra, na] = sectionRank(a);
  const [rb, nb] = sectionRank(b);
  return ra - rb || na.localeCompare(nb);
}

/**
 * The panels of a new workspace: the first `limit` metrics, section by section, with `loss`-like
 * names first inside a section.
 *
 * @example
 * ```ts
 * defaultPanels([{ metric_name: 'lr', runs: 4, points: 8 }, { metric_name: 'loss', runs: 4, points: 8 }]);
 * // [{ metric: 'loss', size: 'M' }, { metric: 'lr', size: 'M' }]
 * ```
 */
export function defaultPanels(
  metrics: readonly MetricName[],
  limit = WORKSPACE_DEFAULT_PANELS,
): WorkspacePanel[] {
  const lossFirst = (name: string) => (/(^|\/)loss$/.test(name) ? 0 : /loss/.test(name) ? 1 : 2);
  return [...metrics]
    .map((m) => m.metric_name)
    .sort(
      (a, b) =>
        compareSections(metricSection(a), metricSection(b)) ||
        Number(a.startsWith('_')) - Number(b.startsWith('_')) ||
        lossFirst(a) - lossFirst(b) ||
        a.localeCompare(b),
    )
    .slice(0, limit)
    .map((metric) => ({ metric, size: 'M' as const }));
}

export interface WorkspaceOptions {
  readonly metrics: readonly MetricName[];
  readonly paramKeys: readonly string[];
  /** A run's colour, shared with the runs table. */
  readonly colorOf: (runId: string) => string;
  /** A run's legend label (its name when it has one). */
  readonly labelOf?: (runId: string) => string;
  /** Where the workspace is saved (see {@link workspaceKey}); nothing is saved without it. */
  readonly storageKey?: string;
  /** A state to open with (a shared link's): it wins over the saved one. */
  readonly initial?: WorkspaceState;
  /** Called after any change of the state (a panel's zoom, the toolbar, a resize, …). */
  readonly onStateChange?: () => void;
}

/** One panel slot: its card, and the panel once it came into view. */
interface Slot {
  readonly id: number;
  metric: string;
  size: PanelSize;
  own: OwnPanelState;
  readonly card: HTMLElement;
  readonly body: HTMLElement;
  readonly title: HTMLElement;
  readonly sizeButtons: Map<PanelSize, HTMLButtonElement>;
  panel?: MetricPanel;
  visible: boolean;
  /** Something changed while it was out of view: refetch when it is back. */
  stale: boolean;
  /** New metric names arrived while it was out of view: add them to its picker when it is back. */
  staleMetrics: boolean;
}

/** The workspace: toolbar, sections of panel cards, persistence. */
export class Workspace {
  readonly element: HTMLElement;
  private metrics: MetricName[];
  private shared: SharedPanelSettings & { readonly showRaw: boolean };
  private slots: Slot[] = [];
  private collapsed = new Set<string>();
  private runs: string[] = [];
  private nextId = 1;
  /** The layout is the default one, so new metrics get panels (see {@link WorkspaceState.auto}). */
  private auto = true;
  private readonly sectionsHost: HTMLElement;
  private readonly sections = new Map<string, { element: HTMLDetailsElement; grid: HTMLElement }>();
  private readonly observer: IntersectionObserver;
  private readonly xSelect: HTMLSelectElement;
  private readonly envelopeSelect: HTMLSelectElement;
  private readonly addSelect: HTMLSelectElement;
  private readonly smoothing;
  private readonly groupBy;
  private readonly count: HTMLElement;

  constructor(private readonly options: WorkspaceOptions) {
    this.metrics = [...options.metrics];
    const saved = options.initial ?? this.load();
    this.shared = { ...DEFAULT_SHARED, showRaw: true, ...(saved?.shared ?? {}) };

    this.xSelect = selectOf(X_AXIS_LABELS, this.shared.x, { 'data-testid': 'ws-x', 'aria-label': 'x axis' });
    this.xSelect.addEventListener('change', () => this.setShared({ x: this.xSelect.value as XAxis }));
    this.smoothing = smoothingControl(this.shared.smoothing, () =>
      this.setShared({
        smoothing: this.smoothing.value(),
        smoothingKind: this.smoothing.kind(),
        showRaw: this.smoothing.showRaw(),
      }),
    );
    this.smoothing.set({ smoothingKind: this.shared.smoothingKind, showRaw: this.shared.showRaw });
    this.groupBy = groupByPicker(
      options.paramKeys,
      () => this.setShared({ groupBy: this.groupBy.value() }),
      this.shared.groupBy,
    );
    this.envelopeSelect = selectOf(ENVELOPE_LABELS, this.shared.envelope, {
      'data-testid': 'ws-envelope',
      'aria-label': 'Envelope of a group',
    });
    this.envelopeSelect.addEventListener('change', () =>
      this.setShared({ envelope: this.envelopeSelect.value as Envelope }),
    );
    this.addSelect = h('select', { 'data-testid': 'ws-add', 'aria-label': 'Add a panel' });
    this.fillAddSelect();
    this.addSelect.addEventListener('change', () => {
      const metric = this.addSelect.value;
      this.addSelect.value = '';
      if (metric) this.addPanel(metric);
    });
    const reset = h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        'data-testid': 'ws-reset',
        title: 'Forget this lake’s saved layout and start again: one panel per metric, default settings',
      },
      'Reset',
    );
    reset.addEventListener('click', () => this.reset());
    this.count = h('span', { class: 'muted ws-count', 'data-testid': 'ws-count' });

    this.sectionsHost = h('div', { class: 'ws-sections' });
    this.element = h(
      'section',
      { class: 'workspace', 'data-testid': 'workspace' },
      h(
        'div',
        { class: 'panel toolbar ws-toolbar', 'data-testid': 'ws-toolbar' },
        h('label', { class: 'control' }, 'x ', this.xSelect),
        this.smoothing.element,
        this.groupBy.element,
        h('label', { class: 'control' }, 'Envelope ', this.envelopeSelect),
        h('span', { class: 'ws-spacer' }),
        this.count,
        this.addSelect,
        reset,
      ),
      this.sectionsHost,
    );
    this.observer = new IntersectionObserver((entries) => this.onIntersect(entries), {
      rootMargin: '200px 0px',
    });
    this.build(
      saved ?? { shared: this.shared, panels: defaultPanels(this.metrics), collapsed: [], auto: true },
    );
  }

  /** The workspace's state (what is saved and put in the URL). */
  state(): WorkspaceState {
    return {
      shared: {
        x: this.shared.x,
        smoothing: this.shared.smoothing,
        smoothingKind: this.shared.smoothingKind,
        groupBy: [...this.shared.groupBy],
        envelope: this.shared.envelope,
      },
      panels: this.slots.map((s) => ({
        metric: s.metric,
        size: s.size,
        ...(Object.keys(s.own).length > 0 ? { own: s.own } : {}),
      })),
      collapsed: [...this.collapsed],
      ...(this.auto ? { auto: true } : {}),
    };
  }

  /** The built panels, by metric (a panel out of view has not been built yet). */
  panels(): { metric: string; panel: MetricPanel | undefined }[] {
    return this.slots.map((s) => ({ metric: s.metric, panel: s.panel }));
  }

  /** Draws `runIds` (the table's selection) in every panel. */
  setRuns(runIds: readonly string[]): void {
    this.runs = [...runIds];
    for (const slot of this.slots) {
      if (!slot.panel) continue;
      if (slot.visible) slot.panel.setRuns(this.runs);
      else slot.stale = true;
    }
  }

  /** The live refresh: new metric names become addable, and panels in view refetch (zoom kept). */
  refresh(metrics: readonly MetricName[]): void {
    const known = new Set(this.metrics.map((m) => m.metric_name));
    this.metrics = [...metrics];
    this.fillAddSelect();
    if (this.auto) {
      // A default layout grows with the metrics a run starts logging, as it would have been built.
      const shown = new Set(this.slots.map((s) => s.metric));
      const fresh = defaultPanels(metrics, Number.POSITIVE_INFINITY).filter(
        (p) => !known.has(p.metric) && !shown.has(p.metric),
      );
      const room = Math.max(0, WORKSPACE_DEFAULT_PANELS - this.slots.length);
      for (const p of fresh.slice(0, room)) {
        const slot = this.slotFor(p);
        this.slots.push(slot);
        this.place(slot);
      }
      if (fresh.length > 0 && room > 0) this.changed();
    }
    for (const slot of this.slots) {
      if (!slot.panel) continue;
      if (slot.visible) slot.panel.refresh(metrics);
      else slot.staleMetrics = true;
    }
  }

  /** Resets every zoomed panel to its full range; false when none was zoomed (the Esc shortcut). */
  resetZoom(): boolean {
    let any = false;
    for (const slot of this.slots) {
      if (!slot.own.zoom) continue;
      any = true;
      const { zoom: _zoom, ...rest } = slot.own;
      slot.own = rest;
      slot.panel?.setState({ zoom: undefined });
    }
    if (any) this.changed();
    return any;
  }

  /** Adds a panel for `metric` at the end of its section, and scrolls to it. */
  addPanel(metric: string, size: PanelSize = 'M'): void {
    this.auto = false;
    const slot = this.slotFor({ metric, size });
    this.slots.push(slot);
    this.place(slot);
    this.collapsed.delete(metricSection(metric));
    const section = this.sections.get(metricSection(metric));
    if (section) section.element.open = true;
    this.changed();
    slot.card.scrollIntoView({ block: 'nearest' });
  }

  /** Forgets the saved layout and goes back to one panel per metric, with default settings. */
  reset(): void {
    if (this.options.storageKey) {
      try {
        localStorage.removeItem(this.options.storageKey);
      } catch {
        // Storage refused: nothing was saved either.
      }
    }
    this.shared = { ...DEFAULT_SHARED, showRaw: true };
    this.build({ shared: this.shared, panels: defaultPanels(this.metrics), collapsed: [], auto: true });
    this.changed();
  }

  /** Applies a whole state (a shared link opened in this page). */
  setState(state: WorkspaceState): void {
    this.shared = { ...this.shared, ...state.shared };
    this.build(state);
    this.changed();
  }

  private load(): WorkspaceState | undefined {
    if (!this.options.storageKey) return undefined;
    try {
      const text = localStorage.getItem(this.options.storageKey);
      return text ? parseWorkspace(JSON.parse(text)) : undefined;
    } catch {
      return undefined;
    }
  }

  private save(): void {
    if (!this.options.storageKey) return;
    try {
      localStorage.setItem(this.options.storageKey, JSON.stringify(this.state()));
    } catch {
      // Storage full or refused: the layout still holds for this page.
    }
  }

  private changed(): void {
    this.count.textContent = `${this.slots.length} panel${this.slots.length === 1 ? '' : 's'}`;
    this.element.dataset.panels = String(this.slots.length);
    this.save();
    this.options.onStateChange?.();
  }

  private fillAddSelect(): void {
    this.addSelect.replaceChildren(
      h('option', { value: '' }, '+ Add panel…'),
      ...this.metrics.map((m) => h('option', { value: m.metric_name }, `${m.metric_name} (${m.runs} runs)`)),
    );
    this.addSelect.value = '';
  }

  private setShared(change: Partial<SharedPanelSettings & { showRaw: boolean }>): void {
    this.shared = { ...this.shared, ...change };
    for (const slot of this.slots) {
      if (!slot.panel) continue;
      if (slot.visible) slot.panel.setState(change as Partial<MetricPanelState>);
      else slot.stale = true;
    }
    this.changed();
  }

  /** The panel state a slot's panel is built with or brought back to. */
  private panelState(slot: Slot): Partial<MetricPanelState> {
    return {
      metric: slot.metric,
      x: this.shared.x,
      smoothing: this.shared.smoothing,
      smoothingKind: this.shared.smoothingKind,
      showRaw: this.shared.showRaw,
      groupBy: this.shared.groupBy,
      envelope: this.shared.envelope,
      ...slot.own,
    };
  }

  private build(state: WorkspaceState): void {
    this.auto = state.auto === true;
    for (const slot of this.slots) this.drop(slot);
    this.slots = [];
    this.sections.clear();
    this.sectionsHost.replaceChildren();
    this.collapsed = new Set(state.collapsed);
    this.xSelect.value = this.shared.x;
    this.envelopeSelect.value = this.shared.envelope;
    this.smoothing.set({
      smoothing: this.shared.smoothing,
      smoothingKind: this.shared.smoothingKind,
      showRaw: this.shared.showRaw,
    });
    this.groupBy.set(this.shared.groupBy);
    for (const p of state.panels) {
      const slot = this.slotFor(p);
      this.slots.push(slot);
      this.place(slot);
    }
    if (this.slots.length === 0) {
      this.sectionsHost.append(
        h(
          'div',
          { class: 'state state-hint', 'data-testid': 'ws-empty' },
          'No panels: add one with “+ Add panel…”, or reset the workspace.',
        ),
      );
    }
    this.count.textContent = `${this.slots.length} panel${this.slots.length === 1 ? '' : 's'}`;
    this.element.dataset.panels = String(this.slots.length);
  }

  private slotFor(p: WorkspacePanel): Slot {
    const id = this.nextId++;
    const title = h('span', { class: 'ws-title', title: p.metric }, p.metric);
    const sizeButtons = new Map<PanelSize, HTMLButtonElement>();
    for (const [size, label] of SIZE_LABELS) {
      sizeButtons.set(
        size,
        h(
          'button',
          {
            type: 'button',
            class: 'ws-size',
            title: `Width: ${label}`,
            'aria-label': `Width ${size}: ${label}`,
            'aria-pressed': String(size === p.size),
            'data-testid': `ws-size-${size}`,
          },
          size,
        ),
      );
    }
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'ws-remove',
        title: 'Remove this panel',
        'aria-label': `Remove the ${p.metric} panel`,
        'data-testid': 'ws-remove',
      },
      '✕',
    );
    const moves = (['earlier', 'later'] as const).map((where) =>
      h(
        'button',
        {
          type: 'button',
          class: 'ws-move',
          title: where === 'earlier' ? 'Move this panel earlier' : 'Move this panel later',
          'aria-label': `Move the ${p.metric} panel ${where}`,
          'data-testid': `ws-move-${where}`,
        },
        where === 'earlier' ? '←' : '→',
      ),
    );
    const body = h(
      'div',
      { class: 'ws-body' },
      h('div', { class: 'ws-placeholder' }, `${p.metric} loads when scrolled into view`),
    );
    const card = h(
      'article',
      {
        class: `ws-card size-${p.size}`,
        'data-testid': 'ws-panel',
        'data-metric': p.metric,
        'data-size': p.size,
      },
      h(
        'header',
        { class: 'ws-head' },
        title,
        ...moves,
        h('span', { class: 'ws-sizes' }, ...sizeButtons.values()),
        remove,
      ),
      body,
    );
    const slot: Slot = {
      id,
      metric: p.metric,
      size: p.size,
      own: { ...(p.own ?? {}) },
      card,
      body,
      title,
      sizeButtons,
      visible: false,
      stale: false,
      staleMetrics: false,
    };
    for (const [size, button] of sizeButtons) button.addEventListener('click', () => this.resize(slot, size));
    remove.addEventListener('click', () => this.remove(slot));
    moves[0]?.addEventListener('click', () => this.move(slot, -1));
    moves[1]?.addEventListener('click', () => this.move(slot, 1));
    return slot;
  }

  /** Swaps a panel with its neighbour in its section (`-1` earlier, `1` later). */
  private move(slot: Slot, by: -1 | 1): void {
    const section = metricSection(slot.metric);
    const same = this.slots.filter((s) => metricSection(s.metric) === section);
    const other = same[same.indexOf(slot) + by];
    if (!other) return;
    this.auto = false;
    const i = this.slots.indexOf(slot);
    const j = this.slots.indexOf(other);
    this.slots[i] = other;
    this.slots[j] = slot;
    if (by < 0) other.card.before(slot.card);
    else other.card.after(slot.card);
    window.dispatchEvent(new Event('resize'));
    this.changed();
  }

  /** Puts a slot's card at the end of its section (made when missing) and watches it. */
  private place(slot: Slot): void {
    this.sectionsHost.querySelector('[data-testid="ws-empty"]')?.remove();
    const name = metricSection(slot.metric);
    let section = this.sections.get(name);
    if (!section) {
      const grid = h('div', { class: 'ws-grid' });
      const element = h(
        'details',
        { class: 'ws-section', 'data-testid': 'ws-section', 'data-section': name },
        h(
          'summary',
          {},
          h('span', { class: 'ws-section-name' }, name),
          h('span', { class: 'muted ws-section-count' }),
        ),
        grid,
      );
      element.open = !this.collapsed.has(name);
      element.addEventListener('toggle', () => {
        if (element.open) this.collapsed.delete(name);
        else this.collapsed.add(name);
        this.changed();
      });
      section = { element, grid };
      this.sections.set(name, section);
      // Keep sections in their display order.
      const after = [...this.sections.entries()]
        .filter(([other]) => other !== name && compareSections(other, name) > 0)
        .sort(([a], [b]) => compareSections(a, b))[0];
      if (after) this.sectionsHost.insertBefore(element, after[1].element);
      else this.sectionsHost.append(element);
    }
    section.grid.append(slot.card);
    this.countSection(name);
    this.observer.observe(slot.card);
  }

  private countSection(name: string): void {
    const section = this.sections.get(name);
    if (!section) return;
    const n = section.grid.children.length;
    if (n === 0) {
      section.element.remove();
      this.sections.delete(name);
      return;
    }
    const count = section.element.querySelector('.ws-section-count');
    if (count) count.textContent = ` ${n} panel${n === 1 ? '' : 's'}`;
  }

  private resize(slot: Slot, size: PanelSize): void {
    this.auto = false;
    slot.size = size;
    slot.card.className = `ws-card size-${size}`;
    slot.card.dataset.size = size;
    for (const [s, button] of slot.sizeButtons) button.setAttribute('aria-pressed', String(s === size));
    // The chart follows its card's new width (a wider one refetches) on the resize it listens to.
    window.dispatchEvent(new Event('resize'));
    this.changed();
  }

  private remove(slot: Slot): void {
    this.auto = false;
    this.drop(slot);
    this.slots = this.slots.filter((s) => s !== slot);
    slot.card.remove();
    this.countSection(metricSection(slot.metric));
    if (this.slots.length === 0)
      this.build({ shared: this.shared, panels: [], collapsed: [...this.collapsed] });
    this.changed();
  }

  private drop(slot: Slot): void {
    this.observer.unobserve(slot.card);
    slot.panel?.destroy();
    slot.panel = undefined;
  }

  private onIntersect(entries: readonly IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      const slot = this.slots.find((s) => s.card === entry.target);
      if (!slot) continue;
      slot.visible = entry.isIntersecting;
      if (!slot.visible) continue;
      if (!slot.panel) this.open(slot);
      else if (slot.stale || slot.staleMetrics) {
        // Settings and the selection first, then the new names (each call reloads; the last wins).
        if (slot.stale) {
          slot.panel.setState(this.panelState(slot));
          slot.panel.setRuns(this.runs);
        }
        if (slot.staleMetrics) slot.panel.refresh(this.metrics);
        slot.stale = false;
        slot.staleMetrics = false;
      }
    }
  }

  /** Builds a slot's panel (it came into view) and draws the selection. */
  private open(slot: Slot): void {
    const panel = new MetricPanel({
      metrics: this.metrics,
      paramKeys: this.options.paramKeys,
      colorOf: this.options.colorOf,
      labelOf: this.options.labelOf,
      compact: true,
      initialState: this.panelState(slot),
      onStateChange: (state) => this.panelChanged(slot, state),
    });
    slot.panel = panel;
    slot.card.dataset.loaded = 'true';
    slot.body.replaceChildren(panel.element);
    panel.setRuns(this.runs);
  }

  /** A panel's own change (zoom, log axes, hidden entries, its metric picker). */
  private panelChanged(slot: Slot, state: MetricPanelState): void {
    const own: { -readonly [K in keyof OwnPanelState]: OwnPanelState[K] } = {};
    if (state.logX) own.logX = true;
    if (state.logY) own.logY = true;
    if (state.robustY) own.robustY = true;
    if (state.zoom) own.zoom = { from: state.zoom.from, to: state.zoom.to };
    if (state.hidden.length > 0) own.hidden = [...state.hidden];
    slot.own = own;
    if (state.metric && state.metric !== slot.metric) {
      const before = metricSection(slot.metric);
      slot.metric = state.metric;
      slot.title.textContent = state.metric;
      slot.card.dataset.metric = state.metric;
      if (metricSection(state.metric) !== before) {
        this.place(slot);
        this.countSection(before);
      }
    }
    this.changed();
  }
}

// The runlake dashboard, served by `runlake serve` from web/dist: a lake summary header and the
// views (runs & metrics, geometry, matches, compare, SQL) over the server's dashboard endpoints,
// plus a link to the standalone file viewer. Views load when first shown, so opening the page costs
// three small requests (lake, runs, metric names) and the metric panels in view. A sweep lake
// (events/seeds/grids, no runs) gets the Sweep view instead.
//
// The view, the selection, the workspace and the table's filter live in the URL's hash
// (url-state.ts), rewritten as they change, so a link reopens the same view; the workspace is also
// saved per lake in localStorage (the URL wins when both exist).
import './style.css';
import {
  ApiError,
  api,
  type LakeResponse,
  type MetricName,
  pageToken,
  type RunRow,
  type RunsResponse,
} from './api.js';
import { CompareView } from './compare-view.js';
import { h } from './dom.js';
import { GeometryView } from './geometry-view.js';
import { lakeSummary } from './lake-header.js';
import { type LiveRefresh, liveIndicator, startLiveRefresh } from './live-refresh.js';
import { MatchesView } from './matches-view.js';
import type { MetricPanel } from './metric-chart.js';
import { seriesColor } from './palette.js';
import { RunPage } from './run-page.js';
import { groupKeys } from './runs-model.js';
import { RunsTable } from './runs-table.js';
import { runsWhenReady } from './runs-table-load.js';
import { installShortcuts, type ShortcutView } from './shortcuts.js';
import { SqlConsole } from './sql-console.js';
import { emptyState, errorState, isMissingDataset, showError, showLoading } from './states.js';
import { isSweepLake, SWEEP_WRITE_COMMANDS, SweepView } from './sweep-view.js';
import { currentTheme, initTheme, THEME_EVENT, toggleTheme } from './theme.js';
import { type DashboardState, decodeState, encodeState, hashOf, parseHash } from './url-state.js';
import { Workspace, workspaceKey } from './workspace.js';

type ViewName = 'runs' | 'geometry' | 'matches' | 'compare' | 'sql' | 'sweep' | 'run';

/** The tabs, in order (`1`–`5` follow it), with their `g <letter>` shortcut. */
const VIEWS: readonly (ShortcutView & { readonly name: ViewName })[] = [
  { name: 'runs', label: 'Runs & metrics', letter: 'r' },
  { name: 'geometry', label: 'Geometry', letter: 'g' },
  { name: 'matches', label: 'Matches', letter: 'm' },
  { name: 'compare', label: 'Compare', letter: 'c' },
  { name: 'sql', label: 'SQL', letter: 's' },
  { name: 'sweep', label: 'Sweep', letter: 'w' },
];
/** The views of a lake with runs (a Squiggle lake), and of a sweep lake. `run` is a route, not a tab. */
const RUN_VIEWS: readonly ViewName[] = ['runs', 'geometry', 'matches', 'compare', 'sql', 'run'];
const SWEEP_VIEWS: readonly ViewName[] = ['sweep', 'sql'];

const EMPTY_LAKE_COMMANDS = [
  'runlake import <lake> runs runs.jsonl',
  'npm run demo && runlake serve runlake-demo-squiggle',
];

/** What the page exposes on `window.runlake` for tests, the benchmark and the console. */
export interface DashboardHandle {
  table?: RunsTable;
  /** The first built panel of the workspace (the benchmark's and older tests' chart). */
  metrics?: MetricPanel;
  workspace?: Workspace;
  geometry?: GeometryView;
  matches?: MatchesView;
  compare?: CompareView;
  runPage?: RunPage;
  sweep?: SweepView;
  sql?: SqlConsole;
  live?: LiveRefresh;
  /** The page's state as a link restores it. */
  state(): DashboardState;
  /** The benchmark's peer: every point at full resolution (see naive-peer.ts). */
  drawFullResolution(host: HTMLElement, metric: string, runs: readonly string[]): Promise<number>;
}

declare global {
  interface Window {
    runlake: DashboardHandle;
  }
}

/** Where the page is: the view shown and its argument (the run of `#run/<id>`). */
const location$ = { view: 'runs' as ViewName, arg: undefined as string | undefined };
/** The Geometry view has been opened (its state belongs in the URL from then on). */
let geometryOpened = false;
/** The Compare view has been opened (its state belongs in the URL from then on). */
let compareOpened = false;
/** The Matches view has been opened, or a link held its state (it belongs in the URL from then on). */
let matchesOpened = false;

const handle: DashboardHandle = {
  state: () => currentState(),
  drawFullResolution: async (host, metric, runs) =>
    (await import('./naive-peer.js')).drawFullResolution(host, metric, runs),
};
window.runlake = handle;

function currentState(): DashboardState {
  const table = handle.table;
  const tableState = table?.getState();
  return {
    view: location$.view,
    ...(location$.arg !== undefined ? { arg: location$.arg } : {}),
    ...(table ? { selection: table.selection() } : {}),
    ...(handle.workspace ? { workspace: handle.workspace.state() } : {}),
    ...(tableState ? { table: tableState } : {}),
    ...(geometryOpened && handle.geometry ? { geometry: handle.geometry.getState() } : {}),
    ...(compareOpened && handle.compare ? { compare: handle.compare.getState() } : {}),
    ...(matchesOpened && handle.matches ? { matches: handle.matches.getState() } : {}),
  };
}

// The URL follows the state, a moment after it changes (encoding is asynchronous).
let urlTimer: number | undefined;
let lastWritten = '';
/**
 * The hash the page last showed or wrote. When the address bar holds another, a link or back/forward
 * changed it and its hashchange is still to come: a write then would replace that hash unread.
 */
let seenHash = window.location.hash;
function scheduleUrl(): void {
  window.clearTimeout(urlTimer);
  urlTimer = window.setTimeout(() => void writeUrl(), 120);
}
async function writeUrl(): Promise<void> {
  window.clearTimeout(urlTimer);
  const state = currentState();
  const encoded =
    state.selection || state.workspace || state.table || state.geometry || state.compare || state.matches
      ? await encodeState(state)
      : undefined;
  // The hashchange's show() schedules the next write.
  if (window.location.hash !== seenHash) return;
  const hash = hashOf(location$.view, location$.arg, encoded);
  lastWritten = hash;
  if (window.location.hash !== hash) {
    history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}${hash}`);
  }
  seenHash = window.location.hash;
  document.body.dataset.urlState = String(Number(document.body.dataset.urlState ?? 0) + 1);
}

function themeButton(): HTMLButtonElement {
  const button = h('button', {
    type: 'button',
    class: 'icon-button theme-toggle',
    'data-testid': 'theme-toggle',
    title: 'Dark mode (d)',
  });
  const render = () => {
    const dark = currentTheme() === 'dark';
    button.textContent = dark ? '☀' : '☾';
    button.setAttribute('aria-pressed', String(dark));
    button.setAttribute('aria-label', dark ? 'Switch to light mode' : 'Switch to dark mode');
  };
  render();
  document.addEventListener(THEME_EVENT, render);
  button.addEventListener('click', () => toggleTheme());
  return button;
}

function copyLinkButton(): HTMLButtonElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'copy-link',
      'data-testid': 'copy-link',
      title: 'Copy a link to this view: selection, panels, zoom, smoothing, grouping and filter',
    },
    'Copy link',
  );
  let timer: number | undefined;
  button.addEventListener('click', async () => {
    await writeUrl();
    const url = window.location.href;
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      // No clipboard permission (an http page, a locked-down browser): show the link to copy by hand.
    }
    button.dataset.copied = copied ? 'true' : 'false';
    button.textContent = copied ? 'Copied ✓' : 'Copy link';
    if (!copied) window.prompt('Copy this link:', url);
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      button.textContent = 'Copy link';
    }, 2000);
  });
  return button;
}

function shell() {
  const token = pageToken();
  const viewerHref = token ? `viewer.html?token=${encodeURIComponent(token)}` : 'viewer.html';
  const summary = h('div', { class: 'lake-summary-host', 'data-testid': 'lake-header' });
  const tabList = h(
    'div',
    { class: 'tabs', role: 'tablist', 'aria-label': 'Views' },
    ...VIEWS.map(({ name, label }) =>
      h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: `tab-${name}`,
          class: 'tab',
          'aria-controls': `view-${name}`,
          'aria-selected': 'false',
          tabindex: -1,
          'data-view': name,
          'data-testid': `tab-${name}`,
          // Which views a lake has is known once /api/lake answers; until then, the runs views.
          hidden: !RUN_VIEWS.includes(name),
        },
        label,
      ),
    ),
  );
  const nav = h(
    'nav',
    { class: 'tabs-nav', 'aria-label': 'Views' },
    tabList,
    h(
      'a',
      {
        href: viewerHref,
        class: 'tab external',
        target: '_blank',
        rel: 'noopener',
        'data-testid': 'tab-viewer',
      },
      'File viewer ↗',
    ),
  );
  const sections = Object.fromEntries(
    [...VIEWS.map((v) => v.name), 'run' as const].map((name) => [
      name,
      h('section', {
        class: 'view',
        id: `view-${name}`,
        role: 'tabpanel',
        'aria-labelledby': name === 'run' ? null : `tab-${name}`,
        'data-view': name,
        'data-testid': `view-${name}`,
        hidden: true,
      }),
    ]),
  ) as Record<ViewName, HTMLElement>;
  const indicator = liveIndicator();
  indicator.element.hidden = true;
  const tools = h('div', { class: 'header-tools' }, indicator.element, copyLinkButton(), themeButton());
  const header = h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('span', { class: 'logo' }, '≋'), 'runlake'),
    nav,
    tools,
    summary,
  );
  const notice = h('div', { class: 'notice', role: 'status', 'data-testid': 'url-notice', hidden: true });
  const app = document.querySelector('#app') ?? document.body;
  app.replaceChildren(header, h('main', {}, notice, ...Object.values(sections)));
  return { summary, tabList, sections, indicator, notice };
}

/** Arrow keys, Home and End move focus along the visible tabs (roving tabindex); Enter/Space click. */
function keyboardTabs(tabList: HTMLElement): void {
  tabList.addEventListener('keydown', (event) => {
    const tabs = [...tabList.querySelectorAll<HTMLElement>('[role="tab"]:not([hidden])')];
    const at = tabs.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (at + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (at - 1 + tabs.length) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    if (next === undefined) return;
    event.preventDefault();
    for (const [i, tab] of tabs.entries()) tab.tabIndex = i === next ? 0 : -1;
    tabs[next]?.focus();
  });
}

async function start(): Promise<void> {
  initTheme();
  const { summary, tabList, sections, indicator, notice } = shell();
  keyboardTabs(tabList);
  showLoading(summary, 'lake');
  showLoading(sections.runs, 'runs');
  sections.runs.hidden = false;

  // A shared link's state, read before anything is drawn so it wins over the saved workspace.
  const opened = parseHash(window.location.hash);
  let linked: DashboardState | undefined;
  if (opened.encoded) {
    try {
      linked = await decodeState(opened.encoded, opened.view, opened.arg);
    } catch (error) {
      notice.textContent = `${(error as Error).message}: the page opened without it.`;
      notice.hidden = false;
    }
  }

  let lake: LakeResponse;
  try {
    lake = await api.lake();
  } catch (error) {
    summary.replaceChildren();
    // Without the lake summary nothing else will load either (a 401 most often): one clear message.
    for (const section of Object.values(sections)) section.replaceChildren();
    sections.runs.replaceChildren(errorState(error, 'read the lake'));
    document.body.dataset.state =
      error instanceof ApiError && error.status === 401 ? 'unauthorized' : 'error';
    return;
  }
  summary.replaceChildren(lakeSummary(lake));
  if (lake.name) document.title = `${lake.name} · runlake`;

  // A lake with nothing in it yet is opened as a sweep lake, but `runlake import <lake> runs …`
  // works there too (the lake becomes a Squiggle lake): it gets the runs view, whose empty state
  // names both ways to fill it.
  const emptyLake = lake.grids === 0 && lake.datasets.every((d) => d.rows === 0);
  const sweepLake = isSweepLake(lake) && !emptyLake;
  const available = sweepLake ? SWEEP_VIEWS : RUN_VIEWS;
  for (const tab of tabList.querySelectorAll<HTMLElement>('[data-view]')) {
    tab.hidden = !available.includes(tab.dataset.view as ViewName);
  }

  let runs: RunRow[] | undefined;
  let geometry: GeometryView | undefined;
  let matches: MatchesView | undefined;
  let sweep: SweepView | undefined;
  let runsView: RunsView | undefined;
  let pendingGeometry = linked?.geometry;
  // The SQL console works on any lake; it loads its schema when first shown.
  const sql = new SqlConsole();
  handle.sql = sql;
  sections.sql.replaceChildren(sql.element);

  const show = (view: ViewName, arg?: string) => {
    location$.view = view;
    location$.arg = view === 'run' ? arg : undefined;
    for (const [name, section] of Object.entries(sections)) section.hidden = name !== view;
    for (const tab of tabList.querySelectorAll<HTMLElement>('[data-view]')) {
      const active = tab.dataset.view === view;
      tab.classList.toggle('active', active);
      tab.setAttribute('aria-selected', String(active));
      tab.tabIndex = active ? 0 : -1;
    }
    // The run page has no tab: the runs tab stays the tab stop.
    if (view === 'run')
      tabList.querySelector<HTMLElement>('[data-view="runs"]')?.setAttribute('tabindex', '0');
    if (view === 'geometry' && runs?.length && geometry) {
      geometryOpened = true;
      // A link's geometry picks are applied when the view is first shown (that starts its fetch).
      if (pendingGeometry) geometry.setState(pendingGeometry);
      else geometry.ensureLoaded();
      pendingGeometry = undefined;
    }
    if (view === 'matches' && matches) {
      matchesOpened = true;
      void matches.ensureLoaded();
    }
    if (view === 'sweep') void sweep?.ensureLoaded();
    if (view === 'compare' && runsView?.compare) {
      compareOpened = true;
      void runsView.compare.ensureLoaded();
    }
    if (view === 'sql') void sql.ensureLoaded();
    if (view === 'run' && arg !== undefined) void runsView?.runPage?.show(arg);
    document.body.dataset.view = view;
    scheduleUrl();
  };
  const resolve = (name: string): ViewName => {
    if (name === 'run' && runsView?.runPage) return 'run';
    return available.includes(name as ViewName) && name !== 'run'
      ? (name as ViewName)
      : (available[0] as ViewName);
  };
  /** Opens a view the way a user does: a new history entry, state kept in the hash. */
  const navigate = (view: ViewName) => {
    if (view === location$.view && view !== 'run') return;
    const { encoded } = parseHash(lastWritten || window.location.hash);
    // pushState and show now, not `location.hash =`, whose hashchange comes a task later: the view
    // is shown before any URL write can run.
    const { pathname, search } = window.location;
    history.pushState(history.state, '', `${pathname}${search}${hashOf(view, undefined, encoded)}`);
    seenHash = window.location.hash;
    show(resolve(view));
  };
  for (const tab of tabList.querySelectorAll<HTMLElement>('[data-view]')) {
    tab.addEventListener('click', () => navigate(tab.dataset.view as ViewName));
  }
  window.addEventListener('hashchange', () => {
    seenHash = window.location.hash;
    const next = parseHash(window.location.hash);
    // A link into this page with another state (back/forward, a pasted link): apply it.
    if (next.encoded && next.encoded !== parseHash(lastWritten).encoded && runsView) {
      void decodeState(next.encoded, next.view, next.arg)
        .then((state) => {
          runsView?.apply(state);
          if (state.geometry && geometry) {
            if (geometryOpened) geometry.setState(state.geometry);
            else pendingGeometry = state.geometry;
          }
          if (state.matches && matches) {
            matchesOpened = true;
            matches.setState(state.matches);
          }
        })
        .catch((error: Error) => {
          notice.textContent = `${error.message}: the view was kept.`;
          notice.hidden = false;
        });
    }
    show(resolve(next.view), next.arg);
  });

  installShortcuts({
    views: () => VIEWS.filter((v) => available.includes(v.name)),
    showView: (name) => navigate(name as ViewName),
    focusFilter: () => {
      const filter = sections.runs.querySelector<HTMLInputElement>('[data-testid="runs-filter"]');
      if (!filter) return false;
      if (location$.view !== 'runs') navigate('runs');
      filter.focus();
      filter.select();
      return true;
    },
    toggleTheme: () => toggleTheme(),
    escape: () => {
      const open = document.querySelector<HTMLDetailsElement>(
        'details.group-by[open], details[open].popover-host',
      );
      if (open) {
        open.open = false;
        return true;
      }
      return location$.view === 'runs' ? (handle.workspace?.resetZoom() ?? false) : false;
    },
  });

  if (sweepLake) {
    sweep = new SweepView();
    handle.sweep = sweep;
    sections.runs.replaceChildren();
    sections.sweep.replaceChildren(sweep.element);
    show(resolve(opened.view));
    await sweep.ensureLoaded();
    document.body.dataset.state = 'ready';
    return;
  }

  runsView = new RunsView(sections, lake, linked, scheduleUrl);
  runs = await runsView.load(emptyLake);
  indicator.element.hidden = false;
  const live = startLiveRefresh(async (changed) => {
    const view = runsView;
    if (!view) return;
    if (!view.table || (!view.workspace && changed.has('metrics_scalar'))) {
      // Nothing drawn yet (an empty lake, or runs without metrics): build the view now.
      runs = await view.load(false);
    } else {
      if (changed.has('runs')) view.setRuns((await api.runs()).runs);
      if (changed.has('metrics_scalar')) view.workspace?.refresh((await api.metricNames()).metrics);
    }
    document.body.dataset.liveRefreshes = String(Number(document.body.dataset.liveRefreshes ?? 0) + 1);
  }, indicator.report);
  indicator.attach(live);
  handle.live = live;
  geometry = new GeometryView(runs ?? []);
  geometry.onStateChange = () => scheduleUrl();
  matches = new MatchesView(lake);
  matches.onStateChange = () => scheduleUrl();
  // A link's Matches state is applied when the view is first shown (that starts its fetch).
  if (linked?.matches) {
    matchesOpened = true;
    matches.setState(linked.matches);
  }
  handle.geometry = geometry;
  handle.matches = matches;
  sections.geometry.replaceChildren(geometry.element);
  sections.matches.replaceChildren(matches.element);
  show(resolve(opened.view), opened.arg);
  document.body.dataset.state = 'ready';
}

/** The runs view: the runs table and the workspace of metric panels, plus the compare and run pages. */
class RunsView {
  table?: RunsTable;
  workspace?: Workspace;
  compare?: CompareView;
  runPage?: RunPage;
  private runs: RunRow[] = [];
  private metrics: MetricName[] = [];
  /** A selected run keeps its colour index while it stays selected, shared by table and charts. */
  private colors = new Map<string, string>();
  private labels = new Map<string, string>();

  constructor(
    private readonly sections: Record<ViewName, HTMLElement>,
    private readonly lake: LakeResponse,
    private linked: DashboardState | undefined,
    private readonly onStateChange: () => void,
  ) {}

  private readonly colorOf = (runId: string) => this.colors.get(runId) ?? seriesColor(0);
  private readonly labelOf = (runId: string) => this.labels.get(runId) ?? runId;

  /** The runs table and the workspace; resolves with the runs (undefined when there are none). */
  async load(emptyLake: boolean): Promise<RunRow[] | undefined> {
    const section = this.sections.runs;
    let response: RunsResponse;
    try {
      response = await runsWhenReady(section);
    } catch (error) {
      if (isMissingDataset(error) && emptyLake) {
        section.replaceChildren(
          emptyState(
            'This lake is empty: no runs and no sweep events yet. Write runs (it becomes a Squiggle lake) or a sweep’s events with:',
            ...EMPTY_LAKE_COMMANDS,
            ...SWEEP_WRITE_COMMANDS.slice(0, -1),
          ),
        );
      } else if (isMissingDataset(error)) {
        section.replaceChildren(
          emptyState('This lake has no runs dataset. Write some runs with:', ...EMPTY_LAKE_COMMANDS),
        );
      } else {
        showError(section, error, 'list the runs');
      }
      return undefined;
    }
    const runs = response.runs;
    if (runs.length === 0) {
      section.replaceChildren(
        emptyState(
          'This lake has no runs yet. Write some with the first command, or try the demo:',
          ...EMPTY_LAKE_COMMANDS,
        ),
      );
      return undefined;
    }
    this.setLabels(runs);
    this.runs = runs;

    const metricsHost = h('div', { class: 'metric-host' });
    const table = new RunsTable(runs, {
      colorOf: (id) => this.colors.get(id),
      onSelectionChange: (ids) => {
        this.colors = new Map(ids.map((id, i) => [id, seriesColor(i)]));
        this.workspace?.setRuns(ids);
        this.compare?.setSelection(ids);
        this.onStateChange();
      },
      onStateChange: () => this.onStateChange(),
      // The chip's × (or the empty result's "clear filter") also clears the brushes behind it.
      onExternalFilterCleared: () => this.compare?.clearBrushes(),
      ...(this.lake.id ? { lakeId: this.lake.id } : {}),
    });
    this.table = table;
    handle.table = table;
    if (this.linked?.table) table.setState(this.linked.table);
    section.replaceChildren(
      h(
        'section',
        { class: 'panel runs-section' },
        h(
          'h2',
          {},
          'Runs',
          response.truncated ? h('span', { class: 'muted' }, ' (truncated: raise --max-rows)') : null,
        ),
        table.element,
      ),
      metricsHost,
    );

    showLoading(metricsHost, 'metric names');
    let metrics: MetricName[] = [];
    try {
      metrics = (await api.metricNames()).metrics;
    } catch (error) {
      if (!isMissingDataset(error)) {
        showError(metricsHost, error, 'list the metrics');
        return runs;
      }
    }
    this.metrics = metrics;
    this.buildCompare();
    if (metrics.length === 0) {
      metricsHost.replaceChildren(
        emptyState(
          'This lake has no scalar metrics yet. Log them to metrics_scalar (run_id, step, metric_name, value), e.g.:',
          'runlake import <lake> metrics_scalar metrics.jsonl',
        ),
      );
      return runs;
    }
    const workspace = new Workspace({
      metrics,
      paramKeys: groupKeys(runs),
      colorOf: this.colorOf,
      labelOf: this.labelOf,
      ...(this.lake.id ? { storageKey: workspaceKey(this.lake.id) } : {}),
      ...(this.linked?.workspace ? { initial: this.linked.workspace } : {}),
      onStateChange: () => this.onStateChange(),
    });
    // The first built panel, for the benchmark and the console (panels are built when in view).
    Object.defineProperty(handle, 'metrics', {
      get: () => workspace.panels().find((p) => p.panel)?.panel,
      configurable: true,
    });
    this.workspace = workspace;
    handle.workspace = workspace;
    metricsHost.replaceChildren(workspace.element);
    // Start with the linked selection, or a few runs so the first screen already shows curves,
    // unless the user already picked runs while the metric names were loading.
    const picked = table.selection();
    if (this.linked?.selection) table.setSelection(this.linked.selection);
    else if (picked.length > 0) workspace.setRuns(picked);
    else table.setSelection(runs.slice(0, Math.min(runs.length, 4)).map((r) => r.run_id));
    this.linked = undefined;
    table.refresh();
    return runs;
  }

  /** The live refresh: new runs and statuses. */
  setRuns(runs: RunRow[]): void {
    this.runs = runs;
    this.setLabels(runs);
    this.table?.setRuns(runs);
    this.compare?.setRuns(runs);
    this.runPage?.setRuns(runs);
  }

  /** Applies a linked state to the page as it is (a pasted link, back/forward). */
  apply(state: DashboardState): void {
    if (state.table) this.table?.setState(state.table);
    if (state.workspace) this.workspace?.setState(state.workspace);
    if (state.selection) this.table?.setSelection(state.selection);
    if (state.compare) {
      compareOpened = true;
      this.compare?.setState(state.compare);
    }
  }

  private setLabels(runs: readonly RunRow[]): void {
    this.labels = new Map(
      runs.map((r) => {
        // Squiggle lakes and W&B ingest write `run_name`; other lakes may have `name`.
        const name = r.run_name ?? r.name;
        return [r.run_id, typeof name === 'string' && name.trim() ? name : r.run_id];
      }),
    );
  }

  /** The Compare tab and the run page, over the runs and metric names. */
  private buildCompare(): void {
    if (this.compare) return;
    const table = this.table;
    this.compare = new CompareView({
      runs: this.runs,
      metrics: this.metrics,
      colorOf: (id) => this.colors.get(id),
      labelOf: this.labelOf,
      onBrush: (ids, label) => table?.setExternalFilter(ids, label),
      onSelect: (ids) => table?.setSelection(ids),
    });
    handle.compare = this.compare;
    this.compare.onStateChange = () => this.onStateChange();
    if (this.linked?.compare) {
      compareOpened = true;
      this.compare.setState(this.linked.compare);
    }
    this.compare.setSelection(table?.selection() ?? []);
    this.sections.compare.replaceChildren(this.compare.element);
    this.runPage = new RunPage({ runs: this.runs, metrics: this.metrics });
    handle.runPage = this.runPage;
    this.sections.run.replaceChildren(this.runPage.element);
  }
}

void start();

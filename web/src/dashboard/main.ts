// The runlake dashboard, served by `runlake serve` from web/dist: a lake summary header and three
// views (runs & metrics, geometry, matches) over the server's dashboard endpoints, plus a link to
// the standalone file viewer. Views load when first shown, so opening the page costs three small
// requests (lake, runs, metric names). A sweep lake (events/seeds/grids, no runs) gets the Sweep
// view instead of those three.
import './style.css';
import { ApiError, api, type LakeResponse, type MetricName, pageToken, type RunRow } from './api.js';
import { h } from './dom.js';
import { GeometryView } from './geometry-view.js';
import { lakeSummary } from './lake-header.js';
import { startLiveRefresh } from './live-refresh.js';
import { MatchesView } from './matches-view.js';
import { MetricPanel } from './metric-chart.js';
import { seriesColor } from './palette.js';
import { groupKeys } from './runs-model.js';
import { RunsTable } from './runs-table.js';
import { emptyState, errorState, isMissingDataset, showError, showLoading } from './states.js';
import { isSweepLake, SWEEP_WRITE_COMMANDS, SweepView } from './sweep-view.js';

type ViewName = 'runs' | 'geometry' | 'matches' | 'sweep';
const VIEWS: readonly (readonly [ViewName, string])[] = [
  ['runs', 'Runs & metrics'],
  ['geometry', 'Geometry'],
  ['matches', 'Matches'],
  ['sweep', 'Sweep'],
];
/** The views of a lake with runs (a Squiggle lake), and of a sweep lake. */
const RUN_VIEWS: readonly ViewName[] = ['runs', 'geometry', 'matches'];
const SWEEP_VIEWS: readonly ViewName[] = ['sweep'];

const EMPTY_LAKE_COMMANDS = [
  'runlake import <lake> runs runs.jsonl',
  'npm run demo && runlake serve runlake-demo-squiggle',
];

/** What the page exposes on `window.runlake` for tests, the benchmark and the console. */
export interface DashboardHandle {
  table?: RunsTable;
  metrics?: MetricPanel;
  geometry?: GeometryView;
  matches?: MatchesView;
  sweep?: SweepView;
  /** The benchmark's peer: every point at full resolution (see naive-peer.ts). */
  drawFullResolution(host: HTMLElement, metric: string, runs: readonly string[]): Promise<number>;
}

declare global {
  interface Window {
    runlake: DashboardHandle;
  }
}

const handle: DashboardHandle = {
  drawFullResolution: async (host, metric, runs) =>
    (await import('./naive-peer.js')).drawFullResolution(host, metric, runs),
};
window.runlake = handle;

function shell() {
  const token = pageToken();
  const viewerHref = token ? `viewer.html?token=${encodeURIComponent(token)}` : 'viewer.html';
  const summary = h('div', { class: 'lake-summary-host', 'data-testid': 'lake-header' });
  const tabs = h(
    'nav',
    { class: 'tabs', 'aria-label': 'Views' },
    ...VIEWS.map(([name, label]) =>
      h(
        'a',
        {
          href: `#${name}`,
          class: 'tab',
          'data-view': name,
          'data-testid': `tab-${name}`,
          // Which views a lake has is known once /api/lake answers; until then, the runs views.
          hidden: name === 'sweep',
        },
        label,
      ),
    ),
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
    VIEWS.map(([name]) => [
      name,
      h('section', { class: 'view', 'data-view': name, 'data-testid': `view-${name}`, hidden: true }),
    ]),
  ) as Record<ViewName, HTMLElement>;
  const header = h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('span', { class: 'logo' }, '≋'), 'runlake'),
    tabs,
    summary,
  );
  const app = document.querySelector('#app') ?? document.body;
  app.replaceChildren(header, h('main', {}, ...Object.values(sections)));
  return { summary, tabs, sections };
}

async function start(): Promise<void> {
  const { summary, tabs, sections } = shell();
  showLoading(summary, 'lake');
  showLoading(sections.runs, 'runs');
  sections.runs.hidden = false;

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

  // A lake with nothing in it yet is opened as a sweep lake, but `runlake import <lake> runs …`
  // works there too (the lake becomes a Squiggle lake): it gets the runs view, whose empty state
  // names both ways to fill it.
  const emptyLake = lake.grids === 0 && lake.datasets.every((d) => d.rows === 0);
  const sweepLake = isSweepLake(lake) && !emptyLake;
  const available = sweepLake ? SWEEP_VIEWS : RUN_VIEWS;
  for (const tab of tabs.querySelectorAll<HTMLElement>('[data-view]')) {
    tab.hidden = !available.includes(tab.dataset.view as ViewName);
  }
  const show = (view: ViewName) => {
    for (const [name, section] of Object.entries(sections)) section.hidden = name !== view;
    for (const tab of tabs.querySelectorAll<HTMLElement>('[data-view]')) {
      tab.classList.toggle('active', tab.dataset.view === view);
      if (tab.dataset.view === view) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
    if (view === 'geometry' && runs?.length) geometry?.ensureLoaded();
    if (view === 'matches') void matches?.ensureLoaded();
    if (view === 'sweep') void sweep?.ensureLoaded();
  };
  const fromHash = (): ViewName => {
    const name = window.location.hash.replace(/^#/, '').split('/')[0] as ViewName;
    return available.includes(name) ? name : (available[0] as ViewName);
  };
  window.addEventListener('hashchange', () => show(fromHash()));

  let runs: RunRow[] | undefined;
  let geometry: GeometryView | undefined;
  let matches: MatchesView | undefined;
  let sweep: SweepView | undefined;
  if (sweepLake) {
    sweep = new SweepView();
    handle.sweep = sweep;
    sections.runs.replaceChildren();
    sections.sweep.replaceChildren(sweep.element);
    show(fromHash());
    await sweep.ensureLoaded();
    document.body.dataset.state = 'ready';
    return;
  }

  runs = await loadRuns(sections.runs, emptyLake);
  startLiveRefresh(async (changed) => {
    const table = handle.table;
    if (!table || (!handle.metrics && changed.has('metrics_scalar'))) {
      // Nothing drawn yet (an empty lake, or runs without metrics): build the view now.
      runs = await loadRuns(sections.runs, false);
    } else {
      if (changed.has('runs')) table.setRuns((await api.runs()).runs);
      if (changed.has('metrics_scalar')) handle.metrics?.refresh((await api.metricNames()).metrics);
    }
    document.body.dataset.liveRefreshes = String(Number(document.body.dataset.liveRefreshes ?? 0) + 1);
  });
  geometry = new GeometryView(runs ?? []);
  matches = new MatchesView(lake);
  handle.geometry = geometry;
  handle.matches = matches;
  sections.geometry.replaceChildren(geometry.element);
  sections.matches.replaceChildren(matches.element);
  show(fromHash());
  document.body.dataset.state = 'ready';
}

/** The runs table and the metric panel; resolves with the runs (undefined when there are none). */
async function loadRuns(section: HTMLElement, emptyLake: boolean): Promise<RunRow[] | undefined> {
  let runs: RunRow[];
  let truncated = false;
  try {
    const response = await api.runs();
    runs = response.runs;
    truncated = response.truncated;
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
  if (runs.length === 0) {
    section.replaceChildren(
      emptyState(
        'This lake has no runs yet. Write some with the first command, or try the demo:',
        ...EMPTY_LAKE_COMMANDS,
      ),
    );
    return undefined;
  }

  // A selected run keeps its colour index while it stays selected, shared by table and chart.
  let colors = new Map<string, string>();
  const colorOf = (runId: string) => colors.get(runId) ?? seriesColor(0);
  const metricsHost = h('div', { class: 'metric-host' });
  let panel: MetricPanel | undefined;
  const table = new RunsTable(runs, {
    colorOf: (id) => colors.get(id),
    onSelectionChange: (ids) => {
      colors = new Map(ids.map((id, i) => [id, seriesColor(i)]));
      panel?.setRuns(ids);
    },
  });
  handle.table = table;
  section.replaceChildren(
    h(
      'section',
      { class: 'panel runs-section' },
      h('h2', {}, 'Runs', truncated ? h('span', { class: 'muted' }, ' (truncated: raise --max-rows)') : null),
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
  if (metrics.length === 0) {
    metricsHost.replaceChildren(
      emptyState(
        'This lake has no scalar metrics yet. Log them to metrics_scalar (run_id, step, metric_name, value), e.g.:',
        'runlake import <lake> metrics_scalar metrics.jsonl',
      ),
    );
    return runs;
  }
  panel = new MetricPanel({ metrics, paramKeys: groupKeys(runs), colorOf });
  handle.metrics = panel;
  metricsHost.replaceChildren(panel.element);
  // Start with a few runs selected so the first screen already shows curves, unless the user
  // already picked runs while the metric names were loading.
  const picked = table.selection();
  if (picked.length > 0) panel.setRuns(picked);
  else table.setSelection(runs.slice(0, Math.min(runs.length, 4)).map((r) => r.run_id));
  table.refresh();
  return runs;
}

void start();

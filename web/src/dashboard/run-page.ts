// The run page (`#run/<run_id>`): one run's name, id, status and times; its configuration (params,
// flattened config_json and env_json, run fields) with a search box; a summary of every metric it
// logged (final / min / max / last step, one SQL query over metrics_scalar), system metrics apart;
// and all its curves as small uPlot charts grouped by prefix, each fetched downsampled to its own
// width when it scrolls into view.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type MetricName, type RunRow } from './api.js';
import { type ConfigEntry, configText, flattenJson, runConfig } from './config-diff.js';
import { cellText, formatNumber, h } from './dom.js';
import { fetchSummaries, isSystemMetric, type MetricSummary, metricGroup } from './metric-summary.js';
import { emptyState, errorState, isAbort, isMissingDataset, showLoading } from './states.js';
import './compare.css';

const CHART_HEIGHT = 170;
const LINE = '#1f77b4';

/** Fields shown in the run page's header rather than its config. */
const HEADER_FIELDS = new Set(['run_id', 'run_name', 'name', 'status', 'state']);
/** A field holding a time: `started_at`, `finished_at`, `created`, `end_time`, `updated_at`. */
const TIME_FIELD = /(_at|_time|^time|created|updated|finished|ended|heartbeat)$/i;

export interface RunPageOptions {
  readonly runs: RunRow[];
  readonly metrics: MetricName[];
}

/** The order of metric groups: plain metrics, train, eval, the rest by name, system last. */
function groupRank(group: string): string {
  if (group === 'metrics') return '0';
  if (group === 'train') return '1';
  if (group === 'eval' || group === 'val' || group === 'valid' || group === 'test') return '2';
  if (group === 'system') return '9';
  return `5${group}`;
}

/**
 * The run page.
 *
 * @example
 * ```ts
 * const page = new RunPage({ runs, metrics });
 * section.replaceChildren(page.element);
 * await page.show('tiny-lr0.001-s2');
 * ```
 */
export class RunPage {
  readonly element: HTMLElement;
  private runs: RunRow[];
  private controller: AbortController | undefined;
  private observer: IntersectionObserver | undefined;
  private charts: uPlot[] = [];

  constructor(options: RunPageOptions) {
    this.runs = options.runs;
    this.element = h('div', { class: 'run-page', 'data-testid': 'run-page' });
  }

  /** New runs (the live refresh); the page shown is not redrawn until shown again. */
  setRuns(runs: RunRow[]): void {
    this.runs = runs;
  }

  /** Shows run `runId`: header and config at once, then the summary, then the curves as they scroll in. */
  async show(runId: string): Promise<void> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.reset();
    this.element.dataset.runId = runId;
    this.element.dataset.state = 'loading';
    let run = this.runs.find((r) => r.run_id === runId);
    if (!run) {
      // A run that appeared after the page loaded (a link from a colleague, a live run): ask again.
      try {
        const fresh = (await api.runs(controller.signal)).runs;
        if (controller.signal.aborted) return;
        this.runs = fresh;
        run = fresh.find((r) => r.run_id === runId);
      } catch (error) {
        if (isAbort(error) || controller.signal.aborted) return;
      }
    }
    if (!run) {
      this.element.replaceChildren(
        h(
          'div',
          { class: 'state state-error', 'data-testid': 'run-page-missing', role: 'alert' },
          h('p', { class: 'state-title' }, `No run “${runId}” in this lake.`),
          h('p', {}, h('a', { href: '#runs' }, '← Back to the runs')),
        ),
      );
      this.element.dataset.state = 'missing';
      return;
    }
    const summaryHost = h('div', { class: 'run-summary-host' });
    const systemHost = h('div', { class: 'run-summary-host' });
    const curvesHost = h('div', { class: 'run-curves' });
    this.element.replaceChildren(
      this.header(run),
      h(
        'div',
        { class: 'run-page-columns' },
        this.configPanel(run),
        h(
          'div',
          { class: 'run-page-side' },
          h('section', { class: 'panel', 'data-testid': 'run-summary' }, h('h2', {}, 'Summary'), summaryHost),
          h(
            'section',
            { class: 'panel', 'data-testid': 'run-system' },
            h('h2', {}, 'System metrics'),
            systemHost,
          ),
        ),
      ),
      h('section', { class: 'panel', 'data-testid': 'run-curves' }, h('h2', {}, 'Curves'), curvesHost),
    );
    showLoading(summaryHost, 'the summary');
    let rows: MetricSummary[];
    try {
      rows = (await fetchSummaries({ runs: [runId] }, controller.signal)).rows;
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      if (isMissingDataset(error)) {
        summaryHost.replaceChildren(
          emptyState('This lake has no metrics_scalar dataset: no metrics to summarise.'),
        );
        systemHost.replaceChildren();
        curvesHost.replaceChildren();
        this.element.dataset.state = 'ready';
        return;
      }
      summaryHost.replaceChildren(errorState(error, `summarise ${runId}'s metrics`));
      systemHost.replaceChildren();
      curvesHost.replaceChildren();
      this.element.dataset.state = 'error';
      return;
    }
    if (controller.signal.aborted) return;
    const training = rows.filter((r) => !isSystemMetric(r.metric_name));
    const system = rows.filter((r) => isSystemMetric(r.metric_name));
    summaryHost.replaceChildren(
      training.length > 0
        ? summaryTable(training, 'run-summary-table')
        : emptyState('This run logged no training metrics to metrics_scalar.'),
    );
    const reported = reportedSystem(run);
    systemHost.replaceChildren(
      system.length > 0
        ? summaryTable(system, 'run-system-table')
        : h(
            'p',
            { class: 'muted' },
            reported.length > 0
              ? 'No system metrics in metrics_scalar.'
              : 'None logged (system/…, gpu, cpu, memory, _runtime, …).',
          ),
    );
    if (reported.length > 0) {
      systemHost.append(
        h('h3', {}, 'Last reported (system_json)'),
        h(
          'table',
          { class: 'kv-table', 'data-testid': 'run-system-reported' },
          h('tbody', {}, ...reported.map(configRow)),
        ),
      );
    }
    this.curves(runId, rows, curvesHost, controller.signal);
    this.element.dataset.state = 'ready';
  }

  private reset(): void {
    this.observer?.disconnect();
    this.observer = undefined;
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
  }

  private header(run: RunRow): HTMLElement {
    const name = typeof run.run_name === 'string' && run.run_name ? run.run_name : run.run_id;
    const status = run.status ?? run.state;
    const times = Object.entries(run).filter(
      ([key, value]) => TIME_FIELD.test(key) && value !== null && value !== undefined && value !== '',
    );
    return h(
      'section',
      { class: 'panel run-header', 'data-testid': 'run-header' },
      h('a', { href: '#runs', class: 'back-link' }, '← Runs'),
      h('h2', { 'data-testid': 'run-name' }, name),
      h(
        'dl',
        { class: 'run-facts' },
        h('dt', {}, 'run_id'),
        h('dd', { 'data-testid': 'run-id' }, h('code', {}, run.run_id)),
        status !== undefined && status !== null ? h('dt', {}, 'status') : null,
        status !== undefined && status !== null
          ? h(
              'dd',
              {},
              h(
                'span',
                { class: `run-status status-${cellText(status)}`, 'data-testid': 'run-status' },
                cellText(status),
              ),
            )
          : null,
        ...times.flatMap(([key, value]) => [
          h('dt', {}, key),
          h('dd', { 'data-field': key }, cellText(value)),
        ]),
      ),
    );
  }

  private configPanel(run: RunRow): HTMLElement {
    const all = runConfig(run).filter((e) => !HEADER_FIELDS.has(e.key) && !TIME_FIELD.test(e.key));
    // Empty run fields (a lake's columns this run never set) are noise here; the count says so.
    const entries = all.filter((e) => !(e.source === 'field' && e.value === null));
    const empty = all.length - entries.length;
    const search = h('input', {
      type: 'search',
      placeholder: 'Search keys and values',
      'data-testid': 'run-config-search',
      'aria-label': 'Search the configuration',
    });
    const body = h('tbody', {});
    const count = h('span', { class: 'muted', 'data-testid': 'run-config-count' });
    const render = () => {
      const needle = search.value.trim().toLowerCase();
      const shown = needle
        ? entries.filter((e) => `${e.key}\u0000${configText(e.value)}`.toLowerCase().includes(needle))
        : entries;
      body.replaceChildren(...shown.map(configRow));
      count.textContent =
        (needle ? `${shown.length} of ${entries.length} keys` : `${entries.length} keys`) +
        (empty > 0 ? ` (${empty} empty field${empty === 1 ? '' : 's'} hidden)` : '');
    };
    search.addEventListener('input', render);
    render();
    return h(
      'section',
      { class: 'panel run-config', 'data-testid': 'run-config' },
      h('div', { class: 'toolbar' }, h('h2', {}, 'Config'), search, count),
      h(
        'div',
        { class: 'run-config-scroll' },
        h(
          'table',
          { class: 'kv-table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'key'), h('th', {}, 'value'))),
          body,
        ),
      ),
    );
  }

  /** One small chart per metric, grouped; each loads when it scrolls into view. */
  private curves(
    runId: string,
    rows: readonly MetricSummary[],
    host: HTMLElement,
    signal: AbortSignal,
  ): void {
    if (rows.length === 0) {
      host.replaceChildren(emptyState('This run has no scalar metrics.'));
      return;
    }
    const groups = new Map<string, MetricSummary[]>();
    for (const row of rows) {
      const group = metricGroup(row.metric_name);
      groups.set(group, [...(groups.get(group) ?? []), row]);
    }
    const ordered = [...groups.entries()].sort(([a], [b]) => groupRank(a).localeCompare(groupRank(b)));
    const pending = new Map<Element, () => void>();
    this.observer = new IntersectionObserver(
      (seen) => {
        for (const entry of seen) {
          if (!entry.isIntersecting) continue;
          const load = pending.get(entry.target);
          pending.delete(entry.target);
          this.observer?.unobserve(entry.target);
          load?.();
        }
      },
      { rootMargin: '200px' },
    );
    host.replaceChildren(
      ...ordered.map(([group, metrics]) => {
        const grid = h('div', { class: 'run-chart-grid' });
        for (const summary of metrics) {
          const cell = h(
            'div',
            {
              class: 'run-chart',
              'data-testid': 'run-chart',
              'data-metric': summary.metric_name,
              'data-state': 'waiting',
            },
            h('div', { class: 'run-chart-title' }, summary.metric_name),
          );
          grid.append(cell);
          pending.set(cell, () => void this.drawChart(runId, summary.metric_name, cell, signal));
          this.observer?.observe(cell);
        }
        return h(
          'div',
          { class: 'run-chart-group', 'data-group': group },
          h('h3', {}, group === 'metrics' ? 'Metrics' : group === 'system' ? 'System' : `${group}/`),
          grid,
        );
      }),
    );
  }

  private async drawChart(
    runId: string,
    metric: string,
    cell: HTMLElement,
    signal: AbortSignal,
  ): Promise<void> {
    const width = Math.max(160, Math.floor(cell.clientWidth - 8));
    cell.dataset.state = 'loading';
    try {
      const answer = await api.metrics({ runs: [runId], metric, width }, signal);
      if (signal.aborted) return;
      const series = answer.series[0];
      if (!series || series.step.length === 0) {
        cell.append(h('p', { class: 'muted' }, 'No points.'));
        cell.dataset.state = 'empty';
        return;
      }
      const values = Array.from(series.value, (v) => (Number.isFinite(v) ? v : null));
      const opts: uPlot.Options = {
        width,
        height: CHART_HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: true, y: false } },
        scales: { x: { time: false } },
        axes: [
          {
            size: 30,
            values: (_u, splits: (number | null)[]) => splits.map((v) => (v === null ? '' : formatNumber(v))),
          },
          {
            size: axisWidth,
            values: (_u, splits: (number | null)[]) => splits.map((v) => (v === null ? '' : formatNumber(v))),
          },
        ],
        // A short series (an eval logged a few times) shows its points too: one point draws no line.
        series: [
          { label: 'step' },
          { label: metric, stroke: LINE, width: 1.5, points: { show: series.step.length <= 60, size: 5 } },
        ],
      };
      this.charts.push(new uPlot(opts, [Array.from(series.step), values], cell));
      cell.dataset.points = String(series.step.length);
      cell.dataset.total = String(series.total);
      cell.dataset.state = 'drawn';
    } catch (error) {
      if (isAbort(error) || signal.aborted) return;
      cell.append(errorState(error, `load ${metric}`));
      cell.dataset.state = 'error';
    }
  }
}

/** The system metrics a W&B run reported last (`system_json.system_metrics`), flattened. */
function reportedSystem(run: RunRow): ConfigEntry[] {
  if (typeof run.system_json !== 'string' || run.system_json === '') return [];
  try {
    const parsed = JSON.parse(run.system_json) as { system_metrics?: unknown };
    if (!parsed || typeof parsed.system_metrics !== 'object' || parsed.system_metrics === null) return [];
    return Object.entries(flattenJson(parsed.system_metrics)).map(([key, value]) => ({
      key,
      source: 'field' as const,
      value,
    }));
  } catch {
    return [];
  }
}

function configRow(entry: ConfigEntry): HTMLElement {
  return h(
    'tr',
    { 'data-testid': 'run-config-row', 'data-key': entry.key, 'data-source': entry.source },
    h(
      'th',
      { scope: 'row' },
      entry.key,
      entry.source === 'param' ? h('span', { class: 'tag' }, 'param') : null,
    ),
    h('td', {}, configText(entry.value)),
  );
}

/** A summary table: metric, final, min, max, last step, points. */
function summaryTable(rows: readonly MetricSummary[], testid: string): HTMLElement {
  const cell = (v: number | null) => h('td', { class: 'num' }, v === null ? '—' : formatNumber(v));
  return h(
    'table',
    { class: 'kv-table summary-table', 'data-testid': testid },
    h(
      'thead',
      {},
      h('tr', {}, ...['metric', 'final', 'min', 'max', 'last step', 'points'].map((t) => h('th', {}, t))),
    ),
    h(
      'tbody',
      {},
      ...rows.map((r) =>
        h(
          'tr',
          {
            'data-testid': 'summary-row',
            'data-metric': r.metric_name,
            'data-final': r.final ?? '',
            'data-min': r.min ?? '',
            'data-max': r.max ?? '',
            'data-last-step': r.last_step,
          },
          h('th', { scope: 'row' }, r.metric_name),
          cell(r.final),
          cell(r.min),
          cell(r.max),
          h('td', { class: 'num' }, String(r.last_step)),
          h('td', { class: 'num' }, String(r.points)),
        ),
      ),
    ),
  );
}

/** The y axis's width for its longest label (uPlot does not size an axis to its labels). */
function axisWidth(_u: uPlot, values: string[] | null): number {
  const longest = Math.max(3, ...(values ?? []).map((v) => v.length));
  return Math.ceil(longest * 7 + 18);
}

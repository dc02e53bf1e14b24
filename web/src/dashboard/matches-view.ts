// The matches view: pick a signature, see its top-k matches as a ranked list, and overlay the
// query's signature vector with the matches' vectors. Vectors live on a common grid (fraction of
// training or log-step, resampled and z-normalised). With "align by DTW" on (the default), each
// match is drawn warped onto the query's points along its DTW path (the server's `aligned_vector`),
// so every feature sits where the matcher paired it; off, the raw vectors overlay on the grid.
import uPlot from 'uplot';
import { api, type LakeResponse, type MatchesResponse, type MatchRow } from './api.js';
import { formatNumber, h, selectOf } from './dom.js';
import { mergeSeries } from './merge-series.js';
import { seriesColor } from './palette.js';
import { emptyState, errorState, isAbort, showLoading } from './states.js';

interface SignatureRow {
  readonly signature_id: string;
  readonly run_id: string;
  readonly layer: number | null;
  readonly module: string | null;
  readonly sample_id: string | null;
  readonly descriptor_set: string;
  readonly method: string;
  readonly grid: string;
  readonly dim: number;
  readonly n_matches: number;
}

const K_CHOICES = [1, 3, 5, 10, 20];
const QUERY_COLOR = '#111827';

/** The label of a signature in the picker. */
export function signatureLabel(s: SignatureRow): string {
  const where = [s.layer === null ? 'all layers' : `L${s.layer}`, s.module ?? 'all modules'].join(' ');
  const sample = s.sample_id && s.sample_id !== '*' ? ` ${s.sample_id}` : '';
  return `${s.run_id} · ${where}${sample} · ${s.descriptor_set} · ${s.method}${s.n_matches ? ` (${s.n_matches} matches)` : ''}`;
}

/** x positions of a signature vector of length `dim` on the grid, from 0 to 1. */
export function vectorPositions(dim: number): number[] {
  const denominator = Math.max(1, dim - 1);
  return Array.from({ length: dim }, (_, j) => j / denominator);
}

export class MatchesView {
  readonly element: HTMLElement;
  private readonly filter: HTMLInputElement;
  private readonly list: HTMLSelectElement;
  private readonly methodSelect: HTMLSelectElement;
  private readonly kSelect: HTMLSelectElement;
  private readonly align: HTMLInputElement;
  private readonly results: HTMLElement;
  private readonly picker: HTMLElement;
  private signatures: SignatureRow[] = [];
  private current: MatchesResponse | undefined;
  private chart: uPlot | undefined;
  private controller: AbortController | undefined;
  private started = false;

  constructor(private readonly lake: LakeResponse) {
    this.filter = h('input', {
      type: 'search',
      placeholder: 'Filter signatures (run, layer, descriptor…)',
      'data-testid': 'signature-filter',
    });
    this.list = h('select', {
      size: 10,
      class: 'signature-list',
      'data-testid': 'signature-select',
      'aria-label': 'Signature',
    });
    this.methodSelect = selectOf([['combined', 'combined']], 'combined', {
      'data-testid': 'match-method',
      'aria-label': 'Match method',
    });
    this.kSelect = selectOf(
      K_CHOICES.map((k) => [String(k), String(k)] as const),
      '5',
      { 'data-testid': 'match-k', 'aria-label': 'Top k' },
    );
    this.align = h('input', { type: 'checkbox', 'data-testid': 'match-align' });
    this.align.checked = true;
    this.results = h('div', { class: 'match-results', 'data-testid': 'match-results' });
    this.picker = h('div', { class: 'signature-picker' }, this.filter, this.list);
    this.filter.addEventListener('input', () => this.fillList());
    this.list.addEventListener('change', () => void this.loadMatches());
    this.methodSelect.addEventListener('change', () => void this.renderMatches());
    this.kSelect.addEventListener('change', () => void this.renderMatches());
    this.align.addEventListener('change', () => void this.renderMatches());
    this.element = h(
      'section',
      { class: 'panel matches-panel', 'data-testid': 'matches-view' },
      h(
        'div',
        { class: 'matches-layout' },
        h(
          'div',
          { class: 'matches-side' },
          h('h3', {}, 'Query signature'),
          this.picker,
          h(
            'div',
            { class: 'toolbar' },
            h('label', { class: 'control' }, 'Method ', this.methodSelect),
            h('label', { class: 'control' }, 'Top ', this.kSelect),
            h(
              'label',
              {
                class: 'control inline',
                title: 'Draw each match warped onto the query along its DTW path; off: the raw vectors',
              },
              this.align,
              ' align by DTW',
            ),
          ),
        ),
        this.results,
      ),
    );
  }

  /** Loads the signature list the first time the view is shown. */
  async ensureLoaded(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const has = (name: string) => this.lake.datasets.some((d) => d.name === name && d.rows > 0);
    if (!has('signatures')) {
      this.picker.replaceChildren(
        emptyState(
          'This lake has no signatures yet. Compute geometry, events, signatures and matches from probe embeddings:',
          'runlake analyze <lake>',
        ),
      );
      return;
    }
    showLoading(this.results, 'signatures');
    const joined = has('matches');
    const sql = `SELECT s.signature_id, s.run_id, s.layer, s.module, s.sample_id, s.descriptor_set, s.method, s.grid, s.dim,
      ${joined ? 'coalesce(m.n, 0)' : '0'} AS n_matches
      FROM signatures s
      ${joined ? 'LEFT JOIN (SELECT query_signature_id, count(*)::INTEGER AS n FROM matches GROUP BY 1) m ON m.query_signature_id = s.signature_id' : ''}
      ORDER BY n_matches = 0, s.run_id, s.signature_id LIMIT 5000`;
    try {
      const result = await api.query<SignatureRow>(sql);
      this.signatures = result.rows;
      this.fillList();
      const first = this.signatures.find((s) => s.n_matches > 0);
      if (!first) {
        this.results.replaceChildren(
          emptyState(
            'No signature has matches yet. Rank other runs against a run with:',
            'runlake match <lake> --run <run_id>',
          ),
        );
        return;
      }
      this.list.value = first.signature_id;
      await this.loadMatches();
    } catch (error) {
      this.results.replaceChildren(errorState(error, 'list the signatures'));
    }
  }

  private fillList(): void {
    const needle = this.filter.value.trim().toLowerCase();
    const selected = this.list.value;
    const shown = this.signatures.filter(
      (s) =>
        !needle ||
        signatureLabel(s).toLowerCase().includes(needle) ||
        s.signature_id.toLowerCase().includes(needle),
    );
    this.list.replaceChildren(
      ...shown
        .slice(0, 1000)
        .map((s) =>
          h(
            'option',
            { value: s.signature_id, title: s.signature_id, class: s.n_matches ? '' : 'muted' },
            signatureLabel(s),
          ),
        ),
    );
    if (shown.some((s) => s.signature_id === selected)) this.list.value = selected;
  }

  /** Shows the matches of `signatureId` (e.g. from a test or a link). */
  async showSignature(signatureId: string): Promise<void> {
    await this.ensureLoaded();
    this.list.value = signatureId;
    await this.loadMatches();
  }

  private async loadMatches(): Promise<void> {
    const id = this.list.value;
    if (!id) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    showLoading(this.results, 'matches');
    try {
      const response = await api.matches(id, controller.signal);
      if (controller.signal.aborted) return;
      this.current = response;
      const methods = [...new Set(response.matches.map((m) => m.method))];
      const previous = this.methodSelect.value;
      this.methodSelect.replaceChildren(...methods.map((m) => h('option', { value: m }, m)));
      this.methodSelect.value = methods.includes(previous)
        ? previous
        : methods.includes('combined')
          ? 'combined'
          : (methods[0] ?? '');
      await this.renderMatches();
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      this.results.replaceChildren(errorState(error, `load the matches of ${id}`));
    }
  }

  private async renderMatches(): Promise<void> {
    const current = this.current;
    if (!current) return;
    const k = Number(this.kSelect.value);
    const method = this.methodSelect.value;
    const top = current.matches
      .filter((m) => m.method === method)
      .sort((a, b) => a.rank - b.rank)
      .slice(0, k);
    this.chart?.destroy();
    this.chart = undefined;
    const queryId = String(current.signature.signature_id);
    if (top.length === 0) {
      this.results.replaceChildren(
        emptyState(
          `${queryId} has no ${method} matches. Rank other runs against its run with:`,
          `runlake match <lake> --run ${String(current.signature.run_id)}`,
        ),
      );
      return;
    }
    const list = h(
      'ol',
      { class: 'match-list', 'data-testid': 'match-list' },
      ...top.map((m, i) => matchItem(m, seriesColor(i))),
    );
    const host = h('div', { class: 'match-chart', 'data-testid': 'match-chart' });
    this.results.replaceChildren(
      h(
        'div',
        { class: 'match-query' },
        h('span', { class: 'swatch', style: `background: ${QUERY_COLOR}` }),
        'Query: ',
        h('code', {}, queryId),
      ),
      list,
      host,
    );
    const align = this.align.checked;
    const queryVector = (current.signature.vector as number[] | null | undefined) ?? [];
    const entries = [
      { vector: queryVector, color: QUERY_COLOR, width: 2.5, label: 'query' },
      ...top.map((m, i) => ({
        vector: (align ? (m.aligned_vector ?? m.candidate_vector) : m.candidate_vector) ?? [],
        color: seriesColor(i),
        width: 1.5,
        label: `#${m.rank} ${m.candidate_run_id}`,
      })),
    ].filter((e) => e.vector.length > 0);
    const data = mergeSeries(entries.map((e) => ({ x: vectorPositions(e.vector.length), y: e.vector })));
    const grid = String(current.signature.grid ?? 'fraction');
    host.dataset.seriesCount = String(entries.length);
    host.dataset.aligned = String(align);
    this.chart = new uPlot(
      {
        width: Math.max(320, (this.results.clientWidth || 800) - 8),
        height: 320,
        legend: { show: false },
        scales: { x: { time: false } },
        axes: [
          {
            label:
              grid === 'log_step'
                ? 'position on the log-step grid (0 = first, 1 = last step)'
                : 'fraction of training',
            size: 40,
          },
          {
            label: 'z-normalised value',
            size: 56,
            values: (_u, splits) => splits.map((v) => formatNumber(v)),
          },
        ],
        series: [
          { label: 'x' },
          ...entries.map((e) => ({
            label: e.label,
            stroke: e.color,
            width: e.width,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      data as uPlot.AlignedData,
      host,
    );
  }
}

function matchItem(m: MatchRow, color: string): HTMLElement {
  const offset = m.alignment?.query_offset;
  return h(
    'li',
    {
      class: 'match-item',
      'data-testid': 'match-item',
      'data-rank': m.rank,
      'data-candidate': m.candidate_signature_id,
      title: m.candidate_signature_id,
    },
    h('span', { class: 'match-rank' }, `#${m.rank}`),
    h('span', { class: 'swatch', style: `background: ${color}` }),
    h(
      'span',
      { class: 'match-what' },
      h('strong', {}, m.candidate_run_id),
      ` · ${m.candidate_layer === null ? 'all layers' : `L${m.candidate_layer}`} ${m.candidate_module ?? ''}`,
    ),
    h(
      'span',
      { class: 'match-numbers' },
      m.score === null ? '' : `score ${formatNumber(m.score)} · `,
      `distance ${formatNumber(m.distance)}`,
      offset === undefined ? '' : ` · offset ${offset}`,
      m.alignment ? ` · max dev ${m.alignment.max_deviation}` : '',
    ),
  );
}

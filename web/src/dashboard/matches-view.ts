// The matches view: pick a signature, see its top-k matches as a ranked table, and overlay the
// query's signature vector with the matches' vectors. Vectors live on a common grid (fraction of
// training or log-step, resampled and z-normalised). With "align by DTW" on (the default), each
// match is drawn warped onto the query's points along its DTW path (the server's `aligned_vector`),
// so every feature sits where the matcher paired it, and the selected match's Sakoe–Chiba band is
// shaded: the range of candidate values DTW may pair with each query point. Off, the raw vectors
// overlay on the grid.
//
// The signature filter is token-based (every whitespace-separated word must match some field);
// rows are clickable (select and highlight that match, link to its run's page); candidates can be
// limited to the query's layer or module; the edit method shows the event tokens it compares and
// explains its ties.
import './matches.css';
import uPlot from 'uplot';
import { api, type LakeResponse, type MatchesResponse, type MatchRow } from './api.js';
import { chartTheme } from './chart-axes.js';
import { formatNumber, h, selectOf } from './dom.js';
import { eventAbbrev } from './event-markers.js';
import { type SignatureRow, signatureMatches, tieExplanation } from './match-filters.js';
import { mergeSeries } from './merge-series.js';
import { seriesColor, withAlpha } from './palette.js';
import type { MatchesState } from './panel-state.js';
import { emptyState, errorState, isAbort, showLoading } from './states.js';
import { THEME_EVENT } from './theme.js';

export { signatureMatches, tieExplanation };

const K_CHOICES = [1, 3, 5, 10, 20];
const CHART_HEIGHT = 320;

/**
 * What each column of the match table means (its header tooltip).
 *
 * @example
 * ```ts
 * MATCH_COLUMN_HELP.offset; // 'Mean shift of the DTW warping path, in grid points: …'
 * ```
 */
export const MATCH_COLUMN_HELP: Readonly<Record<string, string>> = {
  '#': 'Rank under the chosen method (1 = closest)',
  run: 'The candidate signature’s run; the link opens its run page',
  where: 'The candidate’s layer and module',
  score: 'Similarity in [0, 1] under the method (1 = identical shape / events)',
  distance:
    'The method’s distance: DTW distance of the z-normalised series, cosine distance of the PAA vectors, edit distance of the event tokens, or 1 − score for combined',
  offset:
    'Mean shift of the DTW warping path, in grid points: positive when the candidate shows the query’s features later, negative when earlier',
  'max dev': 'Largest |i − j| on the DTW warping path, in grid points: at most the Sakoe–Chiba band',
  events: 'The candidate’s event tokens in step order (what the edit method compares)',
};

/** The signature methods' names, explained in the legend. */
const METHOD_HELP =
  'z128: the trajectory resampled to 128 grid points and z-normalised (matched by DTW); paa32-z: its 32-segment piecewise average (matched by cosine).';

/**
 * The label of a signature in the picker.
 *
 * @example
 * ```ts
 * signatureLabel(sig); // 'tiny-lr0.0003-s0 · L0 mlp_out · effective_rank · z128 (40 matches)'
 * ```
 */
export function signatureLabel(s: SignatureRow): string {
  const where = [s.layer === null ? 'all layers' : `L${s.layer}`, s.module ?? 'all modules'].join(' ');
  const sample = s.sample_id && s.sample_id !== '*' ? ` ${s.sample_id}` : '';
  return `${s.run_id} · ${where}${sample} · ${s.descriptor_set} · ${s.method}${s.n_matches ? ` (${s.n_matches} matches)` : ''}`;
}

/**
 * x positions of a signature vector of length `dim` on the grid, from 0 to 1.
 *
 * @example
 * ```ts
 * vectorPositions(3); // [0, 0.5, 1]
 * ```
 */
export function vectorPositions(dim: number): number[] {
  const denominator = Math.max(1, dim - 1);
  return Array.from({ length: dim }, (_, j) => j / denominator);
}

/** Event tokens as compact initials (rank_collapse → RC), the full list in the tooltip. */
function tokensElement(tokens: readonly string[] | null | undefined): HTMLElement {
  const list = tokens ?? [];
  return h(
    'span',
    {
      class: 'match-tokens',
      'data-testid': 'match-tokens',
      title: list.length ? list.join(' → ') : 'no events',
    },
    list.length ? list.map(eventAbbrev).join(' ') : '(no events)',
  );
}

/**
 * The Matches view: a filterable signature list, method / top-k / alignment / same-layer /
 * same-module controls, the ranked match table and the overlay with the selected match's band.
 *
 * @example
 * ```ts
 * const view = new MatchesView(lake);
 * section.append(view.element);
 * await view.ensureLoaded(); // lists the signatures and shows the first one's matches
 * ```
 */
export class MatchesView {
  readonly element: HTMLElement;
  private readonly filter: HTMLInputElement;
  private readonly filterEmpty: HTMLElement;
  private readonly list: HTMLSelectElement;
  private readonly methodSelect: HTMLSelectElement;
  private readonly kSelect: HTMLSelectElement;
  private readonly align: HTMLInputElement;
  private readonly sameLayer: HTMLInputElement;
  private readonly sameModule: HTMLInputElement;
  private readonly results: HTMLElement;
  private readonly picker: HTMLElement;
  private readonly resizer: ResizeObserver;
  private signatures: SignatureRow[] = [];
  private current: MatchesResponse | undefined;
  private selectedCandidate: string | undefined;
  private chart: uPlot | undefined;
  private controller: AbortController | undefined;
  private started = false;
  /** A link's state, applied once the signatures are listed. */
  private pending: Partial<MatchesState> | undefined;
  /** The method and match a link (or a reload) asks for, used when the query's matches arrive. */
  private wantedMethod: string | undefined;
  private wantedCandidate: string | undefined;
  /** The signature whose matches are being fetched. */
  private loadingId: string | undefined;
  /** Called after every user change (and after a state is applied), with the whole state. */
  onStateChange: ((state: MatchesState) => void) | undefined;

  constructor(private readonly lake: LakeResponse) {
    this.filter = h('input', {
      type: 'search',
      placeholder: 'Filter: words matching run, layer, module, descriptor… (e.g. s2 resid_post)',
      'aria-label': 'Filter signatures',
      'data-testid': 'signature-filter',
    });
    this.filterEmpty = h('p', {
      class: 'muted signature-empty',
      'data-testid': 'signature-empty',
      hidden: true,
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
    this.sameLayer = h('input', { type: 'checkbox', 'data-testid': 'match-same-layer' });
    this.sameModule = h('input', { type: 'checkbox', 'data-testid': 'match-same-module' });
    this.results = h('div', { class: 'match-results', 'data-testid': 'match-results' });
    this.picker = h('div', { class: 'signature-picker' }, this.filter, this.filterEmpty, this.list);
    this.resizer = new ResizeObserver(() => {
      const width = this.chartWidth();
      if (this.chart && Math.abs(this.chart.width - width) >= 1)
        this.chart.setSize({ width, height: CHART_HEIGHT });
    });
    this.resizer.observe(this.results);
    this.filter.addEventListener('input', () => {
      this.fillList();
      this.changed();
    });
    this.list.addEventListener('change', () => {
      void this.loadMatches();
      this.changed();
    });
    for (const control of [this.methodSelect, this.kSelect, this.align, this.sameLayer, this.sameModule]) {
      control.addEventListener('change', () => {
        this.renderMatches();
        this.changed();
      });
    }
    // Canvases do not follow CSS: redraw in the new theme's colours.
    document.addEventListener(THEME_EVENT, () => this.renderMatches());
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
            { class: 'toolbar matches-toolbar' },
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
          h(
            'div',
            { class: 'toolbar matches-toolbar' },
            h('span', { class: 'muted' }, 'Candidates from: '),
            h(
              'label',
              { class: 'control inline', title: 'Only candidates from the query’s layer' },
              this.sameLayer,
              ' same layer',
            ),
            h(
              'label',
              { class: 'control inline', title: 'Only candidates from the query’s module' },
              this.sameModule,
              ' same module',
            ),
          ),
        ),
        this.results,
      ),
    );
  }

  private changed(): void {
    this.onStateChange?.(this.getState());
  }

  /**
   * The query, the selected match and the filters shown, for URL state.
   *
   * @example
   * ```ts
   * view.getState(); // { signature: 'sig-…', candidate: 'sig-…', find: 's2', method: 'dtw', k: 5, align: true, sameLayer: true, sameModule: false }
   * ```
   */
  getState(): MatchesState {
    const pending = this.pending ?? {};
    const loading = this.controller && !this.controller.signal.aborted ? this.loadingId : undefined;
    const signature =
      pending.signature ??
      loading ??
      (this.current ? String(this.current.signature.signature_id) : undefined) ??
      (this.list.value || undefined);
    const method = pending.method ?? this.wantedMethod ?? (this.methodSelect.value || undefined);
    const candidate = pending.candidate ?? this.wantedCandidate ?? this.selectedCandidate;
    return {
      ...(signature ? { signature } : {}),
      ...(candidate ? { candidate } : {}),
      find: pending.find ?? this.filter.value,
      ...(method ? { method } : {}),
      k: pending.k ?? Number(this.kSelect.value),
      align: pending.align ?? this.align.checked,
      sameLayer: pending.sameLayer ?? this.sameLayer.checked,
      sameModule: pending.sameModule ?? this.sameModule.checked,
    };
  }

  /**
   * Shows `state` (fields left out keep their value): applied at once when the signatures are
   * listed, else when the view is first shown.
   *
   * @example
   * ```ts
   * view.setState({ signature: 'sig-abc', method: 'edit', sameLayer: true });
   * ```
   */
  setState(state: Partial<MatchesState>): void {
    if (!this.started || this.signatures.length === 0) {
      this.pending = { ...this.pending, ...state };
      return;
    }
    this.applyState(state);
  }

  private applyState(state: Partial<MatchesState>): void {
    if (state.find !== undefined) this.filter.value = state.find;
    if (state.k !== undefined && K_CHOICES.includes(state.k)) this.kSelect.value = String(state.k);
    if (state.align !== undefined) this.align.checked = state.align;
    if (state.sameLayer !== undefined) this.sameLayer.checked = state.sameLayer;
    if (state.sameModule !== undefined) this.sameModule.checked = state.sameModule;
    this.fillList();
    const known = state.signature && this.signatures.some((s) => s.signature_id === state.signature);
    if (known && state.signature !== this.current?.signature.signature_id) {
      this.wantedMethod = state.method;
      this.wantedCandidate = state.candidate;
      this.list.value = state.signature as string;
      void this.loadMatches(state.signature as string);
      return;
    }
    if (state.method !== undefined && [...this.methodSelect.options].some((o) => o.value === state.method))
      this.methodSelect.value = state.method;
    if (state.candidate !== undefined) this.selectedCandidate = state.candidate;
    this.renderMatches();
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
      const pending = this.pending;
      this.pending = undefined;
      if (pending) {
        // A link's view: its filters, then its query (when the lake still has it).
        this.applyState({ ...pending, signature: undefined });
        if (pending.signature && this.signatures.some((s) => s.signature_id === pending.signature)) {
          this.wantedMethod = pending.method;
          this.wantedCandidate = pending.candidate;
          this.list.value = pending.signature;
          await this.loadMatches(pending.signature);
          return;
        }
      }
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
    const text = this.filter.value;
    const selected = this.list.value;
    const shown = this.signatures.filter((s) => signatureMatches(s, text));
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
    const tokens = text.split(/\s+/).filter(Boolean);
    this.filterEmpty.hidden = shown.length > 0 || this.signatures.length === 0;
    this.filterEmpty.textContent =
      shown.length > 0
        ? ''
        : `No signature matches all of ${tokens.map((t) => `“${t}”`).join(', ')} (of ${this.signatures.length}). Every word must appear in the run, layer (L2), module, sample, descriptor or method.`;
    this.list.hidden = shown.length === 0 && this.signatures.length > 0;
    if (shown.some((s) => s.signature_id === selected)) this.list.value = selected;
  }

  /** Shows the matches of `signatureId` (e.g. from a test or a link). */
  async showSignature(signatureId: string): Promise<void> {
    await this.ensureLoaded();
    this.list.value = signatureId;
    await this.loadMatches();
  }

  private async loadMatches(id: string = this.list.value): Promise<void> {
    if (!id) return;
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.loadingId = id;
    showLoading(this.results, 'matches');
    try {
      const response = await api.matches(id, controller.signal);
      if (controller.signal.aborted) return;
      this.current = response;
      this.selectedCandidate = this.wantedCandidate;
      const methods = [...new Set(response.matches.map((m) => m.method))];
      const previous = this.wantedMethod ?? this.methodSelect.value;
      this.wantedCandidate = undefined;
      this.wantedMethod = undefined;
      this.methodSelect.replaceChildren(...methods.map((m) => h('option', { value: m }, m)));
      this.methodSelect.value = methods.includes(previous)
        ? previous
        : methods.includes('combined')
          ? 'combined'
          : (methods[0] ?? '');
      this.renderMatches();
      this.changed();
    } catch (error) {
      if (isAbort(error) || controller.signal.aborted) return;
      this.results.replaceChildren(errorState(error, `load the matches of ${id}`));
    }
  }

  private chartWidth(): number {
    return Math.max(280, Math.floor(this.results.clientWidth || 800) - 8);
  }

  private renderMatches(): void {
    const current = this.current;
    if (!current) return;
    const k = Number(this.kSelect.value);
    const method = this.methodSelect.value;
    const signature = current.signature;
    const queryLayer =
      signature.layer === null || signature.layer === undefined ? null : Number(signature.layer);
    const queryModule = (signature.module as string | null | undefined) ?? null;
    const queryTokens = (signature.event_tokens as string[] | null | undefined) ?? [];
    const sameLayer = this.sameLayer.checked;
    const sameModule = this.sameModule.checked;
    const top = current.matches
      .filter((m) => m.method === method)
      .filter((m) => !sameLayer || m.candidate_layer === queryLayer)
      .filter((m) => !sameModule || m.candidate_module === queryModule)
      .sort((a, b) => a.rank - b.rank)
      .slice(0, k);
    this.chart?.destroy();
    this.chart = undefined;
    const queryId = String(signature.signature_id);
    const theme = chartTheme();
    // The query is drawn in the text colour: near black, or near white in the dark theme.
    const queryColor = theme.fg;
    const query = h(
      'div',
      {
        class: 'match-query',
        'data-testid': 'match-query',
        'data-layer': queryLayer ?? '',
        'data-module': queryModule ?? '',
      },
      h('span', { class: 'swatch', style: `background: ${queryColor}` }),
      'Query: ',
      h('code', {}, queryId),
      h('span', { class: 'muted' }, ' · events: '),
      tokensElement(queryTokens),
    );
    if (top.length === 0) {
      const limits = [sameLayer ? 'in the same layer' : '', sameModule ? 'in the same module' : '']
        .filter(Boolean)
        .join(' and ');
      this.results.replaceChildren(
        query,
        emptyState(
          limits
            ? `None of the ${method} matches stored for ${queryId} is ${limits}. The lake keeps each signature's top matches over all layers and modules; untick the filters, or rank again with more matches:`
            : `${queryId} has no ${method} matches. Rank other runs against its run with:`,
          `runlake match <lake> --run ${String(signature.run_id)}`,
        ),
      );
      return;
    }
    const selected = top.find((m) => m.candidate_signature_id === this.selectedCandidate) ?? top[0];
    const selectedIndex = selected ? top.indexOf(selected) : 0;
    this.selectedCandidate = selected?.candidate_signature_id;
    const showEvents = method === 'edit';
    const columns = [
      '#',
      'run',
      'where',
      'score',
      'distance',
      'offset',
      'max dev',
      ...(showEvents ? ['events'] : []),
    ];
    const rows = top.map((m, i) => this.matchRow(m, seriesColor(i), m === selected, showEvents));
    const table = h(
      'table',
      {
        class: 'match-list',
        'data-testid': 'match-list',
        'data-method': method,
        'data-same-layer': String(sameLayer),
        'data-same-module': String(sameModule),
      },
      h(
        'thead',
        {},
        h('tr', {}, ...columns.map((c) => h('th', { title: MATCH_COLUMN_HELP[c] ?? '', scope: 'col' }, c))),
      ),
      h('tbody', {}, ...rows),
    );
    const ties = tieExplanation(top, queryTokens, method);
    const host = h('div', { class: 'match-chart', 'data-testid': 'match-chart' });
    const align = this.align.checked;
    const band = selected?.aligned_band ?? null;
    const drawBand = align && band !== null && !!selected?.band_upper && !!selected?.band_lower;
    const legend = h(
      'p',
      { class: 'match-legend muted', 'data-testid': 'match-legend' },
      'offset: mean shift of the DTW path in grid points (+ = the candidate is later); max dev: largest |i − j| on that path, within the Sakoe–Chiba band; score: similarity in [0, 1]. ',
      METHOD_HELP,
      ' Click a row to highlight it.',
    );
    const parts: (HTMLElement | null)[] = [
      query,
      table,
      ties ? h('p', { class: 'match-ties', 'data-testid': 'match-ties' }, ties) : null,
      legend,
      host,
      drawBand
        ? h(
            'p',
            { class: 'muted match-band-note', 'data-testid': 'match-band-note' },
            h('span', {
              class: 'band-swatch',
              style: `background: ${withAlpha(seriesColor(selectedIndex), 0.25)}`,
            }),
            ` Shaded: the Sakoe–Chiba band of #${selected?.rank} (±${band} grid points): the range of its values DTW may pair with each query point, so its warped line stays inside.`,
          )
        : null,
    ];
    this.results.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
    const queryVector = (signature.vector as number[] | null | undefined) ?? [];
    const entries = [
      { vector: queryVector, color: queryColor, width: 2.5, label: 'query' },
      ...top.map((m, i) => ({
        vector: (align ? (m.aligned_vector ?? m.candidate_vector) : m.candidate_vector) ?? [],
        color: m === selected ? seriesColor(i) : withAlpha(seriesColor(i), 0.45),
        width: m === selected ? 2.5 : 1.2,
        label: `#${m.rank} ${m.candidate_run_id}`,
      })),
    ].filter((e) => e.vector.length > 0);
    const bandEntries =
      drawBand && selected?.band_upper && selected.band_lower
        ? [
            { vector: selected.band_upper, color: 'transparent', width: 0, label: 'band upper' },
            { vector: selected.band_lower, color: 'transparent', width: 0, label: 'band lower' },
          ]
        : [];
    const all = [...entries, ...bandEntries];
    const data = mergeSeries(all.map((e) => ({ x: vectorPositions(e.vector.length), y: e.vector })));
    const grid = String(signature.grid ?? 'fraction');
    host.dataset.seriesCount = String(entries.length);
    host.dataset.aligned = String(align);
    host.dataset.selectedRank = String(selected?.rank ?? '');
    if (drawBand) host.dataset.band = String(band);
    const upper = entries.length + 1;
    this.chart = new uPlot(
      {
        width: this.chartWidth(),
        height: CHART_HEIGHT,
        legend: { show: false },
        scales: { x: { time: false } },
        axes: [
          {
            label:
              grid === 'log_step'
                ? 'position on the log-step grid (0 = first, 1 = last step)'
                : 'fraction of training',
            size: 40,
            stroke: theme.muted,
            grid: { stroke: theme.grid },
            ticks: { stroke: theme.grid },
          },
          {
            label: 'z-normalised value',
            size: 56,
            stroke: theme.muted,
            grid: { stroke: theme.grid },
            ticks: { stroke: theme.grid },
            values: (_u, splits) => splits.map((v) => formatNumber(v)),
          },
        ],
        series: [
          { label: 'x' },
          ...all.map((e) => ({
            label: e.label,
            stroke: e.color,
            width: e.width,
            spanGaps: true,
            points: { show: false },
          })),
        ],
        bands: drawBand
          ? [{ series: [upper, upper + 1], fill: withAlpha(seriesColor(selectedIndex), 0.18) }]
          : [],
      },
      data as uPlot.AlignedData,
      host,
    );
  }

  private matchRow(m: MatchRow, color: string, selected: boolean, showEvents: boolean): HTMLElement {
    const offset = m.alignment?.query_offset;
    const row = h(
      'tr',
      {
        class: `match-item${selected ? ' selected' : ''}`,
        'data-testid': 'match-item',
        'data-rank': m.rank,
        'data-run': m.candidate_run_id,
        'data-layer': m.candidate_layer ?? '',
        'data-module': m.candidate_module ?? '',
        'data-candidate': m.candidate_signature_id,
        'aria-selected': String(selected),
        tabindex: 0,
        title: m.candidate_signature_id,
      },
      h(
        'td',
        { class: 'match-rank' },
        h('span', { class: 'swatch', style: `background: ${color}` }),
        `#${m.rank}`,
      ),
      h(
        'td',
        { class: 'match-what' },
        h(
          'a',
          { href: `#run/${encodeURIComponent(m.candidate_run_id)}`, 'data-testid': 'match-run-link' },
          m.candidate_run_id,
        ),
      ),
      h(
        'td',
        {},
        `${m.candidate_layer === null ? 'all layers' : `L${m.candidate_layer}`} ${m.candidate_module ?? ''}`,
      ),
      h('td', { class: 'num' }, m.score === null ? '' : formatNumber(m.score)),
      h('td', { class: 'num' }, formatNumber(m.distance)),
      h('td', { class: 'num' }, offset === undefined ? '–' : String(offset)),
      h('td', { class: 'num' }, m.alignment ? String(m.alignment.max_deviation) : '–'),
      showEvents ? h('td', {}, tokensElement(m.candidate_event_tokens)) : null,
    );
    const select = () => {
      this.selectedCandidate = m.candidate_signature_id;
      this.renderMatches();
      this.changed();
      (
        this.results.querySelector(`[data-testid="match-item"][data-rank="${m.rank}"]`) as HTMLElement | null
      )?.focus();
    };
    row.addEventListener('click', (event) => {
      if ((event.target as HTMLElement).closest('a')) return;
      select();
    });
    row.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select();
      }
    });
    return row;
  }
}

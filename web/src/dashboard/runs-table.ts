// The runs/grids table: a column per run field, grid parameter and metric summary, a filter
// (filter-language.ts), click-to-sort headers, checkbox multi-select, a column menu (summaries,
// hide, pin, reorder), CSV export and saved views. Only the rows in view are in the DOM (fixed
// row height, spacer rows above and below), so 10,000 runs scroll and filter without lag.
import { api, type RunRow } from './api.js';
import { columnMenu } from './column-menu.js';
import { cellText, formatExact, h } from './dom.js';
import { type CompiledFilter, compileFilter, FilterError } from './filter-language.js';
import type { RunsTableState } from './panel-state.js';
import { fetchRunSummaries, type RunSummaries } from './run-summaries.js';
import {
  parseSummaryId,
  type RunColumn,
  type RunEntry,
  runColumns,
  runEntries,
  type SummarySpec,
  type SummaryStat,
  sortEntries,
} from './runs-model.js';
import './runs-table.css';
import { toCsv } from './csv.js';
import { deleteView, downloadText, loadViews, saveView } from './table-export.js';

const ROW_HEIGHT = 28;
const OVERSCAN = 12;
const CHECK_WIDTH = 34;

export interface RunsTableOptions {
  /**
   * Called with the selected runs the table shows (in run_id order) whenever that list changes: a
   * selected run hidden by the filter is left out (and comes back when the filter is cleared).
   */
  readonly onSelectionChange: (runIds: string[]) => void;
  /** The colour a selected run is drawn in, for the swatch next to its id. */
  readonly colorOf?: (runId: string) => string | undefined;
  /** Called after the user changes the filter, sort, columns or summaries (not after setState). */
  readonly onStateChange?: (state: RunsTableState) => void;
  /** Called when the user clears the external filter (the brushed chip's ×, or "clear filter"). */
  readonly onExternalFilterCleared?: () => void;
  /** The key saved views are stored under (the lake's id); asked of `/api/lake` when absent. */
  readonly lakeId?: string;
  /** The metric names for summary columns; asked of `/api/metric-names` when absent. */
  readonly metrics?: readonly string[];
  /** Computes summary columns (tests and the benchmark replace it); `/api/query` by default. */
  readonly fetchSummaries?: (specs: readonly SummarySpec[], signal?: AbortSignal) => Promise<RunSummaries>;
}

/** The runs table over one `/api/runs` answer. */
export class RunsTable {
  readonly element: HTMLElement;
  private runs: readonly RunRow[];
  private columns: RunColumn[] = [];
  private entries: RunEntry[] = [];
  private view: RunEntry[] = [];
  private readonly selected = new Set<string>();
  private sort: { column: string; direction: 'asc' | 'desc' } | undefined;
  private filterText = '';
  private compiled: CompiledFilter = { test: () => true, source: '' };
  private external: { ids: ReadonlySet<string>; label: string } | null = null;
  private readonly hidden = new Set<string>();
  /** Column ids seen so far: a new column gets its default visibility once, then the user's. */
  private readonly known = new Set<string>();
  private pinned: string[] = [];
  private order: string[] = [];
  private summaryIds: string[] = [];
  /** Every statistic of every metric fetched so far, by run: adding min after final costs no query. */
  private summaryValues = new Map<string, Record<string, number | null>>();
  private summaryMetrics = new Set<string>();
  private summaryAbort: AbortController | undefined;
  private metricNames: readonly string[] | undefined;
  private menuChoice: { metric?: string; stat: SummaryStat } = { stat: 'final' };
  private lakeId: string | undefined;
  private lastReported = '';
  private lastClicked: string | undefined;
  private renderQueued = false;
  /** Display order: indexes into `columns` of the visible columns, pinned first. */
  private shown: number[] = [];
  private widths: number[] = [];
  private readonly scroller: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly thead: HTMLTableSectionElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly count: HTMLElement;
  private readonly selectAll: HTMLInputElement;
  private readonly filterInput: HTMLInputElement;
  private readonly filterError: HTMLElement;
  private readonly emptyNote: HTMLElement;
  private readonly externalChip: HTMLElement;
  private readonly summaryStatus: HTMLElement;
  private readonly menu: HTMLElement;
  private readonly menuButton: HTMLButtonElement;
  private readonly viewsSelect: HTMLSelectElement;
  private readonly viewName: HTMLElement;
  private deleteViewButton!: HTMLButtonElement;
  private runOrder: Map<string, number>;

  constructor(
    runs: readonly RunRow[],
    private readonly options: RunsTableOptions,
  ) {
    this.runs = runs;
    this.runOrder = new Map(runs.map((r, i) => [r.run_id, i]));
    this.metricNames = options.metrics;
    this.lakeId = options.lakeId;
    this.filterInput = h('input', {
      type: 'search',
      class: 'runs-filter',
      placeholder: 'Filter: text, lr>=0.001 AND NOT status=failed, name ~ /s[12]$/, tag:baseline',
      'aria-label': 'Filter runs',
      'aria-describedby': 'runs-filter-error',
      'data-testid': 'runs-filter',
    });
    let filterTimer: number | undefined;
    this.filterInput.addEventListener('input', () => {
      window.clearTimeout(filterTimer);
      filterTimer = window.setTimeout(() => this.applyFilter(this.filterInput.value, true), 60);
    });
    this.count = h('span', { class: 'runs-count', 'data-testid': 'runs-count' });
    const clear = h(
      'button',
      { type: 'button', class: 'link-button', 'data-testid': 'runs-clear' },
      'Clear selection',
    );
    clear.addEventListener('click', () => this.setSelection([]));
    this.selectAll = h('input', {
      type: 'checkbox',
      'aria-label': 'Select all visible runs',
      title: 'Select all runs that pass the filter',
      'data-testid': 'runs-select-all',
    });
    this.selectAll.addEventListener('change', () => this.toggleAllVisible(this.selectAll.checked));

    this.menuButton = h(
      'button',
      {
        type: 'button',
        'aria-expanded': 'false',
        'aria-haspopup': 'true',
        'data-testid': 'runs-columns-button',
      },
      '+ column',
    );
    this.menu = h('div', {
      class: 'column-menu',
      hidden: true,
      role: 'dialog',
      'aria-label': 'Columns',
      'data-testid': 'column-menu',
    });
    this.menuButton.addEventListener('click', () => this.toggleMenu());
    document.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || this.menu.hidden) return;
      const inside = this.menu.contains(document.activeElement);
      this.toggleMenu(false);
      if (inside || document.activeElement === document.body) this.menuButton.focus();
    });
    const csv = h(
      'button',
      { type: 'button', 'data-testid': 'runs-csv', title: 'Download the table as shown (CSV)' },
      'CSV',
    );
    csv.addEventListener('click', () => downloadText('runs.csv', this.toCsv()));
    this.viewsSelect = h('select', { 'aria-label': 'Saved views', 'data-testid': 'runs-views' });
    this.viewsSelect.addEventListener('change', () => {
      this.deleteViewButton.disabled = this.viewsSelect.value === '';
      this.pickView(this.viewsSelect.value);
    });
    const saveButton = h('button', { type: 'button', 'data-testid': 'runs-view-save' }, 'Save view');
    this.viewName = h('span', { class: 'view-name', hidden: true });
    saveButton.addEventListener('click', () => this.askViewName());
    const deleteButton = h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        title: 'Delete the chosen view',
        'aria-label': 'Delete the chosen view',
        'data-testid': 'runs-view-delete',
      },
      'Delete view',
    );
    this.deleteViewButton = deleteButton;
    deleteButton.disabled = true;
    deleteButton.addEventListener('click', () => {
      const name = this.viewsSelect.value;
      if (name && this.lakeId) deleteView(this.lakeId, name);
      this.renderViews();
    });

    this.filterError = h('div', {
      class: 'runs-filter-error',
      id: 'runs-filter-error',
      role: 'alert',
      hidden: true,
      'data-testid': 'runs-filter-error',
    });
    this.externalChip = h('div', {
      class: 'runs-external',
      hidden: true,
      'data-testid': 'runs-external-filter',
    });
    this.emptyNote = h('div', {
      class: 'runs-empty',
      hidden: true,
      role: 'status',
      'data-testid': 'runs-empty',
    });
    this.summaryStatus = h('div', {
      class: 'runs-summary-status muted',
      hidden: true,
      'data-testid': 'runs-summary-status',
    });

    this.thead = h('thead');
    this.tbody = h('tbody');
    this.table = h(
      'table',
      { class: 'runs-table', 'data-testid': 'runs-table' },
      h('colgroup'),
      this.thead,
      this.tbody,
    );
    this.scroller = h('div', { class: 'runs-scroll' }, this.table);
    this.scroller.addEventListener('scroll', () => this.queueRender(), { passive: true });
    this.tbody.addEventListener('click', (event) => this.onRowClick(event as MouseEvent));
    this.element = h(
      'div',
      { class: 'runs-panel' },
      h(
        'div',
        { class: 'toolbar' },
        this.filterInput,
        this.count,
        clear,
        h('span', { class: 'toolbar-spacer' }),
        h('span', { class: 'column-menu-host' }, this.menuButton, this.menu),
        csv,
        this.viewsSelect,
        deleteButton,
        saveButton,
        this.viewName,
      ),
      this.filterError,
      this.externalChip,
      this.summaryStatus,
      this.emptyNote,
      this.scroller,
    );
    document.addEventListener('mousedown', (event) => {
      if (!this.menu.hidden && !(event.target as Element).closest?.('.column-menu-host'))
        this.toggleMenu(false);
    });
    this.rebuild();
    this.renderViews();
    if (!this.lakeId) {
      void api
        .lake()
        .then((lake) => {
          const withId = lake as { id?: string; name?: string };
          this.lakeId = withId.id ?? `${window.location.host}${window.location.pathname}`;
          this.renderViews();
        })
        .catch(() => {
          this.lakeId = `${window.location.host}${window.location.pathname}`;
          this.renderViews();
        });
    }
  }

  /** All selected run ids, in run_id order (those the filter hides included). */
  selection(): string[] {
    return [...this.selected].sort((a, b) => (this.runOrder.get(a) ?? 0) - (this.runOrder.get(b) ?? 0));
  }

  /** The selected runs the table shows (what `onSelectionChange` reports), in run_id order. */
  visibleSelection(): string[] {
    const passing = new Set(this.view.map((e) => e.run.run_id));
    return this.selection().filter((id) => passing.has(id));
  }

  /** Replaces the selection (unknown ids are ignored). */
  setSelection(runIds: readonly string[]): void {
    this.selected.clear();
    for (const id of runIds) if (this.runOrder.has(id)) this.selected.add(id);
    this.selectionChanged(true);
  }

  /**
   * Replaces the rows (the live refresh: new runs, a status that changed), keeping the selection,
   * the filter, the sort and the columns.
   */
  setRuns(runs: readonly RunRow[]): void {
    this.runs = runs;
    this.runOrder = new Map(runs.map((r, i) => [r.run_id, i]));
    for (const id of [...this.selected]) if (!this.runOrder.has(id)) this.selected.delete(id);
    this.rebuild();
    // New runs or points: every summary is fetched again (the old values stay until then).
    this.summaryMetrics.clear();
    if (this.summaryIds.length > 0) void this.loadSummaries(true);
  }

  /** Re-renders the visible rows (e.g. after the colours of selected runs changed). */
  refresh(): void {
    this.queueRender();
  }

  /** Sets the filter text (as if typed); a filter with an error keeps the last good one. */
  setFilter(filter: string): void {
    this.filterInput.value = filter;
    this.applyFilter(filter, false);
  }

  /**
   * Shows only the runs in `ids` (on top of the filter), with a chip "brushed: <label> ×" that
   * clears it; null clears it. Parallel-coordinates brushing calls it.
   *
   * @example
   * ```ts
   * table.setExternalFilter(new Set(['r1', 'r2']), 'lr 1e-4…3e-4');
   * ```
   */
  setExternalFilter(ids: ReadonlySet<string> | null, label = 'selection'): void {
    this.external = ids ? { ids, label } : null;
    this.externalChip.hidden = !ids;
    if (ids) {
      const close = h(
        'button',
        {
          type: 'button',
          class: 'icon-button',
          'aria-label': 'Clear the brushed selection',
          'data-testid': 'runs-external-clear',
        },
        '×',
      );
      close.addEventListener('click', () => this.clearExternalFilter());
      this.externalChip.replaceChildren(
        h('span', { class: 'chip' }, `brushed: ${label} (${ids.size} runs) `, close),
      );
    } else this.externalChip.replaceChildren();
    this.applyView();
  }

  /** The user cleared the external filter: drop it and tell whoever set it. */
  private clearExternalFilter(): void {
    if (!this.external) return;
    this.setExternalFilter(null);
    this.options.onExternalFilterCleared?.();
  }

  /**
   * The table's serialisable state (panel-state.ts): the last good filter, sort, hidden, pinned
   * and ordered columns, and the summary columns.
   *
   * @example
   * ```ts
   * const saved = table.getState(); // { filter: 'lr>=0.001', summaryColumns: ['final:loss'], … }
   * ```
   */
  getState(): RunsTableState {
    return {
      filter: this.filterText,
      ...(this.sort ? { sort: { ...this.sort } } : {}),
      hiddenColumns: this.columns.filter((c) => this.hidden.has(c.id)).map((c) => c.id),
      pinnedColumns: [...this.pinned],
      columnOrder: [...this.order],
      summaryColumns: [...this.summaryIds],
    };
  }

  /**
   * Applies part of a state (a shared link, a saved view); fields left out keep their value.
   * Does not call `onStateChange`.
   *
   * @example
   * ```ts
   * table.setState({ filter: 'seed>=2', summaryColumns: ['min:loss'], sort: { column: 'min:loss', direction: 'asc' } });
   * ```
   */
  setState(partial: Partial<RunsTableState>): void {
    if (partial.sort !== undefined) this.sort = partial.sort ? { ...partial.sort } : undefined;
    if (partial.pinnedColumns) this.pinned = [...partial.pinnedColumns];
    if (partial.columnOrder) this.order = [...partial.columnOrder];
    let summariesChanged = false;
    if (partial.summaryColumns) {
      const ids = partial.summaryColumns.filter((id) => parseSummaryId(id));
      summariesChanged = ids.join('\n') !== this.summaryIds.join('\n');
      this.summaryIds = ids;
    }
    if (partial.hiddenColumns) {
      this.hidden.clear();
      for (const id of partial.hiddenColumns) this.hidden.add(id);
      // Columns the state names are no longer "new": the defaults do not overrule it.
      for (const c of this.columns) this.known.add(c.id);
      for (const id of partial.hiddenColumns) this.known.add(id);
    }
    if (partial.filter !== undefined) this.filterInput.value = partial.filter;
    if (summariesChanged) {
      this.rebuild();
      void this.loadSummaries();
      return;
    }
    // Only what changed is redone: a sort of 10,000 runs does not recompute their cells.
    if (partial.hiddenColumns || partial.pinnedColumns || partial.columnOrder) this.layoutColumns();
    if (partial.filter !== undefined) this.applyFilter(partial.filter, false);
    else this.applyView();
  }

  private emitState(): void {
    this.options.onStateChange?.(this.getState());
  }

  /** Columns and entries from the runs and summaries; re-applies the filter text. */
  private rebuild(): void {
    const specs = this.summaryIds.map(parseSummaryId).filter((s): s is SummarySpec => s !== undefined);
    this.columns = runColumns(this.runs, specs);
    for (const c of this.columns) {
      if (this.known.has(c.id)) continue;
      this.known.add(c.id);
      if (c.defaultHidden) this.hidden.add(c.id);
    }
    this.entries = runEntries(this.runs, this.columns, this.summaryValues);
    this.layoutColumns();
    // The filter may name a column that exists only now (a summary just added).
    this.applyFilter(this.filterInput.value, false, false);
  }

  /** The display order of every column (hidden ones included): pinned first, then `order`. */
  private orderedColumns(): RunColumn[] {
    const natural = [...this.columns];
    const rank = new Map(this.order.map((id, i) => [id, i]));
    // Columns named in `order` take the slots those columns occupy, in `order`'s order; the rest
    // keep their place.
    const slots = natural.map((c, i) => (rank.has(c.id) ? i : -1)).filter((i) => i >= 0);
    const placed = slots
      .map((i) => natural[i] as RunColumn)
      .sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));
    slots.forEach((slot, k) => {
      natural[slot] = placed[k] as RunColumn;
    });
    const pinned = this.pinned
      .map((id) => natural.find((c) => c.id === id))
      .filter((c): c is RunColumn => c !== undefined);
    return [...pinned, ...natural.filter((c) => !this.pinned.includes(c.id))];
  }

  private layoutColumns(): void {
    const index = new Map(this.columns.map((c, i) => [c.id, i]));
    this.shown = this.orderedColumns()
      .filter((c) => !this.hidden.has(c.id))
      .map((c) => index.get(c.id) as number);
    // Widths from the header and the first rows' text: table-layout fixed keeps them stable while
    // rows scroll in and out.
    const sample = this.entries.slice(0, 300);
    this.widths = this.shown.map((i) => {
      const column = this.columns[i] as RunColumn;
      let chars = column.label.length + (column.source === 'param' ? 8 : 3);
      for (const entry of sample) chars = Math.max(chars, (entry.texts[i] ?? '').length);
      // run_id also holds the colour swatch of a selected run.
      const extra = column.id === 'run_id' ? 16 : 0;
      return Math.min(280 + extra, Math.max(56, Math.round(chars * 7.2 + 18) + extra));
    });
    const group = h('colgroup', {}, h('col', { style: `width: ${CHECK_WIDTH}px` }));
    for (const w of this.widths) group.appendChild(h('col', { style: `width: ${w}px` }));
    this.table.querySelector('colgroup')?.replaceWith(group);
    this.table.style.width = `${CHECK_WIDTH + this.widths.reduce((a, b) => a + b, 0)}px`;
    this.renderHeader();
    if (!this.menu.hidden) this.renderMenu();
  }

  /** The sticky left offset of the k-th shown column when it is pinned. */
  private pinnedLeft(k: number): number | undefined {
    const column = this.columns[this.shown[k] as number];
    if (!column || !this.pinned.includes(column.id)) return undefined;
    let left = CHECK_WIDTH;
    for (let j = 0; j < k; j++) left += this.widths[j] ?? 0;
    return left;
  }

  private renderHeader(): void {
    const row = h('tr', {}, h('th', { class: 'check' }, this.selectAll));
    this.shown.forEach((i, k) => {
      const column = this.columns[i] as RunColumn;
      const sorted = this.sort?.column === column.id ? this.sort.direction : undefined;
      const left = this.pinnedLeft(k);
      const th = h(
        'th',
        {
          class: `sortable ${column.source}${left !== undefined ? ' pinned' : ''}`,
          style: left !== undefined ? `left: ${left}px` : null,
          tabindex: 0,
          title:
            column.source === 'param'
              ? `parameter ${column.key} (filter: ${column.key}=…); click or Enter to sort, Alt+←/→ to move`
              : `${column.key}; click or Enter to sort, Alt+←/→ to move`,
          'aria-sort': sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none',
          'data-testid': 'runs-header',
          'data-column': column.id,
        },
        column.source === 'param' ? h('span', { class: 'param-badge' }, 'param') : null,
        column.label,
        h('span', { class: 'sort-arrow' }, sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''),
      );
      th.addEventListener('click', () => this.toggleSort(column.id));
      // Drag a header onto another to put it there (the menu's ← → and Alt+←/→ do the same).
      th.draggable = true;
      th.addEventListener('dragstart', (event) => {
        event.dataTransfer?.setData('application/x-runlake-column', column.id);
        if (event.dataTransfer) event.dataTransfer.effectAllowed = 'move';
      });
      th.addEventListener('dragover', (event) => {
        if (event.dataTransfer?.types.includes('application/x-runlake-column')) {
          event.preventDefault();
          th.classList.add('drop-target');
        }
      });
      th.addEventListener('dragleave', () => th.classList.remove('drop-target'));
      th.addEventListener('drop', (event) => {
        event.preventDefault();
        th.classList.remove('drop-target');
        const from = event.dataTransfer?.getData('application/x-runlake-column');
        if (from && from !== column.id) this.placeColumn(from, column.id);
      });
      th.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.toggleSort(column.id);
        } else if (event.altKey && (event.key === 'ArrowLeft' || event.key === 'ArrowRight')) {
          event.preventDefault();
          this.moveColumn(column.id, event.key === 'ArrowLeft' ? -1 : 1);
          this.thead.querySelector<HTMLElement>(`th[data-column="${CSS.escape(column.id)}"]`)?.focus();
        }
      });
      row.appendChild(th);
    });
    this.thead.replaceChildren(row);
  }

  private toggleSort(id: string): void {
    this.sort =
      this.sort?.column === id
        ? { column: id, direction: this.sort.direction === 'asc' ? 'desc' : 'asc' }
        : { column: id, direction: 'asc' };
    this.renderHeader();
    this.applyView();
    this.emitState();
  }

  /** Compiles `text`; on an error shows it under the box and keeps the last good filter. */
  private applyFilter(text: string, fromUser: boolean, emit = fromUser): void {
    try {
      this.compiled = compileFilter(text, this.columns);
      this.filterText = this.compiled.source;
      this.filterError.hidden = true;
      this.filterError.textContent = '';
      this.filterInput.removeAttribute('aria-invalid');
    } catch (error) {
      if (!(error instanceof FilterError)) throw error;
      this.filterError.hidden = false;
      this.filterError.textContent = `Filter not applied: ${error.term}: ${error.reason}${
        this.filterText ? ` (still showing ${this.filterText})` : ''
      }`;
      this.filterInput.setAttribute('aria-invalid', 'true');
      // The previous compiled filter stays, but it must index the current columns.
      try {
        this.compiled = compileFilter(this.filterText, this.columns);
      } catch {
        this.compiled = { test: () => true, source: '' };
        this.filterText = '';
      }
      this.applyView();
      return;
    }
    this.applyView();
    if (emit) this.emitState();
  }

  private applyView(): void {
    const external = this.external?.ids;
    this.view = this.entries.filter(
      (e) => (!external || external.has(e.run.run_id)) && this.compiled.test(e),
    );
    const sortIndex = this.sort ? this.columns.findIndex((c) => c.id === this.sort?.column) : -1;
    if (this.sort && sortIndex >= 0) sortEntries(this.view, sortIndex, this.sort.direction);
    this.table.dataset.rowCount = String(this.view.length);
    this.table.dataset.filter = this.filterText;
    this.updateCount();
    this.updateEmptyNote();
    this.render();
    this.reportSelection();
  }

  private updateEmptyNote(): void {
    if (this.view.length > 0 || this.entries.length === 0) {
      this.emptyNote.hidden = true;
      this.emptyNote.replaceChildren();
      return;
    }
    const what = [this.filterText, this.external ? `brushed: ${this.external.label}` : '']
      .filter(Boolean)
      .join(' and ');
    const clear = h('button', { type: 'button', 'data-testid': 'runs-empty-clear' }, 'clear filter');
    clear.addEventListener('click', () => {
      this.clearExternalFilter();
      this.filterInput.value = '';
      this.applyFilter('', true);
      this.filterInput.focus();
    });
    this.emptyNote.replaceChildren(
      h(
        'span',
        {},
        `0 of ${this.entries.length} runs — no run matches `,
        h('code', {}, what || 'the filter'),
      ),
      ' ',
      clear,
    );
    this.emptyNote.hidden = false;
  }

  private updateCount(): void {
    const total = this.entries.length;
    const shown = this.view.length;
    const visibleSelected = this.view.reduce((n, e) => n + (this.selected.has(e.run.run_id) ? 1 : 0), 0);
    const hiddenSelected = this.selected.size - visibleSelected;
    this.count.textContent = `${shown === total ? `${total}` : `${shown} of ${total}`} runs · ${this.selected.size} selected${
      hiddenSelected > 0 ? ` (${hiddenSelected} hidden by the filter)` : ''
    }`;
    this.selectAll.checked = shown > 0 && visibleSelected === shown;
    this.selectAll.indeterminate = visibleSelected > 0 && visibleSelected < shown;
  }

  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private render(): void {
    const height = this.scroller.clientHeight || 400;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(
      this.view.length,
      Math.ceil((this.scroller.scrollTop + height) / ROW_HEIGHT) + OVERSCAN,
    );
    const rows: HTMLTableRowElement[] = [];
    const span = this.shown.length + 1;
    if (first > 0)
      rows.push(
        h('tr', { class: 'spacer', style: `height: ${first * ROW_HEIGHT}px` }, h('td', { colspan: span })),
      );
    for (let i = first; i < last; i++) {
      const entry = this.view[i];
      if (entry) rows.push(this.row(entry));
    }
    const below = this.view.length - last;
    if (below > 0)
      rows.push(
        h('tr', { class: 'spacer', style: `height: ${below * ROW_HEIGHT}px` }, h('td', { colspan: span })),
      );
    this.tbody.replaceChildren(...rows);
  }

  private row(entry: RunEntry): HTMLTableRowElement {
    const id = entry.run.run_id;
    const checked = this.selected.has(id);
    const box = h('input', { type: 'checkbox', 'aria-label': `Select ${id}`, 'data-testid': 'run-checkbox' });
    box.checked = checked;
    const tr = h('tr', {
      class: checked ? 'selected' : '',
      style: `height: ${ROW_HEIGHT}px`,
      'data-testid': 'runs-row',
      'data-run-id': id,
    });
    tr.appendChild(h('td', { class: 'check' }, box));
    const color = checked ? this.options.colorOf?.(id) : undefined;
    this.shown.forEach((i, k) => {
      const column = this.columns[i] as RunColumn;
      const text = entry.texts[i] ?? '';
      const left = this.pinnedLeft(k);
      const td = h('td', {
        title: text.length > 24 ? text : null,
        class:
          `${typeof entry.values[i] === 'number' ? 'num' : ''}${left !== undefined ? ' pinned' : ''}`.trim() ||
          null,
        style: left !== undefined ? `left: ${left}px` : null,
      });
      if (column.id === 'run_id') {
        if (color) td.appendChild(h('span', { class: 'swatch', style: `background: ${color}` }));
        td.appendChild(
          h(
            'a',
            {
              href: `#run/${encodeURIComponent(id)}`,
              class: 'run-link',
              title: `Open run ${id}`,
              'data-testid': 'run-link',
            },
            text,
          ),
        );
      } else td.append(text);
      tr.appendChild(td);
    });
    return tr;
  }

  private onRowClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    // The run_id link opens the run page; it does not toggle the selection.
    if (target.closest('a')) return;
    const tr = target.closest('tr');
    const id = tr?.dataset.runId;
    if (!id) return;
    // Shift-click selects the range from the last clicked row, as in a file manager.
    if (event.shiftKey && this.lastClicked) {
      const a = this.view.findIndex((e) => e.run.run_id === this.lastClicked);
      const b = this.view.findIndex((e) => e.run.run_id === id);
      if (a >= 0 && b >= 0) {
        for (let i = Math.min(a, b); i <= Math.max(a, b); i++) {
          const e = this.view[i];
          if (e) this.selected.add(e.run.run_id);
        }
        this.lastClicked = id;
        this.selectionChanged(true);
        return;
      }
    }
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.lastClicked = id;
    this.selectionChanged(true);
  }

  private toggleAllVisible(on: boolean): void {
    for (const entry of this.view) {
      if (on) this.selected.add(entry.run.run_id);
      else this.selected.delete(entry.run.run_id);
    }
    this.selectionChanged(true);
  }

  private selectionChanged(force: boolean): void {
    this.updateCount();
    this.reportSelection(force);
    this.render();
  }

  /** Tells the owner the visible selection when it changed (or always, when `force`). */
  private reportSelection(force = false): void {
    const ids = this.visibleSelection();
    const key = ids.join('\n');
    if (!force && key === this.lastReported) return;
    this.lastReported = key;
    this.options.onSelectionChange(ids);
  }

  // --- columns: the menu, hide, pin, move, summaries ---

  private toggleMenu(open = this.menu.hidden): void {
    this.menu.hidden = !open;
    this.menuButton.setAttribute('aria-expanded', String(open));
    if (open) {
      // Open towards the side with room (the button wraps to the left on a narrow page).
      const left = this.menuButton.getBoundingClientRect().left;
      const toRight = left + 430 <= window.innerWidth;
      this.menu.style.left = toRight ? '0' : 'auto';
      this.menu.style.right = toRight ? 'auto' : '0';
      this.renderMenu();
      if (this.metricNames === undefined) {
        void api
          .metricNames()
          .then((m) => {
            this.metricNames = m.metrics.map((x) => x.metric_name);
          })
          .catch(() => {
            this.metricNames = [];
          })
          .then(() => {
            if (!this.menu.hidden) this.renderMenu();
          });
      }
      this.menu.querySelector<HTMLElement>('select, button')?.focus();
    }
  }

  private renderMenu(): void {
    const focused = document.activeElement as HTMLElement | null;
    const focusKey =
      focused && this.menu.contains(focused)
        ? [focused.closest('li')?.dataset.column, focused.dataset.testid]
        : undefined;
    this.menu.replaceChildren(
      columnMenu({
        columns: this.orderedColumns(),
        hidden: this.hidden,
        pinned: new Set(this.pinned),
        metrics: this.metricNames,
        choice: this.menuChoice,
        onChoice: (choice) => {
          this.menuChoice = choice;
        },
        onAddSummary: (stat, metric) => this.addSummary(`${stat}:${metric}`),
        onRemoveSummary: (id) => {
          this.summaryIds = this.summaryIds.filter((s) => s !== id);
          this.rebuild();
          this.emitState();
        },
        onToggleHidden: (id, hide) => {
          if (hide) this.hidden.add(id);
          else this.hidden.delete(id);
          this.layoutColumns();
          this.render();
          this.emitState();
        },
        onTogglePinned: (id) => {
          this.pinned = this.pinned.includes(id) ? this.pinned.filter((p) => p !== id) : [...this.pinned, id];
          this.layoutColumns();
          this.render();
          this.emitState();
        },
        onMove: (id, by) => this.moveColumn(id, by),
      }),
    );
    // Keep the keyboard where it was (the menu is rebuilt after each change).
    if (focusKey) {
      const [column, testid] = focusKey;
      const item = column ? this.menu.querySelector(`li[data-column="${CSS.escape(column)}"]`) : this.menu;
      item?.querySelector<HTMLElement>(`[data-testid="${testid}"]`)?.focus();
    }
  }

  /** Puts column `id` where column `target` is (a header dropped on another). */
  private placeColumn(id: string, target: string): void {
    const pinned = this.pinned.includes(target);
    // Dropped among the pinned it is pinned; among the others it is not.
    const pins = this.pinned.filter((p) => p !== id);
    const ids = this.orderedColumns()
      .map((c) => c.id)
      .filter((c) => !this.pinned.includes(c) && c !== id);
    if (pinned) {
      pins.splice(pins.indexOf(target), 0, id);
    } else {
      const from = this.orderedColumns().findIndex((c) => c.id === id);
      const to = this.orderedColumns().findIndex((c) => c.id === target);
      ids.splice(ids.indexOf(target) + (from < to ? 1 : 0), 0, id);
      this.order = ids;
    }
    this.pinned = pins;
    this.layoutColumns();
    this.render();
    this.emitState();
  }

  /** Moves a column one place left or right among the columns (pinned ones among the pinned). */
  private moveColumn(id: string, by: -1 | 1): void {
    if (this.pinned.includes(id)) {
      const i = this.pinned.indexOf(id);
      const j = i + by;
      if (j >= 0 && j < this.pinned.length) {
        const next = [...this.pinned];
        [next[i], next[j]] = [next[j] as string, next[i] as string];
        this.pinned = next;
      }
    } else {
      const ids = this.orderedColumns()
        .map((c) => c.id)
        .filter((c) => !this.pinned.includes(c));
      // Skip hidden neighbours: a move is one visible place.
      const i = ids.indexOf(id);
      let j = i + by;
      while (j >= 0 && j < ids.length && this.hidden.has(ids[j] as string)) j += by;
      if (i >= 0 && j >= 0 && j < ids.length) {
        ids.splice(i, 1);
        ids.splice(j, 0, id);
        this.order = ids;
      }
    }
    this.layoutColumns();
    this.render();
    this.emitState();
  }

  private addSummary(id: string): void {
    if (!this.summaryIds.includes(id)) this.summaryIds = [...this.summaryIds, id];
    this.hidden.delete(id);
    this.rebuild();
    this.emitState();
    void this.loadSummaries();
  }

  /**
   * Fetches the summary columns' metrics not fetched yet (all of them when `refetch`) in one query,
   * all three statistics of each, and rebuilds the entries.
   */
  private async loadSummaries(refetch = false): Promise<void> {
    const metrics = [
      ...new Set(
        this.summaryIds.map((id) => parseSummaryId(id)?.metric).filter((m): m is string => m !== undefined),
      ),
    ].filter((m) => refetch || !this.summaryMetrics.has(m));
    if (metrics.length === 0) {
      this.table.dataset.summaries = 'ready';
      return;
    }
    this.summaryAbort?.abort();
    const abort = new AbortController();
    this.summaryAbort = abort;
    const specs = metrics.flatMap((metric) =>
      (['final', 'min', 'max'] as const).map((stat): SummarySpec => ({ stat, metric })),
    );
    this.summaryStatus.hidden = false;
    this.summaryStatus.textContent = `computing the summaries of ${metrics.join(', ')}…`;
    this.table.dataset.summaries = 'loading';
    const started = performance.now();
    try {
      const fetch = this.options.fetchSummaries ?? fetchRunSummaries;
      const answer = await fetch(specs, abort.signal);
      if (abort.signal.aborted) return;
      if (refetch) this.summaryValues = new Map();
      for (const [runId, cells] of answer.values) {
        this.summaryValues.set(runId, { ...(this.summaryValues.get(runId) ?? {}), ...cells });
      }
      for (const m of metrics) this.summaryMetrics.add(m);
      this.rebuild();
      const ms = Math.round(performance.now() - started);
      this.table.dataset.summaries = 'ready';
      this.table.dataset.summaryMs = String(ms);
      this.summaryStatus.hidden = !answer.truncated;
      this.summaryStatus.textContent = answer.truncated
        ? 'summary columns truncated: the server’s --max-rows cut the answer short; some runs show no value'
        : '';
    } catch (error) {
      if (abort.signal.aborted) return;
      this.table.dataset.summaries = 'error';
      this.summaryStatus.hidden = false;
      this.summaryStatus.textContent = `summary columns could not be computed: ${(error as Error).message}`;
    }
  }

  // --- CSV and saved views ---

  /**
   * The table as shown, as CSV: the visible columns in display order, the rows that pass the
   * filter in sort order; numbers without float noise, at full precision.
   */
  toCsv(): string {
    const header = this.shown.map((i) => this.columns[i]?.id ?? '');
    const rows = this.view.map((entry) =>
      this.shown.map((i) => {
        const v = entry.values[i];
        return typeof v === 'number' ? formatExact(v) : cellText(v);
      }),
    );
    return toCsv([header, ...rows]);
  }

  private renderViews(): void {
    const views = this.lakeId ? loadViews(this.lakeId) : [];
    this.viewsSelect.replaceChildren(
      h('option', { value: '' }, views.length > 0 ? 'Saved views…' : 'No saved views'),
      ...views.map((v) => h('option', { value: v.name }, v.name)),
    );
    if (this.deleteViewButton) this.deleteViewButton.disabled = true;
  }

  private pickView(name: string): void {
    if (!name || !this.lakeId) return;
    const view = loadViews(this.lakeId).find((v) => v.name === name);
    if (!view) return;
    this.setState(view.state);
    this.emitState();
  }

  private askViewName(): void {
    const input = h('input', {
      type: 'text',
      placeholder: 'view name',
      'aria-label': 'Name of the view',
      'data-testid': 'runs-view-name',
    });
    const ok = h('button', { type: 'button', 'data-testid': 'runs-view-confirm' }, 'Save');
    const done = () => {
      const name = input.value.trim();
      if (name && this.lakeId) {
        saveView(this.lakeId, name, this.getState());
        this.renderViews();
        this.viewsSelect.value = name;
        this.deleteViewButton.disabled = false;
      }
      this.viewName.hidden = true;
      this.viewName.replaceChildren();
    };
    ok.addEventListener('click', done);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') done();
      if (event.key === 'Escape') {
        this.viewName.hidden = true;
        this.viewName.replaceChildren();
      }
    });
    this.viewName.replaceChildren(input, ok);
    this.viewName.hidden = false;
    input.focus();
  }
}

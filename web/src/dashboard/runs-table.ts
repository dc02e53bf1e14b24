// The runs/grids table: a column per run field and grid parameter, a text filter, click-to-sort
// headers and checkbox multi-select. Only the rows in view are in the DOM (fixed row height,
// spacer rows above and below), so 1000+ runs scroll and filter without lag.
import type { RunRow } from './api.js';
import { h } from './dom.js';
import {
  filterEntries,
  type RunColumn,
  type RunEntry,
  runColumns,
  runEntries,
  sortEntries,
} from './runs-model.js';

const ROW_HEIGHT = 28;
const OVERSCAN = 12;

export interface RunsTableOptions {
  /** Called with the selected run ids (in run_id order) whenever the selection changes. */
  readonly onSelectionChange: (runIds: string[]) => void;
  /** The colour a selected run is drawn in, for the swatch next to its id. */
  readonly colorOf?: (runId: string) => string | undefined;
}

/** The runs table over one `/api/runs` answer. */
export class RunsTable {
  readonly element: HTMLElement;
  private columns: RunColumn[];
  private entries: RunEntry[];
  private view: RunEntry[] = [];
  private readonly selected = new Set<string>();
  private sort: { index: number; direction: 'asc' | 'desc' } | undefined;
  private filter = '';
  private lastClicked: string | undefined;
  private renderQueued = false;
  private readonly scroller: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly thead: HTMLTableSectionElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly count: HTMLElement;
  private readonly selectAll: HTMLInputElement;
  private runOrder: Map<string, number>;

  constructor(
    runs: readonly RunRow[],
    private readonly options: RunsTableOptions,
  ) {
    this.columns = runColumns(runs);
    this.entries = runEntries(runs, this.columns);
    this.runOrder = new Map(runs.map((r, i) => [r.run_id, i]));
    const filterInput = h('input', {
      type: 'search',
      class: 'runs-filter',
      placeholder: 'Filter runs: text, or key=value (lr=0.001 seed>2 status!=failed)',
      'aria-label': 'Filter runs',
      'data-testid': 'runs-filter',
    });
    let filterTimer: number | undefined;
    filterInput.addEventListener('input', () => {
      window.clearTimeout(filterTimer);
      filterTimer = window.setTimeout(() => this.setFilter(filterInput.value), 60);
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

    this.thead = h('thead');
    this.tbody = h('tbody');
    this.table = h(
      'table',
      { class: 'runs-table', 'data-testid': 'runs-table' },
      this.colgroup(),
      this.thead,
      this.tbody,
    );
    this.scroller = h('div', { class: 'runs-scroll' }, this.table);
    this.scroller.addEventListener('scroll', () => this.queueRender(), { passive: true });
    this.tbody.addEventListener('click', (event) => this.onRowClick(event as MouseEvent));
    this.element = h(
      'div',
      { class: 'runs-panel' },
      h('div', { class: 'toolbar' }, filterInput, this.count, clear),
      this.scroller,
    );
    this.renderHeader();
    this.applyView();
  }

  /** The selected run ids, in run_id order. */
  selection(): string[] {
    return [...this.selected].sort((a, b) => (this.runOrder.get(a) ?? 0) - (this.runOrder.get(b) ?? 0));
  }

  /** Replaces the selection (unknown ids are ignored). */
  setSelection(runIds: readonly string[]): void {
    this.selected.clear();
    for (const id of runIds) if (this.runOrder.has(id)) this.selected.add(id);
    this.selectionChanged();
  }

  /**
   * Replaces the rows (the live refresh: new runs, a status that changed), keeping the selection,
   * the filter and the sort.
   */
  setRuns(runs: readonly RunRow[]): void {
    this.columns = runColumns(runs);
    this.entries = runEntries(runs, this.columns);
    this.runOrder = new Map(runs.map((r, i) => [r.run_id, i]));
    for (const id of [...this.selected]) if (!this.runOrder.has(id)) this.selected.delete(id);
    this.table.querySelector('colgroup')?.replaceWith(this.colgroup());
    this.renderHeader();
    this.applyView();
  }

  /** Re-renders the visible rows (e.g. after the colours of selected runs changed). */
  refresh(): void {
    this.queueRender();
  }

  setFilter(filter: string): void {
    this.filter = filter;
    this.applyView();
  }

  private colgroup(): HTMLTableColElement {
    const group = h('colgroup', {}, h('col', { style: 'width: 34px' }));
    // Widths from the header and the first rows' text: table-layout fixed keeps them stable while
    // rows scroll in and out.
    const sample = this.entries.slice(0, 300);
    this.columns.forEach((column, i) => {
      let chars = column.label.length + 2;
      for (const entry of sample) chars = Math.max(chars, (entry.texts[i] ?? '').length);
      const width = Math.min(280, Math.max(56, Math.round(chars * 7.2 + 18)));
      group.appendChild(h('col', { style: `width: ${width}px` }));
    });
    return group as unknown as HTMLTableColElement;
  }

  private renderHeader(): void {
    const row = h('tr', {}, h('th', { class: 'check' }, this.selectAll));
    this.columns.forEach((column, i) => {
      const sorted = this.sort?.index === i ? this.sort.direction : undefined;
      const th = h(
        'th',
        {
          class: `sortable ${column.source === 'param' ? 'param' : ''}`,
          title:
            column.source === 'param'
              ? `grid parameter ${column.key} (filter: ${column.key}=…); click to sort`
              : `${column.key}; click to sort`,
          'aria-sort': sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none',
          'data-testid': 'runs-header',
          'data-column': column.id,
        },
        column.source === 'param' ? h('span', { class: 'param-badge' }, 'param') : null,
        column.label,
        h('span', { class: 'sort-arrow' }, sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''),
      );
      th.addEventListener('click', () => this.toggleSort(i));
      row.appendChild(th);
    });
    this.thead.replaceChildren(row);
  }

  private toggleSort(index: number): void {
    this.sort =
      this.sort?.index === index
        ? { index, direction: this.sort.direction === 'asc' ? 'desc' : 'asc' }
        : { index, direction: 'asc' };
    this.renderHeader();
    this.applyView();
  }

  private applyView(): void {
    this.view = filterEntries(this.entries, this.columns, this.filter);
    if (this.sort) sortEntries(this.view, this.sort.index, this.sort.direction);
    this.table.dataset.rowCount = String(this.view.length);
    this.updateCount();
    this.render();
  }

  private updateCount(): void {
    const total = this.entries.length;
    const shown = this.view.length;
    this.count.textContent = `${shown === total ? `${total}` : `${shown} of ${total}`} runs · ${this.selected.size} selected`;
    const visibleSelected = this.view.reduce((n, e) => n + (this.selected.has(e.run.run_id) ? 1 : 0), 0);
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
    const span = this.columns.length + 1;
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
    if (this.view.length === 0) {
      rows.push(h('tr', {}, h('td', { colspan: span, class: 'no-match' }, 'No run matches the filter.')));
    }
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
    entry.texts.forEach((text, i) => {
      const td = h('td', { title: text.length > 24 ? text : null });
      if (i === 0 && this.columns[0]?.id === 'run_id' && color) {
        td.appendChild(h('span', { class: 'swatch', style: `background: ${color}` }));
      }
      td.append(text);
      if (typeof entry.values[i] === 'number') td.className = 'num';
      tr.appendChild(td);
    });
    return tr;
  }

  private onRowClick(event: MouseEvent): void {
    const tr = (event.target as HTMLElement).closest('tr');
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
        this.selectionChanged();
        return;
      }
    }
    if (this.selected.has(id)) this.selected.delete(id);
    else this.selected.add(id);
    this.lastClicked = id;
    this.selectionChanged();
  }

  private toggleAllVisible(on: boolean): void {
    for (const entry of this.view) {
      if (on) this.selected.add(entry.run.run_id);
      else this.selected.delete(entry.run.run_id);
    }
    this.selectionChanged();
  }

  private selectionChanged(): void {
    this.updateCount();
    this.options.onSelectionChange(this.selection());
    this.render();
  }
}

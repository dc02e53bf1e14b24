// The sweep's grids table: one row per grid with its parameters, seed count, the final and best
// value of the chosen metric (mean ± std over seeds, from /api/sweep/grids) and the mean of each
// seeds column. Headers sort; clicking a row toggles whether its curves are drawn.
import type { SweepGridRow, SweepGridsResponse } from './api.js';
import { h } from './dom.js';
import { type GridColumn, gridColumns, sortGrids } from './sweep-model.js';

export interface SweepGridsTableOptions {
  /** Called with the grid clicked. */
  readonly onToggle: (gridId: string) => void;
  /** Called by the header checkbox: select every grid, or none. */
  readonly onSelectAll: (all: boolean) => void;
  /** Whether a grid is selected, and its colour when it is. */
  readonly colorOf: (gridId: string) => string | undefined;
}

/** The grids table over one `/api/sweep/grids` answer (replaced with {@link setData}). */
export class SweepGridsTable {
  readonly element: HTMLElement;
  private answer: SweepGridsResponse | undefined;
  private columns: GridColumn[] = [];
  private sort: { id: string; direction: 'asc' | 'desc' } | undefined;
  private readonly table: HTMLTableElement;
  private readonly thead: HTMLTableSectionElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly selectAll: HTMLInputElement;

  constructor(private readonly options: SweepGridsTableOptions) {
    this.thead = h('thead');
    this.tbody = h('tbody');
    this.table = h(
      'table',
      { class: 'runs-table grids-table', 'data-testid': 'grids-table' },
      this.thead,
      this.tbody,
    );
    this.selectAll = h('input', {
      type: 'checkbox',
      'aria-label': 'Select all grids',
      title: 'Draw every grid, or none',
      'data-testid': 'grids-select-all',
    });
    this.selectAll.addEventListener('change', () => options.onSelectAll(this.selectAll.checked));
    this.tbody.addEventListener('click', (event) => {
      const id = (event.target as HTMLElement).closest('tr')?.dataset.gridId;
      if (id) options.onToggle(id);
    });
    this.element = h('div', { class: 'runs-scroll grids-scroll' }, this.table);
  }

  /** Shows a new answer (another metric, x or best direction); a sort by a kept column stays. */
  setData(answer: SweepGridsResponse): void {
    const first = this.answer === undefined;
    this.answer = answer;
    this.columns = gridColumns(answer.params, answer.seedMetrics);
    // The leaderboard order at first: best value first.
    if (first || !this.columns.some((c) => c.id === this.sort?.id)) {
      this.sort = { id: 'best', direction: answer.best === 'min' ? 'asc' : 'desc' };
    }
    this.render();
  }

  /** The grid ids in the order shown. */
  order(): string[] {
    return this.rows().map((r) => r.grid_id);
  }

  /** Re-renders (after the selection changed). */
  refresh(): void {
    this.render();
  }

  private rows(): SweepGridRow[] {
    const grids = this.answer?.grids ?? [];
    const column = this.columns.find((c) => c.id === this.sort?.id);
    return column && this.sort ? sortGrids(grids, column, this.sort.direction) : [...grids];
  }

  private toggleSort(id: string): void {
    this.sort =
      this.sort?.id === id
        ? { id, direction: this.sort.direction === 'asc' ? 'desc' : 'asc' }
        : { id, direction: 'asc' };
    this.render();
  }

  private render(): void {
    const answer = this.answer;
    if (!answer) return;
    const header = h('tr', {}, h('th', { class: 'check' }, this.selectAll));
    for (const column of this.columns) {
      const sorted = this.sort?.id === column.id ? this.sort.direction : undefined;
      const th = h(
        'th',
        {
          class: `sortable ${column.kind === 'param' ? 'param' : ''}`,
          title: headerTitle(column, answer),
          'aria-sort': sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none',
          'data-testid': 'grids-header',
          'data-column': column.id,
        },
        column.kind === 'param' ? h('span', { class: 'param-badge' }, 'param') : null,
        column.kind === 'seeds' ? h('span', { class: 'param-badge' }, 'seeds') : null,
        column.label,
        h('span', { class: 'sort-arrow' }, sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : ''),
      );
      th.addEventListener('click', () => this.toggleSort(column.id));
      header.appendChild(th);
    }
    this.thead.replaceChildren(header);
    let selected = 0;
    const rows = this.rows().map((row) => {
      const color = this.options.colorOf(row.grid_id);
      if (color) selected++;
      const box = h('input', {
        type: 'checkbox',
        'aria-label': `Draw grid ${row.grid_id}`,
        'data-testid': 'grid-checkbox',
        tabindex: -1,
      });
      box.checked = color !== undefined;
      const tr = h(
        'tr',
        {
          class: color ? 'selected' : '',
          'data-testid': 'grids-row',
          'data-grid-id': row.grid_id,
          title: color ? 'Click to stop drawing this grid' : 'Click to draw this grid',
        },
        h('td', { class: 'check' }, box),
      );
      this.columns.forEach((column, i) => {
        const td = h('td', { 'data-column': column.id });
        if (i === 0 && color) td.appendChild(h('span', { class: 'swatch', style: `background: ${color}` }));
        td.append(column.text(row));
        if (typeof column.value(row) === 'number') td.classList.add('num');
        tr.appendChild(td);
      });
      return tr;
    });
    if (rows.length === 0) {
      rows.push(
        h(
          'tr',
          {},
          h('td', { colspan: this.columns.length + 1, class: 'no-match' }, 'No grids in this lake.'),
        ),
      );
    }
    this.tbody.replaceChildren(...rows);
    this.table.dataset.rowCount = String(answer.grids.length);
    this.selectAll.checked = answer.grids.length > 0 && selected === answer.grids.length;
    this.selectAll.indeterminate = selected > 0 && selected < answer.grids.length;
  }
}

function headerTitle(column: GridColumn, answer: SweepGridsResponse): string {
  switch (column.id) {
    case 'final':
      return `${answer.metric} at each seed's largest ${answer.x}, mean ± std over seeds; click to sort`;
    case 'best':
      return `each seed's ${answer.best} of ${answer.metric}, mean ± std over seeds; click to sort`;
    case 'seeds':
      return `seeds with ${answer.metric} values; click to sort`;
    default:
      return column.kind === 'param'
        ? `grid parameter ${column.label}; click to sort`
        : column.kind === 'seeds'
          ? `mean of the seeds dataset's ${column.label} over the grid's seeds; click to sort`
          : `${column.label}; click to sort`;
  }
}

// The row table: one page (100 rows) of DOM at a time, whatever the file's size. Rows come from
// the filter's index array, so paging through a filtered view of millions of rows is instant.
import { cellText, type Frame } from './frame.js';

export const PAGE_SIZE = 100;

const format = (n: number) => n.toLocaleString('en-US');

export class TableView {
  readonly element: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly status: HTMLSpanElement;
  private readonly pageInput: HTMLInputElement;
  private readonly buttons: Record<'first' | 'prev' | 'next' | 'last', HTMLButtonElement>;
  private frame: Frame | undefined;
  private rows: Uint32Array | null = null;
  private page = 0;

  constructor() {
    this.element = document.createElement('section');
    this.element.className = 'table-section';
    const pager = document.createElement('div');
    pager.className = 'pager';
    const button = (label: string, title: string, testid: string) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      b.dataset.testid = testid;
      return b;
    };
    this.buttons = {
      first: button('«', 'First page', 'page-first'),
      prev: button('‹', 'Previous page', 'page-prev'),
      next: button('›', 'Next page', 'page-next'),
      last: button('»', 'Last page', 'page-last'),
    };
    this.pageInput = document.createElement('input');
    this.pageInput.type = 'number';
    this.pageInput.min = '1';
    this.pageInput.className = 'page-input';
    this.pageInput.dataset.testid = 'page-input';
    this.pageInput.setAttribute('aria-label', 'Page');
    this.status = document.createElement('span');
    this.status.className = 'pager-status';
    this.status.dataset.testid = 'page-status';
    const pageLabel = document.createElement('span');
    pageLabel.textContent = 'Page';
    pager.append(
      this.buttons.first,
      this.buttons.prev,
      pageLabel,
      this.pageInput,
      this.status,
      this.buttons.next,
      this.buttons.last,
    );
    this.buttons.first.addEventListener('click', () => this.goTo(0));
    this.buttons.prev.addEventListener('click', () => this.goTo(this.page - 1));
    this.buttons.next.addEventListener('click', () => this.goTo(this.page + 1));
    this.buttons.last.addEventListener('click', () => this.goTo(this.pageCount() - 1));
    this.pageInput.addEventListener('change', () => this.goTo(Number(this.pageInput.value) - 1));

    const scroller = document.createElement('div');
    scroller.className = 'table-scroll';
    this.table = document.createElement('table');
    this.table.dataset.testid = 'data-table';
    scroller.append(this.table);
    this.element.append(pager, scroller);
  }

  /** Shows `frame` restricted to `rows` (null: all rows), from the first page. */
  setData(frame: Frame, rows: Uint32Array | null): void {
    this.frame = frame;
    this.rows = rows;
    this.page = 0;
    this.render();
  }

  private rowCount(): number {
    return this.rows ? this.rows.length : (this.frame?.numRows ?? 0);
  }

  private pageCount(): number {
    return Math.max(1, Math.ceil(this.rowCount() / PAGE_SIZE));
  }

  private goTo(page: number): void {
    if (!Number.isFinite(page)) return;
    this.page = Math.min(Math.max(0, Math.floor(page)), this.pageCount() - 1);
    this.render();
  }

  private render(): void {
    const frame = this.frame;
    if (!frame) return;
    const total = this.rowCount();
    const pages = this.pageCount();
    const from = this.page * PAGE_SIZE;
    const to = Math.min(total, from + PAGE_SIZE);
    this.pageInput.value = String(this.page + 1);
    this.pageInput.max = String(pages);
    this.status.textContent = `of ${format(pages)} · rows ${total === 0 ? 0 : format(from + 1)}–${format(to)}`;
    this.buttons.first.disabled = this.buttons.prev.disabled = this.page === 0;
    this.buttons.next.disabled = this.buttons.last.disabled = this.page >= pages - 1;

    const head = document.createElement('thead');
    const headRow = head.insertRow();
    const indexHead = document.createElement('th');
    indexHead.textContent = '#';
    indexHead.className = 'row-index';
    headRow.append(indexHead);
    for (const column of frame.columns) {
      const th = document.createElement('th');
      th.textContent = column.name;
      th.title = column.type;
      if (column.kind === 'numeric') th.className = 'numeric';
      headRow.append(th);
    }
    const body = document.createElement('tbody');
    for (let i = from; i < to; i++) {
      const row = this.rows ? (this.rows[i] as number) : i;
      const tr = body.insertRow();
      const index = tr.insertCell();
      index.textContent = format(row + 1);
      index.className = 'row-index';
      for (const column of frame.columns) {
        const td = tr.insertCell();
        td.textContent = cellText(column, row);
        if (column.kind === 'numeric') td.className = 'numeric';
      }
    }
    this.table.replaceChildren(head, body);
  }
}

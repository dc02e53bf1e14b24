// The SQL console: one read-only statement at a time over the lake's views, through the server's
// read-only query API (POST /api/query). A list of the lake's datasets (with their columns) and
// named views inserts names at the cursor; Ctrl/Cmd+Enter runs; the answer is a table (the first
// MAX_SHOWN rows; the CSV download has every row the server sent); a refused query shows the
// server's one line; past queries are kept in localStorage; "Open in viewer" opens the answer in
// the file viewer (viewer.html?sql=…), where it can be filtered and plotted.
import './sql-console.css';
import { ApiError, api, type LakeResponse, pageToken, type QueryResponse } from './api.js';
import { cellText, h } from './dom.js';
import { downloadBlob } from './download.js';
import { answerCsv, HISTORY_KEY, type HistoryEntry, readHistory, withEntry } from './sql-history.js';

/** Rows drawn in the results table; the rest are in the CSV download. */
export const MAX_SHOWN = 1000;

/** What the console keeps of the last answer. */
interface Answer {
  readonly sql: string;
  readonly response: QueryResponse;
}

/**
 * The SQL console view: `element` is mounted by the dashboard, `ensureLoaded()` fetches the lake's
 * datasets and views the first time the view is shown.
 *
 * @example
 * ```ts
 * const console = new SqlConsole();
 * section.replaceChildren(console.element);
 * await console.ensureLoaded();
 * ```
 */
export class SqlConsole {
  readonly element: HTMLElement;
  private readonly editor: HTMLTextAreaElement;
  private readonly schemaList: HTMLElement;
  private readonly historyList: HTMLElement;
  private readonly status: HTMLElement;
  private readonly results: HTMLElement;
  private readonly runButton: HTMLButtonElement;
  private readonly csvButton: HTMLButtonElement;
  private readonly viewerLink: HTMLAnchorElement;
  private loaded: Promise<void> | undefined;
  private answer: Answer | undefined;
  private running: AbortController | undefined;

  constructor() {
    this.editor = h('textarea', {
      class: 'sql-editor',
      'data-testid': 'sql-editor',
      spellcheck: 'false',
      rows: 8,
      'aria-label': 'SQL',
      placeholder: 'SELECT run_id, count(*) AS points FROM metrics_scalar GROUP BY run_id',
    });
    this.editor.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        void this.run();
      }
    });
    this.runButton = h('button', { type: 'button', class: 'primary', 'data-testid': 'sql-run' }, 'Run');
    this.runButton.addEventListener('click', () => void this.run());
    this.csvButton = h(
      'button',
      { type: 'button', 'data-testid': 'sql-csv', disabled: true },
      'Download CSV',
    );
    this.csvButton.addEventListener('click', () => this.downloadCsv());
    this.viewerLink = h(
      'a',
      {
        class: 'sql-viewer-link disabled',
        'data-testid': 'sql-open-viewer',
        target: '_blank',
        rel: 'noopener',
        'aria-disabled': 'true',
      },
      'Open in viewer ↗',
    );
    this.status = h('span', { class: 'sql-status', 'data-testid': 'sql-status', role: 'status' });
    this.results = h('div', { class: 'sql-results', 'data-testid': 'sql-results' });
    this.schemaList = h('div', { class: 'sql-schema', 'data-testid': 'sql-schema' }, 'Loading the lake…');
    this.historyList = h('ol', { class: 'sql-history', 'data-testid': 'sql-history' });
    this.element = h(
      'div',
      { class: 'sql-console', 'data-testid': 'sql-console' },
      h(
        'aside',
        { class: 'panel sql-side' },
        h('h2', {}, 'Datasets & views'),
        h('p', { class: 'muted sql-hint' }, 'Click a name to insert it.'),
        this.schemaList,
      ),
      h(
        'section',
        { class: 'panel sql-main' },
        this.editor,
        h(
          'div',
          { class: 'sql-toolbar' },
          this.runButton,
          h('span', { class: 'muted sql-keys' }, 'Ctrl/⌘ + Enter'),
          this.status,
          h('span', { class: 'sql-spacer' }),
          this.csvButton,
          this.viewerLink,
        ),
        this.results,
        h('h3', { class: 'sql-history-title' }, 'History'),
        this.historyList,
      ),
    );
    this.renderHistory();
  }

  /** Loads the lake's datasets and views into the side list (once). */
  ensureLoaded(): Promise<void> {
    this.loaded ??= api.lake().then(
      (lake) => this.renderSchema(lake),
      (error: unknown) => {
        this.loaded = undefined;
        this.schemaList.replaceChildren(
          h('p', { class: 'error', 'data-testid': 'sql-schema-error' }, errorLine(error)),
        );
      },
    );
    return this.loaded;
  }

  /** Puts `sql` in the editor and runs it. */
  async runQuery(sql: string): Promise<void> {
    this.editor.value = sql;
    await this.run();
  }

  private insert(text: string): void {
    const { selectionStart, selectionEnd, value } = this.editor;
    const before = value.slice(0, selectionStart);
    const pad = before && !/\s$/.test(before) ? ' ' : '';
    this.editor.value = `${before}${pad}${text}${value.slice(selectionEnd)}`;
    const at = before.length + pad.length + text.length;
    this.editor.focus();
    this.editor.setSelectionRange(at, at);
  }

  private nameButton(name: string, className: string, title?: string): HTMLButtonElement {
    const button = h(
      'button',
      { type: 'button', class: `sql-name ${className}`, title, 'data-insert': name },
      name,
    );
    button.addEventListener('click', (event) => {
      event.preventDefault();
      event.stopPropagation();
      this.insert(/^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`);
    });
    return button;
  }

  private renderSchema(lake: LakeResponse): void {
    const datasets = lake.datasets.map((d) =>
      h(
        'details',
        { class: 'sql-dataset', 'data-testid': `sql-dataset-${d.name}` },
        h(
          'summary',
          {},
          this.nameButton(d.name, 'table-name'),
          h('span', { class: 'muted' }, ` ${d.rows.toLocaleString('en-US')} rows`),
        ),
        h(
          'ul',
          {},
          ...d.columns.map((c) =>
            h('li', {}, this.nameButton(c.name, 'column-name'), h('span', { class: 'sql-type' }, c.type)),
          ),
        ),
      ),
    );
    const views = lake.views.map((v) => h('li', {}, this.nameButton(v.name, 'view-name', v.description)));
    this.schemaList.replaceChildren(
      ...datasets,
      views.length ? h('h3', {}, 'Views') : '',
      views.length ? h('ul', { class: 'sql-views' }, ...views) : '',
    );
  }

  private async run(): Promise<void> {
    const sql = this.editor.value.trim();
    if (!sql) {
      this.showError('write a SELECT first');
      return;
    }
    this.running?.abort();
    const controller = new AbortController();
    this.running = controller;
    this.element.dataset.state = 'running';
    this.status.textContent = 'Running…';
    this.status.classList.remove('error');
    const started = performance.now();
    let response: QueryResponse;
    try {
      response = await api.query(sql, controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return;
      this.answer = undefined;
      this.remember({ sql, at: new Date().toISOString() });
      this.showError(errorLine(error));
      return;
    }
    if (controller.signal.aborted) return;
    const ms = Math.round(performance.now() - started);
    this.answer = { sql, response };
    this.remember({ sql, at: new Date().toISOString(), rows: response.rows.length });
    this.renderAnswer(response, ms);
  }

  private showError(message: string): void {
    this.element.dataset.state = 'error';
    this.status.textContent = '';
    this.results.replaceChildren(h('p', { class: 'sql-error', 'data-testid': 'sql-error' }, message));
    this.csvButton.disabled = true;
    this.setViewerLink(undefined);
  }

  private renderAnswer(response: QueryResponse, ms: number): void {
    const { columns, rows } = response;
    const shown = rows.slice(0, MAX_SHOWN);
    const count = `${rows.length.toLocaleString('en-US')} ${rows.length === 1 ? 'row' : 'rows'}`;
    this.status.textContent = `${count} · ${ms.toLocaleString('en-US')} ms`;
    const notes: HTMLElement[] = [];
    if (response.truncated) {
      notes.push(
        h(
          'p',
          { class: 'sql-note', 'data-testid': 'sql-truncated' },
          `The server cut the answer at ${rows.length.toLocaleString('en-US')} rows (its --max-rows); add a LIMIT or aggregate.`,
        ),
      );
    }
    if (rows.length > shown.length) {
      notes.push(
        h(
          'p',
          { class: 'sql-note', 'data-testid': 'sql-capped' },
          `Showing the first ${shown.length.toLocaleString('en-US')} of ${count}; the CSV download and the viewer have them all.`,
        ),
      );
    }
    const head = h(
      'tr',
      {},
      ...columns.map((c) =>
        h('th', { title: c.type, class: numericType(c.type) ? 'num' : undefined }, c.name),
      ),
    );
    const body = h('tbody', {});
    const numeric = columns.map((c) => numericType(c.type));
    for (const row of shown) {
      const tr = document.createElement('tr');
      columns.forEach((c, i) => {
        const td = document.createElement('td');
        td.textContent = cellText(row[c.name]);
        if (numeric[i]) td.className = 'num';
        tr.append(td);
      });
      body.append(tr);
    }
    const table =
      columns.length > 0
        ? h(
            'div',
            { class: 'sql-table-scroll' },
            h('table', { class: 'sql-table', 'data-testid': 'sql-table' }, h('thead', {}, head), body),
          )
        : h('p', { class: 'muted' }, 'The statement returned no columns.');
    this.results.replaceChildren(...notes, table);
    this.csvButton.disabled = columns.length === 0;
    this.setViewerLink(this.answer?.sql);
    this.element.dataset.state = 'ready';
    this.element.dataset.rows = String(rows.length);
  }

  private setViewerLink(sql: string | undefined): void {
    if (sql === undefined) {
      this.viewerLink.removeAttribute('href');
      this.viewerLink.classList.add('disabled');
      this.viewerLink.setAttribute('aria-disabled', 'true');
      return;
    }
    const params = new URLSearchParams({ sql });
    const token = pageToken();
    if (token) params.set('token', token);
    this.viewerLink.href = `viewer.html?${params}`;
    this.viewerLink.classList.remove('disabled');
    this.viewerLink.removeAttribute('aria-disabled');
  }

  private downloadCsv(): void {
    const answer = this.answer;
    if (!answer) return;
    downloadBlob(new Blob([answerCsv(answer.response)], { type: 'text/csv;charset=utf-8' }), 'query.csv');
  }

  private remember(entry: HistoryEntry): void {
    try {
      const next = withEntry(readHistory(localStorage), entry);
      localStorage.setItem(HISTORY_KEY, JSON.stringify(next));
    } catch {
      // Storage full or blocked (a private window): the history is a convenience.
    }
    this.renderHistory();
  }

  private renderHistory(): void {
    let history: HistoryEntry[] = [];
    try {
      history = readHistory(localStorage);
    } catch {
      history = [];
    }
    if (history.length === 0) {
      this.historyList.replaceChildren(h('li', { class: 'muted' }, 'Queries you run are kept here.'));
      return;
    }
    this.historyList.replaceChildren(
      ...history.map((entry) => {
        const item = h(
          'li',
          {},
          h(
            'button',
            { type: 'button', class: 'sql-history-item', title: 'Put this query in the editor' },
            h('code', {}, entry.sql),
          ),
          h(
            'span',
            { class: 'muted' },
            entry.rows === undefined
              ? ' failed'
              : ` ${entry.rows.toLocaleString('en-US')} ${entry.rows === 1 ? 'row' : 'rows'}`,
          ),
        );
        item.querySelector('button')?.addEventListener('click', () => {
          this.editor.value = entry.sql;
          this.editor.focus();
        });
        return item;
      }),
    );
  }
}

function numericType(type: string): boolean {
  return /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL|REAL)/i.test(
    type,
  );
}

/** The server's one line for a failed query (or the network failure). */
function errorLine(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

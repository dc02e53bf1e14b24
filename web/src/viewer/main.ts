// The standalone file viewer page: open or drop a Parquet, CSV or JSON file (or pass ?url=…),
// then browse it as a paged table, filter it and plot it — all in the browser, no server needed.
import type uPlot from 'uplot';
import './viewer.css';
import { type ActiveFilter, type FilterChoice, filterChoices, selectRows } from './filters.js';
import { type Column, type Frame, ViewerFileError } from './frame.js';
import {
  LAKE_FILES_PAGE,
  type LakeFilesAnswer,
  lakeFiles,
  lakeFileUrl,
  queryAnswerSource,
} from './lake-source.js';
import { type ByteSource, fileSource, type LoadedFile, loadSource, urlSource } from './load-file.js';
import { initParquet } from './load-parquet.js';
import { drawPlot } from './plot.js';
import { aggregateCurves, defaultPlot } from './plot-data.js';
import { TableView } from './table-view.js';

// Marks for profiling the path to the first curve (script start, file read, parsed, first draw).
performance.mark('runlake:script-start');

const fmt = (n: number) => n.toLocaleString('en-US');
const rowsText = (n: number) => `${fmt(n)} ${n === 1 ? 'row' : 'rows'}`;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; testid?: string; text?: string } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.testid) node.dataset.testid = props.testid;
  if (props.text !== undefined) node.textContent = props.text;
  node.append(...children);
  return node;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// ---- page skeleton -------------------------------------------------------------------------

const app = document.querySelector<HTMLElement>('#app') ?? document.body;

const fileInput = el('input', { testid: 'file-input' });
fileInput.type = 'file';
fileInput.accept = '.parquet,.pq,.csv,.json,.jsonl,.ndjson';
fileInput.className = 'visually-hidden';
fileInput.id = 'file-input';
const openLabel = el('label', { className: 'button primary', testid: 'open-button', text: 'Open file…' });
openLabel.htmlFor = 'file-input';

const header = el(
  'header',
  { className: 'top' },
  el('h1', { text: 'runlake viewer' }),
  el(
    'div',
    { className: 'open' },
    openLabel,
    fileInput,
    el('span', { className: 'hint', text: 'or drop a file' }),
  ),
);

// Filled when the page was served by `runlake serve`: a picker of the lake's files and a SQL box.
const lakeBox = el('section', { className: 'lake-box', testid: 'lake-box' });
lakeBox.hidden = true;
const statusBox = el('section', { className: 'status', testid: 'status' });
const fileInfo = el('section', { className: 'file-info', testid: 'file-info' });
const columnsBox = el('section', { className: 'columns', testid: 'columns' });
const filtersBox = el('section', { className: 'filters', testid: 'filters' });
const plotControls = el('div', { className: 'plot-controls' });
const plotHost = el('div', { className: 'plot', testid: 'plot' });
const plotNote = el('p', { className: 'plot-note', testid: 'plot-note' });
const plotBox = el('section', { className: 'plot-section' }, plotControls, plotHost, plotNote);
const table = new TableView();
const content = el(
  'main',
  { className: 'content' },
  fileInfo,
  columnsBox,
  filtersBox,
  plotBox,
  table.element,
);
const dropOverlay = el('div', { className: 'drop-overlay', text: 'Drop the file to open it' });
app.replaceChildren(header, lakeBox, statusBox, content, dropOverlay);

// ---- state ---------------------------------------------------------------------------------

interface ViewState {
  /** The frame is replaced once the columns not needed for the first curve are read. */
  file: LoadedFile;
  /** Filled right after the first curve is drawn (finding low-cardinality columns scans every row). */
  choices: FilterChoice[];
  filters: Map<string, ActiveFilter>;
  rows: Uint32Array | null;
  plot: uPlot | undefined;
  /** The metric-name column of a long-form metric table (plotted one metric at a time). */
  metricColumn?: string;
}

let state: ViewState | undefined;
let loadToken = 0;

function showEmpty(): void {
  document.body.dataset.state = 'empty';
  content.hidden = true;
  statusBox.className = 'status empty';
  statusBox.replaceChildren(
    el('p', { className: 'empty-title', testid: 'empty', text: 'Open or drop a Parquet, CSV or JSON file' }),
    el('p', {
      className: 'empty-hint',
      text: 'Everything stays in this browser tab: the file is read locally, nothing is uploaded.',
    }),
  );
}

function showLoading(name: string, detail: string): void {
  statusBox.className = 'status loading';
  const progress = el('span', { testid: 'loading', text: `Loading ${name}${detail ? ` — ${detail}` : ''}…` });
  statusBox.replaceChildren(el('span', { className: 'spinner' }), progress);
}

function showError(error: unknown, fallbackName: string): void {
  document.body.dataset.state = 'error';
  content.hidden = true;
  const fileName = error instanceof ViewerFileError ? error.fileName : fallbackName;
  const cause =
    error instanceof ViewerFileError ? error.reason : error instanceof Error ? error.message : String(error);
  statusBox.className = 'status error';
  statusBox.replaceChildren(
    el(
      'div',
      { testid: 'error', className: 'error-box' },
      el('strong', { text: `Could not open ${fileName}` }),
      el('p', { text: cause }),
    ),
  );
}

// ---- loading -------------------------------------------------------------------------------

async function open(source: ByteSource | Promise<ByteSource>, name: string): Promise<void> {
  const token = ++loadToken;
  // `data-state` (empty, loading, ready, error) is what tests and scripts wait on.
  document.body.dataset.state = 'loading';
  state?.plot?.destroy();
  state = undefined;
  content.hidden = true;
  showLoading(name, '');
  const started = performance.now();
  try {
    const resolved = await source;
    const file = await loadSource(resolved, (read, total) => {
      if (token !== loadToken) return;
      const detail = total ? `${formatBytes(read)} of ${formatBytes(total)}` : formatBytes(read);
      showLoading(resolved.name, `read ${detail}`);
    });
    if (token !== loadToken) return;
    performance.mark('runlake:parsed');
    show(file, started);
  } catch (error) {
    if (token !== loadToken) return;
    console.error(error);
    showError(error, name);
  }
}

function show(file: LoadedFile, started: number): void {
  statusBox.className = 'status hidden';
  statusBox.replaceChildren();
  content.hidden = false;
  document.title = `${file.name} — runlake viewer`;
  const view: ViewState = { file, choices: [], filters: new Map(), rows: null, plot: undefined };
  state = view;

  const loadTime = el('dd', { testid: 'load-time', text: '…' });
  const columnCount = el('dd', { testid: 'column-count', text: String(file.frame.columns.length) });
  fileInfo.replaceChildren(
    el('h2', { testid: 'file-name', text: file.name }),
    el(
      'dl',
      {},
      el('dt', { text: 'Format' }),
      el('dd', { testid: 'file-format', text: file.format.toUpperCase() }),
      el('dt', { text: 'Rows' }),
      el('dd', { testid: 'row-count', text: rowsText(file.frame.numRows) }),
      el('dt', { text: 'Columns' }),
      columnCount,
      el('dt', { text: 'Size' }),
      el('dd', { text: formatBytes(file.bytes) }),
      el('dt', { text: 'Load time' }),
      loadTime,
    ),
  );
  if (file.note) fileInfo.append(el('p', { className: 'file-note', testid: 'file-note', text: file.note }));
  const waiting = file.rest ? 'Reading the other columns…' : 'Scanning columns…';
  columnsBox.replaceChildren(el('h3', { text: 'Columns' }), el('p', { className: 'muted', text: waiting }));
  filtersBox.replaceChildren(el('h3', { text: 'Filters' }), el('p', { className: 'muted', text: waiting }));
  table.element.hidden = true;

  // The first curve first: plot the defaults from the columns read so far, then read the rest,
  // show the table and work out the filters and the plot's choices.
  const defaults = defaultPlot(file.frame);
  // A long-form metric table is plotted one metric at a time: filter to it (the filter shows it).
  const metricFilter = defaults?.filter;
  if (metricFilter) {
    const column = file.frame.columns.find((c) => c.name === metricFilter.column);
    const code = column?.kind === 'category' ? column.dictionary.indexOf(metricFilter.value) : -1;
    if (code >= 0) {
      view.filters.set(metricFilter.column, { kind: 'equals', column: metricFilter.column, value: code });
      view.metricColumn = metricFilter.column;
      view.rows = selectRows(file.frame, [...view.filters.values()]);
    }
  }
  const only = (select: HTMLSelectElement, value: string | undefined) =>
    select.replaceChildren(new Option(value ?? '', value ?? ''));
  only(xSelect, defaults?.x);
  only(ySelect, defaults?.y);
  only(groupSelect, defaults?.group);
  plotControls.replaceChildren(el('h3', { text: 'Plot' }));
  updatePlot();

  const finish = (frame: Frame) => {
    if (state !== view) return;
    view.file = { ...file, frame };
    loadTime.textContent = `${fmt(Math.round(performance.now() - started))} ms`;
    columnCount.textContent = String(frame.columns.length);
    renderColumns(frame);
    table.element.hidden = false;
    table.setData(frame, view.rows);
    updateRowCount(view);
    view.choices = filterChoices(frame);
    performance.mark('runlake:filters');
    renderFilters(view);
    renderPlotControls(view);
    document.body.dataset.state = 'ready';
  };
  // A timeout lets the browser paint the curve before the next long step.
  setTimeout(() => {
    if (!file.rest) return finish(file.frame);
    file.rest().then(finish, (error: unknown) => {
      if (state === view) showError(error, file.name);
    });
  }, 0);
}

function renderColumns(frame: Frame): void {
  columnsBox.replaceChildren(
    el('h3', { text: 'Columns' }),
    el(
      'ul',
      {},
      ...frame.columns.map((c) =>
        el(
          'li',
          { testid: `column-${c.name}` },
          el('span', { className: 'col-name', text: c.name }),
          el('span', { className: 'col-type', text: c.type }),
        ),
      ),
    ),
  );
}

// ---- filters -------------------------------------------------------------------------------

function renderFilters(view: ViewState): void {
  const reset = el('button', { className: 'button', testid: 'filters-reset', text: 'Reset' });
  reset.type = 'button';
  reset.addEventListener('click', () => {
    view.filters.clear();
    renderFilters(view);
    applyFilters();
  });
  const items = view.choices.map((choice) => filterControl(view, choice));
  filtersBox.replaceChildren(
    el('div', { className: 'section-head' }, el('h3', { text: 'Filters' }), reset),
    items.length
      ? el('div', { className: 'filter-grid' }, ...items)
      : el('p', { className: 'muted', text: 'No column has few enough distinct values to filter by.' }),
  );
}

function filterControl(view: ViewState, choice: FilterChoice): HTMLElement {
  const name = choice.column.name;
  const wrapper = el('label', { className: 'filter' }, el('span', { className: 'filter-name', text: name }));
  if (choice.kind === 'select') {
    const select = el('select', { testid: `filter-${name}` });
    select.append(new Option(`All (${fmt(choice.options.length)})`, ''));
    for (const option of choice.options)
      select.append(new Option(option.label || '(empty)', String(option.value)));
    const active = view.filters.get(name);
    if (active?.kind === 'equals') select.value = String(active.value);
    select.addEventListener('change', () => {
      if (state !== view) return; // a stale control (another file is open)
      if (select.value === '') view.filters.delete(name);
      else view.filters.set(name, { kind: 'equals', column: name, value: Number(select.value) });
      applyFilters();
    });
    wrapper.append(select);
    return wrapper;
  }
  if (choice.kind === 'contains') {
    const box = el('input', { testid: `filter-${name}-contains` });
    box.type = 'search';
    box.placeholder = choice.column.list ? 'list holds…' : 'contains…';
    const active = view.filters.get(name);
    if (active?.kind === 'contains') box.value = active.text;
    box.addEventListener('change', () => {
      if (state !== view) return;
      if (box.value.trim() === '') view.filters.delete(name);
      else view.filters.set(name, { kind: 'contains', column: name, text: box.value });
      applyFilters();
    });
    wrapper.append(box);
    return wrapper;
  }
  const input = (bound: 'min' | 'max', placeholder: number) => {
    const box = el('input', { testid: `filter-${name}-${bound}` });
    box.type = 'number';
    box.step = 'any';
    box.placeholder = `${bound} ${Number(placeholder.toPrecision(6))}`;
    box.addEventListener('change', () => {
      // Removing a focused input fires `change` while the next file is shown: ignore it.
      if (state !== view) return;
      const min = minBox.value === '' ? undefined : Number(minBox.value);
      const max = maxBox.value === '' ? undefined : Number(maxBox.value);
      if (min === undefined && max === undefined) view.filters.delete(name);
      else view.filters.set(name, { kind: 'range', column: name, min, max });
      applyFilters();
    });
    return box;
  };
  const minBox = input('min', choice.min);
  const maxBox = input('max', choice.max);
  wrapper.append(el('span', { className: 'range' }, minBox, el('span', { text: '–' }), maxBox));
  return wrapper;
}

function applyFilters(): void {
  const view = state;
  if (!view) return;
  view.rows = selectRows(view.file.frame, [...view.filters.values()]);
  updateRowCount(view);
  table.setData(view.file.frame, view.rows);
  updatePlot();
}

function updateRowCount(view: ViewState): void {
  const total = view.file.frame.numRows;
  const rowCount = fileInfo.querySelector<HTMLElement>('[data-testid="row-count"]');
  if (rowCount)
    rowCount.textContent = view.rows ? `${fmt(view.rows.length)} of ${rowsText(total)}` : rowsText(total);
}

// ---- plot ----------------------------------------------------------------------------------

const xSelect = el('select', { testid: 'plot-x' });
const ySelect = el('select', { testid: 'plot-y' });
const groupSelect = el('select', { testid: 'plot-group' });
const logToggle = el('input', { testid: 'plot-log' });
logToggle.type = 'checkbox';
for (const control of [xSelect, ySelect, groupSelect, logToggle])
  control.addEventListener('change', () => updatePlot());
window.addEventListener('resize', () => {
  const plot = state?.plot;
  if (plot) plot.setSize({ width: Math.max(320, plotHost.clientWidth), height: 380 });
});

function renderPlotControls(view: ViewState): void {
  const columns = view.file.frame.columns;
  const numeric = columns.filter((c) => c.kind === 'numeric');
  const options = (list: readonly Column[]) => list.map((c) => new Option(c.name, c.name));
  // Keep what is plotted (the defaults, drawn before the choices were known).
  const current = [xSelect.value, ySelect.value, groupSelect.value] as const;
  xSelect.replaceChildren(...options(columns.filter((c) => c.kind === 'numeric' || isSelectable(view, c))));
  ySelect.replaceChildren(...options(numeric));
  groupSelect.replaceChildren(
    new Option('(none)', ''),
    ...options(columns.filter((c) => isSelectable(view, c))),
  );
  xSelect.value = current[0];
  ySelect.value = current[1];
  groupSelect.value = current[2];
  const labelled = (text: string, control: HTMLElement) =>
    el('label', { className: 'control' }, el('span', { text }), control);
  plotControls.replaceChildren(
    el('h3', { text: 'Plot' }),
    labelled('x', xSelect),
    labelled('y (mean)', ySelect),
    labelled('series', groupSelect),
    el('label', { className: 'control check' }, logToggle, el('span', { text: 'log y' })),
  );
}

function isSelectable(view: ViewState, column: Column): boolean {
  return view.choices.some((c) => c.kind === 'select' && c.column === column);
}

function updatePlot(): void {
  const view = state;
  if (!view) return;
  const x = xSelect.value;
  const y = ySelect.value;
  if (!x || !y) {
    view.plot?.destroy();
    view.plot = undefined;
    plotHost.replaceChildren(
      el('p', { className: 'plot-empty', text: 'Pick numeric x and y columns to plot.' }),
    );
    plotHost.dataset.seriesCount = '0';
    plotNote.textContent = '';
    return;
  }
  const started = performance.now();
  const set = aggregateCurves(view.file.frame, view.rows, x, y, groupSelect.value || undefined);
  // A long-form metric table: name the metric plotted (or say that several are mixed).
  let yLabel = y;
  const metricColumn = view.metricColumn
    ? view.file.frame.columns.find((c) => c.name === view.metricColumn)
    : undefined;
  if (metricColumn?.kind === 'category') {
    const active = view.filters.get(metricColumn.name);
    yLabel =
      active?.kind === 'equals'
        ? `${y} of ${metricColumn.dictionary[active.value] ?? ''}`
        : `${y} (all ${metricColumn.name}s mixed)`;
  }
  view.plot = drawPlot(plotHost, set, { xLabel: x, yLabel, logY: logToggle.checked }, view.plot);
  plotHost.dataset.yLabel = yLabel;
  const notes = [
    `${fmt(set.xs.length)} points`,
    `aggregated in ${fmt(Math.round(performance.now() - started))} ms`,
  ];
  if (set.binned) notes.push('x binned into equal-width bins');
  if (set.curves.length < set.totalGroups)
    notes.push(`showing the ${set.curves.length} largest of ${set.totalGroups} series`);
  plotNote.textContent = notes.join(' · ');
}

// ---- input wiring --------------------------------------------------------------------------

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
  if (file) void open(fileSource(file), file.name);
  // Picking the same file again should reload it.
  fileInput.value = '';
});

let dragDepth = 0;
document.addEventListener('dragenter', (event) => {
  event.preventDefault();
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dragging');
});
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  const file = event.dataTransfer?.files[0];
  if (file) void open(fileSource(file), file.name);
});

// Start compiling parquet-wasm now so it overlaps with picking or fetching the file.
void initParquet()
  .then(() => performance.mark('runlake:wasm-ready'))
  .catch((error: unknown) => console.error('parquet-wasm failed to initialise', error));

// ---- served by runlake serve: the lake's files and SQL answers ----------------------------

function openLakeFile(dataset: string, file: string): void {
  const name = `${dataset}/${file}`;
  void open(
    urlSource(lakeFileUrl(dataset, file)).then((source) => ({ ...source, name })),
    name,
  );
}

function openSqlAnswer(sql: string): void {
  void open(queryAnswerSource(sql), 'SQL answer');
}

const filesText = (n: number) => `${fmt(n)} ${n === 1 ? 'file' : 'files'}`;

/**
 * The lake file picker: a dataset choice (all, or one) and that choice's files a page at a time
 * (GET /api/files?dataset=&offset=&limit=), with a button for the next page, so a lake of tens of
 * thousands of files never lists them all at once.
 */
function lakeFilePicker(first: LakeFilesAnswer): {
  datasets: HTMLSelectElement;
  files: HTMLSelectElement;
  more: HTMLElement;
} {
  const datasets = el('select', { testid: 'lake-dataset' });
  datasets.setAttribute('aria-label', 'Dataset');
  datasets.append(new Option(`all datasets (${filesText(first.total)})`, ''));
  for (const d of first.datasets) datasets.append(new Option(`${d.name} (${filesText(d.total)})`, d.name));
  const picker = el('select', { testid: 'lake-file' });
  picker.setAttribute('aria-label', 'Lake file');
  const moreButton = el('button', { className: 'button', testid: 'lake-file-more' });
  moreButton.type = 'button';
  const count = el('span', { className: 'muted', testid: 'lake-file-count' });
  let loaded = 0;
  let ticket = 0;
  const append = (page: LakeFilesAnswer) => {
    for (const dataset of page.datasets) {
      if (dataset.files.length === 0) continue;
      let group = [...picker.querySelectorAll('optgroup')].find((g) => g.dataset.dataset === dataset.name);
      if (!group) {
        group = document.createElement('optgroup');
        group.label = `${dataset.name} (${filesText(dataset.total)})`;
        group.dataset.dataset = dataset.name;
        picker.append(group);
      }
      for (const file of dataset.files) {
        const rows = file.rows === null ? '' : `, ${rowsText(file.rows)}`;
        const option = new Option(`${dataset.name}/${file.path} (${formatBytes(file.size)}${rows})`, '');
        option.dataset.dataset = dataset.name;
        option.dataset.path = file.path;
        group.append(option);
      }
      loaded += dataset.files.length;
    }
    const rest = page.total - loaded;
    moreButton.hidden = rest <= 0;
    moreButton.textContent = `Load ${fmt(Math.min(LAKE_FILES_PAGE, rest))} more`;
    count.textContent = rest > 0 ? `${fmt(loaded)} of ${filesText(page.total)} listed` : '';
    picker.dataset.loaded = String(loaded);
    picker.dataset.total = String(page.total);
  };
  const load = async (reset: boolean) => {
    const mine = ++ticket;
    const dataset = datasets.value;
    const page = await lakeFiles({ ...(dataset ? { dataset } : {}), offset: reset ? 0 : loaded });
    if (mine !== ticket) return;
    if (!page) {
      count.textContent = 'the server did not list the files';
      return;
    }
    if (reset) {
      picker.replaceChildren();
      loaded = 0;
    }
    append(page);
  };
  append(first);
  datasets.addEventListener('change', () => void load(true));
  moreButton.addEventListener('click', () => void load(false));
  return { datasets, files: picker, more: el('span', { className: 'lake-more' }, moreButton, count) };
}

function renderLakeBox(first: LakeFilesAnswer): void {
  const { datasets, files: picker, more } = lakeFilePicker(first);
  const openButton = el('button', { className: 'button', testid: 'lake-file-open', text: 'Open' });
  openButton.type = 'button';
  openButton.addEventListener('click', () => {
    const option = picker.selectedOptions[0];
    if (option?.dataset.dataset && option.dataset.path)
      openLakeFile(option.dataset.dataset, option.dataset.path);
  });
  const sqlInput = el('textarea', { testid: 'sql-input' });
  sqlInput.rows = 2;
  sqlInput.placeholder = "SELECT * FROM metrics_scalar WHERE metric_name = 'loss'";
  sqlInput.setAttribute('aria-label', 'SQL query');
  sqlInput.value = new URLSearchParams(location.search).get('sql') ?? '';
  const sqlButton = el('button', { className: 'button', testid: 'sql-open', text: 'Open SQL answer' });
  sqlButton.type = 'button';
  const runSql = () => {
    if (sqlInput.value.trim()) openSqlAnswer(sqlInput.value);
  };
  sqlButton.addEventListener('click', runSql);
  sqlInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      runSql();
    }
  });
  const empty = first.total === 0;
  lakeBox.replaceChildren(
    el(
      'div',
      { className: 'lake-row' },
      el('span', { className: 'lake-label', text: 'Lake file' }),
      ...(empty
        ? [el('span', { className: 'muted', text: 'the lake has no data files yet' })]
        : [datasets, picker, openButton, more]),
    ),
    el(
      'div',
      { className: 'lake-row' },
      el('span', { className: 'lake-label', text: 'SQL' }),
      sqlInput,
      sqlButton,
    ),
  );
  lakeBox.hidden = false;
}

void lakeFiles({ offset: 0 }).then((page) => {
  if (page) renderLakeBox(page);
});

const params = new URLSearchParams(location.search);
const url = params.get('url');
const sqlParam = params.get('sql');
const fileParam = params.get('file');
if (url) void open(urlSource(url), url.split('/').pop() || url);
else if (sqlParam) openSqlAnswer(sqlParam);
else if (fileParam?.includes('/')) {
  const slash = fileParam.indexOf('/');
  openLakeFile(fileParam.slice(0, slash), fileParam.slice(slash + 1));
} else showEmpty();

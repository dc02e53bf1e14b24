// A run's configuration as flat `key → value` pairs, and the side-by-side diff of several runs'
// configurations. A run's keys come from three places: its grid parameters (`params`, shown by
// their bare name), its `config_json` (flattened with dots, under `config.`) and its other scalar
// `runs` fields (`seed`, `status`, …, under their field name). Numbers compare numerically, so a
// `0.001` parameter equals a `"1e-3"` string in another run's config.
import type { ParamValue, RunRow } from './api.js';
import { cellText, h } from './dom.js';
import './compare.css';

/** Where a configuration key comes from. */
export type ConfigSource = 'param' | 'config' | 'env' | 'field';

/** One key of a run's flattened configuration. */
export interface ConfigEntry {
  /** Unique within a run: `lr` (a param), `config.optimizer.beta1`, `env.host`, `seed` (a field). */
  readonly key: string;
  readonly source: ConfigSource;
  readonly value: ParamValue;
}

/** `runs` fields that are not configuration (the run's identity, or JSON flattened separately). */
const NOT_CONFIG = new Set(['run_id', 'params', 'config_json', 'env_json', 'summary_json', 'system_json']);

/**
 * Flattens nested JSON into dotted keys: `{"opt":{"lr":1}}` gives `opt.lr = 1`. Arrays of scalars
 * become one comma-joined value; arrays of objects are indexed (`layers.0.width`).
 *
 * @example
 * ```ts
 * flattenJson({ opt: { lr: 0.001, betas: [0.9, 0.99] } }); // { 'opt.lr': 0.001, 'opt.betas': '0.9, 0.99' }
 * ```
 */
export function flattenJson(
  value: unknown,
  prefix = '',
  out: Record<string, ParamValue> = {},
): Record<string, ParamValue> {
  if (value === null || value === undefined) {
    if (prefix) out[prefix] = null;
  } else if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) out[prefix] = value.map(cellText).join(', ');
    else {
      value.forEach((v, i) => {
        flattenJson(v, prefix ? `${prefix}.${i}` : String(i), out);
      });
    }
  } else if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = '{}';
    for (const [k, v] of entries) flattenJson(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') {
    out[prefix] = value;
  } else {
    out[prefix] = String(value);
  }
  return out;
}

/** Parses a JSON column's text; text that is not JSON stays one value (shown, never dropped). */
function parseJsonColumn(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return { '(unparsed)': text };
  }
}

/**
 * A run's configuration: its params, its flattened `config_json` (under `config.`) and
 * `env_json` (under `env.`), and its other scalar fields (arrays joined; `run.<field>` when a
 * param has the field's name but another value; W&B's `summary.*` copies left out), in that order.
 *
 * @example
 * ```ts
 * runConfig(run).find((e) => e.key === 'lr')?.value; // 0.001
 * ```
 */
export function runConfig(run: RunRow): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  for (const [key, value] of Object.entries(run.params ?? {})) entries.push({ key, source: 'param', value });
  const params = new Set(entries.map((e) => e.key));
  for (const [column, prefix, source] of [
    ['config_json', 'config', 'config'],
    ['env_json', 'env', 'env'],
  ] as const) {
    const raw = run[column];
    if (raw === null || raw === undefined || raw === '') continue;
    for (const [key, value] of Object.entries(flattenJson(parseJsonColumn(raw), prefix))) {
      // A run outside any grid (W&B) already has its config as `config.<key>` params.
      if (params.has(key)) continue;
      entries.push({ key, source, value });
    }
  }
  const taken = new Map(entries.map((e) => [e.key, e.value]));
  for (const [field, raw] of Object.entries(run)) {
    // W&B's summary values are results, not configuration (the run page's summary has them).
    if (NOT_CONFIG.has(field) || field.startsWith('summary.')) continue;
    const value: ParamValue =
      raw === null || raw === undefined
        ? null
        : typeof raw === 'number' || typeof raw === 'string' || typeof raw === 'boolean'
          ? raw
          : cellText(raw);
    // A typed copy of a config key (W&B's `config.lr` column) is the same entry; a field named
    // like a param with another value (the demo's runs.d_model next to the grid's) keeps both.
    if (taken.has(field) && sameValue(taken.get(field), value)) continue;
    const key = taken.has(field) ? `run.${field}` : field;
    entries.push({ key, source: 'field', value });
  }
  return entries;
}

/** A value as a number when it is one (a number, or a string that reads as a finite number). */
export function numericValue(value: ParamValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    if (Number.isFinite(n)) return n;
  }
  return undefined;
}

/**
 * Whether two configuration values are the same: numerically when both read as numbers (`0.001`
 * equals `"1e-3"`), otherwise as text; missing and null are the same.
 *
 * @example
 * ```ts
 * sameValue(0.001, '1e-3'); // true
 * sameValue('adam', 'sgd'); // false
 * ```
 */
export function sameValue(a: ParamValue | undefined, b: ParamValue | undefined): boolean {
  const missingA = a === null || a === undefined;
  const missingB = b === null || b === undefined;
  if (missingA || missingB) return missingA === missingB;
  const na = numericValue(a);
  const nb = numericValue(b);
  if (na !== undefined && nb !== undefined) return na === nb || (Number.isNaN(na) && Number.isNaN(nb));
  return String(a) === String(b);
}

/** One row of a config diff: a key and each run's value. */
export interface DiffRow {
  readonly key: string;
  readonly source: ConfigSource;
  /** One value per run, in the runs' order (undefined: the run has no such key). */
  readonly values: readonly (ParamValue | undefined)[];
  readonly differs: boolean;
}

const SOURCE_ORDER: Record<ConfigSource, number> = { param: 0, config: 1, field: 2, env: 3 };

/**
 * The side-by-side diff of `runs`' configurations: one row per key any run has, the rows whose
 * values differ first, then by source (params, config, fields, env) and key.
 *
 * @example
 * ```ts
 * configDiff([a, b]).filter((r) => r.differs).map((r) => r.key); // ['lr', 'config.lr', 'seed', …]
 * ```
 */
export function configDiff(runs: readonly RunRow[]): DiffRow[] {
  const configs = runs.map((run) => new Map(runConfig(run).map((e) => [e.key, e])));
  const keys = new Map<string, ConfigSource>();
  for (const config of configs) for (const [key, e] of config) if (!keys.has(key)) keys.set(key, e.source);
  const rows: DiffRow[] = [];
  for (const [key, source] of keys) {
    const values = configs.map((c) => c.get(key)?.value);
    const first = values[0];
    const differs = values.some((v) => !sameValue(v, first));
    rows.push({ key, source, values, differs });
  }
  return rows.sort(
    (a, b) =>
      Number(b.differs) - Number(a.differs) ||
      SOURCE_ORDER[a.source] - SOURCE_ORDER[b.source] ||
      a.key.localeCompare(b.key, undefined, { numeric: true }),
  );
}

/** A configuration value for a cell: numbers to 6 significant digits, missing as an em dash. */
export function configText(value: ParamValue | undefined): string {
  if (value === undefined) return '—';
  if (value === null) return 'null';
  if (typeof value === 'number')
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  return String(value);
}

export interface ConfigDiffOptions {
  readonly labelOf: (runId: string) => string;
  readonly colorOf: (runId: string) => string | undefined;
  /** Called when the user toggles "only differences". */
  readonly onToggle?: () => void;
}

/** The config diff table of the selected runs, with an "only differences" toggle. */
export class ConfigDiffTable {
  readonly element: HTMLElement;
  private runs: RunRow[] = [];
  private readonly onlyDiff: HTMLInputElement;
  private readonly host: HTMLElement;
  private readonly status: HTMLElement;

  constructor(private readonly options: ConfigDiffOptions) {
    this.onlyDiff = h('input', { type: 'checkbox', 'data-testid': 'diff-only-differences' });
    this.onlyDiff.addEventListener('change', () => {
      this.render();
      options.onToggle?.();
    });
    this.host = h('div', { class: 'diff-host' });
    this.status = h('div', { class: 'chart-status', 'data-testid': 'diff-status' });
    this.element = h(
      'section',
      { class: 'panel diff-panel', 'data-testid': 'config-diff' },
      h(
        'div',
        { class: 'toolbar' },
        h('h2', {}, 'Config diff'),
        h('label', { class: 'control inline' }, this.onlyDiff, ' only differences'),
      ),
      this.host,
      this.status,
    );
    this.render();
  }

  /** Whether only the differing keys are shown. */
  onlyDifferences(): boolean {
    return this.onlyDiff.checked;
  }

  /** Shows only the differing keys, or all (without reporting it). */
  setOnlyDifferences(only: boolean): void {
    this.onlyDiff.checked = only;
    this.render();
  }

  /** Shows the diff of `runs` (in this order). */
  setRuns(runs: readonly RunRow[]): void {
    this.runs = [...runs];
    this.render();
  }

  private render(): void {
    const runs = this.runs;
    this.element.dataset.runCount = String(runs.length);
    if (runs.length < 2) {
      this.host.replaceChildren(
        h(
          'p',
          { class: 'empty-state', 'data-testid': 'diff-empty' },
          runs.length === 0
            ? 'Select two or more runs (in the runs table, or brush below and press “Select these runs”) to compare their configurations.'
            : 'One run is selected: select one more to compare configurations.',
        ),
      );
      this.status.textContent = '';
      return;
    }
    const rows = configDiff(runs);
    const differing = rows.filter((r) => r.differs);
    const shown = this.onlyDiff.checked ? differing : rows;
    const head = h(
      'tr',
      {},
      h('th', { class: 'diff-key' }, 'key'),
      ...runs.map((run) => {
        const color = this.options.colorOf(run.run_id);
        return h(
          'th',
          { 'data-run-id': run.run_id, title: run.run_id },
          color ? h('span', { class: 'swatch', style: `background:${color}` }) : null,
          h('a', { href: `#run/${encodeURIComponent(run.run_id)}` }, this.options.labelOf(run.run_id)),
        );
      }),
    );
    const body = shown.map((row) =>
      h(
        'tr',
        {
          'data-testid': 'diff-row',
          'data-key': row.key,
          'data-differs': row.differs ? 'true' : 'false',
          class: row.differs ? 'differs' : null,
        },
        h(
          'th',
          { class: 'diff-key', scope: 'row' },
          row.key,
          row.source === 'param' ? h('span', { class: 'tag' }, 'param') : null,
        ),
        ...row.values.map((v) =>
          h(
            'td',
            { class: v !== undefined && row.differs && !sameValue(v, row.values[0]) ? 'changed' : null },
            configText(v),
          ),
        ),
      ),
    );
    this.host.replaceChildren(
      h(
        'div',
        { class: 'diff-scroll' },
        h('table', { class: 'diff-table' }, h('thead', {}, head), h('tbody', {}, ...body)),
      ),
    );
    this.element.dataset.differing = differing.map((r) => r.key).join(',');
    this.status.textContent =
      `${differing.length} of ${rows.length} keys differ across ${runs.length} runs` +
      (this.onlyDiff.checked ? ` (only the differing ones shown).` : '; differing keys first, highlighted.');
  }
}

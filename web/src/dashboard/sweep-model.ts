// The sweep view's model: the grids table's columns, sorting, and labels. Pure functions over the
// `/api/sweep/grids` answer, so the table, the scatter and the tests agree on what a column means.
import type { ParamValue, SweepGridRow } from './api.js';
import { cellText, formatNumber } from './dom.js';

/** A column of the grids table: how to read its value from a row, and how to show it. */
export interface GridColumn {
  readonly id: string;
  readonly label: string;
  readonly kind: 'grid' | 'param' | 'summary' | 'seeds';
  value(row: SweepGridRow): ParamValue;
  text(row: SweepGridRow): string;
}

/** The summaries the scatter can put on its y axis besides the seeds columns. */
export type SummaryName = 'final' | 'best';

/**
 * The grids table's columns: the grid id, each parameter, the seed count, the final and best value
 * of the metric (mean ± std over seeds), then the mean of each `seeds` column.
 *
 * @example
 * ```ts
 * gridColumns(['algo'], ['final_acc']).map((c) => c.id); // ['grid_id', 'param:algo', 'seeds', 'final', 'best', 'seeds:final_acc']
 * ```
 */
export function gridColumns(params: readonly string[], seedMetrics: readonly string[]): GridColumn[] {
  const withStd = (mean: number | null, std: number | null) =>
    mean === null ? '' : std === null ? formatNumber(mean) : `${formatNumber(mean)} ± ${formatNumber(std)}`;
  return [
    { id: 'grid_id', label: 'grid_id', kind: 'grid', value: (r) => r.grid_id, text: (r) => r.grid_id },
    ...params.map(
      (name): GridColumn => ({
        id: `param:${name}`,
        label: name,
        kind: 'param',
        value: (r) => r.params[name] ?? null,
        text: (r) => cellText(r.params[name]),
      }),
    ),
    { id: 'seeds', label: 'seeds', kind: 'summary', value: (r) => r.seeds, text: (r) => String(r.seeds) },
    {
      id: 'final',
      label: 'final',
      kind: 'summary',
      value: (r) => r.final,
      text: (r) => withStd(r.final, r.final_std),
    },
    {
      id: 'best',
      label: 'best',
      kind: 'summary',
      value: (r) => r.best,
      text: (r) => withStd(r.best, r.best_std),
    },
    ...seedMetrics.map(
      (name): GridColumn => ({
        id: `seeds:${name}`,
        label: name,
        kind: 'seeds',
        value: (r) => r.seed_means[name] ?? null,
        text: (r) => cellText(r.seed_means[name]),
      }),
    ),
  ];
}

/**
 * Compares two cell values: nulls last whatever the direction, numbers as numbers, the rest as
 * text with numeric collation (`s2` before `s10`).
 *
 * @example
 * ```ts
 * [3, null, 1].sort((a, b) => compareValues(a, b, 'asc')); // [1, 3, null]
 * ```
 */
export function compareValues(a: ParamValue, b: ParamValue, direction: 'asc' | 'desc'): number {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  const sign = direction === 'asc' ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return sign * (a - b);
  return sign * String(a).localeCompare(String(b), undefined, { numeric: true });
}

/**
 * The rows sorted by one column (a stable sort: ties keep grid order).
 *
 * @example
 * ```ts
 * sortGrids(rows, columns.find((c) => c.id === 'best')!, 'asc')[0]; // the grid with the lowest best value
 * ```
 */
export function sortGrids(
  rows: readonly SweepGridRow[],
  column: GridColumn,
  direction: 'asc' | 'desc',
): SweepGridRow[] {
  return [...rows].sort((a, b) => compareValues(column.value(a), column.value(b), direction));
}

/**
 * A grid's parameters as one line, e.g. `algo=sgd, lr=0.01`, for tooltips and legends.
 *
 * @example
 * ```ts
 * paramsLine({ algo: 'sgd', lr: 0.01 }, ['algo', 'lr']); // 'algo=sgd, lr=0.01'
 * ```
 */
export function paramsLine(params: Record<string, ParamValue>, names: readonly string[]): string {
  return names.map((name) => `${name}=${cellText(params[name]) || '∅'}`).join(', ');
}

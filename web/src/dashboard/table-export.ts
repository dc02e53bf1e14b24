// The runs table's CSV export and saved views: plain functions, apart from the table's DOM.
import { downloadBlob } from './download.js';
import type { RunsTableState } from './panel-state.js';

/**
 * Offers `text` as a file download named `name`.
 *
 * @example
 * ```ts
 * downloadText('runs.csv', toCsv(rows));
 * ```
 */
export function downloadText(name: string, text: string, type = 'text/csv'): void {
  downloadBlob(new Blob([text], { type }), name);
}

/** A named runs-table view: filter, columns and sort. */
export interface SavedView {
  readonly name: string;
  readonly state: RunsTableState;
}

const viewsKey = (lakeId: string) => `runlake:runs-views:${lakeId}`;

/**
 * The views saved for a lake (localStorage), in the order they were saved; [] when there are none
 * or storage is unavailable.
 *
 * @example
 * ```ts
 * loadViews('3f2a…').map((v) => v.name); // ['lr sweep by final loss']
 * ```
 */
export function loadViews(lakeId: string): SavedView[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(viewsKey(lakeId)) ?? '[]') as unknown;
    return Array.isArray(parsed)
      ? parsed.filter((v): v is SavedView => typeof v?.name === 'string' && typeof v?.state === 'object')
      : [];
  } catch {
    return [];
  }
}

/**
 * Saves `state` under `name` for a lake, replacing a view of that name; answers the views.
 *
 * @example
 * ```ts
 * saveView(lakeId, 'best', table.getState());
 * ```
 */
export function saveView(lakeId: string, name: string, state: RunsTableState): SavedView[] {
  const views = [...loadViews(lakeId).filter((v) => v.name !== name), { name, state }];
  localStorage.setItem(viewsKey(lakeId), JSON.stringify(views));
  return views;
}

/**
 * Deletes the view `name` of a lake; answers the views left.
 *
 * @example
 * ```ts
 * deleteView(lakeId, 'best');
 * ```
 */
export function deleteView(lakeId: string, name: string): SavedView[] {
  const views = loadViews(lakeId).filter((v) => v.name !== name);
  localStorage.setItem(viewsKey(lakeId), JSON.stringify(views));
  return views;
}

import path from 'node:path';
import { RunlakeError } from './errors.js';

/**
 * Where things live inside a lake directory. Datasets sit at the top (`events/`, `seeds/`, …),
 * parameter records under `grids/`, and runlake's own bookkeeping under `.runlake/`, which no
 * reader's glob (`<dataset>/**\/*.parquet`) and no Hive-aware engine looks into.
 *
 * @example
 * ```ts
 * lakePaths('lake').dataset('events'); // 'lake/events'
 * ```
 */
export function lakePaths(baseOut: string) {
  const root = path.resolve(baseOut);
  const meta = path.join(root, '.runlake');
  return {
    root,
    meta,
    dataset: (name: string) => path.join(root, name),
    /**
     * The glob DuckDB reads a dataset's part files with. DuckDB expands `*`, `?` and `[…]`
     * anywhere in the pattern, so a lake directory whose path holds them is refused with a clear
     * error rather than read wrongly (or matched against its neighbours).
     */
    datasetGlob: (name: string) => {
      if (/[*?[\]]/.test(root)) {
        throw new RunlakeError(
          `lake path ${root} contains a glob character (*, ? or [ ]) that DuckDB would expand; ` +
            'rename or move the lake directory',
        );
      }
      return path.join(root, name, '**', '*.parquet');
    },
    grids: path.join(root, 'grids'),
    gridParams: (gridId: string) => path.join(root, 'grids', `grid_id=${gridId}`, 'params.json'),
    manifest: (name: string) => path.join(meta, 'datasets', `${name}.json`),
    staging: path.join(meta, 'staging'),
    /** Where part files removed by a commit wait until `vacuum` (time travel reads them there). */
    trash: (name: string) => path.join(meta, 'trash', name),
    convertLedger: path.join(meta, 'convert-ledger.jsonl'),
    /** The lake's grid-id scheme (see `grid-id-setting.ts`). */
    gridIdSetting: path.join(meta, 'grid-id.json'),
  };
}

/** The paths returned by {@link lakePaths}. */
export type LakePaths = ReturnType<typeof lakePaths>;

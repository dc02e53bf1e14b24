import fs from 'node:fs';
import {
  fieldColumns,
  guardedFields,
  quoteIdent,
  sampleColumns,
  setLocationSql,
  shardPath,
} from './sqlite-index.js';
import { membersByName, type TarMember } from './tar.js';
import { readBytes, ShardedDatasetWriter } from './writer.js';

/**
 * What {@link reindexShards} did to one field.
 *
 * @example
 * ```ts
 * report.fields[0].rowsReindexed; // rows that now hold true byte offsets
 * ```
 */
export interface ReindexedField {
  readonly field: string;
  readonly rowsReindexed: number;
  /** Rows whose shard holds no member of the sample's name (left as they were; `verify` reports them). */
  readonly rowsUnresolved: number;
}

/**
 * What {@link reindexShards} did.
 *
 * @example
 * ```ts
 * const { rowsReindexed } = reindexShards('ds');
 * ```
 */
export interface ReindexReport {
  readonly root: string;
  readonly fields: ReindexedField[];
  readonly rowsReindexed: number;
  readonly rowsUnresolved: number;
}

/**
 * Records true byte offsets for every row that lacks one: rows the reference
 * synthefy-dataset-utils writer indexed (a running sum of array sizes per session, not a byte
 * offset) and rows it repointed. Each gets the header offset and size of the newest member of
 * its name in its shard — the member both the reference reader (`tar.getmember`) and runlake
 * already return — so nothing a reader sees changes, except that runlake then reads those rows
 * with one positioned read instead of resolving names. Shard files are not rewritten (beyond
 * the writer's usual takeover on open); the index is updated in one transaction under the writer
 * lock, so a crash leaves the old index or the new one. The reference reader ignores
 * `<field>_offset`, so it reads the result as before.
 *
 * @example
 * ```ts
 * const report = reindexShards('dataset_written_by_python');
 * console.log(`${report.rowsReindexed} rows now hold byte offsets`);
 * ```
 */
export function reindexShards(root: string): ReindexReport {
  const writer = new ShardedDatasetWriter(root);
  try {
    const db = writer.db;
    const columns = sampleColumns(db);
    const guarded = guardedFields(db);
    const fields: ReindexedField[] = [];
    db.pragma('synchronous = FULL');
    db.transaction(() => {
      for (const field of writer.listFields()) {
        const c = fieldColumns(field);
        if (!columns.has(c.size) || !guarded.has(field)) continue;
        const rows = db
          .prepare(
            `SELECT id, ${quoteIdent(c.shard)}, ${quoteIdent(c.offset)} FROM samples ` +
              `WHERE ${quoteIdent(c.shard)} IS NOT NULL AND ${quoteIdent(c.size)} IS NULL ORDER BY 2`,
          )
          .raw()
          .all() as [string, number, number][];
        const [clearSql, setSql] = setLocationSql(field);
        const clear = db.prepare(clearSql);
        const set = db.prepare(setSql);
        let rowsReindexed = 0;
        let rowsUnresolved = 0;
        let shard = -1;
        let names = new Map<string, TarMember>();
        for (const [id, rowShard] of rows) {
          if (rowShard !== shard) {
            shard = rowShard;
            names = shardNames(root, field, shard);
          }
          const member = names.get(`${id}.npy`);
          if (!member) {
            rowsUnresolved++;
            continue;
          }
          clear.run(id);
          set.run(shard, member.headerOffset, member.size, id);
          rowsReindexed++;
        }
        fields.push({ field, rowsReindexed, rowsUnresolved });
      }
      // Cached locations of running readers are stale now.
      db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'location_epoch'").run();
    })();
    return {
      root,
      fields,
      rowsReindexed: fields.reduce((n, f) => n + f.rowsReindexed, 0),
      rowsUnresolved: fields.reduce((n, f) => n + f.rowsUnresolved, 0),
    };
  } finally {
    writer.close();
  }
}

function shardNames(root: string, field: string, shard: number): Map<string, TarMember> {
  const file = shardPath(root, field, shard);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return new Map();
  }
  try {
    return membersByName((p, l) => readBytes(fd, p, l), fs.fstatSync(fd).size, { shard: file, field });
  } finally {
    fs.closeSync(fd);
  }
}

import fs from 'node:fs';
import path from 'node:path';
import {
  fieldColumns,
  INDEX_FILE,
  listFieldNames,
  openIndex,
  quoteIdent,
  sampleColumns,
  shardPath,
  tableExists,
} from './sqlite-index.js';
import { BLOCK } from './tar.js';

/**
 * One field of {@link ShardsInfo}.
 *
 * @example
 * ```ts
 * f.name === 'history' && f.shards === 10;
 * ```
 */
export interface ShardFieldInfo {
  readonly name: string;
  /** Samples that hold an array for this field. */
  readonly samples: number;
  /** Shard files referenced by the index. */
  readonly shards: number;
  /** Bytes of those shard files on disk. */
  readonly bytes: number;
  /** Bytes of the members the index points at (headers, data, padding). */
  readonly liveBytes: number;
}

/**
 * A summary of a shard dataset, for `runlake shards info`.
 *
 * @example
 * ```ts
 * const info = shardsInfo('ds');
 * console.log(info.samples, info.fields.map((f) => f.name));
 * ```
 */
export interface ShardsInfo {
  readonly root: string;
  readonly samples: number;
  readonly fields: ShardFieldInfo[];
  readonly indexBytes: number;
  readonly totalBytes: number;
  /** Metadata keys promoted to indexed columns (`key → column`). */
  readonly indexedMetadata: Record<string, string>;
}

/**
 * Summarises a dataset: samples, and per field its samples, shards and bytes (live and on disk).
 *
 * @example
 * ```ts
 * shardsInfo('my_dataset').fields[0]?.bytes;
 * ```
 */
export function shardsInfo(root: string): ShardsInfo {
  const db = openIndex(root, 'read');
  try {
    const columns = sampleColumns(db);
    const fields = listFieldNames(db).map((name): ShardFieldInfo => {
      const c = fieldColumns(name);
      if (!columns.has(c.shard)) return { name, samples: 0, shards: 0, bytes: 0, liveBytes: 0 };
      const perShard = db
        .prepare(
          `SELECT ${quoteIdent(c.shard)} AS shard, count(*) AS n, ` +
            `${columns.has(c.size) ? `sum(${quoteIdent(c.size)})` : 'NULL'} AS data, ` +
            `${columns.has(c.size) ? `sum((${quoteIdent(c.size)} + ${BLOCK - 1}) / ${BLOCK})` : 'NULL'} AS blocks ` +
            `FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL GROUP BY 1`,
        )
        .all() as { shard: number; n: number; data: number | null; blocks: number | null }[];
      let bytes = 0;
      let liveBytes = 0;
      for (const row of perShard) {
        try {
          bytes += fs.statSync(shardPath(root, name, row.shard)).size;
        } catch {}
        liveBytes += row.blocks === null ? 0 : row.n * BLOCK + row.blocks * BLOCK;
      }
      return {
        name,
        samples: perShard.reduce((n, r) => n + r.n, 0),
        shards: perShard.length,
        bytes,
        liveBytes,
      };
    });
    let indexBytes = 0;
    for (const suffix of ['', '-wal', '-shm']) {
      try {
        indexBytes += fs.statSync(path.join(root, INDEX_FILE + suffix)).size;
      } catch {}
    }
    const indexedMetadata = tableExists(db, 'indexed_metadata')
      ? Object.fromEntries(
          db.prepare('SELECT key, column_name FROM indexed_metadata').raw().all() as [string, string][],
        )
      : {};
    return {
      root,
      samples: db.prepare('SELECT count(*) FROM samples').pluck().get() as number,
      fields,
      indexBytes,
      totalBytes: indexBytes + fields.reduce((n, f) => n + f.bytes, 0),
      indexedMetadata,
    };
  } finally {
    db.close();
  }
}

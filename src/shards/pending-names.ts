/**
 * Members written under a pending name. `writeShard` / `openShard` let the caller choose the
 * shard, so a sample may be rewritten into the very shard its index row names. The reference
 * reader reads the newest member called `<id>.npy` in that shard, so a member appended under
 * that name would be visible to it before runlake's commit (and forever, if the writer died
 * first). Such a member is written as `<id>.tmp` instead (same byte length, so the header layout
 * is identical), its location and a rename intent are committed together, and only then is the
 * header rewritten in place to `<id>.npy`. Every state is a valid tar archive: one header block
 * is rewritten (with an extended header, the block of the pax record that holds the name and the
 * ustar block, each complete on its own).
 *
 * The intent table (`runlake_pending_names`) is ignored by the reference package. A writer
 * killed between the commit and the rename leaves the intent behind; the next runlake writer to
 * open the dataset finishes it. Until then runlake's readers read the new array (the row is a
 * verified byte offset) and the reference reader the previous one.
 */
import fs from 'node:fs';
import type { IndexDb } from './sqlite-index.js';
import { shardPath } from './sqlite-index.js';
import { memberHeader, readMemberAt } from './tar.js';
import { readBytes, writeFully } from './writer.js';

/** The intent table's name. */
export const PENDING_NAMES_TABLE = 'runlake_pending_names';

/**
 * A member committed under its pending name, to be renamed to `<sampleId>.npy`.
 *
 * @example
 * ```ts
 * const p: PendingName = { field: 'x', shard: 0, headerOffset: 1024, sampleId: 's1' };
 * ```
 */
export interface PendingName {
  readonly field: string;
  readonly shard: number;
  readonly headerOffset: number;
  readonly sampleId: string;
}

/**
 * The name a member is written under until its commit: `<sampleId>.tmp`, as long in bytes as the
 * final `<sampleId>.npy`, and never looked up by either reader.
 *
 * @example
 * ```ts
 * pendingMemberName('sample_000000000001'); // 'sample_000000000001.tmp'
 * ```
 */
export function pendingMemberName(sampleId: string): string {
  return `${sampleId}.tmp`;
}

/**
 * Whether a member name (as a tar reader reports it, maybe with `./`) is the pending name of
 * `sampleId`.
 *
 * @example
 * ```ts
 * isPendingMemberName('./s1.tmp', 's1'); // true
 * ```
 */
export function isPendingMemberName(name: string, sampleId: string): boolean {
  const pending = pendingMemberName(sampleId);
  return name === pending || name === `./${pending}`;
}

/**
 * Records rename intents; call inside the transaction that commits the members' locations.
 *
 * @example
 * ```ts
 * db.transaction(() => recordPendingNames(db, [p]))();
 * ```
 */
export function recordPendingNames(db: IndexDb, names: readonly PendingName[]): void {
  if (names.length === 0) return;
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${PENDING_NAMES_TABLE} (field TEXT NOT NULL, shard INTEGER NOT NULL, ` +
      'header_offset INTEGER NOT NULL, sample_id TEXT NOT NULL, PRIMARY KEY (field, shard, header_offset))',
  );
  const insert = db.prepare(
    `INSERT OR REPLACE INTO ${PENDING_NAMES_TABLE} (field, shard, header_offset, sample_id) VALUES (?, ?, ?, ?)`,
  );
  for (const n of names) insert.run(n.field, n.shard, n.headerOffset, n.sampleId);
}

/**
 * The rename intents a killed writer left behind (none when the table does not exist).
 *
 * @example
 * ```ts
 * readPendingNames(db).length; // 0 after a clean close
 * ```
 */
export function readPendingNames(db: IndexDb): PendingName[] {
  const exists = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
    .pluck()
    .get(PENDING_NAMES_TABLE);
  if (!exists) return [];
  const rows = db
    .prepare(`SELECT field, shard, header_offset, sample_id FROM ${PENDING_NAMES_TABLE}`)
    .all() as { field: string; shard: number; header_offset: number; sample_id: string }[];
  return rows.map((r) => ({
    field: r.field,
    shard: r.shard,
    headerOffset: r.header_offset,
    sampleId: r.sample_id,
  }));
}

/**
 * Renames committed members from their pending name to `<sampleId>.npy` in place, syncs the
 * shards when `sync` is set, then deletes the intents. A member whose header no longer carries
 * the pending name (already renamed) only loses its intent. Call with the writer lock held.
 *
 * @example
 * ```ts
 * finishPendingNames(db, root, readPendingNames(db), { sync: true });
 * ```
 */
export function finishPendingNames(
  db: IndexDb,
  root: string,
  names: readonly PendingName[],
  options: { readonly sync: boolean; readonly openFd?: (field: string, shard: number) => number | undefined },
): void {
  if (names.length === 0) return;
  const opened = new Map<string, number>();
  const touched = new Set<number>();
  try {
    for (const n of names) {
      const file = shardPath(root, n.field, n.shard);
      let fd = options.openFd?.(n.field, n.shard);
      if (fd === undefined) {
        fd = opened.get(file);
        if (fd === undefined) {
          if (!fs.existsSync(file)) continue;
          fd = fs.openSync(file, 'r+');
          opened.set(file, fd);
        }
      }
      const handle = fd;
      const member = readMemberAt((p, l) => readBytes(handle, p, l), n.headerOffset, {
        shard: file,
        offset: n.headerOffset,
        sampleId: n.sampleId,
        field: n.field,
      });
      if (member === null || !isPendingMemberName(member.name, n.sampleId)) continue;
      const header = memberHeader(`${n.sampleId}.npy`, member.size);
      // Same byte length by construction; anything else is left for verify to report.
      if (header.length !== member.dataOffset - member.headerOffset) continue;
      writeFully(handle, [header], member.headerOffset);
      touched.add(handle);
    }
    if (options.sync) for (const fd of touched) fs.fdatasyncSync(fd);
  } finally {
    for (const fd of opened.values()) fs.closeSync(fd);
  }
  const remove = db.prepare(
    `DELETE FROM ${PENDING_NAMES_TABLE} WHERE field = ? AND shard = ? AND header_offset = ?`,
  );
  db.transaction(() => {
    for (const n of names) remove.run(n.field, n.shard, n.headerOffset);
    const left = db.prepare(`SELECT count(*) FROM ${PENDING_NAMES_TABLE}`).pluck().get();
    // Leave no trace in a dataset that has nothing pending.
    if (left === 0) db.exec(`DROP TABLE ${PENDING_NAMES_TABLE}`);
  })();
}

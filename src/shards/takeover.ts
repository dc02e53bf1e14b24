/**
 * What a writer does with shard bytes it did not commit itself, on open. Other writers (the
 * reference synthefy-dataset-utils writer, which takes no lock and keeps no committed ends)
 * append members to runlake's shards and create shards of their own; a killed runlake writer
 * leaves unacknowledged members behind. The first are data someone committed (or may still
 * commit), the second never became visible: tell them apart by the header's owner name, which
 * runlake sets to `runlake` (see `isRunlakeHeader`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ShardLocation } from './errors.js';
import {
  fieldColumns,
  fieldDir,
  type IndexDb,
  quoteIdent,
  sampleColumns,
  shardNumber,
  shardPath,
} from './sqlite-index.js';
import { BLOCK, END_OF_ARCHIVE, isRunlakeHeader, type TarMember, walkTar } from './tar.js';
import { readBytes, writeFully } from './writer.js';

/**
 * What {@link takeOverShards} changed.
 *
 * @example
 * ```ts
 * const t = takeOverShards(db, 'ds', ['history'], new Set());
 * t.membersTakenOver; // members another writer appended, now committed
 * ```
 */
export interface TakeoverReport {
  readonly membersTakenOver: number;
  readonly shardsAdopted: number;
  readonly shardsRemoved: number;
  readonly bytesCut: number;
  readonly rowsUnverified: number;
}

interface Scan {
  readonly members: TarMember[];
  /** Index of the last member another writer wrote (-1: none). */
  readonly lastForeign: number;
  readonly walkEnd: number;
  /** The walk ended at an end-of-archive block or the end of the file, not at damage. */
  readonly clean: boolean;
}

function scanFrom(fd: number, size: number, start: number, where: ShardLocation): Scan {
  const readAt = (p: number, l: number) => readBytes(fd, p, l);
  const members: TarMember[] = [];
  let lastForeign = -1;
  const walk = walkTar(readAt, size, where, start);
  let step = walk.next();
  while (!step.done) {
    const member = step.value;
    if (!isRunlakeHeader(readAt(member.dataOffset - BLOCK, BLOCK))) lastForeign = members.length;
    members.push(member);
    step = walk.next();
  }
  return { members, lastForeign, walkEnd: step.value.end, clean: step.value.clean };
}

function sampleIdOf(member: TarMember): string {
  return member.name.replace(/^\.\//, '').replace(/\.npy$/, '');
}

function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Cuts a shard at `end` and writes a fresh end-of-archive marker there (no-op when already so). */
function endAt(fd: number, end: number, size: number): number {
  if (size === end + END_OF_ARCHIVE.length) {
    if (isZero(readBytes(fd, end, END_OF_ARCHIVE.length))) return 0;
  }
  fs.ftruncateSync(fd, end);
  writeFully(fd, [END_OF_ARCHIVE], end);
  fs.fdatasyncSync(fd);
  return Math.max(0, size - end - END_OF_ARCHIVE.length);
}

/**
 * Brings the `shards` table up to date with the files, under the writer lock:
 *
 * - a committed shard that grew: complete members after its committed end are taken over (the
 *   committed end moves past the last member another writer wrote); what follows (runlake's own
 *   unacknowledged members, a member torn by a killed writer, zero padding) is cut, so that
 *   Python's tarfile reads the shard again;
 * - a shard file the table does not know: adopted when the index refers to it or another writer
 *   wrote a member into it; deleted only when it holds nothing but runlake's own uncommitted
 *   members (a new shard or a compaction target whose commit never happened);
 * - rows that name a member another writer appended to their shard lose their `<field>_size`:
 *   the newer member of that name is what the reference reader returns, and runlake resolves
 *   such rows the same way. So do sized rows of fields whose size guard was just installed
 *   (`newlyGuarded`) and whose member is not the newest of its name.
 *
 * Nothing another writer wrote completely is removed or truncated.
 *
 * @example
 * ```ts
 * takeOverShards(writer.db, 'ds', ['history', 'target'], new Set());
 * ```
 */
export function takeOverShards(
  db: IndexDb,
  root: string,
  fields: readonly string[],
  newlyGuarded: ReadonlySet<string>,
): TakeoverReport {
  let membersTakenOver = 0;
  let shardsAdopted = 0;
  let shardsRemoved = 0;
  let bytesCut = 0;
  let rowsUnverified = 0;
  const columns = sampleColumns(db);
  const upsert = db.prepare(
    'INSERT INTO shards (field, shard, end_offset, members, dead) VALUES (?, ?, ?, ?, 0) ' +
      'ON CONFLICT (field, shard) DO UPDATE SET end_offset = excluded.end_offset, members = excluded.members',
  );
  for (const field of fields) {
    const dir = fieldDir(root, field);
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      continue;
    }
    const c = fieldColumns(field);
    if (!columns.has(c.shard)) continue;
    const known = new Map(
      (
        db.prepare('SELECT shard, end_offset, members FROM shards WHERE field = ?').raw().all(field) as [
          number,
          number,
          number,
        ][]
      ).map(([shard, end, members]) => [shard, { end, members }]),
    );
    const referenced = new Set(
      db
        .prepare(
          `SELECT DISTINCT ${quoteIdent(c.shard)} FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL`,
        )
        .pluck()
        .all() as number[],
    );
    const hasSize = columns.has(c.size);
    const unverify = hasSize
      ? db.prepare(
          `UPDATE samples SET ${quoteIdent(c.size)} = NULL WHERE id = ? AND ${quoteIdent(c.shard)} = ? AND ${quoteIdent(c.size)} IS NOT NULL`,
        )
      : undefined;
    const touched = new Set<number>();
    // Regular files only: runlake never creates anything else here, so a symlink or directory
    // named like a shard is someone else's and is left alone.
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const shard = shardNumber(entry.name);
      if (shard === undefined || !entry.isFile()) continue;
      const file = path.join(dir, entry.name);
      const row = known.get(shard);
      const fd = fs.openSync(file, 'r+');
      try {
        const size = fs.fstatSync(fd).size;
        if (row) {
          if (size < row.end) continue; // verify reports it; appending refuses it
          if (size === row.end + END_OF_ARCHIVE.length && isZero(readBytes(fd, row.end, size - row.end)))
            continue;
          if (size === row.end && size % BLOCK !== 0) continue; // adopted as-is, closed to appends
          const scan = scanFrom(fd, size, row.end, { shard: file, field });
          const taken = scan.members.slice(0, scan.lastForeign + 1);
          const end = taken.length ? (taken[taken.length - 1] as TarMember).end : row.end;
          bytesCut += endAt(fd, end, size);
          if (taken.length) {
            upsert.run(field, shard, end, row.members + taken.length);
            membersTakenOver += taken.length;
            touched.add(shard);
            for (const m of taken) rowsUnverified += unverify?.run(sampleIdOf(m), shard).changes ?? 0;
          }
          continue;
        }
        const scan = scanFrom(fd, size, 0, { shard: file, field });
        if (scan.members.length === 0 && !scan.clean && !referenced.has(shard)) {
          // Not a tar archive we can read from its first block: runlake's own torn first member
          // of a new shard is removed; anything else is someone else's file and left alone.
          if (isRunlakeHeader(readBytes(fd, 0, BLOCK))) {
            fs.closeSync(fd);
            fs.rmSync(file, { force: true });
            shardsRemoved++;
          }
          continue;
        }
        if (scan.lastForeign < 0 && !referenced.has(shard)) {
          fs.closeSync(fd);
          fs.rmSync(file, { force: true });
          shardsRemoved++;
          continue;
        }
        // Another writer's shard: every complete member up to the last one it wrote (all of
        // them, when the index refers to the shard).
        const keep = referenced.has(shard) ? scan.members : scan.members.slice(0, scan.lastForeign + 1);
        const end = keep.length ? (keep[keep.length - 1] as TarMember).end : 0;
        bytesCut += endAt(fd, end, size);
        upsert.run(field, shard, end, keep.length);
        shardsAdopted++;
        touched.add(shard);
        for (const m of keep) rowsUnverified += unverify?.run(sampleIdOf(m), shard).changes ?? 0;
      } finally {
        try {
          fs.closeSync(fd);
        } catch {}
      }
    }
    if (hasSize && newlyGuarded.has(field)) rowsUnverified += unverifyShadowed(db, root, field, touched);
    if (touched.size) {
      // Dead members: those no row points at (older members of updated samples, and members whose
      // writer died before indexing them). Scans walk only shards without any.
      const count = db.prepare(`SELECT count(*) FROM samples WHERE ${quoteIdent(c.shard)} = ?`);
      const setDead = db.prepare(
        'UPDATE shards SET dead = max(0, members - ?) WHERE field = ? AND shard = ?',
      );
      for (const shard of touched) setDead.run(count.pluck().get(shard), field, shard);
      db.prepare('UPDATE fields SET num_shards = max(coalesce(num_shards, 0), ?) WHERE name = ?').run(
        Math.max(...touched) + 1,
        field,
      );
    }
  }
  return { membersTakenOver, shardsAdopted, shardsRemoved, bytesCut, rowsUnverified };
}

/**
 * For a field whose size guard is new: sized rows whose member is not the newest of its name in
 * the shard (another writer repointed or re-wrote them before the guard existed) lose their size.
 * Only shards that hold more members than rows can have such a newer member.
 */
function unverifyShadowed(db: IndexDb, root: string, field: string, skip: ReadonlySet<number>): number {
  const c = fieldColumns(field);
  const shards = db
    .prepare(
      `SELECT s.shard FROM shards s WHERE s.field = ? AND s.members > (SELECT count(*) FROM samples WHERE ${quoteIdent(c.shard)} = s.shard)`,
    )
    .pluck()
    .all(field) as number[];
  let changed = 0;
  const rows = db.prepare(
    `SELECT id, ${quoteIdent(c.offset)} FROM samples WHERE ${quoteIdent(c.shard)} = ? AND ${quoteIdent(c.size)} IS NOT NULL`,
  );
  const clear = db.prepare(`UPDATE samples SET ${quoteIdent(c.size)} = NULL WHERE id = ?`);
  for (const shard of shards) {
    if (skip.has(shard)) continue;
    const file = shardPath(root, field, shard);
    if (!fs.existsSync(file)) continue;
    const fd = fs.openSync(file, 'r');
    try {
      const newest = new Map<string, number>();
      for (const m of walkTar((p, l) => readBytes(fd, p, l), fs.fstatSync(fd).size, { shard: file, field }))
        newest.set(m.name.replace(/^\.\//, ''), m.headerOffset);
      for (const [id, offset] of rows.raw().all(shard) as [string, number][]) {
        const at = newest.get(`${id}.npy`);
        if (at !== undefined && at !== offset) changed += clear.run(id).changes;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return changed;
}

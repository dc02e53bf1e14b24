import fs from 'node:fs';
import path from 'node:path';
import { CompactRefusedError, ShardCorruptionError } from './errors.js';
import {
  fieldColumns,
  guardedFields,
  quoteIdent,
  sampleColumns,
  setLocationSql,
  shardPath,
} from './sqlite-index.js';
import { END_OF_ARCHIVE, membersByName, readMemberAt, type TarMember } from './tar.js';
import { verifyShards } from './verify.js';
import { readBytes, ShardedDatasetWriter, writeFully } from './writer.js';

/**
 * What compaction did to one field.
 *
 * @example
 * ```ts
 * f.bytesBefore - f.bytesAfter; // bytes reclaimed
 * ```
 */
export interface CompactedField {
  readonly field: string;
  readonly shardsRewritten: number;
  readonly shardsRemoved: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}

/**
 * What {@link compactShards} did.
 *
 * @example
 * ```ts
 * compactShards('ds').bytesReclaimed;
 * ```
 */
export interface CompactReport {
  readonly root: string;
  readonly fields: CompactedField[];
  readonly bytesReclaimed: number;
}

/**
 * Rewrites every shard that holds dead bytes (members replaced by `updateSample`, or bytes a
 * foreign writer left) into a new shard holding only its live members, then deletes the old one.
 * Takes the writer lock. Atomic per shard: the new shard is written and fsync'ed under a new shard
 * number, one SQLite transaction repoints its samples and retires the old shard, and only then is
 * the old file deleted; a crash at any point leaves either the old or the new shard indexed, and
 * the next writer deletes the other. Readers keep working throughout.
 *
 * Before anything is written the whole dataset is checked (`PRAGMA quick_check` of the index and
 * {@link verifyShards}): a problem throws {@link CompactRefusedError} and leaves every file as it
 * was. Rows without a verified byte offset (the reference writer's) are resolved as the readers
 * resolve them, the newest member of the name, and get true byte offsets in the new shard.
 *
 * @example
 * ```ts
 * const report = compactShards('my_dataset');
 * console.log(`reclaimed ${report.bytesReclaimed} bytes`);
 * ```
 */
export function compactShards(root: string): CompactReport {
  // Verified under the writer lock and before the writer's own recovery, which may truncate a
  // shard: a dataset compaction cannot read back whole is refused with nothing written.
  const writer = new ShardedDatasetWriter(root, { beforeOpen: checkCompactable });
  try {
    return compactWithWriter(writer);
  } finally {
    writer.close();
  }
}

/**
 * {@link compactShards} with a writer the caller already holds.
 *
 * @example
 * ```ts
 * const report = compactWithWriter(writer);
 * ```
 */
export function compactWithWriter(writer: ShardedDatasetWriter): CompactReport {
  writer.ensureOpen();
  const fields = writer.listFields().map((field) => compactField(writer, field));
  return {
    root: writer.root,
    fields,
    bytesReclaimed: fields.reduce((n, f) => n + f.bytesBefore - f.bytesAfter, 0),
  };
}

/**
 * Throws {@link CompactRefusedError} (or, for a damaged index, `ShardIndexError`) unless compaction can read
 * every live member back at its indexed header offset. Read-only.
 *
 * @example
 * ```ts
 * checkCompactable('ds'); // throws when a shard is corrupt
 * ```
 */
export function checkCompactable(root: string): void {
  const report = verifyShards(root);
  // Rows found by name are fine: compaction resolves them as the readers do.
  const blocking = report.problems;
  const first = blocking[0];
  if (first) throw new CompactRefusedError(root, first.message, blocking.length);
}

interface LiveMember {
  readonly id: string;
  readonly headerOffset: number;
  readonly length: number;
  readonly size: number;
}

function compactField(writer: ShardedDatasetWriter, field: string): CompactedField {
  writer.releaseField(field);
  const db = writer.db;
  const c = fieldColumns(field);
  const hasSize = sampleColumns(db).has(c.size);
  const verified = hasSize && guardedFields(db).has(field);
  const [clearSize, setLocation] = setLocationSql(field);
  const shards = db
    .prepare('SELECT shard, end_offset, members FROM shards WHERE field = ? ORDER BY shard')
    .all(field) as {
    shard: number;
    end_offset: number;
    members: number;
  }[];
  const liveStatement = db
    .prepare(
      `SELECT id, ${quoteIdent(c.offset)}, ${verified ? quoteIdent(c.size) : 'NULL'} FROM samples WHERE ${quoteIdent(c.shard)} = ? ORDER BY 2`,
    )
    .raw();
  let bytesBefore = 0;
  let bytesAfter = 0;
  let shardsRewritten = 0;
  let shardsRemoved = 0;
  for (const row of shards) {
    const file = shardPath(writer.root, field, row.shard);
    if (!fs.existsSync(file)) continue;
    const live = liveStatement.all(row.shard) as [string, number, number | null][];
    const fd = fs.openSync(file, 'r');
    let members: LiveMember[];
    try {
      const readAt = (p: number, l: number) => readBytes(fd, p, l);
      let names: Map<string, TarMember> | undefined;
      members = live.map(([id, offset, size]) => {
        const where = { shard: file, offset, sampleId: id, field };
        // Rows without a verified offset are resolved as the readers resolve them: the newest
        // member of the name.
        let member: TarMember | null | undefined;
        if (size === null) {
          names ??= membersByName(readAt, fs.fstatSync(fd).size, { shard: file, field });
          member = names.get(`${id}.npy`);
        } else member = readMemberAt(readAt, offset, where);
        if (!member || member.name.replace(/^\.\//, '') !== `${id}.npy`)
          throw new ShardCorruptionError(
            where,
            'indexed member not found; run `runlake shards verify` first',
          );
        return {
          id,
          headerOffset: member.headerOffset,
          length: member.end - member.headerOffset,
          size: member.size,
        };
      });
      members.sort((a, b) => a.headerOffset - b.headerOffset);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    const liveBytes = members.reduce((n, m) => n + m.length, 0);
    bytesBefore += row.end_offset;
    if (liveBytes === row.end_offset && members.length === row.members) {
      fs.closeSync(fd);
      bytesAfter += row.end_offset;
      continue;
    }
    const target = members.length > 0 ? writer.allocateShard(field) : undefined;
    const moved: [string, number, number][] = [];
    try {
      if (target !== undefined) {
        const targetFile = shardPath(writer.root, field, target);
        const out = fs.openSync(targetFile, 'w');
        try {
          let position = 0;
          for (const m of members) {
            writeFully(out, [readBytes(fd, m.headerOffset, m.length)], position);
            moved.push([m.id, position, m.size]);
            position += m.length;
          }
          writeFully(out, [END_OF_ARCHIVE], position);
          fs.fdatasyncSync(out);
        } finally {
          fs.closeSync(out);
        }
        syncDir(path.dirname(targetFile));
      }
    } finally {
      fs.closeSync(fd);
    }
    const end = liveBytes;
    // The commit that retires the old shard must be durable before its file is deleted.
    db.pragma('synchronous = FULL');
    try {
      const clear = hasSize ? db.prepare(clearSize) : undefined;
      const repoint = hasSize
        ? db.prepare(setLocation)
        : db.prepare(
            `UPDATE samples SET ${quoteIdent(c.shard)} = ?, ${quoteIdent(c.offset)} = ? WHERE id = ?`,
          );
      db.transaction(() => {
        for (const [id, offset, size] of moved) {
          if (clear) {
            clear.run(id);
            repoint.run(target, offset, size, id);
          } else repoint.run(target, offset, id);
        }
        db.prepare('DELETE FROM shards WHERE field = ? AND shard = ?').run(field, row.shard);
        if (target !== undefined) {
          db.prepare('INSERT INTO shards (field, shard, end_offset, members) VALUES (?, ?, ?, ?)').run(
            field,
            target,
            end,
            moved.length,
          );
          db.prepare('UPDATE fields SET num_shards = max(coalesce(num_shards, 0), ?) WHERE name = ?').run(
            target + 1,
            field,
          );
        }
        db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'location_epoch'").run();
      })();
    } finally {
      db.pragma(`synchronous = ${writer.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    }
    fs.rmSync(file, { force: true });
    syncDir(path.dirname(file));
    bytesAfter += end;
    if (target === undefined) shardsRemoved++;
    else shardsRewritten++;
  }
  return { field, shardsRewritten, shardsRemoved, bytesBefore, bytesAfter };
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {}
}

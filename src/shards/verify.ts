import fs from 'node:fs';
import { RunlakeError } from '../lake/index.js';
import { ShardCorruptionError } from './errors.js';
import { checkIndexFile } from './index-check.js';
import { MAX_NPY_HEADER_BYTES, parseNpyHeader } from './npy.js';
import { isPendingMemberName } from './pending-names.js';
import {
  fieldColumns,
  guardedFields,
  type IndexDb,
  listFieldNames,
  openIndex,
  quoteIdent,
  sampleColumns,
  shardPath,
  tableExists,
} from './sqlite-index.js';
import { END_OF_ARCHIVE, membersByName, readMemberAt, type TarMember } from './tar.js';
import { readBytes } from './writer.js';

/**
 * One problem `verifyShards` found, with where it is.
 *
 * @example
 * ```ts
 * p.file === 'ds/history_shards/shard_0000.tar' && p.offset === 1536;
 * ```
 */
export interface ShardProblem {
  readonly field: string;
  readonly shard: number;
  readonly file: string;
  readonly offset?: number;
  readonly sampleId?: string;
  readonly message: string;
  /**
   * For warnings: `found-by-name` (a row whose offset is not a verified byte offset and not the
   * header of the newest member of its name, e.g. the reference writer's running sums or a stale
   * first member; readers find the newest member by name, `reindex` records its true offset),
   * `shadowed` (a verified row with a newer member of the same name after it, which the
   * reference reader returns instead) or `uncommitted-tail` (bytes after a shard's committed
   * end: another writer's appends, which the next runlake writer takes over, or an interrupted
   * write, which it removes).
   */
  readonly kind?: 'found-by-name' | 'shadowed' | 'pending-name' | 'uncommitted-tail';
}

/**
 * What `verifyShards` checked and found.
 *
 * @example
 * ```ts
 * const report = verifyShards('ds');
 * if (!report.ok) for (const p of report.problems) console.error(p.message);
 * ```
 */
export interface VerifyReport {
  readonly root: string;
  readonly samples: number;
  readonly fields: number;
  readonly shards: number;
  readonly membersChecked: number;
  /** Indexed members that cannot be read back as they are indexed. */
  readonly problems: ShardProblem[];
  /** Harmless findings, e.g. uncommitted bytes a killed writer left (the next writer removes them). */
  readonly warnings: ShardProblem[];
  readonly ok: boolean;
}

/**
 * Checks every indexed member of every field: the tar header checksum, that the member name is
 * `<sample_id>.npy`, that its size matches the index and fits in the shard, and that its npy
 * header parses and its data is as long as the shape needs. Read-only; runs beside a writer.
 *
 * @example
 * ```ts
 * verifyShards('my_dataset').ok; // true
 * ```
 */
export function verifyShards(root: string): VerifyReport {
  // A verification also checks the index itself, not only what it points at.
  checkIndexFile(root, 'read', { integrity: true });
  const db = openIndex(root, 'read');
  try {
    return db.transaction(() => verifyWith(db, root))();
  } finally {
    db.close();
  }
}

function verifyWith(db: IndexDb, root: string): VerifyReport {
  const fields = listFieldNames(db);
  const columns = sampleColumns(db);
  const problems: ShardProblem[] = [];
  const warnings: ShardProblem[] = [];
  const shardsSeen = new Set<string>();
  const nameTables = new Map<string, Map<string, TarMember>>();
  const guarded = guardedFields(db);
  let membersChecked = 0;
  for (const field of fields) {
    const c = fieldColumns(field);
    if (!columns.has(c.shard) || !columns.has(c.offset)) continue;
    const rows = db
      .prepare(
        `SELECT id, ${quoteIdent(c.shard)}, ${quoteIdent(c.offset)}, ${columns.has(c.size) ? quoteIdent(c.size) : 'NULL'} ` +
          `FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL ORDER BY 2, 3`,
      )
      .raw()
      .all() as [string, number, number, number | null][];
    let openShard = -1;
    let fd: number | undefined;
    let fileSize = 0;
    let file = '';
    let openError = '';
    try {
      for (const [sampleId, shard, offset, indexedSize] of rows) {
        if (shard !== openShard) {
          if (fd !== undefined) fs.closeSync(fd);
          fd = undefined;
          openShard = shard;
          file = shardPath(root, field, shard);
          shardsSeen.add(`${field}/${shard}`);
          try {
            fd = fs.openSync(file, 'r');
            fileSize = fs.fstatSync(fd).size;
          } catch (error) {
            openError =
              (error as NodeJS.ErrnoException).code === 'ENOENT'
                ? 'shard file is missing'
                : (error as Error).message;
          }
        }
        membersChecked++;
        const problem = (message: string, at = offset) =>
          problems.push({ field, shard, file, offset: at, sampleId, message });
        if (fd === undefined) {
          problem(`${file} (sample "${sampleId}", field "${field}"): cannot open the shard: ${openError}`);
          continue;
        }
        const handle = fd;
        try {
          const where = { shard: file, offset, sampleId, field };
          const readAt = (p: number, l: number) => readBytes(handle, p, l);
          let names = nameTables.get(file);
          if (!names) {
            names = membersByName(readAt, fileSize, { shard: file, field });
            nameTables.set(file, names);
          }
          const newest = names.get(`${sampleId}.npy`);
          const verified = indexedSize !== null && guarded.has(field);
          let member: TarMember;
          if (verified) {
            // runlake's own offset: the member must be right there.
            const found = readMemberAt(readAt, offset, where);
            if (found === null)
              throw new ShardCorruptionError(where, 'the index points at the end of the archive');
            const pending = isPendingMemberName(found.name, sampleId);
            if (found.name !== `${sampleId}.npy` && !pending)
              throw new ShardCorruptionError(
                where,
                `member is "${found.name}", the index expects "${sampleId}.npy"`,
              );
            member = found;
            if (pending)
              warnings.push({
                kind: 'pending-name',
                field,
                shard,
                file,
                offset,
                sampleId,
                message: `${file} (sample "${sampleId}", field "${field}"): the indexed member still has its pending name "${found.name}" (a writer died after its commit); the reference reader returns the previous array until a runlake writer opens the dataset and renames it`,
              });
            else if (newest && newest.headerOffset !== offset)
              warnings.push({
                kind: 'shadowed',
                field,
                shard,
                file,
                offset,
                sampleId,
                message: `${file} (sample "${sampleId}", field "${field}"): a newer member of the same name at byte ${newest.headerOffset} shadows the indexed one at ${offset}; the reference reader returns the newer one`,
              });
          } else {
            // Not a verified byte offset (the reference writer's running sum, or a row repointed by
            // another writer): readers take the newest member of the name, as tarfile's getmember.
            if (!newest)
              throw new ShardCorruptionError(
                where,
                `no member "${sampleId}.npy" in the shard (the index row is not a verified byte offset, so it is looked up by name)`,
              );
            member = newest;
            if (newest.headerOffset !== offset)
              warnings.push({
                kind: 'found-by-name',
                field,
                shard,
                file,
                offset,
                sampleId,
                message: `${file} (sample "${sampleId}", field "${field}"): the index offset ${offset} is not the header offset of the newest member of that name (${newest.headerOffset}); readers find it by name (\`runlake shards reindex\` records the true offset)`,
              });
          }
          if (indexedSize !== null && member.size !== indexedSize)
            throw new ShardCorruptionError(
              where,
              `member holds ${member.size} bytes, the index says ${indexedSize}`,
            );
          if (member.dataOffset + member.size > fileSize)
            throw new ShardCorruptionError(
              where,
              `member data ends at byte ${member.dataOffset + member.size} but the shard has ${fileSize}`,
            );
          const head = readBytes(handle, member.dataOffset, Math.min(member.size, MAX_NPY_HEADER_BYTES + 12));
          const npy = parseNpyHeader(head, { ...where, offset: member.dataOffset });
          if (npy.dataOffset + npy.dataBytes > member.size)
            problem(
              `${file} @ byte ${member.dataOffset} (sample "${sampleId}", field "${field}"): npy: shape ` +
                `(${npy.shape.join(', ')}) needs ${npy.dataBytes} data bytes but the member holds ${member.size - npy.dataOffset}`,
              member.dataOffset,
            );
        } catch (error) {
          if (!(error instanceof RunlakeError)) throw error;
          problem(error.message);
        }
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  if (tableExists(db, 'shards')) {
    const shardRows = db.prepare('SELECT field, shard, end_offset FROM shards').all() as {
      field: string;
      shard: number;
      end_offset: number;
    }[];
    for (const row of shardRows) {
      const file = shardPath(root, row.field, row.shard);
      shardsSeen.add(`${row.field}/${row.shard}`);
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        continue; // reported above when members live there; an empty retired shard is harmless
      }
      const entry = { field: row.field, shard: row.shard, file, offset: row.end_offset };
      if (size < row.end_offset) {
        problems.push({
          ...entry,
          message: `${file}: truncated: the index commits ${row.end_offset} bytes, the file has ${size}`,
        });
      } else if (size !== row.end_offset + END_OF_ARCHIVE.length || !tailIsZero(file, row.end_offset, size)) {
        warnings.push({
          ...entry,
          kind: 'uncommitted-tail',
          message: `${file}: ${size - row.end_offset} bytes after the committed end (byte ${row.end_offset}) are not a clean end-of-archive marker (another writer's appends, which the next runlake writer takes over, or an interrupted write, which it removes)`,
        });
      }
    }
  }
  return {
    root,
    samples: db.prepare('SELECT count(*) FROM samples').pluck().get() as number,
    fields: fields.length,
    shards: shardsSeen.size,
    membersChecked,
    problems,
    warnings,
    ok: problems.length === 0,
  };
}

function tailIsZero(file: string, from: number, size: number): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const tail = readBytes(fd, from, size - from);
    return tail.every((b) => b === 0);
  } finally {
    fs.closeSync(fd);
  }
}

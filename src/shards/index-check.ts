/**
 * The check every reader and writer runs before it trusts `index.sqlite`. A shard dataset's data
 * lives in the tar shards but only the index says where, so an index that is missing, empty,
 * not SQLite or missing its tables while shard files exist is a damaged store, never an empty
 * one: opening it for writing would create a fresh index and leave every shard unindexed (and the
 * writer's recovery would then treat them as uncommitted).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ShardIndexError } from './errors.js';
import { INDEX_FILE, shardNumber } from './sqlite-index.js';

/** The tables without which an index cannot locate a single member (the seed has both). */
const REQUIRED_TABLES = ['samples', 'fields'] as const;
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** How many shard file names an error lists before "…". */
const NAMED_SHARDS = 2;

/**
 * What {@link checkIndexFile} found: `absent` (no index file; only a writer may create one, and
 * only where no shard files exist), `fresh` (an SQLite file with no tables: a writer killed
 * before its first commit, again only acceptable without shard files) or `ready`.
 *
 * @example
 * ```ts
 * const state: IndexState = checkIndexFile('ds', 'write'); // 'absent' for a new dataset
 * ```
 */
export type IndexState = 'absent' | 'fresh' | 'ready';

/**
 * The shard files below a dataset root (`<field>_shards/shard_NNNN.tar`, relative, sorted),
 * whether or not the index knows them. Symlinks are neither followed nor counted: runlake never
 * creates them, and following one could walk out of the dataset.
 *
 * @example
 * ```ts
 * listShardFiles('ds'); // ['history_shards/shard_0000.tar', 'history_shards/shard_0001.tar']
 * ```
 */
export function listShardFiles(root: string): string[] {
  const found: string[] = [];
  for (const dir of readDirents(root)) {
    if (!dir.isDirectory() || !dir.name.endsWith('_shards')) continue;
    for (const entry of readDirents(path.join(root, dir.name)))
      if (entry.isFile() && shardNumber(entry.name) !== undefined) found.push(`${dir.name}/${entry.name}`);
  }
  return found.sort();
}

function readDirents(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/**
 * Checks `root/index.sqlite` without writing anything (no `-wal`/`-shm` is left behind) and
 * throws {@link ShardIndexError}, naming the file and the cause, when it cannot be trusted:
 *
 * - not an SQLite database, or one SQLite cannot read;
 * - an SQLite database with tables but without `samples` and `fields` (some other database);
 * - for `read`: missing, or empty (0 bytes, no tables);
 * - for `write`: missing or empty while shard files exist (a fresh index would orphan them).
 *
 * `integrity: true` also runs `PRAGMA quick_check` (linear in the index size), which catches a
 * truncated or overwritten index whose first page still looks right; verify and compact use it.
 *
 * @example
 * ```ts
 * checkIndexFile('ds', 'read'); // 'ready', or throws ShardIndexError
 * ```
 */
export function checkIndexFile(
  root: string,
  mode: 'read' | 'write',
  options: { readonly integrity?: boolean } = {},
): IndexState {
  const file = path.join(root, INDEX_FILE);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new ShardIndexError(file, `cannot read the index: ${(error as Error).message}`);
    refuseOverShards(root, file, 'missing');
    if (mode === 'read') throw new ShardIndexError(file, 'missing: not a shard dataset');
    return 'absent';
  }
  if (!stat.isFile()) throw new ShardIndexError(file, 'not a regular file');
  if (stat.size === 0) {
    refuseOverShards(root, file, 'empty (0 bytes)');
    if (mode === 'read') throw new ShardIndexError(file, 'empty (0 bytes): not a shard dataset');
    return 'fresh';
  }
  if (!startsWithMagic(file))
    throw new ShardIndexError(file, 'not an SQLite database (no "SQLite format 3" header)');
  const tables = readTables(file, options.integrity === true);
  if (tables.length === 0) {
    refuseOverShards(root, file, 'an SQLite database with no tables');
    if (mode === 'read') throw new ShardIndexError(file, 'has no tables: not a shard dataset');
    return 'fresh';
  }
  const missing = REQUIRED_TABLES.filter((t) => !tables.includes(t));
  if (missing.length > 0)
    throw new ShardIndexError(
      file,
      `not a shard index: no ${missing.map((t) => `"${t}"`).join(' or ')} table (tables: ${tables.join(', ')})`,
    );
  return 'ready';
}

function refuseOverShards(root: string, file: string, what: string): void {
  const shards = listShardFiles(root);
  if (shards.length === 0) return;
  const named = shards.slice(0, NAMED_SHARDS).join(', ') + (shards.length > NAMED_SHARDS ? ', …' : '');
  throw new ShardIndexError(
    file,
    `index is ${what} but ${shards.length} shard file${shards.length === 1 ? '' : 's'} exist (${named}); ` +
      'restore the index from a backup: runlake will not index an existing store as empty',
  );
}

function startsWithMagic(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(SQLITE_MAGIC.length);
    const read = fs.readSync(fd, head, 0, head.length, 0);
    return read === head.length && head.equals(SQLITE_MAGIC);
  } finally {
    fs.closeSync(fd);
  }
}

function readTables(file: string, integrity: boolean): string[] {
  let db: Database.Database | undefined;
  try {
    db = openQueryOnly(file);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all() as string[];
    if (integrity) {
      const result = db.pragma('quick_check(1)', { simple: true });
      if (result !== 'ok') throw new Error(`integrity check failed: ${String(result)}`);
    }
    return tables;
  } catch (error) {
    throw new ShardIndexError(file, `unreadable SQLite index: ${(error as Error).message}`);
  } finally {
    db?.close();
  }
}

/**
 * Opens an SQLite file for reading so that closing it leaves the directory as it was. A
 * `readonly` connection to a WAL database creates `-wal` and `-shm` and, being unable to
 * checkpoint, leaves them behind; a read-write connection that only reads (`query_only`) deletes
 * them when it is the last one to close. Falls back to `readonly` where the file or its directory
 * is not writable.
 *
 * @example
 * ```ts
 * const db = openQueryOnly('ds/index.sqlite');
 * ```
 */
export function openQueryOnly(file: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (!/^(SQLITE_READONLY|SQLITE_CANTOPEN|SQLITE_PERM|EACCES|EROFS)/.test(code)) throw error;
    return new Database(file, { readonly: true, fileMustExist: true });
  }
  db.pragma('query_only = 1');
  return db;
}

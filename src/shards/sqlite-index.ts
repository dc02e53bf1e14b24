/**
 * The SQLite index of a shard dataset, in the seed's layout: `samples(id, meta_json,
 * <field>_offset, <field>_shard)`, `fields(name, num_shards, base_dir)`, `counters(name, value)`.
 * runlake adds `<field>_size` (the member's data size, so one positioned read fetches header and
 * data), `shards` (the committed end of every shard: the recovery point after a crash) and
 * `indexed_metadata`. `<field>_offset` is where the member's first header block starts, as
 * Python's `TarInfo.offset`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ShardDatasetError, ShardIndexError } from './errors.js';
import { checkIndexFile, listShardFiles, openQueryOnly } from './index-check.js';

/**
 * A better-sqlite3 connection.
 *
 * @example
 * ```ts
 * const db: IndexDb = openIndex('ds', 'read');
 * ```
 */
export type IndexDb = Database.Database;

/**
 * A prepared statement taking any parameters.
 *
 * @example
 * ```ts
 * const count = db.prepare('SELECT count(*) FROM samples') as IndexStatement;
 * ```
 */
export type IndexStatement = Database.Statement<unknown[]>;

/**
 * The index file inside a dataset root.
 *
 * @example
 * ```ts
 * path.join(root, INDEX_FILE); // 'ds/index.sqlite'
 * ```
 */
export const INDEX_FILE = 'index.sqlite';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Field names become column prefixes and directory names, so they must be SQL identifiers.
 *
 * @example
 * ```ts
 * isValidFieldName('history'); // true
 * isValidFieldName('my field'); // false
 * ```
 */
export function isValidFieldName(name: string): boolean {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

/**
 * Quotes an SQL identifier.
 *
 * @example
 * ```ts
 * quoteIdent('history_offset'); // '"history_offset"'
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * The index columns of one field.
 *
 * @example
 * ```ts
 * fieldColumns('history').offset; // 'history_offset'
 * ```
 */
export function fieldColumns(field: string): { offset: string; shard: string; size: string } {
  return { offset: `${field}_offset`, shard: `${field}_shard`, size: `${field}_size` };
}

/**
 * The directory of a field's shards.
 *
 * @example
 * ```ts
 * fieldDir('ds', 'history'); // 'ds/history_shards'
 * ```
 */
export function fieldDir(root: string, field: string): string {
  return path.join(root, `${field}_shards`);
}

/**
 * The path of one shard.
 *
 * @example
 * ```ts
 * shardPath('ds', 'history', 3); // 'ds/history_shards/shard_0003.tar'
 * ```
 */
export function shardPath(root: string, field: string, shard: number): string {
  return path.join(fieldDir(root, field), `shard_${String(shard).padStart(4, '0')}.tar`);
}

/**
 * The shard number of a file name like `shard_0003.tar`, or undefined.
 *
 * @example
 * ```ts
 * shardNumber('shard_0003.tar'); // 3
 * ```
 */
export function shardNumber(fileName: string): number | undefined {
  const match = /^shard_(\d{4,})\.tar$/.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

/**
 * The id `addSample` generates for the n-th sample, as the seed does.
 *
 * @example
 * ```ts
 * formatSampleId(1); // 'sample_000000000001'
 * ```
 */
export function formatSampleId(n: number): string {
  return `sample_${String(n).padStart(12, '0')}`;
}

/**
 * Opens the index of a dataset, after {@link checkIndexFile}: `read` refuses a root without a
 * usable index; `write` creates the root and an index only where no shard files exist, and
 * refuses an index that is empty, not SQLite or missing its tables beside existing shards.
 * Read connections only read (`query_only`), and leave no `-wal`/`-shm` behind when they close.
 *
 * @example
 * ```ts
 * const db = openIndex('ds', 'read');
 * ```
 */
export function openIndex(
  root: string,
  mode: 'read' | 'write',
  synchronous: 'NORMAL' | 'FULL' = 'NORMAL',
): IndexDb {
  const file = path.join(root, INDEX_FILE);
  if (mode === 'read') {
    if (!fs.existsSync(root)) throw new ShardDatasetError(root, 'directory does not exist');
    if (!fs.existsSync(file) && listShardFiles(root).length === 0)
      throw new ShardDatasetError(root, `not a shard dataset (no ${INDEX_FILE})`);
    checkIndexFile(root, 'read');
    let db: IndexDb;
    try {
      db = openQueryOnly(file);
      db.pragma('busy_timeout = 5000');
    } catch (error) {
      throw new ShardIndexError(file, `cannot open the index: ${(error as Error).message}`);
    }
    return db;
  }
  checkIndexFile(root, 'write');
  fs.mkdirSync(root, { recursive: true });
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  // WAL: readers keep a consistent snapshot while the writer commits, and never block it.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('cache_size = -65536');
  return db;
}

/**
 * Creates the seed's tables and runlake's additions if they are missing. Returns true when the
 * `shards` table is new on an index that already had fields: a dataset written by another tool
 * (e.g. the Python seed) whose shard ends must be recovered from the tar files.
 *
 * @example
 * ```ts
 * const needsScan = ensureSchema(db);
 * ```
 */
export function ensureSchema(db: IndexDb): boolean {
  const hadShards = tableExists(db, 'shards');
  const hadFields = tableExists(db, 'fields');
  // One transaction: a writer killed half-way must not leave an index with some tables, which
  // checkIndexFile would (rightly) refuse as damaged.
  db.transaction(() =>
    db.exec(`
    CREATE TABLE IF NOT EXISTS samples (id TEXT PRIMARY KEY, meta_json TEXT);
    CREATE TABLE IF NOT EXISTS fields (name TEXT PRIMARY KEY, num_shards INTEGER, base_dir TEXT);
    CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER);
    INSERT OR IGNORE INTO counters (name, value) VALUES ('sample_id', 0);
    INSERT OR IGNORE INTO counters (name, value) VALUES ('location_epoch', 0);
    CREATE TABLE IF NOT EXISTS shards (
      field TEXT NOT NULL, shard INTEGER NOT NULL, end_offset INTEGER NOT NULL, members INTEGER NOT NULL,
      dead INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (field, shard));
    CREATE TABLE IF NOT EXISTS indexed_metadata (key TEXT PRIMARY KEY, column_name TEXT NOT NULL, type TEXT);
  `),
  )();
  const shardColumns = db.prepare("SELECT name FROM pragma_table_info('shards')").pluck().all() as string[];
  if (!shardColumns.includes('dead'))
    db.exec('ALTER TABLE shards ADD COLUMN dead INTEGER NOT NULL DEFAULT 0');
  return !hadShards && hadFields && listFieldNames(db).length > 0;
}

/**
 * Whether a table exists.
 *
 * @example
 * ```ts
 * tableExists(db, 'shards');
 * ```
 */
export function tableExists(db: IndexDb, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/**
 * The column names of `samples`.
 *
 * @example
 * ```ts
 * sampleColumns(db).has('history_offset');
 * ```
 */
export function sampleColumns(db: IndexDb): Set<string> {
  return new Set(
    (db.prepare('SELECT name FROM pragma_table_xinfo(?)').all('samples') as { name: string }[]).map(
      (r) => r.name,
    ),
  );
}

/**
 * The registered fields, in registration order.
 *
 * @example
 * ```ts
 * listFieldNames(db); // ['history', 'target']
 * ```
 */
export function listFieldNames(db: IndexDb): string[] {
  if (!tableExists(db, 'fields')) return [];
  return db.prepare('SELECT name FROM fields ORDER BY rowid').pluck().all() as string[];
}

/**
 * A counter from the `counters` table (0 when absent, e.g. in an index written by the seed).
 *
 * @example
 * ```ts
 * readCounter(db, 'location_epoch');
 * ```
 */
export function readCounter(db: IndexDb, name: string): number {
  if (!tableExists(db, 'counters')) return 0;
  const value = db.prepare('SELECT value FROM counters WHERE name = ?').pluck().get(name);
  return typeof value === 'number' ? value : Number(value ?? 0);
}

/**
 * The name of the trigger that keeps a field's `<field>_size` honest (see
 * {@link ensureLocationTrigger}).
 *
 * @example
 * ```ts
 * locationTriggerName('history'); // 'runlake_history_location'
 * ```
 */
export function locationTriggerName(field: string): string {
  return `runlake_${field}_location`;
}

/**
 * Installs the trigger that makes `<field>_size` mean "`<field>_offset` is a byte offset runlake
 * verified": any UPDATE that sets the offset or shard without also changing the size (what the
 * reference writer's `update_sample`/`write_shard` do, whose offsets are not byte offsets) clears
 * the size, so readers resolve that row by member name, as the reference reader does. runlake's
 * own repointing clears the size first and then sets all three columns (see
 * {@link setLocationSql}), which the trigger lets through. Python's `sqlite3` runs the trigger
 * too, so the guarantee holds whoever writes.
 *
 * @example
 * ```ts
 * ensureLocationTrigger(db, 'history');
 * ```
 */
export function ensureLocationTrigger(db: IndexDb, field: string): boolean {
  const name = locationTriggerName(field);
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?").get(name)) return false;
  const c = fieldColumns(field);
  const [o, s, z] = [quoteIdent(c.offset), quoteIdent(c.shard), quoteIdent(c.size)];
  db.exec(
    `CREATE TRIGGER IF NOT EXISTS ${quoteIdent(name)} AFTER UPDATE OF ${o}, ${s} ON samples ` +
      `WHEN NEW.${z} IS NOT NULL AND NEW.${z} IS OLD.${z} ` +
      `BEGIN UPDATE samples SET ${z} = NULL WHERE id = NEW.id; END`,
  );
  return true;
}

/**
 * The fields whose `<field>_size` is guarded by {@link ensureLocationTrigger}: for them a row with
 * a size holds a byte offset runlake verified.
 *
 * @example
 * ```ts
 * guardedFields(db).has('history');
 * ```
 */
export function guardedFields(db: IndexDb): Set<string> {
  const names = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'runlake\\_%\\_location' ESCAPE '\\'",
    )
    .pluck()
    .all() as string[];
  return new Set(names.map((n) => n.slice('runlake_'.length, -'_location'.length)));
}

/**
 * The two statements that repoint a sample's member of one field to a verified byte offset:
 * clear the size, then set shard, offset and size (parameters: shard, offset, size, id), so that
 * the guard trigger sees a changed size and keeps it.
 *
 * @example
 * ```ts
 * const [clear, set] = setLocationSql('history');
 * db.prepare(clear).run(id); db.prepare(set).run(shard, offset, size, id);
 * ```
 */
export function setLocationSql(field: string): [string, string] {
  const c = fieldColumns(field);
  return [
    `UPDATE samples SET ${quoteIdent(c.size)} = NULL WHERE id = ?`,
    `UPDATE samples SET ${quoteIdent(c.shard)} = ?, ${quoteIdent(c.offset)} = ?, ${quoteIdent(c.size)} = ? WHERE id = ?`,
  ];
}

/**
 * What `fields.base_dir` holds for a field: the absolute path of its shard directory, as the
 * reference writer stores it (its writer uses the path as is, from whatever directory it runs
 * in; its reader uses only the last component).
 *
 * @example
 * ```ts
 * baseDirOf('ds', 'history'); // '/abs/path/ds/history_shards'
 * ```
 */
export function baseDirOf(root: string, field: string): string {
  return path.resolve(fieldDir(root, field));
}

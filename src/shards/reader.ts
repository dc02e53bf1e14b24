import fs from 'node:fs';
import path from 'node:path';
import { RunlakeError } from '../lake/index.js';
import {
  MissingFieldError,
  MissingShardError,
  ShardCorruptionError,
  type ShardLocation,
  ShardsQueryError,
  TruncatedShardError,
  UnknownFieldError,
  UnknownSampleError,
} from './errors.js';
import { parseMetaJson, type SampleMetadata } from './meta-json.js';
import { decodeNpy, decodeNpyFast, type NdArray, NpyHeaderCache } from './npy.js';
import { isPendingMemberName } from './pending-names.js';
import {
  fieldColumns,
  guardedFields,
  INDEX_FILE,
  type IndexDb,
  type IndexStatement,
  listFieldNames,
  openIndex,
  quoteIdent,
  readCounter,
  sampleColumns,
  shardPath,
  tableExists,
} from './sqlite-index.js';
import {
  BLOCK,
  membersByName,
  paddedSize,
  parseHeaderBlock,
  plainHeaderSize,
  plainMemberId,
  plainMemberMatches,
  readMemberAt,
  type TarMember,
} from './tar.js';
import { readBytes } from './writer.js';

/**
 * Options of {@link ShardedDatasetReader}.
 *
 * @example
 * ```ts
 * new ShardedDatasetReader('ds', { cacheTars: false }); // one sequential pass, few open files
 * ```
 */
export interface ShardedDatasetReaderOptions {
  /** Keep shard files open between reads (default true; at most 256 stay open). */
  readonly cacheTars?: boolean;
  /**
   * How sample locations are looked up. `preload` (default): the whole index is loaded into
   * memory on first use when it has at most `preloadLimit` samples, else as `lazy`. `lazy`:
   * each sample's index row is cached after its first lookup. `off`: one SQLite query per sample.
   * Cached rows are dropped whenever a writer repoints existing samples (see docs/shards.md).
   */
  readonly indexCache?: 'preload' | 'lazy' | 'off';
  /** Largest index `preload` loads whole (default 2,000,000 samples). */
  readonly preloadLimit?: number;
  /**
   * runlake's stricter semantics instead of the Python package's (see docs/shards.md,
   * "Compatibility with synthefy-dataset-utils"). Off (default): `getSample`/`getMany` skip a
   * requested field the dataset or the sample lacks, and `[]` means every field; `queryIds`
   * appends the condition verbatim (`ORDER BY`, `LIMIT` may follow it), returns ids in the order
   * SQLite produces them (id order for a plain scan) and treats `limit: 0` as no limit;
   * `listFields` is alphabetical. On: unknown and missing fields throw `UnknownFieldError` /
   * `MissingFieldError`, `[]` selects no field, the condition is one parenthesised expression,
   * ids come in insertion order, `limit: 0` returns none, and fields are in registration order.
   */
  readonly strict?: boolean;
}

/**
 * One sample: its arrays by field and its metadata.
 *
 * @example
 * ```ts
 * const { arrays, metadata } = reader.getSample('sample_000000000001');
 * ```
 */
export interface Sample {
  readonly sampleId: string;
  readonly arrays: Record<string, NdArray>;
  /** Usually an object; the Python writer may store any JSON value, returned as it is. */
  readonly metadata: SampleMetadata;
}

/**
 * One array of a {@link ShardedDatasetReader.scanField} pass.
 *
 * @example
 * ```ts
 * for (const { sampleId, array } of reader.scanField('history')) use(sampleId, array.data);
 * ```
 */
export interface ScannedArray {
  readonly sampleId: string;
  readonly array: NdArray;
}

type Row = unknown[]; // [meta_json, shard, offset, size] per field, in this.fields order

const MAX_OPEN_SHARDS = 256;
const BATCH = 32;
const LAZY_CACHE_MAX = 2_000_000;

/** Bytes of one getMany arena: members of a batch are read into shared 1 MiB buffers. */
const ARENA_BYTES = 1 << 20;

/**
 * Reads a shard dataset written by {@link ShardedDatasetWriter} or by the Python seed (`tarfile` +
 * `numpy.save` + `sqlite3`). Each read sees the index as last committed; a sample is read with
 * one positioned read per field, straight from the byte offset in the index, and checked (tar
 * header checksum, member name, sizes, npy header) before it is returned.
 *
 * @example
 * ```ts
 * const reader = new ShardedDatasetReader('my_dataset');
 * console.log(reader.size, reader.listFields());
 * const { arrays, metadata } = reader.getSample('sample_000000000001', ['history']);
 * const ids = reader.queryIds("json_extract(meta_json, '$.length') > ?", [128]);
 * reader.close();
 * ```
 */
export class ShardedDatasetReader {
  readonly root: string;
  private readonly db: IndexDb;
  private readonly cacheTars: boolean;
  private readonly indexCache: 'preload' | 'lazy' | 'off';
  private readonly preloadLimit: number;
  private readonly strict: boolean;
  private fields: string[] = [];
  private fieldIndex = new Map<string, number>();
  private lookupStatement!: IndexStatement;
  private readonly dataVersion: IndexStatement;
  private version = -1;
  private epoch = -1;
  private cache = new Map<string, Row>();
  private preloaded = false;
  /** Name tables of shards whose index rows hold no header offsets (see memberByName). */
  private readonly nameTables = new Map<string, { size: number; members: Map<string, TarMember> }>();
  /**
   * Per field (by index): whether a row with a `<field>_size` holds a byte offset runlake
   * verified (the field's size guard trigger exists; see `ensureLocationTrigger`). Other rows are
   * resolved by member name, as the reference reader resolves every row.
   */
  private verified: boolean[] = [];
  /**
   * @internal How members were located since the reader opened: `fast` (one positioned read at a
   * verified offset), `careful` (at a verified offset, the slow checks), `byName` (the newest
   * member of the sample's name in its shard).
   */
  readonly readPaths = { fast: 0, careful: 0, byName: 0 };
  private readonly fds = new Map<string, number>();
  /** The batch arena of {@link readBuffer}, set only while getMany reads. */
  private arena: { buffer: Buffer; used: number } | null = null;
  /** The same open files by field and shard number, for lookups that build no key string. */
  private readonly fdsByField = new Map<string, (number | undefined)[]>();
  private readonly headerCaches = new Map<string, NpyHeaderCache>();
  private probe:
    | {
        file: string;
        fd: number;
        position: number;
        scratch: Buffer;
        words: Uint32Array;
        last: Uint32Array;
        valid: boolean;
      }
    | undefined;
  private closed = false;

  constructor(root: string, options: ShardedDatasetReaderOptions = {}) {
    this.root = root;
    this.cacheTars = options.cacheTars ?? true;
    this.indexCache = options.indexCache ?? 'preload';
    this.preloadLimit = options.preloadLimit ?? 2_000_000;
    this.strict = options.strict ?? false;
    this.db = openIndex(root, 'read');
    this.dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.sync();
  }

  /**
   * Number of samples in the index.
   *
   * @example
   * ```ts
   * reader.size; // 10000
   * ```
   */
  get size(): number {
    this.ensureOpen();
    return this.db.prepare('SELECT count(*) FROM samples').pluck().get() as number;
  }

  /**
   * The fields: alphabetical, as the Python reader lists them (SQLite walks the `fields` primary
   * key); in registration order with `strict`.
   *
   * @example
   * ```ts
   * reader.listFields(); // ['forecast', 'history', 'target']
   * ```
   */
  listFields(): string[] {
    this.ensureOpen();
    this.sync();
    return this.strict ? [...this.fields] : [...this.fields].sort(byCodeUnit);
  }

  /**
   * Runs one read-only SQL statement on the index and returns its rows as objects: raw access for
   * what `queryIds` does not cover (aggregates over `meta_json`, joins with `fields`, checking an
   * index with `EXPLAIN QUERY PLAN`). Parameters bind as in {@link queryIds}. The connection is
   * query-only: statements that write throw {@link ShardsQueryError} (use the writer's `sql`).
   *
   * @example
   * ```ts
   * reader.sql("SELECT json_extract(meta_json, '$.source') AS source, count(*) AS n FROM samples GROUP BY 1");
   * ```
   */
  sql(sql: string, params: readonly unknown[] | Record<string, unknown> = []): Record<string, unknown>[] {
    this.ensureOpen();
    try {
      const statement = this.db.prepare(sql);
      const bound = bindParams(params);
      if (!statement.reader) throw new Error('only statements that return rows are allowed on a reader');
      return (Array.isArray(bound) ? statement.all(...bound) : statement.all(bound)) as Record<
        string,
        unknown
      >[];
    } catch (error) {
      throw new ShardsQueryError(sql, error);
    }
  }

  /**
   * How many samples each shard of a field holds: `{shardId: count}`.
   *
   * @example
   * ```ts
   * reader.shardCounts('history'); // { 0: 1000, 1: 1000, 2: 17 }
   * ```
   */
  shardCounts(field: string): Record<number, number> {
    this.ensureOpen();
    this.sync();
    this.checkField(field);
    const c = fieldColumns(field);
    const rows = this.db
      .prepare(
        `SELECT ${quoteIdent(c.shard)}, count(*) FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL GROUP BY 1 ORDER BY 1`,
      )
      .raw()
      .all() as [number, number][];
    return Object.fromEntries(rows);
  }

  /**
   * Sample ids matching an SQL condition over the `samples` table (columns `id`, `meta_json`,
   * `<field>_offset`, `<field>_shard`, `<field>_size` and any indexed metadata columns). As the
   * Python reader does, the condition is appended verbatim (`'1=1 ORDER BY id DESC'` works), the
   * order is SQLite's (id order for a plain scan), and `limit` 0 or negative means no limit. Parameters
   * bind as Python's sqlite3 binds them: whole numbers as INTEGER (so `id = ?` with `123` finds
   * `'123'`), booleans as 1/0. With the reader's `strict` option: one parenthesised condition,
   * insertion order, and `limit` 0 returns no ids.
   *
   * @example
   * ```ts
   * reader.queryIds(); // all ids
   * reader.queryIds('forecast_offset IS NOT NULL');
   * reader.queryIds("json_extract(meta_json, '$.length') > ?", [128], 100);
   * ```
   */
  queryIds(
    where?: string,
    params: readonly unknown[] | Record<string, unknown> = [],
    limit?: number,
  ): string[] {
    this.ensureOpen();
    // SQLite reads a negative LIMIT as no limit, and the Python reader passes it through; strict
    // mode refuses it as the mistake it usually is.
    if (limit !== undefined && (!Number.isSafeInteger(limit) || (this.strict && limit < 0)))
      throw new RunlakeError(`limit must be a${this.strict ? ' non-negative' : 'n'} integer, got ${limit}`);
    const sql = this.strict
      ? `SELECT id FROM samples${where?.trim() ? ` WHERE (${where})` : ''} ORDER BY rowid${limit === undefined ? '' : ` LIMIT ${limit}`}`
      : `SELECT id FROM samples${where ? ` WHERE ${where}` : ''}${limit ? ` LIMIT ${limit}` : ''}`;
    try {
      const statement = this.db.prepare(sql).pluck();
      const bound = bindParams(params);
      return (Array.isArray(bound) ? statement.all(...bound) : statement.all(bound)) as string[];
    } catch (error) {
      throw new ShardsQueryError(sql, error);
    }
  }

  /**
   * Loads one sample: every field it has (or only `fields`) and its metadata. Throws
   * {@link UnknownSampleError}, {@link UnknownFieldError}, {@link MissingFieldError} (a requested
   * field the sample has no array for), {@link ShardCorruptionError} or `NpyFormatError`.
   *
   * @example
   * ```ts
   * const { arrays, metadata } = reader.getSample('sample_000000000001', ['history']);
   * arrays.history.shape; // [100]
   * ```
   */
  getSample(sampleId: string, fields?: readonly string[]): Sample {
    this.ensureOpen();
    this.sync();
    try {
      return this.read(sampleId, this.lookup(sampleId), fields);
    } catch (error) {
      if (!(error instanceof MissingShardError)) throw error;
      // A compaction replaced the shard after this reader cached its location: re-read the index.
      this.invalidate();
      return this.read(sampleId, this.lookup(sampleId), fields);
    }
  }

  /**
   * Loads several samples (in the order given) from one index snapshot.
   *
   * @example
   * ```ts
   * for (const { arrays } of reader.getMany(ids.slice(0, 128), ['history', 'target'])) train(arrays);
   * ```
   */
  getMany(sampleIds: readonly string[], fields?: readonly string[]): Sample[] {
    this.ensureOpen();
    this.sync();
    // One read transaction for index lookups; a preloaded index answers from memory without one.
    const lookupAll = () => sampleIds.map((id) => this.lookup(id));
    const rows = this.preloaded ? lookupAll() : this.db.transaction(lookupAll)();
    this.arena = { buffer: Buffer.allocUnsafeSlow(ARENA_BYTES), used: 0 };
    try {
      return sampleIds.map((id, i) => {
        try {
          return this.read(id, rows[i] as Row, fields);
        } catch (error) {
          if (!(error instanceof MissingShardError)) throw error;
          this.invalidate();
          return this.read(id, this.lookup(id), fields);
        }
      });
    } finally {
      this.arena = null;
    }
  }

  /**
   * Every array of one field in shard order, read in large sequential chunks: the fast path for
   * a full pass. Arrays are views of the chunk they were read in.
   *
   * @example
   * ```ts
   * let total = 0;
   * for (const { array } of reader.scanField('history')) total += array.data.length;
   * ```
   */
  scanField(field: string, options: { readonly chunkBytes?: number } = {}): IterableIterator<ScannedArray> {
    this.ensureOpen();
    this.sync();
    this.checkField(field);
    // Members come in batches (one per chunk read); this flat iterator hands them out without a
    // generator resumption per array.
    const batches = this.scanBatches(field, options);
    let batch: ScannedArray[] = [];
    let index = 0;
    const iterator: IterableIterator<ScannedArray> = {
      next(): IteratorResult<ScannedArray> {
        while (index >= batch.length) {
          const step = batches.next();
          if (step.done) return { value: undefined, done: true };
          batch = step.value;
          index = 0;
        }
        return { value: batch[index++] as ScannedArray, done: false };
      },
      return(): IteratorResult<ScannedArray> {
        batches.return(undefined);
        return { value: undefined, done: true };
      },
      [Symbol.iterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  private *scanBatches(field: string, options: { readonly chunkBytes?: number }): Generator<ScannedArray[]> {
    const chunkBytes = Math.max(options.chunkBytes ?? 8 * 1024 * 1024, 64 * 1024);
    const c = fieldColumns(field);
    let cache = this.headerCaches.get(field);
    if (!cache) {
      cache = new NpyHeaderCache();
      this.headerCaches.set(field, cache);
    }
    // One snapshot for the shard list and the rows of the shards that need them.
    const { clean, rows } = this.db.transaction(() => {
      const columns = sampleColumns(this.db);
      const shardRows =
        tableExists(this.db, 'shards') &&
        (this.db.prepare("SELECT name FROM pragma_table_info('shards')").pluck().all() as string[]).includes(
          'dead',
        )
          ? (this.db
              .prepare('SELECT shard, end_offset, members, dead FROM shards WHERE field = ? ORDER BY shard')
              .raw()
              .all(field) as [number, number, number, number][])
          : undefined;
      // Sizes count only where the field's guard keeps them honest (see `verified`).
      const sized = columns.has(c.size) && this.verified[this.fieldIndex.get(field) ?? -1] === true;
      // A shard is walked member by member only when every member is live and every row in it
      // holds a verified offset: another writer's rows (no size) or members (appended past the
      // committed end) would otherwise be missed or read stale.
      const counts = new Map<number, [number, number]>();
      if (sized && shardRows)
        for (const [shard, all, withSize] of this.db
          .prepare(
            `SELECT ${quoteIdent(c.shard)}, count(*), count(${quoteIdent(c.size)}) FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL GROUP BY 1`,
          )
          .raw()
          .all() as [number, number, number][])
          counts.set(shard, [all, withSize]);
      const cleanShards = (shardRows ?? []).filter((r) => {
        const n = counts.get(r[0]);
        return r[3] === 0 && n !== undefined && n[0] === r[2] && n[1] === r[2];
      });
      const select =
        `SELECT id, ${quoteIdent(c.shard)}, ${quoteIdent(c.offset)}, ${sized ? quoteIdent(c.size) : 'NULL'} ` +
        `FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL`;
      const walked = cleanShards.map((r) => r[0]);
      const rows = walked.length
        ? this.db
            .prepare(
              `${select} AND ${quoteIdent(c.shard)} NOT IN (${walked.map(() => '?').join(', ')}) ORDER BY 2, 3`,
            )
            .raw()
            .all(...walked)
        : this.db.prepare(`${select} ORDER BY 2, 3`).raw().all();
      return { clean: cleanShards, rows: rows as [string, number, number, number | null][] };
    })();
    // Shards whose members are all live are walked header by header; the others follow the index.
    let r = 0;
    for (const [shard, end, members] of clean) {
      const before = r;
      while (r < rows.length && (rows[r] as [string, number, number, number | null])[1] < shard) r++;
      if (r > before) yield* this.scanRows(field, rows.slice(before, r), chunkBytes, cache);
      yield* this.walkShard(field, shard, end, members, chunkBytes, cache);
    }
    if (r < rows.length) yield* this.scanRows(field, rows.slice(r), chunkBytes, cache);
  }

  /** Members of a shard with no dead bytes, read in chunks and split by their own tar headers. */
  private *walkShard(
    field: string,
    shard: number,
    end: number,
    members: number,
    chunkBytes: number,
    cache: NpyHeaderCache,
  ): Generator<ScannedArray[]> {
    const file = shardPath(this.root, field, shard);
    const fd = this.fd(field, shard, file, { shard: file, field });
    try {
      let position = 0;
      let count = 0;
      while (position < end) {
        const want = Math.min(chunkBytes, end - position);
        const chunk = readBytes(fd, position, want) as Buffer;
        if (chunk.length < want)
          throw new TruncatedShardError(
            { shard: file, offset: position, field },
            position + want,
            position + chunk.length,
          );
        let at = 0;
        const batch: ScannedArray[] = [];
        while (at < chunk.length) {
          const size = plainHeaderSize(chunk, at);
          const dataEnd = at + BLOCK + size;
          if (size < 0 || dataEnd > chunk.length) {
            if (size >= 0 && at > 0) break; // re-read from this member
            // An extended header, a member larger than the chunk, or damage: one member at a time.
            const where = { shard: file, offset: position + at, field };
            const member = readMemberAt((p, l) => readBytes(fd, p, l), position + at, where);
            if (member === null || member.end > end)
              throw new ShardCorruptionError(
                where,
                'expected a member before the committed end of the shard',
              );
            const sampleId = member.name.replace(/\.npy$/, '');
            const data = readBytes(fd, member.dataOffset, member.size);
            if (data.length < member.size)
              throw new TruncatedShardError(
                where,
                member.dataOffset + member.size,
                member.dataOffset + data.length,
              );
            batch.push({
              sampleId,
              array: decodeNpy(data, { ...where, offset: member.dataOffset, sampleId }),
            });
            count++;
            at = member.end - position;
            break;
          }
          const sampleId = plainMemberId(chunk, at);
          const array =
            decodeNpyFast(chunk, at + BLOCK, size, cache) ??
            decodeNpy(chunk.subarray(at + BLOCK, dataEnd), {
              shard: file,
              offset: position + at + BLOCK,
              sampleId,
              field,
            });
          batch.push({ sampleId, array });
          count++;
          at += BLOCK + paddedSize(size);
          // Small batches die young: a long-lived batch would be promoted by a scavenge mid-way.
          if (batch.length >= BATCH) yield batch.splice(0);
        }
        if (batch.length) yield batch;
        position += at;
      }
      if (count !== members || position !== end)
        throw new ShardCorruptionError(
          { shard: file, field },
          `found ${count} members ending at byte ${position}; the index commits ${members} ending at ${end}`,
        );
    } finally {
      if (!this.cacheTars) this.closeFd(field, shard);
    }
  }

  /** Members located by index rows (sorted by shard and offset), read in chunks of neighbours. */
  private *scanRows(
    field: string,
    rows: readonly [string, number, number, number | null][],
    chunkBytes: number,
    cache: NpyHeaderCache,
  ): Generator<ScannedArray[]> {
    let i = 0;
    while (i < rows.length) {
      const [firstId, shard, start, firstSize] = rows[i] as [string, number, number, number | null];
      if (firstSize === null) {
        yield [{ sampleId: firstId, array: this.readArray(field, shard, start, null, firstId) }];
        i++;
        continue;
      }
      let end = start + BLOCK + firstSize;
      let j = i + 1;
      for (; j < rows.length; j++) {
        const [, s, offset, size] = rows[j] as [string, number, number, number | null];
        if (s !== shard || size === null || offset + BLOCK + size - start > chunkBytes) break;
        end = Math.max(end, offset + BLOCK + size);
      }
      const file = shardPath(this.root, field, shard);
      const fd = this.fd(field, shard, file, { shard: file, field, offset: start });
      let chunk: Buffer;
      try {
        chunk = readBytes(fd, start, end - start) as Buffer;
      } finally {
        if (!this.cacheTars) this.closeFd(field, shard);
      }
      const batch: ScannedArray[] = [];
      for (let k = i; k < j; k++) {
        const [id, , offset, size] = rows[k] as [string, number, number, number];
        const at = offset - start;
        const array =
          at + BLOCK + size <= chunk.length && plainMemberMatches(chunk, id, size, at)
            ? decodeNpyFast(chunk, at + BLOCK, size, cache)
            : null;
        batch.push({ sampleId: id, array: array ?? this.readArrayCarefully(field, shard, offset, size, id) });
        if (batch.length >= BATCH) yield batch.splice(0);
      }
      if (batch.length) yield batch;
      i = j;
    }
  }

  /**
   * Closes the index and every open shard file.
   *
   * @example
   * ```ts
   * reader.close();
   * ```
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
    this.fdsByField.clear();
    this.nameTables.clear();
    this.closeProbe();
    this.db.close();
  }

  // -------------------------------------------------------------------------------------------

  private ensureOpen(): void {
    if (this.closed) throw new RunlakeError(`reader of ${this.root} is closed`);
  }

  private checkField(field: string): void {
    if (!this.fieldIndex.has(field)) throw new UnknownFieldError(this.root, field, this.fields);
  }

  /**
   * Revalidates the cached index when another connection committed: new fields re-prepare the
   * lookup; a changed location epoch (updates, compaction) drops the cached rows. Appends only add
   * rows, so cached rows stay valid across them.
   */
  private sync(): void {
    const probe = this.probe;
    let probed = false;
    if (probe) {
      const n = fs.readSync(probe.fd, probe.scratch, 0, probe.scratch.length, probe.position);
      if (n === probe.scratch.length) {
        const { words, last } = probe;
        let same = probe.valid;
        for (let i = 0; same && i < words.length; i++) same = words[i] === last[i];
        if (same) return;
        // Taken before the query below, so a commit racing this sync still shows next time.
        last.set(words);
        probed = true;
      }
    }
    const version = this.dataVersion.get() as number;
    if (probe) probe.valid = probed;
    if (version === this.version) return;
    this.version = version;
    this.selectProbe();
    const [epoch, fields, guarded] = this.db.transaction(
      () =>
        [readCounter(this.db, 'location_epoch'), listFieldNames(this.db), guardedFields(this.db)] as const,
    )();
    const verified = fields.map((f) => guarded.has(f));
    if (verified.join() !== this.verified.join()) {
      // A writer installed a size guard: rows cached before may predate it.
      this.cache.clear();
      this.preloaded = false;
    }
    this.verified = verified;
    if (fields.join('\0') !== this.fields.join('\0')) {
      this.fields = fields;
      this.fieldIndex = new Map(fields.map((f, i) => [f, i]));
      const columns = sampleColumns(this.db);
      const select = fields.flatMap((f) => {
        const c = fieldColumns(f);
        return [c.shard, c.offset, c.size].map((name) => (columns.has(name) ? quoteIdent(name) : 'NULL'));
      });
      this.lookupStatement = this.db
        .prepare(`SELECT meta_json${select.map((s) => `, ${s}`).join('')} FROM samples WHERE id = ?`)
        .raw();
      this.cache.clear();
      this.preloaded = false;
    } else if (epoch !== this.epoch) {
      this.cache.clear();
    }
    this.epoch = epoch;
  }

  /**
   * Picks the cheap change detector: in WAL mode the WAL-index header at the start of the `-shm`
   * file (its change counter, frame count and salts move on every commit; SQLite's documented
   * WAL-index format), else the file change counter and version bytes of the database header.
   * One small pread replaces a `PRAGMA data_version` round trip on every call.
   */
  private selectProbe(): void {
    const mode = String(this.db.pragma('journal_mode', { simple: true })).toLowerCase();
    const file = path.join(this.root, mode === 'wal' ? `${INDEX_FILE}-shm` : INDEX_FILE);
    if (this.probe?.file === file) return;
    this.closeProbe();
    try {
      const fd = fs.openSync(file, 'r');
      // WAL-index header (48 bytes), or database header bytes 16-27: page size, format versions
      // (which change when the journal mode does) and the file change counter.
      const [position, length] = mode === 'wal' ? [0, 48] : [16, 12];
      const scratch = Buffer.alloc(length);
      const words = new Uint32Array(scratch.buffer, scratch.byteOffset, length / 4);
      this.probe = { file, fd, position, scratch, words, last: new Uint32Array(length / 4), valid: false };
    } catch {
      // No -shm to look at (e.g. a read-only directory): ask SQLite on every call instead.
    }
  }

  private closeProbe(): void {
    if (this.probe) fs.closeSync(this.probe.fd);
    this.probe = undefined;
  }

  private invalidate(): void {
    this.version = -1;
    this.cache.clear();
    this.sync();
  }

  private lookup(sampleId: string): Row {
    if (this.indexCache !== 'off') {
      const cached = this.cache.get(sampleId);
      if (cached) return cached;
      if (this.indexCache === 'preload' && !this.preloaded) {
        this.preload();
        const row = this.cache.get(sampleId);
        if (row) return row;
      }
    }
    const row = this.lookupStatement.get(sampleId) as Row | undefined;
    if (!row) throw new UnknownSampleError(this.root, sampleId);
    if (this.indexCache !== 'off') {
      if (this.cache.size >= LAZY_CACHE_MAX) this.cache.clear();
      this.cache.set(sampleId, row);
    }
    return row;
  }

  private preload(): void {
    this.preloaded = true;
    const count = this.db.prepare('SELECT count(*) FROM samples').pluck().get() as number;
    if (count > this.preloadLimit) return;
    const columns = sampleColumns(this.db);
    const select = this.fields.flatMap((f) => {
      const c = fieldColumns(f);
      return [c.shard, c.offset, c.size].map((name) => (columns.has(name) ? quoteIdent(name) : 'NULL'));
    });
    const rows = this.db
      .prepare(`SELECT id, meta_json${select.map((s) => `, ${s}`).join('')} FROM samples`)
      .raw()
      .iterate() as IterableIterator<unknown[]>;
    for (const row of rows) this.cache.set(row[0] as string, row.slice(1));
  }

  private read(sampleId: string, row: Row, fields: readonly string[] | undefined): Sample {
    const arrays: Record<string, NdArray> = {};
    // The Python reader: `fields or <every field>`, so [] means every field.
    const explicit = this.strict ? fields !== undefined : fields !== undefined && fields.length > 0;
    const wanted = explicit ? (fields as readonly string[]) : this.fields;
    for (const field of wanted) {
      const index = this.fieldIndex.get(field);
      if (index === undefined) {
        if (this.strict) throw new UnknownFieldError(this.root, field, this.fields);
        continue; // the Python reader skips a field the samples table has no columns for
      }
      const shard = row[1 + 3 * index];
      const offset = row[2 + 3 * index];
      if (shard === null || shard === undefined || offset === null || offset === undefined) {
        if (explicit && this.strict) throw new MissingFieldError(sampleId, field);
        continue;
      }
      // A size is only trusted where the field's guard keeps it honest; other rows are found by
      // name (readArrayCarefully).
      const size = this.verified[index] ? row[3 + 3 * index] : null;
      arrays[field] = this.readArray(
        field,
        Number(shard),
        Number(offset),
        size === null || size === undefined ? null : Number(size),
        sampleId,
      );
    }
    return new LoadedSample(sampleId, arrays, row[0]);
  }

  /**
   * One positioned read of header + data; a plain member whose header checks out (checksum,
   * name, size) and whose npy header is the field's usual one decodes without further work.
   * Anything else goes through {@link readArrayCarefully}, which explains what is wrong.
   */
  private readArray(
    field: string,
    shard: number,
    offset: number,
    size: number | null,
    sampleId: string,
  ): NdArray {
    if (size !== null) {
      let fd = this.fdsByField.get(field)?.[shard];
      if (fd === undefined) {
        const file = shardPath(this.root, field, shard);
        fd = this.fd(field, shard, file, { shard: file, offset, sampleId, field });
      }
      const length = BLOCK + size;
      const bytes = this.readBuffer(length);
      try {
        if (
          fs.readSync(fd, bytes, 0, length, offset) === length &&
          plainMemberMatches(bytes, sampleId, size)
        ) {
          let cache = this.headerCaches.get(field);
          if (!cache) {
            cache = new NpyHeaderCache();
            this.headerCaches.set(field, cache);
          }
          const array = decodeNpyFast(bytes, BLOCK, size, cache);
          if (array) {
            this.readPaths.fast++;
            return array;
          }
        }
      } finally {
        if (!this.cacheTars) this.closeFd(field, shard);
      }
    }
    return this.readArrayCarefully(field, shard, offset, size, sampleId);
  }

  /**
   * A buffer for one member's bytes. Inside getMany the members of the batch share 1 MiB arenas
   * (one allocation instead of one per array; each slice 64-byte aligned so every typed-array
   * view of the data is aligned); otherwise each read gets its own buffer.
   */
  private readBuffer(length: number): Buffer {
    const arena = this.arena;
    if (arena === null || length > ARENA_BYTES) return Buffer.allocUnsafeSlow(length);
    if (arena.used + length > arena.buffer.length) {
      arena.buffer = Buffer.allocUnsafeSlow(ARENA_BYTES);
      arena.used = 0;
    }
    const slice = arena.buffer.subarray(arena.used, arena.used + length);
    arena.used += Math.ceil(length / 64) * 64;
    return slice;
  }

  private readArrayCarefully(
    field: string,
    shard: number,
    offset: number,
    size: number | null,
    sampleId: string,
  ): NdArray {
    const file = shardPath(this.root, field, shard);
    const where: ShardLocation = { shard: file, offset, sampleId, field };
    const fd = this.fd(field, shard, file, where);
    try {
      if (size === null) {
        // Not a verified byte offset (the reference writer records a running sum of array sizes,
        // and its reader looks members up by name): the newest member of the name wins, as
        // tarfile's getmember decides for the reference reader.
        const byName = this.memberByName(fd, sampleId, where);
        if (byName) {
          this.readPaths.byName++;
          const data = readBytes(fd, byName.dataOffset, byName.size);
          if (data.length < byName.size)
            throw new TruncatedShardError(where, byName.dataOffset + byName.size, fs.fstatSync(fd).size);
          return decodeNpy(data, { ...where, offset: byName.dataOffset });
        }
      }
      this.readPaths.careful++;
      if (size !== null) {
        const length = BLOCK + size;
        const bytes = readBytes(fd, offset, length);
        if (bytes.length < length)
          throw new TruncatedShardError(where, offset + length, fs.fstatSync(fd).size);
        const fast = this.decodeMember(bytes, size, where);
        if (fast) return fast;
      }
      const readAt = (position: number, length: number) => readBytes(fd, position, length);
      // No member of that name (or a verified row): read strictly at the offset, which explains
      // what is wrong.
      const member = readMemberAt(readAt, offset, where);
      if (member === null)
        throw new ShardCorruptionError(where, 'the index points at the end of the archive');
      checkMember(member.name, member.size, size, where);
      const data = readBytes(fd, member.dataOffset, member.size);
      if (data.length < member.size)
        throw new TruncatedShardError(where, member.dataOffset + member.size, fs.fstatSync(fd).size);
      return decodeNpy(data, { ...where, offset: member.dataOffset });
    } finally {
      if (!this.cacheTars) this.closeFd(field, shard);
    }
  }

  /**
   * The newest member named `<sampleId>.npy` in a shard, from a per-shard name table that is
   * rebuilt whenever the shard has grown since it was built.
   */
  private memberByName(fd: number, sampleId: string, where: ShardLocation): TarMember | undefined {
    const file = where.shard ?? '';
    const size = fs.fstatSync(fd).size;
    let table = this.nameTables.get(file);
    if (!table || table.size !== size) {
      table = { size, members: membersByName((p, l) => readBytes(fd, p, l), size, { shard: file }) };
      this.nameTables.set(file, table);
    }
    return table.members.get(`${sampleId}.npy`);
  }

  /** Decodes a plain (no extended header) member from header + data bytes; null for other kinds. */
  private decodeMember(bytes: Uint8Array, size: number, where: ShardLocation): NdArray | null {
    const header = parseHeaderBlock(bytes.subarray(0, BLOCK), where);
    if (header === null) throw new ShardCorruptionError(where, 'the index points at the end of the archive');
    if (header.typeflag !== '0') return null;
    checkMember(header.name, header.size, size, where);
    return decodeNpy(bytes.subarray(BLOCK, BLOCK + size), { ...where, offset: (where.offset ?? 0) + BLOCK });
  }

  private fd(field: string, shard: number, file: string, where: ShardLocation = { shard: file }): number {
    const key = `${field}/${shard}`;
    const open = this.fds.get(key);
    if (open !== undefined) return open;
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MissingShardError(where);
      throw new ShardCorruptionError(where, `cannot open shard: ${(error as Error).message}`);
    }
    if (this.fds.size >= MAX_OPEN_SHARDS) {
      const [oldest] = this.fds.keys();
      if (oldest !== undefined) {
        const slash = oldest.lastIndexOf('/');
        this.closeFd(oldest.slice(0, slash), Number(oldest.slice(slash + 1)));
      }
    }
    this.fds.set(key, fd);
    let byShard = this.fdsByField.get(field);
    if (!byShard) {
      byShard = [];
      this.fdsByField.set(field, byShard);
    }
    byShard[shard] = fd;
    return fd;
  }

  private closeFd(field: string, shard: number): void {
    const key = `${field}/${shard}`;
    const fd = this.fds.get(key);
    if (fd === undefined) return;
    fs.closeSync(fd);
    this.fds.delete(key);
    const byShard = this.fdsByField.get(field);
    if (byShard) byShard[shard] = undefined;
  }
}

/** A sample whose metadata is parsed on first access: a loop that only wants arrays skips it. */
class LoadedSample implements Sample {
  #json: unknown;
  #metadata: SampleMetadata | undefined;
  #parsed = false;
  constructor(
    readonly sampleId: string,
    readonly arrays: Record<string, NdArray>,
    json: unknown,
  ) {
    this.#json = json;
  }
  get metadata(): SampleMetadata {
    if (!this.#parsed) {
      this.#metadata = parseMetaJson(this.#json, this.sampleId);
      this.#parsed = true;
    }
    return this.#metadata as SampleMetadata;
  }
  toJSON(): { sampleId: string; arrays: Record<string, NdArray>; metadata: SampleMetadata } {
    return { sampleId: this.sampleId, arrays: this.arrays, metadata: this.metadata };
  }
}

function checkMember(
  name: string,
  actualSize: number,
  indexedSize: number | null,
  where: ShardLocation,
): void {
  const expected = `${where.sampleId}.npy`;
  // A pending name at a committed offset: a writer died between its commit and the rename.
  if (name !== expected && name !== `./${expected}` && !isPendingMemberName(name, where.sampleId ?? ''))
    throw new ShardCorruptionError(where, `member is "${name}", the index expects "${expected}"`);
  if (indexedSize !== null && actualSize !== indexedSize)
    throw new ShardCorruptionError(where, `member holds ${actualSize} bytes, the index says ${indexedSize}`);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Query parameters as Python's sqlite3 binds them: a whole number binds as INTEGER (better-sqlite3
 * binds every number as REAL, and `'123' = 123.0` is false in SQLite where `'123' = 123` is true
 * against a TEXT column), a boolean as 1/0.
 *
 * @example
 * ```ts
 * bindParams([123, true, 1.5]); // [123n, 1n, 1.5]
 * ```
 */
export function bindParams(
  params: readonly unknown[] | Record<string, unknown>,
): unknown[] | Record<string, unknown> {
  const bind = (value: unknown): unknown =>
    typeof value === 'boolean'
      ? BigInt(value)
      : typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)
        ? BigInt(value)
        : value;
  if (Array.isArray(params)) return params.map(bind);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) out[key] = bind(value);
  return out;
}

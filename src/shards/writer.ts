import fs from 'node:fs';
import path from 'node:path';
import { RunlakeError } from '../lake/index.js';
import {
  ArrayInputError,
  DuplicateSampleError,
  ShardsQueryError,
  TruncatedShardError,
  UnknownFieldError,
  UnknownSampleError,
} from './errors.js';
import { checkIndexFile } from './index-check.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { metaJson } from './meta-json.js';
import { type ArrayInput, type EncodedNpy, encodeNpy, toNdArray } from './npy.js';
import {
  finishPendingNames,
  type PendingName,
  pendingMemberName,
  readPendingNames,
  recordPendingNames,
} from './pending-names.js';
import { bindParams } from './reader.js';
import {
  baseDirOf,
  ensureLocationTrigger,
  ensureSchema,
  fieldColumns,
  fieldDir,
  formatSampleId,
  type IndexDb,
  type IndexStatement,
  isValidFieldName,
  listFieldNames,
  openIndex,
  quoteIdent,
  readCounter,
  sampleColumns,
  setLocationSql,
  shardNumber,
  shardPath,
} from './sqlite-index.js';
import { takeOverShards } from './takeover.js';
import { BLOCK, END_OF_ARCHIVE, memberHeader, paddedSize, walkTar } from './tar.js';

/**
 * Options of {@link ShardedDatasetWriter}.
 *
 * @example
 * ```ts
 * new ShardedDatasetWriter('ds', { samplesPerShard: 500, sync: 'full' });
 * ```
 */
export interface ShardedDatasetWriterOptions {
  /** Members per shard before `addSample` starts the field's next shard (default 1000, as the seed). */
  readonly samplesPerShard?: number;
  /**
   * `normal` (default): every returned `addSample` survives the process being killed; a power loss
   * may lose the last samples. `full`: shards are fdatasync'ed before every index commit and
   * SQLite runs with `synchronous=FULL`, so returned samples also survive a power loss (slower).
   */
  readonly sync?: 'normal' | 'full';
  /**
   * Runs once the writer lock is held and before the writer writes anything (index schema, crash
   * recovery, shard truncation); throwing refuses the open and leaves the dataset as it was.
   * Compaction verifies the dataset here.
   */
  readonly beforeOpen?: (root: string) => void;
  /**
   * runlake's stricter semantics instead of the Python package's (docs/shards.md, "Compatibility
   * with synthefy-dataset-utils"). Off (default): `addSample` with an id the index holds replaces
   * the arrays it is given and keeps the stored metadata, as the Python writer's `INSERT OR
   * IGNORE` does. On: it throws `DuplicateSampleError` and writes nothing.
   */
  readonly strict?: boolean;
}

/**
 * Options of {@link ShardedDatasetWriter.addSample}.
 *
 * @example
 * ```ts
 * writer.addSample({ history: h }, { sampleId: 'run-7', metadata: { length: 100 } });
 * ```
 */
export interface AddSampleOptions {
  readonly sampleId?: string;
  /** Any JSON value (usually an object); NaN and infinities are stored as Python stores them. */
  readonly metadata?: unknown;
}

/**
 * One sample for {@link ShardedDatasetWriter.addSamples}.
 *
 * @example
 * ```ts
 * const s: SampleInput = { arrays: { history: h }, metadata: { length: 100 } };
 * ```
 */
export interface SampleInput extends AddSampleOptions {
  readonly arrays: Readonly<Record<string, ArrayInput>>;
}

/**
 * Options of {@link ShardedDatasetWriter.indexMetadata}.
 *
 * @example
 * ```ts
 * writer.indexMetadata('length', { type: 'INTEGER' });
 * ```
 */
export interface IndexMetadataOptions {
  /** Column name in `samples` (default: the key). */
  readonly column?: string;
  /** SQLite type affinity of the generated column. */
  readonly type?: 'INTEGER' | 'REAL' | 'TEXT' | 'ANY';
}

interface Appender {
  readonly field: string;
  readonly shard: number;
  readonly path: string;
  fd: number;
  end: number;
  members: number;
  committedEnd: number;
  committedMembers: number;
  unsynced: boolean;
}

interface Location {
  readonly shard: number;
  readonly offset: number;
  readonly size: number;
}

const ZEROS = new Uint8Array(BLOCK + END_OF_ARCHIVE.length);
const STREAM_COMMIT_EVERY = 1000;
const MAX_ID_BYTES = 1024;
const GENERATED_ID = /^sample_\d{12}$/;
/** Test hook: SIGKILL the process inside its n-th commit, after the members are written. */
const KILL_BEFORE_COMMIT = Number(process.env.RUNLAKE_SHARDS_KILL_BEFORE_COMMIT ?? 0);
/** Test hook: SIGKILL after a commit that has pending names, before they are renamed. */
const KILL_BEFORE_RENAME = process.env.RUNLAKE_SHARDS_KILL_BEFORE_RENAME === '1';
let commitsSeen = 0;

/**
 * Writes a columnar shard dataset: `root/index.sqlite` plus one directory of tar shards per field
 * (`root/<field>_shards/shard_0000.tar`, …), each member an `.npy` file named `<sample_id>.npy`.
 *
 * Every `addSample` writes its members, then commits their byte offsets to the index, so a
 * process killed at any point leaves a dataset that opens with every returned sample readable;
 * reopening truncates a half-written member. One writer per root at a time (a second one gets
 * {@link WriterLockedError}); readers may run concurrently and see committed samples only.
 *
 * @example
 * ```ts
 * const writer = new ShardedDatasetWriter('my_dataset', { samplesPerShard: 1000 });
 * writer.addFields(['history', 'target']);
 * const id = writer.addSample(
 *   { history: new Float32Array(100), target: new Float32Array(50) },
 *   { metadata: { length: 100, source: 'synthetic' } },
 * );
 * writer.close();
 * ```
 */
export class ShardedDatasetWriter {
  readonly root: string;
  readonly samplesPerShard: number;
  readonly sync: 'normal' | 'full';
  /** runlake's stricter semantics (see {@link ShardedDatasetWriterOptions.strict}). */
  readonly strict: boolean;
  /** @internal The index connection (compaction shares it). */
  readonly db: IndexDb;
  private readonly lock: WriterLock;
  private fields: string[] = [];
  private readonly numShards = new Map<string, number>();
  private readonly appenders = new Map<string, Appender>();
  private readonly current = new Map<string, number>();
  private pending: (() => void)[] = [];
  private pendingEpoch = false;
  /** Members written under their pending name since the last commit, by `field\0id`. */
  private pendingNames = new Map<string, PendingName>();
  private counter: number;
  private largestGeneratedLike = 0;
  private savedCounter = -1;
  private readonly committedNumShards = new Map<string, number>();
  private closed = false;
  private readonly statements = new Map<string, IndexStatement>();
  /** Fields whose size guard this writer installed (see addFieldColumns). */
  private readonly newlyGuarded = new Set<string>();
  /** Per field, the shard updates go to when the current one holds the sample being updated. */
  private readonly alternate = new Map<string, number>();

  constructor(root: string, options: ShardedDatasetWriterOptions = {}) {
    const samplesPerShard = options.samplesPerShard ?? 1000;
    if (!Number.isSafeInteger(samplesPerShard) || samplesPerShard < 1)
      throw new RunlakeError(`samplesPerShard must be a positive integer, got ${samplesPerShard}`);
    this.root = root;
    this.samplesPerShard = samplesPerShard;
    this.sync = options.sync ?? 'normal';
    this.strict = options.strict ?? false;
    // Before the lock file is created: a damaged index is refused with the tree untouched. It is
    // checked again under the lock (openIndex), where no other writer can be replacing it.
    checkIndexFile(root, 'write');
    fs.mkdirSync(root, { recursive: true });
    this.lock = acquireWriterLock(root);
    try {
      options.beforeOpen?.(root);
      this.db = openIndex(root, 'write', this.sync === 'full' ? 'FULL' : 'NORMAL');
      const needsScan = ensureSchema(this.db);
      this.loadFields();
      this.db.transaction(() => {
        this.addFieldColumns(this.fields);
        this.updateBaseDirs();
      })();
      if (needsScan) this.adoptExistingShards();
      this.recover();
      this.largestGeneratedLike = this.readLargestGeneratedLike();
      this.savedCounter = readCounter(this.db, 'sample_id');
      this.counter = Math.max(this.savedCounter, this.largestGeneratedLike);
    } catch (error) {
      this.lock.release();
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // fields

  /**
   * Registers a field (a column of arrays): its index columns and its shard directory.
   *
   * @example
   * ```ts
   * writer.addField('forecast');
   * ```
   */
  addField(name: string): void {
    this.addFields([name]);
  }

  /**
   * Registers several fields in one transaction.
   *
   * @example
   * ```ts
   * writer.addFields(['history', 'target', 'forecast']);
   * ```
   */
  addFields(names: readonly string[]): void {
    this.ensureOpen();
    for (const name of names)
      if (!isValidFieldName(name))
        throw new RunlakeError(
          `field name ${JSON.stringify(name)} must be an identifier (letters, digits, _; at most 64)`,
        );
    this.db.transaction(() => {
      this.addFieldColumns(names);
      for (const name of names) {
        this.db
          .prepare('INSERT OR IGNORE INTO fields (name, num_shards, base_dir) VALUES (?, 0, ?)')
          .run(name, baseDirOf(this.root, name));
      }
    })();
    for (const name of names) fs.mkdirSync(fieldDir(this.root, name), { recursive: true });
    this.statements.clear();
    this.loadFields();
  }

  /** Adds the index columns of fields that lack them (`_size` is missing in the seed's indexes). */
  private addFieldColumns(names: readonly string[]): void {
    const columns = sampleColumns(this.db);
    for (const name of names) {
      const c = fieldColumns(name);
      for (const [column, type] of [
        [c.offset, 'INTEGER'],
        [c.shard, 'INTEGER'],
        [c.size, 'INTEGER'],
      ] as const) {
        if (!columns.has(column)) {
          this.db.exec(`ALTER TABLE samples ADD COLUMN ${quoteIdent(column)} ${type}`);
          columns.add(column);
        }
      }
      // Rows sized before the guard existed may have been repointed by another writer since:
      // recovery checks them against the shards' members.
      if (ensureLocationTrigger(this.db, name)) this.newlyGuarded.add(name);
    }
  }

  /**
   * `fields.base_dir` as the reference writer stores it: the absolute path of the shard
   * directory (it writes there from whatever directory it runs in). Older runlake versions stored
   * `<field>_shards`, relative; a moved dataset still names its old place. Only rows that name a
   * `<field>_shards` directory are touched, the one runlake writes to.
   */
  private updateBaseDirs(): void {
    const rows = this.db.prepare('SELECT name, base_dir FROM fields').all() as {
      name: string;
      base_dir: unknown;
    }[];
    const update = this.db.prepare('UPDATE fields SET base_dir = ? WHERE name = ?');
    for (const row of rows) {
      const want = baseDirOf(this.root, row.name);
      const base = typeof row.base_dir === 'string' ? row.base_dir : '';
      if (base !== want && (base === '' || path.basename(base) === `${row.name}_shards`))
        update.run(want, row.name);
    }
  }

  /**
   * The registered fields, in registration order.
   *
   * @example
   * ```ts
   * writer.listFields(); // ['history', 'target']
   * ```
   */
  listFields(): string[] {
    return [...this.fields];
  }

  /**
   * Runs one SQL statement on the index, inside the writer lock, and returns its rows (for a
   * statement that returns rows) or `{ changes }`: raw access as the Python package's
   * `writer.conn.execute(...)`, e.g. to add and fill a metadata column as its README shows.
   * Parameters bind as in `queryIds` (whole numbers as INTEGER). Pending samples are committed
   * first; afterwards the writer re-reads its fields and statements. runlake's own tables and the
   * `<field>_*` columns are yours to read but not to rewrite: the shard offsets must stay true.
   *
   * @example
   * ```ts
   * writer.sql('ALTER TABLE samples ADD COLUMN length INTEGER');
   * writer.sql("UPDATE samples SET length = json_extract(meta_json, '$.length')");
   * writer.sql('CREATE INDEX idx_length ON samples(length)');
   * ```
   */
  sql(
    sql: string,
    params: readonly unknown[] | Record<string, unknown> = [],
  ): Record<string, unknown>[] | { changes: number } {
    this.ensureOpen();
    this.commit([], false);
    let result: Record<string, unknown>[] | { changes: number };
    try {
      const statement = this.db.prepare(sql);
      const bound = bindParams(params);
      const args = Array.isArray(bound) ? bound : [bound];
      result = statement.reader
        ? (statement.all(...args) as Record<string, unknown>[])
        : { changes: statement.run(...args).changes };
    } catch (error) {
      throw new ShardsQueryError(sql, error);
    }
    this.statements.clear();
    this.loadFields();
    return result;
  }

  /**
   * Promotes a metadata key to an indexed generated column, so that filters on it are index
   * lookups instead of a `json_extract` per row. Both `json_extract(meta_json, '$.key') > ?` and
   * `key > ?` (the column) then use an index in `queryIds`.
   *
   * @example
   * ```ts
   * writer.indexMetadata('length', { type: 'INTEGER' });
   * reader.queryIds('length > ?', [128]);
   * ```
   */
  indexMetadata(key: string, options: IndexMetadataOptions = {}): void {
    this.ensureOpen();
    const column = options.column ?? key;
    if (!isValidFieldName(key))
      throw new RunlakeError(`metadata key ${JSON.stringify(key)} must be an identifier`);
    if (!isValidFieldName(column))
      throw new RunlakeError(`column name ${JSON.stringify(column)} must be an identifier`);
    const type = options.type ?? '';
    if (!['', 'INTEGER', 'REAL', 'TEXT', 'ANY'].includes(type))
      throw new RunlakeError(`type must be INTEGER, REAL, TEXT or ANY, got ${JSON.stringify(type)}`);
    const existing = this.db
      .prepare('SELECT column_name FROM indexed_metadata WHERE key = ?')
      .pluck()
      .get(key);
    if (existing === column) return;
    if (existing !== undefined)
      throw new RunlakeError(`metadata key "${key}" is already indexed as column "${String(existing)}"`);
    if (sampleColumns(this.db).has(column))
      throw new RunlakeError(`samples already has a column "${column}"; pass another { column }`);
    const expression = `json_extract(meta_json, '$.${key}')`;
    this.db.transaction(() => {
      this.db.exec(
        `ALTER TABLE samples ADD COLUMN ${quoteIdent(column)} ${type} GENERATED ALWAYS AS (${expression}) VIRTUAL`,
      );
      this.db.exec(`CREATE INDEX ${quoteIdent(`idx_samples_${column}`)} ON samples(${quoteIdent(column)})`);
      // SQLite does not match a json_extract(...) filter to the generated column's index, so the
      // seed's query style gets its own expression index.
      this.db.exec(`CREATE INDEX ${quoteIdent(`idx_samples_meta_${key}`)} ON samples(${expression})`);
      this.db
        .prepare('INSERT INTO indexed_metadata (key, column_name, type) VALUES (?, ?, ?)')
        .run(key, column, type);
    })();
    this.statements.clear();
  }

  // -------------------------------------------------------------------------------------------
  // samples

  /**
   * Writes one sample: one `.npy` member per field in that field's current shard, then commits
   * the offsets and metadata. Returns the sample id (generated as `sample_000000000001`, … when
   * not given).
   *
   * @example
   * ```ts
   * const id = writer.addSample({ history: new Float32Array(100) }, { metadata: { length: 100 } });
   * ```
   */
  addSample(arrays: Readonly<Record<string, ArrayInput>>, options: AddSampleOptions = {}): string {
    return this.addSamples([{ arrays, ...options }])[0] as string;
  }

  /**
   * Writes several samples with one index commit (and, with `sync: 'full'`, one fdatasync per
   * touched shard): the fast path for bulk ingest. All or none of them are indexed.
   *
   * @example
   * ```ts
   * const ids = writer.addSamples(batch.map((b) => ({ arrays: { history: b } })));
   * ```
   */
  addSamples(samples: readonly SampleInput[]): string[] {
    this.ensureOpen();
    const replace = this.strict ? -1 : this.firstExisting(samples);
    if (replace !== -1) {
      // An id the index (or this batch) already holds: the Python writer rewrites its arrays and
      // keeps its metadata. That is an update; the batch around it commits in pieces.
      const sample = samples[replace] as SampleInput;
      const before = replace > 0 ? this.addSamples(samples.slice(0, replace)) : [];
      this.updateSample(sample.sampleId as string, sample.arrays);
      return [...before, sample.sampleId as string, ...this.addSamples(samples.slice(replace + 1))];
    }
    const taken = new Set<string>();
    const counterBefore = this.counter;
    let prepared: { id: string; encoded: Map<string, EncodedNpy>; meta: string }[];
    if (samples.length === 0) return [];
    try {
      prepared = samples.map((sample) => {
        const generated = sample.sampleId === undefined;
        const id = generated ? this.nextId(taken) : this.noteId(this.checkId(sample.sampleId));
        if (!generated && (taken.has(id) || this.exists(id))) throw new DuplicateSampleError(this.root, id);
        taken.add(id);
        return { id, encoded: this.encodeAll(sample.arrays, id), meta: metaJson(sample.metadata, id) };
      });
    } catch (error) {
      // A rejected sample must not burn generated ids.
      this.counter = counterBefore;
      throw error;
    }
    const ops: (() => void)[] = [];
    for (const sample of prepared) {
      const locations = this.writeAuto(sample.id, sample.encoded);
      ops.push(() => this.insertSample(sample.id, sample.meta, locations));
    }
    this.commit(ops, false);
    return prepared.map((s) => s.id);
  }

  /**
   * Replaces arrays (and optionally the metadata) of an existing sample. New members are appended
   * and the index repointed; the old bytes stay as dead space until `runlake shards compact`.
   *
   * @example
   * ```ts
   * writer.updateSample('sample_000000000001', { forecast: f }, { metadata: { length: 100, v: 2 } });
   * ```
   */
  updateSample(
    sampleId: string,
    arrays: Readonly<Record<string, ArrayInput>>,
    options: { readonly metadata?: unknown } = {},
  ): void {
    this.ensureOpen();
    if (!this.exists(sampleId)) throw new UnknownSampleError(this.root, sampleId);
    const encoded = this.encodeAll(arrays, sampleId);
    // undefined and null (Python's None) keep the stored metadata.
    const meta =
      options.metadata === undefined || options.metadata === null
        ? undefined
        : metaJson(options.metadata, sampleId);
    const locations = this.writeAuto(sampleId, encoded, this.currentShards(sampleId, [...encoded.keys()]));
    const ops = [...locations].map(
      ([field, location]) =>
        () =>
          this.setLocation(field, sampleId, location),
    );
    if (meta !== undefined)
      ops.push(() =>
        this.statement('meta', 'UPDATE samples SET meta_json = ? WHERE id = ?').run(meta, sampleId),
      );
    this.commit(ops, true);
  }

  /**
   * Registers sample ids (and metadata) without arrays, for `writeShard` / `openShard`. Ids that
   * already exist are left as they are, as the seed does.
   *
   * @example
   * ```ts
   * writer.registerSamples(['id1', 'id2'], [{ k: 1 }, { k: 2 }]);
   * ```
   */
  registerSamples(sampleIds: readonly string[], metadata?: readonly unknown[]): void {
    this.ensureOpen();
    if (metadata && metadata.length !== sampleIds.length)
      throw new RunlakeError(
        `registerSamples: ${sampleIds.length} ids but ${metadata.length} metadata objects`,
      );
    const rows = sampleIds.map(
      // As the Python writer: each item of a given list is stored as given (None → null); with
      // `strict`, a falsy item is stored as `{}`, as addSample stores it.
      (id, i) =>
        [
          this.noteId(this.checkId(id)),
          metaJson(metadata?.[i], id, { asGiven: metadata !== undefined && !this.strict }),
        ] as const,
    );
    const insert = this.statement('register', 'INSERT OR IGNORE INTO samples (id, meta_json) VALUES (?, ?)');
    this.commit(
      rows.map(
        ([id, meta]) =>
          () =>
            insert.run(id, meta),
      ),
      false,
    );
  }

  /**
   * Writes arrays of one field for registered samples into shard `shardId` (appending when the
   * shard already holds members), with one commit at the end. A sample already indexed in that
   * shard is written under a pending name and renamed after the commit, so the reference reader
   * never sees an uncommitted array (see pending-names.ts).
   *
   * @example
   * ```ts
   * writer.writeShard('history', 0, ['id1', 'id2'], [a1, a2]);
   * ```
   */
  writeShard(
    field: string,
    shardId: number,
    sampleIds: readonly string[],
    arrays: readonly ArrayInput[],
  ): void {
    this.ensureOpen();
    if (sampleIds.length !== arrays.length)
      throw new RunlakeError(`writeShard: ${sampleIds.length} sample ids but ${arrays.length} arrays`);
    this.checkField(field);
    checkShardId(shardId);
    const encoded = sampleIds.map((id, i) => {
      if (!this.exists(id)) throw new UnknownSampleError(this.root, id);
      return encodeNpy(toNdArray(arrays[i] as ArrayInput, field, id));
    });
    const appender = this.appender(field, shardId);
    const ops = sampleIds.map((id, i) => {
      const location = this.writeChosen(appender, id, encoded[i] as EncodedNpy);
      return () => this.setLocation(field, id, location);
    });
    this.commit(ops, true);
  }

  /**
   * Writes a member into a shard the caller chose. When the sample's index row already names that
   * shard, the member goes in under its pending name and is renamed after the commit (see
   * pending-names.ts): the reference reader must not see it before then.
   */
  private writeChosen(appender: Appender, id: string, npy: EncodedNpy): Location {
    const key = `${appender.field}\0${id}`;
    const inPlace = this.currentShards(id, [appender.field]).get(appender.field) === appender.shard;
    const location = this.writeMember(appender, id, npy, inPlace ? pendingMemberName(id) : undefined);
    if (inPlace)
      this.pendingNames.set(key, {
        field: appender.field,
        shard: appender.shard,
        headerOffset: location.offset,
        sampleId: id,
      });
    else this.pendingNames.delete(key);
    return location;
  }

  /**
   * Opens shard `shardId` of a field for streaming writes of registered samples. Offsets are
   * committed every 1000 samples and at `close()`.
   *
   * @example
   * ```ts
   * const shard = writer.openShard('history', 0);
   * for (const [id, a] of rows) shard.addSample(id, a);
   * shard.close();
   * ```
   */
  openShard(field: string, shardId: number): ShardStream {
    this.ensureOpen();
    this.checkField(field);
    checkShardId(shardId);
    this.appender(field, shardId);
    let sinceCommit = 0;
    let open = true;
    return {
      field,
      shardId,
      addSample: (sampleId: string, array: ArrayInput) => {
        if (!open) throw new RunlakeError(`shard stream ${field}/${shardId} is closed`);
        this.ensureOpen();
        if (!this.exists(sampleId)) throw new UnknownSampleError(this.root, sampleId);
        const encoded = encodeNpy(toNdArray(array, field, sampleId));
        const location = this.writeChosen(this.appender(field, shardId), sampleId, encoded);
        this.pending.push(() => this.setLocation(field, sampleId, location));
        this.pendingEpoch = true;
        if (++sinceCommit >= STREAM_COMMIT_EVERY) {
          sinceCommit = 0;
          this.commit([], true);
        }
      },
      close: () => {
        if (!open) return;
        open = false;
        if (!this.closed) this.commit([], true);
      },
    };
  }

  /**
   * Commits anything pending, syncs and closes every open shard file (the next write reopens
   * them). The index stays open.
   *
   * @example
   * ```ts
   * writer.closeTars();
   * ```
   */
  closeTars(): void {
    this.ensureOpen();
    this.commit([], false);
    for (const appender of this.appenders.values()) this.closeAppender(appender);
    this.appenders.clear();
    this.current.clear();
    this.alternate.clear();
  }

  /**
   * Commits, syncs the shards, checkpoints the index and releases the writer lock. A closed
   * dataset survives a power loss in both sync modes. Calling it twice is harmless.
   *
   * @example
   * ```ts
   * writer.close();
   * ```
   */
  close(): void {
    if (this.closed) return;
    try {
      this.closeTars();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.closed = true;
      try {
        this.db.close();
      } finally {
        this.lock.release();
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // internals shared with compaction

  /** @internal Fields in registration order (re-read from the index). */
  loadFields(): void {
    this.fields = listFieldNames(this.db);
    const rows = this.db.prepare('SELECT name, num_shards FROM fields').all() as {
      name: string;
      num_shards: number | null;
    }[];
    for (const row of rows) {
      const fromShards = this.db
        .prepare('SELECT max(shard) FROM shards WHERE field = ?')
        .pluck()
        .get(row.name) as number | null;
      this.numShards.set(row.name, Math.max(row.num_shards ?? 0, fromShards === null ? 0 : fromShards + 1));
    }
  }

  /** @internal Closes the appenders of a field (compaction replaces its shards). */
  releaseField(field: string): void {
    this.commit([], false);
    for (const [key, appender] of this.appenders) {
      if (appender.field !== field) continue;
      this.closeAppender(appender);
      this.appenders.delete(key);
    }
    this.current.delete(field);
    this.alternate.delete(field);
  }

  /** @internal Reserves the next shard number of a field. */
  allocateShard(field: string): number {
    let next = this.numShards.get(field) ?? 0;
    // A file already there is someone else's (takeover adopts every shard it can read): skip it.
    while (fs.existsSync(shardPath(this.root, field, next))) next++;
    this.numShards.set(field, next + 1);
    return next;
  }

  /** @internal Throws unless the writer is open. */
  ensureOpen(): void {
    if (this.closed) throw new RunlakeError(`writer of ${this.root} is closed`);
  }

  // -------------------------------------------------------------------------------------------

  private statement(key: string, sql: string): IndexStatement {
    let statement = this.statements.get(key);
    if (!statement) {
      statement = this.db.prepare(sql) as IndexStatement;
      this.statements.set(key, statement);
    }
    return statement;
  }

  /** The first sample of a batch whose id the index or an earlier sample of the batch holds. */
  private firstExisting(samples: readonly SampleInput[]): number {
    const seen = new Set<string>();
    for (let i = 0; i < samples.length; i++) {
      const id = samples[i]?.sampleId;
      if (id === undefined) continue;
      if (seen.has(id) || this.exists(id)) return i;
      seen.add(id);
    }
    return -1;
  }

  private exists(id: string): boolean {
    return this.statement('exists', 'SELECT 1 FROM samples WHERE id = ?').get(id) !== undefined;
  }

  private checkId(id: unknown): string {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ids become tar member names
    if (typeof id !== 'string' || id.length === 0 || /[\x00-\x1f\x7f]/.test(id))
      throw new RunlakeError(
        `sample id ${JSON.stringify(id)} must be a non-empty string without control characters`,
      );
    if (Buffer.byteLength(id) > MAX_ID_BYTES)
      throw new RunlakeError(`sample id is longer than ${MAX_ID_BYTES} bytes`);
    return id;
  }

  private nextId(taken: Set<string>): string {
    for (;;) {
      const n = ++this.counter;
      const id = formatSampleId(n);
      // Beyond every generated-looking id the index holds, the id cannot exist: skip the lookup.
      if (n > this.largestGeneratedLike) return id;
      if (!taken.has(id) && !this.exists(id)) return id;
    }
  }

  /** Remembers a caller-chosen id that looks generated, so that `nextId` never skips checking it. */
  private noteId(id: string): string {
    if (GENERATED_ID.test(id))
      this.largestGeneratedLike = Math.max(this.largestGeneratedLike, Number(id.slice(7)));
    return id;
  }

  /** The largest `sample_NNNNNNNNNNNN` id in the index (12 digits sort as numbers). */
  private readLargestGeneratedLike(): number {
    const rows = this.db
      .prepare("SELECT id FROM samples WHERE id > 'sample_' AND id < 'sample_:' ORDER BY id DESC LIMIT 1000")
      .pluck()
      .all() as string[];
    const id = rows.find((r) => GENERATED_ID.test(r));
    return id === undefined ? 0 : Number(id.slice(7));
  }

  private checkField(field: string): void {
    if (!this.fields.includes(field)) throw new UnknownFieldError(this.root, field, this.fields);
  }

  private encodeAll(arrays: Readonly<Record<string, ArrayInput>>, id: string): Map<string, EncodedNpy> {
    if (arrays === null || typeof arrays !== 'object')
      throw new ArrayInputError('(all)', 'arrays must be an object mapping field names to arrays', id);
    const out = new Map<string, EncodedNpy>();
    for (const [field, array] of Object.entries(arrays)) {
      this.checkField(field);
      out.set(field, encodeNpy(toNdArray(array, field, id)));
    }
    return out;
  }

  private writeAuto(
    id: string,
    encoded: Map<string, EncodedNpy>,
    avoid?: ReadonlyMap<string, number>,
  ): Map<string, Location> {
    const locations = new Map<string, Location>();
    for (const [field, npy] of encoded) {
      const avoided = avoid?.get(field);
      let appender = this.currentAppender(field);
      if (avoided === appender.shard) appender = this.alternateAppender(field, avoided);
      locations.set(field, this.writeMember(appender, id, npy));
    }
    return locations;
  }

  /** The shard each field of a sample is indexed in now. */
  private currentShards(id: string, fields: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const field of fields) {
      const shard = this.statement(
        `prev:${field}`,
        `SELECT ${quoteIdent(fieldColumns(field).shard)} FROM samples WHERE id = ?`,
      )
        .pluck()
        .get(id);
      if (typeof shard === 'number') out.set(field, shard);
    }
    return out;
  }

  /**
   * A shard other than `avoid` for an update. The reference reader reads the newest member of a
   * name in the shard the index names, so an updated member appended to the shard the sample is
   * indexed in would be visible to it before runlake's index commit (and forever, if the writer
   * died in between). In another shard it becomes visible exactly when the commit repoints the
   * sample. Repeated updates of one sample alternate between two shards.
   */
  private alternateAppender(field: string, avoid: number): Appender {
    const shard = this.alternate.get(field);
    if (shard !== undefined && shard !== avoid) {
      const appender = this.appender(field, shard);
      if (appender.members < this.samplesPerShard) return appender;
    }
    const next = this.allocateShard(field);
    this.alternate.set(field, next);
    return this.appender(field, next);
  }

  private currentAppender(field: string): Appender {
    let shard = this.current.get(field);
    if (shard === undefined) shard = Math.max(0, (this.numShards.get(field) ?? 0) - 1);
    let appender = this.appender(field, shard);
    if (appender.members >= this.samplesPerShard) {
      shard = this.allocateShard(field);
      appender = this.appender(field, shard);
    }
    this.current.set(field, shard);
    return appender;
  }

  private appender(field: string, shard: number): Appender {
    const key = `${field}/${shard}`;
    const open = this.appenders.get(key);
    if (open) return open;
    const file = shardPath(this.root, field, shard);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const row = this.db
      .prepare('SELECT end_offset, members FROM shards WHERE field = ? AND shard = ?')
      .get(field, shard) as { end_offset: number; members: number } | undefined;
    const end = row?.end_offset ?? 0;
    const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
    const size = fs.fstatSync(fd).size;
    if (!row && size > 0) {
      // Takeover on open adopted every shard file it could read; this one is not a tar archive
      // (or appeared since): never truncate it.
      fs.closeSync(fd);
      throw new RunlakeError(
        `${file}: not a shard of this dataset (no tar members runlake can read); refusing to write over it`,
      );
    }
    if (size < end) {
      fs.closeSync(fd);
      throw new TruncatedShardError({ shard: file, offset: end }, end, size);
    }
    if (size !== end + END_OF_ARCHIVE.length || !tailIsZero(fd, end, size)) {
      fs.ftruncateSync(fd, end);
      writeFully(fd, [END_OF_ARCHIVE], end);
    }
    if (!row && this.sync === 'full') syncDir(path.dirname(file));
    this.numShards.set(field, Math.max(this.numShards.get(field) ?? 0, shard + 1));
    const appender: Appender = {
      field,
      shard,
      path: file,
      fd,
      end,
      members: row?.members ?? 0,
      committedEnd: end,
      committedMembers: row?.members ?? 0,
      unsynced: !row,
    };
    this.appenders.set(key, appender);
    return appender;
  }

  private writeMember(appender: Appender, id: string, npy: EncodedNpy, name = `${id}.npy`): Location {
    const header = memberHeader(name, npy.byteLength);
    const size = npy.byteLength;
    const tail = paddedSize(size) - size + END_OF_ARCHIVE.length;
    const offset = appender.end;
    try {
      writeFully(appender.fd, [header, npy.header, npy.data, ZEROS.subarray(0, tail)], offset);
    } catch (error) {
      // Leave the shard as it was committed; the half-written member is never indexed.
      try {
        fs.ftruncateSync(appender.fd, appender.end);
        writeFully(appender.fd, [END_OF_ARCHIVE], appender.end);
      } catch {}
      throw error;
    }
    appender.end = offset + header.length + paddedSize(size);
    appender.members++;
    appender.unsynced = true;
    return { shard: appender.shard, offset, size };
  }

  private insertSample(id: string, meta: string, locations: Map<string, Location>): void {
    const fields = [...locations.keys()];
    const key = `insert:${fields.join(',')}`;
    const columns = fields.flatMap((f) => {
      const c = fieldColumns(f);
      return [c.shard, c.offset, c.size].map(quoteIdent);
    });
    const statement = this.statement(
      key,
      `INSERT INTO samples (id, meta_json${columns.map((c) => `, ${c}`).join('')}) VALUES (?, ?${', ?'.repeat(columns.length)})`,
    );
    const values: unknown[] = [id, meta];
    for (const location of locations.values()) values.push(location.shard, location.offset, location.size);
    statement.run(...values);
  }

  private setLocation(field: string, id: string, location: Location): void {
    const c = fieldColumns(field);
    // The member this sample pointed at becomes dead: count it, so that scans know which shards
    // still hold only live members.
    const previous = this.statement(
      `prev:${field}`,
      `SELECT ${quoteIdent(c.shard)} FROM samples WHERE id = ?`,
    )
      .pluck()
      .get(id);
    if (previous !== null && previous !== undefined)
      this.statement('dead', 'UPDATE shards SET dead = dead + 1 WHERE field = ? AND shard = ?').run(
        field,
        previous,
      );
    // Size cleared first, so that the guard trigger (which clears sizes of rows repointed without
    // a size change: another writer's offsets) keeps this one.
    const [clear, set] = setLocationSql(field);
    this.statement(`clear:${field}`, clear).run(id);
    this.statement(`set:${field}`, set).run(location.shard, location.offset, location.size, id);
  }

  /**
   * The commit protocol: members are already written (header, data, padding and a fresh
   * end-of-archive marker); with `sync: 'full'` they are fdatasync'ed first; then one SQLite
   * transaction records their offsets and every touched shard's new committed end.
   */
  private commit(ops: readonly (() => void)[], bumpEpoch: boolean): void {
    const all = [...this.pending, ...ops];
    const epoch = bumpEpoch || this.pendingEpoch;
    this.pending = [];
    this.pendingEpoch = false;
    const dirty = [...this.appenders.values()].filter(
      (a) => a.end !== a.committedEnd || a.members !== a.committedMembers,
    );
    const counter = Math.max(this.counter, this.largestGeneratedLike);
    const counterMoved = counter > this.savedCounter;
    const renames = [...this.pendingNames.values()];
    this.pendingNames.clear();
    if (all.length === 0 && dirty.length === 0 && !counterMoved) return;
    if (KILL_BEFORE_COMMIT > 0 && ++commitsSeen === KILL_BEFORE_COMMIT) process.kill(process.pid, 'SIGKILL');
    if (this.sync === 'full') {
      for (const appender of dirty) {
        fs.fdatasyncSync(appender.fd);
        appender.unsynced = false;
      }
    }
    const upsert = this.statement(
      'shard',
      'INSERT INTO shards (field, shard, end_offset, members) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (field, shard) DO UPDATE SET end_offset = excluded.end_offset, members = excluded.members',
    );
    const numShards = this.statement(
      'num_shards',
      'UPDATE fields SET num_shards = max(coalesce(num_shards, 0), ?) WHERE name = ?',
    );
    const bump = this.statement(
      'epoch',
      "UPDATE counters SET value = value + 1 WHERE name = 'location_epoch'",
    );
    this.db.transaction(() => {
      for (const op of all) op();
      for (const a of dirty) {
        upsert.run(a.field, a.shard, a.end, a.members);
        if ((this.committedNumShards.get(a.field) ?? 0) < a.shard + 1) {
          numShards.run(a.shard + 1, a.field);
          this.committedNumShards.set(a.field, a.shard + 1);
        }
      }
      if (epoch) bump.run();
      recordPendingNames(this.db, renames);
      // In the same commit as the ids it covers: another writer (the reference one generates ids
      // from this counter alone) must never hand out an id this one has used, even after a crash.
      if (counterMoved)
        this.statement(
          'counter',
          "UPDATE counters SET value = max(coalesce(value, 0), ?) WHERE name = 'sample_id'",
        ).run(counter);
    })();
    if (counterMoved) this.savedCounter = counter;
    for (const a of dirty) {
      a.committedEnd = a.end;
      a.committedMembers = a.members;
    }
    if (renames.length > 0) {
      if (KILL_BEFORE_RENAME) process.kill(process.pid, 'SIGKILL');
      this.finishRenames(renames);
    }
    // Keep only the current shard of each field open.
    for (const [key, appender] of this.appenders) {
      if (this.current.get(appender.field) === appender.shard) continue;
      if (this.alternate.get(appender.field) === appender.shard) continue;
      if (this.pending.length === 0) {
        this.closeAppender(appender);
        this.appenders.delete(key);
      }
    }
  }

  private closeAppender(appender: Appender): void {
    if (appender.unsynced) fs.fdatasyncSync(appender.fd);
    fs.closeSync(appender.fd);
  }

  /**
   * A dataset whose index predates the `shards` table (e.g. written by the Python seed): find
   * each shard's end by walking its members, and never append to a shard that does not end
   * cleanly.
   */
  private adoptExistingShards(): void {
    const insert = this.db.prepare(
      'INSERT OR REPLACE INTO shards (field, shard, end_offset, members, dead) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const field of this.fields) {
        const dir = fieldDir(this.root, field);
        if (!fs.existsSync(dir)) continue;
        const c = fieldColumns(field);
        const live = new Map(
          this.db
            .prepare(
              `SELECT ${quoteIdent(c.shard)}, count(*) FROM samples WHERE ${quoteIdent(c.shard)} IS NOT NULL GROUP BY 1`,
            )
            .raw()
            .all() as [number, number][],
        );
        // Regular files only: a symlinked shard would be adopted and then appended to outside
        // the dataset.
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
          const name = entry.name;
          const shard = shardNumber(name);
          if (shard === undefined || !entry.isFile()) continue;
          const file = path.join(dir, name);
          const fd = fs.openSync(file, 'r');
          try {
            const size = fs.fstatSync(fd).size;
            const walk = walkTar((pos, len) => readBytes(fd, pos, len), size, { shard: file });
            let members = 0;
            let step = walk.next();
            while (!step.done) {
              members++;
              step = walk.next();
            }
            const { end, clean } = step.value;
            // A shard that does not end cleanly is left untouched and closed to appends.
            const dead = clean
              ? members - (live.get(shard) ?? 0)
              : Math.max(1, members - (live.get(shard) ?? 0));
            insert.run(
              field,
              shard,
              clean ? end : size,
              clean ? members : Math.max(members, this.samplesPerShard),
              dead,
            );
          } finally {
            fs.closeSync(fd);
          }
          this.numShards.set(field, Math.max(this.numShards.get(field) ?? 0, shard + 1));
        }
        this.db
          .prepare('UPDATE fields SET num_shards = ? WHERE name = ?')
          .run(this.numShards.get(field) ?? 0, field);
      }
    })();
  }

  /**
   * Crash recovery and takeover on open (see {@link takeOverShards}): every complete member
   * another writer appended, and every shard file the index refers to or another writer made, is
   * kept and committed; only runlake's own unacknowledged members, a torn trailing member and
   * runlake's own uncommitted shard files are removed.
   */
  private recover(): void {
    this.db.transaction(() => takeOverShards(this.db, this.root, this.fields, this.newlyGuarded))();
    this.loadFields();
    this.finishRenames(readPendingNames(this.db));
  }

  /**
   * Renames committed members from their pending names. The data is committed and runlake's
   * readers already read it, so a failure here is not the caller's: the intents stay in the
   * index and the next writer to open the dataset finishes them.
   */
  private finishRenames(names: readonly PendingName[]): void {
    try {
      finishPendingNames(this.db, this.root, names, {
        sync: this.sync === 'full',
        openFd: (field, shard) => this.appenders.get(`${field}/${shard}`)?.fd,
      });
    } catch (error) {
      // I/O errors and damage found at the offset; anything else is a bug and surfaces.
      if (!(error instanceof RunlakeError) && !(error instanceof Error && 'code' in error)) throw error;
    }
  }
}

/**
 * A streaming writer into one shard of one field, from {@link ShardedDatasetWriter.openShard}.
 *
 * @example
 * ```ts
 * const s = writer.openShard('history', 0);
 * s.addSample('id1', new Float32Array(10));
 * s.close();
 * ```
 */
export interface ShardStream {
  readonly field: string;
  readonly shardId: number;
  addSample(sampleId: string, array: ArrayInput): void;
  close(): void;
}

function checkShardId(shardId: number): void {
  if (!Number.isSafeInteger(shardId) || shardId < 0 || shardId > 999_999)
    throw new RunlakeError(`shard id must be an integer in 0..999999, got ${shardId}`);
}

/**
 * Writes all of `buffers` at `position`, looping on short writes.
 *
 * @example
 * ```ts
 * writeFully(fd, [header, data], 0);
 * ```
 */
export function writeFully(fd: number, buffers: readonly Uint8Array[], position: number): void {
  const total = buffers.reduce((n, b) => n + b.length, 0);
  let written = total <= 0x3fff0000 ? fs.writevSync(fd, buffers as Uint8Array[], position) : 0;
  if (written === total) return;
  let skip = written;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    let from = skip;
    skip = 0;
    while (from < buffer.length) {
      const n = fs.writeSync(
        fd,
        buffer,
        from,
        Math.min(buffer.length - from, 0x3fff0000),
        position + written,
      );
      from += n;
      written += n;
    }
  }
}

/**
 * Reads up to `length` bytes at `position` (fewer only at the end of the file).
 *
 * @example
 * ```ts
 * readBytes(fd, 0, 512);
 * ```
 */
export function readBytes(fd: number, position: number, length: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buffer : buffer.subarray(0, got);
}

function tailIsZero(fd: number, from: number, size: number): boolean {
  if (size - from > 64 * 1024) return false;
  const tail = readBytes(fd, from, size - from);
  for (let i = 0; i < tail.length; i++) if (tail[i] !== 0) return false;
  return true;
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

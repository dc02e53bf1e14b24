import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance, type DuckDBResultReader } from '@duckdb/node-api';
import { appendColumns } from './appender.js';
import { makeDirectory } from './atomic-file.js';
import type { CanonicalValue } from './canonical-params.js';
import { canonicalJson } from './canonical-params.js';
import type { WriteInput } from './column-input.js';
import {
  type ColumnType,
  columnTypeSql,
  inferValueType,
  quoteIdentifier,
  quoteLiteral,
  t,
  unifyTypes,
} from './column-types.js';
import { type LiveFile, latestVersion, loadSnapshot, type Snapshot } from './commit-log.js';
import {
  type CompactionPolicy,
  type CompactOptions,
  type CompactResult,
  compactDataset,
  compactIfNeeded,
} from './compact.js';
import type { DatasetDefinition, DatasetRegistry } from './dataset.js';
import { discoverDataset } from './discover.js';
import { queryObjects, withStagingConnection } from './duckdb.js';
import { recordLakeEnumValues } from './enum-domain.js';
import { EnumValueError, RunlakeError, SqlError } from './errors.js';
import { type GridIdSetting, recordDetectedGridIdScheme } from './grid-id-setting.js';
import { type GridRecord, listGridRecords } from './grids.js';
import { type LakePaths, lakePaths } from './layout.js';
import { type DatasetManifest, manifestExists, readManifest } from './manifest.js';
import { parquetFileError } from './parquet-file-error.js';
import { type PartitionValue, partitionPrefixDirectory } from './partition-path.js';
import type { Row } from './row-batch.js';
import { resolveLakeSchemaSet, type SchemaSet, SWEEP_SCHEMA_SET } from './schema-set.js';
import {
  negativeRegretSummarySql,
  regretAnalysisSql,
  type SweepViewColumns,
  sweepViews,
  type ViewSourceColumn,
  workloadRegretAnalysisSql,
} from './sweep-views.js';
import {
  checkViewName,
  readSavedViews,
  removeViewDefinition,
  saveViewDefinition,
  type ViewDefinition,
  type ViewProblem,
} from './views.js';
import {
  listParquetFiles,
  type PublishOptions,
  stageAndPublish,
  type WriteOptions,
  type WriteResult,
  writeRows,
} from './write-rows.js';

/** Options for {@link Lake.replace}. */
export interface ReplaceOptions {
  /** Values of a leading prefix of the dataset's partition keys: the partition to replace in. */
  readonly partition: Readonly<Record<string, PartitionValue>>;
  /** Names the producer; only files an earlier `replace` with this stem published are removed. */
  readonly stem: string;
}

/** What {@link Lake.replace} did. */
export interface ReplaceResult extends WriteResult {
  /** Part files of earlier replaces (same stem and partition) that were removed. */
  readonly removedFiles: number;
}

/** Options for {@link openLake}. */
export interface OpenLakeOptions {
  /**
   * The schema set to open the lake with (`'sweep'`, `'squiggle'`, or one registered with
   * `registerSchemaSet`). Defaults to the set the lake records, else `sweep`; a set that
   * disagrees with the record is refused.
   */
  readonly schema?: string;
  /** Datasets to expose even when they have no files yet; overrides the schema set's registry. */
  readonly registry?: DatasetRegistry;
  /** DuckDB threads for queries (default: DuckDB's own choice, all cores). */
  readonly threads?: number;
  /**
   * Time travel: pins datasets to versions of their commit logs (`{ metrics_scalar: 12 }`).
   * Datasets not named follow `asOf`, else the latest version.
   */
  readonly version?: Readonly<Record<string, number>>;
  /** Time travel: pins every logged dataset to its last version committed at or before this time. */
  readonly asOf?: Date;
  /**
   * Compact a partition after a write of this connection leaves more than
   * `autoCompact.maxSmallFiles` small files in it (for long-running writers).
   */
  readonly autoCompact?: CompactionPolicy;
  /**
   * Put the lake's views into this DuckDB database instead of a new in-memory one (exp_engine's
   * `create_connection_and_views(base_out, connection)`): the views and the `grids` table are
   * created through `connection`, next to whatever it already holds, and {@link Lake.close}
   * leaves both open. `threads` does not apply.
   */
  readonly duckdb?: { readonly instance: DuckDBInstance; readonly connection: DuckDBConnection };
}

/** A dataset as a lake connection sees it. */
export interface LakeDataset {
  readonly name: string;
  /** The SQL view name (same as the dataset name). */
  readonly view: string;
  readonly manifest: DatasetManifest;
  /** Number of Parquet part files when the view was created. */
  readonly fileCount: number;
  /** The glob matching the dataset's part files (what a reader by path would read). */
  readonly glob: string;
  /** The log version the view reads; -1 for a dataset without a log (read by glob). */
  readonly version: number;
  /** Rows of the snapshot, from the log (undefined for a dataset without a log). */
  readonly rowCount?: number;
  /** The snapshot's files as the log records them (undefined for a dataset without a log). */
  readonly files?: ReadonlyArray<{ readonly relative: string; readonly size: number; readonly rows: number }>;
}

/** Options for {@link Lake.queryDataset}. */
export interface DatasetQuery {
  /** A SQL boolean expression over the dataset's columns. */
  readonly where?: string;
  readonly limit?: number;
  readonly orderBy?: string;
  readonly columns?: readonly string[];
}

const RESERVED_DIRECTORIES = new Set(['grids']);

/** The datasets exp_engine's views read (see sweep-views.ts); `grids` is re-read with them. */
const SWEEP_VIEW_SOURCES = ['events', 'seeds'] as const;

/**
 * A DuckDB connection over a lake directory, with one view per dataset (`events`, `seeds`, any
 * other dataset on disk) and a `grids` table of the params flattened into typed columns.
 * Views read the Parquet files in place: nothing is loaded until a query runs, and a query sees
 * the files that exist when it starts.
 *
 * @example
 * ```ts
 * const lake = await openLake('results');
 * const rows = await lake.query('SELECT grid_id, avg(regret) FROM events GROUP BY 1');
 * lake.close();
 * ```
 */
export class Lake {
  #viewProblems: ViewProblem[] = [];
  /**
   * The lake's grid-id scheme, for sweep lakes (recorded, or detected from its `params.json`
   * files when opened, and then recorded); `undefined` for other schema sets.
   */
  gridIdSetting: GridIdSetting | undefined;
  readonly #datasets = new Map<string, LakeDataset>();
  /** Datasets pinned to a version (time travel), resolved at open. */
  readonly #pins = new Map<string, number>();
  /** exp_engine's views as last created, and the columns they were built from. */
  #sweepViews: ViewDefinition[] = [];
  #sweepColumns: SweepViewColumns = {};
  /** Set when `events` or `seeds` got a new view: their columns may have changed. */
  #sweepStale = false;
  /** The named views created (for {@link datasetSql}, which is synchronous). */
  readonly #namedViews = new Set<string>();

  constructor(
    readonly baseOut: string,
    readonly paths: LakePaths,
    readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    readonly registry: DatasetRegistry,
    readonly schemaSet: SchemaSet,
    readonly autoCompact?: CompactionPolicy,
    /** False when the DuckDB instance and connection belong to the caller (`duckdb` option). */
    readonly ownsDuckDB = true,
  ) {}

  /** The datasets with a view, by name. */
  get datasets(): ReadonlyMap<string, LakeDataset> {
    return this.#datasets;
  }

  /**
   * Runs any SQL over the views and returns plain row objects.
   *
   * @example
   * ```ts
   * await lake.query('SELECT count(*) AS n FROM events'); // [{ n: 12000 }]
   * ```
   */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    return this.#withSnapshots(sql, () => queryObjects(this.connection, sql));
  }

  /**
   * Runs `work` over the views of the current snapshots: first moves views of unpinned datasets
   * to any version committed since, then, when a file vanished under the query (a commit moved
   * it to the trash after the view was bound), re-resolves the views and retries (a few times:
   * under a stream of commits it can happen again).
   */
  async #withSnapshots<T>(sql: string, work: () => Promise<T>): Promise<T> {
    await this.advance();
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!isVanishedFileError(error) || attempt >= VANISHED_FILE_ATTEMPTS)
          throw parquetFileError(error) ?? new SqlError(sql, error);
      }
      await this.advance(true);
    }
  }

  /**
   * Moves the view of every dataset that is not pinned to a version to the latest version of its
   * log (each query does this first, so a query sees the commits made before it started).
   * `reresolve` also rebuilds pinned views, whose removed files may have moved to the trash.
   *
   * @example
   * ```ts
   * await lake.advance();
   * ```
   */
  async advance(reresolve = false): Promise<void> {
    // The version checks are independent file-system probes: run them together.
    const stale = await Promise.all(
      [...this.#datasets].map(async ([name, dataset]) => {
        if (this.#pins.has(name)) return reresolve;
        const latest = await latestVersion(this.paths, name);
        return latest !== dataset.version || (reresolve && latest >= 0);
      }),
    );
    const names = [...this.#datasets.keys()];
    for (const [i, name] of names.entries()) if (stale[i]) await this.#rebuildView(name);
    if (this.#sweepStale) await this.#followSweepColumns();
  }

  async #rebuildView(name: string): Promise<void> {
    this.#datasets.set(
      name,
      await createDatasetView(
        this.connection,
        this.paths,
        name,
        this.registry.get(name),
        this.#pins.get(name),
      ),
    );
    if ((SWEEP_VIEW_SOURCES as readonly string[]).includes(name)) this.#sweepStale = true;
  }

  /**
   * Runs SQL and returns DuckDB's result reader (column names, types, rows), for callers that
   * need more than plain objects. DuckDB's refusals become {@link SqlError}.
   *
   * @example
   * ```ts
   * const reader = await lake.read('SELECT * FROM seeds');
   * reader.columnNames();
   * ```
   */
  async read(sql: string): Promise<DuckDBResultReader> {
    return this.#withSnapshots(sql, () => this.connection.runAndReadAll(sql));
  }

  /**
   * Runs SQL for its effect (e.g. `COPY … TO`); DuckDB's refusals become {@link SqlError}.
   *
   * @example
   * ```ts
   * await lake.run("COPY (SELECT * FROM seeds) TO 'seeds.parquet'");
   * ```
   */
  async run(sql: string): Promise<void> {
    await this.#withSnapshots(sql, () => this.connection.run(sql));
  }

  /**
   * Selects rows of one dataset with an optional filter, order and limit.
   *
   * @example
   * ```ts
   * await lake.queryDataset('events', { where: "op = 'insert'", limit: 10 });
   * ```
   */
  queryDataset(dataset: string, query: DatasetQuery = {}): Promise<Record<string, unknown>[]> {
    return this.query(this.datasetSql(dataset, query));
  }

  /**
   * The SQL text {@link queryDataset} runs, for callers that stream or export the result.
   *
   * @example
   * ```ts
   * lake.datasetSql('seeds', { limit: 5 }); // 'SELECT * FROM "seeds" LIMIT 5'
   * ```
   */
  datasetSql(dataset: string, query: DatasetQuery = {}): string {
    // A named view (e.g. exp_engine's events_summary) is selected from like a dataset.
    if (dataset !== 'grids' && !this.#datasets.has(dataset) && !this.#namedViews.has(dataset)) {
      throw new RunlakeError(
        `no dataset "${dataset}" in ${this.baseOut} (have: ${[...this.#datasets.keys(), 'grids', ...this.#namedViews].join(', ')})`,
      );
    }
    const columns = query.columns?.length ? query.columns.map(quoteIdentifier).join(', ') : '*';
    let sql = `SELECT ${columns} FROM ${quoteIdentifier(dataset)}`;
    if (query.where?.trim()) sql += ` WHERE ${query.where}`;
    if (query.orderBy?.trim()) sql += ` ORDER BY ${query.orderBy}`;
    if (query.limit !== undefined) {
      if (!Number.isSafeInteger(query.limit) || query.limit < 0)
        throw new RunlakeError(`limit must be a non-negative integer, got ${query.limit}`);
      sql += ` LIMIT ${query.limit}`;
    }
    return sql;
  }

  /**
   * Event rows matching `where` (exp_engine's `query_events`).
   *
   * @example
   * ```ts
   * await lake.queryEvents('regret < 0.05', 20);
   * ```
   */
  queryEvents(where?: string, limit?: number): Promise<Record<string, unknown>[]> {
    return this.queryDataset('events', { where, limit });
  }

  /**
   * Seed rows matching `where` (exp_engine's `query_seeds`).
   *
   * @example
   * ```ts
   * await lake.querySeeds("grid_id = 'ab12cd34'", 100);
   * ```
   */
  querySeeds(where?: string, limit?: number): Promise<Record<string, unknown>[]> {
    return this.queryDataset('seeds', { where, limit });
  }

  /**
   * Rows of the `events_workload` view matching `where` (exp_engine's `query_workload_events`).
   *
   * @example
   * ```ts
   * await lake.queryWorkloadEvents('is_workload_phase', 50);
   * ```
   */
  async queryWorkloadEvents(where?: string, limit?: number): Promise<Record<string, unknown>[]> {
    await this.advance();
    if (!this.#sweepViews.some((v) => v.name === 'events_workload')) {
      throw new RunlakeError(
        `${this.baseOut} has no events_workload view: its events need grid_id, seed, event_id (or event, step) and a regret column`,
      );
    }
    return this.queryDataset('events_workload', { where, limit });
  }

  /**
   * Per run: events, largest cumulative and average regret (with and without noise) and negative
   * regret events (exp_engine's `query_regret_analysis`; absent columns read as NULL).
   *
   * @example
   * ```ts
   * await lake.regretAnalysis(); // [{ grid_id, seed, total_events, final_cum_regret, … }]
   * ```
   */
  regretAnalysis(): Promise<Record<string, unknown>[]> {
    return this.#sweepQuery(regretAnalysisSql, 'events need grid_id and seed');
  }

  /**
   * Per run: workload start, events before and in the workload phase, and final workload regret
   * (exp_engine's `query_workload_regret_analysis`, over `events_workload`).
   *
   * @example
   * ```ts
   * await lake.workloadRegretAnalysis();
   * ```
   */
  workloadRegretAnalysis(): Promise<Record<string, unknown>[]> {
    return this.#sweepQuery(workloadRegretAnalysisSql, 'the lake has no events_workload view');
  }

  /**
   * The runs with negative-regret events: how many, what share, the lowest and mean negative
   * regret, most affected first (exp_engine's `get_negative_regret_summary`).
   *
   * @example
   * ```ts
   * await lake.negativeRegretSummary();
   * ```
   */
  negativeRegretSummary(): Promise<Record<string, unknown>[]> {
    return this.#sweepQuery(negativeRegretSummarySql, 'events need grid_id, seed and a regret column');
  }

  async #sweepQuery(
    build: (events: readonly ViewSourceColumn[]) => string | undefined,
    missing: string,
  ): Promise<Record<string, unknown>[]> {
    // The SQL depends on the columns events have now: catch up with commits first.
    await this.advance();
    const sql = build(this.#sweepColumns.events ?? []);
    if (!sql) throw new RunlakeError(`${this.baseOut}: ${missing}`);
    return this.query(sql);
  }

  /**
   * Writes rows into one of the lake's datasets (see {@link writeRows}). Rows of a typed dataset
   * are checked against its schema first — unknown columns, types, enum values, nulls in non-null
   * columns, row checks — and a refused call writes nothing. The dataset's view sees the rows
   * as soon as this returns. The rows may also come as columns — a column object or an Apache
   * Arrow `Table`/`RecordBatch` — checked by the same rules and staged without a call per value
   * (the fast path for a tracking server's batches).
   *
   * @example
   * ```ts
   * const lake = await openLake('squiggle-lake', { schema: 'squiggle' });
   * await lake.write('metrics_scalar', [{ run_id: 'r1', step: 10, metric_name: 'loss', value: 2.3 }]);
   * await lake.write('metrics_scalar', {
   *   run_id: ['r1', 'r1'],
   *   step: new BigInt64Array([11n, 12n]),
   *   metric_name: ['loss', 'loss'],
   *   value: new Float64Array([2.2, 2.1]),
   * });
   * ```
   */
  async write(dataset: string, rows: WriteInput, options: WriteOptions = {}): Promise<WriteResult> {
    const definition = this.definition(dataset);
    this.#refuseWhilePinned(dataset);
    const result = await writeRows(this.baseOut, definition, rows, options);
    if (this.autoCompact && result.files.length > 0) {
      const root = this.paths.dataset(dataset);
      const touched = result.files.map(
        (f) => path.relative(root, path.dirname(f)).split(path.sep).join('/') || '.',
      );
      await compactIfNeeded(this.baseOut, definition, touched, this.autoCompact);
    }
    await this.#rebuildView(dataset);
    return result;
  }

  /**
   * Replaces the rows a producer derived earlier in one partition: writes `rows` (each must agree
   * with `partition`, a leading prefix of the dataset's partition keys), then removes the part
   * files that earlier `replace` calls with the same `stem` published there. Files written by
   * anyone else in the partition are kept, so derived results can be recomputed without touching
   * accepted data. The new files are published before the old ones are removed: a reader never
   * sees the partition without its derived rows, though it may briefly see both generations.
   *
   * @example
   * ```ts
   * await lake.replace('events', detected, { partition: { run_id: 'r1' }, stem: 'analyze' });
   * ```
   */
  async replace(dataset: string, rows: readonly Row[], options: ReplaceOptions): Promise<ReplaceResult> {
    const definition = this.definition(dataset);
    if (!/^[A-Za-z0-9_]+$/.test(options.stem)) {
      throw new RunlakeError(`replace stem "${options.stem}" must be letters, digits or underscores`);
    }
    const directory = partitionPrefixDirectory(
      dataset,
      definition.partitionBy.map((k) => k.name),
      options.partition,
      'replace',
    );
    const replace = { directory, stem: options.stem };
    const result =
      rows.length > 0
        ? await this.write(dataset, rows, {
            partitionFixed: options.partition,
            fileStem: `${options.stem}-${randomUUID().replaceAll('-', '')}`,
            replace,
          })
        : await this.#removeFiles(definition, { replace });
    return { ...result, removedFiles: result.removedFiles ?? 0 };
  }

  /**
   * Deletes every row of one partition (a leading prefix of the dataset's partition keys) in one
   * commit; the files move to the trash, where time travel still reads them until `vacuum`.
   *
   * @example
   * ```ts
   * await lake.deletePartition('metrics_scalar', { run_id: 'r1' }); // { removedFiles: 3, … }
   * ```
   */
  async deletePartition(
    dataset: string,
    partition: Readonly<Record<string, PartitionValue>>,
  ): Promise<ReplaceResult> {
    const definition = this.definition(dataset);
    const directory = partitionPrefixDirectory(
      dataset,
      definition.partitionBy.map((k) => k.name),
      partition,
      'delete',
    );
    const result = await this.#removeFiles(definition, { replace: { directory }, operation: 'delete' });
    return { ...result, removedFiles: result.removedFiles ?? 0 };
  }

  async #removeFiles(definition: DatasetDefinition, change: PublishOptions): Promise<WriteResult> {
    this.#refuseWhilePinned(definition.name);
    const result = await withStagingConnection((connection) =>
      stageAndPublish(this.paths, connection, definition, 0, change, (stagingDir) =>
        makeDirectory(stagingDir),
      ),
    );
    await this.#rebuildView(definition.name);
    return result;
  }

  /**
   * Merges small part files of a dataset (any dataset of the lake, including ones another tool
   * wrote) into files of a target size, in one commit; see {@link compactDataset}.
   *
   * @example
   * ```ts
   * await lake.compact('metrics_scalar', { partition: { run_id: 'r1' } });
   * ```
   */
  async compact(dataset: string, options: CompactOptions = {}): Promise<CompactResult> {
    const known = this.#datasets.get(dataset);
    const definition =
      this.registry.get(dataset) ??
      (known ? { name: dataset, partitionBy: known.manifest.partitionBy } : undefined);
    if (!definition) {
      throw new RunlakeError(
        `no dataset "${dataset}" in ${this.baseOut} (have: ${[...this.#datasets.keys()].join(', ') || 'none'})`,
      );
    }
    this.#refuseWhilePinned(dataset);
    const result = await compactDataset(this.baseOut, definition, options);
    if (this.#datasets.has(dataset)) await this.#rebuildView(dataset);
    return result;
  }

  #refuseWhilePinned(dataset: string): void {
    if (this.#pins.has(dataset)) {
      throw new RunlakeError(
        `${dataset} is opened at version ${this.#pins.get(dataset)} (time travel) and cannot be written; open the lake without a version to write`,
      );
    }
  }

  /**
   * The definition of one of the lake's writable datasets; throws naming the ones it has.
   *
   * @example
   * ```ts
   * lake.definition('geometry_state').partitionBy.map((k) => k.name); // ['run_id', 'sample_set', 'module']
   * ```
   */
  definition(dataset: string): DatasetDefinition {
    const definition = this.registry.get(dataset);
    if (!definition) {
      const names = this.registry.list().map((d) => d.name);
      throw new RunlakeError(
        `${this.baseOut} is a "${this.schemaSet.name}" lake and has no dataset "${dataset}" to write ` +
          `(its datasets: ${names.join(', ')})`,
      );
    }
    return definition;
  }

  /**
   * Adds a value to an extensible enum domain of this lake (e.g. a new `event_type`), recording it
   * in `.runlake/enums/` so every later writer and `runlake validate` accept it.
   *
   * @example
   * ```ts
   * await lake.registerEnumValue('event_type', 'grokking', 'validation accuracy jumps late in training');
   * ```
   */
  async registerEnumValue(domain: string, value: string, description: string): Promise<void> {
    const found = this.schemaSet.enums.find((d) => d.name === domain);
    if (!found) {
      throw new RunlakeError(
        `the ${this.schemaSet.name} schema set has no enum domain "${domain}" (${this.schemaSet.enums.map((d) => d.name).join(', ') || 'none'})`,
      );
    }
    if (found.has(value)) return;
    if (!found.extensible)
      throw new EnumValueError(domain, value, `the ${domain} domain is closed (${found.list().join(', ')})`);
    await recordLakeEnumValues(this.paths, found, [[value, description]]);
  }

  /**
   * Re-reads the lake directory: picks up datasets and grids written since the lake was opened,
   * and gives datasets that were empty when opened views over their new files.
   *
   * @example
   * ```ts
   * await writeEventRows(rows, 'lake', params);
   * await lake.refresh();
   * ```
   */
  async refresh(): Promise<void> {
    this.#datasets.clear();
    for (const name of await listDatasetNames(this.paths, this.registry)) await this.#rebuildView(name);
    await createGridsTable(this.connection, await listGridRecords(this.baseOut));
    await this.#createNamedViews();
  }

  /**
   * The named views of this lake: the schema set's, then the ones saved with {@link saveView}.
   *
   * @example
   * ```ts
   * (await lake.views()).map((v) => v.name); // ['mean_eval', 'std_eval', 'loss_wide']
   * ```
   */
  async views(): Promise<ViewDefinition[]> {
    if (this.#sweepStale) await this.#followSweepColumns();
    const saved = await readSavedViews(this.paths);
    // A saved view is created after exp_engine's view of the same name, so it is the one that stands.
    const sweep = this.#sweepViews.filter((v) => !saved.some((s) => s.name === v.name));
    return [...(this.schemaSet.views ?? []), ...sweep, ...saved];
  }

  /**
   * Named views that failed to build when the lake was last opened or refreshed (a saved view
   * whose SQL names a column that no longer exists, …). They are left out, not fatal.
   */
  get viewProblems(): readonly ViewProblem[] {
    return this.#viewProblems;
  }

  /**
   * Saves a named SQL view in the lake: it is created now (so a bad query is refused at once,
   * naming DuckDB's reason) and recreated by every later `openLake`. Saving an existing name
   * replaces it.
   *
   * @example
   * ```ts
   * await lake.saveView('loss_by_run', 'SELECT run_id, min(value) AS best FROM metrics_scalar GROUP BY 1', 'best loss');
   * await lake.query('SELECT * FROM loss_by_run');
   * ```
   */
  async saveView(name: string, sql: string, description = ''): Promise<ViewDefinition> {
    checkViewName(name, [
      ...this.#datasets.keys(),
      'grids',
      ...(this.schemaSet.views ?? []).map((v) => v.name),
      ...this.#sweepViews.map((v) => v.name),
    ]);
    const view: ViewDefinition = { name, description, sql: sql.trim().replace(/;+$/, '') };
    try {
      await this.connection.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(name)} AS ${view.sql}`);
    } catch (error) {
      throw new RunlakeError(`view "${name}" was not saved: ${(error as Error).message.split('\n')[0]}`);
    }
    await saveViewDefinition(this.paths, view);
    this.#namedViews.add(name);
    return view;
  }

  /**
   * Removes a saved view from the lake; returns whether it existed.
   *
   * @example
   * ```ts
   * await lake.dropView('loss_by_run'); // true
   * ```
   */
  async dropView(name: string): Promise<boolean> {
    if ((this.schemaSet.views ?? []).some((v) => v.name === name)) {
      throw new RunlakeError(
        `view "${name}" belongs to the ${this.schemaSet.name} schema set and cannot be dropped`,
      );
    }
    const removed = await removeViewDefinition(this.paths, name);
    if (removed) {
      await this.connection.run(`DROP VIEW IF EXISTS ${quoteIdentifier(name)}`);
      this.#namedViews.delete(name);
      // A saved view from before exp_engine's views existed may have hidden one: bring it back.
      if (this.#sweepViews.some((v) => v.name === name)) await this.#createNamedViews(this.#sweepViews);
    }
    return removed;
  }

  /**
   * Creates the named views: the schema set's, exp_engine's (`sweep`, built from the columns
   * events, seeds and grids have now unless given), then the saved ones.
   */
  async #createNamedViews(sweep?: ViewDefinition[]): Promise<void> {
    this.#sweepStale = false;
    const next = sweep ?? sweepViews(await this.#readSweepColumns());
    // A view the columns no longer support (time travel to before a column existed) goes.
    for (const old of this.#sweepViews) {
      if (!next.some((v) => v.name === old.name))
        await this.connection.run(`DROP VIEW IF EXISTS ${quoteIdentifier(old.name)}`);
    }
    this.#sweepViews = next;
    const problems: ViewProblem[] = [];
    this.#namedViews.clear();
    for (const view of await this.views()) {
      try {
        await this.connection.run(`CREATE OR REPLACE VIEW ${quoteIdentifier(view.name)} AS ${view.sql}`);
        this.#namedViews.add(view.name);
      } catch (error) {
        problems.push({ view: view.name, reason: (error as Error).message.split('\n')[0] ?? '' });
      }
    }
    this.#viewProblems = problems;
  }

  /** Rebuilds exp_engine's views when the columns of events or seeds changed since they were built. */
  async #followSweepColumns(): Promise<void> {
    this.#sweepStale = false;
    const next = sweepViews(await this.#readSweepColumns());
    if (JSON.stringify(next) !== JSON.stringify(this.#sweepViews)) await this.#createNamedViews(next);
  }

  /**
   * The columns of events and seeds (when they have files) and of grids. A dataset whose view
   * cannot be described just now (a commit moved a file under it) keeps the columns last read.
   */
  async #readSweepColumns(): Promise<SweepViewColumns> {
    const describe = async (table: string): Promise<ViewSourceColumn[]> =>
      (await this.connection.runAndReadAll(`DESCRIBE ${quoteIdentifier(table)}`))
        .getRowObjectsJS()
        .map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
    const columns: Record<string, ViewSourceColumn[] | undefined> = {};
    for (const name of [...SWEEP_VIEW_SOURCES, 'grids'] as const) {
      const dataset = this.#datasets.get(name);
      if (name !== 'grids' && !dataset?.fileCount) continue;
      try {
        columns[name] = await describe(name);
      } catch {
        columns[name] = this.#sweepColumns[name]?.slice();
      }
    }
    this.#sweepColumns = columns;
    return columns;
  }

  /**
   * Pins datasets to versions for time travel: `version` names a version per dataset, `asOf`
   * the last version committed at that time (a dataset first committed later reads as empty;
   * datasets without a log are not pinned). Called by {@link openLake}.
   */
  async pin(version: Readonly<Record<string, number>> = {}, asOf?: Date): Promise<void> {
    for (const [name, v] of Object.entries(version)) {
      if (!this.#datasets.has(name))
        throw new RunlakeError(`no dataset "${name}" in ${this.baseOut} to open at version ${v}`);
      this.#pins.set(name, (await loadSnapshot(this.paths, name, { version: v })).version);
    }
    if (asOf) {
      for (const name of this.#datasets.keys()) {
        if (this.#pins.has(name) || (await latestVersion(this.paths, name)) < 0) continue;
        this.#pins.set(name, (await loadSnapshot(this.paths, name, { asOf })).version);
      }
    }
    for (const name of this.#pins.keys()) await this.#rebuildView(name);
    await this.#createNamedViews();
  }

  /** Closes the connection and the DuckDB instance. */
  close(): void {
    if (!this.ownsDuckDB) return;
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/**
 * Opens a lake directory for SQL: an in-process DuckDB with a view per dataset and a `grids`
 * table. A dataset with no files yet is an empty, typed view. Partition columns are pinned with
 * `hive_types` (so `grid_id` never turns into a number and loses leading zeros).
 *
 * @example
 * ```ts
 * const lake = await openLake('results');
 * console.log(await lake.queryEvents('regret < 0.05', 20));
 * lake.close();
 * ```
 */
export async function openLake(baseOut: string, options: OpenLakeOptions = {}): Promise<Lake> {
  const config: Record<string, string> = {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  };
  if (options.threads !== undefined) config.threads = String(options.threads);
  const instance = options.duckdb?.instance ?? (await DuckDBInstance.create(':memory:', config));
  const connection = options.duckdb?.connection ?? (await instance.connect());
  const paths = lakePaths(baseOut);
  let schemaSet: SchemaSet;
  try {
    schemaSet = await resolveLakeSchemaSet(paths, options.schema);
  } catch (error) {
    if (!options.duckdb) {
      connection.closeSync();
      instance.closeSync();
    }
    throw error;
  }
  const lake = new Lake(
    baseOut,
    paths,
    instance,
    connection,
    options.registry ?? schemaSet.registry,
    schemaSet,
    options.autoCompact,
    !options.duckdb,
  );
  try {
    await lake.refresh();
    if (schemaSet.name === SWEEP_SCHEMA_SET.name)
      lake.gridIdSetting = await recordDetectedGridIdScheme(paths);
    if (options.version || options.asOf) await lake.pin(options.version, options.asOf);
  } catch (error) {
    lake.close();
    throw error;
  }
  return lake;
}

/**
 * The datasets of a lake directory: every registered one, plus every top-level directory that
 * runlake wrote (it has a manifest) or that holds Parquet files, sorted by name.
 *
 * @example
 * ```ts
 * await listDatasetNames(lakePaths('lake'), defaultRegistry); // ['events', 'seeds']
 * ```
 */
export async function listDatasetNames(paths: LakePaths, registry: DatasetRegistry): Promise<string[]> {
  const names = new Set(registry.list().map((d) => d.name));
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = await readdir(paths.root, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const entry of entries) {
    if (
      !entry.isDirectory() ||
      !/^[a-z][a-z0-9_]*$/.test(entry.name) ||
      RESERVED_DIRECTORIES.has(entry.name)
    ) {
      continue;
    }
    // A directory is a dataset when runlake wrote it (it has a manifest) or it holds Parquet
    // files; other directories someone keeps beside the lake (logs, plots) are not.
    const isDataset =
      (await manifestExists(paths, entry.name)) ||
      (await listParquetFiles(paths.dataset(entry.name))).length > 0;
    if (isDataset) names.add(entry.name);
  }
  return [...names].sort();
}

/**
 * The manifest of a dataset: the stored one, else one discovered from its files, else the one
 * its definition implies (for a dataset with no files yet).
 *
 * @example
 * ```ts
 * await datasetManifest(connection, lakePaths('lake'), 'events', EVENTS_DATASET);
 * ```
 */
export async function datasetManifest(
  connection: DuckDBConnection,
  paths: LakePaths,
  name: string,
  definition: DatasetDefinition | undefined,
): Promise<DatasetManifest> {
  return (
    (await readManifest(paths, name)) ??
    (await discoverDataset(connection, paths, definition ?? { name })) ?? {
      format: 1,
      dataset: name,
      partitionBy: (definition?.partitionBy ?? []).map((k) => ({ name: k.name, type: k.type })),
      columns: (definition?.columns ?? []).map((c) => ({ name: c.name, type: c.type })),
    }
  );
}

/**
 * The `read_parquet` call for a dataset's files, with partition types pinned.
 *
 * @example
 * ```ts
 * readParquetSql('lake/events/**\/*.parquet', manifest);
 * ```
 */
export function readParquetSql(
  source: string | readonly string[],
  manifest: DatasetManifest,
  unionByName = true,
): string {
  const hiveTypes = manifest.partitionBy
    .map((k) => `${quoteLiteral(k.name)}: ${quoteLiteral(columnTypeSql(k.type))}`)
    .join(', ');
  const hive = manifest.partitionBy.length
    ? `hive_partitioning = true, hive_types = {${hiveTypes}}`
    : 'hive_partitioning = false';
  const files =
    typeof source === 'string' ? quoteLiteral(source) : `[${source.map(quoteLiteral).join(', ')}]`;
  return `read_parquet(${files}, ${hive}${unionByName ? ', union_by_name = true' : ''})`;
}

/**
 * The FROM source of a snapshot's files: one `read_parquet` per schema fingerprint (files that
 * share one need no footer comparison when a query binds), joined with `UNION ALL BY NAME`.
 * Files without a fingerprint are read together with `union_by_name`.
 *
 * @example
 * ```ts
 * snapshotSourceSql([{ path: '/lake/m/run_id=r1/part-a.parquet', schema: 'ab12' }], manifest);
 * ```
 */
export function snapshotSourceSql(
  files: ReadonlyArray<{ readonly path: string; readonly schema?: string }>,
  manifest: DatasetManifest,
): string {
  const groups = new Map<string, string[]>();
  for (const file of files) {
    const key = file.schema ?? '';
    const group = groups.get(key);
    if (group) group.push(file.path);
    else groups.set(key, [file.path]);
  }
  const reads = [...groups].map(([schema, paths]) => readParquetSql(paths, manifest, schema === ''));
  if (reads.length === 1) return reads[0] as string;
  return `(${reads.map((r) => `SELECT * FROM ${r}`).join(' UNION ALL BY NAME ')})`;
}

async function createDatasetView(
  connection: DuckDBConnection,
  paths: LakePaths,
  name: string,
  definition: DatasetDefinition | undefined,
  version?: number,
): Promise<LakeDataset> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await createDatasetViewUnnamed(connection, paths, name, definition, version);
    } catch (error) {
      // A commit moved a file of the snapshot to the trash while the view's schema probe read it:
      // resolve the snapshot's files again.
      if (isVanishedFileError(error) && attempt < VANISHED_FILE_ATTEMPTS) continue;
      // A broken part file fails the view's schema probe; name the file, not DuckDB's glob.
      throw parquetFileError(error) ?? error;
    }
  }
}

/** How often a view is resolved again, or a query retried, when a file vanished under it. */
const VANISHED_FILE_ATTEMPTS = 5;

async function createDatasetViewUnnamed(
  connection: DuckDBConnection,
  paths: LakePaths,
  name: string,
  definition: DatasetDefinition | undefined,
  pinned?: number,
): Promise<LakeDataset> {
  // Pinned to -1: time travel to before the dataset's first commit, when it was empty.
  const snapshot =
    pinned === -1
      ? { dataset: name, version: -1, files: new Map<string, LiveFile>() }
      : await loadSnapshot(paths, name, { version: pinned });
  const logged = snapshot.version >= 0 || pinned !== undefined;
  const manifest =
    (logged && pinned !== undefined && snapshot.schema) ||
    (await datasetManifest(connection, paths, name, definition));
  const directory = paths.dataset(name);
  const glob = paths.datasetGlob(name);
  const files = logged ? await resolveSnapshotFiles(paths, snapshot) : undefined;
  const fileCount = files ? files.length : (await listParquetFiles(directory)).length;
  const view = quoteIdentifier(name);
  const typedNull = (c: { name: string; type: ColumnType }) =>
    `CAST(NULL AS ${c.type.kind === 'null' ? 'INTEGER' : columnTypeSql(c.type)}) AS ${quoteIdentifier(c.name)}`;

  // A typed dataset's view has its declared columns in declared order with declared types, even
  // over files another tool wrote with other types (a cast that fails is a query error, which
  // `runlake validate` explains); columns the schema does not know follow.
  const declared = definition?.columns ? [...definition.partitionBy, ...definition.columns] : undefined;
  if (fileCount === 0) {
    const columns = (declared ?? [...manifest.columns, ...manifest.partitionBy]).map(typedNull);
    const select = columns.length ? columns.join(', ') : 'NULL AS _empty';
    await connection.run(`CREATE OR REPLACE VIEW ${view} AS SELECT ${select} WHERE false`);
  } else {
    const source = files ? snapshotSourceSql(files, manifest) : readParquetSql(glob, manifest);
    const present = files
      ? await snapshotColumns(connection, files, manifest)
      : (await connection.runAndReadAll(`SELECT * FROM ${source} LIMIT 0`)).columnNames();
    const presentSet = new Set(present);
    let select: string;
    if (declared) {
      const names = new Set(declared.map((c) => c.name));
      select = [
        ...declared.map((c) =>
          presentSet.has(c.name)
            ? `CAST(${quoteIdentifier(c.name)} AS ${columnTypeSql(c.type)}) AS ${quoteIdentifier(c.name)}`
            : typedNull(c),
        ),
        ...present.filter((name) => !names.has(name)).map(quoteIdentifier),
      ].join(', ');
    } else {
      // Columns the manifest knows but no file holds (all-null so far) still appear, as NULL.
      const missing = manifest.columns.filter((c) => !presentSet.has(c.name)).map(typedNull);
      select = ['*', ...missing].join(', ');
    }
    await connection.run(`CREATE OR REPLACE VIEW ${view} AS SELECT ${select} FROM ${source}`);
  }
  return {
    name,
    view: name,
    manifest,
    fileCount,
    glob,
    version: snapshot.version,
    rowCount: logged ? [...snapshot.files.values()].reduce((n, f) => n + f.rows, 0) : undefined,
    files: files?.map((f) => ({ relative: f.relative, size: f.size, rows: f.rows })),
  };
}

/**
 * The column names a snapshot's view reads: files that share a schema fingerprint have the same
 * columns, so one file per fingerprint is probed (files without one are probed together).
 */
async function snapshotColumns(
  connection: DuckDBConnection,
  files: ReadonlyArray<{ readonly path: string; readonly schema?: string }>,
  manifest: DatasetManifest,
): Promise<string[]> {
  const probes = new Map<string, Array<{ path: string; schema?: string }>>();
  for (const file of files) {
    const key = file.schema ?? '';
    const group = probes.get(key);
    if (!group) probes.set(key, [file]);
    else if (key === '') group.push(file);
  }
  const names: string[] = [];
  for (const group of probes.values()) {
    const shape = await connection.runAndReadAll(
      `SELECT * FROM ${snapshotSourceSql(group, manifest)} LIMIT 0`,
    );
    for (const name of shape.columnNames()) if (!names.includes(name)) names.push(name);
  }
  return names;
}

/**
 * Absolute paths of a snapshot's files: in the dataset's directory, or, for a file a later commit
 * removed, in the dataset's trash when it has been moved there.
 *
 * @example
 * ```ts
 * await resolveSnapshotFiles(lakePaths('lake'), await loadSnapshot(lakePaths('lake'), 'events', { version: 3 }));
 * ```
 */
export async function resolveSnapshotFiles(
  paths: LakePaths,
  snapshot: Snapshot,
): Promise<Array<LiveFile & { readonly relative: string }>> {
  const latest = await loadSnapshot(paths, snapshot.dataset);
  const directory = paths.dataset(snapshot.dataset);
  if (latest.version === snapshot.version) {
    return [...snapshot.files.values()].map((file) => ({
      ...file,
      relative: file.path,
      path: path.join(directory, file.path),
    }));
  }
  const trash = paths.trash(snapshot.dataset);
  return Promise.all(
    [...snapshot.files.values()].map(async (file) => {
      const live = path.join(directory, file.path);
      let resolved = live;
      if (!latest.files.has(file.path)) {
        const trashed = path.join(trash, file.path);
        if (
          await stat(trashed).then(
            () => true,
            () => false,
          )
        )
          resolved = trashed;
      }
      return { ...file, relative: file.path, path: resolved };
    }),
  );
}

/**
 * Whether a DuckDB error says a file it was reading no longer exists (a commit moved it to the
 * trash after the view was bound): the query is worth one retry over re-resolved views.
 *
 * @example
 * ```ts
 * if (isVanishedFileError(error)) await lake.advance(true);
 * ```
 */
export function isVanishedFileError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /No such file or directory|No files found that match|Cannot open file/i.test(message);
}

/**
 * Flattens canonical params into columns: nested objects become dotted names (`optim.lr`), and
 * each column takes the type its values unify to across grids (VARCHAR holding JSON text when
 * grids disagree, e.g. a number in one grid and a string in another).
 *
 * @example
 * ```ts
 * flattenParams({ optim: { lr: 0.1 } }); // { 'optim.lr': 0.1 }
 * ```
 */
export function flattenParams(
  params: Record<string, CanonicalValue>,
  prefix = '',
): Record<string, CanonicalValue> {
  const out: Record<string, CanonicalValue> = {};
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
    ) {
      Object.assign(out, flattenParams(value, name));
    } else {
      out[name] = value;
    }
  }
  return out;
}

async function createGridsTable(connection: DuckDBConnection, records: readonly GridRecord[]): Promise<void> {
  const flat = records.map((r) => flattenParams(r.params));
  const types = new Map<string, ColumnType | 'json'>();
  for (const row of flat) {
    for (const [name, value] of Object.entries(row)) {
      if (name === 'grid_id' || name === 'params_hash' || name === 'params_json') continue;
      const current = types.get(name) ?? t.null;
      if (current === 'json') continue;
      const inferred = inferValueType(value);
      const merged = 'unsupported' in inferred ? undefined : unifyTypes(current, inferred);
      types.set(name, merged ?? 'json');
    }
  }
  const paramColumns = [...types].map(([name, type]) => ({
    name,
    type: type === 'json' || type.kind === 'null' ? t.string : type,
    asJson: type === 'json',
  }));
  const columns = [
    { name: 'grid_id', type: t.string, valueAt: (r: number) => records[r]?.grid_id },
    ...paramColumns.map((c) => ({
      name: c.name,
      type: c.type,
      valueAt: (r: number) => {
        const value = flat[r]?.[c.name];
        return c.asJson && value !== undefined && value !== null ? canonicalJson(value) : value;
      },
    })),
    { name: 'params_hash', type: t.string, valueAt: (r: number) => records[r]?.params_hash },
    {
      name: 'params_json',
      type: t.string,
      valueAt: (r: number) => (records[r] ? canonicalJson(records[r].params) : null),
    },
  ];
  await connection.run('DROP TABLE IF EXISTS grids');
  await connection.run(
    `CREATE TEMP TABLE grids (${columns.map((c) => `${quoteIdentifier(c.name)} ${columnTypeSql(c.type)}`).join(', ')})`,
  );
  await appendColumns(connection, 'grids', records.length, columns);
}

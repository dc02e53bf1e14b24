import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type Lake, openLake, quoteLiteral, RunlakeError } from '../lake/index.js';
// Registers the squiggle schema set, so lakes that record it open here too.
import '../schema/index.js';

/** Options for {@link openSandboxedLake}. */
export interface SandboxOptions {
  /** The schema set to open the lake with (default: the one the lake records). */
  readonly schema?: string;
  /** DuckDB threads for queries (default: DuckDB's own choice). */
  readonly threads?: number;
  /** DuckDB's `memory_limit` for queries, in bytes (default: DuckDB's own, 80% of RAM). */
  readonly memoryLimitBytes?: number;
  /** Whether metric answers may read the downsampling pyramid (default true). */
  readonly pyramid?: boolean;
}

/**
 * A lake opened for serving: `lake` holds its datasets, manifests and views (runlake's own
 * metadata queries run there), `instance` is the read-only DuckDB every client query runs on.
 */
export interface SandboxedLake {
  /** The lake as {@link openLake} opens it, locked down like `instance`; for runlake's own queries. */
  readonly lake: Lake;
  /** A DuckDB instance over a read-only copy of the lake's catalog, locked down; for client queries. */
  readonly instance: DuckDBInstance;
  /** Whether metric answers may read the lake's downsampling pyramid. */
  readonly pyramid: boolean;
  /** Closes both instances and removes the catalog copy. */
  close(): void;
}

/**
 * Opens a lake for serving so that no query can write a file or change state another query sees:
 *
 * - The lake's views and `grids` table are copied into a DuckDB database file in a private
 *   temporary directory, which is then opened with `access_mode = READ_ONLY`: `CREATE`, `DROP`,
 *   `ALTER`, `INSERT`, macros… fail on the shared catalog whatever statement wraps them. What a
 *   connection creates in its own `temp` schema dies with the connection, and the server uses a
 *   fresh connection per request.
 * - File access is confined to the lake directory: `temp_directory` is disabled first (DuckDB
 *   would otherwise add its spill directory, `<cwd>/.tmp`, to the allowed ones), then
 *   `allowed_directories` is the lake root and `enable_external_access = false`. Extensions are
 *   neither installed nor loaded, and `lock_configuration` makes every later setting change fail.
 * - Writing a file inside the lake (`COPY … TO`) is not a catalog change, so the read-only
 *   database does not stop it; the query guard ({@link prepareReadOnly}) does, by accepting only
 *   SELECT trees.
 *
 * @example
 * ```ts
 * const served = await openSandboxedLake('results');
 * const connection = await served.instance.connect();
 * await connection.run('CREATE MACRO count_star() AS 42'); // throws: read-only mode
 * served.close();
 * ```
 */
export async function openSandboxedLake(
  lakeDir: string,
  options: SandboxOptions = {},
): Promise<SandboxedLake> {
  let root: string;
  try {
    root = realpathSync(lakeDir);
  } catch {
    throw new RunlakeError(`lake directory "${lakeDir}" does not exist`);
  }
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'runlake-serve-'));
  const catalogFile = path.join(scratch, 'catalog.duckdb');
  let lake: Lake | undefined;
  let instance: DuckDBInstance | undefined;
  try {
    lake = await openLake(root, { schema: options.schema, threads: 1 });
    await copyCatalog(lake.connection, catalogFile);
    await lockDown(lake.connection, root);
    const config: Record<string, string> = {
      access_mode: 'READ_ONLY',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimitBytes !== undefined) config.memory_limit = `${options.memoryLimitBytes}B`;
    instance = await DuckDBInstance.create(catalogFile, config);
    const connection = await instance.connect();
    try {
      // Every query binds the views, and binding reads each part file's footer (union_by_name);
      // cached footers take a tenth off the dashboard's requests. DuckDB checks each file's
      // modification time before using its cached footer, and runlake never rewrites a part file.
      await connection.run('SET parquet_metadata_cache = true');
      await lockDown(connection, root);
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    instance?.closeSync();
    lake?.close();
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  const opened = { lake, instance };
  return {
    ...opened,
    pyramid: options.pyramid !== false,
    close: () => {
      opened.instance.closeSync();
      opened.lake.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

// Copies the lake's views (in creation order, so each one's dependencies exist) and the grids
// table into a new database file, then detaches it.
async function copyCatalog(connection: DuckDBConnection, file: string): Promise<void> {
  await connection.run(`ATTACH ${quoteLiteral(file)} AS served_catalog`);
  try {
    await connection.run('CREATE TABLE served_catalog.main.grids AS SELECT * FROM temp.grids');
    const views = await connection.runAndReadAll(
      "SELECT sql FROM duckdb_views() WHERE database_name = 'memory' AND NOT internal AND NOT temporary ORDER BY view_oid",
    );
    await connection.run('USE served_catalog');
    for (const [sql] of views.getRowsJS()) await connection.run(String(sql));
  } finally {
    await connection.run('USE memory');
    await connection.run('DETACH served_catalog');
  }
}

// Confines a DuckDB instance to reading `root`. The order matters: the temp directory goes first
// (see openSandboxedLake), the lock last.
async function lockDown(connection: DuckDBConnection, root: string): Promise<void> {
  await connection.run("SET temp_directory = ''");
  await connection.run(`SET allowed_directories = [${quoteLiteral(root + path.sep)}]`);
  await connection.run('SET enable_external_access = false');
  await connection.run('SET lock_configuration = true');
}

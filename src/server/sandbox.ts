import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { type Lake, openLake, quoteLiteral, RunlakeError } from '../lake/index.js';
// Registers the squiggle schema set, so lakes that record it open here too.
import '../schema/index.js';

/** Options for {@link openSandboxedLake}. */
export interface SandboxOptions {
  /** The schema set to open the lake with (default: the one the lake records). */
  readonly schema?: string;
  /** DuckDB threads for queries (default: DuckDB's own choice). */
  readonly threads?: number;
}

/**
 * Opens a lake for serving: the views of {@link openLake}, then DuckDB locked down so queries can
 * only read the lake. File access is limited to the lake directory (`allowed_directories`, then
 * `enable_external_access = false`, which also refuses `ATTACH`, `COPY … TO`, `INSTALL` and
 * `LOAD`), extensions are neither installed nor loaded automatically, and `lock_configuration`
 * makes every later `SET`/`PRAGMA` change fail. The `grids` table is copied out of the opening
 * connection's temp schema so every query connection sees it.
 *
 * @example
 * ```ts
 * const lake = await openSandboxedLake('results');
 * await lake.query("SELECT * FROM read_csv('/etc/passwd')"); // throws: Permission Error
 * ```
 */
export async function openSandboxedLake(lakeDir: string, options: SandboxOptions = {}): Promise<Lake> {
  let root: string;
  try {
    root = await realpath(lakeDir);
  } catch {
    throw new RunlakeError(`lake directory "${lakeDir}" does not exist`);
  }
  const lake = await openLake(root, { schema: options.schema, threads: options.threads });
  try {
    await lake.run('CREATE OR REPLACE TABLE main.grids AS SELECT * FROM temp.grids');
    await lake.run(`SET allowed_directories = [${quoteLiteral(root + path.sep)}]`);
    await lake.run('SET enable_external_access = false');
    await lake.run('SET lock_configuration = true');
  } catch (error) {
    lake.close();
    throw error;
  }
  return lake;
}

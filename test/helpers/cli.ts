import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { repoRoot } from './lake-fixtures.js';

/** The built CLI (test/global-setup.ts builds dist/ before the suite). */
export const RUNLAKE_BIN = path.join(repoRoot, 'dist', 'cli', 'main.js');

/** Runs `runlake …args` in a child process and returns its exit code and output. */
export function runlake(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [RUNLAKE_BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Writes a DuckDB query's result as a plain Parquet file, the way another tool would. */
export async function copyToParquet(select: string, target: string): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${select}) TO '${target.replaceAll("'", "''")}' (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

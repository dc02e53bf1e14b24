import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
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

/**
 * Starts `runlake serve <dir> --port 0 …args` and resolves with the URL it prints. `stop()` sends
 * SIGTERM and resolves with the exit code; call `kill()` in a `finally` for the failure paths.
 */
export async function startServe(
  dir: string,
  ...args: string[]
): Promise<{ url: string; child: ChildProcess; stop: () => Promise<number | null>; kill: () => void }> {
  const child = spawn(process.execPath, [RUNLAKE_BIN, 'serve', dir, '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /(http:\/\/\S+)/.exec(out);
        if (match?.[1]) resolve(match[1]);
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    const stop = () => {
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    };
    return { url, child, stop, kill };
  } catch (error) {
    kill();
    throw error;
  }
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

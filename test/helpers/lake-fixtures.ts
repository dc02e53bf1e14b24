import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];
afterAll(() => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'runlake-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Every file below `dir` (relative paths, sorted), including hidden ones. */
export function listFiles(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
  } catch {
    return [];
  }
}

/** Files a reader could see: Parquet parts and params.json records (not runlake's own bookkeeping). */
export function visibleFiles(dir: string): string[] {
  return listFiles(dir).filter((f) => !f.startsWith('.runlake'));
}

/** The repository root. */
export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

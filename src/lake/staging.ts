import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { LakePaths } from './layout.js';

// Old enough that no live write can still own it, even on another host sharing the lake.
const STALE_AFTER_MS = 60 * 60 * 1000;
const swept = new Set<string>();

/**
 * A new staging path for this process: `<staging>/<pid>-<uuid><suffix>`. The pid lets a later
 * sweep tell an abandoned entry (its writer was killed) from one still being written.
 *
 * @example
 * ```ts
 * const dir = stagingPath(lakePaths('lake'));
 * ```
 */
export function stagingPath(paths: LakePaths, suffix = ''): string {
  return path.join(paths.staging, `${process.pid}-${randomUUID()}${suffix}`);
}

/**
 * Removes staging entries left behind by writers that died mid-write: entries whose process is
 * gone and that are over an hour old. Runs at most once per lake per process. Returns the number
 * of entries removed.
 *
 * @example
 * ```ts
 * await sweepStaleStaging(lakePaths('lake'));
 * ```
 */
export async function sweepStaleStaging(paths: LakePaths, now = Date.now()): Promise<number> {
  if (swept.has(paths.staging)) return 0;
  swept.add(paths.staging);
  let entries: string[];
  try {
    entries = await readdir(paths.staging);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    const pid = Number(entry.split('-', 1)[0]);
    if (Number.isSafeInteger(pid) && isAlive(pid)) continue;
    const full = path.join(paths.staging, entry);
    try {
      if (now - (await stat(full)).mtimeMs < STALE_AFTER_MS) continue;
      await rm(full, { recursive: true, force: true });
      removed++;
    } catch {
      // Another process swept it first.
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

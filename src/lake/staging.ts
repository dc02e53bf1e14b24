import { randomUUID } from 'node:crypto';
import { readdir, rm, rmdir, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LakePaths } from './layout.js';
import { INTENT_FILE, type Intent, readIntents, recoverIntent } from './transaction.js';

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
 * Removes a staging entry. After a commit it holds only its intent and the directories its
 * `files` (absolute paths) were renamed out of: those are removed one by one, a few calls instead
 * of a walk of the tree. Anything else left in it (a file not published, a failed write) falls
 * back to removing the whole tree.
 *
 * @example
 * ```ts
 * await removeStagingEntry(stagingDir, ['/lake/.runlake/staging/1-…/seed=1/part-….parquet']);
 * ```
 */
export async function removeStagingEntry(entry: string, files: Iterable<string> = []): Promise<void> {
  const directories = new Set<string>();
  for (const file of files) {
    for (let dir = path.dirname(file); dir.startsWith(`${entry}${path.sep}`); dir = path.dirname(dir))
      directories.add(dir);
  }
  try {
    await unlink(path.join(entry, INTENT_FILE)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    // Deepest first: a directory's children go before it.
    for (const dir of [...directories].sort((a, b) => b.length - a.length)) await rmdir(dir);
    await rmdir(entry);
    return;
  } catch {
    // Not empty, or already partly gone: the general removal below handles both.
  }
  await rm(entry, { recursive: true, force: true });
}

/**
 * Cleans up after writers that died mid-write: a staging entry whose writer process is gone is
 * recovered (see {@link recoverIntent}: files its commit removed move to the trash, files it
 * published but never committed are deleted) and removed. A writer on this host is known dead
 * when its pid is; an entry from another host sharing the lake is taken as dead after an hour.
 * Runs at most once per lake per process unless `force` is set (`vacuum`). Returns the number of
 * entries removed.
 *
 * @example
 * ```ts
 * await sweepStaleStaging(lakePaths('lake'));
 * ```
 */
export async function sweepStaleStaging(
  paths: LakePaths,
  now = Date.now(),
  options: { force?: boolean; dryRun?: boolean; found?: (entry: string, files: string[]) => void } = {},
): Promise<number> {
  if (!options.force && swept.has(paths.staging)) return 0;
  swept.add(paths.staging);
  let entries: string[];
  try {
    entries = await readdir(paths.staging);
  } catch {
    return 0;
  }
  const intents = new Map((await readIntents(paths)).map((i) => [i.entry, i]));
  const dead = new Set<string>();
  for (const entry of entries) {
    const full = path.join(paths.staging, entry);
    if (await isDeadStagingEntry(full, intents.get(full), now)) dead.add(full);
  }
  // A live transaction may be about to move a file a dead one added (its commit removed it), or
  // be publishing a file under the same name (a deterministic write repeated after the crash).
  const claimed = new Set(
    [...intents.values()]
      .filter((i) => !dead.has(i.entry))
      .flatMap((i) => [...i.adds, ...i.removes].map((r) => `${i.dataset}/${r}`)),
  );
  let removed = 0;
  for (const full of dead) {
    const intent = intents.get(full);
    options.found?.(full, intent ? [...intent.adds, ...intent.removes] : []);
    if (options.dryRun) {
      removed++;
      continue;
    }
    try {
      if (intent) await recoverIntent(paths, intent, claimed);
      await rm(full, { recursive: true, force: true });
      removed++;
    } catch {
      // Another process swept it first.
    }
  }
  return removed;
}
/**
 * Whether a staging entry's writer is gone: on this host, its pid no longer runs; from another
 * host (its intent names the host), or without an intent (the host is unknown), the entry is over
 * an hour old.
 *
 * @example
 * ```ts
 * await isDeadStagingEntry(intent.entry, intent);
 * ```
 */
export async function isDeadStagingEntry(
  entry: string,
  intent: Intent | undefined,
  now = Date.now(),
): Promise<boolean> {
  const pid = intent?.pid ?? Number(path.basename(entry).split('-', 1)[0]);
  const sameHost = intent ? intent.host === os.hostname() : true;
  if (sameHost && Number.isSafeInteger(pid) && isAlive(pid)) return false;
  if (intent && sameHost) return true;
  try {
    return now - (await stat(entry)).mtimeMs >= STALE_AFTER_MS;
  } catch {
    return false; // another process swept it first
  }
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

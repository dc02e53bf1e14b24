import path from 'node:path';
import Database from 'better-sqlite3';
import { WriterLockedError } from './errors.js';

/**
 * The lock file of a dataset's writer.
 *
 * @example
 * ```ts
 * path.join(root, LOCK_FILE); // 'ds/writer.lock'
 * ```
 */
export const LOCK_FILE = 'writer.lock';

/**
 * An exclusive writer lock on a dataset root, held until `release`.
 *
 * @example
 * ```ts
 * const lock = acquireWriterLock('ds');
 * try { … } finally { lock.release(); }
 * ```
 */
export interface WriterLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the writer lock of a root, or throws {@link WriterLockedError} at once.
 *
 * The lock is an open `BEGIN EXCLUSIVE` transaction on a small SQLite file: SQLite's POSIX
 * advisory locks are released by the kernel when a process dies (even by SIGKILL), so a crashed
 * writer never leaves a stale lock behind, unlike a lock directory with a heartbeat; and SQLite
 * also refuses a second connection in the same process.
 *
 * @example
 * ```ts
 * acquireWriterLock('ds'); acquireWriterLock('ds'); // the second throws WriterLockedError
 * ```
 */
export function acquireWriterLock(root: string): WriterLock {
  const file = path.join(root, LOCK_FILE);
  const db = new Database(file);
  try {
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new WriterLockedError(root, file);
    throw error;
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      try {
        db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}

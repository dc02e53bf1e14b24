/**
 * The analysis locks of a lake, under `.runlake/analysis/`: a whole analysis (or its trajectory
 * stages) holds the lake's analysis lock exclusively; a descriptor-stage analysis of some runs holds
 * it shared, plus an exclusive lock per run, so several of those run at once on disjoint runs (the
 * fan-out of `runlake.ray.analyze`) while neither a whole analysis nor another analysis of the same
 * run can start.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { lakePaths, RunlakeError } from '../lake/index.js';
import { acquireWriterLock, LOCK_FILE, type WriterLock } from '../shards/index.js';

/** Raised when a second analysis of the same lake (or of the same run) is started while one runs. */
export class AnalysisLockedError extends RunlakeError {
  override readonly name = 'AnalysisLockedError';
}

const ANALYSIS_LOCK_DIR = path.join('.runlake', 'analysis');

/** Held analysis locks; `release` frees them all. */
export interface AnalysisLock {
  release(): void;
}

/**
 * Takes the lake's analysis lock exclusively, or throws {@link AnalysisLockedError} at once when
 * any analysis (whole, or of some runs) holds it.
 *
 * @example
 * ```ts
 * const lock = acquireAnalysisLock('squiggle-lake');
 * try { … } finally { lock.release(); }
 * ```
 */
export function acquireAnalysisLock(baseOut: string): AnalysisLock {
  const root = lockRoot(baseOut);
  try {
    return acquireWriterLock(root);
  } catch {
    throw new AnalysisLockedError(`another analysis of ${baseOut} is running`);
  }
}

/**
 * Takes the lake's analysis lock shared and one exclusive lock per run, or throws
 * {@link AnalysisLockedError} at once (naming the run) when a whole analysis runs or another
 * analysis holds one of the runs. The locks are SQLite transactions, as the writer lock of
 * array-shards stores: a process that dies releases them.
 *
 * @example
 * ```ts
 * const lock = acquireRunAnalysisLocks('squiggle-lake', ['run-a']);
 * try { … } finally { lock.release(); }
 * ```
 */
export function acquireRunAnalysisLocks(baseOut: string, runs: readonly string[]): AnalysisLock {
  const root = lockRoot(baseOut);
  const held: WriterLock[] = [];
  const shared = new Database(path.join(root, LOCK_FILE));
  const release = () => {
    for (const lock of held.splice(0).reverse()) lock.release();
    if (shared.open) {
      if (shared.inTransaction) shared.exec('ROLLBACK');
      shared.close();
    }
  };
  try {
    shared.pragma('busy_timeout = 0');
    shared.exec('BEGIN');
    // A read is what takes SQLite's SHARED lock, which BEGIN EXCLUSIVE elsewhere then refuses.
    shared.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    release();
    if ((error as { code?: string }).code === 'SQLITE_BUSY') {
      throw new AnalysisLockedError(`an analysis of all of ${baseOut} is running`);
    }
    throw error;
  }
  try {
    for (const run of [...new Set(runs)].sort()) {
      const dir = path.join(root, 'runs', createHash('sha256').update(run).digest('hex').slice(0, 32));
      mkdirSync(dir, { recursive: true });
      try {
        held.push(acquireWriterLock(dir));
      } catch {
        throw new AnalysisLockedError(`another analysis of run "${run}" in ${baseOut} is running`);
      }
    }
  } catch (error) {
    release();
    throw error;
  }
  return { release };
}

function lockRoot(baseOut: string): string {
  const root = path.join(lakePaths(baseOut).root, ANALYSIS_LOCK_DIR);
  mkdirSync(root, { recursive: true });
  return root;
}

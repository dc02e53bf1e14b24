import { readFileSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import os from 'node:os';
import { withFileLock, writeFileAtomic } from '../../lake/atomic-file.js';
import { RunlakeError } from '../../lake/errors.js';
import { fileSystemError } from '../../lake/fs-errors.js';

/** Who holds a lake's ingest lock. */
export interface IngestLockHolder {
  readonly pid: number;
  readonly host: string;
  /** The holder's listener: a socket path or URL (empty when it has none). */
  readonly address: string;
  readonly started: string;
}

/**
 * Another live process ingests this lake already.
 *
 * @example
 * ```ts
 * if (e instanceof IngestLockedError) connectTo(e.holder.address);
 * ```
 */
export class IngestLockedError extends RunlakeError {
  override readonly name = 'IngestLockedError';
  constructor(
    readonly file: string,
    readonly holder: IngestLockHolder,
  ) {
    super(
      `${file}: process ${holder.pid} on ${holder.host} ingests this lake already` +
        (holder.address ? ` (at ${holder.address})` : ''),
    );
  }
}

/**
 * The one-ingesting-server-per-lake lock (`.runlake/ingest/server.lock`): a file naming the
 * holder's pid and host. A lock whose holder is a dead process on this host is taken over, so a
 * server killed with SIGKILL is replaced at once; the check and the takeover run under an
 * inter-process file lock, so two servers starting together cannot both win.
 *
 * @example
 * ```ts
 * const lock = await IngestLock.acquire('results/.runlake/ingest/server.lock', '/tmp/runlake-1000/ab.sock');
 * await lock.release();
 * ```
 */
export class IngestLock {
  private constructor(
    readonly file: string,
    readonly holder: IngestLockHolder,
  ) {}

  /** Takes the lock, or throws {@link IngestLockedError} naming the live holder. */
  static async acquire(file: string, address: string): Promise<IngestLock> {
    const holder: IngestLockHolder = {
      pid: process.pid,
      host: os.hostname(),
      address,
      started: new Date().toISOString(),
    };
    await withFileLock(file, async () => {
      const current = await readIngestLock(file);
      if (current && current.pid !== process.pid && isLockHolderAlive(current))
        throw new IngestLockedError(file, current);
      await writeFileAtomic(file, `${JSON.stringify(holder)}\n`);
    });
    return new IngestLock(file, holder);
  }

  /** Releases the lock when this process still holds it. */
  async release(): Promise<void> {
    await withFileLock(this.file, async () => {
      const current = await readIngestLock(this.file);
      if (current?.pid === this.holder.pid && current.host === this.holder.host) {
        await unlink(this.file).catch(() => {});
      }
    });
  }
}

/**
 * Reads a lake's ingest lock file: the holder, or undefined when there is none (or it is not a
 * lock file runlake wrote, which a takeover overwrites).
 *
 * @example
 * ```ts
 * const holder = await readIngestLock('results/.runlake/ingest/server.lock');
 * ```
 */
export async function readIngestLock(file: string): Promise<IngestLockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileSystemError(error, file, 'read');
  }
  try {
    const parsed = JSON.parse(text) as Partial<IngestLockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return {
        pid: parsed.pid,
        host: parsed.host,
        address: String(parsed.address ?? ''),
        started: String(parsed.started ?? ''),
      };
    }
  } catch {
    // A torn or foreign file: no valid holder.
  }
  return undefined;
}

/**
 * Whether a lock's holder still runs. A holder on another host cannot be probed: it is taken as
 * alive (remove the file by hand). A killed holder its parent has not reaped yet (a zombie,
 * state `Z` in `/proc/<pid>/stat` on Linux) is dead: it answers signals but serves nothing.
 *
 * @example
 * ```ts
 * isLockHolderAlive({ pid: process.pid, host: os.hostname(), address: '', started: '' }); // true
 * ```
 */
export function isLockHolderAlive(holder: IngestLockHolder): boolean {
  if (holder.host !== os.hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
    // "pid (comm) S …": the state follows the last ')' (comm may hold parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): the signal probe is all there is
  }
}

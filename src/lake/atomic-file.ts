import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { fileSystemError } from './fs-errors.js';

/**
 * Writes `contents` to `file` so that readers see either the old file or the whole new one: the
 * bytes go to a temporary sibling (a dot-file no reader's glob matches), are fsynced, then renamed
 * over the target.
 *
 * @example
 * ```ts
 * await writeFileAtomic('lake/.runlake/datasets/events.json', JSON.stringify(manifest));
 * ```
 */
export async function writeFileAtomic(file: string, contents: string): Promise<void> {
  await makeDirectory(path.dirname(file));
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  await writeAndSync(temp, contents); // removes the temp file itself when it fails
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw fileSystemError(error, file, 'write');
  }
  await fsyncPath(path.dirname(file));
}

/**
 * Writes and fsyncs a new file; fails if it exists. A write that fails part-way (a full disk)
 * removes the file it created, so no half-written temp file is left behind, and the error names
 * the file and the cause (`FileSystemError`).
 *
 * @example
 * ```ts
 * await writeAndSync('/tmp/x.json', '{}');
 * ```
 */
export async function writeAndSync(file: string, contents: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx');
  } catch (error) {
    throw fileSystemError(error, file, 'write');
  }
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(file).catch(() => {});
    throw fileSystemError(error, file, 'write');
  }
  await handle.close();
}

/**
 * fsyncs a file's contents, or a directory's entries (so that a rename or link inside it
 * survives a crash).
 *
 * @example
 * ```ts
 * await fsyncPath('lake/events/grid_id=ab12cd34/seed=1');
 * ```
 */
export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Runs `critical` while holding an inter-process lock on `file` (a `<file>.lock` directory, which
 * works across processes and threads and is taken over when its holder died 10 s ago).
 *
 * @example
 * ```ts
 * await withFileLock(manifestPath, async () => updateIt());
 * ```
 */
export async function withFileLock<T>(file: string, critical: () => Promise<T>): Promise<T> {
  await makeDirectory(path.dirname(file));
  const release = await lockfile
    .lock(file, {
      realpath: false,
      stale: 10_000,
      retries: { retries: 200, minTimeout: 5, maxTimeout: 100, factor: 1.5, randomize: true },
    })
    .catch((error: unknown) => {
      throw fileSystemError(error, `${file}.lock`, 'lock');
    });
  try {
    return await critical();
  } finally {
    await release();
  }
}

/**
 * Creates a directory and its missing parents, failing with a {@link FileSystemError} that names
 * the real cause. Node's recursive `mkdir` reports ENOENT when a directory cannot be created on a
 * read-only file system (or one without permission); the first missing directory is then created
 * on its own, which fails with the true errno (EROFS, EACCES, ENOSPC).
 *
 * @example
 * ```ts
 * await makeDirectory('lake/.runlake/staging/123-abc'); // throws "… the file system is read-only (EROFS)"
 * ```
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw fileSystemError(error, dir, 'create directory');
    let missing = path.resolve(dir);
    while (path.dirname(missing) !== missing && !(await exists(path.dirname(missing))))
      missing = path.dirname(missing);
    try {
      await mkdir(missing);
    } catch (cause) {
      throw fileSystemError(
        (cause as NodeJS.ErrnoException).code === 'EEXIST' ? error : cause,
        dir,
        'create directory',
      );
    }
    // Created meanwhile (a race with another writer): the rest of the path now has a parent.
    await mkdir(dir, { recursive: true }).catch((again: unknown) => {
      throw fileSystemError(again, dir, 'create directory');
    });
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

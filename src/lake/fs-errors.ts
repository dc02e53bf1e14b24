import { RunlakeError } from './errors.js';

// What each errno means to someone who has to fix it: the disk, the mount, the permissions.
const CAUSES: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory, not a file',
  ENOENT: 'no such file or directory',
  EEXIST: 'it already exists',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files on the system',
  EIO: 'an input/output error from the device',
  EBUSY: 'the resource is busy',
  ETXTBSY: 'the file is busy',
  EFBIG: 'the file is too large for the file system',
};

// Node's syscall names, as verbs for "cannot <verb> <path>".
const OPERATIONS: Readonly<Record<string, string>> = {
  open: 'open',
  read: 'read',
  write: 'write',
  mkdir: 'create directory',
  rmdir: 'remove directory',
  rm: 'remove',
  unlink: 'remove',
  rename: 'rename',
  link: 'link',
  symlink: 'link',
  scandir: 'list',
  opendir: 'list',
  stat: 'read',
  lstat: 'read',
  fstat: 'read',
  access: 'read',
  copyfile: 'copy',
  fsync: 'sync',
  futime: 'update',
  utime: 'update',
  chmod: 'change mode of',
};

// DuckDB reports file-system failures of its own writes and reads as text, not errno codes.
const DUCKDB_CAUSES: ReadonlyArray<readonly [RegExp, string]> = [
  [/No space left on device/i, 'ENOSPC'],
  [/Disk quota exceeded/i, 'EDQUOT'],
  [/Read-only file system/i, 'EROFS'],
  [/Permission denied/i, 'EACCES'],
  [/Not a directory/i, 'ENOTDIR'],
];

/**
 * A file-system operation that failed, said the way a user can act on it: the path, what runlake
 * was doing, and the cause in words with its errno code
 * (`cannot write lake/.runlake/lake.json: the disk is full (ENOSPC)`).
 *
 * @example
 * ```ts
 * try { await writeFile('/ro/x', ''); }
 * catch (e) { throw fileSystemError(e, '/ro/x', 'write'); } // FileSystemError, code "EROFS"
 * ```
 */
export class FileSystemError extends RunlakeError {
  override readonly name = 'FileSystemError';
  constructor(
    readonly path: string,
    readonly code: string,
    readonly operation: string,
    options?: ErrorOptions,
  ) {
    super(`cannot ${operation} ${path}: ${CAUSES[code] ?? 'the operation failed'} (${code})`, options);
  }
}

/** True for Node's errno errors (`error.code` like `ENOSPC`). */
function isErrnoError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  return (
    error instanceof Error &&
    typeof (error as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z0-9]+$/.test((error as NodeJS.ErrnoException).code as string)
  );
}

/**
 * Turns Node's errno error into a {@link FileSystemError} naming `file` (else the path Node
 * recorded) and the operation (else the one the syscall implies). Anything else, including errors
 * runlake already named, is returned unchanged, so `throw fileSystemError(e, …)` is always safe.
 *
 * @example
 * ```ts
 * await mkdir(dir).catch((e) => { throw fileSystemError(e, dir, 'create directory'); });
 * ```
 */
export function fileSystemError(error: unknown, file?: string, operation?: string): unknown {
  if (error instanceof RunlakeError || !isErrnoError(error)) return error;
  const where = file ?? error.path;
  if (where === undefined) return error;
  const verb = operation ?? OPERATIONS[error.syscall ?? ''] ?? 'access';
  return new FileSystemError(where, error.code, verb, { cause: error });
}

/**
 * Recognizes a DuckDB IO error caused by the file system (a full disk while writing a Parquet
 * file, a read-only mount) and names the file and the cause like {@link fileSystemError};
 * `undefined` for any other message.
 *
 * @example
 * ```ts
 * duckdbFileSystemError('IO Error: Could not write file "/l/x.parquet": No space left on device');
 * // FileSystemError: cannot write /l/x.parquet: the disk is full (ENOSPC)
 * ```
 */
export function duckdbFileSystemError(message: string): FileSystemError | undefined {
  if (!/IO Error/i.test(message)) return undefined;
  const found = DUCKDB_CAUSES.find(([pattern]) => pattern.test(message));
  if (!found) return undefined;
  const file = /"([^"]+)"/.exec(message)?.[1] ?? /'([^']+)'/.exec(message)?.[1];
  if (!file) return undefined;
  const operation = /write|creat|open .* for writing|sync/i.test(message) ? 'write' : 'read';
  return new FileSystemError(file, found[1], operation);
}

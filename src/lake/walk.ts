import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Relative paths (sorted) of the files below `directory` whose names `accept` takes, without
 * following symlinked directories. Node's `readdir(…, { recursive: true })` descends into them,
 * so one symlink to the lake root inside a dataset made `info` count thousands of files and ended
 * in ELOOP. This walk does what git, rsync, `find` and DuckDB's own `**` glob do: a symlink to a
 * directory is not descended into, a symlink to a file is listed like the file (DuckDB's view
 * reads it, so `info` and `validate` must see it too), and a dangling or looping link is skipped.
 * Returns `[]` when `directory` does not exist; other errors (EACCES, …) are thrown.
 *
 * @example
 * ```ts
 * await listFilesNoFollow('lake/events', (name) => name.endsWith('.parquet'));
 * // ['grid_id=ab12cd34/seed=1/part-….parquet', …]
 * ```
 */
export async function listFilesNoFollow(
  directory: string,
  accept: (name: string) => boolean,
): Promise<string[]> {
  const found: string[] = [];
  const pending = [''];
  for (let relative = pending.pop(); relative !== undefined; relative = pending.pop()) {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(directory, relative), { withFileTypes: true });
    } catch (error) {
      if (relative === '' && (error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    for (const entry of entries) {
      const child = relative === '' ? entry.name : path.join(relative, entry.name);
      // Dirent types come from lstat: a symlink is neither isDirectory() nor isFile().
      if (entry.isDirectory()) pending.push(child);
      else if (!accept(entry.name)) continue;
      else if (
        entry.isFile() ||
        (entry.isSymbolicLink() && (await isFileTarget(path.join(directory, child))))
      )
        found.push(child);
    }
  }
  return found.sort();
}

async function isFileTarget(link: string): Promise<boolean> {
  try {
    return (await stat(link)).isFile();
  } catch {
    return false; // dangling, or a loop (ELOOP)
  }
}

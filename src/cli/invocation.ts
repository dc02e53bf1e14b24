import { realpathSync } from 'node:fs';
import path from 'node:path';

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes a word for a POSIX shell, only when it needs it.
 *
 * @example
 * ```ts
 * shellWord('runlake-demo'); // 'runlake-demo'
 * shellWord('my lake');      // "'my lake'"
 * ```
 */
export function shellWord(word: string): string {
  return SHELL_SAFE.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * How the user can run this same CLI again from `cwd`, so that printed hints work as printed:
 *
 * - `npx runlake` when a `node_modules/.bin/runlake` at or above `cwd` is this CLI (a project
 *   that depends on runlake);
 * - `runlake` when a `runlake` on the user's PATH is this CLI (a global install or `npm link`);
 * - otherwise `node <path to this CLI>`: in a clone of the repository `npx runlake` would not find
 *   it (npm never links a package's own bin into its own node_modules/.bin) and would try to
 *   fetch a package of that name from the registry instead.
 *
 * @example
 * ```ts
 * runlakeInvocation(); // 'node dist/cli/main.js' in a clone of the repository
 * ```
 */
export function runlakeInvocation(
  cwd: string = process.cwd(),
  script: string | undefined = process.argv[1],
  searchPath: string = process.env.PATH ?? '',
): string {
  const self = script === undefined ? undefined : realpath(script);
  if (self === undefined) return 'runlake';
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (realpath(path.join(dir, 'node_modules', '.bin', 'runlake')) === self) return 'npx runlake';
    if (path.dirname(dir) === dir) break;
  }
  // npm puts node_modules/.bin dirs on the PATH of scripts (`npm run demo`); the user's shell
  // does not have them, so they do not count.
  const userPath = searchPath
    .split(path.delimiter)
    .filter((dir) => dir !== '' && path.basename(dir) !== '.bin');
  if (userPath.some((dir) => realpath(path.join(dir, 'runlake')) === self)) return 'runlake';
  const relative = path.relative(cwd, self);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? self : relative;
  return `node ${shellWord(shown)}`;
}

function realpath(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

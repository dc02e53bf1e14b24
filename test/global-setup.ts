import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Subprocess tests (CLI, concurrent writers, crash tests) and browser tests run the compiled package, so build it
// once before any test file starts.
// RUNLAKE_SKIP_BUILD=1 skips it for in-process unit tests while other files are mid-edit.
export default function setup(): void {
  if (process.env.RUNLAKE_SKIP_BUILD === '1') return;
  const root = path.resolve(import.meta.dirname, '..');
  const run = (bin: string, ...args: string[]) =>
    execFileSync(process.execPath, [path.join(root, 'node_modules', bin), ...args], {
      cwd: root,
      stdio: 'inherit',
    });
  run('typescript/bin/tsc', '-p', 'tsconfig.build.json');
  // The browser tests load the built web app, as `runlake serve` ships it.
  run('vite/bin/vite.js', 'build', '-c', 'web/vite.config.ts');
  run('vite/bin/vite.js', 'build', '-c', 'web/vite.viewer.config.ts');
}

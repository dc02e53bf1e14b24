import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Subprocess tests (CLI, concurrent writers, crash tests) run the compiled package, so build it
// once before any test file starts.
// RUNLAKE_SKIP_BUILD=1 skips it for in-process unit tests while other files are mid-edit.
export default function setup(): void {
  if (process.env.RUNLAKE_SKIP_BUILD === '1') return;
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

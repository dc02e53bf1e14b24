import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Subprocess tests (CLI, concurrent writers, crash tests) run the compiled package, so build it
// once before any test file starts.
export default function setup(): void {
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

// Re-adds lock entries for other platforms' optional binaries (@lancedb/lancedb-darwin-arm64, …)
// that `npm install` leaves out when the registry it reaches does not serve them; without them
// `npm ci` refuses the lock file. Like scripts/complete-lockfile.mjs, plus the -gnu/-msvc suffixes
// LanceDB uses. Run after any `npm --prefix bench/peers install`: node bench/peers/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('./package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const PLATFORM = /(android|darwin|linux|win32)-(arm64|x64)(-gnu|-musl|-msvc)?$/;
const added = [];
for (const [where, meta] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const match = PLATFORM.exec(name);
    if (lock.packages[key] || !match) continue;
    const [, os, cpu, suffix] = match;
    lock.packages[key] = {
      version,
      cpu: [cpu],
      ...(suffix === '-musl' ? { libc: ['musl'] } : suffix === '-gnu' ? { libc: ['glibc'] } : {}),
      optional: true,
      os: [os],
    };
    added.push(`${key} (for ${where || 'root'})`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `added ${added.length} entries:\n  ${added.join('\n  ')}` : 'lock file already complete',
);

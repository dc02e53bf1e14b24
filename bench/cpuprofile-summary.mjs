// Summarises a V8 .cpuprofile (from node --cpu-prof): the functions with the most self time, and
// the most inclusive time, with their source location.
//
//   node bench/cpuprofile-summary.mjs bench/out/prof/<file>.cpuprofile [top=25]
import { readFileSync } from 'node:fs';
import path from 'node:path';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpuprofile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample time per node: timeDeltas[i] is the time before samples[i].
const selfMicros = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalMicros = [...selfMicros.values()].reduce((a, b) => a + b, 0);

const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map();
const inclusive = new Map();
for (const [id, micros] of selfMicros) {
  const key = label(nodes.get(id));
  self.set(key, (self.get(key) ?? 0) + micros);
  // Inclusive: count each distinct function once per sample stack.
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = label(nodes.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + micros);
  }
}

const print = (title, map) => {
  console.log(`\n${title} (total sampled ${(totalMicros / 1e6).toFixed(2)} s)`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${(micros / 1e6).toFixed(2).padStart(8)} s ${((100 * micros) / totalMicros).toFixed(1).padStart(5)}%  ${key}`,
    );
  }
};
print('self time', self);
print('inclusive time', inclusive);

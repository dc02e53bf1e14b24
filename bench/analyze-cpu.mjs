// CPU seconds of one analyze-pipeline analysis, for A/B comparisons of two builds on a busy
// machine, where wall-clock times swing with the other load but the CPU time of the work does much
// less. It analyses a fresh copy of the analyze-pipeline input lake (written once into
// bench/out/analyze-cpu/input, same sizes and ANALYZE_* variables as bench/analyze.mjs) with the
// build in <dist> and prints one JSON line: CPU seconds of the analyzeLake call (process.cpuUsage,
// every thread of the process: worker threads and their start-up included), wall seconds, the
// stage split and the in-task split.
//
//   node bench/analyze-cpu.mjs <dist directory> <workers>
//   # e.g. an older build: git worktree add /tmp/base <commit> && (cd /tmp/base && npx tsc -p tsconfig.build.json)
//   #      then alternate: node bench/analyze-cpu.mjs /tmp/base/dist 2; node bench/analyze-cpu.mjs dist 2; …
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [distArg, workersArg] = process.argv.slice(2);
if (!distArg || !workersArg) {
  console.error('usage: node bench/analyze-cpu.mjs <dist directory> <workers>');
  process.exit(2);
}
const lib = await import(pathToFileURL(path.resolve(distArg, 'index.js')).href);
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out', 'analyze-cpu');
const samples = Number(process.env.ANALYZE_SAMPLES ?? 256);
const dim = Number(process.env.ANALYZE_DIM ?? 256);
const checkpoints = Number(process.env.ANALYZE_CHECKPOINTS ?? 11);
const input = path.join(out, `input-${samples}x${dim}x${checkpoints}`);
const layers = 12;
const modules = ['resid_pre', 'attn_out', 'mlp_out', 'resid_post'];

if (!fs.existsSync(path.join(input, 'done'))) {
  // The same sweep as bench/analyze.mjs.
  fs.rmSync(input, { recursive: true, force: true });
  const every = 100;
  const total = (checkpoints - 1) * every;
  const sweep = lib.syntheticRuns({
    seeds: 2,
    divergingSeed: -1,
    totalSteps: total,
    checkpointEvery: every,
    collapseStep: Math.round(total / 4),
    reexpansionStep: Math.round(total / 2),
    divergenceStep: Math.round(total * 0.75),
    layers,
    modules,
    samples,
    dim,
  });
  const lake = await lib.openLake(input, { schema: 'squiggle' });
  try {
    const { grid_id } = lib.attachGridId({ model: 'bench', layers });
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
    await lib.writeSyntheticEmbeddings(lake, sweep);
  } finally {
    lake.close();
  }
  fs.writeFileSync(path.join(input, 'done'), '');
}

const copy = path.join(out, `copy-${process.pid}`);
fs.cpSync(input, copy, { recursive: true });
const lake = await lib.openLake(copy);
try {
  const before = process.cpuUsage();
  const summary = await lib.analyzeLake(lake, { workers: Number(workersArg) });
  const cpu = process.cpuUsage(before);
  const runCheckpoints = 2 * checkpoints;
  console.log(
    JSON.stringify({
      dist: distArg,
      workers: summary.workers,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      seconds: summary.seconds,
      checkpointsPerSecond: runCheckpoints / summary.seconds,
      stageSeconds: summary.stageSeconds,
      taskSeconds: summary.taskSeconds ?? null,
    }),
  );
} finally {
  lake.close();
  fs.rmSync(copy, { recursive: true, force: true });
}

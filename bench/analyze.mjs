// Scenario `analyze-pipeline`: throughput of the whole analysis pipeline (`analyzeLake`: probe
// embeddings → descriptors, dynamics with CKA/Procrustes, events, signatures, matches) in
// checkpoints per second for models of 12 layers × 4 modules, against the worker-thread count.
// Every measurement analyses a fresh copy of the same input lake, so each does the full work.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  analyzeLake,
  attachGridId,
  openLake,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../dist/index.js';
import { fmt, median, progress } from './lib.mjs';

const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out', 'analyze');
const LAYERS = 12;
const MODULES = ['resid_pre', 'attn_out', 'mlp_out', 'resid_post'];

/**
 * Runs the scenario; returns the results object stored under `scenarios['analyze-pipeline']`.
 * ANALYZE_SAMPLES / ANALYZE_DIM / ANALYZE_CHECKPOINTS size the probe matrices and trajectories.
 *
 * @example
 * ```js
 * results.scenarios['analyze-pipeline'] = await analyzeScenario({ repeat: 3 });
 * ```
 */
export async function analyzeScenario(options) {
  const samples = Number(process.env.ANALYZE_SAMPLES ?? 256);
  const dim = Number(process.env.ANALYZE_DIM ?? 256);
  const checkpoints = Number(process.env.ANALYZE_CHECKPOINTS ?? 11);
  const repeat = options.repeat ?? 3;
  const seeds = 2;
  const every = 100;
  const sweep = syntheticRuns({
    seeds,
    divergingSeed: -1,
    totalSteps: (checkpoints - 1) * every,
    checkpointEvery: every,
    collapseStep: Math.round(((checkpoints - 1) * every) / 4),
    reexpansionStep: Math.round(((checkpoints - 1) * every) / 2),
    divergenceStep: Math.round((checkpoints - 1) * every * 0.75),
    layers: LAYERS,
    modules: MODULES,
    samples,
    dim,
  });
  const runCheckpoints = sweep.runs.length * sweep.steps.length;
  const matrices = runCheckpoints * LAYERS * MODULES.length;
  progress(
    `analyze-pipeline: ${seeds} runs × ${sweep.steps.length} checkpoints × ${LAYERS} layers × ${MODULES.length} ` +
      `modules = ${fmt.int(matrices)} probe matrices of ${samples} × ${dim} (array-shards store)`,
  );
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  const input = path.join(OUT_DIR, 'input');
  const lake = await openLake(input, { schema: 'squiggle' });
  try {
    const { grid_id } = attachGridId({ model: 'bench', layers: LAYERS });
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
    await writeSyntheticEmbeddings(lake, sweep);
  } finally {
    lake.close();
  }
  const workerCounts = [...new Set([1, 2, Math.min(4, Math.max(2, os.availableParallelism()))])];
  const results = [];
  for (const workers of workerCounts) {
    const seconds = [];
    let summary;
    for (let i = 0; i < repeat; i++) {
      const copy = path.join(OUT_DIR, `w${workers}-${i}`);
      fs.cpSync(input, copy, { recursive: true });
      const target = await openLake(copy);
      try {
        summary = await analyzeLake(target, { workers });
      } finally {
        target.close();
      }
      seconds.push(summary.seconds);
      fs.rmSync(copy, { recursive: true, force: true });
    }
    const s = median(seconds);
    results.push({
      workers,
      seconds: s,
      stageSeconds: summary.stageSeconds,
      checkpointsPerSecond: runCheckpoints / s,
      matricesPerSecond: matrices / s,
      events: summary.stages?.events ?? 0,
      matches: summary.stages?.matches ?? 0,
    });
    progress(`  ${workers} worker(s): ${fmt.seconds(s)} → ${(runCheckpoints / s).toFixed(2)} checkpoints/s`);
  }
  fs.rmSync(OUT_DIR, { recursive: true, force: true });
  const base = results[0];
  return {
    runs: seeds,
    checkpoints: sweep.steps.length,
    layers: LAYERS,
    modules: MODULES.length,
    samples,
    dim,
    cores: os.availableParallelism(),
    results: results.map((r) => ({ ...r, speedup: base.seconds / r.seconds })),
  };
}

/** Prints the scenario's table. */
export function printAnalyze(s, printTable) {
  printTable(
    `analyze-pipeline: ${s.runs} runs × ${s.checkpoints} checkpoints, ${s.layers} layers × ${s.modules} modules, ` +
      `probe matrices ${s.samples} × ${s.dim}, ${s.cores} cores (a checkpoint = one run's step: ${s.layers * s.modules} matrices)`,
    [
      'workers',
      'seconds',
      'checkpoints/s',
      'matrices/s',
      'speedup vs 1 worker',
      'plan / state+dynamics / write / events+signatures+matches (s, last run)',
    ],
    s.results.map((r) => [
      String(r.workers),
      r.seconds.toFixed(2),
      r.checkpointsPerSecond.toFixed(2),
      r.matricesPerSecond.toFixed(1),
      `${r.speedup.toFixed(2)}x`,
      [r.stageSeconds.plan, r.stageSeconds.descriptors, r.stageSeconds.write, r.stageSeconds.trajectories]
        .map((x) => x.toFixed(2))
        .join(' / '),
    ]),
  );
}

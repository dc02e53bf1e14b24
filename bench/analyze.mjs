// Scenario `analyze-pipeline`: throughput of the whole analysis pipeline (`analyzeLake`: probe
// embeddings → descriptors, dynamics with CKA/Procrustes, events, signatures, matches) in
// checkpoints per second for models of 12 layers × 4 modules, against the worker-thread count.
// Every measurement analyses a fresh copy of the same input lake, so each does the full work.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  analyzeLake,
  attachGridId,
  GEOMETRY_DESCRIPTORS,
  geometryDescriptors,
  geometryDynamicsRow,
  openLake,
  syntheticRuns,
  writeSyntheticEmbeddings,
} from '../dist/index.js';
import { fmt, median, progress } from './lib.mjs';

const OUT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'out', 'analyze');
const LAYERS = 12;
const MODULES = ['resid_pre', 'attn_out', 'mlp_out', 'resid_post'];
/** Every REFERENCE_STRIDE-th (run, module, layer) trajectory is recomputed by the library calls. */
const REFERENCE_STRIDE = 8;
/**
 * Largest |pipeline − reference| / max(1, |reference|) accepted. The descriptors and Procrustes are
 * bitwise the library's; CKA takes ‖X̃ᵀX̃‖² from each matrix's spectrum (≈ 5e-13 apart).
 */
const TOLERANCE = 1e-9;

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
  // Every run must write the same geometry_state / geometry_dynamics rows (whatever the worker
  // count), and the first is checked against the library's one-matrix / one-pair calls.
  let fingerprint = null;
  let reference = null;
  for (const workers of workerCounts) {
    const seconds = [];
    let summary;
    for (let i = 0; i < repeat; i++) {
      const copy = path.join(OUT_DIR, `w${workers}-${i}`);
      fs.cpSync(input, copy, { recursive: true });
      const target = await openLake(copy);
      try {
        summary = await analyzeLake(target, { workers });
        const rows = await readAnalysisRows(target);
        const print = fingerprintOf(rows);
        if (fingerprint === null) {
          fingerprint = print;
          reference = checkAgainstLibrary(rows, sweep);
          progress(
            `  checked ${reference.stateRows} state and ${reference.dynamicsRows} dynamics rows of ` +
              `${reference.trajectories} trajectories against geometryDescriptors / representationSimilarity: ` +
              `max relative difference ${reference.maxDifference}`,
          );
        } else if (print !== fingerprint) {
          throw new Error(
            `analyze-pipeline: the run with ${workers} worker(s) (#${i + 1}) wrote different ` +
              'geometry_state / geometry_dynamics rows than the first run',
          );
        }
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
      taskSeconds: summary.taskSeconds,
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
    checks: { rowsFingerprint: fingerprint, sameRowsEveryRun: true, reference },
    results: results.map((r) => ({ ...r, speedup: base.seconds / r.seconds })),
  };
}

const KEY_ORDER = 'ORDER BY run_id, sample_set, module, layer, sample_id, step';

async function readAnalysisRows(lake) {
  return {
    state: await lake.query(`SELECT * FROM geometry_state ${KEY_ORDER}`),
    dynamics: await lake.query(`SELECT * FROM geometry_dynamics ${KEY_ORDER}`),
  };
}

/** SHA-256 of the rows with every value as written (floats in full precision). */
function fingerprintOf(rows) {
  const json = JSON.stringify(rows, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
  return createHash('sha256').update(json).digest('hex');
}

/**
 * Recomputes every REFERENCE_STRIDE-th trajectory from the sweep's matrices with the library's
 * stand-alone calls — geometryDescriptors per matrix, geometryDynamicsRow with plain matrices
 * (representationSimilarity: the column Gram of [X̃ Ỹ], no prepared or shared products) per pair
 * — and compares every value column with the rows the pipeline wrote. Throws on a missing row or
 * a difference above TOLERANCE.
 */
function checkAgainstLibrary(rows, sweep) {
  const label = (r) => `${r.run_id}/${r.module}/L${r.layer}@${r.step}`;
  const state = new Map(rows.state.map((r) => [label(r), r]));
  const dynamics = new Map(rows.dynamics.map((r) => [label(r), r]));
  const n = sweep.samples;
  const d = sweep.dim;
  let maxDifference = 0;
  let stateRows = 0;
  let dynamicsRows = 0;
  let trajectories = 0;
  const compare = (where, got, want) => {
    if (Array.isArray(want)) {
      if (!Array.isArray(got) || got.length !== want.length)
        throw new Error(
          `analyze-pipeline: ${where} is ${JSON.stringify(got)}, the library gives ${JSON.stringify(want)}`,
        );
      for (let i = 0; i < want.length; i++) compare(`${where}[${i}]`, got[i], want[i]);
      return;
    }
    if (want === null || got === null || got === undefined) {
      if (got !== want) throw new Error(`analyze-pipeline: ${where} is ${got}, the library gives ${want}`);
      return;
    }
    const diff = Math.abs(Number(got) - want) / Math.max(1, Math.abs(want));
    if (!(diff <= TOLERANCE))
      throw new Error(`analyze-pipeline: ${where} is ${got}, the library gives ${want}`);
    maxDifference = Math.max(maxDifference, diff);
  };
  const stateColumns = ['n_samples', 'dim', ...GEOMETRY_DESCRIPTORS, 'top_k', 'top_eigenvalues'];
  let index = 0;
  for (const run of sweep.runs) {
    for (const module of sweep.modules) {
      for (let layer = 0; layer < sweep.layers; layer++) {
        if (index++ % REFERENCE_STRIDE !== 0) continue;
        trajectories++;
        let previous = null;
        for (const step of sweep.steps) {
          const x = sweep.matrix(run.runId, step, layer, module);
          const descriptors = geometryDescriptors(x, n, d);
          const where = `geometry_state ${run.runId}/${module}/L${layer}@${step}`;
          const got = state.get(`${run.runId}/${module}/L${layer}@${step}`);
          if (!got) throw new Error(`analyze-pipeline: no ${where} row`);
          for (const c of new Set(stateColumns)) compare(`${where}.${c}`, got[c], descriptors[c]);
          stateRows++;
          const current = { step, descriptors, matrix: { x, n, d } };
          if (previous) {
            const want = geometryDynamicsRow(previous, current);
            const whereD = `geometry_dynamics ${run.runId}/${module}/L${layer}@${step}`;
            const gotD = dynamics.get(`${run.runId}/${module}/L${layer}@${step}`);
            if (!gotD) throw new Error(`analyze-pipeline: no ${whereD} row`);
            for (const [c, v] of Object.entries(want)) compare(`${whereD}.${c}`, gotD[c], v);
            dynamicsRows++;
          }
          previous = current;
        }
      }
    }
  }
  return { trajectories, stateRows, dynamicsRows, maxDifference, tolerance: TOLERANCE };
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
      'in tasks: load / descriptors / drift (thread-s, last run)',
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
      r.taskSeconds
        ? [r.taskSeconds.load, r.taskSeconds.descriptors, r.taskSeconds.drift]
            .map((x) => x.toFixed(2))
            .join(' / ')
        : '',
    ]),
  );
  if (s.checks?.reference) {
    const c = s.checks.reference;
    console.log(
      `  rows identical in every run; ${c.trajectories} trajectories (${c.stateRows} state, ${c.dynamicsRows} dynamics rows) ` +
        `match geometryDescriptors / representationSimilarity: max relative difference ${c.maxDifference} (tolerance ${c.tolerance})`,
    );
  }
}

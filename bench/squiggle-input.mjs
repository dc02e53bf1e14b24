// Writes the input of an analysis: a synthetic Squiggle lake with `runs` (one grid, so the seeds are
// compared for bifurcations) and probe `embeddings` (resid_post in an array-shards store, mlp_out
// inline), nothing analysed yet. Used by bench/ray-analyze.py and python/tests/test_ray.py.
//
//   node bench/squiggle-input.mjs <lake> [--seeds 4] [--layers 4] [--checkpoints 21] [--samples 64]
//        [--dim 48] [--steps 0,100,…] [--store arrays/probe]
//
// --steps writes only those checkpoints (of the sweep's 0, 100, …), into --store (which must not
// exist yet), so a second call can append the rest to a lake that was analysed meanwhile.
import { parseArgs } from 'node:util';
import { attachGridId, openLake, syntheticRuns, writeSyntheticEmbeddings } from '../dist/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seeds: { type: 'string', default: '4' },
    layers: { type: 'string', default: '4' },
    checkpoints: { type: 'string', default: '21' },
    samples: { type: 'string', default: '64' },
    dim: { type: 'string', default: '48' },
    steps: { type: 'string' },
    store: { type: 'string', default: 'arrays/probe' },
  },
});
const out = positionals[0];
if (!out || positionals.length > 1) {
  process.stderr.write('usage: node bench/squiggle-input.mjs <lake> [--seeds n] [--layers n] …\n');
  process.exit(2);
}
const count = (name) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 1) {
    process.stderr.write(`--${name}: expected a positive integer, got "${values[name]}"\n`);
    process.exit(2);
  }
  return n;
};
const every = 100;
const total = (count('checkpoints') - 1) * every;
const sweep = syntheticRuns({
  seeds: count('seeds'),
  divergingSeed: count('seeds') > 2 ? 2 : -1,
  totalSteps: total,
  checkpointEvery: every,
  collapseStep: Math.round((total * 0.3) / every) * every,
  reexpansionStep: Math.round((total * 0.6) / every) * every,
  divergenceStep: Math.round((total * 0.75) / every) * every,
  layers: count('layers'),
  modules: ['resid_post', 'mlp_out'],
  samples: count('samples'),
  dim: count('dim'),
  runPrefix: 'ray',
});
const steps = values.steps?.split(',').map(Number);
const lake = await openLake(out, { schema: 'squiggle' });
try {
  const { grid_id } = attachGridId({ model: 'synthetic', layers: sweep.layers, dim: sweep.dim });
  if (!steps) {
    await lake.write(
      'runs',
      sweep.runs.map((r) => ({ run_id: r.runId, grid_id, seed: r.seed })),
    );
  }
  const rows = await writeSyntheticEmbeddings(lake, sweep, {
    shardModules: ['resid_post'],
    store: values.store,
    steps,
  });
  process.stdout.write(
    `${JSON.stringify({ runs: sweep.runs.map((r) => r.runId), steps: steps ?? sweep.steps, embeddings: rows })}\n`,
  );
} finally {
  lake.close();
}

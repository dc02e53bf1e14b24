// The geometry bench scenarios:
//
//   geometry-descriptors — geometryDescriptors (spectrum + every descriptor, TwoNN included) of a
//     seeded 1024 × 768 float32 matrix with a decaying spectrum, against numpy (eigvalsh on the
//     centred Gram X̃X̃ᵀ plus the same descriptors, bench/geometry_peer.py) in the same run, once with
//     OpenBLAS at its default thread count and once with OPENBLAS_NUM_THREADS=1. Both sides report
//     in-process times (median of repeats after warm-up, matrix already in memory); the descriptor values are
//     compared (max relative difference) so the bench verifies agreement, not just speed.
//     Target: runlake ≤ 1× numpy's time (default threads). Also times the hand-written TwoNN
//     screen (float32 + exact refinement) against its alternative, the float64 Gram and its scan,
//     and checks that they agree bitwise.
//   signature-search — exact top-10 DTW search (band 13 = 10% of 128) over 10,000 z-normalised
//     squiggle signatures of length 128 for 24 queries: dtwTopK (pruned) against dtwTopKBruteForce,
//     results asserted identical (indices and distances). Target: ≥ 10× faster than brute force.
//
//   npm run build && node bench/run.mjs --only geometry-descriptors
//   npm run build && node bench/run.mjs --only signature-search
//   GEOMETRY_REPEAT=9 node bench/run.mjs --only geometry-descriptors

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { callerScatterShareNow } from '../dist/geometry/descriptor-inputs.js';
import { gramMatrix } from '../dist/geometry/gram.js';
import { gramHelperStats } from '../dist/geometry/gram-thread.js';
import { tridiagonalHelperStats } from '../dist/geometry/tridiagonal.js';
import { twoNearestFromGram, twoNearestSquaredDistances } from '../dist/geometry/two-nn.js';
import { relaxedSimd } from '../dist/geometry/wasm.js';
import { rng } from './data.mjs';
import { fmt, median, progress, SCENARIOS } from './lib.mjs';

for (const name of ['geometry-descriptors', 'signature-search'])
  if (!SCENARIOS.includes(name)) SCENARIOS.push(name);

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const OUT_DIR = path.join(BENCH_DIR, 'out', 'geometry');
const PEER_SCRIPT = path.join(BENCH_DIR, 'geometry_peer.py');
const N = 1024;
const D = 768;
const TOP_K = 10;
const TOP_EIGENVALUES = 16;
const DESCRIPTOR_TARGET = 1;
const SEARCH_TARGET = 10;
const AGREEMENT = 1e-6;

function gaussian(seed) {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/**
 * n×d float32: a 96-dimensional latent with power-law scales (s_k = k^−0.8) through a random
 * mixing, plus isotropic noise and a common offset (so anisotropy and the norms are not trivial).
 */
export function structuredMatrix(n, d, seed) {
  const g = gaussian(seed);
  const latent = 96;
  const mix = Float64Array.from({ length: latent * d }, () => g() / Math.sqrt(d));
  const offset = Float64Array.from({ length: d }, () => 0.3 * g());
  const x = new Float32Array(n * d);
  const z = new Float64Array(latent);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < latent; k++) z[k] = g() * (k + 1) ** -0.8;
    const row = i * d;
    for (let j = 0; j < d; j++) x[row + j] = offset[j] + 0.02 * g();
    for (let k = 0; k < latent; k++) {
      const zk = z[k];
      const m = k * d;
      for (let j = 0; j < d; j++) x[row + j] += zk * mix[m + j];
    }
  }
  return x;
}

function pythonPath() {
  if (process.env.RUNLAKE_PYTHON) return process.env.RUNLAKE_PYTHON;
  const venv = path.join(BENCH_DIR, '..', '.venv', 'bin', 'python');
  return fs.existsSync(venv) ? venv : 'python3';
}

function runPeer(payload, env) {
  const python = pythonPath();
  return new Promise((resolve) => {
    const child = spawn(python, [PEER_SCRIPT, JSON.stringify(payload)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    child.on('error', (error) => resolve({ skipped: `${python}: ${error.message}` }));
    child.on('close', (code) => {
      if (code !== 0) resolve({ skipped: `${python} failed: ${stderr.trim().split('\n').at(-1)}` });
      else resolve({ ...JSON.parse(stdout.trim().split('\n').at(-1)), python });
    });
  });
}

/** Max relative difference over the descriptors (|a − b| / max(|b|, 1e-12); integers must match). */
export function descriptorDiff(js, py) {
  let maxRel = 0;
  let worst = null;
  const mismatches = [];
  const compare = (key, a, b) => {
    if (a === null || b === null || a === undefined || b === undefined) {
      if (a !== b && !(a == null && b == null)) mismatches.push(key);
      return;
    }
    const rel = Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
    if (rel > maxRel) {
      maxRel = rel;
      worst = key;
    }
  };
  for (const [key, value] of Object.entries(py)) {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) compare(`${key}[${i}]`, js[key]?.[i], value[i]);
    } else compare(key, js[key], value);
  }
  for (const key of ['numerical_rank', 'top_k', 'n_samples', 'dim'])
    if (js[key] !== py[key]) mismatches.push(key);
  return { maxRel, worst, mismatches };
}

export async function geometryDescriptorsScenario(options) {
  const { geometryDescriptors } = await import('../dist/index.js');
  const repeat = Number(process.env.GEOMETRY_REPEAT ?? options.repeat ?? 7);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  progress(`geometry-descriptors: generating a seeded ${N}×${D} float32 matrix`);
  const x = structuredMatrix(N, D, 20240611);
  const file = path.join(OUT_DIR, 'x.f32');
  fs.writeFileSync(file, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const payload = { file, n: N, d: D, repeat, topK: TOP_K, topEigenvalues: TOP_EIGENVALUES };

  // Interleave the sides (peer, JS, peer single-threaded, JS) so background load hits both alike.
  const js = [];
  let descriptors;
  const runJs = (count) => {
    for (let r = 0; r < count; r++) {
      const start = process.hrtime.bigint();
      descriptors = geometryDescriptors(x, N, D, { topK: TOP_K, topEigenvalues: TOP_EIGENVALUES });
      js.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  };
  runJs(3); // warm-up: the JIT and the kernels' memories settle over the first few calls
  js.length = 0;
  progress(`geometry-descriptors: numpy peer (default OpenBLAS threads), ${repeat} runs`);
  const peer = await runPeer(payload, {});
  progress(`geometry-descriptors: runlake, ${Math.ceil(repeat / 2)} runs`);
  runJs(Math.ceil(repeat / 2));
  progress('geometry-descriptors: numpy peer (OPENBLAS_NUM_THREADS=1)');
  const peer1 = await runPeer(payload, { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' });
  progress(`geometry-descriptors: runlake, ${Math.ceil(repeat / 2)} more runs`);
  runJs(Math.ceil(repeat / 2));
  const jsMedian = median(js);
  const twoNn = twoNnAlternatives(x, repeat);
  const agreement = peer.descriptors ? descriptorDiff(descriptors, peer.descriptors) : null;
  const ratio = (p) => (p.median_seconds ? jsMedian / p.median_seconds : undefined);
  const result = {
    n: N,
    d: D,
    repeat,
    runlake: { medianSeconds: jsMedian, minSeconds: Math.min(...js), times: js },
    numpy: peer,
    numpySingleThread: peer1,
    agreement,
    ratios: { vsNumpy: ratio(peer), vsNumpySingleThread: ratio(peer1) },
    target: DESCRIPTOR_TARGET,
    twoNn,
    helper: {
      gram: gramHelperStats(),
      tridiagonal: tridiagonalHelperStats(),
      callerScatterShare: Number(callerScatterShareNow().toFixed(2)),
      // Whether the kernels use fused multiply-adds (RUNLAKE_GEOMETRY_FMA=0 turns them off).
      fusedMultiplyAdd: relaxedSimd(),
    },
    descriptors,
  };
  progress(
    `geometry-descriptors: runlake ${fmt.seconds(jsMedian)}, numpy ${fmt.seconds(peer.median_seconds)} ` +
      `(1 thread ${fmt.seconds(peer1.median_seconds)}); max rel diff ${agreement?.maxRel.toExponential(2)}; ` +
      `helper thread ${JSON.stringify(result.helper)}`,
  );
  if (!twoNn.identical)
    throw new Error('geometry-descriptors: the TwoNN screen and the float64 Gram scan disagree');
  if (agreement && (agreement.maxRel > AGREEMENT || agreement.mismatches.length > 0)) {
    throw new Error(
      `geometry-descriptors: runlake and numpy disagree (max rel ${agreement.maxRel} at ${agreement.worst}; mismatches ${agreement.mismatches.join(', ')})`,
    );
  }
  return result;
}

/**
 * TwoNN's nearest distances two ways on one thread: the float32 screen with exact refinement that
 * geometryDescriptors uses, and the alternative it replaced, the full float64 Gram (the same tiled
 * kernel) and its scan. Medians of `repeat` runs each, interleaved; the results must agree bitwise.
 */
function twoNnAlternatives(x, repeat) {
  const mean = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let k = 0; k < D; k++) mean[k] += x[i * D + k];
  for (let k = 0; k < D; k++) mean[k] /= N;
  const screen = () => twoNearestSquaredDistances(x, mean, N, D);
  const gram = () => twoNearestFromGram(gramMatrix(x, N, D, { mean }), N);
  const a = screen();
  const b = gram();
  const identical = a.every((v, i) => Object.is(v, b[i]));
  const times = { screen: [], gram: [] };
  for (let r = 0; r < repeat; r++) {
    for (const [key, f] of [
      ['screen', screen],
      ['gram', gram],
    ]) {
      const start = process.hrtime.bigint();
      f();
      times[key].push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
  return { identical, screenSeconds: median(times.screen), gramSeconds: median(times.gram) };
}

export function printGeometryDescriptors(s, printTable) {
  const met = (r) => (r === undefined ? '' : r <= DESCRIPTOR_TARGET ? 'met' : 'NOT met');
  const peerRow = (label, p, r) =>
    p.skipped
      ? [label, '', '', '', `skipped: ${p.skipped}`]
      : [
          label,
          fmt.seconds(p.median_seconds),
          fmt.seconds(p.min_seconds),
          `${fmt.ratio(r)}x`,
          `gram ${fmt.seconds(p.stages.gram)}, eigvalsh ${fmt.seconds(p.stages.eigvalsh)}, TwoNN ${fmt.seconds(p.stages.two_nn)}; target ≤ ${DESCRIPTOR_TARGET}x: ${met(r)}`,
        ];
  printTable(
    `geometry-descriptors: spectrum + all descriptors of a ${s.n}×${s.d} float32 matrix (median of ${s.runlake.times.length} / ${s.repeat} runs)`,
    ['side', 'median', 'min', 'runlake / peer', 'notes'],
    [
      [
        'a. runlake geometryDescriptors',
        fmt.seconds(s.runlake.medianSeconds),
        fmt.seconds(s.runlake.minSeconds),
        '',
        s.agreement
          ? `max rel diff vs numpy ${s.agreement.maxRel.toExponential(2)} (${s.agreement.worst})`
          : '',
      ],
      peerRow('b. numpy, default threads', s.numpy, s.ratios.vsNumpy),
      peerRow('c. numpy, OPENBLAS_NUM_THREADS=1', s.numpySingleThread, s.ratios.vsNumpySingleThread),
      [
        'd. TwoNN distances, float32 screen',
        fmt.seconds(s.twoNn.screenSeconds),
        '',
        '',
        `one thread; bitwise equal to e.: ${s.twoNn.identical ? 'yes' : 'NO'}`,
      ],
      [
        'e. TwoNN distances, float64 Gram + scan',
        fmt.seconds(s.twoNn.gramSeconds),
        '',
        '',
        'the alternative d. replaced (same tiled kernel as the scatter)',
      ],
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// signature-search

const POOL = 10_000;
const LENGTH = 128;
const QUERIES = 24;
const K = 10;
const BAND = 13;

function zNormalise(v) {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let ss = 0;
  for (const x of v) ss += (x - mean) ** 2;
  const sd = Math.sqrt(ss / v.length) || 1;
  return Float64Array.from(v, (x) => (x - mean) / sd);
}

/** A smooth trajectory (integrated, smoothed noise) with a few collapses and bumps, plus noise. */
function squiggle(random, g) {
  const v = new Float64Array(LENGTH);
  let level = 0;
  let slope = (random() - 0.5) * 0.1;
  for (let i = 0; i < LENGTH; i++) {
    slope = 0.9 * slope + 0.02 * g();
    level += slope;
    v[i] = level;
  }
  const events = 1 + Math.floor(random() * 3);
  for (let e = 0; e < events; e++) {
    const at = Math.floor(random() * LENGTH);
    const width = 2 + random() * 10;
    const height = (random() < 0.5 ? -1 : 1) * (0.5 + 2 * random());
    const collapse = random() < 0.4;
    for (let i = 0; i < LENGTH; i++) {
      if (collapse) {
        // A sharp drop at `at` that recovers over `width` steps.
        if (i >= at) v[i] -= Math.abs(height) * Math.exp(-(i - at) / width);
      } else {
        v[i] += height * Math.exp(-(((i - at) / width) ** 2));
      }
    }
  }
  for (let i = 0; i < LENGTH; i++) v[i] += 0.05 * g();
  return zNormalise(v);
}

export function signaturePool(seed) {
  const random = rng(seed);
  const g = gaussian(seed + 1);
  const pool = Array.from({ length: POOL }, () => squiggle(random, g));
  const queries = [];
  for (let q = 0; q < QUERIES; q++) {
    if (q % 2 === 0) {
      // A noisy, slightly shifted copy of a pool member.
      const src = pool[Math.floor(random() * POOL)];
      const shift = Math.floor(random() * 7) - 3;
      const v = new Float64Array(LENGTH);
      for (let i = 0; i < LENGTH; i++) v[i] = src[Math.min(LENGTH - 1, Math.max(0, i + shift))] + 0.15 * g();
      queries.push(zNormalise(v));
    } else {
      queries.push(squiggle(random, g));
    }
  }
  return { pool, queries };
}

export async function signatureSearchScenario(options) {
  const { dtwTopKBruteForce, dtwTopKWithStats } = await import('../dist/index.js');
  const repeat = options.repeat ?? 3;
  progress(`signature-search: ${fmt.int(POOL)} signatures of length ${LENGTH}, ${QUERIES} queries`);
  const { pool, queries } = signaturePool(4242);
  // Warm up both kernels.
  dtwTopKWithStats(queries[0], pool.slice(0, 500), K, BAND);
  dtwTopKBruteForce(queries[0], pool.slice(0, 500), K, BAND);

  progress('signature-search: brute force (one pass over all queries)');
  let start = process.hrtime.bigint();
  const brute = queries.map((q) => dtwTopKBruteForce(q, pool, K, BAND));
  const bruteSeconds = Number(process.hrtime.bigint() - start) / 1e9;

  const prunedTimes = [];
  let pruned;
  const stats = { lbPruned: 0, dtwAbandoned: 0, dtwFull: 0 };
  for (let r = 0; r < repeat; r++) {
    start = process.hrtime.bigint();
    pruned = queries.map((q) => dtwTopKWithStats(q, pool, K, BAND));
    prunedTimes.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  for (const p of pruned) for (const key of Object.keys(stats)) stats[key] += p.stats[key];
  for (let q = 0; q < QUERIES; q++) {
    const a = pruned[q].results;
    const b = brute[q];
    const same =
      a.length === b.length &&
      a.every((hit, i) => hit.index === b[i].index && hit.distance === b[i].distance);
    if (!same) {
      throw new Error(
        `signature-search: query ${q}: pruned ${JSON.stringify(a)} differs from brute force ${JSON.stringify(b)}`,
      );
    }
  }
  const prunedSeconds = median(prunedTimes);
  const copies = brute.filter((hits, q) => q % 2 === 0 && hits[0].distance < 3).length;
  const result = {
    pool: POOL,
    length: LENGTH,
    queries: QUERIES,
    k: K,
    band: BAND,
    bruteSeconds,
    prunedSeconds,
    prunedTimes,
    speedup: bruteSeconds / prunedSeconds,
    identical: true,
    stats,
    perQueryMs: { brute: (bruteSeconds / QUERIES) * 1000, pruned: (prunedSeconds / QUERIES) * 1000 },
    copiesFoundFirst: copies,
    target: SEARCH_TARGET,
  };
  progress(
    `signature-search: brute ${fmt.seconds(bruteSeconds)}, pruned ${fmt.seconds(prunedSeconds)} → ${result.speedup.toFixed(1)}x, identical results`,
  );
  return result;
}

export function printSignatureSearch(s, printTable) {
  const total = s.pool * s.queries;
  const pct = (x) => `${((100 * x) / total).toFixed(1)}%`;
  printTable(
    `signature-search: exact top-${s.k} DTW (band ${s.band}) over ${fmt.int(s.pool)} signatures of length ${s.length}, ${s.queries} queries (pruned: median of ${s.prunedTimes.length})`,
    ['kernel', 'all queries', 'per query', 'speedup', 'notes'],
    [
      [
        'a. dtwTopKBruteForce',
        fmt.seconds(s.bruteSeconds),
        `${s.perQueryMs.brute.toFixed(1)} ms`,
        '',
        'full DTW of every candidate',
      ],
      [
        'b. dtwTopK (pruned)',
        fmt.seconds(s.prunedSeconds),
        `${s.perQueryMs.pruned.toFixed(1)} ms`,
        `${s.speedup.toFixed(1)}x`,
        `identical results; LB-pruned ${pct(s.stats.lbPruned)}, abandoned ${pct(s.stats.dtwAbandoned)}, full DTW ${pct(s.stats.dtwFull)}; target ≥ ${s.target}x: ${s.speedup >= s.target ? 'met' : 'NOT met'}`,
      ],
    ],
  );
}

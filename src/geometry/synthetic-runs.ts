/**
 * A synthetic training-run generator: probe-set representations whose spectrum collapses and
 * re-expands at known steps, across several seeds, one of which diverges. It drives the demo,
 * the detection tests and the pipeline benchmark, and returns the events it planted so detected
 * events can be scored against them.
 */
import { RunlakeError } from '../lake/index.js';
import { gaussianStream, mulberry32 } from './random.js';

/** Options for {@link syntheticRuns}; every field has a default. */
export interface SyntheticRunOptions {
  /** Seeds of the one grid (default 4). */
  readonly seeds?: number;
  /** Index of the seed whose trajectory departs from the others (default 2; -1 for none). */
  readonly divergingSeed?: number;
  /** Last optimizer step (default 2000). */
  readonly totalSteps?: number;
  /** Steps between checkpoints (default 100). */
  readonly checkpointEvery?: number;
  /** Layers per model (default 4). */
  readonly layers?: number;
  /** Modules per layer (default resid_post, mlp_out). */
  readonly modules?: readonly string[];
  /** Probe samples: rows of every matrix (default 64). */
  readonly samples?: number;
  /** Hidden size: columns of every matrix (default 48). */
  readonly dim?: number;
  /** Checkpoint at which the spectrum collapses (default 600). */
  readonly collapseStep?: number;
  /** Checkpoint at which it re-expands (default 1200). */
  readonly reexpansionStep?: number;
  /** Checkpoint after which the diverging seed departs (default 1500). */
  readonly divergenceStep?: number;
  /** Seed of the pseudo-random generator (default 7). */
  readonly randomSeed?: number;
  /** Prefix of the run ids (default `synthetic`). */
  readonly runPrefix?: string;
}

/** One planted event, in the `events` dataset's terms. */
export interface PlantedEvent {
  readonly runId: string;
  readonly eventType: 'rank_collapse' | 'reexpansion' | 'bifurcation';
  readonly layer: number;
  readonly module: string;
  readonly step: number;
}

/** One run of the synthetic sweep. */
export interface SyntheticRun {
  readonly runId: string;
  readonly seed: number;
  /** True for the seed that departs from the others after `divergenceStep`. */
  readonly diverges: boolean;
}

/** What {@link syntheticRuns} describes: the runs, their checkpoints, and a matrix factory. */
export interface SyntheticSweep {
  readonly runs: readonly SyntheticRun[];
  readonly steps: readonly number[];
  readonly layers: number;
  readonly modules: readonly string[];
  readonly samples: number;
  readonly dim: number;
  readonly planted: readonly PlantedEvent[];
  /**
   * The n×d float32 probe matrix of one run at one checkpoint, layer and module. Deterministic:
   * the same arguments always give the same matrix, so it can be regenerated instead of kept.
   */
  matrix(runId: string, step: number, layer: number, module: string): Float32Array;
}

/**
 * Describes a synthetic sweep of one grid. Each (run, layer, module) has a fixed latent cloud Z
 * (n×d Gaussian) plus a mean offset; at step t its representation is X_t = (Z + εE_t)·diag(s_t) + m,
 * with fresh noise E_t per checkpoint and a power-law spectrum s_t,i = (i + 1)^−a(t). The decay
 * a(t) is low (a rich spectrum) before `collapseStep`, jumps high (the effective rank collapses)
 * until `reexpansionStep`, then falls back. The diverging seed's decay rises again after
 * `divergenceStep` while the other seeds stay put. Seeds differ by small jitter in a(t).
 *
 * @example
 * ```ts
 * const sweep = syntheticRuns({ seeds: 3, layers: 2 });
 * const x = sweep.matrix(sweep.runs[0]!.runId, 600, 1, 'resid_post'); // Float32Array(64 × 48)
 * sweep.planted.filter((e) => e.eventType === 'bifurcation');
 * ```
 */
export function syntheticRuns(options: SyntheticRunOptions = {}): SyntheticSweep {
  const seeds = positive('seeds', options.seeds ?? 4);
  const divergingSeed = options.divergingSeed ?? 2;
  const totalSteps = positive('totalSteps', options.totalSteps ?? 2000);
  const every = positive('checkpointEvery', options.checkpointEvery ?? 100);
  const layers = positive('layers', options.layers ?? 4);
  const modules = options.modules ?? ['resid_post', 'mlp_out'];
  const samples = positive('samples', options.samples ?? 64);
  const dim = positive('dim', options.dim ?? 48);
  const collapseStep = options.collapseStep ?? 600;
  const reexpansionStep = options.reexpansionStep ?? 1200;
  const divergenceStep = options.divergenceStep ?? 1500;
  const randomSeed = options.randomSeed ?? 7;
  const prefix = options.runPrefix ?? 'synthetic';
  if (!(collapseStep < reexpansionStep && reexpansionStep < divergenceStep && divergenceStep < totalSteps)) {
    throw new RunlakeError(
      `synthetic runs need collapseStep < reexpansionStep < divergenceStep < totalSteps, got ` +
        `${collapseStep}, ${reexpansionStep}, ${divergenceStep}, ${totalSteps}`,
    );
  }
  if (modules.length === 0) throw new RunlakeError('synthetic runs need at least one module');

  const steps = Array.from({ length: Math.floor(totalSteps / every) + 1 }, (_, i) => i * every);
  const runs = Array.from({ length: seeds }, (_, seed) => ({
    runId: `${prefix}-s${seed}`,
    seed,
    diverges: seed === divergingSeed,
  }));
  const onCheckpoint = (step: number) => steps.find((s) => s >= step) ?? totalSteps;
  const planted: PlantedEvent[] = [];
  for (const run of runs) {
    for (let layer = 0; layer < layers; layer++) {
      for (const module of modules) {
        planted.push(
          { runId: run.runId, eventType: 'rank_collapse', layer, module, step: onCheckpoint(collapseStep) },
          { runId: run.runId, eventType: 'reexpansion', layer, module, step: onCheckpoint(reexpansionStep) },
        );
        if (run.diverges) {
          // Departing means its spectrum collapses again while the other seeds' stays rich.
          const step = onCheckpoint(divergenceStep);
          planted.push(
            { runId: run.runId, eventType: 'bifurcation', layer, module, step },
            { runId: run.runId, eventType: 'rank_collapse', layer, module, step },
          );
        }
      }
    }
  }

  const decay = (run: SyntheticRun, step: number, layer: number, module: string): number => {
    const jitter = (salt: number) =>
      (uniform(hashKey(randomSeed, run.seed, layer, module, step, salt)) - 0.5) * 0.04;
    // Deeper layers collapse further, so the trajectories of one run differ between layers.
    const collapsed = 1.6 + 0.15 * layer;
    let a = 0.35 + jitter(1);
    if (step >= collapseStep && step < reexpansionStep) a = collapsed + jitter(2);
    else if (step >= reexpansionStep) a = 0.45 + jitter(3);
    if (run.diverges && step >= divergenceStep) a = 1.2 + 0.1 * layer + jitter(4);
    return a;
  };

  const matrix = (runId: string, step: number, layer: number, module: string): Float32Array => {
    const run = runs.find((r) => r.runId === runId);
    if (!run) throw new RunlakeError(`synthetic sweep has no run "${runId}"`);
    const moduleIndex = modules.indexOf(module);
    if (moduleIndex < 0) throw new RunlakeError(`synthetic sweep has no module "${module}"`);
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
      throw new RunlakeError(`synthetic sweep has no layer ${layer} (0–${layers - 1})`);
    }
    const a = decay(run, step, layer, module);
    const latent = gaussianStream(hashKey(randomSeed, run.seed, layer, moduleIndex, -1, 0));
    const noise = gaussianStream(hashKey(randomSeed, run.seed, layer, moduleIndex, step, 9));
    const offset = gaussianStream(hashKey(randomSeed, run.seed, layer, moduleIndex, -2, 0));
    const mean = Float64Array.from({ length: dim }, () => 0.3 * offset());
    const scale = Float64Array.from({ length: dim }, (_, i) => (i + 1) ** -a);
    const x = new Float32Array(samples * dim);
    for (let r = 0; r < samples; r++) {
      for (let c = 0; c < dim; c++) {
        x[r * dim + c] = (latent() + 0.05 * noise()) * (scale[c] as number) + (mean[c] as number) * 0.2;
      }
    }
    return x;
  };

  return { runs, steps, layers, modules, samples, dim, planted, matrix };
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RunlakeError(`synthetic runs: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** A 32-bit hash of the key parts, so each matrix has its own reproducible random stream. */
function hashKey(...parts: ReadonlyArray<number | string>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0x2c, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32's output mapped to [0, 1) for one seed. */
function uniform(seed: number): number {
  return mulberry32(seed)();
}

/** A detected event, in the terms {@link scoreDetections} compares. */
export interface ScoredEvent {
  readonly runId: string;
  readonly eventType: string;
  readonly layer: number | null;
  readonly module: string | null;
  readonly step: number;
}

/** Detection quality for one event type. */
export interface DetectionScore {
  readonly eventType: string;
  readonly planted: number;
  readonly detected: number;
  /** Detected events matched one-to-one with a planted event. */
  readonly matched: number;
  /** matched / detected (1 when nothing was detected). */
  readonly precision: number;
  /** matched / planted (1 when nothing was planted). */
  readonly recall: number;
}

/**
 * Scores detected events against planted ones, per planted event type: a detection matches a
 * planted event of the same type, run, layer and module whose step is within `toleranceSteps`,
 * each planted event at most once (nearest first).
 *
 * @example
 * ```ts
 * const sweep = syntheticRuns();
 * scoreDetections(sweep.planted, detected, 100); // [{ eventType: 'rank_collapse', precision: 1, recall: 1, … }, …]
 * ```
 */
export function scoreDetections(
  planted: readonly PlantedEvent[],
  detected: readonly ScoredEvent[],
  toleranceSteps: number,
): DetectionScore[] {
  const types = [...new Set(planted.map((p) => p.eventType))].sort();
  return types.map((eventType) => {
    const wanted = planted.filter((p) => p.eventType === eventType);
    const found = detected.filter((d) => d.eventType === eventType);
    const used = new Set<number>();
    let matched = 0;
    for (const d of found) {
      let best = -1;
      let bestGap = Number.POSITIVE_INFINITY;
      wanted.forEach((p, i) => {
        const gap = Math.abs(p.step - d.step);
        if (used.has(i) || p.runId !== d.runId || p.layer !== d.layer || p.module !== d.module) return;
        if (gap <= toleranceSteps && gap < bestGap) {
          best = i;
          bestGap = gap;
        }
      });
      if (best >= 0) {
        used.add(best);
        matched++;
      }
    }
    return {
      eventType,
      planted: wanted.length,
      detected: found.length,
      matched,
      precision: found.length === 0 ? 1 : matched / found.length,
      recall: wanted.length === 0 ? 1 : matched / wanted.length,
    };
  });
}

/**
 * `rank_collapse` and `reexpansion`: a sustained drop of a dimensionality descriptor below its
 * trailing baseline, and the recovery that follows it — the collapse → expansion phases reported
 * for language-model training (Li et al., NeurIPS 2025; cf. the intrinsic-dimension "hunchback" of
 * Ansuini et al. 2019).
 */
import { medianOf, robustNoiseScale } from '../pelt.js';
import {
  checkParam,
  checkStringParam,
  compactSeries,
  type DescriptorTrajectory,
  type DetectedEvent,
  type EventDetector,
  logistic,
  median3,
} from './types.js';

/** Parameters of the `rank_collapse/v1` detector (defaults in {@link RANK_COLLAPSE_DEFAULTS}). */
export interface RankCollapseParams {
  /** Descriptor watched. Default `effective_rank`. */
  descriptor: string;
  /** Trailing baseline window in checkpoints: baseline = max of the median-of-3 smoothed series over it. Default 10. */
  window: number;
  /** Minimum drop as a fraction of the baseline. Default 0.15. */
  minDrop: number;
  /** The drop must also exceed noiseK·σ̂ (σ̂ = 1.4826·MAD(Δx)/√2). Default 4. */
  noiseK: number;
  /** Checkpoints the drop must last. Default 2. */
  minDuration: number;
  /** Floor on σ̂ as a fraction of the median |value|, so noiseless series are not infinitely sensitive. Default 1e-3. */
  noiseFloor: number;
}

/** Parameters of the `reexpansion/v1` detector (defaults in {@link REEXPANSION_DEFAULTS}). */
export interface ReexpansionParams {
  /** Fraction of the lost amount that must come back. Default 0.5. */
  recoverFraction: number;
  /** The recovery must also exceed noiseK·σ̂. Default 4. */
  noiseK: number;
  /** Checkpoints the recovery must last. Default 2. */
  minDuration: number;
  /** Collapse detection the recoveries are measured against (descriptor included). Default {@link RANK_COLLAPSE_DEFAULTS}. */
  collapse: RankCollapseParams;
}

/**
 * Defaults of `rank_collapse/v1`.
 *
 * @example
 * ```ts
 * RANK_COLLAPSE_DEFAULTS.minDrop; // 0.15
 * ```
 */
export const RANK_COLLAPSE_DEFAULTS: Readonly<RankCollapseParams> = Object.freeze({
  descriptor: 'effective_rank',
  window: 10,
  minDrop: 0.15,
  noiseK: 4,
  minDuration: 2,
  noiseFloor: 1e-3,
});

/**
 * Defaults of `reexpansion/v1`.
 *
 * @example
 * ```ts
 * REEXPANSION_DEFAULTS.recoverFraction; // 0.5
 * ```
 */
export const REEXPANSION_DEFAULTS: Readonly<ReexpansionParams> = Object.freeze({
  recoverFraction: 0.5,
  noiseK: 4,
  minDuration: 2,
  collapse: RANK_COLLAPSE_DEFAULTS,
});

/** One collapse found on a compacted series (indices into the compact arrays). */
interface CollapseEpisode {
  onset: number;
  trough: number;
  /** last checkpoint still below the collapse threshold */
  end: number;
  preLevel: number;
  troughLevel: number;
}

function checkCollapseParams(p: RankCollapseParams, who: string): void {
  checkStringParam(who, 'descriptor', p.descriptor);
  checkParam(who, 'window', p.window, { integer: true, min: 2 });
  checkParam(who, 'minDrop', p.minDrop, { min: 0, max: 1 });
  checkParam(who, 'noiseK', p.noiseK, { min: 0 });
  checkParam(who, 'minDuration', p.minDuration, { integer: true, min: 1 });
  checkParam(who, 'noiseFloor', p.noiseFloor, { min: 0 });
}

function noiseScale(x: Float64Array, noiseFloor: number): number {
  const abs = Float64Array.from(x, Math.abs);
  const floor = noiseFloor * (medianOf(abs) || 1);
  return Math.max(robustNoiseScale(x), floor, Number.MIN_VALUE);
}

function findCollapses(x: Float64Array, p: RankCollapseParams, sigma: number): CollapseEpisode[] {
  const n = x.length;
  const s = median3(x);
  const out: CollapseEpisode[] = [];
  let lo = 0;
  let i = 0;
  while (i < n) {
    const from = Math.max(lo, i - p.window);
    // Three baseline points at least: a max over fewer is mostly noise.
    if (i - from < 3) {
      i++;
      continue;
    }
    let ref = Number.NEGATIVE_INFINITY;
    for (let k = from; k < i; k++) ref = Math.max(ref, s[k] as number);
    const thr = Math.max(p.minDrop * Math.abs(ref), p.noiseK * sigma);
    let j = i;
    while (j < n && ref - (x[j] as number) >= thr) j++;
    if (j - i < p.minDuration) {
      i++;
      continue;
    }
    // Onset: walk back over the start of a gradual decline (points already half-way down).
    let onset = i;
    while (onset - 1 > from && ref - (x[onset - 1] as number) >= 0.5 * thr) onset--;
    const end = j - 1;
    let smin = Number.POSITIVE_INFINITY;
    for (let k = onset; k <= end; k++) smin = Math.min(smin, s[k] as number);
    let trough = onset;
    while (trough < end && (s[trough] as number) > smin + sigma) trough++;
    const preLevel = medianOf(x.subarray(from, onset));
    out.push({ onset, trough, end, preLevel, troughLevel: smin });
    lo = trough + 1;
    i = j;
  }
  return out;
}

function event(
  eventType: string,
  detector: string,
  c: { steps: Float64Array },
  onset: number,
  end: number,
  descriptor: string,
  magnitude: number,
  confidence: number,
  params: object,
): DetectedEvent {
  return {
    eventType,
    detector,
    step: c.steps[onset] as number,
    stepEnd: c.steps[end] as number,
    descriptor,
    magnitude,
    confidence,
    params: params as Record<string, unknown>,
  };
}

/**
 * Detects rank collapses: checkpoints where the descriptor sits below its trailing baseline by at
 * least max(minDrop·|baseline|, noiseK·σ̂) for ≥ minDuration consecutive checkpoints. Onset = first
 * checkpoint of the drop; stepEnd = the trough; magnitude = pre-collapse level (median over the
 * window) − trough level (min of the median-of-3 series), in descriptor units; confidence =
 * logistic(magnitude/σ̂ − noiseK).
 *
 * @example
 * ```ts
 * detectRankCollapse({ steps, descriptors: { effective_rank: rank } }, RANK_COLLAPSE_DEFAULTS);
 * ```
 */
export function detectRankCollapse(
  trajectory: DescriptorTrajectory,
  params: RankCollapseParams,
): DetectedEvent[] {
  checkCollapseParams(params, 'rank_collapse');
  const c = compactSeries(trajectory, params.descriptor);
  if (c.values.length < 3 + params.minDuration) return [];
  const sigma = noiseScale(c.values, params.noiseFloor);
  return findCollapses(c.values, params, sigma).map((e) => {
    const magnitude = e.preLevel - e.troughLevel;
    const conf = logistic(magnitude / sigma - params.noiseK);
    return event(
      'rank_collapse',
      'rank_collapse/v1',
      c,
      e.onset,
      e.trough,
      params.descriptor,
      magnitude,
      conf,
      params,
    );
  });
}

/**
 * Detects reexpansions: after each rank collapse, the first rise of the descriptor above the trough
 * level by max(recoverFraction·lost, noiseK·σ̂) lasting ≥ minDuration checkpoints, searched up to
 * the next collapse. Onset = start of the rise (walking back over points already half-way up);
 * stepEnd = first checkpoint within σ̂ of the recovered peak; magnitude = peak − trough (descriptor
 * units); confidence = logistic(magnitude/σ̂ − noiseK).
 *
 * @example
 * ```ts
 * detectReexpansion({ steps, descriptors: { effective_rank: rank } }, REEXPANSION_DEFAULTS);
 * ```
 */
export function detectReexpansion(
  trajectory: DescriptorTrajectory,
  params: ReexpansionParams,
): DetectedEvent[] {
  checkParam('reexpansion', 'recoverFraction', params.recoverFraction, {
    min: 0,
    max: 2,
    exclusiveMin: true,
  });
  checkParam('reexpansion', 'noiseK', params.noiseK, { min: 0 });
  checkParam('reexpansion', 'minDuration', params.minDuration, { integer: true, min: 1 });
  const cp = { ...RANK_COLLAPSE_DEFAULTS, ...(params.collapse ?? {}) };
  checkCollapseParams(cp, 'reexpansion.collapse');
  const c = compactSeries(trajectory, cp.descriptor);
  const x = c.values;
  const n = x.length;
  if (n < 3 + cp.minDuration) return [];
  const sigma = noiseScale(x, cp.noiseFloor);
  const s = median3(x);
  const episodes = findCollapses(x, cp, sigma);
  const out: DetectedEvent[] = [];
  episodes.forEach((e, k) => {
    const limit = episodes[k + 1]?.onset ?? n;
    const lost = e.preLevel - e.troughLevel;
    const thr = Math.max(params.recoverFraction * lost, params.noiseK * sigma);
    for (let r = e.trough + 1; r < limit; r++) {
      let j = r;
      while (j < limit && (x[j] as number) - e.troughLevel >= thr) j++;
      if (j - r < params.minDuration) continue;
      let onset = r;
      while (onset - 1 > e.trough && (x[onset - 1] as number) - e.troughLevel >= 0.5 * thr) onset--;
      let smax = Number.NEGATIVE_INFINITY;
      for (let q = onset; q < limit; q++) smax = Math.max(smax, s[q] as number);
      let peak = onset;
      while (peak < limit - 1 && (s[peak] as number) < smax - sigma) peak++;
      const magnitude = smax - e.troughLevel;
      const conf = logistic(magnitude / sigma - params.noiseK);
      out.push(
        event('reexpansion', 'reexpansion/v1', c, onset, peak, cp.descriptor, magnitude, conf, {
          ...params,
          collapse: cp,
        }),
      );
      break;
    }
  });
  return out;
}

/**
 * The registered `rank_collapse/v1` detector.
 *
 * @example
 * ```ts
 * RANK_COLLAPSE_DETECTOR.detect(trajectory, RANK_COLLAPSE_DETECTOR.defaults);
 * ```
 */
export const RANK_COLLAPSE_DETECTOR: EventDetector<RankCollapseParams> = {
  eventType: 'rank_collapse',
  name: 'rank_collapse/v1',
  description: 'sustained drop of a dimensionality descriptor below its trailing baseline, beyond noise',
  defaults: RANK_COLLAPSE_DEFAULTS,
  detect: detectRankCollapse,
};

/**
 * The registered `reexpansion/v1` detector.
 *
 * @example
 * ```ts
 * REEXPANSION_DETECTOR.detect(trajectory, REEXPANSION_DETECTOR.defaults);
 * ```
 */
export const REEXPANSION_DETECTOR: EventDetector<ReexpansionParams> = {
  eventType: 'reexpansion',
  name: 'reexpansion/v1',
  description: 'recovery of a fraction of the descriptor lost in a rank collapse',
  defaults: REEXPANSION_DEFAULTS,
  detect: detectReexpansion,
};

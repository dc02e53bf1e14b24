/**
 * Squiggle matching: top-k correspondences of one signature against a pool of signatures (other runs,
 * layers, seeds), under four methods, each ranked separately — the rows of the `matches` dataset.
 *
 * - `dtw`: exact DTW with a Sakoe–Chiba band on the z-normalised series (`z<points>` signatures), found
 *   by the pruned, exact {@link dtwTopK} (LB_Keogh + early abandoning); alignment summaries from
 *   {@link dtwPath} for the returned rows only.
 * - `cosine`: cosine distance on the PAA vectors (`paa<segments>-z` signatures).
 * - `edit`: Levenshtein distance on the event-token sequences.
 * - `combined`: a weighted mean of the three bounded similarities (see {@link combinedScore}); its
 *   top-k is exact (equal to brute force) but computes DTW only for candidates whose LB_Keogh-based
 *   upper bound on the combined score can still reach the current k-th best.
 *
 * Pure functions only: no lake I/O.
 */
import { RunlakeError } from '../lake/index.js';
import { type DtwSeries, dtwDistance, dtwPath, dtwTopK, keoghEnvelope, lbKeogh } from './dtw.js';
import { cosineDistance, editDistance } from './signatures.js';

/** One signature as the matcher sees it: both vectors and the event tokens, with its identity. */
export interface MatchCandidate {
  /** Unique in the pool; also the tie-breaker of every ranking (code-unit order). */
  signatureId: string;
  runId: string;
  /** The z-normalised, resampled series (DTW). Same length for the query and every candidate. */
  series: Float64Array | Float32Array;
  /** The PAA vector (cosine). Same length for the query and every candidate. */
  paa: Float64Array | Float32Array;
  eventTokens: readonly string[];
}

/** Weights of the per-method similarities in the combined score (non-negative, not all zero). */
export interface MatchWeights {
  dtw: number;
  cosine: number;
  edit: number;
}

/**
 * Default combined-score weights: DTW 0.6 (the finest, alignment-tolerant view of the whole shape),
 * cosine 0.3 (the coarse PAA shape, robust to noise), edit 0.1 (event sequences are short and often
 * empty, so they only break near-ties).
 */
export const DEFAULT_MATCH_WEIGHTS: Readonly<MatchWeights> = Object.freeze({
  dtw: 0.6,
  cosine: 0.3,
  edit: 0.1,
});

/** Options of {@link matchSignatures}. */
export interface MatchOptions {
  /** Rows per method (default 10). */
  topK?: number;
  /** Sakoe–Chiba band in points (default round(L/10), 10% of the series length L). */
  band?: number;
  /** Combined-score weights (default {@link DEFAULT_MATCH_WEIGHTS}). */
  weights?: MatchWeights;
  /** Candidate signatures to leave out (the query's own signatureId is always left out). */
  excludeSignatureIds?: ReadonlySet<string>;
  /** Candidate runs to leave out (e.g. the query's own run, to match across runs only). */
  excludeRunIds?: ReadonlySet<string>;
}

/** The DTW path summary stored in `matches.alignment`. */
export interface MatchAlignment {
  path_length: number;
  band: number;
  max_deviation: number;
  query_offset: number;
}

/** One `matches` row (without the partition key `run_id` and `params_json`). */
export interface MatchRow {
  querySignatureId: string;
  candidateRunId: string;
  candidateSignatureId: string;
  method: 'dtw' | 'cosine' | 'edit' | 'combined';
  /** Distance under the method: DTW distance, cosine distance, edit distance, or 1 − combined score. */
  distance: number;
  /** The method's similarity in [0, 1] (see {@link dtwSimilarity} etc.); the combined score for `combined`. */
  score: number | null;
  /** 1…K within (query, method). */
  rank: number;
  /** DTW path summary for `dtw` and `combined` rows; null for `cosine` and `edit`. */
  alignment: MatchAlignment | null;
}

/** How much work the combined search saved; the three counts add up to the candidates considered. */
export interface CombinedSearchStats {
  /** Candidates skipped because their upper-bound combined score was below the k-th best. */
  boundPruned: number;
  /** Candidates whose DTW was abandoned early (it could no longer reach the k-th best). */
  dtwAbandoned: number;
  /** Candidates whose DTW was computed to the end. */
  dtwFull: number;
}

/** The result of {@link matchSignaturesWithStats}. */
export interface MatchResult {
  rows: MatchRow[];
  stats: CombinedSearchStats;
}

const PREPARED = Symbol('runlake.preparedSignaturePool');

/**
 * A validated pool, sorted by signatureId (so index order is the tie-break order of every ranking).
 * Build once with {@link prepareSignaturePool} and reuse for many queries.
 */
export interface PreparedSignaturePool {
  readonly [PREPARED]: true;
  /** Candidates in code-unit order of signatureId. */
  readonly candidates: readonly MatchCandidate[];
  /** Common series length (0 for an empty pool). */
  readonly seriesLength: number;
  /** Common PAA length (0 for an empty pool). */
  readonly paaLength: number;
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isFloatArray(x: unknown): x is Float64Array | Float32Array {
  return x instanceof Float64Array || x instanceof Float32Array;
}

function checkCandidate(c: MatchCandidate, what: string, fn: string): void {
  if (c === null || typeof c !== 'object') throw new RunlakeError(`${fn}: ${what} must be an object`);
  if (typeof c.signatureId !== 'string' || c.signatureId === '') {
    throw new RunlakeError(`${fn}: ${what}.signatureId must be a non-empty string`);
  }
  const label = `${what} (${c.signatureId})`;
  if (typeof c.runId !== 'string') throw new RunlakeError(`${fn}: ${label}.runId must be a string`);
  for (const key of ['series', 'paa'] as const) {
    const v = c[key];
    if (!isFloatArray(v))
      throw new RunlakeError(`${fn}: ${label}.${key} must be a Float64Array or Float32Array`);
    if (v.length === 0) throw new RunlakeError(`${fn}: ${label}.${key} is empty`);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i] as number)) {
        throw new RunlakeError(`${fn}: ${label}.${key} has a non-finite value (${v[i]}) at index ${i}`);
      }
    }
  }
  if (!Array.isArray(c.eventTokens) || !c.eventTokens.every((t) => typeof t === 'string')) {
    throw new RunlakeError(`${fn}: ${label}.eventTokens must be an array of strings`);
  }
}

/**
 * Validates a pool once and sorts it by signatureId, for reuse across many {@link matchSignatures}
 * calls (which otherwise prepare the array they are given on every call).
 *
 * @throws RunlakeError on a malformed candidate, a duplicated signatureId, or series / PAA lengths that
 *   differ between candidates (resample onto one grid with one `points` and `paaSegments` first).
 * @example
 * ```ts
 * const pool = prepareSignaturePool(candidates);
 * for (const q of queries) rows.push(...matchSignatures(q, pool, { excludeRunIds: new Set([q.runId]) }));
 * ```
 */
export function prepareSignaturePool(pool: ReadonlyArray<MatchCandidate>): PreparedSignaturePool {
  const fn = 'prepareSignaturePool';
  if (!Array.isArray(pool)) throw new RunlakeError(`${fn}: pool must be an array of candidates`);
  pool.forEach((c, i) => {
    checkCandidate(c, `pool[${i}]`, fn);
  });
  const sorted = [...pool].sort((a, b) => compareCodeUnits(a.signatureId, b.signatureId));
  const first = sorted[0];
  const seriesLength = first?.series.length ?? 0;
  const paaLength = first?.paa.length ?? 0;
  for (let i = 0; i < sorted.length; i++) {
    const c = sorted[i] as MatchCandidate;
    if (i > 0 && (sorted[i - 1] as MatchCandidate).signatureId === c.signatureId) {
      throw new RunlakeError(`${fn}: pool has a duplicate signatureId ${JSON.stringify(c.signatureId)}`);
    }
    if (c.series.length !== seriesLength) {
      throw new RunlakeError(
        `${fn}: series lengths differ (${c.signatureId}: ${c.series.length} vs ${seriesLength}); resample every trajectory with the same points`,
      );
    }
    if (c.paa.length !== paaLength) {
      throw new RunlakeError(
        `${fn}: paa lengths differ (${c.signatureId}: ${c.paa.length} vs ${paaLength}); use the same paaSegments everywhere`,
      );
    }
  }
  return Object.freeze({
    [PREPARED]: true as const,
    candidates: Object.freeze(sorted),
    seriesLength,
    paaLength,
  });
}

// ---------------------------------------------------------------------------------------------
// Similarities and the combined score

/**
 * The DTW similarity s_dtw = 1/(1 + d/√L) in (0, 1], with L the series length: d/√L is the
 * root-mean-square pointwise difference along the warping path, so the score does not depend on the grid
 * resolution. For z-normalised series d/√L ≤ 2 (DTW ≤ Euclidean ≤ 2√L), so s_dtw ≥ 1/3 in practice.
 * Decreasing in d, which lets a lower bound on d (LB_Keogh) bound s_dtw from above.
 *
 * @example
 * ```ts
 * dtwSimilarity(0, 128); // 1
 * dtwSimilarity(Math.sqrt(128), 128); // 0.5: an RMS difference of one standard deviation
 * ```
 */
export function dtwSimilarity(distance: number, length: number): number {
  return 1 / (1 + distance / Math.sqrt(length));
}

/**
 * The cosine similarity score s_cos = 1 − d_cos/2 in [0, 1] (1 for parallel, 0.5 for orthogonal or a
 * zero vector, 0 for opposite vectors).
 *
 * @example
 * ```ts
 * cosineSimilarity(0); // 1
 * cosineSimilarity(1); // 0.5
 * ```
 */
export function cosineSimilarity(distance: number): number {
  return 1 - distance / 2;
}

/**
 * The event-sequence similarity s_edit = 1 − edit/max(|a|, |b|, 1) in [0, 1] (Levenshtein distance
 * normalised by its maximum; two empty sequences score 1).
 *
 * @example
 * ```ts
 * editSimilarity(1, 2, 1); // 0.5
 * editSimilarity(0, 0, 0); // 1
 * ```
 */
export function editSimilarity(edit: number, lengthA: number, lengthB: number): number {
  return 1 - edit / Math.max(lengthA, lengthB, 1);
}

/**
 * The combined score: the weighted mean (w_dtw·s_dtw + w_cos·s_cos + w_edit·s_edit)/(w_dtw + w_cos +
 * w_edit) of the three similarities, in [0, 1]; the `combined` distance is 1 − score. Non-decreasing in
 * each similarity, also in floating point (each operation rounds monotonically), which the exact pruned
 * search relies on.
 *
 * @example
 * ```ts
 * combinedScore({ dtw: 0.9, cosine: 0.8, edit: 1 }, DEFAULT_MATCH_WEIGHTS); // 0.6·0.9 + 0.3·0.8 + 0.1·1 = 0.88
 * ```
 */
export function combinedScore(similarities: MatchWeights, weights: MatchWeights): number {
  return (
    (weights.dtw * similarities.dtw +
      weights.cosine * similarities.cosine +
      weights.edit * similarities.edit) /
    (weights.dtw + weights.cosine + weights.edit)
  );
}

function checkWeights(w: unknown, fn: string): asserts w is MatchWeights {
  if (w === null || typeof w !== 'object') {
    throw new RunlakeError(`${fn}: weights must be an object { dtw, cosine, edit }`);
  }
  const o = w as Record<string, unknown>;
  for (const k of ['dtw', 'cosine', 'edit']) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RunlakeError(`${fn}: weights.${k} must be a finite number ≥ 0, got ${String(v)}`);
    }
  }
  if ((o.dtw as number) + (o.cosine as number) + (o.edit as number) <= 0) {
    throw new RunlakeError(`${fn}: weights must not all be zero`);
  }
}

// ---------------------------------------------------------------------------------------------
// Matching

/**
 * Relative slack on the two bounds of the combined search (the LB_Keogh bound is summed in a different
 * order from DTW, and the abandon threshold is obtained by inverting the score): far above rounding
 * (~1e-13 here) and far below any meaningful score difference, so exactness holds and pruning is intact.
 */
const SLACK = 1e-9;

interface Scored {
  index: number;
  distance: number;
  score: number;
}

/** Distance ascending, then pool index (= signatureId order). */
function byDistance(a: Scored, b: Scored): number {
  return a.distance - b.distance || a.index - b.index;
}

/** Score descending, then pool index (= signatureId order). */
function byScore(a: Scored, b: Scored): number {
  return b.score - a.score || a.index - b.index;
}

/**
 * {@link matchSignatures}, also returning how much DTW work the combined search did.
 *
 * @throws RunlakeError as {@link matchSignatures}.
 * @example
 * ```ts
 * const { rows, stats } = matchSignaturesWithStats(query, pool, { topK: 5 });
 * stats; // { boundPruned: 180, dtwAbandoned: 12, dtwFull: 8 } for instance
 * ```
 */
export function matchSignaturesWithStats(
  query: MatchCandidate,
  pool: ReadonlyArray<MatchCandidate> | PreparedSignaturePool,
  options: MatchOptions = {},
): MatchResult {
  const fn = 'matchSignatures';
  const prepared = Array.isArray(pool)
    ? prepareSignaturePool(pool as ReadonlyArray<MatchCandidate>)
    : (pool as PreparedSignaturePool);
  if (prepared === null || typeof prepared !== 'object' || prepared[PREPARED] !== true) {
    throw new RunlakeError(`${fn}: pool must be an array of candidates or a prepareSignaturePool() result`);
  }
  checkCandidate(query, 'query', fn);
  const L = query.series.length;
  const topK = options.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 1) {
    throw new RunlakeError(`${fn}: topK must be an integer ≥ 1, got ${String(topK)}`);
  }
  const band = options.band ?? Math.round(L / 10);
  if (!Number.isInteger(band) || band < 0) {
    throw new RunlakeError(`${fn}: band must be a non-negative integer, got ${String(band)}`);
  }
  const weights = options.weights ?? DEFAULT_MATCH_WEIGHTS;
  checkWeights(weights, fn);
  const exSig = options.excludeSignatureIds;
  const exRun = options.excludeRunIds;
  const active = prepared.candidates.filter(
    (c) => c.signatureId !== query.signatureId && !exSig?.has(c.signatureId) && !exRun?.has(c.runId),
  );
  const stats: CombinedSearchStats = { boundPruned: 0, dtwAbandoned: 0, dtwFull: 0 };
  if (active.length === 0) return { rows: [], stats };
  if (prepared.seriesLength !== L) {
    throw new RunlakeError(
      `${fn}: query.series has length ${L} but the pool's series have ${prepared.seriesLength}; resample onto the same points`,
    );
  }
  if (prepared.paaLength !== query.paa.length) {
    throw new RunlakeError(
      `${fn}: query.paa has length ${query.paa.length} but the pool's have ${prepared.paaLength}; use the same paaSegments`,
    );
  }

  const alignmentOf = (c: MatchCandidate): MatchAlignment => {
    const p = dtwPath(query.series, c.series, band);
    return { path_length: p.pathLength, band, max_deviation: p.maxDeviation, query_offset: p.queryOffset };
  };
  const row = (
    method: MatchRow['method'],
    s: Scored,
    rank: number,
    alignment: MatchAlignment | null,
  ): MatchRow => {
    const c = active[s.index] as MatchCandidate;
    return {
      querySignatureId: query.signatureId,
      candidateRunId: c.runId,
      candidateSignatureId: c.signatureId,
      method,
      distance: s.distance,
      score: s.score,
      rank,
      alignment,
    };
  };
  const rows: MatchRow[] = [];

  // dtw: the pruned exact search; `active` is in signatureId order, so its index tie-break is ours.
  const series: DtwSeries[] = active.map((c) => c.series);
  const dtwHits = dtwTopK(query.series, series, topK, band);
  dtwHits.forEach((h, i) => {
    const s: Scored = { index: h.index, distance: h.distance, score: dtwSimilarity(h.distance, L) };
    rows.push(row('dtw', s, i + 1, alignmentOf(active[h.index] as MatchCandidate)));
  });

  // cosine and edit: cheap (PAA length and token counts are small), so computed for every candidate.
  const sCos = new Float64Array(active.length);
  const sEdit = new Float64Array(active.length);
  const cos: Scored[] = [];
  const edit: Scored[] = [];
  active.forEach((c, index) => {
    const dc = cosineDistance(query.paa, c.paa);
    const de = editDistance(query.eventTokens, c.eventTokens);
    sCos[index] = cosineSimilarity(dc);
    sEdit[index] = editSimilarity(de, query.eventTokens.length, c.eventTokens.length);
    cos.push({ index, distance: dc, score: sCos[index] as number });
    edit.push({ index, distance: de, score: sEdit[index] as number });
  });
  cos.sort(byDistance);
  edit.sort(byDistance);
  cos.slice(0, topK).forEach((s, i) => {
    rows.push(row('cosine', s, i + 1, null));
  });
  edit.slice(0, topK).forEach((s, i) => {
    rows.push(row('edit', s, i + 1, null));
  });

  // combined: exact top-k with an upper bound per candidate (see matchSignatures for the argument).
  const env = keoghEnvelope(query.series, band);
  const ub = new Float64Array(active.length);
  active.forEach((c, index) => {
    const lb = lbKeogh(c.series, env) * (1 - SLACK);
    ub[index] = combinedScore(
      { dtw: dtwSimilarity(lb, L), cosine: sCos[index] as number, edit: sEdit[index] as number },
      weights,
    );
  });
  const order = active.map((_, i) => i);
  order.sort((a, b) => (ub[b] as number) - (ub[a] as number) || a - b);
  const wSum = weights.dtw + weights.cosine + weights.edit;
  const best: Scored[] = [];
  for (let o = 0; o < order.length; o++) {
    const index = order[o] as number;
    const kth = best.length === topK ? (best[topK - 1] as Scored) : null;
    if (kth !== null && (ub[index] as number) < kth.score) {
      stats.boundPruned += order.length - o;
      break;
    }
    // Early abandoning: the candidate needs s_dtw ≥ sNeed to reach the k-th score, i.e.
    // d ≤ √L·(1/sNeed − 1); both loosened by SLACK so rounding can never abandon a tie.
    let bestSoFar = Number.POSITIVE_INFINITY;
    if (kth !== null && weights.dtw > 0) {
      const sNeed =
        ((kth.score * wSum -
          weights.cosine * (sCos[index] as number) -
          weights.edit * (sEdit[index] as number)) /
          weights.dtw) *
          (1 - SLACK) -
        SLACK;
      if (sNeed > 0) bestSoFar = Math.max(0, Math.sqrt(L) * (1 / sNeed - 1) * (1 + SLACK) + SLACK);
    }
    const c = active[index] as MatchCandidate;
    const d = dtwDistance(query.series, c.series, band, bestSoFar);
    if (d === Number.POSITIVE_INFINITY) {
      stats.dtwAbandoned++;
      continue;
    }
    stats.dtwFull++;
    const score = combinedScore(
      { dtw: dtwSimilarity(d, L), cosine: sCos[index] as number, edit: sEdit[index] as number },
      weights,
    );
    const hit: Scored = { index, distance: 1 - score, score };
    if (kth !== null) {
      if (byScore(hit, kth) >= 0) continue;
      best.pop();
    }
    let pos = best.length;
    while (pos > 0 && byScore(hit, best[pos - 1] as Scored) < 0) pos--;
    best.splice(pos, 0, hit);
  }
  best.forEach((s, i) => {
    rows.push(row('combined', s, i + 1, alignmentOf(active[s.index] as MatchCandidate)));
  });
  return { rows, stats };
}

/**
 * Matches one signature against a pool and returns, per method (`dtw`, `cosine`, `edit`, `combined`, in
 * that order), the top-K rows ranked 1…K (fewer when the pool is smaller). Ties are broken by candidate
 * signatureId (code-unit order). The query's own signatureId is never matched; `excludeSignatureIds` and
 * `excludeRunIds` leave out more.
 *
 * - `dtw`: distance = banded DTW (band default round(L/10)) on the series, via the exact pruned
 *   {@link dtwTopK}; score = {@link dtwSimilarity}; alignment = {@link dtwPath} summary.
 * - `cosine`: distance = {@link cosineDistance} of the PAA vectors; score = {@link cosineSimilarity}.
 * - `edit`: distance = {@link editDistance} of the event tokens; score = {@link editSimilarity}.
 * - `combined`: score = {@link combinedScore} (weights default {@link DEFAULT_MATCH_WEIGHTS}); distance =
 *   1 − score; alignment as for `dtw`.
 *
 * Why the combined top-K is exact without the DTW of every candidate: LB_Keogh ≤ DTW and s_dtw is
 * decreasing, so s_dtw(LB_Keogh) bounds s_dtw from above and, the score being monotone, gives an upper
 * bound UB on each candidate's combined score (cosine and edit are computed exactly for all). Candidates
 * are visited in decreasing UB; once UB < the current K-th best score, no remaining candidate can enter
 * (or tie into) the top K, since the K-th best only rises. DTW of visited candidates is abandoned early
 * once it exceeds the distance that would be needed to reach the K-th score. Both bounds are loosened by
 * a relative 1e-9 against rounding; scores of survivors use the same arithmetic as brute force, so the
 * rows equal those of a brute-force combined ranking bitwise.
 *
 * @throws RunlakeError on a malformed query or candidate, duplicated signatureIds, series / PAA lengths
 *   that differ, `topK` not an integer ≥ 1, `band` not a non-negative integer, or bad weights.
 * @example
 * ```ts
 * const rows = matchSignatures(query, pool, { topK: 5, excludeRunIds: new Set([query.runId]) });
 * rows.filter((r) => r.method === 'combined')[0]?.candidateSignatureId; // the best match overall
 * ```
 */
export function matchSignatures(
  query: MatchCandidate,
  pool: ReadonlyArray<MatchCandidate> | PreparedSignaturePool,
  options: MatchOptions = {},
): MatchRow[] {
  return matchSignaturesWithStats(query, pool, options).rows;
}

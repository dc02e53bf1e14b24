/**
 * `bifurcation`: members of a group (the seeds of one grid, or sample groups) whose trajectories agree
 * within seed-to-seed noise up to a step and then diverge.
 */
import { medianOf } from '../pelt.js';
import {
  checkParam,
  checkStringParam,
  type DescriptorTrajectory,
  type DetectedEvent,
  logistic,
} from './types.js';

/** Parameters of {@link detectBifurcations} (defaults in {@link BIFURCATION_DEFAULTS}). */
export interface BifurcationParams {
  /** Descriptor compared across members. Default `effective_rank`. */
  descriptor: string;
  /** A member diverges when |member − group median| > noiseK·σ_seed. Default 4. */
  noiseK: number;
  /** Checkpoints the divergence must last. Default 2. */
  minDuration: number;
  /** Checkpoints the member must have agreed before the divergence. Default 3. */
  minAgree: number;
  /** Onset walks back over checkpoints already > onsetK·σ_seed away. Default 2. */
  onsetK: number;
  /** Floor on σ_seed as a fraction of the median |value| (identical seeds). Default 1e-3. */
  noiseFloor: number;
  /** referenceRunId when no member stayed with the group. Default `group_median`. */
  groupLabel: string;
}

/**
 * Defaults of the `bifurcation/v1` detector.
 *
 * @example
 * ```ts
 * BIFURCATION_DEFAULTS.noiseK; // 4
 * ```
 */
export const BIFURCATION_DEFAULTS: Readonly<BifurcationParams> = Object.freeze({
  descriptor: 'effective_rank',
  noiseK: 4,
  minDuration: 2,
  minAgree: 3,
  onsetK: 2,
  noiseFloor: 1e-3,
  groupLabel: 'group_median',
});

/** The group's values on the union of its steps (NaN where a member has no finite value). */
function alignMembers(
  members: ReadonlyArray<{ runId: string; trajectory: DescriptorTrajectory }>,
  descriptor: string,
): { steps: number[]; values: Float64Array[] } {
  const stepSet = new Set<number>();
  for (const m of members) {
    for (let i = 0; i < m.trajectory.steps.length; i++) {
      const s = m.trajectory.steps[i];
      if (typeof s === 'number' && Number.isFinite(s)) stepSet.add(s);
    }
  }
  const steps = [...stepSet].sort((a, b) => a - b);
  const pos = new Map(steps.map((s, i) => [s, i]));
  const values = members.map((m) => {
    const row = new Float64Array(steps.length).fill(Number.NaN);
    const raw = m.trajectory.descriptors[descriptor];
    const n = Math.min(raw?.length ?? 0, m.trajectory.steps.length);
    for (let i = 0; i < n; i++) {
      const v = raw?.[i];
      const p = pos.get(m.trajectory.steps[i] as number);
      if (p !== undefined && typeof v === 'number' && Number.isFinite(v)) row[p] = v;
    }
    return row;
  });
  return { steps, values };
}

/**
 * Detects bifurcations in a group. At each step the group median (over members with a value) is
 * taken, and each member's gap g(t) = member − median. Seeds differ by roughly constant offsets,
 * which are agreement, so a member's deviation is |g(t) − its offset|: for the noise, the offset is
 * the median of g; for detection, the median of g over the member's agreeing checkpoints so far
 * (the first minAgree checkpoints seed it). σ_seed = 1.4826·median over all (member, step) of
 * |g − offset| (pooled MAD, robust to one diverging member). A member diverges at the first step
 * of a run of ≥ minDuration checkpoints with deviation > noiseK·σ_seed, after ≥ minAgree agreeing
 * checkpoints; the onset walks back over
 * checkpoints already beyond onsetK·σ_seed while the deviation keeps shrinking going back (the
 * departure ramp). One event per diverging member, for its first departure (a bifurcation is a
 * branching point; later excursions of a member already on another branch are not new ones):
 * stepEnd = last step of the run; magnitude = median |deviation| over the run (descriptor units);
 * confidence = logistic(magnitude/σ_seed − noiseK); referenceRunId = the non-diverging member closest
 * over the run (else `groupLabel`). Steps where fewer than 3 members have a value are skipped.
 * With exactly 2 members the median cannot tell who left, so σ_seed comes from the first third of
 * the common steps (assumed to agree), one event is emitted for the second member with the first as
 * reference, and its confidence is halved. Fewer than 2 members: no events.
 *
 * @example
 * ```ts
 * detectBifurcations(seeds.map((s) => ({ runId: s.runId, trajectory: s.trajectory })));
 * ```
 */
export function detectBifurcations(
  members: ReadonlyArray<{ runId: string; trajectory: DescriptorTrajectory }>,
  params?: Partial<BifurcationParams>,
): Array<DetectedEvent & { runId: string }> {
  const p: BifurcationParams = { ...BIFURCATION_DEFAULTS, ...(params ?? {}) };
  const who = 'bifurcation';
  checkStringParam(who, 'descriptor', p.descriptor);
  checkParam(who, 'noiseK', p.noiseK, { min: 0, exclusiveMin: true });
  checkParam(who, 'minDuration', p.minDuration, { integer: true, min: 1 });
  checkParam(who, 'minAgree', p.minAgree, { integer: true, min: 0 });
  checkParam(who, 'onsetK', p.onsetK, { min: 0 });
  checkParam(who, 'noiseFloor', p.noiseFloor, { min: 0 });
  checkStringParam(who, 'groupLabel', p.groupLabel);
  if (members.length < 2) return [];
  const { steps, values } = alignMembers(members, p.descriptor);
  const pair = members.length === 2;
  const minPresent = pair ? 2 : 3;
  const T = steps.length;
  const _M = members.length;
  const med = new Float64Array(T).fill(Number.NaN);
  const present: number[] = [];
  const buf: number[] = [];
  for (let t = 0; t < T; t++) {
    buf.length = 0;
    for (const row of values) if (!Number.isNaN(row[t])) buf.push(row[t] as number);
    if (buf.length >= minPresent) {
      med[t] = medianOf(buf);
      present.push(t);
    }
  }
  if (present.length === 0) return [];
  // d_m(t) = member − median, on the steps where both exist.
  const gaps = values.map((row) => {
    const ts = present.filter((t) => !Number.isNaN(row[t]));
    return { ts, d: ts.map((t) => (row[t] as number) - (med[t] as number)) };
  });
  // Seeds differ by a roughly constant offset (a seed's effective rank can sit 1 below the others
  // all run long); that is agreement, not divergence. So deviations are measured from each
  // member's own offset: for σ_seed, its median over the noise steps; for detection, the median of
  // its agreeing points so far.
  const noiseStepSet = new Set(pair ? present.slice(0, Math.max(1, Math.ceil(present.length / 3))) : present);
  const earlySteps = new Set(present.slice(0, Math.max(1, Math.ceil(present.length / 3))));
  const devs: number[] = [];
  // Each member's early offset: the median gap over the first third of the steps.
  const earlyOffsets = gaps.map(({ ts, d }) => {
    const early = d.filter((_, i) => earlySteps.has(ts[i] as number));
    return early.length > 0 ? medianOf(early) : 0;
  });
  for (const [m, { ts, d }] of gaps.entries()) {
    const inNoise = d.filter((_, i) => noiseStepSet.has(ts[i] as number));
    const offset = pair ? (earlyOffsets[m] as number) : medianOf(inNoise.length > 0 ? inNoise : [0]);
    for (const v of inNoise) devs.push(Math.abs(v - offset));
  }
  const levels = [...noiseStepSet].map((t) => Math.abs(med[t] as number));
  const sigma = Math.max(1.4826 * medianOf(devs), p.noiseFloor * medianOf(levels), Number.MIN_VALUE);
  // The seed-to-seed spread at each step: how far members have moved from their early offsets,
  // across members (robust to the one that leaves). Phase changes move every member's gap a
  // little (offsets scale with the level); a divergence moves one member's gap a lot.
  const spreadAt = new Float64Array(T);
  if (!pair) {
    for (const t of present) {
      const moved: number[] = [];
      gaps.forEach(({ ts, d }, m) => {
        const i = ts.indexOf(t);
        if (i >= 0) moved.push(Math.abs((d[i] as number) - (earlyOffsets[m] as number)));
      });
      spreadAt[t] = 1.4826 * medianOf(moved);
    }
  }
  const limitAt = (t: number) => p.noiseK * Math.max(sigma, spreadAt[t] as number);
  const out: Array<DetectedEvent & { runId: string }> = [];
  const targets = pair ? [1] : members.map((_, i) => i);
  for (const m of targets) {
    const { ts, d } = gaps[m] as { ts: number[]; d: number[] };
    // The first minAgree points (at least one) are the member's baseline; it grows with every
    // later agreeing point.
    const warmup = Math.min(ts.length, Math.max(1, p.minAgree));
    const prior = d.slice(0, warmup);
    let agreed = warmup;
    let k = warmup;
    while (k < ts.length) {
      const base = medianOf(prior);
      const dev = (i: number) => Math.abs((d[i] as number) - base);
      // Beyond the limit from the running baseline and from the early offset alike: a noisy
      // baseline alone does not make a divergence.
      const early = earlyOffsets[m] as number;
      const beyond = (i: number) => {
        const limitHere = limitAt(ts[i] as number);
        return dev(i) > limitHere && Math.abs((d[i] as number) - early) > limitHere;
      };
      if (!beyond(k)) {
        prior.push(d[k] as number);
        agreed++;
        k++;
        continue;
      }
      let j = k;
      while (j < ts.length && beyond(j)) j++;
      if (j - k >= p.minDuration && agreed >= p.minAgree) {
        let onset = k;
        // Walk back over the departure ramp only: checkpoints beyond onsetK·σ_seed whose deviation
        // keeps shrinking going back.
        while (onset - 1 >= 0 && dev(onset - 1) > p.onsetK * sigma && dev(onset - 1) <= dev(onset)) onset--;
        const window = ts.slice(onset, j);
        const magnitude = medianOf(ts.slice(k, j).map((_, i) => dev(k + i)));
        out.push({
          runId: members[m]?.runId as string,
          eventType: 'bifurcation',
          detector: 'bifurcation/v1',
          step: steps[ts[onset] as number] as number,
          stepEnd: steps[ts[j - 1] as number] as number,
          descriptor: p.descriptor,
          magnitude,
          confidence: logistic(magnitude / sigma - p.noiseK) * (pair ? 0.5 : 1),
          referenceRunId: pair
            ? (members[0]?.runId ?? null)
            : closestStayer(values, gaps, m, window, limitAt, p, members),
          params: { ...p, seedNoise: sigma },
        });
      }
      // A blip shorter than minDuration is noise and leaves the agreement so far standing. A
      // divergence is a branching point: the member is on another branch from then on, so it gets
      // one event, for its first departure.
      if (j - k >= p.minDuration) {
        if (agreed >= p.minAgree) break;
        agreed = 0;
      }
      k = j;
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * The member that stayed within the limit of its own offset over `window` (its offset: the median
 * of member − median before the window) and is closest to member m there.
 */
function closestStayer(
  values: Float64Array[],
  gaps: ReadonlyArray<{ ts: number[]; d: number[] }>,
  m: number,
  window: number[],
  limitAt: (t: number) => number,
  p: BifurcationParams,
  members: ReadonlyArray<{ runId: string }>,
): string {
  let best = Number.POSITIVE_INFINITY;
  let bestId: string | null = null;
  const own = values[m] as Float64Array;
  const from = window[0] ?? 0;
  values.forEach((row, o) => {
    if (o === m) return;
    const { ts, d } = gaps[o] as { ts: number[]; d: number[] };
    const before = d.filter((_, i) => (ts[i] as number) < from);
    const offset = before.length > 0 ? medianOf(before) : 0;
    const at = new Map(ts.map((t, i) => [t, d[i] as number]));
    let sum = 0;
    let count = 0;
    for (const t of window) {
      const gap = at.get(t);
      if (gap === undefined) continue;
      if (Math.abs(gap - offset) > limitAt(t)) return;
      sum += Math.abs((own[t] as number) - (row[t] as number));
      count++;
    }
    if (count > 0 && sum / count < best) {
      best = sum / count;
      bestId = members[o]?.runId ?? null;
    }
  });
  return bestId ?? p.groupLabel;
}

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
 * taken; σ_seed = 1.4826·median over all (member, step) of |member − median| (pooled MAD, robust to
 * one diverging member). A member diverges at the first step of a run of ≥ minDuration checkpoints
 * with |deviation| > noiseK·σ_seed, after ≥ minAgree agreeing checkpoints; the onset walks back over
 * checkpoints already beyond onsetK·σ_seed while the deviation keeps shrinking going back (the
 * departure ramp). One event per divergence, for the diverging member:
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
  const devs: number[] = [];
  const levels: number[] = [];
  const noiseSteps = pair ? present.slice(0, Math.max(1, Math.ceil(present.length / 3))) : present;
  for (const t of noiseSteps) {
    levels.push(Math.abs(med[t] as number));
    for (const row of values)
      if (!Number.isNaN(row[t])) devs.push(Math.abs((row[t] as number) - (med[t] as number)));
  }
  const sigma = Math.max(1.4826 * medianOf(devs), p.noiseFloor * medianOf(levels), Number.MIN_VALUE);
  const limit = p.noiseK * sigma;
  const out: Array<DetectedEvent & { runId: string }> = [];
  const targets = pair ? [1] : members.map((_, i) => i);
  for (const m of targets) {
    const row = values[m] as Float64Array;
    // Walk the steps where both the member and the median are defined.
    const ts = present.filter((t) => !Number.isNaN(row[t]));
    const dev = ts.map((t) => Math.abs((row[t] as number) - (med[t] as number)));
    let agreed = 0;
    let k = 0;
    while (k < ts.length) {
      if ((dev[k] as number) <= limit) {
        agreed++;
        k++;
        continue;
      }
      let j = k;
      while (j < ts.length && (dev[j] as number) > limit) j++;
      if (j - k >= p.minDuration && agreed >= p.minAgree) {
        let onset = k;
        // Walk back over the departure ramp only: checkpoints beyond onsetK·σ_seed whose deviation
        // keeps shrinking going back. A member that sat a little off the median for a while (seed
        // spread grows in rich phases) has no ramp, and its onset stays at the real departure.
        while (
          onset - 1 >= 0 &&
          (dev[onset - 1] as number) > p.onsetK * sigma &&
          (dev[onset - 1] as number) <= (dev[onset] as number)
        )
          onset--;
        const window = ts.slice(onset, j);
        const magnitude = medianOf(dev.slice(k, j));
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
            : closestStayer(values, m, window, limit, med, p, members),
          params: { ...p, seedNoise: sigma },
        });
      }
      agreed = 0;
      k = j;
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The member that stayed within the limit over `window` and is closest to member m there. */
function closestStayer(
  values: Float64Array[],
  m: number,
  window: number[],
  limit: number,
  med: Float64Array,
  p: BifurcationParams,
  members: ReadonlyArray<{ runId: string }>,
): string {
  let best = Number.POSITIVE_INFINITY;
  let bestId: string | null = null;
  const own = values[m] as Float64Array;
  values.forEach((row, o) => {
    if (o === m) return;
    let sum = 0;
    let count = 0;
    for (const t of window) {
      const v = row[t] as number;
      if (Number.isNaN(v)) continue;
      if (Math.abs(v - (med[t] as number)) > limit) return;
      sum += Math.abs((own[t] as number) - v);
      count++;
    }
    if (count > 0 && sum / count < best) {
      best = sum / count;
      bestId = members[o]?.runId ?? null;
    }
  });
  return bestId ?? p.groupLabel;
}

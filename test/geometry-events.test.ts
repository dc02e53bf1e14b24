import { describe, expect, it } from 'vitest';
import {
  type DescriptorTrajectory,
  type DetectedEvent,
  detectBifurcations,
  detectTrajectoryEvents,
  listDetectors,
  mulberry32,
  optimalPartitioning,
  pelt,
  registerDetector,
} from '../src/geometry/index.js';
import { RunlakeError } from '../src/lake/index.js';
import { EVENT_TYPE } from '../src/schema/enums.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
const rng = mulberry32;

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
}

const uniform = (r: () => number, a: number, b: number) => a + (b - a) * r();
const int = (r: () => number, a: number, b: number) => Math.floor(uniform(r, a, b + 1));

const STEP = 100;

interface Truth {
  eventType: string;
  step: number;
  stepEnd?: number;
  runId?: string;
}

/** Holes of missing values (null or NaN) in a share of the checkpoints. */
function withHoles(r: () => number, values: number[], share: number): Array<number | null> {
  return values.map((v) => (r() < share ? (r() < 0.5 ? null : Number.NaN) : v));
}

/** Level + slow trend + noise, with a planted collapse and (usually) a reexpansion after it. */
function collapseCase(seed: number, planted: boolean): { trajectory: DescriptorTrajectory; truth: Truth[] } {
  const r = rng(seed);
  const n = int(r, 60, 120);
  const level = uniform(r, 20, 200);
  const trend = uniform(r, -0.001, 0.001);
  const sigma = uniform(r, 0.005, 0.03) * level;
  const c = int(r, 15, n - 40);
  const d = int(r, 1, 3);
  const drop = uniform(r, 0.3, 0.7) * level;
  const reexpand = r() < 0.6;
  const rise = c + d + int(r, 5, 12);
  const e = int(r, 1, 3);
  const gain = uniform(r, 0.7, 1.1) * drop;
  const values: number[] = [];
  for (let i = 0; i < n; i++) {
    let v = level * (1 + trend * i);
    if (planted && i >= c) v -= drop * Math.min(1, (i - c + 1) / d);
    if (planted && reexpand && i >= rise) v += gain * Math.min(1, (i - rise + 1) / e);
    values.push(v + sigma * gauss(r));
  }
  const truth: Truth[] = [];
  if (planted) {
    truth.push({ eventType: 'rank_collapse', step: c * STEP });
    if (reexpand) truth.push({ eventType: 'reexpansion', step: rise * STEP });
  }
  const steps = values.map((_, i) => i * STEP);
  return { trajectory: { steps, descriptors: { effective_rank: withHoles(r, values, 0.04) } }, truth };
}

/** Piecewise-constant (l2) or piecewise-linear with level jumps (linear) plus noise. */
function phaseCase(
  seed: number,
  cost: 'l2' | 'linear',
): { trajectory: DescriptorTrajectory; truth: Truth[] } {
  const r = rng(seed);
  const sigma = uniform(r, 0.2, 2);
  const k = int(r, 1, 3);
  const lengths = Array.from({ length: k + 1 }, () => int(r, 12, 30));
  const values: number[] = [];
  const truth: Truth[] = [];
  let level = uniform(r, 20, 60);
  for (let s = 0; s < lengths.length; s++) {
    if (s > 0) {
      truth.push({ eventType: 'phase_shift', step: values.length * STEP });
      level += (r() < 0.5 ? -1 : 1) * uniform(r, 4, 10) * sigma;
    }
    const slope = cost === 'linear' ? uniform(r, -0.3, 0.3) * sigma : 0;
    for (let i = 0; i < (lengths[s] as number); i++) {
      values.push(level + slope * i + sigma * gauss(r));
    }
    level += slope * ((lengths[s] as number) - 1);
  }
  const steps = values.map((_, i) => i * STEP);
  return { trajectory: { steps, descriptors: { effective_rank: withHoles(r, values, 0.03) } }, truth };
}

/** Trend → flat → trend → flat, continuous; optionally with a cka_drift series. */
function plateauCase(seed: number, withDrift: boolean): { trajectory: DescriptorTrajectory; truth: Truth[] } {
  const r = rng(seed);
  const sigma = uniform(r, 0.2, 1.5);
  const parts = [
    { flat: false, len: int(r, 10, 25) },
    { flat: true, len: int(r, 10, 25) },
    { flat: false, len: int(r, 10, 25) },
    { flat: true, len: int(r, 10, 25) },
  ];
  const clean: number[] = [];
  const truth: Truth[] = [];
  let v = uniform(r, 20, 60);
  for (const part of parts) {
    const slope = part.flat ? 0 : (r() < 0.5 ? -1 : 1) * uniform(r, 1, 3) * sigma;
    const start = clean.length;
    for (let i = 0; i < part.len; i++) {
      if (i > 0 || start > 0) v += slope;
      clean.push(v);
    }
    if (part.flat) {
      // The last trend point is already at the plateau level: the plateau starts there.
      truth.push({
        eventType: 'stability_plateau',
        step: (start - 1) * STEP,
        stepEnd: (clean.length - 1) * STEP,
      });
    }
  }
  const values = clean.map((x) => x + sigma * gauss(r));
  const steps = values.map((_, i) => i * STEP);
  const drift = withDrift
    ? clean.map((x, i) =>
        i === 0
          ? null
          : 0.01 * (1 + 0.2 * gauss(r)) + (0.02 * Math.abs(x - (clean[i - 1] as number))) / sigma,
      )
    : undefined;
  return {
    trajectory: { steps, descriptors: { effective_rank: values }, ...(drift && { drift }) },
    truth,
  };
}

/** A group of seeds around one trajectory; in planted groups one seed leaves at a known step. */
function bifurcationCase(seed: number, planted: boolean) {
  const r = rng(seed);
  const n = int(r, 50, 110);
  const m = int(r, 4, 6);
  const level = uniform(r, 20, 200);
  const sigma = uniform(r, 0.005, 0.03) * level;
  const shape = Array.from({ length: n }, (_, i) => level * (1 - 0.3 * Math.exp(-i / 20) + 0.001 * i));
  const leaver = int(r, 0, m - 1);
  const c = int(r, 15, n - 15);
  const ramp = int(r, 1, 3);
  const size = (r() < 0.5 ? -1 : 1) * uniform(r, 8, 20) * sigma;
  const members = Array.from({ length: m }, (_, k) => {
    const offset = 0.3 * sigma * gauss(r);
    const values = shape.map((x, i) => {
      let v = x + offset + sigma * gauss(r);
      if (planted && k === leaver && i >= c) v += size * Math.min(1, (i - c + 1) / ramp);
      return v;
    });
    const steps = values.map((_, i) => i * STEP);
    return {
      runId: `seed${k}`,
      trajectory: { steps, descriptors: { effective_rank: withHoles(r, values, 0.03) } },
    };
  });
  const truth: Truth[] = planted
    ? [{ eventType: 'bifurcation', step: c * STEP, runId: `seed${leaver}` }]
    : [];
  return { members, truth };
}

interface Score {
  detected: number;
  truths: number;
  matched: number;
}

/** Greedy one-to-one matching within ±1 checkpoint (onset, and stepEnd when the truth has one). */
function score(events: Array<DetectedEvent & { runId?: string }>, truth: Truth[], into: Score): void {
  const used = new Set<number>();
  into.detected += events.length;
  into.truths += truth.length;
  for (const t of truth) {
    const k = events.findIndex(
      (e, i) =>
        !used.has(i) &&
        e.eventType === t.eventType &&
        (t.runId === undefined || e.runId === t.runId) &&
        Math.abs(e.step - t.step) <= STEP &&
        (t.stepEnd === undefined || Math.abs((e.stepEnd ?? Number.NaN) - t.stepEnd) <= STEP),
    );
    if (k >= 0) {
      used.add(k);
      into.matched++;
    }
  }
}

const newScore = (): Score => ({ detected: 0, truths: 0, matched: 0 });
const precision = (s: Score) => (s.detected === 0 ? 1 : s.matched / s.detected);
const recall = (s: Score) => (s.truths === 0 ? 1 : s.matched / s.truths);
const TRIALS = 120;

function report(name: string, s: Score): void {
  console.log(
    `${name}: precision ${precision(s).toFixed(3)} recall ${recall(s).toFixed(3)} (${s.matched}/${s.detected} detected, ${s.truths} planted)`,
  );
}

describe('event detectors on synthetic trajectories with planted events', () => {
  it('rank_collapse and reexpansion: precision and recall ≥ 0.9 within ±1 checkpoint', () => {
    const collapse = newScore();
    const reexp = newScore();
    for (let k = 0; k < TRIALS; k++) {
      const { trajectory, truth } = collapseCase(1000 + k, true);
      const events = detectTrajectoryEvents(trajectory, { detectors: ['rank_collapse', 'reexpansion'] });
      for (const e of events) {
        expect(e.confidence).toBeGreaterThanOrEqual(0);
        expect(e.confidence).toBeLessThanOrEqual(1);
        expect(e.stepEnd === null || e.stepEnd >= e.step).toBe(true);
      }
      score(
        events.filter((e) => e.eventType === 'rank_collapse'),
        truth.filter((t) => t.eventType === 'rank_collapse'),
        collapse,
      );
      score(
        events.filter((e) => e.eventType === 'reexpansion'),
        truth.filter((t) => t.eventType === 'reexpansion'),
        reexp,
      );
    }
    report('rank_collapse', collapse);
    report('reexpansion', reexp);
    expect(precision(collapse)).toBeGreaterThanOrEqual(0.9);
    expect(recall(collapse)).toBeGreaterThanOrEqual(0.9);
    expect(precision(reexp)).toBeGreaterThanOrEqual(0.9);
    expect(recall(reexp)).toBeGreaterThanOrEqual(0.9);
  });

  it('noise-only trajectories give no collapse or reexpansion', () => {
    let count = 0;
    for (let k = 0; k < TRIALS; k++) {
      const { trajectory } = collapseCase(5000 + k, false);
      count += detectTrajectoryEvents(trajectory, { detectors: ['rank_collapse', 'reexpansion'] }).length;
    }
    expect(count).toBe(0);
  });

  for (const cost of ['l2', 'linear'] as const) {
    it(`phase_shift (${cost} cost): precision and recall ≥ 0.9 within ±1 checkpoint`, () => {
      const s = newScore();
      for (let k = 0; k < TRIALS; k++) {
        const { trajectory, truth } = phaseCase(2000 + k, cost);
        const events = detectTrajectoryEvents(trajectory, {
          detectors: ['phase_shift'],
          params: { phase_shift: { cost } },
        });
        for (const e of events) expect(e.confidence).toBeGreaterThanOrEqual(0.5);
        score(events, truth, s);
      }
      report(`phase_shift/${cost}`, s);
      expect(precision(s)).toBeGreaterThanOrEqual(0.9);
      expect(recall(s)).toBeGreaterThanOrEqual(0.9);
    });
  }

  for (const withDrift of [false, true]) {
    it(`stability_plateau (${withDrift ? 'cka_drift' : 'descriptor'}): precision and recall ≥ 0.9, both bounds ±1`, () => {
      const s = newScore();
      for (let k = 0; k < TRIALS; k++) {
        const { trajectory, truth } = plateauCase(3000 + k, withDrift);
        const events = detectTrajectoryEvents(trajectory, { detectors: ['stability_plateau'] });
        for (const e of events) expect(e.descriptor).toBe(withDrift ? null : 'effective_rank');
        score(events, truth, s);
      }
      report(`stability_plateau/${withDrift ? 'drift' : 'descriptor'}`, s);
      expect(precision(s)).toBeGreaterThanOrEqual(0.9);
      expect(recall(s)).toBeGreaterThanOrEqual(0.9);
    });
  }

  it('bifurcation: the diverging seed is found (precision and recall ≥ 0.9), noise-only groups give none', () => {
    const s = newScore();
    let falseAlarms = 0;
    for (let k = 0; k < TRIALS; k++) {
      const planted = bifurcationCase(4000 + k, true);
      const events = detectBifurcations(planted.members);
      for (const e of events) {
        expect(e.referenceRunId).not.toBe(e.runId);
        expect(e.referenceRunId).toMatch(/^seed\d$/);
      }
      score(events, planted.truth, s);
      falseAlarms += detectBifurcations(bifurcationCase(6000 + k, false).members).length;
    }
    report('bifurcation', s);
    expect(precision(s)).toBeGreaterThanOrEqual(0.9);
    expect(recall(s)).toBeGreaterThanOrEqual(0.9);
    expect(falseAlarms).toBe(0);
  });

  it('bifurcation with two members reports one halved-confidence event; one member reports none', () => {
    const { members } = bifurcationCase(4242, true);
    const a = members[0];
    const b = { ...members[1], runId: 'other' } as typeof a;
    if (!a || !b) throw new Error('fixture');
    const leaving = {
      runId: 'b',
      trajectory: {
        steps: a.trajectory.steps,
        descriptors: {
          effective_rank: Array.from(
            a.trajectory.descriptors.effective_rank as ArrayLike<number | null>,
            (v, i) => (v === null ? null : v * (i >= 70 ? 2 : 1) + 0.01 * Math.sin(i)),
          ),
        },
      },
    };
    const events = detectBifurcations([a, leaving]);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[0]?.runId).toBe('b');
    expect(events[0]?.referenceRunId).toBe(a.runId);
    expect(events[0]?.confidence).toBeLessThanOrEqual(0.5);
    expect(detectBifurcations([a])).toEqual([]);
  });
});

describe('pelt', () => {
  it('matches brute-force optimal partitioning on random small series, both costs', () => {
    const r = rng(7);
    let withChanges = 0;
    for (let trial = 0; trial < 400; trial++) {
      const n = int(r, 2, 40);
      const series: number[] = [];
      let level = 0;
      let slope = 0;
      for (let i = 0; i < n; i++) {
        if (r() < 0.1) level += gauss(r) * 4;
        if (r() < 0.1) slope = gauss(r);
        series.push(level + slope * i + gauss(r));
      }
      const cost: 'l2' | 'linear' = trial % 2 === 0 ? 'l2' : 'linear';
      const minSegment = int(r, 1, 4);
      const options = r() < 0.5 ? { cost, minSegment } : { cost, minSegment, penalty: uniform(r, 0, 6) };
      const fast = pelt(series, options);
      expect(fast).toEqual(optimalPartitioning(series, options));
      if (fast.length > 0) withChanges++;
      for (const cp of fast) {
        expect(cp).toBeGreaterThanOrEqual(minSegment);
        expect(cp).toBeLessThanOrEqual(n - minSegment);
      }
    }
    expect(withChanges).toBeGreaterThan(50);
  });

  it('finds a clean mean shift and a slope change', () => {
    const r = rng(11);
    const step = Array.from({ length: 60 }, (_, i) => (i < 25 ? 0 : 5) + 0.3 * gauss(r));
    expect(pelt(step, { cost: 'l2' })).toEqual([25]);
    const kink = Array.from({ length: 60 }, (_, i) => (i < 30 ? i : 30 - 2 * (i - 30)) + 0.2 * gauss(r));
    const cps = pelt(kink, { cost: 'linear' });
    expect(cps.length).toBe(1);
    expect(Math.abs((cps[0] as number) - 30)).toBeLessThanOrEqual(1);
  });

  it('is fast on long series (O(n) average)', () => {
    const r = rng(3);
    const series = Array.from({ length: 20_000 }, (_, i) => Math.floor(i / 200) * 3 + gauss(r));
    const t0 = performance.now();
    const cps = pelt(series, { cost: 'l2' });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(cps.length).toBeGreaterThan(90);
  });

  it('rejects bad options with a RunlakeError naming them', () => {
    expect(() => pelt([1, 2, 3], { cost: 'l2', minSegment: 0 })).toThrow(/minSegment/);
    expect(() => pelt([1, 2, 3], { cost: 'l2', penalty: -1 })).toThrow(/penalty/);
    expect(() => pelt([1, Number.NaN, 3], { cost: 'l2' })).toThrow(RunlakeError);
    expect(() => pelt([1, 2, 3], { cost: 'cubic' as 'l2' })).toThrow(/cost/);
  });
});

describe('detector registry and parameters', () => {
  it('lists the built-in detectors', () => {
    const names = listDetectors().map((d) => d.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'rank_collapse/v1',
        'reexpansion/v1',
        'phase_shift/v1',
        'stability_plateau/v1',
      ]),
    );
  });

  it('registers a custom detector, makes its event type valid, and rejects a duplicate name', () => {
    expect(EVENT_TYPE.has('test_spike')).toBe(false);
    registerDetector({
      eventType: 'test_spike',
      name: 'test_spike/v1',
      description: 'a value above a fixed limit',
      defaults: { limit: 100 },
      detect: (t, p: { limit: number }) => {
        const v = t.descriptors.effective_rank;
        const out: DetectedEvent[] = [];
        for (let i = 0; i < (v?.length ?? 0); i++) {
          if ((v?.[i] ?? 0) > p.limit) {
            out.push({
              eventType: 'test_spike',
              detector: 'test_spike/v1',
              step: t.steps[i] as number,
              stepEnd: null,
              descriptor: 'effective_rank',
              magnitude: (v?.[i] ?? 0) - p.limit,
              confidence: 1,
              params: p,
            });
          }
        }
        return out;
      },
    });
    expect(EVENT_TYPE.has('test_spike')).toBe(true);
    const trajectory = { steps: [0, 1, 2], descriptors: { effective_rank: [1, 5, 2] } };
    expect(
      detectTrajectoryEvents(trajectory, {
        detectors: ['test_spike'],
        params: { test_spike: { limit: 3 } },
      }).map((e) => [e.step, e.magnitude]),
    ).toEqual([[1, 2]]);
    expect(() =>
      registerDetector({
        eventType: 'test_spike',
        name: 'test_spike/v1',
        description: '',
        defaults: {},
        detect: () => [],
      }),
    ).toThrow(/already registered/);
    expect(() => detectTrajectoryEvents(trajectory, { detectors: ['nope'] })).toThrow(RunlakeError);
  });

  it('rejects bad parameters with a RunlakeError naming the parameter', () => {
    const { trajectory } = collapseCase(1, true);
    const bad: Array<[string, Record<string, unknown>, RegExp]> = [
      ['rank_collapse', { window: -3 }, /rank_collapse\.window/],
      ['rank_collapse', { minDrop: 2 }, /rank_collapse\.minDrop/],
      ['reexpansion', { recoverFraction: 0 }, /reexpansion\.recoverFraction/],
      ['phase_shift', { minSegment: 0 }, /phase_shift\.minSegment/],
      ['phase_shift', { cost: 'quadratic' }, /phase_shift\.cost/],
      ['stability_plateau', { minLength: 1.5 }, /stability_plateau\.minLength/],
    ];
    for (const [detector, params, message] of bad) {
      expect(() =>
        detectTrajectoryEvents(trajectory, { detectors: [detector], params: { [detector]: params } }),
      ).toThrow(RunlakeError);
      expect(() =>
        detectTrajectoryEvents(trajectory, { detectors: [detector], params: { [detector]: params } }),
      ).toThrow(message);
    }
    expect(() => detectBifurcations([], { minDuration: -1 })).toThrow(/bifurcation\.minDuration/);
  });

  it('ignores missing points and short or empty trajectories', () => {
    const empty = { steps: [], descriptors: {} };
    expect(detectTrajectoryEvents(empty)).toEqual([]);
    const allNull = { steps: [0, 1, 2, 3], descriptors: { effective_rank: [null, Number.NaN, null, null] } };
    expect(detectTrajectoryEvents(allNull)).toEqual([]);
  });

  it('is fast enough for thousands of trajectories', () => {
    const cases = Array.from({ length: 300 }, (_, k) => collapseCase(9000 + k, true).trajectory);
    const t0 = performance.now();
    for (const t of cases) detectTrajectoryEvents(t);
    const perTrajectory = (performance.now() - t0) / cases.length;
    console.log(`detectTrajectoryEvents: ${perTrajectory.toFixed(3)} ms per ~100-checkpoint trajectory`);
    expect(perTrajectory).toBeLessThan(5);
  });
});

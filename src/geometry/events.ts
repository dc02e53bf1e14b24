/**
 * Event detectors over geometry trajectories: the registry, and the per-trajectory runner. The
 * built-in detectors (`rank_collapse/v1`, `reexpansion/v1`, `phase_shift/v1`,
 * `stability_plateau/v1`) register themselves when this module loads; `bifurcation/v1` compares a
 * group of trajectories and runs through {@link detectBifurcations}. Rules, defaults and confidence
 * formulas are documented in docs/geometry-events.md and on each detector.
 */
import { RunlakeError } from '../lake/index.js';
import { EVENT_TYPE, registerEventType } from '../schema/enums.js';
import { PHASE_SHIFT_DETECTOR } from './detectors/phase-shift.js';
import { RANK_COLLAPSE_DETECTOR, REEXPANSION_DETECTOR } from './detectors/rank-collapse.js';
import { STABILITY_PLATEAU_DETECTOR } from './detectors/stability-plateau.js';
import type { DescriptorTrajectory, DetectedEvent, EventDetector } from './detectors/types.js';

export * from './detectors/bifurcation.js';
export * from './detectors/phase-shift.js';
export * from './detectors/rank-collapse.js';
export * from './detectors/stability-plateau.js';
export type { DescriptorTrajectory, DetectedEvent, EventDetector } from './detectors/types.js';

// biome-ignore lint/suspicious/noExplicitAny: detectors differ in their parameter types
const registry = new Map<string, EventDetector<any>>();

/**
 * Registers a per-trajectory detector. Its event type is registered in the `event_type` enum domain
 * too (so rows it produces validate), with the detector's description when the type is new.
 *
 * @throws RunlakeError when a detector with the same name is already registered, or the detector is
 *   malformed.
 * @example
 * ```ts
 * registerDetector({ eventType: 'loss_spike', name: 'loss_spike/v1', description: 'loss jumps',
 *   defaults: { k: 5 }, detect: () => [] });
 * EVENT_TYPE.has('loss_spike'); // true
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: detectors differ in their parameter types
export function registerDetector(detector: EventDetector<any>): void {
  if (typeof detector?.name !== 'string' || detector.name.length === 0) {
    throw new RunlakeError('registerDetector: detector.name must be a non-empty string');
  }
  if (typeof detector.detect !== 'function') {
    throw new RunlakeError(`registerDetector: detector.detect of '${detector.name}' must be a function`);
  }
  if (registry.has(detector.name)) {
    throw new RunlakeError(`registerDetector: a detector named '${detector.name}' is already registered`);
  }
  if (!EVENT_TYPE.has(detector.eventType)) registerEventType(detector.eventType, detector.description);
  registry.set(detector.name, detector);
}

/**
 * The registered per-trajectory detectors, in registration order (built-ins first).
 *
 * @example
 * ```ts
 * listDetectors().map((d) => d.name); // ['rank_collapse/v1', 'reexpansion/v1', …]
 * ```
 */
// biome-ignore lint/suspicious/noExplicitAny: detectors differ in their parameter types
export function listDetectors(): readonly EventDetector<any>[] {
  return [...registry.values()];
}

/** Options for {@link detectTrajectoryEvents}. */
export interface DetectTrajectoryEventsOptions {
  /** Detector names (`rank_collapse/v1`) or event types (`rank_collapse`) to run; default all registered. */
  detectors?: string[];
  /** Parameter overrides keyed by detector name or event type, merged over each detector's defaults. */
  params?: Record<string, Record<string, unknown>>;
}

/**
 * Runs the registered per-trajectory detectors on one trajectory and returns their events sorted by
 * step (then event type). Overrides for `rank_collapse` are passed on to `reexpansion`'s collapse
 * stage unless it has its own, so the two agree on what the collapse was.
 *
 * @throws RunlakeError for an unknown detector name, or parameters a detector rejects.
 * @example
 * ```ts
 * detectTrajectoryEvents({ steps: [0, 100, 200], descriptors: { effective_rank: [40, 41, 12] } },
 *   { detectors: ['rank_collapse'], params: { rank_collapse: { minDuration: 1 } } });
 * ```
 */
export function detectTrajectoryEvents(
  trajectory: DescriptorTrajectory,
  options?: DetectTrajectoryEventsOptions,
): DetectedEvent[] {
  const all = listDetectors();
  const chosen = options?.detectors
    ? options.detectors.map((key) => {
        const d = registry.get(key) ?? all.find((x) => x.eventType === key);
        if (!d) {
          throw new RunlakeError(
            `detectTrajectoryEvents: options.detectors names unknown detector '${key}' (registered: ${all
              .map((x) => x.name)
              .join(', ')})`,
          );
        }
        return d;
      })
    : all;
  const overrides = (d: EventDetector<unknown>): Record<string, unknown> => ({
    ...(options?.params?.[d.eventType] ?? {}),
    ...(options?.params?.[d.name] ?? {}),
  });
  const out: DetectedEvent[] = [];
  for (const d of chosen) {
    const own = overrides(d);
    const params: Record<string, unknown> = { ...(d.defaults as object), ...own };
    if (d === REEXPANSION_DETECTOR && own.collapse === undefined) {
      const collapse = { ...RANK_COLLAPSE_DETECTOR.defaults, ...overrides(RANK_COLLAPSE_DETECTOR) };
      params.collapse = collapse;
    }
    out.push(...d.detect(trajectory, params));
  }
  return out.sort((a, b) => a.step - b.step || a.eventType.localeCompare(b.eventType));
}

for (const d of [
  RANK_COLLAPSE_DETECTOR,
  REEXPANSION_DETECTOR,
  PHASE_SHIFT_DETECTOR,
  STABILITY_PLATEAU_DETECTOR,
]) {
  registerDetector(d);
}

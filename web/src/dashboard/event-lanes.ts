// How event badges are laid out, without the DOM (so Node tests can import it): events of one type at
// one step are grouped into one badge, and badges are stacked in lanes so none overlaps another.

/** What grouping needs of an event: its type and step. */
export interface LaneEvent {
  readonly event_type: string;
  readonly step: number;
}

/** An event and the run it belongs to (the geometry view overlays several runs). */
export interface RunEvent<E extends LaneEvent = LaneEvent> {
  readonly run: string;
  readonly event: E;
}

/** What a badge stands for: the events of one type at one step, over one or more runs. */
export interface EventGroup<E extends LaneEvent = LaneEvent> {
  readonly eventType: string;
  readonly step: number;
  readonly events: readonly RunEvent<E>[];
}

/** Height of one badge lane in pixels (badge 13 px + 2 px gap). */
export const LANE_HEIGHT = 15;
/** Pixels kept free between two badges in one lane. */
export const LANE_GAP = 3;

/**
 * Groups events by type and step (in step order, then type), so one badge stands for the same event
 * seen in several runs.
 *
 * @example
 * ```ts
 * groupEvents([{ run: 'a', event: e1200 }, { run: 'b', event: e1200b }]); // one group, two events
 * ```
 */
export function groupEvents<E extends LaneEvent>(events: readonly RunEvent<E>[]): EventGroup<E>[] {
  const groups = new Map<string, { eventType: string; step: number; events: RunEvent<E>[] }>();
  for (const re of events) {
    const key = `${re.event.event_type}\u0000${re.event.step}`;
    let group = groups.get(key);
    if (!group) {
      group = { eventType: re.event.event_type, step: re.event.step, events: [] };
      groups.set(key, group);
    }
    group.events.push(re);
  }
  return [...groups.values()].sort((a, b) => a.step - b.step || a.eventType.localeCompare(b.eventType));
}

/**
 * Assigns each interval `[start, end]` (pixels) the first lane where it overlaps no interval placed
 * before it (with `gap` pixels between neighbours); returns the lane of each, in input order.
 *
 * @example
 * ```ts
 * assignLanes([[0, 20], [10, 30], [25, 40]], 3); // [0, 1, 0]
 * ```
 */
export function assignLanes(intervals: readonly (readonly [number, number])[], gap = LANE_GAP): number[] {
  const lanes: [number, number][][] = [];
  return intervals.map(([start, end]) => {
    let lane = lanes.findIndex((placed) => placed.every(([s, e]) => end + gap <= s || start >= e + gap));
    if (lane < 0) {
      lane = lanes.length;
      lanes.push([]);
    }
    lanes[lane]?.push([start, end]);
    return lane;
  });
}

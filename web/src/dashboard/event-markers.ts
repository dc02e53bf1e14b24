// Event markers over a uPlot chart: a dashed line per event step and a badge naming the event type,
// as DOM elements in uPlot's overlay (`u.over`, the plotting area), repositioned after every redraw
// so a reader can hover or focus them and a test can find them by type and step.
//
// Several events often share a step (a rank collapse, a phase shift and a plateau all at step 1200,
// and the same events in every seed of a grid). Events of one type at one step are merged into one
// badge (naming all their runs), and badges are stacked in lanes: each badge goes into the first
// lane where it does not overlap a badge already placed, so no badge hides another.
import type uPlot from 'uplot';
import type { GeometryEvent } from './api.js';
import { formatNumber, h } from './dom.js';
import {
  assignLanes,
  groupEvents,
  LANE_HEIGHT,
  type EventGroup as LaneGroup,
  type RunEvent as LaneRunEvent,
} from './event-lanes.js';
import { eventColor } from './palette.js';

export { LANE_HEIGHT };

/** A geometry event and the run it belongs to (the geometry view overlays several runs). */
export type RunEvent = LaneRunEvent<GeometryEvent>;

/** What a badge stands for: the geometry events of one type at one step, over one or more runs. */
export type EventGroup = LaneGroup<GeometryEvent>;

/** Called when a badge is hovered or focused (`group`), or left (`undefined`). */
export type EventHover = (anchor: HTMLElement, group: EventGroup | undefined) => void;

/**
 * A short label for a marker: the initials of the event type.
 *
 * @example
 * ```ts
 * eventAbbrev('rank_collapse'); // 'RC'
 * ```
 */
export function eventAbbrev(eventType: string): string {
  return eventType
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
}

/**
 * The description of one event: type, step span, where, descriptor, magnitude, confidence, detector.
 *
 * @example
 * ```ts
 * eventTitle(e).split('\n')[0]; // 'reexpansion at steps 1200–1300'
 * ```
 */
export function eventTitle(e: GeometryEvent): string {
  const where = [e.layer === null ? 'all layers' : `layer ${e.layer}`, e.module ?? 'all modules'].join(' · ');
  const span =
    e.step_end !== null && e.step_end !== e.step ? `steps ${e.step}–${e.step_end}` : `step ${e.step}`;
  return [
    `${e.event_type} at ${span}`,
    where,
    e.descriptor ? `descriptor: ${e.descriptor}` : '',
    `magnitude: ${formatNumber(e.magnitude)} · confidence: ${formatNumber(e.confidence)}`,
    `detector: ${e.detector}`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Options of {@link eventMarkersPlugin}. */
export interface EventMarkerOptions {
  /**
   * Height in pixels of a strip above the plotting area (the chart's top padding) where the first
   * badge lanes go, so badges do not cover the curves; further lanes go over the plot.
   */
  readonly strip?: number;
  /** Called on hover/focus of a badge, to show a tooltip. */
  readonly onHover?: EventHover;
}

/**
 * A uPlot plugin drawing `events` as `.event-marker` elements (with `data-event-type`, `data-step`,
 * `data-runs`, `data-layer`, `data-module`) holding a focusable `.event-label` badge; events with a
 * `step_end` also get a shaded span. Badges are laid out in lanes so none overlaps another, the
 * first lanes in the `strip` above the plot.
 *
 * @example
 * ```ts
 * new uPlot({ ...opts, plugins: [eventMarkersPlugin(events, { strip: 32, onHover: showTooltip })] }, data, host);
 * ```
 */
export function eventMarkersPlugin(
  events: readonly RunEvent[],
  options: EventMarkerOptions = {},
): uPlot.Plugin {
  let layer: HTMLElement | undefined;
  const groups = groupEvents(events);
  const strip = options.strip ?? 0;
  const place = (u: uPlot) => {
    if (!layer) {
      layer = h('div', { class: 'event-layer', style: `top: ${-strip}px` });
      u.over.appendChild(layer);
    }
    const [min, max] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const width = u.over.clientWidth;
    const spans: HTMLElement[] = [];
    const markers: { marker: HTMLElement; label: HTMLElement; left: number }[] = [];
    for (const group of groups) {
      if (group.step < min || group.step > max) continue;
      const left = u.valToPos(group.step, 'x');
      const color = eventColor(group.eventType);
      // One shaded span per group, to the latest end among its events (not one per run, which
      // would darken the same span once per seed).
      const end = Math.max(...group.events.map((re) => re.event.step_end ?? re.event.step));
      if (end > group.step) {
        const right = u.valToPos(Math.min(end, max), 'x');
        spans.push(
          h('div', {
            class: 'event-span',
            style: `left: ${left}px; top: ${strip}px; width: ${Math.max(1, right - left)}px; background: ${color}`,
          }),
        );
      }
      const first = group.events[0]?.event as GeometryEvent;
      const runs = [...new Set(group.events.map((re) => re.run))];
      const description = group.events
        .map((re) => (runs.length > 1 ? `${re.run}: ${eventTitle(re.event)}` : eventTitle(re.event)))
        .join('\n\n');
      const label = h(
        'span',
        {
          class: 'event-label',
          tabindex: 0,
          role: 'button',
          'aria-label': description,
        },
        eventAbbrev(group.eventType),
        group.events.length > 1 ? h('span', { class: 'event-count' }, `×${group.events.length}`) : null,
      );
      const onHover = options.onHover;
      if (onHover) {
        const show = () => onHover(label, group);
        const hide = () => onHover(label, undefined);
        label.addEventListener('mouseenter', show);
        label.addEventListener('focus', show);
        label.addEventListener('mouseleave', hide);
        label.addEventListener('blur', hide);
      }
      const marker = h(
        'div',
        {
          class: 'event-marker',
          style: `left: ${left}px; --c: ${color}`,
          'data-testid': 'event-marker',
          'data-event-type': group.eventType,
          'data-event-id': first.event_id,
          'data-step': group.step,
          'data-runs': runs.join(','),
          'data-layer': first.layer ?? '',
          'data-module': first.module ?? '',
          'data-descriptor': first.descriptor ?? '',
        },
        label,
      );
      markers.push({ marker, label, left });
    }
    layer.replaceChildren(...spans, ...markers.map((m) => m.marker));
    // Measure the badges, flip those that would leave the plot to the left of their line, and
    // stack them in lanes.
    const intervals = markers.map(({ label, left }) => {
      const w = label.offsetWidth;
      const flip = left + 2 + w > width;
      label.classList.toggle('flip', flip);
      return flip ? ([left - 2 - w, left - 2] as const) : ([left + 2, left + 2 + w] as const);
    });
    const lanes = assignLanes(intervals);
    markers.forEach(({ label }, i) => {
      label.style.top = `${1 + (lanes[i] ?? 0) * LANE_HEIGHT}px`;
    });
  };
  return { hooks: { draw: [place] } };
}

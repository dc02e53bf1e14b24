// Event markers over a uPlot chart: one absolutely positioned DOM element per event at its step,
// so a reader can hover it for details and a test can find it by type and step. They are placed
// in uPlot's overlay (`u.over`, the plotting area) and repositioned after every redraw.
import type uPlot from 'uplot';
import type { GeometryEvent } from './api.js';
import { formatNumber, h } from './dom.js';
import { eventColor } from './palette.js';

/** A short label for a marker: the initials of the event type (rank_collapse → RC). */
export function eventAbbrev(eventType: string): string {
  return eventType
    .split(/[_\s-]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
}

/** The hover text of an event. */
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

/**
 * A uPlot plugin drawing `events` as `.event-marker` elements (with `data-event-type`, `data-step`,
 * `data-layer`, `data-module`); an event with a `step_end` also gets a shaded span.
 */
export function eventMarkersPlugin(events: readonly GeometryEvent[]): uPlot.Plugin {
  let layer: HTMLElement | undefined;
  const place = (u: uPlot) => {
    if (!layer) {
      layer = h('div', { class: 'event-layer' });
      u.over.appendChild(layer);
    }
    const [min, max] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const children: HTMLElement[] = [];
    for (const e of events) {
      if (e.step < min || e.step > max) continue;
      const left = u.valToPos(e.step, 'x');
      const color = eventColor(e.event_type);
      if (e.step_end !== null && e.step_end > e.step) {
        const right = u.valToPos(Math.min(e.step_end, max), 'x');
        children.push(
          h('div', {
            class: 'event-span',
            style: `left: ${left}px; width: ${Math.max(1, right - left)}px; background: ${color}`,
          }),
        );
      }
      children.push(
        h(
          'div',
          {
            class: 'event-marker',
            style: `left: ${left}px; --c: ${color}`,
            title: eventTitle(e),
            'data-testid': 'event-marker',
            'data-event-type': e.event_type,
            'data-event-id': e.event_id,
            'data-step': e.step,
            'data-layer': e.layer ?? '',
            'data-module': e.module ?? '',
            'data-descriptor': e.descriptor ?? '',
          },
          h('span', { class: 'event-label' }, eventAbbrev(e.event_type)),
        ),
      );
    }
    layer.replaceChildren(...children);
  };
  return { hooks: { draw: [place] } };
}

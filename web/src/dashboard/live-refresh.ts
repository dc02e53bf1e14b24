// Live refresh for runs still training: polls `GET /api/changes` (log versions, no query) and,
// when a dataset the page shows got a commit, lets the page fetch what changed. New points of a
// tracked run are folded into the lake about every second (docs/tracking.md), so a one-second
// poll shows them within about two seconds of `log()`, without a reload. The header's indicator
// shows the last poll's time and pauses or resumes the polling.
import { api } from './api.js';
import { h } from './dom.js';

/** Poll period while the page is visible. */
export const LIVE_REFRESH_MS = 1000;

/** A running live refresh. */
export interface LiveRefresh {
  /** Stops polling until {@link LiveRefresh.resume}; a change made meanwhile is picked up then. */
  pause(): void;
  resume(): void;
  paused(): boolean;
  /** Stops for good. */
  stop(): void;
}

/** What a poll reports: when it answered, and whether the server was reachable. */
export interface LivePoll {
  readonly at: Date;
  readonly ok: boolean;
  /** Datasets whose version moved (empty on the first poll and when nothing changed). */
  readonly changed: ReadonlySet<string>;
}

/**
 * Starts polling; `onChange` gets the datasets whose version moved and is awaited before the next
 * poll, so a slow redraw never piles up requests. Hidden pages (another tab) and a paused refresh
 * do not poll. `onPoll` hears of every poll (the header's "live" indicator).
 *
 * @example
 * ```ts
 * const live = startLiveRefresh(async (changed) => { if (changed.has('runs')) await reloadRuns(); });
 * live.pause();
 * ```
 */
export function startLiveRefresh(
  onChange: (changed: ReadonlySet<string>) => Promise<void>,
  onPoll?: (poll: LivePoll) => void,
): LiveRefresh {
  let last: Record<string, number> | undefined;
  let timer: number | undefined;
  let stopped = false;
  let paused = false;
  const schedule = () => {
    window.clearTimeout(timer);
    if (!stopped && !paused) timer = window.setTimeout(() => void poll(), LIVE_REFRESH_MS);
  };
  const poll = async (): Promise<void> => {
    if (stopped || paused) return;
    if (!document.hidden) {
      try {
        const { versions } = await api.changes();
        let changed = new Set<string>();
        if (last) {
          changed = new Set(Object.keys(versions).filter((name) => versions[name] !== last?.[name]));
          if (changed.size > 0) await onChange(changed);
        }
        last = versions;
        onPoll?.({ at: new Date(), ok: true, changed });
      } catch {
        // A server restarting or a network blip: the next poll tries again.
        onPoll?.({ at: new Date(), ok: false, changed: new Set() });
      }
    }
    schedule();
  };
  void poll();
  return {
    pause() {
      paused = true;
      window.clearTimeout(timer);
    },
    resume() {
      if (!paused) return;
      paused = false;
      void poll();
    },
    paused: () => paused,
    stop() {
      stopped = true;
      window.clearTimeout(timer);
    },
  };
}

/**
 * The header's "live" indicator: a dot, "live · 20:31:05" (the last poll) or "paused", and a
 * click pauses or resumes the refresh.
 *
 * @example
 * ```ts
 * const indicator = liveIndicator();
 * const live = startLiveRefresh(onChange, indicator.report);
 * indicator.attach(live);
 * ```
 */
export function liveIndicator(): {
  readonly element: HTMLButtonElement;
  report(poll: LivePoll): void;
  attach(live: LiveRefresh): void;
} {
  const text = h('span', { class: 'live-text' }, 'live');
  const element = h(
    'button',
    {
      type: 'button',
      class: 'live-indicator',
      'data-testid': 'live-toggle',
      'data-live': 'on',
      'aria-pressed': 'false',
      title: 'Live refresh: the page polls for new runs and points every second. Click to pause.',
    },
    h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
    text,
  );
  let live: LiveRefresh | undefined;
  let lastAt: Date | undefined;
  const render = () => {
    const paused = live?.paused() ?? false;
    element.dataset.live = paused ? 'paused' : 'on';
    element.setAttribute('aria-pressed', String(paused));
    element.title = paused
      ? 'Live refresh paused: click to resume.'
      : 'Live refresh: the page polls for new runs and points every second. Click to pause.';
    const time = lastAt ? lastAt.toLocaleTimeString([], { hour12: false }) : '';
    text.textContent = paused ? `paused${time ? ` · ${time}` : ''}` : `live${time ? ` · ${time}` : ''}`;
  };
  element.addEventListener('click', () => {
    if (!live) return;
    if (live.paused()) live.resume();
    else live.pause();
    render();
  });
  return {
    element,
    report(poll) {
      if (poll.ok) lastAt = poll.at;
      element.dataset.ok = String(poll.ok);
      if (poll.ok) element.dataset.lastRefresh = String(poll.at.getTime());
      render();
    },
    attach(refresh) {
      live = refresh;
      render();
    },
  };
}

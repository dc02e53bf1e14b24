// Live refresh for runs still training: polls `GET /api/changes` (log versions, no query) and,
// when a dataset the page shows got a commit, lets the page fetch what changed. New points of a
// tracked run are folded into the lake about every second (docs/tracking.md), so a one-second
// poll shows them within about two seconds of `log()`, without a reload.
import { api } from './api.js';

/** Poll period while the page is visible. */
export const LIVE_REFRESH_MS = 1000;

/**
 * Starts polling; `onChange` gets the datasets whose version moved and is awaited before the next
 * poll, so a slow redraw never piles up requests. Hidden pages (another tab) do not poll. Returns
 * a function that stops it.
 *
 * @example
 * ```ts
 * const stop = startLiveRefresh(async (changed) => { if (changed.has('runs')) await reloadRuns(); });
 * ```
 */
export function startLiveRefresh(onChange: (changed: ReadonlySet<string>) => Promise<void>): () => void {
  let last: Record<string, number> | undefined;
  let timer: number | undefined;
  let stopped = false;
  const poll = async (): Promise<void> => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        const { versions } = await api.changes();
        if (last) {
          const changed = new Set(Object.keys(versions).filter((name) => versions[name] !== last?.[name]));
          if (changed.size > 0) await onChange(changed);
        }
        last = versions;
      } catch {
        // A server restarting or a network blip: the next poll tries again.
      }
    }
    if (!stopped) timer = window.setTimeout(() => void poll(), LIVE_REFRESH_MS);
  };
  void poll();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}

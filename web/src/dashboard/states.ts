// Loading, empty and error states, one look for every panel. An empty lake must say what to run,
// and a 401 must say that a token is needed, because those are the two first-run surprises.
import { ApiError } from './api.js';
import { h } from './dom.js';

/** Replaces `panel`'s content with a loading indicator. */
export function showLoading(panel: HTMLElement, what: string): void {
  panel.replaceChildren(
    h(
      'div',
      { class: 'state state-loading', 'data-testid': 'state-loading', role: 'status' },
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      `Loading ${what}…`,
    ),
  );
}

/** Replaces `panel`'s content with an empty-state message: what is missing and the command to run. */
export function showEmpty(panel: HTMLElement, message: string, ...commands: string[]): void {
  panel.replaceChildren(emptyState(message, ...commands));
}

/** An empty-state box (see {@link showEmpty}). */
export function emptyState(message: string, ...commands: string[]): HTMLElement {
  return h(
    'div',
    { class: 'state state-empty', 'data-testid': 'state-empty' },
    h('p', {}, message),
    ...commands.map((command) => h('pre', {}, h('code', {}, command))),
  );
}

/** Replaces `panel`'s content with the error's message (and the token hint on a 401). */
export function showError(panel: HTMLElement, error: unknown, doing: string): void {
  panel.replaceChildren(errorState(error, doing));
}

/** An error box: the API's own message, with a hint for the statuses a user can fix. */
export function errorState(error: unknown, doing: string): HTMLElement {
  const box = h('div', { class: 'state state-error', 'data-testid': 'state-error', role: 'alert' });
  if (error instanceof ApiError && error.status === 401) {
    box.dataset.kind = 'unauthorized';
    box.append(
      h('p', { class: 'state-title' }, 'This server needs a token.'),
      h(
        'p',
        {},
        'It was started with ',
        h('code', {}, 'runlake serve --token …'),
        '. Open the dashboard with ',
        h('code', {}, '?token=<your token>'),
        ' added to the address.',
      ),
      h('p', { class: 'state-detail' }, `Server said: ${error.message}`),
    );
    return box;
  }
  const kind = error instanceof ApiError ? error.kind : 'client';
  box.dataset.kind = kind;
  const status = error instanceof ApiError && error.status > 0 ? ` (${error.status} ${kind})` : '';
  box.append(
    h('p', { class: 'state-title' }, `Could not ${doing}${status}.`),
    h('p', { class: 'state-detail' }, error instanceof Error ? error.message : String(error)),
  );
  return box;
}

/** Whether `error` says the lake has no such dataset (a 404 from a dashboard endpoint). */
export function isMissingDataset(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && /dataset/.test(error.message);
}

/** Whether `error` is an aborted fetch (a newer request replaced it), which is not shown. */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

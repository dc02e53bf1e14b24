// Keyboard shortcuts: `?` opens a help overlay listing them, `/` focuses the runs filter, `1`–`9`
// and `g` + a letter switch views, `d` toggles dark mode, `Esc` closes an overlay or clears a zoom.
// Nothing fires while the user types in an input, a select or an editable element, or with
// Ctrl/Alt/Meta held (those belong to the browser).
import { h } from './dom.js';

/** A view the shortcuts can open: `1`–`9` by position, `g <letter>` by its letter. */
export interface ShortcutView {
  readonly name: string;
  readonly label: string;
  /** The letter after `g` (`r` for runs, …). */
  readonly letter: string;
}

/** What the shortcuts do; each returns false when it had nothing to act on. */
export interface ShortcutActions {
  /** The views the page has now, in tab order (read on every key press). */
  views(): readonly ShortcutView[];
  showView(name: string): void;
  focusFilter(): boolean;
  toggleTheme(): void;
  /** Closes what is open or undoes a zoom; called when no help overlay is open. */
  escape(): boolean;
}

/** The handle {@link installShortcuts} returns. */
export interface Shortcuts {
  /** The help overlay (hidden until `?`). */
  readonly overlay: HTMLElement;
  showHelp(): void;
  hideHelp(): void;
  /** Removes the key listener. */
  destroy(): void;
}

/** Whether a key event comes from somewhere text is typed. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(
      target.type,
    );
  }
  return false;
}

/** How long `g` waits for its letter. */
const G_PREFIX_MS = 1500;

/**
 * Listens for the dashboard's shortcuts on `document` and appends the help overlay to `body`.
 *
 * @example
 * ```ts
 * const keys = installShortcuts({ views: () => views, showView, focusFilter, toggleTheme, escape });
 * keys.showHelp();
 * ```
 */
export function installShortcuts(actions: ShortcutActions): Shortcuts {
  const list = h('dl', { class: 'shortcut-list' });
  const close = h(
    'button',
    { type: 'button', class: 'link-button', 'data-testid': 'shortcuts-close', 'aria-label': 'Close' },
    '✕',
  );
  const overlay = h(
    'div',
    {
      class: 'overlay',
      role: 'dialog',
      'aria-modal': 'true',
      'aria-labelledby': 'shortcuts-title',
      'data-testid': 'shortcuts-help',
      hidden: true,
    },
    h(
      'div',
      { class: 'overlay-box panel' },
      h('div', { class: 'overlay-head' }, h('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'), close),
      list,
    ),
  );
  document.body.append(overlay);
  const fill = () => {
    const views = actions.views();
    const rows: [readonly string[], string][] = [
      [['?'], 'Show or hide this help'],
      [['/'], 'Focus the runs filter'],
      ...views.map((v, i): [string[], string] => [[`${i + 1}`, `g ${v.letter}`], `Open ${v.label}`]),
      [['d'], 'Toggle dark mode'],
      [['Esc'], 'Close this help or a popover, or reset the zoom of the charts'],
      [['← →', 'Home', 'End'], 'Move between the view tabs (when one has focus); Enter or Space opens one'],
    ];
    list.replaceChildren(
      ...rows.flatMap(([keys, what]) => [
        h('dt', {}, ...keys.flatMap((k, i) => [i > 0 ? ' or ' : null, h('kbd', {}, k)])),
        h('dd', {}, what),
      ]),
    );
  };
  let returnFocus: Element | null = null;
  const showHelp = () => {
    fill();
    returnFocus = document.activeElement;
    overlay.hidden = false;
    close.focus();
  };
  const hideHelp = () => {
    if (overlay.hidden) return;
    overlay.hidden = true;
    if (returnFocus instanceof HTMLElement) returnFocus.focus();
  };
  close.addEventListener('click', hideHelp);
  overlay.addEventListener('click', (event) => {
    if (event.target === overlay) hideHelp();
  });

  let gPressed = 0;
  const onKey = (event: KeyboardEvent) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === 'Escape') {
      if (!overlay.hidden) {
        hideHelp();
        event.preventDefault();
      } else if (!isTyping(event.target) && actions.escape()) {
        event.preventDefault();
      }
      return;
    }
    if (isTyping(event.target)) return;
    const views = actions.views();
    if (gPressed && Date.now() - gPressed < G_PREFIX_MS) {
      gPressed = 0;
      const view = views.find((v) => v.letter === event.key.toLowerCase());
      if (view) {
        event.preventDefault();
        hideHelp();
        actions.showView(view.name);
      }
      return;
    }
    gPressed = 0;
    if (event.key === '?') {
      event.preventDefault();
      if (overlay.hidden) showHelp();
      else hideHelp();
    } else if (event.key === '/') {
      hideHelp();
      if (actions.focusFilter()) event.preventDefault();
    } else if (event.key === 'g') {
      gPressed = Date.now();
    } else if (event.key === 'd') {
      actions.toggleTheme();
    } else if (/^[1-9]$/.test(event.key)) {
      const view = views[Number(event.key) - 1];
      if (view) {
        event.preventDefault();
        hideHelp();
        actions.showView(view.name);
      }
    }
  };
  document.addEventListener('keydown', onKey);
  return { overlay, showHelp, hideHelp, destroy: () => document.removeEventListener('keydown', onKey) };
}

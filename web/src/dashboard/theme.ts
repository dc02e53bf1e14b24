// Light and dark mode: `data-theme="light"|"dark"` on <html> switches the CSS variables of
// style.css (`--bg`, `--fg`, `--muted`, `--grid`, …). Until the user picks one with the toggle (or
// `d`), the page follows the system's prefers-color-scheme, live; a pick is saved in localStorage.
// Every change dispatches `runlake:themechange` on document, so canvases (uPlot) redraw their colours.

/** A colour theme. */
export type Theme = 'light' | 'dark';

/** The localStorage key of the user's pick (absent: follow the system). */
export const THEME_KEY = 'runlake:theme';

/** The event dispatched on `document` whenever the theme changes. */
export const THEME_EVENT = 'runlake:themechange';

function saved(): Theme | undefined {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === 'dark' || value === 'light' ? value : undefined;
  } catch {
    return undefined;
  }
}

function system(): Theme {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** The theme in effect. */
export function currentTheme(): Theme {
  return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
}

function apply(theme: Theme): void {
  const root = document.documentElement;
  if (root.dataset.theme === theme) return;
  root.dataset.theme = theme;
  document.dispatchEvent(new Event(THEME_EVENT));
}

/**
 * Applies the saved theme (or the system's) and follows system changes while nothing is saved.
 * Call once, before drawing.
 *
 * @example
 * ```ts
 * initTheme();
 * document.documentElement.dataset.theme; // 'dark' on a system in dark mode
 * ```
 */
export function initTheme(): void {
  apply(saved() ?? system());
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (!saved()) apply(system());
  });
}

/**
 * Sets the theme and saves the pick, so a reload keeps it.
 *
 * @example
 * ```ts
 * setTheme('dark');
 * ```
 */
export function setTheme(theme: Theme): void {
  try {
    localStorage.setItem(THEME_KEY, theme);
  } catch {
    // Storage refused (a private window's quota): the theme still applies to this page.
  }
  apply(theme);
}

/**
 * Switches between light and dark (the header's toggle and the `d` shortcut) and returns the new theme.
 *
 * @example
 * ```ts
 * toggleTheme(); // 'dark' when it was light
 * ```
 */
export function toggleTheme(): Theme {
  const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
  setTheme(next);
  return next;
}

// The "group by" picker: checkboxes over the grid's parameter keys in a small popover. Grouping by
// one or more keys switches the metric chart to one mean line and envelope per group.
import { h } from './dom.js';

export interface GroupByPicker {
  readonly element: HTMLElement;
  /** The checked keys, in parameter-key order. */
  value(): string[];
  /** Checks exactly `keys` (unknown keys are ignored) without calling `onChange`. */
  set(keys: readonly string[]): void;
  /** Removes the document listener that closes the popover. */
  destroy(): void;
}

/**
 * A popover of checkboxes over `keys`; `onChange` fires on a user change.
 *
 * @example
 * ```ts
 * const picker = groupByPicker(['lr', 'model'], () => reload(), ['lr']);
 * toolbar.append(picker.element);
 * picker.value(); // ['lr']
 * ```
 */
export function groupByPicker(
  keys: readonly string[],
  onChange: () => void,
  initial: readonly string[] = [],
): GroupByPicker {
  const summary = h('summary', { 'data-testid': 'group-by-summary' }, 'Group by: none');
  const boxes = keys.map((key) => {
    const box = h('input', { type: 'checkbox', value: key, 'data-testid': `group-by-${key}` });
    box.checked = initial.includes(key);
    return { key, box };
  });
  const value = () => boxes.filter((b) => b.box.checked).map((b) => b.key);
  const label = () => {
    const chosen = value();
    summary.textContent = `Group by: ${chosen.length ? chosen.join(', ') : 'none'}`;
  };
  label();
  const update = () => {
    label();
    onChange();
  };
  for (const { box } of boxes) box.addEventListener('change', update);
  const clear = h('button', { type: 'button', class: 'link-button' }, 'none');
  clear.addEventListener('click', () => {
    for (const { box } of boxes) box.checked = false;
    update();
  });
  const menu = h(
    'div',
    { class: 'popover' },
    keys.length === 0
      ? h('p', { class: 'muted' }, 'The selected runs have no grid parameters to group by.')
      : h('div', {}, ...boxes.map(({ key, box }) => h('label', { class: 'inline' }, box, ` ${key}`)), clear),
  );
  const element = h('details', { class: 'control group-by', 'data-testid': 'group-by' }, summary, menu);
  // Close the popover on a click elsewhere, as a menu would.
  const close = (event: MouseEvent) => {
    if (element.open && !element.contains(event.target as Node)) element.open = false;
  };
  document.addEventListener('click', close);
  return {
    element,
    value,
    set(chosen) {
      for (const { key, box } of boxes) box.checked = chosen.includes(key);
      label();
    },
    destroy: () => document.removeEventListener('click', close),
  };
}

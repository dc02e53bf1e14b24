// The "group by" picker: checkboxes over the grid's parameter keys in a small popover. Grouping by
// one or more keys switches the metric chart to one mean ± std band per group.
import { h } from './dom.js';

export interface GroupByPicker {
  readonly element: HTMLElement;
  /** The checked keys, in parameter-key order. */
  value(): string[];
}

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
  if (initial.length > 0)
    summary.textContent = `Group by: ${keys.filter((k) => initial.includes(k)).join(', ')}`;
  const value = () => boxes.filter((b) => b.box.checked).map((b) => b.key);
  const update = () => {
    const chosen = value();
    summary.textContent = `Group by: ${chosen.length ? chosen.join(', ') : 'none'}`;
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
  document.addEventListener('click', (event) => {
    if (element.open && !element.contains(event.target as Node)) element.open = false;
  });
  return { element, value };
}

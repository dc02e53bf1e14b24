// The runs table's column menu: add a summary column (metric × final/min/max), and show/hide,
// pin and move every column. Plain buttons and checkboxes, so all of it works from the keyboard.
import { h, selectOf } from './dom.js';
import type { RunColumn, SummaryStat } from './runs-model.js';

/** What the column menu shows and what it can ask the table to do. */
export interface ColumnMenuProps {
  /** Every column, in display order (pinned first), hidden ones included. */
  readonly columns: readonly RunColumn[];
  readonly hidden: ReadonlySet<string>;
  readonly pinned: ReadonlySet<string>;
  /** The metric names a summary column can be made of (undefined while loading). */
  readonly metrics: readonly string[] | undefined;
  /** The metric and statistic picked last (the menu is rebuilt after each change). */
  readonly choice: { readonly metric?: string; readonly stat: SummaryStat };
  readonly onChoice: (choice: { metric?: string; stat: SummaryStat }) => void;
  readonly onAddSummary: (stat: SummaryStat, metric: string) => void;
  readonly onRemoveSummary: (id: string) => void;
  readonly onToggleHidden: (id: string, hidden: boolean) => void;
  readonly onTogglePinned: (id: string) => void;
  readonly onMove: (id: string, by: -1 | 1) => void;
}

/**
 * The menu's content for `props` (the table re-renders it after each change).
 *
 * @example
 * ```ts
 * popover.replaceChildren(columnMenu({ columns, hidden, pinned, metrics: ['loss'], … }));
 * ```
 */
export function columnMenu(props: ColumnMenuProps): HTMLElement {
  const metric = selectOf(
    (props.metrics ?? []).map((m) => [m, m] as const),
    props.choice.metric && props.metrics?.includes(props.choice.metric)
      ? props.choice.metric
      : props.metrics?.[0],
    { 'aria-label': 'Metric to summarise', 'data-testid': 'summary-metric' },
  );
  const stat = selectOf(
    [
      ['final', 'final (last step)'],
      ['min', 'min'],
      ['max', 'max'],
    ],
    props.choice.stat,
    { 'aria-label': 'Statistic', 'data-testid': 'summary-stat' },
  );
  const choose = () => props.onChoice({ metric: metric.value, stat: stat.value as SummaryStat });
  metric.addEventListener('change', choose);
  stat.addEventListener('change', choose);
  const add = h(
    'button',
    { type: 'button', 'data-testid': 'summary-add', disabled: !props.metrics?.length },
    'Add column',
  );
  add.addEventListener('click', () => {
    if (metric.value) props.onAddSummary(stat.value as SummaryStat, metric.value);
  });
  const addRow = h(
    'div',
    { class: 'column-menu-add' },
    h('strong', {}, 'Summary column'),
    props.metrics === undefined
      ? h('span', { class: 'muted' }, 'loading metric names…')
      : props.metrics.length === 0
        ? h('span', { class: 'muted' }, 'this lake has no scalar metrics')
        : metric,
    stat,
    add,
  );
  const list = h('ul', { class: 'column-menu-list', 'aria-label': 'Columns' });
  props.columns.forEach((column, i) => {
    const hidden = props.hidden.has(column.id);
    const pinned = props.pinned.has(column.id);
    const visible = h('input', {
      type: 'checkbox',
      'aria-label': `Show ${column.label}`,
      'data-testid': 'column-visible',
    });
    visible.checked = !hidden;
    visible.addEventListener('change', () => props.onToggleHidden(column.id, !visible.checked));
    const button = (label: string, title: string, testid: string, onClick: () => void, disabled = false) => {
      const b = h(
        'button',
        { type: 'button', class: 'icon-button', title, 'aria-label': title, 'data-testid': testid, disabled },
        label,
      );
      b.addEventListener('click', onClick);
      return b;
    };
    const pin = button(
      '⇤',
      pinned ? `Unpin ${column.label}` : `Pin ${column.label} to the left`,
      'column-pin',
      () => props.onTogglePinned(column.id),
    );
    pin.setAttribute('aria-pressed', String(pinned));
    const note =
      column.defaultHidden === 'empty'
        ? 'empty for every run'
        : column.defaultHidden === 'duplicate'
          ? 'same name as a parameter'
          : column.source === 'param'
            ? 'parameter'
            : column.source === 'summary'
              ? 'summary'
              : '';
    list.appendChild(
      h(
        'li',
        { 'data-column': column.id, 'data-testid': 'column-menu-item', class: hidden ? 'hidden-column' : '' },
        h('label', {}, visible, ` ${column.label}`),
        note ? h('span', { class: 'muted column-note' }, note) : null,
        h(
          'span',
          { class: 'column-actions' },
          pin,
          button('←', `Move ${column.label} left`, 'column-left', () => props.onMove(column.id, -1), i === 0),
          button(
            '→',
            `Move ${column.label} right`,
            'column-right',
            () => props.onMove(column.id, 1),
            i === props.columns.length - 1,
          ),
          column.source === 'summary'
            ? button('×', `Remove ${column.label}`, 'column-remove', () => props.onRemoveSummary(column.id))
            : null,
        ),
      ),
    );
  });
  return h('div', { class: 'column-menu-body' }, addRow, list);
}

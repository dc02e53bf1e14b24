// A tiny element builder: the dashboard is plain DOM, and this keeps element creation readable
// without a framework.

type Child = Node | string | number | null | undefined | false;

/** Attributes: `class`, `data-*`, `title`, … as strings; `on*` keys are not supported on purpose. */
export type Attrs = Record<string, string | number | boolean | null | undefined>;

/**
 * Creates `<tag>` with attributes and children; null/undefined/false attributes and children are
 * skipped, `true` sets an empty attribute.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends children, turning strings and numbers into text nodes. */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** A `<select>` with the given options (value, label) and the selected value. */
export function selectOf(
  options: readonly (readonly [string, string])[],
  selected: string | undefined,
  attrs: Attrs = {},
): HTMLSelectElement {
  const select = h('select', attrs);
  for (const [value, label] of options) {
    const option = h('option', { value }, label);
    if (value === selected) option.selected = true;
    select.appendChild(option);
  }
  return select;
}

/** Formats a number for a table cell or tooltip: integers as is, others with 4 significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  // Number(…) drops trailing zeros; String() picks exponent notation only for very small/large.
  return String(Number(value.toPrecision(4)));
}

/** Text for any cell value: arrays joined, objects as JSON, null as empty. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatNumber(value);
  if (Array.isArray(value)) return value.map(cellText).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

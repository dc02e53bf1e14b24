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

/**
 * Formats a number for a chart axis or tooltip: integers as is, others with `digits` significant
 * digits (4 unless told).
 *
 * @example
 * ```ts
 * formatNumber(0.123456); // '0.1235'
 * formatNumber(2.5e-7, 6); // '2.5e-7'
 * ```
 */
export function formatNumber(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  // Number(…) drops trailing zeros; String() picks exponent notation only for very small/large.
  return String(Number(value.toPrecision(digits)));
}

/**
 * A number as it was meant, without binary float noise: 12 significant digits, trailing zeros
 * dropped, so `0.1 + 0.2` reads `0.3` and `0.4140000000000003` reads `0.414`, while a setting
 * like `0.00031415` keeps every digit it was written with.
 *
 * @example
 * ```ts
 * formatExact(0.4140000000000003); // '0.414'
 * formatExact(3e-4); // '0.0003'
 * ```
 */
export function formatExact(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(12)));
}

// A decimal with 13+ digits after the point inside JSON text: float noise to trim.
const NOISY_DECIMAL = /-?\d+\.\d{13,}(?:e[+-]?\d+)?/gi;

/**
 * Text for a table cell: numbers without float noise ({@link formatExact}), arrays joined, objects
 * (and JSON text) with their numbers trimmed the same way, null as empty.
 *
 * @example
 * ```ts
 * cellText(['a', 'b']); // 'a, b'
 * cellText('{"lr":0.30000000000000004}'); // '{"lr":0.3}'
 * ```
 */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return formatExact(value);
  if (Array.isArray(value)) return value.map(cellText).join(', ');
  if (typeof value === 'object') return denoiseJson(JSON.stringify(value));
  const text = String(value);
  return text.startsWith('{') || text.startsWith('[') ? denoiseJson(text) : text;
}

function denoiseJson(text: string): string {
  return text.replace(NOISY_DECIMAL, (n) => formatExact(Number(n)));
}

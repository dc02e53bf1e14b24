/**
 * A count and its noun, pluralised and with thousands separators, for messages: `1 row`,
 * `12,000 rows`. The plural is the singular plus `s` unless given.
 *
 * @example
 * ```ts
 * countOf(1, 'row'); // '1 row'
 * countOf(12000, 'row'); // '12,000 rows'
 * countOf(2, 'metrics file'); // '2 metrics files'
 * countOf(3, 'match', 'matches'); // '3 matches'
 * ```
 */
export function countOf(count: number, singular: string, plural = `${singular}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? singular : plural}`;
}

import { InvalidArgumentError } from 'commander';

/**
 * Commander argument parser for a positive integer option.
 *
 * @example
 * ```ts
 * program.option('--jobs <n>', 'parallel inputs', positiveInteger, 2);
 * ```
 */
export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  return value;
}

/**
 * Commander argument parser for a non-negative integer option.
 *
 * @example
 * ```ts
 * program.option('--limit <n>', 'max rows', nonNegativeInteger);
 * ```
 */
export function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidArgumentError(`expected an integer ≥ 0, got "${text}"`);
  return value;
}

/**
 * Commander argument parser for a comma-separated list.
 *
 * @example
 * ```ts
 * commaList('a, b'); // ['a', 'b']
 * ```
 */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

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

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Commander argument parser for a size in bytes: a number with an optional unit (`B`, `KB`, `MB`,
 * `GB` in powers of 1000; `KiB`, `MiB`, `GiB` in powers of 1024).
 *
 * @example
 * ```ts
 * byteSize('2GiB'); // 2147483648
 * byteSize('512 MB'); // 512000000
 * ```
 */
export function byteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = BYTE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  const value = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`expected a size such as 2GiB, 512MB or 1048576, got "${text}"`);
  }
  return value;
}

/**
 * Commander argument parser for a partition, `key=value` pairs separated by commas or given in
 * several options (`--partition run_id=r1`); accumulates into one record.
 *
 * @example
 * ```ts
 * partitionArgument('grid_id=ab12cd34,seed=1', {}); // { grid_id: 'ab12cd34', seed: '1' }
 * ```
 */
export function partitionArgument(
  text: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const out = { ...previous };
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`expected key=value pairs such as run_id=r1, got "${pair}"`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return out;
}

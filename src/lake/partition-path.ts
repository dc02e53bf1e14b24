import { PartitionValueError, RunlakeError } from './errors.js';

/** A value that can name a Hive partition directory. */
export type PartitionValue = string | number | bigint | boolean;

/**
 * The directory value Hive, DuckDB, Spark and pyarrow use for a NULL partition value.
 *
 * @example
 * ```ts
 * parsePartitionPath(`seed=${HIVE_NULL_PARTITION}`); // [['seed', null]]
 * ```
 */
export const HIVE_NULL_PARTITION = '__HIVE_DEFAULT_PARTITION__';

// Most file systems cap one path component at 255 bytes.
const MAX_SEGMENT_BYTES = 255;

/**
 * Percent-encodes a partition key or value the way DuckDB's partitioned COPY does: the bytes of
 * `A–Z a–z 0–9 _ - ~ .` pass through and every other UTF-8 byte becomes `%XX` (uppercase). The
 * result never contains `/`, so no value can leave its directory. DuckDB, pyarrow and Spark decode
 * it back to the original string.
 *
 * @example
 * ```ts
 * encodePartitionComponent('a/b c'); // 'a%2Fb%20c'
 * ```
 */
export function encodePartitionComponent(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += isUnreserved(byte)
      ? String.fromCharCode(byte)
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Encodes a partition value for a directory name: {@link encodePartitionComponent}, and for a
 * value that spells `null` in any case, its first character percent-encoded too. DuckDB reads a
 * bare `k=NULL` directory as SQL NULL; `k=%4EULL` decodes to the string `NULL` in DuckDB, pyarrow
 * and polars alike.
 *
 * @example
 * ```ts
 * encodePartitionValue('NULL'); // '%4EULL'
 * ```
 */
export function encodePartitionValue(text: string): string {
  const encoded = encodePartitionComponent(text);
  if (text.toLowerCase() !== 'null') return encoded;
  return `%${text.charCodeAt(0).toString(16).toUpperCase()}${encoded.slice(1)}`;
}

/**
 * Inverse of {@link encodePartitionComponent} and {@link encodePartitionValue}.
 *
 * @example
 * ```ts
 * decodePartitionComponent('a%2Fb%20c'); // 'a/b c'
 * ```
 */
export function decodePartitionComponent(text: string): string {
  return decodeURIComponent(text);
}

/**
 * Formats a partition value as text before encoding: strings as-is, integers in decimal, other
 * numbers in shortest round-trip form, booleans as `true`/`false`.
 *
 * @example
 * ```ts
 * formatPartitionValue(0.5); // '0.5'
 * ```
 */
export function formatPartitionValue(column: string, value: PartitionValue): string {
  if (typeof value === 'string') {
    if (value.includes('\0')) throw new PartitionValueError(column, value, 'contains a NUL character');
    if (value === HIVE_NULL_PARTITION) {
      throw new PartitionValueError(
        column,
        value,
        'is the Hive marker for NULL; engines would read it back as NULL',
      );
    }
    return value;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new PartitionValueError(column, value, 'is not a finite number');
    return String(value === 0 ? 0 : value);
  }
  return String(value);
}

/**
 * The relative directory for one partition, e.g. `grid_id=3f9c2a1b/seed=1`. Throws a
 * {@link PartitionValueError} for a value that cannot become a directory name.
 *
 * @example
 * ```ts
 * partitionDirectory([['grid_id', 'ab12cd34'], ['seed', 1]]); // 'grid_id=ab12cd34/seed=1'
 * ```
 */
export function partitionDirectory(parts: ReadonlyArray<readonly [string, PartitionValue]>): string {
  return parts
    .map(([column, value]) => {
      if (column.length === 0) throw new PartitionValueError(column, value, 'partition column name is empty');
      const segment = `${encodePartitionComponent(column)}=${encodePartitionValue(formatPartitionValue(column, value))}`;
      if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
        throw new PartitionValueError(column, value, `encodes to more than ${MAX_SEGMENT_BYTES} bytes`);
      }
      return segment;
    })
    .join('/');
}

/**
 * Parses `key=value` path segments back into decoded pairs, ignoring segments that are not
 * partitions (the file name, a leading base directory).
 *
 * @example
 * ```ts
 * parsePartitionPath('grid_id=ab/seed=1/part-x.parquet'); // [['grid_id','ab'],['seed','1']]
 * ```
 */
export function parsePartitionPath(relativePath: string): Array<[string, string | null]> {
  const pairs: Array<[string, string | null]> = [];
  for (const segment of relativePath.split('/')) {
    const eq = segment.indexOf('=');
    if (eq <= 0) continue;
    const raw = segment.slice(eq + 1);
    pairs.push([
      decodePartitionComponent(segment.slice(0, eq)),
      raw === HIVE_NULL_PARTITION ? null : decodePartitionComponent(raw),
    ]);
  }
  return pairs;
}

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    byte === 0x5f || // _
    byte === 0x2d || // -
    byte === 0x7e || // ~
    byte === 0x2e // .
  );
}

/**
 * The directory (relative to the dataset) of a partition given as values of a leading prefix of
 * the dataset's partition keys, e.g. `{ run_id: 'r1' }` of `run_id/sample_set/module`.
 *
 * @throws {RunlakeError} naming the operation and the keys when the partition is not such a prefix.
 * @example
 * ```ts
 * partitionPrefixDirectory('metrics_scalar', ['run_id'], { run_id: 'r1' }, 'compact'); // 'run_id=r1'
 * ```
 */
export function partitionPrefixDirectory(
  dataset: string,
  keys: readonly string[],
  partition: Readonly<Record<string, PartitionValue>>,
  operation: string,
): string {
  const given = Object.keys(partition);
  if (given.length === 0 || given.some((k, i) => keys[i] !== k)) {
    throw new RunlakeError(
      `${operation} in ${dataset}: the partition must name a leading prefix of its keys (${keys.join(', ')}), got ${given.join(', ') || 'none'}`,
    );
  }
  return partitionDirectory(given.map((k) => [k, partition[k] as PartitionValue] as const));
}

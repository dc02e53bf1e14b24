import { RunlakeError } from '../lake/index.js';

/**
 * Where in a dataset something went wrong: the shard file, the byte offset in it, the sample and
 * the field. Every field is optional because a problem is found at different depths (a tar header,
 * an npy header inside it, an index row).
 *
 * @example
 * ```ts
 * const where: ShardLocation = { shard: 'ds/history_shards/shard_0000.tar', offset: 1536, sampleId: 'a' };
 * ```
 */
export interface ShardLocation {
  readonly shard?: string;
  readonly offset?: number;
  readonly sampleId?: string;
  readonly field?: string;
}

/**
 * Renders a {@link ShardLocation} as the prefix of an error message.
 *
 * @example
 * ```ts
 * describeLocation({ shard: 's.tar', offset: 512 }); // 's.tar @ byte 512'
 * ```
 */
export function describeLocation(where: ShardLocation): string {
  const parts: string[] = [];
  if (where.shard !== undefined)
    parts.push(where.offset === undefined ? where.shard : `${where.shard} @ byte ${where.offset}`);
  else if (where.offset !== undefined) parts.push(`byte ${where.offset}`);
  const sample = [
    where.sampleId === undefined ? '' : `sample "${where.sampleId}"`,
    where.field === undefined ? '' : `field "${where.field}"`,
  ]
    .filter(Boolean)
    .join(', ');
  if (sample) parts.push(parts.length ? `(${sample})` : sample);
  return parts.join(' ');
}

function prefixed(where: ShardLocation, reason: string): string {
  const at = describeLocation(where);
  return at ? `${at}: ${reason}` : reason;
}

/**
 * A tar member that cannot be trusted: a header checksum mismatch, a shard shorter than the index
 * says, a member whose name or size disagrees with the index.
 *
 * @example
 * ```ts
 * if (e instanceof ShardCorruptionError) console.error(e.shard, e.offset, e.reason);
 * ```
 */
export class ShardCorruptionError extends RunlakeError {
  override readonly name: string = 'ShardCorruptionError';
  readonly shard: string | undefined;
  readonly offset: number | undefined;
  readonly sampleId: string | undefined;
  readonly field: string | undefined;
  constructor(
    where: ShardLocation,
    readonly reason: string,
  ) {
    super(prefixed(where, reason));
    this.shard = where.shard;
    this.offset = where.offset;
    this.sampleId = where.sampleId;
    this.field = where.field;
  }
}

/**
 * A shard that ends before the bytes the index (or a tar header) promises.
 *
 * @example
 * ```ts
 * e instanceof TruncatedShardError && e.expectedEnd > e.fileSize;
 * ```
 */
export class TruncatedShardError extends ShardCorruptionError {
  override readonly name = 'TruncatedShardError';
  constructor(
    where: ShardLocation,
    readonly expectedEnd: number,
    readonly fileSize: number,
  ) {
    super(where, `shard is truncated: needs ${expectedEnd} bytes but has ${fileSize}`);
  }
}

/**
 * A shard file the index refers to that does not exist.
 *
 * @example
 * ```ts
 * e instanceof MissingShardError && e.shard?.endsWith('shard_0003.tar');
 * ```
 */
export class MissingShardError extends ShardCorruptionError {
  override readonly name = 'MissingShardError';
  constructor(where: ShardLocation) {
    super(where, 'shard file is missing');
  }
}

/**
 * An `.npy` payload that cannot be decoded: bad magic, an oversized or malformed header, a negative
 * or huge shape, or data shorter than the header promises.
 *
 * @example
 * ```ts
 * if (e instanceof NpyFormatError) console.error(e.shard, e.offset, e.reason);
 * ```
 */
export class NpyFormatError extends RunlakeError {
  override readonly name: string = 'NpyFormatError';
  readonly shard: string | undefined;
  readonly offset: number | undefined;
  readonly sampleId: string | undefined;
  readonly field: string | undefined;
  constructor(
    where: ShardLocation,
    readonly reason: string,
  ) {
    super(prefixed(where, `npy: ${reason}`));
    this.shard = where.shard;
    this.offset = where.offset;
    this.sampleId = where.sampleId;
    this.field = where.field;
  }
}

/**
 * An `.npy` dtype runlake does not read or write: object arrays (they need pickle), and descrs
 * numpy itself would not write.
 *
 * @example
 * ```ts
 * e instanceof UnsupportedDtypeError && e.descr === '|O';
 * ```
 */
export class UnsupportedDtypeError extends NpyFormatError {
  override readonly name = 'UnsupportedDtypeError';
  constructor(
    where: ShardLocation,
    readonly descr: string,
    reason?: string,
  ) {
    super(
      where,
      reason ??
        `unsupported dtype ${descr}; supported: bool, int, uint, float16-128, complex, datetime64, ` +
          'timedelta64, unicode, bytes, void and structured dtypes (either byte order)',
    );
  }
}

/**
 * A sample id the index does not hold.
 *
 * @example
 * ```ts
 * reader.getSample('nope'); // throws UnknownSampleError, e.sampleId === 'nope'
 * ```
 */
export class UnknownSampleError extends RunlakeError {
  override readonly name = 'UnknownSampleError';
  constructor(
    readonly root: string,
    readonly sampleId: string,
  ) {
    super(`${root}: no sample "${sampleId}" in the index`);
  }
}

/**
 * A field name the dataset does not have.
 *
 * @example
 * ```ts
 * e instanceof UnknownFieldError && e.known.includes('history');
 * ```
 */
export class UnknownFieldError extends RunlakeError {
  override readonly name = 'UnknownFieldError';
  constructor(
    readonly root: string,
    readonly field: string,
    readonly known: readonly string[],
  ) {
    super(
      `${root}: no field "${field}" (fields: ${known.join(', ') || 'none'}); register it with addField first`,
    );
  }
}

/**
 * A sample that exists but holds no array for a registered field that was asked for.
 *
 * @example
 * ```ts
 * reader.getSample('a', ['forecast']); // throws MissingFieldError when a has no forecast yet
 * ```
 */
export class MissingFieldError extends RunlakeError {
  override readonly name = 'MissingFieldError';
  constructor(
    readonly sampleId: string,
    readonly field: string,
  ) {
    super(`sample "${sampleId}" has no array for field "${field}"`);
  }
}

/**
 * `addSample` with an id the index already holds (use `updateSample` to replace arrays).
 *
 * @example
 * ```ts
 * e instanceof DuplicateSampleError && e.sampleId === 'a';
 * ```
 */
export class DuplicateSampleError extends RunlakeError {
  override readonly name = 'DuplicateSampleError';
  constructor(
    readonly root: string,
    readonly sampleId: string,
  ) {
    super(`${root}: sample "${sampleId}" already exists; use updateSample to replace its arrays`);
  }
}

/**
 * A second writer (in this process or another) on a root that a writer already holds.
 *
 * @example
 * ```ts
 * new ShardedDatasetWriter('ds'); new ShardedDatasetWriter('ds'); // the second throws
 * ```
 */
export class WriterLockedError extends RunlakeError {
  override readonly name = 'WriterLockedError';
  constructor(
    readonly root: string,
    readonly lockFile: string,
  ) {
    super(
      `${root}: another writer holds the dataset (lock ${lockFile}); close it first. ` +
        'Readers may run at any time.',
    );
  }
}

/**
 * An array passed to the writer that cannot be stored: a shape that disagrees with the data, a
 * dtype that disagrees with the typed array, an unsupported value type.
 *
 * @example
 * ```ts
 * e instanceof ArrayInputError && e.field === 'history';
 * ```
 */
export class ArrayInputError extends RunlakeError {
  override readonly name = 'ArrayInputError';
  constructor(
    readonly field: string,
    readonly reason: string,
    readonly sampleId?: string,
  ) {
    super(`${sampleId === undefined ? '' : `sample "${sampleId}", `}field "${field}": ${reason}`);
  }
}

/**
 * SQL that SQLite refused in `queryIds`, with the statement.
 *
 * @example
 * ```ts
 * reader.queryIds('nope >'); // throws ShardsQueryError
 * ```
 */
export class ShardsQueryError extends RunlakeError {
  override readonly name = 'ShardsQueryError';
  constructor(
    readonly sql: string,
    cause: unknown,
  ) {
    super(`SQL error in ${JSON.stringify(sql)}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/**
 * A root that is not a shard dataset (no `index.sqlite`, or one without a `samples` table).
 *
 * @example
 * ```ts
 * new ShardedDatasetReader('not-a-dataset'); // throws ShardDatasetError
 * ```
 */
export class ShardDatasetError extends RunlakeError {
  override readonly name = 'ShardDatasetError';
  constructor(
    readonly root: string,
    readonly reason: string,
  ) {
    super(`${root}: ${reason}`);
  }
}

/**
 * An `index.sqlite` that cannot be trusted: missing or empty while shard files exist, not an
 * SQLite database, unreadable, or without the `samples` and `fields` tables. Carries the index
 * file and the cause; nothing was written when it is thrown.
 *
 * @example
 * ```ts
 * new ShardedDatasetWriter('ds'); // throws ShardIndexError when ds/index.sqlite is 0 bytes beside shards
 * ```
 */
export class ShardIndexError extends RunlakeError {
  override readonly name = 'ShardIndexError';
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

/**
 * `compactShards` refused to start because the dataset does not verify (or holds rows it can only
 * find by name); nothing was written. Carries the first problem and how many there are.
 *
 * @example
 * ```ts
 * e instanceof CompactRefusedError && e.problems > 0;
 * ```
 */
export class CompactRefusedError extends RunlakeError {
  override readonly name = 'CompactRefusedError';
  constructor(
    readonly root: string,
    readonly first: string,
    readonly problems: number,
  ) {
    super(
      `${first}; compact refused, nothing was changed` +
        (problems > 1 ? ` (${problems} problems; run \`runlake shards verify ${root}\`)` : ''),
    );
  }
}

/**
 * Tar archives read as a stream: members come out one at a time, in archive order, each as a
 * sequence of chunks, so a `.tar.gz` of any size is read with memory bounded by one chunk (and
 * one extended header), never extracted to disk. Gzip goes through `node:zlib`; tar headers are
 * parsed by the shard code's {@link parseHeaderBlock} (checksums, ustar prefixes, base-256
 * sizes), with pax (`x`, `g`) and GNU long-name (`L`, `K`) headers followed as Python's
 * `tarfile` writes them (PAX_FORMAT by default since 3.8, GNU_FORMAT on request).
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { RunlakeError } from '../lake/index.js';
import { ShardCorruptionError } from '../shards/errors.js';
import { BLOCK, paddedSize, parseHeaderBlock } from '../shards/tar.js';

/** Largest pax or GNU long-name header read (their data is held in memory). */
const EXTENDED_HEADER_MAX_BYTES = 1 << 20;
/** Largest chunk handed out at once. */
const CHUNK_BYTES = 1 << 16;

/**
 * A tar archive (or a member of one) that cannot be read: corrupt or truncated gzip, a bad tar
 * header, a member whose path is unsafe. Names the archive, the member when there is one, and
 * the cause, on one line.
 *
 * @example
 * ```ts
 * try { for await (const m of readTarGzFile('step-1.tar.gz')) {} }
 * catch (e) { if (e instanceof TarStreamError) console.error(e.archive, e.member, e.reason); }
 * ```
 */
export class TarStreamError extends RunlakeError {
  override readonly name = 'TarStreamError';
  constructor(
    readonly archive: string,
    readonly member: string | undefined,
    readonly reason: string,
  ) {
    super(`${archive}${member === undefined ? '' : `: member ${JSON.stringify(member)}`}: ${reason}`);
  }
}

/**
 * What a member is: regular files (`0`, `7`) carry data; directories, hard and symbolic links,
 * devices and FIFOs carry none and are skipped by readers.
 *
 * @example
 * ```ts
 * if (entry.type !== 'file') continue;
 * ```
 */
export type TarEntryType = 'file' | 'directory' | 'link' | 'other';

/**
 * One member of a streamed archive. Read its data (with {@link TarStreamEntry.chunks}) before
 * asking for the next member; data left unread is skipped.
 *
 * @example
 * ```ts
 * for await (const entry of readTarStream(source, 'a.tar')) {
 *   if (entry.type === 'file') for await (const chunk of entry.chunks()) use(chunk);
 * }
 * ```
 */
export interface TarStreamEntry {
  /** The member's path as the archive names it (a pax or GNU long name when there is one). */
  readonly name: string;
  readonly size: number;
  readonly type: TarEntryType;
  /** The member's bytes, in chunks of at most 64 KiB; callable once. */
  chunks(): AsyncGenerator<Buffer>;
}

class ByteReader {
  #buffer: Buffer = Buffer.alloc(0);
  #done = false;
  /** Bytes consumed so far (the offset in the uncompressed archive). */
  position = 0;
  /** The last member met, to say where an error between members happened. */
  lastMember: string | undefined;
  constructor(
    private readonly source: AsyncIterator<Uint8Array>,
    private readonly fail: (reason: string, member?: string) => never,
  ) {}

  async #fill(n: number, member?: string): Promise<void> {
    while (this.#buffer.length < n && !this.#done) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await this.source.next();
      } catch (error) {
        // An outer archive's error (this stream reads one of its members) already says where.
        if (error instanceof TarStreamError) throw error;
        const after =
          member === undefined && this.lastMember !== undefined
            ? `, after member ${JSON.stringify(this.lastMember)}`
            : '';
        this.fail(
          `${describeStreamError(error)} at byte ${this.position + this.#buffer.length}${after}`,
          member,
        );
      }
      if (next.done) this.#done = true;
      else if (next.value.length > 0) {
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length);
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      }
    }
  }

  /** Exactly `n` bytes; null when the stream ends before the first; an error when it ends inside. */
  async exact(n: number, what: string, member?: string): Promise<Buffer | null> {
    await this.#fill(n, member);
    if (this.#buffer.length === 0) return null;
    if (this.#buffer.length < n) {
      this.fail(`archive ends inside ${what} (at byte ${this.position + this.#buffer.length})`, member);
    }
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    this.position += n;
    return out;
  }

  /** Up to `max` bytes (at least one), or an error when the stream has ended. */
  async some(max: number, what: string, member?: string): Promise<Buffer> {
    await this.#fill(1);
    if (this.#buffer.length === 0)
      this.fail(`archive ends inside ${what} (at byte ${this.position})`, member);
    const n = Math.min(max, this.#buffer.length, CHUNK_BYTES);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    this.position += n;
    return out;
  }

  async skip(n: number, what: string, member?: string): Promise<void> {
    let left = n;
    while (left > 0) left -= (await this.some(left, what, member)).length;
  }
}

function describeStreamError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'Z_BUF_ERROR') return 'gzip stream is truncated (unexpected end of file)';
  if (code === 'Z_DATA_ERROR') return `gzip data is corrupt (${message})`;
  if (code === 'ENOENT') return 'no such file';
  return message;
}

function entryType(flag: string): TarEntryType {
  if (flag === '0' || flag === '7') return 'file';
  if (flag === '5') return 'directory';
  if (flag === '1' || flag === '2') return 'link';
  return 'other';
}

function cText(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
}

/** The `path` and `size` records of a pax extended header; other keys are ignored. */
function parsePaxRecords(data: Buffer, fail: (reason: string) => never): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length && data[at] !== 0) {
    const space = data.indexOf(0x20, at);
    const length = space < 0 ? Number.NaN : Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isSafeInteger(length) || length <= space - at || at + length > data.length) {
      fail('malformed pax header record');
    }
    const record = data.subarray(space + 1, at + length);
    const eq = record.indexOf(0x3d);
    if (eq < 0 || record[record.length - 1] !== 0x0a) fail('malformed pax header record');
    const key = record.subarray(0, eq).toString('utf8');
    const value = record.subarray(eq + 1, record.length - 1).toString('utf8');
    if (key === 'path') out.path = value;
    if (key === 'size') {
      const size = Number(value);
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(size)) fail(`bad pax size ${JSON.stringify(value)}`);
      out.size = size;
    }
    at += length;
  }
  return out;
}

/**
 * Streams the members of an (uncompressed) tar archive from `source`. `archive` names it in
 * errors. Ends at the end-of-archive marker or at the end of the stream on a header boundary;
 * a stream that ends inside a header or a member's data is an error, as is a bad header.
 *
 * @example
 * ```ts
 * for await (const entry of readTarStream(createReadStream('a.tar'), 'a.tar')) console.log(entry.name);
 * ```
 */
export async function* readTarStream(
  source: AsyncIterable<Uint8Array>,
  archive: string,
): AsyncGenerator<TarStreamEntry> {
  const fail = (reason: string, member?: string): never => {
    throw new TarStreamError(archive, member, reason);
  };
  const iterator = source[Symbol.asyncIterator]();
  try {
    yield* readEntries(new ByteReader(iterator, fail), fail, archive);
  } finally {
    // Stops the gunzip and file streams when the reader stops early (an error, a break).
    await iterator.return?.().catch(() => undefined);
  }
}

async function* readEntries(
  reader: ByteReader,
  fail: (reason: string, member?: string) => never,
  archive: string,
): AsyncGenerator<TarStreamEntry> {
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  for (;;) {
    const offset = reader.position;
    const block = await reader.exact(BLOCK, 'a tar header');
    if (block === null) {
      if (longName !== undefined || paxPath !== undefined) fail('archive ends after an extended header');
      return;
    }
    let header: ReturnType<typeof parseHeaderBlock>;
    try {
      header = parseHeaderBlock(block, { shard: archive, offset });
    } catch (error) {
      if (error instanceof ShardCorruptionError) fail(`${error.reason} at byte ${offset}`);
      throw error;
    }
    if (header === null) return; // end-of-archive marker; what follows is padding
    if (
      header.typeflag === 'x' ||
      header.typeflag === 'g' ||
      header.typeflag === 'L' ||
      header.typeflag === 'K'
    ) {
      if (header.size > EXTENDED_HEADER_MAX_BYTES) {
        fail(
          `extended header of ${header.size} bytes at byte ${offset} (at most ${EXTENDED_HEADER_MAX_BYTES})`,
        );
      }
      const data =
        header.size === 0
          ? Buffer.alloc(0)
          : ((await reader.exact(header.size, 'an extended header')) as Buffer);
      await reader.skip(paddedSize(header.size) - header.size, 'an extended header');
      if (header.typeflag === 'L') longName = cText(data);
      else if (header.typeflag === 'x') {
        const records = parsePaxRecords(data, (reason) => fail(`${reason} at byte ${offset}`));
        if (records.path !== undefined) paxPath = records.path;
        if (records.size !== undefined) paxSize = records.size;
      }
      continue;
    }
    const name = paxPath ?? longName ?? header.name;
    const size = paxSize ?? header.size;
    longName = undefined;
    paxPath = undefined;
    paxSize = undefined;
    reader.lastMember = name;
    const type = entryType(header.typeflag);
    // Links and directories carry no data whatever their size field says.
    const dataSize = type === 'link' || type === 'directory' ? 0 : size;
    let remaining = dataSize;
    let started = false;
    const entry: TarStreamEntry = {
      name,
      size: dataSize,
      type,
      chunks: async function* () {
        if (started) throw new TarStreamError(archive, name, 'member data read twice');
        started = true;
        while (remaining > 0) {
          const chunk = await reader.some(
            remaining,
            `the data of this member (${dataSize} bytes declared)`,
            name,
          );
          remaining -= chunk.length;
          yield chunk;
        }
      },
    };
    yield entry;
    await reader.skip(remaining, `the data of this member (${dataSize} bytes declared)`, name);
    await reader.skip(paddedSize(dataSize) - dataSize, 'the padding of this member', name);
  }
}

/**
 * Gunzips a byte stream. Errors (corrupt or truncated gzip) surface while iterating the result.
 *
 * @example
 * ```ts
 * for await (const chunk of gunzipStream(createReadStream('a.tar.gz'))) total += chunk.length;
 * ```
 */
export function gunzipStream(source: AsyncIterable<Uint8Array> | Readable): AsyncIterable<Buffer> {
  const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
  const gunzip = createGunzip();
  // pipeline destroys both sides on an error, so the reader sees it; the callback only swallows it.
  pipeline(input, gunzip, () => {});
  return gunzip;
}

/**
 * Whether a file name is a tar archive this module reads: `.tar`, `.tar.gz` or `.tgz`.
 *
 * @example
 * ```ts
 * isTarArchiveName('step-25000.tar.gz'); // true
 * ```
 */
export function isTarArchiveName(name: string): boolean {
  return /\.(tar|tar\.gz|tgz)$/i.test(name);
}

/**
 * Streams the members of a `.tar`, `.tar.gz` or `.tgz` given as a byte stream (a file, or the
 * data of a member of an outer archive), gunzipping when the name says gzip.
 *
 * @example
 * ```ts
 * for await (const m of readTarArchive(createReadStream(file), file, file)) console.log(m.name);
 * ```
 */
export function readTarArchive(
  source: AsyncIterable<Uint8Array> | Readable,
  fileName: string,
  archive: string,
): AsyncGenerator<TarStreamEntry> {
  const gzipped = /\.(tar\.gz|tgz)$/i.test(fileName);
  return readTarStream(gzipped ? gunzipStream(source) : source, archive);
}

/**
 * Streams the members of an archive file (see {@link readTarArchive}).
 *
 * @example
 * ```ts
 * for await (const m of readTarGzFile('dclm-baseline/150M/seed-14/step-25000.tar.gz')) console.log(m.name);
 * ```
 */
export function readTarGzFile(file: string, archive = file): AsyncGenerator<TarStreamEntry> {
  return readTarArchive(createReadStream(file), path.basename(file), archive);
}

/**
 * A member path made safe to use as a relative path: `./` prefixes and repeated slashes dropped.
 * Absolute paths, `..` components, backslashes and NUL bytes are refused with a
 * {@link TarStreamError} naming the archive and member: a path that could point outside the
 * archive's directory is never used, even though nothing is extracted.
 *
 * @example
 * ```ts
 * safeMemberPath('./step-25000/arc_easy-predictions.jsonl', 'a.tar.gz'); // 'step-25000/arc_easy-predictions.jsonl'
 * safeMemberPath('../etc/passwd', 'a.tar.gz'); // throws TarStreamError
 * ```
 */
export function safeMemberPath(name: string, archive: string): string {
  const refuse = (why: string): never => {
    throw new TarStreamError(archive, name, `unsafe member path: ${why}`);
  };
  if (name.includes('\0')) refuse('it contains a NUL byte');
  if (name.includes('\\')) refuse('it contains a backslash');
  if (name.startsWith('/') || /^[a-z]:/i.test(name)) refuse('it is absolute');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) refuse('it has a ".." component');
  if (parts.length === 0) refuse('it is empty');
  return parts.join('/');
}

/**
 * Tar headers, by hand: the shard index records the exact byte offset of every member, so runlake
 * must control where each header and its data land, and read one member at an offset without
 * walking the archive. Streaming tar libraries hide both. The format follows POSIX ustar with pax
 * extended headers, as Python's `tarfile` (PAX_FORMAT, its default) writes and reads it.
 */
import { ShardCorruptionError, type ShardLocation } from './errors.js';

/**
 * Tar's block size: headers are one block, data is padded to a multiple of it.
 *
 * @example
 * ```ts
 * member.dataOffset - member.headerOffset === BLOCK; // without extended headers
 * ```
 */
export const BLOCK = 512;
/**
 * The end-of-archive marker: two zero blocks.
 *
 * @example
 * ```ts
 * writeFully(fd, [END_OF_ARCHIVE], end);
 * ```
 */
export const END_OF_ARCHIVE = new Uint8Array(2 * BLOCK);

const NAME_MAX = 100;
const RUNLAKE_UNAME = 'runlake';

/**
 * Whether a header block was written by runlake (its ustar owner name is `runlake`).
 *
 * @example
 * ```ts
 * isRunlakeHeader(memberHeader('a.npy', 10)); // true
 * ```
 */
export function isRunlakeHeader(block: Uint8Array): boolean {
  if (block.length < BLOCK) return false;
  for (let i = 0; i < RUNLAKE_UNAME.length; i++)
    if (block[265 + i] !== RUNLAKE_UNAME.charCodeAt(i)) return false;
  return block[265 + RUNLAKE_UNAME.length] === 0;
}
const OCTAL_SIZE_MAX = 8 ** 11 - 1;
const PAX_MAX_BYTES = 1 << 20;

/**
 * Rounds a data size up to whole blocks.
 *
 * @example
 * ```ts
 * paddedSize(1); // 512
 * ```
 */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function writeString(block: Uint8Array, offset: number, length: number, text: string | Uint8Array): void {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  block.set(bytes.subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function checksum(block: Uint8Array): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i] as number;
  for (let i = 156; i < BLOCK; i++) sum += block[i] as number;
  return sum;
}

function ustarBlock(name: Uint8Array, size: number, mtime: number, typeflag: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, 0, NAME_MAX, name);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, Math.min(size, OCTAL_SIZE_MAX));
  writeOctal(block, 136, 12, mtime);
  block[156] = typeflag.charCodeAt(0);
  writeString(block, 257, 8, 'ustar\x0000');
  // The owner name marks members runlake wrote: on reopen, members after a shard's committed
  // end that carry it are runlake's own unacknowledged writes (removable), anything else was
  // appended by another writer (kept). Python's tarfile leaves it empty.
  writeString(block, 265, 32, RUNLAKE_UNAME);
  writeOctal(block, 329, 8, 0);
  writeOctal(block, 337, 8, 0);
  writeString(block, 148, 8, `${checksum(block).toString(8).padStart(6, '0')}\0 `);
  return block;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length)
    length = String(length).length + Buffer.byteLength(body);
  return `${length}${body}`;
}

/**
 * The header bytes of a regular-file member: one ustar block, preceded by a pax header (and its
 * data, padded) when the name is longer than 100 bytes or not ASCII, or the size needs more than
 * 11 octal digits, exactly when Python's tarfile writes one.
 *
 * @example
 * ```ts
 * memberHeader('sample_000000000001.npy', 4224).length; // 512
 * memberHeader(`${'x'.repeat(120)}.npy`, 10).length; // 1536 (pax header + pax data + ustar header)
 * ```
 */
export function memberHeader(name: string, size: number, mtime = Math.floor(Date.now() / 1000)): Uint8Array {
  const nameBytes = Buffer.from(name, 'utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range check
  const needsPathRecord = nameBytes.length > NAME_MAX || !/^[\x00-\x7f]*$/.test(name);
  const needsSizeRecord = size > OCTAL_SIZE_MAX;
  const main = ustarBlock(nameBytes, size, mtime, '0');
  if (!needsPathRecord && !needsSizeRecord) return main;
  const records =
    (needsPathRecord ? paxRecord('path', name) : '') +
    (needsSizeRecord ? paxRecord('size', String(size)) : '');
  const paxData = Buffer.from(records, 'utf8');
  const paxHeader = ustarBlock(Buffer.from('././@PaxHeader'), paxData.length, mtime, 'x');
  const out = new Uint8Array(BLOCK + paddedSize(paxData.length) + BLOCK);
  out.set(paxHeader, 0);
  out.set(paxData, BLOCK);
  out.set(main, BLOCK + paddedSize(paxData.length));
  return out;
}

/**
 * One parsed header block.
 *
 * @example
 * ```ts
 * const h = parseHeaderBlock(block, { shard: 's.tar', offset: 0 });
 * h?.name; // 'sample_000000000001.npy'
 * ```
 */
export interface HeaderBlock {
  readonly name: string;
  readonly size: number;
  readonly typeflag: string;
}

/**
 * Whether a block is all zeros (an end-of-archive block).
 *
 * @example
 * ```ts
 * isZeroBlock(new Uint8Array(512)); // true
 * ```
 */
export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function parseNumber(
  block: Uint8Array,
  offset: number,
  length: number,
  where: ShardLocation,
  what: string,
): number {
  const first = block[offset] as number;
  if (first & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    if (first === 0xff) throw new ShardCorruptionError(where, `negative ${what} in tar header`);
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] as number);
    if (!Number.isSafeInteger(value))
      throw new ShardCorruptionError(where, `${what} too large in tar header`);
    return value;
  }
  let value = 0;
  let seenDigit = false;
  for (let i = 0; i < length; i++) {
    const c = block[offset + i] as number;
    if (c === 0 || (c === 0x20 && seenDigit)) break;
    if (c === 0x20) continue;
    if (c < 0x30 || c > 0x37) throw new ShardCorruptionError(where, `bad octal ${what} in tar header`);
    value = value * 8 + (c - 0x30);
    seenDigit = true;
  }
  return value;
}

function cString(block: Uint8Array, offset: number, length: number): string {
  let end = offset;
  while (end < offset + length && block[end] !== 0) end++;
  return Buffer.from(block.buffer, block.byteOffset + offset, end - offset).toString('utf8');
}

/**
 * Parses one 512-byte header block: null for a zero block, else the name, size and type. Throws
 * {@link ShardCorruptionError} when the checksum does not match (the usual sign of corruption or of
 * an offset that does not point at a header).
 *
 * @example
 * ```ts
 * parseHeaderBlock(new Uint8Array(512), {}); // null
 * ```
 */
export function parseHeaderBlock(block: Uint8Array, where: ShardLocation): HeaderBlock | null {
  if (block.length < BLOCK) throw new ShardCorruptionError(where, 'tar header block is truncated');
  if (isZeroBlock(block)) return null;
  const stored = parseNumber(block, 148, 8, where, 'checksum');
  const unsigned = checksum(block);
  if (stored !== unsigned) {
    let signed = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) signed += ((block[i] as number) << 24) >> 24;
    if (stored !== signed)
      throw new ShardCorruptionError(
        where,
        `tar header checksum mismatch (stored ${stored}, computed ${unsigned})`,
      );
  }
  let name = cString(block, 0, NAME_MAX);
  const isUstar = block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74; // "ust"
  if (isUstar) {
    const prefix = cString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156] as number);
  return { name, size: parseNumber(block, 124, 12, where, 'size'), typeflag };
}

/**
 * A member located in a shard: where its first header block starts, where its data starts and
 * ends, and the offset just past its padding (where the next member starts).
 *
 * @example
 * ```ts
 * m.dataOffset - m.headerOffset; // 512 without a pax header
 * ```
 */
export interface TarMember {
  readonly name: string;
  readonly typeflag: string;
  readonly headerOffset: number;
  readonly dataOffset: number;
  readonly size: number;
  readonly end: number;
}

/**
 * Reads `length` bytes at `position`; returns fewer only at the end of the file.
 *
 * @example
 * ```ts
 * const readAt: ReadAt = (position, length) => readBytes(fd, position, length);
 * ```
 */
export type ReadAt = (position: number, length: number) => Uint8Array;

/**
 * Reads the member whose (first) header starts at `offset`, following pax (`x`), global pax (`g`)
 * and GNU long-name (`L`) headers to the real one. Returns null at an end-of-archive block or at
 * the end of the file. Throws {@link ShardCorruptionError} on a bad checksum or a header cut short.
 *
 * @example
 * ```ts
 * const m = readMemberAt((pos, len) => readBytes(fd, pos, len), 0, { shard: 's.tar' });
 * ```
 */
export function readMemberAt(readAt: ReadAt, offset: number, where: ShardLocation): TarMember | null {
  let position = offset;
  let pathOverride: string | undefined;
  let sizeOverride: number | undefined;
  for (let hops = 0; hops < 16; hops++) {
    const at = { ...where, offset: position };
    const block = readAt(position, BLOCK);
    if (block.length === 0 && position === offset) return null;
    if (block.length < BLOCK) throw new ShardCorruptionError(at, 'shard ends inside a tar header');
    const header = parseHeaderBlock(block, at);
    if (header === null) {
      if (position !== offset) throw new ShardCorruptionError(at, 'extended header not followed by a member');
      return null;
    }
    if (header.typeflag === 'x' || header.typeflag === 'g' || header.typeflag === 'L') {
      if (header.size > PAX_MAX_BYTES)
        throw new ShardCorruptionError(at, `extended header of ${header.size} bytes`);
      const data = readAt(position + BLOCK, header.size);
      if (data.length < header.size)
        throw new ShardCorruptionError(at, 'shard ends inside an extended header');
      if (header.typeflag === 'L') {
        pathOverride = cString(data, 0, data.length);
      } else if (header.typeflag === 'x') {
        const records = parsePax(data, at);
        if (records.path !== undefined) pathOverride = records.path;
        if (records.size !== undefined) sizeOverride = records.size;
      }
      position += BLOCK + paddedSize(header.size);
      continue;
    }
    const size = sizeOverride ?? header.size;
    const dataOffset = position + BLOCK;
    return {
      name: pathOverride ?? header.name,
      typeflag: header.typeflag,
      headerOffset: offset,
      dataOffset,
      size,
      end: dataOffset + paddedSize(size),
    };
  }
  throw new ShardCorruptionError({ ...where, offset }, 'too many extended headers in a row');
}

function parsePax(data: Uint8Array, where: ShardLocation): { path?: string; size?: number } {
  const text = Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8');
  const out: { path?: string; size?: number } = {};
  let i = 0;
  while (i < text.length && text[i] !== '\0') {
    const space = text.indexOf(' ', i);
    const length = Number(text.slice(i, space));
    if (space < 0 || !Number.isSafeInteger(length) || length <= 0)
      throw new ShardCorruptionError(where, 'malformed pax record');
    // The length counts bytes; slice by bytes to stay exact with non-ASCII values.
    const record = Buffer.from(text.slice(i)).subarray(0, length).toString('utf8');
    const eq = record.indexOf('=');
    if (eq < 0 || !record.endsWith('\n')) throw new ShardCorruptionError(where, 'malformed pax record');
    const key = record.slice(record.indexOf(' ') + 1, eq);
    const value = record.slice(eq + 1, -1);
    if (key === 'path') out.path = value;
    if (key === 'size') {
      const size = Number(value);
      if (!Number.isSafeInteger(size) || size < 0)
        throw new ShardCorruptionError(where, `bad pax size ${value}`);
      out.size = size;
    }
    i += record.length;
  }
  return out;
}

/**
 * Walks a tar archive from `start`, yielding every member until the end-of-archive marker or the
 * end of the file. A trailing partial member (a header whose data runs past `fileSize`) is
 * reported through `onTruncated` and ends the walk: it is what a killed writer leaves.
 *
 * @example
 * ```ts
 * for (const m of walkTar(readAt, size, { shard: 's.tar' })) console.log(m.name, m.dataOffset);
 * ```
 */
export function* walkTar(
  readAt: ReadAt,
  fileSize: number,
  where: ShardLocation,
  start = 0,
): Generator<TarMember, { end: number; clean: boolean }> {
  let offset = start;
  while (offset + BLOCK <= fileSize) {
    let member: TarMember | null;
    try {
      member = readMemberAt(readAt, offset, where);
    } catch (error) {
      if (error instanceof ShardCorruptionError) return { end: offset, clean: false };
      throw error;
    }
    if (member === null) return { end: offset, clean: true };
    if (member.dataOffset + member.size > fileSize) return { end: offset, clean: false };
    yield member;
    offset = member.end;
  }
  return { end: offset, clean: offset === fileSize };
}

const headerScratch = Buffer.allocUnsafeSlow(BLOCK);
const headerWords = new Uint32Array(headerScratch.buffer, headerScratch.byteOffset, BLOCK / 4);
const nameScratch = Buffer.allocUnsafeSlow(4 * 1024);

/**
 * True when `buffer[at]` holds a plain ustar regular-file header (no prefix, no extended header,
 * valid checksum) for the member `<sampleId>.npy` with data size `size`. Allocates nothing: this
 * is the read hot path, where garbage shows up as collector pauses in the tail latency. Anything
 * else returns false and the caller takes the careful path that explains what is wrong.
 *
 * @example
 * ```ts
 * plainMemberMatches(buffer, 'sample_000000000001', 4224);
 * ```
 */
export function plainMemberMatches(buffer: Buffer, sampleId: string, size: number, at = 0): boolean {
  if (plainHeaderSize(buffer, at) !== size || sampleId.length > 1000) return false;
  let n = sampleId.length;
  for (let i = 0; i < n; i++) {
    const c = sampleId.charCodeAt(i);
    if (c >= 0x80) {
      n = -1; // not ASCII: compare UTF-8 bytes below
      break;
    }
    if (buffer[at + i] !== c) return false;
  }
  if (n < 0) {
    n = nameScratch.write(sampleId, 0, 'utf8');
    if (n + 4 > NAME_MAX || buffer.compare(nameScratch, 0, n, at, at + n) !== 0) return false;
  }
  if (n + 4 > NAME_MAX) return false;
  const e = at + n;
  return (
    buffer[e] === 0x2e &&
    buffer[e + 1] === 0x6e &&
    buffer[e + 2] === 0x70 &&
    buffer[e + 3] === 0x79 &&
    (n + 4 === NAME_MAX || buffer[e + 4] === 0)
  );
}

/**
 * The data size declared by a plain ustar regular-file header at `buffer[at]` (no prefix, no
 * extended header, valid checksum), or -1 for anything else. Allocates nothing.
 *
 * @example
 * ```ts
 * plainHeaderSize(chunk, 0); // 4224
 * ```
 */
export function plainHeaderSize(buffer: Buffer, at: number): number {
  if (at + BLOCK > buffer.length) return -1;
  const flag = buffer[at + 156];
  if ((flag !== 0x30 && flag !== 0) || buffer[at + 345] !== 0 || buffer[at] === 0) return -1;
  buffer.copy(headerScratch, 0, at, at + BLOCK);
  let even = 0;
  let odd = 0;
  for (let i = 0; i < 128; i++) {
    const w = headerWords[i] as number;
    even += w & 0x00ff00ff;
    odd += (w >>> 8) & 0x00ff00ff;
  }
  let sum = (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16) + 8 * 0x20;
  for (let i = 148; i < 156; i++) sum -= headerScratch[i] as number;
  let stored = 0;
  for (let i = 148; i < 156; i++) {
    const c = headerScratch[i] as number;
    if (c === 0 || c === 0x20) {
      if (stored > 0 || i > 148) break;
      continue;
    }
    if (c < 0x30 || c > 0x37) return -1;
    stored = stored * 8 + (c - 0x30);
  }
  if (stored !== sum) return -1;
  let size = 0;
  for (let i = 124; i < 136; i++) {
    const c = headerScratch[i] as number;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) return -1;
    size = size * 8 + (c - 0x30);
  }
  return size;
}

/**
 * The sample id of a plain header's member name `<id>.npy` at `buffer[at]` (call after
 * {@link plainHeaderSize}); the whole name when it does not end in `.npy`.
 *
 * @example
 * ```ts
 * plainMemberId(chunk, 0); // 'sample_000000000001'
 * ```
 */
export function plainMemberId(buffer: Buffer, at: number): string {
  let end = at;
  let ascii = true;
  while (end < at + NAME_MAX && buffer[end] !== 0) {
    if ((buffer[end] as number) >= 0x80) ascii = false;
    end++;
  }
  const npy =
    end - at >= 4 &&
    buffer[end - 4] === 0x2e &&
    buffer[end - 3] === 0x6e &&
    buffer[end - 2] === 0x70 &&
    buffer[end - 1] === 0x79;
  return buffer.toString(ascii ? 'latin1' : 'utf8', at, npy ? end - 4 : end);
}

/**
 * Every regular member of an archive by name, the last one winning (as `tarfile`'s `getmember`
 * does, so an updated sample resolves to its newest member). For indexes whose offsets are not
 * header offsets: the seed's own writer records a running sum of array sizes, and its reader
 * finds members by name.
 *
 * @example
 * ```ts
 * membersByName(readAt, size, { shard: 's.tar' }).get('sample_000000000001.npy')?.dataOffset;
 * ```
 */
export function membersByName(
  readAt: ReadAt,
  fileSize: number,
  where: ShardLocation,
): Map<string, TarMember> {
  const members = new Map<string, TarMember>();
  for (const member of walkTar(readAt, fileSize, where)) {
    members.set(member.name.replace(/^\.\//, ''), member);
  }
  return members;
}

import { type FileHandle, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { fsyncPath } from '../../lake/atomic-file.js';
import { fileSystemError } from '../../lake/fs-errors.js';

/** A segment found when the log was opened: its number and the frames it holds, in order. */
export interface RecoveredSegment {
  readonly number: number;
  readonly frames: readonly Uint8Array[];
  /** Bytes cut off its end: a record a crash left half-written (never acknowledged). */
  readonly truncatedBytes: number;
}

interface PendingAppend {
  readonly frame: Uint8Array;
  readonly resolve: (segment: number) => void;
  readonly reject: (error: unknown) => void;
}

const RECORD_HEADER_BYTES = 8;
const SEGMENT_NAME = /^(\d{20})\.wal$/;

/**
 * The ingest server's write-ahead log (docs/tracking.md, "The write-ahead log"): numbered segment
 * files of length- and CRC-framed records. {@link WriteAheadLog.append} resolves once its record
 * is on disk (`fdatasync`); appends that arrive while a sync runs are written and synced together
 * by the next one (group commit), so many clients share each sync.
 *
 * @example
 * ```ts
 * const { log, recovered } = await WriteAheadLog.open('lake/.runlake/ingest/wal');
 * const segment = await log.append(frame); // durable now
 * const closed = await log.rotate(); // later appends go to the next segment
 * ```
 */
export class WriteAheadLog {
  #pending: PendingAppend[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #scheduled = false;
  #handle: FileHandle | undefined;
  #segment: number;
  #size = 0;
  #records = 0;
  #broken: unknown;

  private constructor(
    readonly directory: string,
    segment: number,
  ) {
    this.#segment = segment;
  }

  /**
   * Opens the log in `directory` (created if absent): reads every segment, truncates a torn
   * record off the end of each, and starts a new segment after the last one there and after
   * `usedThrough`, the highest number ever used (segment numbers name the folded files, so a
   * number must never come back once its segment was folded and deleted).
   */
  static async open(
    directory: string,
    usedThrough = 0,
  ): Promise<{ log: WriteAheadLog; recovered: RecoveredSegment[] }> {
    await mkdir(directory, { recursive: true }).catch((error: unknown) => {
      throw fileSystemError(error, directory, 'create directory');
    });
    const numbers = (await readdir(directory))
      .map((name) => SEGMENT_NAME.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const recovered: RecoveredSegment[] = [];
    for (const number of numbers)
      recovered.push(await recoverSegment(segmentPath(directory, number), number));
    const log = new WriteAheadLog(directory, Math.max(numbers.at(-1) ?? 0, usedThrough) + 1);
    return { log, recovered };
  }

  /** The number of the segment appends go to now. */
  get segment(): number {
    return this.#segment;
  }

  /** Records in the open segment. */
  get records(): number {
    return this.#records;
  }

  /**
   * Appends one frame; resolves with the number of the segment it landed in once it is durable.
   * A failed write (a full disk) rejects every append of its group and leaves the log usable:
   * the segment is cut back to its last whole record.
   */
  append(frame: Uint8Array): Promise<number> {
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ frame, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#chain = this.#chain.then(() => this.#writeGroup());
      }
    });
  }

  /**
   * Closes the open segment, when it holds records, so that later appends go to a new one.
   * Resolves with the closed segment's number (every append to it has settled), or undefined
   * when it was empty.
   */
  rotate(): Promise<number | undefined> {
    const run = this.#chain.then(async () => {
      if (this.#records === 0) return undefined;
      const closed = this.#segment;
      await this.#handle?.close();
      this.#handle = undefined;
      this.#segment += 1;
      this.#size = 0;
      this.#records = 0;
      return closed;
    });
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Deletes a folded segment. */
  async remove(number: number): Promise<void> {
    const file = segmentPath(this.directory, number);
    await unlink(file).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileSystemError(error, file, 'delete');
    });
    await fsyncPath(this.directory);
  }

  /** Waits for pending appends, then closes the open segment's file. */
  async close(): Promise<void> {
    await this.#chain;
    await this.#handle?.close();
    this.#handle = undefined;
  }

  async #writeGroup(): Promise<void> {
    this.#scheduled = false;
    const group = this.#pending.splice(0);
    if (group.length === 0) return;
    try {
      const handle = await this.#open();
      const buffers: Uint8Array[] = [];
      let bytes = 0;
      for (const { frame } of group) {
        const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
        header.writeUInt32LE(frame.byteLength, 0);
        header.writeUInt32LE(crc32(frame), 4);
        buffers.push(header, frame);
        bytes += RECORD_HEADER_BYTES + frame.byteLength;
      }
      try {
        await handle.writev(buffers, this.#size);
        await handle.datasync();
      } catch (error) {
        // Cut a partial write off so the next group appends after the last whole record.
        await handle.truncate(this.#size).catch(() => {});
        throw fileSystemError(error, segmentPath(this.directory, this.#segment), 'append');
      }
      this.#size += bytes;
      this.#records += group.length;
      for (const p of group) p.resolve(this.#segment);
    } catch (error) {
      for (const p of group) p.reject(error);
    }
  }

  async #open(): Promise<FileHandle> {
    if (this.#handle) return this.#handle;
    const file = segmentPath(this.directory, this.#segment);
    const handle = await open(file, 'wx').catch((error: unknown) => {
      throw fileSystemError(error, file, 'create');
    });
    // The new name must survive a crash before any record in it is acknowledged.
    await fsyncPath(this.directory);
    this.#handle = handle;
    return handle;
  }
}

/** The file of segment `number`. */
export function segmentPath(directory: string, number: number): string {
  return path.join(directory, `${String(number).padStart(20, '0')}.wal`);
}

async function recoverSegment(file: string, number: number): Promise<RecoveredSegment> {
  const bytes = await readFile(file).catch((error: unknown) => {
    throw fileSystemError(error, file, 'read');
  });
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at + RECORD_HEADER_BYTES <= bytes.byteLength) {
    const length = bytes.readUInt32LE(at);
    const sum = bytes.readUInt32LE(at + 4);
    const end = at + RECORD_HEADER_BYTES + length;
    if (end > bytes.byteLength) break;
    const frame = bytes.subarray(at + RECORD_HEADER_BYTES, end);
    if (crc32(frame) !== sum) break;
    frames.push(frame);
    at = end;
  }
  const truncatedBytes = bytes.byteLength - at;
  if (truncatedBytes > 0) {
    const handle = await open(file, 'r+');
    try {
      await handle.truncate(at);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  return { number, frames, truncatedBytes };
}
